//! What the engine's event queue holds: every kind of thing scheduled to happen, with the ids
//! its handler needs.

use crate::cluster::{DeploymentId, HpaId, NodeId, PodId, ServiceId};
use crate::controllers::{job, kubelet};

/// Something scheduled to happen. Small and `Copy`: the queue holds millions of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// Emitted by the arrival process of a Service (or one of its closed-loop users); handled
    /// by routing it to a pod.
    Arrival { service: ServiceId },
    /// A closed loop's user count changes (`engine::clients`).
    UsersChange { service: ServiceId },
    /// Emitted by a pod's server for its earliest finisher; stale when `generation` moved on.
    Completion { pod: PodId, generation: u32 },
    /// Emitted by the kubelet at bind; the pod's containers start and it turns Ready.
    PodStarted { pod: PodId },
    /// Emitted when a draining pod is deleted; its grace period is over.
    TerminationDeadline { pod: PodId },
    /// metrics-server's periodic scrape of every running pod.
    MetricsScrape,
    /// The HPA controller's periodic sync of every HPA.
    HpaSync,
    /// KEDA's poll of the ScaledObject that owns HPA `hpa` (its activation).
    KedaPoll { hpa: HpaId },
    /// The recorder's periodic time-series sample.
    Sample,
    /// A provisioned node registers with the API server and turns Ready.
    NodeRegistered { node: NodeId },
    /// The Cluster Autoscaler's periodic loop.
    AutoscalerScan,
    /// Karpenter's provisioning batch may have closed.
    KarpenterBatch,
    /// Karpenter's disruption loop.
    KarpenterDisruption,
    /// A pod of a pod trace is created (`index` into the trace's pods).
    TracePodCreated { trace: u32, index: u32 },
    /// A pod of a pod trace reaches its deletion time.
    TracePodDeleted { pod: PodId },
    /// A pod's scheduling backoff (or its time in the unschedulable pool) is over.
    SchedulerRetry,
    /// A scripted event of the scenario (`index` into `spec.events`).
    Scripted { index: u32 },
    /// The node lifecycle controller's periodic look at node heartbeats.
    NodeMonitor,
    /// `kubectl drain` retries the evictions PodDisruptionBudgets refused.
    DrainRetry { node: NodeId },
    /// A random machine failure (the pool's `failures`).
    NodeFails { node: NodeId },
    /// The failed machine is repaired.
    NodeRepaired { node: NodeId },
    /// A random spot interruption notice (the pool's `spotInterruptionMTBI`).
    SpotNotice { node: NodeId },
    /// Two minutes after the notice: the spot machine is gone.
    SpotReclaimed { node: NodeId },
    /// A pod's `minReadySeconds` are over: its Deployment may count it available now.
    MinReadyElapsed { deployment: DeploymentId },
    /// A Deployment's progress deadline may have passed.
    ProgressDeadline { deployment: DeploymentId },
    /// A probe worker's period (for the container start `generation`).
    Probe {
        pod: PodId,
        kind: kubelet::ProbeKind,
        generation: u32,
    },
    /// A killed container's restart backoff is over.
    ContainerRestart { pod: PodId, generation: u32 },
    /// A random container crash (the workload's `crashMTBF`).
    ContainerCrash { pod: PodId, generation: u32 },
    /// A caller's per-try timeout for a call (stale unless the try is still in flight).
    CallTimeout { frame: u32, token: u32 },
    /// A failed call's retry backoff is over.
    CallRetry { frame: u32, token: u32 },
    /// A call has passed the caller's and the callee's sidecars: it reaches the Service.
    MeshDelivery { frame: u32, token: u32 },
    /// The answer to a call reaches its caller in another zone (`failure`: the call failed).
    CallAnswer {
        frame: u32,
        token: u32,
        failure: Option<crate::traffic::FailureReason>,
    },
    /// A call frame's `delay` step is over.
    FrameResume { frame: u32, token: u32 },
    /// An LLM pod's batching step is over (stale when `generation` moved on: the pod's
    /// requests were dropped; or when `container` did: its server was replaced by a restart).
    LlmStep {
        pod: PodId,
        container: u32,
        generation: u32,
    },
    /// A Job pod's run is over (stale unless its container `generation` still runs).
    JobRunEnds {
        pod: PodId,
        generation: u32,
        failed: bool,
    },
    /// A Job's pod failure backoff or active deadline is over: its controller looks again.
    JobWake { job: DeploymentId },
    /// A finished Job's `ttlSecondsAfterFinished` is over.
    JobTtl { run: job::Run },
    /// A CronJob's schedule time.
    CronTick { cron_job: DeploymentId },
    /// The VPA recommender's loop.
    VpaRecommender,
    /// The VPA updater's loop (every minute): evicts pods far from their recommendation.
    VpaUpdater,
}
