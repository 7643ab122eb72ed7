//! What `kubesim explain --job` and `--cronjob` tell from: each Job sync that decided
//! something — pods created, the pod failure backoff holding them back, the Job finishing —
//! with the status and spec it decided from; and each CronJob action — a Job started (on time
//! or late), a due run skipped, a Job deleted — with the schedule time it was for and the Jobs
//! then active. Kept by the engine as they happen (the first [`MAX_JOB_RECORDS`] of each).

use std::collections::BTreeMap;

use crate::cluster::JobStatus;
use crate::controllers::JobDeletion;
use crate::scenario::{CronJobSettings, JobSettings};
use crate::sim::SimTime;

use super::{Step, Sync};

/// Records kept per run of each kind; later ones are dropped.
pub const MAX_JOB_RECORDS: usize = 100_000;

/// One Job sync that decided something.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRecord {
    pub at: SimTime,
    /// The Job or CronJob workload.
    pub workload: String,
    /// The Job (a CronJob's: `<cronjob>-<scheduled minutes>`).
    pub job: String,
    pub settings: JobSettings,
    /// Its status when it decided.
    pub status: JobStatus,
    /// Its active pods when it decided.
    pub active: usize,
    pub step: Step,
    /// The same decision taken again at every sync until then, nothing having changed: the
    /// pods it asked for were refused (a ResourceQuota) until the last of those syncs.
    pub repeated_until: Option<SimTime>,
}

impl JobRecord {
    /// Whether `other` is the same decision from the same state, whenever it was taken.
    fn decides_as(&self, other: &JobRecord) -> bool {
        self.job == other.job
            && self.settings == other.settings
            && self.status == other.status
            && self.active == other.active
            && self.step == other.step
    }
}

/// Whether a sync is worth telling: pods created, the Job finished, or the backoff holding
/// pods back in the sync right after the failure that started it (it holds them at every
/// sync until it ends).
pub fn worth_recording(sync: &Sync, status: &JobStatus, now: SimTime) -> bool {
    match sync.step {
        Step::Create(_) | Step::Finish(_) => true,
        Step::BackingOff { .. } => status.last_failure == Some(now),
        Step::Idle | Step::DeleteActive => false,
    }
}

/// One CronJob action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronRecord {
    pub at: SimTime,
    pub cron_job: String,
    pub settings: CronJobSettings,
    pub action: CronAction,
    /// Its Jobs active (started, not finished, not deleted) just before the action.
    pub active: Vec<String>,
}

/// What a CronJob did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CronAction {
    /// It started `job` for the schedule time `scheduled` (late when that is before `at`).
    Start { scheduled: SimTime, job: String },
    /// The run due at `scheduled` waits: a Job is active and the policy is Forbid.
    Skip { scheduled: SimTime },
    /// It deleted `job`.
    Delete { job: String, reason: JobDeletion },
}

/// A run's Job and CronJob records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobRecords {
    pub jobs: Vec<JobRecord>,
    pub cron_jobs: Vec<CronRecord>,
    /// Each Job's last record (by workload index and run), where a repeat is folded.
    last_of_job: BTreeMap<(u32, u32), usize>,
}

impl JobRecords {
    /// Whether the first [`MAX_JOB_RECORDS`] Job records were kept and later ones dropped.
    pub fn jobs_truncated(&self) -> bool {
        self.jobs.len() >= MAX_JOB_RECORDS
    }

    /// Keeps `record` of Job `key` (workload index, run), unless it only repeats that Job's
    /// last record at a later instant: then that one is extended to now (and kept once).
    pub fn push_job(&mut self, key: (u32, u32), record: JobRecord) {
        if let Some(&i) = self.last_of_job.get(&key) {
            let last = &mut self.jobs[i];
            if last.decides_as(&record) {
                if record.at > last.at {
                    last.repeated_until = Some(record.at);
                }
                return;
            }
        }
        if self.jobs.len() < MAX_JOB_RECORDS {
            self.last_of_job.insert(key, self.jobs.len());
            self.jobs.push(record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::JobStatus;

    fn record(at: u64, succeeded: i32) -> JobRecord {
        JobRecord {
            at: SimTime::from_secs(at),
            workload: "w".into(),
            job: "w".into(),
            settings: JobSettings::default(),
            status: JobStatus {
                succeeded,
                ..JobStatus::default()
            },
            active: 0,
            step: Step::Create(vec![None]),
            repeated_until: None,
        }
    }

    #[test]
    fn a_repeated_decision_is_kept_once_and_extended() {
        let mut records = JobRecords::default();
        records.push_job((0, 0), record(10, 0));
        // The same at the same instant, then later: one record, repeated until 30.
        records.push_job((0, 0), record(10, 0));
        records.push_job((0, 0), record(20, 0));
        records.push_job((0, 0), record(30, 0));
        // Another Job's identical decision is its own record.
        records.push_job((0, 1), record(30, 0));
        // A changed status is a new record.
        records.push_job((0, 0), record(40, 1));
        let kept: Vec<(u64, Option<SimTime>)> = (records.jobs.iter())
            .map(|r| (r.at.as_micros() / 1_000_000, r.repeated_until))
            .collect();
        let s = |t| Some(SimTime::from_secs(t));
        assert_eq!(kept, vec![(10, s(30)), (30, None), (40, None)]);
    }
}
