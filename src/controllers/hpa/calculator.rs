//! The HPA replica calculator (`replica_calculator.go`): `groupPods`, the utilization path of
//! Resource and ContainerResource metrics (`GetResourceUtilizationRatio`, `GetResourceReplicas`),
//! the plain-value path of AverageValue and Pods metrics (`calcPlainMetricReplicas`), and the
//! Object/External helpers.
//!
//! Pure functions over what the controller can see: pods (phase, readiness, start time,
//! requests) and their metrics. The arithmetic follows upstream exactly, including the integer
//! truncation of the utilization percent before the ratio and Go's float64 `ceil`.

use crate::sim::{SimDuration, SimTime};

/// One pod's metric value as the HPA receives it (milli-units), with its sample time and window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// The value in milli-units (millicores for cpu, bytes × 1000 for memory).
    pub value_milli: i64,
    /// When it was measured.
    pub timestamp: SimTime,
    /// Over how long it was averaged.
    pub window: SimDuration,
}

/// Pod phase as the HPA distinguishes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HpaPodPhase {
    /// Not running yet.
    Pending,
    /// Running (or Succeeded: counted like Running).
    Running,
    /// Failed: ignored.
    Failed,
}

/// What the HPA knows about one pod selected by its target's selector.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PodView {
    /// `status.phase`.
    pub phase: HpaPodPhase,
    /// It has a deletion timestamp: ignored.
    pub deleting: bool,
    /// Its Ready condition.
    pub ready: bool,
    /// When its Ready condition last changed (`lastTransitionTime`).
    pub ready_transition: SimTime,
    /// `status.startTime` (`None`: not started, unready for CPU).
    pub start_time: Option<SimTime>,
    /// Σ requests of the metric's resource over the containers the HPA counts (milli-units);
    /// `None` if one of them lacks a request.
    pub request_milli: Option<i64>,
    /// This metric's value for the pod, if the metrics API returned one.
    pub sample: Option<Sample>,
}

impl PodView {
    /// A pod Running and Ready since time zero with a request of `request_milli` and a sample
    /// of `usage_milli` taken at `now` over metrics-server's 15 s window: the usual pod, for
    /// calling the calculator directly.
    ///
    /// ```
    /// use kubesim::controllers::hpa::calculator::{CpuTimings, PodView, Tolerances,
    ///     resource_utilization_replicas};
    /// use kubesim::sim::{SimDuration, SimTime};
    /// // Three 1-cpu pods using 800m, 900m and 700m against a 50 % target: 2 400 / 3 000 = 80 %
    /// // → ratio 1.6 → ceil(1.6 × 3) = 5 replicas.
    /// let now = SimTime::from_secs(600);
    /// let pods: Vec<PodView> = [800, 900, 700].map(|u| PodView::running(1000, u, now)).to_vec();
    /// let timings = CpuTimings {
    ///     cpu_initialization_period: SimDuration::from_mins(5),
    ///     initial_readiness_delay: SimDuration::from_secs(30),
    /// };
    /// let p = resource_utilization_replicas(3, 50, &pods, now, Tolerances::symmetric(0.1),
    ///     timings, true).unwrap();
    /// assert_eq!((p.utilization_percent, p.replicas), (80, 5));
    /// ```
    pub fn running(request_milli: i64, usage_milli: i64, now: SimTime) -> PodView {
        PodView {
            phase: HpaPodPhase::Running,
            deleting: false,
            ready: true,
            ready_transition: SimTime::ZERO,
            start_time: Some(SimTime::ZERO),
            request_milli: Some(request_milli),
            sample: Some(Sample {
                value_milli: usage_milli,
                timestamp: now,
                window: SimDuration::from_secs(15),
            }),
        }
    }
}

/// `isWithin(r) := (1 − scaleDown) ≤ r ≤ (1 + scaleUp)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerances {
    /// How far below 1 the ratio may be without a change (0.1 by default).
    pub scale_down: f64,
    /// How far above 1 the ratio may be without a change (0.1 by default).
    pub scale_up: f64,
}

impl Tolerances {
    /// The same tolerance both ways (the `--horizontal-pod-autoscaler-tolerance` flag).
    pub fn symmetric(t: f64) -> Self {
        Tolerances {
            scale_down: t,
            scale_up: t,
        }
    }

    /// Whether `ratio` is close enough to 1 to leave the replicas alone.
    pub fn is_within(&self, ratio: f64) -> bool {
        (1.0 - self.scale_down) <= ratio && ratio <= (1.0 + self.scale_up)
    }
}

/// The CPU readiness timings (kube-controller-manager flags).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuTimings {
    /// `--horizontal-pod-autoscaler-cpu-initialization-period` (5 min).
    pub cpu_initialization_period: SimDuration,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay` (30 s).
    pub initial_readiness_delay: SimDuration,
}

/// How `groupPods` classified the pods.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grouping {
    /// Pods counted with their metric.
    pub ready: usize,
    /// Indices of unready pods.
    pub unready: Vec<usize>,
    /// Indices of pods without a metric.
    pub missing: Vec<usize>,
    /// Pods ignored (deleting, or Failed).
    pub ignored: usize,
}

/// `groupPods` (A.3.1). `cpu_readiness` applies the CPU initialization and readiness-delay
/// rules (Resource/ContainerResource cpu metrics only); otherwise only Pending pods are unready.
pub fn group_pods(
    pods: &[PodView],
    now: SimTime,
    timings: CpuTimings,
    cpu_readiness: bool,
) -> Grouping {
    let mut g = Grouping::default();
    for (i, pod) in pods.iter().enumerate() {
        if pod.deleting || pod.phase == HpaPodPhase::Failed {
            g.ignored += 1;
            continue;
        }
        if pod.phase == HpaPodPhase::Pending {
            g.unready.push(i);
            continue;
        }
        let Some(sample) = pod.sample else {
            g.missing.push(i);
            continue;
        };
        if cpu_readiness && cpu_unready(pod, &sample, now, timings) {
            g.unready.push(i);
        } else {
            g.ready += 1;
        }
    }
    g
}

/// The CPU-only readiness rule: during the initialization period a pod counts only once it is
/// Ready and its metric window started after it became Ready; afterwards only a pod that has
/// never been Ready since start (within the readiness delay) is unready.
fn cpu_unready(pod: &PodView, metric: &Sample, now: SimTime, t: CpuTimings) -> bool {
    let Some(start) = pod.start_time else {
        return true;
    };
    if start + t.cpu_initialization_period > now {
        return !pod.ready || metric.timestamp < pod.ready_transition + metric.window;
    }
    !pod.ready && start + t.initial_readiness_delay > pod.ready_transition
}

/// The calculator's answer for one metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResourceProposal {
    /// The replicas this metric proposes.
    pub replicas: i32,
    /// `currentAverageUtilization` (percent, truncated) from the first pass.
    pub utilization_percent: i32,
    /// `currentAverageValue` (milli-units) from the first pass.
    pub raw_average_milli: i64,
    /// Pods counted with their metric (Ready, or past the CPU readiness checks).
    pub ready: usize,
    /// Pods left out as unready (their metric dropped; counted at 0 when scaling up).
    pub unready: usize,
    /// Pods without a metric (filled in at 0 or at the target, against the direction).
    pub missing: usize,
    /// Pods ignored altogether (deleting, or Failed).
    pub ignored: usize,
}

/// Why a metric yields no proposal (the HPA's `FailedGetResourceMetric` condition). The
/// controller words `NoMetrics` and `MissingRequest` as upstream does, with the metric's API,
/// the resource, the container and the pod, which the calculator does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalcError {
    /// No pod has a sample: the metrics API returned nothing.
    #[error("no metrics returned from resource metrics API")]
    NoMetrics,
    /// [`NoMetrics`](Self::NoMetrics) as `GetResourceReplicas` wraps it, with the resource.
    #[error(
        "unable to get metrics for resource {resource}: no metrics returned from resource metrics API"
    )]
    NoResourceMetrics {
        /// `cpu` or `memory`.
        resource: &'static str,
    },
    /// Every pod with a sample was left out as unready or ignored.
    #[error("did not receive metrics for targeted pods (pods might be unready)")]
    NoReadyMetrics,
    /// `pods[pod]` has no request for the resource in a counted container.
    #[error("missing request for the resource in a container of a targeted pod")]
    MissingRequest {
        /// The pod's index in the calculator's input.
        pod: usize,
    },
    /// Samples came back, but none for a pod the calculator was given (upstream: the metrics
    /// are all for other pods, so the requests summed over them are 0).
    #[error("no metrics returned matched known pods")]
    NoMatchedMetrics,
    /// The target's selector matched no pod.
    #[error("no pods returned by selector while calculating replica count")]
    NoPods,
    /// An External metric's selector matched no series.
    #[error("no metrics returned from external metrics API")]
    NoExternalMetrics,
}

/// `GetResourceUtilizationRatio`: (ratio, utilization %, raw average) over pods with a usage
/// entry. `usage[i] = None` means "no metric for pod i".
pub fn utilization_ratio(
    usage: &[Option<i64>],
    requests: &[i64],
    target_percent: i32,
) -> Result<(f64, i32, i64), CalcError> {
    let (mut usage_total, mut request_total, mut n) = (0i128, 0i128, 0i64);
    for (u, r) in usage.iter().zip(requests) {
        if let Some(u) = u {
            usage_total += i128::from(*u);
            request_total += i128::from(*r);
            n += 1;
        }
    }
    if request_total == 0 {
        return Err(CalcError::NoMatchedMetrics);
    }
    let utilization = (usage_total * 100 / request_total)
        .clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32;
    let ratio = f64::from(utilization) / f64::from(target_percent);
    Ok((ratio, utilization, (usage_total / i128::from(n)) as i64))
}

/// `GetResourceReplicas` for a Utilization target (A.3.4); `cpu_readiness` for cpu metrics.
pub fn resource_utilization_replicas(
    current: i32,
    target_percent: i32,
    pods: &[PodView],
    now: SimTime,
    tolerances: Tolerances,
    timings: CpuTimings,
    cpu_readiness: bool,
) -> Result<ResourceProposal, CalcError> {
    if pods.iter().all(|p| p.sample.is_none()) {
        return Err(CalcError::NoMetrics);
    }
    let requests: Vec<i64> = pods
        .iter()
        .enumerate()
        .map(|(i, p)| p.request_milli.ok_or(CalcError::MissingRequest { pod: i }))
        .collect::<Result<_, _>>()?;
    let (g, mut usage) = grouped_usage(pods, now, timings, cpu_readiness)?;
    let (ratio, utilization, raw) = utilization_ratio(&usage, &requests, target_percent)?;
    let proposal = |replicas| ResourceProposal {
        replicas,
        utilization_percent: utilization,
        raw_average_milli: raw,
        ready: g.ready,
        unready: g.unready.len(),
        missing: g.missing.len(),
        ignored: g.ignored,
    };
    // Missing pods: request × max(100, target)% when scaling down, 0 when scaling up.
    let fill_missing = |i: usize, ratio: f64| {
        if ratio < 1.0 {
            Some(requests[i] * i64::from(target_percent.max(100)) / 100)
        } else if ratio > 1.0 {
            Some(0)
        } else {
            None
        }
    };
    let ratio_of =
        |usage: &[Option<i64>]| utilization_ratio(usage, &requests, target_percent).map(|r| r.0);
    two_pass(
        current,
        &g,
        &mut usage,
        ratio,
        tolerances,
        fill_missing,
        ratio_of,
    )
    .map(proposal)
}

/// Groups the pods and keeps the metric values of the ready and missing ones (ignored and
/// unready pods' values are dropped); errors when no value is left.
fn grouped_usage(
    pods: &[PodView],
    now: SimTime,
    timings: CpuTimings,
    cpu_readiness: bool,
) -> Result<(Grouping, Vec<Option<i64>>), CalcError> {
    let g = group_pods(pods, now, timings, cpu_readiness);
    let mut usage: Vec<Option<i64>> = pods
        .iter()
        .map(|p| p.sample.map(|m| m.value_milli))
        .collect();
    for (i, p) in pods.iter().enumerate() {
        if p.deleting || p.phase == HpaPodPhase::Failed {
            usage[i] = None;
        }
    }
    for &i in &g.unready {
        usage[i] = None;
    }
    if usage.iter().all(Option::is_none) {
        return Err(CalcError::NoReadyMetrics);
    }
    Ok((g, usage))
}

/// The answer for an AverageValue target (Resource AverageValue or a Pods metric).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlainProposal {
    /// The replicas this metric proposes.
    pub replicas: i32,
    /// `currentAverageValue` (milli) from the first pass.
    pub average_milli: i64,
    /// Pods counted with their metric (Ready, or past the CPU readiness checks).
    pub ready: usize,
    /// Pods left out as unready (their metric dropped; counted at 0 when scaling up).
    pub unready: usize,
    /// Pods without a metric (filled in at 0 or at the target, against the direction).
    pub missing: usize,
    /// Pods ignored altogether (deleting, or Failed).
    pub ignored: usize,
}

/// `GetMetricUsageRatio`: (avg / target, avg) with `avg = Σ value / n` truncated.
pub fn usage_ratio(usage: &[Option<i64>], target_milli: i64) -> (f64, i64) {
    let values: Vec<i64> = usage.iter().flatten().copied().collect();
    let average = values.iter().map(|v| i128::from(*v)).sum::<i128>() / values.len().max(1) as i128;
    let average = average as i64;
    (average as f64 / target_milli as f64, average)
}

/// `calcPlainMetricReplicas` (A.3.5): like the utilization path but on average values; missing
/// pods are filled with the target when scaling down, with 0 when scaling up, and left out when
/// the ratio is exactly 1.
pub fn plain_metric_replicas(
    current: i32,
    target_milli: i64,
    pods: &[PodView],
    now: SimTime,
    tolerances: Tolerances,
    timings: CpuTimings,
    cpu_readiness: bool,
) -> Result<PlainProposal, CalcError> {
    if pods.iter().all(|p| p.sample.is_none()) {
        return Err(CalcError::NoMetrics);
    }
    let (g, mut usage) = grouped_usage(pods, now, timings, cpu_readiness)?;
    let (ratio, average) = usage_ratio(&usage, target_milli);
    let proposal = |replicas| PlainProposal {
        replicas,
        average_milli: average,
        ready: g.ready,
        unready: g.unready.len(),
        missing: g.missing.len(),
        ignored: g.ignored,
    };
    // Missing pods: the target when scaling down, 0 when scaling up, nothing at exactly 1.
    let fill_missing = |_: usize, ratio: f64| {
        if ratio < 1.0 {
            Some(target_milli)
        } else if ratio > 1.0 {
            Some(0)
        } else {
            None
        }
    };
    let ratio_of = |usage: &[Option<i64>]| Ok(usage_ratio(usage, target_milli).0);
    two_pass(
        current,
        &g,
        &mut usage,
        ratio,
        tolerances,
        fill_missing,
        ratio_of,
    )
    .map(proposal)
}

/// The algorithm `GetResourceReplicas` and `calcPlainMetricReplicas` share: without unready
/// pods on a scale-up and without missing pods, keep `current` within tolerance or take
/// `ceil(ratio × ready)`; otherwise fill missing pods (`fill_missing`) and, on a scale-up,
/// unready pods with 0, recompute the ratio, and keep `current` when it is within tolerance or
/// when the direction flipped — else `ceil(newRatio × counted pods)` unless that moves the
/// other way.
fn two_pass(
    current: i32,
    g: &Grouping,
    usage: &mut [Option<i64>],
    ratio: f64,
    tolerances: Tolerances,
    fill_missing: impl Fn(usize, f64) -> Option<i64>,
    ratio_of: impl Fn(&[Option<i64>]) -> Result<f64, CalcError>,
) -> Result<i32, CalcError> {
    let scale_up_with_unready = !g.unready.is_empty() && ratio > 1.0;
    if !scale_up_with_unready && g.missing.is_empty() {
        if tolerances.is_within(ratio) {
            return Ok(current);
        }
        return Ok(ceil_replicas(ratio * g.ready as f64));
    }
    for &i in &g.missing {
        if let Some(v) = fill_missing(i, ratio) {
            usage[i] = Some(v);
        }
    }
    if scale_up_with_unready {
        for &i in &g.unready {
            usage[i] = Some(0);
        }
    }
    let new_ratio = ratio_of(usage)?;
    let flipped = (ratio < 1.0 && new_ratio > 1.0) || (ratio > 1.0 && new_ratio < 1.0);
    if tolerances.is_within(new_ratio) || flipped {
        return Ok(current);
    }
    let counted = usage.iter().filter(|u| u.is_some()).count();
    let new_replicas = ceil_replicas(new_ratio * counted as f64);
    if (new_ratio < 1.0 && new_replicas > current) || (new_ratio > 1.0 && new_replicas < current) {
        return Ok(current);
    }
    Ok(new_replicas)
}

/// `getUsageRatioReplicaCount` (Object/External Value targets): keep `current` within
/// tolerance, else `ceil(ratio × ready pods)`; from zero replicas, `ceil(ratio)` (scale from zero).
/// `ready_pods` is `None` when the selector matches no pod at all.
pub fn usage_ratio_replica_count(
    current: i32,
    ratio: f64,
    ready_pods: Option<usize>,
    tolerances: Tolerances,
) -> Result<i32, CalcError> {
    if current == 0 {
        return Ok(ceil_replicas(ratio));
    }
    if tolerances.is_within(ratio) {
        return Ok(current);
    }
    let ready = ready_pods.ok_or(CalcError::NoPods)?;
    Ok(ceil_replicas(ratio * ready as f64))
}

/// Object/External AverageValue targets: `ratio = value / (target × statusReplicas)`; outside
/// tolerance, `ceil(value / target)`. Returns (replicas, reported average = ceil(value / statusReplicas)).
pub fn average_value_replica_count(
    value_milli: i64,
    target_milli: i64,
    status_replicas: i32,
    tolerances: Tolerances,
) -> (i32, i64) {
    let ratio = value_milli as f64 / (target_milli as f64 * f64::from(status_replicas));
    let replicas = if tolerances.is_within(ratio) {
        status_replicas
    } else {
        ceil_replicas(value_milli as f64 / target_milli as f64)
    };
    let average = if status_replicas > 0 {
        (value_milli as f64 / f64::from(status_replicas)).ceil() as i64
    } else {
        value_milli
    };
    (replicas, average)
}

/// The sum of an External metric's samples (every series its selector matched), as upstream's
/// calculator adds them up; an error when there is none.
fn external_sum(samples_milli: &[i64]) -> Result<i64, CalcError> {
    if samples_milli.is_empty() {
        return Err(CalcError::NoExternalMetrics);
    }
    Ok(samples_milli
        .iter()
        .fold(0i64, |sum, v| sum.saturating_add(*v)))
}

/// `GetExternalMetricReplicas` (an External metric with a `Value` target): the samples are
/// summed and [`usage_ratio_replica_count`] applied to `sum / target`. Returns (replicas, sum).
///
/// ```
/// use kubesim::controllers::hpa::calculator::{Tolerances, external_metric_replicas};
/// // Three queues of 100, 200 and 300 messages against a target of 200 on 3 ready pods:
/// // 600 / 200 = 3 → ceil(3 × 3) = 9.
/// let got = external_metric_replicas(3, &[100_000, 200_000, 300_000], 200_000, Some(3),
///     Tolerances::symmetric(0.1));
/// assert_eq!(got, Ok((9, 600_000)));
/// ```
pub fn external_metric_replicas(
    current: i32,
    samples_milli: &[i64],
    target_milli: i64,
    ready_pods: Option<usize>,
    tolerances: Tolerances,
) -> Result<(i32, i64), CalcError> {
    let sum = external_sum(samples_milli)?;
    let ratio = sum as f64 / target_milli as f64;
    let replicas = usage_ratio_replica_count(current, ratio, ready_pods, tolerances)?;
    Ok((replicas, sum))
}

/// `GetExternalPerPodMetricReplicas` (an External metric with an `AverageValue` target): the
/// samples are summed and [`average_value_replica_count`] applied. Returns (replicas, reported
/// average per pod).
pub fn external_per_pod_metric_replicas(
    samples_milli: &[i64],
    target_milli: i64,
    status_replicas: i32,
    tolerances: Tolerances,
) -> Result<(i32, i64), CalcError> {
    let sum = external_sum(samples_milli)?;
    Ok(average_value_replica_count(
        sum,
        target_milli,
        status_replicas,
        tolerances,
    ))
}

/// `int32(math.Ceil(x))`, saturating.
fn ceil_replicas(x: f64) -> i32 {
    x.ceil().clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The fixtures' clock: an hour in.
    pub(in crate::controllers::hpa) const NOW: SimTime = SimTime::from_secs(3600);
    /// kube-controller-manager's default CPU readiness timings.
    pub(in crate::controllers::hpa) const TIMINGS: CpuTimings = CpuTimings {
        cpu_initialization_period: SimDuration::from_mins(5),
        initial_readiness_delay: SimDuration::from_secs(30),
    };

    /// A Running, Ready pod started an hour ago with a 1-CPU request and the given usage.
    fn pod(usage: Option<i64>) -> PodView {
        let mut p = PodView::running(1000, usage.unwrap_or(0), NOW);
        if usage.is_none() {
            p.sample = None;
        }
        p
    }

    fn unready(mut p: PodView) -> PodView {
        p.ready = false; // never Ready since start: transition at start
        p
    }

    fn calc(current: i32, target: i32, pods: &[PodView]) -> Result<ResourceProposal, CalcError> {
        resource_utilization_replicas(
            current,
            target,
            pods,
            NOW,
            Tolerances::symmetric(0.1),
            TIMINGS,
            true,
        )
    }

    struct Case {
        name: &'static str,
        current: i32,
        target: i32,
        pods: Vec<PodView>,
        replicas: i32,
        utilization: i32,
    }

    #[test]
    fn replica_calculator_table() {
        let cases = vec![
            // util = (300+500+700)·100/3000 = 50 → ratio 50/30 = 1.667 → ceil(1.667·3) = 5.
            Case {
                name: "scale up",
                current: 3,
                target: 30,
                pods: vec![pod(Some(300)), pod(Some(500)), pod(Some(700))],
                replicas: 5,
                utilization: 50,
            },
            // ready [500, 700]: util 1200·100/2000 = 60 → ratio 2 > 1 with an unready pod →
            // unready filled with 0: 1200·100/3000 = 40 → 1.333 → ceil(1.333·3) = 4.
            Case {
                name: "scale up, unready pod counts as 0",
                current: 3,
                target: 30,
                pods: vec![unready(pod(Some(300))), pod(Some(500)), pod(Some(700))],
                replicas: 4,
                utilization: 60,
            },
            // util = 1400·100/5000 = 28 → ratio 0.56 → ceil(0.56·5) = ceil(2.8) = 3.
            Case {
                name: "scale down",
                current: 5,
                target: 50,
                pods: vec![
                    pod(Some(100)),
                    pod(Some(300)),
                    pod(Some(500)),
                    pod(Some(250)),
                    pod(Some(250)),
                ],
                replicas: 3,
                utilization: 28,
            },
            // util = 3060·100/3000 = 102 → ratio 1.02 within ±0.1 → keep 3.
            Case {
                name: "within tolerance",
                current: 3,
                target: 100,
                pods: vec![pod(Some(1010)), pod(Some(1030)), pod(Some(1020))],
                replicas: 3,
                utilization: 102,
            },
            // util = 300·100/3000 = 10 → 0.2; missing pod filled at 100% of request: 1300·100/4000 = 32
            // → 0.64 → ceil(0.64·4) = ceil(2.56) = 3 (< current, consistent with scale-down).
            Case {
                name: "missing metric, scale down",
                current: 4,
                target: 50,
                pods: vec![pod(Some(100)), pod(Some(100)), pod(Some(100)), pod(None)],
                replicas: 3,
                utilization: 10,
            },
            // util = 3000·100/3000 = 100 → ratio 2; missing pod filled with 0: 3000·100/4000 = 75 → 1.5
            // → ceil(1.5·4) = 6.
            Case {
                name: "missing metric, scale up",
                current: 4,
                target: 50,
                pods: vec![pod(Some(1000)), pod(Some(1000)), pod(Some(1000)), pod(None)],
                replicas: 6,
                utilization: 100,
            },
            // util = 40 → 0.8; missing filled at 1000: 1400·100/2000 = 70 → 1.4: direction flips → keep 2.
            Case {
                name: "missing metric flips direction",
                current: 2,
                target: 50,
                pods: vec![pod(Some(400)), pod(None)],
                replicas: 2,
                utilization: 40,
            },
            // target 150: util 1000·100/2000 = 50 → 0.333; missing filled at request·150/100 = 1500:
            // 2500·100/3000 = 83 → 0.553 → ceil(0.553·3) = ceil(1.66) = 2.
            Case {
                name: "missing metric, target over 100%",
                current: 3,
                target: 150,
                pods: vec![pod(Some(500)), pod(Some(500)), pod(None)],
                replicas: 2,
                utilization: 50,
            },
            // The deleting pod is ignored: util = 1600·100/2000 = 80 → 1.6 → ceil(1.6·2) = 4.
            Case {
                name: "deleting pod ignored",
                current: 3,
                target: 50,
                pods: vec![
                    pod(Some(800)),
                    pod(Some(800)),
                    PodView {
                        deleting: true,
                        ..pod(Some(0))
                    },
                ],
                replicas: 4,
                utilization: 80,
            },
            // Pending pods are unready; ratio 0.5 < 1 so they are not filled, and the fast path uses
            // the ready count: util 500·100/2000 = 25 → 0.5 → ceil(0.5·2) = 1.
            Case {
                name: "fast path uses ready pods, not current",
                current: 4,
                target: 50,
                pods: vec![
                    pod(Some(250)),
                    pod(Some(250)),
                    PodView {
                        phase: HpaPodPhase::Pending,
                        ..pod(None)
                    },
                    PodView {
                        phase: HpaPodPhase::Pending,
                        ..pod(None)
                    },
                ],
                replicas: 1,
                utilization: 25,
            },
            // Utilization is truncated before the ratio: 1999·100/3000 = 66.63 → 66 → 66/60 = 1.1
            // which is within tolerance (float 1.1 ≤ 1.1) → keep 3 (a float ratio 1.1106 would scale).
            Case {
                name: "truncated percent",
                current: 3,
                target: 60,
                pods: vec![pod(Some(666)), pod(Some(666)), pod(Some(667))],
                replicas: 3,
                utilization: 66,
            },
        ];
        for c in cases {
            let got =
                calc(c.current, c.target, &c.pods).unwrap_or_else(|e| panic!("{}: {e}", c.name));
            assert_eq!(
                (got.replicas, got.utilization_percent),
                (c.replicas, c.utilization),
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn readiness_rules_during_cpu_initialization() {
        // Started 60 s ago (inside the 5 m init period), Ready since 50 s ago; metric window
        // 15 s ending now: window start (now − 15 s) is after the Ready transition → ready.
        let started = NOW.saturating_sub(SimDuration::from_secs(60));
        let mut p = pod(Some(500));
        p.start_time = Some(started);
        p.ready_transition = started + SimDuration::from_secs(10);
        assert_eq!(group_pods(&[p], NOW, TIMINGS, true).ready, 1);
        // Ready only 5 s ago: the metric timestamp (now) < transition (now − 5 s) + 15 s → unready.
        p.ready_transition = NOW.saturating_sub(SimDuration::from_secs(5));
        assert_eq!(group_pods(&[p], NOW, TIMINGS, true).unready, vec![0]);
        // The same pod counts as ready for a non-CPU metric (only Pending pods are unready).
        assert_eq!(group_pods(&[p], NOW, TIMINGS, false).ready, 1);
        // After the init period a not-ready pod that was once Ready (transition > start + 30 s) counts as ready.
        let mut old = unready(pod(Some(500)));
        old.ready_transition = SimTime::from_secs(600);
        assert_eq!(group_pods(&[old], NOW, TIMINGS, true).ready, 1);
    }

    fn plain(current: i32, target_milli: i64, pods: &[PodView]) -> (i32, i64) {
        let p = plain_metric_replicas(
            current,
            target_milli,
            pods,
            NOW,
            Tolerances::symmetric(0.1),
            TIMINGS,
            false,
        )
        .unwrap();
        (p.replicas, p.average_milli)
    }

    #[test]
    fn plain_metric_table() {
        // Pods metric, target 10 per pod (10 000 milli). Values are milli-units.
        // avg (20+10+30)/3 = 20 → ratio 2 → ceil(2·3) = 6 (TestReplicaCalcScaleUpCM shape).
        assert_eq!(
            plain(
                3,
                10_000,
                &[pod(Some(20_000)), pod(Some(10_000)), pod(Some(30_000))]
            ),
            (6, 20_000)
        );
        // avg 5 → 0.5 → ceil(0.5·4) = 2 (scale down).
        assert_eq!(plain(4, 10_000, &[pod(Some(5_000)); 4]), (2, 5_000));
        // avg 10.5 → 1.05 within tolerance → keep 3.
        assert_eq!(plain(3, 10_000, &[pod(Some(10_500)); 3]), (3, 10_500));
        // Scale down with a missing pod: avg 2 → 0.2; missing filled with the target 10:
        // (2+2+2+10)/4 = 4 → 0.4 → ceil(0.4·4) = 2.
        assert_eq!(
            plain(
                4,
                10_000,
                &[
                    pod(Some(2_000)),
                    pod(Some(2_000)),
                    pod(Some(2_000)),
                    pod(None)
                ]
            ),
            (2, 2_000)
        );
        // Scale up with a missing pod: avg 30 → 3; missing filled with 0: 90/4 = 22.5 → 2.25
        // → ceil(2.25·4) = 9.
        assert_eq!(
            plain(
                4,
                10_000,
                &[pod(Some(30_000)); 3]
                    .iter()
                    .copied()
                    .chain([pod(None)])
                    .collect::<Vec<_>>()
            ),
            (9, 30_000)
        );
        // A Pending pod with ratio > 1 is filled with 0: ready avg 20 → 2; (20+20+0)/3 = 13.33
        // → 1.333 → ceil(1.333·3) = 4.
        let pending = PodView {
            phase: HpaPodPhase::Pending,
            ..pod(None)
        };
        assert_eq!(
            plain(3, 10_000, &[pod(Some(20_000)), pod(Some(20_000)), pending]),
            (4, 20_000)
        );
        // Averages truncate: (1+2)/2 = 1 milli → ratio 1/1 = 1 → within tolerance.
        assert_eq!(plain(2, 1, &[pod(Some(1)), pod(Some(2))]), (2, 1));
        // Ratio exactly 1 with missing pods (upstream calcPlainMetricReplicas fills missing pods
        // only when the ratio is below or above 1): three pods at the target 10, two missing,
        // current 5 → nothing filled, the new ratio is still 1 → within tolerance → 5. Filling
        // them with 0 would give 30/5 = 6 → 0.6 → ceil(0.6·5) = 3.
        let at_target = [pod(Some(10_000)); 3];
        let pods: Vec<PodView> = at_target.iter().copied().chain([pod(None); 2]).collect();
        assert_eq!(plain(5, 10_000, &pods), (5, 10_000));
    }

    /// A pod with the given CPU request (millicores), readiness and start (seconds before NOW);
    /// a not-ready pod has never been Ready (transition at its start).
    fn pod_with(request: i64, ready: bool, started_secs_ago: u64, usage: Option<i64>) -> PodView {
        let start = NOW.saturating_sub(SimDuration::from_secs(started_secs_ago));
        PodView {
            ready,
            ready_transition: start,
            start_time: Some(start),
            request_milli: Some(request),
            ..pod(usage)
        }
    }

    const COOL: u64 = 600; // started 10 min ago: past the 5 min CPU initialization period
    const HOT: u64 = 120; // started 2 min ago: still initializing

    /// More `replica_calculator_test.go` cases (names as upstream; levels shorter than the pod
    /// list leave the trailing pods without metrics).
    #[test]
    fn replica_calculator_upstream_cases() {
        let tol = Tolerances::symmetric(0.1);
        let cpu = |current: i32, target: i32, pods: Vec<PodView>| {
            let p = resource_utilization_replicas(current, target, &pods, NOW, tol, TIMINGS, true)
                .unwrap();
            (p.replicas, p.utilization_percent)
        };
        let one = |usage: Option<i64>| pod_with(1000, true, COOL, usage);
        // TestReplicaCalcTolerance: requests 0.9/1.0/1.1, usage 1010/1030/1020 → 3060·100/3000 = 102
        // → 1.02 within 0.1 → 3.
        assert_eq!(
            cpu(
                3,
                100,
                vec![
                    pod_with(900, true, COOL, Some(1010)),
                    pod_with(1000, true, COOL, Some(1030)),
                    pod_with(1100, true, COOL, Some(1020))
                ]
            ),
            (3, 102)
        );
        // TestReplicaCalcMissingMetrics: [400, 95] of 4 → 495·100/2000 = 24 → 0.24; two missing filled
        // at 1000: 2495·100/4000 = 62 → 0.62 → ceil(2.48) = 3.
        assert_eq!(
            cpu(
                4,
                100,
                vec![one(Some(400)), one(Some(95)), one(None), one(None)]
            ),
            (3, 24)
        );
        // NoChangeEq: [1000] of 2 → ratio exactly 1: missing not filled → 1.0 within → 2.
        assert_eq!(cpu(2, 100, vec![one(Some(1000)), one(None)]), (2, 100));
        // NoChangeGt: [1900] → 1.9; missing filled with 0: 1900·100/2000 = 95 → flips below 1 → 2.
        assert_eq!(cpu(2, 100, vec![one(Some(1900)), one(None)]), (2, 190));
        // NoChangeLt: [600] → 0.6; missing filled at 1000: 80 → 0.8 → ceil(1.6) = 2 = current.
        assert_eq!(cpu(2, 100, vec![one(Some(600)), one(None)]), (2, 60));
        // MissingMetricsUnreadyChange: [unready 100, 450, missing], target 50: ready 450·100/1000 = 45
        // → 0.9; missing filled at 1000: 1450·100/2000 = 72 → 1.45 flips above 1 → keep 3.
        assert_eq!(
            cpu(
                3,
                50,
                vec![
                    pod_with(1000, false, COOL, Some(100)),
                    one(Some(450)),
                    one(None)
                ]
            ),
            (3, 45)
        );
        // MissingMetricsHotCpuNoChange: hot pod Ready since its start 2 min ago with a 15 s window
        // counts as ready: (100+450)·100/2000 = 27 → 0.54; missing at 1000: 1550·100/3000 = 51 →
        // 1.02 within tolerance → 3.
        assert_eq!(
            cpu(
                3,
                50,
                vec![
                    pod_with(1000, true, HOT, Some(100)),
                    one(Some(450)),
                    one(None)
                ]
            ),
            (3, 27)
        );
        // MissingMetricsUnreadyScaleUp: [unready 100, 2000, missing]: 2000·100/1000 = 200 → 4; unready
        // and missing filled with 0: 2000·100/3000 = 66 → 1.32 → ceil(3.96) = 4.
        assert_eq!(
            cpu(
                3,
                50,
                vec![
                    pod_with(1000, false, COOL, Some(100)),
                    one(Some(2000)),
                    one(None)
                ]
            ),
            (4, 200)
        );
        // MissingMetricsHotCpuScaleUp: the same with the unready pod still initializing → 4.
        assert_eq!(
            cpu(
                3,
                50,
                vec![
                    pod_with(1000, false, HOT, Some(100)),
                    one(Some(2000)),
                    one(None)
                ]
            ),
            (4, 200)
        );
        // MissingMetricsUnreadyScaleDown: [unready 100, 100, 100, missing]: 200·100/2000 = 10 → 0.2;
        // missing at 1000: 1200·100/3000 = 40 → 0.8 → ceil(2.4) = 3.
        assert_eq!(
            cpu(
                4,
                50,
                vec![
                    pod_with(1000, false, COOL, Some(100)),
                    one(Some(100)),
                    one(Some(100)),
                    one(None)
                ]
            ),
            (3, 10)
        );
        // DuringRollingUpdateWithMaxSurge: 3 pods (one surge) for current 2, [100, 100, missing]: 10 →
        // 0.2; missing at 1000: 40 → 0.8 → ceil(2.4) = 3 > current while scaling down → keep 2.
        assert_eq!(
            cpu(2, 50, vec![one(Some(100)), one(Some(100)), one(None)]),
            (2, 10)
        );
        // ComputedToleranceAlgImplementation: 10 pods using 150m with requests summing to 3000m;
        // target int32((1/(2·0.9) + 0.01)·100) = 56 → 50/56 = 0.893 < 0.9 → ceil(8.93) = 9; with
        // +0.004 the target is 55 → 0.909 within tolerance → 10.
        let requests = [400, 200, 310, 290, 302, 298, 301, 299, 300, 300];
        let pods: Vec<PodView> = requests
            .iter()
            .map(|r| pod_with(*r, true, COOL, Some(150)))
            .collect();
        assert_eq!(cpu(10, 56, pods.clone()), (9, 50));
        assert_eq!(cpu(10, 55, pods), (10, 50));
    }

    /// Tolerance cases for Pods, Object and External metrics (`TestReplicaCalcTolerance*`).
    #[test]
    fn tolerance_upstream_cases_for_other_metric_types() {
        let tol = Tolerances::symmetric(0.1);
        // ToleranceCM: qps 20/21/21 (milli) target 20: avg 62000/3 = 20666 → 1.033 → 3.
        let pods = [pod(Some(20_000)), pod(Some(21_000)), pod(Some(21_000))];
        let p = plain_metric_replicas(3, 20_000, &pods, NOW, tol, TIMINGS, false).unwrap();
        assert_eq!((p.replicas, p.average_milli), (3, 20_666));
        // ToleranceCMObject: value 20666 vs 20000 → 1.033 within → 3.
        assert_eq!(
            usage_ratio_replica_count(3, 20_666.0 / 20_000.0, Some(3), tol),
            Ok(3)
        );
        // TolerancePerPodCMObject: 20166 / (5000 · 4) = 1.008 → 4; reported ceil(20166/4) = 5042.
        assert_eq!(
            average_value_replica_count(20_166, 5_000, 4, tol),
            (4, 5_042)
        );
        // ToleranceCMExternal: 8600 / 8888 = 0.968 within → 3.
        assert_eq!(
            usage_ratio_replica_count(3, 8_600.0 / 8_888.0, Some(3), tol),
            Ok(3)
        );
        // TolerancePerPodCMExternal: 8600 / (2900 · 3) = 0.989 → 3; reported ceil(8600/3) = 2867.
        assert_eq!(
            average_value_replica_count(8_600, 2_900, 3, tol),
            (3, 2_867)
        );
    }

    #[test]
    fn object_and_external_targets() {
        let tol = Tolerances::symmetric(0.1);
        // Value target: ratio 2.5 on 4 ready pods → ceil(2.5·4) = 10; within tolerance → keep.
        assert_eq!(usage_ratio_replica_count(4, 2.5, Some(4), tol), Ok(10));
        assert_eq!(usage_ratio_replica_count(4, 1.05, Some(4), tol), Ok(4));
        // Only 2 of 4 pods ready: ceil(2.5·2) = 5 (ready pods, not current).
        assert_eq!(usage_ratio_replica_count(4, 2.5, Some(2), tol), Ok(5));
        // From zero: ceil(ratio) with no tolerance check: ceil(0.3) = 1 (scale from zero).
        assert_eq!(usage_ratio_replica_count(0, 0.3, None, tol), Ok(1));
        assert_eq!(usage_ratio_replica_count(0, 0.0, None, tol), Ok(0));
        assert_eq!(
            usage_ratio_replica_count(3, 2.0, None, tol),
            Err(CalcError::NoPods)
        );
        // AverageValue: value 90 with target 10 per pod on 3 pods: ratio 90/(10·3) = 3 →
        // ceil(90/10) = 9; average reported ceil(90/3) = 30.
        assert_eq!(
            average_value_replica_count(90_000, 10_000, 3, tol),
            (9, 30_000)
        );
        // 31/(10·3) = 1.033 within tolerance → keep 3.
        assert_eq!(
            average_value_replica_count(31_000, 10_000, 3, tol),
            (3, 10_334)
        );
        // No pods: ratio is infinite → ceil(value/target).
        assert_eq!(average_value_replica_count(25_000, 10_000, 0, tol).0, 3);
    }

    #[test]
    fn external_metrics_sum_their_samples() {
        let tol = Tolerances::symmetric(0.1);
        // TestReplicaCalcScaleUpCMExternal's shape with the value split over two series:
        // 4 400 + 4 200 = 8 600 against 4 400 → 1.95 on 3 ready pods → ceil(5.86) = 6.
        assert_eq!(
            external_metric_replicas(3, &[4_400_000, 4_200_000], 4_400_000, Some(3), tol),
            Ok((6, 8_600_000))
        );
        // TestReplicaCalcScaleUpCMExternalNoLabels / per pod: 8 600 over AverageValue 2 150 on
        // 1 replica → 8 600 / 2 150 = 4 → ceil = 4, average ceil(8 600 / 1) = 8 600.
        assert_eq!(
            external_per_pod_metric_replicas(&[8_000_000, 600_000], 2_150_000, 1, tol),
            Ok((4, 8_600_000))
        );
        // No series matched: upstream's external metrics client error.
        let none = external_metric_replicas(3, &[], 1_000, Some(3), tol);
        assert_eq!(none, Err(CalcError::NoExternalMetrics));
        assert_eq!(
            none.unwrap_err().to_string(),
            "no metrics returned from external metrics API"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            calc(2, 50, &[pod(None), pod(None)]),
            Err(CalcError::NoMetrics)
        );
        let mut no_request = pod(Some(100));
        no_request.request_milli = None;
        assert_eq!(
            calc(1, 50, &[no_request]),
            Err(CalcError::MissingRequest { pod: 0 })
        );
        assert_eq!(
            calc(
                1,
                50,
                &[unready(PodView {
                    start_time: Some(NOW),
                    ..pod(Some(100))
                })]
            ),
            Err(CalcError::NoReadyMetrics)
        );
    }

    /// The Pods-metric ("CM") cases of `replica_calculator_test.go`, exactly as upstream: Pods
    /// metrics pass no resource, so the CPU readiness rules never mark a pod unready.
    #[test]
    fn pods_metric_upstream_cases() {
        let hot_unready = |v: i64| pod_with(1000, false, HOT, Some(v));
        let cool = |v: i64| pod_with(1000, true, COOL, Some(v));
        // ScaleUpCM: avg (20000+10000+30000)/3 = 20000 vs 15000 → 1.333 → ceil(4) = 4.
        assert_eq!(
            plain(3, 15_000, &[cool(20_000), cool(10_000), cool(30_000)]),
            (4, 20_000)
        );
        // ScaleUpCMUnreadyHotCpuNoLessScale: the hot, unready pod still counts: avg 30000 → 2.0
        // → 6.
        assert_eq!(
            plain(
                3,
                15_000,
                &[cool(50_000), cool(10_000), hot_unready(30_000)]
            ),
            (6, 30_000)
        );
        // ScaleUpCMUnreadyHotCpuScaleWouldScaleDown: avg (50000+15000+30000)/3 = 31666 → 2.111
        // → ceil(6.33) = 7.
        assert_eq!(
            plain(
                3,
                15_000,
                &[hot_unready(50_000), cool(15_000), hot_unready(30_000)]
            ),
            (7, 31_666)
        );
        // ScaleDownCM: 5 × 12000 vs 20000 → 0.6 → ceil(3) = 3.
        assert_eq!(plain(5, 20_000, &[cool(12_000); 5]), (3, 12_000));
        // ToleranceCM is in tolerance_upstream_cases_for_other_metric_types.
    }

    /// Upstream's test pods have two containers with the same request each; a pod metric sums
    /// both containers' usage and requests, a ContainerResource metric takes one container.
    fn two_containers(levels: [i64; 2], container: Option<usize>) -> PodView {
        let (usage, request) = match container {
            Some(c) => (levels[c], 1000),
            None => (levels[0] + levels[1], 2000),
        };
        PodView {
            request_milli: Some(request),
            ..pod_with(1000, true, COOL, Some(usage))
        }
    }

    /// Resource metrics of two-container pods and ContainerResource metrics
    /// (`TestReplicaCalc*Container*` and their pod-level twins).
    #[test]
    fn container_resource_upstream_cases() {
        let tol = Tolerances::symmetric(0.1);
        let run = |current: i32, target: i32, pods: Vec<PodView>| {
            let p = resource_utilization_replicas(current, target, &pods, NOW, tol, TIMINGS, true)
                .unwrap();
            (p.replicas, p.utilization_percent, p.raw_average_milli)
        };
        let levels = |l: &[i64], c: Option<usize>| -> Vec<PodView> {
            l.iter().map(|&v| two_containers([v, v], c)).collect()
        };
        // ScaleUp: per pod 2×300, 2×500, 2×700 over 2000 each → 3000·100/6000 = 50 → 50/30 =
        // 1.667 → ceil(1.667·3) = 5; raw average 3000/3 = 1000 (2 containers × 500).
        assert_eq!(run(3, 30, levels(&[300, 500, 700], None)), (5, 50, 1000));
        // ContainerScaleUp: container2 levels {1000,300},{1000,500},{1000,700} over 1000 each →
        // 1500·100/3000 = 50 → 5; raw 500 (container1's 1000s do not count).
        let c2 = |l: &[i64]| -> Vec<PodView> {
            l.iter()
                .map(|&v| two_containers([1000, v], Some(1)))
                .collect()
        };
        assert_eq!(run(3, 30, c2(&[300, 500, 700])), (5, 50, 500));
        // ScaleDown: 2×(100+300+500+250+250) = 2800 over 10000 → 28 → 0.56 → ceil(2.8) = 3;
        // raw 560.
        assert_eq!(
            run(5, 50, levels(&[100, 300, 500, 250, 250], None)),
            (3, 28, 560)
        );
        // ContainerScaleDown: container2 1400 over 5000 → 28 → 3; raw 280.
        assert_eq!(run(5, 50, c2(&[100, 300, 500, 250, 250])), (3, 28, 280));
        // ScaleUpUnreadyLessScale: pod 0 never Ready → unready; (1000+1400)·100/4000 = 60 → 2.0;
        // unready filled with 0: 2400·100/6000 = 40 → 1.333 → ceil(4) = 4; raw 2400/2 = 1200.
        let mut pods = levels(&[300, 500, 700], None);
        pods[0].ready = false;
        pods[0].ready_transition = pods[0].start_time.unwrap();
        assert_eq!(run(3, 30, pods), (4, 60, 1200));
        // ScaleUpContainerHotCpuLessScale: pod 0 started 30 s ago, Ready since start, metric
        // window 60 s → its window began before Ready → unready; container2 (500+700)·100/2000
        // = 60 → 2.0; unready as 0: 1200·100/3000 = 40 → 4; raw 600.
        let mut pods = c2(&[300, 500, 700]);
        let start = NOW.saturating_sub(SimDuration::from_secs(30));
        pods[0].start_time = Some(start);
        pods[0].ready_transition = start;
        pods[0].sample.as_mut().unwrap().window = SimDuration::from_secs(60);
        assert_eq!(run(3, 30, pods), (4, 60, 600));
        // MissingContainerMetricScaleUpIgnoresFailedPods / ScaleUpContainerIgnoresFailedPods:
        // 2 Running pods with container2 500, 700 and 2 Failed pods → 1200·100/2000 = 60 → 2.0
        // → ceil(2·2) = 4; raw 600.
        let mut pods = c2(&[500, 700]);
        for _ in 0..2 {
            pods.push(PodView {
                phase: HpaPodPhase::Failed,
                ..two_containers([1000, 9000], Some(1))
            });
        }
        assert_eq!(run(2, 30, pods.clone()), (4, 60, 600));
        // ScaleUpContainerIgnoresDeletionPods: the same with 2 deleting Running pods (container1).
        for p in &mut pods[2..] {
            p.phase = HpaPodPhase::Running;
            p.deleting = true;
        }
        assert_eq!(run(2, 30, pods), (4, 60, 600));
    }

    /// Memory metrics skip the CPU readiness rules: a Running pod that is not Ready still counts.
    #[test]
    fn memory_counts_running_pods_that_are_not_ready() {
        let tol = Tolerances::symmetric(0.1);
        let gib = 1i64 << 30;
        let mem = |mib: i64| Some((mib << 20) * 1000);
        let pods = vec![
            PodView {
                request_milli: Some(gib * 1000),
                ..pod_with(0, true, COOL, mem(512))
            },
            PodView {
                request_milli: Some(gib * 1000),
                ..pod_with(0, false, COOL, mem(768))
            },
            PodView {
                request_milli: Some(gib * 1000),
                ..pod_with(0, true, COOL, mem(1024))
            },
        ];
        // Memory: (512+768+1024) Mi / 3 Gi = 75 % → 75/50 = 1.5 → ceil(1.5·3) = 5.
        let p = resource_utilization_replicas(3, 50, &pods, NOW, tol, TIMINGS, false).unwrap();
        assert_eq!((p.replicas, p.utilization_percent, p.ready), (5, 75, 3));
        // With the CPU rules the never-Ready pod is unready: (512+1024)/2048 = 75 % → 1.5;
        // unready as 0: 1536/3072 = 50 % → 1.0 within tolerance → keep 3.
        let p = resource_utilization_replicas(3, 50, &pods, NOW, tol, TIMINGS, true).unwrap();
        assert_eq!((p.replicas, p.utilization_percent, p.ready), (3, 75, 2));
        // AverageValue 512Mi per pod on the same pods (no readiness rules): average 768Mi →
        // 1.5 → ceil(4.5) = 5.
        let p =
            plain_metric_replicas(3, (512 << 20) * 1000, &pods, NOW, tol, TIMINGS, false).unwrap();
        assert_eq!((p.replicas, p.average_milli), (5, (768 << 20) * 1000));
    }
}
