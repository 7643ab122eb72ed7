//! A workload's Jobs — the one of a Job, or one per schedule time a CronJob acted on — in the
//! order they started, with the sets the controllers sync from: the Jobs still running and the
//! finished ones kept as history. A CronJob that has run every minute for a year has half a
//! million Jobs behind it and a handful alive; its syncs cost what is alive.

use std::collections::{BTreeMap, BTreeSet};

use crate::sim::SimTime;

use super::{JobOutcome, JobStatus, PodId};

/// Every Job of a workload, by its index in start order (`Pod::job_run`).
#[derive(Clone, Debug, Default)]
pub struct JobRuns {
    all: Vec<JobStatus>,
    /// Neither finished nor deleted.
    running: BTreeSet<u32>,
    /// Finished and not deleted: what the history limits count.
    kept: BTreeSet<u32>,
    /// Each Job's active pods (neither deleting nor ended), for the Jobs that have some: a
    /// sync reads the count, and the pods only to delete them or to find a free index.
    active: BTreeMap<u32, BTreeSet<PodId>>,
}

impl JobRuns {
    /// How many Jobs the workload ever started.
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// Whether it never started one.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// Job `run`'s status (`None` past the last).
    pub fn get(&self, run: u32) -> Option<&JobStatus> {
        self.all.get(run as usize)
    }

    /// Job `run`'s status, to count its pods' ends; its end and deletion go through
    /// [`JobRuns::finish`] and [`JobRuns::delete`], which keep the sets.
    pub fn counts_mut(&mut self, run: u32) -> &mut JobStatus {
        &mut self.all[run as usize]
    }

    /// Every Job's status in start order.
    pub fn iter(&self) -> std::slice::Iter<'_, JobStatus> {
        self.all.iter()
    }

    /// A new Job, running; its index.
    pub fn start(&mut self, status: JobStatus) -> u32 {
        let run = self.all.len() as u32;
        debug_assert!(status.finished.is_none() && !status.deleted);
        self.all.push(status);
        self.running.insert(run);
        run
    }

    /// Job `run` finished at `at` with `outcome`.
    pub fn finish(&mut self, run: u32, at: SimTime, outcome: JobOutcome) {
        let status = &mut self.all[run as usize];
        status.finished = Some((at, outcome));
        self.running.remove(&run);
        if !status.deleted {
            self.kept.insert(run);
        }
    }

    /// Job `run` is deleted; false when it already was.
    pub fn delete(&mut self, run: u32) -> bool {
        let status = &mut self.all[run as usize];
        if std::mem::replace(&mut status.deleted, true) {
            return false;
        }
        self.running.remove(&run);
        self.kept.remove(&run);
        true
    }

    /// The Jobs neither finished nor deleted, oldest first.
    pub fn running(&self) -> impl DoubleEndedIterator<Item = u32> + '_ {
        self.running.iter().copied()
    }

    /// The finished Jobs not yet deleted, oldest first.
    pub fn kept(&self) -> impl DoubleEndedIterator<Item = u32> + '_ {
        self.kept.iter().copied()
    }

    /// A pod of Job `run` was created.
    pub(super) fn pod_active(&mut self, run: u32, pod: PodId) {
        self.active.entry(run).or_default().insert(pod);
    }

    /// A pod of Job `run` (or of no Job) is deleting or has ended.
    pub(super) fn pod_inactive(&mut self, run: u32, pod: PodId) {
        if let Some(pods) = self.active.get_mut(&run) {
            pods.remove(&pod);
            if pods.is_empty() {
                self.active.remove(&run);
            }
        }
    }

    /// The Jobs with active pods, oldest first, with their pods by id.
    pub fn with_active_pods(&self) -> impl Iterator<Item = (u32, &BTreeSet<PodId>)> {
        self.active.iter().map(|(&run, pods)| (run, pods))
    }
}

impl std::ops::Index<u32> for JobRuns {
    type Output = JobStatus;

    fn index(&self, run: u32) -> &JobStatus {
        &self.all[run as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sets_follow_each_job_from_start_to_deletion() {
        let mut runs = JobRuns::default();
        let (a, b, c) = (
            runs.start(JobStatus::default()),
            runs.start(JobStatus::default()),
            runs.start(JobStatus::default()),
        );
        assert_eq!((a, b, c), (0, 1, 2));
        runs.finish(b, SimTime::from_secs(5), JobOutcome::Complete);
        assert_eq!(runs.running().collect::<Vec<_>>(), [0, 2]);
        assert_eq!(runs.kept().collect::<Vec<_>>(), [1]);
        // A running Job deleted (Replace) leaves both sets; deleting twice says so.
        assert!(runs.delete(a));
        assert!(!runs.delete(a));
        assert_eq!(runs.running().collect::<Vec<_>>(), [2]);
        // A kept Job deleted (history, TTL) leaves the history; a deleted Job that finishes
        // after (its pods still ending) is not kept again.
        assert!(runs.delete(b));
        runs.finish(a, SimTime::from_secs(9), JobOutcome::DeadlineExceeded);
        assert_eq!(runs.kept().count(), 0);
        assert_eq!(
            (runs.len(), runs[b].deleted, runs.iter().count()),
            (3, true, 3)
        );
    }
}
