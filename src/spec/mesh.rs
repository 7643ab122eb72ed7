//! A service mesh installed in the cluster (`spec.mesh`): which pods get its sidecar proxy,
//! what the sidecar asks for, the CPU it spends per request, and how it balances.
//!
//! Istio's sidecar (the only mesh modelled so far), from its sources and published
//! measurements (issue 47; sources in docs/scenario.md, "Meshes"):
//! - injected into pods of namespaces labelled `istio-injection: enabled` (or `istio.io/rev`),
//!   and into pods labelled `sidecar.istio.io/inject: "true"`; a pod labelled `"false"` or a
//!   namespace labelled `istio-injection: disabled` gets none;
//! - the `istio-proxy` container requests 100m CPU and 128Mi, limited to 2000m and 1Gi
//!   (`global.proxy.resources`, unchanged from Istio 1.20 to 1.30), a native sidecar that
//!   counts in the pod's requests and in the HPA's utilization;
//! - about 0.20 vCPU per 1 000 requests/s through one proxy (Istio 1.24's performance page):
//!   0.2 ms of CPU per request and proxy;
//! - a call through two sidecars 0.228 ms slower at p90 (Istio 1.20's page, the newest that
//!   states it in text);
//! - Envoy's `LEAST_REQUEST` (Istio's default since 1.14): two endpoints drawn at random (with
//!   replacement), the one with fewer requests in flight, the first on a tie.

use crate::sim::SimDuration;
use crate::spec::model::{CallCount, CallGraph, CallStep};

/// The mesh of a scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Mesh {
    /// The sidecar's CPU per request it passes, in and out.
    pub proxy_cpu_per_request: SimDuration,
    /// What a call's two sidecars add to it.
    pub hop_latency: SimDuration,
    /// The sidecar container's requests and limits.
    pub proxy: ProxyResources,
    /// Namespaces the cluster labels `istio-injection: enabled` (beside those the manifests'
    /// Namespace objects label so).
    pub namespaces: Vec<String>,
}

/// The sidecar container's requests and limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyResources {
    /// CPU request, millicores.
    pub cpu_request_millis: i64,
    /// Memory request, bytes.
    pub memory_request_bytes: i64,
    /// CPU limit, millicores.
    pub cpu_limit_millis: i64,
}

/// Istio's `global.proxy.resources`: requests 100m and 128Mi, limit 2000m (and 1Gi).
pub const ISTIO_PROXY: ProxyResources = ProxyResources {
    cpu_request_millis: 100,
    memory_request_bytes: 128 << 20,
    cpu_limit_millis: 2000,
};

/// Istio 1.24: 0.20 vCPU per 1 000 requests/s through a sidecar.
pub const ISTIO_PROXY_CPU_PER_REQUEST: SimDuration = SimDuration::from_micros(200);

/// Istio 1.20: a call through two sidecars takes 0.228 ms more at p90 (1 000 requests/s, 1 KB,
/// HTTP/1.1, mTLS), the newest figure Istio's performance pages state in text.
pub const ISTIO_HOP_LATENCY: SimDuration = SimDuration::from_micros(228);

/// The sidecar's container name.
pub const ISTIO_PROXY_NAME: &str = "istio-proxy";

/// Whether Istio injects its sidecar into a pod with `pod_labels` in a namespace with
/// `namespace_labels`, as its webhooks' selectors and `injectRequired` decide.
pub fn istio_injects(
    pod_labels: &crate::spec::selector::Labels,
    namespace_labels: &crate::spec::selector::Labels,
) -> bool {
    let pod = pod_labels
        .get("sidecar.istio.io/inject")
        .map(String::as_str);
    if pod == Some("false") {
        return false;
    }
    match namespace_labels.get("istio-injection").map(String::as_str) {
        Some("enabled") => true,
        Some(_) => false, // disabled (or anything else) blocks even a pod asking for it
        None => {
            namespace_labels.contains_key("istio.io/rev")
                || pod == Some("true")
                || pod_labels.contains_key("istio.io/rev")
        }
    }
}

impl CallGraph {
    /// The calls a request makes in expectation (first tries; retries not counted).
    pub fn expected_calls(&self) -> f64 {
        self.expected_calls_of(0, 0)
    }

    fn expected_calls_of(&self, sequence: usize, depth: u32) -> f64 {
        // Sequences refer to later ones only; the depth bound guards a malformed graph.
        if depth > 64 {
            return 0.0;
        }
        let Some(steps) = self.sequences.get(sequence) else {
            return 0.0;
        };
        steps
            .iter()
            .map(|step| match step {
                CallStep::Call(call) => mean_count(call.count),
                CallStep::Cpu(_) | CallStep::Delay(_) => 0.0,
                CallStep::Parallel(sequences) => sequences
                    .iter()
                    .map(|&s| self.expected_calls_of(s as usize, depth + 1))
                    .sum(),
                CallStep::OneOf { weights, sequences } => {
                    let total: f64 = weights.iter().map(|&w| f64::from(w)).sum();
                    if total == 0.0 {
                        return 0.0;
                    }
                    weights
                        .iter()
                        .zip(sequences)
                        .map(|(&w, &s)| {
                            f64::from(w) / total * self.expected_calls_of(s as usize, depth + 1)
                        })
                        .sum()
                }
            })
            .sum()
    }
}

fn mean_count(count: CallCount) -> f64 {
    match count {
        CallCount::Fixed(n) => f64::from(n),
        CallCount::Poisson(mean) => mean.max(0.0),
        CallCount::Uniform { min, max } => (f64::from(min) + f64::from(max)) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::selector::Labels;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn injection_follows_istios_selectors() {
        let none = labels(&[]);
        let enabled = labels(&[("istio-injection", "enabled")]);
        let disabled = labels(&[("istio-injection", "disabled")]);
        let rev = labels(&[("istio.io/rev", "default")]);
        let opt_in = labels(&[("sidecar.istio.io/inject", "true")]);
        let opt_out = labels(&[("sidecar.istio.io/inject", "false")]);
        // (pod, namespace, injected)
        let cases = [
            (&none, &none, false),
            (&none, &enabled, true),
            (&opt_out, &enabled, false), // a pod opts out of an enabled namespace
            (&opt_in, &none, true),      // the `object` webhook
            (&opt_in, &disabled, false), // a disabled namespace wins over the pod
            (&none, &rev, true),         // the `rev.namespace` webhook
            (&rev, &none, true),         // the `rev.object` webhook
        ];
        for (pod, namespace, injected) in cases {
            assert_eq!(
                istio_injects(pod, namespace),
                injected,
                "{pod:?} in {namespace:?}"
            );
        }
    }

    fn call(count: CallCount) -> CallStep {
        CallStep::Call(crate::spec::model::Call {
            service: 0,
            count,
            timeout: None,
            retries: None,
            optional: false,
            site: 0,
            tokens: None,
            connections: None,
            request_bytes: 0,
            response_bytes: 0,
        })
    }

    #[test]
    fn expected_calls_add_up_counts_branches_and_weights() {
        // 2 calls, then two branches at once (1 call; Poisson 0.5), then one of two branches
        // weighted 1:3 (uniform 1–3 calls, mean 2; none): 2 + 1.5 + 2/4 = 4.
        let graph = CallGraph {
            sequences: vec![
                vec![
                    call(CallCount::Fixed(2)),
                    CallStep::Parallel(vec![1, 2]),
                    CallStep::OneOf {
                        weights: vec![1, 3],
                        sequences: vec![3, 4],
                    },
                ],
                vec![call(CallCount::Fixed(1))],
                vec![call(CallCount::Poisson(0.5))],
                vec![call(CallCount::Uniform { min: 1, max: 3 })],
                vec![],
            ],
        };
        assert_eq!(graph.expected_calls(), 4.0);
        assert_eq!(CallGraph::default().expected_calls(), 0.0);
    }
}
