//! The VPA's updater (`updater/logic`, `updater/priority`, `updater/restriction`): which pods
//! of a VPA in `Recreate` (or `Auto`) mode to evict, so that the admission controller recreates
//! them with the recommendation, and how many at a time.
//!
//! - **Priority** (`GetUpdatePriority`): pod totals of requests against the targets. A pod is
//!   outside the recommended range when a container's request is below its lower bound or
//!   above its upper bound; the resource diff is Σ over resources of |request − target| /
//!   request (pod totals, in milli-units).
//! - **Admission to the update list** (`UpdatePriorityCalculator.AddPod`): outside the range,
//!   or a quick OOM (the container's last run, ended by an OOM kill, lasted under 10 min) with
//!   some diff, or at least 12 h old with a diff of at least 10 %. Scale-ups first, then the
//!   larger diff.
//! - **Eviction requirements** (`scaling_direction_pod_eviction_admission.go`): with
//!   `updatePolicy.evictionRequirements`, only pods whose targets move the required way.
//! - **Restriction** (`pods_restriction_factory.go`): a workload with fewer live pods than
//!   `minReplicas` (2 unless the VPA says) is left alone; otherwise pods may go while more than
//!   `replicas − ⌊replicas × 0.5⌋` run, and always one when none may by that rule. In-place
//!   resizes count as evictions do.
//! - **In place** (`InPlaceOrRecreate`): a resize the kubelet defers is evicted after 5 min
//!   (from when the updater first sees it pending), an infeasible one at the next loop.

use crate::sim::{SimDuration, SimTime};
use crate::spec::pod_resources::ContainerRequests;
use crate::spec::vpa::{ChangeRequirement, EvictionRequirement};

use super::policy::ContainerRecommendation;

/// The updater's flags.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UpdaterSettings {
    /// `--updater-interval` (1 min): its loop period, the first run one period in.
    pub interval: SimDuration,
    /// `--min-replicas` (2).
    pub min_replicas: i32,
    /// `--eviction-tolerance` (0.5).
    pub eviction_tolerance: f64,
    /// `--pod-update-threshold` (0.1).
    pub min_change_priority: f64,
    /// `--in-recommendation-bounds-eviction-lifetime-threshold` (12 h).
    pub lifetime_threshold: SimDuration,
    /// `--evict-after-oom-threshold` (10 min).
    pub evict_after_oom: SimDuration,
}

impl Default for UpdaterSettings {
    fn default() -> Self {
        UpdaterSettings {
            interval: SimDuration::from_secs(60),
            min_replicas: 2,
            eviction_tolerance: 0.5,
            min_change_priority: 0.1,
            lifetime_threshold: SimDuration::from_secs(12 * 3600),
            evict_after_oom: SimDuration::from_secs(600),
        }
    }
}

/// `PodPriority`: how far a pod's requests are from its recommendation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct UpdatePriority {
    /// Some request is outside [lowerBound, upperBound] (or missing).
    pub outside_range: bool,
    /// Some target is above its request (or the request is missing).
    pub scale_up: bool,
    /// Σ over resources of |total request − total target| / total request.
    pub resource_diff: f64,
}

/// `scalingDirectionPodEvictionAdmission.Admit`: with `evictionRequirements`, a pod may be
/// updated when some container with a recommendation either lacks a cpu or memory request or
/// meets every requirement — a requirement is met when the target of any of its resources
/// (0 where the target has none) differs from the request its way. Without requirements,
/// every pod may.
pub fn admits_eviction(
    containers: &[ContainerRequests],
    recommendation: &[ContainerRecommendation],
    requirements: &[EvictionRequirement],
) -> bool {
    if requirements.is_empty() {
        return true;
    }
    containers.iter().any(|c| {
        let Some(r) = recommendation.iter().find(|r| r.container == c.name) else {
            return false;
        };
        let (Some(cpu), Some(memory)) = (c.cpu_millis, c.memory_bytes) else {
            return true;
        };
        requirements.iter().all(|req| {
            let differs = |request: i64, target: Option<i64>| {
                let target = target.unwrap_or(0);
                match req.change {
                    ChangeRequirement::TargetHigherThanRequests => target > request,
                    ChangeRequirement::TargetLowerThanRequests => target < request,
                }
            };
            (req.cpu && differs(cpu, r.target.cpu_millis))
                || (req.memory && differs(memory, r.target.memory_bytes))
        })
    })
}

/// `getUpdatePriority` over the pod's containers that have a recommendation.
pub fn update_priority(
    containers: &[ContainerRequests],
    recommendation: &[ContainerRecommendation],
) -> UpdatePriority {
    let mut p = UpdatePriority::default();
    // Per resource (cpu, memory): total request and total target, in milli-units.
    let mut totals = [(0i128, 0i128, false); 2];
    for c in containers {
        let Some(r) = recommendation.iter().find(|r| r.container == c.name) else {
            continue;
        };
        let resources = [
            (
                r.target.cpu_millis,
                r.lower.cpu_millis,
                r.upper.cpu_millis,
                c.cpu_millis,
                1,
            ),
            (
                r.target.memory_bytes,
                r.lower.memory_bytes,
                r.upper.memory_bytes,
                c.memory_bytes,
                1000,
            ),
        ];
        for (i, (target, lower, upper, request, milli)) in resources.into_iter().enumerate() {
            let Some(target) = target else { continue };
            let total = &mut totals[i];
            total.1 += i128::from(target) * milli;
            total.2 = true;
            let Some(request) = request else {
                p.scale_up = true;
                p.outside_range = true;
                continue;
            };
            total.0 += i128::from(request) * milli;
            p.scale_up |= target > request;
            p.outside_range |=
                lower.is_some_and(|l| request < l) || upper.is_some_and(|u| request > u);
        }
    }
    p.resource_diff = totals
        .iter()
        .filter(|t| t.2)
        .map(|&(request, target, _)| {
            let request = (request as f64).max(1.0);
            (request - target as f64).abs() / request
        })
        .sum();
    p
}

/// What the updater knows of a pod besides its priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodAge {
    /// `status.startTime` (`None`: not started).
    pub started: Option<SimTime>,
    /// How long its container ran before its last termination, if that was an OOM kill.
    pub last_oom_run: Option<SimDuration>,
}

/// `AddPod`: whether a pod with priority `p` goes on the update list now.
pub fn wants_update(p: &UpdatePriority, pod: PodAge, now: SimTime, s: &UpdaterSettings) -> bool {
    let quick_oom = pod.last_oom_run.is_some_and(|run| run < s.evict_after_oom);
    if !p.outside_range && !quick_oom {
        let Some(started) = pod.started else {
            return false;
        };
        if now < started + s.lifetime_threshold || p.resource_diff < s.min_change_priority {
            return false;
        }
    }
    !(quick_oom && p.resource_diff == 0.0)
}

/// `GetSortedPods`: scale-ups first, then the larger diff; ties keep the given order.
pub fn sort_by_priority<T>(pods: &mut [(T, UpdatePriority)]) {
    pods.sort_by(|(_, a), (_, b)| {
        b.scale_up
            .cmp(&a.scale_up)
            .then(b.resource_diff.total_cmp(&a.resource_diff))
    });
}

/// `DeferredResizeUpdateTimeout`: a resize the kubelet defers this long falls back to eviction.
pub const DEFERRED_RESIZE_TIMEOUT: SimDuration = SimDuration::from_secs(300);

/// A workload's pods as the eviction restriction counts them (`singleGroupStats`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicaGroup {
    /// The controller's `spec.replicas` (a DaemonSet's ready pods, a Job's live pods).
    pub configured: i32,
    /// Live pods not Pending.
    pub running: i32,
    /// ⌊configured × eviction tolerance⌋.
    pub tolerance: i32,
    /// Evicted in this loop.
    pub evicted: i32,
    /// In-place resizes started in this loop.
    pub resized: i32,
}

impl ReplicaGroup {
    /// `None` when the workload has fewer live pods (Pending ones count) than `min_replicas`,
    /// or no configured replicas: the updater leaves it alone.
    pub fn new(
        configured: i32,
        live: i32,
        pending: i32,
        min_replicas: i32,
        s: &UpdaterSettings,
    ) -> Option<ReplicaGroup> {
        if live < min_replicas || configured <= 0 {
            return None;
        }
        Some(ReplicaGroup {
            configured,
            running: live - pending,
            tolerance: (f64::from(configured) * s.eviction_tolerance) as i32,
            evicted: 0,
            resized: 0,
        })
    }

    /// `CanEvict`: a Pending pod always; a running one while more than `configured −
    /// tolerance` would still run, or as the one eviction allowed when the tolerance is 0.
    pub fn can_evict(&self, pending: bool) -> bool {
        pending || self.disruptable()
    }

    /// `isPodDisruptable`: more than `configured − tolerance` would still run after the
    /// evictions and in-place resizes so far, or this is the one allowed when the tolerance is 0.
    pub fn disruptable(&self) -> bool {
        let changed = self.evicted + self.resized;
        let one_allowed = self.configured == self.running && self.tolerance == 0 && changed == 0;
        self.running - changed > self.configured - self.tolerance || one_allowed
    }

    /// `InPlaceUpdate`: counts a resize started.
    pub fn resize(&mut self) {
        self.resized += 1;
    }

    /// `Evict`: counts a running pod's eviction.
    pub fn evict(&mut self, pending: bool) {
        if !pending {
            self.evicted += 1;
        }
    }
}

#[cfg(test)]
mod tests;
