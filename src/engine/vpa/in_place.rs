//! `InPlaceOrRecreate`: the updater resizes pods in place (the pod's `resize` subresource) and
//! the kubelet admits the resize against its node — at once when it fits beside the node's
//! other pods, `Deferred` when it would fit the node but not now, `Infeasible` when it exceeds
//! the node's allocatable. A deferred resize is tried again at every updater loop (kubesim's
//! stand-in for the kubelet's retries when room frees up) and falls back to eviction 5 min after
//! the updater first saw it pending; an infeasible one at the next loop. An admitted resize
//! changes the running container in place (`resizePolicy: NotRequired`): its node's requests,
//! its cost, its CPU shares and CFS quota, and its memory limit, from that instant. A
//! container whose `resizePolicy` says `RestartContainer` for a resource that changes is
//! restarted at once (no backoff; its requests in flight fail and it is not Ready until its
//! probes pass again).

use std::sync::Arc;

use crate::cluster::{PodId, PodPhase, ResizeFit};
use crate::controllers::PodEventReason;
use crate::controllers::scheduler::hints::QueueEvent;
use crate::controllers::vpa::admission;
use crate::controllers::vpa::policy::ContainerRecommendation;
use crate::controllers::vpa::updater::{DEFERRED_RESIZE_TIMEOUT, ReplicaGroup};
use crate::metrics::Observation;
use crate::scenario::PodTemplate;
use crate::sim::SimTime;
use crate::spec::resources::Resources;
use crate::spec::vpa::VpaSpec;

use super::super::Engine;
use super::super::containers::Kill;
use super::VpaLoop;

/// A resize the kubelet has not done yet.
#[derive(Clone)]
pub(super) struct PendingResize {
    /// The pod as the resize would leave it.
    template: Arc<PodTemplate>,
    /// `Deferred` or `Infeasible`.
    fit: ResizeFit,
    /// When the updater first saw it pending (`lastInPlaceAttemptTimeMap`).
    seen: Option<SimTime>,
}

impl Engine<'_, '_> {
    /// One `InPlaceOrRecreate` pass over a group's ranked candidates: pending resizes retried,
    /// new ones started while the group is disruptable; returns the group and the pods whose
    /// resize falls back to eviction.
    pub(super) fn update_in_place(
        &mut self,
        v: &mut VpaLoop,
        vpa: usize,
        spec: &VpaSpec,
        mut group: ReplicaGroup,
        candidates: Vec<PodId>,
        recommendation: &[ContainerRecommendation],
    ) -> (ReplicaGroup, Vec<PodId>) {
        let mut evict = Vec::new();
        for pod in candidates {
            if self.cluster.pod(pod).phase == PodPhase::Pending {
                continue;
            }
            if let Some(pending) = v.resizes.get_mut(&pod) {
                let seen = *pending.seen.get_or_insert(self.now);
                let timed_out = pending.fit == ResizeFit::Infeasible
                    || self.now.saturating_since(seen) > DEFERRED_RESIZE_TIMEOUT;
                if timed_out && group.disruptable() {
                    evict.push(pod);
                }
                continue;
            }
            if !group.disruptable() {
                continue;
            }
            let containers = &self.cluster.pod(pod).template.hpa_containers;
            let Some(resized) = admission::recommended_containers(containers, spec, recommendation)
            else {
                continue;
            };
            let template = Arc::new(self.cluster.pod(pod).template.resized(resized));
            group.resize();
            match self.cluster.resize_fit(pod, &template) {
                ResizeFit::Fits => {
                    self.resize_in_place(pod, template, &spec.name);
                    v.actions[vpa].pods_resized_in_place += 1;
                }
                fit => {
                    let pending = PendingResize {
                        template,
                        fit,
                        seen: None,
                    };
                    v.resizes.insert(pod, pending);
                }
            }
        }
        (group, evict)
    }

    /// The kubelet's retry of the deferred resizes of `vpa`'s pods; forgets those of pods
    /// that are gone or going.
    pub(super) fn retry_resizes(&mut self, v: &mut VpaLoop, vpa: usize, name: &str) {
        let pods: Vec<PodId> = v.resizes.keys().copied().collect();
        for pod in pods {
            let p = self.cluster.pod(pod);
            if p.deletion.is_some() || p.phase == PodPhase::Terminated {
                v.resizes.remove(&pod);
                continue;
            }
            if v.vpa_of[p.deployment.index()] != Some(vpa) {
                continue;
            }
            let template = Arc::clone(&v.resizes[&pod].template);
            if self.cluster.resize_fit(pod, &template) == ResizeFit::Fits {
                v.resizes.remove(&pod);
                self.resize_in_place(pod, template, name);
                v.actions[vpa].pods_resized_in_place += 1;
            }
        }
    }

    /// The kubelet actuates a resize: the pod's requests on its node and its cost share, and
    /// its running container's CPU shares, CFS quota and memory limit, change now.
    fn resize_in_place(&mut self, pod: PodId, template: Arc<PodTemplate>, vpa: &str) {
        let restarts = restarts_on_resize(&self.cluster.pod(pod).template, &template);
        let shrinks =
            shrinks_a_request(&self.cluster.pod(pod).template.requests, &template.requests);
        self.charge(pod, -1.0);
        self.cluster.resize_bound_pod(pod, template);
        self.charge(pod, 1.0);
        self.observe_allocation();
        let message =
            format!("Pod was resized in place by VPA Updater to apply the recommendation of {vpa}");
        self.pod_event(pod, PodEventReason::InPlaceResizedByVPA, message);
        if shrinks {
            self.scheduler_event(QueueEvent::AssignedPodScaledDown);
        }
        if self.plane.get(pod).is_some() {
            let (cap, bandwidth, place) = self.join_node_cpu(pod);
            let now = self.now;
            let server = self.server_now(pod).expect("checked above");
            server.set_cpu_place(place);
            let (stats, completion) = server.set_cpu_limit(now, cap, bandwidth);
            self.schedule_completion(pod, completion);
            if let Some(stats) = stats {
                let deployment = self.cluster.pod(pod).deployment;
                let observation = Observation::CpuPeriods { deployment, stats };
                self.recorder.observe(self.now, observation);
            }
            if let Some(node) = self.cluster.pod(pod).node {
                self.track_node_demand(node);
            }
            if restarts {
                self.kill_container(pod, Kill::Resize);
            } else {
                self.check_memory_limit(pod);
            }
        }
        self.dirty.everything();
    }
}

/// Whether the resize from `old` to `new` restarts a container (`resizePolicy:
/// RestartContainer` on a resource whose request or limit changes). kubesim runs a pod's work
/// as one process, so any of its containers restarting restarts it.
fn restarts_on_resize(old: &PodTemplate, new: &PodTemplate) -> bool {
    old.hpa_containers.iter().any(|c| {
        let resized = new.hpa_containers.iter().find(|n| n.name == c.name);
        resized.is_some_and(|n| c.resize_restarts(n))
    })
}

/// Whether a resize from `from` to `to` lowers some request (upstream's `UpdatePodScaleDown`,
/// which NodeResourcesFit registers for).
fn shrinks_a_request(from: &Resources, to: &Resources) -> bool {
    to.cpu_millis < from.cpu_millis
        || to.memory_bytes < from.memory_bytes
        || to.ephemeral_storage_bytes < from.ephemeral_storage_bytes
        || to.gpus < from.gpus
        || (from.extended.iter()).any(|(name, &n)| to.extended.get(name).is_some_and(|&m| m < n))
}
