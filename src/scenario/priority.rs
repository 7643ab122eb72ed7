//! PriorityClasses (`scheduling.k8s.io/v1`) and how a pod's priority is resolved, as the
//! Priority admission plugin does: `priorityClassName` names a class (the built-in
//! `system-cluster-critical` and `system-node-critical`, or one from the manifests); without
//! one a pod gets the `globalDefault` class, else priority 0. The class's `preemptionPolicy`
//! (`PreemptLowerPriority` by default, or `Never`) applies unless the pod sets its own.

use super::diag::Diagnostic;
use super::manifest::ManifestSet;

/// One class, after validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriorityClassSpec {
    pub name: String,
    pub value: i32,
    pub global_default: bool,
    /// `preemptionPolicy: Never`.
    pub never_preempts: bool,
}

/// The largest value a user-defined class may have (`HighestUserDefinablePriority`).
const HIGHEST_USER_DEFINABLE: i32 = 1_000_000_000;

/// The classes every cluster has.
fn built_in() -> [PriorityClassSpec; 2] {
    [
        ("system-cluster-critical", 2_000_000_000),
        ("system-node-critical", 2_000_001_000),
    ]
    .map(|(name, value)| PriorityClassSpec {
        name: name.into(),
        value,
        global_default: false,
        never_preempts: false,
    })
}

/// The classes of the manifests plus the built-in ones; problems go to `diags`.
pub fn priority_classes(set: &ManifestSet, diags: &mut Vec<Diagnostic>) -> Vec<PriorityClassSpec> {
    let mut out: Vec<PriorityClassSpec> = built_in().into();
    for m in &set.priority_classes {
        let src = &m.source;
        let pc = &m.object;
        let name = pc.metadata.name.clone().unwrap_or_default();
        if name.starts_with("system-") {
            diags.push(src.error(
                "metadata.name",
                "the prefix \"system-\" is reserved for the built-in classes",
            ));
            continue;
        }
        if out.iter().any(|c| c.name == name) {
            diags.push(src.error(
                "metadata.name",
                format!("PriorityClass {name:?} is defined twice"),
            ));
            continue;
        }
        if pc.value > HIGHEST_USER_DEFINABLE {
            diags.push(src.error(
                "value",
                format!("maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE}, got {}", pc.value),
            ));
        }
        let global_default = pc.global_default.unwrap_or(false);
        if global_default && let Some(other) = out.iter().find(|c| c.global_default) {
            diags.push(src.error(
                "globalDefault",
                format!(
                    "PriorityClass {:?} is already marked as the default; only one may be",
                    other.name
                ),
            ));
        }
        let never_preempts = match pc.preemption_policy.as_deref() {
            None | Some("PreemptLowerPriority") => false,
            Some("Never") => true,
            Some(other) => {
                diags.push(src.error(
                    "preemptionPolicy",
                    format!("{other:?} is not supported: use PreemptLowerPriority or Never"),
                ));
                false
            }
        };
        out.push(PriorityClassSpec {
            name,
            value: pc.value,
            global_default,
            never_preempts,
        });
    }
    out
}

/// A pod's (priority, never preempts) from its `priorityClassName` and `preemptionPolicy`;
/// an unknown class is an error, as at admission.
pub fn resolve(
    classes: &[PriorityClassSpec],
    class_name: Option<&str>,
    pod_policy: Option<&str>,
) -> Result<(i32, bool), String> {
    let class = match class_name {
        Some(name) => Some(
            classes
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| format!("no PriorityClass with name {name:?} was found"))?,
        ),
        None => classes.iter().find(|c| c.global_default),
    };
    let never = match pod_policy {
        Some("Never") => true,
        Some("PreemptLowerPriority") => false,
        Some(other) => {
            return Err(format!(
                "preemptionPolicy {other:?} is not supported: use PreemptLowerPriority or Never"
            ));
        }
        None => class.is_some_and(|c| c.never_preempts),
    };
    Ok((class.map_or(0, |c| c.value), never))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_resolve_like_admission() {
        let mut classes: Vec<PriorityClassSpec> = built_in().into();
        classes.push(PriorityClassSpec {
            name: "batch".into(),
            value: -10,
            global_default: true,
            never_preempts: true,
        });
        classes.push(PriorityClassSpec {
            name: "online".into(),
            value: 1000,
            global_default: false,
            never_preempts: false,
        });
        assert_eq!(resolve(&classes, Some("online"), None), Ok((1000, false)));
        // No class: the global default, with its policy.
        assert_eq!(resolve(&classes, None, None), Ok((-10, true)));
        // The pod's own policy wins.
        assert_eq!(
            resolve(&classes, None, Some("PreemptLowerPriority")),
            Ok((-10, false))
        );
        assert_eq!(
            resolve(&classes, Some("system-node-critical"), None),
            Ok((2_000_001_000, false))
        );
        assert!(
            resolve(&classes, Some("gold"), None)
                .unwrap_err()
                .contains("no PriorityClass")
        );
        // Without a global default, priority 0.
        assert_eq!(resolve(&built_in(), None, None), Ok((0, false)));
    }
}
