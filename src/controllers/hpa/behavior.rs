//! HPA normalization with `spec.behavior` (A.5): field-by-field defaults, scale-up and
//! scale-down stabilization windows over the recommendation history, Pods and Percent policies
//! evaluated from the scale events of each policy's period, `selectPolicy` Max / Min /
//! Disabled, and the storage of scale events (outdated entries reused) after each rescale.
//!
//! Pure functions of the history, the rules and `now`; ported with the upstream test tables.

use serde::Serialize;

use crate::sim::{SimDuration, SimTime};

use super::normalize::{LimitReason, Recommendation, overwrite_or_push};

pub use crate::spec::hpa::{
    Behavior, PartialRules, PolicyKind, ScalingPolicy, ScalingRules, SelectPolicy,
    scale_down_rules, scale_up_rules,
};

/// A rescale remembered for the rate limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScaleEvent {
    /// How many replicas were added (scale-up events) or removed (scale-down events).
    pub change: i32,
    /// When.
    pub timestamp: SimTime,
    /// Older than every policy period of its direction: free to be overwritten.
    pub outdated: bool,
}

/// Why the stabilized recommendation differs from the desired one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum StabilizationReason {
    /// Held down by the scale-up window's lowest recommendation.
    ScaleUpStabilized,
    /// Held up by the scale-down window's highest recommendation.
    ScaleDownStabilized,
}

impl StabilizationReason {
    /// The reason as upstream's condition message spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ScaleUpStabilized => "ScaleUpStabilized",
            Self::ScaleDownStabilized => "ScaleDownStabilized",
        }
    }
}

/// `stabilizeRecommendationWithBehaviors`: clamp `current` between the min of recent
/// recommendations (scale-up window) and the max (scale-down window), both strictly after their
/// cutoffs; record `desired`, reusing the last entry older than both windows.
pub fn stabilize(
    history: &mut Vec<Recommendation>,
    current: i32,
    desired: i32,
    now: SimTime,
    up_window: SimDuration,
    down_window: SimDuration,
) -> (i32, StabilizationReason) {
    let (mut up, mut down) = (desired, desired);
    let mut reusable = None;
    for (i, rec) in history.iter().enumerate() {
        if after_cutoff(rec.timestamp, up_window, now) {
            up = up.min(rec.replicas);
        }
        if after_cutoff(rec.timestamp, down_window, now) {
            down = down.max(rec.replicas);
        }
        if rec.timestamp + up_window < now && rec.timestamp + down_window < now {
            reusable = Some(i);
        }
    }
    let recommendation = current.max(up).min(down);
    let entry = Recommendation {
        replicas: desired,
        timestamp: now,
    };
    overwrite_or_push(history, reusable, entry);
    let reason = if desired >= current {
        StabilizationReason::ScaleUpStabilized
    } else {
        StabilizationReason::ScaleDownStabilized
    };
    (recommendation, reason)
}

/// `getReplicasChangePerPeriod`: Σ changes of events strictly after `now − period`.
pub fn change_in_period(period: SimDuration, events: &[ScaleEvent], now: SimTime) -> i32 {
    events
        .iter()
        .filter(|e| after_cutoff(e.timestamp, period, now))
        .map(|e| e.change)
        .sum()
}

/// Whether `timestamp` is strictly after `now − window` (upstream's `After(cutoff)`). Written
/// without the subtraction: early in a run `now − window` is before the start, where every
/// timestamp is after it (a cutoff clamped to the start would leave out the records at 0).
fn after_cutoff(timestamp: SimTime, window: SimDuration, now: SimTime) -> bool {
    timestamp + window > now
}

/// Replicas at the start of a policy's period: current − added + deleted within it.
fn period_start(
    current: i32,
    policy: &ScalingPolicy,
    up: &[ScaleEvent],
    down: &[ScaleEvent],
    now: SimTime,
) -> i32 {
    current - change_in_period(policy.period, up, now) + change_in_period(policy.period, down, now)
}

/// `calculateScaleUpLimitWithScalingRules`.
pub fn scale_up_limit(
    current: i32,
    up: &[ScaleEvent],
    down: &[ScaleEvent],
    rules: &ScalingRules,
    now: SimTime,
) -> i32 {
    let proposals = rules.policies.iter().map(|p| {
        let start = period_start(current, p, up, down, now);
        match p.kind {
            PolicyKind::Pods => start + p.value,
            PolicyKind::Percent => {
                (f64::from(start) * (1.0 + f64::from(p.value) / 100.0)).ceil() as i32
            }
        }
    });
    match rules.select_policy {
        SelectPolicy::Disabled => current,
        SelectPolicy::Min => proposals.fold(i32::MAX, i32::min),
        SelectPolicy::Max => proposals.fold(i32::MIN, i32::max),
    }
}

/// `calculateScaleDownLimitWithBehaviors` (Max picks the largest change: the *minimum* count).
pub fn scale_down_limit(
    current: i32,
    up: &[ScaleEvent],
    down: &[ScaleEvent],
    rules: &ScalingRules,
    now: SimTime,
) -> i32 {
    let proposals = rules.policies.iter().map(|p| {
        let start = period_start(current, p, up, down, now);
        match p.kind {
            PolicyKind::Pods => start - p.value,
            PolicyKind::Percent => (f64::from(start) * (1.0 - f64::from(p.value) / 100.0)) as i32,
        }
    });
    match rules.select_policy {
        SelectPolicy::Disabled => current,
        SelectPolicy::Min => proposals.fold(i32::MIN, i32::max),
        SelectPolicy::Max => proposals.fold(i32::MAX, i32::min),
    }
}

/// The inputs of [`convert_with_rate`].
pub struct RateArgs<'a> {
    /// The scale target's replicas now.
    pub current: i32,
    /// The stabilized recommendation.
    pub desired: i32,
    /// `minReplicas`.
    pub min: i32,
    /// `maxReplicas`.
    pub max: i32,
    /// The HPA's scale-up events.
    pub up_events: &'a [ScaleEvent],
    /// The HPA's scale-down events.
    pub down_events: &'a [ScaleEvent],
    /// `spec.behavior` after defaulting.
    pub behavior: &'a Behavior,
    /// The sync's time.
    pub now: SimTime,
}

/// `convertDesiredReplicasWithBehaviorRate`: the policy limits and min/max, per direction.
pub fn convert_with_rate(a: &RateArgs) -> (i32, LimitReason) {
    if a.desired > a.current {
        let limit = scale_up_limit(
            a.current,
            a.up_events,
            a.down_events,
            &a.behavior.scale_up,
            a.now,
        )
        .max(a.current);
        let (max_allowed, reason) = if a.max > limit {
            (limit, LimitReason::ScaleUpLimit)
        } else {
            (a.max, LimitReason::TooManyReplicas)
        };
        if a.desired > max_allowed {
            return (max_allowed, reason);
        }
    } else if a.desired < a.current {
        let limit = scale_down_limit(
            a.current,
            a.up_events,
            a.down_events,
            &a.behavior.scale_down,
            a.now,
        )
        .min(a.current);
        let (min_allowed, reason) = if a.min < limit {
            (limit, LimitReason::ScaleDownLimit)
        } else {
            (a.min, LimitReason::TooFewReplicas)
        };
        if a.desired < min_allowed {
            return (min_allowed, reason);
        }
    }
    (a.desired, LimitReason::DesiredWithinRange)
}

/// Scale events of one HPA, per direction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScaleEvents {
    /// Scale-ups.
    pub up: Vec<ScaleEvent>,
    /// Scale-downs.
    pub down: Vec<ScaleEvent>,
}

/// `storeScaleEvent`: after a rescale from `previous` to `new`, mark the direction's events
/// older than its longest policy period as outdated and overwrite the last outdated one (or
/// append). Without a `behavior` nothing is stored, as upstream (the events would never be read).
///
/// ```
/// use kubesim::controllers::hpa::behavior::{ScaleEvents, store_scale_event};
/// use kubesim::sim::SimTime;
/// use kubesim::spec::hpa::{Behavior, scale_down_rules, scale_up_rules};
/// let behavior = Behavior { scale_up: scale_up_rules(None), scale_down: scale_down_rules(None) };
/// let mut events = ScaleEvents::default();
/// // 3 → 7 at t = 60 s is a scale-up of 4.
/// store_scale_event(&mut events, Some(&behavior), 3, 7, SimTime::from_secs(60));
/// assert_eq!((events.up.len(), events.up[0].change, events.down.len()), (1, 4, 0));
/// // Without a behavior (the legacy path) nothing is remembered.
/// store_scale_event(&mut events, None, 7, 2, SimTime::from_secs(75));
/// assert!(events.down.is_empty());
/// ```
pub fn store_scale_event(
    events: &mut ScaleEvents,
    behavior: Option<&Behavior>,
    previous: i32,
    new: i32,
    now: SimTime,
) {
    let Some(behavior) = behavior else {
        return;
    };
    let (list, rules) = if new > previous {
        (&mut events.up, &behavior.scale_up)
    } else {
        (&mut events.down, &behavior.scale_down)
    };
    let longest = rules
        .policies
        .iter()
        .map(|p| p.period)
        .max()
        .unwrap_or(SimDuration::ZERO);
    let cutoff = now.saturating_sub(longest);
    let mut reusable = None;
    for (i, e) in list.iter_mut().enumerate() {
        if e.timestamp < cutoff {
            e.outdated = true;
        }
        if e.outdated {
            reusable = Some(i);
        }
    }
    let event = ScaleEvent {
        change: (new - previous).abs(),
        timestamp: now,
        outdated: false,
    };
    overwrite_or_push(list, reusable, event);
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: SimTime = SimTime::from_secs(100_000);

    /// Upstream `generateScalingRules(pods, podsPeriod, percent, percentPeriod, window)` (Max).
    fn rules(
        pods: i32,
        pods_period: u64,
        percent: i32,
        percent_period: u64,
        window: u64,
    ) -> PartialRules {
        let mut policies = Vec::new();
        if pods != 0 {
            policies.push(ScalingPolicy {
                kind: PolicyKind::Pods,
                value: pods,
                period: SimDuration::from_secs(pods_period),
            });
        }
        if percent != 0 {
            policies.push(ScalingPolicy {
                kind: PolicyKind::Percent,
                value: percent,
                period: SimDuration::from_secs(percent_period),
            });
        }
        PartialRules {
            stabilization_window: Some(SimDuration::from_secs(window)),
            select_policy: Some(SelectPolicy::Max),
            policies: Some(policies),
            tolerance: None,
        }
    }

    /// Upstream `generateEventsUniformDistribution`: event i of n at
    /// now − trunc(period − seg·(i+1) + seg/2) s with seg = period/n.
    fn events(changes: &[i32], period: u64) -> Vec<ScaleEvent> {
        let seg = period as f64 / changes.len() as f64;
        changes
            .iter()
            .enumerate()
            .map(|(i, &change)| {
                let ago = (period as f64 - seg * (i + 1) as f64 + seg / 2.0) as u64;
                ScaleEvent {
                    change,
                    timestamp: NOW.saturating_sub(SimDuration::from_secs(ago)),
                    outdated: false,
                }
            })
            .collect()
    }

    struct Case {
        name: &'static str,
        up_events: Vec<ScaleEvent>,
        down_events: Vec<ScaleEvent>,
        min: i32,
        max: i32,
        up: Option<PartialRules>,
        down: Option<PartialRules>,
        current: i32,
        desired: i32,
        expected: i32,
        reason: LimitReason,
    }

    fn case(
        name: &'static str,
        min: i32,
        max: i32,
        current: i32,
        desired: i32,
        expected: i32,
        reason: LimitReason,
    ) -> Case {
        Case {
            name,
            up_events: vec![],
            down_events: vec![],
            min,
            max,
            up: None,
            down: None,
            current,
            desired,
            expected,
            reason,
        }
    }

    fn up(mut c: Case, r: PartialRules) -> Case {
        c.up = Some(r);
        c
    }
    fn down(mut c: Case, r: PartialRules) -> Case {
        c.down = Some(r);
        c
    }
    fn with_events(mut c: Case, up: Vec<ScaleEvent>, down: Vec<ScaleEvent>) -> Case {
        c.up_events = up;
        c.down_events = down;
        c
    }

    /// `TestScalingWithRules` (horizontal_test.go), every case; the arithmetic is in the comments.
    #[test]
    fn scaling_with_rules_upstream_table() {
        use LimitReason::*;
        let ev = |c: &[i32]| events(c, 120);
        let cases = vec![
            case(
                "prenormalized desired replicas within range",
                3,
                8,
                5,
                7,
                7,
                DesiredWithinRange,
            ),
            case(
                "prenormalized desired replicas < minReplicas",
                2,
                8,
                3,
                1,
                2,
                TooFewReplicas,
            ),
            case(
                "within range when minReplicas is 0",
                0,
                10,
                1,
                0,
                0,
                DesiredWithinRange,
            ),
            // default up: max(20+4, ceil(20·2)=40) = 40 > max 10 → 10.
            case(
                "maxReplicas is the limit because maxReplicas < scaleUpLimit",
                1,
                10,
                20,
                1000,
                10,
                TooManyReplicas,
            ),
            case(
                "desired replica count is more than the maximum replica count",
                100,
                150,
                100,
                1000,
                150,
                TooManyReplicas,
            ),
            // ceil(3 · 1.01) = 4.
            up(
                case(
                    "scaleUpLimit < maxReplicas with user policies",
                    1,
                    2000,
                    3,
                    1000,
                    4,
                    ScaleUpLimit,
                ),
                rules(0, 0, 1, 60, 0),
            ),
            // 1000 − 20 = 980.
            down(
                case(
                    "scaleDownLimit > minReplicas with user defined policies",
                    3,
                    2000,
                    1000,
                    3,
                    980,
                    ScaleDownLimit,
                ),
                rules(20, 60, 0, 0, 0),
            ),
            // default up: max(10 + 4, ceil(10 · 2)) = 20.
            case(
                "scaleUp with default behavior",
                1,
                1000,
                10,
                50,
                20,
                ScaleUpLimit,
            ),
            // max(10 + 100, ceil(10 · 2)) = 110.
            up(
                case(
                    "scaleUp with pods policy larger than percent policy",
                    1,
                    1000,
                    10,
                    500,
                    110,
                    ScaleUpLimit,
                ),
                rules(100, 60, 100, 60, 0),
            ),
            // max(10 + 2, 20) = 20.
            up(
                case(
                    "scaleUp with percent policy larger than pods policy",
                    1,
                    1000,
                    10,
                    500,
                    20,
                    ScaleUpLimit,
                ),
                rules(2, 60, 100, 60, 0),
            ),
            up(
                case(
                    "scaleUp with spec MaxReplicas limitation with large pod policy",
                    1,
                    1000,
                    10,
                    50,
                    50,
                    DesiredWithinRange,
                ),
                rules(100, 60, 0, 0, 0),
            ),
            up(
                case(
                    "scaleUp with spec MaxReplicas limitation with large percent policy",
                    1,
                    1000,
                    10,
                    50,
                    50,
                    DesiredWithinRange,
                ),
                rules(10000, 60, 0, 0, 0),
            ),
            // 10 + 30 = 40.
            up(
                case(
                    "scaleUp with pod policy limitation",
                    1,
                    1000,
                    10,
                    50,
                    40,
                    ScaleUpLimit,
                ),
                rules(30, 60, 0, 0, 0),
            ),
            // ceil(10 · 3) = 30.
            up(
                case(
                    "scaleUp with percent policy limitation",
                    1,
                    1000,
                    10,
                    50,
                    30,
                    ScaleUpLimit,
                ),
                rules(0, 0, 200, 60, 0),
            ),
            // min(100 − 20, 100 − 1) = 80 (Max picks the largest change).
            down(
                case(
                    "scaleDown with percent policy larger than pod policy",
                    1,
                    1000,
                    100,
                    2,
                    80,
                    ScaleDownLimit,
                ),
                rules(20, 60, 1, 60, 300),
            ),
            // min(100 − 2, int(100 · 0.99) = 99) = 98.
            down(
                case(
                    "scaleDown with pod policy larger than percent policy",
                    1,
                    1000,
                    100,
                    2,
                    98,
                    ScaleDownLimit,
                ),
                rules(2, 60, 1, 60, 300),
            ),
            // 10 − 100 = −90 < min 1 → 1.
            down(
                case(
                    "scaleDown with spec MinReplicas=nil limitation with large pod policy",
                    1,
                    1000,
                    10,
                    0,
                    1,
                    TooFewReplicas,
                ),
                rules(100, 60, 0, 0, 300),
            ),
            down(
                case(
                    "scaleDown with spec MinReplicas limitation with large pod policy",
                    1,
                    1000,
                    10,
                    0,
                    1,
                    TooFewReplicas,
                ),
                rules(100, 60, 0, 0, 300),
            ),
            // int(10 · 0) = 0 < min 5 → 5.
            down(
                case(
                    "scaleDown with spec MinReplicas limitation with large percent policy",
                    5,
                    1000,
                    10,
                    2,
                    5,
                    TooFewReplicas,
                ),
                rules(0, 0, 100, 60, 300),
            ),
            // 10 − 5 = 5.
            down(
                case(
                    "scaleDown with pod policy limitation",
                    1,
                    1000,
                    10,
                    2,
                    5,
                    ScaleDownLimit,
                ),
                rules(5, 60, 0, 0, 300),
            ),
            // int(10 · 0.5) = 5 = desired.
            down(
                case(
                    "scaleDown with percent policy limitation",
                    1,
                    1000,
                    10,
                    5,
                    5,
                    DesiredWithinRange,
                ),
                rules(0, 0, 50, 60, 300),
            ),
            // 100 − 15 + 300 = 385 > max 200.
            with_events(
                up(
                    case(
                        "scaleUp MaxReplicas limitation, large pod policy, events",
                        1,
                        200,
                        100,
                        500,
                        200,
                        TooManyReplicas,
                    ),
                    rules(300, 60, 0, 0, 0),
                ),
                ev(&[1, 5, 9]),
                vec![],
            ),
            with_events(
                up(
                    case(
                        "scaleUp MaxReplicas limitation, large percent policy, events",
                        1,
                        200,
                        100,
                        500,
                        200,
                        TooManyReplicas,
                    ),
                    rules(0, 0, 10000, 60, 0),
                ),
                ev(&[1, 5, 9]),
                vec![],
            ),
            // events at −100, −60, −20 s all inside 120 s: 100 − 15 + 5 = 90 < current → current.
            with_events(
                up(
                    case(
                        "scaleUp currentReplicas limitation with many recent events",
                        1,
                        1000,
                        100,
                        500,
                        100,
                        ScaleUpLimit,
                    ),
                    rules(5, 120, 0, 0, 0),
                ),
                ev(&[1, 5, 9]),
                vec![],
            ),
            // 100 − 15 + 150 = 235.
            with_events(
                up(
                    case(
                        "scaleUp with pod policy and previous scale up events",
                        1,
                        1000,
                        100,
                        500,
                        235,
                        ScaleUpLimit,
                    ),
                    rules(150, 120, 0, 0, 0),
                ),
                ev(&[1, 5, 9]),
                vec![],
            ),
            // ceil((100 − 15) · 3) = 255.
            with_events(
                up(
                    case(
                        "scaleUp with percent policy and previous scale up events",
                        1,
                        1000,
                        100,
                        500,
                        255,
                        ScaleUpLimit,
                    ),
                    rules(0, 0, 200, 120, 0),
                ),
                ev(&[1, 5, 9]),
                vec![],
            ),
            // period start 6 − 4 + 2 = 4 → ceil(4 · 4) = 16.
            with_events(
                up(
                    case(
                        "scaleUp with percent policy and previous up and down events",
                        1,
                        1000,
                        6,
                        24,
                        16,
                        ScaleUpLimit,
                    ),
                    rules(0, 0, 300, 300, 0),
                ),
                ev(&[4]),
                ev(&[2]),
            ),
            with_events(
                case(
                    "scaleDown with default policy and previous events",
                    1,
                    1000,
                    10,
                    5,
                    5,
                    DesiredWithinRange,
                ),
                vec![],
                ev(&[1, 5, 9]),
            ),
            // 100 + 15 − 115 = 0 < min 1.
            with_events(
                down(
                    case(
                        "scaleDown MinReplicas=nil limitation, large pod policy, events",
                        1,
                        1000,
                        100,
                        0,
                        1,
                        TooFewReplicas,
                    ),
                    rules(115, 120, 0, 0, 300),
                ),
                vec![],
                ev(&[1, 5, 9]),
            ),
            with_events(
                down(
                    case(
                        "scaleDown MinReplicas limitation, large pod policy, events",
                        5,
                        1000,
                        100,
                        0,
                        5,
                        TooFewReplicas,
                    ),
                    rules(130, 120, 0, 0, 300),
                ),
                vec![],
                ev(&[1, 5, 9]),
            ),
            with_events(
                down(
                    case(
                        "scaleDown MinReplicas limitation, large percent policy, events",
                        5,
                        1000,
                        100,
                        2,
                        5,
                        TooFewReplicas,
                    ),
                    rules(0, 0, 100, 120, 300),
                ),
                vec![],
                ev(&[1, 5, 9]),
            ),
            // 100 + 15 − 5 = 110 > current → current.
            with_events(
                down(
                    case(
                        "scaleDown with pod policy limitation and previous events",
                        1,
                        1000,
                        100,
                        2,
                        100,
                        ScaleDownLimit,
                    ),
                    rules(5, 120, 0, 0, 300),
                ),
                vec![],
                ev(&[1, 5, 9]),
            ),
            // int((100 + 12) · 0.5) = 56.
            with_events(
                down(
                    case(
                        "scaleDown with percent policy limitation and previous events",
                        1,
                        1000,
                        100,
                        0,
                        56,
                        ScaleDownLimit,
                    ),
                    rules(0, 0, 50, 120, 300),
                ),
                vec![],
                ev(&[2, 4, 6]),
            ),
            // period start 10 − 2 + 4 = 12 → int(12 · 0.5) = 6.
            with_events(
                down(
                    case(
                        "scaleDown with percent policy and previous up and down events",
                        1,
                        1000,
                        10,
                        1,
                        6,
                        ScaleDownLimit,
                    ),
                    rules(0, 0, 50, 180, 0),
                ),
                ev(&[2]),
                ev(&[4]),
            ),
            // int((100 + 30) · 0.9) = 117 > current → keep 100.
            with_events(
                down(
                    case(
                        "scaleDown with previous events preventing further scale down",
                        1,
                        1000,
                        100,
                        0,
                        100,
                        ScaleDownLimit,
                    ),
                    rules(0, 0, 10, 120, 300),
                ),
                vec![],
                ev(&[10, 10, 10]),
            ),
            // int((10 + 30) · (1 − 10)) = −360 < desired 5 → 5.
            with_events(
                down(
                    case(
                        "scaleDown with previous events still allowing more scale down",
                        1,
                        1000,
                        10,
                        5,
                        5,
                        DesiredWithinRange,
                    ),
                    rules(0, 0, 1000, 120, 300),
                ),
                vec![],
                ev(&[10, 10, 10]),
            ),
            // within 60 s: 9 + 11 = 20 → 100 − 20 + 1000 = 1080 ≥ max → max 1000 ≥ 200.
            with_events(
                up(
                    case(
                        "check 'outdated' flag for events for one behavior for up",
                        1,
                        1000,
                        100,
                        200,
                        200,
                        DesiredWithinRange,
                    ),
                    rules(1000, 60, 0, 0, 0),
                ),
                ev(&[8, 12, 9, 11]),
                vec![],
            ),
            with_events(
                up(
                    case(
                        "events not 'outdated' for two policies (up)",
                        1,
                        1000,
                        100,
                        200,
                        200,
                        DesiredWithinRange,
                    ),
                    rules(1000, 120, 100, 60, 0),
                ),
                ev(&[8, 12, 9, 11]),
                vec![],
            ),
            with_events(
                up(
                    case(
                        "events 'outdated' for two policies (up)",
                        1,
                        1000,
                        100,
                        200,
                        200,
                        DesiredWithinRange,
                    ),
                    rules(1000, 30, 100, 60, 0),
                ),
                ev(&[8, 12, 9, 11]),
                vec![],
            ),
            with_events(
                down(
                    case(
                        "check 'outdated' flag for events for one behavior for down",
                        1,
                        1000,
                        100,
                        5,
                        5,
                        DesiredWithinRange,
                    ),
                    rules(1000, 60, 0, 0, 300),
                ),
                vec![],
                ev(&[8, 12, 9, 11]),
            ),
            with_events(
                down(
                    case(
                        "events not 'outdated' for two policies (down)",
                        1,
                        1000,
                        100,
                        5,
                        5,
                        DesiredWithinRange,
                    ),
                    rules(1000, 120, 100, 60, 300),
                ),
                vec![],
                ev(&[8, 12, 9, 11]),
            ),
            with_events(
                down(
                    case(
                        "events 'outdated' for two policies (down)",
                        1,
                        1000,
                        100,
                        5,
                        5,
                        DesiredWithinRange,
                    ),
                    rules(1000, 30, 100, 60, 300),
                ),
                vec![],
                ev(&[8, 12, 9, 11]),
            ),
        ];
        for c in cases {
            let behavior = Behavior {
                scale_up: scale_up_rules(c.up.as_ref()),
                scale_down: scale_down_rules(c.down.as_ref()),
            };
            let args = RateArgs {
                current: c.current,
                desired: c.desired,
                min: c.min,
                max: c.max,
                up_events: &c.up_events,
                down_events: &c.down_events,
                behavior: &behavior,
                now: NOW,
            };
            assert_eq!(
                convert_with_rate(&args),
                (c.expected, c.reason),
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn select_policy_min_upstream_cases() {
        // TestCalculateScaleUpLimitWithScalingRules: Pods 2/60 → 1 + 2 = 3, Percent 50/60 →
        // ceil(1 · 1.5) = 2; Min → 2. TestCalculateScaleDownLimitWithBehaviors: Pods → 5 − 2 = 3,
        // Percent → int(5 · 0.5) = 2; Min (smallest change) → max(3, 2) = 3.
        let r = ScalingRules {
            stabilization_window: Some(SimDuration::from_secs(300)),
            select_policy: SelectPolicy::Min,
            policies: vec![
                ScalingPolicy {
                    kind: PolicyKind::Pods,
                    value: 2,
                    period: SimDuration::from_secs(60),
                },
                ScalingPolicy {
                    kind: PolicyKind::Percent,
                    value: 50,
                    period: SimDuration::from_secs(60),
                },
            ],
            tolerance: None,
        };
        assert_eq!(scale_up_limit(1, &[], &[], &r, NOW), 2);
        assert_eq!(scale_down_limit(5, &[], &[], &r, NOW), 3);
        let disabled = ScalingRules {
            select_policy: SelectPolicy::Disabled,
            ..r
        };
        assert_eq!(scale_up_limit(7, &[], &[], &disabled, NOW), 7);
        assert_eq!(scale_down_limit(7, &[], &[], &disabled, NOW), 7);
    }

    fn ago(secs: u64) -> SimTime {
        NOW.saturating_sub(SimDuration::from_secs(secs))
    }

    fn event(change: i32, secs_ago: u64) -> ScaleEvent {
        ScaleEvent {
            change,
            timestamp: ago(secs_ago),
            outdated: false,
        }
    }

    /// `TestStoreScaleEvents`: (name, previous events, rules, expected change in the last 60 s
    /// before storing, expected (change, outdated) after storing +5 / −5).
    #[test]
    fn store_scale_events_upstream_table() {
        type Expected = Vec<(i32, bool)>;
        type StoreCase = (
            &'static str,
            Vec<ScaleEvent>,
            Option<PartialRules>,
            i32,
            Expected,
        );
        let cases: Vec<StoreCase> = vec![
            (
                "empty entries with default behavior",
                vec![],
                None,
                0,
                vec![],
            ),
            (
                "empty entries with two-policy-behavior",
                vec![],
                Some(rules(10, 60, 100, 60, 0)),
                0,
                vec![(5, false)],
            ),
            (
                "one outdated entry kept untouched without behavior",
                vec![event(7, 61)],
                None,
                0,
                vec![(7, false)],
            ),
            (
                "one outdated entry replaced with behavior",
                vec![event(7, 61)],
                Some(rules(10, 60, 100, 60, 0)),
                0,
                vec![(5, false)],
            ),
            (
                "one actual entry not touched with behavior",
                vec![event(7, 58)],
                Some(rules(10, 60, 100, 60, 0)),
                7,
                vec![(7, false), (5, false)],
            ),
            (
                "two entries, one of them replaced",
                vec![event(7, 61), event(6, 59)],
                Some(rules(10, 60, 0, 0, 0)),
                6,
                vec![(5, false), (6, false)],
            ),
            // longest period 60 s: both −61 s events become outdated; the *last* one is reused.
            (
                "replace one entry, policies with different periods",
                vec![event(8, 29), event(6, 59), event(7, 61), event(9, 61)],
                Some(rules(10, 60, 100, 30, 0)),
                14,
                vec![(8, false), (6, false), (7, true), (5, false)],
            ),
            (
                "two entries, both actual",
                vec![event(7, 58), event(6, 59)],
                Some(rules(10, 120, 100, 30, 0)),
                13,
                vec![(7, false), (6, false), (5, false)],
            ),
        ];
        for (name, previous, user, change_before, expected) in cases {
            for direction_up in [true, false] {
                let mut events = if direction_up {
                    ScaleEvents {
                        up: previous.clone(),
                        down: vec![],
                    }
                } else {
                    ScaleEvents {
                        up: vec![],
                        down: previous.clone(),
                    }
                };
                let list = |e: &ScaleEvents| {
                    if direction_up {
                        e.up.clone()
                    } else {
                        e.down.clone()
                    }
                };
                assert_eq!(
                    change_in_period(SimDuration::from_secs(60), &list(&events), NOW),
                    change_before,
                    "{name}"
                );
                // The upstream test sets only the direction under test; without rules the HPA
                // has no behavior and nothing is stored.
                let behavior = user.as_ref().map(|r| {
                    if direction_up {
                        Behavior {
                            scale_up: scale_up_rules(Some(r)),
                            scale_down: scale_down_rules(None),
                        }
                    } else {
                        Behavior {
                            scale_up: scale_up_rules(None),
                            scale_down: scale_down_rules(Some(r)),
                        }
                    }
                });
                let new = if direction_up { 15 } else { 5 };
                store_scale_event(&mut events, behavior.as_ref(), 10, new, NOW);
                let got: Vec<(i32, bool)> = list(&events)
                    .iter()
                    .map(|e| (e.change, e.outdated))
                    .collect();
                assert_eq!(got, expected, "{name} (up = {direction_up})");
            }
        }
    }

    fn rec(replicas: i32, secs_ago: u64) -> Recommendation {
        Recommendation {
            replicas,
            timestamp: ago(secs_ago),
        }
    }

    /// `TestNormalizeDesiredReplicasWithBehavior`: (name, history, current, desired, up window,
    /// down window, expected stabilized, expected history after).
    #[test]
    fn stabilization_with_behaviors_upstream_table() {
        type StabilizeCase = (
            &'static str,
            Vec<Recommendation>,
            i32,
            i32,
            u64,
            u64,
            i32,
            Option<Vec<i32>>,
        );
        let cases: Vec<StabilizeCase> = vec![
            (
                "empty recommendations for scaling down",
                vec![],
                100,
                5,
                0,
                0,
                5,
                Some(vec![5]),
            ),
            // down window 3 m holds 4 and 5 → max(3, 4, 5) = 5.
            (
                "simple scale down stabilization",
                vec![rec(4, 120), rec(5, 60)],
                100,
                3,
                0,
                180,
                5,
                Some(vec![4, 5, 3]),
            ),
            // up window 5 m holds 4 and 5 → min(7, 4, 5) = 4.
            (
                "simple scale up stabilization",
                vec![rec(4, 120), rec(5, 60)],
                1,
                7,
                300,
                0,
                4,
                Some(vec![4, 5, 7]),
            ),
            (
                "no scale down stabilization",
                vec![rec(1, 120), rec(2, 60)],
                100,
                3,
                300,
                0,
                3,
                Some(vec![1, 2, 3]),
            ),
            (
                "no scale up stabilization",
                vec![rec(4, 120), rec(5, 60)],
                1,
                3,
                0,
                300,
                3,
                Some(vec![4, 5, 3]),
            ),
            // both windows 0: the last entry older than both cutoffs (9 at −9 m) is reused.
            (
                "no scale down stabilization, reuse recommendation element",
                vec![rec(10, 600), rec(9, 540)],
                100,
                3,
                0,
                0,
                3,
                Some(vec![10, 3]),
            ),
            (
                "no scale up stabilization, reuse recommendation element",
                vec![rec(10, 600), rec(9, 540)],
                1,
                100,
                0,
                0,
                100,
                Some(vec![10, 100]),
            ),
            (
                "scale down stabilization, reuse one obsolete element",
                vec![rec(10, 600), rec(4, 60), rec(5, 120), rec(9, 540)],
                100,
                3,
                0,
                180,
                5,
                Some(vec![10, 4, 5, 3]),
            ),
            // up window 300 s holds 6, 5, 9 → min = 5; only the −100 m entry is older than both.
            (
                "scale up stabilization, reuse one obsolete element",
                vec![rec(10, 6000), rec(6, 60), rec(5, 120), rec(9, 180)],
                1,
                100,
                300,
                0,
                5,
                Some(vec![100, 6, 5, 9]),
            ),
            // up = min(1, 3) = 1, down = max(1, 3) = 3, current 2 stays.
            (
                "do not scale up when prenormalized rec goes down",
                vec![rec(2, 6000), rec(3, 180)],
                2,
                1,
                300,
                300,
                2,
                None,
            ),
            (
                "do not scale down when prenormalized rec goes up",
                vec![rec(2, 6000), rec(1, 180)],
                2,
                3,
                300,
                300,
                2,
                None,
            ),
        ];
        for (name, mut history, current, desired, up_w, down_w, expected, after) in cases {
            let (got, _) = stabilize(
                &mut history,
                current,
                desired,
                NOW,
                SimDuration::from_secs(up_w),
                SimDuration::from_secs(down_w),
            );
            assert_eq!(got, expected, "{name}");
            if let Some(after) = after {
                assert_eq!(
                    history.iter().map(|r| r.replicas).collect::<Vec<_>>(),
                    after,
                    "{name}: history"
                );
            }
        }
    }

    #[test]
    fn windows_reaching_back_before_the_start_keep_the_records_at_zero() {
        // Upstream's cutoff is now − window, a time before the start for the first `window`
        // seconds: a record made at 0 is after it. First sync at 0 with 4 replicas and a
        // 600 s scale-down window: the initial recommendation (4, t=0) holds the proposal of
        // 0 up → 4; at 100 s still 4; at 601 s the record has left the window → 0 (stabilized
        // against the later records only, all 0).
        let window = SimDuration::from_secs(600);
        let mut history = vec![Recommendation {
            replicas: 4,
            timestamp: SimTime::ZERO,
        }];
        let mut at = |secs: u64| {
            stabilize(
                &mut history,
                4,
                0,
                SimTime::from_secs(secs),
                SimDuration::ZERO,
                window,
            )
            .0
        };
        assert_eq!(at(0), 4);
        assert_eq!(at(100), 4);
        assert_eq!(at(601), 0);
        // A scale event at 0 counts in a 60 s policy period until 60 s (strictly after).
        let events = [ScaleEvent {
            change: 3,
            timestamp: SimTime::ZERO,
            outdated: false,
        }];
        assert_eq!(
            change_in_period(SimDuration::from_secs(60), &events, SimTime::from_secs(30)),
            3
        );
        assert_eq!(
            change_in_period(SimDuration::from_secs(60), &events, SimTime::from_secs(60)),
            0
        );
    }

    #[test]
    fn defaults_are_applied_field_by_field() {
        // Only the window is set: the default policies stay; a policy list replaces them all.
        let only_window = PartialRules {
            stabilization_window: Some(SimDuration::from_secs(60)),
            ..Default::default()
        };
        let up = scale_up_rules(Some(&only_window));
        assert_eq!(up.policies.len(), 2);
        assert_eq!(up.stabilization_window, Some(SimDuration::from_secs(60)));
        let down = scale_down_rules(None);
        assert_eq!(
            down.stabilization_window, None,
            "filled from the controller flag at run time"
        );
        assert_eq!(
            down.policies,
            vec![ScalingPolicy {
                kind: PolicyKind::Percent,
                value: 100,
                period: SimDuration::from_secs(15)
            }]
        );
        let one_policy = PartialRules {
            policies: Some(vec![ScalingPolicy {
                kind: PolicyKind::Pods,
                value: 1,
                period: SimDuration::from_secs(60),
            }]),
            ..Default::default()
        };
        assert_eq!(scale_up_rules(Some(&one_policy)).policies.len(), 1);
    }
}
