//! The replay against the observations, interval by interval: CPU per pod, replicas, memory per
//! pod and each latency quantile both have, with the error of the means and the median error
//! of the intervals.

use serde::Serialize;

use super::observe::Observations;

/// One interval: its end (Unix ms), the observed value, the replayed value.
pub type IntervalValues = (i64, Option<f64>, Option<f64>);

/// A quantity's values per interval.
type Values = Vec<Option<f64>>;

/// One quantity compared.
#[derive(Clone, Debug, Serialize)]
pub struct Compared {
    /// What it is, e.g. `latency p99 (s)`.
    pub name: String,
    /// Per interval: (interval end, Unix ms; observed; replayed).
    pub intervals: Vec<IntervalValues>,
    /// The mean of the observed values over the intervals both have.
    pub observed_mean: Option<f64>,
    /// The mean of the replayed values over the same intervals.
    pub replayed_mean: Option<f64>,
    /// (replayed mean − observed mean) / observed mean.
    pub error_of_means: Option<f64>,
    /// The median over those intervals of |replayed − observed| / observed.
    pub median_interval_error: Option<f64>,
    /// How many intervals both have.
    pub intervals_compared: usize,
}

/// Compares every quantity both have.
pub fn compare(observed: &Observations, replayed: &Observations) -> Vec<Compared> {
    let mut out = Vec::new();
    let cpu_per_pod = |o: &Observations| -> Vec<Option<f64>> {
        o.cpu
            .iter()
            .map(|c| c.map(|c| c.cores / c.pods as f64))
            .collect()
    };
    let memory_per_pod = |o: &Observations| -> Vec<Option<f64>> {
        o.memory
            .iter()
            .map(|m| m.map(|m| m.0 / 1_048_576.0))
            .collect()
    };
    let pairs: [(&str, Values, Values); 4] = [
        (
            "requests per second",
            observed.rate.clone(),
            replayed.rate.clone(),
        ),
        (
            "CPU per pod (cores)",
            cpu_per_pod(observed),
            cpu_per_pod(replayed),
        ),
        (
            "replicas",
            observed.replicas.clone(),
            replayed.replicas.clone(),
        ),
        (
            "working set per pod (MiB)",
            memory_per_pod(observed),
            memory_per_pod(replayed),
        ),
    ];
    for (name, o, r) in pairs {
        if o.iter().any(Option::is_some) {
            out.push(compared(name, observed, &o, replayed, &r));
        }
    }
    for (name, q, values) in &observed.quantiles {
        let replay = replayed
            .quantiles
            .iter()
            .find(|(_, rq, _)| (rq - q).abs() < 1e-9);
        let empty = Vec::new();
        let r = replay.map_or(&empty, |(_, _, v)| v);
        out.push(compared(
            &format!("latency {name} (s)"),
            observed,
            values,
            replayed,
            r,
        ));
    }
    out
}

fn compared(
    name: &str,
    observed: &Observations,
    o: &[Option<f64>],
    replayed: &Observations,
    r: &[Option<f64>],
) -> Compared {
    let intervals: Vec<IntervalValues> = (observed.ends.iter().enumerate())
        .map(|(k, &end)| {
            let replay = replayed
                .ends
                .iter()
                .position(|&e| (e - end).abs() <= observed.step_ms / 2)
                .and_then(|j| r.get(j).copied().flatten());
            (end, o.get(k).copied().flatten(), replay)
        })
        .collect();
    let both: Vec<(f64, f64)> = (intervals.iter())
        .filter_map(|&(_, o, r)| Some((o?, r?)))
        .collect();
    let n = both.len();
    let mean =
        |f: fn(&(f64, f64)) -> f64| (n > 0).then(|| both.iter().map(f).sum::<f64>() / n as f64);
    let (om, rm) = (mean(|p| p.0), mean(|p| p.1));
    let error_of_means = om
        .zip(rm)
        .filter(|(o, _)| *o != 0.0)
        .map(|(o, r)| (r - o) / o);
    let mut errors: Vec<f64> = (both.iter())
        .filter(|p| p.0 != 0.0)
        .map(|(o, r)| ((r - o) / o).abs())
        .collect();
    errors.sort_by(f64::total_cmp);
    let median = (!errors.is_empty()).then(|| errors[errors.len() / 2]);
    Compared {
        name: name.to_string(),
        intervals,
        observed_mean: om,
        replayed_mean: rm,
        error_of_means,
        median_interval_error: median,
        intervals_compared: n,
    }
}
