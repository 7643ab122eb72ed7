//! The engine's side of kube-scheduler: one pass over the pods the queue says are due, each
//! bound or failed in priority order, the events and counts each outcome leaves, preemption's
//! victims, and the retry timer for the next pod whose wait ends.
//!
//! A pass remembers the failures it has seen while the cluster stays as it was: another pod of
//! the same template (not nominated to a node) would run the same filters over the same nodes
//! and get the same answer, so it gets that answer without running them again. Only answers
//! that drew nothing from the scheduler's random stream and asked for no preemption are
//! remembered, and a bind or a preemption forgets them all, so the outputs are those of trying
//! every pod in full (an Indexed Job of thousands of pods waiting on three nodes no longer
//! formats thousands of identical messages per pass).

use std::sync::Arc;

use super::{Engine, Event};
use crate::cluster::PodId;
use crate::controllers::scheduler::filter::Rejectors;
use crate::controllers::scheduler::hints::QueueEvent;
use crate::controllers::scheduler::{self, Unschedulable};
use crate::controllers::{Intent, PodEventReason};
use crate::metrics::Observation;
use crate::scenario::PodTemplate;

/// Failures seen in this pass on the cluster as it is: a template, its `FailedScheduling`
/// message and the plugins that rejected it.
#[derive(Default)]
struct KnownFailures(Vec<(Arc<PodTemplate>, String, Rejectors)>);

impl KnownFailures {
    fn of(&self, template: &Arc<PodTemplate>) -> Option<(&str, Rejectors)> {
        (self.0.iter())
            .find(|(t, _, _)| Arc::ptr_eq(t, template))
            .map(|(_, message, by)| (message.as_str(), *by))
    }
}

impl Engine<'_, '_> {
    /// Tries the pods the queue has ready, highest priority first, until none is: pods a bind
    /// in the pass moves out of the unschedulable pool are tried in the same pass, as an idle
    /// scheduler pops them at once.
    pub(super) fn schedule_pending(&mut self) {
        for pod in std::mem::take(&mut self.cluster.newly_unscheduled) {
            self.scheduler.queue.add(pod, self.now);
        }
        let mut known = KnownFailures::default();
        loop {
            let ready = self
                .scheduler
                .queue
                .take_ready(&self.cluster.unscheduled, self.now, |p| {
                    self.cluster.pod(p).template.priority
                });
            if ready.is_empty() {
                break;
            }
            for pod in ready {
                self.try_to_schedule(pod, &mut known);
            }
        }
        self.arm_scheduler_wakeup();
    }

    /// One scheduling cycle for `pod`, or the failure a pod of the same template met on the
    /// cluster as it is.
    fn try_to_schedule(&mut self, pod: PodId, known: &mut KnownFailures) {
        let p = self.cluster.pod(pod);
        if p.nominated_node.is_none()
            && let Some((message, by)) = known.of(&p.template)
        {
            let message = message.to_string();
            self.pod_unschedulable(pod, message, by);
            return;
        }
        let drawn = self.scheduler_rng.get_word_pos();
        match (self.scheduler).schedule_pod(&self.cluster, pod, &mut self.scheduler_rng) {
            Ok(node) => {
                known.0.clear();
                self.bind_scheduled(pod, node);
            }
            Err(failure) => {
                let repeatable = failure.preemption.is_none()
                    && self.scheduler_rng.get_word_pos() == drawn
                    && self.cluster.pod(pod).nominated_node.is_none();
                if repeatable {
                    let template = Arc::clone(&self.cluster.pod(pod).template);
                    let message = failure.fit.to_string();
                    known.0.push((template, message, failure.rejected_by));
                } else if failure.preemption.is_some() {
                    known.0.clear();
                }
                self.scheduling_failed(pod, failure);
            }
        }
    }

    /// A cluster event for the scheduling queue: the parked pods it may make schedulable are
    /// queued, and a pass is due if any was.
    pub(super) fn scheduler_event(&mut self, event: QueueEvent) {
        if (self.scheduler).on_cluster_event(&self.cluster, &event, self.now) {
            self.dirty.scheduler();
        }
    }

    fn bind_scheduled(&mut self, pod: PodId, node: crate::cluster::NodeId) {
        self.scheduler.queue.forget(pod);
        let message = format!(
            "Successfully assigned {} to {}",
            self.cluster.pod(pod).name,
            self.cluster.node(node).name
        );
        self.pod_event(pod, PodEventReason::Scheduled, message);
        self.apply(Intent::BindPod { pod, node });
        let bound = Arc::clone(&self.cluster.pod(pod).template);
        self.scheduler_event(QueueEvent::AssignedPodAdded(&bound));
    }

    fn scheduling_failed(&mut self, pod: PodId, failure: Unschedulable) {
        // Parked before its victims go, so that their deletion requeues it.
        self.pod_unschedulable(pod, failure.fit.to_string(), failure.rejected_by);
        if let Some(p) = failure.preemption {
            self.preempt(pod, p);
        }
    }

    /// What a failed attempt leaves: the event, the pod parked with a longer backoff (waiting
    /// on the plugins that rejected it), its PodScheduled condition, Karpenter told, the
    /// attempt counted.
    fn pod_unschedulable(&mut self, pod: PodId, message: String, rejected_by: Rejectors) {
        self.pod_event(pod, PodEventReason::FailedScheduling, message);
        self.scheduler.queue.failed(pod, self.now, rejected_by);
        self.cluster.mark_unschedulable(pod, self.now);
        self.karpenter_pod_unschedulable(pod);
        let deployment = self.cluster.pod(pod).deployment;
        self.recorder
            .observe(self.now, Observation::PodUnschedulable { deployment });
    }

    /// Deletes the victims that make room for `pod` and nominates it to their node.
    fn preempt(&mut self, pod: PodId, preemption: scheduler::preemption::Preemption) {
        let node_name = self.cluster.node(preemption.node).name.clone();
        let preemptor = self.cluster.pod(pod).name.clone();
        self.cluster.nominate(pod, preemption.node);
        for victim in preemption.victims {
            if self.cluster.pod(victim).deletion.is_some() {
                continue;
            }
            let message = format!("Preempted by pod {preemptor} on node {node_name}");
            self.pod_event(victim, PodEventReason::Preempted, message);
            self.delete_pod(victim);
        }
        self.dirty.scheduler();
    }

    /// Makes sure a `SchedulerRetry` fires when the next waiting pod becomes eligible.
    fn arm_scheduler_wakeup(&mut self) {
        let Some(at) = self.scheduler.queue.next_wakeup(self.now) else {
            return;
        };
        if self
            .scheduler_wakeup
            .is_none_or(|w| w <= self.now || at < w)
        {
            self.scheduler_wakeup = Some(at);
            self.queue.schedule(at, Event::SchedulerRetry);
        }
    }
}
