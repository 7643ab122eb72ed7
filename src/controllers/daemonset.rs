//! DaemonSet controller: one pod on every Ready node the DaemonSet can run on — the node
//! matches its node selector and required affinity, and every NoSchedule/NoExecute taint is
//! tolerated (with the tolerations the controller adds to every DaemonSet pod). Each pod is
//! pinned to its node by a required node affinity on `metadata.name` and placed by the
//! scheduler, so it is counted, can be Pending for lack of room, and can preempt. A pod whose
//! node is gone before it was bound is deleted. (The tolerations are added to the DaemonSet's
//! template when the cluster is built: [`crate::cluster::resources::daemon_set_tolerations`].) `desiredNumberScheduled` is kept as the
//! workload's replicas.
//!
//! A changed template (a scripted `apply`) gets a new revision, rolled out node by node as
//! `updateStrategy` says: RollingUpdate deletes old pods on at most `maxUnavailable` nodes
//! without an available pod at a time (their replacements follow), or with `maxSurge` starts
//! the new pod beside the old one and deletes the old one once the new one is available;
//! OnDelete leaves old pods until they are deleted.
//!
//! The Cluster Autoscaler's template nodes carry the DaemonSet pods that would run on them
//! ([`template_node`]), so a new node's room for pending pods is what is left after them.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::cluster::{Cluster, DeploymentId, Node, NodeId, NodeState, Pod, PoolId};
use crate::controllers::deployment::is_available;
use crate::controllers::rollout::Strategy;
use crate::controllers::scheduler::filter;
use crate::scenario::PodTemplate;
use crate::sim::SimTime;

use super::Intent;

/// `nodeShouldRunDaemonPod`: the node matches the pod's node selector and required affinity,
/// and the pod tolerates its NoSchedule and NoExecute taints.
pub fn should_run(node: &Node, template: &PodTemplate) -> bool {
    filter::node_affinity(node, template).is_ok()
        && filter::taint_toleration(node, template).is_ok()
}

/// One reconcile of a DaemonSet.
pub fn reconcile(cluster: &Cluster, deployment: DeploymentId, now: SimTime) -> Vec<Intent> {
    let d = cluster.deployment(deployment);
    if !d.is_daemon_set() {
        return Vec::new();
    }
    // A changed template gets its own revision first.
    let Some(&new_rs) = d
        .replica_sets
        .iter()
        .find(|rs| cluster.replica_sets[rs.index()].has_template_of(d))
    else {
        return vec![Intent::CreateReplicaSet { deployment }];
    };
    let mut intents = Vec::new();
    let mut on_node: BTreeMap<NodeId, NodePods> = BTreeMap::new();
    for &rs in &d.replica_sets {
        for pod in cluster.replica_sets[rs.index()]
            .pods
            .iter()
            .map(|&p| cluster.pod(p))
        {
            match pod.node.or(pod.template.daemon_node) {
                Some(n) if cluster.node(n).state != NodeState::Removed => {
                    let pods = on_node.entry(n).or_default();
                    if rs == new_rs {
                        pods.new = Some(pod);
                    } else {
                        pods.old.push(pod);
                    }
                }
                _ if pod.node.is_none() => intents.push(Intent::DeletePod { pod: pod.id }),
                _ => {}
            }
        }
    }
    let template = &cluster.replica_sets[new_rs.index()].template;
    let eligible: Vec<NodeId> = cluster
        .ready_nodes
        .iter()
        .copied()
        .filter(|&n| should_run(cluster.node(n), template))
        .collect();
    let desired = eligible.len() as i32;
    let available = |p: &Pod| is_available(p, d.spec.rollout.min_ready, now);
    let mut update = RollingUpdate::new(d.spec.strategy, desired);
    update.unavailable = eligible
        .iter()
        .filter(|n| {
            on_node.get(n).is_none_or(|pods| {
                !(pods.new.is_some_and(available) || pods.old.iter().any(|p| available(p)))
            })
        })
        .count() as i32;
    update.surging = on_node
        .values()
        .filter(|pods| pods.new.is_some() && !pods.old.is_empty())
        .count() as i32;
    for node in eligible {
        let empty = NodePods::default();
        let pods = on_node.get(&node).unwrap_or(&empty);
        intents.extend(update.step(deployment, node, pods, available));
    }
    if d.replicas != desired {
        intents.push(Intent::ScaleDeployment {
            deployment,
            replicas: desired,
        });
    }
    intents
}

/// A node's pods of the DaemonSet: of the current revision, and of older ones.
#[derive(Default)]
struct NodePods<'c> {
    new: Option<&'c Pod>,
    old: Vec<&'c Pod>,
}

/// The rolling update's budgets across the nodes of one reconcile (`rollingUpdate`):
/// `maxUnavailable` nodes without an available pod, `maxSurge` nodes running both revisions.
struct RollingUpdate {
    on_delete: bool,
    max_surge: i32,
    max_unavailable: i32,
    unavailable: i32,
    surging: i32,
}

impl RollingUpdate {
    /// Both limits rounded up from percentages of the desired pods; 1 unavailable when both
    /// are 0.
    fn new(strategy: Strategy, desired: i32) -> RollingUpdate {
        let (on_delete, max_surge, max_unavailable) = match strategy {
            Strategy::RollingUpdate {
                max_surge,
                max_unavailable,
            } => {
                let surge = max_surge.scaled(desired, true);
                let unavailable = max_unavailable.scaled(desired, true);
                let unavailable = if surge == 0 && unavailable == 0 {
                    1
                } else {
                    unavailable
                };
                (false, surge, unavailable)
            }
            _ => (true, 0, 0),
        };
        RollingUpdate {
            on_delete,
            max_surge,
            max_unavailable,
            unavailable: 0,
            surging: 0,
        }
    }

    /// What to do on one eligible node.
    fn step(
        &mut self,
        deployment: DeploymentId,
        node: NodeId,
        pods: &NodePods,
        available: impl Fn(&Pod) -> bool,
    ) -> Vec<Intent> {
        let delete_old = || {
            pods.old
                .iter()
                .map(|p| Intent::DeletePod { pod: p.id })
                .collect()
        };
        let create = vec![Intent::CreateDaemonPod { deployment, node }];
        match (pods.new, pods.old.is_empty()) {
            (None, true) => create,
            // OnDelete: old pods stay until someone deletes them.
            _ if self.on_delete => Vec::new(),
            // Both revisions (a surge): the old pod goes once the new one is available.
            (Some(new), false) if available(new) => delete_old(),
            (Some(_), _) => Vec::new(),
            (None, false) => {
                if !pods.old.iter().any(|p| available(p)) {
                    delete_old() // unavailable anyway: replaced without waiting
                } else if self.max_surge > 0 {
                    if self.surging < self.max_surge {
                        self.surging += 1;
                        create
                    } else {
                        Vec::new()
                    }
                } else if self.unavailable < self.max_unavailable {
                    self.unavailable += 1;
                    delete_old()
                } else {
                    Vec::new()
                }
            }
        }
    }
}

/// A node of `pool` as the Cluster Autoscaler imagines it: empty but for the DaemonSet pods
/// that would run on it.
pub fn template_node(cluster: &Cluster, pool: PoolId) -> Node {
    with_daemons(cluster, cluster.template_node(pool))
}

/// `node` (not yet registered, so without pods) with the DaemonSet pods it will run reserved.
pub fn with_daemons(cluster: &Cluster, mut node: Node) -> Node {
    for template in daemon_templates(cluster, &node) {
        node.reserve(&template);
    }
    node
}

/// The pod specs of the DaemonSets that will run a pod on `node`, in DaemonSet order.
pub fn daemon_templates(cluster: &Cluster, node: &Node) -> Vec<Arc<PodTemplate>> {
    cluster
        .deployments
        .iter()
        .filter(|d| d.is_daemon_set())
        .map(|d| cluster.current_template(d.id))
        .filter(|template| should_run(node, template))
        .cloned()
        .collect()
}
