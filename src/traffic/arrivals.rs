//! Arrivals at a piecewise-constant rate: Poisson, evenly spaced, or in bursts.
//!
//! Poisson: within a segment, gaps are exponential at the segment's rate; a gap that would
//! cross into the next segment is discarded and drawn afresh from the boundary (exact, by
//! memorylessness). Evenly spaced: gaps of exactly `1 / rate`, restarting from a segment's
//! boundary. Gaps are converted to integer microseconds with the fractional part carried to the
//! next gap, so the long-run rate is exact and no event is ever scheduled from a float clock.
//! Bursts: `size` requests at one instant every `every` (the first at `every`), the size drawn
//! per burst from the Service's arrival stream; the members of a burst are returned one by one,
//! each at the same instant. Listed times: one request at each, in order.

use rand_distr::{Distribution, Exp1};

use crate::scenario::{ArrivalPattern, ArrivalShape, RateSegment};
use crate::sim::{SimRng, SimTime};

pub struct ArrivalProcess {
    segments: Vec<RateSegment>,
    shape: ArrivalShape,
    index: usize,
    carry_micros: f64,
    /// Bursts: when the next one comes, and how many of the current one are still to come.
    next_burst: SimTime,
    burst_left: u32,
    /// Listed times: the next one's index.
    next_listed: usize,
    rng: SimRng,
}

impl ArrivalProcess {
    pub fn new(pattern: &ArrivalPattern, rng: SimRng) -> Self {
        let first_burst = match &pattern.shape {
            ArrivalShape::Bursts { every, .. } => SimTime::ZERO + *every,
            _ => SimTime::ZERO,
        };
        ArrivalProcess {
            segments: pattern.segments.clone(),
            shape: pattern.shape.clone(),
            index: 0,
            carry_micros: 0.0,
            next_burst: first_burst,
            burst_left: 0,
            next_listed: 0,
            rng,
        }
    }

    /// The next arrival strictly after `now` (or at `now` for a zero gap, or the rest of a
    /// burst), or `None` when none ever comes.
    pub fn next_after(&mut self, now: SimTime) -> Option<SimTime> {
        match &self.shape {
            ArrivalShape::Bursts { .. } => self.next_in_bursts(now),
            ArrivalShape::Times(times) => {
                let at = times.get(self.next_listed).copied();
                self.next_listed += 1;
                at
            }
            ArrivalShape::Poisson => self.next_at_rate(now, true),
            ArrivalShape::FixedInterval => self.next_at_rate(now, false),
            // The users send their requests (`engine::clients`): nothing arrives on its own.
            ArrivalShape::ClosedLoop(_) => None,
        }
    }

    /// Poisson (`random`) or evenly spaced arrivals at the segments' rates.
    fn next_at_rate(&mut self, mut now: SimTime, random: bool) -> Option<SimTime> {
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
            let (gap_micros, whole) = if random {
                let exp: f64 = Exp1.sample(&mut self.rng);
                let gap_micros = exp / segment.rate_per_sec * 1e6 + self.carry_micros;
                // Truncation is floor for a non-negative gap (and a single instruction).
                (gap_micros, gap_micros as u64)
            } else {
                // Evenly spaced: a carry a hair below a whole µs is that µs (3 per second are
                // 333 333, 666 666 and 1 000 000 µs, not 999 999); the carry may go a hair
                // below zero.
                let gap_micros = 1e6 / segment.rate_per_sec + self.carry_micros;
                (gap_micros, (gap_micros + 1e-6) as u64)
            };
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

    /// The rest of the current burst, else the first of the next non-empty one.
    fn next_in_bursts(&mut self, now: SimTime) -> Option<SimTime> {
        let ArrivalShape::Bursts { every, ref size } = self.shape else {
            unreachable!("called for bursts only");
        };
        if self.burst_left > 0 {
            self.burst_left -= 1;
            return Some(now);
        }
        loop {
            let at = self.next_burst;
            if at == SimTime::MAX {
                return None;
            }
            self.next_burst =
                SimTime::from_micros(at.as_micros().saturating_add(every.as_micros()));
            let n = size.sample(&mut self.rng);
            if n > 0 {
                self.burst_left = n - 1;
                return Some(at);
            }
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
            shape: ArrivalShape::Poisson,
        };
        let mut p = ArrivalProcess::new(&pattern, RngStreams::new(1).stream("a"));
        let first = p.next_after(SimTime::ZERO).unwrap();
        assert!(first >= SimTime::from_secs(10));
        let n = count(&pattern, SimTime::from_secs(1000));
        assert!((850..=1150).contains(&n), "{n}");
    }

    #[test]
    fn evenly_spaced_arrivals_are_exactly_one_over_the_rate_apart() {
        // 3 requests/s: 333 333.3 µs apart, the fraction carried: 333 333, 666 666, 1 000 000.
        let pattern = ArrivalPattern {
            shape: ArrivalShape::FixedInterval,
            ..ArrivalPattern::constant(3.0)
        };
        let mut p = ArrivalProcess::new(&pattern, RngStreams::new(1).stream("a"));
        let mut t = SimTime::ZERO;
        let mut times = Vec::new();
        for _ in 0..3 {
            t = p.next_after(t).unwrap();
            times.push(t.as_micros());
        }
        assert_eq!(times, [333_333, 666_666, 1_000_000]);
    }

    #[test]
    fn bursts_come_whole_at_one_instant_every_period() {
        // 4 at a time every 500 ms: four arrivals at 500 ms, four at 1 s.
        let pattern = ArrivalPattern {
            segments: ArrivalPattern::constant(8.0).segments,
            shape: ArrivalShape::Bursts {
                every: crate::sim::SimDuration::from_millis(500),
                size: crate::sim::dist::CountDist::Constant(4),
            },
        };
        let mut p = ArrivalProcess::new(&pattern, RngStreams::new(1).stream("a"));
        let mut t = SimTime::ZERO;
        let mut times = Vec::new();
        for _ in 0..8 {
            t = p.next_after(t).unwrap();
            times.push(t.as_micros() / 1000);
        }
        assert_eq!(times, [500, 500, 500, 500, 1000, 1000, 1000, 1000]);
    }
}
