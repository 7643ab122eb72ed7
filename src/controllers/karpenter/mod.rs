//! Karpenter (`karpenter.sh/v1`, modelled on kubernetes-sigs/karpenter v1.14.1 and its AWS
//! provider): node autoscaling without node groups.
//!
//! - **Provisioning** ([`provisioner`]): pods the scheduler found unschedulable open a batch
//!   window, which closes 1 s after the last new pod or 10 s after it opened
//!   (`BATCH_IDLE_DURATION`, `BATCH_MAX_DURATION`). The batch's pods — biggest CPU first, then
//!   memory — go to Ready and launching nodes where they fit, else to NodeClaims planned in
//!   this pass (fewest pods first), else to a new NodeClaim of the first NodePool (highest
//!   weight, then name descending) that can take them. A NodeClaim keeps every offering
//!   (instance type × capacity type × zone) that still fits all its pods and their DaemonSet
//!   pods, within the NodePool's limits; at launch the cheapest one is bought — spot when any
//!   spot offering is left, GPU types only when nothing else fits.
//! - **Disruption** ([`disruption`]), every 10 s: expired nodes (`expireAfter`) are deleted;
//!   then, first that finds something: empty nodes (up to the `Empty` budget), several nodes
//!   at once whose pods fit elsewhere or on one cheaper node (a binary search over the
//!   candidates sorted by savings), one such node. Decisions wait 15 s and are simulated again
//!   before they are carried out; a replacement is launched and Ready before the nodes it
//!   replaces are drained. Pods with `karpenter.sh/do-not-disrupt`, PodDisruptionBudgets that
//!   allow nothing, budgets per reason and `consolidateAfter` hold nodes back.
//!
//! Node-local filters only: pods' topology spread and inter-pod affinity are checked by the
//! scheduler when it binds the pods, not while Karpenter packs them. Drift and the 3-minute
//! unavailable-offerings cache after an interruption are not modelled.

pub mod disruption;
pub mod provisioner;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::cluster::{Cluster, Node, NodeId, NodeState, Pod, PodId, PodPhase, PoolId};
use crate::sim::SimTime;
use crate::spec::karpenter::{AppliedNodePool, DisruptionReason, KarpenterSettings, NodePool};

/// Something Karpenter did or decided, for `karpenter.jsonl` and the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum KarpenterEvent {
    /// A NodeClaim was launched: the offering bought, for how many pods.
    #[serde(rename_all = "camelCase")]
    Launched {
        /// When, in seconds from the start.
        t_seconds: f64,
        /// The NodePool.
        node_pool: String,
        /// The node that will register.
        node: String,
        /// The instance type bought.
        instance_type: String,
        /// `spot` or `on-demand`.
        capacity_type: &'static str,
        /// The zone.
        zone: String,
        /// Its price, USD per hour.
        price_per_hour: f64,
        /// Pending pods planned onto it.
        pods: usize,
        /// How many instance types could have taken them.
        instance_types: usize,
        /// `Provisioning` (pending pods) or the disruption reason it replaces nodes for.
        reason: &'static str,
    },
    /// Nodes are being disrupted (`DisruptionTerminating`): deleted, or replaced by one
    /// cheaper node.
    #[serde(rename_all = "camelCase")]
    Disrupted {
        /// When, in seconds from the start.
        t_seconds: f64,
        /// The disruption reason.
        reason: DisruptionReason,
        /// The nodes deleted.
        nodes: Vec<String>,
        /// The replacement's instance type, for a replacement.
        #[serde(skip_serializing_if = "Option::is_none")]
        replacement: Option<String>,
        /// What the nodes cost, USD per hour.
        price_per_hour: f64,
        /// What the replacement costs, USD per hour (0 for a deletion).
        replacement_price_per_hour: f64,
    },
    /// Why a node that could be consolidated is not (`Unconsolidatable`, logged on change).
    #[serde(rename_all = "camelCase")]
    Unconsolidatable {
        /// When, in seconds from the start.
        t_seconds: f64,
        /// The node.
        node: String,
        /// Karpenter's message.
        message: String,
    },
    /// Disruption of a node or of a NodePool is blocked (`DisruptionBlocked`, logged on
    /// change): a pod's annotation or budget, or the NodePool's disruption budget.
    #[serde(rename_all = "camelCase")]
    DisruptionBlocked {
        /// When, in seconds from the start.
        t_seconds: f64,
        /// The node, or `nodepool/<name>`.
        object: String,
        /// Karpenter's message.
        message: String,
    },
    /// A consolidation decision no longer held 15 s later (`ConsolidationRejected`).
    #[serde(rename_all = "camelCase")]
    ConsolidationRejected {
        /// When, in seconds from the start.
        t_seconds: f64,
        /// The nodes it was for.
        nodes: Vec<String>,
    },
    /// Pending pods no NodePool can launch a node for (logged when the count changes).
    #[serde(rename_all = "camelCase")]
    Unprovisionable {
        /// When, in seconds from the start.
        t_seconds: f64,
        /// How many.
        pods: usize,
        /// Why the first of them fits no offering.
        message: String,
    },
}

/// The open provisioning batch.
#[derive(Clone, Debug)]
struct Batch {
    opened: SimTime,
    last_new_pod: SimTime,
    pods: BTreeSet<PodId>,
}

/// Karpenter's controllers and what they remember between loops.
pub struct Karpenter {
    settings: KarpenterSettings,
    /// Each NodePool's offering pools, in pool order.
    offerings: Vec<Vec<PoolId>>,
    batch: Option<Batch>,
    /// When a non-DaemonSet pod last arrived on or left each node (`lastPodEventTime`).
    pod_events: BTreeMap<NodeId, SimTime>,
    disruption: disruption::State,
    /// The last `Unprovisionable` count, so a standing situation is logged once.
    last_unprovisionable: usize,
    /// The offerings' template nodes.
    templates: provisioner::Templates,
    /// Per NodePool, how many times an apply changed what its nodes are made with (labels,
    /// taints, node class: what upstream's `karpenter.sh/nodepool-hash` covers).
    static_revision: Vec<u32>,
    /// The NodePool's revision each node was launched with (absent: the first).
    launched_revision: BTreeMap<NodeId, u32>,
    /// What it did, in order (the engine takes them after the run).
    pub events: Vec<KarpenterEvent>,
}

impl Karpenter {
    /// Karpenter over the cluster's offering pools (`pools[i].spec.karpenter`).
    pub fn new(settings: KarpenterSettings, cluster: &Cluster) -> Self {
        let mut offerings = vec![Vec::new(); settings.node_pools.len()];
        for (i, pool) in cluster.pools.iter().enumerate() {
            if let Some(o) = pool.spec.karpenter.as_ref().filter(|o| o.admitted) {
                offerings[o.node_pool].push(PoolId(i as u32));
            }
        }
        let static_revision = vec![0; settings.node_pools.len()];
        Karpenter {
            static_revision,
            launched_revision: BTreeMap::new(),
            settings,
            offerings,
            batch: None,
            pod_events: BTreeMap::new(),
            disruption: disruption::State::default(),
            last_unprovisionable: 0,
            templates: provisioner::Templates::default(),
            events: Vec::new(),
        }
    }

    /// The NodePools.
    pub fn node_pools(&self) -> &[NodePool] {
        &self.settings.node_pools
    }

    /// A pod failed to schedule: it joins the batch (a pod already in it counts once). Returns
    /// when the batch should be checked, if this opened it.
    pub fn pod_unschedulable(&mut self, pod: PodId, now: SimTime) -> Option<SimTime> {
        match &mut self.batch {
            Some(b) => {
                if b.pods.insert(pod) {
                    b.last_new_pod = now;
                }
                None
            }
            None => {
                self.batch = Some(Batch {
                    opened: now,
                    last_new_pod: now,
                    pods: BTreeSet::from([pod]),
                });
                Some(now + self.settings.batch_idle_duration)
            }
        }
    }

    /// Whether the batch has closed at `now` (`Ok`), or when to look again (`Err`).
    pub fn batch_closed(&self, now: SimTime) -> Result<(), SimTime> {
        let Some(b) = &self.batch else {
            return Ok(());
        };
        let idle_end = b.last_new_pod + self.settings.batch_idle_duration;
        let max_end = b.opened + self.settings.batch_max_duration;
        let closes = idle_end.min(max_end);
        if now >= closes { Ok(()) } else { Err(closes) }
    }

    /// A non-DaemonSet pod arrived on `node` or left it.
    pub fn pod_event(&mut self, node: NodeId, now: SimTime) {
        self.pod_events.insert(node, now);
    }

    /// How often the disruption loop runs, or sooner when a decision is due.
    pub fn next_disruption_pass(&self, now: SimTime) -> SimTime {
        let next = now + KarpenterSettings::DISRUPTION_PERIOD;
        self.disruption
            .due()
            .map_or(next, |due| due.max(now).min(next))
    }

    /// A NodePool changed by `kubectl apply` (the engine has given its offerings their new
    /// labels and taints): from now on Karpenter launches what the new spec admits, and nodes
    /// launched before are drifted if their offering is no longer admitted or what they are
    /// made with changed.
    pub fn apply_node_pool(&mut self, applied: AppliedNodePool) {
        let i = applied.index;
        let (old, new) = (&self.settings.node_pools[i], &applied.spec);
        if old.labels != new.labels || old.taints != new.taints || old.node_class != new.node_class
        {
            self.static_revision[i] += 1;
        }
        self.offerings[i] = (applied.offerings.iter())
            .map(|&(p, ..)| PoolId(p as u32))
            .collect();
        self.settings.node_pools[i] = applied.spec;
        self.templates = provisioner::Templates::default();
        self.disruption.forget_consolidated();
    }

    /// Whether a node has drifted from its NodePool: its offering is no longer one the
    /// NodePool admits (upstream's `RequirementsDrifted`), or the NodePool's labels, taints or
    /// node class changed since it was launched (`NodePoolDrifted`, the hash).
    fn drifted(&self, cluster: &Cluster, node: &Node) -> bool {
        let Some(np) = self.node_pool_of(cluster, node) else {
            return false;
        };
        let launched = self.launched_revision.get(&node.id).copied().unwrap_or(0);
        launched != self.static_revision[np] || !self.offerings[np].contains(&node.pool)
    }

    /// The NodePool a node belongs to, if Karpenter launched it.
    fn node_pool_of(&self, cluster: &Cluster, node: &Node) -> Option<usize> {
        cluster.pools[node.pool.index()]
            .spec
            .karpenter
            .as_ref()
            .map(|o| o.node_pool)
    }

    /// `lastPodEventTime`, else when the node was created.
    fn last_pod_event(&self, node: &Node) -> SimTime {
        self.pod_events
            .get(&node.id)
            .copied()
            .unwrap_or(node.created)
    }
}

/// A node's price, USD per hour.
fn price_of(cluster: &Cluster, node: &Node) -> f64 {
    cluster.pools[node.pool.index()]
        .spec
        .billed_price_per_hour()
}

/// Pods that would have to move if the node went: bound, not terminating or finished, not
/// DaemonSet or mirror pods (`IsReschedulable`).
fn reschedulable(cluster: &Cluster, node: NodeId) -> impl Iterator<Item = &Pod> {
    cluster.pods_on(node).filter(|p| {
        p.deletion.is_none()
            && p.phase != PodPhase::Terminated
            && p.template.daemon_node.is_none()
            && !p.template.drain.mirror
    })
}

/// The Karpenter nodes that are up: Ready and not being deleted.
fn live_nodes(cluster: &Cluster) -> impl Iterator<Item = &Node> {
    cluster
        .ready_nodes
        .iter()
        .map(|&n| cluster.node(n))
        .filter(|n| {
            n.state == NodeState::Ready
                && !n.is_to_be_deleted()
                && cluster.pools[n.pool.index()].spec.karpenter.is_some()
        })
}

/// Seconds from the start, for events.
fn secs(t: SimTime) -> f64 {
    t.as_secs_f64()
}
