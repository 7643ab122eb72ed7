//! The latency histogram of one sample interval: the time series' per-interval p50 and p99.
//!
//! It has the bucket layout of an HDR histogram of 1 µs to 1 h at 2 significant digits (the one
//! the time series used before, from the `hdrhistogram` crate) and answers quantiles exactly as
//! that one's `value_at_quantile` does, so the series are the same. What differs is the cost of
//! a sample: it remembers which buckets the interval touched, so answering its quantiles scans,
//! and clearing it zeroes, only that range — a service's latencies of one interval span a few
//! hundred of its 3 328 buckets, and a day sampled every 15 s clears each service's histogram
//! 5 760 times (the crate zeroes all 26 KB each time, and scans from the first bucket).
//!
//! Layout ([`super::hdr::Layout`] at 2 digits): values below 256 µs have a bucket each; above,
//! bucket `b` (`1 ≤ b ≤ 24`) holds 128 slots of width `2^b` covering `[128 · 2^b, 256 · 2^b)`.

use super::hdr::Layout;
pub use super::hdr::MAX_VALUE;

/// 2 significant digits.
type TwoDigits = Layout<7>;
const LEN: usize = TwoDigits::LEN;

pub struct IntervalHistogram {
    counts: Vec<u64>,
    total: u64,
    /// The lowest and highest slots recorded into since the last clear.
    low: usize,
    high: usize,
}

impl Default for IntervalHistogram {
    fn default() -> Self {
        IntervalHistogram {
            counts: vec![0; LEN],
            total: 0,
            low: LEN,
            high: 0,
        }
    }
}

impl IntervalHistogram {
    /// Counts `value` (µs, in `1..=MAX_VALUE`).
    #[inline]
    pub fn record(&mut self, value: u64) {
        debug_assert!((1..=MAX_VALUE).contains(&value));
        let slot = TwoDigits::slot_of(value);
        self.counts[slot] += 1;
        self.total += 1;
        self.low = self.low.min(slot);
        self.high = self.high.max(slot);
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The value at quantile `q` (`0 < q ≤ 1`): the highest value of the first slot at which
    /// the running count reaches `⌈q × total⌉` (at least 1). 0 when empty.
    #[cfg(test)]
    pub fn value_at_quantile(&self, q: f64) -> u64 {
        self.values_at_quantiles([q])[0]
    }

    /// [`Self::value_at_quantile`] of each of `qs` (in increasing order), in one scan.
    pub fn values_at_quantiles<const N: usize>(&self, qs: [f64; N]) -> [u64; N] {
        let mut out = [0; N];
        if self.total == 0 {
            return out;
        }
        let (mut slot, mut seen) = (self.low, self.counts[self.low]);
        for (q, value) in qs.into_iter().zip(&mut out) {
            debug_assert!(q > 0.0);
            let target = ((q.min(1.0) * self.total as f64).ceil() as u64).max(1);
            while seen < target {
                slot += 1;
                seen += self.counts[slot];
            }
            *value = TwoDigits::highest_equivalent(TwoDigits::value_of(slot));
        }
        out
    }

    /// Empties it, zeroing only the slots used.
    pub fn clear(&mut self) {
        if self.total > 0 {
            self.counts[self.low..=self.high].fill(0);
        }
        (self.total, self.low, self.high) = (0, LEN, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::Histogram;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn quantiles_equal_the_crates_across_clears(
            intervals in proptest::collection::vec(
                proptest::collection::vec(
                    prop_oneof![1u64..300, 1u64..2_000_000, 1u64..=MAX_VALUE], 0..60),
                1..4)
        ) {
            let mut ours = IntervalHistogram::default();
            let mut theirs = Histogram::<u64>::new_with_bounds(1, MAX_VALUE, 2).unwrap();
            for values in intervals {
                for &v in &values {
                    ours.record(v);
                    theirs.saturating_record(v);
                }
                prop_assert_eq!(ours.is_empty(), theirs.is_empty());
                if !theirs.is_empty() {
                    let qs = [0.5, 0.9, 0.99, 1.0];
                    let want = qs.map(|q| theirs.value_at_quantile(q));
                    prop_assert_eq!(ours.values_at_quantiles(qs), want);
                    prop_assert_eq!(ours.value_at_quantile(0.99), want[2]);
                }
                ours.clear();
                theirs.reset();
            }
        }
    }
}
