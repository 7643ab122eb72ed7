//! Why was a pod Pending? A pod's events as `kubectl describe pod` lists them, with how long it
//! waited; and the pods that waited longest.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::clock;
use crate::controllers::scheduler::filter::{FilterPlugin, Rejectors};
use crate::controllers::scheduler::hints;
use crate::metrics::pod_events::{PodEvent, PodEventReason};
use crate::sim::SimDuration;

/// How one pod fared in the scheduler.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingPod<'a> {
    /// The pod's name.
    pub name: &'a str,
    /// The name of the workload (or pod trace) it belongs to.
    pub owner: &'a str,
    /// When it was created (its first event), in simulated seconds.
    pub created_seconds: f64,
    /// When it was bound (`None`: never).
    pub scheduled_seconds: Option<f64>,
    /// When it was deleted before being bound.
    pub deleted_seconds: Option<f64>,
    /// Failed scheduling attempts.
    pub attempts: u32,
    /// The scheduler's last `FailedScheduling` message.
    pub last_reason: &'a str,
}

impl PendingPod<'_> {
    /// Seconds from creation to binding (or deletion, or `end_seconds`).
    pub fn pending_seconds(&self, end_seconds: f64) -> f64 {
        let until = self
            .scheduled_seconds
            .or(self.deleted_seconds)
            .unwrap_or(end_seconds);
        until - self.created_seconds
    }
}

/// Pods with at least one failed scheduling attempt, longest wait first (then by name).
pub fn pending_pods(events: &[PodEvent], end_seconds: f64) -> Vec<PendingPod<'_>> {
    let mut pods: BTreeMap<&str, PendingPod> = BTreeMap::new();
    for e in events {
        let pod = pods.entry(&e.pod).or_insert_with(|| PendingPod {
            name: &e.pod,
            owner: &e.owner,
            created_seconds: e.t_seconds,
            scheduled_seconds: None,
            deleted_seconds: None,
            attempts: 0,
            last_reason: "",
        });
        match e.reason {
            PodEventReason::FailedScheduling => {
                pod.attempts += e.count;
                pod.last_reason = &e.message;
            }
            PodEventReason::Scheduled => pod.scheduled_seconds = Some(e.t_seconds),
            PodEventReason::Deleted => pod.deleted_seconds = Some(e.t_seconds),
            _ => {}
        }
    }
    let mut waited: Vec<PendingPod> = pods.into_values().filter(|p| p.attempts > 0).collect();
    waited.sort_by(|a, b| {
        b.pending_seconds(end_seconds)
            .total_cmp(&a.pending_seconds(end_seconds))
            .then(a.name.cmp(b.name))
    });
    waited
}

/// A table of the `limit` pods that waited longest, and how many more there are.
pub fn pending_table(events: &[PodEvent], end_seconds: f64, limit: usize) -> String {
    let waited = pending_pods(events, end_seconds);
    let total = events
        .iter()
        .filter(|e| e.reason == PodEventReason::Created)
        .count();
    if waited.is_empty() {
        return format!("No pod was ever unschedulable ({total} pods created).\n");
    }
    let mut out = format!(
        "{} of {total} pods were unschedulable at least once; longest wait first:\n",
        waited.len()
    );
    let rows: Vec<[String; 5]> = waited
        .iter()
        .take(limit)
        .map(|p| {
            [
                p.name.to_string(),
                p.owner.to_string(),
                pending_phrase(p, end_seconds),
                p.attempts.to_string(),
                p.last_reason.to_string(),
            ]
        })
        .collect();
    let header = ["POD", "OWNER", "PENDING", "ATTEMPTS", "LAST REASON"];
    let widths: Vec<usize> = (0..4)
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in std::iter::once(header.map(String::from)).chain(rows) {
        for (c, width) in widths.iter().enumerate() {
            let _ = write!(out, "{:<width$}  ", row[c]);
        }
        let _ = writeln!(out, "{}", row[4]);
    }
    if waited.len() > limit {
        let _ = writeln!(
            out,
            "… and {} more (--limit N shows more; --pod NAME shows one pod's events)",
            waited.len() - limit
        );
    }
    out
}

/// `1m10s`, `1m10s (deleted)` or `≥ 2h (still Pending)`.
fn pending_phrase(p: &PendingPod, end_seconds: f64) -> String {
    let wait = rounded(p.pending_seconds(end_seconds));
    match (p.scheduled_seconds, p.deleted_seconds) {
        (Some(_), _) => wait.to_string(),
        (None, Some(_)) => format!("{wait} (deleted)"),
        (None, None) => format!("≥ {wait} (still Pending)"),
    }
}

/// A duration for people: whole seconds from 10 s up, milliseconds below.
fn rounded(seconds: f64) -> SimDuration {
    if seconds >= 10.0 {
        SimDuration::from_secs(seconds.round() as u64)
    } else {
        SimDuration::from_millis((seconds * 1000.0).round() as u64)
    }
}

/// ` (x6 over 19m10s)` for an event repeated (folded into one), else nothing.
pub(super) fn repeats(e: &PodEvent) -> String {
    match e.count {
        0 | 1 => String::new(),
        n => format!(" (x{n} over {})", rounded(e.last_seconds - e.t_seconds)),
    }
}

/// One pod's events, oldest first, and a closing line on how long it was Pending; `None` when
/// no pod has that name.
pub fn timeline(events: &[PodEvent], pod: &str, end_seconds: f64) -> Option<String> {
    let mine: Vec<&PodEvent> = events.iter().filter(|e| e.pod == pod).collect();
    let first = mine.first()?;
    let mut out = format!("Pod {pod} (owner {})\n", first.owner);
    let width = mine
        .iter()
        .map(|e| format!("{:?}", e.reason).len())
        .max()
        .unwrap_or(0);
    for e in &mine {
        let repeats = repeats(e);
        let reason = format!("{:?}", e.reason);
        let _ = writeln!(
            out,
            "  {}  {:<7}  {reason:<width$}  {}{repeats}",
            clock(e.t_seconds),
            e.event_type,
            e.message
        );
    }
    let summary = pending_pods(events, end_seconds)
        .into_iter()
        .find(|p| p.name == pod);
    match summary {
        None => out.push_str("It was scheduled at its first attempt.\n"),
        Some(p) => {
            let _ = writeln!(
                out,
                "Pending {} after {} failed scheduling attempt{}.",
                pending_phrase(&p, end_seconds),
                p.attempts,
                if p.attempts == 1 { "" } else { "s" }
            );
            let _ = writeln!(out, "{}", hints::retried_when(rejected_by(p.last_reason)));
        }
    }
    if let Some(line) = config_wait_line(&mine) {
        out.push_str(&line);
    }
    Some(out)
}

/// The plugins a `FailedScheduling` message names (`0/6 nodes are available: 3 Insufficient
/// cpu, 3 node(s) had untolerated taint(s). preemption: …`): none for `no nodes available`.
fn rejected_by(message: &str) -> Rejectors {
    let mut plugins = Rejectors::default();
    let Some((_, reasons)) = message.split_once("nodes are available: ") else {
        return plugins;
    };
    let reasons = reasons
        .split_once(". preemption:")
        .map_or(reasons, |(r, _)| r);
    for counted in reasons.trim_end_matches('.').split(", ") {
        let reason = counted.split_once(' ').map_or(counted, |(_, r)| r);
        if let Some(plugin) = FilterPlugin::of_reason(reason) {
            plugins.add(plugin);
        }
    }
    plugins
}

/// How long the kubelet held the pod back for want of a ConfigMap or Secret (its volume did not
/// mount, or its container could not be created), if it did.
fn config_wait_line(mine: &[&PodEvent]) -> Option<String> {
    let waits = |e: &&&PodEvent| {
        e.reason == PodEventReason::FailedMount
            || (e.reason == PodEventReason::Failed && e.message.starts_with("Error: "))
    };
    let first = mine
        .iter()
        .filter(waits)
        .map(|e| e.t_seconds)
        .reduce(f64::min)?;
    let started = (mine.iter())
        .filter(|e| e.reason == PodEventReason::Started && e.t_seconds > first)
        .map(|e| e.t_seconds)
        .reduce(f64::min);
    let outcome = match started {
        Some(t) => format!("its container started at {}", clock(t)),
        None => "its container never started".to_string(),
    };
    Some(format!(
        "The kubelet held it back from {} for want of a ConfigMap or Secret (the Warning events above); {outcome}.\n",
        clock(first)
    ))
}

/// Pod names, for a "did you mean" hint.
pub fn pod_names(events: &[PodEvent]) -> impl Iterator<Item = &str> {
    events
        .iter()
        .filter(|e| e.reason == PodEventReason::Created)
        .map(|e| e.pod.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::test_pod_event as event;

    fn log() -> Vec<PodEvent> {
        use PodEventReason::*;
        let full = "0/2 nodes are available: 2 Insufficient cpu.";
        vec![
            event(0.0, "web-a", Created, "Created by ReplicaSet web-1", 1),
            event(0.0, "web-b", Created, "Created by ReplicaSet web-1", 1),
            event(
                0.0,
                "web-b",
                Scheduled,
                "Successfully assigned web-b to n-0",
                1,
            ),
            event(0.0, "web-a", FailedScheduling, full, 7),
            event(5.0, "web-c", Created, "Created by ReplicaSet web-1", 1),
            event(5.0, "web-c", FailedScheduling, full, 1),
            event(
                70.0,
                "web-a",
                Scheduled,
                "Successfully assigned web-a to n-2",
                1,
            ),
        ]
    }

    #[test]
    fn pending_pods_are_ranked_by_wait() {
        let events = log();
        let waited = pending_pods(&events, 600.0);
        let names: Vec<(&str, u32)> = waited.iter().map(|p| (p.name, p.attempts)).collect();
        // web-c never bound: 600 − 5 = 595 s; web-a bound after 70 s; web-b never failed.
        assert_eq!(names, [("web-c", 1), ("web-a", 7)]);
        let table = pending_table(&log(), 600.0, 1);
        assert!(table.contains("2 of 3 pods were unschedulable"), "{table}");
        assert!(table.contains("≥ 9m55s (still Pending)"), "{table}");
        assert!(table.contains("… and 1 more"), "{table}");
    }

    #[test]
    fn a_timeline_shows_repeats_and_the_wait() {
        let text = timeline(&log(), "web-a", 600.0).unwrap();
        assert!(
            text.contains("00:00:00  Warning  FailedScheduling  0/2 nodes are available: 2 Insufficient cpu. (x7 over 1m0s)"),
            "{text}"
        );
        assert!(
            text.ends_with(
                "Pending 1m10s after 7 failed scheduling attempts.\n\
                 Rejected by NodeResourcesFit: it is tried again when a node is added, becomes \
                 Ready or is uncordoned; when a pod bound to a node is deleted or shrinks in \
                 place, or after 5 minutes in the unschedulable pool.\n"
            ),
            "{text}"
        );
        let quick = timeline(&log(), "web-b", 600.0).unwrap();
        assert!(quick.ends_with("It was scheduled at its first attempt.\n"));
        assert_eq!(timeline(&log(), "web-z", 600.0), None);
    }

    #[test]
    fn the_plugins_a_message_names_say_when_the_pod_is_tried_again() {
        use FilterPlugin::*;
        let message = "0/6 nodes are available: 1 Insufficient memory, 2 Too many pods, 3 node(s) \
            didn't match pod topology spread constraints, 3 node(s) had untolerated taint(s). \
            preemption: 0/6 nodes are available: 3 No preemption victims found for incoming pod.";
        let plugins = [NodeResourcesFit, PodTopologySpread, TaintToleration];
        assert_eq!(rejected_by(message), Rejectors::of(&plugins));
        let text = hints::retried_when(rejected_by(message));
        assert!(
            text.starts_with("Rejected by TaintToleration, NodeResourcesFit, PodTopologySpread:"),
            "{text}"
        );
        assert!(
            text.contains("spread constraint counts is bound or deleted"),
            "{text}"
        );
        let none = rejected_by("no nodes available to schedule pods");
        assert!(none.is_empty());
        assert!(hints::retried_when(none).contains("on any cluster event"));
    }
}
