//! KEDA's operator for one ScaledObject: every `pollingInterval` it asks the triggers whether
//! there is work and scales the target between zero (or `idleReplicaCount`) and
//! `minReplicaCount`; the HPA it owns scales it above that (see `scenario::keda`).
//!
//! The decision follows KEDA's scale executor (`RequestScale`, `scaleFromZeroOrIdle`,
//! `scaleToZeroOrIdle` in `pkg/scaling/executor/scale_scaledobjects.go`), without the pause
//! annotations and the fallback, which kubesim does not model:
//!
//! - active and the target at zero (or, with an idle count, below the minimum): scale to the
//!   minimum (at least 1), and note the time as the last activity;
//! - active otherwise: note the time;
//! - inactive, above the idle count (or above zero with minimum 0): once the cooldown has passed
//!   since the last activity (or `initialCooldownPeriod` since creation, with none yet), scale to
//!   the idle count (or the minimum);
//! - inactive, below the minimum and no idle count: scale to the minimum.
//!
//! "Passed" is strict, as KEDA's `Before(now)`.

use crate::scenario::KedaActivation;
use crate::sim::SimTime;

/// What KEDA remembers of a ScaledObject between polls (`status.lastActiveTime`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KedaState {
    pub last_active: Option<SimTime>,
}

/// A rescale KEDA asks for, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KedaScale {
    /// From zero (or idle) to the minimum: a trigger is active (`KEDAScaleTargetActivated`).
    Activated { to: i32 },
    /// To zero (or idle) after the cooldown (`KEDAScaleTargetDeactivated`).
    Deactivated { to: i32 },
    /// Up to `minReplicaCount` while inactive.
    ToMinimum { to: i32 },
}

impl KedaScale {
    pub fn replicas(self) -> i32 {
        match self {
            Self::Activated { to } | Self::Deactivated { to } | Self::ToMinimum { to } => to,
        }
    }
}

/// One poll: `active` says whether any trigger is active, `current` is the target's
/// `spec.replicas`, `created` when the ScaledObject was. Returns the rescale, if any.
pub fn request_scale(
    spec: &KedaActivation,
    state: &mut KedaState,
    now: SimTime,
    created: SimTime,
    current: i32,
    active: bool,
) -> Option<KedaScale> {
    let min = spec.min_replica_count;
    let idle = spec.idle_replica_count;
    if active {
        state.last_active = Some(now);
        let below_min_with_idle = idle.is_some() && current < min;
        return (below_min_with_idle || current == 0)
            .then_some(KedaScale::Activated { to: min.max(1) });
    }
    let above_idle = idle.is_some_and(|i| current > i) || (current > 0 && min == 0);
    if above_idle {
        let cooled = match state.last_active {
            None => created + spec.initial_cooldown_period < now,
            Some(t) => t + spec.cooldown_period < now,
        };
        return cooled.then_some(KedaScale::Deactivated {
            to: idle.unwrap_or(min),
        });
    }
    (idle.is_none() && current < min).then_some(KedaScale::ToMinimum { to: min })
}

/// Whether a trigger whose metric reads `value_milli` is active: above its threshold, as the
/// prometheus scaler's `val > activationThreshold`.
pub fn trigger_active(value_milli: i64, activation_milli: i64) -> bool {
    value_milli > activation_milli
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimDuration;

    fn spec(min: i32, idle: Option<i32>) -> KedaActivation {
        KedaActivation {
            scaled_object: "so".into(),
            min_replica_count: min,
            idle_replica_count: idle,
            polling_interval: SimDuration::from_secs(30),
            cooldown_period: SimDuration::from_secs(300),
            initial_cooldown_period: SimDuration::ZERO,
            triggers: Vec::new(),
        }
    }

    fn at(s: u64) -> SimTime {
        SimTime::from_secs(s)
    }

    /// (min, idle, last active, now, current, active, rescale).
    type Case = (
        i32,
        Option<i32>,
        Option<u64>,
        u64,
        i32,
        bool,
        Option<KedaScale>,
    );

    #[test]
    fn decisions_follow_kedas_scale_executor() {
        use KedaScale::*;
        // (min, idle, last active, now, current, active) → rescale. Created at 0, cooldown
        // 300 s, initial cooldown 0.
        let cases: [Case; 12] = [
            // Active at zero: to the minimum, at least 1.
            (0, None, None, 30, 0, true, Some(Activated { to: 1 })),
            (3, None, None, 30, 0, true, Some(Activated { to: 3 })),
            // Active above zero: nothing (the HPA scales).
            (0, None, Some(0), 30, 4, true, None),
            // Idle count: active below the minimum wakes it to the minimum.
            (2, Some(0), None, 30, 0, true, Some(Activated { to: 2 })),
            (3, Some(1), None, 30, 1, true, Some(Activated { to: 3 })),
            // Inactive, never active: the initial cooldown (0) has passed since creation at 0.
            (0, None, None, 30, 5, false, Some(Deactivated { to: 0 })),
            // ... but not at the instant of creation (strictly after).
            (0, None, None, 0, 5, false, None),
            // Inactive, last active 100 s ago, 300 s cooldown: cooling down.
            (0, None, Some(200), 300, 5, false, None),
            // Exactly 300 s: still not "before now".
            (0, None, Some(0), 300, 5, false, None),
            (0, None, Some(0), 301, 5, false, Some(Deactivated { to: 0 })),
            // Idle count: down to it after the cooldown.
            (
                2,
                Some(0),
                Some(0),
                400,
                2,
                false,
                Some(Deactivated { to: 0 }),
            ),
            // Inactive below the minimum without an idle count: up to the minimum.
            (3, None, None, 30, 1, false, Some(ToMinimum { to: 3 })),
        ];
        for (min, idle, last, now, current, active, want) in cases {
            let mut state = KedaState {
                last_active: last.map(at),
            };
            let got = request_scale(
                &spec(min, idle),
                &mut state,
                at(now),
                at(0),
                current,
                active,
            );
            assert_eq!(
                got, want,
                "min {min} idle {idle:?} last {last:?} now {now} current {current} active {active}"
            );
            if active {
                assert_eq!(state.last_active, Some(at(now)));
            }
        }
    }

    #[test]
    fn a_trigger_is_active_strictly_above_its_threshold() {
        assert!(!trigger_active(0, 0));
        assert!(trigger_active(1, 0));
        assert!(!trigger_active(5000, 5000));
    }
}
