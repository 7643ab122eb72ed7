//! What one StatefulSet reconcile did or waited for, kept for `kubesim explain --statefulset`:
//! the [`Step`]s, the spec they followed (replicas, pod management policy, partition,
//! `minReadySeconds`), the revisions by name and the state of the pod a wait was for. Kept by
//! the engine as they happen (the first [`MAX_STATEFUL_RECORDS`]); a wait repeated at later
//! reconciles with nothing else changed is kept once.

use std::collections::BTreeMap;

use super::Step;
use crate::cluster::{Cluster, DeploymentId, Pod, PodPhase};
use crate::controllers::rollout::Strategy;
use crate::sim::{SimDuration, SimTime};

/// Records kept per run; later ones are dropped.
pub const MAX_STATEFUL_RECORDS: usize = 100_000;

/// One StatefulSet reconcile that did something or waited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatefulRecord {
    pub at: SimTime,
    /// The StatefulSet.
    pub name: String,
    /// `spec.replicas`.
    pub replicas: u32,
    /// `podManagementPolicy: Parallel` (else OrderedReady).
    pub parallel: bool,
    /// `updateStrategy`: RollingUpdate (else OnDelete).
    pub rolling: bool,
    /// `updateStrategy.rollingUpdate.partition`.
    pub partition: u32,
    pub min_ready: SimDuration,
    /// The update revision's name (made from the current template); empty before it exists.
    pub update_revision: String,
    /// The current revision's name: the newest other revision with pods (else the update one).
    pub current_revision: String,
    pub steps: Vec<Step>,
    /// The state of the pod the first [`Step::WaitAvailable`] waits for.
    pub waiting_for: Option<PodState>,
    /// The node of the pod a wait is for, when its machine is down: a pod there is not Ready,
    /// and nobody there confirms a deletion, so a terminating pod stays until the node returns
    /// (upstream: until someone force-deletes it).
    pub node_down: Option<String>,
}

/// Why a pod is not available, as `kubectl get pods` would show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodState {
    /// No node has taken it.
    Unscheduled,
    /// Bound; its container is starting.
    ContainerCreating,
    /// Its container cannot be created (a ConfigMap or Secret is missing).
    ConfigError,
    /// Its container was killed and waits out the restart backoff.
    CrashLoopBackOff,
    /// Running, its readiness probe not passing.
    NotReady,
    /// Ready since then, not yet for `minReadySeconds`.
    ReadySince(SimTime),
}

impl PodState {
    fn of(pod: &Pod) -> PodState {
        match pod.phase {
            _ if pod.ready => PodState::ReadySince(pod.ready_transition),
            _ if pod.config_error => PodState::ConfigError,
            _ if pod.backoff => PodState::CrashLoopBackOff,
            PodPhase::Pending if pod.node.is_none() => PodState::Unscheduled,
            PodPhase::Pending => PodState::ContainerCreating,
            PodPhase::Running | PodPhase::Terminated => PodState::NotReady,
        }
    }
}

/// The record of one reconcile of StatefulSet `id` that took `steps` (not empty).
pub fn record(
    cluster: &Cluster,
    id: DeploymentId,
    now: SimTime,
    steps: Vec<Step>,
) -> StatefulRecord {
    let d = cluster.deployment(id);
    let revision_name =
        |rs: crate::cluster::ReplicaSetId| cluster.replica_sets[rs.index()].name.clone();
    let update = (d.replica_sets.iter().copied())
        .find(|rs| cluster.replica_sets[rs.index()].has_template_of(d));
    let current = match update {
        Some(u) => Some(super::current_revision(d, u)),
        None => (d.current_revision).filter(|rs| d.replica_sets.contains(rs)),
    };
    let waiting_for = steps.iter().find_map(|s| match s {
        Step::WaitAvailable { pod, .. } => Some(PodState::of(cluster.pod(*pod))),
        _ => None,
    });
    let waited_node = steps.iter().find_map(|s| match s {
        Step::WaitTerminating { pod, .. } | Step::WaitAvailable { pod, .. } => {
            cluster.pod(*pod).node
        }
        _ => None,
    });
    let node_down =
        (waited_node.filter(|&n| cluster.is_down(n))).map(|n| cluster.node(n).name.clone());
    StatefulRecord {
        at: now,
        name: d.spec.name.clone(),
        replicas: d.replicas.max(0) as u32,
        parallel: d.spec.stateful.parallel,
        rolling: matches!(d.spec.strategy, Strategy::RollingUpdate { .. }),
        partition: d.spec.stateful.partition.max(0) as u32,
        min_ready: d.spec.rollout.min_ready,
        update_revision: update.map(revision_name).unwrap_or_default(),
        current_revision: current.map(revision_name).unwrap_or_default(),
        steps,
        waiting_for,
        node_down,
    }
}

/// A run's StatefulSet records, in the order they happened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatefulRecords {
    pub records: Vec<StatefulRecord>,
    /// Each StatefulSet's last record (by workload index).
    last: BTreeMap<u32, usize>,
}

impl StatefulRecords {
    /// Whether the first [`MAX_STATEFUL_RECORDS`] were kept and later ones dropped.
    pub fn truncated(&self) -> bool {
        self.records.len() >= MAX_STATEFUL_RECORDS
    }

    /// Keeps `record` of StatefulSet `id`, unless it repeats that StatefulSet's last record
    /// (the same steps from the same spec and revisions; the waited pod may have moved on
    /// from one not-available state to another).
    pub fn push(&mut self, id: DeploymentId, record: StatefulRecord) {
        if let Some(&i) = self.last.get(&id.0) {
            let last = &self.records[i];
            let same = StatefulRecord {
                at: last.at,
                waiting_for: last.waiting_for,
                ..record.clone()
            };
            if *last == same {
                return;
            }
        }
        if self.records.len() < MAX_STATEFUL_RECORDS {
            self.last.insert(id.0, self.records.len());
            self.records.push(record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::statefulset::Next;

    fn record(at: u64, steps: Vec<Step>, waiting_for: Option<PodState>) -> StatefulRecord {
        StatefulRecord {
            at: SimTime::from_secs(at),
            name: "db".into(),
            replicas: 3,
            parallel: false,
            rolling: true,
            partition: 0,
            min_ready: SimDuration::ZERO,
            update_revision: "db-1".into(),
            current_revision: "db-1".into(),
            steps,
            waiting_for,
            node_down: None,
        }
    }

    #[test]
    fn a_repeated_wait_is_kept_once() {
        let wait = vec![Step::WaitAvailable {
            ordinal: 0,
            pod: crate::cluster::PodId(0),
            next: Next::Create(1),
        }];
        let create = vec![Step::Create {
            update: vec![1],
            current: vec![],
        }];
        let mut records = StatefulRecords::default();
        let db = DeploymentId(0);
        records.push(db, record(0, wait.clone(), Some(PodState::Unscheduled)));
        // The pod moved on but is still not available: the same wait.
        records.push(
            db,
            record(1, wait.clone(), Some(PodState::ContainerCreating)),
        );
        // Another StatefulSet's identical wait is its own.
        records.push(
            DeploymentId(1),
            record(1, wait.clone(), Some(PodState::NotReady)),
        );
        records.push(db, record(10, create, None));
        // The same wait after something else happened is told again.
        records.push(db, record(11, wait, Some(PodState::Unscheduled)));
        let kept: Vec<(u64, Option<PodState>)> = (records.records.iter())
            .map(|r| (r.at.as_micros() / 1_000_000, r.waiting_for))
            .collect();
        let expected = vec![
            (0, Some(PodState::Unscheduled)),
            (1, Some(PodState::NotReady)),
            (10, None),
            (11, Some(PodState::Unscheduled)),
        ];
        assert_eq!(kept, expected);
    }
}
