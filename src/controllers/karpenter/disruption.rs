//! Karpenter's disruption controller (`pkg/controllers/disruption`) and the NodeClaim
//! expiration and termination it hands nodes to.
//!
//! Each pass (every 10 s, or when a decision is due): drains in progress go on (forced past
//! the NodePool's `terminationGracePeriod`); replacements that turned Ready let the nodes they
//! replace go; nodes past `expireAfter` are deleted (no budget applies); a decision computed
//! 15 s ago is simulated again and carried out if it still holds; and, when none is waiting, a
//! new one is computed — the first method that finds something wins: emptiness (every empty
//! consolidatable node the `Empty` budget allows), multi-node consolidation (the longest prefix
//! of the candidates, sorted by savings per disruption cost, that can go with at most one
//! cheaper node replacing them, found by binary search), single-node consolidation (the first
//! candidate that can be deleted or replaced by a cheaper node). A pass tries at most
//! [`MAX_SINGLE_NODE_TRIES`] single-node candidates, kubesim's stand-in for upstream's 3-minute
//! timeout; a pass that finds nothing is not repeated until nodes or pods change or 5 minutes
//! pass, as upstream marks the cluster consolidated. Drift (`disruption/drift.rs`) comes between emptiness
//! and consolidation, as upstream orders its methods, and acts at once (no validation).

mod drift;

use std::collections::BTreeMap;

use super::provisioner::{Claim, Packer, by_cpu_and_memory_descending, place_on_existing};
use super::{Karpenter, KarpenterEvent, live_nodes, price_of, reschedulable, secs};
use crate::cluster::resources::TaintEffect;
use crate::cluster::{Cluster, Node, NodeId, NodeState, PodId};
use crate::controllers::{Intent, disruption as pdb};
use crate::sim::{SimDuration, SimTime};
use crate::spec::karpenter::{
    ConsolidationPolicy, DISRUPTED_TAINT, DisruptionReason, KarpenterSettings, allowed_disruptions,
    eviction_cost,
};
use crate::spec::model::{CapacityType, DoNotDisrupt};

/// Single-node candidates simulated per pass at most.
pub const MAX_SINGLE_NODE_TRIES: usize = 20;
/// A pass that found nothing is repeated after this long even when nothing changed.
const CONSOLIDATED_FOR: SimDuration = SimDuration::from_secs(300);

/// What the disruption controller remembers between passes.
#[derive(Clone, Debug, Default)]
pub struct State {
    pending: Option<Command>,
    replacing: Vec<Replacement>,
    terminating: BTreeMap<NodeId, Termination>,
    /// The last `Unconsolidatable` / `DisruptionBlocked` message per object, to log changes.
    said: BTreeMap<String, String>,
    /// The cluster as it was when a pass last found nothing: ready-nodes version, bound pods,
    /// and when.
    consolidated: Option<(u64, usize, SimTime)>,
}

impl State {
    /// When the waiting decision is due, if one is.
    pub fn due(&self) -> Option<SimTime> {
        self.pending.as_ref().map(|c| c.due)
    }

    /// Forgets that the last pass found nothing (a NodePool changed).
    pub fn forget_consolidated(&mut self) {
        self.consolidated = None;
    }

    fn busy(&self, node: NodeId) -> bool {
        self.terminating.contains_key(&node)
            || self.replacing.iter().any(|r| r.candidates.contains(&node))
            || self
                .pending
                .as_ref()
                .is_some_and(|c| c.candidates.contains(&node))
    }
}

/// A decision waiting for its 15 s validation.
#[derive(Clone, Debug)]
struct Command {
    reason: DisruptionReason,
    candidates: Vec<NodeId>,
    replacement: Option<Claim>,
    due: SimTime,
}

/// Nodes waiting for their replacements to turn Ready.
#[derive(Clone, Debug)]
struct Replacement {
    reason: DisruptionReason,
    candidates: Vec<NodeId>,
    nodes: Vec<NodeId>,
}

/// A node being drained.
#[derive(Clone, Copy, Debug)]
struct Termination {
    since: SimTime,
    grace: Option<SimDuration>,
}

/// A node that may be disrupted, with what its NodePool says.
#[derive(Clone, Debug)]
struct Candidate {
    node: NodeId,
    node_pool: usize,
    price: f64,
    /// `RescheduleDisruptionCost`: 1 + Σ max(0, eviction cost) over its reschedulable pods.
    disruption_cost: f64,
    /// `RescheduleDisruptionCost ≤ 1`.
    empty: bool,
}

impl Karpenter {
    /// One pass of the disruption controller.
    pub fn disrupt(&mut self, cluster: &mut Cluster, now: SimTime) -> Vec<Intent> {
        let mut intents = Vec::new();
        self.continue_terminations(cluster, now, &mut intents);
        // Drains going on do not hold back new decisions; what this pass starts does (the
        // next pass sees the cluster after it).
        let ongoing = intents.len();
        self.finish_replacements(cluster, now, &mut intents);
        self.expire(cluster, now, &mut intents);
        if self
            .disruption
            .pending
            .as_ref()
            .is_some_and(|c| c.due <= now)
        {
            let command = self.disruption.pending.take().expect("checked");
            self.carry_out(cluster, command, now, &mut intents);
        }
        if self.disruption.pending.is_none() && intents.len() == ongoing {
            self.disruption.pending = self.compute(cluster, now, &mut intents);
        }
        intents
    }

    fn continue_terminations(&mut self, cluster: &Cluster, now: SimTime, out: &mut Vec<Intent>) {
        let t = &mut self.disruption.terminating;
        t.retain(|&n, _| cluster.node(n).state != NodeState::Removed);
        for (&node, term) in t.iter() {
            let force = term
                .grace
                .is_some_and(|g| now.saturating_since(term.since) >= g);
            out.push(Intent::DisruptNode { node, force });
        }
    }

    fn terminate(&mut self, cluster: &Cluster, node: NodeId, now: SimTime, out: &mut Vec<Intent>) {
        let np = self.node_pool_of(cluster, cluster.node(node));
        let grace = np.and_then(|i| self.settings.node_pools[i].termination_grace_period);
        self.disruption
            .terminating
            .insert(node, Termination { since: now, grace });
        out.push(Intent::DisruptNode { node, force: false });
    }

    fn finish_replacements(&mut self, cluster: &Cluster, now: SimTime, out: &mut Vec<Intent>) {
        let replacing = std::mem::take(&mut self.disruption.replacing);
        for r in replacing {
            let state = |s| r.nodes.iter().any(|&n| cluster.node(n).state == s);
            if state(NodeState::Removed) {
                for &node in &r.candidates {
                    out.push(Intent::CancelScaleDown { node });
                }
            } else if state(NodeState::Provisioning) {
                self.disruption.replacing.push(r);
            } else {
                let spec = |n: NodeId| &cluster.pools[cluster.node(n).pool.index()].spec;
                let types: Vec<String> = (r.nodes.iter())
                    .map(|&n| spec(n).instance_type.clone().unwrap_or_default())
                    .collect();
                let price = r
                    .nodes
                    .iter()
                    .map(|&n| spec(n).billed_price_per_hour())
                    .sum();
                let replacement = Some((types.join(", "), price));
                self.disrupted(cluster, r.reason, &r.candidates, replacement, now);
                for &c in &r.candidates {
                    if cluster.node(c).state == NodeState::Ready {
                        self.terminate(cluster, c, now, out);
                    }
                }
            }
        }
    }

    fn disrupted(
        &mut self,
        cluster: &Cluster,
        reason: DisruptionReason,
        nodes: &[NodeId],
        replacement: Option<(String, f64)>,
        now: SimTime,
    ) {
        let price = nodes
            .iter()
            .map(|&n| price_of(cluster, cluster.node(n)))
            .sum();
        self.events.push(KarpenterEvent::Disrupted {
            t_seconds: secs(now),
            reason,
            nodes: nodes
                .iter()
                .map(|&n| cluster.node(n).name.clone())
                .collect(),
            replacement_price_per_hour: replacement.as_ref().map_or(0.0, |r| r.1),
            replacement: replacement.map(|r| r.0),
            price_per_hour: price,
        });
    }

    /// NodeClaims past `expireAfter` are deleted (forceful: no budget, no replacement first;
    /// their pods go back to the provisioner).
    fn expire(&mut self, cluster: &Cluster, now: SimTime, out: &mut Vec<Intent>) {
        let expired: Vec<NodeId> = live_nodes(cluster)
            .filter(|n| !self.disruption.busy(n.id))
            .filter(|n| {
                let np = self
                    .node_pool_of(cluster, n)
                    .expect("live nodes are Karpenter's");
                let after = self.settings.node_pools[np].expire_after;
                after.is_some_and(|a| now.saturating_since(n.created) >= a)
            })
            .map(|n| n.id)
            .collect();
        for node in expired {
            self.disrupted(cluster, DisruptionReason::Expired, &[node], None, now);
            self.terminate(cluster, node, now, out);
        }
    }

    /// Says `message` about `object` under `kind`, when it differs from what was said last.
    fn say(&mut self, object: String, message: String, now: SimTime, blocked: bool) {
        if self.disruption.said.get(&object) == Some(&message) {
            return;
        }
        self.disruption.said.insert(object.clone(), message.clone());
        let t_seconds = secs(now);
        self.events.push(if blocked {
            KarpenterEvent::DisruptionBlocked {
                t_seconds,
                object,
                message,
            }
        } else {
            KarpenterEvent::Unconsolidatable {
                t_seconds,
                node: object,
                message,
            }
        });
    }

    /// Why the pods of `node` block its disruption, if they do.
    fn pods_block(
        &self,
        cluster: &Cluster,
        node: NodeId,
        allowed: &[i32],
        now: SimTime,
    ) -> Option<String> {
        for p in cluster.pods_on(node).filter(|p| p.deletion.is_none()) {
            let running = p
                .started
                .map_or(SimDuration::ZERO, |s| now.saturating_since(s));
            let annotated = match p.template.drain.do_not_disrupt {
                Some(DoNotDisrupt::Always) => true,
                Some(DoNotDisrupt::For(d)) => running < d,
                None => false,
            };
            if annotated {
                return Some(format!(
                    "pod {:?} has \"karpenter.sh/do-not-disrupt\" annotation",
                    p.name
                ));
            }
            if p.template.daemon_node.is_none() && pdb::blocks(cluster, allowed, p) {
                return Some(format!("pdb prevents pod evictions (pod {:?})", p.name));
            }
        }
        None
    }

    /// The nodes that may be disrupted now, in node order.
    fn candidates(&mut self, cluster: &Cluster, now: SimTime) -> Vec<Candidate> {
        let allowed = pdb::disruptions_allowed(cluster);
        let nodes: Vec<&Node> = live_nodes(cluster)
            .filter(|n| !self.disruption.busy(n.id))
            .collect();
        let mut out = Vec::new();
        for n in nodes {
            let np = self
                .node_pool_of(cluster, n)
                .expect("live nodes are Karpenter's");
            let pool = &self.settings.node_pools[np];
            let Some(after) = pool.consolidate_after else {
                continue;
            };
            if now.saturating_since(self.last_pod_event(n)) < after {
                continue;
            }
            if let Some(why) = self.pods_block(cluster, n.id, &allowed, now) {
                self.say(n.name.clone(), why, now, true);
                continue;
            }
            let costs: Vec<f64> = reschedulable(cluster, n.id)
                .map(|p| eviction_cost(0, i64::from(p.template.priority)).max(0.0))
                .collect();
            let disruption_cost = 1.0 + costs.iter().sum::<f64>();
            let empty = disruption_cost <= 1.0;
            if !empty && pool.consolidation_policy == ConsolidationPolicy::WhenEmpty {
                let message = format!(
                    "NodePool {:?} has consolidation policy WhenEmpty, but node is not empty",
                    pool.name
                );
                self.say(n.name.clone(), message, now, false);
                continue;
            }
            out.push(Candidate {
                node: n.id,
                node_pool: np,
                price: price_of(cluster, n),
                disruption_cost,
                empty,
            });
        }
        out
    }

    /// How many more nodes of each NodePool may be disrupted for `reason`:
    /// `max(budget(nodes) − disrupting, 0)`, nodes counting the NodePool's Ready nodes.
    fn budget_left(
        &mut self,
        cluster: &Cluster,
        reason: DisruptionReason,
        now: SimTime,
    ) -> Vec<i64> {
        let n = self.settings.node_pools.len();
        let (mut nodes, mut disrupting) = (vec![0i32; n], vec![0i32; n]);
        for node in cluster.ready_nodes.iter().map(|&id| cluster.node(id)) {
            if let Some(np) = self.node_pool_of(cluster, node) {
                nodes[np] += 1;
                if node.is_to_be_deleted() || node.unreachable {
                    disrupting[np] += 1;
                }
            }
        }
        let mut left = Vec::with_capacity(n);
        for np in 0..n {
            let pool = &self.settings.node_pools[np];
            let budget = allowed_disruptions(&pool.budgets, nodes[np], reason, now);
            if budget == 0 && nodes[np] > 0 {
                let message = format!(
                    "No allowed disruptions for disruption reason {} due to blocking budget",
                    reason.as_str()
                );
                self.say(format!("nodepool/{}", pool.name), message, now, true);
            }
            left.push((i64::from(budget) - i64::from(disrupting[np])).max(0));
        }
        left
    }

    /// The next decision, if any method finds one.
    fn compute(
        &mut self,
        cluster: &mut Cluster,
        now: SimTime,
        out: &mut Vec<Intent>,
    ) -> Option<Command> {
        let candidates = self.candidates(cluster, now);
        let command = |reason, candidates, replacement| Command {
            reason,
            candidates,
            replacement,
            due: now + KarpenterSettings::VALIDATION_DELAY,
        };
        let mut left = self.budget_left(cluster, DisruptionReason::Empty, now);
        let empty: Vec<NodeId> = (candidates.iter())
            .filter(|c| c.empty && take_budget(&mut left, c.node_pool))
            .map(|c| c.node)
            .collect();
        if !empty.is_empty() {
            return Some(command(DisruptionReason::Empty, empty, None));
        }
        if self.drift(cluster, now, out) {
            return None;
        }
        let fingerprint = (cluster.ready_nodes_version, bound_pods(cluster));
        if let Some((v, p, at)) = self.disruption.consolidated
            && (v, p) == fingerprint
            && now.saturating_since(at) < CONSOLIDATED_FOR
        {
            return None;
        }
        let mut underutilized: Vec<Candidate> =
            candidates.into_iter().filter(|c| !c.empty).collect();
        // SavingsRatio = price / disruption cost, descending (v1.14); ties by node.
        underutilized.sort_by(|a, b| {
            (b.price / b.disruption_cost)
                .total_cmp(&(a.price / a.disruption_cost))
                .then(a.node.cmp(&b.node))
        });
        let mut left = self.budget_left(cluster, DisruptionReason::Underutilized, now);
        underutilized.retain(|c| take_budget(&mut left, c.node_pool));
        let found = self
            .multi_node(cluster, &underutilized)
            .or_else(|| self.single_node(cluster, &underutilized, now));
        match found {
            Some((nodes, replacement)) => {
                Some(command(DisruptionReason::Underutilized, nodes, replacement))
            }
            None => {
                self.disruption.consolidated = Some((fingerprint.0, fingerprint.1, now));
                None
            }
        }
    }

    /// Multi-node consolidation: the longest prefix (at least 2) that can be deleted or
    /// replaced by one cheaper node, by binary search over its length.
    fn multi_node(
        &mut self,
        cluster: &mut Cluster,
        sorted: &[Candidate],
    ) -> Option<(Vec<NodeId>, Option<Claim>)> {
        let n = sorted
            .len()
            .min(KarpenterSettings::MULTI_NODE_MAX_CANDIDATES);
        if n < 2 {
            return None;
        }
        let (mut lo, mut hi) = (1usize, n - 1);
        let mut best = None;
        while lo <= hi {
            let mid = (lo + hi) / 2;
            let nodes: Vec<NodeId> = sorted[..=mid].iter().map(|c| c.node).collect();
            match self.consolidation(cluster, &nodes, true) {
                Ok(replacement) => {
                    best = Some((nodes, replacement));
                    lo = mid + 1;
                }
                Err(_) => {
                    if mid == 0 {
                        break;
                    }
                    hi = mid - 1;
                }
            }
        }
        best
    }

    /// Single-node consolidation: the first candidate that can go.
    fn single_node(
        &mut self,
        cluster: &mut Cluster,
        sorted: &[Candidate],
        now: SimTime,
    ) -> Option<(Vec<NodeId>, Option<Claim>)> {
        for c in sorted.iter().take(MAX_SINGLE_NODE_TRIES) {
            match self.consolidation(cluster, &[c.node], false) {
                Ok(replacement) => return Some((vec![c.node], replacement)),
                Err(message) => {
                    let name = cluster.node(c.node).name.clone();
                    self.say(name, message, now, false);
                }
            }
        }
        None
    }

    /// Whether `nodes` can go: `Ok(None)` when their pods fit on the other nodes, `Ok(Some)`
    /// with the one cheaper node that would take the rest, or why not.
    fn consolidation(
        &self,
        cluster: &mut Cluster,
        nodes: &[NodeId],
        multi: bool,
    ) -> Result<Option<Claim>, String> {
        let claims = self.simulate(cluster, nodes)?;
        match claims.len() {
            0 => Ok(None),
            1 => {
                let claim = claims.into_iter().next().expect("one");
                self.cheaper(cluster, nodes, claim, multi).map(Some)
            }
            n => Err(format!("Can't remove without creating {n} candidates")),
        }
    }

    /// The NodeClaims needed if `nodes` went: their pods (which must all find a place) and the
    /// pending pods, packed onto the other initialized nodes, then onto new claims.
    fn simulate(&self, cluster: &mut Cluster, nodes: &[NodeId]) -> Result<Vec<Claim>, String> {
        let mut moving: Vec<PodId> = nodes
            .iter()
            .flat_map(|&n| reschedulable(cluster, n).map(|p| p.id))
            .collect();
        by_cpu_and_memory_descending(cluster, &mut moving);
        let pending = self.provisionable(cluster);
        let not_candidate = |n: &Node| nodes.contains(&n.id);
        let uninitialized = |n: &Node| nodes.contains(&n.id) || n.state == NodeState::Provisioning;
        let mut left = place_on_existing(
            cluster,
            &[(&pending, &not_candidate), (&moving, &uninitialized)],
        );
        let (moving, pending) = (
            left.pop().unwrap_or_default(),
            left.pop().unwrap_or_default(),
        );
        let cluster: &Cluster = cluster;
        let mut packer = Packer::new(self, cluster);
        for &id in &moving {
            packer.add(cluster, cluster.pod(id)).map_err(|_| {
                format!(
                    "not all pods would schedule, {} would not fit",
                    cluster.pod(id).name
                )
            })?;
        }
        for &id in &pending {
            let _ = packer.add(cluster, cluster.pod(id));
        }
        Ok(packer.claims)
    }

    /// Keeps the claim's options whose instance type's worst launch price is below what
    /// `nodes` cost, pinned to spot when spot is left (`RemoveInstanceTypeOptionsByPrice…`,
    /// spot-to-spot rules, and multi-node's `filterOutSameInstanceType`).
    fn cheaper(
        &self,
        cluster: &Cluster,
        nodes: &[NodeId],
        mut claim: Claim,
        multi: bool,
    ) -> Result<Claim, String> {
        let spec = |n: &Node| &cluster.pools[n.pool.index()].spec;
        let is_spot = |n: &Node| spec(n).capacity_type == CapacityType::Spot;
        let price: f64 = nodes
            .iter()
            .map(|&n| price_of(cluster, cluster.node(n)))
            .sum();
        let all_spot = nodes.iter().all(|&n| is_spot(cluster.node(n)));
        let has_spot = claim.options.iter().any(is_spot);
        if all_spot && has_spot && !self.settings.spot_to_spot_consolidation {
            return Err(
                "SpotToSpotConsolidation is disabled, can't replace a spot node with a spot node"
                    .into(),
            );
        }
        if has_spot {
            claim.options.retain(is_spot);
        }
        let mut worst: BTreeMap<String, f64> = BTreeMap::new();
        for o in &claim.options {
            let t = spec(o).instance_type.clone().unwrap_or_default();
            let p = spec(o).billed_price_per_hour();
            let w = worst.entry(t).or_insert(p);
            *w = w.max(p);
        }
        claim
            .options
            .retain(|o| worst[spec(o).instance_type.as_deref().unwrap_or_default()] < price);
        if multi {
            let own: Vec<f64> = (nodes.iter().map(|&n| cluster.node(n)))
                .filter(|n| {
                    claim
                        .options
                        .iter()
                        .any(|o| spec(o).instance_type == spec(n).instance_type)
                })
                .map(|n| price_of(cluster, n))
                .collect();
            if let Some(cap) = own.into_iter().reduce(f64::min) {
                claim
                    .options
                    .retain(|o| spec(o).billed_price_per_hour() < cap);
            }
        }
        if claim.options.is_empty() {
            return Err("Can't replace with a cheaper node".into());
        }
        let types = claim.instance_types(cluster);
        if all_spot && !multi && types < KarpenterSettings::MIN_SPOT_TO_SPOT_TYPES {
            return Err(format!(
                "SpotToSpotConsolidation requires {} cheaper instance type options than the current candidate to consolidate, got {types}",
                KarpenterSettings::MIN_SPOT_TO_SPOT_TYPES
            ));
        }
        Ok(claim)
    }

    /// A decision 15 s old: still valid (the same nodes are candidates, and for consolidation
    /// the simulation still deletes, or still replaces with one cheaper node), it is carried
    /// out; else rejected. Empty nodes that are no longer empty are dropped from the decision.
    fn carry_out(
        &mut self,
        cluster: &mut Cluster,
        command: Command,
        now: SimTime,
        out: &mut Vec<Intent>,
    ) {
        let current = self.candidates(cluster, now);
        let still: Vec<NodeId> = (command.candidates.iter().copied())
            .filter(|n| {
                current
                    .iter()
                    .any(|c| c.node == *n && (command.reason != DisruptionReason::Empty || c.empty))
            })
            .collect();
        let valid = match command.reason {
            DisruptionReason::Empty => !still.is_empty(),
            _ => {
                still.len() == command.candidates.len() && {
                    let again = self.consolidation(cluster, &still, still.len() > 1);
                    matches!(
                        (&again, &command.replacement),
                        (Ok(None), None) | (Ok(Some(_)), Some(_))
                    )
                }
            }
        };
        if !valid {
            self.events.push(KarpenterEvent::ConsolidationRejected {
                t_seconds: secs(now),
                nodes: command
                    .candidates
                    .iter()
                    .map(|&n| cluster.node(n).name.clone())
                    .collect(),
            });
            return;
        }
        match &command.replacement {
            None => {
                self.disrupted(cluster, command.reason, &still, None, now);
                for node in still {
                    self.terminate(cluster, node, now, out);
                }
            }
            Some(claim) => {
                let claims = std::slice::from_ref(claim);
                self.start_replacement(cluster, command.reason, still, claims, now, out);
            }
        }
    }
}

impl Karpenter {
    /// Replaces `candidates` by new nodes for `claims`: the candidates are tainted
    /// `karpenter.sh/disrupted:NoSchedule`, a node is launched per claim (as the cluster's next
    /// nodes), and the candidates are drained once every replacement is Ready
    /// (`finish_replacements`).
    fn start_replacement(
        &mut self,
        cluster: &Cluster,
        reason: DisruptionReason,
        candidates: Vec<NodeId>,
        claims: &[Claim],
        now: SimTime,
        out: &mut Vec<Intent>,
    ) {
        for &node in &candidates {
            out.push(Intent::TaintNode {
                node,
                key: DISRUPTED_TAINT,
                effect: TaintEffect::NoSchedule,
            });
        }
        let first = cluster.nodes.len();
        let mut nodes = Vec::new();
        for (i, claim) in claims.iter().enumerate() {
            let id = NodeId((first + i) as u32);
            out.push(self.launch(cluster, claim, reason.as_str(), now, id));
            nodes.push(id);
        }
        self.disruption.replacing.push(Replacement {
            reason,
            candidates,
            nodes,
        });
    }
}

/// Takes one from the NodePool's budget, if any is left.
fn take_budget(left: &mut [i64], node_pool: usize) -> bool {
    if left[node_pool] > 0 {
        left[node_pool] -= 1;
        true
    } else {
        false
    }
}

/// Pods bound to nodes, a cheap sign that the cluster changed.
fn bound_pods(cluster: &Cluster) -> usize {
    cluster
        .ready_nodes
        .iter()
        .map(|&n| cluster.node(n).pods.len())
        .sum()
}
