//! Distributions of durations, sampled in integer microseconds, and of counts (tokens), each
//! sampled from a caller's stream.

use rand::RngExt;
use rand_distr::{Distribution, Exp, LogNormal};

use super::rng::SimRng;
use super::time::SimDuration;

/// A distribution over non-negative durations.
#[derive(Clone, Debug, PartialEq)]
pub enum DurationDist {
    /// Always the same duration.
    Constant(SimDuration),
    /// Exponential with the given mean.
    Exponential {
        /// The sampler (rate 1 / mean, per second).
        dist: Exp<f64>,
        /// The mean.
        mean: SimDuration,
    },
    /// Log-normal given by its underlying normal's μ and σ (seconds).
    LogNormal {
        /// The sampler.
        dist: LogNormal<f64>,
        /// The mean, in seconds.
        mean_secs: f64,
    },
    /// Uniform over whole microseconds from `min` to `max`, both included.
    Uniform {
        /// The least.
        min: SimDuration,
        /// The most.
        max: SimDuration,
    },
}

impl DurationDist {
    /// Exponential with `mean`.
    pub fn exponential(mean: SimDuration) -> Self {
        let rate = 1.0 / mean.as_secs_f64().max(1e-12);
        DurationDist::Exponential {
            dist: Exp::new(rate).expect("rate is positive and finite"),
            mean,
        }
    }

    /// Log-normal with the given mean and coefficient of variation:
    /// σ² = ln(1 + cv²), μ = ln(mean) − σ²/2.
    pub fn log_normal(mean: SimDuration, cv: f64) -> Self {
        let mean_secs = mean.as_secs_f64().max(1e-12);
        let sigma2 = (1.0 + cv * cv).ln();
        let mu = mean_secs.ln() - sigma2 / 2.0;
        DurationDist::LogNormal {
            dist: LogNormal::new(mu, sigma2.sqrt()).expect("sigma is finite and non-negative"),
            mean_secs,
        }
    }

    /// Draws one duration, rounded up to the microsecond.
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        match self {
            DurationDist::Constant(d) => *d,
            DurationDist::Exponential { dist, .. } => {
                SimDuration::from_secs_f64_ceil(dist.sample(rng))
            }
            DurationDist::LogNormal { dist, .. } => {
                SimDuration::from_secs_f64_ceil(dist.sample(rng))
            }
            DurationDist::Uniform { min, max } => {
                SimDuration::from_micros(rng.random_range(min.as_micros()..=max.as_micros()))
            }
        }
    }

    /// The distribution's mean.
    pub fn mean(&self) -> SimDuration {
        match self {
            DurationDist::Constant(d) => *d,
            DurationDist::Exponential { mean, .. } => *mean,
            DurationDist::LogNormal { mean_secs, .. } => {
                SimDuration::from_secs_f64_ceil(*mean_secs)
            }
            DurationDist::Uniform { min, max } => {
                SimDuration::from_micros((min.as_micros() + max.as_micros()) / 2)
            }
        }
    }
}

/// A distribution over counts ≥ 1 (a request's prompt or output tokens).
#[derive(Clone, Debug, PartialEq)]
pub enum CountDist {
    /// Always `n` (at least 1).
    Constant(u32),
    /// Uniform from `min` to `max`, both included (at least 1).
    Uniform {
        /// The least.
        min: u32,
        /// The most.
        max: u32,
    },
    /// Log-normal with the given mean and coefficient of variation, rounded to the nearest
    /// count and at least 1, at most `max`.
    LogNormal {
        /// The sampler.
        dist: LogNormal<f64>,
        /// The mean.
        mean: f64,
        /// The most a sample may be.
        max: u32,
    },
}

impl CountDist {
    /// σ² = ln(1 + cv²), μ = ln(mean) − σ²/2; draws above `max` are cut to it.
    pub fn log_normal(mean: f64, cv: f64, max: u32) -> Self {
        let mean = mean.max(1.0);
        let sigma2 = (1.0 + cv * cv).ln();
        CountDist::LogNormal {
            dist: LogNormal::new(mean.ln() - sigma2 / 2.0, sigma2.sqrt())
                .expect("sigma is finite and non-negative"),
            mean,
            max,
        }
    }

    /// Draws one count from `rng`.
    pub fn sample(&self, rng: &mut SimRng) -> u32 {
        match self {
            CountDist::Constant(n) => (*n).max(1),
            CountDist::Uniform { min, max } => rng.random_range(*min..=*max).max(1),
            CountDist::LogNormal { dist, max, .. } => {
                let v = dist.sample(rng).round();
                if v >= f64::from(*max) {
                    *max
                } else {
                    (v as u32).max(1)
                }
            }
        }
    }

    /// The distribution's mean (before the cap).
    pub fn mean(&self) -> f64 {
        match self {
            CountDist::Constant(n) => f64::from(*n),
            CountDist::Uniform { min, max } => (f64::from(*min) + f64::from(*max)) / 2.0,
            CountDist::LogNormal { mean, .. } => *mean,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::RngStreams;

    fn sample_mean(d: &DurationDist, n: u32) -> f64 {
        let mut rng = RngStreams::new(3).stream("dist-test");
        (0..n)
            .map(|_| d.sample(&mut rng).as_secs_f64())
            .sum::<f64>()
            / f64::from(n)
    }

    #[test]
    fn sample_means_match_the_parameters() {
        // 200 000 samples: the standard error of the mean is mean·cv/√n ≈ 0.22 % for cv 1,
        // so 1.5 % is a ~7σ bound (plus ≤ 0.5 µs of rounding-up per sample).
        let mean = SimDuration::from_millis(100);
        for d in [
            DurationDist::exponential(mean),
            DurationDist::log_normal(mean, 1.0),
        ] {
            let m = sample_mean(&d, 200_000);
            assert!((m - 0.1).abs() < 0.0015, "{d:?}: {m}");
            assert_eq!(d.mean(), mean);
        }
        let u = DurationDist::Uniform {
            min: SimDuration::from_millis(50),
            max: SimDuration::from_millis(150),
        };
        assert!((sample_mean(&u, 100_000) - 0.1).abs() < 0.001);
    }
}
