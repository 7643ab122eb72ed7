//! The pods' lifecycle in the engine: a pod started by its kubelet, its events, its deletion
//! (endpoints left at once, the drain within its grace period, the end of its termination), a
//! killed pod, and the pods of pod traces created and deleted at their times.

use crate::cluster::{DeploymentId, NodeId, PodId, PodPhase};
use crate::controllers::scheduler::hints::QueueEvent;
use crate::metrics::Observation;
use crate::metrics::cluster_events::{ClusterEventReason, ObjectKind};
use crate::metrics::pod_events::{PodEventReason, PodRef};
use crate::sim::SimDuration;

use super::{Engine, Event, containers};

impl Engine<'_, '_> {
    pub(super) fn on_pod_started(&mut self, pod: PodId) {
        let p = self.cluster.pod(pod);
        if p.deletion.is_some() || p.phase != PodPhase::Pending {
            self.forget_config_wait(pod);
            return; // deleted while starting
        }
        if self.on_failed_node(pod) {
            return; // the machine is down: it starts when the node recovers
        }
        if self.config_resolved(pod) {
            self.start_container(pod, containers::Start::First);
        }
    }

    /// Logs an event for `pod` under its name and its Deployment's; returns its index in the
    /// log.
    pub(super) fn pod_event(
        &mut self,
        pod: PodId,
        reason: PodEventReason,
        message: String,
    ) -> usize {
        let p = self.cluster.pod(pod);
        let owner = &self.cluster.deployment(p.deployment).spec.name;
        let pod = PodRef {
            id: pod,
            name: &p.name,
            owner,
        };
        self.pod_events.record(self.now, pod, reason, message)
    }

    pub(super) fn node_event(&mut self, node: NodeId, reason: ClusterEventReason, message: String) {
        let name = &self.cluster.node(node).name;
        let kind = ObjectKind::Node;
        self.cluster_events
            .record(self.now, kind, name, reason, message);
    }

    pub(super) fn deployment_event(
        &mut self,
        deployment: DeploymentId,
        reason: ClusterEventReason,
        message: String,
    ) {
        let name = &self.cluster.deployment(deployment).spec.name;
        let kind = ObjectKind::Deployment;
        self.cluster_events
            .record(self.now, kind, name, reason, message);
    }

    pub(super) fn observe_ready(&mut self, deployment: DeploymentId) {
        // Readiness moves rollouts along; a pod is available minReadySeconds after Ready
        // (strictly after: hence the microsecond).
        self.dirty.workload(deployment);
        let min_ready = self.cluster.deployment(deployment).spec.rollout.min_ready;
        if !min_ready.is_zero() {
            let at = self.now + min_ready + SimDuration::from_micros(1);
            self.queue
                .schedule(at, Event::MinReadyElapsed { deployment });
        }
        let ready = self.cluster.ready_pods(deployment);
        self.recorder.observe(
            self.now,
            Observation::ReadyPodsChanged { deployment, ready },
        );
    }

    /// Deletion: the pod leaves its endpoints at once; a running pod drains within its grace period.
    pub(super) fn delete_pod(&mut self, pod: PodId) {
        self.delete_pod_within(pod, SimDuration::MAX);
    }

    /// [`Engine::delete_pod`] with the grace period cut to at most `max_grace`.
    pub(super) fn delete_pod_within(&mut self, pod: PodId, max_grace: SimDuration) {
        let was_ready = self.cluster.pod(pod).ready;
        if self.cluster.pod(pod).node.is_some() {
            self.pod_event(pod, PodEventReason::Killing, "Stopping container".into());
        } else {
            self.pod_event(pod, PodEventReason::Deleted, "Deleted while Pending".into());
        }
        self.mark_pod_deleted(pod);
        let dep = self.cluster.pod(pod).deployment;
        self.dirty.workload(dep);
        if was_ready {
            self.observe_ready(dep);
        }
        let idle = self.server_now(pod).is_none_or(|s| s.is_idle());
        if idle {
            self.finish_termination(pod);
            return;
        }
        let grace = self
            .cluster
            .deployment(dep)
            .spec
            .pod
            .termination_grace
            .min(max_grace);
        self.queue
            .schedule(self.now + grace, Event::TerminationDeadline { pod });
    }

    /// Sets the pod's deletion timestamp, and tells its server (if it has one).
    pub(super) fn mark_pod_deleted(&mut self, pod: PodId) {
        self.note_loss(pod);
        self.karpenter_pod_event(pod);
        self.cluster.mark_deleted(pod, self.now);
        if let Some(server) = self.server_now(pod) {
            server.mark_deleting();
            self.note_draining(pod, true);
        }
    }

    /// Grace period over: whatever is still in flight fails, and the pod is gone.
    pub(super) fn kill_pod(&mut self, pod: PodId) {
        if self.cluster.pod(pod).phase == PodPhase::Terminated {
            return;
        }
        self.touch(pod);
        let core = self.plane.core(pod);
        if let Some(server) = core.servers.get_mut(pod) {
            let reason = crate::traffic::FailureReason::PodTerminated;
            server.fail_all(reason, &mut core.slab, &mut self.outcomes);
        }
        self.flush_outcomes();
        self.finish_termination(pod);
    }

    pub(super) fn finish_termination(&mut self, pod: PodId) {
        self.job_pod_lost(pod);
        let node = self.cluster.pod(pod).node;
        let repeats = self.scheduler.queue.forget(pod);
        self.add_repeats(repeats);
        if node.is_some() {
            self.charge(pod, -1.0);
            // Its requests, host ports and labels leave the node: parked pods may fit now.
            let gone = std::sync::Arc::clone(&self.cluster.pod(pod).template);
            self.scheduler_event(QueueEvent::AssignedPodDeleted(&gone));
        }
        self.karpenter_pod_event(pod);
        self.cluster.terminate(pod);
        self.observe_allocation();
        if let Some(node) = node.filter(|&n| self.cluster.node(n).is_to_be_deleted()) {
            self.remove_node_if_empty(node);
        }
        self.take_server(pod);
        self.metrics_server.forget(pod);
        self.dirty.workload(self.cluster.pod(pod).deployment);
    }

    // ---- pod traces --------------------------------------------------------------------------

    pub(super) fn on_trace_pod_created(&mut self, trace: u32, index: u32) {
        let spec = &self.scenario.pod_traces[trace as usize];
        let row = &spec.pods[index as usize];
        let deployment = DeploymentId(spec.deployment as u32);
        let rs = self.cluster.deployment(deployment).replica_sets[0];
        let template = std::sync::Arc::clone(&row.template);
        let pod = self
            .cluster
            .create_pod_with(rs, row.name.clone(), template, self.now);
        self.pod_event(
            pod,
            PodEventReason::Created,
            "Created from the pod trace".into(),
        );
        if let Some(at) = row.delete {
            self.queue
                .schedule(at.max(self.now), Event::TracePodDeleted { pod });
        }
        self.recorder
            .observe(self.now, Observation::PodCreated { deployment });
        self.count_trace_pods(deployment, 1);
        self.dirty.workload(deployment);
    }

    pub(super) fn on_trace_pod_deleted(&mut self, pod: PodId) {
        if self.cluster.pod(pod).deletion.is_some() {
            return;
        }
        let deployment = self.cluster.pod(pod).deployment;
        self.delete_pod(pod);
        self.count_trace_pods(deployment, -1);
        self.dirty.workload(deployment);
    }

    /// A trace's "replicas" are its live pods.
    pub(super) fn count_trace_pods(&mut self, deployment: DeploymentId, delta: i32) {
        let d = &mut self.cluster.deployments[deployment.index()];
        d.replicas += delta;
        let replicas = d.replicas;
        self.recorder.observe(
            self.now,
            Observation::ReplicasChanged {
                deployment,
                replicas,
            },
        );
    }
}
