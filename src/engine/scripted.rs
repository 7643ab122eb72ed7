//! The engine's side of scripted events (`spec.events`) and node failures: failing and
//! recovering machines and zones, `kubectl cordon` / `uncordon` / `drain` / `scale`, and
//! applying what the node lifecycle controller decides (unreachable nodes, NoExecute taints,
//! taint-based evictions), and random machine failures (a pool's `failures`: exponential
//! times to failure with mean `mtbf`, then `repairTime` down, from the pool's own random
//! stream). Only scenarios where nodes can fail (events or `failures`) run the node lifecycle
//! monitor.

use rand::RngExt;

use super::{Engine, Event};
use crate::cluster::resources::{TaintEffect, UNREACHABLE_TAINT_KEY};
use crate::cluster::{DeploymentId, Node, NodeId, NodeState, PodId, PodPhase, PoolId, ZONE_LABEL};
use crate::controllers::node_lifecycle::MONITOR_PERIOD;
use crate::controllers::scheduler::hints::QueueEvent;
use crate::controllers::{Intent, PodEventReason, disruption};
use crate::metrics::cluster_events::{ClusterEventReason, ObjectKind};
use crate::scenario::{NodePick, NodeRef, ScriptedAction};
use crate::sim::SimTime;
use crate::sim::dist::DurationDist;
use crate::traffic::FailureReason;

/// A spot interruption's notice (AWS: two minutes).
const SPOT_NOTICE: crate::sim::SimDuration = crate::sim::SimDuration::from_secs(120);
/// How often `kubectl drain` retries refused evictions.
const DRAIN_RETRY: crate::sim::SimDuration = crate::sim::SimDuration::from_secs(5);

impl Engine<'_, '_> {
    /// Schedules the scripted events, the first random failure and spot interruption of every
    /// node whose pool has them, and — when nodes can fail at all — the node lifecycle monitor.
    pub(super) fn schedule_scripted_events(&mut self) {
        for (i, e) in self.scenario.events.iter().enumerate() {
            self.queue
                .schedule(SimTime::ZERO + e.at, Event::Scripted { index: i as u32 });
        }
        for node in self.cluster.ready_nodes.clone() {
            self.schedule_hazards(node);
        }
        let random = self
            .scenario
            .node_pools
            .iter()
            .any(|p| p.failures.is_some() || p.spot_interruption_mtbi.is_some());
        if !self.scenario.events.is_empty() || random {
            self.queue.schedule(SimTime::ZERO, Event::NodeMonitor);
        }
    }

    /// Draws a new node's first random failure and spot interruption (if its pool has them).
    pub(super) fn schedule_hazards(&mut self, node: NodeId) {
        self.schedule_next_failure(node);
        let pool = self.cluster.node(node).pool;
        if let Some(mtbi) = self.scenario.node_pools[pool.index()].spot_interruption_mtbi {
            let after = DurationDist::exponential(mtbi).sample(&mut self.spot_rngs[pool.index()]);
            if self.now + after <= self.end {
                self.queue
                    .schedule(self.now + after, Event::SpotNotice { node });
            }
        }
    }

    /// Draws when `node` fails next, if its pool has random failures.
    pub(super) fn schedule_next_failure(&mut self, node: NodeId) {
        let pool = self.cluster.node(node).pool;
        let Some(failures) = &self.scenario.node_pools[pool.index()].failures else {
            return;
        };
        let rng = &mut self.failure_rngs[pool.index()];
        let after = DurationDist::exponential(failures.mtbf).sample(rng);
        let at = self.now + after;
        if at <= self.end {
            self.queue.schedule(at, Event::NodeFails { node });
        }
    }

    pub(super) fn on_random_failure(&mut self, node: NodeId) {
        if self.cluster.node(node).state != crate::cluster::NodeState::Ready {
            return; // removed meanwhile
        }
        self.fail_node(node, "random machine failure (the pool's failures.mtbf)");
        let pool = self.cluster.node(node).pool;
        let repair = &self.scenario.node_pools[pool.index()]
            .failures
            .as_ref()
            .expect("only pools with failures fail at random")
            .repair_time;
        let after = repair.sample(&mut self.failure_rngs[pool.index()]);
        if self.now + after <= self.end {
            self.queue
                .schedule(self.now + after, Event::NodeRepaired { node });
        }
        self.dirty.everything();
    }

    pub(super) fn on_repair(&mut self, node: NodeId) {
        if self.cluster.node(node).state != crate::cluster::NodeState::Ready {
            return;
        }
        self.recover_node(node, "repaired (the pool's failures.repairTime)");
        self.schedule_next_failure(node);
        self.dirty.everything();
    }

    pub(super) fn on_scripted(&mut self, index: usize) {
        let action = self.scenario.events[index].action.clone();
        match action {
            ScriptedAction::FailNode { node } => {
                self.on_node(&node, is_up, |e, n| e.fail_node(n, "scripted: fail-node"))
            }
            ScriptedAction::RecoverNode { node } => self.on_node(&node, is_down, |e, n| {
                e.recover_node(n, "scripted: recover-node")
            }),
            ScriptedAction::FailZone { zone } => {
                let message = format!("scripted: zone {zone} fails");
                for node in self.nodes_in_zone(&zone) {
                    self.fail_node(node, &message);
                }
            }
            ScriptedAction::RecoverZone { zone } => {
                let message = format!("scripted: zone {zone} recovers");
                for node in self.nodes_in_zone(&zone) {
                    self.recover_node(node, &message);
                }
            }
            ScriptedAction::Cordon { node } => self.on_node(&node, is_schedulable, |e, n| {
                e.node_event(n, ClusterEventReason::Cordon, "kubectl cordon".into());
                e.cluster.set_unschedulable(n, true)
            }),
            ScriptedAction::Uncordon { node } => self.on_node(&node, is_cordoned, |e, n| {
                e.node_event(n, ClusterEventReason::Uncordon, "kubectl uncordon".into());
                e.cluster.set_unschedulable(n, false);
                e.scheduler_event(QueueEvent::NodeChanged);
            }),
            ScriptedAction::Drain { node } => self.on_node(&node, is_up, |e, n| {
                let message = "kubectl drain --ignore-daemonsets".into();
                e.node_event(n, ClusterEventReason::Drain, message);
                e.cluster.set_unschedulable(n, true);
                e.kubectl_drain(n);
            }),
            ScriptedAction::InterruptSpot { node } => self.on_node(&node, is_up, Self::spot_notice),
            other => self.on_scripted_workload_action(other),
        }
        self.dirty.everything();
    }

    /// The scripted actions on workloads: `kubectl scale`, `apply`, `rollout undo|pause|resume`
    /// and `delete pod`.
    fn on_scripted_workload_action(&mut self, action: ScriptedAction) {
        let scripted = ClusterEventReason::Scripted;
        match action {
            ScriptedAction::Scale {
                deployment,
                replicas,
            } => {
                let deployment = DeploymentId(deployment as u32);
                let message = format!("kubectl scale --replicas={replicas}");
                self.deployment_event(deployment, scripted, message);
                self.apply(Intent::ScaleDeployment {
                    deployment,
                    replicas,
                })
            }
            ScriptedAction::Apply {
                deployments,
                hpas,
                configs,
                node_pools,
            } => {
                for applied in node_pools {
                    let message = format!("kubectl apply: NodePool {}", applied.spec.name);
                    let scenario = &self.scenario.name;
                    let kind = ObjectKind::Scenario;
                    self.cluster_events
                        .record(self.now, kind, scenario, scripted, message);
                    self.apply_node_pool(applied);
                }
                self.apply_configs(configs);
                for applied in deployments {
                    let deployment = DeploymentId(applied.index as u32);
                    self.deployment_event(deployment, scripted, "kubectl apply".into());
                    self.kubectl_apply(applied);
                }
                for (hpa, spec) in hpas {
                    let message = format!("kubectl apply: HorizontalPodAutoscaler {}", spec.name);
                    let scenario = &self.scenario.name;
                    let kind = ObjectKind::Scenario;
                    self.cluster_events
                        .record(self.now, kind, scenario, scripted, message);
                    self.hpa.respec(crate::cluster::HpaId(hpa as u32), &spec);
                    self.cluster.hpas[hpa].spec = spec;
                }
            }
            ScriptedAction::Rollback {
                deployment,
                to_revision,
            } => {
                let deployment = DeploymentId(deployment as u32);
                let message = match to_revision {
                    Some(r) => format!("kubectl rollout undo --to-revision={r}"),
                    None => "kubectl rollout undo".into(),
                };
                self.deployment_event(deployment, scripted, message);
                self.rollout_undo(deployment, to_revision)
            }
            ScriptedAction::Pause { deployment } => {
                self.deployment_event(
                    DeploymentId(deployment as u32),
                    scripted,
                    "kubectl rollout pause".into(),
                );
                self.cluster.deployments[deployment].paused = true;
            }
            ScriptedAction::Resume { deployment } => {
                self.deployment_event(
                    DeploymentId(deployment as u32),
                    scripted,
                    "kubectl rollout resume".into(),
                );
                self.cluster.deployments[deployment].paused = false;
            }
            ScriptedAction::DeletePods { deployment, count } => {
                let deployment = DeploymentId(deployment as u32);
                let message = format!("kubectl delete pod: the {count} oldest pods");
                self.deployment_event(deployment, scripted, message);
                self.delete_oldest_pods(deployment, count)
            }
            node_action => unreachable!("{node_action:?} is handled by on_scripted"),
        }
    }

    /// `kubectl apply`: the new spec; `spec.replicas` and `spec.paused` only when the manifest
    /// states them.
    fn kubectl_apply(&mut self, applied: crate::scenario::AppliedDeployment) {
        let deployment = DeploymentId(applied.index as u32);
        if let Some(paused) = applied.paused {
            self.cluster.deployments[deployment.index()].paused = paused;
        }
        self.cluster.set_deployment_spec(deployment, applied.spec);
        if let Some(replicas) = applied.replicas
            && replicas != self.cluster.deployment(deployment).replicas
        {
            self.apply(Intent::ScaleDeployment {
                deployment,
                replicas,
            });
        }
    }

    /// `kubectl rollout undo`: the template of `to_revision` (default: the highest revision
    /// below the current one) becomes the Deployment's again. Without such a revision nothing
    /// happens, as kubectl reports an error and changes nothing.
    fn rollout_undo(&mut self, deployment: DeploymentId, to_revision: Option<u64>) {
        let current = self.cluster.max_revision(deployment);
        let target = self
            .cluster
            .deployment(deployment)
            .replica_sets
            .iter()
            .map(|rs| &self.cluster.replica_sets[rs.index()])
            .filter(|rs| match to_revision {
                Some(r) => rs.revision == r,
                None => rs.revision < current,
            })
            .max_by_key(|rs| rs.revision);
        let Some(rs) = target else {
            return;
        };
        let mut spec = self.cluster.deployment(deployment).spec.clone();
        spec.pod = (*rs.source_template).clone();
        self.cluster.set_deployment_spec(deployment, spec);
    }

    /// `kubectl delete pod` of the Deployment's `count` longest-running pods.
    fn delete_oldest_pods(&mut self, deployment: DeploymentId, count: u32) {
        let mut pods: Vec<(SimTime, PodId)> = self
            .cluster
            .deployment(deployment)
            .replica_sets
            .iter()
            .flat_map(|rs| self.cluster.replica_sets[rs.index()].pods.iter())
            .map(|&p| (self.cluster.pod(p).created, p))
            .collect();
        pods.sort();
        for (_, pod) in pods.into_iter().take(count as usize) {
            self.delete_pod(pod);
        }
    }

    /// Runs `action` on the node called `name` (nothing if it is gone, e.g. scaled down).
    /// Runs a scripted node action on the node `node` names (a pick chooses among the pool's
    /// nodes that `applies` to); when there is none, the event is skipped with a warning in
    /// cluster_events.jsonl.
    fn on_node(
        &mut self,
        node: &NodeRef,
        applies: fn(&Node) -> bool,
        action: impl FnOnce(&mut Self, NodeId),
    ) {
        let found = match node {
            NodeRef::Named(name) => self.cluster.node_named(name),
            NodeRef::Pick { pool, rule } => self.pick_node(PoolId(*pool as u32), *rule, applies),
        };
        match found {
            Some(n) => action(self, n),
            None => {
                let message = match node {
                    NodeRef::Named(name) => format!(
                        "skipped: there is no node {name:?} now (the Cluster Autoscaler may have removed it)"
                    ),
                    NodeRef::Pick { pool, .. } => format!(
                        "skipped: pool {:?} has no node this action applies to now",
                        self.scenario.node_pools[*pool].name
                    ),
                };
                let (kind, scenario) = (ObjectKind::Scenario, &self.scenario.name);
                let reason = ClusterEventReason::ScriptedEventSkipped;
                self.cluster_events
                    .record(self.now, kind, scenario, reason, message);
            }
        }
    }

    /// The node of `pool` that `rule` picks among those `applies` to (in id order: the
    /// order they were created in).
    fn pick_node(
        &mut self,
        pool: PoolId,
        rule: NodePick,
        applies: fn(&Node) -> bool,
    ) -> Option<NodeId> {
        let candidates: Vec<&Node> = (self.cluster.nodes.iter())
            .filter(|n| n.pool == pool && n.state != NodeState::Removed && applies(n))
            .collect();
        let picked = match rule {
            NodePick::Random if candidates.is_empty() => None,
            NodePick::Random => {
                let i = self.scripted_rng.random_range(0..candidates.len());
                Some(candidates[i])
            }
            // The first of the busiest: max_by_key keeps the last of equals, so reverse.
            NodePick::Busiest => candidates.iter().rev().max_by_key(|n| n.pod_count).copied(),
            NodePick::Newest => candidates.last().copied(),
        };
        picked.map(|n| n.id)
    }

    fn nodes_in_zone(&self, zone: &str) -> Vec<NodeId> {
        self.cluster
            .nodes
            .iter()
            .filter(|n| n.state != crate::cluster::NodeState::Removed)
            .filter(|n| n.labels.get(ZONE_LABEL).is_some_and(|z| z == zone))
            .map(|n| n.id)
            .collect()
    }

    /// The machine stops: requests in flight on its pods fail, and so will those still sent
    /// to them until the node lifecycle controller takes them out of the Services.
    fn fail_node(&mut self, node: NodeId, why: &str) {
        if self.cluster.node(node).down_since.is_some() {
            return;
        }
        self.node_event(node, ClusterEventReason::NodeFailed, why.to_string());
        self.cluster.set_down(node, Some(self.now));
        let pods: Vec<PodId> = self.cluster.pods_on(node).map(|p| p.id).collect();
        for pod in pods {
            if let Some(mut server) = self.take_server(pod) {
                let slab = &mut self.plane.core(pod).slab;
                server.fail_all(FailureReason::NodeFailure, slab, &mut self.outcomes);
            }
            self.metrics_server.forget(pod);
        }
        self.flush_outcomes();
    }

    /// The machine is back: pods deleted meanwhile finish terminating, the others' containers
    /// start again (Ready at once unless the node was found unreachable: then when it is found
    /// reachable again).
    fn recover_node(&mut self, node: NodeId, why: &str) {
        if self.cluster.node(node).down_since.is_none() {
            return;
        }
        self.node_event(node, ClusterEventReason::NodeRecovered, why.to_string());
        self.cluster.set_down(node, None);
        let pods: Vec<PodId> = self.cluster.pods_on(node).map(|p| p.id).collect();
        for pod in pods {
            let p = self.cluster.pod(pod);
            if p.deletion.is_some() {
                self.finish_termination(pod);
            } else if p.phase == PodPhase::Pending {
                if self.config_resolved(pod) {
                    self.start_container(pod, super::containers::Start::First);
                }
            } else {
                self.start_container(pod, super::containers::Start::Reboot);
            }
        }
    }

    /// Whether a bound pod's node is down (its containers are not running).
    pub(super) fn on_failed_node(&self, pod: PodId) -> bool {
        self.cluster
            .pod(pod)
            .node
            .is_some_and(|n| self.cluster.is_down(n))
    }

    pub(super) fn on_node_monitor(&mut self) {
        let pass = self.node_lifecycle.monitor(&self.cluster, self.now);
        for (node, note) in pass.notes {
            let reason = ClusterEventReason::of_node_lifecycle(&note);
            self.node_event(node, reason, note.message());
        }
        for intent in pass.intents {
            self.apply(intent);
        }
        if self.dirty.any() {
            self.reconcile();
        }
        self.queue
            .schedule(self.now + MONITOR_PERIOD, Event::NodeMonitor);
    }

    pub(super) fn mark_node_unreachable(&mut self, node: NodeId) {
        self.cluster.set_unreachable(node, true);
        self.cluster
            .add_taint(node, UNREACHABLE_TAINT_KEY, TaintEffect::NoSchedule);
        self.set_pods_ready(node, false);
    }

    pub(super) fn mark_node_reachable(&mut self, node: NodeId) {
        self.cluster.set_unreachable(node, false);
        self.cluster.remove_taints(node, UNREACHABLE_TAINT_KEY);
        self.set_pods_ready(node, true);
        self.scheduler_event(QueueEvent::NodeChanged);
        self.dirty.everything();
    }

    /// Sets the Ready condition of the running, not deleted pods on `node`.
    fn set_pods_ready(&mut self, node: NodeId, ready: bool) {
        let pods: Vec<(PodId, DeploymentId)> = self
            .cluster
            .pods_on(node)
            .filter(|p| p.deletion.is_none() && p.phase == PodPhase::Running)
            .map(|p| (p.id, p.deployment))
            .collect();
        for (pod, deployment) in pods {
            self.cluster.set_ready(pod, ready, self.now);
            self.observe_ready(deployment);
        }
    }

    /// The taint manager deletes the pod. On a machine that is down nobody runs the deletion:
    /// the pod stays terminating (its replacement is created at once) until the node returns.
    pub(super) fn evict_from_failed_node(&mut self, pod: PodId) {
        if !self.on_failed_node(pod) {
            self.delete_pod(pod);
            return;
        }
        let message = format!(
            "Marking for deletion Pod {} (taint {UNREACHABLE_TAINT_KEY}:NoExecute)",
            self.cluster.pod(pod).name
        );
        self.pod_event(pod, PodEventReason::Killing, message);
        let deployment = self.cluster.pod(pod).deployment;
        self.mark_pod_deleted(pod);
        self.observe_ready(deployment);
    }

    /// `kubectl drain --ignore-daemonsets`: evicts every other pod the PodDisruptionBudgets
    /// allow, and comes back in 5 s for the rest.
    pub(super) fn kubectl_drain(&mut self, node: NodeId) {
        let mut allowed = disruption::disruptions_allowed(&self.cluster);
        let mut refused = false;
        let pods: Vec<PodId> = self
            .cluster
            .pods_on(node)
            .filter(|p| p.deletion.is_none())
            .filter(|p| !self.cluster.deployment(p.deployment).is_daemon_set())
            .map(|p| p.id)
            .collect();
        for pod in pods {
            if disruption::try_evict(&self.cluster, &mut allowed, self.cluster.pod(pod)) {
                self.delete_pod(pod);
            } else {
                refused = true;
            }
        }
        if refused {
            self.queue
                .schedule(self.now + DRAIN_RETRY, Event::DrainRetry { node });
        }
        self.dirty.everything();
    }

    /// A spot interruption notice: like the node termination handler, cordon and drain the
    /// node now; the machine goes two minutes later.
    pub(super) fn spot_notice(&mut self, node: NodeId) {
        if self.cluster.node(node).state != crate::cluster::NodeState::Ready {
            return;
        }
        let message = format!(
            "spot interruption notice: cordoned and drained; the machine goes in {SPOT_NOTICE}"
        );
        self.node_event(node, ClusterEventReason::SpotInterruption, message);
        self.cluster.set_unschedulable(node, true);
        self.kubectl_drain(node);
        self.queue
            .schedule(self.now + SPOT_NOTICE, Event::SpotReclaimed { node });
    }

    /// The spot machine is gone: what still runs there dies with it, and the node leaves the
    /// cluster (and the bill).
    pub(super) fn spot_reclaimed(&mut self, node: NodeId) {
        if self.cluster.node(node).state != crate::cluster::NodeState::Ready {
            return;
        }
        self.fail_node(node, "the spot machine was reclaimed");
        let pods: Vec<(PodId, bool)> = self
            .cluster
            .pods_on(node)
            .map(|p| (p.id, p.deletion.is_some()))
            .collect();
        for (pod, deleting) in pods {
            if deleting {
                self.finish_termination(pod);
            } else {
                self.delete_pod(pod); // no server left: gone at once
            }
        }
        let pool = self.cluster.node(node).pool;
        self.cluster.remove_node(node);
        self.observe_pool_size(pool);
        self.observe_allocation();
        self.dirty.everything();
    }
}

/// Whether a scripted action applies to a node: failing, draining or interrupting one that
/// runs; recovering one that is down; cordoning one that takes pods; uncordoning one that
/// does not.
fn is_up(n: &Node) -> bool {
    n.down_since.is_none()
}

fn is_down(n: &Node) -> bool {
    n.down_since.is_some()
}

fn is_schedulable(n: &Node) -> bool {
    !n.unschedulable
}

fn is_cordoned(n: &Node) -> bool {
    n.unschedulable
}
