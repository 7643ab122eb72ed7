//! kube-scheduler's in-tree plugins by name (`pkg/scheduler/framework/plugins/names`): a
//! KubeSchedulerConfiguration naming any other does not start the scheduler (its registry
//! answers "… does not exist"), and a weight is an int32 there. A misspelt name is an error
//! here too, with the name it was probably meant to be.

use super::diag::did_you_mean;

/// The in-tree plugins (those of current releases and the volume-limit ones older releases
/// still register).
pub const IN_TREE: [&str; 23] = [
    "AzureDiskLimits",
    "CinderLimits",
    "DefaultBinder",
    "DefaultPreemption",
    "DynamicResources",
    "EBSLimits",
    "GCEPDLimits",
    "ImageLocality",
    "InterPodAffinity",
    "NodeAffinity",
    "NodeName",
    "NodePorts",
    "NodeResourcesBalancedAllocation",
    "NodeResourcesFit",
    "NodeUnschedulable",
    "NodeVolumeLimits",
    "PodTopologySpread",
    "PrioritySort",
    "SchedulingGates",
    "TaintToleration",
    "VolumeBinding",
    "VolumeRestrictions",
    "VolumeZone",
];

/// Why `name` is not a plugin kube-scheduler has (`None` when it is; `*`, "every plugin",
/// only where `wildcard` allows it: the `disabled` lists).
pub fn unknown_plugin(name: &str, wildcard: bool) -> Option<String> {
    if IN_TREE.contains(&name) || (wildcard && name == "*") {
        return None;
    }
    Some(match did_you_mean(name, IN_TREE.iter().copied()) {
        Some(close) => format!(
            "{name:?} does not exist: not a plugin of kube-scheduler (did you mean {close:?}?)"
        ),
        None => format!(
            "{name:?} does not exist: not a plugin of kube-scheduler (its plugins: {})",
            IN_TREE.join(", ")
        ),
    })
}

/// Why `weight` cannot be a plugin's weight (`None` when it can): kube-scheduler reads it as an
/// int32, and a negative weight is refused.
pub fn bad_weight(weight: i64) -> Option<String> {
    if weight < 0 {
        return Some("must not be negative".into());
    }
    (weight > i64::from(i32::MAX)).then(|| {
        format!(
            "{weight} does not fit kube-scheduler's int32 weight (at most {})",
            i32::MAX
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelt_names_and_int32_overflows_are_refused() {
        assert_eq!(unknown_plugin("NodeResourcesFit", false), None);
        assert_eq!(unknown_plugin("*", true), None);
        assert!(unknown_plugin("*", false).is_some());
        let message = unknown_plugin("NodeResourceFit", false).unwrap();
        assert!(
            message.contains("did you mean \"NodeResourcesFit\""),
            "{message}"
        );
        assert_eq!(bad_weight(5), None);
        assert_eq!(bad_weight(2_147_483_647), None);
        assert!(bad_weight(2_147_483_648).unwrap().contains("int32"));
        assert!(bad_weight(-1).unwrap().contains("negative"));
    }
}
