//! Normalizing a desired replica count when the HPA has no `behavior` (A.4): downscale
//! stabilization over the recommendation history, then the legacy rate limit
//! `max(2 × current, 4)` and min/max clamping.

use crate::sim::{SimDuration, SimTime};

/// One stored recommendation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recommendation {
    /// The replicas recommended.
    pub replicas: i32,
    /// When.
    pub timestamp: SimTime,
}

/// `ScalingLimited` reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum LimitReason {
    /// The recommendation was within the bounds: not limited.
    DesiredWithinRange,
    /// Raised to `minReplicas`.
    TooFewReplicas,
    /// Cut to `maxReplicas`.
    TooManyReplicas,
    /// Cut by the scale-up rate limit.
    ScaleUpLimit,
    /// Raised by the scale-down rate limit.
    ScaleDownLimit,
}

impl LimitReason {
    /// The condition reason as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DesiredWithinRange => "DesiredWithinRange",
            Self::TooFewReplicas => "TooFewReplicas",
            Self::TooManyReplicas => "TooManyReplicas",
            Self::ScaleUpLimit => "ScaleUpLimit",
            Self::ScaleDownLimit => "ScaleDownLimit",
        }
    }
}

/// Without `behavior`, a scale-up may at most double the replicas (`scaleUpLimitFactor`)…
pub const SCALE_UP_LIMIT_FACTOR: f64 = 2.0;
/// …or add 4, whichever allows more (`scaleUpLimitMinimum`).
pub const SCALE_UP_LIMIT_MINIMUM: f64 = 4.0;

/// Upstream's history bookkeeping: overwrite the entry at `reusable` (an outdated one) or
/// append, so the history never grows past what the windows can still use.
pub(crate) fn overwrite_or_push<T>(list: &mut Vec<T>, reusable: Option<usize>, item: T) {
    match reusable {
        Some(i) => list[i] = item,
        None => list.push(item),
    }
}

/// `stabilizeRecommendation`: the max of `desired` and every recommendation at or after
/// `now − window`; records `desired`, overwriting the last entry older than the window.
pub fn stabilize(
    history: &mut Vec<Recommendation>,
    desired: i32,
    now: SimTime,
    window: SimDuration,
) -> i32 {
    let cutoff = now.saturating_sub(window);
    let mut result = desired;
    let mut reusable = None;
    for (i, rec) in history.iter().enumerate() {
        if rec.timestamp >= cutoff {
            result = result.max(rec.replicas);
        } else {
            reusable = Some(i);
        }
    }
    let entry = Recommendation {
        replicas: desired,
        timestamp: now,
    };
    overwrite_or_push(history, reusable, entry);
    result
}

/// `convertDesiredReplicasWithRules`: clamp to [min, min(max, max(2·current, 4))].
pub fn limit_legacy(current: i32, desired: i32, min: i32, max: i32) -> (i32, LimitReason) {
    limit_legacy_with_factor(current, desired, min, max, SCALE_UP_LIMIT_FACTOR)
}

/// [`limit_legacy`] with the scale-up factor as a parameter (upstream's tests set it to 8;
/// the controller's is 2).
///
/// ```
/// use kubesim::controllers::hpa::normalize::{LimitReason, limit_legacy_with_factor};
/// // 4 replicas want 100 (max 200): with factor 8 at most max(8 × 4, 4) = 32 at once.
/// assert_eq!(limit_legacy_with_factor(4, 100, 1, 200, 8.0), (32, LimitReason::ScaleUpLimit));
/// // With the controller's factor 2: max(2 × 4, 4) = 8.
/// assert_eq!(limit_legacy_with_factor(4, 100, 1, 200, 2.0), (8, LimitReason::ScaleUpLimit));
/// // Within both the rate limit and the bounds: unchanged.
/// assert_eq!(limit_legacy_with_factor(4, 6, 1, 200, 2.0), (6, LimitReason::DesiredWithinRange));
/// ```
pub fn limit_legacy_with_factor(
    current: i32,
    desired: i32,
    min: i32,
    max: i32,
    factor: f64,
) -> (i32, LimitReason) {
    let scale_up_limit = (factor * f64::from(current)).max(SCALE_UP_LIMIT_MINIMUM) as i32;
    let (max_allowed, max_reason) = if max > scale_up_limit {
        (scale_up_limit, LimitReason::ScaleUpLimit)
    } else {
        (max, LimitReason::TooManyReplicas)
    };
    if desired < min {
        (min, LimitReason::TooFewReplicas)
    } else if desired > max_allowed {
        (max_allowed, max_reason)
    } else {
        (desired, LimitReason::DesiredWithinRange)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_limits() {
        use LimitReason::*;
        // (current, desired, min, max) → (result, reason)
        let cases = [
            ((3, 20, 1, 100), (6, ScaleUpLimit)), // max(2·3, 4) = 6 < max 100
            ((1, 20, 1, 100), (4, ScaleUpLimit)), // max(2·1, 4) = 4
            ((3, 20, 1, 5), (5, TooManyReplicas)), // max 5 < limit 6
            ((3, 0, 2, 10), (2, TooFewReplicas)),
            ((3, 5, 2, 10), (5, DesiredWithinRange)),
            ((50, 100, 1, 500), (100, DesiredWithinRange)), // 2·50 = 100 allowed exactly
        ];
        for ((current, desired, min, max), want) in cases {
            assert_eq!(
                limit_legacy(current, desired, min, max),
                want,
                "{current} {desired} {min} {max}"
            );
        }
    }

    #[test]
    fn convert_desired_replicas_with_rules_upstream_table() {
        use LimitReason::*;
        // TestConvertDesiredReplicasWithRules runs with scaleUpLimitFactor = 8:
        // (current, desired, min, max) → (result, reason).
        let cases = [
            ((5, 7, 3, 8), (7, DesiredWithinRange)),
            ((3, 1, 2, 8), (2, TooFewReplicas)),
            ((1, 0, 0, 10), (0, DesiredWithinRange)),
            ((20, 1000, 1, 10), (10, TooManyReplicas)), // max 10 < limit 160
            ((3, 1000, 1, 2000), (24, ScaleUpLimit)), // calculateScaleUpLimit(3) = max(8·3, 4) = 24
        ];
        for ((current, desired, min, max), want) in cases {
            assert_eq!(
                limit_legacy_with_factor(current, desired, min, max, 8.0),
                want
            );
        }
    }

    #[test]
    fn normalize_desired_replicas_upstream_table() {
        // TestNormalizeDesiredReplicas (5 m window): (history as (replicas, seconds ago),
        // desired) → (stabilized, history length after).
        let now = SimTime::from_secs(10_000);
        let at = |secs: u64| now.saturating_sub(SimDuration::from_secs(secs));
        type Case = (&'static str, Vec<(i32, u64)>, i32, i32, usize);
        let cases: Vec<Case> = vec![
            ("empty log", vec![], 5, 5, 1),
            ("stabilize", vec![(4, 120), (5, 60)], 3, 5, 3),
            ("no stabilize", vec![(1, 120), (2, 60)], 3, 3, 3),
            // both entries are older than 5 m: the last one (9) is overwritten.
            (
                "no stabilize - old recommendations",
                vec![(10, 600), (9, 540)],
                3,
                3,
                2,
            ),
            (
                "stabilize - old recommendations",
                vec![(10, 600), (4, 60), (5, 120), (9, 540)],
                3,
                5,
                4,
            ),
        ];
        for (name, history, desired, expected, len) in cases {
            let mut h: Vec<Recommendation> = history
                .iter()
                .map(|&(replicas, ago)| Recommendation {
                    replicas,
                    timestamp: at(ago),
                })
                .collect();
            assert_eq!(
                stabilize(&mut h, desired, now, SimDuration::from_mins(5)),
                expected,
                "{name}"
            );
            assert_eq!(h.len(), len, "{name}: history length");
        }
    }

    #[test]
    fn downscale_stabilization_keeps_the_window_max() {
        let window = SimDuration::from_mins(5);
        let mut h = vec![];
        // t=0: 10 recorded. t=60: desire 4 → max(4, 10) = 10. t=301: 10 is older than the
        // window (cutoff 1 s); 4 from t=60 is inside → max(3, 4) = 4.
        assert_eq!(stabilize(&mut h, 10, SimTime::ZERO, window), 10);
        assert_eq!(stabilize(&mut h, 4, SimTime::from_secs(60), window), 10);
        assert_eq!(stabilize(&mut h, 3, SimTime::from_secs(301), window), 4);
        // The stale entry (t=0) was overwritten instead of growing the history.
        assert_eq!(h.len(), 2);
        // An entry exactly on the cutoff still counts (timestamp >= cutoff).
        let mut h2 = vec![Recommendation {
            replicas: 9,
            timestamp: SimTime::ZERO,
        }];
        assert_eq!(stabilize(&mut h2, 1, SimTime::from_secs(300), window), 9);
    }
}
