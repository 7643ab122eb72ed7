//! The scheduler's use of its profiles (the configuration itself is [`crate::spec::scheduler`]'s):
//! which profile a pod asks for, and how many nodes to look at (`numFeasibleNodesToFind`).

use crate::scenario::PodTemplate;

pub use crate::spec::scheduler::{
    DEFAULT_SCHEDULER_NAME, DefaultSpreadConstraint, ResourceWeight, SchedulerProfile, ScoringKind,
    ScoringStrategy, SpreadDefaults, default_resources, or_default,
};

/// Index of the profile a pod asks for (`spec.schedulerName`, default `default-scheduler`;
/// validation guarantees it exists, the first profile otherwise).
pub fn index_for(profiles: &[SchedulerProfile], pod: &PodTemplate) -> usize {
    let name = pod
        .scheduler_name
        .as_deref()
        .unwrap_or(DEFAULT_SCHEDULER_NAME);
    profiles
        .iter()
        .position(|p| p.scheduler_name == name)
        .unwrap_or(0)
}

/// The profile a pod asks for (see [`index_for`]); `profiles` must not be empty.
pub fn for_pod<'p>(profiles: &'p [SchedulerProfile], pod: &PodTemplate) -> &'p SchedulerProfile {
    &profiles[index_for(profiles, pod)]
}

/// `minFeasibleNodesToFind`: below this many nodes every node is evaluated.
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// `minFeasibleNodesPercentageToFind`.
const MIN_FEASIBLE_NODES_PERCENTAGE: i64 = 5;

/// `numFeasibleNodesToFind` (C.2): how many feasible nodes the Filter phase looks for before it
/// stops. With `percentage` 0 the adaptive default `50 − nodes/125` (at least 5 %) applies.
pub fn num_feasible_nodes_to_find(percentage: i32, nodes: usize) -> usize {
    if nodes < MIN_FEASIBLE_NODES_TO_FIND || percentage >= 100 {
        return nodes;
    }
    let n = nodes as i64;
    let mut pct = i64::from(percentage);
    if pct == 0 {
        pct = (50 - n / 125).max(MIN_FEASIBLE_NODES_PERCENTAGE);
    }
    let found = (n * pct / 100) as usize;
    found.max(MIN_FEASIBLE_NODES_TO_FIND)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `TestNumFeasibleNodesToFind` (schedule_one_test.go) and the examples of C.2.
    #[test]
    fn num_feasible_nodes_to_find_upstream_cases() {
        let cases = [
            // (percentage, nodes, expected)
            (0, 10, 10),     // fewer than 100 nodes: all
            (40, 10, 10),    // a percentage does not matter below 100 nodes
            (0, 1000, 420),  // adaptive: 50 − 1000/125 = 42 % → 420
            (40, 1000, 400), // 40 % of 1000
            (0, 6000, 300),  // adaptive: 50 − 48 = 2 % → raised to 5 % → 300
            (40, 6000, 2400),
            (0, 150, 100), // 50 − 1 = 49 % of 150 = 73 → raised to the 100 minimum
            (100, 5000, 5000),
            (1, 5000, 100), // 1 % = 50 → at least 100
        ];
        for (pct, nodes, want) in cases {
            assert_eq!(
                num_feasible_nodes_to_find(pct, nodes),
                want,
                "pct {pct}, {nodes} nodes"
            );
        }
    }
}
