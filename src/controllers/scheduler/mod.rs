//! kube-scheduler: Filter (NodeUnschedulable, NodeName, TaintToleration, NodeAffinity,
//! NodePorts, NodeResourcesFit, PodTopologySpread, InterPodAffinity) looking for
//! `numFeasibleNodesToFind` feasible nodes from a rotating start index (`cycle`); Score with
//! the profile's plugins and weights (default: TaintToleration 3, NodeAffinity 2,
//! PodTopologySpread 2 with the system default constraints, InterPodAffinity 2,
//! NodeResourcesFit LeastAllocated 1, NodeResourcesBalancedAllocation 1, ImageLocality 1;
//! MostAllocated and RequestedToCapacityRatio from a KubeSchedulerConfiguration); ties broken
//! uniformly at random from the scheduler's own stream; preemption when nothing fits
//! ([`preemption`]). Node-local filters and scores are pure functions over a node (its compact
//! [`NodeRow`](crate::cluster::node_row::NodeRow) on the hot path) and the pod's template;
//! PodTopologySpread ([`spread`]) and InterPodAffinity ([`interpod`]) also read the pods bound
//! in the cluster. [`Scheduler`] holds the profiles, the start index and the queue. A pod no
//! node fits gets a [`FitError`] that counts every node's reasons the way `kubectl describe
//! pod` prints them.

mod cycle;
pub mod filter;
pub mod hints;
pub mod interpod;
pub mod preemption;
pub mod profile;
pub mod queue;
pub mod score;
pub mod spread;

pub use cycle::CycleFilters;
pub use profile::SchedulerProfile;

use std::collections::BTreeMap;
use std::fmt;

use rand::RngExt;

use crate::cluster::{Cluster, Node, NodeId, PodId};
use crate::scenario::PodTemplate;
use crate::sim::SimRng;

/// Why no node fits, counted per reason as `kubectl describe pod` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FitError {
    /// Nodes in the cluster (the `N` of `0/N nodes are available`).
    pub nodes: usize,
    /// Why they did not fit, with how many nodes said each.
    pub reasons: ReasonTally,
    /// What preemption (the PostFilter) said, when it could not help.
    pub post_filter: Option<String>,
}

/// Reasons counted by how many nodes (or node groups) gave them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReasonTally(BTreeMap<String, usize>);

impl ReasonTally {
    /// Counts one node for `reason`.
    pub fn add(&mut self, reason: &str) {
        self.add_n(reason, 1);
    }

    /// Counts `n` nodes for `reason`.
    pub fn add_n(&mut self, reason: &str, n: usize) {
        if n == 0 {
            return;
        }
        match self.0.get_mut(reason) {
            Some(count) => *count += n,
            None => {
                self.0.insert(reason.to_string(), n);
            }
        }
    }

    /// Whether no reason was counted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `count reason` strings sorted as strings and joined by `, ` (so `"12 Insufficient
    /// cpu"` comes before `"4 Insufficient memory"`, as upstream's `sortReasonsHistogram`).
    pub fn message(&self) -> String {
        let mut parts: Vec<String> = self.0.iter().map(|(r, n)| format!("{n} {r}")).collect();
        parts.sort();
        parts.join(", ")
    }
}

/// kube-scheduler's message: `no nodes available to schedule pods` for an empty cluster, else
/// `0/N nodes are available: ` and the [`ReasonTally::message`].
impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nodes == 0 {
            return f.write_str("no nodes available to schedule pods");
        }
        write!(f, "0/{} nodes are available", self.nodes)?;
        if !self.reasons.is_empty() {
            write!(f, ": {}", self.reasons.message())?;
        }
        f.write_str(".")?;
        if let Some(post) = &self.post_filter {
            write!(f, " preemption: {post}")?;
        }
        Ok(())
    }
}

/// A pod no node fits: why, and the preemption that will make room for it (if any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unschedulable {
    /// Why no node fits (the `FailedScheduling` message).
    pub fit: FitError,
    /// The victims to evict and the node nominated, when preemption can help.
    pub preemption: Option<preemption::Preemption>,
    /// The filter plugins that rejected a node: the cluster events that can make the pod
    /// schedulable are theirs (none: no nodes at all, any event).
    pub rejected_by: filter::Rejectors,
}

/// The scheduler: its profiles (by `schedulerName`) and where the next Filter pass starts.
#[derive(Clone, Debug)]
pub struct Scheduler {
    profiles: Vec<SchedulerProfile>,
    next_start_node_index: usize,
    /// Backoff and the unschedulable pool.
    pub queue: queue::SchedulingQueue,
}

impl Scheduler {
    /// A scheduler with `profiles` (the default profile when empty).
    pub fn new(profiles: Vec<SchedulerProfile>) -> Self {
        Scheduler {
            profiles: profile::or_default(profiles),
            next_start_node_index: 0,
            queue: queue::SchedulingQueue::default(),
        }
    }

    /// The profile a pod template asks for (`spec.schedulerName`; validation guarantees it
    /// exists, the first profile otherwise).
    pub fn profile_for(&self, template: &PodTemplate) -> &SchedulerProfile {
        &self.profiles[self.profile_index(template)]
    }

    /// Picks a node for `pod`, or explains why none fits (`schedulePod`).
    pub fn schedule_pod(
        &mut self,
        cluster: &Cluster,
        pod: PodId,
        rng: &mut SimRng,
    ) -> Result<NodeId, Unschedulable> {
        let pod = cluster.pod(pod);
        let template = &*pod.template;
        let profile = self.profile_index(template);
        let nodes = cluster.ready_nodes.len();
        if nodes == 0 {
            return Err(Unschedulable {
                fit: FitError {
                    nodes: 0,
                    reasons: ReasonTally::default(),
                    post_filter: None,
                },
                preemption: None,
                rejected_by: filter::Rejectors::default(),
            });
        }
        let profile = &self.profiles[profile];
        let wanted =
            profile::num_feasible_nodes_to_find(profile.percentage_of_nodes_to_score, nodes);
        let filters = CycleFilters::new(cluster, pod, profile);
        // A pod nominated by an earlier preemption tries that node first.
        if let Some(nominated) = pod.nominated_node
            && cluster.node(nominated).state == crate::cluster::NodeState::Ready
            && filters
                .check(cluster.node(nominated), cluster.node_row(nominated))
                .is_ok()
        {
            return Ok(nominated);
        }
        let start = self.next_start_node_index % nodes;
        let pass = cycle::filter_pass(cluster, &filters, start, wanted);
        self.next_start_node_index = (start + pass.processed) % nodes;
        match pass.feasible.len() {
            0 => {}
            1 => return Ok(pass.feasible[0]),
            _ => return Ok(select_host(cluster, &pass.feasible, template, profile, rng)),
        }
        let rejected_by = pass.unfit.rejected_by;
        let reasons = pass.unfit.tally();
        let mut resolvable = pass.resolvable;
        resolvable.sort();
        let attempt = preemption::preempt(cluster, pod, (&filters, profile), &resolvable, rng);
        let (preemption, post_filter) = match attempt {
            Ok(p) => (Some(p), None),
            Err(message) => (None, Some(message)),
        };
        Err(Unschedulable {
            fit: FitError {
                nodes,
                reasons,
                post_filter,
            },
            preemption,
            rejected_by,
        })
    }

    /// A cluster event: the parked pods it may make schedulable leave the unschedulable pool
    /// ([`hints`]). Returns whether some are queued (a pass is due).
    pub fn on_cluster_event(
        &mut self,
        cluster: &Cluster,
        event: &hints::QueueEvent,
        now: crate::sim::SimTime,
    ) -> bool {
        let profiles = &self.profiles;
        self.queue.on_event(event, now, |pod, plugins| {
            let template = &*cluster.pod(pod).template;
            let profile = &profiles[profile::index_for(profiles, template)];
            event.may_help(template, plugins, &profile.spread_defaults)
        })
    }

    fn profile_index(&self, template: &PodTemplate) -> usize {
        profile::index_for(&self.profiles, template)
    }
}

/// Scores feasible nodes with the profile's plugins and picks the best, breaking ties by
/// reservoir sampling (`selectHost`). Each plugin scores every node in turn (as upstream's
/// per-plugin score lists), adding its weighted score to the node's total.
fn select_host(
    cluster: &Cluster,
    feasible: &[NodeId],
    template: &PodTemplate,
    profile: &SchedulerProfile,
    rng: &mut SimRng,
) -> NodeId {
    let nodes: Vec<&Node> = feasible.iter().map(|&id| cluster.node(id)).collect();
    let mut totals = vec![0i64; feasible.len()];
    let add = |totals: &mut [i64], weight: i64, scores: &[i64]| {
        for (total, score) in totals.iter_mut().zip(scores) {
            *total += weight * score;
        }
    };
    if profile.taint_toleration_weight > 0 {
        let raw: Vec<i64> = feasible
            .iter()
            .zip(&nodes)
            .map(|(&id, node)| match cluster.node_row(id).untainted {
                true => 0,
                false => score::taint_toleration_raw(node, template),
            })
            .collect();
        let normalized = score::default_normalize(&raw, true);
        add(&mut totals, profile.taint_toleration_weight, &normalized);
    }
    // NodeAffinity scores only when the pod has preferred terms (PreScore skips otherwise).
    if profile.node_affinity_weight > 0 && !template.preferred_node_affinity.is_empty() {
        let raw: Vec<i64> = nodes
            .iter()
            .map(|n| score::node_affinity_raw(n, template))
            .collect();
        let normalized = score::default_normalize(&raw, false);
        add(&mut totals, profile.node_affinity_weight, &normalized);
    }
    if profile.topology_spread_weight > 0
        && let Some(spread) = spread::scores(cluster, template, &nodes, &profile.spread_defaults)
    {
        add(&mut totals, profile.topology_spread_weight, &spread);
    }
    if profile.inter_pod_affinity_weight > 0
        && let Some(interpod) = interpod::scores(cluster, template, &nodes)
    {
        add(&mut totals, profile.inter_pod_affinity_weight, &interpod);
    }
    if profile.image_locality_weight > 0 && !template.images.is_empty() {
        let locality = score::ImageLocality::new(cluster, template);
        for (total, node) in totals.iter_mut().zip(&nodes) {
            *total += profile.image_locality_weight * locality.score(node);
        }
    }
    if profile.fit_weight > 0 {
        let fit = score::FitScore::new(template, &profile.fit_strategy);
        for ((total, &id), node) in totals.iter_mut().zip(feasible).zip(&nodes) {
            *total += profile.fit_weight * fit.score(cluster.node_row(id), node);
        }
    }
    if profile.balanced_allocation_weight > 0 {
        let balanced = score::BalancedScore::new(template, &profile.balanced_resources);
        for ((total, &id), node) in totals.iter_mut().zip(feasible).zip(&nodes) {
            *total +=
                profile.balanced_allocation_weight * balanced.score(cluster.node_row(id), node);
        }
    }
    let mut best = NodeId(0);
    let mut best_score = i64::MIN;
    let mut ties = 0u32;
    for (&id, &total) in feasible.iter().zip(&totals) {
        if total > best_score {
            (best, best_score, ties) = (id, total, 1);
        } else if total == best_score {
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                best = id;
            }
        }
    }
    best
}

#[cfg(test)]
pub(crate) use crate::cluster::test_node;

/// A pod template requesting `cpu` millicores and `mem` bytes (the same for scoring), for
/// filter, score and estimator tests.
#[cfg(test)]
pub(crate) fn test_pod(cpu: i64, mem: i64) -> PodTemplate {
    let requests = crate::cluster::resources::Resources {
        cpu_millis: cpu,
        memory_bytes: mem,
        ..Default::default()
    };
    PodTemplate {
        scoring_requests: requests.clone(),
        requests,
        ..Default::default()
    }
}

/// A cluster of Ready test nodes `(name, labels)` (4 cpu each, `kubernetes.io/hostname`
/// set), with one ReplicaSet to own test pods.
#[cfg(test)]
pub(crate) fn test_cluster(nodes: &[(&str, &[(&str, &str)])]) -> Cluster {
    let mut c = Cluster::default();
    for (i, (name, labels)) in nodes.iter().enumerate() {
        let mut n = test_node(4000, 1 << 40, 0, 0);
        n.id = NodeId(i as u32);
        n.name = name.to_string();
        let node_labels = std::sync::Arc::make_mut(&mut n.labels);
        node_labels.insert(spread::HOSTNAME_KEY.into(), name.to_string());
        for (k, v) in labels.iter() {
            node_labels.insert(k.to_string(), v.to_string());
        }
        c.topology.add(&n);
        c.topology.node_ready(&n, true);
        c.nodes.push(n);
        c.refresh_node_row(NodeId(i as u32));
        c.ready_nodes.push(NodeId(i as u32));
    }
    c.replica_sets.push(crate::cluster::ReplicaSet {
        id: crate::cluster::ReplicaSetId(0),
        name: "rs".into(),
        deployment: crate::cluster::DeploymentId(0),
        ..Default::default()
    });
    c
}

/// Creates a pod from `template` and binds it to the node called `node`.
#[cfg(test)]
pub(crate) fn bind_test_pod(c: &mut Cluster, node: &str, template: PodTemplate) -> PodId {
    let name = format!("p{}", c.pods.len());
    let id = c.create_pod_with(
        crate::cluster::ReplicaSetId(0),
        name,
        std::sync::Arc::new(template),
        crate::sim::SimTime::ZERO,
    );
    let node = c
        .nodes
        .iter()
        .position(|n| n.name == node)
        .expect("test node");
    c.bind(id, NodeId(node as u32));
    id
}
