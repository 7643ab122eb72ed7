//! Self-healing, told: when a ReplicaSet loses a pod it did not choose to remove (its node
//! failed, the scheduler preempted it, a drain or a node's removal evicted it, the VPA evicted
//! it, someone deleted it), the loss is queued for that ReplicaSet with its cause, and the pod
//! the ReplicaSet creates next says whom it replaces (`Created by ReplicaSet web-5d8 to replace
//! web-5d8-x2k, lost at 00:45:00: evicted from node n3, which had failed`). A pod created with
//! no loss queued says why the ReplicaSet wanted it (its count above its pods).
//!
//! A pod is lost to its ReplicaSet when it is deleted while the ReplicaSet has no more active
//! pods than its count: the ReplicaSet controller deletes only pods above its count, so those
//! deletions came from elsewhere.

use std::collections::{BTreeMap, VecDeque};

use super::Engine;
use crate::cluster::{PodId, ReplicaSetId};
use crate::metrics::pod_events::PodEventReason;
use crate::sim::SimTime;

/// A pod a ReplicaSet lost, not yet replaced.
#[derive(Debug)]
pub(super) struct Loss {
    pod: String,
    cause: String,
    at: SimTime,
}

/// Each ReplicaSet's losses not yet replaced, oldest first.
#[derive(Debug, Default)]
pub(super) struct Losses(BTreeMap<ReplicaSetId, VecDeque<Loss>>);

impl Engine<'_, '_> {
    /// Before `pod` is marked deleted: queues it as its ReplicaSet's loss if the ReplicaSet
    /// did not ask for the deletion.
    pub(super) fn note_loss(&mut self, pod: PodId) {
        let p = self.cluster.pod(pod);
        let rs = &self.cluster.replica_sets[p.replica_set.index()];
        let owner = self.cluster.deployment(p.deployment);
        let active = rs.pods.contains(&pod);
        if !owner.is_replicated() || !active || rs.pods.len() as i32 > rs.replicas {
            return;
        }
        let loss = Loss {
            pod: p.name.clone(),
            cause: self.loss_cause(pod),
            at: self.now,
        };
        self.losses
            .0
            .entry(p.replica_set)
            .or_default()
            .push_back(loss);
    }

    /// Why `pod` is being deleted, in a few words.
    fn loss_cause(&self, pod: PodId) -> String {
        let p = self.cluster.pod(pod);
        let Some(node) = p.node.map(|n| self.cluster.node(n)) else {
            return "deleted while Pending".into();
        };
        if self.on_failed_node(pod) {
            return format!("evicted from node {}, which had failed", node.name);
        }
        let told = self.pod_events.events_of(pod).rev().find(|e| {
            matches!(
                e.reason,
                PodEventReason::Preempted | PodEventReason::EvictedByVPA
            ) && e.last_seconds >= self.now.as_secs_f64()
        });
        if let Some(e) = told {
            return format!("{:?}: {}", e.reason, e.message);
        }
        if node.is_to_be_deleted() {
            return format!("evicted from node {}, which was being removed", node.name);
        }
        if node.unschedulable {
            return format!(
                "evicted from node {}, which was cordoned and drained",
                node.name
            );
        }
        "deleted".into()
    }

    /// The words of a ReplicaSet's Created event for the pod it has just made: whom it
    /// replaces, or why the ReplicaSet wanted one more.
    pub(super) fn creation_message(&mut self, replica_set: ReplicaSetId) -> String {
        let rs = &self.cluster.replica_sets[replica_set.index()];
        let mut message = format!("Created by ReplicaSet {}", rs.name);
        let loss = (self.losses.0.get_mut(&replica_set)).and_then(VecDeque::pop_front);
        match loss {
            Some(Loss { pod, cause, at }) => {
                message += &crate::metrics::pod_events::replacing(&pod, at, &cause);
            }
            None => {
                // The new pod is already among them.
                let had = rs.pods.len().saturating_sub(1);
                let pods = if rs.replicas == 1 { "pod" } else { "pods" };
                message += &format!(": it wants {} {pods} and had {had}", rs.replicas);
            }
        }
        message
    }

    /// Forgets a deleted ReplicaSet's losses.
    pub(super) fn forget_losses(&mut self, replica_set: ReplicaSetId) {
        self.losses.0.remove(&replica_set);
    }
}
