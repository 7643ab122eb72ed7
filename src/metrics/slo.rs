//! Evaluating SLO assertions against a report.

use crate::scenario::{LatencyStat, Scenario, SloMetric, SloScope, SloSpec};

use super::report::{LatencyMs, LlmServiceReport, Report, ServiceReport, SloResult};

/// Evaluates every SLO of the scenario.
pub fn evaluate(scenario: &Scenario, report: &Report) -> Vec<SloResult> {
    scenario
        .slos
        .iter()
        .map(|slo| result(slo, report))
        .collect()
}

/// Evaluates one SLO against a report.
pub fn result(slo: &SloSpec, report: &Report) -> SloResult {
    let actual = metric_value(&slo.scope, slo.metric, report);
    let scope = match slo.scope {
        SloScope::Service(i) => format!("service/{}", report.services[i].name),
        SloScope::Deployment(i) => format!("deployment/{}", report.deployments[i].name),
        SloScope::Cluster => "cluster".to_string(),
    };
    SloResult {
        name: slo.name.clone(),
        scope,
        metric: crate::scenario::slo::metric_name(slo.metric),
        assertion: slo.text.clone(),
        actual,
        threshold: slo.threshold,
        passed: holds(slo, actual),
    }
}

/// A statistic of one of an LLM Service's token latencies, once it served a request.
fn llm_stat(
    s: &ServiceReport,
    which: impl Fn(&LlmServiceReport) -> &LatencyMs,
    stat: LatencyStat,
) -> Option<f64> {
    let llm = s.llm.as_ref().filter(|_| s.served > 0)?;
    Some(stat_of(which(llm), stat))
}

fn stat_of(l: &LatencyMs, stat: LatencyStat) -> f64 {
    match stat {
        LatencyStat::P50 => l.p50,
        LatencyStat::P90 => l.p90,
        LatencyStat::P95 => l.p95,
        LatencyStat::P99 => l.p99,
        LatencyStat::P999 => l.p999,
        LatencyStat::Max => l.max,
        LatencyStat::Mean => l.mean,
    }
}

/// Whether `slo` holds for a measured value. No requests means no evidence: latency SLOs pass
/// vacuously, availability and goodput count as 1.
pub fn holds(slo: &SloSpec, actual: Option<f64>) -> bool {
    let value = actual.unwrap_or(match slo.metric {
        SloMetric::Availability | SloMetric::Goodput => 1.0,
        _ => 0.0,
    });
    slo.comparison.holds(value, slo.threshold)
}

/// The value of `metric` on `scope` in a finished run, in the metric's unit (ms, fraction, count,
/// USD); `None` when there is no evidence (no request was served) or the pair makes no sense.
pub fn metric_value(scope: &SloScope, metric: SloMetric, report: &Report) -> Option<f64> {
    match (scope, metric) {
        (SloScope::Service(i), SloMetric::Latency(stat)) => {
            let s = &report.services[*i];
            (s.served > 0).then(|| stat_of(&s.latency_ms, stat))
        }
        (SloScope::Service(i), SloMetric::TimeToFirstToken(stat)) => {
            llm_stat(&report.services[*i], |l| &l.time_to_first_token_ms, stat)
        }
        (SloScope::Service(i), SloMetric::TimePerOutputToken(stat)) => {
            llm_stat(&report.services[*i], |l| &l.time_per_output_token_ms, stat)
        }
        (SloScope::Service(i), SloMetric::Goodput) => report.services[*i]
            .llm
            .as_ref()
            .and_then(|l| l.goodput.as_ref())
            .and_then(|g| g.fraction),
        (SloScope::Service(i), SloMetric::CostPerMillionTokens) => report.services[*i]
            .llm
            .as_ref()
            .and_then(|l| l.cost_usd_per_million_output_tokens),
        (SloScope::Service(i), SloMetric::Availability) => report.services[*i].availability,
        (SloScope::Service(i), SloMetric::RequestsFailed) => {
            Some(report.services[*i].failed as f64)
        }
        (SloScope::Cluster, SloMetric::Availability) => report.totals.availability,
        (SloScope::Cluster, SloMetric::RequestsFailed) => Some(report.totals.failed as f64),
        (_, SloMetric::CostTotal) => Some(report.totals.cost_usd),
        (SloScope::Deployment(i), SloMetric::ReplicasMax) => {
            Some(report.deployments[*i].replicas.max)
        }
        (SloScope::Deployment(i), SloMetric::ReplicasMean) => {
            Some(report.deployments[*i].replicas.mean)
        }
        (SloScope::Deployment(i), SloMetric::ReplicasMin) => {
            Some(report.deployments[*i].replicas.min)
        }
        // Validation only builds the combinations above.
        _ => None,
    }
}
