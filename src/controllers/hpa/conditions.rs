//! The HPA status conditions (A.6) as each sync leaves them: `AbleToScale`, `ScalingActive` and
//! `ScalingLimited`, with the reasons Kubernetes uses and messages worded like its own.
//!
//! Built from the decision's own fields at the end of a sync (no formatting on the hot path:
//! the messages are written only when a record is serialized).

use std::sync::Arc;

use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use super::behavior::StabilizationReason;
use super::normalize::LimitReason;

/// `AbleToScale`: could the controller read and update the target's scale, and is it free to?
#[derive(Clone, Debug, PartialEq)]
pub enum AbleToScale {
    /// The target does not exist (`FailedGetScale`).
    FailedGetScale { kind: &'static str, name: Arc<str> },
    /// The target was rescaled to this many replicas.
    SucceededRescale { replicas: i32 },
    /// A stabilization window held the recommendation.
    Stabilized(StabilizationReason),
    /// Nothing held it back.
    ReadyForNewScale,
}

/// `ScalingActive`: did the metrics yield a replica count?
#[derive(Clone, Debug, PartialEq)]
pub enum ScalingActive {
    /// `ValidMetricFound`, naming the metric whose proposal won.
    ValidMetricFound { metric: Arc<str> },
    /// The target has 0 replicas and `minReplicas` is not 0.
    ScalingDisabled,
    /// `FailedGet{Resource,ContainerResource,Pods,Object,External}Metric` with the first
    /// failing metric's error.
    FailedGetMetric { reason: &'static str, error: String },
}

/// The three conditions after one sync; `None` where the sync did not touch a condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Conditions {
    pub able_to_scale: AbleToScale,
    pub scaling_active: Option<ScalingActive>,
    pub scaling_limited: Option<LimitReason>,
}

impl AbleToScale {
    fn parts(&self) -> (bool, &'static str, String) {
        match self {
            Self::FailedGetScale { kind, name } => (
                false,
                "FailedGetScale",
                format!(
                    "the HPA controller was unable to get the target's current scale: {kind} {name:?} not found"
                ),
            ),
            Self::SucceededRescale { replicas } => (
                true,
                "SucceededRescale",
                format!("the HPA controller was able to update the target scale to {replicas}"),
            ),
            Self::Stabilized(StabilizationReason::ScaleDownStabilized) => (
                true,
                "ScaleDownStabilized",
                "recent recommendations were higher than current one, applying the highest recent recommendation".into(),
            ),
            Self::Stabilized(StabilizationReason::ScaleUpStabilized) => (
                true,
                "ScaleUpStabilized",
                "recent recommendations were lower than current one, applying the lowest recent recommendation".into(),
            ),
            Self::ReadyForNewScale => (
                true,
                "ReadyForNewScale",
                "recommended size matches current size".into(),
            ),
        }
    }
}

impl ScalingActive {
    fn parts(&self) -> (bool, &'static str, String) {
        match self {
            Self::ValidMetricFound { metric } => (
                true,
                "ValidMetricFound",
                format!("the HPA was able to successfully calculate a replica count from {metric}"),
            ),
            Self::ScalingDisabled => (
                false,
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero".into(),
            ),
            Self::FailedGetMetric { reason, error } => (
                false,
                reason,
                format!("the HPA was unable to compute the replica count: {error}"),
            ),
        }
    }
}

fn limited_parts(reason: LimitReason) -> (bool, &'static str, String) {
    let message = match reason {
        LimitReason::DesiredWithinRange => "the desired count is within the acceptable range",
        LimitReason::TooFewReplicas => {
            "the desired replica count is less than the minimum replica count"
        }
        LimitReason::TooManyReplicas => {
            "the desired replica count is more than the maximum replica count"
        }
        LimitReason::ScaleUpLimit => {
            "the desired replica count is increasing faster than the maximum scale rate"
        }
        LimitReason::ScaleDownLimit => {
            "the desired replica count is decreasing faster than the maximum scale rate"
        }
    };
    (
        reason != LimitReason::DesiredWithinRange,
        reason.as_str(),
        message.into(),
    )
}

impl Conditions {
    /// `(type, status, reason, message)` for each condition the sync set, in Kubernetes order.
    pub fn list(&self) -> Vec<(&'static str, bool, &'static str, String)> {
        let mut out = Vec::with_capacity(3);
        let (status, reason, message) = self.able_to_scale.parts();
        out.push(("AbleToScale", status, reason, message));
        if let Some(active) = &self.scaling_active {
            let (status, reason, message) = active.parts();
            out.push(("ScalingActive", status, reason, message));
        }
        if let Some(limit) = self.scaling_limited {
            let (status, reason, message) = limited_parts(limit);
            out.push(("ScalingLimited", status, reason, message));
        }
        out
    }
}

/// Serialized as the HPA's `status.conditions` list.
impl Serialize for Conditions {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct One<'a>(&'a (&'static str, bool, &'static str, String));
        impl Serialize for One<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let (kind, status, reason, message) = self.0;
                let mut s = serializer.serialize_struct("Condition", 4)?;
                s.serialize_field("type", kind)?;
                s.serialize_field("status", if *status { "True" } else { "False" })?;
                s.serialize_field("reason", reason)?;
                s.serialize_field("message", message)?;
                s.end()
            }
        }
        let list = self.list();
        let mut seq = serializer.serialize_seq(Some(list.len()))?;
        for c in &list {
            seq.serialize_element(&One(c))?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialized_like_status_conditions() {
        let c = Conditions {
            able_to_scale: AbleToScale::SucceededRescale { replicas: 6 },
            scaling_active: Some(ScalingActive::ValidMetricFound {
                metric: "CPU".into(),
            }),
            scaling_limited: Some(LimitReason::ScaleUpLimit),
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"[{"type":"AbleToScale","status":"True","reason":"SucceededRescale","message":"the HPA controller was able to update the target scale to 6"},{"type":"ScalingActive","status":"True","reason":"ValidMetricFound","message":"the HPA was able to successfully calculate a replica count from CPU"},{"type":"ScalingLimited","status":"True","reason":"ScaleUpLimit","message":"the desired replica count is increasing faster than the maximum scale rate"}]"#
        );
        let missing = Conditions {
            able_to_scale: AbleToScale::FailedGetScale {
                kind: "deployments.apps",
                name: "web".into(),
            },
            scaling_active: None,
            scaling_limited: None,
        };
        let list = missing.list();
        assert_eq!(list.len(), 1);
        assert_eq!(
            list[0].3,
            "the HPA controller was unable to get the target's current scale: deployments.apps \"web\" not found"
        );
        assert!(!list[0].1);
        let within = limited_parts(LimitReason::DesiredWithinRange);
        assert_eq!((within.0, within.1), (false, "DesiredWithinRange"));
    }
}
