//! Cluster Autoscaler (section D): one loop every `scan-interval`.
//!
//! 1. Upcoming nodes that missed `max-node-provision-time` are given up on and their node group
//!    backs off (5 m doubling to 30 m, reset after 3 h without failures).
//! 2. Scale-up: pods the scheduler found unschedulable (older than `new-pod-scale-up-delay`;
//!    not DaemonSet pods) that fit on a Ready node are left to the scheduler; the others are
//!    packed onto upcoming nodes (with their DaemonSet pods); for the rest, every node group below its max and not in
//!    backoff gets a [`estimator::binpacking`] estimate on a template node, and the
//!    [`expander`] chain picks one.
//! 3. Scale-down (when enabled, no scale-up this loop, and outside `scale-down-delay-after-add`
//!    / `-after-delete`): [`scale_down::Planner::unneeded_nodes`] are timed; those unneeded for
//!    `scale-down-unneeded-time` are deleted — empty ones at once (up to
//!    `max-scale-down-parallelism`), others drained (up to `max-drain-parallelism` at a time),
//!    never below the group's min size.
//!
//! Filters are the scheduler's own — node-local ones on nodes with the packed pods' requests
//! reserved, or, when pods carry topology spread or inter-pod affinity, the whole Filter on the
//! cluster with the simulated nodes and moves in it ([`estimator::Bins`]) — so the autoscaler
//! and the scheduler never disagree about whether a pod fits a node, in scale-up and scale-down
//! alike. The simulations change the live cluster in a [`Trial`](crate::cluster::trial::Trial) that undoes them all before
//! `scan` returns. The
//! decisions are kept as [`AutoscalerEvent`]s.

pub mod drainability;
pub mod estimator;
pub mod expander;
pub mod nodegroupset;
mod removal;
pub mod scale_down;
mod scale_up;
pub mod unremovable;
pub mod utilization;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cluster::{Cluster, Node, NodeId, NodeState, PodId, PoolId};
use crate::controllers::PodEventReason;
use crate::controllers::scheduler::{SchedulerProfile, profile};
use crate::scenario::AutoscalerSettings;
use crate::sim::{SimDuration, SimRng, SimTime};

use super::Intent;
use estimator::Estimate;

/// Something the autoscaler decided, for `autoscaler.jsonl` and the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum AutoscalerEvent {
    /// A node group grows by `nodes` for `pods` pending pods.
    #[serde(rename_all = "camelCase")]
    ScaleUp {
        /// When, in seconds from the start.
        t_seconds: f64,
        /// The node group.
        pool: String,
        /// Nodes added.
        nodes: usize,
        /// Pending pods the new nodes are for.
        pods: usize,
        /// The other groups that could have helped.
        alternatives: Vec<String>,
        /// The similar groups the same scale-up was spread over
        /// (`--balance-similar-node-groups`).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        balanced_with: Vec<String>,
    },
    /// `--max-nodes-total` stopped a scale-up (upstream's `MaxNodesTotalReached` warning,
    /// "Max total nodes in cluster reached: N"): `nodes` Ready nodes at the gate before any
    /// scale-up (logged when it begins), or nodes existing and coming when it cut one.
    #[serde(rename_all = "camelCase")]
    MaxNodesTotalReached {
        /// When, in seconds from the start.
        t_seconds: f64,
        /// The flag's value.
        max_nodes_total: usize,
        /// The nodes counted against it.
        nodes: usize,
    },
    /// Pending pods no node group can help (too big, or every group at max or in backoff).
    #[serde(rename_all = "camelCase")]
    NoScaleUp {
        /// When, in seconds from the start.
        t_seconds: f64,
        /// Pending pods left without help.
        pods: usize,
    },
    /// A node did not register within `max-node-provision-time`.
    #[serde(rename_all = "camelCase")]
    ProvisionFailed {
        /// When, in seconds from the start.
        t_seconds: f64,
        /// The node group.
        pool: String,
        /// The node that never registered.
        node: String,
        /// How long the group is now left out of scale-ups.
        backoff_seconds: f64,
    },
    /// A node was deleted (`drained`: its pods were evicted first).
    #[serde(rename_all = "camelCase")]
    ScaleDown {
        /// When, in seconds from the start.
        t_seconds: f64,
        /// The node group.
        pool: String,
        /// The node deleted.
        node: String,
        /// Whether its pods were evicted first (else it was empty).
        drained: bool,
        /// How long it had been unneeded.
        unneeded_seconds: f64,
    },
    /// A node became a scale-down candidate: at or below the utilization threshold and every
    /// pod could go elsewhere (logged when its status changes).
    #[serde(rename_all = "camelCase")]
    NodeUnneeded {
        /// When, in seconds from the start.
        t_seconds: f64,
        /// The node group.
        pool: String,
        /// The node.
        node: String,
        /// Its utilization (the larger of CPU and memory, or GPUs on a GPU node).
        utilization: Option<f64>,
        /// The resource that decided it.
        resource: Option<&'static str>,
    },
    /// Why a node is not removed, with upstream's reason (logged when it changes).
    #[serde(rename_all = "camelCase")]
    NodeUnremovable {
        /// When, in seconds from the start.
        t_seconds: f64,
        /// The node group.
        pool: String,
        /// The node.
        node: String,
        /// Upstream's `UnremovableReason`.
        reason: unremovable::UnremovableReason,
        /// The pod that blocks it (`namespace/name`), if one does.
        #[serde(skip_serializing_if = "Option::is_none")]
        pod: Option<String>,
        /// Why that pod blocks (upstream's `BlockingPodReason`).
        #[serde(skip_serializing_if = "Option::is_none")]
        pod_reason: Option<drainability::BlockingPodReason>,
        /// Its utilization, where it was computed.
        #[serde(skip_serializing_if = "Option::is_none")]
        utilization: Option<f64>,
    },
    /// A drain still had pods it could not evict after `max-pod-eviction-time` (their
    /// PodDisruptionBudgets allowed no disruption): the node stays, untainted, and scale-down
    /// pauses for `scale-down-delay-after-failure`.
    #[serde(rename_all = "camelCase")]
    ScaleDownFailed {
        /// When, in seconds from the start.
        t_seconds: f64,
        /// The node group.
        pool: String,
        /// The node kept.
        node: String,
        /// Pods the drain could not evict.
        pods_left: usize,
    },
}

/// A node group's scale-up estimate, with the template node it was made for.
struct GroupEstimate {
    pool: PoolId,
    estimate: Estimate,
    template: Node,
}

#[derive(Clone, Copy, Debug, Default)]
struct Backoff {
    until: Option<SimTime>,
    duration: SimDuration,
    last_failure: Option<SimTime>,
}

/// The autoscaler's state between loops.
pub struct ClusterAutoscaler {
    settings: AutoscalerSettings,
    rng: SimRng,
    unneeded_since: BTreeMap<NodeId, SimTime>,
    /// Each node's last scale-down status, to log changes.
    statuses: unremovable::NodeStatuses,
    /// Which nodes to simulate for scale-down, and which to leave until their recheck.
    planner: scale_down::Planner,
    last_scale_up: Option<SimTime>,
    last_scale_down: Option<SimTime>,
    last_scale_down_failure: Option<SimTime>,
    /// Nodes being drained, with when the drain began.
    drains: BTreeMap<NodeId, SimTime>,
    backoff: Vec<Backoff>,
    /// The last `NoScaleUp` pod count, so a standing situation is logged once.
    last_no_scale_up: usize,
    /// Whether the last loop stopped at the `--max-nodes-total` gate (logged once).
    at_max_nodes_total: bool,
    /// The scheduler's profiles: the estimator filters with them.
    profiles: Vec<SchedulerProfile>,
    /// What it decided, in order (the engine takes them after each loop).
    pub events: Vec<AutoscalerEvent>,
    /// `TriggeredScaleUp` / `NotTriggerScaleUp` events for pods, taken by the engine after each
    /// loop.
    pub pod_events: Vec<(PodId, PodEventReason, String)>,
}

impl ClusterAutoscaler {
    /// An autoscaler with `settings` (its flags) over `pools` node groups, filtering with the scheduler's `profiles`; `rng` is its stream (the `random` expander's).
    pub fn new(
        settings: AutoscalerSettings,
        pools: usize,
        profiles: Vec<SchedulerProfile>,
        rng: SimRng,
    ) -> Self {
        ClusterAutoscaler {
            settings,
            rng,
            profiles: profile::or_default(profiles),
            unneeded_since: BTreeMap::new(),
            statuses: Default::default(),
            planner: scale_down::Planner::default(),
            last_scale_up: None,
            last_scale_down: None,
            last_scale_down_failure: None,
            drains: BTreeMap::new(),
            backoff: vec![Backoff::default(); pools],
            last_no_scale_up: 0,
            at_max_nodes_total: false,
            events: Vec::new(),
            pod_events: Vec::new(),
        }
    }

    /// How often it runs (`--scan-interval`, 10 s by default).
    pub fn scan_interval(&self) -> SimDuration {
        self.settings.scan_interval
    }

    /// One loop of the autoscaler.
    /// The cluster is borrowed mutably for the simulations' [`Trial`](crate::cluster::trial::Trial)s only: it is as it was
    /// when the loop returns.
    pub fn scan(&mut self, cluster: &mut Cluster, now: SimTime) -> Vec<Intent> {
        let mut intents = Vec::new();
        self.continue_drains(cluster, now, &mut intents);
        self.give_up_late_nodes(cluster, now, &mut intents);
        let scaled_up = self.scale_up(cluster, now, &mut intents);
        if self.settings.enforce_node_group_min_size {
            self.scale_up_to_min_size(cluster, now, &mut intents);
        }
        if self.settings.scale_down_enabled {
            let unneeded = self.update_unneeded(cluster, now);
            if !scaled_up && !self.scale_down_in_cooldown(now) {
                self.scale_down(cluster, unneeded, now, &mut intents);
            } else {
                for u in unneeded {
                    self.log_status(
                        cluster,
                        u.node,
                        unremovable::NodeStatus::Unneeded,
                        Some(u.utilization),
                        now,
                    );
                }
            }
        }
        intents
    }

    /// Drains that PodDisruptionBudgets held back are retried every loop, until
    /// `max-pod-eviction-time` after they began; then the scale-down of that node fails.
    fn continue_drains(&mut self, cluster: &Cluster, now: SimTime, intents: &mut Vec<Intent>) {
        let draining: Vec<NodeId> = cluster
            .ready_nodes
            .iter()
            .copied()
            .filter(|&n| {
                cluster.pools[cluster.node(n).pool.index()]
                    .spec
                    .karpenter
                    .is_none()
            })
            .filter(|&n| {
                cluster.node(n).is_to_be_deleted()
                    && cluster.pods_on(n).any(|p| p.deletion.is_none())
            })
            .collect();
        self.drains.retain(|n, _| draining.contains(n));
        for node in draining {
            let started = *self.drains.entry(node).or_insert(now);
            if now.saturating_since(started) < self.settings.max_pod_eviction_time {
                intents.push(Intent::DrainNode {
                    node,
                    max_grace: self.settings.max_graceful_termination,
                });
                continue;
            }
            self.drains.remove(&node);
            self.last_scale_down_failure = Some(now);
            let n = cluster.node(node);
            self.events.push(AutoscalerEvent::ScaleDownFailed {
                t_seconds: now.as_secs_f64(),
                pool: cluster.pools[n.pool.index()].spec.name.clone(),
                node: n.name.clone(),
                pods_left: cluster
                    .pods_on(node)
                    .filter(|p| p.deletion.is_none())
                    .count(),
            });
            intents.push(Intent::CancelScaleDown { node });
        }
    }

    fn give_up_late_nodes(&mut self, cluster: &Cluster, now: SimTime, intents: &mut Vec<Intent>) {
        for node in cluster
            .nodes
            .iter()
            .filter(|n| n.state == NodeState::Provisioning)
            .filter(|n| cluster.pools[n.pool.index()].spec.karpenter.is_none())
        {
            if now.saturating_since(node.created) < self.settings.max_node_provision_time {
                continue;
            }
            let b = &mut self.backoff[node.pool.index()];
            let recent = b.last_failure.is_some_and(|t| {
                now.saturating_since(t) < self.settings.node_group_backoff_reset_timeout
            });
            b.duration = if recent && b.until.is_some() {
                (b.duration + b.duration).min(self.settings.max_node_group_backoff_duration)
            } else {
                self.settings.initial_node_group_backoff_duration
            };
            b.until = Some(now + b.duration);
            b.last_failure = Some(now);
            self.events.push(AutoscalerEvent::ProvisionFailed {
                t_seconds: now.as_secs_f64(),
                pool: cluster.pools[node.pool.index()].spec.name.clone(),
                node: node.name.clone(),
                backoff_seconds: b.duration.as_secs_f64(),
            });
            intents.push(Intent::RemoveNode { node: node.id });
        }
    }

    fn scale_down_in_cooldown(&self, now: SimTime) -> bool {
        let within =
            |last: Option<SimTime>, delay: SimDuration| last.is_some_and(|t| now < t + delay);
        within(self.last_scale_up, self.settings.scale_down_delay_after_add)
            || within(
                self.last_scale_down,
                self.settings.scale_down_delay_after_delete,
            )
            || within(
                self.last_scale_down_failure,
                self.settings.scale_down_delay_after_failure,
            )
    }
}

/// Millicores and bytes of memory of every node that exists (provisioning, ready or being
/// removed), as `--cores-total` / `--memory-total` count them (allocatable standing in for
/// capacity).
pub(super) fn cluster_totals(cluster: &Cluster) -> (i64, i64) {
    cluster.pools.iter().fold((0, 0), |(cpu, mem), p| {
        let n = p.size as i64;
        (
            cpu + n * p.spec.allocatable.cpu_millis,
            mem + n * p.spec.allocatable.memory_bytes,
        )
    })
}
