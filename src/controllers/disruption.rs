//! The disruption controller's arithmetic (E.6): how many of a PodDisruptionBudget's pods may
//! be evicted now. The Eviction API (the autoscaler's drains) evicts a pod only while every
//! budget covering it allows a disruption; preemption prefers victims whose eviction violates
//! no budget.

use crate::cluster::{Cluster, DeploymentId, Pod, PodPhase};
use crate::scenario::{PdbBudget, PdbSpec};

/// Whether `pdb` covers `pod` (same namespace, selector matches; an absent selector covers
/// nothing).
pub fn covers(pdb: &PdbSpec, pod: &Pod) -> bool {
    pod.template.namespace == pdb.namespace
        && pdb
            .selector
            .as_ref()
            .is_some_and(|s| s.matches(&pod.template.labels))
}

/// `disruptionsAllowed` of every budget, in order: `max(0, currentHealthy − desiredHealthy)`.
/// Healthy pods are Ready and not terminating. With `maxUnavailable` or a `minAvailable`
/// percentage the expected count is the scale of the pods' controllers (Deployments' replicas);
/// a budget over pods without such a controller allows nothing, as upstream.
///
/// Only the pods that are not gone are visited (the ReplicaSets' active pods and the
/// terminating ones), and each pod spec is matched against the budgets once: the pods of a
/// ReplicaSet share theirs.
pub fn disruptions_allowed(cluster: &Cluster) -> Vec<i32> {
    let mut tallies = vec![Tally::default(); cluster.pdbs.len()];
    let mut last: Option<(*const crate::scenario::PodTemplate, std::sync::Arc<[usize]>)> = None;
    for pod in live_pods(cluster) {
        let key = std::sync::Arc::as_ptr(&pod.template);
        if last.as_ref().is_none_or(|(k, _)| *k != key) {
            last = Some((key, covering(cluster, pod)));
        }
        for &i in last.as_ref().map_or(&[][..], |(_, c)| &c[..]) {
            tallies[i].count(pod);
        }
    }
    cluster
        .pdbs
        .iter()
        .zip(&tallies)
        .map(|(pdb, tally)| match desired_healthy(cluster, pdb, tally) {
            Some(desired) => (tally.healthy - desired).max(0),
            None => 0,
        })
        .collect()
}

/// Pods not yet gone: active pods of every ReplicaSet, then the terminating ones.
fn live_pods(cluster: &Cluster) -> impl Iterator<Item = &Pod> {
    let active = cluster.replica_sets.iter().flat_map(|rs| rs.pods.iter());
    active
        .chain(cluster.terminating.iter())
        .map(|&id| cluster.pod(id))
        .filter(|p| p.phase != PodPhase::Terminated)
}

/// The indexes of the budgets covering `pod`.
fn covering(cluster: &Cluster, pod: &Pod) -> std::sync::Arc<[usize]> {
    cluster.pdbs_covering(pod, || {
        (cluster.pdbs.iter().enumerate())
            .filter(|(_, pdb)| covers(pdb, pod))
            .map(|(i, _)| i)
            .collect()
    })
}

/// What one budget's pods add up to.
#[derive(Clone, Debug, Default)]
struct Tally {
    healthy: i32,
    /// The pods' owners, each once.
    owners: Vec<DeploymentId>,
}

impl Tally {
    fn count(&mut self, pod: &Pod) {
        if pod.ready && pod.deletion.is_none() {
            self.healthy += 1;
        }
        if !self.owners.contains(&pod.deployment) {
            self.owners.push(pod.deployment);
        }
    }
}

/// `desiredHealthy`, or `None` when the expected count cannot be known.
fn desired_healthy(cluster: &Cluster, pdb: &PdbSpec, tally: &Tally) -> Option<i32> {
    // The owners' scale, summed; unknown when an owner has none.
    let expected = || -> Option<i32> {
        tally.owners.iter().try_fold(0, |total, &id| {
            let d = cluster.deployment(id);
            d.is_replicated().then_some(total + d.replicas)
        })
    };
    match pdb.budget {
        PdbBudget::MinAvailable(crate::controllers::rollout::IntOrPercent::Int(n)) => Some(n),
        PdbBudget::MinAvailable(p) => Some(p.scaled(expected()?, true)),
        PdbBudget::MaxUnavailable(v) => {
            let expected = expected()?;
            Some((expected - v.scaled(expected, true)).max(0))
        }
    }
}

/// Whether evicting `pod` now fits every budget covering it; if so the allowances in `allowed`
/// are taken (so later evictions in the same pass see them spent).
pub fn try_evict(cluster: &Cluster, allowed: &mut [i32], pod: &Pod) -> bool {
    let covering = covering(cluster, pod);
    if covering.iter().any(|&i| allowed[i] <= 0) {
        return false;
    }
    for &i in covering.iter() {
        allowed[i] -= 1;
    }
    true
}
