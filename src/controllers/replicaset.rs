//! ReplicaSet controller: creates or deletes pods so the active count matches `spec.replicas`.
//!
//! On scale-down it deletes pods in the upstream `ActivePodsWithRanks` order: unassigned before
//! assigned, Pending before Running, not-ready before ready, doubled-up before not (more pods of
//! the same Deployment on the pod's node), shorter-ready (log₂ buckets) before longer, more
//! container restarts before fewer, newer before older.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use crate::cluster::{Cluster, NodeId, Pod, PodPhase, ReplicaSetId};
use crate::sim::SimTime;

use super::Intent;

/// One reconcile of a ReplicaSet.
pub fn reconcile(cluster: &Cluster, replica_set: ReplicaSetId, now: SimTime) -> Vec<Intent> {
    let rs = &cluster.replica_sets[replica_set.index()];
    let d = cluster.deployment(rs.deployment);
    if !d.is_replicated() {
        return Vec::new(); // trace pods come and go at their times; DaemonSets follow nodes
    }
    let active = rs.pods.len() as i64;
    let want = i64::from(rs.replicas.max(0));
    if active < want {
        return (active..want)
            .map(|_| Intent::CreatePod { replica_set })
            .collect();
    }
    if active == want {
        return Vec::new();
    }
    // getPodsRankedByRelatedPodsOnSameNode: the Deployment's active pods per node.
    let mut on_node: BTreeMap<Option<NodeId>, u32> = BTreeMap::new();
    for set in &d.replica_sets {
        for &p in &cluster.replica_sets[set.index()].pods {
            *on_node.entry(cluster.pod(p).node).or_default() += 1;
        }
    }
    let mut pods: Vec<&Pod> = rs.pods.iter().map(|&p| cluster.pod(p)).collect();
    pods.sort_by_key(|p| deletion_rank(p, on_node[&p.node], now));
    pods.iter()
        .take((active - want) as usize)
        .map(|p| Intent::DeletePod { pod: p.id })
        .collect()
}

type DeletionRank = (
    bool,
    u8,
    bool,
    Reverse<u32>,
    u32,
    Reverse<u32>,
    Reverse<SimTime>,
    Reverse<u32>,
);

/// Lower ranks are deleted first; `related_on_node` is how many of the Deployment's active pods
/// share the pod's node.
fn deletion_rank(p: &Pod, related_on_node: u32, now: SimTime) -> DeletionRank {
    let phase = match p.phase {
        PodPhase::Pending => 0,
        PodPhase::Running => 1,
        PodPhase::Terminated => 2,
    };
    // LogarithmicScaleDown: compare ready durations by power-of-two buckets of seconds.
    let ready_bucket = if p.ready {
        let secs = now.saturating_since(p.ready_transition).as_micros() / 1_000_000;
        64 - (secs + 1).leading_zeros()
    } else {
        0
    };
    (
        p.node.is_some(),
        phase,
        p.ready,
        Reverse(related_on_node),
        ready_bucket,
        Reverse(p.restarts),
        Reverse(p.created),
        Reverse(p.id.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{NodeId, PodId};

    fn pod(id: u32, node: bool, phase: PodPhase, ready_since: Option<u64>, created: u64) -> Pod {
        Pod {
            id: PodId(id),
            phase,
            node: node.then_some(NodeId(0)),
            created: SimTime::from_secs(created),
            ready: ready_since.is_some(),
            ready_transition: SimTime::from_secs(ready_since.unwrap_or(0)),
            ..Pod::default()
        }
    }

    #[test]
    fn deletion_order_follows_active_pods_with_ranks() {
        let now = SimTime::from_secs(1000);
        let mut pods = [
            pod(0, true, PodPhase::Running, Some(0), 0), // ready 1000 s (bucket 10)
            pod(1, true, PodPhase::Running, Some(990), 5), // ready 10 s (bucket 4)
            pod(2, false, PodPhase::Pending, None, 20),  // unassigned → first
            pod(3, true, PodPhase::Pending, None, 30),   // assigned but pending
            pod(4, true, PodPhase::Running, None, 40),   // running, not ready
            pod(5, true, PodPhase::Running, Some(991), 6), // ready 9 s (bucket 4), newer than 1
        ];
        pods.sort_by_key(|p| deletion_rank(p, 1, now));
        let order: Vec<u32> = pods.iter().map(|p| p.id.0).collect();
        assert_eq!(order, vec![2, 3, 4, 5, 1, 0]);
        // Doubled up before not; then more restarts before fewer (both ready equally long).
        let mut a = pod(10, true, PodPhase::Running, Some(0), 0);
        let b = pod(11, true, PodPhase::Running, Some(0), 0);
        let ranked = |p: &Pod, on_node| deletion_rank(p, on_node, now);
        assert!(ranked(&b, 2) < ranked(&a, 1), "doubled up first");
        a.restarts = 3;
        assert!(ranked(&a, 1) < ranked(&b, 1), "more restarts first");
    }
}
