//! Scale-down candidates (D.3): Ready nodes under the utilization threshold whose pods could all
//! be rescheduled elsewhere — checked with the scheduler's filters against the other nodes (in
//! the estimator's [`Bins`]), with the pods of earlier candidates already moved, never onto a
//! node being removed.

use std::collections::BTreeMap;

use super::estimator::{Bins, PendingPod};
use crate::cluster::resources::{CPU, GPU, MEMORY};
use crate::cluster::{Cluster, Node, NodeId, NodeState, PodId, PodPhase};
use crate::controllers::disruption;
use crate::controllers::scheduler::SchedulerProfile;
use crate::scenario::AutoscalerSettings;
use crate::sim::SimTime;

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

/// What the scale-down planner remembers between loops (`core/scaledown/planner`).
#[derive(Debug, Default)]
pub struct Planner {
    /// Nodes whose removal simulation failed, with when they may be simulated again
    /// (`--unremovable-node-recheck-timeout`).
    recheck_at: BTreeMap<NodeId, SimTime>,
}

impl Planner {
    /// The nodes that could be removed now (upstream's `categorizeNodes`). Candidates are the
    /// Ready nodes not being deleted, empty ones first, then the nodes `previous`ly unneeded,
    /// then in node-list order (the candidate sorting processors). A node is simulated when
    /// it is under the utilization threshold and not recently found unremovable; a failed
    /// simulation keeps it from being simulated again until the recheck timeout. The search
    /// stops after [`unneeded_nodes_limit`] removable nodes. Moving pods is simulated in [`Bins`]
    /// over the Ready nodes, so it filters exactly as the scheduler would (the scheduler's
    /// `profiles`), including topology spread and inter-pod affinity when pods have them.
    pub fn unneeded_nodes(
        &mut self,
        cluster: &Cluster,
        settings: &AutoscalerSettings,
        profiles: &[SchedulerProfile],
        previous: &BTreeMap<NodeId, SimTime>,
        now: SimTime,
    ) -> Vec<NodeId> {
        self.recheck_at
            .retain(|&n, at| cluster.node(n).state == NodeState::Ready && *at > now);
        let limit = unneeded_nodes_limit(settings, previous.len());
        let mut bins: Option<Bins> = None;
        let mut allowed = disruption::disruptions_allowed(cluster);
        let mut removing: Vec<usize> = Vec::new();
        // Per bin: whether it is being removed (no pod may move there).
        let mut removed = vec![false; cluster.ready_nodes.len()];
        for (bin, id) in candidates(cluster, settings, previous) {
            let node = cluster.node(id);
            if self.recheck_at.contains_key(&id) || !underutilized(node, settings) {
                continue;
            }
            if removing.len() >= limit {
                break;
            }
            let bins = bins.get_or_insert_with(|| ready_node_bins(cluster, profiles));
            let candidate = Candidate {
                bin,
                node,
                pods: &active_pods(cluster, id),
            };
            match check_node(cluster, &candidate, settings, &removed, bins, &mut allowed) {
                Ok(()) => {
                    removing.push(bin);
                    removed[bin] = true;
                }
                Err(_) => {
                    let at = now + settings.unremovable_node_recheck_timeout;
                    self.recheck_at.insert(id, at);
                }
            }
        }
        removing
            .into_iter()
            .map(|i| cluster.ready_nodes[i])
            .collect()
    }
}

/// `unneededNodesLimit`: with N = `max-scale-down-parallelism`, at most N nodes go per loop, so
/// finding more than the previously unneeded nodes + 2N is wasted work; and no more than
/// N × (unneeded time / loop interval) + N can ever be removed before they are rechecked.
pub fn unneeded_nodes_limit(settings: &AutoscalerSettings, previously_unneeded: usize) -> usize {
    let n = settings.max_scale_down_parallelism;
    let interval = settings.scan_interval.as_micros().max(1);
    let unneeded_time = settings.scale_down_unneeded_time.as_micros().max(interval);
    let loops = usize::try_from(unneeded_time / interval).unwrap_or(usize::MAX);
    let upper = n.saturating_mul(loops).saturating_add(n);
    (previously_unneeded + 2 * n).min(upper)
}

/// The scale-down candidates with their bin (index in the Ready nodes): Ready nodes not being
/// deleted, empty ones first, then those unneeded in the previous loop, each group in
/// node-list order.
fn candidates(
    cluster: &Cluster,
    settings: &AutoscalerSettings,
    previous: &BTreeMap<NodeId, SimTime>,
) -> Vec<(usize, NodeId)> {
    let mut list: Vec<(usize, NodeId)> = cluster
        .ready_nodes
        .iter()
        .copied()
        .enumerate()
        .filter(|&(_, id)| !cluster.node(id).is_to_be_deleted())
        .collect();
    list.sort_by_key(|&(_, id)| {
        let empty = active_pods(cluster, id)
            .iter()
            .all(|&p| goes_with_node(cluster, p, settings));
        (!empty, !previous.contains_key(&id))
    });
    list
}

/// DaemonSet and expendable pods are not moved: they go with their node.
fn goes_with_node(cluster: &Cluster, pod: PodId, settings: &AutoscalerSettings) -> bool {
    let p = cluster.pod(pod);
    cluster.deployment(p.deployment).is_daemon_set()
        || p.template.priority < settings.expendable_pods_priority_cutoff
}

fn underutilized(node: &Node, settings: &AutoscalerSettings) -> bool {
    let threshold = if node.allocatable.get(GPU) > 0 {
        settings.scale_down_gpu_utilization_threshold
    } else {
        settings.scale_down_utilization_threshold
    };
    utilization(node) < threshold
}

/// The Ready nodes as bins holding their active pods (in a copy of the cluster when some
/// bound pod's filters read other pods).
fn ready_node_bins<'p>(cluster: &Cluster, profiles: &'p [SchedulerProfile]) -> Bins<'p> {
    let bound: Vec<PendingPod> = cluster
        .ready_nodes
        .iter()
        .flat_map(|&n| active_pods(cluster, n))
        .map(|id| pending(cluster, id))
        .collect();
    let mut bins = Bins::for_pods(cluster, profiles, &bound);
    for &id in &cluster.ready_nodes {
        bins.add_existing(cluster, id);
    }
    bins
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
    removed: &[bool],
    bins: &mut Bins,
    allowed: &mut Vec<i32>,
) -> Result<(), Blocked> {
    if !underutilized(candidate.node, settings) {
        return Err(Blocked::NotUnderutilized);
    }
    let mut trial_allowed = allowed.clone();
    let mut leaving = Vec::new();
    for &pod in candidate.pods {
        if goes_with_node(cluster, pod, settings) {
            continue;
        }
        if !cluster
            .deployment(cluster.pod(pod).deployment)
            .has_controller()
        {
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
        let elsewhere = (0..bins.count()).filter(|&d| d != candidate.bin && !removed[d]);
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

/// The active pods (not being deleted, not gone) of a node, by id.
fn active_pods(cluster: &Cluster, node: NodeId) -> Vec<PodId> {
    cluster
        .node(node)
        .pods
        .iter()
        .copied()
        .filter(|&id| {
            let p = cluster.pod(id);
            p.deletion.is_none() && p.phase != PodPhase::Terminated
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unneeded_nodes_limit_grows_with_the_nodes_already_unneeded() {
        let settings = |n: usize, unneeded_secs: u64| AutoscalerSettings {
            max_scale_down_parallelism: n,
            scale_down_unneeded_time: crate::sim::SimDuration::from_secs(unneeded_secs),
            ..AutoscalerSettings::default()
        };
        // (N, unneeded time s, previously unneeded, limit); loops of 10 s.
        let cases = [
            // Defaults: min(0 + 2×10, 10 × 600/10 + 10 = 610) = 20.
            (10, 600, 0, 20),
            // min(100 + 20, 610) = 120.
            (10, 600, 100, 120),
            // min(600 + 20, 610) = 610: no more than can go before they are rechecked.
            (10, 600, 600, 610),
            // Unneeded time under a loop counts as one loop: min(5 + 2, 1×1 + 1 = 2) = 2.
            (1, 5, 5, 2),
        ];
        for (n, unneeded, previous, limit) in cases {
            let s = settings(n, unneeded);
            assert_eq!(
                unneeded_nodes_limit(&s, previous),
                limit,
                "{n} {unneeded} {previous}"
            );
        }
    }

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
