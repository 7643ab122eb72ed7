//! Why a node stays: the Cluster Autoscaler's unremovable reasons (`simulator.UnremovableReason`,
//! cluster-autoscaler 1.36) and each node's status from loop to loop.
//!
//! Every loop upstream records, per node, the reason it is not removed; kubesim keeps each
//! node's status and logs it (`autoscaler.jsonl`) when it changes — so the log holds every
//! loop's reason without a line per node and loop. Two departures, both to keep the log
//! readable: a node whose removal simulation failed keeps that reason (with its blocking pod)
//! while it waits out `--unremovable-node-recheck-timeout`, where upstream reports
//! `RecentlyUnremovable`; and a node unneeded but not yet for `--scale-down-unneeded-time` is
//! `unneeded` (upstream: `NotUnneededLongEnough`), its time counted from the first loop that
//! found it so.

use serde::Serialize;

use super::drainability::BlockingPodReason;
use crate::cluster::{NodeId, PodId};

/// Why a node is not removed (upstream's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum UnremovableReason {
    /// The node belongs to no node group (Karpenter launched it).
    NotAutoscaled,
    /// `cluster-autoscaler.kubernetes.io/scale-down-disabled: "true"` on the node.
    ScaleDownDisabledAnnotation,
    /// The node is not Ready and `--scale-down-unready-enabled=false`.
    ScaleDownUnreadyDisabled,
    /// Unneeded, but not yet for `--scale-down-unneeded-time`.
    NotUnneededLongEnough,
    /// Unready and unneeded, but not yet for `--scale-down-unready-time`.
    NotUnreadyLongEnough,
    /// Its node group is at its minimum size.
    NodeGroupMinSizeReached,
    /// Removing it would take the cluster below `--cores-total` / `--memory-total` minimums.
    MinimalResourceLimitExceeded,
    /// It is being deleted (the `ToBeDeletedByClusterAutoscaler` taint).
    CurrentlyBeingDeleted,
    /// Its utilization is above the threshold.
    NotUnderutilized,
    /// Its removal simulation failed recently; it is not simulated again until the recheck.
    RecentlyUnremovable,
    /// Some pod fits on no other node.
    NoPlaceToMovePods,
    /// A pod blocks it (see the pod's reason).
    BlockedByPod,
    /// Its utilization cannot be computed (no CPU or memory allocatable).
    UnexpectedError,
    /// A `safe-to-evict: "on-completion"` pod has not completed.
    BlockedByOnCompletionPod,
}

/// A node's status in one loop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NodeStatus {
    /// A scale-down candidate (upstream: unneeded; `NotUnneededLongEnough` while timing).
    Unneeded,
    /// Not removable, and why; for `BlockedByPod`, `NoPlaceToMovePods` and
    /// `BlockedByOnCompletionPod`, the pod.
    Unremovable {
        /// Why.
        reason: UnremovableReason,
        /// The pod that blocks it or found no place.
        pod: Option<PodId>,
        /// Why that pod blocks (`BlockedByPod` only).
        pod_reason: Option<BlockingPodReason>,
    },
}

impl NodeStatus {
    /// Unremovable for `reason`, no pod involved.
    pub fn because(reason: UnremovableReason) -> Self {
        NodeStatus::Unremovable {
            reason,
            pod: None,
            pod_reason: None,
        }
    }
}

/// Each node's last status (by node index), to log only changes.
#[derive(Debug, Default)]
pub struct NodeStatuses {
    last: Vec<Option<NodeStatus>>,
}

impl NodeStatuses {
    /// Records `status` for `node`; true when it differs from the node's last.
    pub fn record(&mut self, node: NodeId, status: NodeStatus) -> bool {
        if self.last.len() <= node.index() {
            self.last.resize(node.index() + 1, None);
        }
        self.last[node.index()].replace(status) != Some(status)
    }

    /// The last status recorded for `node`.
    pub fn get(&self, node: NodeId) -> Option<NodeStatus> {
        self.last.get(node.index()).copied().flatten()
    }

    /// Forgets `node` (removed).
    pub fn forget(&mut self, node: NodeId) {
        if let Some(s) = self.last.get_mut(node.index()) {
            *s = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changes_are_new() {
        let mut s = NodeStatuses::default();
        let hot = NodeStatus::because(UnremovableReason::NotUnderutilized);
        assert!(s.record(NodeId(0), hot));
        assert!(!s.record(NodeId(0), hot));
        assert!(s.record(NodeId(0), NodeStatus::Unneeded));
        let blocked = |pod| NodeStatus::Unremovable {
            reason: UnremovableReason::BlockedByPod,
            pod: Some(PodId(pod)),
            pod_reason: Some(BlockingPodReason::NotReplicated),
        };
        assert!(s.record(NodeId(0), blocked(1)));
        // Another pod blocking is a change.
        assert!(s.record(NodeId(0), blocked(2)));
        s.forget(NodeId(0));
        assert_eq!(s.get(NodeId(0)), None);
    }
}
