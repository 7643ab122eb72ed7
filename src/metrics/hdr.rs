//! The bucket layout of the `hdrhistogram` crate's histograms of 1 µs to 1 h, at 2 or 3
//! significant digits, and a whole-run latency counter laid out the same way.
//!
//! With `H` the `log2` of the slots in the upper half of a bucket (7 for 2 digits, 10 for 3):
//! values below `2^(H+1)` have a slot each; above, bucket `b ≥ 1` holds `2^H` slots of width
//! `2^b` covering `[2^H · 2^b, 2^(H+1) · 2^b)`. That is the crate's layout (tested), so a slot
//! here and there count the same values, and quantiles read from either agree.
//!
//! [`LatencyCounts`] exists for speed: counting a value is a few instructions where the crate's
//! `saturating_record` also tracks extremes and checks bounds on every call, and the request
//! path records every latency. The crate's histogram is built from the counts once, at the end
//! ([`LatencyCounts::take_histogram`]): its quantiles, mean and maximum depend only on the slots.

use hdrhistogram::Histogram;

/// Largest value recorded (1 h in µs); larger ones are clamped by the caller.
pub const MAX_VALUE: u64 = 3_600_000_000;

/// The layout with `2^H` slots per upper half-bucket.
pub struct Layout<const H: u32>;

impl<const H: u32> Layout<H> {
    pub const HALF_COUNT: usize = 1 << H;
    /// 64 minus the bits of a sub-bucket index: the bucket of `v` is this minus its leading
    /// zeros.
    const LEADING_ZERO_BASE: u32 = 63 - H;
    /// Values up to this are bucket 0.
    const SUB_BUCKET_MASK: u64 = (1 << (H + 1)) - 1;
    /// Slots needed to reach `MAX_VALUE`: one more bucket than `MAX_VALUE`'s, half-buckets.
    pub const LEN: usize = (Self::bucket_of(MAX_VALUE) as usize + 2) << H;

    const fn bucket_of(value: u64) -> u32 {
        Self::LEADING_ZERO_BASE - (value | Self::SUB_BUCKET_MASK).leading_zeros()
    }

    /// The slot of `value` (`1 ≤ value ≤ MAX_VALUE`).
    #[inline]
    pub fn slot_of(value: u64) -> usize {
        let bucket = Self::bucket_of(value);
        let sub = (value >> bucket) as usize;
        ((bucket as usize + 1) << H) + sub - Self::HALF_COUNT
    }

    /// The lowest value of `slot`.
    pub fn value_of(slot: usize) -> u64 {
        let bucket = (slot >> H) as i64 - 1;
        let sub = (slot & (Self::HALF_COUNT - 1)) + Self::HALF_COUNT;
        match bucket {
            b if b < 0 => (sub - Self::HALF_COUNT) as u64,
            b => (sub as u64) << b,
        }
    }

    /// The highest value counted in the same slot as `value`.
    pub fn highest_equivalent(value: u64) -> u64 {
        let bucket = Self::bucket_of(value);
        ((value >> bucket) << bucket) + (1 << bucket) - 1
    }
}

/// 3 significant digits: the whole-run latency histograms (≤ 0.1 % error on every percentile).
type ThreeDigits = Layout<10>;

/// A whole run's latencies counted per slot of a 3-significant-digit histogram.
pub struct LatencyCounts {
    counts: Vec<u64>,
}

impl Default for LatencyCounts {
    fn default() -> Self {
        LatencyCounts {
            counts: vec![0; ThreeDigits::LEN],
        }
    }
}

impl LatencyCounts {
    /// Counts `value` (µs, in `1..=MAX_VALUE`).
    #[inline]
    pub fn record(&mut self, value: u64) {
        debug_assert!((1..=MAX_VALUE).contains(&value));
        self.counts[ThreeDigits::slot_of(value)] += 1;
    }

    /// The `hdrhistogram` histogram (1 µs to 1 h, 3 digits) holding the same counts.
    pub fn to_histogram(&self) -> Histogram<u64> {
        let mut h = new_histogram();
        for (slot, &count) in self.counts.iter().enumerate() {
            if count > 0 {
                h.saturating_record_n(ThreeDigits::value_of(slot), count);
            }
        }
        h
    }

    /// The memory its counts hold (fixed: it does not grow with the values recorded).
    #[cfg(test)]
    pub fn memory_bytes(&self) -> usize {
        self.counts.capacity() * std::mem::size_of::<u64>()
    }

    /// [`Self::to_histogram`], letting go of the counts' memory: nothing may be recorded after.
    pub fn take_histogram(&mut self) -> Histogram<u64> {
        let h = self.to_histogram();
        self.counts = Vec::new();
        h
    }
}

/// An empty whole-run histogram: 1 µs to 1 h at 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_VALUE, 3).expect("valid histogram bounds")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn layout_matches_the_crates<const H: u32>(digits: u8) {
        let crate_hist = Histogram::<u64>::new_with_bounds(1, MAX_VALUE, digits).unwrap();
        assert_eq!(
            crate_hist.distinct_values(),
            Layout::<H>::LEN,
            "{digits} digits"
        );
        for v in [
            1, 255, 256, 257, 1_000, 2_047, 2_048, 123_456, 99_999_999, MAX_VALUE,
        ] {
            let slot = Layout::<H>::slot_of(v);
            assert_eq!(
                Layout::<H>::highest_equivalent(v),
                crate_hist.highest_equivalent(v),
                "{v}"
            );
            assert_eq!(
                Layout::<H>::value_of(slot),
                crate_hist.lowest_equivalent(v),
                "{v}"
            );
            assert!(slot < Layout::<H>::LEN);
        }
    }

    #[test]
    fn the_layouts_are_the_crates_at_two_and_three_digits() {
        layout_matches_the_crates::<7>(2);
        layout_matches_the_crates::<10>(3);
    }

    proptest! {
        #[test]
        fn counts_give_the_crates_quantiles_mean_and_max(
            values in proptest::collection::vec(
                prop_oneof![1u64..3_000, 1u64..2_000_000, 1u64..=MAX_VALUE], 1..300)
        ) {
            let mut ours = LatencyCounts::default();
            let mut theirs = new_histogram();
            for &v in &values {
                ours.record(v);
                theirs.saturating_record(v);
            }
            let built = ours.to_histogram();
            for q in [0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
                prop_assert_eq!(built.value_at_quantile(q), theirs.value_at_quantile(q));
            }
            prop_assert_eq!(built.max(), theirs.max());
            prop_assert_eq!(built.min(), theirs.min());
            prop_assert_eq!(built.len(), theirs.len());
            prop_assert_eq!(built.mean().to_bits(), theirs.mean().to_bits());
            prop_assert_eq!(built.stdev().to_bits(), theirs.stdev().to_bits());
        }
    }
}
