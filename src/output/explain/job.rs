//! `kubesim explain --job` and `--cronjob`: a Job's syncs with the Job controller's arithmetic
//! (how many pods parallelism and the missing completions allow, the pod failure backoff, why
//! it finished) among its pods' ends; a CronJob's runs — started on time or late, skipped
//! under Forbid, missed past `startingDeadlineSeconds`, deleted — and each Job's outcome.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::cluster::JobOutcome;
use crate::controllers::JobDeletion;
use crate::controllers::PodEventReason;
use crate::controllers::job::record::{CronAction, CronRecord, JobRecord, JobRecords};
use crate::controllers::job::{MAX_POD_FAILURE_BACKOFF, POD_FAILURE_BACKOFF, Step};
use crate::metrics::cluster_events::{ClusterEvent, ClusterEventReason, ObjectKind};
use crate::metrics::pod_events::{PodEvent, creating_job};
use crate::scenario::{ConcurrencyPolicy, CronJobSettings, JobSettings};
use crate::sim::{SimDuration, SimTime};

use super::clock;

/// Every Job the run started, in the order they were first synced.
pub fn job_names(records: &JobRecords) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for r in &records.jobs {
        if !names.contains(&r.job.as_str()) {
            names.push(&r.job);
        }
    }
    names
}

/// Job `job`'s story: its spec, then its syncs and its pods' ends in time order (`None`: no
/// such Job).
pub fn job_story(
    records: &JobRecords,
    pod_events: &[PodEvent],
    cluster_events: &[ClusterEvent],
    job: &str,
) -> Option<String> {
    let first = records.jobs.iter().find(|r| r.job == job)?;
    let mut text = format!(
        "Job {job}{}: {}\n",
        started_by(records, job),
        spec(&first.settings)
    );
    for (t, line) in job_lines(records, pod_events, cluster_events, job) {
        let _ = writeln!(text, "{t} {line}");
    }
    Some(text)
}

/// Job `job`'s syncs and its pods' ends in time order, each as its instant and its sentence.
pub fn job_lines(
    records: &JobRecords,
    pod_events: &[PodEvent],
    cluster_events: &[ClusterEvent],
    job: &str,
) -> Vec<(SimTime, String)> {
    let syncs: Vec<&JobRecord> = records.jobs.iter().filter(|r| r.job == job).collect();
    let created = created_pods(pod_events, job);
    let pods: BTreeSet<&str> = created.iter().map(|&(_, pod)| pod).collect();
    // (time, order among what happens in one instant, line): a pod's end comes before the
    // sync it wakes, the pods the sync deletes after it.
    let mut lines: Vec<(SimTime, u8, String)> = Vec::new();
    for event in pod_events.iter().filter(|e| pods.contains(&e.pod.as_str())) {
        if let Some((order, text)) = pod_end(event) {
            lines.push((clock(event.t_seconds), order, text));
        }
    }
    for r in &syncs {
        lines.push((r.at, 1, sync_sentence(r, &created, cluster_events)));
    }
    for e in cluster_events
        .iter()
        .filter(|e| e.kind == ObjectKind::Job && e.name == job)
    {
        if e.reason == ClusterEventReason::JobDeleted {
            lines.push((clock(e.t_seconds), 3, format!("Job deleted: {}", e.message)));
        }
    }
    for r in records.cron_jobs.iter() {
        if let CronAction::Delete {
            job: deleted,
            reason,
        } = &r.action
            && deleted == job
        {
            let why = deletion_reason(*reason, &r.settings, finished_how(records, job));
            lines.push((
                r.at,
                3,
                format!("Job deleted by CronJob {}: {why}", r.cron_job),
            ));
        }
    }
    in_order(lines)
}

/// Lines sorted by their instant, then by their order within it.
fn in_order(mut lines: Vec<(SimTime, u8, String)>) -> Vec<(SimTime, String)> {
    lines.sort_by_key(|(t, order, _)| (*t, *order));
    lines.into_iter().map(|(t, _, line)| (t, line)).collect()
}

/// ` (started by CronJob C for HH:MM:SS)` for a CronJob's Job.
fn started_by(records: &JobRecords, job: &str) -> String {
    let start = records.cron_jobs.iter().find_map(|r| match &r.action {
        CronAction::Start { scheduled, job: j } if j == job => Some((&r.cron_job, scheduled)),
        _ => None,
    });
    start.map_or(String::new(), |(cron, at)| {
        format!(" (started by CronJob {cron} for {at})")
    })
}

/// `completions 12, parallelism 6, backoffLimit 4, activeDeadlineSeconds 3h0m0s`.
fn spec(s: &JobSettings) -> String {
    let mut text = match s.completions {
        Some(c) if s.indexed => format!("Indexed, completions {c}"),
        Some(c) => format!("completions {c}"),
        None => "a work queue (no completions: done once a pod succeeded and none runs)".into(),
    };
    let _ = write!(
        text,
        ", parallelism {}, backoffLimit {}",
        s.parallelism, s.backoff_limit
    );
    if let Some(d) = s.active_deadline {
        let _ = write!(
            text,
            ", activeDeadlineSeconds {}",
            d.as_micros() / 1_000_000
        );
    }
    if let Some(ttl) = s.ttl_after_finished {
        let _ = write!(
            text,
            ", ttlSecondsAfterFinished {}",
            ttl.as_micros() / 1_000_000
        );
    }
    text
}

/// The pods Job `job` created, with when, in time order.
fn created_pods<'e>(pod_events: &'e [PodEvent], job: &str) -> Vec<(SimTime, &'e str)> {
    let mut created: Vec<(SimTime, &str)> = (pod_events.iter())
        .filter(|e| e.reason == PodEventReason::Created && creating_job(&e.message) == Some(job))
        .map(|e| (clock(e.t_seconds), e.pod.as_str()))
        .collect();
    created.sort_by_key(|&(t, _)| t);
    created
}

/// Those of `created` (in time order) from `from` to `to`.
fn created_within<'c, 'e>(
    created: &'c [(SimTime, &'e str)],
    from: SimTime,
    to: SimTime,
) -> &'c [(SimTime, &'e str)] {
    let first = created.partition_point(|&(t, _)| t < from);
    let last = created.partition_point(|&(t, _)| t <= to);
    &created[first..last.max(first)]
}

/// Why the pods a sync asked for were not created: the last `FailedCreate` of the workload
/// by then (a ResourceQuota's refusal, told once per episode).
fn refusal<'e>(cluster_events: &'e [ClusterEvent], r: &JobRecord) -> Option<&'e str> {
    let at = r.at.as_secs_f64();
    (cluster_events.iter())
        .filter(|e| e.reason == ClusterEventReason::FailedCreate && e.name == r.workload)
        .take_while(|e| e.t_seconds <= at)
        .last()
        .map(|e| e.message.as_str())
}

/// A pod event worth a line in a Job's story, with its order within an instant.
fn pod_end(e: &PodEvent) -> Option<(u8, String)> {
    let pod = &e.pod;
    match e.reason {
        PodEventReason::Completed | PodEventReason::Failed | PodEventReason::OOMKilled => {
            Some((0, format!("pod {pod}: {}", e.message)))
        }
        PodEventReason::Preempted => Some((0, format!("pod {pod} preempted: {}", e.message))),
        PodEventReason::Killing => Some((2, format!("pod {pod} deleted: {}", e.message))),
        _ => None,
    }
}

/// One sync in words, with its arithmetic.
fn sync_sentence(
    r: &JobRecord,
    created: &[(SimTime, &str)],
    cluster_events: &[ClusterEvent],
) -> String {
    match &r.step {
        Step::Create(indexes) => {
            let result = creation_result(r, indexes.len(), created, cluster_events);
            creation(r, indexes, &result)
        }
        Step::BackingOff { until, wanted } => backoff(r, *until, *wanted),
        Step::Finish(outcome) => finish(r, *outcome),
        Step::Idle | Step::DeleteActive => String::new(),
    }
}

/// `12 to succeed − 0 succeeded − 0 running = 12 still to start; parallelism 6 − 0 running
/// leaves room for 6: 6 pods` and `result` (created, or refused).
fn creation(r: &JobRecord, indexes: &[Option<u32>], result: &str) -> String {
    let (s, a) = (&r.status, r.active);
    let p = r.settings.parallelism;
    let room = i64::from(p) - a as i64;
    let needed = match r.settings.completions {
        Some(c) if r.settings.indexed => {
            let done = s.completed_indexes.len();
            let missing = i64::from(c) - done as i64 - a as i64;
            format!("{c} indexes − {done} succeeded − {a} running = {missing} still to start")
        }
        Some(c) => {
            let missing = i64::from(c) - i64::from(s.succeeded) - a as i64;
            let done = s.succeeded;
            format!("{c} to succeed − {done} succeeded − {a} running = {missing} still to start")
        }
        None => format!("a work queue with none succeeded yet: {p} pods, {a} running"),
    };
    let mut text = format!("sync: {needed}; parallelism {p} − {a} running leaves room for {room}");
    if s.failures_since_success > 0 {
        text += ", the pod failure backoff being over";
    }
    let with_index: Vec<String> = indexes.iter().flatten().map(u32::to_string).collect();
    let for_indexes = match with_index.as_slice() {
        [] => String::new(),
        [one] => format!(" for the lowest free index, {one}"),
        many => format!(" for the lowest free indexes, {}", many.join(", ")),
    };
    let _ = write!(text, ": {}{for_indexes}{result}", pods(indexes.len()));
    text
}

/// ` created (a, b)`, or the quota's refusal and when the pods got in.
fn creation_result(
    r: &JobRecord,
    asked: usize,
    created: &[(SimTime, &str)],
    cluster_events: &[ClusterEvent],
) -> String {
    let until = r.repeated_until.unwrap_or(r.at);
    let created = created_within(created, r.at, until);
    let names =
        |list: &[(SimTime, &str)]| list.iter().map(|(_, p)| *p).collect::<Vec<_>>().join(", ");
    if created.len() >= asked && created.iter().all(|(t, _)| *t == r.at) {
        return format!(" created ({})", names(created));
    }
    let why = refusal(cluster_events, r).unwrap_or("not admitted");
    let mut text = format!(" asked for, refused ({why}), and asked again at every sync");
    match created.last() {
        Some((t, _)) => {
            let _ = write!(text, " until created at {t} ({})", names(created));
        }
        None => {
            let _ = write!(text, " until {until}, without success");
        }
    }
    text
}

fn pods(n: usize) -> String {
    if n == 1 {
        "1 pod".into()
    } else {
        format!("{n} pods")
    }
}

/// `failure 2 since the last success (2 of the 4 backoffLimit tolerates): …`.
fn backoff(r: &JobRecord, until: SimTime, wanted: usize) -> String {
    let s = &r.status;
    let n = s.failures_since_success;
    let delay = until.saturating_since(s.last_failure.unwrap_or(until));
    let doubled = POD_FAILURE_BACKOFF.saturating_mul(1u64 << (n - 1).clamp(0, 16));
    let capped = if doubled > MAX_POD_FAILURE_BACKOFF {
        format!(", capped at {MAX_POD_FAILURE_BACKOFF}")
    } else {
        String::new()
    };
    format!(
        "sync: {} failed in all, within backoffLimit {}; failure {n} since the last success: \
         the pod failure backoff is {POD_FAILURE_BACKOFF} × 2^{} = {delay}{capped}, so the \
         {} it needs wait{} until {until}",
        s.failed,
        r.settings.backoff_limit,
        n - 1,
        pods(wanted),
        if wanted == 1 { "s" } else { "" },
    )
}

/// Why the Job finished.
fn finish(r: &JobRecord, outcome: JobOutcome) -> String {
    let (s, a) = (&r.status, r.active);
    let deleted = match a {
        0 => String::new(),
        1 => "; the pod still running is deleted".into(),
        n => format!("; the {n} pods still running are deleted"),
    };
    match outcome {
        JobOutcome::Complete => match r.settings.completions {
            Some(c) if r.settings.indexed => {
                format!(
                    "sync: all {c} indexes succeeded: Complete ({} failed on the way)",
                    s.failed
                )
            }
            Some(c) => format!(
                "sync: {} of {c} succeeded: Complete ({} failed on the way)",
                s.succeeded, s.failed
            ),
            None => "sync: a pod succeeded and none runs: Complete".into(),
        },
        JobOutcome::BackoffLimitExceeded => format!(
            "sync: {} pods failed, more than backoffLimit {}: Failed (BackoffLimitExceeded){deleted}",
            s.failed, r.settings.backoff_limit
        ),
        JobOutcome::DeadlineExceeded => {
            let started = s.started.unwrap_or(SimTime::ZERO);
            let d = r.settings.active_deadline.unwrap_or(SimDuration::ZERO);
            format!(
                "sync: started at {started}, activeDeadlineSeconds {} ran out at {}: Failed \
                 (DeadlineExceeded) with {} of {} succeeded{deleted}",
                d.as_micros() / 1_000_000,
                started + d,
                s.succeeded,
                r.settings.completions.map_or("?".into(), |c| c.to_string()),
            )
        }
    }
}

/// How Job `job` finished, if it did.
fn finished_how(records: &JobRecords, job: &str) -> Option<JobOutcome> {
    records
        .jobs
        .iter()
        .rev()
        .find(|r| r.job == job)
        .and_then(|r| match r.step {
            Step::Finish(o) => Some(o),
            _ => None,
        })
}

/// Why a CronJob deleted one of its Jobs.
fn deletion_reason(
    reason: JobDeletion,
    settings: &CronJobSettings,
    outcome: Option<JobOutcome>,
) -> String {
    match (reason, outcome) {
        (JobDeletion::Replaced, _) => {
            "concurrencyPolicy Replace: the run due now replaces it".into()
        }
        (JobDeletion::History, Some(JobOutcome::Complete)) => format!(
            "more succeeded Jobs than successfulJobsHistoryLimit {}, and it is the oldest",
            settings.successful_history
        ),
        (JobDeletion::History, _) => format!(
            "more failed Jobs than failedJobsHistoryLimit {}, and it is the oldest",
            settings.failed_history
        ),
    }
}

/// CronJob `name`'s story: each action in time order with why, each of its Jobs' outcome,
/// and the runs it never started. `end`: the run's end (a run skipped too close to it).
pub fn cron_story(
    records: &JobRecords,
    name: &str,
    settings: &CronJobSettings,
    end: SimTime,
) -> String {
    let mut text = format!("CronJob {name}: {}\n", cron_spec(settings));
    if !records.cron_jobs.iter().any(|r| r.cron_job == name) {
        text += "its schedule never came due during the run\n";
    }
    for (t, line) in cron_lines(records, name, settings, end) {
        let _ = writeln!(text, "{t} {line}");
    }
    text
}

/// CronJob `name`'s actions, its Jobs' outcomes and the runs it never started, in time order,
/// each as its instant and its sentence.
pub fn cron_lines(
    records: &JobRecords,
    name: &str,
    settings: &CronJobSettings,
    end: SimTime,
) -> Vec<(SimTime, String)> {
    let actions: Vec<&CronRecord> = records
        .cron_jobs
        .iter()
        .filter(|r| r.cron_job == name)
        .collect();
    let mut lines: Vec<(SimTime, u8, String)> = Vec::new();
    for r in records.jobs.iter().filter(|r| r.workload == name) {
        if let Step::Finish(outcome) = r.step {
            lines.push((r.at, 0, format!("{} {}", r.job, outcome_words(r, outcome))));
        }
    }
    for (i, r) in actions.iter().enumerate() {
        lines.push((r.at, 1, action_sentence(r, records)));
        if let CronAction::Skip { scheduled } = r.action
            && let Some(missed) = missed(&actions[i + 1..], scheduled, settings, end)
        {
            lines.push(missed);
        }
    }
    in_order(lines)
}

fn cron_spec(s: &CronJobSettings) -> String {
    let policy = policy(s.concurrency);
    let deadline = match s.starting_deadline {
        Some(d) => format!("startingDeadlineSeconds {}", d.as_micros() / 1_000_000),
        None => "no startingDeadlineSeconds".into(),
    };
    let suspended = if s.suspend { ", suspended" } else { "" };
    format!(
        "concurrencyPolicy {policy}, {deadline}, successfulJobsHistoryLimit {}, \
         failedJobsHistoryLimit {}{suspended}",
        s.successful_history, s.failed_history
    )
}

fn policy(p: ConcurrencyPolicy) -> &'static str {
    match p {
        ConcurrencyPolicy::Allow => "Allow",
        ConcurrencyPolicy::Forbid => "Forbid",
        ConcurrencyPolicy::Replace => "Replace",
    }
}

fn outcome_words(r: &JobRecord, outcome: JobOutcome) -> String {
    let s = &r.status;
    let counts = format!("{} succeeded, {} failed", s.succeeded, s.failed);
    match outcome {
        JobOutcome::Complete => format!("complete ({counts})"),
        o => format!("failed: {} ({counts})", o.reason()),
    }
}

/// One CronJob action and why.
fn action_sentence(r: &CronRecord, records: &JobRecords) -> String {
    let s = &r.settings;
    match &r.action {
        CronAction::Start { scheduled, job } if *scheduled < r.at => format!(
            "started {job} for {scheduled}, {} late: the Jobs that held it back are over and \
             the run is still {}",
            r.at.saturating_since(*scheduled),
            match s.starting_deadline {
                Some(d) => format!(
                    "within startingDeadlineSeconds {}",
                    d.as_micros() / 1_000_000
                ),
                None => "due (no startingDeadlineSeconds)".into(),
            }
        ),
        CronAction::Start { job, .. } if r.active.is_empty() => format!("due: started {job}"),
        CronAction::Start { job, .. } => format!(
            "due: started {job} beside {} (concurrencyPolicy {})",
            listed_jobs(&r.active),
            policy(s.concurrency)
        ),
        CronAction::Skip { .. } => format!(
            "due, not started: {} still active and concurrencyPolicy Forbid; {}",
            listed_jobs(&r.active),
            match s.starting_deadline {
                Some(d) => format!("it starts when that ends, if by {}", r.at + d),
                None => "it starts when that ends, unless a later run comes due first".into(),
            }
        ),
        CronAction::Delete { job, reason } => {
            let outcome = finished_how(records, job);
            format!("deleted {job}: {}", deletion_reason(*reason, s, outcome))
        }
    }
}

fn listed_jobs(jobs: &[String]) -> String {
    match jobs {
        [one] => one.clone(),
        many => format!("{} Jobs ({})", many.len(), many.join(", ")),
    }
}

/// When and why the run due at `scheduled`, skipped, was never started (`None`: it started
/// late). `later`: the CronJob's actions after the skip.
fn missed(
    later: &[&CronRecord],
    scheduled: SimTime,
    settings: &CronJobSettings,
    end: SimTime,
) -> Option<(SimTime, u8, String)> {
    // The controller starts only the most recent due time: a skipped run starts, if at all,
    // before the next one comes due, so only the actions up to that one are read.
    let next = later
        .iter()
        .find(|r| !matches!(r.action, CronAction::Delete { .. }));
    let next_due = match next.map(|r| (r.at, &r.action)) {
        Some((_, CronAction::Start { scheduled: s, .. })) if *s == scheduled => return None,
        Some((t, CronAction::Start { scheduled: s, .. } | CronAction::Skip { scheduled: s })) => {
            Some((t, *s))
        }
        _ => None,
    };
    let expiry = settings.starting_deadline.map(|d| scheduled + d);
    match (expiry, next_due) {
        (Some(at), next) if at <= end && next.is_none_or(|(t, _)| at < t) => Some((
            at,
            2,
            format!(
                "the run due at {scheduled} is missed: still held back when its \
                 startingDeadlineSeconds {} ran out",
                settings
                    .starting_deadline
                    .map_or(0, |d| d.as_micros() / 1_000_000)
            ),
        )),
        (_, Some((t, s))) => Some((
            t,
            0,
            format!(
                "the run due at {scheduled} is never started: the run due at {s} came first, \
                 and the controller starts only the most recent"
            ),
        )),
        _ => Some((
            end,
            2,
            format!("the run due at {scheduled} was still waiting when the run ended"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::ConcurrencyPolicy;

    fn settings(deadline: Option<u64>) -> CronJobSettings {
        CronJobSettings {
            job: JobSettings::default(),
            concurrency: ConcurrencyPolicy::Forbid,
            starting_deadline: deadline.map(SimDuration::from_secs),
            successful_history: 3,
            failed_history: 1,
            suspend: false,
        }
    }

    fn action(at: u64, action: CronAction) -> CronRecord {
        CronRecord {
            at: SimTime::from_secs(at),
            cron_job: "c".into(),
            settings: settings(None),
            action,
            active: vec!["c-1".into()],
        }
    }

    #[test]
    fn a_skipped_run_is_started_late_missed_or_superseded() {
        let s = SimTime::from_secs;
        let end = s(10_000);
        let late = action(
            700,
            CronAction::Start {
                scheduled: s(600),
                job: "c-10".into(),
            },
        );
        let next = action(1200, CronAction::Skip { scheduled: s(1200) });
        // Started late: nothing missed.
        assert_eq!(missed(&[&late], s(600), &settings(None), end), None);
        // No deadline, and the run due at 1200 comes first: superseded then.
        let (at, _, text) = missed(&[&next], s(600), &settings(None), end).unwrap();
        assert_eq!(at, s(1200));
        assert!(
            text.ends_with(
                "the run due at 00:20:00 came first, and the controller starts only the most recent"
            ),
            "{text}"
        );
        // startingDeadlineSeconds 300: missed at 900, before 1200 comes.
        let (at, _, text) = missed(&[&next], s(600), &settings(Some(300)), end).unwrap();
        assert_eq!(at, s(900));
        assert!(text.contains("is missed"), "{text}");
        // startingDeadlineSeconds 900: 1200 comes first (600 + 900 = 1500 > 1200).
        let (at, _, _) = missed(&[&next], s(600), &settings(Some(900)), end).unwrap();
        assert_eq!(at, s(1200));
        // Nothing after, and the run ends before the deadline: still waiting at the end.
        let (at, _, text) = missed(&[], s(600), &settings(Some(900)), s(1000)).unwrap();
        assert_eq!(at, s(1000));
        assert!(
            text.ends_with("was still waiting when the run ended"),
            "{text}"
        );
    }
}
