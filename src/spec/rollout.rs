//! The rollout fields of Deployments, StatefulSets and DaemonSets: `intstr.IntOrString` counts,
//! `spec.strategy`, and the status counts a rollout is judged by. The arithmetic over them is
//! the Deployment controller's (`controllers::rollout`).

/// `intstr.IntOrString` as Deployments use it: a count or a percentage of the replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntOrPercent {
    /// A count of pods (`5`).
    Int(i32),
    /// A percentage of the desired replicas (`"25%"`).
    Percent(i32),
}

impl IntOrPercent {
    /// Parses `5` or `"25%"` as written in a manifest.
    pub fn parse(text: &str) -> Result<IntOrPercent, String> {
        let invalid =
            || format!("invalid value {text:?}: use a whole number or a percentage such as 25%");
        match text.strip_suffix('%') {
            Some(n) => n.parse().map(IntOrPercent::Percent).map_err(|_| invalid()),
            None => text.parse().map(IntOrPercent::Int).map_err(|_| invalid()),
        }
    }

    /// `GetScaledValueFromIntOrPercent`: a percentage of `total`, rounded up or down.
    pub fn scaled(self, total: i32, round_up: bool) -> i32 {
        match self {
            IntOrPercent::Int(v) => v,
            IntOrPercent::Percent(p) => {
                let exact = i64::from(p) * i64::from(total);
                let v = if round_up {
                    (exact + 99).div_euclid(100)
                } else {
                    exact.div_euclid(100)
                };
                v as i32
            }
        }
    }

    /// Whether it is 0 or 0 % (what validation compares when both fenceposts are zero).
    pub fn is_zero(self) -> bool {
        matches!(self, IntOrPercent::Int(0) | IntOrPercent::Percent(0))
    }
}

/// `spec.strategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Replace pods a few at a time: at most `max_surge` above the desired replicas, at most
    /// `max_unavailable` below them unavailable.
    RollingUpdate {
        /// `maxSurge` (default 25 %, rounded up).
        max_surge: IntOrPercent,
        /// `maxUnavailable` (default 25 %, rounded down).
        max_unavailable: IntOrPercent,
    },
    /// Scale the old ReplicaSets to 0, then the new one up.
    Recreate,
    /// A DaemonSet's `OnDelete`: new pods only where old ones were deleted.
    OnDelete,
}

impl Default for Strategy {
    /// RollingUpdate with 25 % surge and 25 % unavailable.
    fn default() -> Self {
        Strategy::RollingUpdate {
            max_surge: IntOrPercent::Percent(25),
            max_unavailable: IntOrPercent::Percent(25),
        }
    }
}

/// A Deployment's status counts (`status.replicas`, `updatedReplicas`, `readyReplicas`,
/// `availableReplicas`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RolloutStatus {
    /// Pods of every revision (`status.replicas`).
    pub replicas: i32,
    /// Pods of the current revision (`status.updatedReplicas`).
    pub updated: i32,
    /// Ready pods (`status.readyReplicas`).
    pub ready: i32,
    /// Pods Ready for at least `minReadySeconds` (`status.availableReplicas`).
    pub available: i32,
}
