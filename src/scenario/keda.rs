//! KEDA `ScaledObject`s (keda.sh/v1alpha1), read the way KEDA's operator reads them.
//!
//! KEDA does not scale between one replica and the maximum itself: it creates an HPA
//! (`keda-hpa-<name>`, or `advanced.horizontalPodAutoscalerConfig.name`) whose External metrics
//! are its triggers, with `minReplicas` = `minReplicaCount` (at least 1), `maxReplicas` =
//! `maxReplicaCount` (default 100) and the behavior from `advanced`. What it does itself is
//! *activation*: scaling from zero (or `idleReplicaCount`) to the minimum when a trigger's value
//! is above its `activationThreshold`, and back after `cooldownPeriod` without activity
//! ([`KedaActivation`], run by `controllers::keda`).
//!
//! Triggers modelled: `cpu` and `memory` (Resource metrics, `metricType` Utilization or
//! AverageValue, never consulted for activity), and `prometheus` whose `query` names one metric —
//! `sum(NAME)`, `sum(NAME{…})`, `NAME` or `NAME{…}` — that kubesim has: a built-in serving metric
//! summed over the target's pods (`vllm:num_requests_waiting`, `kubesim_queue_length`, …; 0 when
//! no pod reports it, as the scaler's `ignoreNullValues` default has it) or a scripted series of
//! the scenario's `externalMetrics`. Label matchers are not evaluated: the sum is over the
//! target's pods. Other trigger types are refused with the list of those modelled.

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::diag::Diagnostic;
use super::manifest::{Manifest, ManifestSet, Source, decode_typed, namespace_of};
use super::model::{ActivationTrigger, KedaActivation};
use crate::sim::SimDuration;

/// The label KEDA puts on the HPA it owns (the ScaledObject's name).
pub const OWNER_LABEL: &str = "scaledobject.keda.sh/name";

/// A `ScaledObject` as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObject {
    #[allow(
        dead_code,
        reason = "read so that a strict parse accepts it; the kind is known"
    )]
    pub api_version: Option<String>,
    #[allow(
        dead_code,
        reason = "read so that a strict parse accepts it; the kind is known"
    )]
    pub kind: Option<String>,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: Option<ScaledObjectSpec>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObjectSpec {
    pub scale_target_ref: Option<ScaleTarget>,
    pub polling_interval: Option<i32>,
    pub initial_cooldown_period: Option<i32>,
    pub cooldown_period: Option<i32>,
    pub idle_replica_count: Option<i32>,
    pub min_replica_count: Option<i32>,
    pub max_replica_count: Option<i32>,
    pub advanced: Option<Advanced>,
    #[serde(default)]
    pub triggers: Vec<Trigger>,
    /// Read so that it is not "unknown"; a warning says it is not modelled.
    pub fallback: Option<Fallback>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleTarget {
    #[serde(default)]
    pub name: String,
    pub api_version: Option<String>,
    pub kind: Option<String>,
    #[allow(
        dead_code,
        reason = "read so that a strict parse accepts it; not modelled"
    )]
    pub env_source_container_name: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Advanced {
    pub horizontal_pod_autoscaler_config: Option<HpaConfig>,
    pub restore_to_original_replica_count: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaConfig {
    pub name: Option<String>,
    pub behavior: Option<v2::HorizontalPodAutoscalerBehavior>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    dead_code,
    reason = "read so that a strict parse accepts it; a warning says it is not modelled"
)]
pub struct Fallback {
    pub failure_threshold: Option<i32>,
    pub replicas: Option<i32>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    #[serde(rename = "type", default)]
    pub type_: String,
    #[allow(
        dead_code,
        reason = "read so that a strict parse accepts it; triggers are not named in output"
    )]
    pub name: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub metric_type: Option<String>,
    #[allow(
        dead_code,
        reason = "read so that a strict parse accepts it; not modelled"
    )]
    pub use_cached_metrics: Option<bool>,
    #[allow(
        dead_code,
        reason = "read so that a strict parse accepts it; not modelled"
    )]
    pub authentication_ref: Option<AuthenticationRef>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    dead_code,
    reason = "read so that a strict parse accepts it; authentication is not modelled"
)]
pub struct AuthenticationRef {
    pub name: Option<String>,
    pub kind: Option<String>,
}

/// KEDA's defaults (`pollingInterval`, `cooldownPeriod`, `maxReplicaCount`).
const DEFAULT_POLLING_SECONDS: i32 = 30;
const DEFAULT_COOLDOWN_SECONDS: i32 = 300;
const DEFAULT_MAX_REPLICAS: i32 = 100;

/// The trigger types kubesim models.
const MODELLED_TRIGGERS: &str = "cpu, memory, prometheus";

/// Reads a ScaledObject: the HPA KEDA would create goes into `set.hpas` (with the
/// ScaledObject's source, so later errors point into it) and its activation into `set`.
pub fn add_scaled_object(set: &mut ManifestSet, source: Source, diags: &mut Vec<Diagnostic>) {
    let Some(object) = decode_typed::<ScaledObject>(&source, &mut set.incomplete, diags) else {
        return;
    };
    let errors_before = diags.iter().filter(|d| d.is_error()).count();
    let name = object.metadata.name.clone().unwrap_or_default();
    let Some(spec) = &object.spec else {
        diags.push(source.error("spec", "a ScaledObject needs a spec"));
        return;
    };
    let Some(target) = &spec.scale_target_ref else {
        diags.push(source.error(
            "spec.scaleTargetRef",
            "required: the Deployment or StatefulSet to scale",
        ));
        return;
    };
    warn_unmodelled(spec, &source, diags);
    let (min, max) = replica_bounds(spec, &source, diags);
    let mut metrics = Vec::new();
    let mut triggers = Vec::new();
    for (i, trigger) in spec.triggers.iter().enumerate() {
        let Some(converted) = convert_trigger(trigger, i, &source, diags) else {
            continue;
        };
        if let Some(activation_milli) = converted.activation_milli {
            triggers.push(ActivationTrigger {
                metric: metrics.len(),
                activation_milli,
                name: format!("s{i}-{}", trigger.type_),
            });
        }
        metrics.push(converted.metric);
    }
    if spec.triggers.is_empty() {
        diags.push(source.error("spec.triggers", "required: at least one trigger"));
    } else if triggers.is_empty() && spec.min_replica_count == Some(0) {
        diags.push(source.error(
            "spec.minReplicaCount",
            "0 with only cpu and memory triggers: scale to zero does not work (they never report activity); add a prometheus trigger or use 1 or more",
        ));
    }
    let polling = seconds(
        spec.polling_interval,
        DEFAULT_POLLING_SECONDS,
        "spec.pollingInterval",
        &source,
        diags,
    );
    let cooldown = seconds(
        spec.cooldown_period,
        DEFAULT_COOLDOWN_SECONDS,
        "spec.cooldownPeriod",
        &source,
        diags,
    );
    let initial = seconds(
        spec.initial_cooldown_period,
        0,
        "spec.initialCooldownPeriod",
        &source,
        diags,
    );
    if diags.iter().filter(|d| d.is_error()).count() > errors_before {
        set.incomplete = true;
        return;
    }
    let config = spec
        .advanced
        .as_ref()
        .and_then(|a| a.horizontal_pod_autoscaler_config.as_ref());
    let hpa_name = config
        .and_then(|c| c.name.clone())
        .unwrap_or_else(|| format!("keda-hpa-{name}"));
    let namespace = namespace_of(&object.metadata);
    let hpa = v2::HorizontalPodAutoscaler {
        metadata: ObjectMeta {
            name: Some(hpa_name.clone()),
            namespace: object.metadata.namespace.clone(),
            labels: Some(BTreeMap::from([(OWNER_LABEL.to_string(), name.clone())])),
            ..ObjectMeta::default()
        },
        spec: Some(v2::HorizontalPodAutoscalerSpec {
            scale_target_ref: v2::CrossVersionObjectReference {
                api_version: Some(
                    target
                        .api_version
                        .clone()
                        .unwrap_or_else(|| "apps/v1".into()),
                ),
                kind: target.kind.clone().unwrap_or_else(|| "Deployment".into()),
                name: target.name.clone(),
            },
            min_replicas: Some(min.max(1)),
            max_replicas: max,
            metrics: Some(metrics),
            behavior: config.and_then(|c| c.behavior.clone()),
        }),
        status: None,
    };
    let source = Source {
        written_as: Some(written_path),
        ..source
    };
    set.hpas.push(Manifest {
        object: hpa,
        source,
    });
    let activation = KedaActivation {
        scaled_object: name,
        min_replica_count: min,
        idle_replica_count: spec.idle_replica_count,
        polling_interval: polling,
        cooldown_period: cooldown,
        initial_cooldown_period: initial,
        triggers,
    };
    set.keda.push((hpa_name, namespace, activation));
}

/// `minReplicaCount` and `maxReplicaCount` with KEDA's defaults, checked as KEDA's admission
/// webhook checks them (the minimum counted as the HPA's, at least 1).
fn replica_bounds(
    spec: &ScaledObjectSpec,
    source: &Source,
    diags: &mut Vec<Diagnostic>,
) -> (i32, i32) {
    let min = spec.min_replica_count.unwrap_or(0);
    let max = spec.max_replica_count.unwrap_or(DEFAULT_MAX_REPLICAS);
    if min < 0 {
        diags.push(source.error("spec.minReplicaCount", "must be 0 or more"));
    }
    let hpa_min = min.max(1);
    if spec.min_replica_count.is_some() && hpa_min > max {
        diags.push(source.error(
            "spec.maxReplicaCount",
            format!("MinReplicaCount={hpa_min} must be less than MaxReplicaCount={max}"),
        ));
    }
    if let Some(idle) = spec.idle_replica_count {
        let floor = if spec.min_replica_count.is_some() {
            hpa_min
        } else {
            0
        };
        if idle < 0 || idle >= floor {
            let counted = if min == 0 && floor == 1 {
                " (minReplicaCount 0 counts as 1 here, as KEDA's admission check counts it)"
            } else {
                ""
            };
            diags.push(source.error(
                "spec.idleReplicaCount",
                format!("IdleReplicaCount={idle} must be less than MinReplicaCount={floor}{counted}, and 0 or more"),
            ));
        }
    }
    (min, max)
}

/// A whole number of seconds, at least 1 for the polling interval.
fn seconds(
    value: Option<i32>,
    default: i32,
    path: &str,
    source: &Source,
    diags: &mut Vec<Diagnostic>,
) -> SimDuration {
    let v = value.unwrap_or(default);
    let least = if path.ends_with("pollingInterval") {
        1
    } else {
        0
    };
    if v < least {
        diags.push(source.error(path, format!("must be {least} or more seconds, got {v}")));
        return SimDuration::from_secs(default as u64);
    }
    SimDuration::from_secs(v as u64)
}

fn warn_unmodelled(spec: &ScaledObjectSpec, source: &Source, diags: &mut Vec<Diagnostic>) {
    if spec.fallback.is_some() {
        diags.push(source.warning(
            "spec.fallback",
            "not modelled: kubesim's triggers never fail to report, so the fallback never applies",
        ));
    }
    let restore = spec
        .advanced
        .as_ref()
        .and_then(|a| a.restore_to_original_replica_count);
    if restore == Some(true) {
        diags.push(source.warning(
            "spec.advanced.restoreToOriginalReplicaCount",
            "not modelled: it acts only when the ScaledObject is deleted",
        ));
    }
}

/// One trigger as the HPA's metric, and its activation threshold when it reports activity.
struct Converted {
    metric: v2::MetricSpec,
    activation_milli: Option<i64>,
}

fn convert_trigger(
    trigger: &Trigger,
    i: usize,
    source: &Source,
    diags: &mut Vec<Diagnostic>,
) -> Option<Converted> {
    let path = format!("spec.triggers[{i}]");
    match trigger.type_.as_str() {
        "cpu" | "memory" => resource_trigger(trigger, &path, source, diags),
        "prometheus" => prometheus_trigger(trigger, &path, source, diags),
        "" => {
            diags.push(source.error(
                &format!("{path}.type"),
                format!("required: the scaler type ({MODELLED_TRIGGERS})"),
            ));
            None
        }
        other => {
            diags.push(source.error(
                &format!("{path}.type"),
                format!("{other:?} triggers are not modelled; kubesim has {MODELLED_TRIGGERS} (a prometheus query over a built-in metric or a spec.externalMetrics series stands in for an event source)"),
            ));
            None
        }
    }
}

/// A cpu or memory trigger: a Resource metric (Utilization by default, or AverageValue).
fn resource_trigger(
    trigger: &Trigger,
    path: &str,
    source: &Source,
    diags: &mut Vec<Diagnostic>,
) -> Option<Converted> {
    let value_path = format!("{path}.metadata.value");
    let Some(value) = trigger.metadata.get("value") else {
        diags.push(source.error(
            &value_path,
            format!("required: the {} target", trigger.type_),
        ));
        return None;
    };
    let mut target = v2::MetricTarget::default();
    match trigger.metric_type.as_deref().unwrap_or("Utilization") {
        "Utilization" => {
            let Some(percent) = value.trim().parse::<i32>().ok().filter(|p| *p > 0) else {
                diags.push(source.error(
                    &value_path,
                    format!("{value:?} is not a whole percentage above 0"),
                ));
                return None;
            };
            target.type_ = "Utilization".into();
            target.average_utilization = Some(percent);
        }
        "AverageValue" => {
            target.type_ = "AverageValue".into();
            target.average_value = Some(K8sQuantity(value.clone()));
        }
        other => {
            diags.push(source.error(
                &format!("{path}.metricType"),
                format!("unknown metric type: {other}, allowed values are 'Utilization' or 'AverageValue'"),
            ));
            return None;
        }
    }
    let metric = v2::MetricSpec {
        type_: "Resource".into(),
        resource: Some(v2::ResourceMetricSource {
            name: trigger.type_.clone(),
            target,
        }),
        ..Default::default()
    };
    Some(Converted {
        metric,
        activation_milli: None,
    })
}

/// A prometheus trigger: an External metric named after the one metric its query reads.
fn prometheus_trigger(
    trigger: &Trigger,
    path: &str,
    source: &Source,
    diags: &mut Vec<Diagnostic>,
) -> Option<Converted> {
    let query_path = format!("{path}.metadata.query");
    let Some(query) = trigger.metadata.get("query") else {
        diags.push(source.error(
            &query_path,
            "required: the PromQL query whose value is compared with the threshold",
        ));
        return None;
    };
    let Some(metric_name) = query_metric(query) else {
        diags.push(source.error(
            &query_path,
            format!("kubesim evaluates a query only of the form sum(NAME), sum(NAME{{…}}), NAME or NAME{{…}}, with NAME a built-in metric or an externalMetrics series; got {query:?}"),
        ));
        return None;
    };
    let threshold = number(trigger, "threshold", path, true, source, diags)?;
    if to_milli(threshold) == 0 {
        diags.push(source.error(
            &format!("{path}.metadata.threshold"),
            format!("{threshold} is under 0.001: the HPA's target would be 0 (KEDA keeps milli-units), which the API server refuses"),
        ));
        return None;
    }
    let activation = number(trigger, "activationThreshold", path, false, source, diags)?;
    let mut target = v2::MetricTarget::default();
    let milli = K8sQuantity(format!("{}m", to_milli(threshold)));
    match trigger.metric_type.as_deref().unwrap_or("AverageValue") {
        "AverageValue" => {
            target.type_ = "AverageValue".into();
            target.average_value = Some(milli);
        }
        "Value" => {
            target.type_ = "Value".into();
            target.value = Some(milli);
        }
        other => {
            diags.push(source.error(
                &format!("{path}.metricType"),
                format!("{other:?}: an external metric's target is AverageValue or Value"),
            ));
            return None;
        }
    }
    let metric = v2::MetricSpec {
        type_: "External".into(),
        external: Some(v2::ExternalMetricSource {
            metric: v2::MetricIdentifier {
                name: metric_name.to_string(),
                selector: None,
            },
            target,
        }),
        ..Default::default()
    };
    Some(Converted {
        metric,
        activation_milli: Some(to_milli(activation)),
    })
}

/// A trigger's numeric metadata field (`threshold`, `activationThreshold`; 0 when optional and
/// absent).
fn number(
    trigger: &Trigger,
    key: &str,
    path: &str,
    required: bool,
    source: &Source,
    diags: &mut Vec<Diagnostic>,
) -> Option<f64> {
    let field = format!("{path}.metadata.{key}");
    let Some(text) = trigger.metadata.get(key) else {
        if required {
            diags.push(source.error(&field, "required: a number, as a string (\"5\")"));
            return None;
        }
        return Some(0.0);
    };
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=1e12).contains(&v) => Some(v),
        _ => {
            diags.push(source.error(&field, format!("{text:?} is not a number from 0 to 10^12")));
            None
        }
    }
}

/// Milli-units, as KEDA's `GetMetricTargetMili` rounds them (toward zero).
fn to_milli(v: f64) -> i64 {
    (v * 1000.0) as i64
}

/// Where a field of the HPA made from a ScaledObject came from in the ScaledObject: its
/// metrics are the triggers in order (a ScaledObject with a trigger that could not be read
/// makes no HPA), its bounds the replica counts, its behavior `advanced`'s.
fn written_path(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("spec.metrics[") {
        let (index, field) = rest.split_once(']').unwrap_or((rest, ""));
        let field = match field {
            f if f.starts_with(".external") => ".metadata.query",
            f if f.contains("target") => ".metadata.value",
            _ => "",
        };
        return format!("spec.triggers[{index}]{field}");
    }
    match path {
        "spec.minReplicas" => "spec.minReplicaCount".into(),
        "spec.maxReplicas" => "spec.maxReplicaCount".into(),
        p if p.starts_with("spec.behavior") => {
            p.replacen("spec.", "spec.advanced.horizontalPodAutoscalerConfig.", 1)
        }
        p => p.into(),
    }
}

/// The metric a query reads: `NAME` from `sum(NAME)`, `sum(NAME{…})`, `NAME` or `NAME{…}`.
pub fn query_metric(query: &str) -> Option<&str> {
    let q = query.trim();
    let inner = match q.strip_prefix("sum") {
        Some(rest) => rest
            .trim_start()
            .strip_prefix('(')?
            .strip_suffix(')')?
            .trim(),
        None => q,
    };
    let name = match inner.find('{') {
        Some(at) if inner.ends_with('}') => inner[..at].trim_end(),
        Some(_) => return None,
        None => inner,
    };
    let valid_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':';
    let valid = |c: char| valid_start(c) || c.is_ascii_digit();
    let mut chars = name.chars();
    (chars.next().is_some_and(valid_start) && chars.all(valid)).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_name_their_metric() {
        let cases = [
            (
                "sum(vllm:num_requests_waiting)",
                Some("vllm:num_requests_waiting"),
            ),
            (
                " sum ( vllm:num_requests_waiting{model_name=\"llama\"} ) ",
                Some("vllm:num_requests_waiting"),
            ),
            ("kubesim_queue_length", Some("kubesim_queue_length")),
            ("gateway_rps{service=\"chat\"}", Some("gateway_rps")),
            ("rate(http_requests_total[1m])", None),
            ("sum(a) + sum(b)", None),
            ("sum(x{a=\"1\"} offset 5m)", None),
            ("", None),
            ("9lives", None),
        ];
        for (query, want) in cases {
            assert_eq!(query_metric(query), want, "{query}");
        }
    }

    #[test]
    fn paths_in_the_made_hpa_point_at_the_scaled_object() {
        let cases = [
            (
                "spec.metrics[1].external.metric.name",
                "spec.triggers[1].metadata.query",
            ),
            (
                "spec.metrics[0].resource.target.averageUtilization",
                "spec.triggers[0].metadata.value",
            ),
            ("spec.metrics[2]", "spec.triggers[2]"),
            ("spec.maxReplicas", "spec.maxReplicaCount"),
            (
                "spec.behavior.scaleDown.policies[0].value",
                "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.policies[0].value",
            ),
            ("spec.scaleTargetRef.name", "spec.scaleTargetRef.name"),
        ];
        for (made, written) in cases {
            assert_eq!(written_path(made), written, "{made}");
        }
    }

    #[test]
    fn thresholds_become_milli_units_as_keda_rounds_them() {
        // GetMetricTargetMili: int64(threshold * 1000).
        assert_eq!(to_milli(5.0), 5000);
        assert_eq!(to_milli(0.5), 500);
        assert_eq!(to_milli(0.0004), 0);
    }
}
