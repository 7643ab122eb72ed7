//! `kubesim explain --node`, the node's own life: what happened to the machine (failures,
//! recoveries, spot notices, cordons and drains) and what the node lifecycle controller did
//! about it (NotReady after 50 s without a heartbeat, the NoExecute taint at its zone's rate,
//! the evictions when the pods' tolerations ran out, Ready again), then each of its pods that
//! was lost and the pod that replaced it, and where that one went.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::clock;
use crate::metrics::cluster_events::{ClusterEvent, ObjectKind};
use crate::metrics::pod_events::{PodEvent, PodEventReason, replaced_pod, scheduled_node};

/// What happened to the machine and what the node lifecycle controller did, one line per
/// cluster event about the node; `None` when there was none.
pub fn machine(cluster: &[ClusterEvent], node: &str) -> Option<String> {
    let mine = (cluster.iter()).filter(|e| e.kind == ObjectKind::Node && e.name == node);
    let mut out = String::new();
    for e in mine {
        let reason = format!("{:?}", e.reason);
        let _ = writeln!(out, "  {}  {reason:<20}  {}", clock(e.t_seconds), e.message);
    }
    (!out.is_empty()).then(|| {
        "what happened to the machine, and what the node lifecycle controller did:\n".to_string()
            + &out
    })
}

/// Each pod bound to the node that was lost and replaced, with its replacement and where that
/// went; `None` when there was none.
pub fn replaced(pods: &[PodEvent], node: &str) -> Option<String> {
    let mut out = String::new();
    for r in replacements(pods, node) {
        let _ = writeln!(out, "  {}", r.sentence());
    }
    (!out.is_empty())
        .then(|| "its pods that were lost, and their replacements:\n".to_string() + &out)
}

/// A pod that was on the node and the pod created to replace it.
#[derive(Debug, PartialEq)]
struct Replacement<'a> {
    lost: &'a str,
    by: &'a str,
    created: f64,
    /// Where and when the replacement was bound, if it was.
    bound: Option<(&'a str, f64)>,
}

impl Replacement<'_> {
    fn sentence(&self) -> String {
        let placed = match self.bound {
            Some((node, t)) => format!("bound to {node} at {}", clock(t)),
            None => "never bound before the run ended".to_string(),
        };
        format!(
            "{} → {}, created at {}, {placed}",
            self.lost,
            self.by,
            clock(self.created)
        )
    }
}

/// The pods bound to `node` that a ReplicaSet replaced, in the order the replacements were
/// created.
fn replacements<'a>(pods: &'a [PodEvent], node: &str) -> Vec<Replacement<'a>> {
    let mut bound_to: BTreeMap<&str, (&str, f64)> = BTreeMap::new();
    for e in pods
        .iter()
        .filter(|e| e.reason == PodEventReason::Scheduled)
    {
        if let Some(n) = scheduled_node(&e.message) {
            bound_to.insert(&e.pod, (n, e.t_seconds));
        }
    }
    (pods.iter())
        .filter(|e| e.reason == PodEventReason::Created)
        .filter_map(|e| Some((e, replaced_pod(&e.message)?)))
        .filter(|(_, lost)| bound_to.get(lost).is_some_and(|(n, _)| *n == node))
        .map(|(e, lost)| Replacement {
            lost,
            by: &e.pod,
            created: e.t_seconds,
            bound: bound_to.get(e.pod.as_str()).copied(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::cluster_events::ClusterEventReason;

    fn pod_event(t: f64, pod: &str, reason: PodEventReason, message: &str) -> PodEvent {
        super::super::test_pod_event(t, pod, reason, message, 1)
    }

    #[test]
    fn the_story_tells_the_nodes_events_and_its_replaced_pods() {
        let node_event = |t: f64, name: &str, reason, message: &str| ClusterEvent {
            t_seconds: t,
            kind: ObjectKind::Node,
            name: name.into(),
            reason,
            message: message.into(),
        };
        let cluster = [
            node_event(60.0, "n-1", ClusterEventReason::NodeFailed, "scripted"),
            node_event(60.0, "n-2", ClusterEventReason::NodeFailed, "scripted"),
            node_event(
                110.0,
                "n-1",
                ClusterEventReason::NodeNotReady,
                "no heartbeat",
            ),
        ];
        use PodEventReason::{Created, Scheduled};
        let pods = [
            pod_event(
                0.0,
                "web-a",
                Scheduled,
                "Successfully assigned web-a to n-1",
            ),
            pod_event(
                0.0,
                "web-b",
                Scheduled,
                "Successfully assigned web-b to n-2",
            ),
            pod_event(
                410.0,
                "web-c",
                Created,
                "Created by ReplicaSet web to replace web-a, lost at 00:06:50: evicted",
            ),
            pod_event(
                410.0,
                "web-d",
                Created,
                "Created by ReplicaSet web to replace web-b, lost at 00:06:50: evicted",
            ),
            pod_event(
                411.0,
                "web-c",
                Scheduled,
                "Successfully assigned web-c to n-0",
            ),
        ];
        assert_eq!(
            machine(&cluster, "n-1").unwrap(),
            "what happened to the machine, and what the node lifecycle controller did:
  00:01:00  NodeFailed            scripted
  00:01:50  NodeNotReady          no heartbeat
"
        );
        assert_eq!(
            replaced(&pods, "n-1").unwrap(),
            "its pods that were lost, and their replacements:
  web-a → web-c, created at 00:06:50, bound to n-0 at 00:06:51
"
        );
        // n-2's replacement was never bound; n-0 has nothing to tell.
        assert_eq!(
            replaced(&pods, "n-2").unwrap(),
            "its pods that were lost, and their replacements:
  web-b → web-d, created at 00:06:50, never bound before the run ended
"
        );
        assert_eq!(machine(&cluster, "n-0"), None);
        assert_eq!(replaced(&pods, "n-0"), None);
    }
}
