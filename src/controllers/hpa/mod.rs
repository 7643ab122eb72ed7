//! The HorizontalPodAutoscaler controller: every sync period, for each HPA, read the target's
//! `spec.replicas`, compute a proposal per metric from what metrics-server returns, take the
//! max, stabilize and rate-limit it (A.4 without `behavior`, A.5 with it), and ask for a
//! rescale when it differs. Each sync yields an [`HpaDecision`] that says why, with the status
//! conditions it leaves.

pub mod behavior;
pub mod calculator;
pub(crate) mod conditions;
pub mod normalize;
pub mod resource_replicas;

use serde::Serialize;

use crate::cluster::quantity::{format_bytes, format_milli};
use crate::cluster::{Cluster, DeploymentId, HpaId, Pod, PodId, PodPhase};
use std::sync::Arc;

use crate::scenario::{
    HpaMetric, HpaResource, HpaSettings, HpaSpec, MetricSeries, ResourceTarget, ValueTarget,
};
use crate::sim::{SimDuration, SimTime};

use super::Intent;
use super::metrics_server::{MetricsServer, PodMetric, PodMetricSource};
use behavior::{RateArgs, ScaleEvents, StabilizationReason, convert_with_rate, store_scale_event};
use calculator::{
    CalcError, CpuTimings, HpaPodPhase, PodView, Sample, Tolerances, average_value_replica_count,
    plain_metric_replicas, usage_ratio_replica_count,
};
use conditions::{AbleToScale, Conditions, ScalingActive};
use normalize::{LimitReason, Recommendation, limit_legacy, stabilize};
use resource_replicas::{ResourceMetrics, resource_replicas};

/// What one sync of one HPA saw and decided.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HpaDecision {
    /// When the sync ran, in simulated seconds since the start of the run.
    pub time_seconds: f64,
    /// The HPA's name.
    pub hpa: Arc<str>,
    /// The target's `spec.replicas` at the sync (0 when the target does not exist).
    pub current_replicas: i32,
    /// Per metric: the proposal or why there is none.
    pub metrics: Vec<MetricOutcome>,
    /// Max of the valid proposals (before stabilization).
    pub proposed_replicas: Option<i32>,
    /// The proposal after stabilization over the remembered recommendations (`current_replicas`
    /// when there was no proposal).
    pub stabilized_replicas: i32,
    /// Set when stabilization changed the proposal (the `AbleToScale` reason).
    pub stabilization_reason: Option<StabilizationReason>,
    /// Whether stabilization changed `desired_replicas`: without it the limits would have
    /// given another count. (False when, say, the window keeps 1 where `minReplicas` 1 would
    /// have raised a proposal of 0 to 1 anyway.) Not in `hpa_decisions.jsonl`.
    #[serde(skip)]
    pub stabilization_changed_desired: bool,
    /// What the HPA sets the target's replicas to (`status.desiredReplicas`): the stabilized
    /// proposal within the rate limits and `minReplicas`..`maxReplicas` (`current_replicas` when
    /// `skipped`).
    pub desired_replicas: i32,
    /// The `ScalingLimited` reason for `desired_replicas` (`None` when `skipped`).
    pub limit_reason: Option<LimitReason>,
    /// Why nothing was computed, when that is the case.
    pub skipped: Option<String>,
    /// `status.conditions` after this sync.
    pub conditions: Conditions,
}

/// What one metric came to in one HPA sync: its proposal or its error, and the pods counted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricOutcome {
    /// The metric as records show it (`CPU`, `memory of container app`, `pods queue_length`).
    pub metric: Arc<str>,
    /// Its target as records show it (`60% utilization`, `500m per pod`; empty for a metric type
    /// kubesim does not model).
    pub target: Arc<str>,
    /// What the milli-values measure.
    pub unit: Unit,
    /// The replicas this metric proposes (`None`: it failed, see `error`).
    pub replicas: Option<i32>,
    /// `currentAverageUtilization` for a Utilization target: usage as a percentage of the pods'
    /// requests.
    pub utilization_percent: Option<i32>,
    /// The average value per pod (milli-units; for CPU, millicores).
    pub average_value_milli: Option<i64>,
    /// The metric's total value, for Value targets (milli-units).
    pub value_milli: Option<i64>,
    /// Pods counted with their metric (Object and External metrics: the Running and Ready pods).
    pub ready_pods: usize,
    /// Pods whose metric was left out as unready (counted at 0 when scaling up).
    pub unready_pods: usize,
    /// Pods without a metric (counted at 0 or at the target, whichever holds the change back).
    pub missing_pods: usize,
    /// Pods ignored altogether (deleting, or failed).
    pub ignored_pods: usize,
    /// Why the metric proposes nothing, worded as upstream's `ScalingActive` message (`None`: it
    /// proposes).
    pub error: Option<String>,
}

/// What a metric's milli-values measure: CPU (millicores), memory (bytes × 1000), or a count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// CPU: millicores.
    Cpu,
    /// Memory: bytes × 1000.
    Bytes,
    /// A plain number (Pods, Object and External metrics), in thousandths.
    Count,
}

impl Unit {
    /// A milli-value the way a Kubernetes quantity would be written: `500m`, `2`, `256Mi`,
    /// `1.5`.
    pub fn format(self, milli: i64) -> String {
        match self {
            Unit::Cpu if milli % 1000 != 0 => format!("{milli}m"),
            Unit::Cpu | Unit::Count => format_milli(milli),
            Unit::Bytes => format_bytes(milli / 1000),
        }
    }
}

/// Per-HPA controller state (the recommendation history lives only in memory, as upstream).
#[derive(Clone, Debug)]
pub struct HpaController {
    settings: HpaSettings,
    histories: Vec<Vec<Recommendation>>,
    events: Vec<ScaleEvents>,
    /// Scripted series behind External and Object metrics.
    series: Vec<MetricSeries>,
    /// Per HPA: its name, and per metric its (metric, target) labels — shared by every decision
    /// record instead of formatted at each sync.
    names: Vec<Arc<str>>,
    labels: Vec<Vec<MetricLabels>>,
    /// Per HPA, its target's name when the target is missing (for FailedGetScale).
    missing_targets: Vec<Option<Arc<str>>>,
}

/// How a metric reads in records (`"CPU"`, `"60% utilization"`), shared by every record.
#[derive(Clone, Debug)]
struct MetricLabels {
    metric: Arc<str>,
    target: Arc<str>,
    unit: Unit,
    /// The `ScalingActive` reason when it fails.
    failure_reason: &'static str,
}

impl HpaController {
    /// An HPA's spec changed (`kubectl apply`): its metrics' labels follow. Its recommendation
    /// history and scale events stay, as the controller keeps them across updates.
    pub fn respec(&mut self, hpa: HpaId, spec: &HpaSpec) {
        self.labels[hpa.index()] = spec.metrics.iter().map(metric_labels).collect();
    }

    /// The recommendations `hpa` remembers for its downscale stabilization window (oldest
    /// first), as upstream's `recommendations` map holds them.
    pub fn recommendations(&self, hpa: HpaId) -> &[Recommendation] {
        &self.histories[hpa.index()]
    }

    /// Seeds `hpa`'s remembered recommendations, e.g. to replay a controller that has been
    /// running: the next sync stabilizes over them.
    ///
    /// ```
    /// use kubesim::controllers::hpa::HpaController;
    /// use kubesim::controllers::hpa::normalize::Recommendation;
    /// use kubesim::sim::SimTime;
    /// use kubesim::spec::ids::HpaId;
    /// use kubesim::spec::model::{HpaSettings, HpaSpec};
    /// let hpa = HpaSpec {
    ///     name: "web".into(),
    ///     namespace: "default".into(),
    ///     target: Some(0),
    ///     target_name: "web".into(),
    ///     min_replicas: 1,
    ///     max_replicas: 10,
    ///     metrics: Vec::new(),
    ///     behavior: None,
    ///     keda: None,
    /// };
    /// let mut controller = HpaController::new(HpaSettings::default(), &[hpa], Vec::new());
    /// assert!(controller.recommendations(HpaId(0)).is_empty());
    /// // A controller that recommended 8 a minute in: a sync within the 5-minute downscale
    /// // stabilization window keeps at least 8.
    /// let seen = vec![Recommendation { replicas: 8, timestamp: SimTime::from_secs(60) }];
    /// controller.set_recommendations(HpaId(0), seen.clone());
    /// assert_eq!(controller.recommendations(HpaId(0)), seen.as_slice());
    /// ```
    pub fn set_recommendations(&mut self, hpa: HpaId, recommendations: Vec<Recommendation>) {
        self.histories[hpa.index()] = recommendations;
    }

    /// The scale events `hpa` remembers for its behavior's rate policies.
    pub fn scale_events(&self, hpa: HpaId) -> &ScaleEvents {
        &self.events[hpa.index()]
    }

    /// Seeds `hpa`'s remembered scale events (upstream's `scaleUpEvents` / `scaleDownEvents`).
    pub fn set_scale_events(&mut self, hpa: HpaId, events: ScaleEvents) {
        self.events[hpa.index()] = events;
    }

    /// A controller for `hpas` (indexed by [`HpaId`]) with no recommendation or scale event
    /// yet; `series` are the scripted Object/External metric values the HPAs' metrics name.
    pub fn new(settings: HpaSettings, hpas: &[HpaSpec], series: Vec<MetricSeries>) -> Self {
        HpaController {
            settings,
            histories: vec![Vec::new(); hpas.len()],
            events: vec![ScaleEvents::default(); hpas.len()],
            series,
            names: hpas.iter().map(|h| Arc::from(h.name.as_str())).collect(),
            labels: hpas
                .iter()
                .map(|h| h.metrics.iter().map(metric_labels).collect())
                .collect(),
            missing_targets: hpas
                .iter()
                .map(|h| {
                    h.target
                        .is_none()
                        .then(|| Arc::from(h.target_name.as_str()))
                })
                .collect(),
        }
    }

    /// One `reconcileAutoscaler` for `hpa`; returns the decision and, on rescale, the intent.
    pub fn sync(
        &mut self,
        hpa: HpaId,
        cluster: &Cluster,
        metrics: &MetricsServer,
        now: SimTime,
    ) -> (HpaDecision, Option<Intent>) {
        let h = &cluster.hpas[hpa.index()];
        let Some(target) = h.target else {
            return (self.failed_get_scale(hpa, now), None);
        };
        let current = cluster.deployment(target).replicas;
        let history = &mut self.histories[hpa.index()];
        if history.is_empty() {
            history.push(Recommendation {
                replicas: current,
                timestamp: now,
            });
        }
        let mut decision = self.blank_decision(hpa, now, current);
        let (min, max) = (h.spec.min_replicas, h.spec.max_replicas);
        if current == 0 && min != 0 {
            decision.skipped =
                Some("scaling is disabled since the replica count of the target is zero".into());
            decision.conditions.scaling_active = Some(ScalingActive::ScalingDisabled);
        } else if current > max {
            decision.desired_replicas = max;
            decision.limit_reason = Some(LimitReason::TooManyReplicas);
        } else if current < min {
            decision.desired_replicas = min;
            decision.limit_reason = Some(LimitReason::TooFewReplicas);
        } else {
            self.compute(hpa, cluster, metrics, now, &mut decision);
        }
        let rescale = decision.desired_replicas != current;
        if rescale {
            store_scale_event(
                &mut self.events[hpa.index()],
                h.spec.behavior.as_ref(),
                current,
                decision.desired_replicas,
                now,
            );
        }
        let c = &mut decision.conditions;
        c.scaling_limited = decision.limit_reason;
        c.able_to_scale = if rescale {
            AbleToScale::SucceededRescale {
                replicas: decision.desired_replicas,
            }
        } else if let Some(reason) = decision.stabilization_reason {
            AbleToScale::Stabilized(reason)
        } else {
            AbleToScale::ReadyForNewScale
        };
        let intent = rescale.then_some(Intent::ScaleDeployment {
            deployment: target,
            replicas: decision.desired_replicas,
        });
        (decision, intent)
    }

    /// A decision that changes nothing yet.
    fn blank_decision(&self, hpa: HpaId, now: SimTime, current: i32) -> HpaDecision {
        HpaDecision {
            time_seconds: now.as_secs_f64(),
            hpa: self.names[hpa.index()].clone(),
            current_replicas: current,
            metrics: Vec::new(),
            proposed_replicas: None,
            stabilized_replicas: current,
            stabilization_reason: None,
            stabilization_changed_desired: false,
            desired_replicas: current,
            limit_reason: None,
            skipped: None,
            conditions: Conditions {
                able_to_scale: AbleToScale::ReadyForNewScale,
                scaling_active: None,
                scaling_limited: None,
            },
        }
    }

    /// The sync of an HPA whose target does not exist: `AbleToScale=False/FailedGetScale`.
    fn failed_get_scale(&self, hpa: HpaId, now: SimTime) -> HpaDecision {
        let name = self.missing_targets[hpa.index()]
            .clone()
            .unwrap_or_else(|| Arc::from(""));
        let mut d = self.blank_decision(hpa, now, 0);
        d.skipped = Some(format!(
            "the target Deployment {name:?} does not exist (FailedGetScale)"
        ));
        d.conditions.able_to_scale = AbleToScale::FailedGetScale {
            kind: "deployments.apps",
            name,
        };
        d
    }

    fn compute(
        &mut self,
        hpa: HpaId,
        cluster: &Cluster,
        metrics: &MetricsServer,
        now: SimTime,
        d: &mut HpaDecision,
    ) {
        let h = &cluster.hpas[hpa.index()];
        let current = d.current_replicas;
        let mut any_failed = false;
        let tolerances = self.tolerances(hpa, cluster);
        let ctx = MetricContext {
            cluster,
            hpa,
            metrics,
            now,
            current,
            tolerances,
        };
        let mut first_failure: Option<usize> = None;
        let mut winner: Option<usize> = None;
        for (index, metric) in h.spec.metrics.iter().enumerate() {
            let outcome = self.metric_outcome(metric, index, &ctx);
            match outcome.replicas {
                None => {
                    any_failed = true;
                    first_failure.get_or_insert(index);
                }
                Some(r) if d.proposed_replicas.is_none_or(|p| r > p) => {
                    d.proposed_replicas = Some(r);
                    winner = Some(index);
                }
                Some(_) => {}
            }
            d.metrics.push(outcome);
        }
        let labels = &self.labels[hpa.index()];
        let failed = |i: usize| ScalingActive::FailedGetMetric {
            reason: labels[i].failure_reason,
            error: d.metrics[i].error.clone().unwrap_or_default(),
        };
        let Some(proposed) = d.proposed_replicas else {
            d.conditions.scaling_active = first_failure.map(failed);
            d.skipped = Some("no metric produced a recommendation (ScalingActive=False)".into());
            return;
        };
        if any_failed && proposed < current {
            d.conditions.scaling_active = first_failure.map(failed);
            d.skipped = Some("some metrics failed and the rest propose fewer replicas: not scaling down on partial data".into());
            return;
        }
        d.conditions.scaling_active = winner.map(|i| ScalingActive::ValidMetricFound {
            metric: labels[i].metric.clone(),
        });
        self.normalize(hpa, cluster, now, proposed, d);
    }

    /// Stabilizes and rate-limits `proposed` (A.5 with `behavior`, else A.4).
    fn normalize(
        &mut self,
        hpa: HpaId,
        cluster: &Cluster,
        now: SimTime,
        proposed: i32,
        d: &mut HpaDecision,
    ) {
        let spec = &cluster.hpas[hpa.index()].spec;
        let current = d.current_replicas;
        let history = &mut self.histories[hpa.index()];
        let (stabilized, stabilization_reason) = match &spec.behavior {
            Some(behavior) => {
                let up_window = behavior
                    .scale_up
                    .stabilization_window
                    .unwrap_or(SimDuration::ZERO);
                let down_window = behavior
                    .scale_down
                    .stabilization_window
                    .unwrap_or(self.settings.downscale_stabilization);
                behavior::stabilize(history, current, proposed, now, up_window, down_window)
            }
            None => (
                stabilize(
                    history,
                    proposed,
                    now,
                    self.settings.downscale_stabilization,
                ),
                StabilizationReason::ScaleDownStabilized,
            ),
        };
        let (desired, reason) = self.limit(hpa, spec, current, stabilized, now);
        d.stabilized_replicas = stabilized;
        d.stabilization_reason = (stabilized != proposed).then_some(stabilization_reason);
        d.stabilization_changed_desired =
            stabilized != proposed && self.limit(hpa, spec, current, proposed, now).0 != desired;
        d.desired_replicas = desired;
        d.limit_reason = Some(reason);
    }

    /// `desired` within the rate limits (with `behavior`) and `minReplicas`..`maxReplicas`.
    fn limit(
        &self,
        hpa: HpaId,
        spec: &HpaSpec,
        current: i32,
        desired: i32,
        now: SimTime,
    ) -> (i32, LimitReason) {
        let Some(behavior) = &spec.behavior else {
            return limit_legacy(current, desired, spec.min_replicas, spec.max_replicas);
        };
        let events = &self.events[hpa.index()];
        convert_with_rate(&RateArgs {
            current,
            desired,
            min: spec.min_replicas,
            max: spec.max_replicas,
            up_events: &events.up,
            down_events: &events.down,
            behavior,
            now,
        })
    }

    /// The global tolerance, overridden per direction by `behavior.scaleUp/scaleDown.tolerance`.
    fn tolerances(&self, hpa: HpaId, cluster: &Cluster) -> Tolerances {
        let global = self.settings.tolerance;
        let behavior = cluster.hpas[hpa.index()].spec.behavior.as_ref();
        Tolerances {
            scale_up: behavior
                .and_then(|b| b.scale_up.tolerance)
                .unwrap_or(global),
            scale_down: behavior
                .and_then(|b| b.scale_down.tolerance)
                .unwrap_or(global),
        }
    }

    fn metric_outcome(
        &self,
        metric: &HpaMetric,
        index: usize,
        ctx: &MetricContext,
    ) -> MetricOutcome {
        let timings = CpuTimings {
            cpu_initialization_period: self.settings.cpu_initialization_period,
            initial_readiness_delay: self.settings.initial_readiness_delay,
        };
        let labels = &self.labels[ctx.hpa.index()][index];
        let mut outcome = MetricOutcome::new(labels);
        match metric {
            HpaMetric::Resource {
                resource,
                container,
                target,
            } => resource_outcome(
                outcome,
                *resource,
                container.as_deref(),
                *target,
                ctx,
                timings,
            ),
            HpaMetric::Pods {
                metric,
                source,
                target_milli,
            } => {
                let source = source.expect("validation resolves every Pods metric");
                let pods = pod_views(ctx, |_| None, |pod| ctx.metrics.custom_metric(pod, source));
                let word = |e: &CalcError| custom_metric_error(e, metric);
                plain_outcome(outcome, &pods, *target_milli, ctx, timings, false, word)
            }
            HpaMetric::External {
                series,
                from_pods: Some(source),
                target,
                ..
            } => {
                let _ = series;
                match pods_sum(ctx, *source) {
                    Some(value_milli) => value_outcome(outcome, value_milli, *target, ctx),
                    None => {
                        outcome.error = Some("no pod reports the metric yet".into());
                        outcome
                    }
                }
            }
            HpaMetric::External { series, target, .. }
            | HpaMetric::Object { series, target, .. } => {
                let value_milli = self.series_value(*series, ctx);
                value_outcome(outcome, value_milli, *target, ctx)
            }
            HpaMetric::Unsupported { .. } => {
                outcome.error = Some("metric type not modelled".into());
                outcome
            }
        }
    }
}

impl HpaController {
    /// The value of HPA `hpa`'s External metric `index` now, in milli-units, as a KEDA scaler
    /// reads it for activity: the sum over the target's pods (0 when none reports it, the
    /// prometheus scaler's `ignoreNullValues`) or the scripted series' value. `None` for a
    /// metric of another type.
    pub fn external_value(
        &self,
        hpa: HpaId,
        index: usize,
        cluster: &Cluster,
        metrics: &MetricsServer,
        now: SimTime,
    ) -> Option<i64> {
        let h = &cluster.hpas[hpa.index()];
        let ctx = MetricContext {
            cluster,
            hpa,
            metrics,
            now,
            current: h.target.map_or(0, |t| cluster.deployment(t).replicas),
            tolerances: self.tolerances(hpa, cluster),
        };
        match h.spec.metrics.get(index)? {
            HpaMetric::External {
                from_pods: Some(source),
                ..
            } => Some(pods_sum(&ctx, *source).unwrap_or(0)),
            HpaMetric::External { series, .. } => Some(self.series_value(*series, &ctx)),
            _ => None,
        }
    }

    fn series_value(&self, series: Option<usize>, ctx: &MetricContext) -> i64 {
        let series = &self.series[series.expect("validation resolves every series")];
        (series.value_at(ctx.now) * 1000.0).round() as i64
    }
}

/// An External metric that sums a serving metric over the target's pods (an adapter's
/// `sum(vllm:num_requests_waiting)`), in milli-units; `None` when no pod reports it yet.
fn pods_sum(ctx: &MetricContext, source: PodMetricSource) -> Option<i64> {
    let views = pod_views(ctx, |_| None, |pod| ctx.metrics.custom_metric(pod, source));
    let samples: Vec<i64> = views
        .iter()
        .filter_map(|v| v.sample.map(|s| s.value_milli))
        .collect();
    (!samples.is_empty()).then(|| samples.iter().sum())
}

/// An Object or External metric's outcome for its value: a `Value` target compares it with
/// the target, an `AverageValue` target divides it over the target's replicas.
fn value_outcome(
    mut outcome: MetricOutcome,
    value_milli: i64,
    target: ValueTarget,
    ctx: &MetricContext,
) -> MetricOutcome {
    let (ready, status) = ready_and_status_replicas(ctx);
    outcome.ready_pods = ready.unwrap_or(0);
    match target {
        ValueTarget::Value(t) => {
            outcome.value_milli = Some(value_milli);
            match usage_ratio_replica_count(
                ctx.current,
                value_milli as f64 / t as f64,
                ready,
                ctx.tolerances,
            ) {
                Ok(r) => outcome.replicas = Some(r),
                Err(e) => outcome.error = Some(e.to_string()),
            }
        }
        ValueTarget::AverageValue(t) => {
            let (replicas, average) =
                average_value_replica_count(value_milli, t, status, ctx.tolerances);
            outcome.average_value_milli = Some(average);
            outcome.replicas = Some(replicas);
        }
    }
    outcome
}

/// (Running and Ready pods, or `None` when the selector matches no pod; the target's
/// `status.replicas`, its pods that are not terminating).
fn ready_and_status_replicas(ctx: &MetricContext) -> (Option<usize>, i32) {
    let cluster = ctx.cluster;
    let h = &cluster.hpas[ctx.hpa.index()];
    let mut listed = 0;
    let mut ready = 0;
    for &dep in &h.selected {
        for &rs in &cluster.deployment(dep).replica_sets {
            for pod in cluster.pods_of(rs) {
                listed += 1;
                ready += usize::from(pod.phase == PodPhase::Running && pod.ready);
            }
        }
    }
    let target = cluster.deployment(
        h.target
            .expect("metrics are only read for an existing target"),
    );
    let status: usize = target
        .replica_sets
        .iter()
        .map(|rs| cluster.replica_sets[rs.index()].pods.len())
        .sum();
    ((listed > 0).then_some(ready), status as i32)
}

/// What one metric evaluation needs to see.
struct MetricContext<'a> {
    cluster: &'a Cluster,
    hpa: HpaId,
    metrics: &'a MetricsServer,
    now: SimTime,
    current: i32,
    tolerances: Tolerances,
}

impl MetricOutcome {
    fn new(labels: &MetricLabels) -> Self {
        MetricOutcome {
            metric: labels.metric.clone(),
            target: labels.target.clone(),
            unit: labels.unit,
            replicas: None,
            utilization_percent: None,
            average_value_milli: None,
            value_milli: None,
            ready_pods: 0,
            unready_pods: 0,
            missing_pods: 0,
            ignored_pods: 0,
            error: None,
        }
    }

    fn counted(
        &mut self,
        replicas: i32,
        (ready, unready, missing, ignored): (usize, usize, usize, usize),
    ) {
        self.replicas = Some(replicas);
        (
            self.ready_pods,
            self.unready_pods,
            self.missing_pods,
            self.ignored_pods,
        ) = (ready, unready, missing, ignored);
    }
}

/// A Resource or ContainerResource metric: the utilization path for a Utilization target, the
/// plain path for AverageValue; the CPU readiness rules apply to cpu only.
fn resource_outcome(
    mut outcome: MetricOutcome,
    resource: HpaResource,
    container: Option<&str>,
    target: ResourceTarget,
    ctx: &MetricContext,
    timings: CpuTimings,
) -> MetricOutcome {
    let serving = |dep: DeploymentId| {
        let spec = &ctx.cluster.deployment(dep).spec;
        container.is_none_or(|c| spec.serving_container() == Some(c))
    };
    let selected = &ctx.cluster.hpas[ctx.hpa.index()].selected;
    let has_container = container.is_none_or(|c| {
        selected
            .iter()
            .any(|&d| ctx.cluster.deployment(d).spec.pod.has_container(c))
    });
    // Errors read like upstream's: "failed to get cpu utilization: …".
    let what = match target {
        ResourceTarget::Utilization(_) => "utilization",
        ResourceTarget::AverageValue(_) => "usage",
    };
    let with_context = |e: String| format!("failed to get {} {what}: {e}", resource.as_str());
    if !has_container {
        outcome.error = Some(with_context(format!(
            "{} (no container {:?} in the target's pods)",
            resource_error(&CalcError::NoMetrics, resource, container, ctx),
            container.unwrap_or_default()
        )));
        return outcome;
    }
    // Only the serving container uses CPU and memory; a named other container reports zero.
    let sample = |pod: PodId| {
        let dep = ctx.cluster.pods[pod.index()].deployment;
        let m = ctx.metrics.resource_metric(pod, resource)?;
        Some(if serving(dep) {
            m
        } else {
            PodMetric {
                value_milli: 0,
                ..m
            }
        })
    };
    // Each pod's own request: a rollout may change it between ReplicaSets.
    let request = |pod: &Pod| pod.template.hpa_request_milli(resource, container);
    let pods = pod_views(ctx, request, sample);
    let cpu_readiness = resource == HpaResource::Cpu;
    let word = |e: &CalcError| resource_error(e, resource, container, ctx);
    match target {
        ResourceTarget::Utilization(percent) => match resource_replicas(
            // The simulated metrics API and pod list never disagree: no unknown pods.
            ResourceMetrics {
                resource,
                pods: &pods,
                unknown_pod_samples: 0,
            },
            ctx.current,
            percent,
            ctx.now,
            ctx.tolerances,
            timings,
        ) {
            Ok(p) => {
                outcome.utilization_percent = Some(p.utilization_percent);
                outcome.average_value_milli = Some(p.raw_average_milli);
                outcome.counted(p.replicas, (p.ready, p.unready, p.missing, p.ignored));
            }
            Err(e) => outcome.error = Some(word(&e)),
        },
        ResourceTarget::AverageValue(milli) => {
            outcome = plain_outcome(outcome, &pods, milli, ctx, timings, cpu_readiness, word);
        }
    }
    outcome.error = outcome.error.take().map(with_context);
    outcome
}

/// A Resource metric's calculator error as upstream's `GetResourceReplicas` and
/// `calculatePodRequests` word it.
fn resource_error(
    e: &CalcError,
    resource: HpaResource,
    container: Option<&str>,
    ctx: &MetricContext,
) -> String {
    let name = resource.as_str();
    match e {
        CalcError::NoMetrics => format!("unable to get metrics for resource {name}: {e}"),
        CalcError::MissingRequest { pod } => selected_pods(ctx)
            .nth(*pod)
            .and_then(|pod| {
                let c = pod
                    .template
                    .container_missing_request(resource, container)?;
                Some(format!(
                    "missing request for {name} in container {c} of Pod {}",
                    pod.name
                ))
            })
            .unwrap_or_else(|| e.to_string()),
        _ => e.to_string(),
    }
}

/// A Pods metric's calculator error as upstream's `GetMetricReplicas` words it.
fn custom_metric_error(e: &CalcError, metric: &str) -> String {
    match e {
        CalcError::NoMetrics => {
            format!("unable to get metric {metric}: no metrics returned from custom metrics API")
        }
        _ => e.to_string(),
    }
}

/// Evaluates an AverageValue target with `calcPlainMetricReplicas`; `word` says an error as
/// upstream does for the metric's source.
fn plain_outcome(
    mut outcome: MetricOutcome,
    pods: &[PodView],
    target_milli: i64,
    ctx: &MetricContext,
    timings: CpuTimings,
    cpu_readiness: bool,
    word: impl Fn(&CalcError) -> String,
) -> MetricOutcome {
    match plain_metric_replicas(
        ctx.current,
        target_milli,
        pods,
        ctx.now,
        ctx.tolerances,
        timings,
        cpu_readiness,
    ) {
        Ok(p) => {
            outcome.average_value_milli = Some(p.average_milli);
            outcome.counted(p.replicas, (p.ready, p.unready, p.missing, p.ignored));
        }
        Err(e) => outcome.error = Some(word(&e)),
    }
    outcome
}

/// How a metric and its target read in decision records (`"CPU"`, `"60% utilization"`).
fn metric_labels(metric: &HpaMetric) -> MetricLabels {
    let per_pod = |milli: i64, unit: Unit| format!("{} per pod", unit.format(milli));
    let value_target = |t: &ValueTarget| match t {
        ValueTarget::Value(v) => Unit::Count.format(*v),
        ValueTarget::AverageValue(v) => per_pod(*v, Unit::Count),
    };
    let (metric, target, unit, failure_reason) = match metric {
        HpaMetric::Resource {
            resource,
            container,
            target,
        } => {
            let (name, unit) = match resource {
                HpaResource::Cpu => ("CPU", Unit::Cpu),
                HpaResource::Memory => ("memory", Unit::Bytes),
            };
            let (label, reason) = match container {
                Some(c) => (
                    format!("{name} of container {c}"),
                    "FailedGetContainerResourceMetric",
                ),
                None => (name.to_string(), "FailedGetResourceMetric"),
            };
            let target = match target {
                ResourceTarget::Utilization(p) => format!("{p}% utilization"),
                ResourceTarget::AverageValue(v) => per_pod(*v, unit),
            };
            (label, target, unit, reason)
        }
        HpaMetric::Pods {
            metric,
            target_milli,
            ..
        } => (
            format!("pods {metric}"),
            per_pod(*target_milli, Unit::Count),
            Unit::Count,
            "FailedGetPodsMetric",
        ),
        HpaMetric::External { metric, target, .. } => (
            format!("external {metric}"),
            value_target(target),
            Unit::Count,
            "FailedGetExternalMetric",
        ),
        HpaMetric::Object { metric, target, .. } => (
            format!("object {metric}"),
            value_target(target),
            Unit::Count,
            "FailedGetObjectMetric",
        ),
        HpaMetric::Unsupported { description } => (
            description.clone(),
            String::new(),
            Unit::Count,
            "InvalidMetricSourceType",
        ),
    };
    MetricLabels {
        metric: Arc::from(metric),
        target: Arc::from(target),
        unit,
        failure_reason,
    }
}

/// The pods the HPA's selector picks (every non-terminated pod of the selected Deployments),
/// in the order the calculator sees them.
fn selected_pods<'a>(ctx: &MetricContext<'a>) -> impl Iterator<Item = &'a Pod> + use<'a> {
    let cluster = ctx.cluster;
    let ids = cluster.hpas[ctx.hpa.index()]
        .selected
        .iter()
        .flat_map(move |&dep| &cluster.deployment(dep).replica_sets)
        .flat_map(move |&rs| cluster.pod_ids_of(rs));
    // A sync reads every selected pod and its metrics, scattered over memory: ask for them a few
    // pods ahead.
    let metrics = ctx.metrics;
    let warm = move |&pod: &PodId| {
        crate::sim::prefetch_first_line(&cluster.pods[pod.index()]);
        metrics.warm(pod);
    };
    crate::sim::warm_ahead(ids, warm).map(move |pod| &cluster.pods[pod.index()])
}

/// [`selected_pods`], each with its request from `request` and this metric's sample from
/// `sample`.
fn pod_views(
    ctx: &MetricContext,
    request: impl Fn(&Pod) -> Option<i64>,
    sample: impl Fn(PodId) -> Option<PodMetric>,
) -> Vec<PodView> {
    selected_pods(ctx)
        .map(|pod| PodView {
            phase: if pod.phase == PodPhase::Running {
                HpaPodPhase::Running
            } else {
                HpaPodPhase::Pending
            },
            deleting: pod.deletion.is_some(),
            ready: pod.ready,
            ready_transition: pod.ready_transition,
            start_time: pod.started,
            request_milli: request(pod),
            sample: sample(pod.id).map(|m| Sample {
                value_milli: m.value_milli,
                timestamp: m.timestamp,
                window: m.window,
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> HpaSpec {
        HpaSpec {
            name: name.into(),
            namespace: "default".into(),
            target: None,
            target_name: "web".into(),
            min_replicas: 1,
            max_replicas: 10,
            metrics: Vec::new(),
            behavior: None,
            keda: None,
        }
    }

    #[test]
    fn recommendations_and_scale_events_can_be_seeded_and_read() {
        let hpas = [spec("a"), spec("b")];
        let mut c = HpaController::new(HpaSettings::default(), &hpas, Vec::new());
        let (a, b) = (HpaId(0), HpaId(1));
        assert!(c.recommendations(a).is_empty());
        assert_eq!(c.scale_events(b), &ScaleEvents::default());
        let seeded = vec![
            Recommendation {
                replicas: 7,
                timestamp: SimTime::from_secs(100),
            },
            Recommendation {
                replicas: 4,
                timestamp: SimTime::from_secs(115),
            },
        ];
        c.set_recommendations(a, seeded.clone());
        let events = ScaleEvents {
            up: vec![behavior::ScaleEvent {
                change: 3,
                timestamp: SimTime::from_secs(90),
                outdated: false,
            }],
            down: Vec::new(),
        };
        c.set_scale_events(b, events.clone());
        assert_eq!(c.recommendations(a), seeded.as_slice());
        assert!(c.recommendations(b).is_empty(), "each HPA keeps its own");
        assert_eq!(c.scale_events(b), &events);
    }
}
