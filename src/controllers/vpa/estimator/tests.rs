//! Upstream's `estimator_test.go` and `recommender_test.go` (vertical-pod-autoscaler 1.7.1),
//! and a worked example of the whole chain.

use super::*;
use crate::controllers::vpa::aggregate::AggregationConfig;
use crate::sim::SimTime;

const MINUTE: SimDuration = SimDuration::from_secs(60);
const DAY: SimDuration = SimDuration::from_secs(24 * 3600);

/// `n` CPU samples of `cores`, `every` apart from t = 0.
fn history(n: u64, cores: f64, every: SimDuration) -> AggregateState {
    let mut s = AggregateState::new(&AggregationConfig::default());
    for i in 0..n {
        s.add_cpu_sample(cores, SimTime::ZERO + every.saturating_mul(i));
    }
    s
}

#[test]
fn confidence_multiplier() {
    // TestConfidenceMultiplier: no history → confidence 0: (1 + 1/0)^1 = ∞ → the 1e14 cap;
    // (1 + 1/0)^-1 = 0.
    let empty = AggregateState::new(&AggregationConfig::default());
    let c = confidence(&empty, DAY);
    assert_eq!(c, 0.0);
    assert_eq!(with_confidence(3140, 1.0, 1.0, c), MAX_RESOURCE_AMOUNT);
    assert_eq!(with_confidence(3140, 1.0, -1.0, c), 0);
    assert_eq!(with_confidence(3140, 0.1, 2.0, c), MAX_RESOURCE_AMOUNT);
    // 9 samples 2 min apart (0..16 min): confidence = min(16/1440, 9/1440) = 0.00625;
    // 3140 × (1 + 0.1/0.00625)^2 = 3140 × 289 = 907 460 m (907.46 cores); memory 9.0746e11.
    let nine = history(9, 1.0, MINUTE.saturating_mul(2));
    let c = confidence(&nine, DAY);
    assert!((c - 0.00625).abs() < 1e-12, "{c}");
    assert_eq!(with_confidence(3140, 0.1, 2.0, c), 907_460);
    assert_eq!(with_confidence(3_140_000_000, 0.1, 2.0, c), 907_460_000_000);
    // TestConfidenceMultiplierWithCustomInterval (18 min): min(16/18, 9/18) = 0.5 → × 1.44:
    // 3140 × 1.44 = 4521.6 → 4521 m; 3.14e9 × 1.44 = 4.5216e9.
    let c = confidence(&nine, MINUTE.saturating_mul(18));
    assert!((c - 0.5).abs() < 1e-12, "{c}");
    assert_eq!(with_confidence(3140, 0.1, 2.0, c), 4521);
    assert_eq!(with_confidence(3_140_000_000, 0.1, 2.0, c), 4_521_600_000);
}

#[test]
fn margin_and_minimum() {
    // TestMarginEstimator: 3140 + trunc(3140 × 0.1) = 3454 m (Go's 3.14*1.1 = 3.454 exactly);
    // 3.14e9 → 3.454e9.
    assert_eq!(with_margin(3140, 0.1), 3454);
    assert_eq!(with_margin(3_140_000_000, 0.1), 3_454_000_000);
    // TestMinResourcesApplied / SplitAcrossContainers: an empty history gives the pod minimum,
    // 25m and 250 MiB for one container; 12m (12.5 truncated) and 125 MiB for each of two.
    let empty = AggregateState::new(&AggregationConfig::default());
    let one = estimate(&empty, 1, &EstimatorConfig::default());
    assert_eq!((one.cpu.target, one.memory.target), (25, 262_144_000));
    let two = estimate(&empty, 2, &EstimatorConfig::default());
    assert_eq!((two.cpu.target, two.memory.target), (12, 131_072_000));
    assert_eq!((two.cpu.lower, two.cpu.upper), (12, 12));
}

#[test]
fn a_steady_core_for_a_day() {
    // 1 441 samples of 1.000 core, one a minute for 24 h. 1.0 falls in bucket
    // ⌊log1.05(1.0 × 0.05/0.01 + 1)⌋ = ⌊36.72⌋ = 36, which ends at 0.2 × (1.05^37 − 1) =
    // 1.01628 cores: P50 = P90 = P95 = 1016 m; + trunc(1016 × 0.15) = 152 → 1168 m.
    // Confidence = min(24 h / 24 h, 1441/1440) = 1: upper 1168 × 2 = 2336 m; lower
    // 1168 × 1.001^-2 = 1165.67 → 1165 m.
    let s = history(1441, 1.0, MINUTE);
    let e = estimate(&s, 1, &EstimatorConfig::default());
    assert_eq!(
        e.cpu,
        Bounds {
            target: 1168,
            lower: 1165,
            upper: 2336
        }
    );
    // No memory sample: the pod minimum.
    assert_eq!(e.memory.target, 262_144_000);
}
