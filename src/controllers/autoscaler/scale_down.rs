//! Scale-down candidates (D.3): Ready nodes under the utilization threshold whose pods could all
//! be rescheduled elsewhere — checked with the scheduler's filters against the other nodes (in
//! the estimator's [`Bins`], on a [`Trial`] of the cluster), with the pods of earlier
//! candidates already moved, never onto a node being removed.
//!
//! Where a moved pod goes is found as upstream's removal simulator finds it
//! (`simulator/scheduling/hinting_simulator.go`): first the node the same pod was moved to in
//! this or the previous loop's simulation (a *hint*), if it still takes it; otherwise the
//! first node that does, searching from the node after the last one found
//! (`SchedulerPluginRunner.RunFiltersUntilPassingNode`'s `lastIndex`), not from the first
//! Ready node each time. Upstream's node list is in its snapshot's order; here it is the Ready
//! nodes' order, and the search position is the scale-down simulation's own.

use std::collections::BTreeMap;

use super::estimator::{Bins, PendingPod};
use crate::cluster::resources::{CPU, GPU, MEMORY};
use crate::cluster::trial::Trial;
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
    /// The pod has no controller to recreate it elsewhere.
    PodWithoutController(PodId),
    /// No other node can take the pod.
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
    /// Where the simulation moved each pod, this loop and the one before.
    hints: Hints,
    /// Where the search for a node that takes a pod starts: after the last node found.
    next_index: usize,
}

/// The nodes pods were moved to in the removal simulation, kept for two loops (upstream's
/// `scheduling.Hints`: a hint set in this loop or the previous one is used; older ones are
/// dropped as each loop begins).
#[derive(Debug, Default)]
struct Hints {
    current: BTreeMap<PodId, NodeId>,
    old: BTreeMap<PodId, NodeId>,
}

impl Hints {
    fn get(&self, pod: PodId) -> Option<NodeId> {
        self.current
            .get(&pod)
            .or_else(|| self.old.get(&pod))
            .copied()
    }

    fn set(&mut self, pod: PodId, node: NodeId) {
        self.current.insert(pod, node);
    }

    /// A new loop: this loop's hints become the previous loop's, and those before go.
    fn drop_old(&mut self) {
        self.old = std::mem::take(&mut self.current);
    }
}

impl Planner {
    /// The nodes that could be removed now (upstream's `categorizeNodes`). Candidates are the
    /// Ready nodes not being deleted, empty ones first, then the nodes `previous`ly unneeded,
    /// then in node-list order (the candidate sorting processors). A node is simulated when
    /// it is under the utilization threshold and not recently found unremovable; a failed
    /// simulation keeps it from being simulated again until the recheck timeout. The search
    /// stops after [`unneeded_nodes_limit`] removable nodes. Moving pods is simulated in [`Bins`]
    /// over the Ready nodes, in a [`Trial`] of the cluster undone before returning, so it
    /// filters exactly as the scheduler would (the scheduler's `profiles`), including topology
    /// spread and inter-pod affinity when pods have them.
    pub fn unneeded_nodes(
        &mut self,
        cluster: &mut Cluster,
        settings: &AutoscalerSettings,
        profiles: &[SchedulerProfile],
        previous: &BTreeMap<NodeId, SimTime>,
        now: SimTime,
    ) -> Vec<NodeId> {
        self.recheck_at
            .retain(|&n, at| cluster.node(n).state == NodeState::Ready && *at > now);
        self.hints.drop_old();
        let limit = unneeded_nodes_limit(settings, previous.len());
        let candidates = candidates(cluster, settings, previous);
        // The budgets' allowances as the loop began; a loop that simulates no node (none is
        // underutilized, or each waits out its recheck) needs none.
        let simulates = limit > 0
            && candidates
                .iter()
                .any(|c| !self.recheck_at.contains_key(&c.id));
        let mut allowed = if simulates {
            disruption::disruptions_allowed(cluster)
        } else {
            Vec::new()
        };
        let mut trial = Trial::new(cluster);
        let mut bins: Option<Bins> = None;
        let mut removing: Vec<usize> = Vec::new();
        // Per bin: whether it is being removed (no pod may move there).
        let mut removed = vec![false; trial.ready_nodes.len()];
        let mut bin_of: Vec<Option<usize>> = Vec::new();
        for candidate in &candidates {
            if self.recheck_at.contains_key(&candidate.id) {
                continue;
            }
            if removing.len() >= limit {
                break;
            }
            let bins = bins.get_or_insert_with(|| {
                bin_of = bins_by_node(&trial);
                ready_node_bins(&mut trial, profiles)
            });
            let mut sim = Simulation {
                trial: &mut trial,
                bins,
                removed: &removed,
                bin_of: &bin_of,
                hints: &mut self.hints,
                next_index: &mut self.next_index,
            };
            match sim.check_node(candidate, settings, &mut allowed) {
                Ok(()) => {
                    removing.push(candidate.bin);
                    removed[candidate.bin] = true;
                }
                Err(_) => {
                    let at = now + settings.unremovable_node_recheck_timeout;
                    self.recheck_at.insert(candidate.id, at);
                }
            }
        }
        drop(trial);
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

/// A node considered for removal, as the cluster was when the loop began: its bin (index in
/// the Ready nodes), whether it is under the utilization threshold, and its active pods.
struct Candidate {
    bin: usize,
    id: NodeId,
    pods: Vec<PodId>,
}

/// The scale-down candidates: underutilized Ready nodes not being deleted, empty ones first,
/// then those unneeded in the previous loop, each group in node-list order. (Only
/// underutilized nodes are ever simulated, so the others are left out before their pods are
/// listed: on a busy large cluster that is most of them.)
fn candidates(
    cluster: &Cluster,
    settings: &AutoscalerSettings,
    previous: &BTreeMap<NodeId, SimTime>,
) -> Vec<Candidate> {
    let mut list: Vec<Candidate> = cluster
        .ready_nodes
        .iter()
        .copied()
        .enumerate()
        .filter(|&(_, id)| {
            let node = cluster.node(id);
            !node.is_to_be_deleted() && underutilized(node, settings)
        })
        .map(|(bin, id)| Candidate {
            bin,
            id,
            pods: active_pods(cluster, id),
        })
        .collect();
    list.sort_by_cached_key(|c| {
        let empty = c.pods.iter().all(|&p| goes_with_node(cluster, p, settings));
        (!empty, !previous.contains_key(&c.id))
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

/// The Ready nodes as bins holding their active pods (checked with the whole Filter when
/// some bound pod's filters read other pods).
fn ready_node_bins<'p>(trial: &mut Trial, profiles: &'p [SchedulerProfile]) -> Bins<'p> {
    let bound = trial
        .ready_nodes
        .iter()
        .flat_map(|&n| trial.pods_on(n))
        .filter(|p| p.is_active())
        .map(|p| &*p.template);
    let mut bins = Bins::for_templates(trial, profiles, bound);
    for i in 0..trial.ready_nodes.len() {
        let id = trial.ready_nodes[i];
        bins.add_existing(trial, id);
    }
    bins
}

/// Each Ready node's bin (its place in the Ready nodes), by node index.
fn bins_by_node(cluster: &Cluster) -> Vec<Option<usize>> {
    let mut bin_of = Vec::new();
    for (bin, id) in cluster.ready_nodes.iter().enumerate() {
        if bin_of.len() <= id.index() {
            bin_of.resize(id.index() + 1, None);
        }
        bin_of[id.index()] = Some(bin);
    }
    bin_of
}

/// One loop's removal simulation: the bins over the Ready nodes in a trial of the cluster,
/// the bins of nodes already found removable, each Ready node's bin, and where moved pods
/// went before and where the next search starts.
struct Simulation<'s, 'c, 'p> {
    trial: &'s mut Trial<'c>,
    bins: &'s mut Bins<'p>,
    removed: &'s [bool],
    /// Each Ready node's bin, by node index.
    bin_of: &'s [Option<usize>],
    hints: &'s mut Hints,
    next_index: &'s mut usize,
}

impl Simulation<'_, '_, '_> {
    /// Checks one candidate: its pods (but DaemonSet pods, which go with it) are taken off and
    /// each must pass the filters on another Ready node not being removed, within what the
    /// PodDisruptionBudgets still `allowed` (taken on success). On success the moves stay in
    /// the trial; otherwise they are undone.
    fn check_node(
        &mut self,
        candidate: &Candidate,
        settings: &AutoscalerSettings,
        allowed: &mut Vec<i32>,
    ) -> Result<(), Blocked> {
        let (leaving, allowed_after) = self.leaving_pods(candidate, settings, allowed)?;
        let mark = self.trial.mark();
        for pod in &leaving {
            self.bins.remove(self.trial, candidate.bin, pod);
        }
        for pod in &leaving {
            let Some(d) = self.destination(candidate.bin, pod) else {
                self.trial.rollback_to(mark);
                return Err(Blocked::NoPlaceToMove(pod.id));
            };
            self.bins.place(self.trial, d, pod);
            self.hints.set(pod.id, self.trial.ready_nodes[d]);
        }
        *allowed = allowed_after;
        Ok(())
    }

    /// The bin a pod leaving bin `from` moves to: its hinted node if that takes it, else the
    /// first that does from the search's start, which then moves past it. Never `from` nor a
    /// node being removed.
    fn destination(&mut self, from: usize, pod: &PendingPod) -> Option<usize> {
        let acceptable = |d: usize| d != from && !self.removed[d];
        let hinted = (self.hints.get(pod.id))
            .and_then(|node| self.bin_of.get(node.index()).copied().flatten())
            .filter(|&d| acceptable(d));
        if let Some(d) = hinted
            && self
                .bins
                .first_fit(self.trial, pod, std::iter::once(d))
                .is_some()
        {
            return Some(d);
        }
        let count = self.bins.count();
        let start = *self.next_index % count.max(1);
        let in_turn = (0..count)
            .map(|k| (start + k) % count)
            .filter(|&d| acceptable(d));
        let found = self.bins.first_fit(self.trial, pod, in_turn)?;
        *self.next_index = (found + 1) % count;
        Some(found)
    }

    /// The candidate's pods that must move, if each has a controller and its budgets allow
    /// its eviction, with the allowances left after evicting them all.
    fn leaving_pods(
        &self,
        candidate: &Candidate,
        settings: &AutoscalerSettings,
        allowed: &[i32],
    ) -> Result<(Vec<PendingPod>, Vec<i32>), Blocked> {
        let cluster: &Cluster = self.trial;
        let mut trial_allowed = allowed.to_vec();
        let mut leaving = Vec::new();
        for &pod in &candidate.pods {
            if goes_with_node(cluster, pod, settings) {
                continue;
            }
            let p = cluster.pod(pod);
            if !cluster.deployment(p.deployment).has_controller() {
                return Err(Blocked::PodWithoutController(pod));
            }
            if !disruption::try_evict(cluster, &mut trial_allowed, p) {
                return Err(Blocked::DisruptionBudget(pod));
            }
            leaving.push(PendingPod::of(cluster, pod));
        }
        Ok((leaving, trial_allowed))
    }
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

    /// Four 4-core nodes: n0 holds two 500m pods (12.5 % each: the one candidate), n1–n3 one
    /// 2 500m pod each (62.5 %, over the 50 % threshold) and room for both of n0's.
    fn cluster_with_one_candidate() -> (Cluster, [PodId; 2]) {
        use crate::controllers::scheduler::{bind_test_pod, test_cluster, test_pod};
        let mut c = test_cluster(&[("n0", &[]), ("n1", &[]), ("n2", &[]), ("n3", &[])]);
        let mut d = crate::controllers::deployment::test_deployment(5, 600);
        d.replica_sets = vec![crate::cluster::ReplicaSetId(0)];
        c.deployments.push(d);
        let moving = [0, 1].map(|_| bind_test_pod(&mut c, "n0", test_pod(500, 1 << 20)));
        for node in ["n1", "n2", "n3"] {
            bind_test_pod(&mut c, node, test_pod(2500, 1 << 20));
        }
        (c, moving)
    }

    /// Upstream's removal simulation (`HintingSimulator.TrySchedulePods`): a pod goes to its
    /// hinted node when that takes it, else to the first node that does counting from after
    /// the last one found (`RunFiltersUntilPassingNode`'s `lastIndex`).
    #[test]
    fn moved_pods_go_where_they_went_before_else_on_from_the_last_node_found() {
        let (mut c, [p, q]) = cluster_with_one_candidate();
        let settings = AutoscalerSettings::default();
        let profiles = [SchedulerProfile::default()];
        let mut planner = Planner::default();
        let (n0, n1, n2) = (NodeId(0), NodeId(1), NodeId(2));
        let loop_once = |planner: &mut Planner, c: &mut Cluster| {
            planner.unneeded_nodes(c, &settings, &profiles, &BTreeMap::new(), SimTime::ZERO)
        };
        // First loop, no hints: p is checked from bin 0 (n0 itself, skipped) and goes to n1;
        // the search for q starts after n1, at n2 — a first fit would have put q on n1 too.
        assert_eq!(loop_once(&mut planner, &mut c), [n0]);
        assert_eq!(planner.hints.get(p), Some(n1));
        assert_eq!(planner.hints.get(q), Some(n2));
        assert_eq!(planner.next_index, 3);
        // Second loop: the search would start at n3, but both pods take their hints.
        assert_eq!(loop_once(&mut planner, &mut c), [n0]);
        assert_eq!(planner.hints.get(p), Some(n1));
        assert_eq!(planner.hints.get(q), Some(n2));
        assert_eq!(planner.next_index, 3);
        // The trial is undone: nothing moved in the cluster itself.
        assert_eq!(c.pod(p).node, Some(n0));
    }

    #[test]
    fn hints_last_two_loops() {
        let mut hints = Hints::default();
        hints.set(PodId(1), NodeId(7));
        hints.drop_old(); // a new loop: still hinted
        assert_eq!(hints.get(PodId(1)), Some(NodeId(7)));
        hints.set(PodId(1), NodeId(8)); // this loop's hint wins over the last loop's
        assert_eq!(hints.get(PodId(1)), Some(NodeId(8)));
        hints.drop_old();
        hints.drop_old(); // two loops without it: gone
        assert_eq!(hints.get(PodId(1)), None);
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
