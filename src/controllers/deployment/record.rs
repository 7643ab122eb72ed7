//! What one Deployment reconcile saw and did, kept for `kubesim explain --deployment`: the
//! step it took ([`Step`]), the numbers the rollout arithmetic read (replicas, strategy, each
//! ReplicaSet's spec, pods and available pods) and the ReplicaSet changes it asked for. The
//! explanation recomputes its arithmetic from these with the same functions
//! ([`crate::controllers::rollout`]), so it cannot drift from what the controller did.

use super::{Sets, Step, available};
use crate::cluster::{Cluster, DeploymentId};
use crate::controllers::Intent;
use crate::controllers::rollout::Strategy;
use crate::sim::{SimDuration, SimTime};

/// One ReplicaSet as the reconcile saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetSnapshot {
    /// `metadata.name`.
    pub name: String,
    /// `deployment.kubernetes.io/revision`.
    pub revision: u64,
    /// Made from the Deployment's current template.
    pub is_new: bool,
    /// `spec.replicas`.
    pub spec: i32,
    /// Active pods (not deleting).
    pub pods: i32,
    /// `status.availableReplicas`.
    pub available: i32,
    /// The `desired-replicas` annotation: the Deployment's replicas when last scaled.
    pub desired_annotation: i32,
    /// The `max-replicas` annotation (0: absent).
    pub max_annotation: i32,
}

/// A change one reconcile asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// `sets[set]` scaled to `to` replicas.
    Scale {
        /// Index into [`RolloutRecord::sets`].
        set: usize,
        /// The new `spec.replicas`.
        to: i32,
    },
    /// A ReplicaSet made from the Deployment's template.
    Create,
    /// `sets[set]` takes revision `to` (a rollback).
    Revision {
        /// Index into [`RolloutRecord::sets`].
        set: usize,
        /// The new revision.
        to: u64,
    },
    /// `sets[set]` deleted (beyond `revisionHistoryLimit`).
    Delete {
        /// Index into [`RolloutRecord::sets`].
        set: usize,
    },
}

/// One Deployment reconcile that changed something.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolloutRecord {
    /// When.
    pub at: SimTime,
    /// The Deployment's name.
    pub deployment: String,
    /// The step of `syncDeployment` it took.
    pub step: Step,
    /// `spec.replicas` then.
    pub replicas: i32,
    /// `spec.strategy`.
    pub strategy: Strategy,
    /// `spec.paused`.
    pub paused: bool,
    /// `spec.minReadySeconds`.
    pub min_ready: SimDuration,
    /// `spec.revisionHistoryLimit`.
    pub history_limit: i32,
    /// Its ReplicaSets: the old ones oldest first, then the new one (if any).
    pub sets: Vec<SetSnapshot>,
    /// What it asked for, in order.
    pub changes: Vec<Change>,
    /// How many cluster events had been logged before it: where it falls among them.
    pub events_before: usize,
}

impl RolloutRecord {
    /// The ReplicaSet made from the current template, if there is one.
    pub fn new_set(&self) -> Option<&SetSnapshot> {
        self.sets.last().filter(|s| s.is_new)
    }

    /// The old ReplicaSets, oldest first.
    pub fn old_sets(&self) -> &[SetSnapshot] {
        match self.new_set() {
            Some(_) => &self.sets[..self.sets.len() - 1],
            None => &self.sets,
        }
    }
}

/// The record of a reconcile of `deployment` that asked for `intents` (none when it asked for
/// nothing: a reconcile that changes nothing is not worth telling); the caller sets
/// [`RolloutRecord::events_before`].
pub fn record(
    cluster: &Cluster,
    deployment: DeploymentId,
    now: SimTime,
    step: Step,
    intents: &[Intent],
) -> Option<RolloutRecord> {
    if intents.is_empty() {
        return None;
    }
    let d = cluster.deployment(deployment);
    let sets = Sets::of(cluster, d);
    let snapshot = |rs: &crate::cluster::ReplicaSet, is_new: bool| SetSnapshot {
        name: rs.name.clone(),
        revision: rs.revision,
        is_new,
        spec: rs.replicas,
        pods: rs.pods.len() as i32,
        available: available(cluster, rs, d, now),
        desired_annotation: rs.desired_annotation,
        max_annotation: rs.max_annotation,
    };
    let mut ids: Vec<_> = sets.old.iter().map(|rs| rs.id).collect();
    let mut snapshots: Vec<SetSnapshot> = sets.old.iter().map(|rs| snapshot(rs, false)).collect();
    if let Some(new) = sets.new {
        ids.push(new.id);
        snapshots.push(snapshot(new, true));
    }
    let index = |id| {
        ids.iter()
            .position(|&i| i == id)
            .expect("its own ReplicaSet")
    };
    let changes = (intents.iter())
        .filter_map(|intent| match *intent {
            Intent::SetReplicaSetReplicas {
                replica_set,
                replicas,
            } => Some(Change::Scale {
                set: index(replica_set),
                to: replicas,
            }),
            Intent::CreateReplicaSet { .. } => Some(Change::Create),
            Intent::SetRevision {
                replica_set,
                revision,
            } => Some(Change::Revision {
                set: index(replica_set),
                to: revision,
            }),
            Intent::DeleteReplicaSet { replica_set } => Some(Change::Delete {
                set: index(replica_set),
            }),
            _ => None,
        })
        .collect();
    Some(RolloutRecord {
        at: now,
        deployment: d.spec.name.clone(),
        step,
        replicas: d.replicas,
        strategy: d.spec.strategy,
        paused: d.paused,
        min_ready: d.spec.rollout.min_ready,
        history_limit: d.spec.rollout.revision_history_limit,
        sets: snapshots,
        changes,
        events_before: 0,
    })
}
