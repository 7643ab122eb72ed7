//! The recommender's capping post-processor (`ApplyVPAPolicy`, `pkg/utils/vpa/capping.go`):
//! each container's target, lower and upper bound raised to the policy's `minAllowed` and then
//! lowered to its `maxAllowed` (a bound of zero is no bound); a resource the policy has no
//! maximum for takes the recommender's global maximum, if any. The uncapped target keeps the
//! estimate.

use crate::spec::vpa::{ContainerPolicy, CpuMemory};

/// One container's recommendation (`RecommendedContainerResources`): millicores and bytes,
/// `None` for a resource the policy does not control.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ContainerRecommendation {
    /// `containerName`.
    pub container: String,
    /// `target`.
    pub target: CpuMemory,
    /// `lowerBound`.
    #[serde(rename = "lowerBound")]
    pub lower: CpuMemory,
    /// `upperBound`.
    #[serde(rename = "upperBound")]
    pub upper: CpuMemory,
    /// `uncappedTarget`: the estimate before the policy's bounds.
    #[serde(rename = "uncappedTarget")]
    pub uncapped_target: CpuMemory,
}

/// `minAllowed`/`maxAllowed` of `policy` applied to `rec`, `global_max` filling the resources
/// the policy gives no maximum for (`applyVPAPolicyForContainer`).
pub fn apply_policy(
    rec: &ContainerRecommendation,
    policy: Option<&ContainerPolicy>,
    global_max: CpuMemory,
) -> ContainerRecommendation {
    let min = policy.map(|p| p.min_allowed).unwrap_or_default();
    let own_max = policy.map(|p| p.max_allowed).unwrap_or_default();
    let max = CpuMemory {
        cpu_millis: own_max.cpu_millis.or(global_max.cpu_millis),
        memory_bytes: own_max.memory_bytes.or(global_max.memory_bytes),
    };
    let cap = |v: CpuMemory| CpuMemory {
        cpu_millis: v
            .cpu_millis
            .map(|x| clamp(x, min.cpu_millis, max.cpu_millis)),
        memory_bytes: v
            .memory_bytes
            .map(|x| clamp(x, min.memory_bytes, max.memory_bytes)),
    };
    ContainerRecommendation {
        container: rec.container.clone(),
        target: cap(rec.target),
        lower: cap(rec.lower),
        upper: cap(rec.upper),
        uncapped_target: rec.uncapped_target,
    }
}

/// Raised to `min`, then lowered to `max` (so `max` wins when they cross); zero bounds none.
fn clamp(x: i64, min: Option<i64>, max: Option<i64>) -> i64 {
    let x = match min {
        Some(m) if m != 0 && x < m => m,
        _ => x,
    };
    match max {
        Some(m) if m != 0 && x > m => m,
        _ => x,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MI: i64 = 1 << 20;

    /// A case's name, policy, global maximum and expected (target, lower, upper) as
    /// (millicores, MiB).
    type Case = (
        &'static str,
        Option<ContainerPolicy>,
        CpuMemory,
        [(i64, i64); 3],
    );

    fn amounts(cpu: i64, mib: i64) -> CpuMemory {
        CpuMemory {
            cpu_millis: Some(cpu),
            memory_bytes: Some(mib * MI),
        }
    }

    fn policy(min: CpuMemory, max: CpuMemory) -> ContainerPolicy {
        ContainerPolicy {
            min_allowed: min,
            max_allowed: max,
            ..ContainerPolicy::unconstrained("foo")
        }
    }

    /// `TestApplyVPAPolicy` (capping_test.go): target 42m/42Mi, lower 31m/31Mi, upper
    /// 53m/53Mi; each case's policy and global maximum, and the (target, lower, upper) it gives.
    /// The uncapped target stays 42m/42Mi throughout.
    #[test]
    fn apply_vpa_policy_table() {
        let rec = ContainerRecommendation {
            container: "foo".into(),
            target: amounts(42, 42),
            lower: amounts(31, 31),
            upper: amounts(53, 53),
            uncapped_target: amounts(42, 42),
        };
        let none = CpuMemory::default();
        let cpu_only = |m| CpuMemory {
            cpu_millis: Some(m),
            memory_bytes: None,
        };
        let memory_only = |mib| CpuMemory {
            cpu_millis: None,
            memory_bytes: Some(mib * MI),
        };
        #[rustfmt::skip]
        let cases: [Case; 7] = [
            // No policy, no global max: unchanged.
            ("nil policy", None, none, [(42, 42), (31, 31), (53, 53)]),
            // min 50: target 42 → 50, lower 31 → 50; upper 53 stays.
            ("min allowed", Some(policy(amounts(50, 50), none)), none, [(50, 50), (50, 50), (53, 53)]),
            // max 40: target 42 → 40, upper 53 → 40; lower 31 stays.
            ("max allowed", Some(policy(none, amounts(40, 40))), none, [(40, 40), (31, 31), (40, 40)]),
            // The global max alone acts as maxAllowed.
            ("global max", None, amounts(40, 40), [(40, 40), (31, 31), (40, 40)]),
            // min 35 raises lower 31; the global max 50 lowers upper 53.
            ("min and global max", Some(policy(amounts(35, 35), none)), amounts(50, 50), [(42, 42), (35, 35), (50, 50)]),
            // cpu max 40 from the policy, memory max 40Mi from the global flags.
            ("cpu max, global memory max", Some(policy(none, cpu_only(40))), memory_only(40), [(40, 40), (31, 31), (40, 40)]),
            // The policy's cpu max 40 beats the smaller global 30; memory takes the global 30Mi.
            ("policy max beats global", Some(policy(none, cpu_only(40))), amounts(30, 30), [(40, 30), (31, 30), (40, 30)]),
        ];
        for (name, policy, global, [t, l, u]) in cases {
            let got = apply_policy(&rec, policy.as_ref(), global);
            assert_eq!(got.target, amounts(t.0, t.1), "{name}: target");
            assert_eq!(got.lower, amounts(l.0, l.1), "{name}: lower");
            assert_eq!(got.upper, amounts(u.0, u.1), "{name}: upper");
            assert_eq!(got.uncapped_target, amounts(42, 42), "{name}: uncapped");
        }
    }

    #[test]
    fn uncontrolled_resources_stay_absent_and_zero_bounds_are_none() {
        let rec = ContainerRecommendation {
            container: "foo".into(),
            target: CpuMemory {
                cpu_millis: Some(42),
                memory_bytes: None,
            },
            ..ContainerRecommendation::default()
        };
        let p = policy(amounts(0, 100), amounts(0, 200));
        let got = apply_policy(&rec, Some(&p), CpuMemory::default());
        assert_eq!(got.target.cpu_millis, Some(42));
        assert_eq!(got.target.memory_bytes, None);
    }
}
