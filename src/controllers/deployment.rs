//! Deployment controller (B.4–B.7): keeps a Deployment's ReplicaSets in step with its spec.
//!
//! Each reconcile finds the *new* ReplicaSet (the one made from the current `spec.template`)
//! and the old ones, then does one step of upstream's `syncDeployment`:
//! - a *scaling event* (an active ReplicaSet's `desired-replicas` annotation differs from
//!   `spec.replicas`, e.g. the HPA scaled mid-rollout) or a paused Deployment: proportional
//!   scaling ([`rollout::proportional_sizes`]);
//! - RollingUpdate: grow the new ReplicaSet up to `replicas + maxSurge` pods in total, shrink the
//!   old ones while availability stays at `replicas − maxUnavailable`;
//! - Recreate: scale the old ReplicaSets to 0, wait until their pods are gone, then scale the new
//!   one up;
//! - once complete, delete old ReplicaSets beyond `revisionHistoryLimit`.
//!
//! [`track_progress`] keeps the Progressing condition (`progressDeadlineSeconds`) from the
//! status counts [`status`] computes.

use crate::cluster::{Cluster, Deployment, DeploymentId, Pod, ReplicaSet, RolloutState};
use crate::sim::{SimDuration, SimTime};

use super::Intent;
use super::rollout::{self, ReplicaSetView, RolloutStatus, ScaleView, Strategy};

pub mod record;

/// Which step of `syncDeployment` a reconcile took: what `kubesim explain --deployment` tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A rollback revived an old ReplicaSet: it takes the next revision number.
    Revision,
    /// Proportional scaling: the replicas changed mid-rollout (a scaling event), or the
    /// Deployment is paused.
    Proportional,
    /// Proportional scaling found the new ReplicaSet saturated (all its replicas available):
    /// the old ones go to 0.
    Saturated,
    /// No ReplicaSet has the Deployment's template: one is created.
    CreateNew,
    /// RollingUpdate: the new ReplicaSet grows, within `replicas + maxSurge` pods.
    ScaleUpNew,
    /// RollingUpdate: old ReplicaSets shrink, keeping `replicas − maxUnavailable` available.
    ScaleDownOld,
    /// Recreate: the old ReplicaSets go to 0 at once.
    RecreateScaleDown,
    /// Recreate: the old pods are all gone; the new ReplicaSet goes to `replicas`.
    RecreateScaleUp,
    /// Nothing to scale (or, Recreate, old pods still terminating): only the revision history
    /// may be cleaned up once the rollout is complete.
    Settled,
}

/// One reconcile of a Deployment: what it asks for, and the step it took.
pub fn reconcile_step(
    cluster: &Cluster,
    deployment: DeploymentId,
    now: SimTime,
) -> (Vec<Intent>, Step) {
    let d = cluster.deployment(deployment);
    if !d.is_replicated() {
        return (Vec::new(), Step::Settled);
    }
    let sets = Sets::of(cluster, d);
    if let Some(new) = sets.new {
        // getAllReplicaSetsAndSyncRevision: the new ReplicaSet has the highest revision (a
        // rollback revives an old one under a new number).
        let max_old = sets.old.iter().map(|rs| rs.revision).max().unwrap_or(0);
        if new.revision <= max_old {
            let intent = Intent::SetRevision {
                replica_set: new.id,
                revision: max_old + 1,
            };
            return (vec![intent], Step::Revision);
        }
    }
    if d.paused || sets.is_scaling_event(d.replicas) {
        return proportional_scale(cluster, d, &sets, now);
    }
    match d.spec.strategy {
        Strategy::RollingUpdate { .. } => rolling_update(cluster, d, &sets, now),
        // Deployments have no OnDelete (the manifest reader only makes it for DaemonSets and
        // StatefulSets); treat it like Recreate's wait-for-deletions if it ever comes.
        Strategy::Recreate | Strategy::OnDelete => recreate(cluster, d, &sets, now),
    }
}

/// A Deployment's ReplicaSets: the one matching its template, and the others oldest first.
struct Sets<'c> {
    new: Option<&'c ReplicaSet>,
    old: Vec<&'c ReplicaSet>,
}

impl<'c> Sets<'c> {
    fn of(cluster: &'c Cluster, d: &Deployment) -> Sets<'c> {
        let mut new = None;
        let mut old = Vec::new();
        for rs in d
            .replica_sets
            .iter()
            .map(|r| &cluster.replica_sets[r.index()])
        {
            if new.is_none() && rs.has_template_of(d) {
                new = Some(rs);
            } else {
                old.push(rs);
            }
        }
        old.sort_by_key(|rs| (rs.created, rs.id));
        Sets { new, old }
    }

    fn all(&self) -> impl Iterator<Item = &'c ReplicaSet> + '_ {
        self.old.iter().copied().chain(self.new)
    }

    /// `isScalingEvent`: an active ReplicaSet was last scaled for other replicas.
    fn is_scaling_event(&self, replicas: i32) -> bool {
        self.all()
            .any(|rs| rs.is_active() && rs.desired_annotation != replicas)
    }
}

fn scale(rs: &ReplicaSet, replicas: i32) -> Intent {
    Intent::SetReplicaSetReplicas {
        replica_set: rs.id,
        replicas,
    }
}

/// `sync.go: scale()`.
fn proportional_scale(
    cluster: &Cluster,
    d: &Deployment,
    sets: &Sets,
    now: SimTime,
) -> (Vec<Intent>, Step) {
    let replicas = d.replicas;
    if let Some(rs) = active_or_latest(sets) {
        // Also when only the annotations are stale, so that the scaling event is over.
        let stale = rs.replicas != replicas || rs.desired_annotation != replicas;
        let intents = if stale {
            vec![scale(rs, replicas)]
        } else {
            Vec::new()
        };
        return (intents, Step::Proportional);
    }
    if let Some(new) = sets.new
        && new.replicas == replicas
        && new.desired_annotation == replicas
        && available(cluster, new, d, now) == replicas
    {
        // IsSaturated: the old ReplicaSets' pods are no longer needed.
        let intents = (sets.old.iter())
            .filter(|rs| rs.is_active())
            .map(|rs| scale(rs, 0))
            .collect();
        return (intents, Step::Saturated);
    }
    if d.spec.strategy == Strategy::Recreate {
        return (Vec::new(), Step::Proportional);
    }
    let active: Vec<&ReplicaSet> = sets.all().filter(|rs| rs.is_active()).collect();
    let views: Vec<ScaleView> = active
        .iter()
        .map(|rs| ScaleView {
            spec: rs.replicas,
            max_annotation: rs.max_annotation,
            age_rank: rs.id.0,
        })
        .collect();
    let status_replicas = active.iter().map(|rs| rs.pods.len() as i32).sum();
    let sizes = rollout::proportional_sizes(d.spec.strategy, replicas, status_replicas, &views);
    // Every active ReplicaSet is updated: its annotations record this scaling.
    let intents = (active.iter().zip(sizes))
        .map(|(rs, size)| scale(rs, size))
        .collect();
    (intents, Step::Proportional)
}

/// `FindActiveOrLatest`: the only active ReplicaSet; with none, the new one (or the newest
/// old one); with several, none.
fn active_or_latest<'c>(sets: &Sets<'c>) -> Option<&'c ReplicaSet> {
    let mut active = sets.all().filter(|rs| rs.is_active());
    match (active.next(), active.next()) {
        (Some(only), None) => Some(only),
        (None, _) => sets.new.or_else(|| sets.old.last().copied()),
        _ => None,
    }
}

/// `rolloutRolling`: one step.
fn rolling_update(
    cluster: &Cluster,
    d: &Deployment,
    sets: &Sets,
    now: SimTime,
) -> (Vec<Intent>, Step) {
    let Some(new) = sets.new else {
        let intent = Intent::CreateReplicaSet { deployment: d.id };
        return (vec![intent], Step::CreateNew);
    };
    let (replicas, strategy) = (d.replicas, d.spec.strategy);
    let view = |rs: &ReplicaSet| ReplicaSetView {
        spec: rs.replicas,
        available: available(cluster, rs, d, now),
    };
    let new_view = view(new);
    // reconcileNewReplicaSet
    let all: Vec<ReplicaSetView> = sets.all().map(view).collect();
    let target = if new.replicas > replicas {
        replicas
    } else {
        rollout::new_rs_new_replicas(strategy, replicas, &all, new_view)
    };
    if target != new.replicas {
        return (vec![scale(new, target)], Step::ScaleUpNew);
    }
    // reconcileOldReplicaSets (the active ones, oldest first)
    let old: Vec<&ReplicaSet> = sets
        .old
        .iter()
        .copied()
        .filter(|rs| rs.is_active())
        .collect();
    let old_views: Vec<ReplicaSetView> = old.iter().map(|rs| view(rs)).collect();
    if let Some(sizes) = rollout::scale_down_old(strategy, replicas, &old_views, new_view) {
        let intents = (old.iter().zip(sizes))
            .filter(|(rs, size)| rs.replicas != *size)
            .map(|(rs, size)| scale(rs, size))
            .collect();
        return (intents, Step::ScaleDownOld);
    }
    (cleanup_if_complete(cluster, d, sets, now), Step::Settled)
}

/// `rolloutRecreate`: one step.
fn recreate(cluster: &Cluster, d: &Deployment, sets: &Sets, now: SimTime) -> (Vec<Intent>, Step) {
    let scale_down: Vec<Intent> = sets
        .old
        .iter()
        .filter(|rs| rs.is_active())
        .map(|rs| scale(rs, 0))
        .collect();
    if !scale_down.is_empty() {
        return (scale_down, Step::RecreateScaleDown);
    }
    // oldPodsRunning: terminating pods still run.
    if sets
        .old
        .iter()
        .any(|rs| cluster.pods_of(rs.id).next().is_some())
    {
        return (Vec::new(), Step::Settled);
    }
    let Some(new) = sets.new else {
        let intent = Intent::CreateReplicaSet { deployment: d.id };
        return (vec![intent], Step::CreateNew);
    };
    if new.replicas != d.replicas {
        return (vec![scale(new, d.replicas)], Step::RecreateScaleUp);
    }
    (cleanup_if_complete(cluster, d, sets, now), Step::Settled)
}

/// `cleanupDeployment` once the rollout is complete: old ReplicaSets beyond
/// `revisionHistoryLimit`, lowest revision first, if they have no replicas and no pods left
/// (upstream checks only the non-terminating ones; kubesim waits for the terminating ones too).
fn cleanup_if_complete(
    cluster: &Cluster,
    d: &Deployment,
    sets: &Sets,
    now: SimTime,
) -> Vec<Intent> {
    if !rollout::complete(d.replicas, status(cluster, d.id, now)) {
        return Vec::new();
    }
    let history: Vec<rollout::HistoryView> = sets
        .old
        .iter()
        .map(|rs| rollout::HistoryView {
            revision: rs.revision,
            spec: rs.replicas,
            pods: cluster.pods_of(rs.id).count() as i32,
            // kubesim deletes a ReplicaSet at once and its controller sees every change.
            deleting: false,
            unobserved: false,
        })
        .collect();
    rollout::history_to_delete(&history, d.spec.rollout.revision_history_limit)
        .into_iter()
        .map(|i| Intent::DeleteReplicaSet {
            replica_set: sets.old[i].id,
        })
        .collect()
}

/// `IsPodAvailable`: Ready, for longer than `minReadySeconds` (strictly).
pub fn is_available(pod: &Pod, min_ready: SimDuration, now: SimTime) -> bool {
    pod.ready && (min_ready.is_zero() || pod.ready_transition + min_ready < now)
}

/// A ReplicaSet's `status.availableReplicas`: its active pods that are available. Without
/// `minReadySeconds` that is its Ready count; with it, each Ready pod's transition is read.
fn available(cluster: &Cluster, rs: &ReplicaSet, d: &Deployment, now: SimTime) -> i32 {
    let min_ready = d.spec.rollout.min_ready;
    debug_assert_eq!(rs.ready_pods, count_pods(cluster, rs, |p| p.ready));
    if min_ready.is_zero() {
        return rs.ready_pods;
    }
    count_pods(cluster, rs, |p| is_available(p, min_ready, now))
}

/// The ReplicaSet's active pods for which `holds` is true.
fn count_pods(cluster: &Cluster, rs: &ReplicaSet, holds: impl Fn(&Pod) -> bool) -> i32 {
    rs.pods.iter().filter(|&&p| holds(cluster.pod(p))).count() as i32
}

/// The Deployment's status counts: active pods (`replicas`), those of the new ReplicaSet
/// (`updated`), Ready and available ones — from its ReplicaSets' counts, reading no pod unless
/// `minReadySeconds` makes availability a matter of time.
pub fn status(cluster: &Cluster, deployment: DeploymentId, now: SimTime) -> RolloutStatus {
    let d = cluster.deployment(deployment);
    let mut s = RolloutStatus::default();
    for rs in d
        .replica_sets
        .iter()
        .map(|r| &cluster.replica_sets[r.index()])
    {
        let pods = rs.pods.len() as i32;
        s.replicas += pods;
        if rs.has_template_of(d) {
            s.updated += pods;
        }
        s.ready += rs.ready_pods;
        s.available += available(cluster, rs, d, now);
    }
    s
}

/// What [`track_progress`] noticed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressEvent {
    /// The rollout under way finished (`NewReplicaSetAvailable`).
    Completed { started: SimTime },
    /// No progress for `progressDeadlineSeconds` (`ProgressDeadlineExceeded`; the rollout goes
    /// on).
    DeadlineExceeded,
}

/// `syncRolloutStatus`: the Progressing condition after a reconcile with status `now_status`.
/// Returns the new state and what changed. `started` marks a template change being rolled out.
pub fn track_progress(
    state: RolloutState,
    d: &Deployment,
    now_status: RolloutStatus,
    now: SimTime,
) -> (RolloutState, Option<ProgressEvent>) {
    let mut next = RolloutState {
        status: now_status,
        ..state
    };
    if d.paused {
        // Unknown/DeploymentPaused: the deadline does not run while paused.
        next.last_progress = now;
        return (next, None);
    }
    if rollout::complete(d.replicas, now_status) {
        next.progressing = false;
        next.timed_out = false;
        let event = state
            .started
            .map(|started| ProgressEvent::Completed { started });
        next.started = None;
        return (next, event);
    }
    if rollout::progressing(state.status, now_status) {
        next.progressing = true;
        next.last_progress = now;
        next.timed_out = false;
    }
    let deadline = d.spec.rollout.progress_deadline;
    let over = deadline.is_some_and(|dl| now > next.last_progress + dl);
    if next.progressing && over && !next.timed_out {
        next.timed_out = true;
        return (next, Some(ProgressEvent::DeadlineExceeded));
    }
    (next, None)
}

/// A Deployment `web` (RollingUpdate, surge 1) with `replicas` and a progress deadline of
/// `deadline` seconds, for controller tests.
#[cfg(test)]
pub(crate) fn test_deployment(replicas: i32, deadline: u64) -> Deployment {
    let mut spec = crate::scenario::DeploymentSpec {
        name: "web".into(),
        namespace: "default".into(),
        replicas,
        selector: Default::default(),
        template_labels: Default::default(),
        pod: Default::default(),
        strategy: Strategy::RollingUpdate {
            max_surge: crate::controllers::rollout::IntOrPercent::Int(1),
            max_unavailable: crate::controllers::rollout::IntOrPercent::Int(0),
        },
        rollout: Default::default(),
        stateful: Default::default(),
        workload: Default::default(),
        source: Default::default(),
    };
    spec.rollout.progress_deadline = Some(SimDuration::from_secs(deadline));
    Deployment {
        id: DeploymentId(0),
        spec,
        template_key: "t".into(),
        replicas,
        replica_sets: Vec::new(),
        services: Vec::new(),
        service_selectors: Vec::new(),
        paused: false,
        rollout: RolloutState::default(),
        runs: crate::cluster::JobRuns::default(),
        cron: Default::default(),
        current_revision: None,
    }
}

#[cfg(test)]
mod tests {
    use super::test_deployment as deployment;
    use super::*;

    /// A ReplicaSet's Ready count follows its pods as they turn Ready and unready, terminate
    /// (still counted among its pods, but no longer Ready) and are deleted (no longer its pods).
    #[test]
    fn ready_counts_follow_the_pods_without_reading_them() {
        let mut c = crate::controllers::scheduler::test_cluster(&[("n0", &[])]);
        let mut d = deployment(3, 600);
        d.replica_sets = vec![crate::cluster::ReplicaSetId(0)];
        c.deployments.push(d);
        let bind = |c: &mut Cluster| {
            crate::controllers::scheduler::bind_test_pod(c, "n0", Default::default())
        };
        let pods: Vec<_> = (0..4).map(|_| bind(&mut c)).collect();
        let now = SimTime::from_secs(5);
        let ready_by_pod = |c: &Cluster| count_pods(c, &c.replica_sets[0], |p| p.ready);
        let mut expected = Vec::new();
        let mut step = |c: &mut Cluster, change: &dyn Fn(&mut Cluster)| {
            change(c);
            let s = status(c, DeploymentId(0), now);
            assert_eq!(s.ready, ready_by_pod(c));
            assert_eq!(s.available, s.ready, "no minReadySeconds");
            expected.push((s.replicas, s.ready));
        };
        for &p in &pods {
            step(&mut c, &|c| c.set_ready(p, true, now));
        }
        step(&mut c, &|c| c.set_ready(pods[0], false, now));
        step(&mut c, &|c| c.set_ready(pods[0], false, now)); // no change
        step(&mut c, &|c| c.terminate(pods[1])); // Ready, not deleted
        step(&mut c, &|c| c.mark_deleted(pods[2], now)); // Ready, deleted
        step(&mut c, &|c| c.set_ready(pods[2], true, now)); // deleted: not its pod
        step(&mut c, &|c| c.set_ready(pods[0], true, now));
        // (replicas, Ready): four pods turn Ready; pod 0 unready (twice); pod 1 terminates
        // (still an active pod, not Ready); pod 2 deleted (gone from the set); pod 0 Ready.
        let want = [
            (4, 1),
            (4, 2),
            (4, 3),
            (4, 4),
            (4, 3),
            (4, 3),
            (4, 2),
            (3, 1),
            (3, 1),
        ];
        assert_eq!(expected[..9], want);
        assert_eq!(expected[9], (3, 2));
    }

    fn st(replicas: i32, updated: i32, available: i32) -> RolloutStatus {
        RolloutStatus {
            replicas,
            updated,
            ready: available,
            available,
        }
    }

    #[test]
    fn progress_deadline_after_no_progress() {
        // TestSyncRolloutStatus-style: 600 s deadline, progress at t = 10 s.
        let d = deployment(3, 600);
        let t = SimTime::from_secs;
        let start = RolloutState {
            status: st(3, 0, 3),
            started: Some(t(10)),
            ..RolloutState::default()
        };
        // One new pod created: updated 0 → 1 is progress.
        let (s1, e1) = track_progress(start, &d, st(4, 1, 3), t(10));
        assert!(s1.progressing && s1.last_progress == t(10) && e1.is_none());
        // Stuck (the pod is Pending): at 610 s, not yet (strictly after the deadline).
        let (s2, e2) = track_progress(s1, &d, st(4, 1, 3), t(610));
        assert!(e2.is_none() && !s2.timed_out);
        let (s3, e3) = track_progress(s2, &d, st(4, 1, 3), t(611));
        assert_eq!(e3, Some(ProgressEvent::DeadlineExceeded));
        // Reported once.
        let (s4, e4) = track_progress(s3, &d, st(4, 1, 3), t(700));
        assert!(e4.is_none() && s4.timed_out);
        // It goes on and completes: the rollout took 990 s.
        let (s5, e5) = track_progress(s4, &d, st(3, 3, 3), t(1000));
        assert_eq!(e5, Some(ProgressEvent::Completed { started: t(10) }));
        assert!(!s5.timed_out && s5.started.is_none());
    }

    #[test]
    fn available_needs_min_ready_seconds_strictly() {
        // minReadySeconds 10, Ready at 100 s: available only after 110 s.
        let mut pod = Pod {
            ready: true,
            ready_transition: SimTime::from_secs(100),
            ..Pod::default()
        };
        let ten = SimDuration::from_secs(10);
        assert!(!is_available(&pod, ten, SimTime::from_secs(110)));
        assert!(is_available(&pod, ten, SimTime::from_micros(110_000_001)));
        assert!(is_available(
            &pod,
            SimDuration::ZERO,
            SimTime::from_secs(100)
        ));
        pod.ready = false;
        assert!(!is_available(
            &pod,
            SimDuration::ZERO,
            SimTime::from_secs(200)
        ));
    }
}
