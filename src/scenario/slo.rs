//! SLO assertion expressions: `<metric> <op> <value>`, e.g. `latency.p99 <= 250ms`,
//! `availability >= 99.9%`, `cost.total <= 20`, `replicas.max <= 10`, and for LLM Services
//! `ttft.p99 <= 2s`, `tpot.p95 <= 100ms`, `cost.per_million_tokens <= 30`.

use super::model::{Comparison, DeploymentSpec, LatencyStat, ServiceSpec, SloMetric, SloScope};
use super::units::parse_duration;
use super::validate::resolve;

/// Metric names accepted in assertions, for help and "did you mean".
pub const METRIC_NAMES: &[&str] = &[
    "latency.p50",
    "latency.p90",
    "latency.p95",
    "latency.p99",
    "latency.p999",
    "latency.max",
    "latency.mean",
    "availability",
    "requests.failed",
    "cost.total",
    "replicas.max",
    "replicas.mean",
    "replicas.min",
    "ttft.p50",
    "ttft.p90",
    "ttft.p95",
    "ttft.p99",
    "ttft.p999",
    "ttft.max",
    "ttft.mean",
    "tpot.p50",
    "tpot.p90",
    "tpot.p95",
    "tpot.p99",
    "tpot.p999",
    "tpot.max",
    "tpot.mean",
    "cost.per_million_tokens",
    "goodput",
];

/// `p50` … `mean`, the statistic part of a latency-like metric name.
fn latency_stat(name: &str) -> Option<LatencyStat> {
    Some(match name {
        "p50" => LatencyStat::P50,
        "p90" => LatencyStat::P90,
        "p95" => LatencyStat::P95,
        "p99" => LatencyStat::P99,
        "p999" => LatencyStat::P999,
        "max" => LatencyStat::Max,
        "mean" => LatencyStat::Mean,
        _ => return None,
    })
}

fn stat_name(stat: LatencyStat) -> &'static str {
    match stat {
        LatencyStat::P50 => "p50",
        LatencyStat::P90 => "p90",
        LatencyStat::P95 => "p95",
        LatencyStat::P99 => "p99",
        LatencyStat::P999 => "p999",
        LatencyStat::Max => "max",
        LatencyStat::Mean => "mean",
    }
}

/// A parsed assertion (threshold in the metric's unit: ms, fraction, count or USD).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Assertion {
    pub metric: SloMetric,
    pub comparison: Comparison,
    pub threshold: f64,
}

pub fn parse_assertion(text: &str) -> Result<Assertion, String> {
    let (metric_text, comparison, value_text) = split_comparison(text)
        .ok_or_else(|| format!("{text:?} is not an assertion: write `<metric> <op> <value>`, e.g. `latency.p99 <= 250ms` (op is one of <=, <, >=, >, ==)"))?;
    let metric = parse_metric(metric_text)?;
    let threshold = parse_threshold(metric, value_text)?;
    Ok(Assertion {
        metric,
        comparison,
        threshold,
    })
}

fn split_comparison(text: &str) -> Option<(&str, Comparison, &str)> {
    for (symbol, cmp) in [
        ("<=", Comparison::Le),
        (">=", Comparison::Ge),
        ("==", Comparison::Eq),
        ("<", Comparison::Lt),
        (">", Comparison::Gt),
    ] {
        if let Some(i) = text.find(symbol) {
            let (left, right) = (text[..i].trim(), text[i + symbol.len()..].trim());
            if !left.is_empty() && !right.is_empty() {
                return Some((left, cmp, right));
            }
        }
    }
    None
}

pub fn parse_metric(name: &str) -> Result<SloMetric, String> {
    let latency_like = name.split_once('.').and_then(|(family, stat)| {
        let stat = latency_stat(stat)?;
        match family {
            "latency" => Some(SloMetric::Latency(stat)),
            "ttft" => Some(SloMetric::TimeToFirstToken(stat)),
            "tpot" => Some(SloMetric::TimePerOutputToken(stat)),
            _ => None,
        }
    });
    if let Some(metric) = latency_like {
        return Ok(metric);
    }
    let metric = match name {
        "cost.per_million_tokens" => SloMetric::CostPerMillionTokens,
        "goodput" => SloMetric::Goodput,
        "availability" => SloMetric::Availability,
        "requests.failed" => SloMetric::RequestsFailed,
        "cost.total" => SloMetric::CostTotal,
        "replicas.max" => SloMetric::ReplicasMax,
        "replicas.mean" => SloMetric::ReplicasMean,
        "replicas.min" => SloMetric::ReplicasMin,
        _ => {
            let hint = super::diag::did_you_mean_hint(name, METRIC_NAMES.iter().copied());
            return Err(format!(
                "unknown metric {name:?}{hint}; known metrics: {}",
                METRIC_NAMES.join(", ")
            ));
        }
    };
    Ok(metric)
}

fn parse_threshold(metric: SloMetric, text: &str) -> Result<f64, String> {
    match metric {
        SloMetric::Latency(_)
        | SloMetric::TimeToFirstToken(_)
        | SloMetric::TimePerOutputToken(_) => parse_duration(text)
            .map(|d| d.as_millis_f64())
            .map_err(|e| format!("latency thresholds are durations: {e}")),
        SloMetric::Availability | SloMetric::Goodput => {
            let (number, divisor) = match text.strip_suffix('%') {
                Some(n) => (n, 100.0),
                None => (text, 1.0),
            };
            let v =
                number.trim().parse::<f64>().map_err(|_| {
                    format!("{text:?} is not an availability (write 0.999 or 99.9%)")
                })? / divisor;
            if (0.0..=1.0).contains(&v) {
                Ok(v)
            } else {
                Err(format!("availability {text} is outside 0..1 (0%..100%)"))
            }
        }
        _ => {
            let number = text.strip_prefix('$').unwrap_or(text);
            number
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("{text:?} is not a number"))
        }
    }
}

/// The name a metric is written with (the inverse of [`parse_metric`]).
pub fn metric_name(metric: SloMetric) -> String {
    let name = match metric {
        SloMetric::Latency(stat) => return format!("latency.{}", stat_name(stat)),
        SloMetric::TimeToFirstToken(stat) => return format!("ttft.{}", stat_name(stat)),
        SloMetric::TimePerOutputToken(stat) => return format!("tpot.{}", stat_name(stat)),
        SloMetric::CostPerMillionTokens => "cost.per_million_tokens",
        SloMetric::Goodput => "goodput",
        SloMetric::Availability => "availability",
        SloMetric::RequestsFailed => "requests.failed",
        SloMetric::CostTotal => "cost.total",
        SloMetric::ReplicasMax => "replicas.max",
        SloMetric::ReplicasMean => "replicas.mean",
        SloMetric::ReplicasMin => "replicas.min",
    };
    name.to_string()
}

/// Whether only LLM Services have the metric.
pub fn is_llm_metric(metric: SloMetric) -> bool {
    matches!(
        metric,
        SloMetric::TimeToFirstToken(_)
            | SloMetric::TimePerOutputToken(_)
            | SloMetric::CostPerMillionTokens
            | SloMetric::Goodput
    )
}

/// Why the object an assertion is about could not be found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeError {
    /// The field at fault (`service`, `deployment`); `None`: the entry as a whole.
    pub field: Option<&'static str>,
    pub message: String,
    /// It names (or needs) an object the manifests lack: not worth reporting when a manifest
    /// could not be read, since that error explains it.
    pub reference: bool,
}

/// The Service, Deployment or whole cluster a metric is measured on. Latency without a
/// `service` means the only Service with traffic; replicas without a `deployment` the only
/// Deployment.
pub fn resolve_scope(
    metric: SloMetric,
    service: Option<&str>,
    deployment: Option<&str>,
    services: &[ServiceSpec],
    deployments: &[DeploymentSpec],
) -> Result<SloScope, ScopeError> {
    let needs_deployment = matches!(
        metric,
        SloMetric::ReplicasMax | SloMetric::ReplicasMean | SloMetric::ReplicasMin
    );
    let per_service = is_llm_metric(metric)
        || matches!(
            metric,
            SloMetric::Latency(_) | SloMetric::Availability | SloMetric::RequestsFailed
        );
    let wrong = |field, message: &str| ScopeError {
        field: Some(field),
        message: message.to_string(),
        reference: false,
    };
    let missing = |field, message: String| ScopeError {
        field,
        message,
        reference: true,
    };
    if let Some(r) = service {
        if !per_service {
            return Err(wrong("service", "this metric is not per Service"));
        }
        let names = services
            .iter()
            .map(|x| (x.namespace.as_str(), x.name.as_str()));
        let index = resolve(r, names, "Service").map_err(|e| missing(Some("service"), e))?;
        return llm_scope(metric, index, services, deployments);
    }
    if let Some(r) = deployment {
        if !needs_deployment {
            return Err(wrong("deployment", "this metric is not per Deployment"));
        }
        let names = deployments
            .iter()
            .map(|x| (x.namespace.as_str(), x.name.as_str()));
        return resolve(r, names, "Deployment")
            .map(SloScope::Deployment)
            .map_err(|e| missing(Some("deployment"), e));
    }
    // Without a `service`: the one LLM server's Service for an LLM metric, else the one
    // Service requests arrive at.
    let served = |x: &ServiceSpec| x.serves_llm(deployments);
    let llm = is_llm_metric(metric) && services.iter().any(served);
    let mut candidates = (services.iter().enumerate())
        .filter(|(_, x)| if llm { served(x) } else { x.has_arrivals() });
    match metric {
        _ if is_llm_metric(metric) || matches!(metric, SloMetric::Latency(_)) => {
            match (candidates.next(), candidates.next()) {
                (Some((i, _)), None) => llm_scope(metric, i, services, deployments),
                _ => Err(missing(
                    None,
                    "name the `service` this latency is for".into(),
                )),
            }
        }
        _ if needs_deployment && deployments.len() == 1 => Ok(SloScope::Deployment(0)),
        _ if needs_deployment => Err(missing(
            None,
            "name the `deployment` these replicas are for".into(),
        )),
        _ => Ok(SloScope::Cluster),
    }
}

/// The Service scope `index`, unless the metric is an LLM one and no LLM server serves it.
fn llm_scope(
    metric: SloMetric,
    index: usize,
    services: &[ServiceSpec],
    deployments: &[DeploymentSpec],
) -> Result<SloScope, ScopeError> {
    let serves_llm = services[index]
        .backends
        .iter()
        .any(|&b| deployments[b].workload.llm.is_some());
    if is_llm_metric(metric) && !serves_llm {
        return Err(ScopeError {
            field: Some("service"),
            message: format!(
                "{} is measured on LLM Services, and no LLM server serves Service {:?}",
                metric_name(metric),
                services[index].name
            ),
            reference: false,
        });
    }
    let has_goodput = services[index]
        .traffic
        .as_ref()
        .is_some_and(|t| t.goodput.is_some());
    if metric == SloMetric::Goodput && !has_goodput {
        return Err(ScopeError {
            field: Some("assert"),
            message: format!(
                "goodput needs thresholds: set spec.traffic[].goodput (e.g. {{ttft: 2s, tpot: 100ms}}) for Service {:?}",
                services[index].name
            ),
            reference: false,
        });
    }
    Ok(SloScope::Service(index))
}

/// `service web: `, `deployment web: ` or nothing (the cluster), to put before an assertion.
pub fn scope_label(
    scope: &SloScope,
    services: &[ServiceSpec],
    deployments: &[DeploymentSpec],
) -> String {
    match scope {
        SloScope::Service(i) => format!("service {}: ", services[*i].name),
        SloScope::Deployment(i) => format!("deployment {}: ", deployments[*i].name),
        SloScope::Cluster => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assertion_table() {
        let cases = [
            (
                "latency.p99 <= 250ms",
                SloMetric::Latency(LatencyStat::P99),
                Comparison::Le,
                250.0,
            ),
            (
                "latency.mean < 1.5s",
                SloMetric::Latency(LatencyStat::Mean),
                Comparison::Lt,
                1500.0,
            ),
            (
                "ttft.p99 <= 2s",
                SloMetric::TimeToFirstToken(LatencyStat::P99),
                Comparison::Le,
                2000.0,
            ),
            (
                "tpot.p95 <= 100ms",
                SloMetric::TimePerOutputToken(LatencyStat::P95),
                Comparison::Le,
                100.0,
            ),
            (
                "cost.per_million_tokens <= $30",
                SloMetric::CostPerMillionTokens,
                Comparison::Le,
                30.0,
            ),
            (
                "availability >= 0.999",
                SloMetric::Availability,
                Comparison::Ge,
                0.999,
            ),
            (
                "availability>=99.9%",
                SloMetric::Availability,
                Comparison::Ge,
                0.999,
            ),
            (
                "cost.total <= $20",
                SloMetric::CostTotal,
                Comparison::Le,
                20.0,
            ),
            (
                "replicas.max == 10",
                SloMetric::ReplicasMax,
                Comparison::Eq,
                10.0,
            ),
        ];
        for (text, metric, comparison, threshold) in cases {
            let a = parse_assertion(text).unwrap();
            assert_eq!((a.metric, a.comparison), (metric, comparison), "{text}");
            assert!(
                (a.threshold - threshold).abs() < 1e-9,
                "{text}: {}",
                a.threshold
            );
        }
    }

    #[test]
    fn bad_assertions_explain_themselves() {
        assert!(
            parse_assertion("latncy.p99 <= 1s")
                .unwrap_err()
                .contains("did you mean \"latency.p99\"")
        );
        assert!(
            parse_assertion("latency.p99 <= 250")
                .unwrap_err()
                .contains("durations")
        );
        assert!(parse_assertion("availability >= 2").is_err());
        assert!(
            parse_assertion("p99 is small")
                .unwrap_err()
                .contains("not an assertion")
        );
    }

    #[test]
    fn goodput_counts_a_request_within_every_threshold_given() {
        use crate::scenario::model::Goodput;
        use crate::sim::SimDuration;
        let ms = SimDuration::from_millis;
        let both = Goodput {
            ttft: Some(ms(2000)),
            tpot: Some(ms(100)),
        };
        assert!(both.met_by(ms(2000), Some(ms(100)))); // at the limits: good
        assert!(!both.met_by(ms(2001), Some(ms(50))));
        assert!(!both.met_by(ms(10), Some(ms(101))));
        assert!(both.met_by(ms(10), None)); // one output token: only TTFT counts
        let ttft_only = Goodput {
            ttft: Some(ms(500)),
            tpot: None,
        };
        assert!(ttft_only.met_by(ms(400), Some(ms(10_000))));
    }
}
