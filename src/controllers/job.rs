//! The Job controller (`pkg/controller/job`): keeps up to `parallelism` pods running until
//! `completions` of them have succeeded (each index once for an Indexed Job), recreates failed
//! pods after the pod failure backoff, and fails the Job when more pods failed than
//! `backoffLimit` or when it ran past `activeDeadlineSeconds`, deleting the pods it still has.
//!
//! The engine keeps each Job's status (its pods' ends are events); this module decides from it:
//! each sync is a [`Step`] (create pods, wait out the backoff, finish, delete the active pods)
//! and the intents that carry it out, and the engine keeps the steps worth telling as
//! [`record`]s for `kubesim explain --job`. A CronJob's Jobs are the runs of one workload, each
//! reconciled as a Job.
//! Not modelled: `podFailurePolicy`, `successPolicy`, `backoffLimitPerIndex`, and the
//! controller's slow start of pod creations (1, 2, 4, … per sync), which only matters for
//! very wide Jobs over the first seconds.

use std::collections::{BTreeMap, BTreeSet};

use crate::cluster::{Cluster, DeploymentId, JobOutcome, JobStatus, PodId};
use crate::scenario::JobSettings;
use crate::sim::{SimDuration, SimTime};

use super::Intent;

pub mod record;

/// `DefaultJobPodFailureBackOff`: the delay before the first replacement of a failed pod.
pub const POD_FAILURE_BACKOFF: SimDuration = SimDuration::from_secs(10);
/// `MaxJobPodFailureBackOff`: the delay doubles per failure up to this (the documentation
/// says six minutes; the controller's constant is ten).
pub const MAX_POD_FAILURE_BACKOFF: SimDuration = SimDuration::from_mins(10);

/// What a sync decided for one Job, and the intents that carry it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sync {
    pub run: Run,
    pub step: Step,
    /// Its active pods when it decided.
    pub active: usize,
    pub intents: Vec<Intent>,
}

/// What one sync of one Job decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do: enough pods run, or it is complete.
    Idle,
    /// It was deleted, or it failed: its active pods are deleted.
    DeleteActive,
    /// It finishes now (a failed Job's active pods are deleted too).
    Finish(JobOutcome),
    /// `wanted` pods are missing but the pod failure backoff holds them back until `until`.
    BackingOff { until: SimTime, wanted: usize },
    /// Pods to create, each with its completion index (an Indexed Job).
    Create(Vec<Option<u32>>),
}

/// One sync of a Job, or of each live Job a CronJob started, in run order (none for other
/// workloads).
pub fn syncs(cluster: &Cluster, job: DeploymentId, now: SimTime) -> Vec<Sync> {
    let d = cluster.deployment(job);
    let Some(settings) = d.spec.source.job_settings() else {
        return Vec::new();
    };
    // The Jobs with something to do: those running, and those with active pods (a finished,
    // failed or deleted Job's pods to delete). A finished Job without pods needs nothing, so
    // the sync costs the live Jobs, not every Job a CronJob ever ran; and it reads a Job's
    // pods only to delete them or to find free indexes, not at every pod end.
    let none = BTreeSet::new();
    let mut runs: BTreeMap<u32, &BTreeSet<PodId>> = d.runs.running().map(|r| (r, &none)).collect();
    runs.extend(d.runs.with_active_pods());
    let mut syncs = Vec::new();
    for (run, active) in runs {
        let status = &d.runs[run];
        let has_index = |i: u32| active.iter().any(|&p| cluster.pod(p).ordinal == Some(i));
        let step = step(settings, status, active.len(), has_index, now);
        let run = Run { job, run };
        let intents = intents(run, &step, active);
        let active = active.len();
        syncs.push(Sync {
            run,
            step,
            active,
            intents,
        });
    }
    syncs
}

/// One Job of a workload: the workload and the Job's index among its runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub job: DeploymentId,
    pub run: u32,
}

/// One sync of one Job with `active` pods (`has_index`: whether one of them has that
/// completion index).
fn step(
    settings: JobSettings,
    status: &JobStatus,
    active: usize,
    has_index: impl Fn(u32) -> bool,
    now: SimTime,
) -> Step {
    let failed = |(_, o): (SimTime, JobOutcome)| o != JobOutcome::Complete;
    if status.deleted || status.finished.is_some_and(failed) {
        return Step::DeleteActive;
    }
    if status.finished.is_some() {
        return Step::Idle;
    }
    if let Some(outcome) = outcome(settings, status, active, now) {
        return Step::Finish(outcome);
    }
    let create = creations(settings, status, active, has_index);
    match backoff_until(status) {
        _ if create.is_empty() => Step::Idle,
        // The engine wakes the Job when the backoff is over.
        Some(until) if now < until => Step::BackingOff {
            until,
            wanted: create.len(),
        },
        _ => Step::Create(create),
    }
}

/// The intents that carry out a Job's step.
fn intents(run: Run, step: &Step, active: &BTreeSet<PodId>) -> Vec<Intent> {
    let delete_active = active.iter().map(|&pod| Intent::DeletePod { pod });
    match step {
        Step::Idle | Step::BackingOff { .. } => Vec::new(),
        Step::DeleteActive => delete_active.collect(),
        Step::Finish(outcome) => {
            let finish = Intent::FinishJob {
                run,
                outcome: *outcome,
            };
            let deletes = (*outcome != JobOutcome::Complete).then_some(delete_active);
            std::iter::once(finish)
                .chain(deletes.into_iter().flatten())
                .collect()
        }
        Step::Create(indexes) => (indexes.iter())
            .map(|&index| Intent::CreateJobPod { run, index })
            .collect(),
    }
}

/// Whether the Job finishes now, and how: its deadline passed, more pods failed than the
/// backoff limit allows, or enough succeeded (a work queue: one did and none is running).
pub fn outcome(
    settings: JobSettings,
    status: &JobStatus,
    active: usize,
    now: SimTime,
) -> Option<JobOutcome> {
    let started = status.started?;
    if settings
        .active_deadline
        .is_some_and(|deadline| now >= started + deadline)
    {
        return Some(JobOutcome::DeadlineExceeded);
    }
    if status.failed > settings.backoff_limit {
        return Some(JobOutcome::BackoffLimitExceeded);
    }
    let done = match settings.completions {
        Some(c) if settings.indexed => status.completed_indexes.len() as i64 >= i64::from(c),
        Some(c) => status.succeeded >= c,
        None => status.succeeded > 0 && active == 0,
    };
    done.then_some(JobOutcome::Complete)
}

/// The pod failure backoff: `10 s × 2^(failures since the last success − 1)`, at most 10 min,
/// from the last failure (`None`: no failure since the last success).
pub fn backoff_until(status: &JobStatus) -> Option<SimTime> {
    let last = status.last_failure?;
    let n = status.failures_since_success;
    if n <= 0 {
        return None;
    }
    let doublings = (n - 1).min(16) as u32;
    let delay = POD_FAILURE_BACKOFF
        .saturating_mul(1u64 << doublings)
        .min(MAX_POD_FAILURE_BACKOFF);
    Some(last + delay)
}

/// The pods to create now, each with its completion index for an Indexed Job: up to
/// `parallelism` running, and no more than the completions still missing.
fn creations(
    settings: JobSettings,
    status: &JobStatus,
    active: usize,
    has_index: impl Fn(u32) -> bool,
) -> Vec<Option<u32>> {
    let room = i64::from(settings.parallelism) - active as i64;
    let missing = match settings.completions {
        Some(c) if settings.indexed => i64::from(c) - status.completed_indexes.len() as i64,
        Some(c) => i64::from(c) - i64::from(status.succeeded),
        // A work queue starts `parallelism` pods and none once one has succeeded.
        None if status.succeeded > 0 => 0,
        None => i64::from(settings.parallelism),
    };
    let wanted = room.min(missing - active as i64).max(0) as usize;
    if !settings.indexed {
        return vec![None; wanted];
    }
    // The lowest indexes that neither succeeded nor have a pod.
    let total = settings.completions.unwrap_or(0).max(0) as u32;
    (0..total)
        .filter(|i| !status.completed_indexes.contains(i))
        .filter(|&i| !has_index(i))
        .take(wanted)
        .map(Some)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(completions: Option<i32>, parallelism: i32) -> JobSettings {
        JobSettings {
            completions,
            parallelism,
            ..JobSettings::default()
        }
    }

    fn started() -> JobStatus {
        JobStatus {
            started: Some(SimTime::ZERO),
            ..JobStatus::default()
        }
    }

    #[test]
    fn pod_failure_backoff_doubles_from_10s_to_10m() {
        // (failures since the last success, delay): 10 s × 2^(n − 1), capped at 600 s.
        let cases = [
            (1, 10),
            (2, 20),
            (3, 40),
            (4, 80),
            (5, 160),
            (6, 320),
            (7, 600),
            (40, 600),
        ];
        for (n, secs) in cases {
            let status = JobStatus {
                failures_since_success: n,
                last_failure: Some(SimTime::from_secs(100)),
                ..JobStatus::default()
            };
            assert_eq!(
                backoff_until(&status),
                Some(SimTime::from_secs(100 + secs)),
                "{n} failures"
            );
        }
        // A success resets the count: no backoff.
        let reset = JobStatus {
            failures_since_success: 0,
            last_failure: Some(SimTime::from_secs(100)),
            ..JobStatus::default()
        };
        assert_eq!(backoff_until(&reset), None);
    }

    #[test]
    fn outcomes() {
        let now = SimTime::from_secs(50);
        // completions 3: 2 succeeded → running; 3 → Complete.
        let mut s = started();
        s.succeeded = 2;
        assert_eq!(outcome(settings(Some(3), 1), &s, 1, now), None);
        s.succeeded = 3;
        let three = settings(Some(3), 1);
        assert_eq!(outcome(three, &s, 0, now), Some(JobOutcome::Complete));
        // backoffLimit 6: the 7th failure fails the Job (failed > limit), the 6th does not.
        let mut f = started();
        f.failed = 6;
        assert_eq!(outcome(three, &f, 1, now), None);
        f.failed = 7;
        let failed = outcome(three, &f, 1, now);
        assert_eq!(failed, Some(JobOutcome::BackoffLimitExceeded));
        // activeDeadlineSeconds 50 from a start at 0: exceeded at 50 s, before it running.
        let deadline = JobSettings {
            active_deadline: Some(SimDuration::from_secs(50)),
            ..three
        };
        let at_deadline = outcome(deadline, &started(), 1, now);
        assert_eq!(at_deadline, Some(JobOutcome::DeadlineExceeded));
        let before = SimTime::from_secs(49);
        assert_eq!(outcome(deadline, &started(), 1, before), None);
        // A work queue (no completions): done when one succeeded and none is left running.
        let mut q = started();
        q.succeeded = 1;
        assert_eq!(outcome(settings(None, 3), &q, 2, now), None);
        let queue_done = outcome(settings(None, 3), &q, 0, now);
        assert_eq!(queue_done, Some(JobOutcome::Complete));
    }

    #[test]
    fn creations_fill_parallelism_up_to_the_missing_completions() {
        // completions 5, parallelism 2, none yet: 2 pods.
        assert_eq!(
            creations(settings(Some(5), 2), &started(), 0, |_| false).len(),
            2
        );
        // 4 succeeded: only 1 is missing.
        let mut s = started();
        s.succeeded = 4;
        assert_eq!(creations(settings(Some(5), 2), &s, 0, |_| false).len(), 1);
        // A work queue with parallelism 3 starts 3, and none once one has succeeded.
        assert_eq!(
            creations(settings(None, 3), &started(), 0, |_| false).len(),
            3
        );
        s.succeeded = 1;
        assert!(creations(settings(None, 3), &s, 0, |_| false).is_empty());
        // Indexed, completions 4, parallelism 2, index 0 done: indexes 1 and 2.
        let indexed = JobSettings {
            indexed: true,
            ..settings(Some(4), 2)
        };
        let mut done = started();
        done.completed_indexes.insert(0);
        assert_eq!(
            creations(indexed, &done, 0, |_| false),
            vec![Some(1), Some(2)]
        );
    }
}
