//! Upstream's updater tests, ported: `TestGetUpdatePriority` (update_priority_calculator
//! and priority_processor tests), the calculator's admission and order tests, and the eviction
//! restriction's (pods_restriction_factory / pods_eviction_restriction tests).

use super::*;
use crate::spec::vpa::CpuMemory;

const M: i64 = 1_000_000; // "10M" of memory is 10 000 000 bytes.

fn container(name: &str, cpu_cores: f64, memory: Option<i64>) -> ContainerRequests {
    ContainerRequests {
        name: name.into(),
        cpu_millis: Some((cpu_cores * 1000.0).round() as i64),
        memory_bytes: memory,
        ..Default::default()
    }
}

fn amount(cpu_cores: Option<f64>, memory: Option<i64>) -> CpuMemory {
    CpuMemory {
        cpu_millis: cpu_cores.map(|c| (c * 1000.0).round() as i64),
        memory_bytes: memory,
    }
}

/// A recommendation with a target and optional bounds (cpu in cores).
fn rec(
    name: &str,
    target: CpuMemory,
    lower: CpuMemory,
    upper: CpuMemory,
) -> ContainerRecommendation {
    ContainerRecommendation {
        container: name.into(),
        target,
        lower,
        upper,
        uncapped_target: target,
    }
}

fn cpu(cores: f64) -> CpuMemory {
    amount(Some(cores), None)
}

fn none() -> CpuMemory {
    CpuMemory::default()
}

#[test]
fn update_priority_as_upstreams_table() {
    type Case = (
        &'static str,
        Vec<ContainerRequests>,
        Vec<ContainerRecommendation>,
        bool,
        bool,
        f64,
    );
    let cases: Vec<Case> = vec![
        // |2 − 10| / 2 = 4.
        (
            "simple scale up",
            vec![container("a", 2.0, None)],
            vec![rec("a", cpu(10.0), none(), none())],
            false,
            true,
            4.0,
        ),
        // |4 − 2| / 4 = 0.5.
        (
            "simple scale down",
            vec![container("a", 4.0, None)],
            vec![rec("a", cpu(2.0), none(), none())],
            false,
            false,
            0.5,
        ),
        (
            "no resource diff",
            vec![container("a", 2.0, None)],
            vec![rec("a", cpu(2.0), none(), none())],
            false,
            false,
            0.0,
        ),
        // |10m − 900m| / 10m = 89.
        (
            "milli quantities",
            vec![container("a", 0.01, None)],
            vec![rec("a", cpu(0.9), none(), none())],
            false,
            true,
            89.0,
        ),
        // request 4 below the lower bound 6; |4 − 10| / 4 = 1.5.
        (
            "scale up outside range",
            vec![container("a", 4.0, None)],
            vec![rec("a", cpu(10.0), cpu(6.0), cpu(14.0))],
            true,
            true,
            1.5,
        ),
        // request 8 above the upper bound 3; |8 − 2| / 8 = 0.75.
        (
            "scale down outside range",
            vec![container("a", 8.0, None)],
            vec![rec("a", cpu(2.0), cpu(1.0), cpu(3.0))],
            true,
            false,
            0.75,
        ),
        // cpu |3 − 6| / 3 = 1, memory |10M − 20M| / 10M = 1.
        (
            "multi-resource both up",
            vec![container("a", 3.0, Some(10 * M))],
            vec![rec("a", amount(Some(6.0), Some(20 * M)), none(), none())],
            false,
            true,
            2.0,
        ),
        // cpu 0.5 + memory 1.0.
        (
            "multi-resource one up",
            vec![container("a", 4.0, Some(10 * M))],
            vec![rec("a", amount(Some(2.0), Some(20 * M)), none(), none())],
            false,
            true,
            1.5,
        ),
        (
            "multi-resource both down",
            vec![container("a", 4.0, Some(20 * M))],
            vec![rec("a", amount(Some(2.0), Some(10 * M)), none(), none())],
            false,
            false,
            1.0,
        ),
        // cpu request 4 above the upper bound 3.
        (
            "multi-resource one outside",
            vec![container("a", 4.0, Some(20 * M))],
            vec![rec(
                "a",
                amount(Some(2.0), Some(10 * M)),
                amount(Some(1.0), Some(5 * M)),
                amount(Some(3.0), Some(30 * M)),
            )],
            true,
            false,
            1.0,
        ),
        // pod totals: |3 − 12| / 3 = 3.
        (
            "two containers both up",
            vec![container("a", 1.0, None), container("b", 2.0, None)],
            vec![
                rec("a", cpu(4.0), none(), none()),
                rec("b", cpu(8.0), none(), none()),
            ],
            false,
            true,
            3.0,
        ),
        // |10 − 3| / 10 = 0.7.
        (
            "two containers both down",
            vec![container("a", 3.0, None), container("b", 7.0, None)],
            vec![
                rec("a", cpu(1.0), none(), none()),
                rec("b", cpu(2.0), none(), none()),
            ],
            false,
            false,
            0.7,
        ),
        // b's request 2 is below its lower bound 3.
        (
            "two containers up, one outside",
            vec![container("a", 1.0, None), container("b", 2.0, None)],
            vec![
                rec("a", cpu(4.0), cpu(1.0), none()),
                rec("b", cpu(8.0), cpu(3.0), cpu(10.0)),
            ],
            true,
            true,
            3.0,
        ),
        // cpu |10 − 15| / 10 = 0.5, memory |40M − 50M| / 40M = 0.25.
        (
            "two containers multi-resource",
            vec![
                container("a", 6.0, Some(10 * M)),
                container("b", 4.0, Some(30 * M)),
            ],
            vec![
                rec("a", amount(Some(8.0), Some(20 * M)), none(), none()),
                rec("b", amount(Some(7.0), Some(30 * M)), none(), none()),
            ],
            false,
            true,
            0.75,
        ),
    ];
    for (name, containers, recommendation, outside, up, diff) in cases {
        let p = update_priority(&containers, &recommendation);
        assert_eq!(p.outside_range, outside, "{name}: outside");
        assert_eq!(p.scale_up, up, "{name}: scale up");
        assert!(
            (p.resource_diff - diff).abs() < 1e-9,
            "{name}: diff {} ≠ {diff}",
            p.resource_diff
        );
    }
}

#[test]
fn a_missing_request_is_outside_the_range_and_a_scale_up() {
    let bare = ContainerRequests {
        name: "a".into(),
        ..Default::default()
    };
    let p = update_priority(&[bare], &[rec("a", cpu(1.0), none(), none())]);
    assert!(p.outside_range && p.scale_up);
}

fn priority(outside_range: bool, resource_diff: f64) -> UpdatePriority {
    UpdatePriority {
        outside_range,
        scale_up: true,
        resource_diff,
    }
}

/// The calculator tests use `MinChangePriority` 0.5.
fn settings() -> UpdaterSettings {
    UpdaterSettings {
        min_change_priority: 0.5,
        ..Default::default()
    }
}

const NOW: SimTime = SimTime::from_secs(48 * 3600);

fn aged(hours: u64) -> PodAge {
    PodAge {
        started: Some(SimTime::from_secs((48 - hours) * 3600)),
        last_oom_run: None,
    }
}

#[test]
fn sort_priority_puts_the_larger_diff_first() {
    // TestSortPriority: POD1 4.0, POD2 1.5, POD3 9.0, POD4 2.33 → POD3, POD1, POD4, POD2.
    let mut pods = vec![
        ("POD1", priority(false, 4.0)),
        ("POD2", priority(false, 1.5)),
        ("POD3", priority(false, 9.0)),
        ("POD4", priority(false, 2.33)),
    ];
    sort_by_priority(&mut pods);
    let order: Vec<&str> = pods.iter().map(|p| p.0).collect();
    assert_eq!(order, ["POD3", "POD1", "POD4", "POD2"]);
    // A scale-up ranks above a larger scale-down.
    let mut mixed = vec![
        (
            "down",
            UpdatePriority {
                scale_up: false,
                ..priority(false, 9.0)
            },
        ),
        ("up", priority(false, 0.1)),
    ];
    sort_by_priority(&mut mixed);
    assert_eq!(mixed[0].0, "up");
}

#[test]
fn long_lived_pods_need_the_threshold_short_lived_ones_need_to_be_outside() {
    let s = settings();
    // TestUpdateLonglivedPods (13 h): POD1 in range 0.25 no; POD2 in range 4.0 and POD3
    // outside 0.25 yes.
    assert!(!wants_update(&priority(false, 0.25), aged(13), NOW, &s));
    assert!(wants_update(&priority(false, 4.0), aged(13), NOW, &s));
    assert!(wants_update(&priority(true, 0.25), aged(13), NOW, &s));
    // TestUpdateShortlivedPods (11 h): only the pod outside the range.
    assert!(!wants_update(&priority(false, 0.25), aged(11), NOW, &s));
    assert!(!wants_update(&priority(false, 0.0), aged(11), NOW, &s));
    assert!(wants_update(&priority(true, 0.9), aged(11), NOW, &s));
    // A pod that has not started is left alone unless outside the range.
    let unstarted = PodAge {
        started: None,
        last_oom_run: None,
    };
    assert!(!wants_update(&priority(false, 4.0), unstarted, NOW, &s));
}

#[test]
fn a_quick_oom_updates_a_young_pod_with_any_diff() {
    let s = settings();
    let oom = |minutes: u64| PodAge {
        last_oom_run: Some(SimDuration::from_secs(minutes * 60)),
        ..aged(11)
    };
    // TestUpdatePodWithQuickOOM: ran 2 min before the OOM, diff 0.25 < 0.5, in range: updated.
    assert!(wants_update(&priority(false, 0.25), oom(2), NOW, &s));
    // TestDontUpdatePodWithQuickOOMNoResourceChange: the same with diff 0.
    assert!(!wants_update(&priority(false, 0.0), oom(2), NOW, &s));
    // TestDontUpdatePodWithOOMAfterLongRun: ran 57 min before the OOM.
    assert!(!wants_update(&priority(false, 0.25), oom(57), NOW, &s));
}

/// Evicts running pods one by one until the group refuses; returns how many went.
fn evictions(group: &mut ReplicaGroup) -> i32 {
    let mut n = 0;
    while group.can_evict(false) && n < 100 {
        group.evict(false);
        n += 1;
    }
    n
}

#[test]
fn eviction_restriction_as_upstream() {
    let with = |tolerance: f64| UpdaterSettings {
        eviction_tolerance: tolerance,
        ..Default::default()
    };
    // 5 replicas, min-replicas 10: the group is left alone.
    assert_eq!(ReplicaGroup::new(5, 5, 0, 10, &with(0.5)), None);
    // Tolerance 0.8: ⌊5 × 0.8⌋ = 4; evictions go while 5 − evicted > 5 − 4: four of them.
    let mut g = ReplicaGroup::new(5, 5, 0, 2, &with(0.8)).unwrap();
    assert_eq!(evictions(&mut g), 4);
    // Tolerance 0.1: ⌊0.5⌋ = 0; the rule allows none, the special case exactly one.
    let mut g = ReplicaGroup::new(5, 5, 0, 2, &with(0.1)).unwrap();
    assert_eq!(evictions(&mut g), 1);
    // The default 0.5 over 4 replicas: ⌊2⌋, so two go.
    let mut g = ReplicaGroup::new(4, 4, 0, 2, &with(0.5)).unwrap();
    assert_eq!(evictions(&mut g), 2);
    // A Pending pod may always go, and does not count.
    assert!(g.can_evict(true));
    // Two pods of five Pending: 3 running, ⌊2.5⌋ = 2 tolerated: 3 − e > 3 allows none and the
    // special case needs all configured running.
    let mut g = ReplicaGroup::new(5, 5, 2, 2, &with(0.5)).unwrap();
    assert_eq!(evictions(&mut g), 0);
}

#[test]
fn in_place_resizes_count_against_the_tolerance_as_evictions_do() {
    // 4 replicas, ⌊4 × 0.5⌋ = 2: one resize and one eviction use it up.
    let mut g = ReplicaGroup::new(4, 4, 0, 2, &UpdaterSettings::default()).unwrap();
    assert!(g.disruptable());
    g.resize();
    assert!(g.can_evict(false));
    g.evict(false);
    assert!(!g.disruptable() && !g.can_evict(false));
}

/// `TestAdmit` (scaling_direction_pod_eviction_admission_test.go): one container requesting
/// 500m and 10Gi; each case's requirements (resources, higher?) and target, and whether the
/// pod may be updated.
#[test]
fn eviction_requirements_as_upstreams_table() {
    const GI: i64 = 1 << 30;
    use crate::spec::vpa::{ChangeRequirement::*, EvictionRequirement};
    let req = |cpu, memory, change| EvictionRequirement {
        cpu,
        memory,
        change,
    };
    let pod = [container("c", 0.5, Some(10 * GI))];
    type Case = (&'static str, Vec<EvictionRequirement>, (f64, i64), bool);
    let cases: Vec<Case> = vec![
        ("no config", vec![], (0.6, 10 * GI), true),
        (
            "cpu up, up allowed",
            vec![req(true, false, TargetHigherThanRequests)],
            (0.6, 10 * GI),
            true,
        ),
        (
            "cpu down, down allowed",
            vec![req(true, false, TargetLowerThanRequests)],
            (0.4, 10 * GI),
            true,
        ),
        // 500m = 500m and 10Gi = 10Gi: neither resource is higher.
        (
            "nothing higher",
            vec![req(true, true, TargetHigherThanRequests)],
            (0.5, 10 * GI),
            false,
        ),
        // One requirement over both resources: memory 11Gi > 10Gi is enough.
        (
            "memory higher is enough",
            vec![req(true, true, TargetHigherThanRequests)],
            (0.5, 11 * GI),
            true,
        ),
        (
            "memory up, up allowed",
            vec![req(false, true, TargetHigherThanRequests)],
            (0.5, 11 * GI),
            true,
        ),
        (
            "memory down, down allowed",
            vec![req(false, true, TargetLowerThanRequests)],
            (0.5, 9 * GI),
            true,
        ),
        (
            "memory down, only up allowed",
            vec![req(true, true, TargetHigherThanRequests)],
            (0.5, 9 * GI),
            false,
        ),
        // Two requirements, both must hold: cpu 600m up and memory 9Gi down.
        (
            "cpu up and memory down",
            vec![
                req(true, false, TargetHigherThanRequests),
                req(false, true, TargetLowerThanRequests),
            ],
            (0.6, 9 * GI),
            true,
        ),
        (
            "cpu up, only down allowed",
            vec![req(true, false, TargetLowerThanRequests)],
            (1.0, 9 * GI),
            false,
        ),
        (
            "cpu up, memory down, both must go up",
            vec![
                req(true, false, TargetHigherThanRequests),
                req(false, true, TargetHigherThanRequests),
            ],
            (0.6, 9 * GI),
            false,
        ),
    ];
    for (name, requirements, (cpu, memory), expected) in cases {
        let r = [rec("c", amount(Some(cpu), Some(memory)), none(), none())];
        assert_eq!(admits_eviction(&pod, &r, &requirements), expected, "{name}");
    }
    // A container without requests is admitted whatever the target.
    let bare = [ContainerRequests {
        name: "c".into(),
        ..Default::default()
    }];
    let r = [rec("c", amount(Some(0.6), Some(10 * GI)), none(), none())];
    assert!(admits_eviction(
        &bare,
        &r,
        &[req(true, false, TargetLowerThanRequests)]
    ));
    // Two containers: one meeting the requirements is enough (600m up in the second).
    let two = [
        container("a", 0.5, Some(10 * GI)),
        container("b", 0.5, Some(10 * GI)),
    ];
    let r = [
        rec("a", amount(Some(0.4), Some(10 * GI)), none(), none()),
        rec("b", amount(Some(0.6), Some(10 * GI)), none(), none()),
    ];
    assert!(admits_eviction(
        &two,
        &r,
        &[req(true, false, TargetHigherThanRequests)]
    ));
}
