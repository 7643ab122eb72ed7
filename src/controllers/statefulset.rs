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
//! current template is the update revision; the current revision (`status.currentRevision`)
//! is the first one, and becomes the update revision once a rolling update has every pod at
//! it and Ready (upstream's `completeRollingUpdate`).
//!
//! [`sync`] returns the intents with the [`Step`]s that led to them, and what held the
//! controller back (a pod not yet available, a terminating pod): what `kubesim explain
//! --statefulset` tells ([`record`]).

pub mod record;

use std::collections::BTreeMap;

use crate::cluster::{Cluster, Deployment, DeploymentId, Pod, PodId, ReplicaSetId};
use crate::sim::SimTime;

use super::Intent;
use super::deployment::is_available;
use super::rollout::Strategy;

/// What one reconcile did, or what held it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// The template changed: a revision is made from it (its pods come at later reconciles).
    NewRevision,
    /// Pods created at these ordinals: `update` from the update revision, `current` (below the
    /// partition, during a rolling update) from the current one.
    Create { update: Vec<u32>, current: Vec<u32> },
    /// Pods at or above `replicas` deleted, highest ordinal first.
    Delete { ordinals: Vec<u32> },
    /// The rolling update deletes the pod at `ordinal`, which is not at the update revision,
    /// to recreate it from that revision.
    Update { ordinal: u32 },
    /// Every pod is at the update revision and Ready: it becomes the current revision.
    UpdateComplete,
    /// Pod `pod` at `ordinal` is not available, and `next` waits for it.
    WaitAvailable {
        ordinal: u32,
        pod: PodId,
        next: Next,
    },
    /// Pod `pod` at `ordinal` is terminating, not gone yet, and `next` waits for it.
    WaitTerminating {
        ordinal: u32,
        pod: PodId,
        next: Next,
    },
}

/// What a wait holds back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Creating the pod at this ordinal.
    Create(u32),
    /// Deleting the pod at this ordinal (scale-down).
    Delete(u32),
    /// Replacing the pod at this ordinal with one at the update revision.
    Update(u32),
}

/// One reconcile: what it asked for, and the steps that explain it (none: nothing to do).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sync {
    pub steps: Vec<Step>,
    pub intents: Vec<Intent>,
}

/// Whether to go on to the next phase of the reconcile.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// One reconcile of a StatefulSet.
pub fn sync(cluster: &Cluster, deployment: DeploymentId, now: SimTime) -> Sync {
    let d = cluster.deployment(deployment);
    let mut sync = Sync::default();
    if !d.is_stateful_set() {
        return sync;
    }
    let Some(update) = d
        .replica_sets
        .iter()
        .copied()
        .find(|rs| cluster.replica_sets[rs.index()].has_template_of(d))
    else {
        sync.steps.push(Step::NewRevision);
        sync.intents.push(Intent::CreateReplicaSet { deployment });
        return sync;
    };
    let set = Set {
        d,
        pods: Ordinals::of(cluster, d),
        update,
        current: current_revision(d, update),
        now,
        replicas: d.replicas.max(0) as u32,
        parallel: d.spec.stateful.parallel,
        partition: d.spec.stateful.partition.max(0) as u32,
    };
    if set.create_missing(&mut sync) == Flow::Continue
        && set.delete_condemned(&mut sync) == Flow::Continue
        && sync.intents.is_empty()
    {
        set.roll(&mut sync);
    }
    if sync.intents.is_empty() && set.current != update && set.rolled_out() {
        sync.steps.push(Step::UpdateComplete);
        (sync.intents).push(Intent::SetCurrentRevision {
            deployment,
            replica_set: update,
        });
    }
    sync
}

/// A StatefulSet as one reconcile sees it.
struct Set<'c> {
    d: &'c Deployment,
    pods: Ordinals<'c>,
    update: ReplicaSetId,
    current: ReplicaSetId,
    now: SimTime,
    replicas: u32,
    parallel: bool,
    partition: u32,
}

impl Set<'_> {
    fn healthy(&self, p: &Pod) -> bool {
        is_available(p, self.d.spec.rollout.min_ready, self.now)
    }

    /// Creates the missing pods below `replicas`: OrderedReady the first one, once every pod
    /// before it is available; Parallel all of them.
    fn create_missing(&self, sync: &mut Sync) -> Flow {
        let (mut update, mut current) = (Vec::new(), Vec::new());
        for ordinal in 0..self.replicas {
            match self.pods.active.get(&ordinal) {
                Some(p) if !self.parallel && !self.healthy(p) => {
                    let wait = |next| Step::WaitAvailable {
                        ordinal,
                        pod: p.id,
                        next,
                    };
                    sync.steps.extend(self.after(ordinal).map(wait));
                    return Flow::Stop;
                }
                Some(_) => {}
                None if self.pods.terminating.contains_key(&ordinal) => {
                    if !self.parallel {
                        let next = Next::Create(ordinal);
                        sync.steps.push(self.wait_terminating(ordinal, next));
                        return Flow::Stop;
                    }
                }
                None => {
                    let at_current = ordinal < self.partition;
                    let revision = if at_current {
                        self.current
                    } else {
                        self.update
                    };
                    (sync.intents).push(Intent::CreateStatefulPod {
                        replica_set: revision,
                        ordinal,
                    });
                    match at_current {
                        true => current.push(ordinal),
                        false => update.push(ordinal),
                    }
                    if !self.parallel {
                        break;
                    }
                }
            }
        }
        if update.is_empty() && current.is_empty() {
            return Flow::Continue;
        }
        sync.steps.push(Step::Create { update, current });
        match self.parallel {
            true => Flow::Continue,
            false => Flow::Stop,
        }
    }

    /// What waits behind the pod at `ordinal` (OrderedReady): the next missing pod, else the
    /// highest pod above `replicas`, else the rolling update's next pod.
    fn after(&self, ordinal: u32) -> Option<Next> {
        let missing = (ordinal + 1..self.replicas).find(|k| !self.pods.active.contains_key(k));
        if let Some(k) = missing {
            return Some(Next::Create(k));
        }
        if let Some((&k, _)) = self.pods.active.range(self.replicas..).next_back() {
            return Some(Next::Delete(k));
        }
        self.outdated().map(|(k, _)| Next::Update(k))
    }

    /// Removes the pods at or above `replicas`, highest ordinal first: OrderedReady one at a
    /// time, once no pod is terminating; Parallel all at once.
    fn delete_condemned(&self, sync: &mut Sync) -> Flow {
        let condemned: Vec<(u32, PodId)> = (self.pods.active.range(self.replicas..))
            .rev()
            .map(|(&k, p)| (k, p.id))
            .collect();
        let Some(&(highest, _)) = condemned.first() else {
            return Flow::Continue;
        };
        let deleted: &[(u32, PodId)] = match self.pods.terminating.keys().next() {
            _ if self.parallel => &condemned,
            None => &condemned[..1],
            Some(&ordinal) => {
                sync.steps
                    .push(self.wait_terminating(ordinal, Next::Delete(highest)));
                return Flow::Stop;
            }
        };
        (sync.intents).extend(deleted.iter().map(|&(_, pod)| Intent::DeletePod { pod }));
        let ordinals = deleted.iter().map(|&(k, _)| k).collect();
        sync.steps.push(Step::Delete { ordinals });
        Flow::Stop
    }

    /// The pod a rolling update replaces next: the highest ordinal from the partition up to
    /// `replicas` not at the update revision.
    fn outdated(&self) -> Option<(u32, &Pod)> {
        if !matches!(self.d.spec.strategy, Strategy::RollingUpdate { .. }) {
            return None;
        }
        (self.pods.active.range(self.partition..self.replicas))
            .rev()
            .find(|(_, p)| p.replica_set != self.update)
            .map(|(&k, p)| (k, *p))
    }

    /// A rolling update is complete: `replicas` pods, none terminating, each at the update
    /// revision and Ready.
    fn rolled_out(&self) -> bool {
        matches!(self.d.spec.strategy, Strategy::RollingUpdate { .. })
            && self.pods.terminating.is_empty()
            && self.pods.active.len() == self.replicas as usize
            && (self.pods.active.values()).all(|p| p.ready && p.replica_set == self.update)
    }

    /// `next` waits for the terminating pod at `ordinal` to be gone.
    fn wait_terminating(&self, ordinal: u32, next: Next) -> Step {
        let pod = self.pods.terminating[&ordinal];
        Step::WaitTerminating { ordinal, pod, next }
    }

    /// Rolling update: one pod at a time, while every pod is healthy and none terminating.
    fn roll(&self, sync: &mut Sync) {
        let Some((ordinal, outdated)) = self.outdated() else {
            return;
        };
        let next = Next::Update(ordinal);
        if let Some(&terminating) = self.pods.terminating.keys().next() {
            sync.steps.push(self.wait_terminating(terminating, next));
            return;
        }
        if let Some((&k, p)) = self.pods.active.iter().find(|(_, p)| !self.healthy(p)) {
            (sync.steps).push(Step::WaitAvailable {
                ordinal: k,
                pod: p.id,
                next,
            });
            return;
        }
        sync.intents.push(Intent::DeletePod { pod: outdated.id });
        sync.steps.push(Step::Update { ordinal });
    }
}

/// The StatefulSet's pods by ordinal: active ones, and ordinals still held by a terminating pod.
struct Ordinals<'c> {
    active: BTreeMap<u32, &'c Pod>,
    terminating: BTreeMap<u32, PodId>,
}

impl<'c> Ordinals<'c> {
    fn of(cluster: &'c Cluster, d: &Deployment) -> Ordinals<'c> {
        let mut out = Ordinals {
            active: BTreeMap::new(),
            terminating: BTreeMap::new(),
        };
        for &rs in &d.replica_sets {
            for pod in cluster.pods_of(rs) {
                let Some(ordinal) = pod.ordinal else {
                    continue;
                };
                if pod.deletion.is_some() {
                    out.terminating.insert(ordinal, pod.id);
                } else {
                    out.active.insert(ordinal, pod);
                }
            }
        }
        out
    }
}

/// The current revision (`status.currentRevision`), else (deleted) the update one.
fn current_revision(d: &Deployment, update: ReplicaSetId) -> ReplicaSetId {
    (d.current_revision)
        .filter(|rs| d.replica_sets.contains(rs))
        .unwrap_or(update)
}
