//! Cluster-level events, the ones a reader of a run wants marked on every time axis: machines
//! failing and coming back, spot interruptions, drains and cordons, rollouts, and the
//! scenario's other scripted actions (`cluster_events.jsonl`).
//!
//! Unlike pod events these are few — a handful per node failure or rollout — so they are kept
//! as they happen, in order, without folding. The log is bounded: past [`MAX_EVENTS`] further
//! events are counted, not kept (a 5 000-node day with a 30-day MTBF has a few hundred).

use serde::{Deserialize, Serialize};

use crate::controllers::node_lifecycle::Note;
use crate::sim::SimTime;

/// Events kept per run; later ones are only counted.
pub const MAX_EVENTS: usize = 100_000;

/// Why the event was logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ClusterEventReason {
    /// The machine stopped (a random failure, a scripted one, a zone outage, or a reclaimed
    /// spot machine).
    NodeFailed,
    /// The machine is back.
    NodeRecovered,
    /// The node lifecycle controller heard no heartbeat for the grace period (50 s): the node
    /// is `Ready=Unknown`, tainted `unreachable:NoSchedule`, its pods not Ready.
    NodeNotReady,
    /// The node heartbeats again: Ready, the unreachable taints removed.
    NodeReady,
    /// The node lifecycle controller tainted a NotReady node `unreachable:NoExecute` (at its
    /// zone's rate): its pods go when their toleration runs out.
    NodeTainted,
    /// The NoExecute taint is held back: the node's zone is partially disrupted and small, or
    /// every zone is fully disrupted.
    NodeTaintHeld,
    /// The taint manager evicted pods whose toleration of the NoExecute taint ran out.
    TaintManagerEviction,
    /// A spot interruption notice: the node is cordoned and drained; it goes 2 minutes later.
    SpotInterruption,
    /// `kubectl drain` (scripted).
    Drain,
    /// `kubectl cordon` (scripted).
    Cordon,
    /// `kubectl uncordon` (scripted).
    Uncordon,
    /// A Deployment began rolling out a new revision.
    RolloutStarted,
    /// A rollout finished: every replica updated and available.
    RolloutCompleted,
    /// A rollout made no progress for `progressDeadlineSeconds`.
    ProgressDeadlineExceeded,
    /// KEDA scaled its target up from zero (or its idle count) to its minimum: a trigger is
    /// active (or, without an idle count, the target was below the minimum).
    #[allow(clippy::upper_case_acronyms)]
    KEDAScaleTargetActivated,
    /// KEDA scaled its target to zero (or its idle count): no activity for its cooldown.
    KEDAScaleTargetDeactivated,
    /// Another scripted action (`kubectl scale`, `apply`, `rollout undo|pause|resume`,
    /// `delete pod`).
    Scripted,
    /// A warning: a scripted node action found no node to act on (the node it names is gone,
    /// or its pool has none the action applies to).
    ScriptedEventSkipped,
    /// A Job has all the completions it needs (its `Complete` condition).
    JobCompleted,
    /// A Job failed: more of its pods failed than its `backoffLimit` allows.
    BackoffLimitExceeded,
    /// A Job failed: it ran longer than its `activeDeadlineSeconds`.
    DeadlineExceeded,
    /// A finished Job was deleted after its `ttlSecondsAfterFinished`.
    JobDeleted,
    /// A CronJob started a Job.
    SuccessfulCreate,
    /// A CronJob deleted a Job (Replace, or beyond its history limits).
    SuccessfulDelete,
    /// A CronJob did not start a due run: one is active and its policy is Forbid.
    JobAlreadyActive,
    /// A controller could not create a pod: a ResourceQuota of its namespace refused it.
    FailedCreate,
}

impl ClusterEventReason {
    /// What the plots draw for the event, if anything: a disruption, a rollout, or a change the
    /// scenario made. Events that end something (recovery, completion) are not marked.
    pub fn marker(self) -> Option<MarkerKind> {
        use ClusterEventReason::*;
        match self {
            NodeFailed | ProgressDeadlineExceeded => Some(MarkerKind::Failure),
            BackoffLimitExceeded | DeadlineExceeded => Some(MarkerKind::Failure),
            JobCompleted | JobDeleted | SuccessfulCreate | SuccessfulDelete => None,
            JobAlreadyActive => None,
            FailedCreate => Some(MarkerKind::Failure),
            SpotInterruption => Some(MarkerKind::Spot),
            RolloutStarted => Some(MarkerKind::Rollout),
            Drain | Cordon | Uncordon | Scripted => Some(MarkerKind::Scripted),
            NodeRecovered | RolloutCompleted => None,
            NodeNotReady | NodeReady | NodeTainted | NodeTaintHeld | TaintManagerEviction => None,
            KEDAScaleTargetActivated | KEDAScaleTargetDeactivated | ScriptedEventSkipped => None,
        }
    }

    /// The reason a node lifecycle controller's decision is logged under.
    pub fn of_node_lifecycle(note: &Note) -> Self {
        match note {
            Note::NotReady { .. } => ClusterEventReason::NodeNotReady,
            Note::Ready { .. } => ClusterEventReason::NodeReady,
            Note::Tainted { .. } => ClusterEventReason::NodeTainted,
            Note::Held { .. } => ClusterEventReason::NodeTaintHeld,
            Note::Evicting { .. } => ClusterEventReason::TaintManagerEviction,
        }
    }

    /// Parses the name `cluster_events.jsonl` uses.
    pub fn from_name(name: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
    }
}

/// How a marked event is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MarkerKind {
    /// Something broke: a node failed, a rollout missed its progress deadline, a Job failed,
    /// or a ResourceQuota refused a pod.
    Failure,
    /// A spot interruption notice.
    Spot,
    /// A rollout started.
    Rollout,
    /// A scripted action: a drain, cordon, uncordon or other `kubectl` command.
    Scripted,
}

/// What kind of object an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ObjectKind {
    /// A node.
    Node,
    /// A workload: a Deployment, or a StatefulSet or other workload the scenario declares.
    Deployment,
    /// The scenario itself (a scripted action on several objects).
    Scenario,
    /// A KEDA ScaledObject.
    ScaledObject,
    /// A Job: a Job workload's own, or one a CronJob created (`<cronjob>-<scheduled minutes
    /// since the epoch>`).
    Job,
    /// A CronJob, for the Jobs it started, deleted or skipped.
    CronJob,
}

/// One cluster event.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterEvent {
    /// When it happened, in simulated seconds.
    pub t_seconds: f64,
    /// What kind of object `name` is.
    pub kind: ObjectKind,
    /// The node or Deployment it is about (the scenario's name for `Scenario`).
    pub name: String,
    /// Why it was logged.
    pub reason: ClusterEventReason,
    /// What happened, in words (`kubectl cordon`, `rolling out revision 3`).
    pub message: String,
}

/// Every cluster event of a run, in the order they happened.
#[derive(Clone, Debug, Default)]
pub struct ClusterEventLog {
    events: Vec<ClusterEvent>,
    /// Events past [`MAX_EVENTS`], counted only.
    pub dropped: u64,
}

impl ClusterEventLog {
    pub(crate) fn record(
        &mut self,
        now: SimTime,
        kind: ObjectKind,
        name: &str,
        reason: ClusterEventReason,
        message: String,
    ) {
        if self.events.len() >= MAX_EVENTS {
            self.dropped += 1;
            return;
        }
        self.events.push(ClusterEvent {
            t_seconds: now.as_secs_f64(),
            kind,
            name: name.to_string(),
            reason,
            message,
        });
    }

    /// The events kept so far.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    pub(crate) fn into_events(self) -> Vec<ClusterEvent> {
        self.events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_through_their_names() {
        for name in [
            "NodeFailed",
            "SpotInterruption",
            "RolloutStarted",
            "KEDAScaleTargetActivated",
            "Scripted",
        ] {
            let reason = ClusterEventReason::from_name(name).expect(name);
            assert_eq!(
                serde_json::to_string(&reason).unwrap(),
                format!("\"{name}\"")
            );
        }
        assert_eq!(ClusterEventReason::from_name("Nope"), None);
    }

    #[test]
    fn the_log_keeps_a_bounded_number_of_events() {
        let mut log = ClusterEventLog::default();
        for _ in 0..MAX_EVENTS + 3 {
            let reason = ClusterEventReason::NodeFailed;
            log.record(SimTime::ZERO, ObjectKind::Node, "n", reason, String::new());
        }
        assert_eq!(log.dropped, 3);
        assert_eq!(log.into_events().len(), MAX_EVENTS);
    }
}
