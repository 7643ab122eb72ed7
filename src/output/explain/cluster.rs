//! `kubesim explain --all`: the whole cluster's reconciliation as one story in time order. It
//! tells what the per-object explanations tell — scripted actions, the node lifecycle
//! controller, the Cluster Autoscaler or Karpenter, each HPA's syncs that changed something,
//! the Deployment, StatefulSet, CronJob and Job controllers — and the pods' notable moments
//! (waits to be scheduled, replacements of lost pods, preemptions, probe failures, restarts),
//! each line naming the object it is about. Lines of one instant follow a fixed order, causes
//! before what they cause: scripted actions, nodes, node scale-down, pod autoscalers, workload
//! controllers, pods, node scale-up. A long run tells its first lines and counts the rest.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::{clock, deployment, hpa, job, karpenter, node, pod, restarts, statefulset};
use crate::engine::RunOutput;
use crate::metrics::cluster_events::{ClusterEvent, ClusterEventReason, ObjectKind};
use crate::metrics::pod_events::{PodEvent, PodEventReason, replaced_pod};
use crate::scenario::{PodSource, Scenario};
use crate::sim::SimTime;

/// How many lines the story tells unless `--limit` says otherwise.
pub const DEFAULT_LINES: usize = 2000;

/// Who a line is about, in the order the lines of one instant are told, causes before what
/// they cause: what was done to the cluster, the nodes (the machine, the node lifecycle
/// controller), a node autoscaler's scale-down, the pod autoscalers, the workload controllers,
/// the pods, and last a node autoscaler's scale-up (for the pods just told Pending).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Actor {
    Scripted,
    Node,
    NodeScaleDown,
    PodAutoscaler,
    Workload,
    Pod,
    NodeScaleUp,
}

/// One line of the story.
struct Line {
    at: SimTime,
    actor: Actor,
    object: String,
    text: String,
}

impl Line {
    fn new(at: SimTime, actor: Actor, object: String, text: String) -> Self {
        Line {
            at,
            actor,
            object,
            text,
        }
    }
}

/// The run's story: a heading, at most `limit` lines in time order, then what was left out.
pub fn story(scenario: &Scenario, output: &RunOutput, limit: usize) -> String {
    let mut lines = Vec::new();
    cluster_event_lines(scenario, &output.cluster_events, &mut lines);
    node_autoscaler_lines(scenario, output, &mut lines);
    hpa_lines(&output.hpa_decisions, &mut lines);
    let lone = workload_lines(scenario, output, &mut lines);
    pod_lines(scenario, &output.pod_events, &mut lines);
    for r in &output.restart_records {
        lines.push(Line::new(
            r.at,
            Actor::Pod,
            pod_label(&r.pod),
            restarts::line(r),
        ));
    }
    lines.sort_by_key(|l| (l.at, l.actor));
    render(&lines, limit) + &footnotes(output, lone)
}

/// `deployment/web`, `statefulset/db`: how `kubectl` names a workload.
fn workload_label(kinds: &BTreeMap<&str, PodSource>, name: &str) -> String {
    let kind = kinds.get(name).map_or("workload", |s| s.kind());
    format!("{}/{name}", kind.to_lowercase())
}

fn pod_label(pod: &str) -> String {
    format!("pod/{pod}")
}

/// Each workload's source, by name.
fn workload_kinds(scenario: &Scenario) -> BTreeMap<&str, PodSource> {
    (scenario.deployments.iter())
        .map(|d| (d.name.as_str(), d.source))
        .collect()
}

/// The cluster events no workload's story tells: scripted actions, the nodes' (the machine,
/// the node lifecycle controller), KEDA's, and those of workloads other than Deployments.
/// Deployments', Jobs' and CronJobs' events are in their controllers' lines.
fn cluster_event_lines(scenario: &Scenario, events: &[ClusterEvent], lines: &mut Vec<Line>) {
    let kinds = workload_kinds(scenario);
    for e in events {
        let (actor, object) = match e.kind {
            ObjectKind::Node => (Actor::Node, format!("node/{}", e.name)),
            ObjectKind::Scenario => (Actor::Scripted, "scenario".to_string()),
            ObjectKind::ScaledObject => (Actor::PodAutoscaler, format!("scaledobject/{}", e.name)),
            ObjectKind::Deployment
                if kinds
                    .get(e.name.as_str())
                    .is_some_and(|s| s.is_replicated()) =>
            {
                continue;
            }
            ObjectKind::Deployment if e.reason == ClusterEventReason::Scripted => {
                (Actor::Scripted, workload_label(&kinds, &e.name))
            }
            ObjectKind::Deployment => (Actor::Workload, workload_label(&kinds, &e.name)),
            ObjectKind::Job | ObjectKind::CronJob => continue,
        };
        let text = format!("{:?}: {}", e.reason, e.message);
        lines.push(Line::new(clock(e.t_seconds), actor, object, text));
    }
}

/// The Cluster Autoscaler's scale-ups and its view of each node, or Karpenter's launches and
/// disruptions.
fn node_autoscaler_lines(scenario: &Scenario, output: &RunOutput, lines: &mut Vec<Line>) {
    let autoscaler = output.autoscaler_events.as_deref().unwrap_or_default();
    if let Some(settings) = &scenario.cluster_autoscaler {
        for (t, node, text) in node::lines(autoscaler, settings) {
            let (actor, object) = match node {
                Some(n) => (Actor::NodeScaleDown, format!("node/{n}")),
                None => (Actor::NodeScaleUp, "cluster-autoscaler".to_string()),
            };
            lines.push(Line::new(clock(t), actor, object, text));
        }
    }
    let karpenter = output.karpenter_events.as_deref().unwrap_or_default();
    for told in karpenter::lines(karpenter) {
        let object = match told.nodes.as_slice() {
            [] => "karpenter".to_string(),
            nodes => (nodes.iter())
                .map(|n| format!("node/{n}"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let actor = match told.provisions {
            true => Actor::NodeScaleUp,
            false => Actor::NodeScaleDown,
        };
        lines.push(Line::new(clock(told.t_seconds), actor, object, told.text));
    }
}

/// Each HPA's syncs that changed the replicas, were held by a window or a limit, or changed a
/// condition (what `explain --hpa` tells by default).
fn hpa_lines(decisions: &[crate::controllers::hpa::HpaDecision], lines: &mut Vec<Line>) {
    let mut seen = BTreeSet::new();
    let names: Vec<&str> = (decisions.iter())
        .map(|d| &*d.hpa)
        .filter(|name| seen.insert(*name))
        .collect();
    for name in names {
        for (d, fold) in hpa::folded(decisions, name) {
            let mut text = hpa::body(d);
            if let Some((more, until)) = fold {
                text.pop(); // its full stop
                let _ = write!(
                    text,
                    " — and so at the next {more} sync(s), to {}.",
                    clock(until)
                );
            }
            let object = format!("hpa/{name}");
            let at = clock(d.time_seconds);
            lines.push(Line::new(at, Actor::PodAutoscaler, object, text));
        }
    }
}

/// The workload controllers' lines: each Deployment's rollouts (not a lone ReplicaSet following
/// its replicas: those are counted, and the count returned), each StatefulSet's and CronJob's
/// reconciles, each Job's syncs.
fn workload_lines(scenario: &Scenario, output: &RunOutput, lines: &mut Vec<Line>) -> usize {
    let kinds = workload_kinds(scenario);
    let end = SimTime::ZERO + scenario.duration;
    let mut lone = 0;
    for d in &scenario.deployments {
        let name = d.name.as_str();
        let told: Vec<(SimTime, Actor, String)> = match d.source {
            s if s.is_replicated() => {
                let (told, untold) =
                    deployment::lines(&output.rollout_records, &output.cluster_events, name, false);
                lone += untold;
                // A scripted action is told first in its instant, before what it causes.
                let actor = |reason| match reason {
                    Some(ClusterEventReason::Scripted) => Actor::Scripted,
                    _ => Actor::Workload,
                };
                let told = told.into_iter();
                told.map(|(at, reason, text)| (at, actor(reason), text))
                    .collect()
            }
            PodSource::StatefulSet => {
                let told = statefulset::lines(&output.stateful_records, &output.pod_events, name);
                by_controller(told)
            }
            PodSource::CronJob(settings) => {
                by_controller(job::cron_lines(&output.job_records, name, &settings, end))
            }
            _ => Vec::new(),
        };
        let object = workload_label(&kinds, name);
        for (at, actor, text) in told {
            lines.push(Line::new(at, actor, object.clone(), text));
        }
    }
    let records = &output.job_records;
    for name in job::job_names(records) {
        let told = job::job_lines(records, &output.pod_events, &output.cluster_events, name);
        for (at, text) in told {
            lines.push(Line::new(at, Actor::Workload, format!("job/{name}"), text));
        }
    }
    lone
}

/// A workload controller's lines.
fn by_controller(told: Vec<(SimTime, String)>) -> Vec<(SimTime, Actor, String)> {
    (told.into_iter())
        .map(|(at, text)| (at, Actor::Workload, text))
        .collect()
}

/// The pods' notable moments, pods of one workload with the same event at the same instant
/// told once (`pod/web-5d8-x and 9 more of web: FailedScheduling: …`).
fn pod_lines(scenario: &Scenario, events: &[PodEvent], lines: &mut Vec<Line>) {
    let job_owners: BTreeSet<&str> = (scenario.deployments.iter())
        .filter(|d| d.source.job_settings().is_some())
        .map(|d| d.name.as_str())
        .collect();
    let mut pending_since: BTreeMap<&str, f64> = BTreeMap::new();
    // The lines so far: the first pod's event, what it says, how many more pods said it.
    let mut told: Vec<(&PodEvent, String, usize)> = Vec::new();
    // The current instant's lines by (owner, what they say): their index in `told`.
    let mut instant: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for e in events {
        let job_pod = job_owners.contains(e.owner.as_str());
        let Some(text) = pod_sentence(e, job_pod, &mut pending_since) else {
            continue;
        };
        if told
            .last()
            .is_some_and(|(last, ..)| last.t_seconds != e.t_seconds)
        {
            instant.clear();
        }
        match instant.get(&(e.owner.as_str(), text.clone())) {
            Some(&index) => told[index].2 += 1,
            None => {
                instant.insert((&e.owner, text.clone()), told.len());
                told.push((e, text, 0));
            }
        }
    }
    for (e, text, more) in told {
        let object = match more {
            0 => pod_label(&e.pod),
            n => format!("{} and {n} more of {}", pod_label(&e.pod), e.owner),
        };
        lines.push(Line::new(clock(e.t_seconds), Actor::Pod, object, text));
    }
}

/// What the story says of a pod event (`None`: it tells nothing another line does not): a wait
/// to be scheduled and its end, a replacement of a lost pod, a preemption, a probe failure, a
/// volume or config that is missing, the VPA's eviction or resize. Creations, starts, kills
/// and restarts are told by the controllers' lines and the restart lines; a Job pod's end by
/// its Job's.
fn pod_sentence<'e>(
    e: &'e PodEvent,
    job_pod: bool,
    pending_since: &mut BTreeMap<&'e str, f64>,
) -> Option<String> {
    use PodEventReason as R;
    let told = match e.reason {
        R::Created => replaced_pod(&e.message).is_some(),
        R::FailedScheduling => {
            pending_since.entry(&e.pod).or_insert(e.t_seconds);
            true
        }
        R::Scheduled => {
            let since = pending_since.remove(e.pod.as_str())?;
            let waited = clock(e.t_seconds) - clock(since);
            return Some(format!("Scheduled: {}, after {waited} Pending", e.message));
        }
        R::Completed | R::Failed => !job_pod,
        R::TriggeredScaleUp
        | R::NotTriggerScaleUp
        | R::Preempted
        | R::Unhealthy
        | R::FailedMount
        | R::EvictedByVPA
        | R::InPlaceResizedByVPA => true,
        R::Pulled | R::Started | R::Killing | R::Deleted | R::BackOff | R::OOMKilled => false,
    };
    told.then(|| format!("{:?}: {}{}", e.reason, e.message, pod::repeats(e)))
}

/// The heading and the first `limit` lines, then how many more there were.
fn render(lines: &[Line], limit: usize) -> String {
    if lines.is_empty() {
        return "Nothing to tell: no controller changed anything, and no node or pod had trouble.\n"
            .to_string();
    }
    let mut text = "The run in time order (within one instant: scripted actions, nodes, node scale-down, HPAs, workload controllers, pods, node scale-up):\n".to_string();
    for l in &lines[..lines.len().min(limit)] {
        let _ = writeln!(text, "{} {}: {}", l.at, l.object, l.text);
    }
    if let (Some(first), Some(last)) = (lines.get(limit), lines.last()) {
        let more = lines.len() - limit;
        let _ = writeln!(
            text,
            "… and {more} more line(s), from {} to {}: `--limit {}` tells them all, or follow one object with --hpa, --deployment, --statefulset, --job, --cronjob, --node or --pod",
            first.at,
            last.at,
            lines.len()
        );
    }
    text
}

/// What the story leaves out by design, and the records a long run did not keep.
fn footnotes(output: &RunOutput, lone: usize) -> String {
    let mut text = String::new();
    if lone > 0 {
        let _ = writeln!(
            text,
            "({lone} reconcile(s) that only scaled a Deployment's lone ReplicaSet to follow its replicas are not told: the HPA lines say why the replicas changed, `--deployment NAME --all` tells them)"
        );
    }
    if output.job_records.jobs_truncated() {
        text +=
            "(the run kept the Job controller's first 100000 decisions: later ones are not told)\n";
    }
    if output.stateful_records.truncated() {
        text += "(the run kept the StatefulSet controller's first 100000 records: later ones are not told)\n";
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use PodEventReason as R;

    #[test]
    fn a_pod_event_is_told_only_when_no_other_line_tells_it() {
        let event = |t, pod, reason, message, count| {
            super::super::test_pod_event(t, pod, reason, message, count)
        };
        // (event, a Job's pod, what the story says of it)
        let cases = [
            // A plain creation and a start: the controllers' lines tell them.
            (
                event(0.0, "a", R::Created, "Created by ReplicaSet w", 1),
                false,
                None,
            ),
            (
                event(1.0, "a", R::Started, "Started container", 1),
                false,
                None,
            ),
            // Bound at its first attempt: nothing to tell.
            (
                event(0.0, "a", R::Scheduled, "Successfully assigned a to n", 1),
                false,
                None,
            ),
            // A wait (6 attempts 10 s apart: the fold spans 50 s), and its end 65.5 s after
            // the first attempt.
            (
                event(30.0, "b", R::FailedScheduling, "0/1 nodes are available", 6),
                false,
                Some("FailedScheduling: 0/1 nodes are available (x6 over 50s)"),
            ),
            (
                event(95.5, "b", R::Scheduled, "Successfully assigned b to n", 1),
                false,
                Some("Scheduled: Successfully assigned b to n, after 1m5.5s Pending"),
            ),
            // A Job pod's end is its Job's line; another pod's failure is told.
            (event(9.0, "j", R::Failed, "exit code 1", 1), true, None),
            (
                event(9.0, "c", R::Failed, "CreateContainerConfigError", 1),
                false,
                Some("Failed: CreateContainerConfigError"),
            ),
        ];
        let mut pending = BTreeMap::new();
        for (e, job_pod, expected) in &cases {
            let told = pod_sentence(e, *job_pod, &mut pending);
            assert_eq!(told.as_deref(), *expected, "{e:?}");
        }
    }
}
