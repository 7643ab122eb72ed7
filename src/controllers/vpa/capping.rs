//! The capping the admission controller and the updater apply to a recommendation for one pod
//! (`cappingRecommendationProcessor.Apply`, `pkg/utils/vpa/capping.go`), in upstream's order:
//!
//! 1. with a `type: Pod` LimitRange item, the pod's containers scaled together so that the sum
//!    of their (proportional) limits fits its `min`/`max` — containers without a recommendation
//!    count with their requests and get that as their target;
//! 2. per container, target, lower and upper bound kept where the container's limit, kept in
//!    proportion, stays inside the `type: Container` item's `min` and `max` (and the request
//!    at least `min`);
//! 3. the policy's `minAllowed`/`maxAllowed` (the policy wins over a LimitRange);
//! 4. under `RequestsOnly`, each value lowered to the container's limit.
//!
//! One difference, on purpose: upstream writes a scaled value even for a resource the target
//! lacks (a zero, when the VPA does not control it); kubesim scales only the values present,
//! so a resource the policy leaves alone stays as the manifest has it.

use crate::spec::pod_resources::ContainerRequests;
use crate::spec::vpa::{ControlledValues, CpuMemory, LimitRangeBounds, VpaSpec};

use super::admission::proportional_limit;
use super::policy::{ContainerRecommendation, apply_policy};

/// Cpu or memory: which half of a [`CpuMemory`] a step reads and writes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Resource {
    Cpu,
    Memory,
}

impl Resource {
    fn of(self, v: &CpuMemory) -> Option<i64> {
        match self {
            Resource::Cpu => v.cpu_millis,
            Resource::Memory => v.memory_bytes,
        }
    }

    fn slot(self, v: &mut CpuMemory) -> &mut Option<i64> {
        match self {
            Resource::Cpu => &mut v.cpu_millis,
            Resource::Memory => &mut v.memory_bytes,
        }
    }

    fn request(self, c: &ContainerRequests) -> Option<i64> {
        match self {
            Resource::Cpu => c.cpu_millis,
            Resource::Memory => c.memory_bytes,
        }
    }

    fn limit(self, c: &ContainerRequests) -> Option<i64> {
        match self {
            Resource::Cpu => c.cpu_limit_millis,
            Resource::Memory => c.memory_limit_bytes,
        }
    }
}

/// Which bound of a recommendation a pod-level step scales.
#[derive(Clone, Copy)]
enum Field {
    Target,
    Lower,
    Upper,
}

impl Field {
    fn of(self, r: &mut ContainerRecommendation) -> &mut CpuMemory {
        match self {
            Field::Target => &mut r.target,
            Field::Lower => &mut r.lower,
            Field::Upper => &mut r.upper,
        }
    }
}

/// The recommendation as the admission controller and the updater see it for a pod with
/// `containers`: LimitRanges, the policy's bounds and `RequestsOnly` applied. Entries for
/// containers the pod lacks are dropped.
pub fn capped_for_pod(
    containers: &[ContainerRequests],
    vpa: &VpaSpec,
    recommendation: &[ContainerRecommendation],
) -> Vec<ContainerRecommendation> {
    let mut recs: Vec<ContainerRecommendation> = recommendation.to_vec();
    if let Some(pod) = &vpa.limit_range.pod {
        recs = capped_to_pod_limit_range(containers, recs, pod);
    }
    recs.into_iter()
        .filter_map(|r| {
            let c = containers.iter().find(|c| c.name == r.container)?;
            Some(capped_for_container(c, vpa, r))
        })
        .collect()
}

/// Steps 2 to 4 for one container.
fn capped_for_container(
    c: &ContainerRequests,
    vpa: &VpaSpec,
    mut r: ContainerRecommendation,
) -> ContainerRecommendation {
    if let Some(range) = &vpa.limit_range.container {
        for v in [&mut r.target, &mut r.lower, &mut r.upper] {
            for resource in [Resource::Cpu, Resource::Memory] {
                if let Some(x) = resource.of(v) {
                    *resource.slot(v) = Some(container_range_capped(c, range, resource, x));
                }
            }
        }
    }
    let policy = vpa.policy_for(&c.name);
    let mut r = apply_policy(&r, Some(&policy), CpuMemory::default());
    if policy.controlled_values == ControlledValues::RequestsOnly {
        for v in [&mut r.target, &mut r.lower, &mut r.upper] {
            for resource in [Resource::Cpu, Resource::Memory] {
                if let (Some(x), Some(limit)) = (resource.of(v), resource.limit(c)) {
                    *resource.slot(v) = Some(x.min(limit));
                }
            }
        }
    }
    r
}

/// `applyContainerLimitRange` for one value: raised to the request whose proportional limit
/// is the item's `min` (and to `min` itself), then lowered to the request whose proportional
/// limit is its `max`. A bound of zero, or one a container without a limit cannot reach, is none.
fn container_range_capped(
    c: &ContainerRequests,
    range: &LimitRangeBounds,
    resource: Resource,
    value: i64,
) -> i64 {
    let boundary = |limit_bound: Option<i64>| {
        limit_bound.map(|b| boundary_request(resource.request(c), resource.limit(c), b))
    };
    let min_for_limit = boundary(resource.of(&range.min)).unwrap_or(0);
    let min = min_for_limit.max(resource.of(&range.min).unwrap_or(0));
    let max = boundary(resource.of(&range.max)).unwrap_or(0);
    let mut out = value;
    if min != 0 && out < min {
        out = min;
    }
    if max != 0 && out > max {
        out = max;
    }
    out
}

/// `GetBoundaryRequest`: the request at which the container's limit, kept in proportion,
/// would be `bound` — `request × bound / limit`, floored; `bound` itself for a container with a
/// limit but no request; 0 (no bound) for one without a limit (kubesim has put a LimitRange's
/// default limit into the container already).
fn boundary_request(request: Option<i64>, limit: Option<i64>, bound: i64) -> i64 {
    let Some(limit) = limit.filter(|&l| l != 0) else {
        return 0;
    };
    match request.filter(|&r| r != 0) {
        None => bound,
        Some(r) => scale(r, limit, bound, false),
    }
}

/// `value × to / from` in i128, floored (or rounded up), capped at `i64::MAX`; `value` when
/// `from` is zero.
fn scale(value: i64, from: i64, to: i64, round_up: bool) -> i64 {
    if from == 0 {
        return value;
    }
    let product = i128::from(value) * i128::from(to);
    let mut quotient = product / i128::from(from);
    if round_up && product % i128::from(from) != 0 {
        quotient += 1;
    }
    i64::try_from(quotient).unwrap_or(i64::MAX)
}

/// Step 1, `capProportionallyToPodLimitRange`: every container of the pod without a
/// recommendation gets one whose target is its requests, then upper, target and lower bound
/// of cpu and of memory are scaled in turn (`applyPodLimitRange`).
fn capped_to_pod_limit_range(
    containers: &[ContainerRequests],
    mut recs: Vec<ContainerRecommendation>,
    range: &LimitRangeBounds,
) -> Vec<ContainerRecommendation> {
    for c in containers {
        let has_requests = c.cpu_millis.is_some() || c.memory_bytes.is_some();
        if has_requests && !recs.iter().any(|r| r.container == c.name) {
            recs.push(ContainerRecommendation {
                container: c.name.clone(),
                target: CpuMemory {
                    cpu_millis: c.cpu_millis,
                    memory_bytes: c.memory_bytes,
                },
                ..Default::default()
            });
        }
    }
    for field in [Field::Upper, Field::Target, Field::Lower] {
        for resource in [Resource::Cpu, Resource::Memory] {
            pod_range_capped(containers, &mut recs, range, field, resource);
        }
    }
    recs
}

/// `applyPodLimitRange` for one bound and resource: when the sum of the containers'
/// proportional limits or of their values falls outside the item, each value is scaled —
/// up to `min` over the sum of values (rounded up), or to `min`/`max` over the sum of limits
/// (floored).
fn pod_range_capped(
    containers: &[ContainerRequests],
    recs: &mut [ContainerRecommendation],
    range: &LimitRangeBounds,
    field: Field,
    resource: Resource,
) {
    let min = resource.of(&range.min).unwrap_or(0);
    let max = resource.of(&range.max).unwrap_or(0);
    let default_limit = resource.of(&range.default_limit);
    let (mut sum_limit, mut sum_value) = (0i128, 0i128);
    for c in containers {
        let value = match recs.iter_mut().find(|r| r.container == c.name) {
            Some(r) => resource.of(field.of(r)).unwrap_or(0),
            None => resource.request(c).unwrap_or(0),
        };
        let limit = resource.limit(c).or(default_limit);
        if let Some(l) = proportional_limit(limit, resource.request(c), value) {
            sum_limit += i128::from(l);
        }
        sum_value += i128::from(value);
    }
    let (min, max) = (i128::from(min), i128::from(max));
    if min <= sum_limit && min <= sum_value && (max == 0 || max >= sum_limit) {
        return;
    }
    let clamp = |x: i128| i64::try_from(x).unwrap_or(i64::MAX);
    let (from, to, round_up) = if min > sum_value && sum_limit != 0 {
        (sum_value, min, true)
    } else if sum_limit == 0 {
        return;
    } else if max != 0 && max < sum_limit {
        (sum_limit, max, false)
    } else {
        (sum_limit, min.max(0), false)
    };
    for r in recs.iter_mut() {
        if !containers.iter().any(|c| c.name == r.container) {
            continue;
        }
        let slot = resource.slot(field.of(r));
        if let Some(v) = *slot {
            *slot = Some(scale(v, clamp(from), clamp(to), round_up));
        }
    }
}

#[cfg(test)]
mod tests;
