//! Upstream's capping tests (`capping_test.go`), as tables.

use super::*;
use crate::spec::vpa::{ContainerPolicy, NamespaceLimitRange, UpdateMode};

const G: i64 = 1_000_000_000;

/// A container's (cpu, memory) requests and (cpu, memory) limits.
type RequestsLimits = ((Option<i64>, Option<i64>), (Option<i64>, Option<i64>));

fn container(
    name: &str,
    request: (Option<i64>, Option<i64>),
    limit: (Option<i64>, Option<i64>),
) -> ContainerRequests {
    ContainerRequests {
        name: name.into(),
        cpu_millis: request.0,
        memory_bytes: request.1,
        cpu_limit_millis: limit.0,
        memory_limit_bytes: limit.1,
        ..Default::default()
    }
}

fn amounts(cpu: Option<i64>, memory: Option<i64>) -> CpuMemory {
    CpuMemory {
        cpu_millis: cpu,
        memory_bytes: memory,
    }
}

fn target(name: &str, cpu: Option<i64>, memory: Option<i64>) -> ContainerRecommendation {
    ContainerRecommendation {
        container: name.into(),
        target: amounts(cpu, memory),
        ..Default::default()
    }
}

fn vpa(policies: Vec<ContainerPolicy>, limit_range: NamespaceLimitRange) -> VpaSpec {
    VpaSpec {
        limit_range,
        ..VpaSpec::for_tests(UpdateMode::Recreate, policies)
    }
}

/// One `TestApplyPodLimitRange` case: the pod's containers (requests, limits), the
/// recommendations' targets, the Pod item, the resource, and the targets it gives.
struct PodCase {
    name: &'static str,
    containers: Vec<ContainerRequests>,
    targets: Vec<ContainerRecommendation>,
    range: LimitRangeBounds,
    resource: Resource,
    expected: Vec<Option<i64>>,
}

fn cpu_pair(request: i64, limit: i64) -> RequestsLimits {
    ((Some(request), None), (Some(limit), None))
}

fn memory_pair(request: i64, limit: i64) -> RequestsLimits {
    ((None, Some(request)), (None, Some(limit)))
}

fn pod_cases() -> Vec<PodCase> {
    let two = |pair: RequestsLimits| {
        vec![
            container("container1", pair.0, pair.1),
            container("container2", pair.0, pair.1),
        ]
    };
    let cpu_targets = |a, b| {
        vec![
            target("container1", Some(a), None),
            target("container2", Some(b), None),
        ]
    };
    let memory_targets = |a, b| {
        vec![
            target("container1", None, Some(a)),
            target("container2", None, Some(b)),
        ]
    };
    let range = |min: CpuMemory, max: CpuMemory| LimitRangeBounds {
        min,
        max,
        default_limit: CpuMemory::default(),
    };
    let none = CpuMemory::default();
    vec![
        // req = lim = 1 core each, targets 1 core: limits sum to 2000m > max 1000m, so each
        // target is scaled by 1000/2000: 500m.
        PodCase {
            name: "cap target cpu to max",
            containers: two(cpu_pair(1000, 1000)),
            targets: cpu_targets(1000, 1000),
            range: range(none, amounts(Some(1000), None)),
            resource: Resource::Cpu,
            expected: vec![Some(500), Some(500)],
        },
        // req = lim = 1 byte, targets 1G: limits (= targets) and targets sum to 2G < min 4G,
        // so each target is scaled up by 4G/2G: 2G.
        PodCase {
            name: "cap mem to min",
            containers: two(memory_pair(1, 1)),
            targets: memory_targets(G, G),
            range: range(amounts(None, Some(4 * G)), none),
            resource: Resource::Memory,
            expected: vec![Some(2 * G), Some(2 * G)],
        },
        // req 1, lim 2: limits 2G each (4G, inside [4G, 10G]) but targets sum to 2G < 4G: 2G each.
        PodCase {
            name: "cap mem request to pod min",
            containers: two(memory_pair(1, 2)),
            targets: memory_targets(G, G),
            range: range(amounts(None, Some(4 * G)), amounts(None, Some(10 * G))),
            resource: Resource::Memory,
            expected: vec![Some(2 * G), Some(2 * G)],
        },
        // container2 has no recommendation and counts with its request 1G (limit 2G): targets
        // sum to 2G < 4G, so container1's 1G is scaled by 4G/2G: 2G (container2 has no entry).
        PodCase {
            name: "only one container with recommendation",
            containers: two(memory_pair(G, 2 * G)),
            targets: vec![target("container1", None, Some(G))],
            range: range(amounts(None, Some(4 * G)), amounts(None, Some(10 * G))),
            resource: Resource::Memory,
            expected: vec![Some(2 * G)],
        },
        // The pod has only container2: its 1G alone is below 4G, scaled by 4G/1G; container1's
        // entry is left as it is.
        PodCase {
            name: "extra recommendation",
            containers: vec![container("container2", (None, Some(1)), (None, Some(2)))],
            targets: memory_targets(G, G),
            range: range(amounts(None, Some(4 * G)), amounts(None, Some(10 * G))),
            resource: Resource::Memory,
            expected: vec![Some(G), Some(4 * G)],
        },
        // req = lim = 1m, targets 15m + 100m = 115m < min 150m: ⌈15×150/115⌉ = 20m,
        // ⌈100×150/115⌉ = 131m.
        PodCase {
            name: "cap target cpu to pod min",
            containers: two(cpu_pair(1, 1)),
            targets: cpu_targets(15, 100),
            range: range(amounts(Some(150), None), none),
            resource: Resource::Cpu,
            expected: vec![Some(20), Some(131)],
        },
        // The same against max 90m: ⌊15×90/115⌋ = 11m, ⌊100×90/115⌋ = 78m.
        PodCase {
            name: "cap target cpu to pod max",
            containers: two(cpu_pair(1, 1)),
            targets: cpu_targets(15, 100),
            range: range(none, amounts(Some(90), None)),
            resource: Resource::Cpu,
            expected: vec![Some(11), Some(78)],
        },
    ]
}

#[test]
fn pod_limit_range_as_upstreams_table() {
    for case in pod_cases() {
        let mut recs = case.targets.clone();
        pod_range_capped(
            &case.containers,
            &mut recs,
            &case.range,
            Field::Target,
            case.resource,
        );
        let got: Vec<Option<i64>> = recs.iter().map(|r| case.resource.of(&r.target)).collect();
        assert_eq!(got, case.expected, "{}", case.name);
    }
}

/// `TestApplyCapsToLimitRange`: Container item max cpu 1, min memory 500M; the container
/// requests and limits 1 core and 1G; target 2 cores and 200M. The cpu boundary is
/// 1000m × 1000m / 1000m = 1000m; the memory minimum is 1G × 500M / 1G = 500M.
#[test]
fn container_limit_range_caps_both_ways() {
    let range = NamespaceLimitRange {
        container: Some(LimitRangeBounds {
            min: amounts(None, Some(500_000_000)),
            max: amounts(Some(1000), None),
            default_limit: amounts(Some(1000), None),
        }),
        pod: None,
    };
    let c = container("ctr-name", (Some(1000), Some(G)), (Some(1000), Some(G)));
    let got = capped_for_pod(
        &[c],
        &vpa(Vec::new(), range),
        &[target("ctr-name", Some(2000), Some(200_000_000))],
    );
    assert_eq!(got[0].target, amounts(Some(1000), Some(500_000_000)));
}

/// A limit twice the request: the boundary request is half the LimitRange's max.
#[test]
fn the_boundary_keeps_the_limit_in_proportion() {
    assert_eq!(boundary_request(Some(500), Some(1000), 2000), 1000);
    assert_eq!(
        boundary_request(None, Some(1000), 2000),
        2000,
        "no request: the bound itself"
    );
    assert_eq!(
        boundary_request(Some(500), None, 2000),
        0,
        "no limit: no bound"
    );
}

/// `TestRecommendationToLimitCapping`, RequestsOnly: limits 30 cores and 70 000 bytes;
/// target 20 cores / 80 000, upper 100 cores / 90 000: every value lowered to the limits.
/// Under RequestsAndLimits nothing changes.
#[test]
fn requests_only_caps_to_the_container_limit() {
    let c = container("ctr-name", (None, None), (Some(30_000), Some(70_000)));
    let rec = ContainerRecommendation {
        container: "ctr-name".into(),
        target: amounts(Some(20_000), Some(80_000)),
        upper: amounts(Some(100_000), Some(90_000)),
        ..Default::default()
    };
    let policy = |values| ContainerPolicy {
        controlled_values: values,
        ..ContainerPolicy::unconstrained("*")
    };
    let none = NamespaceLimitRange::default();
    let only = capped_for_pod(
        std::slice::from_ref(&c),
        &vpa(vec![policy(ControlledValues::RequestsOnly)], none),
        std::slice::from_ref(&rec),
    );
    assert_eq!(only[0].target, amounts(Some(20_000), Some(70_000)));
    assert_eq!(only[0].upper, amounts(Some(30_000), Some(70_000)));
    let both = capped_for_pod(
        &[c],
        &vpa(vec![policy(ControlledValues::RequestsAndLimits)], none),
        std::slice::from_ref(&rec),
    );
    assert_eq!(both[0], rec);
}

/// `TestRecommendationCappedToMinMaxPolicy`: target 30 cores / 50 000, lower 20 / 43 000,
/// upper 50 / 55 000; policy min 40 / 40 000, max 45 / 45 000.
#[test]
fn the_policy_bounds_apply_at_admission_too() {
    let c = container("ctr-name", (None, None), (None, None));
    let rec = ContainerRecommendation {
        container: "ctr-name".into(),
        target: amounts(Some(30_000), Some(50_000)),
        lower: amounts(Some(20_000), Some(43_000)),
        upper: amounts(Some(50_000), Some(55_000)),
        ..Default::default()
    };
    let policy = ContainerPolicy {
        min_allowed: amounts(Some(40_000), Some(40_000)),
        max_allowed: amounts(Some(45_000), Some(45_000)),
        ..ContainerPolicy::unconstrained("ctr-name")
    };
    let got = capped_for_pod(
        &[c],
        &vpa(vec![policy], NamespaceLimitRange::default()),
        &[rec],
    );
    assert_eq!(got[0].target, amounts(Some(40_000), Some(45_000)));
    assert_eq!(got[0].lower, amounts(Some(40_000), Some(43_000)));
    assert_eq!(got[0].upper, amounts(Some(45_000), Some(45_000)));
}

/// `TestRecommendationNotAvailable`: a recommendation for a container the pod lacks is dropped.
#[test]
fn a_recommendation_for_another_container_is_dropped() {
    let c = container("ctr-name", (Some(100), None), (None, None));
    let got = capped_for_pod(
        &[c],
        &vpa(Vec::new(), NamespaceLimitRange::default()),
        &[target("ctr-name-other", Some(50), None)],
    );
    assert!(got.is_empty());
}

/// A policy's maxAllowed above the LimitRange wins: the LimitRange is applied first.
#[test]
fn the_policy_overrides_the_limit_range() {
    let range = NamespaceLimitRange {
        container: Some(LimitRangeBounds {
            max: amounts(Some(500), None),
            ..Default::default()
        }),
        pod: None,
    };
    let policy = ContainerPolicy {
        min_allowed: amounts(Some(800), None),
        ..ContainerPolicy::unconstrained("*")
    };
    let c = container("app", (Some(250), None), (Some(500), None));
    // Boundary: 250 × 500 / 500 = 250m; the target 1000m goes to 250m, then minAllowed 800m.
    let got = capped_for_pod(
        &[c],
        &vpa(vec![policy], range),
        &[target("app", Some(1000), None)],
    );
    assert_eq!(got[0].target.cpu_millis, Some(800));
}
