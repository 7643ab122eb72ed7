//! Per-pod events, the way `kubectl describe pod` lists them: what created the pod, each failed
//! scheduling attempt with the scheduler's per-filter reasons, what the Cluster Autoscaler did
//! about it, where it was bound, when it started and when it was stopped.
//!
//! Like client-go's event correlator, a repeat of an event the pod already has (same reason and
//! message) is folded into it — `count` grows and `lastSeconds` moves — so a pod retried every
//! 10 s for an hour is one line, not 360, even when other events come in between. Memory is
//! bounded by pods × distinct messages.

use serde::Serialize;

use crate::cluster::PodId;
pub use crate::controllers::PodEventReason;
use crate::sim::SimTime;

/// One event, possibly folded from several identical ones.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodEvent {
    /// First occurrence, in simulated seconds.
    pub t_seconds: f64,
    /// The pod's name.
    pub pod: String,
    /// The Deployment (or pod trace) the pod belongs to.
    pub owner: String,
    /// `Warning` for the reasons that mean something is wrong, `Normal` otherwise (`type` in
    /// the file).
    #[serde(rename = "type")]
    pub event_type: &'static str,
    /// Why it was logged, as `kubectl describe pod` names it (`FailedScheduling`, …).
    pub reason: PodEventReason,
    /// What happened, in the words of the component that logged it (the scheduler's
    /// `0/3 nodes are available: …`).
    pub message: String,
    /// How many times it happened.
    pub count: u32,
    /// Last occurrence, in simulated seconds.
    pub last_seconds: f64,
}

/// Every pod event of a run, in the order they first happened.
#[derive(Clone, Debug, Default)]
pub struct PodEventLog {
    events: Vec<PodEvent>,
    /// Each pod's events (indices into `events`, by pod index), so a repeat is found among the
    /// pod's few events and folded into it.
    by_pod: Vec<Vec<usize>>,
}

/// Who a pod is, for the log.
#[derive(Clone, Copy, Debug)]
pub struct PodRef<'a> {
    /// The pod's id: repeats are folded by id, reason and message.
    pub id: PodId,
    /// Its name (`pod` in the log).
    pub name: &'a str,
    /// The name of the workload it belongs to (`owner` in the log).
    pub owner: &'a str,
}

impl PodEventLog {
    /// Records an event for `pod`, folding it into an identical earlier one. Returns the
    /// event's index (for [`Self::add_repeats`]).
    pub fn record(
        &mut self,
        now: SimTime,
        pod: PodRef,
        reason: PodEventReason,
        message: String,
    ) -> usize {
        let t = now.as_secs_f64();
        if self.by_pod.len() <= pod.id.index() {
            self.by_pod.resize_with(pod.id.index() + 1, Vec::new);
        }
        let own = &mut self.by_pod[pod.id.index()];
        if let Some(i) = own
            .iter()
            .copied()
            .find(|&i| self.events[i].reason == reason && self.events[i].message == message)
        {
            let earlier = &mut self.events[i];
            earlier.count += 1;
            earlier.last_seconds = t;
            return i;
        }
        let index = self.events.len();
        own.push(index);
        self.events.push(PodEvent {
            t_seconds: t,
            pod: pod.name.to_string(),
            owner: pod.owner.to_string(),
            event_type: reason.event_type(),
            reason,
            message,
            count: 1,
            last_seconds: t,
        });
        index
    }

    /// Folds `count` more repeats, the last at `last`, into event `index` (repeats of a pod's
    /// event that were counted for its whole group of lockstep pods at once).
    pub fn add_repeats(&mut self, index: usize, count: u32, last: SimTime) {
        if let Some(event) = self.events.get_mut(index) {
            event.count += count;
            event.last_seconds = last.as_secs_f64();
        }
    }

    /// The pod's events so far, in the order they first happened.
    pub fn events_of(&self, pod: PodId) -> impl DoubleEndedIterator<Item = &PodEvent> {
        let own = self.by_pod.get(pod.index()).map_or(&[][..], Vec::as_slice);
        own.iter().map(|&i| &self.events[i])
    }

    pub(crate) fn into_events(self) -> Vec<PodEvent> {
        self.events
    }
}

/// The words of a `Scheduled` event: `Successfully assigned POD to NODE`.
pub fn scheduled_message(pod: &str, node: &str) -> String {
    format!("Successfully assigned {pod} to {node}")
}

/// The node a `Scheduled` event's message names.
pub fn scheduled_node(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("Successfully assigned ")?;
    rest.rsplit_once(" to ").map(|(_, node)| node)
}

/// The part of a `Created` event's message naming the pod it replaces: ` to replace POD, lost
/// at TIME: CAUSE`.
pub fn replacing(pod: &str, lost_at: SimTime, cause: &str) -> String {
    format!(" to replace {pod}, lost at {lost_at}: {cause}")
}

/// The pod a `Created` event's message says the new pod replaces.
pub fn replaced_pod(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once(" to replace ")?;
    rest.split_once(", lost at ").map(|(pod, _)| pod)
}

/// The words of a Job pod's `Created` event: `Created by Job JOB`.
pub fn created_by_job(job: &str) -> String {
    format!("Created by Job {job}")
}

/// The Job a `Created` event's message says made the pod.
pub fn creating_job(message: &str) -> Option<&str> {
    message.strip_prefix("Created by Job ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_back_what_they_say() {
        let created = created_by_job("nightly-etl-29461260");
        assert_eq!(creating_job(&created), Some("nightly-etl-29461260"));
        assert_eq!(creating_job("Created by ReplicaSet web-7b6"), None);
        let scheduled = scheduled_message("web-7b6-abcde", "general-1");
        assert_eq!(scheduled_node(&scheduled), Some("general-1"));
        assert_eq!(scheduled_node("Pulled image"), None);
        let at = SimTime::from_secs(655);
        let created = format!(
            "Created by ReplicaSet web-7b6{}",
            replacing("web-7b6-xyz", at, "deleted")
        );
        assert_eq!(
            created,
            "Created by ReplicaSet web-7b6 to replace web-7b6-xyz, lost at 00:10:55: deleted"
        );
        assert_eq!(replaced_pod(&created), Some("web-7b6-xyz"));
        assert_eq!(
            replaced_pod("Created by ReplicaSet web-7b6: it wants 3 pods and had 2"),
            None
        );
    }
    use crate::sim::SimDuration;

    #[test]
    fn repeats_fold_and_changes_start_a_new_event() {
        let mut log = PodEventLog::default();
        let a = PodRef {
            id: PodId(0),
            name: "a",
            owner: "web",
        };
        let b = PodRef {
            id: PodId(1),
            name: "b",
            owner: "web",
        };
        let at = |s| SimTime::ZERO + SimDuration::from_secs(s);
        let full = || "0/1 nodes are available: 1 Insufficient cpu.".to_string();
        log.record(at(0), a, PodEventReason::FailedScheduling, full());
        log.record(at(1), b, PodEventReason::FailedScheduling, full());
        // a's repeats fold into a's first event even with others in between.
        log.record(at(3), a, PodEventReason::FailedScheduling, full());
        log.record(
            at(5),
            a,
            PodEventReason::NotTriggerScaleUp,
            "max size".into(),
        );
        log.record(at(10), a, PodEventReason::FailedScheduling, full());
        let other = || "0/1 nodes are available: 1 Insufficient memory.".to_string();
        log.record(at(12), a, PodEventReason::FailedScheduling, other());
        let events = log.into_events();
        let summary: Vec<_> = events
            .iter()
            .map(|e| {
                (
                    e.pod.as_str(),
                    e.reason,
                    e.count,
                    e.t_seconds,
                    e.last_seconds,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("a", PodEventReason::FailedScheduling, 3, 0.0, 10.0),
                ("b", PodEventReason::FailedScheduling, 1, 1.0, 1.0),
                ("a", PodEventReason::NotTriggerScaleUp, 1, 5.0, 5.0),
                ("a", PodEventReason::FailedScheduling, 1, 12.0, 12.0),
            ]
        );
        assert_eq!(events[0].event_type, "Warning");
        assert_eq!(events[2].event_type, "Warning");
    }
}
