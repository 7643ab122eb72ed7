//! The CronJob controller (`pkg/controller/cronjob`, its v2 `syncCronJob`): at every schedule
//! time, and whenever one of its Jobs finishes, it finds the most recent schedule time it has
//! not acted on and starts a Job for it — unless an earlier Job is still active and the
//! `concurrencyPolicy` is Forbid (the run is skipped, and starts late if that Job finishes
//! within `startingDeadlineSeconds`, or at any time without one), or it is Replace (the active
//! Jobs are deleted first). Finished Jobs beyond the history limits are deleted, oldest first.
//!
//! The controller here never falls behind its schedule (upstream's "too many missed start
//! times" needs a controller that was down), so a run is only missed by Forbid.

use crate::cluster::{Cluster, DeploymentId, JobOutcome, JobRuns};
use crate::scenario::{ConcurrencyPolicy, CronJobSettings, PodSource};
use crate::sim::SimTime;

use super::job::Run;
use super::{Intent, JobDeletion};

/// One sync of a CronJob: its intents now (none for other workloads).
pub fn reconcile(cluster: &Cluster, cron_job: DeploymentId, now: SimTime) -> Vec<Intent> {
    let d = cluster.deployment(cron_job);
    let PodSource::CronJob(settings) = d.spec.source else {
        return Vec::new();
    };
    let run = |i: u32| Run {
        job: cron_job,
        run: i,
    };
    let mut intents: Vec<Intent> = history_to_delete(&d.runs, settings)
        .into_iter()
        .map(|i| Intent::DeleteJob {
            run: run(i),
            reason: JobDeletion::History,
        })
        .collect();
    let Some(scheduled) = due(&d.cron.times, d.cron.last_schedule, settings, now) else {
        return intents;
    };
    if settings.suspend {
        return intents;
    }
    let active: Vec<u32> = d.runs.running().collect();
    match settings.concurrency {
        ConcurrencyPolicy::Forbid if !active.is_empty() => {
            if d.cron.skipped != Some(scheduled) {
                intents.push(Intent::SkipJob {
                    cron_job,
                    scheduled,
                });
            }
            return intents;
        }
        ConcurrencyPolicy::Replace => {
            intents.extend(active.into_iter().map(|i| Intent::DeleteJob {
                run: run(i),
                reason: JobDeletion::Replaced,
            }))
        }
        _ => {}
    }
    intents.push(Intent::StartJob {
        cron_job,
        scheduled,
    });
    intents
}

/// `nextScheduleTime`: the most recent schedule time after the last one acted on (or after
/// t = 0, the CronJob's creation) and not after `now`; with `startingDeadlineSeconds`, not
/// earlier than `now − deadline` either.
pub fn due(
    times: &[SimTime],
    last: Option<SimTime>,
    settings: CronJobSettings,
    now: SimTime,
) -> Option<SimTime> {
    let upto = times.partition_point(|&t| t <= now);
    let t = *times[..upto].last()?;
    let after_last = last.is_none_or(|l| t > l);
    let in_window = settings
        .starting_deadline
        .is_none_or(|deadline| t + deadline >= now);
    (after_last && in_window).then_some(t)
}

/// The finished Jobs beyond `successfulJobsHistoryLimit` and `failedJobsHistoryLimit`, oldest
/// first (indexes into `runs`).
fn history_to_delete(runs: &JobRuns, settings: CronJobSettings) -> Vec<u32> {
    let complete = |i: &u32| {
        runs[*i]
            .finished
            .is_some_and(|(_, o)| o == JobOutcome::Complete)
    };
    let (succeeded, failed): (Vec<u32>, Vec<u32>) = runs.kept().partition(complete);
    let mut out = Vec::new();
    for (list, limit) in [
        (succeeded, settings.successful_history),
        (failed, settings.failed_history),
    ] {
        let excess = list.len().saturating_sub(limit.max(0) as usize);
        out.extend(&list[..excess]);
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::JobSettings;
    use crate::sim::SimDuration;

    fn settings(deadline: Option<u64>) -> CronJobSettings {
        CronJobSettings {
            job: JobSettings::default(),
            concurrency: ConcurrencyPolicy::Allow,
            starting_deadline: deadline.map(SimDuration::from_secs),
            successful_history: 3,
            failed_history: 1,
            suspend: false,
        }
    }

    #[test]
    fn the_most_recent_unmet_schedule_time_is_due() {
        let s = |secs: u64| SimTime::from_secs(secs);
        let times = [s(60), s(120), s(180)];
        // Before the first time: nothing; at it: it.
        assert_eq!(due(&times, None, settings(None), s(59)), None);
        assert_eq!(due(&times, None, settings(None), s(60)), Some(s(60)));
        // Acted on 60; at 150 the most recent is 120.
        assert_eq!(
            due(&times, Some(s(60)), settings(None), s(150)),
            Some(s(120))
        );
        // Acted on 60, and at 200 both 120 and 180 passed: only the most recent, 180, is due
        // (upstream starts one Job for the latest missed time, not one per missed time).
        assert_eq!(
            due(&times, Some(s(60)), settings(None), s(200)),
            Some(s(180))
        );
        // Already acted on 180: nothing more.
        assert_eq!(due(&times, Some(s(180)), settings(None), s(200)), None);
        // startingDeadlineSeconds 30: 120 is still due at 150, missed at 151.
        assert_eq!(
            due(&times, Some(s(60)), settings(Some(30)), s(150)),
            Some(s(120))
        );
        assert_eq!(due(&times, Some(s(60)), settings(Some(30)), s(151)), None);
    }

    #[test]
    fn finished_jobs_beyond_the_history_limits_go_oldest_first() {
        // Five complete (limit 3) and two failed (limit 1), interleaved, one still running and
        // one complete already deleted: the two oldest kept complete ones (0, 1) and the
        // oldest failed one (3) go.
        use crate::cluster::JobStatus;
        let outcomes = [
            Some(JobOutcome::Complete),
            Some(JobOutcome::Complete),
            Some(JobOutcome::Complete),
            Some(JobOutcome::BackoffLimitExceeded),
            Some(JobOutcome::Complete),
            Some(JobOutcome::DeadlineExceeded),
            None,
            Some(JobOutcome::Complete),
            Some(JobOutcome::Complete),
        ];
        let mut runs = JobRuns::default();
        for outcome in outcomes {
            let run = runs.start(JobStatus::default());
            if let Some(o) = outcome {
                runs.finish(run, SimTime::ZERO, o);
            }
        }
        runs.delete(8);
        assert_eq!(history_to_delete(&runs, settings(None)), vec![0, 1, 3]);
    }
}
