//! Deployment rollouts as the engine tracks them: a new ReplicaSet starts one, its progress is
//! followed (completed, or the progress deadline exceeded), and the rollout records are kept for
//! `kubesim explain --deployment`.

use crate::cluster::DeploymentId;
use crate::controllers::deployment;
use crate::metrics::Observation;
use crate::metrics::cluster_events::ClusterEventReason;
use crate::sim::SimDuration;

use super::{Engine, Event};

impl Engine<'_, '_> {
    /// A ReplicaSet became the new one (created, or revived by a rollback): a rollout starts.
    pub(super) fn start_rollout(&mut self, deployment: DeploymentId, revision: u64) {
        self.dirty.workload(deployment);
        if revision <= 1 {
            return; // the Deployment's first ReplicaSet: nothing to roll from
        }
        let state = &mut self.cluster.deployments[deployment.index()].rollout;
        state.started = Some(self.now);
        state.revision = revision;
        state.progressing = true;
        state.timed_out = false;
        state.last_progress = self.now;
        self.recorder.observe(
            self.now,
            Observation::RolloutStarted {
                deployment,
                revision,
            },
        );
        let message = format!("rolling out revision {revision}");
        self.deployment_event(deployment, ClusterEventReason::RolloutStarted, message);
        self.arm_progress_deadline(deployment);
    }

    /// Updates the rollout conditions of the Deployments a reconcile looked at.
    pub(super) fn track_rollouts(&mut self, touched: &[DeploymentId]) {
        for d in 0..self.cluster.deployments.len() {
            let id = DeploymentId(d as u32);
            let workload = &self.cluster.deployments[d];
            if !workload.rolls_out() {
                continue;
            }
            if touched.binary_search(&id).is_ok() {
                self.track_rollout(id);
            } else {
                #[cfg(debug_assertions)]
                self.check_rollout_settled(id);
            }
        }
    }

    /// Debug builds: the conditions of a Deployment no reconcile touched would not change.
    #[cfg(debug_assertions)]
    fn check_rollout_settled(&self, deployment: DeploymentId) {
        let status = deployment::status(&self.cluster, deployment, self.now);
        let d = self.cluster.deployment(deployment);
        let (after, event) = deployment::track_progress(d.rollout, d, status, self.now);
        let min_available = d.spec.strategy.min_available(d.replicas);
        assert!(
            after == d.rollout && event.is_none() && min_available == d.rollout.min_available,
            "{}: rollout conditions changed at {} without a reconcile: {:?} → {after:?}",
            d.spec.name,
            self.now,
            d.rollout
        );
    }

    /// Updates a Deployment's Progressing and Available conditions after a reconcile.
    pub(super) fn track_rollout(&mut self, deployment: DeploymentId) {
        let status = deployment::status(&self.cluster, deployment, self.now);
        let d = self.cluster.deployment(deployment);
        let before = d.rollout;
        let min_available = d.spec.strategy.min_available(d.replicas);
        let (after, event) = deployment::track_progress(before, d, status, self.now);
        self.cluster
            .journal
            .workload(deployment, d.replicas, status);
        self.cluster.deployments[deployment.index()].rollout = after;
        let available = status.available >= min_available;
        if available != (before.status.available >= before.min_available) || !before.tracked {
            self.recorder.observe(
                self.now,
                Observation::AvailableChanged {
                    deployment,
                    available,
                },
            );
        }
        let state = &mut self.cluster.deployments[deployment.index()].rollout;
        state.min_available = min_available;
        state.tracked = true;
        match event {
            Some(deployment::ProgressEvent::Completed { started }) => {
                let revision = after.revision;
                let took = self.now.saturating_since(started);
                self.recorder.observe(
                    self.now,
                    Observation::RolloutCompleted {
                        deployment,
                        revision,
                        took,
                    },
                );
                let message = format!("revision {revision} rolled out in {took}");
                self.deployment_event(deployment, ClusterEventReason::RolloutCompleted, message);
            }
            Some(deployment::ProgressEvent::DeadlineExceeded) => {
                self.recorder.observe(
                    self.now,
                    Observation::ProgressDeadlineExceeded { deployment },
                );
                let reason = ClusterEventReason::ProgressDeadlineExceeded;
                let message = "the rollout made no progress within progressDeadlineSeconds";
                self.deployment_event(deployment, reason, message.into());
            }
            None => {}
        }
        if after.last_progress != before.last_progress && after.progressing {
            self.arm_progress_deadline(deployment);
        }
    }

    /// Checks the deadline again just after it would pass.
    fn arm_progress_deadline(&mut self, deployment: DeploymentId) {
        let d = self.cluster.deployment(deployment);
        if let Some(deadline) = d.spec.rollout.progress_deadline {
            let at = d.rollout.last_progress + deadline + SimDuration::from_micros(1);
            self.queue
                .schedule(at, Event::ProgressDeadline { deployment });
        }
    }
}
