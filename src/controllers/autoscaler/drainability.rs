//! Whether a pod lets its node be removed: the Cluster Autoscaler's drainability rules
//! (`simulator/drainability/rules`, cluster-autoscaler 1.36), in upstream's order. The first
//! rule with an opinion decides (no built-in rule overrides another):
//!
//! 1. a mirror (static) pod is skipped: it goes with its node;
//! 2. a pod whose deletion is older than its grace period and 30 s more is skipped;
//! 3. with `--skip-nodes-with-custom-controller-pods`, a pod whose ReplicaSet or
//!    ReplicationController wants fewer than `--min-replica-count` replicas blocks
//!    (`MinReplicasReached`);
//! 4. a DaemonSet's pod (or one annotated `daemonset-pod: "true"`) may go;
//! 5. `safe-to-evict: "true"` may go;
//! 6. a terminal pod (Failed; Succeeded unless it restarts Always) may go;
//! 7. `safe-to-evict: "on-completion"` waits for the pod to finish;
//! 8. a pod without a controller blocks (`NotReplicated`);
//! 9. with `--skip-nodes-with-system-pods`, a kube-system pod no PodDisruptionBudget covers
//!    blocks (`UnmovableKubeSystemPod`) until it is older than
//!    `--blocking-system-pod-distruption-timeout`, then may go;
//! 10. `safe-to-evict: "false"` blocks (`NotSafeToEvictAnnotation`);
//! 11. with `--skip-nodes-with-local-storage`, a `hostPath` or disk-backed `emptyDir` volume not
//!     listed in `safe-to-evict-local-volumes` blocks (`LocalStorageRequested`);
//! 12. a covering budget that allows no disruption blocks (`NotEnoughPdb`) — the caller checks
//!     the budgets when every other rule passed ([`Outcome::Undefined`]).
//!
//! kubesim's controllers always exist while their pods do, so `ControllerNotFound` never
//! arises; a pod of a pod trace or a bare Pod has no controller.

use serde::Serialize;

use crate::scenario::{AutoscalerSettings, DrainTraits, SafeToEvict};
use crate::sim::{SimDuration, SimTime};

/// Why a pod blocks its node's removal (upstream's `drain.BlockingPodReason` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum BlockingPodReason {
    /// The controller it names does not exist.
    ControllerNotFound,
    /// Its ReplicaSet or ReplicationController wants fewer than `--min-replica-count`.
    MinReplicasReached,
    /// It has no controller to recreate it elsewhere.
    NotReplicated,
    /// It has a local volume (`hostPath`, `emptyDir` on disk).
    LocalStorageRequested,
    /// `cluster-autoscaler.kubernetes.io/safe-to-evict: "false"`.
    NotSafeToEvictAnnotation,
    /// A kube-system pod without a PodDisruptionBudget.
    UnmovableKubeSystemPod,
    /// A PodDisruptionBudget covering it allows no disruption now.
    NotEnoughPdb,
}

impl BlockingPodReason {
    /// Upstream's name.
    pub fn as_str(self) -> &'static str {
        match self {
            BlockingPodReason::ControllerNotFound => "ControllerNotFound",
            BlockingPodReason::MinReplicasReached => "MinReplicasReached",
            BlockingPodReason::NotReplicated => "NotReplicated",
            BlockingPodReason::LocalStorageRequested => "LocalStorageRequested",
            BlockingPodReason::NotSafeToEvictAnnotation => "NotSafeToEvictAnnotation",
            BlockingPodReason::UnmovableKubeSystemPod => "UnmovableKubeSystemPod",
            BlockingPodReason::NotEnoughPdb => "NotEnoughPdb",
        }
    }
}

/// What the rules decided for one pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No rule had an opinion: the pod moves if its budgets allow (rule 12).
    Undefined,
    /// The pod may go (moved elsewhere, or with the node if it is a DaemonSet's).
    DrainOk,
    /// The pod blocks the node's removal.
    Block(BlockingPodReason),
    /// The pod is neither moved nor blocking (mirror pods, long-terminating pods).
    Skip,
    /// The node waits for the pod to complete.
    WaitForCompletion,
}

/// The pod's owner, as the rules read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// No controller (a bare Pod, a pod trace's pod).
    None,
    /// A DaemonSet.
    DaemonSet,
    /// A ReplicaSet.
    ReplicaSet {
        /// The pods it wants.
        replicas: i32,
    },
    /// A ReplicationController.
    ReplicationController {
        /// The pods it wants.
        replicas: i32,
    },
    /// A StatefulSet.
    StatefulSet,
    /// A Job (a CronJob's pods are its Jobs').
    Job,
}

/// Everything the rules read about one pod.
#[derive(Clone, Copy, Debug)]
pub struct PodFacts<'a> {
    /// `metadata.namespace`.
    pub namespace: &'a str,
    /// Its annotations and volumes.
    pub traits: &'a DrainTraits,
    /// Its controller.
    pub owner: Owner,
    /// `metadata.creationTimestamp`.
    pub created: SimTime,
    /// `metadata.deletionTimestamp` as the API server sets it: when deletion was asked plus the
    /// grace period.
    pub deletion_timestamp: Option<SimTime>,
    /// Its termination grace period.
    pub grace: SimDuration,
    /// Whether its phase is terminal (Failed, or Succeeded without `restartPolicy: Always`).
    pub terminal: bool,
    /// Whether some PodDisruptionBudget covers it (rule 9 reads only this).
    pub has_budget: bool,
}

/// `PodLongTerminatingExtraThreshold`.
const LONG_TERMINATING_EXTRA: SimDuration = SimDuration::from_secs(30);

/// Whether a pod is long past its deletion: `deletionTimestamp + grace + 30 s` before `now`.
pub fn is_long_terminating(
    deletion_timestamp: Option<SimTime>,
    grace: SimDuration,
    now: SimTime,
) -> bool {
    deletion_timestamp.is_some_and(|t| t + grace + LONG_TERMINATING_EXTRA < now)
}

/// The rules, in order, for one pod.
pub fn drainable(pod: &PodFacts, settings: &AutoscalerSettings, now: SimTime) -> Outcome {
    use BlockingPodReason::*;
    let traits = pod.traits;
    if traits.mirror || is_long_terminating(pod.deletion_timestamp, pod.grace, now) {
        return Outcome::Skip;
    }
    if settings.skip_nodes_with_custom_controller_pods
        && let Owner::ReplicaSet { replicas } | Owner::ReplicationController { replicas } =
            pod.owner
        && replicas < settings.min_replica_count
    {
        return Outcome::Block(MinReplicasReached);
    }
    if pod.owner == Owner::DaemonSet || traits.daemon_set_annotation {
        return Outcome::DrainOk;
    }
    match traits.safe_to_evict {
        SafeToEvict::True => return Outcome::DrainOk,
        _ if pod.terminal => return Outcome::DrainOk,
        SafeToEvict::OnCompletion => return Outcome::WaitForCompletion,
        _ => {}
    }
    if pod.owner == Owner::None {
        return Outcome::Block(NotReplicated);
    }
    if settings.skip_nodes_with_system_pods && pod.namespace == "kube-system" && !pod.has_budget {
        let old = pod.created + settings.blocking_system_pod_disruption_timeout < now;
        return if old {
            Outcome::DrainOk
        } else {
            Outcome::Block(UnmovableKubeSystemPod)
        };
    }
    if traits.safe_to_evict == SafeToEvict::False {
        return Outcome::Block(NotSafeToEvictAnnotation);
    }
    if settings.skip_nodes_with_local_storage && !traits.local_volumes.is_empty() {
        return Outcome::Block(LocalStorageRequested);
    }
    Outcome::Undefined
}

#[cfg(test)]
mod tests {
    //! Upstream's `simulator/drain_test.go` (`TestGetPodsToMove`) and the rules' own tests
    //! (`rules/*/rule_test.go`), at cluster-autoscaler 1.36.1, as tables. testTime is t = 10 h
    //! here (upstream: 2020-12-18T17:00:00Z); all three skip flags on, the blocking timeout 1 h.
    use super::*;
    use BlockingPodReason::*;

    const NOW: SimTime = SimTime::from_secs(10 * 3600);

    fn facts<'a>(traits: &'a DrainTraits, owner: Owner) -> PodFacts<'a> {
        PodFacts {
            namespace: "default",
            traits,
            owner,
            created: NOW,
            deletion_timestamp: None,
            grace: SimDuration::from_secs(30),
            terminal: false,
            has_budget: false,
        }
    }

    fn rs() -> Owner {
        Owner::ReplicaSet { replicas: 1 }
    }

    fn annotated(safe: SafeToEvict) -> DrainTraits {
        DrainTraits {
            safe_to_evict: safe,
            ..DrainTraits::default()
        }
    }

    fn with_volumes(names: &[&str]) -> DrainTraits {
        DrainTraits {
            local_volumes: names.iter().map(|s| s.to_string()).collect(),
            ..DrainTraits::default()
        }
    }

    #[test]
    fn get_pods_to_move_cases() {
        let s = AutoscalerSettings::default();
        let plain = DrainTraits::default();
        let mirror = DrainTraits {
            mirror: true,
            ..DrainTraits::default()
        };
        let ds_annotated = DrainTraits {
            daemon_set_annotation: true,
            ..DrainTraits::default()
        };
        let scratch = with_volumes(&["scratch"]);
        let safe = annotated(SafeToEvict::True);
        let safe_scratch = DrainTraits {
            local_volumes: vec!["scratch".into()],
            ..annotated(SafeToEvict::True)
        };
        let unsafe_ = annotated(SafeToEvict::False);
        let on_completion = annotated(SafeToEvict::OnCompletion);
        let minutes = |m: u64| SimDuration::from_secs(60 * m);
        let base = |t: &'static DrainTraits, owner| facts(t, owner);
        // Leak the fixtures to give the table one lifetime.
        let l = |t: DrainTraits| -> &'static DrainTraits { Box::leak(Box::new(t)) };
        let (plain, mirror, ds_annotated, scratch, safe, safe_scratch, unsafe_, on_completion) = (
            l(plain),
            l(mirror),
            l(ds_annotated),
            l(scratch),
            l(safe),
            l(safe_scratch),
            l(unsafe_),
            l(on_completion),
        );
        let kube_system = |created_ago: SimDuration, has_budget: bool| PodFacts {
            namespace: "kube-system",
            created: NOW.saturating_sub(created_ago),
            has_budget,
            ..base(plain, rs())
        };
        let cases: Vec<(&str, PodFacts, Outcome)> = vec![
            (
                "unreplicated",
                base(plain, Owner::None),
                Outcome::Block(NotReplicated),
            ),
            (
                "mirror (manifest) pod",
                base(mirror, Owner::None),
                Outcome::Skip,
            ),
            ("replicated", base(plain, rs()), Outcome::Undefined),
            (
                "DaemonSet pod",
                base(plain, Owner::DaemonSet),
                Outcome::DrainOk,
            ),
            (
                "custom DaemonSet (annotation)",
                base(ds_annotated, Owner::None),
                Outcome::DrainOk,
            ),
            // 1 h 01 m old > 1 h: no longer blocks.
            (
                "kube-system, old",
                kube_system(minutes(61), false),
                Outcome::DrainOk,
            ),
            // 59 m < 1 h.
            (
                "kube-system, young",
                kube_system(minutes(59), false),
                Outcome::Block(UnmovableKubeSystemPod),
            ),
            (
                "kube-system with a budget",
                kube_system(minutes(59), true),
                Outcome::Undefined,
            ),
            (
                "emptyDir on disk",
                base(scratch, rs()),
                Outcome::Block(LocalStorageRequested),
            ),
            (
                "safe-to-evict unreplicated",
                base(safe, Owner::None),
                Outcome::DrainOk,
            ),
            (
                "safe-to-evict with emptyDir",
                base(safe_scratch, rs()),
                Outcome::DrainOk,
            ),
            (
                "safe-to-evict: false",
                base(unsafe_, rs()),
                Outcome::Block(NotSafeToEvictAnnotation),
            ),
            (
                "on-completion",
                base(on_completion, rs()),
                Outcome::WaitForCompletion,
            ),
            (
                "failed (evicted) unreplicated",
                PodFacts {
                    terminal: true,
                    ..base(plain, Owner::None)
                },
                Outcome::DrainOk,
            ),
            // deletion at now − 90 s, grace 30 s: −90 + 30 + 30 = −30 < 0 → long terminating.
            (
                "terminated long ago",
                PodFacts {
                    deletion_timestamp: Some(NOW.saturating_sub(SimDuration::from_secs(90))),
                    ..base(plain, Owner::None)
                },
                Outcome::Skip,
            ),
            // deletion at now + 30 s: still terminating, moved like any pod.
            (
                "terminating",
                PodFacts {
                    deletion_timestamp: Some(NOW + SimDuration::from_secs(30)),
                    ..base(plain, rs())
                },
                Outcome::Undefined,
            ),
        ];
        for (name, pod, want) in cases {
            assert_eq!(drainable(&pod, &s, NOW), want, "{name}");
        }
    }

    #[test]
    fn rule_order_follows_upstream() {
        let s = AutoscalerSettings::default();
        let old_kube_system_unsafe = DrainTraits {
            local_volumes: vec!["scratch".into()],
            ..annotated(SafeToEvict::False)
        };
        // System comes before NotSafeToEvict and LocalStorage: an old kube-system pod goes.
        let pod = PodFacts {
            namespace: "kube-system",
            created: NOW.saturating_sub(SimDuration::from_secs(2 * 3600)),
            ..facts(&old_kube_system_unsafe, rs())
        };
        assert_eq!(drainable(&pod, &s, NOW), Outcome::DrainOk);
        // MinReplicas comes before SafeToEvict: --min-replica-count 3 against a ReplicaSet of 2.
        let s3 = AutoscalerSettings {
            min_replica_count: 3,
            ..AutoscalerSettings::default()
        };
        let safe = annotated(SafeToEvict::True);
        let pod = facts(&safe, Owner::ReplicaSet { replicas: 2 });
        assert_eq!(
            drainable(&pod, &s3, NOW),
            Outcome::Block(MinReplicasReached)
        );
        // ... but not without --skip-nodes-with-custom-controller-pods.
        let off = AutoscalerSettings {
            skip_nodes_with_custom_controller_pods: false,
            ..s3
        };
        assert_eq!(drainable(&pod, &off, NOW), Outcome::DrainOk);
        // The skip flags turn their rules off.
        let lenient = AutoscalerSettings {
            skip_nodes_with_system_pods: false,
            skip_nodes_with_local_storage: false,
            ..AutoscalerSettings::default()
        };
        let scratch = with_volumes(&["scratch"]);
        let young = PodFacts {
            namespace: "kube-system",
            ..facts(&scratch, rs())
        };
        assert_eq!(drainable(&young, &lenient, NOW), Outcome::Undefined);
    }

    #[test]
    fn long_terminating_cases() {
        // rules/longterminating/rule_test.go: (grace s, deletion relative to now s, long?).
        let cases = [
            (0, 15, false),    // now + 15 + 0 + 30 > now
            (0, -60, true),    // −60 + 0 + 30 = −30 < 0
            (360, 180, false), // 180 + 360 + 30 > 0
            (360, -720, true), // −720 + 360 + 30 = −330 < 0
            (30, -60, false),  // −60 + 60 = 0: not strictly before now
        ];
        for (grace, at, long) in cases {
            let deletion = if at >= 0 {
                NOW + SimDuration::from_secs(at as u64)
            } else {
                NOW.saturating_sub(SimDuration::from_secs((-at) as u64))
            };
            assert_eq!(
                is_long_terminating(Some(deletion), SimDuration::from_secs(grace), NOW),
                long,
                "grace {grace} deletion {at}"
            );
        }
        assert!(!is_long_terminating(None, SimDuration::ZERO, NOW));
    }
}
