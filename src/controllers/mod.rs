//! Reconciliation loops. Each controller looks at `&Cluster` as it is now (level-triggered),
//! and returns [`Intent`]s for the engine to apply as the API server would. Controllers never
//! mutate the cluster, never read the wall clock, and take randomness only from the stream the
//! engine hands them.

pub mod autoscaler;
pub(crate) mod cronjob;
pub(crate) mod daemonset;
pub(crate) mod deployment;
pub(crate) mod disruption;
pub mod hpa;
pub(crate) mod job;
pub mod karpenter;
pub(crate) mod keda;
pub(crate) mod kubelet;
pub mod metrics_server;
pub(crate) mod node_lifecycle;
pub(crate) mod replicaset;
pub mod rollout;
pub mod scheduler;
pub(crate) mod statefulset;
pub mod topology_hints;
pub mod vpa;

use serde::Serialize;

use crate::cluster::resources::TaintEffect;
use crate::cluster::{DeploymentId, NodeId, PodId, PoolId, ReplicaSetId};
use crate::sim::{SimDuration, SimTime};

/// A change a controller asks for. Emitted by controllers, applied by the engine in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Deployment controller → ReplicaSet `spec.replicas` (and its `desired-replicas` and
    /// `max-replicas` annotations from the Deployment).
    SetReplicaSetReplicas {
        /// The ReplicaSet to scale.
        replica_set: ReplicaSetId,
        /// Its new `spec.replicas`.
        replicas: i32,
    },
    /// Deployment controller → a ReplicaSet for the current `spec.template` (next revision).
    CreateReplicaSet {
        /// The Deployment whose `spec.template` has no ReplicaSet yet.
        deployment: DeploymentId,
    },
    /// Deployment controller → the revision annotation of a ReplicaSet made current again
    /// (rollback).
    SetRevision {
        /// The ReplicaSet whose template is current again.
        replica_set: ReplicaSetId,
        /// Its new revision: one above every other ReplicaSet's of the Deployment.
        revision: u64,
    },
    /// Deployment controller → delete an old ReplicaSet beyond `revisionHistoryLimit`.
    DeleteReplicaSet {
        /// The old ReplicaSet: scaled to 0, with no pods left.
        replica_set: ReplicaSetId,
    },
    /// ReplicaSet controller → a new pod from the template.
    CreatePod {
        /// The ReplicaSet whose template the pod gets.
        replica_set: ReplicaSetId,
    },
    /// StatefulSet controller → `status.currentRevision` (a rolling update completed).
    SetCurrentRevision {
        /// The StatefulSet.
        deployment: DeploymentId,
        /// Its update revision, now current.
        replica_set: ReplicaSetId,
    },
    /// StatefulSet controller → pod `<name>-<ordinal>` from revision `replica_set`.
    CreateStatefulPod {
        /// The revision whose template the pod gets.
        replica_set: ReplicaSetId,
        /// The pod's ordinal.
        ordinal: u32,
    },
    /// DaemonSet controller → a pod of the DaemonSet pinned to `node`.
    CreateDaemonPod {
        /// The DaemonSet.
        deployment: DeploymentId,
        /// The node the pod is pinned to (a required node affinity on the node's name).
        node: NodeId,
    },
    /// Job controller → a pod of the Job (with its completion index when Indexed).
    CreateJobPod {
        /// The Job: its workload and which of its runs.
        run: job::Run,
        /// The completion index for an Indexed Job (`None` otherwise).
        index: Option<u32>,
    },
    /// Job controller → the Job's `Complete` or `Failed` condition.
    FinishJob {
        /// The Job that finished.
        run: job::Run,
        /// How it finished.
        outcome: crate::cluster::JobOutcome,
    },
    /// CronJob controller → a Job for the schedule time `scheduled`.
    StartJob {
        /// The CronJob.
        cron_job: DeploymentId,
        /// The schedule time the Job is for (`status.lastScheduleTime` from then on).
        scheduled: SimTime,
    },
    /// CronJob controller → delete a Job (Replace, or beyond the history limits); the Job
    /// controller then deletes the pods it still has.
    DeleteJob {
        /// The Job to delete.
        run: job::Run,
        /// Why it goes.
        reason: JobDeletion,
    },
    /// CronJob controller → a run due at `scheduled` is not started: one is still active and
    /// the policy is Forbid (`JobAlreadyActive`).
    SkipJob {
        /// The CronJob.
        cron_job: DeploymentId,
        /// The schedule time of the run not started.
        scheduled: SimTime,
    },
    /// ReplicaSet controller → delete (gracefully) one pod.
    DeletePod {
        /// The pod to delete.
        pod: PodId,
    },
    /// Scheduler → bind a pending pod to a node.
    BindPod {
        /// The pending pod.
        pod: PodId,
        /// The node it is bound to (its `spec.nodeName`).
        node: NodeId,
    },
    /// HPA → scale subresource of its target.
    ScaleDeployment {
        /// The target workload.
        deployment: DeploymentId,
        /// Its new `spec.replicas`.
        replicas: i32,
    },
    /// Cluster Autoscaler → grow a node pool (the cloud provisions the nodes).
    AddNodes {
        /// The pool to grow.
        pool: PoolId,
        /// How many nodes to add.
        count: u32,
    },
    /// Cluster Autoscaler → delete an empty node, or one that never registered.
    RemoveNode {
        /// The node to delete.
        node: NodeId,
    },
    /// Cluster Autoscaler → taint a node ToBeDeleted, evict its pods (each with at most
    /// `max_grace` to terminate), delete it once empty.
    DrainNode {
        /// The node to drain, then delete.
        node: NodeId,
        /// The longest grace period an evicted pod gets (`--max-graceful-termination-sec`).
        max_grace: SimDuration,
    },
    /// Karpenter → taint a node `karpenter.sh/disrupted:NoSchedule`, evict its pods through
    /// the Eviction API (or, `force`d past the NodePool's `terminationGracePeriod`, delete
    /// them), delete it once empty.
    DisruptNode {
        /// The node to drain, then delete.
        node: NodeId,
        /// Delete the pods whatever their budgets say.
        force: bool,
    },
    /// Cluster Autoscaler → give up deleting a node whose drain failed: the ToBeDeleted taint
    /// comes off.
    CancelScaleDown {
        /// The node whose scale-down is given up.
        node: NodeId,
    },
    /// Node lifecycle → the node's Ready condition is `Unknown`: taint it
    /// `unreachable:NoSchedule` and mark its pods not Ready.
    MarkNodeUnreachable {
        /// The node whose heartbeats stopped.
        node: NodeId,
    },
    /// Node lifecycle → the node heartbeats again: Ready, the unreachable taints come off.
    MarkNodeReachable {
        /// The node heard from again.
        node: NodeId,
    },
    /// Node lifecycle → add a taint.
    TaintNode {
        /// The node to taint.
        node: NodeId,
        /// The taint's key (`node.kubernetes.io/unreachable`); its value is empty.
        key: &'static str,
        /// The taint's effect.
        effect: TaintEffect,
    },
    /// Node lifecycle → remove one taint (the NoExecute taint, when every zone is fully
    /// disrupted).
    UntaintNode {
        /// The node to untaint.
        node: NodeId,
        /// The taint's key.
        key: &'static str,
        /// The taint's effect: only the taint with this key and effect comes off.
        effect: TaintEffect,
    },
    /// Node lifecycle (the NoExecute taint manager) → delete a pod whose toleration ran out.
    EvictPod {
        /// The pod to evict.
        pod: PodId,
    },
}

/// The `reason` of a pod event, under its Kubernetes name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum PodEventReason {
    /// The ReplicaSet (or the pod trace) created the pod.
    Created,
    /// The scheduler found no node (`0/N nodes are available: …`).
    FailedScheduling,
    /// The Cluster Autoscaler added nodes for the pod.
    TriggeredScaleUp,
    /// The Cluster Autoscaler could not help the pod.
    NotTriggerScaleUp,
    /// The scheduler bound the pod to a node.
    Scheduled,
    /// The kubelet pulled the pod's images the node did not have.
    Pulled,
    /// The scheduler deleted the pod to make room for a higher-priority one.
    Preempted,
    /// The containers started.
    Started,
    /// The pod is being deleted: its containers are stopped.
    Killing,
    /// The pod was deleted before it was bound (kubesim's reason: Kubernetes logs this on the
    /// owner as `SuccessfulDelete`).
    Deleted,
    /// A probe failed.
    Unhealthy,
    /// The container is waiting out its restart backoff (`CrashLoopBackOff`).
    BackOff,
    /// The container used more memory than its limit (exit code 137).
    OOMKilled,
    /// A Job's pod ran to the end and exited 0 (phase `Succeeded`).
    Completed,
    /// A Job's pod exited non-zero (phase `Failed`), or the kubelet could not create the
    /// pod's container (`CreateContainerConfigError`: a ConfigMap or Secret is missing).
    Failed,
    /// The kubelet could not mount one of the pod's volumes (its ConfigMap or Secret is
    /// missing): the pod stays `ContainerCreating`.
    FailedMount,
    /// The VPA's updater evicted the pod, for its replacement to get the recommendation.
    EvictedByVPA,
    /// The VPA's updater resized the pod in place to the recommendation.
    InPlaceResizedByVPA,
}

/// Why the CronJob controller deletes one of its Jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobDeletion {
    /// `concurrencyPolicy: Replace`: a new run replaces it.
    Replaced,
    /// Beyond `successfulJobsHistoryLimit` or `failedJobsHistoryLimit`.
    History,
}

impl PodEventReason {
    /// `Warning` for the reasons that mean something is wrong, `Normal` otherwise.
    pub fn event_type(self) -> &'static str {
        match self {
            PodEventReason::FailedScheduling
            | PodEventReason::NotTriggerScaleUp
            | PodEventReason::Unhealthy
            | PodEventReason::BackOff
            | PodEventReason::OOMKilled
            | PodEventReason::Failed
            | PodEventReason::FailedMount => "Warning",
            _ => "Normal",
        }
    }
}
