//! The HorizontalPodAutoscaler controller: every sync period, for each HPA, read the target's
//! `spec.replicas`, compute a proposal per metric from what metrics-server returns, take the
//! max, stabilize and rate-limit it (legacy path, A.4), and ask for a rescale when it differs.
//! Each sync yields an [`HpaDecision`] that says why.

pub mod behavior;
pub mod calculator;
pub mod normalize;

use serde::Serialize;

use crate::cluster::{Cluster, HpaId, PodId, PodPhase};
use std::sync::Arc;

use crate::scenario::{HpaMetric, HpaSettings, HpaSpec, MetricSeries, ValueTarget};
use crate::sim::{SimDuration, SimTime};

use super::Intent;
use super::metrics_server::{MetricsServer, PodMetric};
use behavior::{RateArgs, ScaleEvents, StabilizationReason, convert_with_rate, store_scale_event};
use calculator::{
    CpuTimings, HpaPodPhase, PodView, Sample, Tolerances, average_value_replica_count,
    cpu_utilization_replicas, plain_metric_replicas, usage_ratio_replica_count,
};
use normalize::{LimitReason, Recommendation, limit_legacy, stabilize};

/// What one sync of one HPA saw and decided.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HpaDecision {
    pub time_seconds: f64,
    pub hpa: Arc<str>,
    pub current_replicas: i32,
    /// Per metric: the proposal or why there is none.
    pub metrics: Vec<MetricOutcome>,
    /// Max of the valid proposals (before stabilization).
    pub proposed_replicas: Option<i32>,
    pub stabilized_replicas: i32,
    /// Set when stabilization changed the proposal (the `AbleToScale` reason).
    pub stabilization_reason: Option<StabilizationReason>,
    pub desired_replicas: i32,
    pub limit_reason: Option<LimitReason>,
    /// Why nothing was computed, when that is the case.
    pub skipped: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricOutcome {
    pub metric: Arc<str>,
    pub target: Arc<str>,
    pub replicas: Option<i32>,
    pub utilization_percent: Option<i32>,
    /// The average value per pod (milli-units; for CPU, millicores).
    pub average_value_milli: Option<i64>,
    /// The metric's total value, for Value targets (milli-units).
    pub value_milli: Option<i64>,
    pub ready_pods: usize,
    pub unready_pods: usize,
    pub missing_pods: usize,
    pub ignored_pods: usize,
    pub error: Option<String>,
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
    labels: Vec<Vec<(Arc<str>, Arc<str>)>>,
}

impl HpaController {
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
        let current = cluster.deployment(h.target).replicas;
        let history = &mut self.histories[hpa.index()];
        if history.is_empty() {
            history.push(Recommendation {
                replicas: current,
                timestamp: now,
            });
        }
        let mut decision = HpaDecision {
            time_seconds: now.as_secs_f64(),
            hpa: self.names[hpa.index()].clone(),
            current_replicas: current,
            metrics: Vec::new(),
            proposed_replicas: None,
            stabilized_replicas: current,
            stabilization_reason: None,
            desired_replicas: current,
            limit_reason: None,
            skipped: None,
        };
        let (min, max) = (h.spec.min_replicas, h.spec.max_replicas);
        if current == 0 && min != 0 {
            decision.skipped =
                Some("scaling is disabled since the replica count of the target is zero".into());
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
        if let (true, Some(behavior)) = (rescale, &h.spec.behavior) {
            store_scale_event(
                &mut self.events[hpa.index()],
                behavior,
                current,
                decision.desired_replicas,
                now,
            );
        }
        let intent = rescale.then_some(Intent::ScaleDeployment {
            deployment: h.target,
            replicas: decision.desired_replicas,
        });
        (decision, intent)
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
        for (index, metric) in h.spec.metrics.iter().enumerate() {
            let outcome = self.metric_outcome(metric, index, &ctx);
            any_failed |= outcome.replicas.is_none();
            if let Some(r) = outcome.replicas {
                d.proposed_replicas = Some(d.proposed_replicas.map_or(r, |p| p.max(r)));
            }
            d.metrics.push(outcome);
        }
        let Some(proposed) = d.proposed_replicas else {
            d.skipped = Some("no metric produced a recommendation (ScalingActive=False)".into());
            return;
        };
        if any_failed && proposed < current {
            d.skipped = Some("some metrics failed and the rest propose fewer replicas: not scaling down on partial data".into());
            return;
        }
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
        let (stabilized, stabilization_reason, (desired, reason)) = match &spec.behavior {
            Some(behavior) => {
                let up_window = behavior
                    .scale_up
                    .stabilization_window
                    .unwrap_or(SimDuration::ZERO);
                let down_window = behavior
                    .scale_down
                    .stabilization_window
                    .unwrap_or(self.settings.downscale_stabilization);
                let (stabilized, why) =
                    behavior::stabilize(history, current, proposed, now, up_window, down_window);
                let events = &self.events[hpa.index()];
                let args = RateArgs {
                    current,
                    desired: stabilized,
                    min: spec.min_replicas,
                    max: spec.max_replicas,
                    up_events: &events.up,
                    down_events: &events.down,
                    behavior,
                    now,
                };
                (stabilized, why, convert_with_rate(&args))
            }
            None => {
                let stabilized = stabilize(
                    history,
                    proposed,
                    now,
                    self.settings.downscale_stabilization,
                );
                (
                    stabilized,
                    StabilizationReason::ScaleDownStabilized,
                    limit_legacy(current, stabilized, spec.min_replicas, spec.max_replicas),
                )
            }
        };
        d.stabilized_replicas = stabilized;
        d.stabilization_reason = (stabilized != proposed).then_some(stabilization_reason);
        d.desired_replicas = desired;
        d.limit_reason = Some(reason);
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
        let (label, target_label) = &self.labels[ctx.hpa.index()][index];
        let mut outcome = MetricOutcome::new(label.clone(), target_label.clone());
        let cpu = |pod: PodId| ctx.metrics.pod_metric(pod);
        match metric {
            HpaMetric::CpuUtilization { target_percent } => {
                let pods = pod_views(ctx, cpu);
                match cpu_utilization_replicas(
                    ctx.current,
                    *target_percent,
                    &pods,
                    ctx.now,
                    ctx.tolerances,
                    timings,
                ) {
                    Ok(p) => {
                        outcome.utilization_percent = Some(p.utilization_percent);
                        outcome.average_value_milli = Some(p.raw_average_millis);
                        outcome.counted(p.replicas, (p.ready, p.unready, p.missing, p.ignored));
                    }
                    Err(e) => outcome.error = Some(e.to_string()),
                }
                outcome
            }
            HpaMetric::CpuAverageValue { target_milli } => plain_outcome(
                outcome,
                &pod_views(ctx, cpu),
                *target_milli,
                ctx,
                timings,
                true,
            ),
            HpaMetric::Pods {
                source,
                target_milli,
                ..
            } => {
                let source = source.expect("validation resolves every Pods metric");
                let pods = pod_views(ctx, |pod| ctx.metrics.custom_metric(pod, source));
                plain_outcome(outcome, &pods, *target_milli, ctx, timings, false)
            }
            HpaMetric::External { series, target, .. }
            | HpaMetric::Object { series, target, .. } => {
                self.value_outcome(outcome, *series, *target, ctx)
            }
            HpaMetric::Unsupported { .. } => {
                outcome.error = Some("metric type not modelled".into());
                outcome
            }
        }
    }
}

impl HpaController {
    /// An Object or External metric from its scripted series.
    fn value_outcome(
        &self,
        mut outcome: MetricOutcome,
        series: Option<usize>,
        target: ValueTarget,
        ctx: &MetricContext,
    ) -> MetricOutcome {
        let series = &self.series[series.expect("validation resolves every series")];
        let value_milli = (series.value_at(ctx.now) * 1000.0).round() as i64;
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
    let target = cluster.deployment(h.target);
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
    fn new(metric: Arc<str>, target: Arc<str>) -> Self {
        MetricOutcome {
            metric,
            target,
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

/// Evaluates an AverageValue target with `calcPlainMetricReplicas`.
fn plain_outcome(
    mut outcome: MetricOutcome,
    pods: &[PodView],
    target_milli: i64,
    ctx: &MetricContext,
    timings: CpuTimings,
    cpu_readiness: bool,
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
        Err(e) => outcome.error = Some(e.to_string()),
    }
    outcome
}

/// How a metric and its target read in decision records (`"resource cpu"`, `"60% utilization"`).
fn metric_labels(metric: &HpaMetric) -> (Arc<str>, Arc<str>) {
    let per_pod = |milli: i64| format!("{} per pod", format_milli(milli));
    let value_target = |t: &ValueTarget| match t {
        ValueTarget::Value(v) => format_milli(*v),
        ValueTarget::AverageValue(v) => per_pod(*v),
    };
    let (label, target) = match metric {
        HpaMetric::CpuUtilization { target_percent } => (
            "resource cpu".to_string(),
            format!("{target_percent}% utilization"),
        ),
        HpaMetric::CpuAverageValue { target_milli } => {
            ("resource cpu".to_string(), per_pod(*target_milli))
        }
        HpaMetric::Pods {
            metric,
            target_milli,
            ..
        } => (format!("pods {metric}"), per_pod(*target_milli)),
        HpaMetric::External { metric, target, .. } => {
            (format!("external {metric}"), value_target(target))
        }
        HpaMetric::Object { metric, target, .. } => {
            (format!("object {metric}"), value_target(target))
        }
        HpaMetric::Unsupported { description } => (description.clone(), String::new()),
    };
    (Arc::from(label), Arc::from(target))
}

/// A milli-value as a quantity-like decimal: 1500 → "1.5", 250 → "0.25".
pub fn format_milli(milli: i64) -> String {
    let whole = milli / 1000;
    let frac = (milli % 1000).abs();
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:03}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// The pods the HPA's selector picks (every non-terminated pod of the selected Deployments),
/// each with this metric's sample from `sample`.
fn pod_views(ctx: &MetricContext, sample: impl Fn(PodId) -> Option<PodMetric>) -> Vec<PodView> {
    let cluster = ctx.cluster;
    let h = &cluster.hpas[ctx.hpa.index()];
    let mut views = Vec::new();
    for &dep in &h.selected {
        let request = cluster.deployment(dep).spec.pod.hpa_cpu_request_millis;
        for &rs in &cluster.deployment(dep).replica_sets {
            for pod in cluster.pods_of(rs) {
                views.push(PodView {
                    phase: if pod.phase == PodPhase::Running {
                        HpaPodPhase::Running
                    } else {
                        HpaPodPhase::Pending
                    },
                    deleting: pod.deletion.is_some(),
                    ready: pod.ready,
                    ready_transition: pod.ready_transition,
                    start_time: pod.started,
                    cpu_request_millis: request,
                    sample: sample(pod.id).map(|m| Sample {
                        value_milli: m.value_milli,
                        timestamp: m.timestamp,
                        window: m.window,
                    }),
                });
            }
        }
    }
    views
}
