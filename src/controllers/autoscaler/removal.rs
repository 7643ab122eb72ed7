//! From unneeded to deleted (D.3): each loop's findings become node statuses, and when
//! scale-down may act, upstream's `RemovableAt` (`core/scaledown/unneeded/nodes.go`) decides
//! which unneeded nodes go — empty ones first, then those to drain — and the parallelism
//! budgets (`core/scaledown/budgets`) how many:
//!
//! 1. unneeded for less than `--scale-down-unneeded-time` (`--scale-down-unready-time` for an
//!    unready node): not yet;
//! 2. its node group's size less the deletions in progress and those accepted this loop at
//!    or below the minimum: `NodeGroupMinSizeReached`;
//! 3. the cluster's cores or memory would fall below `--cores-total` / `--memory-total`
//!    minimums: `MinimalResourceLimitExceeded`;
//! 4. budgets: at most `--max-scale-down-parallelism` deletions at once (those in progress
//!    count), of them at most `--max-drain-parallelism` drains;
//! 5. a node that must wait for an `on-completion` pod: `BlockedByOnCompletionPod`.

use super::scale_down::{Findings, Unneeded, goes_with_node, is_unready};
use super::unremovable::{NodeStatus, UnremovableReason};
use super::utilization::Utilization;
use super::{AutoscalerEvent, ClusterAutoscaler, Intent, cluster_totals};
use crate::cluster::{Cluster, NodeId};
use crate::sim::SimTime;

/// `CropNodes` for plain node groups: how many of `empty` and `drain` candidates may go now,
/// with `empty_in_progress` and `drain_in_progress` deletions already under way.
pub fn crop_to_budgets(
    empty: usize,
    drain: usize,
    (empty_in_progress, drain_in_progress): (usize, usize),
    max_parallelism: usize,
    max_drain_parallelism: usize,
) -> (usize, usize) {
    let parallelism = max_parallelism.saturating_sub(empty_in_progress + drain_in_progress);
    let empty_taken = empty.min(parallelism);
    let drain_budget =
        (parallelism - empty_taken).min(max_drain_parallelism.saturating_sub(drain_in_progress));
    (empty_taken, drain.min(drain_budget))
}

/// `verifyMinSize`: whether one more node of a group may go, with `size` nodes, `in_progress`
/// deletions under way and `removing` already taken this loop: the size left must stay above
/// the minimum.
pub fn above_min_size(size: usize, in_progress: usize, removing: usize, min: usize) -> bool {
    size.saturating_sub(in_progress + removing) > min
}

impl ClusterAutoscaler {
    /// Runs the planner and logs each node's status; returns the unneeded nodes.
    pub(super) fn update_unneeded(&mut self, cluster: &mut Cluster, now: SimTime) -> Vec<Unneeded> {
        let Findings {
            unneeded,
            unremovable,
        } = self.planner.unneeded_nodes(
            cluster,
            &self.settings,
            &self.profiles,
            &self.unneeded_since,
            now,
        );
        for (node, status, u) in unremovable {
            self.log_status(cluster, node, status, u, now);
        }
        self.unneeded_since
            .retain(|n, _| unneeded.iter().any(|u| u.node == *n));
        for u in &unneeded {
            self.unneeded_since.entry(u.node).or_insert(now);
        }
        unneeded
    }

    /// Logs `status` for `node` when it changed since the last loop.
    pub(super) fn log_status(
        &mut self,
        cluster: &Cluster,
        node: NodeId,
        status: NodeStatus,
        utilization: Option<Utilization>,
        now: SimTime,
    ) {
        if !self.statuses.record(node, status) {
            return;
        }
        let n = cluster.node(node);
        let pool = cluster.pools[n.pool.index()].spec.name.clone();
        let rounded = |u: Utilization| (u.value * 1e4).round() / 1e4;
        let event = match status {
            NodeStatus::Unneeded => AutoscalerEvent::NodeUnneeded {
                t_seconds: now.as_secs_f64(),
                pool,
                node: n.name.clone(),
                utilization: utilization.map(rounded),
                resource: utilization.map(|u| u.resource),
            },
            NodeStatus::Unremovable {
                reason,
                pod,
                pod_reason,
            } => AutoscalerEvent::NodeUnremovable {
                t_seconds: now.as_secs_f64(),
                pool,
                node: n.name.clone(),
                reason,
                pod: pod.map(|p| {
                    let p = cluster.pod(p);
                    format!("{}/{}", p.template.namespace, p.name)
                }),
                pod_reason,
                utilization: utilization.map(rounded),
            },
        };
        self.events.push(event);
    }

    /// Which unneeded nodes go now, and their deletion (or drain).
    pub(super) fn scale_down(
        &mut self,
        cluster: &Cluster,
        mut unneeded: Vec<Unneeded>,
        now: SimTime,
        intents: &mut Vec<Intent>,
    ) {
        let settings = &self.settings;
        let is_empty = |u: &Unneeded| {
            cluster
                .pods_on(u.node)
                .all(|p| p.deletion.is_some() || goes_with_node(cluster, p.id, settings))
        };
        // Empty nodes first, each kind in the order found.
        unneeded.sort_by_cached_key(|u| !is_empty(u));
        let empty_nodes = unneeded.iter().filter(|u| is_empty(u)).count();
        let accepted = self.removable_at(cluster, &unneeded, now);
        let in_progress = cluster
            .ready_nodes
            .iter()
            .filter(|&&n| cluster.node(n).is_to_be_deleted())
            .count();
        let empty = accepted.iter().filter(|&&i| i < empty_nodes).count();
        let (empty_taken, drain_taken) = crop_to_budgets(
            empty,
            accepted.len() - empty,
            (0, in_progress),
            self.settings.max_scale_down_parallelism,
            self.settings.max_drain_parallelism,
        );
        let taken = accepted[..empty_taken]
            .iter()
            .chain(&accepted[empty..empty + drain_taken]);
        let mut deleted = 0;
        for &i in taken {
            let u = &unneeded[i];
            if let Some(pod) = u.waits_for {
                let status = NodeStatus::Unremovable {
                    reason: UnremovableReason::BlockedByOnCompletionPod,
                    pod: Some(pod),
                    pod_reason: None,
                };
                self.log_status(cluster, u.node, status, Some(u.utilization), now);
                continue;
            }
            self.delete(cluster, u.node, i >= empty_nodes, now, intents);
            deleted += 1;
        }
        if deleted > 0 {
            self.last_scale_down = Some(now);
        }
    }

    /// `RemovableAt`: the indexes of the `unneeded` nodes that may go, in order; the others'
    /// statuses are logged (`unneeded` while they are timed).
    fn removable_at(
        &mut self,
        cluster: &Cluster,
        unneeded: &[Unneeded],
        now: SimTime,
    ) -> Vec<usize> {
        let mut removing = vec![0usize; cluster.pools.len()];
        let mut in_progress = vec![0usize; cluster.pools.len()];
        for &n in &cluster.ready_nodes {
            let node = cluster.node(n);
            if node.is_to_be_deleted() {
                in_progress[node.pool.index()] += 1;
            }
        }
        let (mut cores, mut memory) = cluster_totals(cluster);
        let mut accepted = Vec::new();
        for (i, u) in unneeded.iter().enumerate() {
            let node = cluster.node(u.node);
            let since = self.unneeded_since.get(&u.node).copied().unwrap_or(now);
            let wait = if is_unready(node) {
                self.settings.scale_down_unready_time
            } else {
                self.settings.scale_down_unneeded_time
            };
            let status = if now.saturating_since(since) < wait {
                Some(NodeStatus::Unneeded)
            } else {
                let p = node.pool.index();
                let pool = &cluster.pools[p];
                let alloc = &pool.spec.allocatable;
                if !above_min_size(
                    pool.size,
                    in_progress[p],
                    removing[p],
                    pool.spec.min_count as usize,
                ) {
                    Some(NodeStatus::because(
                        UnremovableReason::NodeGroupMinSizeReached,
                    ))
                } else if cores - alloc.cpu_millis < self.settings.cores_total.0 * 1000
                    || memory - alloc.memory_bytes < self.settings.memory_total_gib.0 << 30
                {
                    Some(NodeStatus::because(
                        UnremovableReason::MinimalResourceLimitExceeded,
                    ))
                } else {
                    removing[p] += 1;
                    cores -= alloc.cpu_millis;
                    memory -= alloc.memory_bytes;
                    accepted.push(i);
                    None
                }
            };
            // Accepted nodes cut by the budgets stay unneeded.
            let status = status.unwrap_or(NodeStatus::Unneeded);
            self.log_status(cluster, u.node, status, Some(u.utilization), now);
        }
        accepted
    }

    /// Deletes an empty node at once, or starts draining one.
    fn delete(
        &mut self,
        cluster: &Cluster,
        id: NodeId,
        drained: bool,
        now: SimTime,
        intents: &mut Vec<Intent>,
    ) {
        let node = cluster.node(id);
        intents.push(if node.pod_count == 0 {
            Intent::RemoveNode { node: id }
        } else {
            self.drains.insert(id, now);
            Intent::DrainNode {
                node: id,
                max_grace: self.settings.max_graceful_termination,
            }
        });
        let since = self.unneeded_since.remove(&id).unwrap_or(now);
        self.statuses.forget(id);
        self.events.push(AutoscalerEvent::ScaleDown {
            t_seconds: now.as_secs_f64(),
            pool: cluster.pools[node.pool.index()].spec.name.clone(),
            node: node.name.clone(),
            drained,
            unneeded_seconds: now.saturating_since(since).as_secs_f64(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::{above_min_size, crop_to_budgets};

    /// `core/scaledown/unneeded/nodes_test.go` (`TestRemovableAt`): a group of min 1, its
    /// candidates taken in order (empty ones first) while one more may go.
    #[test]
    fn removable_at_keeps_the_group_above_its_minimum() {
        let take = |size: usize, in_progress: usize, empty: usize, drain: usize| {
            let mut removing = 0;
            let mut taken = (0, 0);
            for k in 0..empty + drain {
                if above_min_size(size, in_progress, removing, 1) {
                    removing += 1;
                    if k < empty {
                        taken.0 += 1
                    } else {
                        taken.1 += 1
                    }
                }
            }
            taken
        };
        // 3 empty + 2 drain, target 10, 2 in progress: 10 − 2 − r > 1 for r < 7 → all 5.
        assert_eq!(take(10, 2, 3, 2), (3, 2));
        // 3 + 5: sizes left 8, 7, 6 (empty), 5, 4, 3, 2 (drain); at 1 it stops → 3 + 4.
        assert_eq!(take(10, 2, 3, 5), (3, 4));
        // Target 5: 5 − 2 = 3, then 2, then 1 ≤ 1 → 2 empty, no drain.
        assert_eq!(take(5, 2, 3, 5), (2, 0));
        // min = target = 1: nothing.
        assert_eq!(take(1, 0, 1, 0), (0, 0));
    }

    /// `core/scaledown/budgets/budgets_test.go` (`TestCropNodesToBudgets`), plain groups:
    /// max-scale-down-parallelism 10, max-drain-parallelism 5.
    #[test]
    fn crop_nodes_to_budgets() {
        // (empty, drain, in progress (empty, drain), taken (empty, drain)).
        let cases = [
            // 11 empty → 10.
            (11, 0, (0, 0), (10, 0)),
            // 10 empty with 1 + 1 in progress → 10 − 2 = 8.
            (10, 0, (1, 1), (8, 0)),
            // 5 + 5 in progress: nothing.
            (10, 0, (5, 5), (0, 0)),
            // 6 drain → 5.
            (0, 6, (0, 0), (0, 5)),
            // 5 drain, 1 + 2 in progress → min(10 − 3 = 7, 5 − 2 = 3) = 3.
            (0, 5, (1, 2), (0, 3)),
            // 4 drain, 7 + 1 in progress → min(10 − 8 = 2, 5 − 1 = 4) = 2.
            (0, 4, (7, 1), (0, 2)),
            // 8 empty + 8 drain → 8 empty, then min(10 − 8, 5) = 2 drains.
            (8, 8, (0, 0), (8, 2)),
            // Drain 5 + 5 in two groups: only the first group's 5.
            (0, 10, (0, 0), (0, 5)),
        ];
        for (empty, drain, in_progress, taken) in cases {
            assert_eq!(
                crop_to_budgets(empty, drain, in_progress, 10, 5),
                taken,
                "{empty} {drain} {in_progress:?}"
            );
        }
    }
}
