//! Poisson arrivals with a piecewise-constant rate.
//!
//! Within a segment, gaps are exponential at the segment's rate. A gap that would cross into the
//! next segment is discarded and drawn afresh from the boundary (exact, by memorylessness). Gaps
//! are converted to integer microseconds with the fractional part carried to the next gap, so the
//! long-run rate is exact and no event is ever scheduled from a float clock.

use rand_distr::{Distribution, Exp1};

use crate::scenario::{ArrivalPattern, RateSegment};
use crate::sim::{SimRng, SimTime};

pub struct ArrivalProcess {
    segments: Vec<RateSegment>,
    index: usize,
    carry_micros: f64,
    rng: SimRng,
}

impl ArrivalProcess {
    pub fn new(pattern: &ArrivalPattern, rng: SimRng) -> Self {
        ArrivalProcess {
            segments: pattern.segments.clone(),
            index: 0,
            carry_micros: 0.0,
            rng,
        }
    }

    /// The next arrival strictly after `now` (or at `now` for a zero gap), or `None` when the
    /// rate stays 0 for the rest of time.
    pub fn next_after(&mut self, mut now: SimTime) -> Option<SimTime> {
        loop {
            let segment = self.segments[self.index];
            let segment_end = self
                .segments
                .get(self.index + 1)
                .map_or(SimTime::MAX, |s| s.start);
            if now < segment.start {
                now = segment.start;
            }
            if segment.rate_per_sec <= 0.0 {
                if segment_end == SimTime::MAX {
                    return None;
                }
                (now, self.index, self.carry_micros) = (segment_end, self.index + 1, 0.0);
                continue;
            }
            let exp: f64 = Exp1.sample(&mut self.rng);
            let gap_micros = exp / segment.rate_per_sec * 1e6 + self.carry_micros;
            // Truncation is floor for a non-negative gap (and a single instruction).
            let whole = gap_micros as u64;
            let at = SimTime::from_micros(now.as_micros().saturating_add(whole));
            if at >= segment_end {
                if segment_end == SimTime::MAX {
                    return None; // a rate so small that the next arrival is beyond all time
                }
                (now, self.index, self.carry_micros) = (segment_end, self.index + 1, 0.0);
                continue;
            }
            self.carry_micros = gap_micros - whole as f64;
            return Some(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::RngStreams;

    fn count(pattern: &ArrivalPattern, until: SimTime) -> u64 {
        let mut p = ArrivalProcess::new(pattern, RngStreams::new(9).stream("a"));
        let mut n = 0;
        let mut t = SimTime::ZERO;
        while let Some(next) = p.next_after(t) {
            if next >= until {
                break;
            }
            n += 1;
            t = next;
        }
        n
    }

    #[test]
    fn poisson_counts_match_the_rate() {
        // 1000 req/s for 100 s: mean 100 000, sd √100 000 ≈ 316 → ±1 500 is a ~5σ bound.
        let n = count(&ArrivalPattern::constant(1000.0), SimTime::from_secs(100));
        assert!((98_500..=101_500).contains(&n), "{n}");
    }

    #[test]
    fn a_vanishing_rate_has_no_next_arrival() {
        // 1e-14 requests/s: the first gap is ~10^20 s, beyond the microsecond clock's range.
        let mut p = ArrivalProcess::new(
            &ArrivalPattern::constant(1e-14),
            RngStreams::new(3).stream("a"),
        );
        assert_eq!(p.next_after(SimTime::ZERO), None);
    }

    #[test]
    fn piecewise_rates_and_silence() {
        // 0 req/s for 10 s, then 100 req/s for 10 s, then 0: expect ≈ 1000 (sd ≈ 32).
        let pattern = ArrivalPattern {
            segments: vec![
                RateSegment {
                    start: SimTime::ZERO,
                    rate_per_sec: 0.0,
                },
                RateSegment {
                    start: SimTime::from_secs(10),
                    rate_per_sec: 100.0,
                },
                RateSegment {
                    start: SimTime::from_secs(20),
                    rate_per_sec: 0.0,
                },
            ],
        };
        let mut p = ArrivalProcess::new(&pattern, RngStreams::new(1).stream("a"));
        let first = p.next_after(SimTime::ZERO).unwrap();
        assert!(first >= SimTime::from_secs(10));
        let n = count(&pattern, SimTime::from_secs(1000));
        assert!((850..=1150).contains(&n), "{n}");
    }
}
