//! Upstream's `histogram_test.go`, `decaying_histogram_test.go` and
//! `histogram_options_test.go` (vertical-pod-autoscaler 1.7.1), as tables.

use super::*;

/// `testHistogramOptions`: linear, max 10, buckets of 1 → 11 buckets `[0,1) … [10,∞)`.
fn unit_buckets() -> HistogramOptions {
    HistogramOptions::linear(10.0, 1.0, 1e-15).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn percentiles_of_an_empty_histogram_are_zero() {
    let h = Histogram::new(unit_buckets());
    for p in [-0.5, 0.0, 0.5, 1.0, 1.5] {
        assert_eq!(h.percentile(p), 0.0);
    }
}

#[test]
fn percentiles_are_bucket_ends() {
    // TestPercentiles: value = weight = 1..4, total 10; cumulative 1, 3, 6, 10 in buckets
    // 1..4; the answer is the end of the first bucket whose cumulative weight ≥ p·10.
    let mut h = Histogram::new(unit_buckets());
    for i in 1..=4 {
        h.add_sample(f64::from(i), f64::from(i));
    }
    let table = [
        (0.0, 2.0),
        (0.1, 2.0),
        (0.2, 3.0),
        (0.3, 3.0),
        (0.4, 4.0),
        (0.5, 4.0),
        (0.6, 4.0),
        (0.7, 5.0),
        (0.8, 5.0),
        (0.9, 5.0),
        (1.0, 5.0),
    ];
    for (p, want) in table {
        assert_eq!(h.percentile(p), want, "p = {p}");
    }
}

#[test]
fn percentiles_out_of_bounds() {
    // TestPercentileOutOfBounds: linear 1.0 / 0.1 → 11 buckets. 0.1 (w 0.1) in bucket 1, 0.2
    // (w 0.2) in bucket 2: p < 0 gives the end of bucket 1, p > 1 the end of bucket 2.
    let options = HistogramOptions::linear(1.0, 0.1, 1e-15).unwrap();
    let mut h = Histogram::new(options);
    h.add_sample(0.1, 0.1);
    h.add_sample(0.2, 0.2);
    assert!(close(h.percentile(-0.1), 0.2));
    assert!(close(h.percentile(1.1), 0.3));
    // 0.0 in bucket 0 and 1.0 in the last (10): p < 0 → 0.1; p > 1 → the last bucket's start.
    h.add_sample(0.0, 0.1);
    h.add_sample(1.0, 0.2);
    assert!(close(h.percentile(-0.1), 0.1));
    assert!(close(h.percentile(1.1), 1.0));
}

#[test]
fn weights_below_epsilon_empty_a_histogram() {
    // TestEmptyHistogram: 2.5e-15 − 1e-15 = 1.5e-15 stays; − 1e-15 = 0.5e-15 < ε → 0.
    let options = HistogramOptions::linear(1.0, 0.1, 1e-15).unwrap();
    let mut h = Histogram::new(options);
    assert!(h.is_empty());
    h.add_sample(0.1, 2.5e-15);
    assert!(!h.is_empty());
    h.subtract_sample(0.1, 1e-15);
    assert!(!h.is_empty());
    h.subtract_sample(0.1, 1e-15);
    assert!(h.is_empty());
    // TestNonEmptyOnEpsilonAddition: weights below ε elsewhere do not make it empty.
    let mut h = Histogram::new(options);
    h.add_sample(9.9, 3e-15);
    assert!(!h.is_empty());
    h.add_sample(0.1, 0.3e-15);
    assert!(!h.is_empty());
    h.add_sample(999.9, 0.3e-15);
    assert!(!h.is_empty());
}

#[test]
fn merge_adds_the_weights() {
    // TestHistogramMerge: (1,1),(2,1) + (2,1),(3,1) = (1,1),(2,1),(2,1),(3,1).
    let mut a = Histogram::new(unit_buckets());
    a.add_sample(1.0, 1.0);
    a.add_sample(2.0, 1.0);
    let mut b = Histogram::new(unit_buckets());
    b.add_sample(2.0, 1.0);
    b.add_sample(3.0, 1.0);
    let mut want = Histogram::new(unit_buckets());
    for v in [1.0, 2.0, 2.0, 3.0] {
        want.add_sample(v, 1.0);
    }
    a.merge(&b);
    assert_eq!(a, want);
}

/// `startTime = time.Unix(1234567890, 0)`; half-life 1 h.
const START: SimTime = SimTime::from_secs(1_234_567_890);
const HOUR: SimDuration = SimDuration::from_secs(3600);

fn decaying() -> DecayingHistogram {
    DecayingHistogram::new(unit_buckets(), HOUR)
}

#[test]
fn newer_samples_weigh_more() {
    // TestSimpleDecay: (2, w 1000) at start, (1, w 1) 20 h later: 1 · 2^20 = 1 048 576 ≫ 1000.
    let mut h = decaying();
    h.add_sample(2.0, 1000.0, START);
    h.add_sample(1.0, 1.0, START + HOUR.saturating_mul(20));
    assert_eq!(h.percentile(0.999), 2.0);
    assert_eq!(h.percentile(1.0), 3.0);
}

#[test]
fn the_reference_moves_after_a_hundred_half_lives() {
    // TestLongtermDecay: 101 h later the reference shifts, the first sample scales by 2^-101
    // (below ε) and only bucket 1 is left.
    let mut h = decaying();
    h.add_sample(2.0, 1.0, START);
    h.add_sample(1.0, 1.0, START + HOUR.saturating_mul(101));
    assert_eq!(h.percentile(1.0), 2.0);
}

#[test]
fn decaying_percentiles() {
    // TestDecayingHistogramPercentiles: value = weight = i at start + (i − 1) h: weights 0.125,
    // 0.5, 1.5, 4 (total 6.125), cumulative 0.125, 0.625, 2.125, 6.125.
    let mut h = decaying();
    for i in 1..=4u32 {
        h.add_sample(
            f64::from(i),
            f64::from(i),
            START + HOUR.saturating_mul(u64::from(i - 1)),
        );
    }
    let table = [
        (0.00, 2.0),
        (0.02, 2.0),
        (0.03, 3.0),
        (0.10, 3.0),
        (0.11, 4.0),
        (0.34, 4.0),
        (0.35, 5.0),
        (1.00, 5.0),
    ];
    for (p, want) in table {
        assert_eq!(h.percentile(p), want, "p = {p}");
    }
    // TestNoDecay: all at start, the plain percentiles.
    let mut h = decaying();
    for i in 1..=4u32 {
        h.add_sample(f64::from(i), f64::from(i), START);
    }
    assert_eq!(h.percentile(0.2), 3.0);
    assert_eq!(h.percentile(0.7), 5.0);
}

#[test]
fn decaying_merge_moves_the_older_reference() {
    // TestDecayingHistogramMerge.
    let mut a = decaying();
    a.add_sample(1.0, 1.0, START);
    a.add_sample(2.0, 1.0, START + HOUR);
    let mut b = decaying();
    b.add_sample(2.0, 1.0, START + HOUR.saturating_mul(2));
    b.add_sample(3.0, 1.0, START + HOUR);
    let mut want = decaying();
    want.add_sample(2.0, 1.0, START + HOUR.saturating_mul(2));
    want.add_sample(2.0, 1.0, START + HOUR);
    want.add_sample(3.0, 1.0, START + HOUR);
    want.add_sample(1.0, 1.0, START);
    a.merge(&b);
    assert_eq!(a.reference, want.reference);
    for p in [0.1, 0.3, 0.5, 0.7, 0.9, 1.0] {
        assert_eq!(a.percentile(p), want.percentile(p), "p = {p}");
    }
}

#[test]
fn bucket_options_as_upstream_computes_them() {
    // TestLinearHistogramOptions: max 5, size 0.3 → ⌈16.67⌉ + 1 = 18 buckets.
    let l = HistogramOptions::linear(5.0, 0.3, 0.001).unwrap();
    assert_eq!(l.epsilon(), 0.001);
    assert_eq!(l.num_buckets(), 18);
    assert_eq!(l.bucket_start(0), 0.0);
    assert_eq!(l.bucket_start(17), 5.1);
    let found: Vec<usize> = [-1.0, 0.0, 1.3, 100.0].map(|v| l.find_bucket(v)).to_vec();
    assert_eq!(found, [0, 0, 4, 17]);
    // TestExponentialHistogramOptions: max 500, first 40, ratio 1.5 → ⌈log1.5(7.25) = 4.885⌉ + 1
    // = 6 buckets starting at 0, 40, 100, 190, 325, 527.5.
    let e = HistogramOptions::exponential(500.0, 40.0, 1.5, 0.001).unwrap();
    assert_eq!(e.num_buckets(), 6);
    let starts: Vec<f64> = (0..6).map(|i| e.bucket_start(i)).collect();
    for (s, want) in starts.iter().zip([0.0, 40.0, 100.0, 190.0, 325.0, 527.5]) {
        assert!(close(*s, want), "{starts:?}");
    }
    let found: Vec<usize> = [-1.0, 39.99, 40.0, 100.0, 900.0]
        .map(|v| e.find_bucket(v))
        .to_vec();
    assert_eq!(found, [0, 0, 1, 2, 5]);
    assert!(HistogramOptions::exponential(500.0, 40.0, 1.0, 0.001).is_none());
    assert!(HistogramOptions::linear(0.0, 1.0, 0.001).is_none());
}
