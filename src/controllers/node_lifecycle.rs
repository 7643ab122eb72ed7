//! The node lifecycle controller (`pkg/controller/nodelifecycle`, E.5): every
//! `--node-monitor-period` (5 s) it looks at each node's last heartbeat.
//!
//! - A node silent for `--node-monitor-grace-period` (50 s) turns `Ready=Unknown`: it gets
//!   the `node.kubernetes.io/unreachable:NoSchedule` taint and its pods are marked not Ready,
//!   so the Services stop sending them traffic ([`Intent::MarkNodeUnreachable`]).
//! - The `unreachable:NoExecute` taint follows in the same pass, rate-limited per zone: one
//!   node every 10 s (`--node-eviction-rate=0.1`); in a partially disrupted zone — more than 2 and at least
//!   55 % of its nodes unreachable (`--unhealthy-zone-threshold`) — 0.01 nodes/s
//!   (`--secondary-node-eviction-rate`), or none when the zone has at most 50 nodes
//!   (`--large-cluster-size-threshold`); a fully disrupted zone keeps the normal rate, but when
//!   every zone is fully unreachable no node is tainted and the NoExecute taints already
//!   placed come off (`handleDisruption`'s "master disruption mode").
//! - The NoExecute taint manager evicts (deletes) each pod `tolerationSeconds` after the
//!   taint ([`toleration_time`]): 300 s from the toleration DefaultTolerationSeconds admission
//!   adds to a pod without one of its own; never for DaemonSet pods.
//! - A node heartbeating again is Ready: the taints come off ([`Intent::MarkNodeReachable`]).
//!
//! Each decision comes with a [`Note`] saying why, with its numbers ([`note`]).

pub mod note;

use std::collections::{BTreeMap, BTreeSet};

pub use note::Note;
use note::{Tolerations, ZoneView};

use super::Intent;
use crate::cluster::resources::{Taint, TaintEffect, Toleration, UNREACHABLE_TAINT_KEY};
use crate::cluster::topology::Domain;
use crate::cluster::{Cluster, NodeId, NodeState, PodPhase, ZONE_LABEL};
use crate::sim::{SimDuration, SimTime};

/// `--node-monitor-period`.
pub const MONITOR_PERIOD: SimDuration = SimDuration::from_secs(5);
/// `--node-monitor-grace-period`.
pub const MONITOR_GRACE_PERIOD: SimDuration = SimDuration::from_secs(50);
/// `--default-unreachable-toleration-seconds`.
pub const DEFAULT_TOLERATION: SimDuration = SimDuration::from_secs(300);
/// `--node-eviction-rate` 0.1 nodes/s: one node per 10 s per zone.
const PRIMARY_INTERVAL: SimDuration = SimDuration::from_secs(10);
/// `--secondary-node-eviction-rate` 0.01 nodes/s.
const SECONDARY_INTERVAL: SimDuration = SimDuration::from_secs(100);
/// `--unhealthy-zone-threshold`.
const UNHEALTHY_ZONE_THRESHOLD: f64 = 0.55;
/// `--large-cluster-size-threshold` (compared with a zone's size).
const LARGE_CLUSTER_SIZE: usize = 50;

/// The controller's memory: when each node turned NotReady and got its NoExecute taint, which
/// nodes' taints the zones' state holds back, and when each zone last had a node tainted.
#[derive(Clone, Debug, Default)]
pub struct NodeLifecycleController {
    not_ready_at: BTreeMap<NodeId, SimTime>,
    tainted_at: BTreeMap<NodeId, SimTime>,
    held: BTreeSet<NodeId>,
    zone_last_taint: BTreeMap<String, SimTime>,
}

/// What one monitor pass decided: the intents, and a note on each decision for the event log.
#[derive(Debug, Default)]
pub struct Pass {
    /// What the engine applies, in order.
    pub intents: Vec<Intent>,
    /// Why, node by node, in the order decided.
    pub notes: Vec<(NodeId, Note)>,
}

impl NodeLifecycleController {
    /// One monitor pass.
    pub fn monitor(&mut self, cluster: &Cluster, now: SimTime) -> Pass {
        let mut pass = Pass::default();
        for &id in &cluster.ready_nodes {
            let node = cluster.node(id);
            let silent_since = node.down_since.filter(|_| silent(cluster, id, now));
            if let (Some(last_heartbeat), false) = (silent_since, node.unreachable) {
                pass.intents.push(Intent::MarkNodeUnreachable { node: id });
                let pods = (cluster.pods_on(id))
                    .filter(|p| p.deletion.is_none() && p.phase == PodPhase::Running)
                    .count();
                let note = Note::NotReady {
                    last_heartbeat,
                    now,
                    pods,
                };
                pass.notes.push((id, note));
                self.not_ready_at.insert(id, now);
            } else if node.down_since.is_none() && node.unreachable {
                pass.intents.push(Intent::MarkNodeReachable { node: id });
                let since = self.not_ready_at.remove(&id);
                let not_ready_for = since.map(|t| now.saturating_since(t));
                pass.notes.push((id, Note::Ready { not_ready_for }));
                self.tainted_at.remove(&id);
                self.held.remove(&id);
            }
        }
        let ready = |n: &NodeId| cluster.node(*n).state == NodeState::Ready;
        self.tainted_at.retain(|n, _| ready(n));
        self.not_ready_at.retain(|n, _| ready(n));
        self.held.retain(ready);
        self.taint_no_execute(cluster, now, &mut pass);
        self.evict(cluster, now, &mut pass);
        pass
    }

    /// Rate-limited `unreachable:NoExecute` taints for the nodes silent past the grace period
    /// (those marked NotReady in this very pass too: upstream taints within 100 ms).
    fn taint_no_execute(&mut self, cluster: &Cluster, now: SimTime, pass: &mut Pass) {
        let to_taint = |tainted: &BTreeMap<NodeId, SimTime>, id: NodeId| {
            silent(cluster, id, now) && !tainted.contains_key(&id)
        };
        let pending = (cluster.ready_nodes.iter()).any(|&id| to_taint(&self.tainted_at, id));
        if !pending && self.tainted_at.is_empty() {
            return; // nothing to taint or untaint: the zones' health does not matter
        }
        let zones = zone_health(cluster, now);
        let every_zone = zones.values().all(|z| z.unreachable == z.nodes);
        if every_zone {
            self.enter_disruption_mode(cluster, &zones, pass);
        }
        for &id in &cluster.ready_nodes {
            if to_taint(&self.tainted_at, id) {
                self.taint_one(cluster, id, &zones, every_zone, now, pass);
            }
        }
    }

    /// Taints one silent node NoExecute if its zone's limiter allows it now, or notes (once)
    /// that the zones' state holds its taint back.
    fn taint_one(
        &mut self,
        cluster: &Cluster,
        id: NodeId,
        zones: &BTreeMap<&str, ZoneHealth>,
        every_zone: bool,
        now: SimTime,
        pass: &mut Pass,
    ) {
        let zone = zone_of(cluster, id);
        let view = ZoneView {
            name: zone.to_string(),
            health: zones[zone],
        };
        // Every zone fully disrupted (the controller assumes its own network failed), or a
        // partially disrupted small zone: no taints.
        let Some(interval) = taint_interval(zones[zone]).filter(|_| !every_zone) else {
            if self.held.insert(id) {
                let untainted = false;
                let note = Note::Held {
                    zone: view,
                    every_zone,
                    untainted,
                };
                pass.notes.push((id, note));
            }
            return;
        };
        let last = self.zone_last_taint.get(zone);
        if last.is_some_and(|&t| now < t + interval) {
            return;
        }
        self.zone_last_taint.insert(zone.to_string(), now);
        self.tainted_at.insert(id, now);
        self.held.remove(&id);
        pass.intents.push(Intent::TaintNode {
            node: id,
            key: UNREACHABLE_TAINT_KEY,
            effect: TaintEffect::NoExecute,
        });
        let since = self.not_ready_at.get(&id).copied().unwrap_or(now);
        let note = Note::Tainted {
            zone: view,
            waited: now.saturating_since(since),
            pods: tolerations_on(cluster, id),
        };
        pass.notes.push((id, note));
    }

    /// Every zone is fully disrupted: upstream's "master disruption mode" takes the NoExecute
    /// taint off every node that has it (`markNodeAsReachable`), so no pod is evicted while the
    /// controller may be the one cut off. Their taints come back at the zones' rates once a
    /// node is heard from.
    fn enter_disruption_mode(
        &mut self,
        cluster: &Cluster,
        zones: &BTreeMap<&str, ZoneHealth>,
        pass: &mut Pass,
    ) {
        for (id, _) in std::mem::take(&mut self.tainted_at) {
            pass.intents.push(Intent::UntaintNode {
                node: id,
                key: UNREACHABLE_TAINT_KEY,
                effect: TaintEffect::NoExecute,
            });
            self.held.insert(id);
            let zone = zone_of(cluster, id);
            let view = ZoneView {
                name: zone.to_string(),
                health: zones[zone],
            };
            let note = Note::Held {
                zone: view,
                every_zone: true,
                untainted: true,
            };
            pass.notes.push((id, note));
        }
    }

    /// The taint manager: pods on NoExecute-tainted nodes whose toleration ran out.
    fn evict(&self, cluster: &Cluster, now: SimTime, pass: &mut Pass) {
        for (&node, &tainted) in &self.tainted_at {
            let mut evicted: BTreeMap<SimDuration, Vec<String>> = BTreeMap::new();
            for pod in cluster.pods_on(node).filter(|p| p.deletion.is_none()) {
                let tolerated = if cluster.deployment(pod.deployment).is_daemon_set() {
                    None // the DaemonSet controller's toleration has no limit
                } else {
                    toleration_time(&pod.template.tolerations, &no_execute_taint())
                };
                if let Some(t) = tolerated.filter(|&t| now.saturating_since(tainted) >= t) {
                    pass.intents.push(Intent::EvictPod { pod: pod.id });
                    evicted.entry(t).or_default().push(pod.name.clone());
                }
            }
            if !evicted.is_empty() {
                pass.notes.push((node, Note::Evicting { pods: evicted }));
            }
        }
    }
}

/// The taint the taint manager acts on.
fn no_execute_taint() -> Taint {
    Taint {
        key: UNREACHABLE_TAINT_KEY.into(),
        value: String::new(),
        effect: TaintEffect::NoExecute,
    }
}

/// How long each pod on `node` will tolerate the NoExecute taint.
fn tolerations_on(cluster: &Cluster, node: NodeId) -> Tolerations {
    let mut out = Tolerations::default();
    for pod in cluster.pods_on(node).filter(|p| p.deletion.is_none()) {
        if cluster.deployment(pod.deployment).is_daemon_set() {
            out.daemon_set += 1;
        } else {
            let time = toleration_time(&pod.template.tolerations, &no_execute_taint());
            *out.by_time.entry(time).or_default() += 1;
        }
    }
    out
}

/// How long a pod with `tolerations` stays on a node with the NoExecute `taint` (`None`: for
/// ever). Without a matching toleration, DefaultTolerationSeconds admission gave it one of
/// 300 s; otherwise `getMinTolerationTime` over the matching ones: the least `tolerationSeconds`
/// (0 if any is ≤ 0), or for ever when none sets it.
pub fn toleration_time(tolerations: &[Toleration], taint: &Taint) -> Option<SimDuration> {
    let matching: Vec<&Toleration> = tolerations.iter().filter(|t| t.tolerates(taint)).collect();
    if matching.is_empty() {
        return Some(DEFAULT_TOLERATION);
    }
    matching
        .iter()
        .filter_map(|t| t.seconds)
        .min()
        .map(|s| SimDuration::from_secs(u64::try_from(s).unwrap_or(0)))
}

/// `setLimiterInZone` after `ComputeZoneState`: how long a zone waits between NoExecute taints,
/// or `None` when it taints nothing. A zone is fully disrupted when none of its nodes is
/// reachable (the normal rate), partially when more than 2 and at least 55 % are unreachable
/// (the secondary rate, or none in a zone of at most 50 nodes).
fn taint_interval(zone: ZoneHealth) -> Option<SimDuration> {
    let full = zone.unreachable == zone.nodes;
    let partial = !full
        && zone.unreachable > 2
        && zone.unreachable as f64 / zone.nodes as f64 >= UNHEALTHY_ZONE_THRESHOLD;
    match (partial, zone.nodes > LARGE_CLUSTER_SIZE) {
        (false, _) => Some(PRIMARY_INTERVAL),
        (true, true) => Some(SECONDARY_INTERVAL),
        (true, false) => None,
    }
}

/// Nodes and unreachable nodes per zone (nodes without a zone label form the zone "").
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ZoneHealth {
    /// The zone's nodes.
    pub nodes: usize,
    /// How many of them are unreachable.
    pub unreachable: usize,
}

/// Each zone's health over the Ready nodes. Nodes are counted by their zone's id in the
/// topology index (no label looked up by string for each of 10 000 nodes at every pass), the
/// others (no zone label, or a value the index lacks) by name.
fn zone_health(cluster: &Cluster, now: SimTime) -> BTreeMap<&str, ZoneHealth> {
    let index = cluster.topology.key(ZONE_LABEL);
    let mut by_id = vec![ZoneHealth::default(); index.map_or(0, |k| k.len())];
    let mut zones: BTreeMap<&str, ZoneHealth> = BTreeMap::new();
    for &id in &cluster.ready_nodes {
        let z = match index.map(|k| k.domain_of(cluster.node(id))) {
            Some(Domain::Known(d)) => &mut by_id[d as usize],
            _ => zones.entry(zone_of(cluster, id)).or_default(),
        };
        z.nodes += 1;
        z.unreachable += usize::from(silent(cluster, id, now));
    }
    let counted = by_id.into_iter().enumerate().filter(|(_, z)| z.nodes > 0);
    for (d, z) in counted {
        let name = index.map_or("", |k| k.name(d as u32));
        let entry = zones.entry(name).or_default();
        entry.nodes += z.nodes;
        entry.unreachable += z.unreachable;
    }
    zones
}

/// Whether the node has been silent for the grace period: NotReady once this pass's
/// decisions are applied (a node heard from again is not, though its `unreachable` flag is
/// cleared only when the pass's intents are applied).
fn silent(cluster: &Cluster, node: NodeId, now: SimTime) -> bool {
    (cluster.node(node).down_since).is_some_and(|t| now.saturating_since(t) >= MONITOR_GRACE_PERIOD)
}

fn zone_of(cluster: &Cluster, node: NodeId) -> &str {
    cluster
        .node(node)
        .labels
        .get(ZONE_LABEL)
        .map_or("", String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ComputeZoneState` and the limiter each state gets (`setLimiterInZone`).
    /// `getMinTolerationTime` (taint_manager.go) behind DefaultTolerationSeconds.
    #[test]
    fn toleration_time_of_a_pod() {
        let taint = Taint {
            key: UNREACHABLE_TAINT_KEY.into(),
            value: String::new(),
            effect: TaintEffect::NoExecute,
        };
        let tol = |key: &str, seconds: Option<i64>| Toleration {
            key: key.into(),
            exists: true,
            value: String::new(),
            effect: Some(TaintEffect::NoExecute),
            seconds,
        };
        let secs = |s: u64| Some(SimDuration::from_secs(s));
        let cases: [(&str, Vec<Toleration>, Option<SimDuration>); 6] = [
            // no toleration of its own: the admission default, 300 s
            ("none", vec![], secs(300)),
            // a toleration for another taint does not match: still 300 s
            ("other key", vec![tol("gpu", Some(10))], secs(300)),
            // its own 60 s
            ("60 s", vec![tol(UNREACHABLE_TAINT_KEY, Some(60))], secs(60)),
            // matching without seconds: for ever
            ("for ever", vec![tol(UNREACHABLE_TAINT_KEY, None)], None),
            // the least of the matching ones (an empty key with Exists matches too)
            (
                "min",
                vec![tol(UNREACHABLE_TAINT_KEY, Some(600)), tol("", Some(120))],
                secs(120),
            ),
            // a negative value means at once
            (
                "negative",
                vec![tol(UNREACHABLE_TAINT_KEY, Some(-5))],
                secs(0),
            ),
        ];
        for (name, tolerations, want) in cases {
            assert_eq!(toleration_time(&tolerations, &taint), want, "{name}");
        }
    }

    /// The zones' health counted through the topology index equals a recount by label: two
    /// zones, a node without a zone label (zone ""), a node whose zone the index lacks, and
    /// silent nodes in two of them.
    #[test]
    fn zone_health_by_index_equals_a_recount_by_label() {
        let a: &[(&str, &str)] = &[(ZONE_LABEL, "a")];
        let b: &[(&str, &str)] = &[(ZONE_LABEL, "b")];
        let nodes = [("n0", a), ("n1", a), ("n2", b), ("n3", &[][..]), ("n4", b)];
        let mut c = crate::controllers::scheduler::test_cluster(&nodes);
        // A node added after the index was built, in a zone no indexed node has.
        let mut late = c.nodes[0].clone();
        late.id = NodeId(5);
        std::sync::Arc::make_mut(&mut late.labels).insert(ZONE_LABEL.into(), "c".into());
        c.nodes.push(late);
        c.ready_nodes = (0..6).map(NodeId).collect();
        let now = SimTime::from_secs(3600);
        for i in [1, 3, 5] {
            c.nodes[i].down_since = Some(SimTime::ZERO);
        }
        let mut recount: BTreeMap<&str, ZoneHealth> = BTreeMap::new();
        for &id in &c.ready_nodes {
            let z = recount.entry(zone_of(&c, id)).or_default();
            z.nodes += 1;
            z.unreachable += usize::from(silent(&c, id, now));
        }
        assert_eq!(zone_health(&c, now), recount);
        // a: n0, n1 (silent); b: n2, n4; "": n3 (silent); c: n5 (silent).
        let (of, zone) = (
            |z: &str| zone_health(&c, now)[z],
            |nodes, unreachable| ZoneHealth { nodes, unreachable },
        );
        assert_eq!(of("a"), zone(2, 1));
        assert_eq!(of("b"), zone(2, 0));
        assert_eq!(of(""), zone(1, 1));
        assert_eq!(of("c"), zone(1, 1));
    }

    #[test]
    fn taint_rate_by_zone_state() {
        let zone = |nodes, unreachable| ZoneHealth { nodes, unreachable };
        let cases = [
            // (nodes, unreachable, interval): 1 of 4 → normal, 0.1 nodes/s.
            (4, 1, Some(PRIMARY_INTERVAL)),
            // 2 of 3 is 67 % but not more than 2 nodes → still normal.
            (3, 2, Some(PRIMARY_INTERVAL)),
            // 3 of 3: fully disrupted → the normal rate again.
            (3, 3, Some(PRIMARY_INTERVAL)),
            // 3 of 5 = 60 % ≥ 55 %, > 2 → partial; zone of 5 ≤ 50 → no taints.
            (5, 3, None),
            // 30 of 51 = 59 % → partial in a large zone → 0.01 nodes/s.
            (51, 30, Some(SECONDARY_INTERVAL)),
            // 5 of 10 = 50 % < 55 % → normal.
            (10, 5, Some(PRIMARY_INTERVAL)),
        ];
        for (nodes, unreachable, want) in cases {
            assert_eq!(
                taint_interval(zone(nodes, unreachable)),
                want,
                "{unreachable} of {nodes}"
            );
        }
    }
}
