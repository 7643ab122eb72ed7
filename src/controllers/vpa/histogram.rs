//! The VPA recommender's histograms (`pkg/recommender/util`, vertical-pod-autoscaler 1.7.1):
//! buckets of exponentially growing size (or, for tests, equal size), sample weights per
//! bucket, percentiles read as a bucket's end, and the decaying histogram whose samples weigh
//! 2^(age / half-life) more the newer they are.

use crate::sim::{SimDuration, SimTime};

/// How values map to buckets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BucketScheme {
    /// Bucket `n` is `first · ratio^n` wide; bucket 0 is `[0, first)`.
    Exponential {
        /// The first bucket's size.
        first: f64,
        /// Each bucket's size over the previous one's (> 1).
        ratio: f64,
    },
    /// Every bucket is `size` wide (upstream uses it in tests).
    Linear {
        /// The buckets' size.
        size: f64,
    },
}

/// A histogram's buckets: `NewExponentialHistogramOptions` / `NewLinearHistogramOptions`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HistogramOptions {
    scheme: BucketScheme,
    buckets: usize,
    epsilon: f64,
}

impl HistogramOptions {
    /// Buckets growing by `ratio` from `first`, enough to reach `max`: ⌈log_ratio(max·(ratio −
    /// 1)/first + 1)⌉ + 1 of them. `None` unless max, first and epsilon are positive and ratio
    /// is above 1.
    pub fn exponential(max: f64, first: f64, ratio: f64, epsilon: f64) -> Option<Self> {
        if !(max > 0.0 && first > 0.0 && ratio > 1.0 && epsilon > 0.0) {
            return None;
        }
        let buckets = log(ratio, max * (ratio - 1.0) / first + 1.0).ceil() as usize + 1;
        Some(HistogramOptions {
            scheme: BucketScheme::Exponential { first, ratio },
            buckets,
            epsilon,
        })
    }

    /// Buckets of `size` up to `max`: ⌈max/size⌉ + 1 of them. `None` unless both are positive.
    pub fn linear(max: f64, size: f64, epsilon: f64) -> Option<Self> {
        if !(max > 0.0 && size > 0.0) {
            return None;
        }
        Some(HistogramOptions {
            scheme: BucketScheme::Linear { size },
            buckets: (max / size).ceil() as usize + 1,
            epsilon,
        })
    }

    /// How many buckets there are.
    pub fn num_buckets(&self) -> usize {
        self.buckets
    }

    /// A weight below this counts as none.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    /// The bucket `value` falls in (values beyond the last bucket's start go in it).
    pub fn find_bucket(&self, value: f64) -> usize {
        let last = self.buckets - 1;
        match self.scheme {
            BucketScheme::Exponential { first, ratio } => {
                if value < first {
                    return 0;
                }
                (log(ratio, value * (ratio - 1.0) / first + 1.0) as usize).min(last)
            }
            BucketScheme::Linear { size } => ((value / size).max(0.0) as usize).min(last),
        }
    }

    /// Where bucket `i` begins (`i` < [`Self::num_buckets`]).
    pub fn bucket_start(&self, i: usize) -> f64 {
        assert!(i < self.buckets, "bucket {i} out of range");
        match self.scheme {
            BucketScheme::Exponential { .. } if i == 0 => 0.0,
            BucketScheme::Exponential { first, ratio } => {
                first * (ratio.powi(i as i32) - 1.0) / (ratio - 1.0)
            }
            BucketScheme::Linear { size } => i as f64 * size,
        }
    }
}

fn log(base: f64, x: f64) -> f64 {
    x.ln() / base.ln()
}

/// Sample weights per bucket (`histogram`).
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    options: HistogramOptions,
    weights: Vec<f64>,
    total: f64,
    min_bucket: usize,
    max_bucket: usize,
}

impl Histogram {
    /// An empty histogram.
    pub fn new(options: HistogramOptions) -> Self {
        Histogram {
            options,
            weights: vec![0.0; options.buckets],
            total: 0.0,
            min_bucket: options.buckets - 1,
            max_bucket: 0,
        }
    }

    /// Adds `weight` (≥ 0) at `value`.
    pub fn add_sample(&mut self, value: f64, weight: f64) {
        let weight = weight.max(0.0);
        let b = self.options.find_bucket(value);
        self.weights[b] += weight;
        self.total += weight;
        if self.weights[b] >= self.options.epsilon {
            self.min_bucket = self.min_bucket.min(b);
            self.max_bucket = self.max_bucket.max(b);
        }
    }

    /// Takes `weight` away at `value`; what falls below epsilon becomes 0.
    pub fn subtract_sample(&mut self, value: f64, weight: f64) {
        let b = self.options.find_bucket(value);
        let eps = self.options.epsilon;
        let safe = |x: f64| if x - weight < eps { 0.0 } else { x - weight };
        self.total = safe(self.total);
        self.weights[b] = safe(self.weights[b]);
        self.update_min_and_max();
    }

    /// Whether no bucket holds a weight of epsilon or more.
    pub fn is_empty(&self) -> bool {
        self.weights[self.min_bucket] < self.options.epsilon
    }

    /// The `p` percentile: the end of the first bucket (from the lowest) at which the weights
    /// reach `p` of the total; the start of the last bucket, which has no end. 0 when empty.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        let threshold = p * self.total;
        let mut sum = 0.0;
        let mut bucket = self.min_bucket;
        while bucket < self.max_bucket {
            sum += self.weights[bucket];
            if sum >= threshold {
                break;
            }
            bucket += 1;
        }
        if bucket < self.options.buckets - 1 {
            self.options.bucket_start(bucket + 1)
        } else {
            self.options.bucket_start(bucket)
        }
    }

    /// Adds `other`'s weights (same options).
    pub fn merge(&mut self, other: &Histogram) {
        assert_eq!(
            self.options, other.options,
            "histograms with different options"
        );
        for b in other.min_bucket..=other.max_bucket {
            self.weights[b] += other.weights[b];
        }
        self.total += other.total;
        self.min_bucket = self.min_bucket.min(other.min_bucket);
        self.max_bucket = self.max_bucket.max(other.max_bucket);
    }

    /// Multiplies every weight by `factor` (≥ 0).
    fn scale(&mut self, factor: f64) {
        let factor = factor.max(0.0);
        for b in self.min_bucket..=self.max_bucket {
            self.weights[b] *= factor;
        }
        self.total *= factor;
        self.update_min_and_max();
    }

    fn update_min_and_max(&mut self) {
        let eps = self.options.epsilon;
        let last = self.options.buckets - 1;
        while self.min_bucket < last && self.weights[self.min_bucket] < eps {
            self.min_bucket += 1;
        }
        while self.max_bucket > 0 && self.weights[self.max_bucket] < eps {
            self.max_bucket -= 1;
        }
    }

    /// The total weight.
    pub fn total_weight(&self) -> f64 {
        self.total
    }
}

/// After this many half-lives past the reference, the reference moves (`maxDecayExponent`).
const MAX_DECAY_EXPONENT: u64 = 100;

/// A histogram whose samples weigh 2^((t − reference)/half-life) (`decayingHistogram`): a
/// sample one half-life newer counts twice as much.
#[derive(Clone, Debug, PartialEq)]
pub struct DecayingHistogram {
    histogram: Histogram,
    half_life: SimDuration,
    /// Set by the first sample, as its time rounded to a multiple of the half-life (upstream
    /// rounds from Go's zero time; only ratios of weights matter, so the origin is the run's).
    reference: Option<SimTime>,
}

impl DecayingHistogram {
    /// An empty histogram decaying with `half_life` (> 0).
    pub fn new(options: HistogramOptions, half_life: SimDuration) -> Self {
        DecayingHistogram {
            histogram: Histogram::new(options),
            half_life: half_life.max(SimDuration::from_micros(1)),
            reference: None,
        }
    }

    /// Adds `weight` at `value`, sampled at `t`.
    pub fn add_sample(&mut self, value: f64, weight: f64, t: SimTime) {
        let factor = self.decay_factor(t);
        self.histogram.add_sample(value, weight * factor);
    }

    /// Takes `weight` away at `value`, sampled at `t`.
    pub fn subtract_sample(&mut self, value: f64, weight: f64, t: SimTime) {
        let factor = self.decay_factor(t);
        self.histogram.subtract_sample(value, weight * factor);
    }

    /// See [`Histogram::percentile`].
    pub fn percentile(&self, p: f64) -> f64 {
        self.histogram.percentile(p)
    }

    /// See [`Histogram::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.histogram.is_empty()
    }

    /// Adds `other`'s samples; the one with the older reference is first moved to the newer.
    pub fn merge(&mut self, other: &DecayingHistogram) {
        assert_eq!(self.half_life, other.half_life, "different half-lives");
        let mut other = other.clone();
        match (self.reference, other.reference) {
            (Some(a), Some(b)) if a < b => self.shift_reference(b),
            (Some(a), Some(b)) if b < a => other.shift_reference(a),
            (None, Some(b)) => self.reference = Some(b),
            _ => {}
        }
        self.histogram.merge(&other.histogram);
    }

    fn decay_factor(&mut self, t: SimTime) -> f64 {
        let half = self.half_life.as_micros();
        match self.reference {
            None => self.reference = Some(round_to(t, half)),
            Some(r) if t.as_micros() > r.as_micros() + half * MAX_DECAY_EXPONENT => {
                self.shift_reference(t)
            }
            Some(_) => {}
        }
        let r = self.reference.expect("set above").as_micros() as f64;
        ((t.as_micros() as f64 - r) / half as f64).exp2()
    }

    /// Moves the reference to `t` rounded to the half-life, scaling the weights by
    /// 2^(old − new)/half-life.
    fn shift_reference(&mut self, t: SimTime) {
        let half = self.half_life.as_micros();
        let new = round_to(t, half);
        let old = self.reference.unwrap_or(new);
        let exponent = ((old.as_micros() as f64 - new.as_micros() as f64) / half as f64).round();
        self.histogram.scale(exponent.exp2());
        self.reference = Some(new);
    }
}

/// `t` rounded to the nearest multiple of `step` microseconds (halves up), as Go's
/// `Time.Round`.
fn round_to(t: SimTime, step: u64) -> SimTime {
    let us = t.as_micros();
    SimTime::from_micros((us + step / 2) / step * step)
}

#[cfg(test)]
mod tests;
