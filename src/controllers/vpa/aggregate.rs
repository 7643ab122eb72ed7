//! What the VPA recommender keeps per container (`pkg/recommender/model`, 1.7.1): CPU usage
//! samples in a decaying histogram (each weighing 0.1 at its time), and memory as one peak per
//! aggregation interval (24 h) in another, stamped at the interval's end; an OOM kill adds a
//! peak above what the container had (+20 %, at least +100 MiB).

use super::histogram::{DecayingHistogram, HistogramOptions};
use crate::sim::{SimDuration, SimTime};

/// `minSampleWeight`: every CPU sample's weight (since VPA 1.4, no longer the request).
pub const MIN_SAMPLE_WEIGHT: f64 = 0.1;
/// `epsilon`: 0.001 of the sample weight.
const EPSILON: f64 = 0.001 * MIN_SAMPLE_WEIGHT;
/// `DefaultHistogramBucketSizeGrowth`: buckets grow by 5 %.
const BUCKET_GROWTH: f64 = 0.05;

/// The recommender's aggregation flags.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AggregationConfig {
    /// `--memory-aggregation-interval` (24 h): one memory peak per interval.
    pub memory_aggregation_interval: SimDuration,
    /// `--memory-aggregation-interval-count` (8): how many intervals history lasts.
    pub memory_aggregation_interval_count: u64,
    /// `--cpu-histogram-decay-half-life` (24 h).
    pub cpu_half_life: SimDuration,
    /// `--memory-histogram-decay-half-life` (24 h).
    pub memory_half_life: SimDuration,
    /// `--oom-bump-up-ratio` (1.2).
    pub oom_bump_up_ratio: f64,
    /// `--oom-min-bump-up-bytes` (100 MiB).
    pub oom_min_bump_up_bytes: i64,
}

impl Default for AggregationConfig {
    fn default() -> Self {
        AggregationConfig {
            memory_aggregation_interval: SimDuration::from_secs(24 * 3600),
            memory_aggregation_interval_count: 8,
            cpu_half_life: SimDuration::from_secs(24 * 3600),
            memory_half_life: SimDuration::from_secs(24 * 3600),
            oom_bump_up_ratio: 1.2,
            oom_min_bump_up_bytes: 100 << 20,
        }
    }
}

/// CPU buckets: 0.01 core growing by 5 % up to 1000 cores (176 buckets).
pub fn cpu_histogram_options() -> HistogramOptions {
    HistogramOptions::exponential(1000.0, 0.01, 1.0 + BUCKET_GROWTH, EPSILON).expect("valid")
}

/// Memory buckets: 10 MB growing by 5 % up to 1 TB (176 buckets).
pub fn memory_histogram_options() -> HistogramOptions {
    HistogramOptions::exponential(1e12, 1e7, 1.0 + BUCKET_GROWTH, EPSILON).expect("valid")
}

/// `AggregateContainerState`: one container's (or several merged) usage history.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateState {
    /// CPU usage in cores.
    pub cpu: DecayingHistogram,
    /// Memory peaks in bytes.
    pub memory_peaks: DecayingHistogram,
    /// The first CPU sample's time.
    pub first_sample_start: Option<SimTime>,
    /// The last CPU sample's time.
    pub last_sample_start: Option<SimTime>,
    /// CPU samples taken.
    pub total_samples: u64,
}

impl AggregateState {
    /// No history.
    pub fn new(config: &AggregationConfig) -> Self {
        AggregateState {
            cpu: DecayingHistogram::new(cpu_histogram_options(), config.cpu_half_life),
            memory_peaks: DecayingHistogram::new(
                memory_histogram_options(),
                config.memory_half_life,
            ),
            first_sample_start: None,
            last_sample_start: None,
            total_samples: 0,
        }
    }

    /// A CPU usage sample (cores) at `t` (`addCPUSample`).
    pub fn add_cpu_sample(&mut self, cores: f64, t: SimTime) {
        self.cpu.add_sample(cores, MIN_SAMPLE_WEIGHT, t);
        self.last_sample_start = Some(self.last_sample_start.map_or(t, |l| l.max(t)));
        self.first_sample_start = Some(self.first_sample_start.map_or(t, |f| f.min(t)));
        self.total_samples += 1;
    }

    /// Adds `other`'s history (`MergeContainerState`).
    pub fn merge(&mut self, other: &AggregateState) {
        self.cpu.merge(&other.cpu);
        self.memory_peaks.merge(&other.memory_peaks);
        let earliest = [self.first_sample_start, other.first_sample_start];
        self.first_sample_start = earliest.into_iter().flatten().min();
        self.last_sample_start = self.last_sample_start.max(other.last_sample_start);
        self.total_samples += other.total_samples;
    }
}

/// `ContainerState`: one container's sample intake, feeding an [`AggregateState`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerState {
    last_cpu_sample: Option<SimTime>,
    memory_peak: i64,
    oom_peak: i64,
    /// The end (exclusive) of the current memory aggregation interval.
    window_end: Option<SimTime>,
    last_memory_sample: Option<SimTime>,
}

/// An OOM kill the recommender could not use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OomError {
    /// Older than the current interval's start.
    #[error("OOM event will be discarded - it is too old")]
    TooOld,
    /// The bumped peak could not be recorded.
    #[error("adding OOM sample failed")]
    NotAdded,
}

impl ContainerState {
    /// A CPU sample (cores, ≥ 0) at `t`; refused unless strictly after the last.
    pub fn add_cpu_sample(&mut self, agg: &mut AggregateState, cores: f64, t: SimTime) -> bool {
        if cores < 0.0 || self.last_cpu_sample.is_some_and(|l| t <= l) {
            return false;
        }
        agg.add_cpu_sample(cores, t);
        self.last_cpu_sample = Some(t);
        true
    }

    /// A memory sample (bytes, ≥ 0) at `t`: the interval's peak if it is the largest yet
    /// (the old peak is taken back out), stamped at the interval's end.
    pub fn add_memory_sample(
        &mut self,
        agg: &mut AggregateState,
        config: &AggregationConfig,
        bytes: i64,
        t: SimTime,
    ) -> bool {
        self.add_memory(agg, config, bytes, t, false)
    }

    fn add_memory(
        &mut self,
        agg: &mut AggregateState,
        config: &AggregationConfig,
        bytes: i64,
        t: SimTime,
        oom: bool,
    ) -> bool {
        if bytes < 0 || (!oom && self.last_memory_sample.is_some_and(|l| t < l)) {
            return false;
        }
        self.last_memory_sample = Some(t);
        let interval = config.memory_aggregation_interval.as_micros().max(1);
        let end = *self.window_end.get_or_insert(t);
        let add_peak = if t < end {
            let old = self.memory_peak.max(self.oom_peak);
            let higher = old != 0 && bytes > old;
            if higher {
                agg.memory_peaks.subtract_sample(old as f64, 1.0, end);
            }
            higher
        } else {
            let shift = (t - end).as_micros() / interval * interval + interval;
            self.window_end = Some(end + SimDuration::from_micros(shift));
            self.memory_peak = 0;
            self.oom_peak = 0;
            true
        };
        if add_peak {
            let end = self.window_end.expect("set above");
            agg.memory_peaks.add_sample(bytes as f64, 1.0, end);
            if oom {
                self.oom_peak = bytes;
            } else {
                self.memory_peak = bytes;
            }
        }
        true
    }

    /// An OOM kill at `t` of a container requesting `requested` bytes (`RecordOOM`): a peak of
    /// max(used + the minimum bump, used × the ratio), used being the larger of the request and
    /// this interval's peak.
    pub fn record_oom(
        &mut self,
        agg: &mut AggregateState,
        config: &AggregationConfig,
        t: SimTime,
        requested: i64,
    ) -> Result<(), OomError> {
        let interval = config.memory_aggregation_interval;
        if let Some(end) = self.window_end
            && t < end.saturating_sub(interval)
        {
            return Err(OomError::TooOld);
        }
        let used = requested.max(self.memory_peak);
        let bumped = (used as f64 * config.oom_bump_up_ratio) as i64;
        let needed = (used + config.oom_min_bump_up_bytes).max(bumped);
        if self.add_memory(agg, config, needed, t, true) {
            Ok(())
        } else {
            Err(OomError::NotAdded)
        }
    }
}

#[cfg(test)]
mod tests;
