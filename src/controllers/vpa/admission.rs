//! The VPA's admission controller (`admission-controller/resource/pod`): what a new pod's
//! containers get from its VPA's recommendation, once [`super::capping`] has fitted it to the
//! namespace's LimitRanges, the policy and (`RequestsOnly`) the limits. Each container with a
//! recommendation gets requests = target for each resource the target has; under
//! `RequestsAndLimits` its limits keep their ratio to the requests (`GetProportionalLimit`),
//! under `RequestsOnly` they stay. Containers without a recommendation are left as they are.
//! The in-place resize writes the same values.

use crate::spec::pod_resources::ContainerRequests;
use crate::spec::vpa::{ControlledValues, VpaSpec};

use super::capping::capped_for_pod;
use super::policy::ContainerRecommendation;

/// The containers as the admission controller leaves them, or `None` when the recommendation
/// changes nothing (no recommendation for any container, or the same values).
pub fn recommended_containers(
    containers: &[ContainerRequests],
    vpa: &VpaSpec,
    recommendation: &[ContainerRecommendation],
) -> Option<Vec<ContainerRequests>> {
    let capped = capped_for_pod(containers, vpa, recommendation);
    let out: Vec<ContainerRequests> = containers
        .iter()
        .map(|c| match capped.iter().find(|r| r.container == c.name) {
            Some(r) => recommended(c, r, vpa.policy_for(&c.name).controlled_values),
            None => c.clone(),
        })
        .collect();
    (out != containers).then_some(out)
}

/// One container with requests = the (capped) target and, under `RequestsAndLimits`,
/// proportional limits.
fn recommended(
    c: &ContainerRequests,
    r: &ContainerRecommendation,
    values: ControlledValues,
) -> ContainerRequests {
    let mut out = c.clone();
    let requests_only = values == ControlledValues::RequestsOnly;
    if let Some(cpu) = r.target.cpu_millis {
        if !requests_only {
            out.cpu_limit_millis = proportional_limit(c.cpu_limit_millis, c.cpu_millis, cpu);
        }
        out.cpu_millis = Some(cpu);
    }
    if let Some(memory) = r.target.memory_bytes {
        if !requests_only {
            out.memory_limit_bytes =
                proportional_limit(c.memory_limit_bytes, c.memory_bytes, memory);
        }
        out.memory_bytes = Some(memory);
    }
    out
}

/// `getProportionalResourceLimit` (kubesim has put a LimitRange's default limit into the
/// container already): no limit stays none, as does a zero recommendation; no request, or a
/// limit equal to the request, gives limit = the new request; otherwise
/// ⌊limit × recommended / request⌋, at most `i64::MAX`.
pub fn proportional_limit(
    limit: Option<i64>,
    request: Option<i64>,
    recommended: i64,
) -> Option<i64> {
    let limit = limit.filter(|&l| l != 0)?;
    if recommended == 0 {
        return None;
    }
    match request.filter(|&r| r != 0) {
        None => Some(recommended),
        Some(r) if r == limit => Some(recommended),
        Some(r) => {
            let scaled = i128::from(limit) * i128::from(recommended) / i128::from(r);
            Some(i64::try_from(scaled).unwrap_or(i64::MAX))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::vpa::{ContainerPolicy, CpuMemory, UpdateMode};

    /// `TestGetProportionalResourceLimitCPU` / `Mem` (limit_and_request_scaling_test.go), in
    /// millicores for cpu and bytes for memory. "with default" is the first case: kubesim has
    /// already put the LimitRange's default limit (2) into the container.
    #[test]
    fn proportional_limits_as_upstreams_table() {
        // (case, limit, request, recommended, expected limit)
        type Case = (&'static str, Option<i64>, Option<i64>, i64, Option<i64>);
        let cases: [Case; 9] = [
            // 2 × 10 / 1 = 20 cores.
            (
                "scale proportionally",
                Some(2000),
                Some(1000),
                10_000,
                Some(20_000),
            ),
            ("no original limit", None, Some(1000), 10_000, None),
            (
                "no original request",
                Some(2000),
                None,
                10_000,
                Some(10_000),
            ),
            ("no recommendation", Some(2000), Some(1000), 0, None),
            (
                "limit equal to request",
                Some(1000),
                Some(1000),
                10_000,
                Some(10_000),
            ),
            // 2000 × 1000 / 1500 = 1333.3 → 1333m.
            (
                "non-integer ratio cpu",
                Some(2000),
                Some(1500),
                1000,
                Some(1333),
            ),
            // 200 × 100 / 150 = 133.3 → 133 bytes.
            (
                "non-integer ratio memory",
                Some(200),
                Some(150),
                100,
                Some(133),
            ),
            // 10G cores × 10G cores / 1m overflows: capped.
            (
                "go over cap",
                Some(10_000_000_000_000),
                Some(1),
                10_000_000_000_000,
                Some(i64::MAX),
            ),
            ("zero limit is none", Some(0), Some(1000), 500, None),
        ];
        for (name, limit, request, recommended, expected) in cases {
            assert_eq!(
                proportional_limit(limit, request, recommended),
                expected,
                "{name}"
            );
        }
    }

    fn vpa(values: ControlledValues) -> VpaSpec {
        let policy = ContainerPolicy {
            controlled_values: values,
            ..ContainerPolicy::unconstrained("*")
        };
        VpaSpec::for_tests(UpdateMode::Recreate, vec![policy])
    }

    fn app() -> ContainerRequests {
        ContainerRequests {
            name: "app".into(),
            cpu_millis: Some(1000),
            memory_bytes: Some(1 << 30),
            cpu_limit_millis: Some(2000),
            memory_limit_bytes: Some(1 << 30),
            ..Default::default()
        }
    }

    fn recommendation(cpu: Option<i64>, memory: Option<i64>) -> Vec<ContainerRecommendation> {
        vec![ContainerRecommendation {
            container: "app".into(),
            target: CpuMemory {
                cpu_millis: cpu,
                memory_bytes: memory,
            },
            ..Default::default()
        }]
    }

    #[test]
    fn requests_take_the_target_and_limits_keep_their_ratio() {
        let out = recommended_containers(
            &[app()],
            &vpa(ControlledValues::RequestsAndLimits),
            &recommendation(Some(250), Some(512 << 20)),
        )
        .unwrap();
        // cpu limit 2000 × 250 / 1000 = 500m; memory limit = request before, so = new request.
        assert_eq!(out[0].cpu_millis, Some(250));
        assert_eq!(out[0].cpu_limit_millis, Some(500));
        assert_eq!(out[0].memory_bytes, Some(512 << 20));
        assert_eq!(out[0].memory_limit_bytes, Some(512 << 20));
    }

    #[test]
    fn requests_only_keeps_limits_and_caps_the_target_to_them() {
        let out = recommended_containers(
            &[app()],
            &vpa(ControlledValues::RequestsOnly),
            &recommendation(Some(3000), Some(2 << 30)),
        )
        .unwrap();
        assert_eq!(out[0].cpu_millis, Some(2000), "capped to the 2-core limit");
        assert_eq!(
            out[0].memory_bytes,
            Some(1 << 30),
            "capped to the 1Gi limit"
        );
        assert_eq!(out[0].cpu_limit_millis, Some(2000));
    }

    #[test]
    fn a_resource_without_a_target_and_an_unrecommended_container_are_left_alone() {
        // controlledResources [memory]: only the memory request is patched.
        let sidecar = ContainerRequests {
            name: "proxy".into(),
            ..app()
        };
        let containers = [app(), sidecar.clone()];
        let out = recommended_containers(
            &containers,
            &vpa(ControlledValues::RequestsAndLimits),
            &recommendation(None, Some(256 << 20)),
        )
        .unwrap();
        assert_eq!(out[0].cpu_millis, Some(1000));
        assert_eq!(out[0].memory_bytes, Some(256 << 20));
        assert_eq!(out[1], sidecar);
        // The same values again: nothing to patch.
        let none = recommended_containers(
            &out,
            &vpa(ControlledValues::RequestsAndLimits),
            &recommendation(None, Some(256 << 20)),
        );
        assert_eq!(none, None);
    }
}
