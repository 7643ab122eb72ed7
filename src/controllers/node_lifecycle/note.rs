//! What the node lifecycle controller decided about a node and why, in words a reader of the
//! run can follow: the engine logs each [`Note`] as a cluster event on the node (`NodeNotReady`,
//! `NodeReady`, `NodeTainted`, `NodeTaintHeld`, `TaintManagerEviction`), and
//! `kubesim explain --node` tells them in order.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{MONITOR_GRACE_PERIOD, PRIMARY_INTERVAL, SECONDARY_INTERVAL, ZoneHealth};
use crate::sim::{SimDuration, SimTime};

/// Names listed in one message before the rest are only counted.
const NAMES_LISTED: usize = 10;

/// One decision of the node lifecycle controller about one node.
#[derive(Clone, Debug, PartialEq)]
pub enum Note {
    /// No heartbeat for the grace period: `Ready=Unknown`, the `unreachable:NoSchedule` taint,
    /// `pods` running pods marked not Ready.
    NotReady {
        /// When the node last heartbeated (when its machine stopped).
        last_heartbeat: SimTime,
        /// When the controller noticed (a monitor pass, every 5 s).
        now: SimTime,
        /// Running pods marked not Ready.
        pods: usize,
    },
    /// Heard from again: Ready, the unreachable taints removed.
    Ready {
        /// How long it had been NotReady, if the controller saw it turn so.
        not_ready_for: Option<SimDuration>,
    },
    /// The rate-limited `unreachable:NoExecute` taint.
    Tainted {
        /// The node's zone when it was tainted.
        zone: ZoneView,
        /// How long the node had been NotReady.
        waited: SimDuration,
        /// When its pods will be evicted.
        pods: Tolerations,
    },
    /// The NoExecute taint held back by the zones' state.
    Held {
        /// The node's zone.
        zone: ZoneView,
        /// Every zone is fully disrupted (rather than this one partially, and small).
        every_zone: bool,
        /// The node had the taint, and it was removed.
        untainted: bool,
    },
    /// The taint manager deletes pods whose toleration of the NoExecute taint ran out.
    Evicting {
        /// Each evicted pod's name, by how long after the taint it went.
        pods: BTreeMap<SimDuration, Vec<String>>,
    },
}

/// A zone's health as the controller computed it (`ComputeZoneState`).
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneView {
    /// The zone's name (`""`: nodes without a zone label).
    pub name: String,
    /// Its nodes and how many of them are unreachable.
    pub health: ZoneHealth,
}

/// How long the pods on a tainted node stay: counts by toleration (`None`: for ever), and the
/// DaemonSet pods, which the taint manager never evicts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tolerations {
    /// Pods by how long they tolerate the taint (`None`: a toleration without seconds).
    pub by_time: BTreeMap<Option<SimDuration>, usize>,
    /// DaemonSet pods (their controller's toleration has no limit).
    pub daemon_set: usize,
}

impl Note {
    /// The decision in a sentence, with its numbers.
    pub fn message(&self) -> String {
        match self {
            Note::NotReady {
                last_heartbeat,
                now,
                pods,
            } => format!(
                "no heartbeat since {last_heartbeat} ({} ago, more than the {MONITOR_GRACE_PERIOD} grace period): Ready=Unknown, tainted node.kubernetes.io/unreachable:NoSchedule so nothing new is scheduled here, and its {pods} running pod(s) marked not Ready, out of their Services' endpoints",
                now.saturating_since(*last_heartbeat)
            ),
            Note::Ready { not_ready_for } => {
                let after = not_ready_for.map_or(String::new(), |d| format!(" after {d} NotReady"));
                format!(
                    "heartbeating again{after}: Ready=True, the unreachable taints removed, its pods Ready again"
                )
            }
            Note::Tainted { zone, waited, pods } => {
                let when = if waited.is_zero() {
                    "as soon as it turned NotReady".to_string()
                } else {
                    format!("{waited} after it turned NotReady (its zone's limiter)")
                };
                format!(
                    "tainted node.kubernetes.io/unreachable:NoExecute {when}: {}; {}",
                    zone_rate(zone),
                    pods.sentence()
                )
            }
            Note::Held {
                zone,
                every_zone,
                untainted,
            } => held(zone, *every_zone, *untainted),
            Note::Evicting { pods } => evicting(pods),
        }
    }
}

/// The zone's state and the rate it sets (`setLimiterInZone`).
fn zone_rate(zone: &ZoneView) -> String {
    let ZoneHealth { nodes, unreachable } = zone.health;
    let name = zone_name(&zone.name);
    let normal = format!("one node every {PRIMARY_INTERVAL} (--node-eviction-rate 0.1)");
    if unreachable == nodes {
        format!(
            "{name} has all {nodes} of its nodes unreachable: fully disrupted, which keeps the normal rate, {normal}"
        )
    } else if super::taint_interval(zone.health) == Some(SECONDARY_INTERVAL) {
        format!(
            "{name} has {unreachable} of {nodes} nodes unreachable, more than 2 and at least 55 %: partially disrupted, so one node every {SECONDARY_INTERVAL} (--secondary-node-eviction-rate 0.01)"
        )
    } else {
        format!("{name} has {unreachable} of {nodes} node(s) unreachable: healthy, {normal}")
    }
}

fn zone_name(name: &str) -> String {
    if name.is_empty() {
        "the nodes without a zone label".into()
    } else {
        format!("zone {name}")
    }
}

fn held(zone: &ZoneView, every_zone: bool, untainted: bool) -> String {
    let ZoneHealth { nodes, unreachable } = zone.health;
    if every_zone {
        let what = if untainted {
            "NoExecute taint removed, its evictions cancelled"
        } else {
            "NoExecute taint held"
        };
        return format!(
            "{what}: every zone is fully disrupted, so the controller assumes its own network failed and evicts nothing until a node is heard from"
        );
    }
    format!(
        "NoExecute taint held: {} has {unreachable} of {nodes} nodes unreachable, more than 2 and at least 55 % (--unhealthy-zone-threshold): partially disrupted, and a zone of at most 50 nodes (--large-cluster-size-threshold) evicts nothing then: its pods stay bound here",
        zone_name(&zone.name)
    )
}

impl Tolerations {
    fn sentence(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        for (time, &count) in &self.by_time {
            parts.push(match time {
                Some(t) if *t == super::DEFAULT_TOLERATION => format!(
                    "{count} pod(s) go {t} later (the default toleration, --default-unreachable-toleration-seconds)"
                ),
                Some(t) => format!("{count} pod(s) go {t} later (their own toleration)"),
                None => format!("{count} pod(s) stay (a toleration without seconds)"),
            });
        }
        if self.daemon_set > 0 {
            parts.push(format!(
                "{} DaemonSet pod(s) stay (their toleration has no limit)",
                self.daemon_set
            ));
        }
        if parts.is_empty() {
            return "no pod is bound to it".into();
        }
        parts.join(", ")
    }
}

fn evicting(pods: &BTreeMap<SimDuration, Vec<String>>) -> String {
    let count: usize = pods.values().map(Vec::len).sum();
    let mut text = format!("the taint manager evicts {count} pod(s) whose toleration ran out: ");
    let groups: Vec<String> = pods
        .iter()
        .map(|(after, names)| format!("{} ({after} after the taint)", listed(names)))
        .collect();
    let _ = write!(text, "{}", groups.join("; "));
    text
}

/// The first names, and how many more.
fn listed(names: &[String]) -> String {
    let shown = names[..names.len().min(NAMES_LISTED)].join(", ");
    match names.len().saturating_sub(NAMES_LISTED) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str, nodes: usize, unreachable: usize) -> ZoneView {
        ZoneView {
            name: name.into(),
            health: ZoneHealth { nodes, unreachable },
        }
    }

    #[test]
    fn not_ready_counts_from_the_last_heartbeat() {
        let note = Note::NotReady {
            last_heartbeat: SimTime::from_secs(3600),
            now: SimTime::from_secs(3655),
            pods: 4,
        };
        assert_eq!(
            note.message(),
            "no heartbeat since 01:00:00 (55s ago, more than the 50s grace period): Ready=Unknown, tainted node.kubernetes.io/unreachable:NoSchedule so nothing new is scheduled here, and its 4 running pod(s) marked not Ready, out of their Services' endpoints"
        );
    }

    #[test]
    fn a_taint_names_the_zone_state_and_each_pods_toleration() {
        let pods = Tolerations {
            by_time: BTreeMap::from([
                (Some(SimDuration::from_secs(60)), 1),
                (Some(SimDuration::from_secs(300)), 3),
                (None, 1),
            ]),
            daemon_set: 1,
        };
        let tainted = |zone| Note::Tainted {
            zone,
            waited: SimDuration::from_secs(15),
            pods: pods.clone(),
        };
        assert_eq!(
            tainted(zone("a", 2, 2)).message(),
            "tainted node.kubernetes.io/unreachable:NoExecute 15s after it turned NotReady (its zone's limiter): zone a has all 2 of its nodes unreachable: fully disrupted, which keeps the normal rate, one node every 10s (--node-eviction-rate 0.1); 1 pod(s) stay (a toleration without seconds), 1 pod(s) go 1m0s later (their own toleration), 3 pod(s) go 5m0s later (the default toleration, --default-unreachable-toleration-seconds), 1 DaemonSet pod(s) stay (their toleration has no limit)"
        );
        // 1 of 4 unreachable: healthy.
        assert!(
            tainted(zone("b", 4, 1))
                .message()
                .contains("zone b has 1 of 4 node(s) unreachable: healthy, one node every 10s")
        );
        // 30 of 51 = 59 % ≥ 55 % and > 2, in a zone of more than 50: the secondary rate.
        assert!(tainted(zone("c", 51, 30)).message().contains(
            "30 of 51 nodes unreachable, more than 2 and at least 55 %: partially disrupted, so one node every 1m40s"
        ));
    }

    #[test]
    fn held_taints_say_which_rule_held_them() {
        // 3 of 5 = 60 %: partially disrupted, and 5 ≤ 50 nodes.
        let small = Note::Held {
            zone: zone("a", 5, 3),
            every_zone: false,
            untainted: false,
        };
        assert!(
            small
                .message()
                .contains("zone a has 3 of 5 nodes unreachable")
        );
        assert!(small.message().contains("evicts nothing then"));
        let all = |untainted| Note::Held {
            zone: zone("", 2, 2),
            every_zone: true,
            untainted,
        };
        assert!(
            all(false)
                .message()
                .starts_with("NoExecute taint held: every zone is fully disrupted")
        );
        assert!(
            all(true)
                .message()
                .starts_with("NoExecute taint removed, its evictions cancelled: every zone")
        );
    }

    #[test]
    fn evictions_list_a_few_names_and_count_the_rest() {
        let names: Vec<String> = (0..12).map(|i| format!("web-{i}")).collect();
        let note = Note::Evicting {
            pods: BTreeMap::from([
                (SimDuration::from_secs(60), vec!["db-0".to_string()]),
                (SimDuration::from_secs(300), names),
            ]),
        };
        assert_eq!(
            note.message(),
            "the taint manager evicts 13 pod(s) whose toleration ran out: db-0 (1m0s after the taint); web-0, web-1, web-2, web-3, web-4, web-5, web-6, web-7, web-8, web-9 and 2 more (5m0s after the taint)"
        );
    }
}
