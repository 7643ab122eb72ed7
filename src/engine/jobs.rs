//! Jobs in the engine: the pods the Job controller asks for, the end of each pod's run
//! (success or failure drawn from the Job's own random stream, `job-run/<job>`), pods lost
//! before their run ended (counted as failed, as the Job controller counts a pod that
//! terminated without succeeding), the wake-ups for the pod failure backoff and the active
//! deadline, and the Job's deletion after `ttlSecondsAfterFinished`.
//!
//! A Job's pod takes its node's resources from binding until its run ends, and then frees them
//! (phase `Succeeded` or `Failed`); while it runs it does not compete for the node's CPU with
//! serving pods (its CPU use is not modelled beyond its requests).

use std::sync::Arc;

use rand::RngExt;

use super::{Engine, Event};
use crate::cluster::{DeploymentId, JobOutcome, PodExit, PodId};
use crate::controllers::PodEventReason;
use crate::controllers::job;
use crate::metrics::cluster_events::{ClusterEventReason, ObjectKind};
use crate::metrics::recorder::Observation;
use crate::scenario::PodSource;

impl Engine<'_> {
    /// At t = 0 every Job starts (`status.startTime`); one with a deadline is woken then.
    pub(super) fn start_jobs(&mut self) {
        for d in 0..self.cluster.deployments.len() {
            let id = DeploymentId(d as u32);
            let PodSource::Job(settings) = self.cluster.deployment(id).spec.source else {
                continue;
            };
            self.cluster.deployments[d].job.started = Some(self.now);
            if let Some(deadline) = settings.active_deadline {
                let at = self.now + deadline;
                self.queue.schedule(at, Event::JobWake { job: id });
            }
        }
    }

    /// `CreateJobPod`: `<job>-<suffix>`, or `<job>-<index>-<suffix>` for an Indexed Job.
    pub(super) fn create_job_pod(&mut self, job: DeploymentId, index: Option<u32>) {
        let rs = self.cluster.deployment(job).replica_sets[0];
        let name = &self.cluster.deployment(job).spec.name;
        let suffix = crate::cluster::pod_suffix(self.cluster.pods.len() as u32);
        let name = match index {
            Some(i) => format!("{name}-{i}-{suffix}"),
            None => format!("{name}-{suffix}"),
        };
        let template = Arc::clone(&self.cluster.replica_sets[rs.index()].template);
        let pod = self.cluster.create_pod_with(rs, name, template, self.now);
        self.cluster.pods[pod.index()].ordinal = index;
        let message = format!("Created by Job {}", self.cluster.deployment(job).spec.name);
        self.pod_event(pod, PodEventReason::Created, message);
        self.recorder
            .observe(self.now, Observation::PodCreated { deployment: job });
        self.count_trace_pods(job, 1);
        self.dirty.workload(job);
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
        let job = p.deployment;
        let d = self.cluster.deployment(job);
        let is_job = matches!(d.spec.source, PodSource::Job(_));
        if !is_job || p.exit.is_some() || d.job.finished.is_some() {
            return;
        }
        self.count_job_end(pod, PodExit::Failed);
        self.cluster.pods[pod.index()].exit = Some(PodExit::Failed);
        self.count_trace_pods(job, -1);
    }

    /// Counts a pod's end in its Job's status; a failure starts the pod failure backoff.
    fn count_job_end(&mut self, pod: PodId, exit: PodExit) {
        let job = self.cluster.pod(pod).deployment;
        let index = self.cluster.pod(pod).ordinal;
        let status = &mut self.cluster.deployments[job.index()].job;
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
    pub(super) fn finish_job(&mut self, job: DeploymentId, outcome: JobOutcome) {
        self.cluster.deployments[job.index()].job.finished = Some((self.now, outcome));
        let d = self.cluster.deployment(job);
        let status = &d.job;
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
        let reason = match outcome {
            JobOutcome::Complete => ClusterEventReason::JobCompleted,
            JobOutcome::BackoffLimitExceeded => ClusterEventReason::BackoffLimitExceeded,
            JobOutcome::DeadlineExceeded => ClusterEventReason::DeadlineExceeded,
        };
        let name = d.spec.name.clone();
        self.cluster_events
            .record(self.now, ObjectKind::Job, &name, reason, message);
        if let PodSource::Job(settings) = d.spec.source
            && let Some(ttl) = settings.ttl_after_finished
        {
            self.queue.schedule(self.now + ttl, Event::JobTtl { job });
        }
        self.dirty.workload(job);
    }

    /// `ttlSecondsAfterFinished` is over: the TTL controller deletes the Job and its pods.
    pub(super) fn on_job_ttl(&mut self, job: DeploymentId) {
        self.cluster.deployments[job.index()].job.deleted = true;
        let name = self.cluster.deployment(job).spec.name.clone();
        let message = "Deleted by the TTL controller (ttlSecondsAfterFinished)".to_string();
        self.cluster_events.record(
            self.now,
            ObjectKind::Job,
            &name,
            ClusterEventReason::JobDeleted,
            message,
        );
        self.dirty.workload(job);
    }

    /// Each Job's outcome in its workload's report.
    pub(super) fn report_jobs(&self, report: &mut crate::metrics::report::Report) {
        for (d, entry) in self.cluster.deployments.iter().zip(&mut report.deployments) {
            if let PodSource::Job(settings) = d.spec.source {
                let job = crate::metrics::report::JobReport::of(settings.completions, &d.job);
                entry.job = Some(job);
            }
        }
    }
}
