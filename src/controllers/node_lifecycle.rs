//! The node lifecycle controller (`pkg/controller/nodelifecycle`, E.5): every
//! `--node-monitor-period` (5 s) it looks at each node's last heartbeat.
//!
//! - A node silent for `--node-monitor-grace-period` (50 s) turns `Ready=Unknown`: it gets
//!   the `node.kubernetes.io/unreachable:NoSchedule` taint and its pods are marked not Ready,
//!   so the Services stop sending them traffic ([`Intent::MarkNodeUnreachable`]).
//! - The `unreachable:NoExecute` taint follows, rate-limited per zone: one node every 10 s
//!   (`--node-eviction-rate=0.1`); in a partially disrupted zone — more than 2 and at least
//!   55 % of its nodes unreachable (`--unhealthy-zone-threshold`) — 0.01 nodes/s
//!   (`--secondary-node-eviction-rate`), or none when the zone has at most 50 nodes
//!   (`--large-cluster-size-threshold`); a fully disrupted zone keeps the normal rate, but when
//!   every zone is fully unreachable no node is tainted at all.
//! - The NoExecute taint manager evicts (deletes) each pod `tolerationSeconds` after the
//!   taint ([`toleration_time`]): 300 s from the toleration DefaultTolerationSeconds admission
//!   adds to a pod without one of its own; never for DaemonSet pods.
//! - A node heartbeating again is Ready: the taints come off ([`Intent::MarkNodeReachable`]).

use std::collections::BTreeMap;

use super::Intent;
use crate::cluster::resources::{Taint, TaintEffect, Toleration, UNREACHABLE_TAINT_KEY};
use crate::cluster::{Cluster, NodeId, NodeState, ZONE_LABEL};
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

/// The controller's memory: when each node got its NoExecute taint, and when each zone last
/// had a node tainted.
#[derive(Clone, Debug, Default)]
pub struct NodeLifecycleController {
    tainted_at: BTreeMap<NodeId, SimTime>,
    zone_last_taint: BTreeMap<String, SimTime>,
}

impl NodeLifecycleController {
    /// One monitor pass.
    pub fn monitor(&mut self, cluster: &Cluster, now: SimTime) -> Vec<Intent> {
        let mut intents = Vec::new();
        for &id in &cluster.ready_nodes {
            let node = cluster.node(id);
            let silent = node
                .down_since
                .is_some_and(|t| now.saturating_since(t) >= MONITOR_GRACE_PERIOD);
            if silent && !node.unreachable {
                intents.push(Intent::MarkNodeUnreachable { node: id });
            } else if node.down_since.is_none() && node.unreachable {
                intents.push(Intent::MarkNodeReachable { node: id });
                self.tainted_at.remove(&id);
            }
        }
        self.tainted_at
            .retain(|n, _| cluster.node(*n).state == NodeState::Ready);
        self.taint_no_execute(cluster, now, &mut intents);
        self.evict(cluster, now, &mut intents);
        intents
    }

    /// Rate-limited `unreachable:NoExecute` taints for nodes marked unreachable.
    fn taint_no_execute(&mut self, cluster: &Cluster, now: SimTime, intents: &mut Vec<Intent>) {
        let to_taint =
            |id: &NodeId| cluster.node(*id).unreachable && !self.tainted_at.contains_key(id);
        if !cluster.ready_nodes.iter().any(to_taint) {
            return; // nothing to taint: the zones' health does not matter (the usual case)
        }
        let zones = zone_health(cluster);
        if zones.values().all(|z| z.unreachable == z.nodes) {
            return; // every zone fully disrupted: the controller assumes its own network failed
        }
        for &id in &cluster.ready_nodes {
            let node = cluster.node(id);
            if !node.unreachable || self.tainted_at.contains_key(&id) {
                continue;
            }
            let zone = zone_of(cluster, id);
            let Some(interval) = taint_interval(zones[zone]) else {
                continue; // a partially disrupted small zone: no evictions
            };
            if self
                .zone_last_taint
                .get(zone)
                .is_some_and(|&t| now < t + interval)
            {
                continue;
            }
            self.zone_last_taint.insert(zone.to_string(), now);
            self.tainted_at.insert(id, now);
            intents.push(Intent::TaintNode {
                node: id,
                key: UNREACHABLE_TAINT_KEY,
                effect: TaintEffect::NoExecute,
            });
        }
    }

    /// The taint manager: pods on NoExecute-tainted nodes whose toleration ran out.
    fn evict(&self, cluster: &Cluster, now: SimTime, intents: &mut Vec<Intent>) {
        let taint = Taint {
            key: UNREACHABLE_TAINT_KEY.into(),
            value: String::new(),
            effect: TaintEffect::NoExecute,
        };
        for (&node, &tainted) in &self.tainted_at {
            for pod in cluster.pods_on(node).filter(|p| p.deletion.is_none()) {
                let tolerated = if cluster.deployment(pod.deployment).is_daemon_set() {
                    None // the DaemonSet controller's toleration has no limit
                } else {
                    toleration_time(&pod.template.tolerations, &taint)
                };
                if tolerated.is_some_and(|t| now.saturating_since(tainted) >= t) {
                    intents.push(Intent::EvictPod { pod: pod.id });
                }
            }
        }
    }
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
#[derive(Clone, Copy, Debug, Default)]
struct ZoneHealth {
    nodes: usize,
    unreachable: usize,
}

fn zone_health(cluster: &Cluster) -> BTreeMap<&str, ZoneHealth> {
    let mut zones: BTreeMap<&str, ZoneHealth> = BTreeMap::new();
    for &id in &cluster.ready_nodes {
        let z = zones.entry(zone_of(cluster, id)).or_default();
        z.nodes += 1;
        z.unreachable += usize::from(cluster.node(id).unreachable);
    }
    zones
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
