//! Reconciliation loops. Each controller looks at `&Cluster` as it is now (level-triggered),
//! and returns [`Intent`]s for the engine to apply as the API server would. Controllers never
//! mutate the cluster, never read the wall clock, and take randomness only from the stream the
//! engine hands them.

pub mod autoscaler;
pub mod daemonset;
pub mod deployment;
pub mod hpa;
pub mod kubelet;
pub mod metrics_server;
pub mod replicaset;
pub mod scheduler;

use crate::cluster::{DeploymentId, NodeId, PodId, PoolId, ReplicaSetId};

/// A change a controller asks for. Emitted by controllers, applied by the engine in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Deployment controller → ReplicaSet `spec.replicas`.
    SetReplicaSetReplicas {
        replica_set: ReplicaSetId,
        replicas: i32,
    },
    /// ReplicaSet controller → a new pod from the template.
    CreatePod { replica_set: ReplicaSetId },
    /// DaemonSet controller → a pod of the DaemonSet pinned to `node`.
    CreateDaemonPod {
        deployment: DeploymentId,
        node: NodeId,
    },
    /// ReplicaSet controller → delete (gracefully) one pod.
    DeletePod { pod: PodId },
    /// Scheduler → bind a pending pod to a node.
    BindPod { pod: PodId, node: NodeId },
    /// HPA → scale subresource of its target.
    ScaleDeployment {
        deployment: DeploymentId,
        replicas: i32,
    },
    /// Cluster Autoscaler → grow a node pool (the cloud provisions the nodes).
    AddNodes { pool: PoolId, count: u32 },
    /// Cluster Autoscaler → delete an empty node, or one that never registered.
    RemoveNode { node: NodeId },
    /// Cluster Autoscaler → taint a node ToBeDeleted, evict its pods, delete it once empty.
    DrainNode { node: NodeId },
}
