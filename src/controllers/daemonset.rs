//! DaemonSet controller: one pod on every Ready node the DaemonSet can run on — the node
//! matches its node selector and required affinity, and every NoSchedule/NoExecute taint is
//! tolerated (with the tolerations the controller adds to every DaemonSet pod). Each pod is
//! pinned to its node by a required node affinity on `metadata.name` and placed by the
//! scheduler, so it is counted, can be Pending for lack of room, and can preempt. A pod whose
//! node is gone before it was bound is deleted. (The tolerations are added to the DaemonSet's
//! template when the cluster is built: [`crate::cluster::resources::daemon_set_tolerations`].) `desiredNumberScheduled` is kept as the
//! workload's replicas.
//!
//! The Cluster Autoscaler's template nodes carry the DaemonSet pods that would run on them
//! ([`template_node`]), so a new node's room for pending pods is what is left after them.

use std::collections::BTreeSet;

use crate::cluster::{Cluster, DeploymentId, Node, NodeId, NodeState, PoolId};
use crate::controllers::scheduler::filter;
use crate::scenario::PodTemplate;

use super::Intent;

/// `nodeShouldRunDaemonPod`: the node matches the pod's node selector and required affinity,
/// and the pod tolerates its NoSchedule and NoExecute taints.
pub fn should_run(node: &Node, template: &PodTemplate) -> bool {
    filter::node_affinity(node, template).is_ok()
        && filter::taint_toleration(node, template).is_ok()
}

/// One reconcile of a DaemonSet.
pub fn reconcile(cluster: &Cluster, deployment: DeploymentId) -> Vec<Intent> {
    let d = cluster.deployment(deployment);
    if !d.is_daemon_set() {
        return Vec::new();
    }
    let rs = &cluster.replica_sets[d.replica_sets[0].index()];
    let mut covered: BTreeSet<NodeId> = BTreeSet::new();
    let mut intents = Vec::new();
    for pod in rs.pods.iter().map(|&p| cluster.pod(p)) {
        let target = pod.node.or(pod.template.daemon_node);
        match target {
            Some(n) if cluster.node(n).state != NodeState::Removed => {
                covered.insert(n);
            }
            _ if pod.node.is_none() => intents.push(Intent::DeletePod { pod: pod.id }),
            _ => {}
        }
    }
    let eligible: Vec<NodeId> = cluster
        .ready_nodes
        .iter()
        .copied()
        .filter(|&n| should_run(cluster.node(n), cluster.current_template(deployment)))
        .collect();
    let desired = eligible.len() as i32;
    intents.extend(
        eligible
            .into_iter()
            .filter(|n| !covered.contains(n))
            .map(|node| Intent::CreateDaemonPod { deployment, node }),
    );
    if d.replicas != desired {
        intents.push(Intent::ScaleDeployment {
            deployment,
            replicas: desired,
        });
    }
    intents
}

/// A node of `pool` as the Cluster Autoscaler imagines it: empty but for the DaemonSet pods
/// that would run on it.
pub fn template_node(cluster: &Cluster, pool: PoolId) -> Node {
    with_daemons(cluster, cluster.template_node(pool))
}

/// `node` (not yet registered, so without pods) with the DaemonSet pods it will run reserved.
pub fn with_daemons(cluster: &Cluster, mut node: Node) -> Node {
    for d in cluster.deployments.iter().filter(|d| d.is_daemon_set()) {
        let template = cluster.current_template(d.id);
        if should_run(&node, template) {
            node.reserve(template);
        }
    }
    node
}
