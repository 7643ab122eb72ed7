//! Scale-down candidates (D.3): Ready nodes under the utilization threshold whose pods could all
//! be rescheduled elsewhere — checked with the scheduler's filters against the other nodes, with
//! the pods of earlier candidates already moved, never onto a node being removed.

use std::collections::BTreeMap;

use crate::cluster::resources::{CPU, GPU, MEMORY};
use crate::cluster::{Cluster, Node, NodeId, PodId, PodPhase};
use crate::controllers::disruption;
use crate::controllers::scheduler::filter;
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

/// Nodes that could be removed now, in node-list order.
pub fn unneeded_nodes(cluster: &Cluster, settings: &AutoscalerSettings) -> Vec<NodeId> {
    let pods_by_node = pods_by_node(cluster);
    let mut allowed = disruption::disruptions_allowed(cluster);
    let mut moved: BTreeMap<NodeId, Node> = BTreeMap::new();
    let mut removing: Vec<NodeId> = Vec::new();
    for &id in &cluster.ready_nodes {
        let node = cluster.node(id);
        if node.is_to_be_deleted() {
            continue;
        }
        let on_node = pods_by_node.get(&id).map_or(&[][..], Vec::as_slice);
        if check_node(
            cluster,
            node,
            on_node,
            settings,
            &removing,
            &mut moved,
            &mut allowed,
        )
        .is_ok()
        {
            removing.push(id);
        }
    }
    removing
}

/// Checks one candidate; on success its pods' new places are recorded in `moved`.
fn check_node(
    cluster: &Cluster,
    node: &Node,
    pods: &[PodId],
    settings: &AutoscalerSettings,
    removing: &[NodeId],
    moved: &mut BTreeMap<NodeId, Node>,
    allowed: &mut Vec<i32>,
) -> Result<(), Blocked> {
    let threshold = if node.allocatable.get(GPU) > 0 {
        settings.scale_down_gpu_utilization_threshold
    } else {
        settings.scale_down_utilization_threshold
    };
    if utilization(node) >= threshold {
        return Err(Blocked::NotUnderutilized);
    }
    let mut trial: BTreeMap<NodeId, Node> = BTreeMap::new();
    let mut trial_allowed = allowed.clone();
    for &pod in pods {
        let template = &cluster.pod(pod).template;
        let owner = cluster.deployment(cluster.pod(pod).deployment);
        if owner.is_daemon_set() {
            continue; // goes with the node
        }
        if !owner.has_controller() {
            return Err(Blocked::PodWithoutController(pod));
        }
        if !disruption::try_evict(cluster, &mut trial_allowed, cluster.pod(pod)) {
            return Err(Blocked::DisruptionBudget(pod));
        }
        let destination = cluster.ready_nodes.iter().copied().find(|&d| {
            d != node.id && !removing.contains(&d) && {
                let current = trial
                    .get(&d)
                    .or_else(|| moved.get(&d))
                    .unwrap_or_else(|| cluster.node(d));
                filter::run_filters(current, template).is_ok()
            }
        });
        let Some(d) = destination else {
            return Err(Blocked::NoPlaceToMove(pod));
        };
        trial
            .entry(d)
            .or_insert_with(|| moved.get(&d).unwrap_or_else(|| cluster.node(d)).clone())
            .reserve(template);
    }
    moved.extend(trial);
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
