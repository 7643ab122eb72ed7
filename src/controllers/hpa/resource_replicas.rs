//! `GetResourceReplicas` for a Utilization target, as the replica calculator sees the resource
//! metrics API: the samples of the pods the target's selector matches, and possibly samples for
//! pods it no longer knows (upstream lists metrics and pods separately, so a pod deleted in
//! between leaves a sample that matches no pod). Errors read as upstream's own, resource
//! included, so a caller needs no wording of its own.

use super::calculator::{
    CalcError, CpuTimings, PodView, ResourceProposal, Tolerances, resource_utilization_replicas,
};
use crate::scenario::HpaResource;
use crate::sim::SimTime;

/// What a Resource metric's query returned.
#[derive(Clone, Copy, Debug)]
pub struct ResourceMetrics<'a> {
    /// `cpu` (readiness rules apply) or `memory`.
    pub resource: HpaResource,
    /// The pods the selector matches, each with its sample if the API returned one.
    pub pods: &'a [PodView],
    /// Samples returned for pods that are not in `pods`.
    pub unknown_pod_samples: usize,
}

/// The replicas a Utilization target of `target_percent` asks for at `current` replicas.
///
/// - No sample at all: "unable to get metrics for resource cpu: no metrics returned from
///   resource metrics API" (the metrics client's error, wrapped).
/// - Samples, but none for a counted pod (they are for unknown pods, and the selected pods'
///   own are missing, unready or ignored): "no metrics returned matched known pods" — the
///   unknown samples keep the metric list non-empty, so upstream gets past its readiness check
///   and fails where requests are summed (after checking that every pod has a request).
pub fn resource_replicas(
    metrics: ResourceMetrics,
    current: i32,
    target_percent: i32,
    now: SimTime,
    tolerances: Tolerances,
    timings: CpuTimings,
) -> Result<ResourceProposal, CalcError> {
    let cpu = metrics.resource == HpaResource::Cpu;
    let result = resource_utilization_replicas(
        current,
        target_percent,
        metrics.pods,
        now,
        tolerances,
        timings,
        cpu,
    );
    match result {
        Err(CalcError::NoMetrics | CalcError::NoReadyMetrics)
            if metrics.unknown_pod_samples > 0 =>
        {
            match metrics.pods.iter().position(|p| p.request_milli.is_none()) {
                Some(pod) => Err(CalcError::MissingRequest { pod }),
                None => Err(CalcError::NoMatchedMetrics),
            }
        }
        Err(CalcError::NoMetrics) => Err(CalcError::NoResourceMetrics {
            resource: metrics.resource.as_str(),
        }),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::hpa::calculator::tests::{NOW, TIMINGS};

    fn calc(pods: &[PodView], unknown: usize, current: i32, target: i32) -> Result<i32, String> {
        let metrics = ResourceMetrics {
            resource: HpaResource::Cpu,
            pods,
            unknown_pod_samples: unknown,
        };
        resource_replicas(
            metrics,
            current,
            target,
            NOW,
            Tolerances::symmetric(0.1),
            TIMINGS,
        )
        .map(|p| p.replicas)
        .map_err(|e| e.to_string())
    }

    fn without_sample(request: i64) -> PodView {
        let mut p = PodView::running(request, 0, NOW);
        p.sample = None;
        p
    }

    /// `replica_calculator_test.go`: the two cases whose error is the calculator's own.
    #[test]
    fn upstream_error_cases() {
        // TestReplicaCalcEmptyMetrics: 4 pods of 200m, no metrics at all.
        let four = vec![without_sample(200); 4];
        assert_eq!(
            calc(&four, 0, 4, 100),
            Err("unable to get metrics for resource cpu: no metrics returned from resource metrics API".into())
        );
        // TestReplicaCalcDisjointResourcesMetrics: 1 pod of 1 cpu (test-pod-0) without a
        // sample, one sample of 100m for "an-older-pod-name": the sample matches no request,
        // Σ requests = 0.
        let one = [without_sample(1000)];
        assert_eq!(
            calc(&one, 1, 1, 100),
            Err("no metrics returned matched known pods".into())
        );
        // The same with the selected pod lacking a request: calculatePodRequests fails first.
        let mut no_request = without_sample(1000);
        no_request.request_milli = None;
        assert_eq!(
            calc(&[no_request], 1, 1, 100),
            Err("missing request for the resource in a container of a targeted pod".into())
        );
    }

    #[test]
    fn unknown_samples_do_not_change_a_proposal() {
        // TestReplicaCalcScaleUp: 300 + 500 + 700 of 3 × 1 cpu = 50 % against 30 % → 5; an
        // extra sample for an unknown pod is skipped where requests are summed.
        let pods: Vec<PodView> = [300, 500, 700]
            .map(|u| PodView::running(1000, u, NOW))
            .to_vec();
        assert_eq!(calc(&pods, 0, 3, 30), Ok(5));
        assert_eq!(calc(&pods, 1, 3, 30), Ok(5));
    }
}
