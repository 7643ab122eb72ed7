//! Evaluating SLO assertions against a report.

use crate::scenario::{LatencyStat, Scenario, SloMetric, SloScope, SloSpec};

use super::report::{Report, SloResult};

/// Evaluates every SLO of the scenario.
pub fn evaluate(scenario: &Scenario, report: &Report) -> Vec<SloResult> {
    scenario
        .slos
        .iter()
        .map(|slo| {
            let actual = actual_value(slo, report);
            // No requests means no evidence: latency SLOs pass vacuously, availability counts as 1.
            let value = actual.unwrap_or(match slo.metric {
                SloMetric::Availability => 1.0,
                _ => 0.0,
            });
            SloResult {
                name: slo.name.clone(),
                assertion: slo.text.clone(),
                actual,
                threshold: slo.threshold,
                passed: slo.comparison.holds(value, slo.threshold),
            }
        })
        .collect()
}

fn actual_value(slo: &SloSpec, report: &Report) -> Option<f64> {
    match (&slo.scope, slo.metric) {
        (SloScope::Service(i), SloMetric::Latency(stat)) => {
            let s = &report.services[*i];
            let l = &s.latency_ms;
            (s.served > 0).then_some(match stat {
                LatencyStat::P50 => l.p50,
                LatencyStat::P90 => l.p90,
                LatencyStat::P95 => l.p95,
                LatencyStat::P99 => l.p99,
                LatencyStat::P999 => l.p999,
                LatencyStat::Max => l.max,
                LatencyStat::Mean => l.mean,
            })
        }
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
