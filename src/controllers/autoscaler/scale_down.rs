//! Scale-down candidates (D.3): Ready nodes under the utilization threshold whose pods could all
//! be rescheduled elsewhere — checked with the scheduler's filters against the other nodes (in
//! the estimator's [`Bins`]), with the pods of earlier candidates already moved, never onto a
//! node being removed.

use std::collections::BTreeMap;

use super::estimator::{Bins, PendingPod};
use crate::cluster::resources::{CPU, GPU, MEMORY};
use crate::cluster::{Cluster, Node, NodeId, PodId, PodPhase};
use crate::controllers::disruption;
use crate::controllers::scheduler::SchedulerProfile;
use crate::scenario::AutoscalerSettings;

/// Requested utilization as the autoscaler computes it: GPU requests / GPUs on a GPU node, else
/// `max(cpu, memory)` requested / allocatable.
pub fn utilization(node: &Node) -> f64 {
    let ratio = |name: &str| {
        let alloc = node.allocatable.get(name);
        if alloc > 0 {
            node.requested.get(name) as f64 / alloc as f64
        } else {
            0.0
        }
    };
    if node.allocatable.get(GPU) > 0 {
        ratio(GPU)
    } else {
        ratio(CPU).max(ratio(MEMORY))
    }
}

/// Why a node is not a scale-down candidate (for the autoscaler's log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blocked {
    NotUnderutilized,
    PodWithoutController(PodId),
    NoPlaceToMove(PodId),
    /// A PodDisruptionBudget allows no more disruptions of this pod.
    DisruptionBudget(PodId),
}

/// Nodes that could be removed now, in node-list order. Moving pods is simulated in
/// [`Bins`] over the Ready nodes, so it filters exactly as the scheduler would (the scheduler's
/// `profiles`), including topology spread and inter-pod affinity when pods have them.
pub fn unneeded_nodes(
    cluster: &Cluster,
    settings: &AutoscalerSettings,
    profiles: &[SchedulerProfile],
) -> Vec<NodeId> {
    let pods_by_node = pods_by_node(cluster);
    let bound: Vec<PendingPod> = pods_by_node
        .values()
        .flatten()
        .map(|&id| pending(cluster, id))
        .collect();
    let mut bins = Bins::for_pods(cluster, profiles, &bound);
    for &id in &cluster.ready_nodes {
        bins.add_existing(cluster, id);
    }
    let mut allowed = disruption::disruptions_allowed(cluster);
    let mut removing: Vec<usize> = Vec::new();
    for (i, &id) in cluster.ready_nodes.iter().enumerate() {
        let node = cluster.node(id);
        if node.is_to_be_deleted() {
            continue;
        }
        let on_node = pods_by_node.get(&id).map_or(&[][..], Vec::as_slice);
        let candidate = Candidate {
            bin: i,
            node,
            pods: on_node,
        };
        if check_node(
            cluster,
            &candidate,
            settings,
            &removing,
            &mut bins,
            &mut allowed,
        )
        .is_ok()
        {
            removing.push(i);
        }
    }
    removing
        .into_iter()
        .map(|i| cluster.ready_nodes[i])
        .collect()
}

fn pending(cluster: &Cluster, id: PodId) -> PendingPod<'_> {
    PendingPod {
        id,
        template: &cluster.pod(id).template,
    }
}

/// A node considered for removal: its bin, and its active pods.
struct Candidate<'c> {
    bin: usize,
    node: &'c Node,
    pods: &'c [PodId],
}

/// Checks one candidate: its pods (but DaemonSet pods, which go with it) are taken off and
/// each must pass the filters on another Ready node not being removed. On success the moves
/// stay in `bins`; otherwise they are undone.
fn check_node(
    cluster: &Cluster,
    candidate: &Candidate,
    settings: &AutoscalerSettings,
    removing: &[usize],
    bins: &mut Bins,
    allowed: &mut Vec<i32>,
) -> Result<(), Blocked> {
    let threshold = if candidate.node.allocatable.get(GPU) > 0 {
        settings.scale_down_gpu_utilization_threshold
    } else {
        settings.scale_down_utilization_threshold
    };
    if utilization(candidate.node) >= threshold {
        return Err(Blocked::NotUnderutilized);
    }
    let mut trial_allowed = allowed.clone();
    let mut leaving = Vec::new();
    for &pod in candidate.pods {
        let owner = cluster.deployment(cluster.pod(pod).deployment);
        let expendable =
            cluster.pod(pod).template.priority < settings.expendable_pods_priority_cutoff;
        if owner.is_daemon_set() || expendable {
            continue; // goes with the node
        }
        if !owner.has_controller() {
            return Err(Blocked::PodWithoutController(pod));
        }
        if !disruption::try_evict(cluster, &mut trial_allowed, cluster.pod(pod)) {
            return Err(Blocked::DisruptionBudget(pod));
        }
        leaving.push(pending(cluster, pod));
    }
    for pod in &leaving {
        bins.remove(candidate.bin, pod);
    }
    let mut moved = Vec::new();
    for pod in &leaving {
        let elsewhere = (0..bins.count()).filter(|&d| d != candidate.bin && !removing.contains(&d));
        let Some(d) = bins.first_fit(pod, elsewhere) else {
            for (pod, d) in moved.into_iter().rev() {
                bins.remove(d, pod);
            }
            for pod in &leaving {
                bins.place(candidate.bin, pod);
            }
            return Err(Blocked::NoPlaceToMove(pod.id));
        };
        bins.place(d, pod);
        moved.push((pod, d));
    }
    *allowed = trial_allowed;
    Ok(())
}

/// Active pods (not being deleted, not gone) of every node, by id.
fn pods_by_node(cluster: &Cluster) -> BTreeMap<NodeId, Vec<PodId>> {
    let mut map: BTreeMap<NodeId, Vec<PodId>> = BTreeMap::new();
    for p in &cluster.pods {
        if let Some(node) = p.node
            && p.deletion.is_none()
            && p.phase != PodPhase::Terminated
        {
            map.entry(node).or_default().push(p.id);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utilization_is_the_max_of_cpu_and_memory_or_gpus_alone() {
        // cpu 1/4 = 0.25, memory 6/8 = 0.75 → 0.75.
        let n = crate::controllers::scheduler::test_node(4000, 8, 1000, 6);
        assert_eq!(utilization(&n), 0.75);
        // A GPU node counts only GPUs: 1 of 4 → 0.25, whatever cpu and memory say.
        let mut g = crate::controllers::scheduler::test_node(4000, 8, 4000, 8);
        g.allocatable.set(GPU, 4);
        g.requested.set(GPU, 1);
        assert_eq!(utilization(&g), 0.25);
    }
}
