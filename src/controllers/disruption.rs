//! The disruption controller's arithmetic (E.6): how many of a PodDisruptionBudget's pods may
//! be evicted now. The Eviction API (the autoscaler's drains) evicts a pod only while every
//! budget covering it allows a disruption; preemption prefers victims whose eviction violates
//! no budget.

use crate::cluster::{Cluster, Pod, PodPhase};
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
pub fn disruptions_allowed(cluster: &Cluster) -> Vec<i32> {
    cluster
        .pdbs
        .iter()
        .map(|pdb| {
            let pods: Vec<&Pod> = cluster
                .pods
                .iter()
                .filter(|p| p.phase != PodPhase::Terminated && covers(pdb, p))
                .collect();
            let healthy = pods
                .iter()
                .filter(|p| p.ready && p.deletion.is_none())
                .count() as i32;
            let Some(desired) = desired_healthy(cluster, pdb, &pods) else {
                return 0;
            };
            (healthy - desired).max(0)
        })
        .collect()
}

/// `desiredHealthy`, or `None` when the expected count cannot be known.
fn desired_healthy(cluster: &Cluster, pdb: &PdbSpec, pods: &[&Pod]) -> Option<i32> {
    let expected = || -> Option<i32> {
        let mut owners: Vec<u32> = Vec::new();
        let mut total = 0;
        for p in pods {
            let d = cluster.deployment(p.deployment);
            if !d.is_replicated() {
                return None;
            }
            if !owners.contains(&d.id.0) {
                owners.push(d.id.0);
                total += d.replicas;
            }
        }
        Some(total)
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
    let covering: Vec<usize> = cluster
        .pdbs
        .iter()
        .enumerate()
        .filter(|(_, pdb)| covers(pdb, pod))
        .map(|(i, _)| i)
        .collect();
    if covering.iter().any(|&i| allowed[i] <= 0) {
        return false;
    }
    for i in covering {
        allowed[i] -= 1;
    }
    true
}
