//! Why does a node stay? The Cluster Autoscaler's view of one node, in sentences: when it
//! became unneeded and at what utilization, each reason it was not removed (upstream's names,
//! with the pod that blocked it), and when and how it was removed.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::clock;
use crate::controllers::autoscaler::AutoscalerEvent;
use crate::controllers::autoscaler::drainability::BlockingPodReason;
use crate::controllers::autoscaler::unremovable::UnremovableReason;
use crate::scenario::AutoscalerSettings;
use crate::sim::SimDuration;

/// The names of the nodes the autoscaler logged something about, in order of first mention.
pub fn node_names(events: &[AutoscalerEvent]) -> Vec<&str> {
    let mut seen = std::collections::BTreeSet::new();
    events
        .iter()
        .filter_map(node_of)
        .map(|(node, _)| node)
        .filter(|node| seen.insert(*node))
        .collect()
}

/// The node an event is about, and its node group (`None`: the event is not about one node).
fn node_of(e: &AutoscalerEvent) -> Option<(&str, &str)> {
    match e {
        AutoscalerEvent::NodeUnneeded { node, pool, .. }
        | AutoscalerEvent::NodeUnremovable { node, pool, .. }
        | AutoscalerEvent::ScaleDown { node, pool, .. }
        | AutoscalerEvent::ScaleDownFailed { node, pool, .. }
        | AutoscalerEvent::ProvisionFailed { node, pool, .. } => Some((node, pool)),
        _ => None,
    }
}

/// Each node the autoscaler judged and did not remove, with its last status in a few words, in
/// order of first mention.
pub fn staying(events: &[AutoscalerEvent]) -> Vec<(String, String)> {
    let mut slots: BTreeMap<&str, usize> = BTreeMap::new();
    let mut last: Vec<(&str, Option<&AutoscalerEvent>)> = Vec::new();
    for e in events {
        let Some((node, _)) = node_of(e) else {
            continue;
        };
        let slot = *slots.entry(node).or_insert_with(|| {
            last.push((node, None));
            last.len() - 1
        });
        last[slot].1 = match e {
            AutoscalerEvent::ScaleDown { .. } | AutoscalerEvent::ProvisionFailed { .. } => None,
            AutoscalerEvent::NodeUnneeded { .. } | AutoscalerEvent::NodeUnremovable { .. } => {
                Some(e)
            }
            _ => last[slot].1,
        };
    }
    last.into_iter()
        .filter_map(|(node, e)| Some((node.to_string(), short(e?))))
        .collect()
}

/// A status in a few words: the reason, the pod and its reason, the utilization.
fn short(e: &AutoscalerEvent) -> String {
    match e {
        AutoscalerEvent::NodeUnremovable {
            reason,
            pod,
            pod_reason,
            utilization,
            ..
        } => {
            let mut text = format!("{reason:?}");
            if let Some(p) = pod {
                let _ = write!(text, ": pod {p}");
            }
            if let Some(r) = pod_reason {
                let _ = write!(text, " ({})", r.as_str());
            }
            if let Some(u) = utilization {
                let _ = write!(text, ", utilization {u}");
            }
            text
        }
        _ => "unneeded, not yet removed".into(),
    }
}

/// The node's story, one line per change; `None` when the autoscaler never mentioned it.
pub fn timeline(events: &[AutoscalerEvent], node: &str, s: &AutoscalerSettings) -> Option<String> {
    let mine: Vec<&AutoscalerEvent> = events
        .iter()
        .filter(|e| node_of(e).is_some_and(|(n, _)| n == node))
        .collect();
    let (_, pool) = node_of(mine.first()?)?;
    let mut out = format!("as the Cluster Autoscaler saw it (node group {pool}):\n");
    for e in mine {
        let (t, text) = sentence(e, s);
        let _ = writeln!(out, "  {}  {text}", clock(t));
    }
    Some(out)
}

/// Every autoscaler event as a line: its instant, the node it is about (`None`: a node
/// group's scale-up or the cluster's limit) and its sentence.
pub fn lines<'a>(
    events: &'a [AutoscalerEvent],
    s: &AutoscalerSettings,
) -> Vec<(f64, Option<&'a str>, String)> {
    (events.iter())
        .filter_map(|e| match node_of(e) {
            Some((node, _)) => {
                let (t, text) = sentence(e, s);
                Some((t, Some(node), text))
            }
            None => group_sentence(e).map(|(t, text)| (t, None, text)),
        })
        .collect()
}

/// A scale-up decision, or why there was none (`None`: the event is about one node).
fn group_sentence(e: &AutoscalerEvent) -> Option<(f64, String)> {
    Some(match e {
        AutoscalerEvent::ScaleUp {
            t_seconds,
            pool,
            nodes,
            pods,
            alternatives,
            balanced_with,
        } => {
            let mut text =
                format!("node group {pool} grows by {nodes} node(s) for {pods} pending pod(s)");
            if !balanced_with.is_empty() {
                let _ = write!(
                    text,
                    ", balanced with the similar group(s) {} (--balance-similar-node-groups)",
                    balanced_with.join(", ")
                );
            }
            if !alternatives.is_empty() {
                let _ = write!(
                    text,
                    "; the expander chose it over {}",
                    alternatives.join(", ")
                );
            }
            (*t_seconds, text)
        }
        AutoscalerEvent::MaxNodesTotalReached {
            t_seconds,
            max_nodes_total,
            nodes,
        } => (
            *t_seconds,
            format!(
                "no scale-up: {nodes} node(s) count against --max-nodes-total {max_nodes_total} (MaxNodesTotalReached)"
            ),
        ),
        AutoscalerEvent::NoScaleUp { t_seconds, pods } => (
            *t_seconds,
            format!(
                "no scale-up for {pods} pending pod(s): no node group can help them (too big for every group's nodes, or every group at its maximum or backing off)"
            ),
        ),
        _ => return None,
    })
}

fn sentence(e: &AutoscalerEvent, s: &AutoscalerSettings) -> (f64, String) {
    match e {
        AutoscalerEvent::NodeUnneeded {
            t_seconds,
            utilization,
            resource,
            ..
        } => {
            let on = match (utilization, resource) {
                (Some(u), Some(r)) => format!(
                    "its {r} utilization {u} is at or below the threshold {}",
                    threshold(r, s)
                ),
                _ => "it is at or below the utilization threshold".to_string(),
            };
            let text = format!(
                "unneeded: {on}, and every pod it runs could move to another node; it goes once unneeded for {}",
                SimDuration::from_micros(s.scale_down_unneeded_time.as_micros())
            );
            (*t_seconds, text)
        }
        AutoscalerEvent::NodeUnremovable {
            t_seconds,
            reason,
            pod,
            pod_reason,
            utilization,
            ..
        } => {
            let why = reason_text(*reason, pod.as_deref(), *pod_reason, *utilization, s);
            (*t_seconds, format!("stays ({reason:?}): {why}"))
        }
        AutoscalerEvent::ScaleDown {
            t_seconds,
            drained,
            unneeded_seconds,
            ..
        } => {
            let how = if *drained {
                "its pods were evicted (drained) first"
            } else {
                "it ran no pod that had to move"
            };
            let after = SimDuration::from_micros((unneeded_seconds * 1e6).round() as u64);
            (
                *t_seconds,
                format!("removed after being unneeded for {after}: {how}"),
            )
        }
        AutoscalerEvent::ScaleDownFailed {
            t_seconds,
            pods_left,
            ..
        } => (
            *t_seconds,
            format!(
                "scale-down failed: {pods_left} pod(s) could not be evicted within {} (their PodDisruptionBudgets allowed no disruption); the node is kept and scale-down waits {}",
                s.max_pod_eviction_time, s.scale_down_delay_after_failure
            ),
        ),
        AutoscalerEvent::ProvisionFailed {
            t_seconds,
            backoff_seconds,
            ..
        } => (
            *t_seconds,
            format!(
                "never registered within {}: given up, its node group backs off for {}",
                s.max_node_provision_time,
                SimDuration::from_micros((backoff_seconds * 1e6).round() as u64)
            ),
        ),
        AutoscalerEvent::ScaleUp { t_seconds, .. }
        | AutoscalerEvent::NoScaleUp { t_seconds, .. }
        | AutoscalerEvent::MaxNodesTotalReached { t_seconds, .. } => (*t_seconds, String::new()),
    }
}

fn threshold(resource: &str, s: &AutoscalerSettings) -> f64 {
    match resource {
        "cpu" | "memory" => s.scale_down_utilization_threshold,
        _ => s.scale_down_gpu_utilization_threshold,
    }
}

/// What an unremovable reason means for this node.
fn reason_text(
    reason: UnremovableReason,
    pod: Option<&str>,
    pod_reason: Option<BlockingPodReason>,
    utilization: Option<f64>,
    s: &AutoscalerSettings,
) -> String {
    use UnremovableReason::*;
    let pod = pod.unwrap_or("a pod");
    match reason {
        NotUnderutilized => match utilization {
            Some(u) => format!(
                "utilization {u} is above the threshold {}",
                s.scale_down_utilization_threshold
            ),
            None => "its utilization is above the threshold".into(),
        },
        BlockedByPod => format!("pod {pod} blocks it: {}", blocking_text(pod_reason, s)),
        NoPlaceToMovePods => format!(
            "pod {pod} fits on no other node; the autoscaler checks again after {}",
            s.unremovable_node_recheck_timeout
        ),
        BlockedByOnCompletionPod => {
            format!("pod {pod} is annotated safe-to-evict: \"on-completion\" and has not completed")
        }
        NodeGroupMinSizeReached => "its node group is at its minimum size".into(),
        MinimalResourceLimitExceeded => {
            "removing it would take the cluster below the --cores-total or --memory-total minimum"
                .into()
        }
        CurrentlyBeingDeleted => "it is being deleted".into(),
        NotAutoscaled => "it belongs to no node group (Karpenter launched it)".into(),
        ScaleDownDisabledAnnotation => {
            "it is annotated cluster-autoscaler.kubernetes.io/scale-down-disabled: \"true\"".into()
        }
        ScaleDownUnreadyDisabled => {
            "it is not Ready, and --scale-down-unready-enabled is false".into()
        }
        NotUnneededLongEnough | NotUnreadyLongEnough => "not unneeded for long enough yet".into(),
        RecentlyUnremovable => "its removal failed recently; it is checked again later".into(),
        UnexpectedError => {
            "its utilization cannot be computed (no CPU or memory allocatable)".into()
        }
    }
}

fn blocking_text(reason: Option<BlockingPodReason>, s: &AutoscalerSettings) -> String {
    use BlockingPodReason::*;
    match reason {
        Some(NotReplicated) => "it has no controller to recreate it elsewhere (NotReplicated)".into(),
        Some(NotEnoughPdb) => {
            "a PodDisruptionBudget covering it allows no disruption now (NotEnoughPdb)".into()
        }
        Some(UnmovableKubeSystemPod) => format!(
            "it runs in kube-system and no PodDisruptionBudget covers it; it stops blocking once older than {} (UnmovableKubeSystemPod)",
            s.blocking_system_pod_disruption_timeout
        ),
        Some(LocalStorageRequested) => {
            "it has a local volume (hostPath or an emptyDir on disk) not listed in safe-to-evict-local-volumes (LocalStorageRequested)".into()
        }
        Some(NotSafeToEvictAnnotation) => {
            "it is annotated cluster-autoscaler.kubernetes.io/safe-to-evict: \"false\" (NotSafeToEvictAnnotation)".into()
        }
        Some(MinReplicasReached) => format!(
            "its ReplicaSet wants fewer than --min-replica-count={} replicas (MinReplicasReached)",
            s.min_replica_count
        ),
        Some(ControllerNotFound) => "its controller does not exist (ControllerNotFound)".into(),
        None => "it cannot be moved".into(),
    }
}
