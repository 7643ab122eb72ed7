//! The kubelet's lookup of a starting pod's ConfigMaps and Secrets (the rules are in
//! [`crate::scenario::config_refs`]): a pod whose references do not resolve does not start; it
//! logs the kubelet's event and tries again on the kubelet's backoff — the volume manager's for a
//! volume, the pod worker's for the environment — until a scripted `apply` has created what it
//! needs.

use super::{Engine, Event};
use crate::cluster::PodId;
use crate::controllers::PodEventReason;
use crate::metrics::cluster_events::{ClusterEventReason, ObjectKind};
use crate::scenario::config_refs::{ConfigObject, first_unresolved};
use crate::sim::{SimDuration, SimTime};

/// The pod worker's requeue after a failed sync (the kubelet's `backOffPeriod`).
const POD_WORKER_BACKOFF: SimDuration = SimDuration::from_secs(10);
/// The volume manager's first retry of a failed mount, doubled after each failure
/// (`exponentialbackoff`'s `initialDurationBeforeRetry`)…
const MOUNT_FIRST_RETRY: SimDuration = SimDuration::from_millis(500);
/// …up to `maxDurationBeforeRetry`, 2 m 2 s.
const MOUNT_MAX_RETRY: SimDuration = SimDuration::from_millis(122_000);

/// A pod that could not start yet for want of a ConfigMap or Secret.
#[derive(Clone, Copy, Debug)]
pub(super) struct ConfigWait {
    failures: u32,
    /// When the pending retry is due (an earlier start attempt waits for it).
    next: SimTime,
}

/// How long after its `failures`-th failure (counting from 0) the kubelet tries again.
fn retry_delay(mount: bool, failures: u32) -> SimDuration {
    if !mount {
        return POD_WORKER_BACKOFF;
    }
    let factor = 1u64 << failures.min(20);
    let micros = MOUNT_FIRST_RETRY.as_micros().saturating_mul(factor);
    SimDuration::from_micros(micros).min(MOUNT_MAX_RETRY)
}

impl Engine<'_, '_> {
    /// Whether the pod's ConfigMaps and Secrets resolve, so its container may start now. If they
    /// do not, the kubelet's event is logged and the next attempt scheduled.
    pub(super) fn config_resolved(&mut self, pod: PodId) -> bool {
        let p = self.cluster.pod(pod);
        if p.template.config_refs.is_empty() {
            return true;
        }
        if self
            .config_waits
            .get(&pod)
            .is_some_and(|w| self.now < w.next)
        {
            return false; // its retry is pending
        }
        let refs = &p.template.config_refs;
        let Some(problem) = first_unresolved(refs, &p.template.namespace, &self.configs) else {
            if self.config_waits.remove(&pod).is_some() {
                self.cluster.set_config_error(pod, false);
            }
            return true;
        };
        let failures = self.config_waits.get(&pod).map_or(0, |w| w.failures);
        let next = self.now + retry_delay(problem.mount, failures);
        let wait = ConfigWait {
            failures: failures + 1,
            next,
        };
        self.config_waits.insert(pod, wait);
        self.cluster.set_config_error(pod, !problem.mount);
        let reason = match problem.mount {
            true => PodEventReason::FailedMount,
            false => PodEventReason::Failed,
        };
        self.pod_event(pod, reason, problem.message);
        self.queue.schedule(next, Event::PodStarted { pod });
        false
    }

    /// The pod is gone: it waits for nothing any more.
    pub(super) fn forget_config_wait(&mut self, pod: PodId) {
        self.config_waits.remove(&pod);
    }

    /// A scripted `apply` creates or replaces ConfigMaps and Secrets: pods waiting for them
    /// start at their next retry.
    pub(super) fn apply_configs(&mut self, configs: Vec<ConfigObject>) {
        for object in configs {
            let message = format!(
                "kubectl apply: {} {}/{}",
                object.kind.as_str(),
                object.namespace,
                object.name
            );
            let scenario = &self.scenario.name;
            let (kind, reason) = (ObjectKind::Scenario, ClusterEventReason::Scripted);
            self.cluster_events
                .record(self.now, kind, scenario, reason, message);
            self.configs.put(object);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_kubelets_backoffs() {
        // Environment: the pod worker's flat 10 s. Volumes: 0.5, 1, 2, … 64 s, then 2 m 2 s.
        assert_eq!(retry_delay(false, 7), SimDuration::from_secs(10));
        let mounts: Vec<u64> = (0..10)
            .map(|f| retry_delay(true, f).as_micros() / 1000)
            .collect();
        assert_eq!(
            mounts,
            [
                500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 122_000, 122_000
            ]
        );
        assert_eq!(retry_delay(true, 500), MOUNT_MAX_RETRY);
    }
}
