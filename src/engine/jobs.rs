//! Jobs and CronJobs in the engine: the Jobs a CronJob starts at its schedule times, the pods
//! the Job controller asks for, the end of each pod's run (success or failure drawn from the
//! workload's own random stream, `job-run/<name>`), pods lost before their run ended (counted
//! as failed, as the Job controller counts a pod that terminated without succeeding), the
//! wake-ups for the pod failure backoff and the active deadline, and Jobs deleted after
//! `ttlSecondsAfterFinished`, replaced, or beyond a CronJob's history limits.
//!
//! A Job's pod takes its node's resources from binding until its run ends, and then frees them
//! (phase `Succeeded` or `Failed`). While it runs it is CPU-bound: it wants all the CPU its
//! limit allows (the whole node without one) and gets its weighted share beside the node's
//! serving pods, whose requests then slow down; its own run time is as drawn (it does not
//! stretch when it gets less CPU).

use std::sync::Arc;

use rand::RngExt;

use super::{Engine, Event};
use crate::cluster::{DeploymentId, JobOutcome, JobStatus, PodExit, PodId};
use crate::controllers::job::record::{self, CronAction, CronRecord, JobRecord, MAX_JOB_RECORDS};
use crate::controllers::job::{self, Run};
use crate::controllers::{Intent, JobDeletion, PodEventReason};
use crate::metrics::cluster_events::{ClusterEventReason, ObjectKind};
use crate::metrics::recorder::Observation;
use crate::metrics::report::{JobReport, Report};
use crate::scenario::PodSource;
use crate::sim::SimTime;

impl Engine<'_, '_> {
    /// At t = 0 every Job starts (`status.startTime`), and every CronJob waits for its first
    /// schedule time.
    pub(super) fn start_jobs(&mut self) {
        for d in 0..self.cluster.deployments.len() {
            let id = DeploymentId(d as u32);
            match self.cluster.deployment(id).spec.source {
                PodSource::Job(_) => self.add_run(id, None),
                PodSource::CronJob(_) => self.schedule_cron_tick(id),
                _ => {}
            }
        }
    }

    /// The CronJob's next schedule time after now, as a `CronTick`.
    fn schedule_cron_tick(&mut self, cron_job: DeploymentId) {
        let times = &self.cluster.deployment(cron_job).cron.times;
        let next = times.partition_point(|&t| t <= self.now);
        if let Some(&at) = times.get(next) {
            self.queue.schedule(at, Event::CronTick { cron_job });
        }
    }

    /// A CronJob's schedule time: its controller looks, and the next time is set.
    pub(super) fn on_cron_tick(&mut self, cron_job: DeploymentId) {
        self.dirty.workload(cron_job);
        self.schedule_cron_tick(cron_job);
    }

    /// A new Job of the workload, started now (for a CronJob's schedule time `scheduled`).
    fn add_run(&mut self, workload: DeploymentId, scheduled: Option<SimTime>) {
        let d = &mut self.cluster.deployments[workload.index()];
        d.runs.start(JobStatus {
            scheduled,
            started: Some(self.now),
            ..JobStatus::default()
        });
        let deadline = d.spec.source.job_settings().and_then(|s| s.active_deadline);
        if let Some(deadline) = deadline {
            let at = self.now + deadline;
            self.queue.schedule(at, Event::JobWake { job: workload });
        }
        self.dirty.workload(workload);
    }

    /// The name of a workload's Job: the Job's own, or its CronJob's for its schedule time.
    fn job_name(&self, run: Run) -> String {
        let d = self.cluster.deployment(run.job);
        match d.runs[run.run].scheduled {
            Some(t) => self.scheduled_job_name(run.job, t),
            None => d.spec.name.clone(),
        }
    }

    /// `<cronjob>-<scheduled minutes since the epoch>`, as the CronJob controller names them.
    fn scheduled_job_name(&self, cron_job: DeploymentId, scheduled: SimTime) -> String {
        let epoch = self.scenario.start_time.as_second();
        let minutes = (epoch + (scheduled.as_micros() / 1_000_000) as i64).div_euclid(60);
        format!("{}-{minutes}", self.cluster.deployment(cron_job).spec.name)
    }

    /// The Job controller's intents for a workload's Jobs; the syncs that decided something
    /// are recorded for `explain --job`.
    pub(super) fn job_intents(&mut self, workload: DeploymentId) -> Vec<Intent> {
        let mut intents = Vec::new();
        for sync in job::syncs(&self.cluster, workload, self.now) {
            self.record_job_sync(&sync);
            intents.extend(sync.intents);
        }
        intents
    }

    fn record_job_sync(&mut self, sync: &job::Sync) {
        let d = self.cluster.deployment(sync.run.job);
        let status = &d.runs[sync.run.run];
        if !record::worth_recording(sync, status, self.now) {
            return;
        }
        let Some(settings) = d.spec.source.job_settings() else {
            return;
        };
        let r = JobRecord {
            at: self.now,
            workload: d.spec.name.clone(),
            job: self.job_name(sync.run),
            settings,
            status: status.clone(),
            active: sync.active,
            step: sync.step.clone(),
            repeated_until: None,
        };
        let key = (sync.run.job.0, sync.run.run);
        self.job_records.push_job(key, r);
    }

    /// A CronJob's action, with the Jobs it had active just before, for `explain --cronjob`.
    fn record_cron_action(&mut self, cron_job: DeploymentId, action: CronAction) {
        let d = self.cluster.deployment(cron_job);
        let PodSource::CronJob(settings) = d.spec.source else {
            return;
        };
        if self.job_records.cron_jobs.len() >= MAX_JOB_RECORDS {
            return;
        }
        let active = (d.runs.running())
            .map(|run| self.job_name(Run { job: cron_job, run }))
            .collect();
        let r = CronRecord {
            at: self.now,
            cron_job: d.spec.name.clone(),
            settings,
            action,
            active,
        };
        self.job_records.cron_jobs.push(r);
    }

    /// `StartJob`: a CronJob's Job for `scheduled` (`SuccessfulCreate`).
    pub(super) fn start_cron_job_run(&mut self, cron_job: DeploymentId, scheduled: SimTime) {
        let job = self.scheduled_job_name(cron_job, scheduled);
        let action = CronAction::Start {
            scheduled,
            job: job.clone(),
        };
        self.record_cron_action(cron_job, action);
        self.cluster.deployments[cron_job.index()]
            .cron
            .last_schedule = Some(scheduled);
        self.add_run(cron_job, Some(scheduled));
        let message = format!("Created job {job}");
        self.cron_event(cron_job, ClusterEventReason::SuccessfulCreate, message);
    }

    /// `SkipJob`: a run due at `scheduled` waits, its policy is Forbid and a Job is active.
    pub(super) fn skip_cron_job_run(&mut self, cron_job: DeploymentId, scheduled: SimTime) {
        self.record_cron_action(cron_job, CronAction::Skip { scheduled });
        self.cluster.deployments[cron_job.index()].cron.skipped = Some(scheduled);
        let message =
            "Not starting job because prior execution is running and concurrency policy is Forbid";
        self.cron_event(
            cron_job,
            ClusterEventReason::JobAlreadyActive,
            message.into(),
        );
    }

    /// `DeleteJob`: the Job is deleted (its pods follow, by the Job controller).
    pub(super) fn delete_job(&mut self, run: Run, reason: JobDeletion) {
        let job = self.job_name(run);
        self.record_cron_action(run.job, CronAction::Delete { job, reason });
        self.cluster.deployments[run.job.index()]
            .runs
            .delete(run.run);
        self.collect_job_pods(run);
        let name = self.job_name(run);
        let message = match reason {
            JobDeletion::Replaced => format!("Deleted job {name} (concurrency policy Replace)"),
            JobDeletion::History => format!("Deleted job {name} (beyond the history limit)"),
        };
        self.cron_event(run.job, ClusterEventReason::SuccessfulDelete, message);
        self.dirty.workload(run.job);
    }

    fn cron_event(&mut self, cron_job: DeploymentId, reason: ClusterEventReason, message: String) {
        let name = self.cluster.deployment(cron_job).spec.name.clone();
        (self.cluster_events).record(self.now, ObjectKind::CronJob, &name, reason, message);
    }

    /// `CreateJobPod`: `<job>-<suffix>`, or `<job>-<index>-<suffix>` for an Indexed Job.
    pub(super) fn create_job_pod(&mut self, run: Run, index: Option<u32>) {
        let rs = self.cluster.deployment(run.job).replica_sets[0];
        let template = Arc::clone(&self.cluster.replica_sets[rs.index()].template);
        let Some(template) = self.admit_pod(run.job, template) else {
            return;
        };
        let job_name = self.job_name(run);
        let suffix = crate::cluster::pod_suffix(self.cluster.pods.len() as u32);
        let name = match index {
            Some(i) => format!("{job_name}-{i}-{suffix}"),
            None => format!("{job_name}-{suffix}"),
        };
        let pod = self.cluster.create_pod_with(rs, name, template, self.now);
        self.cluster.set_job_pod(pod, run.run, index);
        self.pod_event(
            pod,
            PodEventReason::Created,
            crate::metrics::pod_events::created_by_job(&job_name),
        );
        self.recorder.observe(
            self.now,
            Observation::PodCreated {
                deployment: run.job,
            },
        );
        self.count_trace_pods(run.job, 1);
        self.dirty.workload(run.job);
    }

    /// A Job pod's container started: its run ends after the run time, failing or not.
    pub(super) fn start_job_run(&mut self, pod: PodId, generation: u32) {
        let job = self.cluster.pod(pod).deployment;
        let model = &self.cluster.deployment(job).spec.workload.job;
        let rng = &mut self.job_rngs[job.index()];
        let run = model.run_time.sample(rng);
        let failed =
            model.failure_probability > 0.0 && rng.random::<f64>() < model.failure_probability;
        let event = Event::JobRunEnds {
            pod,
            generation,
            failed,
        };
        self.queue.schedule(self.now + run, event);
        // Its work wants the CPU its limit allows (or the whole node without one), competing
        // with the node's serving pods by weight.
        if let Some(server) = self.server_now(pod) {
            server.set_cpu_bound();
        }
        if let Some(node) = self.cluster.pod(pod).node {
            self.track_node_demand(node);
        }
    }

    /// A Job pod's run is over: it exits (0 or 1), frees its node and counts for its Job.
    pub(super) fn on_job_run_ends(&mut self, pod: PodId, generation: u32, failed: bool) {
        let current = self.containers.get(pod.index()).map(|c| c.generation());
        let p = self.cluster.pod(pod);
        if !p.is_active() || current != Some(generation) {
            return; // deleted, or lost with its node, before the run ended
        }
        let job = p.deployment;
        let (exit, reason, message) = if failed {
            let message = "Container exited with code 1 (Error)";
            (PodExit::Failed, PodEventReason::Failed, message)
        } else {
            let message = "Container exited with code 0 (Completed)";
            (PodExit::Succeeded, PodEventReason::Completed, message)
        };
        self.pod_event(pod, reason, message.into());
        self.count_job_end(pod, exit);
        self.cluster.pods[pod.index()].exit = Some(exit);
        self.finish_termination(pod);
        self.count_trace_pods(job, -1);
    }

    /// A Job's pod was deleted before its run ended (its node failed, it was evicted or
    /// preempted): the Job counts it as failed, unless the Job itself is over.
    pub(super) fn job_pod_lost(&mut self, pod: PodId) {
        let p = self.cluster.pod(pod);
        let d = self.cluster.deployment(p.deployment);
        let Some(status) = d.runs.get(p.job_run) else {
            return; // not a Job's pod
        };
        if p.exit.is_some() || status.finished.is_some() || status.deleted {
            return;
        }
        let job = p.deployment;
        self.count_job_end(pod, PodExit::Failed);
        self.cluster.pods[pod.index()].exit = Some(PodExit::Failed);
        self.count_trace_pods(job, -1);
    }

    /// Counts a pod's end in its Job's status; a failure starts the pod failure backoff.
    fn count_job_end(&mut self, pod: PodId, exit: PodExit) {
        let p = self.cluster.pod(pod);
        let (job, index, run) = (p.deployment, p.ordinal, p.job_run);
        let status = self.cluster.deployments[job.index()].runs.counts_mut(run);
        match exit {
            PodExit::Succeeded => {
                status.succeeded += 1;
                status.failures_since_success = 0;
                status.completed_indexes.extend(index);
            }
            PodExit::Failed => {
                status.failed += 1;
                status.failures_since_success += 1;
                status.last_failure = Some(self.now);
                if let Some(at) = job::backoff_until(status) {
                    self.queue.schedule(at, Event::JobWake { job });
                }
            }
        }
        self.dirty.workload(job);
    }

    /// `FinishJob`: the Job's `Complete` or `Failed` condition; its deletion is scheduled
    /// after `ttlSecondsAfterFinished`.
    pub(super) fn finish_job(&mut self, run: Run, outcome: JobOutcome) {
        let d = &mut self.cluster.deployments[run.job.index()];
        d.runs.finish(run.run, self.now, outcome);
        let status = &d.runs[run.run];
        let message = match outcome {
            JobOutcome::Complete => format!("Job completed ({} succeeded)", status.succeeded),
            JobOutcome::BackoffLimitExceeded => {
                format!(
                    "Job has reached the specified backoff limit ({} failed)",
                    status.failed
                )
            }
            JobOutcome::DeadlineExceeded => "Job was active longer than specified deadline".into(),
        };
        let ttl = d
            .spec
            .source
            .job_settings()
            .and_then(|s| s.ttl_after_finished);
        let reason = match outcome {
            JobOutcome::Complete => ClusterEventReason::JobCompleted,
            JobOutcome::BackoffLimitExceeded => ClusterEventReason::BackoffLimitExceeded,
            JobOutcome::DeadlineExceeded => ClusterEventReason::DeadlineExceeded,
        };
        let name = self.job_name(run);
        (self.cluster_events).record(self.now, ObjectKind::Job, &name, reason, message);
        if let Some(ttl) = ttl {
            let event = Event::JobTtl { run };
            self.queue.schedule(self.now + ttl, event);
        }
        self.dirty.workload(run.job);
    }

    /// `ttlSecondsAfterFinished` is over: the TTL controller deletes the Job and its pods.
    pub(super) fn on_job_ttl(&mut self, run: Run) {
        if !self.cluster.deployments[run.job.index()]
            .runs
            .delete(run.run)
        {
            return; // a CronJob deleted it first (its history limit)
        }
        self.collect_job_pods(run);
        let name = self.job_name(run);
        let message = "Deleted by the TTL controller (ttlSecondsAfterFinished)".to_string();
        let reason = ClusterEventReason::JobDeleted;
        (self.cluster_events).record(self.now, ObjectKind::Job, &name, reason, message);
        self.dirty.workload(run.job);
    }

    /// A deleted Job's pods that had ended go with it (the garbage collector); those still
    /// running are deleted by the Job controller's next sync.
    fn collect_job_pods(&mut self, run: Run) {
        let replica_sets = self.cluster.deployment(run.job).replica_sets.clone();
        for rs in replica_sets {
            self.cluster.collect_ended_pods_of_run(rs, run.run);
        }
    }

    /// Each Job's outcome in its workload's report (a CronJob's, one per Job it started).
    pub(super) fn report_jobs(&self, report: &mut Report) {
        for (d, entry) in self.cluster.deployments.iter().zip(&mut report.deployments) {
            let Some(settings) = d.spec.source.job_settings() else {
                continue;
            };
            entry.jobs = (d.runs.iter().zip(0..))
                .map(|(status, run)| {
                    let name = self.job_name(Run { job: d.id, run });
                    JobReport::of(name, settings.completions, status)
                })
                .collect();
        }
    }

    /// Whether a CronJob has a schedule time due that it has not acted on: it is looked at in
    /// every reconcile until it has (so that a reconcile at its time, before its tick, sees it).
    pub(super) fn cron_due(&self, workload: DeploymentId) -> bool {
        let d = self.cluster.deployment(workload);
        let PodSource::CronJob(settings) = d.spec.source else {
            return false;
        };
        let due = crate::controllers::cronjob::due(
            &d.cron.times,
            d.cron.last_schedule,
            settings,
            self.now,
        );
        due.is_some_and(|t| d.cron.skipped != Some(t) && !settings.suspend)
    }
}
