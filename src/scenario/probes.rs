//! Container probes (`startupProbe`, `readinessProbe`, `livenessProbe`), validated and defaulted
//! as the API server does (E.1): period 10 s, timeout 1 s, success 1, failure 3, initial delay
//! 0; a liveness or startup probe's `successThreshold` must be 1. The pod gets, for each kind,
//! the probe of its first app container that has one.

use k8s_openapi::api::core::v1::{Container, Probe};

use super::diag::Diagnostic;
use super::manifest::Source;
use super::model::{PodProbes, ProbeSpec};
use crate::sim::SimDuration;

/// The probes of a pod's app containers.
pub fn pod_probes(
    containers: &[Container],
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> PodProbes {
    let mut out = PodProbes::default();
    for (i, c) in containers.iter().enumerate() {
        let cpath = format!("{path}.containers[{i}]");
        let mut probe = |field: &str, p: &Option<Probe>, slot: &mut Option<ProbeSpec>| {
            if let Some(p) = p {
                let spec = probe_spec(
                    p,
                    field != "readinessProbe",
                    src,
                    &format!("{cpath}.{field}"),
                    diags,
                );
                slot.get_or_insert(spec);
            }
        };
        probe("startupProbe", &c.startup_probe, &mut out.startup);
        probe("readinessProbe", &c.readiness_probe, &mut out.readiness);
        probe("livenessProbe", &c.liveness_probe, &mut out.liveness);
    }
    out
}

fn probe_spec(
    p: &Probe,
    success_must_be_one: bool,
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> ProbeSpec {
    let mut field = |name: &str, value: Option<i32>, default: i32, min: i32| -> i32 {
        match value {
            None | Some(0) => default,
            Some(v) if v < min => {
                diags.push(src.error(
                    &format!("{path}.{name}"),
                    format!("must be greater than or equal to {min}, got {v}"),
                ));
                default
            }
            Some(v) => v,
        }
    };
    let initial_delay = field("initialDelaySeconds", p.initial_delay_seconds, 0, 0);
    let period = field("periodSeconds", p.period_seconds, 10, 1);
    let timeout = field("timeoutSeconds", p.timeout_seconds, 1, 1);
    let success_threshold = field("successThreshold", p.success_threshold, 1, 1);
    let failure_threshold = field("failureThreshold", p.failure_threshold, 3, 1);
    if success_must_be_one && success_threshold != 1 {
        diags.push(src.error(
            &format!("{path}.successThreshold"),
            format!("must be 1 for liveness and startup probes, got {success_threshold}"),
        ));
    }
    let secs = |s: i32| SimDuration::from_secs(s.max(0) as u64);
    ProbeSpec {
        initial_delay: secs(initial_delay),
        period: secs(period),
        timeout: secs(timeout),
        success_threshold: success_threshold.max(1) as u32,
        failure_threshold: failure_threshold.max(1) as u32,
    }
}
