//! Deployment controller (first version): keeps the Deployment's ReplicaSet at `spec.replicas`.
//! Rolling updates between ReplicaSets arrive with scripted manifest changes.

use crate::cluster::{Cluster, DeploymentId};

use super::Intent;

/// One reconcile of a Deployment.
pub fn reconcile(cluster: &Cluster, deployment: DeploymentId) -> Vec<Intent> {
    let d = cluster.deployment(deployment);
    if !d.is_replicated() {
        return Vec::new();
    }
    d.replica_sets
        .iter()
        .filter(|rs| cluster.replica_sets[rs.index()].replicas != d.replicas)
        .map(|&rs| Intent::SetReplicaSetReplicas {
            replica_set: rs,
            replicas: d.replicas,
        })
        .collect()
}
