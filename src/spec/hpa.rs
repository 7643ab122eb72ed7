//! An HPA's `spec.behavior`: scaling policies and rules per direction, and their API defaults
//! (`GenerateHPAScaleUpRules`, `GenerateHPAScaleDownRules`). The normalization that applies
//! them is the HPA controller's (`controllers::hpa::behavior`).

use serde::Serialize;

use crate::sim::SimDuration;

/// `HPAScalingPolicyType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PolicyKind {
    /// Change by at most `value` pods per period.
    Pods,
    /// Change by at most `value` % of the replicas at the period's start.
    Percent,
}

/// One `HPAScalingPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScalingPolicy {
    /// `type`: Pods or Percent.
    pub kind: PolicyKind,
    /// `value`: pods, or a percentage.
    pub value: i32,
    /// `periodSeconds`: the window of past scale events the limit counts.
    pub period: SimDuration,
}

/// `selectPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum SelectPolicy {
    /// The policy that allows the largest change (the default).
    Max,
    /// The policy that allows the smallest change.
    Min,
    /// No change in this direction.
    Disabled,
}

/// One direction's `HPAScalingRules` after defaulting.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalingRules {
    /// `None` for scale-down means "the controller's --horizontal-pod-autoscaler-downscale-stabilization".
    pub stabilization_window: Option<SimDuration>,
    /// `selectPolicy`: how the policies' limits combine.
    pub select_policy: SelectPolicy,
    /// `policies`.
    pub policies: Vec<ScalingPolicy>,
    /// Per-direction tolerance (HPAConfigurableTolerance); `None` uses the global flag.
    pub tolerance: Option<f64>,
}

/// `spec.behavior` after defaulting.
#[derive(Clone, Debug, PartialEq)]
pub struct Behavior {
    /// `scaleUp`.
    pub scale_up: ScalingRules,
    /// `scaleDown`.
    pub scale_down: ScalingRules,
}

/// The rules a user may have written for one direction (any field may be missing).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PartialRules {
    /// `stabilizationWindowSeconds`.
    pub stabilization_window: Option<SimDuration>,
    /// `selectPolicy`.
    pub select_policy: Option<SelectPolicy>,
    /// `policies` (a list given replaces the default list).
    pub policies: Option<Vec<ScalingPolicy>>,
    /// `tolerance`.
    pub tolerance: Option<f64>,
}

/// `GenerateHPAScaleUpRules`: window 0, Max, [Pods 4 per 15 s, Percent 100 per 15 s].
pub fn scale_up_rules(user: Option<&PartialRules>) -> ScalingRules {
    let defaults = ScalingRules {
        stabilization_window: Some(SimDuration::ZERO),
        select_policy: SelectPolicy::Max,
        policies: vec![
            ScalingPolicy {
                kind: PolicyKind::Pods,
                value: 4,
                period: SimDuration::from_secs(15),
            },
            ScalingPolicy {
                kind: PolicyKind::Percent,
                value: 100,
                period: SimDuration::from_secs(15),
            },
        ],
        tolerance: None,
    };
    merge(user, defaults)
}

/// `GenerateHPAScaleDownRules`: window from the controller flag, Max, [Percent 100 per 15 s].
pub fn scale_down_rules(user: Option<&PartialRules>) -> ScalingRules {
    let defaults = ScalingRules {
        stabilization_window: None,
        select_policy: SelectPolicy::Max,
        policies: vec![ScalingPolicy {
            kind: PolicyKind::Percent,
            value: 100,
            period: SimDuration::from_secs(15),
        }],
        tolerance: None,
    };
    merge(user, defaults)
}

/// `copyHPAScalingRules`: each field the user set replaces the default; a policy list replaces
/// the default list wholesale.
fn merge(user: Option<&PartialRules>, mut rules: ScalingRules) -> ScalingRules {
    let Some(user) = user else { return rules };
    if let Some(p) = user.select_policy {
        rules.select_policy = p;
    }
    if let Some(w) = user.stabilization_window {
        rules.stabilization_window = Some(w);
    }
    if let Some(p) = &user.policies {
        rules.policies = p.clone();
    }
    if user.tolerance.is_some() {
        rules.tolerance = user.tolerance;
    }
    rules
}
