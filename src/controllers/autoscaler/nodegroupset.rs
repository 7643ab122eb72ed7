//! `--balance-similar-node-groups` (the autoscaler's `processors/nodegroupset`): which node
//! groups are alike, and how a scale-up is split between them.
//!
//! Two groups are similar when their template nodes — with the DaemonSet pods they would run —
//! have the same capacity resources (memory within `--memory-difference-ratio`, everything else
//! exactly equal), each allocatable resource within `--max-allocatable-difference-ratio`, each
//! resource left free by the DaemonSet pods within `--max-free-difference-ratio`, and the same
//! labels but for those that always differ between groups (hostname, zone, region, the cloud's
//! node-group labels) and `--balancing-ignore-label`. `--balancing-label` replaces all of that:
//! groups are similar exactly when those labels are equal. kubesim's pools give allocatable
//! resources only, so capacity is the allocatable here.
//!
//! A split adds nodes one at a time to the smallest group that is below its maximum
//! (`BalanceScaleUpBetweenGroups`).

use crate::cluster::Node;
use crate::scenario::Balancing;
use crate::spec::resources::Resources;

/// Labels that differ between otherwise equal node groups: upstream's
/// `BasicIgnoredLabels`, then what the AWS and GCE comparators add.
const IGNORED_LABELS: [&str; 15] = [
    "kubernetes.io/hostname",
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "beta.kubernetes.io/fluentd-ds-ready",
    "kops.k8s.io/instancegroup",
    "alpha.eksctl.io/instance-id",
    "alpha.eksctl.io/nodegroup-name",
    "eks.amazonaws.com/nodegroup",
    "k8s.amazonaws.com/eniConfig",
    "lifecycle",
    "topology.ebs.csi.aws.com/zone",
    "topology.k8s.aws/zone-id",
    "topology.gke.io/zone",
];

/// Whether node groups with template nodes `a` and `b` are similar under `rules`.
pub fn similar(a: &Node, b: &Node, rules: &Balancing) -> bool {
    if !rules.labels.is_empty() {
        return rules
            .labels
            .iter()
            .all(|key| a.labels.get(key) == b.labels.get(key));
    }
    same_capacity(a, b, rules.memory_difference_ratio)
        && each_within(
            &quantities(&a.allocatable, a.max_pods),
            &quantities(&b.allocatable, b.max_pods),
            rules.max_allocatable_difference_ratio,
        )
        && each_within(&free(a), &free(b), rules.max_free_difference_ratio)
        && same_labels(a, b, &rules.ignore_labels)
}

/// Every capacity resource on both nodes; memory within `memory_ratio`, the rest equal.
fn same_capacity(a: &Node, b: &Node, memory_ratio: f64) -> bool {
    let (qa, qb) = (
        quantities(&a.allocatable, a.max_pods),
        quantities(&b.allocatable, b.max_pods),
    );
    qa.len() == qb.len()
        && qa.iter().zip(&qb).all(|((ka, va), (kb, vb))| {
            ka == kb
                && match ka.as_str() {
                    "memory" => within(*va, *vb, memory_ratio),
                    _ => va == vb,
                }
        })
}

/// The resources a node has (non-zero), by name, in name order: CPU in millicores, the rest in
/// their units, and `pods`.
fn quantities(r: &Resources, pods: i64) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = [
        ("cpu", r.cpu_millis),
        ("ephemeral-storage", r.ephemeral_storage_bytes),
        ("memory", r.memory_bytes),
        ("nvidia.com/gpu", r.gpus),
        ("pods", pods),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .chain(r.extended.iter().map(|(k, v)| (k.clone(), *v)))
    .filter(|(_, v)| *v != 0)
    .collect();
    out.sort();
    out
}

/// What the template's DaemonSet pods leave of each allocatable resource.
fn free(n: &Node) -> Vec<(String, i64)> {
    let used = quantities(&n.requested, n.pod_count);
    quantities(&n.allocatable, n.max_pods)
        .into_iter()
        .map(|(k, v)| {
            let u = used.iter().find(|(uk, _)| *uk == k).map_or(0, |(_, u)| *u);
            (k, v - u)
        })
        .collect()
}

/// The same resources on both sides, each within `ratio`.
fn each_within(a: &[(String, i64)], b: &[(String, i64)], ratio: f64) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ka, va), (kb, vb))| ka == kb && within(*va, *vb, ratio))
}

/// Upstream's tolerance: the larger minus the smaller at most `ratio` of the larger.
fn within(a: i64, b: i64, ratio: f64) -> bool {
    let (small, large) = (a.min(b), a.max(b));
    (large - small) as f64 <= large as f64 * ratio
}

fn same_labels(a: &Node, b: &Node, more_ignored: &[String]) -> bool {
    let ignored = |k: &String| IGNORED_LABELS.contains(&k.as_str()) || more_ignored.contains(k);
    let kept = |n: &Node| -> Vec<(String, String)> {
        n.labels
            .iter()
            .filter(|(k, _)| !ignored(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    kept(a) == kept(b)
}

/// A node group's size in a split: current (target) size, maximum, and the size it is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupSize {
    /// Which group (the caller's index).
    pub group: usize,
    /// Its target size now.
    pub current: usize,
    /// Its maximum size.
    pub max: usize,
    /// Its size after the split.
    pub new: usize,
}

/// Splits `new_nodes` over `groups` as `BalanceScaleUpBetweenGroups` does: groups at their
/// maximum drop out, the request is cut to what the others can take, and nodes go one at a
/// time to the smallest group (groups of equal size in turn). Returns the groups that grew, in
/// order of their size before the split (ties in the order given).
pub fn balance(groups: &[(usize, usize, usize)], new_nodes: usize) -> Vec<GroupSize> {
    let mut infos: Vec<GroupSize> = groups
        .iter()
        .filter(|&&(_, current, max)| current < max)
        .map(|&(group, current, max)| GroupSize {
            group,
            current,
            max,
            new: current,
        })
        .collect();
    let capacity: usize = infos.iter().map(|g| g.max - g.current).sum();
    let mut left = new_nodes.min(capacity);
    infos.sort_by_key(|g| g.current);
    let (mut start, mut at) = (0, 0);
    while left > 0 && start < infos.len() {
        if infos[at].new < infos[at].max {
            infos[at].new += 1;
            left -= 1;
        } else {
            // Full: swap it out of the front of the groups still taking nodes (those between
            // `start` and `at` are all the same size, so the order holds).
            infos.swap(start, at);
            start += 1;
        }
        at = if at + 1 < infos.len() && infos[at].new > infos[at + 1].new {
            at + 1
        } else {
            start.min(infos.len().saturating_sub(1))
        };
    }
    infos.retain(|g| g.new != g.current);
    infos
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::resources::Resources;
    use std::sync::Arc;

    fn sizes(out: &[GroupSize]) -> Vec<(usize, usize)> {
        let mut v: Vec<(usize, usize)> = out.iter().map(|g| (g.group, g.new)).collect();
        v.sort();
        v
    }

    /// `balancing_processor_test.go` `TestBalanceUnderMaxSize`: ng1 at 1, ng2 at 3, ng3 and
    /// ng4 at 5, all with max 10. Nodes go to the smallest group first.
    #[test]
    fn balance_under_max_size() {
        let groups = [(1, 1, 10), (2, 3, 10), (3, 5, 10), (4, 5, 10)];
        // +1 → ng1 1 → 2; +2 → ng1 3.
        assert_eq!(sizes(&balance(&groups, 1)), [(1, 2)]);
        assert_eq!(sizes(&balance(&groups, 2)), [(1, 3)]);
        // +4: ng1 climbs to 3 (2 nodes), then ng1 and ng2 in turn to 4 and 4.
        assert_eq!(sizes(&balance(&groups, 4)), [(1, 4), (2, 4)]);
        // +5: 1 + 3 + 5 = 9 over ng1 and ng2 → 4 and 5 (one of each order).
        let five = sizes(&balance(&groups, 5));
        assert_eq!(five.len(), 2);
        assert_eq!(five[0].1 + five[1].1, 9);
        assert!(five.iter().all(|&(_, n)| n == 4 || n == 5));
        // +10: 1 + 3 + 5 + 5 + 10 = 24 → 6 each.
        assert_eq!(
            sizes(&balance(&groups, 10)),
            [(1, 6), (2, 6), (3, 6), (4, 6)]
        );
    }

    /// `TestBalanceHittingMaxSize`: groups at their maximum take nothing, the request is cut
    /// to Σ(max − size).
    #[test]
    fn balance_hitting_max_size() {
        let ng1 = (1, 1, 1); // at max
        let ng2 = (2, 1, 3);
        let ng3 = (3, 3, 10);
        let ng4 = (4, 5, 7);
        assert!(balance(&[ng1], 1).is_empty());
        // ng2 can take 2 of the 5.
        assert_eq!(sizes(&balance(&[ng1, ng2], 5)), [(2, 3)]);
        // ng2 1 → 3 (full), ng3 3 → 5.
        assert_eq!(sizes(&balance(&[ng2, ng3], 4)), [(2, 3), (3, 5)]);
        // 9 nodes: ng2 +2 = 3, then ng3 and ng4 level at 7, then ng3 takes the last → 8.
        assert_eq!(
            sizes(&balance(&[ng2, ng3, ng4], 9)),
            [(2, 3), (3, 8), (4, 7)]
        );
        // 900 nodes: capped at 2 + 7 + 2 = 11.
        assert_eq!(
            sizes(&balance(&[ng2, ng3, ng4], 900)),
            [(2, 3), (3, 10), (4, 7)]
        );
    }

    fn node(cpu: i64, memory: i64, labels: &[(&str, &str)]) -> Node {
        let mut n = Node::new(
            "n",
            Resources {
                cpu_millis: cpu,
                memory_bytes: memory,
                ..Resources::default()
            },
        );
        n.max_pods = 110;
        let mut l = (*n.labels).clone();
        for (k, v) in labels {
            l.insert(k.to_string(), v.to_string());
        }
        n.labels = Arc::new(l);
        n
    }

    /// `compare_nodegroups_test.go`, with capacity = allocatable (kubesim's pools have no
    /// separate capacity).
    #[test]
    fn similarity_as_upstream_compares() {
        let rules = Balancing::default();
        let base = node(1000, 1000, &[]);
        // TestNodesSimilarVariousRequirements: CPU 1000 vs 1001 m is not equal → not similar.
        assert!(!similar(&base, &node(1001, 1000, &[]), &rules));
        // Memory 1000 vs 986: 14 ≤ 1000 × 0.015 = 15 → similar; vs 984: 16 > 15 → not.
        assert!(similar(&base, &node(1000, 986, &[]), &rules));
        assert!(!similar(&base, &node(1000, 984, &[]), &rules));
        // An extra GPU → not similar.
        let mut gpu = node(1000, 1000, &[]);
        gpu.allocatable.gpus = 1;
        assert!(!similar(&base, &gpu, &rules));
        // TestNodesSimilarVariousLabels: hostname, zone and fluentd labels may differ...
        let a = node(
            1000,
            1000,
            &[("kubernetes.io/hostname", "a"), ("test-label", "x")],
        );
        let b = node(
            1000,
            1000,
            &[
                ("kubernetes.io/hostname", "b"),
                ("topology.kubernetes.io/zone", "z2"),
                ("beta.kubernetes.io/fluentd-ds-ready", "true"),
                ("test-label", "x"),
            ],
        );
        assert!(similar(&a, &b, &rules));
        // ...a custom label may not, unless it is ignored.
        let c = node(1000, 1000, &[("test-label", "y")]);
        assert!(!similar(&a, &c, &rules));
        let ignoring = Balancing {
            ignore_labels: vec!["test-label".into()],
            ..Balancing::default()
        };
        assert!(similar(&a, &c, &ignoring));
        // --balancing-label compares only those labels.
        let by_label = Balancing {
            labels: vec!["team".into()],
            ..Balancing::default()
        };
        let t1 = node(1000, 1000, &[("team", "red")]);
        let t2 = node(4000, 9000, &[("team", "red")]);
        assert!(similar(&t1, &t2, &by_label));
        assert!(!similar(
            &t1,
            &node(1000, 1000, &[("team", "blue")]),
            &by_label
        ));
    }

    /// TestNodesSimilarVariousLargeMemoryRequirements' rule for free resources: what the
    /// DaemonSet pods leave must be within 5 % too.
    #[test]
    fn free_resources_within_five_percent() {
        let rules = Balancing::default();
        let mut a = node(1000, 1000, &[]);
        let mut b = node(1000, 1000, &[]);
        a.requested.cpu_millis = 0;
        b.requested.cpu_millis = 40; // 960 free: 40 ≤ 1000 × 0.05
        assert!(similar(&a, &b, &rules));
        b.requested.cpu_millis = 60; // 940 free: 60 > 50
        assert!(!similar(&a, &b, &rules));
    }
}
