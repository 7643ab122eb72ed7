//! Scale-down candidates (D.3): Ready nodes eligible as upstream's `FilterOutUnremovable` judges
//! them ([`eligibility`]: not being deleted, no `scale-down-disabled` annotation, utilization
//! at or below the threshold) whose pods the drainability rules let go and could all be
//! rescheduled elsewhere — checked with the scheduler's filters against the other nodes (in
//! the estimator's [`Bins`], on a [`Trial`] of the cluster), with the pods of earlier
//! candidates already moved, never onto a node being removed. Every node that is not a
//! candidate gets its [`NodeStatus`] with upstream's reason.
//!
//! Where a moved pod goes is found as upstream's removal simulator finds it
//! (`simulator/scheduling/hinting_simulator.go`): first the node the same pod was moved to in
//! this or the previous loop's simulation (a *hint*), if it still takes it; otherwise the
//! first node that does, searching from the node after the last one found
//! (`SchedulerPluginRunner.RunFiltersUntilPassingNode`'s `lastIndex`), not from the first
//! Ready node each time. Upstream's node list is in its snapshot's order; here it is the Ready
//! nodes' order, and the search position is the scale-down simulation's own.
//!
//! Pods already terminating are not moved (upstream moves those not yet long past their grace
//! period; in kubesim they are gone within it unless their node is down).

use std::collections::BTreeMap;

use super::drainability::{self, BlockingPodReason, Outcome, Owner, PodFacts};
use super::estimator::{Bins, PendingPod};
use super::unremovable::{NodeStatus, UnremovableReason};
use super::utilization::{self, Requests, Utilization};
use crate::cluster::trial::Trial;
use crate::cluster::{Cluster, Node, NodeId, NodeState, PodId, PodPhase};
use crate::controllers::disruption;
use crate::controllers::scheduler::SchedulerProfile;
use crate::scenario::{AutoscalerSettings, PodSource};
use crate::sim::SimTime;

/// The node annotation that keeps the autoscaler from removing a node.
pub const SCALE_DOWN_DISABLED: &str = "cluster-autoscaler.kubernetes.io/scale-down-disabled";

/// One loop's findings: the unneeded nodes (with their utilization and whether some
/// `on-completion` pod must finish first) and the status of every other node the loop judged.
#[derive(Debug, Default)]
pub struct Findings {
    /// Removable nodes, in the order found.
    pub unneeded: Vec<Unneeded>,
    /// Nodes found unremovable this loop, and why.
    pub unremovable: Vec<(NodeId, NodeStatus, Option<Utilization>)>,
}

/// A node the simulation could remove.
#[derive(Debug)]
pub struct Unneeded {
    /// The node.
    pub node: NodeId,
    /// Its utilization.
    pub utilization: Utilization,
    /// A `safe-to-evict: "on-completion"` pod it must wait for.
    pub waits_for: Option<PodId>,
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
    /// [`goes_with_node`] by pod id, as far as asked: what it reads of a pod (its owner's
    /// kind, its annotations, its priority) never changes, ids are not reused, and one
    /// autoscaler's settings hold for the run. Read for every candidate node at every loop,
    /// where the pods themselves have left the caches (at 10 000 nodes).
    goes_with: PodFlags,
}

/// A yes/no per pod id, each computed once when first asked.
#[derive(Debug, Default)]
struct PodFlags(Vec<Option<bool>>);

impl PodFlags {
    fn get(&mut self, pod: PodId, compute: impl FnOnce() -> bool) -> bool {
        let i = pod.index();
        if self.0.len() <= i {
            self.0.resize(i + 1, None);
        }
        *self.0[i].get_or_insert_with(compute)
    }
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
    /// One loop's scale-down findings (upstream's `categorizeNodes`). Each Ready node is judged
    /// by [`eligibility`]; the eligible ones are simulated — empty ones first, then those
    /// `previous`ly unneeded, then in node-list order — unless a failed simulation keeps them
    /// from it until the recheck timeout. The search stops after [`unneeded_nodes_limit`]
    /// removable nodes. Moving pods is simulated in [`Bins`] over the Ready nodes, in a
    /// [`Trial`] of the cluster undone before returning, so it filters exactly as the scheduler
    /// would (the scheduler's `profiles`), including topology spread and inter-pod affinity.
    pub fn unneeded_nodes(
        &mut self,
        cluster: &mut Cluster,
        settings: &AutoscalerSettings,
        profiles: &[SchedulerProfile],
        previous: &BTreeMap<NodeId, SimTime>,
        now: SimTime,
    ) -> Findings {
        self.recheck_at
            .retain(|&n, at| cluster.node(n).state == NodeState::Ready && *at > now);
        self.hints.drop_old();
        let limit = unneeded_nodes_limit(settings, previous.len());
        let mut findings = Findings::default();
        let candidates = self.candidates(cluster, settings, previous, now, &mut findings);
        // The budgets' allowances as the loop began; a loop that simulates no node needs none.
        let mut allowed = if limit > 0 && !candidates.is_empty() {
            disruption::disruptions_allowed(cluster)
        } else {
            Vec::new()
        };
        let mut trial = Trial::new(cluster);
        let mut bins: Option<Bins> = None;
        let mut found = 0;
        // Per bin: whether it is being removed (no pod may move there).
        let mut removed = vec![false; trial.ready_nodes.len()];
        let mut bin_of: Vec<Option<usize>> = Vec::new();
        for candidate in &candidates {
            if found >= limit {
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
            match sim.check_node(candidate, settings, &mut allowed, now) {
                Ok(waits_for) => {
                    found += 1;
                    removed[candidate.bin] = true;
                    findings.unneeded.push(Unneeded {
                        node: candidate.id,
                        utilization: candidate.utilization,
                        waits_for,
                    });
                }
                Err(status) => {
                    let at = now + settings.unremovable_node_recheck_timeout;
                    self.recheck_at.insert(candidate.id, at);
                    let u = Some(candidate.utilization);
                    findings.unremovable.push((candidate.id, status, u));
                }
            }
        }
        findings
    }

    /// The scale-down candidates: the Ready nodes [`eligibility`] passes, empty ones first,
    /// then those unneeded in the previous loop, each group in node-list order. The others'
    /// statuses go to `findings` (a node waiting for its recheck keeps the status its last
    /// simulation gave it).
    fn candidates(
        &mut self,
        cluster: &Cluster,
        settings: &AutoscalerSettings,
        previous: &BTreeMap<NodeId, SimTime>,
        now: SimTime,
        findings: &mut Findings,
    ) -> Vec<Candidate> {
        let mut list = Vec::new();
        for (bin, &id) in cluster.ready_nodes.iter().enumerate() {
            match eligibility(cluster, id, settings, now) {
                Ok(_) if self.recheck_at.contains_key(&id) => {}
                Ok(utilization) => {
                    let pods = active_pods(cluster, id);
                    // Decided once per candidate (the sort comes after every node).
                    let goes_with = &mut self.goes_with;
                    let empty = pods.iter().all(|&p| {
                        let yes = goes_with.get(p, || goes_with_node(cluster, p, settings));
                        debug_assert_eq!(yes, goes_with_node(cluster, p, settings), "{p:?}");
                        yes
                    });
                    list.push(Candidate {
                        bin,
                        id,
                        utilization,
                        pods,
                        empty,
                    })
                }
                Err((status, u)) => findings.unremovable.push((id, status, u)),
            }
        }
        // Stable: each group keeps the node-list order.
        list.sort_by_cached_key(|c| (!c.empty, !previous.contains_key(&c.id)));
        list
    }
}

/// Whether a Ready node may be a scale-down candidate, with its utilization; else its status.
/// Upstream's order: its node group at the minimum size (upstream's pre-filter, which records
/// no reason: kubesim names the one upstream's later check would give), being deleted, the
/// `scale-down-disabled` annotation, utilization not computable, unready with unready
/// scale-down disabled, above the threshold.
pub fn eligibility(
    cluster: &Cluster,
    id: NodeId,
    settings: &AutoscalerSettings,
    now: SimTime,
) -> Result<Utilization, (NodeStatus, Option<Utilization>)> {
    use UnremovableReason::*;
    let node = cluster.node(id);
    let pool = &cluster.pools[node.pool.index()];
    let refuse = |reason| Err((NodeStatus::because(reason), None));
    if pool.spec.karpenter.is_some() {
        return refuse(NotAutoscaled);
    }
    if pool.size <= pool.spec.min_count as usize {
        return refuse(NodeGroupMinSizeReached);
    }
    if node.is_to_be_deleted() {
        return refuse(CurrentlyBeingDeleted);
    }
    if pool
        .spec
        .annotations
        .get(SCALE_DOWN_DISABLED)
        .map(String::as_str)
        == Some("true")
    {
        return refuse(ScaleDownDisabledAnnotation);
    }
    let gpu = utilization::is_gpu_node(node);
    let Some(u) = utilization::calculate(
        &node.allocatable,
        gpu,
        &requests(cluster, node, settings, now),
    ) else {
        return refuse(UnexpectedError);
    };
    if is_unready(node) && !settings.scale_down_unready_enabled {
        return Err((NodeStatus::because(ScaleDownUnreadyDisabled), Some(u)));
    }
    if !utilization::underutilized(u.value, utilization::threshold(gpu, settings)) {
        return Err((NodeStatus::because(NotUnderutilized), Some(u)));
    }
    Ok(u)
}

/// Whether the node lifecycle controller sees the node as not Ready.
pub fn is_unready(node: &Node) -> bool {
    node.unreachable
}

/// The requests that count in a node's utilization. Only where a flag leaves pods out, or the
/// node is unreachable (its pods may be long past their deletion), are its pods read one by
/// one; otherwise the node's running total is the answer.
fn requests(
    cluster: &Cluster,
    node: &Node,
    settings: &AutoscalerSettings,
    now: SimTime,
) -> Requests {
    let per_pod = settings.ignore_daemonsets_utilization
        || settings.ignore_mirror_pods_utilization
        || node.unreachable
        || node.down_since.is_some();
    if !per_pod {
        return Requests {
            counted: node.requested.clone(),
            skipped: Default::default(),
        };
    }
    let mut out = Requests::default();
    for &id in node.pods.iter() {
        let p = cluster.pod(id);
        let t = &p.template;
        let daemon =
            cluster.deployment(p.deployment).is_daemon_set() || t.drain.daemon_set_annotation;
        if (daemon && settings.ignore_daemonsets_utilization)
            || (t.drain.mirror && settings.ignore_mirror_pods_utilization)
        {
            out.skipped.add(&t.requests);
        } else if !drainability::is_long_terminating(
            p.deletion.map(|d| d + t.termination_grace),
            t.termination_grace,
            now,
        ) {
            out.counted.add(&t.requests);
        }
    }
    out
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
/// the Ready nodes), its utilization, its active pods, and whether they all go with the node
/// (it is empty: nothing needs to move).
struct Candidate {
    bin: usize,
    id: NodeId,
    utilization: Utilization,
    pods: Vec<PodId>,
    empty: bool,
}

/// DaemonSet, mirror and expendable pods are not moved: they go with their node.
pub fn goes_with_node(cluster: &Cluster, pod: PodId, settings: &AutoscalerSettings) -> bool {
    let p = cluster.pod(pod);
    cluster.deployment(p.deployment).is_daemon_set()
        || p.template.drain.daemon_set_annotation
        || p.template.drain.mirror
        || p.template.priority < settings.expendable_pods_priority_cutoff
}

/// What the drainability rules read about a pod of the cluster.
fn pod_facts<'c>(cluster: &'c Cluster, pod: PodId) -> PodFacts<'c> {
    let p = cluster.pod(pod);
    let t = &p.template;
    let replicas = cluster.replica_sets[p.replica_set.index()].replicas;
    let owner = match cluster.deployment(p.deployment).spec.source {
        PodSource::Trace => Owner::None,
        PodSource::DaemonSet => Owner::DaemonSet,
        PodSource::ReplicaSet => Owner::ReplicaSet { replicas },
        PodSource::ReplicationController => Owner::ReplicationController { replicas },
        PodSource::StatefulSet => Owner::StatefulSet,
        PodSource::Job(_) | PodSource::CronJob(_) => Owner::Job,
    };
    PodFacts {
        namespace: &t.namespace,
        traits: &t.drain,
        owner,
        created: p.created,
        deletion_timestamp: p.deletion.map(|d| d + t.termination_grace),
        grace: t.termination_grace,
        terminal: p.phase == PodPhase::Terminated,
        has_budget: t.namespace == "kube-system"
            && cluster.pdbs.iter().any(|b| disruption::covers(b, t)),
    }
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
    /// Checks one candidate: the drainability rules must let each of its pods go, and each pod
    /// that moves (not the DaemonSet and mirror pods, which go with the node) must pass the
    /// filters on another Ready node not being removed, within what the PodDisruptionBudgets
    /// still `allowed` (taken on success). On success the moves stay in the trial, and the
    /// result names an `on-completion` pod the node must wait for, if any; otherwise they are
    /// undone and the result is the node's status.
    fn check_node(
        &mut self,
        candidate: &Candidate,
        settings: &AutoscalerSettings,
        allowed: &mut Vec<i32>,
        now: SimTime,
    ) -> Result<Option<PodId>, NodeStatus> {
        let drain = self.leaving_pods(candidate, settings, allowed, now)?;
        let mark = self.trial.mark();
        for pod in &drain.leaving {
            self.bins.remove(self.trial, candidate.bin, pod);
        }
        for pod in &drain.leaving {
            let Some(d) = self.destination(candidate.bin, pod) else {
                self.trial.rollback_to(mark);
                return Err(NodeStatus::Unremovable {
                    reason: UnremovableReason::NoPlaceToMovePods,
                    pod: Some(pod.id),
                    pod_reason: None,
                });
            };
            self.bins.place(self.trial, d, pod);
            self.hints.set(pod.id, self.trial.ready_nodes[d]);
        }
        *allowed = drain.allowed_after;
        Ok(drain.waits_for)
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

    /// The candidate's pods as the drainability rules sort them (upstream's `GetPodsToMove`):
    /// those that must move, the first `on-completion` pod, and the budgets' allowances after
    /// evicting the movers that no rule let go outright; or the first pod that blocks.
    fn leaving_pods(
        &self,
        candidate: &Candidate,
        settings: &AutoscalerSettings,
        allowed: &[i32],
        now: SimTime,
    ) -> Result<Drain, NodeStatus> {
        let cluster: &Cluster = self.trial;
        let mut drain = Drain {
            leaving: Vec::new(),
            waits_for: None,
            allowed_after: allowed.to_vec(),
        };
        let blocked = |pod, reason| NodeStatus::Unremovable {
            reason: UnremovableReason::BlockedByPod,
            pod: Some(pod),
            pod_reason: Some(reason),
        };
        for &pod in &candidate.pods {
            if cluster.pod(pod).template.priority < settings.expendable_pods_priority_cutoff {
                continue;
            }
            match drainability::drainable(&pod_facts(cluster, pod), settings, now) {
                Outcome::Skip => continue,
                Outcome::Block(reason) => return Err(blocked(pod, reason)),
                Outcome::WaitForCompletion => {
                    drain.waits_for.get_or_insert(pod);
                    continue;
                }
                Outcome::DrainOk => {}
                Outcome::Undefined => {
                    let p = cluster.pod(pod);
                    if !disruption::try_evict(cluster, &mut drain.allowed_after, p) {
                        return Err(blocked(pod, BlockingPodReason::NotEnoughPdb));
                    }
                }
            }
            if !goes_with_node(cluster, pod, settings) {
                drain.leaving.push(PendingPod::of(cluster, pod));
            }
        }
        Ok(drain)
    }
}

/// A candidate's pods as the drainability rules sorted them.
struct Drain {
    leaving: Vec<PendingPod>,
    waits_for: Option<PodId>,
    allowed_after: Vec<i32>,
}

/// The active pods (not being deleted, not gone) of a node, by id. A node's pods are never
/// gone (a pod leaves its node as it terminates), and those being deleted are the cluster's
/// terminating pods: no pod needs to be read (at 10 000 nodes, reading every candidate's pods
/// was half of the scan).
fn active_pods(cluster: &Cluster, node: NodeId) -> Vec<PodId> {
    let pods = cluster.node(node).pods.iter().copied();
    let active: Vec<PodId> = pods
        .filter(|id| !cluster.terminating.contains(id))
        .collect();
    debug_assert!(cluster.node(node).pods.iter().all(|&id| {
        let p = cluster.pod(id);
        p.phase != PodPhase::Terminated && p.deletion.is_some() == cluster.terminating.contains(&id)
    }));
    active
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_flag_is_computed_once_and_kept_by_id() {
        let mut flags = PodFlags::default();
        let mut asked = 0;
        let mut get = |flags: &mut PodFlags, pod: u32, yes: bool| {
            flags.get(PodId(pod), || {
                asked += 1;
                yes
            })
        };
        assert!(get(&mut flags, 5, true));
        assert!(!get(&mut flags, 2, false));
        // Known now: the computation is not asked again (it would say otherwise here).
        assert!(get(&mut flags, 5, false));
        assert!(!get(&mut flags, 2, true));
        assert!(get(&mut flags, 0, true));
        assert_eq!(asked, 3);
    }

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

    /// A node group of `size` nodes (the test cluster's nodes are its) with a minimum size.
    pub(crate) fn test_pool(size: usize, min: u32) -> crate::cluster::NodePool {
        use crate::scenario::{CapacityType, KubeletCpu, NodePoolSpec};
        use crate::sim::dist::DurationDist;
        crate::cluster::NodePool {
            spec: NodePoolSpec {
                name: "pool".into(),
                instance_type: None,
                count: size as u32,
                allocatable: Default::default(),
                max_pods: 110,
                labels: Default::default(),
                annotations: Default::default(),
                taints: Vec::new(),
                price_usd_per_hour: 1.0,
                capacity_type: CapacityType::OnDemand,
                spot_price_usd_per_hour: None,
                min_count: min,
                max_count: 100,
                provisioning_time: DurationDist::Constant(crate::sim::SimDuration::from_secs(60)),
                zones: Vec::new(),
                failures: None,
                spot_interruption_mtbi: None,
                image_pull_bandwidth: None,
                kubelet: KubeletCpu::default(),
                karpenter: None,
            },
            nodes: Vec::new(),
            size,
        }
    }

    /// Four 4-core nodes: n0 holds two 500m pods (12.5 % each: the one candidate), n1–n3 one
    /// 2 500m pod each (62.5 %, over the 50 % threshold) and room for both of n0's.
    fn cluster_with_one_candidate() -> (Cluster, [PodId; 2]) {
        use crate::controllers::scheduler::{bind_test_pod, test_cluster, test_pod};
        let mut c = test_cluster(&[("n0", &[]), ("n1", &[]), ("n2", &[]), ("n3", &[])]);
        c.pools.push(test_pool(4, 0));
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
            let findings =
                planner.unneeded_nodes(c, &settings, &profiles, &BTreeMap::new(), SimTime::ZERO);
            findings.unneeded.iter().map(|u| u.node).collect::<Vec<_>>()
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
}
