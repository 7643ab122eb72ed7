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
//! alike. The simulations change the live cluster in a [`Trial`] that undoes them all before
//! `scan` returns. The
//! decisions are kept as [`AutoscalerEvent`]s.

pub mod drainability;
pub mod estimator;
pub mod expander;
mod removal;
pub mod scale_down;
pub mod unremovable;
pub mod utilization;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cluster::node_row::NodeRow;
use crate::cluster::trial::Trial;
use crate::cluster::{Cluster, Node, NodeId, NodeState, PodId, PoolId};
use crate::controllers::PodEventReason;
use crate::controllers::daemonset;
use crate::controllers::scheduler::{ReasonTally, SchedulerProfile, filter, profile};
use crate::scenario::AutoscalerSettings;
use crate::sim::{SimDuration, SimRng, SimTime};

use super::Intent;
use estimator::{Bins, Estimate, PendingPod};
use expander::ScaleUpOption;

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
            events: Vec::new(),
            pod_events: Vec::new(),
        }
    }

    /// How often it runs (`--scan-interval`, 10 s by default).
    pub fn scan_interval(&self) -> SimDuration {
        self.settings.scan_interval
    }

    /// One loop of the autoscaler.
    /// The cluster is borrowed mutably for the simulations' [`Trial`]s only: it is as it was
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

    /// Pods the autoscaler acts on: unschedulable for at least `new-pod-scale-up-delay` since
    /// creation, and not DaemonSet pods (a new node would not help a pod pinned to another).
    fn pending_pods(&self, cluster: &Cluster, now: SimTime) -> Vec<PendingPod> {
        cluster
            .unscheduled
            .iter()
            .map(|&id| cluster.pod(id))
            .filter(|p| {
                p.unschedulable_since.is_some()
                    && p.template.daemon_node.is_none()
                    && p.template.priority >= self.settings.expendable_pods_priority_cutoff
                    && now.saturating_since(p.created) >= self.settings.new_pod_scale_up_delay
            })
            .map(|p| PendingPod::of(cluster, p.id))
            .collect()
    }

    fn scale_up(&mut self, cluster: &mut Cluster, now: SimTime, intents: &mut Vec<Intent>) -> bool {
        let pending = self.pending_pods(cluster, now);
        if pending.is_empty() {
            self.last_no_scale_up = 0;
            return false;
        }
        let Some((rest, estimates)) = self.estimate_scale_up(cluster, &pending, now) else {
            return false;
        };
        let cluster: &Cluster = cluster;
        let options = self.options(cluster, estimates);
        let chosen = expander::choose(
            &options,
            &self.settings.expanders,
            &self.settings.priorities,
            &mut self.rng,
        );
        let helped: Vec<PodId> = chosen.map_or(Vec::new(), |i| options[i].pods.clone());
        self.explain_left_out(cluster, &rest, &options, &helped, now);
        let Some(i) = chosen else {
            if self.last_no_scale_up != rest.len() {
                self.events.push(AutoscalerEvent::NoScaleUp {
                    t_seconds: now.as_secs_f64(),
                    pods: rest.len(),
                });
                self.last_no_scale_up = rest.len();
            }
            return false;
        };
        let o = &options[i];
        let size = cluster.pools[o.pool.index()].size;
        let (cpu_room, memory_room) = self.quota_room(cluster, o.pool.index());
        let nodes = o.nodes.min(cpu_room).min(memory_room);
        let message = format!(
            "pod triggered scale-up: [{{{} {}->{} (max: {})}}]",
            o.pool_name,
            size,
            size + nodes,
            cluster.pools[o.pool.index()].spec.max_count
        );
        self.pod_events.extend(
            o.pods
                .iter()
                .map(|&p| (p, PodEventReason::TriggeredScaleUp, message.clone())),
        );
        self.events.push(AutoscalerEvent::ScaleUp {
            t_seconds: now.as_secs_f64(),
            pool: o.pool_name.to_string(),
            nodes,
            pods: o.pods.len(),
            alternatives: options
                .iter()
                .filter(|x| x.pool != o.pool)
                .map(|x| x.pool_name.to_string())
                .collect(),
        });
        intents.push(Intent::AddNodes {
            pool: o.pool,
            count: nodes as u32,
        });
        self.last_scale_up = Some(now);
        self.last_no_scale_up = 0;
        true
    }

    /// `--enforce-node-group-min-size` (`ScaleUpToNodeGroupMinSize`): every node group below
    /// its minimum and not in backoff grows to it, as far as the cluster's limits allow.
    fn scale_up_to_min_size(&mut self, cluster: &Cluster, now: SimTime, intents: &mut Vec<Intent>) {
        for (i, pool) in cluster.pools.iter().enumerate() {
            let short = (pool.spec.min_count as usize).saturating_sub(pool.size);
            if short == 0 {
                continue;
            }
            let Ok(room) = self.group_room(cluster, i, now) else {
                continue;
            };
            let nodes = short.min(room);
            self.events.push(AutoscalerEvent::ScaleUp {
                t_seconds: now.as_secs_f64(),
                pool: pool.spec.name.clone(),
                nodes,
                pods: 0,
                alternatives: Vec::new(),
            });
            intents.push(Intent::AddNodes {
                pool: PoolId(i as u32),
                count: nodes as u32,
            });
        }
    }

    /// How many nodes group `i` may add in one scale-up's binpacking (its max size, the
    /// cluster's `max-nodes-total`, `max-nodes-per-scaleup`), or why it may not grow (the
    /// phrase of the autoscaler's `NotTriggerScaleUp` event). The `cores-total` /
    /// `memory-total` quotas only refuse a group that cannot take one node: as upstream, they
    /// cap the chosen scale-up afterwards ([`Self::quota_room`]), and the pods reported as
    /// helped are all those the uncapped estimate packed.
    fn group_room(&self, cluster: &Cluster, i: usize, now: SimTime) -> Result<usize, &'static str> {
        let pool = &cluster.pools[i];
        if self.backoff[i].until.is_some_and(|t| now < t) {
            return Err("in backoff after failed scale-up");
        }
        let room = (pool.spec.max_count as usize).saturating_sub(pool.size);
        if room == 0 {
            return Err("max node group size reached");
        }
        let total: usize = cluster.pools.iter().map(|p| p.size).sum();
        let total_room = match self.settings.max_nodes_total {
            0 => usize::MAX,
            max => max.saturating_sub(total),
        };
        if total_room == 0 {
            return Err("max cluster size reached");
        }
        let (cpu_room, memory_room) = self.quota_room(cluster, i);
        if cpu_room == 0 {
            return Err("max cluster cpu limit reached");
        }
        if memory_room == 0 {
            return Err("max cluster memory limit reached");
        }
        Ok(room
            .min(total_room)
            .min(self.settings.max_nodes_per_scaleup))
    }

    /// How many of group `i`'s nodes the `cores-total` and `memory-total` maxima leave room
    /// for: (by cores, by memory).
    fn quota_room(&self, cluster: &Cluster, i: usize) -> (usize, usize) {
        let (cores, memory) = cluster_totals(cluster);
        let template = &cluster.pools[i].spec.allocatable;
        let within = |used: i64, max: i64, per_node: i64| match per_node {
            0 => usize::MAX,
            _ => usize::try_from((max - used) / per_node).unwrap_or(0),
        };
        (
            within(
                cores,
                self.settings.cores_total.1 * 1000,
                template.cpu_millis,
            ),
            within(
                memory,
                self.settings.memory_total_gib.1 << 30,
                template.memory_bytes,
            ),
        )
    }

    /// `NotTriggerScaleUp` for each pod of `rest` that no option helps, with the reasons every
    /// node group refused it (`pod didn't trigger scale-up: 1 max node group size reached, 2
    /// Insufficient nvidia.com/gpu`). Pods some group could take but that were not chosen this
    /// loop get nothing: they may be helped by the next.
    fn explain_left_out(
        &mut self,
        cluster: &Cluster,
        rest: &[PendingPod],
        options: &[ScaleUpOption],
        helped: &[PodId],
        now: SimTime,
    ) {
        let could_help = |p: PodId| options.iter().any(|o| o.pods.contains(&p));
        let left_out: Vec<&PendingPod> = rest
            .iter()
            .filter(|p| !helped.contains(&p.id) && !could_help(p.id))
            .collect();
        if left_out.is_empty() {
            return;
        }
        let groups: Vec<Result<crate::cluster::Node, &'static str>> = (0..cluster.pools.len())
            .map(|i| {
                self.group_room(cluster, i, now)
                    .map(|_| daemonset::template_node(cluster, PoolId(i as u32)))
            })
            .collect();
        for pod in left_out {
            let mut tally = ReasonTally::default();
            for group in &groups {
                match group {
                    Err(why) => tally.add(why),
                    Ok(node) => match filter::run_filters(node, &pod.template) {
                        Ok(()) => {}
                        Err(first) => {
                            let row = NodeRow::of(node);
                            filter::each_reason(node, &row, &pod.template, first, |r| {
                                tally.add(&r.to_string())
                            })
                        }
                    },
                }
            }
            let message = format!("pod didn't trigger scale-up: {}", tally.message());
            self.pod_events
                .push((pod.id, PodEventReason::NotTriggerScaleUp, message));
        }
    }

    /// The scale-up simulation, in a [`Trial`] of the cluster. `FilterOutSchedulable`: pods
    /// that fit on a Ready node (the scheduler has not retried them yet) need no new node;
    /// then the upcoming nodes take what they can. For the `rest`, if any, each node group
    /// that can grow gets an estimate (with its template node) for packing them on new nodes.
    fn estimate_scale_up(
        &self,
        cluster: &mut Cluster,
        pending: &[PendingPod],
        now: SimTime,
    ) -> Option<(Vec<PendingPod>, Vec<GroupEstimate>)> {
        let templates = pending.iter().map(|p| &*p.template);
        let mut bins = Bins::for_templates(cluster, &self.profiles, templates);
        let mut trial = Trial::new(cluster);
        for i in 0..trial.ready_nodes.len() {
            let node = trial.ready_nodes[i];
            bins.add_existing(&mut trial, node);
        }
        let pending = estimator::place_on(&mut trial, &mut bins, pending);
        let mut bins = bins.without_bins();
        let upcoming: Vec<NodeId> = trial
            .nodes
            .iter()
            .filter(|n| n.state == NodeState::Provisioning)
            .map(|n| n.id)
            .collect();
        for node in upcoming {
            bins.add_existing(&mut trial, node);
        }
        let rest = estimator::place_on(&mut trial, &mut bins, &pending);
        if rest.is_empty() {
            return None;
        }
        let bins = bins.without_bins();
        let mut estimates = Vec::new();
        for i in 0..trial.pools.len() {
            if trial.pools[i].spec.karpenter.is_some() {
                continue; // Karpenter's, not a node group
            }
            let Ok(room) = self.group_room(&trial, i, now) else {
                continue;
            };
            let id = PoolId(i as u32);
            let template = daemonset::template_node(&trial, id);
            let mark = trial.mark();
            let estimate =
                estimator::binpacking(&mut trial, &mut bins.clone(), &rest, &template, room);
            trial.rollback_to(mark);
            if estimate.nodes > 0 {
                estimates.push(GroupEstimate {
                    pool: id,
                    estimate,
                    template,
                });
            }
        }
        Some((rest, estimates))
    }

    /// One option per node group whose estimate helps some pods.
    fn options<'c>(
        &self,
        cluster: &'c Cluster,
        estimates: Vec<GroupEstimate>,
    ) -> Vec<ScaleUpOption<'c>> {
        estimates
            .into_iter()
            .map(
                |GroupEstimate {
                     pool: id,
                     estimate,
                     template,
                 }| {
                    let pool = &cluster.pools[id.index()];
                    let (cpu, memory) = requested_by(cluster, &estimate.pods);
                    ScaleUpOption {
                        pool: id,
                        pool_name: &pool.spec.name,
                        nodes: estimate.nodes,
                        pods: estimate.pods,
                        pod_cpu_millis: cpu,
                        pod_memory_bytes: memory,
                        template,
                        price_per_hour: pool.spec.billed_price_per_hour(),
                        preferred_cpu_millis: expander::preferred_node_cpu_millis(
                            cluster.ready_nodes.len(),
                        ),
                    }
                },
            )
            .collect()
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

/// Σ cpu and memory requests of some pods.
fn requested_by(cluster: &Cluster, pods: &[PodId]) -> (i64, i64) {
    pods.iter().fold((0, 0), |(cpu, mem), &p| {
        let r = &cluster.pod(p).template.requests;
        (cpu + r.cpu_millis, mem + r.memory_bytes)
    })
}
