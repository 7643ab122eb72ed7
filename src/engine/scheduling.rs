//! The engine's side of kube-scheduler: one pass over what the queue says is due, each pod
//! bound or failed in priority order, the events and counts each outcome leaves, preemption's
//! victims, and the retry timer for the next group whose wait ends.
//!
//! A pass remembers the failures it has seen while the cluster stays as it was: another pod of
//! the same template (not nominated to a node) would run the same filters over the same nodes
//! and get the same answer, so it gets that answer without running them again. Only answers
//! that drew nothing from the scheduler's random stream and asked for no preemption are
//! remembered, and a bind or a preemption forgets them all, so the outputs are those of trying
//! every pod in full.
//!
//! Pods that failed so together stay together in the queue (a group: one template, one
//! backoff, one message), and a pass tries a group's members in order until one fails with a
//! remembered answer: the rest fail with it at once — one fold for all their events, one count
//! of attempts — so an Indexed Job of 100 000 pods waiting on three nodes costs per pod end
//! what changed, not what waits. A member's event gets its folded count back when it leaves
//! the group or when the run ends.

use std::sync::Arc;

use super::{Engine, Event};
use crate::cluster::PodId;
use crate::controllers::scheduler::filter::Rejectors;
use crate::controllers::scheduler::hints::QueueEvent;
use crate::controllers::scheduler::queue::{GroupId, Ready, Repeats};
use crate::controllers::scheduler::{self, Unschedulable};
use crate::controllers::{Intent, PodEventReason};
use crate::metrics::Observation;
use crate::scenario::PodTemplate;

/// What a pass knows: the failures seen on the cluster as it is (a template, its
/// `FailedScheduling` message and the plugins that rejected it), and the group that failed
/// with a remembered answer last (the next such failure may join it).
#[derive(Default)]
struct Pass {
    known: Vec<(Arc<PodTemplate>, String, Rejectors)>,
    last_group: Option<GroupId>,
}

impl Pass {
    fn known(&self, template: &Arc<PodTemplate>) -> Option<(String, Rejectors)> {
        (self.known.iter())
            .find(|(t, _, _)| Arc::ptr_eq(t, template))
            .map(|(_, message, by)| (message.clone(), *by))
    }
}

/// One scheduling cycle's outcome.
enum Attempt {
    Bound(crate::cluster::NodeId),
    /// A failure another pod of the template would meet too (now remembered).
    Repeatable(String, Rejectors),
    Failed(Unschedulable),
}

impl Engine<'_, '_> {
    /// Tries what the queue has ready, highest priority first, until nothing is: pods a bind
    /// in the pass moves out of the unschedulable pool are tried in the same pass, as an idle
    /// scheduler pops them at once.
    pub(super) fn schedule_pending(&mut self) {
        for pod in std::mem::take(&mut self.cluster.newly_unscheduled) {
            self.scheduler.queue.add(pod, self.now);
        }
        let mut pass = Pass::default();
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
            for item in ready {
                match item {
                    Ready::Pod(pod) => self.try_pod(pod, &mut pass),
                    Ready::Group(g) => self.try_group(g, &mut pass),
                }
            }
        }
        self.arm_scheduler_wakeup();
    }

    /// A pod that has not failed before: a scheduling cycle, or the failure a pod of the same
    /// template met on the cluster as it is.
    fn try_pod(&mut self, pod: PodId, pass: &mut Pass) {
        let p = self.cluster.pod(pod);
        let known = p.nominated_node.is_none().then(|| pass.known(&p.template));
        let (message, by) = match known.flatten() {
            Some(failure) => failure,
            None => match self.attempt(pod, pass) {
                Attempt::Bound(node) => return self.bind_scheduled(pod, node),
                Attempt::Failed(failure) => return self.scheduling_failed(pod, failure),
                Attempt::Repeatable(message, by) => (message, by),
            },
        };
        let g = self.pod_unschedulable(pod, message, by);
        self.join_last_group(g, pass);
    }

    /// A group's members in order: each tried in full until one fails with an answer the
    /// pass remembers, which the rest then share.
    fn try_group(&mut self, g: GroupId, pass: &mut Pass) {
        while let Some(pod) = self.scheduler.queue.front(g) {
            if !self.cluster.unscheduled.contains(&pod) {
                let repeats = self.scheduler.queue.forget(pod);
                self.add_repeats(repeats);
                continue;
            }
            let p = self.cluster.pod(pod);
            let known = p.nominated_node.is_none().then(|| pass.known(&p.template));
            let (message, by) = match known.flatten() {
                Some(failure) => failure,
                None => match self.attempt(pod, pass) {
                    Attempt::Bound(node) => {
                        self.bind_scheduled(pod, node);
                        continue;
                    }
                    Attempt::Failed(failure) => {
                        self.scheduling_failed(pod, failure);
                        continue;
                    }
                    Attempt::Repeatable(message, by) => (message, by),
                },
            };
            self.group_unschedulable(g, message, by);
            self.join_last_group(g, pass);
            return;
        }
    }

    /// Runs the scheduling cycle for `pod`; remembers a repeatable failure, and forgets what
    /// the pass knew when the cluster changes (a bind, a preemption).
    fn attempt(&mut self, pod: PodId, pass: &mut Pass) -> Attempt {
        let drawn = self.scheduler_rng.get_word_pos();
        match (self.scheduler).schedule_pod(&self.cluster, pod, &mut self.scheduler_rng) {
            Ok(node) => {
                pass.known.clear();
                Attempt::Bound(node)
            }
            Err(failure) => {
                let repeatable = failure.preemption.is_none()
                    && self.scheduler_rng.get_word_pos() == drawn
                    && self.cluster.pod(pod).nominated_node.is_none();
                if !repeatable {
                    if failure.preemption.is_some() {
                        pass.known.clear();
                    }
                    return Attempt::Failed(failure);
                }
                let template = Arc::clone(&self.cluster.pod(pod).template);
                let message = failure.fit.to_string();
                let by = failure.rejected_by;
                pass.known.push((template, message.clone(), by));
                Attempt::Repeatable(message, by)
            }
        }
    }

    /// Merges `g`, which has just failed with a remembered answer, into the group that did so
    /// before it in this pass, if they are pods of one template in the same state.
    fn join_last_group(&mut self, g: GroupId, pass: &mut Pass) {
        let queue = &mut self.scheduler.queue;
        let merged = pass.last_group.and_then(|last| {
            let (a, b) = (queue.front(last)?, queue.front(g)?);
            let same = Arc::ptr_eq(&self.cluster.pod(a).template, &self.cluster.pod(b).template);
            same.then(|| queue.try_merge(last, g, self.now)).flatten()
        });
        pass.last_group = Some(merged.unwrap_or(g));
    }

    /// A cluster event for the scheduling queue: the parked pods it may make schedulable are
    /// queued, and a pass is due if any was.
    pub(super) fn scheduler_event(&mut self, event: QueueEvent) {
        if (self.scheduler).on_cluster_event(&self.cluster, &event, self.now) {
            self.dirty.scheduler();
        }
    }

    /// Adds failures a group folded for its members to their events.
    pub(super) fn add_repeats(&mut self, repeats: impl IntoIterator<Item = Repeats>) {
        for r in repeats {
            self.pod_events.add_repeats(r.event, r.count, r.last);
        }
    }

    fn bind_scheduled(&mut self, pod: PodId, node: crate::cluster::NodeId) {
        let repeats = self.scheduler.queue.forget(pod);
        self.add_repeats(repeats);
        let message = crate::metrics::pod_events::scheduled_message(
            &self.cluster.pod(pod).name,
            &self.cluster.node(node).name,
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

    /// What a failed attempt leaves: the event, the pod parked (in a group of its own) with a
    /// longer backoff, waiting on the plugins that rejected it, its PodScheduled condition,
    /// Karpenter told, the attempt counted. Returns the pod's group.
    fn pod_unschedulable(&mut self, pod: PodId, message: String, by: Rejectors) -> GroupId {
        let repeats = self.scheduler.queue.detach(pod);
        self.add_repeats(repeats);
        let event = self.pod_event(pod, PodEventReason::FailedScheduling, message.clone());
        let g = (self.scheduler.queue).failed(pod, self.now, by, event, &message);
        self.cluster.mark_unschedulable(pod, self.now);
        self.karpenter_pod_unschedulable(pod);
        self.count_unschedulable(pod, 1);
        g
    }

    /// [`Self::pod_unschedulable`] for every member of a group at once: one fold for their
    /// events (or, when the message is new, an event for each), one count. Members have failed
    /// before, so their PodScheduled condition is already false.
    fn group_unschedulable(&mut self, g: GroupId, message: String, by: Rejectors) {
        let queue = &mut self.scheduler.queue;
        let folded = queue.message(g) == message;
        let (Some(first), live) = (queue.front(g), queue.live(g)) else {
            return;
        };
        if !folded {
            let repeats = queue.take_repeats(g);
            self.add_repeats(repeats);
            for pod in self.scheduler.queue.members(g) {
                let event = self.pod_event(pod, PodEventReason::FailedScheduling, message.clone());
                self.scheduler.queue.set_event(pod, event);
            }
            self.scheduler.queue.set_message(g, &message);
        }
        (self.scheduler.queue).group_failed(g, self.now, by, folded);
        if self.karpenter.is_some() {
            for pod in self.scheduler.queue.members(g) {
                self.karpenter_pod_unschedulable(pod);
            }
        }
        self.count_unschedulable(first, live as u64);
    }

    /// Counts failed attempts of pods of `pod`'s workload.
    fn count_unschedulable(&mut self, pod: PodId, attempts: u64) {
        let deployment = self.cluster.pod(pod).deployment;
        let observation = Observation::PodsUnschedulable {
            deployment,
            attempts,
        };
        self.recorder.observe(self.now, observation);
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

    /// Makes sure a `SchedulerRetry` fires when the next waiting group becomes eligible.
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
