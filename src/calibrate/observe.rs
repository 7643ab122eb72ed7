//! A Service's series, as a calibration file maps them, put on one grid of intervals: the
//! request rate, each interval's CPU and memory per pod (only intervals in which every pod ran
//! throughout count for CPU: a pod that started or stopped inside one used CPU for part of it),
//! replicas, latency quantiles (from a histogram's buckets or from quantile gauges) and the
//! pods' start-up times (created to Ready).
//!
//! The grid is the request series' timestamps; another series' point belongs to a grid instant
//! when it is the nearest within half a step (range queries share timestamps exactly; files
//! scraped apart differ by milliseconds). Interval `k` ends at `ends[k]` and began one step
//! before. A gauge's value at an interval's end stands for the interval (a per-minute average
//! does); a counter's increase over the interval, divided by its length, is its rate.

use std::collections::BTreeMap;

use crate::scenario::calibration::{Role, RoleData, ServiceData, Unit};
use crate::scenario::prom_export::Series;

/// CPU of the pods that ran throughout one interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuInterval {
    /// Cores used by all of them together (mean over the interval).
    pub cores: f64,
    /// How many pods.
    pub pods: usize,
}

/// One Service's observations, interval by interval.
#[derive(Clone, Debug, Default)]
pub struct Observations {
    /// The step, in ms.
    pub step_ms: i64,
    /// Each interval's end, Unix ms.
    pub ends: Vec<i64>,
    /// Requests per second.
    pub rate: Vec<Option<f64>>,
    /// CPU, where every pod ran throughout.
    pub cpu: Vec<Option<CpuInterval>>,
    /// Mean working set per pod (bytes) and how many pods.
    pub memory: Vec<Option<(f64, usize)>>,
    /// Replicas.
    pub replicas: Vec<Option<f64>>,
    /// Latency quantiles in seconds: (name, quantile, per interval).
    pub quantiles: Vec<(String, f64, Vec<Option<f64>>)>,
    /// Mean latency in seconds per interval, from a histogram's buckets (midpoints).
    pub mean_latency: Vec<Option<f64>>,
    /// Seconds from each pod's creation to its readiness, for pods created inside the data.
    pub startups: Vec<f64>,
    /// What could not be used, one sentence each.
    pub notes: Vec<String>,
}

impl Observations {
    /// The first interval's start, Unix ms.
    pub fn start_ms(&self) -> i64 {
        self.ends.first().map_or(0, |e| e - self.step_ms)
    }
}

/// Puts `data`'s roles on the grid of its request series.
pub fn observe(data: &ServiceData) -> Result<Observations, String> {
    let requests = &data.roles[&Role::Requests];
    let grid = grid_of(&requests.series)?;
    let step_ms = grid.step_ms;
    let counters = requests.unit == Unit::Counter;
    let ends: Vec<i64> = match counters {
        true => grid.instants[1..].to_vec(),
        false => grid.instants.clone(),
    };
    let mut o = Observations {
        step_ms,
        rate: summed(requests, &grid, &ends),
        ends,
        ..Observations::default()
    };
    if let Some(cpu) = data.roles.get(&Role::Cpu) {
        o.cpu = per_pod(cpu, &grid, &o.ends, |pods| {
            (!pods.partial && pods.whole > 0).then_some(CpuInterval {
                cores: pods.sum,
                pods: pods.whole,
            })
        });
    }
    if let Some(memory) = data.roles.get(&Role::Memory) {
        o.memory = per_pod(memory, &grid, &o.ends, |pods| {
            (pods.present > 0).then(|| (pods.end_sum / pods.present as f64, pods.present))
        });
    }
    if let Some(replicas) = data.roles.get(&Role::Replicas) {
        o.replicas = summed(replicas, &grid, &o.ends);
    }
    if let Some(histogram) = data.roles.get(&Role::Latency) {
        let (quantiles, means) = histogram_quantiles(histogram, &grid, &o.ends);
        o.quantiles = quantiles;
        o.mean_latency = means;
    }
    for (name, q, gauge) in &data.quantiles {
        o.quantiles
            .push((name.clone(), *q, summed(gauge, &grid, &o.ends)));
    }
    if let (Some(created), Some(ready)) = (
        data.roles.get(&Role::PodCreated),
        data.roles.get(&Role::PodReady),
    ) {
        o.startups = startups(created, ready, step_ms);
    }
    if o.ends.is_empty() {
        return Err(format!(
            "{}: fewer than two points: no interval to fit",
            requests.source
        ));
    }
    Ok(o)
}

/// The grid: the instants of the request series with the most points, and its step.
struct Grid {
    instants: Vec<i64>,
    step_ms: i64,
}

fn grid_of(series: &[Series]) -> Result<Grid, String> {
    let longest = (series.iter())
        .max_by_key(|s| s.points.len())
        .expect("a role has a series");
    let step_ms = longest.step_ms().ok_or_else(|| {
        format!(
            "{} has fewer than two points: no interval to fit",
            longest.display()
        )
    })?;
    Ok(Grid {
        instants: longest.points.iter().map(|p| p.0).collect(),
        step_ms: nominal_step(step_ms),
    })
}

/// A step read from scrape times that wander (59 984 ms, 60 012 ms …) as the whole second it
/// stands for, when within 1 % of one; else as read.
fn nominal_step(step_ms: i64) -> i64 {
    let second = ((step_ms + 500) / 1000) * 1000;
    match second > 0 && (step_ms - second).abs() * 100 <= second {
        true => second,
        false => step_ms,
    }
}

/// `points`' values at `instants`: the nearest point within half a step, else `None`.
fn on_grid(points: &[(i64, f64)], instants: &[i64], step_ms: i64) -> Vec<Option<f64>> {
    let tolerance = step_ms / 2;
    let mut j = 0;
    instants
        .iter()
        .map(|&t| {
            while j + 1 < points.len() && (points[j + 1].0 - t).abs() <= (points[j].0 - t).abs() {
                j += 1;
            }
            let p = points.get(j)?;
            ((p.0 - t).abs() <= tolerance).then_some(p.1)
        })
        .collect()
}

/// One series' value per interval in the role's unit: a counter's rate (a value below the
/// previous one is a reset: the increase is the new value), or a gauge's value at the end,
/// scaled (millicores to cores, MiB to bytes, ms to s, per minute to per second).
fn per_interval(
    series: &Series,
    unit: Unit,
    factor: f64,
    grid: &Grid,
    ends: &[i64],
) -> Vec<Option<f64>> {
    let values: Vec<Option<f64>> = (on_grid(&series.points, &grid.instants, grid.step_ms)
        .into_iter())
    .map(|v| v.map(|v| v * factor))
    .collect();
    let counter = matches!(unit, Unit::Counter | Unit::CpuSeconds);
    let offset = grid.instants.len() - ends.len();
    (0..ends.len())
        .map(|k| {
            let i = k + offset;
            let end = values[i]?;
            if !counter {
                return Some(end * scale(unit));
            }
            let start = values[i.checked_sub(1)?]?;
            let increase = if end < start { end } else { end - start };
            let seconds = (grid.instants[i] - grid.instants[i - 1]) as f64 / 1000.0;
            Some(increase / seconds)
        })
        .collect()
}

fn scale(unit: Unit) -> f64 {
    match unit {
        Unit::PerMinute => 1.0 / 60.0,
        Unit::Millicores | Unit::Milliseconds => 1e-3,
        Unit::Mebibytes => 1_048_576.0,
        _ => 1.0,
    }
}

/// The role's series added up per interval (a missing series counts nothing; an interval none
/// of them covers is `None`).
fn summed(data: &RoleData, grid: &Grid, ends: &[i64]) -> Vec<Option<f64>> {
    let mut total: Vec<Option<f64>> = vec![None; ends.len()];
    for s in &data.series {
        for (t, v) in total
            .iter_mut()
            .zip(per_interval(s, data.unit, data.scale, grid, ends))
        {
            if let Some(v) = v {
                *t = Some(t.unwrap_or(0.0) + v);
            }
        }
    }
    total
}

/// What the pods of one interval showed.
#[derive(Default)]
struct PodsInInterval {
    /// Pods with a value over the whole interval, and its sum.
    whole: usize,
    sum: f64,
    /// A pod that appeared or disappeared inside the interval.
    partial: bool,
    /// Pods present at the end, and their values there summed.
    present: usize,
    end_sum: f64,
}

/// The role's series grouped by pod (the `pod` label; without one, each series is a pod),
/// summarized per interval by `summary`.
fn per_pod<T>(
    data: &RoleData,
    grid: &Grid,
    ends: &[i64],
    summary: impl Fn(&PodsInInterval) -> Option<T>,
) -> Vec<Option<T>> {
    let mut pods: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
    for s in &data.series {
        let key = s.labels.get("pod").cloned().unwrap_or_else(|| s.display());
        let values = per_interval(s, data.unit, data.scale, grid, ends);
        let entry = pods.entry(key).or_insert_with(|| vec![None; ends.len()]);
        for (e, v) in entry.iter_mut().zip(values) {
            if let Some(v) = v {
                *e = Some(e.unwrap_or(0.0) + v);
            }
        }
    }
    let presence: Vec<Vec<bool>> = (data.series.iter())
        .map(|s| {
            (on_grid(&s.points, &grid.instants, grid.step_ms).iter())
                .map(Option::is_some)
                .collect()
        })
        .collect();
    let offset = grid.instants.len() - ends.len();
    (0..ends.len())
        .map(|k| {
            let mut interval = PodsInInterval::default();
            for values in pods.values() {
                if let Some(v) = values[k] {
                    interval.whole += 1;
                    interval.sum += v;
                    interval.present += 1;
                    interval.end_sum += v;
                }
            }
            let i = k + offset;
            interval.partial = presence.iter().any(|p| i > 0 && p[i] != p[i - 1]);
            summary(&interval)
        })
        .collect()
}

/// Quantiles (p50, p90, p99) and mean per interval from histogram buckets: each `le`'s increase
/// summed over the series, then interpolated within the bucket as `histogram_quantile` does.
type Quantiles = Vec<(String, f64, Vec<Option<f64>>)>;

fn histogram_quantiles(
    data: &RoleData,
    grid: &Grid,
    ends: &[i64],
) -> (Quantiles, Vec<Option<f64>>) {
    let mut buckets: BTreeMap<u64, (f64, Vec<f64>)> = BTreeMap::new();
    for s in &data.series {
        let Some(le) = s.labels.get("le").and_then(|l| parse_le(l)) else {
            continue;
        };
        let counts = per_interval(s, Unit::Counter, 1.0, grid, ends);
        let entry = buckets
            .entry(order_key(le))
            .or_insert_with(|| (le, vec![0.0; ends.len()]));
        for (e, c) in entry.1.iter_mut().zip(counts) {
            *e += c.unwrap_or(0.0);
        }
    }
    let unit = scale(data.unit);
    let bounds: Vec<(f64, &Vec<f64>)> = buckets.values().map(|(le, c)| (*le * unit, c)).collect();
    let quantile_at = |k: usize, q: f64| bucket_quantile(&bounds, k, q);
    let quantiles = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)]
        .iter()
        .map(|&(name, q)| {
            (
                name.to_string(),
                q,
                (0..ends.len()).map(|k| quantile_at(k, q)).collect(),
            )
        })
        .collect();
    let means = (0..ends.len()).map(|k| bucket_mean(&bounds, k)).collect();
    (quantiles, means)
}

fn parse_le(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" | "inf" => Some(f64::INFINITY),
        _ => text.parse().ok(),
    }
}

/// A float's order as an integer (bucket bounds are not negative).
fn order_key(le: f64) -> u64 {
    le.to_bits()
}

/// The q-quantile of interval `k` over cumulative bucket rates `bounds` (sorted by bound).
fn bucket_quantile(bounds: &[(f64, &Vec<f64>)], k: usize, q: f64) -> Option<f64> {
    let total = bounds.last()?.1[k];
    if total <= 0.0 || bounds.last()?.0 != f64::INFINITY {
        return None;
    }
    let rank = q * total;
    let mut below = (0.0, 0.0);
    for &(le, counts) in bounds {
        let count = counts[k];
        if count >= rank {
            if le == f64::INFINITY {
                return Some(below.0);
            }
            let inside = count - below.1;
            let fraction = if inside > 0.0 {
                (rank - below.1) / inside
            } else {
                1.0
            };
            return Some(below.0 + (le - below.0) * fraction);
        }
        below = (le, count);
    }
    None
}

/// The mean of interval `k`, each bucket's requests at its midpoint (the last finite bound for
/// the +Inf bucket).
fn bucket_mean(bounds: &[(f64, &Vec<f64>)], k: usize) -> Option<f64> {
    let total = bounds.last()?.1[k];
    if total <= 0.0 {
        return None;
    }
    let (mut sum, mut below) = (0.0, (0.0, 0.0));
    for &(le, counts) in bounds {
        let inside = counts[k] - below.1;
        let middle = if le == f64::INFINITY {
            below.0
        } else {
            (below.0 + le) / 2.0
        };
        sum += inside * middle;
        below = (if le == f64::INFINITY { below.0 } else { le }, counts[k]);
    }
    Some(sum / total)
}

/// Seconds from creation to readiness of each pod created inside the data: the ready instant
/// is taken halfway between the last point not ready and the first ready one.
fn startups(created: &RoleData, ready: &RoleData, step_ms: i64) -> Vec<f64> {
    let created_at: BTreeMap<&str, f64> = (created.series.iter())
        .filter_map(|s| Some((s.labels.get("pod")?.as_str(), s.points.first()?.1)))
        .collect();
    let mut out = Vec::new();
    for s in &ready.series {
        let Some(&created_s) = s.labels.get("pod").and_then(|p| created_at.get(p.as_str())) else {
            continue;
        };
        let Some(first_ready) = s.points.iter().position(|p| p.1 >= 1.0) else {
            continue;
        };
        let created_ms = (created_s * 1000.0).round() as i64;
        let ready_ms = s.points[first_ready].0;
        let before = match first_ready {
            0 if created_ms >= ready_ms - step_ms => created_ms,
            0 => continue,
            i => s.points[i - 1].0.max(created_ms),
        };
        let estimate = (before + ready_ms) as f64 / 2.0;
        if estimate >= created_ms as f64 {
            out.push((estimate - created_ms as f64) / 1000.0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wandering_scrape_steps_stand_for_whole_seconds() {
        // 59 984 ms is 0.03 % from 60 s; 15 200 ms is 1.3 % from 15 s: kept as read.
        assert_eq!(nominal_step(59_984), 60_000);
        assert_eq!(nominal_step(60_012), 60_000);
        assert_eq!(nominal_step(15_200), 15_200);
        assert_eq!(nominal_step(250), 250);
    }

    #[test]
    fn histogram_quantiles_interpolate_within_the_bucket() {
        // 100 requests: 50 under 1 ms, 40 in (1, 5], 10 in (5, 10]. p50 = 1 ms (the 50th is
        // the last of the first bucket); p90 = 5 ms; p99: rank 99, 9 of the 10 in (5, 10]:
        // 5 + 5 × 0.9 = 9.5 ms.
        let counts = [vec![50.0], vec![90.0], vec![100.0], vec![100.0]];
        let bounds: Vec<(f64, &Vec<f64>)> = [1.0, 5.0, 10.0, f64::INFINITY]
            .into_iter()
            .zip(counts.iter())
            .collect();
        assert_eq!(bucket_quantile(&bounds, 0, 0.5), Some(1.0));
        assert_eq!(bucket_quantile(&bounds, 0, 0.9), Some(5.0));
        assert!((bucket_quantile(&bounds, 0, 0.99).unwrap() - 9.5).abs() < 1e-12);
        // Mean at the midpoints: (50 × 0.5 + 40 × 3 + 10 × 7.5) / 100 = 2.2 ms.
        assert!((bucket_mean(&bounds, 0).unwrap() - 2.2).abs() < 1e-12);
    }
}
