//! `kubesim explain --vpa`: why a VerticalPodAutoscaler recommends what it does, in sentences
//! with the arithmetic — each bound's percentile of the usage history, the 15 % margin, the
//! confidence multiplier and how much history it rests on, the pod minimum, OOM kills, and the
//! policy's caps — and, against the pods' requests, what the recommendation would change, and
//! what the admission controller and the updater did.

use std::fmt::Write;

use crate::controllers::vpa::estimator::Working;
use crate::controllers::vpa::recommender::{RecordedContainer, VpaRecord};
use crate::metrics::vpa::VpaReport;
use crate::spec::vpa::CpuMemory;

/// The record of `vpa` in force at `at` seconds (the last one when `None`).
pub fn select<'a>(records: &'a [VpaRecord], vpa: &str, at: Option<f64>) -> Option<&'a VpaRecord> {
    let mut of_vpa = records.iter().filter(|r| r.vpa == vpa);
    match at {
        Some(t) => of_vpa.rfind(|r| r.t_seconds <= t),
        None => of_vpa.next_back(),
    }
}

/// Which resource a sentence is about.
#[derive(Clone, Copy)]
enum Resource {
    Cpu,
    Memory,
}

impl Resource {
    fn amount(self, v: i64) -> String {
        match self {
            Resource::Cpu => format!("{v}m"),
            Resource::Memory => format!("{:.1}Mi", v as f64 / f64::from(1 << 20)),
        }
    }

    fn of(self, c: CpuMemory) -> Option<i64> {
        match self {
            Resource::Cpu => c.cpu_millis,
            Resource::Memory => c.memory_bytes,
        }
    }

    fn history(self) -> &'static str {
        match self {
            Resource::Cpu => {
                "the CPU usage samples (one a minute per pod, each weighing half as much 24 h later)"
            }
            Resource::Memory => "the memory peaks (one per pod and 24 h interval)",
        }
    }
}

/// The explanation of one record; `report` (the run's last) adds the requests and the cost.
pub fn explain(record: &VpaRecord, report: Option<&VpaReport>) -> String {
    let mut out = format!(
        "{} at {} (the recommender runs every minute):\n",
        record.vpa,
        super::clock(record.t_seconds)
    );
    if record.containers.is_empty() {
        out.push_str("  no recommendation: no container of a running pod is under the VPA\n");
        return out;
    }
    if !record.pods_matched {
        out.push_str("  no running pod matches now: the history of earlier pods still stands\n");
    }
    for c in &record.containers {
        let requests = report
            .and_then(|r| {
                r.containers
                    .iter()
                    .find(|x| x.recommendation.container == c.recommendation.container)
            })
            .map(|x| x.requests);
        container(&mut out, c, requests);
    }
    if let Some(r) = report {
        let w = &r.what_if;
        let _ = writeln!(
            out,
            "  Over the run, at each minute's recommendation the running pods would have requested {:.1} core-hours instead of {:.1} and {:.1} GiB-hours of memory instead of {:.1}, costing {:.2} USD instead of {:.2} on the same nodes (mode {}{}).",
            w.recommended_core_hours,
            w.requested_core_hours,
            w.recommended_memory_gib_hours,
            w.requested_memory_gib_hours,
            w.cost_usd_at_recommendation,
            w.cost_usd,
            r.update_mode,
            if r.update_mode == "Off" {
                ": nothing was changed"
            } else {
                ""
            }
        );
        if r.update_mode != "Off" {
            actions(&mut out, r);
        }
    }
    out
}

/// What the admission controller and the updater did to pods.
fn actions(out: &mut String, r: &VpaReport) {
    let a = r.actions;
    let _ = write!(
        out,
        "  The admission controller created {} pod(s) with the recommendation's requests (limits kept in proportion)",
        a.pods_admitted
    );
    if r.update_mode == "Initial" {
        out.push_str(
            "; in Initial mode running pods are never evicted.
",
        );
        return;
    }
    let what = if r.update_mode == "InPlaceOrRecreate" {
        format!(
            ", the updater resized {} in place and evicted {} whose resize the kubelet deferred over 5 min or could not do",
            a.pods_resized_in_place, a.pods_evicted
        )
    } else {
        format!(" and the updater evicted {} for it", a.pods_evicted)
    };
    let _ = writeln!(
        out,
        "{what}: each minute it picks the pods whose requests are outside the bounds, or that are 12 h old and 10 % or more from the target, scale-ups first — never below minReplicas live pods, at most half the replicas at a time, evictions as the PodDisruptionBudgets allow."
    );
}

fn container(out: &mut String, c: &RecordedContainer, requests: Option<CpuMemory>) {
    let days = c.cpu_working.confidence;
    let _ = writeln!(
        out,
        "  container {}: {} CPU samples, history worth {days:.3} day(s) of confidence (the shorter of its span and its sample count at one a minute){}",
        c.recommendation.container,
        c.cpu_samples,
        match c.oom_kills {
            0 => String::new(),
            n => format!(
                "; {n} OOM kill(s) recorded as memory peaks of the larger of +20 % and +100 MiB over the request"
            ),
        }
    );
    for (resource, working) in [
        (Resource::Cpu, &c.cpu_working),
        (Resource::Memory, &c.memory_working),
    ] {
        let Some(target) = resource.of(c.recommendation.target) else {
            continue;
        };
        bounds(out, resource, working, c, target);
        if let Some(request) = requests.and_then(|r| resource.of(r)) {
            let _ = writeln!(
                out,
                "      the manifest requests {}: the target is {:.0} % of it",
                resource.amount(request),
                100.0 * target as f64 / request.max(1) as f64
            );
        }
    }
}

fn bounds(out: &mut String, r: Resource, w: &Working, c: &RecordedContainer, target: i64) {
    let [p90, p50, p95] = w.percentiles.map(|p| r.amount(p));
    let b = w.bounds;
    let _ = writeln!(
        out,
        "    {} target {}: the 90th percentile of {} is {p90} (the end of its 5 % bucket), + 15 % = {}{}{}",
        match r {
            Resource::Cpu => "cpu",
            Resource::Memory => "memory",
        },
        r.amount(target),
        r.history(),
        r.amount(b.target),
        floor(r, w, b.target),
        capped(r, b.target, target),
    );
    let _ = writeln!(
        out,
        "      lower bound {}: the 50th percentile {p50} + 15 %, × (1 + 0.001/{:.3})^-2{}{}",
        show(r, r.of(c.recommendation.lower)),
        w.confidence,
        floor(r, w, b.lower),
        capped(r, b.lower, r.of(c.recommendation.lower).unwrap_or(b.lower)),
    );
    let _ = writeln!(
        out,
        "      upper bound {}: the 95th percentile {p95} + 15 %, × (1 + 1/{:.3}) — it nears the target as history grows{}{}",
        show(r, r.of(c.recommendation.upper)),
        w.confidence,
        floor(r, w, b.upper),
        capped(r, b.upper, r.of(c.recommendation.upper).unwrap_or(b.upper)),
    );
}

fn show(r: Resource, v: Option<i64>) -> String {
    v.map_or("-".into(), |v| r.amount(v))
}

/// Said when the pod minimum's share set the value.
fn floor(r: Resource, w: &Working, value: i64) -> String {
    if value == w.minimum {
        format!(
            " (raised to this container's share of the pod minimum, {})",
            r.amount(w.minimum)
        )
    } else {
        String::new()
    }
}

/// Said when the policy moved the value.
fn capped(r: Resource, estimate: i64, capped: i64) -> String {
    match estimate.cmp(&capped) {
        std::cmp::Ordering::Less => format!(", raised to minAllowed {}", r.amount(capped)),
        std::cmp::Ordering::Greater => format!(", lowered to maxAllowed {}", r.amount(capped)),
        std::cmp::Ordering::Equal => String::new(),
    }
}
