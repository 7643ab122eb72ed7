//! `spec.clusterAutoscaler`: the Cluster Autoscaler's flags under their upstream names, checked
//! the way the autoscaler checks them at start-up, with the defaults of D.1 applied.

use std::collections::BTreeMap;

use super::diag::{Diagnostic, did_you_mean_hint};
use super::manifest::Source;
use super::model::{AutoscalerSettings, Balancing, Expander};
use super::pattern::Pattern;
use super::raw::RawClusterAutoscaler;
use super::units::Duration;
use crate::sim::SimDuration;
use crate::sim::time::MICROS_PER_SECOND;

const BASE: &str = "spec.clusterAutoscaler";

/// The settings, or `None` when the block is absent or `enabled: false`. Problems are pushed to
/// `diags` with their positions.
pub fn settings(
    raw: Option<&RawClusterAutoscaler>,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> Option<AutoscalerSettings> {
    let raw = raw.filter(|r| r.enabled != Some(false))?;
    let d = AutoscalerSettings::default();
    let mut error = |field: &str, message: String| {
        diags.push(src.error(&format!("{BASE}.{field}"), message));
    };
    let duration = |v: Option<Duration>, default: SimDuration| v.map_or(default, |x| x.0);
    let scan_interval = duration(raw.scan_interval, d.scan_interval);
    if scan_interval < SimDuration::from_secs(1) {
        error(
            "scan-interval",
            format!("{scan_interval} is too short: at least 1s (the default is 10s)"),
        );
    }
    let mut threshold = |field: &str, v: Option<f64>, default: f64| {
        let v = v.unwrap_or(default);
        if !(0.0..=1.0).contains(&v) {
            error(field, format!("{v} is not a fraction between 0 and 1"));
        }
        v
    };
    let utilization = threshold(
        "scale-down-utilization-threshold",
        raw.scale_down_utilization_threshold,
        d.scale_down_utilization_threshold,
    );
    let gpu_utilization = threshold(
        "scale-down-gpu-utilization-threshold",
        raw.scale_down_gpu_utilization_threshold,
        d.scale_down_gpu_utilization_threshold,
    );
    let expanders = expanders(raw.expander.as_deref(), &mut error);
    let priorities = priorities(&raw.priorities, &mut error);
    if expanders.contains(&Expander::Priority) && raw.priorities.is_empty() {
        error(
            "priorities",
            "the priority expander needs priorities (its ConfigMap's data), e.g. {\"10\": [\"spot-.*\"]}"
                .into(),
        );
    }
    let count = |v: Option<u32>, default: usize| v.map_or(default, |x| x as usize);
    let max_drain = count(raw.max_drain_parallelism, d.max_drain_parallelism);
    let max_scale_down = count(raw.max_scale_down_parallelism, d.max_scale_down_parallelism);
    for (field, v) in [
        ("max-drain-parallelism", max_drain),
        ("max-scale-down-parallelism", max_scale_down),
    ] {
        if v == 0 {
            error(field, "must be at least 1".into());
        }
    }
    let cores_total = min_max(
        "cores-total",
        raw.cores_total.as_deref(),
        d.cores_total,
        &mut error,
    );
    let memory_total_gib = min_max(
        "memory-total",
        raw.memory_total.as_deref(),
        d.memory_total_gib,
        &mut error,
    );
    let balancing = balancing(raw, &mut error);
    Some(AutoscalerSettings {
        balancing,
        scan_interval,
        cores_total,
        memory_total_gib,
        expanders,
        max_node_provision_time: duration(raw.max_node_provision_time, d.max_node_provision_time),
        scale_down_enabled: raw.scale_down_enabled.unwrap_or(d.scale_down_enabled),
        scale_down_utilization_threshold: utilization,
        scale_down_gpu_utilization_threshold: gpu_utilization,
        scale_down_unneeded_time: duration(
            raw.scale_down_unneeded_time,
            d.scale_down_unneeded_time,
        ),
        scale_down_delay_after_add: duration(
            raw.scale_down_delay_after_add,
            d.scale_down_delay_after_add,
        ),
        scale_down_delay_after_delete: duration(
            raw.scale_down_delay_after_delete,
            d.scale_down_delay_after_delete,
        ),
        scale_down_delay_after_failure: duration(
            raw.scale_down_delay_after_failure,
            d.scale_down_delay_after_failure,
        ),
        max_pod_eviction_time: duration(raw.max_pod_eviction_time, d.max_pod_eviction_time),
        unremovable_node_recheck_timeout: duration(
            raw.unremovable_node_recheck_timeout,
            d.unremovable_node_recheck_timeout,
        ),
        max_graceful_termination: raw
            .max_graceful_termination_sec
            .map_or(d.max_graceful_termination, |s| {
                SimDuration::from_secs(u64::from(s))
            }),
        expendable_pods_priority_cutoff: raw
            .expendable_pods_priority_cutoff
            .unwrap_or(d.expendable_pods_priority_cutoff),
        max_scale_down_parallelism: max_scale_down.max(1),
        max_drain_parallelism: max_drain.max(1),
        new_pod_scale_up_delay: duration(raw.new_pod_scale_up_delay, d.new_pod_scale_up_delay),
        max_nodes_per_scaleup: count(raw.max_nodes_per_scaleup, d.max_nodes_per_scaleup),
        max_nodes_total: count(raw.max_nodes_total, d.max_nodes_total),
        initial_node_group_backoff_duration: duration(
            raw.initial_node_group_backoff_duration,
            d.initial_node_group_backoff_duration,
        ),
        max_node_group_backoff_duration: duration(
            raw.max_node_group_backoff_duration,
            d.max_node_group_backoff_duration,
        ),
        node_group_backoff_reset_timeout: duration(
            raw.node_group_backoff_reset_timeout,
            d.node_group_backoff_reset_timeout,
        ),
        priorities,
        scale_down_unready_enabled: raw
            .scale_down_unready_enabled
            .unwrap_or(d.scale_down_unready_enabled),
        scale_down_unready_time: duration(raw.scale_down_unready_time, d.scale_down_unready_time),
        skip_nodes_with_system_pods: raw
            .skip_nodes_with_system_pods
            .unwrap_or(d.skip_nodes_with_system_pods),
        skip_nodes_with_local_storage: raw
            .skip_nodes_with_local_storage
            .unwrap_or(d.skip_nodes_with_local_storage),
        skip_nodes_with_custom_controller_pods: raw
            .skip_nodes_with_custom_controller_pods
            .unwrap_or(d.skip_nodes_with_custom_controller_pods),
        min_replica_count: raw.min_replica_count.map_or(d.min_replica_count, |n| {
            i32::try_from(n).unwrap_or(i32::MAX)
        }),
        blocking_system_pod_disruption_timeout: duration(
            raw.blocking_system_pod_distruption_timeout,
            d.blocking_system_pod_disruption_timeout,
        ),
        ignore_daemonsets_utilization: raw
            .ignore_daemonsets_utilization
            .unwrap_or(d.ignore_daemonsets_utilization),
        ignore_mirror_pods_utilization: raw
            .ignore_mirror_pods_utilization
            .unwrap_or(d.ignore_mirror_pods_utilization),
        enforce_node_group_min_size: raw
            .enforce_node_group_min_size
            .unwrap_or(d.enforce_node_group_min_size),
    })
}

/// `--balance-similar-node-groups` and its similarity flags; a ratio must be a fraction.
fn balancing(raw: &RawClusterAutoscaler, error: &mut impl FnMut(&str, String)) -> Balancing {
    let d = Balancing::default();
    let mut ratio = |field: &str, v: Option<f64>, default: f64| match v {
        Some(v) if !(0.0..=1.0).contains(&v) => {
            error(field, format!("{v} is not a ratio between 0 and 1"));
            default
        }
        v => v.unwrap_or(default),
    };
    Balancing {
        enabled: raw.balance_similar_node_groups.unwrap_or(d.enabled),
        memory_difference_ratio: ratio(
            "memory-difference-ratio",
            raw.memory_difference_ratio,
            d.memory_difference_ratio,
        ),
        max_allocatable_difference_ratio: ratio(
            "max-allocatable-difference-ratio",
            raw.max_allocatable_difference_ratio,
            d.max_allocatable_difference_ratio,
        ),
        max_free_difference_ratio: ratio(
            "max-free-difference-ratio",
            raw.max_free_difference_ratio,
            d.max_free_difference_ratio,
        ),
        ignore_labels: raw.balancing_ignore_label.clone(),
        labels: raw.balancing_label.clone(),
    }
}

/// A `<min>:<max>` flag value (`--cores-total=0:320000`).
fn min_max(
    field: &str,
    value: Option<&str>,
    default: (i64, i64),
    error: &mut impl FnMut(&str, String),
) -> (i64, i64) {
    let Some(value) = value else {
        return default;
    };
    let parsed = value
        .split_once(':')
        .and_then(|(min, max)| Some((min.trim().parse().ok()?, max.trim().parse().ok()?)));
    match parsed {
        Some((min, max)) if 0 <= min && min <= max => (min, max),
        _ => {
            error(
                field,
                format!("{value:?} is not <min>:<max> with 0 <= min <= max, e.g. \"0:320000\""),
            );
            default
        }
    }
}

fn expanders(value: Option<&str>, error: &mut impl FnMut(&str, String)) -> Vec<Expander> {
    let Some(value) = value else {
        return AutoscalerSettings::default().expanders;
    };
    let mut chain = Vec::new();
    for name in value.split(',').map(str::trim) {
        match Expander::ALL.iter().find(|e| e.as_str() == name) {
            Some(e) => chain.push(*e),
            None => {
                let hint = did_you_mean_hint(name, Expander::ALL.iter().map(|e| e.as_str()));
                let all: Vec<&str> = Expander::ALL.iter().map(|e| e.as_str()).collect();
                error(
                    "expander",
                    format!("unknown expander {name:?}{hint}: one of {}", all.join(", ")),
                );
            }
        }
    }
    chain
}

/// Highest priority first.
fn priorities(
    raw: &BTreeMap<String, Vec<String>>,
    error: &mut impl FnMut(&str, String),
) -> Vec<(i64, Vec<Pattern>)> {
    let mut out = Vec::new();
    for (key, patterns) in raw {
        let Ok(priority) = key.trim().parse::<i64>() else {
            error(
                &format!("priorities.{key}"),
                "priorities are integers".into(),
            );
            continue;
        };
        let compiled = patterns
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                Pattern::parse(p)
                    .map_err(|e| error(&format!("priorities.{key}[{i}]"), format!("{p:?}: {e}")))
                    .ok()
            })
            .collect();
        out.push((priority, compiled));
    }
    out.sort_by_key(|(p, _)| std::cmp::Reverse(*p));
    out
}

/// The effective settings as `scenario.resolved.yaml` shows them.
pub fn resolved(s: &AutoscalerSettings) -> RawClusterAutoscaler {
    let d = |v: SimDuration| Some(Duration(v));
    let n = |v: usize| Some(u32::try_from(v).unwrap_or(u32::MAX));
    RawClusterAutoscaler {
        enabled: Some(true),
        scan_interval: d(s.scan_interval),
        expander: Some(
            s.expanders
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ),
        max_node_provision_time: d(s.max_node_provision_time),
        scale_down_enabled: Some(s.scale_down_enabled),
        scale_down_utilization_threshold: Some(s.scale_down_utilization_threshold),
        scale_down_gpu_utilization_threshold: Some(s.scale_down_gpu_utilization_threshold),
        scale_down_unneeded_time: d(s.scale_down_unneeded_time),
        scale_down_delay_after_add: d(s.scale_down_delay_after_add),
        scale_down_delay_after_delete: d(s.scale_down_delay_after_delete),
        scale_down_delay_after_failure: d(s.scale_down_delay_after_failure),
        max_pod_eviction_time: d(s.max_pod_eviction_time),
        unremovable_node_recheck_timeout: d(s.unremovable_node_recheck_timeout),
        max_graceful_termination_sec: Some(
            u32::try_from(s.max_graceful_termination.as_micros() / MICROS_PER_SECOND)
                .unwrap_or(u32::MAX),
        ),
        expendable_pods_priority_cutoff: Some(s.expendable_pods_priority_cutoff),
        max_scale_down_parallelism: n(s.max_scale_down_parallelism),
        max_drain_parallelism: n(s.max_drain_parallelism),
        new_pod_scale_up_delay: d(s.new_pod_scale_up_delay),
        max_nodes_per_scaleup: n(s.max_nodes_per_scaleup),
        max_nodes_total: n(s.max_nodes_total),
        cores_total: Some(format!("{}:{}", s.cores_total.0, s.cores_total.1)),
        memory_total: Some(format!("{}:{}", s.memory_total_gib.0, s.memory_total_gib.1)),
        initial_node_group_backoff_duration: d(s.initial_node_group_backoff_duration),
        max_node_group_backoff_duration: d(s.max_node_group_backoff_duration),
        node_group_backoff_reset_timeout: d(s.node_group_backoff_reset_timeout),
        scale_down_unready_enabled: Some(s.scale_down_unready_enabled),
        scale_down_unready_time: d(s.scale_down_unready_time),
        skip_nodes_with_system_pods: Some(s.skip_nodes_with_system_pods),
        skip_nodes_with_local_storage: Some(s.skip_nodes_with_local_storage),
        skip_nodes_with_custom_controller_pods: Some(s.skip_nodes_with_custom_controller_pods),
        min_replica_count: Some(u32::try_from(s.min_replica_count).unwrap_or(0)),
        blocking_system_pod_distruption_timeout: d(s.blocking_system_pod_disruption_timeout),
        ignore_daemonsets_utilization: Some(s.ignore_daemonsets_utilization),
        ignore_mirror_pods_utilization: Some(s.ignore_mirror_pods_utilization),
        enforce_node_group_min_size: Some(s.enforce_node_group_min_size),
        balance_similar_node_groups: Some(s.balancing.enabled),
        memory_difference_ratio: Some(s.balancing.memory_difference_ratio),
        max_allocatable_difference_ratio: Some(s.balancing.max_allocatable_difference_ratio),
        max_free_difference_ratio: Some(s.balancing.max_free_difference_ratio),
        balancing_ignore_label: s.balancing.ignore_labels.clone(),
        balancing_label: s.balancing.labels.clone(),
        priorities: s
            .priorities
            .iter()
            .map(|(p, pats)| {
                (
                    p.to_string(),
                    pats.iter().map(|x| x.source.clone()).collect(),
                )
            })
            .collect(),
    }
}
