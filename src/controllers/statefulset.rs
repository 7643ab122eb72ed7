//! StatefulSet controller: pods `<name>-0 … <name>-(replicas−1)` with stable ordinals.
//!
//! - `OrderedReady` (the default): pods are created one at a time in ordinal order, each only
//!   once the ones before it are Running and Ready (available, with `minReadySeconds`), and
//!   removed one at a time from the highest ordinal down. `Parallel`: all at once.
//! - A pod being deleted holds its ordinal: the replacement comes once it is gone.
//! - RollingUpdate: once every pod is healthy, the pod with the highest ordinal at or above
//!   `partition` that is not at the update revision is deleted, and recreated from it; below
//!   the partition pods keep (and are recreated at) the current revision. OnDelete: pods change
//!   revision only when something else deletes them.
//!
//! Revisions are ReplicaSets here (upstream's ControllerRevisions): the one made from the
//! current template is the update revision.

use std::collections::{BTreeMap, BTreeSet};

use crate::cluster::{Cluster, Deployment, DeploymentId, Pod, ReplicaSetId};
use crate::sim::SimTime;

use super::Intent;
use super::deployment::is_available;
use super::rollout::Strategy;

/// One reconcile of a StatefulSet.
pub fn reconcile(cluster: &Cluster, deployment: DeploymentId, now: SimTime) -> Vec<Intent> {
    let d = cluster.deployment(deployment);
    if !d.is_stateful_set() {
        return Vec::new();
    }
    let Some(update) = d
        .replica_sets
        .iter()
        .copied()
        .find(|rs| cluster.replica_sets[rs.index()].has_template_of(d))
    else {
        return vec![Intent::CreateReplicaSet { deployment }];
    };
    let current = current_revision(cluster, d, update);
    let pods = Ordinals::of(cluster, d);
    let healthy = |p: &Pod| is_available(p, d.spec.rollout.min_ready, now);
    let replicas = d.replicas.max(0) as u32;
    let parallel = d.spec.stateful.parallel;
    let partition = d.spec.stateful.partition.max(0) as u32;
    // Create the missing pods below `replicas`.
    let mut intents = Vec::new();
    for ordinal in 0..replicas {
        match pods.active.get(&ordinal) {
            Some(p) if !parallel && !healthy(p) => return intents, // wait for it
            Some(_) => {}
            None if pods.terminating.contains(&ordinal) => {
                if !parallel {
                    return intents; // the old pod still holds the name
                }
            }
            None => {
                let revision = if ordinal < partition { current } else { update };
                intents.push(Intent::CreateStatefulPod {
                    replica_set: revision,
                    ordinal,
                });
                if !parallel {
                    return intents;
                }
            }
        }
    }
    // Remove the pods at or above `replicas`, highest ordinal first.
    let condemned: Vec<&Pod> = pods
        .active
        .range(replicas..)
        .rev()
        .map(|(_, p)| *p)
        .collect();
    if !condemned.is_empty() {
        let delete = |p: &&Pod| Intent::DeletePod { pod: p.id };
        if parallel {
            intents.extend(condemned.iter().map(delete));
        } else if pods.terminating.is_empty() {
            intents.push(delete(&condemned[0]));
        }
        return intents;
    }
    if !intents.is_empty() || !matches!(d.spec.strategy, Strategy::RollingUpdate { .. }) {
        return intents;
    }
    // Rolling update: one pod at a time, while every pod is healthy.
    if !pods.terminating.is_empty() || pods.active.values().any(|p| !healthy(p)) {
        return intents;
    }
    let outdated = pods
        .active
        .range(partition..replicas)
        .rev()
        .find(|(_, p)| p.replica_set != update);
    if let Some((_, p)) = outdated {
        intents.push(Intent::DeletePod { pod: p.id });
    }
    intents
}

/// The StatefulSet's pods by ordinal: active ones, and ordinals still held by a terminating pod.
struct Ordinals<'c> {
    active: BTreeMap<u32, &'c Pod>,
    terminating: BTreeSet<u32>,
}

impl<'c> Ordinals<'c> {
    fn of(cluster: &'c Cluster, d: &Deployment) -> Ordinals<'c> {
        let mut out = Ordinals {
            active: BTreeMap::new(),
            terminating: BTreeSet::new(),
        };
        for &rs in &d.replica_sets {
            for pod in cluster.pods_of(rs) {
                let Some(ordinal) = pod.ordinal else {
                    continue;
                };
                if pod.deletion.is_some() {
                    out.terminating.insert(ordinal);
                } else {
                    out.active.insert(ordinal, pod);
                }
            }
        }
        out
    }
}

/// The current revision: the newest other revision that still has pods (else the update one).
fn current_revision(cluster: &Cluster, d: &Deployment, update: ReplicaSetId) -> ReplicaSetId {
    d.replica_sets
        .iter()
        .copied()
        .filter(|&rs| rs != update && !cluster.replica_sets[rs.index()].pods.is_empty())
        .max_by_key(|rs| cluster.replica_sets[rs.index()].revision)
        .unwrap_or(update)
}
