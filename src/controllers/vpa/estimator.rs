//! The VPA recommender's estimators (`pkg/recommender/logic`, 1.7.1): per container, the
//! target is the 90th percentile of CPU usage and of memory peaks plus a 15 % safety margin;
//! the lower and upper bounds are the 50th and 95th percentiles with the margin, scaled by a
//! confidence multiplier that tends to 1 as history grows; every value is at least the
//! container's share of the pod minimum (25m CPU, 250 MiB). Amounts are integers (millicores,
//! bytes), truncated at every step as upstream's `ResourceAmount`.

use super::aggregate::AggregateState;
use crate::sim::SimDuration;

/// `MaxResourceAmount`: amounts are capped here (1e14).
pub const MAX_RESOURCE_AMOUNT: i64 = 100_000_000_000_000;

/// The recommender's flags for estimation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EstimatorConfig {
    /// `--target-cpu-percentile` / `--target-memory-percentile` (0.9).
    pub target_percentile: (f64, f64),
    /// The lower bound's percentiles (0.5).
    pub lower_percentile: f64,
    /// The upper bound's percentiles (0.95).
    pub upper_percentile: f64,
    /// `--recommendation-margin-fraction` (0.15).
    pub safety_margin_fraction: f64,
    /// `--pod-recommendation-min-cpu-millicores` (25).
    pub pod_min_cpu_millis: f64,
    /// `--pod-recommendation-min-memory-mb` (250, in MiB).
    pub pod_min_memory_mib: f64,
    /// `--confidence-interval-cpu` / `--confidence-interval-memory` (24 h).
    pub confidence_interval: (SimDuration, SimDuration),
}

impl Default for EstimatorConfig {
    fn default() -> Self {
        let day = SimDuration::from_secs(24 * 3600);
        EstimatorConfig {
            target_percentile: (0.9, 0.9),
            lower_percentile: 0.5,
            upper_percentile: 0.95,
            safety_margin_fraction: 0.15,
            pod_min_cpu_millis: 25.0,
            pod_min_memory_mib: 250.0,
            confidence_interval: (day, day),
        }
    }
}

/// One resource's recommendation: millicores or bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Bounds {
    /// `target`.
    pub target: i64,
    /// `lowerBound`.
    pub lower: i64,
    /// `upperBound`.
    pub upper: i64,
}

/// A container's recommendation, before the policy caps it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContainerEstimate {
    /// CPU, millicores.
    pub cpu: Bounds,
    /// Memory, bytes.
    pub memory: Bounds,
}

/// `resourceAmountFromFloat`: truncated, negative (and NaN) as 0, capped at 1e14.
pub fn amount(x: f64) -> i64 {
    if x > MAX_RESOURCE_AMOUNT as f64 {
        MAX_RESOURCE_AMOUNT
    } else if x > 0.0 {
        x as i64
    } else {
        0
    }
}

/// `ScaleResource`: `a × factor`, as an amount.
pub fn scale(a: i64, factor: f64) -> i64 {
    amount(a as f64 * factor)
}

/// `WithMargin`: `base + base × fraction`.
pub fn with_margin(base: i64, fraction: f64) -> i64 {
    base.saturating_add(scale(base, fraction))
        .min(MAX_RESOURCE_AMOUNT)
}

/// `getConfidence`: history as a number of `interval`s — the smaller of the time between the
/// first and last CPU samples and the sample count at one a minute.
pub fn confidence(state: &AggregateState, interval: SimDuration) -> f64 {
    let span = match (state.first_sample_start, state.last_sample_start) {
        (Some(first), Some(last)) => last.saturating_since(first).as_micros() as f64,
        _ => 0.0,
    };
    let interval_us = interval.as_micros().max(1) as f64;
    let lifespan = span / interval_us;
    let samples = state.total_samples as f64 / (interval_us / 60e6);
    lifespan.min(samples)
}

/// `WithConfidenceMultiplier`: `base × (1 + multiplier/confidence)^exponent` (no history:
/// confidence 0, so a positive exponent gives the cap and a negative one 0).
pub fn with_confidence(base: i64, multiplier: f64, exponent: f64, confidence: f64) -> i64 {
    scale(base, (1.0 + multiplier / confidence).powf(exponent))
}

/// How one resource's bounds were reached, for `kubesim explain --vpa`: the raw percentiles
/// (millicores or bytes, before the margin), the confidence and the floor.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Working {
    /// The target's, the lower bound's and the upper bound's percentile of the history.
    pub percentiles: [i64; 3],
    /// History in confidence intervals (days by default).
    pub confidence: f64,
    /// This container's share of the pod minimum.
    pub minimum: i64,
    /// The bounds these give.
    pub bounds: Bounds,
}

/// One resource's bounds from percentiles of its history (`at`, as amounts).
fn resource_estimate(
    at: &dyn Fn(f64) -> i64,
    target_percentile: f64,
    confidence: f64,
    minimum: i64,
    c: &EstimatorConfig,
) -> Working {
    let percentiles = [target_percentile, c.lower_percentile, c.upper_percentile].map(at);
    let margin = |i: usize| with_margin(percentiles[i], c.safety_margin_fraction);
    Working {
        percentiles,
        confidence,
        minimum,
        bounds: Bounds {
            target: margin(0).max(minimum),
            lower: with_confidence(margin(1), 0.001, -2.0, confidence).max(minimum),
            upper: with_confidence(margin(2), 1.0, 1.0, confidence).max(minimum),
        },
    }
}

/// The estimate for one container of a pod whose `containers` containers get a
/// recommendation (the pod minimum is split equally among them), with its working.
pub fn estimate_worked(
    state: &AggregateState,
    containers: usize,
    c: &EstimatorConfig,
) -> (Working, Working) {
    let share = 1.0 / containers.max(1) as f64;
    let min_cpu = scale(amount(c.pod_min_cpu_millis), share);
    let min_memory = scale(amount(c.pod_min_memory_mib * 1024.0 * 1024.0), share);
    let cpu_at = |p: f64| amount(state.cpu.percentile(p) * 1000.0);
    let memory_at = |p: f64| amount(state.memory_peaks.percentile(p));
    let cpu_confidence = confidence(state, c.confidence_interval.0);
    let memory_confidence = confidence(state, c.confidence_interval.1);
    (
        resource_estimate(&cpu_at, c.target_percentile.0, cpu_confidence, min_cpu, c),
        resource_estimate(
            &memory_at,
            c.target_percentile.1,
            memory_confidence,
            min_memory,
            c,
        ),
    )
}

/// The estimate for one container of a pod whose `containers` containers get a
/// recommendation (the pod minimum is split equally among them).
pub fn estimate(
    state: &AggregateState,
    containers: usize,
    c: &EstimatorConfig,
) -> ContainerEstimate {
    let (cpu, memory) = estimate_worked(state, containers, c);
    ContainerEstimate {
        cpu: cpu.bounds,
        memory: memory.bounds,
    }
}

#[cfg(test)]
mod tests;
