//! The simulated world's objects, in arenas indexed by typed ids.
//!
//! Objects refer to each other by id, never by reference. Only the engine mutates a `Cluster`
//! (applying controller intents the way the API server would); controllers read it.
//! Collections that are iterated on paths that emit events are ordered (`Vec` by id, `BTreeSet`).

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::sim::SimTime;
use crate::spec::model::{
    CronTimes, DeploymentSpec, HostPort, HpaSpec, NodePoolSpec, PdbSpec, PodSource, PodTemplate,
    ServiceSpec,
};

use super::JobRuns;
use super::node_row::NodeRow;
use super::resources::Resources;
use super::selector::Labels;

pub use crate::spec::ids::{
    DeploymentId, HpaId, IdSet, NodeId, PodId, PoolId, ReplicaSetId, ServiceId,
};

/// A pod's lifecycle phase, as far as this model distinguishes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PodPhase {
    /// Created; waiting for a node (unbound) or for its containers to start (bound).
    #[default]
    Pending,
    /// Containers started.
    Running,
    /// Gone: terminated after deletion (kept in the arena for history).
    Terminated,
}

/// A node pool (a node group to the Cluster Autoscaler) and the nodes it has had.
#[derive(Clone, Debug)]
pub struct NodePool {
    /// The pool as the scenario declares it (machine shape, size bounds, price, zones).
    pub spec: NodePoolSpec,
    /// Every node the pool ever had, by id (removed ones included, for history).
    pub nodes: Vec<NodeId>,
    /// Nodes that exist now (provisioning, ready or being removed): what the pool is billed for.
    pub size: usize,
}

/// Where a node is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// Requested from the cloud; not registered yet (an "upcoming" node to the autoscaler).
    Provisioning,
    /// Registered and Ready: the scheduler may place pods here.
    Ready,
    /// Gone (scaled down, or never registered).
    Removed,
}

/// The taint the Cluster Autoscaler puts on a node it is about to delete.
pub const TO_BE_DELETED_TAINT: &str = "ToBeDeletedByClusterAutoscaler";
/// Well-known node labels.
pub use crate::spec::network::ZONE_LABEL;
pub(crate) const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";
pub(crate) const INSTANCE_TYPE_LABEL: &str = "node.kubernetes.io/instance-type";
/// Label naming the capacity type (`on-demand` / `spot`), as Karpenter spells it.
pub const CAPACITY_TYPE_LABEL: &str = "karpenter.sh/capacity-type";

/// A node: what it offers, what the pods bound to it take, and its status.
#[derive(Clone, Debug)]
pub struct Node {
    /// Its index in [`Cluster::nodes`].
    pub id: NodeId,
    /// `metadata.name`: `<pool>-<n>`, `n` being its index among the pool's nodes.
    pub name: String,
    /// The pool it belongs to.
    pub pool: PoolId,
    /// `metadata.labels`: the pool's labels, plus hostname and capacity type, and instance type and
    /// zone when the pool has them. Set when the node is made.
    pub labels: Arc<Labels>,
    /// `status.allocatable`: what pods may request here, from the pool's spec.
    pub allocatable: Resources,
    /// The most pods it takes at once (the `pods` entry of `status.allocatable`).
    pub max_pods: i64,
    /// Σ requests of pods bound here and not yet terminated.
    pub requested: Resources,
    /// Σ non-zero (scoring) requests of the same pods.
    pub requested_for_scoring: Resources,
    /// Pods counted against `max_pods`: those bound here and not yet terminated, plus any a
    /// simulation has reserved room for ([`Node::reserve`]).
    pub pod_count: i64,
    /// The pods bound here and not yet terminated, by id.
    pub pods: IdSet<PodId>,
    /// When the node was requested from the cloud (0 for the initial nodes): the autoscaler's
    /// `--max-node-provision-time` counts from here.
    pub created: SimTime,
    /// `spec.taints`: the pool's, plus those added since (ToBeDeleted, unreachable).
    pub taints: Vec<super::resources::Taint>,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// Host ports taken by the pods here (NodePorts).
    pub used_ports: Vec<HostPort>,
    /// Images pulled here (`status.images`; never garbage-collected in the model).
    pub images: BTreeSet<String>,
    /// Where it is in its life: provisioning, Ready or removed.
    pub state: NodeState,
    /// Since when the machine is down (a scripted failure): its kubelet posts no heartbeat and
    /// its pods serve nothing.
    pub down_since: Option<SimTime>,
    /// The node lifecycle controller has found it unreachable (Ready condition `Unknown`).
    pub unreachable: bool,
}

impl Node {
    /// A Ready, schedulable node `name` with `allocatable` resources (110 pods at most) and
    /// nothing on it, for calling the scheduler's filters and scores directly.
    pub fn new(name: &str, allocatable: Resources) -> Node {
        Node {
            id: NodeId(0),
            name: name.into(),
            pool: PoolId(0),
            labels: Default::default(),
            allocatable,
            max_pods: 110,
            requested: Resources::default(),
            requested_for_scoring: Resources::default(),
            pod_count: 0,
            pods: Default::default(),
            created: SimTime::ZERO,
            taints: Vec::new(),
            unschedulable: false,
            used_ports: Vec::new(),
            images: Default::default(),
            state: NodeState::Ready,
            down_since: None,
            unreachable: false,
        }
    }

    /// Reserves a pod's requests here (the scheduler's assume, or a simulation of it).
    pub fn reserve(&mut self, pod: &PodTemplate) {
        self.requested.add(&pod.requests);
        self.requested_for_scoring.add(&pod.scoring_requests);
        self.pod_count += 1;
        self.used_ports.extend(pod.host_ports.iter().cloned());
    }

    /// Releases what [`Node::reserve`] took.
    pub fn release(&mut self, pod: &PodTemplate) {
        self.requested.subtract(&pod.requests);
        self.requested_for_scoring.subtract(&pod.scoring_requests);
        self.pod_count -= 1;
        for port in &pod.host_ports {
            if let Some(i) = self.used_ports.iter().position(|p| p == port) {
                self.used_ports.swap_remove(i);
            }
        }
    }

    /// Whether the Cluster Autoscaler has marked the node for deletion.
    /// Or Karpenter has (`karpenter.sh/disrupted`): either way it is on its way out.
    pub fn is_to_be_deleted(&self) -> bool {
        self.taints.iter().any(|t| {
            t.key == TO_BE_DELETED_TAINT || t.key == crate::spec::karpenter::DISRUPTED_TAINT
        })
    }
}

/// A pod: its spec, the node it is bound to, and its status.
///
/// Laid out by hand, starting at a cache line: the fields that the periodic scans over every
/// live pod read (the HPA's pod views, the disruption budgets, a ReplicaSet's terminating
/// pods) come first and share the first 64 bytes, so that such a scan reads one line per pod.
#[derive(Clone, Debug, Default)]
#[repr(C, align(64))]
pub struct Pod {
    /// Its index in [`Cluster::pods`].
    pub id: PodId,
    /// The workload that owns it (for a Job's pod, its Job or CronJob: `job_run` says which run).
    pub deployment: DeploymentId,
    /// The ReplicaSet (revision) it was created from.
    pub replica_set: ReplicaSetId,
    /// Where it is in its life.
    pub phase: PodPhase,
    /// Its Ready condition: while true, it is one of its Services' endpoints.
    pub ready: bool,
    /// Its container was killed and waits out the restart backoff (`CrashLoopBackOff`).
    pub backoff: bool,
    /// The kubelet could not create its container: a ConfigMap or Secret its environment
    /// needs is missing (`CreateContainerConfigError`).
    pub config_error: bool,
    /// When the containers started (`status.startTime` as the HPA uses it).
    pub started: Option<SimTime>,
    /// `metadata.deletionTimestamp`.
    pub deletion: Option<SimTime>,
    /// Last transition of the Ready condition.
    pub ready_transition: SimTime,
    /// The pod's spec as the scheduler and kubelet see it (shared with its Deployment).
    pub template: Arc<PodTemplate>,
    /// `spec.nodeName`: the node it is bound to (`None` while pending); kept after it terminates.
    pub node: Option<NodeId>,
    /// `metadata.creationTimestamp`.
    pub created: SimTime,
    /// `metadata.name`: its owner's name and a generated suffix (`<replicaset>-<suffix>`); a
    /// StatefulSet's pod is `<name>-<ordinal>`, a trace pod keeps its own name.
    pub name: String,
    /// Since when the pod has been unschedulable (`PodScheduled=False`, reason
    /// Unschedulable): what the Cluster Autoscaler looks for.
    pub unschedulable_since: Option<SimTime>,
    /// `status.nominatedNodeName`: where preemption made room for it.
    pub nominated_node: Option<NodeId>,
    /// A StatefulSet pod's ordinal (`<name>-<ordinal>`), or an Indexed Job pod's completion
    /// index.
    pub ordinal: Option<u32>,
    /// Container restarts (`restartCount`).
    pub restarts: u32,
    /// How a Job's pod ended its run (`None`: it did not, or it is not a Job's).
    pub exit: Option<PodExit>,
    /// A Job's pod: which of its workload's runs (Jobs) it belongs to.
    pub job_run: u32,
}

/// How a pod's run ended: phase `Succeeded` (exit code 0) or `Failed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodExit {
    /// Its container exited 0.
    Succeeded,
    /// Its container exited non-zero, or the pod was lost (deleted, evicted, its node gone) before
    /// its run ended.
    Failed,
}

/// What a Job has done so far (its `status`), kept by the engine as its pods end.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobStatus {
    /// A CronJob's Job: the schedule time it was started for.
    pub scheduled: Option<SimTime>,
    /// `status.startTime`: when the controller first saw it unsuspended.
    pub started: Option<SimTime>,
    /// `status.succeeded` and `status.failed`: pods that ended each way (a pod lost before it
    /// ended counts as failed).
    pub succeeded: i32,
    /// `status.failed`: pods that failed, lost ones included.
    pub failed: i32,
    /// Failures since the last success, and when the last was: the pod failure backoff.
    pub failures_since_success: i32,
    /// When a pod last failed (`None`: none has); the backoff delay runs from it.
    pub last_failure: Option<SimTime>,
    /// An Indexed Job's indexes that have succeeded.
    pub completed_indexes: BTreeSet<u32>,
    /// When it finished and how (`Complete` or `Failed` with its reason).
    pub finished: Option<(SimTime, JobOutcome)>,
    /// Deleted after `ttlSecondsAfterFinished`.
    pub deleted: bool,
}

/// How a Job finished: its `Complete` or `Failed` condition and reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    /// `Complete`: enough pods succeeded (reason `Completed`).
    Complete,
    /// `Failed`: more pods failed than `backoffLimit` allows.
    BackoffLimitExceeded,
    /// `Failed`: it ran longer than `activeDeadlineSeconds`.
    DeadlineExceeded,
}

impl JobOutcome {
    /// The condition's reason as `kubectl describe job` shows it.
    pub fn reason(self) -> &'static str {
        match self {
            JobOutcome::Complete => "Completed",
            JobOutcome::BackoffLimitExceeded => "BackoffLimitExceeded",
            JobOutcome::DeadlineExceeded => "DeadlineExceeded",
        }
    }
}

impl Pod {
    /// Counted by its ReplicaSet (not being deleted and not gone).
    pub fn is_active(&self) -> bool {
        self.deletion.is_none() && self.phase != PodPhase::Terminated
    }
}

/// A ReplicaSet: one revision of a workload's pod template and the pods created from it. Every
/// workload has at least one, whatever its kind.
#[derive(Clone, Debug, Default)]
pub struct ReplicaSet {
    /// Its index in [`Cluster::replica_sets`].
    pub id: ReplicaSetId,
    /// `metadata.name`: `<workload>-<pod-template-hash>` (a ReplicationController's: its own name).
    pub name: String,
    /// The workload that owns it.
    pub deployment: DeploymentId,
    /// `spec.replicas`.
    pub replicas: i32,
    /// Active pods (not deleting, not gone), ordered by id.
    pub pods: IdSet<PodId>,
    /// Of `pods`, those Ready: kept as pods come, go and change their Ready condition, so that
    /// a Deployment's status need not read its pods.
    pub ready_pods: i32,
    /// Some pod was created for it with a spec of its own (a DaemonSet's per-node pod, a pod
    /// from a trace) instead of `template`: what holds for its template need not hold for its
    /// pods.
    pub pods_have_own_templates: bool,
    /// `spec.template` as its pods get it (`pod-template-hash` label, spreading resolved).
    pub template: Arc<PodTemplate>,
    /// The Deployment's `spec.template` it was made from: what a rollback restores.
    pub source_template: Arc<PodTemplate>,
    /// `source_template` printed: two templates are the same when these are equal (upstream
    /// compares the templates without the hash label).
    pub template_key: Arc<str>,
    /// `deployment.kubernetes.io/revision`.
    pub revision: u64,
    /// `metadata.creationTimestamp` (the Deployment controller orders old ReplicaSets by it).
    pub created: SimTime,
    /// `deployment.kubernetes.io/desired-replicas`: the Deployment's replicas when the
    /// controller last scaled this ReplicaSet.
    pub desired_annotation: i32,
    /// `deployment.kubernetes.io/max-replicas`: replicas + maxSurge then (0: absent).
    pub max_annotation: i32,
    /// Deleted by the revision history limit.
    pub deleted: bool,
}

impl ReplicaSet {
    /// Has replicas (`FilterActiveReplicaSets`).
    pub fn is_active(&self) -> bool {
        self.replicas > 0
    }

    /// Whether it has the workload's current template (is its new ReplicaSet). The set made for
    /// the template shares its key, so the keys — the templates printed, long — are compared
    /// only for the other sets.
    pub fn has_template_of(&self, d: &Deployment) -> bool {
        Arc::ptr_eq(&self.template_key, &d.template_key) || self.template_key == d.template_key
    }
}

/// A workload: a Deployment, or a kind kubesim models as one (`spec.source` says which:
/// StatefulSet, DaemonSet, Job, CronJob, ReplicationController or pod trace).
#[derive(Clone, Debug)]
pub struct Deployment {
    /// Its index in [`Cluster::deployments`].
    pub id: DeploymentId,
    /// The spec as last applied (`spec.pod` is `spec.template`; scripted `apply` and
    /// `rollback` change it).
    pub spec: DeploymentSpec,
    /// `spec.template` printed, to find the ReplicaSet made from it.
    pub template_key: Arc<str>,
    /// `spec.replicas` (changed by the HPA through the scale subresource).
    pub replicas: i32,
    /// Its ReplicaSets (not deleted), oldest first.
    pub replica_sets: Vec<ReplicaSetId>,
    /// Services whose selector picks this Deployment's pods.
    pub services: Vec<ServiceId>,
    /// Those Services' selectors (part of the pods' default spreading selector).
    pub service_selectors: Vec<crate::cluster::selector::LabelSelector>,
    /// `spec.paused` (`kubectl rollout pause` / `resume`).
    pub paused: bool,
    /// The Progressing condition and the rollout under way.
    pub rollout: RolloutState,
    /// A Job's status (one run), or each Job a CronJob started, in order (empty for other
    /// workloads).
    pub runs: JobRuns,
    /// A CronJob's schedule times and its controller's memory.
    pub cron: CronState,
    /// A StatefulSet's `status.currentRevision`: the revision its pods below the partition
    /// are made from. Its first revision, and the update revision once a rolling update has
    /// replaced and readied every pod.
    pub current_revision: Option<ReplicaSetId>,
}

/// A CronJob's schedule and what its controller remembers (`status.lastScheduleTime`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CronState {
    /// Every time its schedule fires during the run, in order.
    pub times: Arc<[SimTime]>,
    /// The schedule time of the last Job it started.
    pub last_schedule: Option<SimTime>,
    /// The schedule time it last declined to start (Forbid), told once.
    pub skipped: Option<SimTime>,
}

/// A Deployment's progress as its status conditions record it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RolloutState {
    /// The status counts at the last reconcile.
    pub status: crate::spec::rollout::RolloutStatus,
    /// When the Progressing condition last saw progress (`lastUpdateTime`).
    pub last_progress: SimTime,
    /// The Progressing condition's reason is `ReplicaSetUpdated` (not complete yet): only then
    /// can the deadline pass.
    pub progressing: bool,
    /// Whether the rollout has been declared `ProgressDeadlineExceeded` (until it progresses).
    pub timed_out: bool,
    /// When the current template change started rolling out (`None`: complete).
    pub started: Option<SimTime>,
    /// The revision being rolled out.
    pub revision: u64,
    /// `replicas − maxUnavailable` at the last reconcile (the Available condition's bar).
    pub min_available: i32,
    /// Whether the conditions have been computed once.
    pub tracked: bool,
}

impl Deployment {
    /// Whether a controller recreates the pods when they are evicted (not so for trace pods,
    /// which block a node's scale-down like any pod without a controller).
    pub fn has_controller(&self) -> bool {
        self.spec.source != PodSource::Trace
    }

    /// Whether it rolls out new revisions with status conditions (a Deployment, StatefulSet or
    /// DaemonSet; not a Job or a pod trace).
    pub fn rolls_out(&self) -> bool {
        self.has_controller() && !self.is_job()
    }

    /// A Job or a CronJob: its pods run to completion.
    pub fn is_job(&self) -> bool {
        self.spec.source.job_settings().is_some()
    }

    /// Whether a ReplicaSet keeps `replicas` pods (a Deployment from the manifests).
    pub fn is_replicated(&self) -> bool {
        self.spec.source.is_replicated()
    }

    pub(crate) fn is_daemon_set(&self) -> bool {
        self.spec.source == PodSource::DaemonSet
    }

    pub(crate) fn is_stateful_set(&self) -> bool {
        self.spec.source == PodSource::StatefulSet
    }

    /// The `desired-replicas` and `max-replicas` annotations the controller writes on a
    /// ReplicaSet it scales: `replicas` and `replicas + maxSurge`.
    pub fn replica_annotations(&self) -> (i32, i32) {
        let surge = self.spec.strategy.max_surge(self.replicas);
        (self.replicas, self.replicas + surge)
    }
}

/// A Service and the pods it sends traffic to.
#[derive(Clone, Debug)]
pub struct Service {
    /// Its index in [`Cluster::services`].
    pub id: ServiceId,
    /// `metadata.name`.
    pub name: String,
    /// Ready, non-terminating pods backing the Service (its ready endpoints), ordered by id.
    pub endpoints: Vec<PodId>,
    /// Changes of `endpoints` so far (what routing derived from them is stale when it moved).
    pub endpoints_version: u64,
}

/// A HorizontalPodAutoscaler, with its target resolved and the status the engine keeps.
#[derive(Clone, Debug)]
pub struct Hpa {
    /// Its index in [`Cluster::hpas`].
    pub id: HpaId,
    /// The spec as last applied (a scripted `apply` replaces it).
    pub spec: HpaSpec,
    /// `None` when the target does not exist (the HPA reports FailedGetScale).
    pub target: Option<DeploymentId>,
    /// Deployments whose pods the target's selector matches (normally just the target).
    pub selected: Vec<DeploymentId>,
    /// `status.lastScaleTime`: when a sync of this HPA last rescaled its target (`None`: never).
    pub last_scale_time: Option<SimTime>,
}

/// The indexes of the budgets covering the pods of each template, by the template's address: a
/// pod's template lives as long as the pod, and pods are never dropped from the cluster, so an
/// address names one template for the whole run; with the number of budgets it was found for
/// (budgets are set when the cluster is made). A cache, not state: its `Debug` shows nothing.
#[derive(Clone, Default)]
struct PdbCover(std::cell::RefCell<(usize, CoverByTemplate)>);

/// Template address → the indexes of the budgets covering its pods.
type CoverByTemplate = std::collections::BTreeMap<usize, Arc<[usize]>>;

impl std::fmt::Debug for PdbCover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PdbCover")
    }
}

/// The whole simulated cluster.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    /// Node pools, by id, as the scenario lists them.
    pub pools: Vec<NodePool>,
    /// Every node ever created, by id (removed ones stay, in state `Removed`).
    pub nodes: Vec<Node>,
    /// Ready nodes in id order: the scheduler's node list.
    pub ready_nodes: Vec<NodeId>,
    /// Changes of `ready_nodes` so far.
    pub ready_nodes_version: u64,
    /// Every pod ever created, by id (terminated ones stay, in phase `Terminated`).
    pub pods: Vec<Pod>,
    /// Every ReplicaSet ever created, by id (deleted ones stay, with `deleted` set).
    pub replica_sets: Vec<ReplicaSet>,
    /// Every workload, by id: Deployments and the kinds modelled as one (StatefulSets, DaemonSets,
    /// Jobs, CronJobs, ReplicationControllers, pod traces).
    pub deployments: Vec<Deployment>,
    /// Services, by id.
    pub services: Vec<Service>,
    /// HorizontalPodAutoscalers, by id.
    pub hpas: Vec<Hpa>,
    /// Pods waiting for the scheduler, by id (creation order).
    pub unscheduled: BTreeSet<PodId>,
    /// Pods that joined `unscheduled` since the scheduler last took them (created, or put back
    /// by their node's removal): what the scheduler's informer would tell its queue.
    pub newly_unscheduled: Vec<PodId>,
    /// Pods deleted but not yet gone (draining within their grace period), by id.
    pub terminating: BTreeSet<PodId>,
    /// Pods in phase Running, by id, with their start time (`status.startTime`): what
    /// metrics-server scrapes (a scan of every pod ever created would grow with the run, and
    /// reading each pod would cost a cold cache line per running pod at every scrape).
    pub running: super::running::RunningPods,
    /// Whether any workload's pods carry inter-pod (anti-)affinity (when none does, the
    /// InterPodAffinity plugin has nothing to look at for pods without it).
    pub any_pod_affinity: bool,
    /// Bound pods counted per label set and node, for selectors over pods.
    pub label_groups: super::label_groups::LabelGroups,
    /// Every node's label values as topology domain ids.
    pub topology: super::topology::TopologyIndex,
    /// Pending pods nominated to a node by preemption, by id.
    pub nominated: BTreeSet<PodId>,
    /// How many bound, not yet terminated pods there are of each priority.
    pub bound_priorities: std::collections::BTreeMap<i32, usize>,
    /// Image sizes in bytes by normalized name (`spec.imageSizes`).
    pub image_sizes: std::collections::BTreeMap<String, i64>,
    /// PodDisruptionBudgets.
    pub pdbs: Vec<PdbSpec>,
    /// Requests and allocatable summed over the Ready nodes ([`Cluster::allocation_totals`]).
    ready_totals: super::accounting::ReadyTotals,
    /// The budgets covering each pod template, once found ([`Cluster::pdbs_covering`]).
    pdb_cover: PdbCover,
    /// On how many nodes (not removed) each image is present.
    pub image_nodes: std::collections::BTreeMap<String, usize>,
    /// The scheduler's compact copy of each node, by id: refreshed by every method here that
    /// changes a node's requests, taints or cordon ([`Cluster::refresh_node_row`]).
    node_rows: Vec<NodeRow>,
    /// Whether each node's machine is down (`down_since` set), by id: a dense copy the request
    /// path reads for every request ([`Cluster::is_down`]).
    machines_down: Vec<bool>,
    /// Every visible change of a pod's or a node's status, with its time.
    pub journal: super::journal::Journal,
}

/// What the initial cluster is made of: a scenario's node pools and workloads, by index (a
/// Service names its backends, an HPA its target, a CronJob its workload by index into
/// `deployments`). `scenario::Scenario::initial_state` gives a scenario's.
#[derive(Clone, Copy)]
pub struct InitialState<'a> {
    /// The node pools: each starts with its `count` nodes, Ready at time 0. A pool's index is its
    /// [`PoolId`].
    pub node_pools: &'a [NodePoolSpec],
    /// Every workload (Deployments and the kinds modelled as one); each gets its first ReplicaSet.
    /// A workload's index is its [`DeploymentId`].
    pub deployments: &'a [DeploymentSpec],
    /// The Services, each naming the workloads it selects by index.
    pub services: &'a [ServiceSpec],
    /// The HorizontalPodAutoscalers, each naming its target by index.
    pub hpas: &'a [HpaSpec],
    /// Each CronJob's schedule times, naming its workload by index.
    pub cron_jobs: &'a [CronTimes],
    /// The PodDisruptionBudgets.
    pub pdbs: &'a [PdbSpec],
    /// Image sizes in bytes by normalized name.
    pub image_sizes: &'a std::collections::BTreeMap<String, i64>,
}

impl Cluster {
    /// Builds the initial cluster: nodes of every pool, one ReplicaSet per Deployment, Services
    /// and HPAs. Pods are created by the controllers, not here.
    pub fn new(s: InitialState) -> Cluster {
        let mut c = Cluster::default();
        for (p, spec) in s.node_pools.iter().enumerate() {
            c.pools.push(NodePool {
                spec: spec.clone(),
                nodes: Vec::new(),
                size: 0,
            });
            for _ in 0..spec.count {
                let node = c.add_node(PoolId(p as u32), SimTime::ZERO);
                c.register_node(node);
            }
        }
        for (d, spec) in s.deployments.iter().enumerate() {
            let id = DeploymentId(d as u32);
            let service_selectors = s
                .services
                .iter()
                .filter(|svc| svc.backends.contains(&d))
                .map(|svc| svc.selector.clone())
                .collect();
            c.deployments.push(Deployment {
                id,
                spec: spec.clone(),
                template_key: template_key(&spec.pod),
                replicas: spec.replicas,
                replica_sets: Vec::new(),
                services: Vec::new(),
                service_selectors,
                paused: spec.rollout.paused,
                rollout: RolloutState::default(),
                runs: JobRuns::default(),
                cron: CronState::default(),
                current_revision: None,
            });
            c.create_replica_set(id, SimTime::ZERO);
        }
        for cron in s.cron_jobs {
            c.deployments[cron.deployment].cron.times = Arc::clone(&cron.times);
        }
        c.any_pod_affinity = s.deployments.iter().any(|d| !d.pod.pod_affinity.is_empty());
        c.image_sizes = s.image_sizes.clone();
        c.pdbs = s.pdbs.to_vec();
        for (i, spec) in s.services.iter().enumerate() {
            let id = ServiceId(i as u32);
            c.services.push(Service {
                id,
                name: spec.name.clone(),
                endpoints: Vec::new(),
                endpoints_version: 0,
            });
            for &b in &spec.backends {
                c.deployments[b].services.push(id);
            }
        }
        for (i, spec) in s.hpas.iter().enumerate() {
            let selected = spec.target.map_or(Vec::new(), |t| {
                let target = &s.deployments[t];
                s.deployments
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| {
                        d.namespace == target.namespace
                            && target.selector.matches(&d.template_labels)
                    })
                    .map(|(j, _)| DeploymentId(j as u32))
                    .collect()
            });
            c.hpas.push(Hpa {
                id: HpaId(i as u32),
                spec: spec.clone(),
                target: spec.target.map(|t| DeploymentId(t as u32)),
                selected,
                last_scale_time: None,
            });
        }
        c
    }
}

/// The pod template of a Deployment's ReplicaSet as its pods get it: labelled with
/// `pod-template-hash`, spread constraints' `matchLabelKeys` resolved, and the default
/// spreading selector (the ReplicaSet's selector — the Deployment's plus the hash — ANDed with
/// the selectors of the Services that pick the pods).
fn replica_set_template(
    spec: &DeploymentSpec,
    hash: &str,
    service_selectors: &[crate::cluster::selector::LabelSelector],
) -> PodTemplate {
    let mut pod = spec.pod.clone();
    match spec.source {
        PodSource::Trace | PodSource::Job(_) | PodSource::CronJob(_) => return pod,
        PodSource::DaemonSet => pod
            .tolerations
            .extend(super::resources::daemon_set_tolerations()),
        PodSource::ReplicaSet | PodSource::ReplicationController | PodSource::StatefulSet => {}
    }
    // A StatefulSet's pods carry their revision, but its selector does not.
    let stateful = spec.source == PodSource::StatefulSet;
    let (label, value) = if stateful {
        ("controller-revision-hash", format!("{}-{hash}", spec.name))
    } else {
        (POD_TEMPLATE_HASH_LABEL, hash.to_string())
    };
    pod.labels.insert(label.to_string(), value.clone());
    for c in &mut pod.topology_spread {
        c.merge_match_label_keys(&pod.labels);
    }
    let mut selector = spec.selector.clone();
    if !stateful {
        selector.match_labels.insert(label.to_string(), value);
    }
    for svc in service_selectors {
        selector.match_labels.extend(svc.match_labels.clone());
    }
    pod.default_spread_selector = Some(selector);
    pod
}

/// The label a ReplicaSet adds to its selector and its pods.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

impl Cluster {
    /// Adds a node to a pool (named `<pool>-<n>`, labelled like a real node, in its zone),
    /// still provisioning: [`Cluster::register_node`] makes it Ready.
    pub fn add_node(&mut self, pool: PoolId, now: SimTime) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        let node = self.build_node(pool, id, now);
        let p = &mut self.pools[pool.index()];
        p.nodes.push(id);
        p.size += 1;
        self.node_rows.push(NodeRow::of(&node));
        self.ready_totals.requests_changed(&node);
        self.topology.add(&node);
        self.nodes.push(node);
        self.journal.node_added(id);
        self.journal_node(id);
        id
    }

    /// The node the pool would add next, empty and Ready: the autoscaler's template node.
    pub fn template_node(&self, pool: PoolId) -> Node {
        let mut node = self.build_node(pool, NodeId(u32::MAX), SimTime::ZERO);
        node.state = NodeState::Ready;
        node
    }

    /// The name of the pool's next node, `id`: `<pool>-<index in the pool>`, or for a node
    /// Karpenter launches `<nodepool>-<id>` (its offerings share the NodePool's names).
    pub fn node_name(&self, pool: PoolId, id: NodeId) -> String {
        let p = &self.pools[pool.index()];
        match p.spec.labels.get(crate::spec::karpenter::NODEPOOL_LABEL) {
            Some(np) if p.spec.karpenter.is_some() => format!("{np}-{}", id.0),
            _ => format!("{}-{}", p.spec.name, p.nodes.len()),
        }
    }

    fn build_node(&self, pool: PoolId, id: NodeId, now: SimTime) -> Node {
        let p = &self.pools[pool.index()];
        let index = p.nodes.len();
        let name = self.node_name(pool, id);
        let mut labels = p.spec.labels.clone();
        labels.insert(HOSTNAME_LABEL.into(), name.clone());
        if let Some(t) = &p.spec.instance_type {
            labels.insert(INSTANCE_TYPE_LABEL.into(), t.clone());
        }
        if !p.spec.zones.is_empty() {
            let zone = &p.spec.zones[index % p.spec.zones.len()];
            labels.insert(ZONE_LABEL.into(), zone.clone());
        }
        labels.insert(
            CAPACITY_TYPE_LABEL.into(),
            p.spec.capacity_type.as_str().into(),
        );
        Node {
            id,
            name,
            pool,
            labels: Arc::new(labels),
            allocatable: p.spec.allocatable.clone(),
            max_pods: p.spec.max_pods,
            requested: Resources::default(),
            requested_for_scoring: Resources::default(),
            pod_count: 0,
            pods: IdSet::new(),
            created: now,
            taints: p.spec.taints.clone(),
            unschedulable: false,
            used_ports: Vec::new(),
            images: BTreeSet::new(),
            state: NodeState::Provisioning,
            down_since: None,
            unreachable: false,
        }
    }

    /// Taints a node `ToBeDeletedByClusterAutoscaler:NoSchedule`: no new pods land there.
    pub fn mark_to_be_deleted(&mut self, node: NodeId, now: SimTime) {
        let n = &mut self.nodes[node.index()];
        if !n.is_to_be_deleted() {
            n.taints.push(super::resources::Taint {
                key: TO_BE_DELETED_TAINT.into(),
                value: now.as_secs_f64().to_string(),
                effect: super::resources::TaintEffect::NoSchedule,
            });
            self.refresh_node_row(node);
            self.journal_node(node);
        }
    }

    /// Adds `key:effect` to the node's taints (once).
    pub fn add_taint(&mut self, node: NodeId, key: &str, effect: super::resources::TaintEffect) {
        let n = &mut self.nodes[node.index()];
        if !n.taints.iter().any(|t| t.key == key && t.effect == effect) {
            n.taints.push(super::resources::Taint {
                key: key.into(),
                value: String::new(),
                effect,
            });
            self.refresh_node_row(node);
            self.journal_node(node);
        }
    }

    /// Removes the taint with `key` and `effect`, if the node has it.
    pub fn remove_taint(&mut self, node: NodeId, key: &str, effect: super::resources::TaintEffect) {
        let n = &mut self.nodes[node.index()];
        let before = n.taints.len();
        n.taints.retain(|t| t.key != key || t.effect != effect);
        if n.taints.len() != before {
            self.refresh_node_row(node);
            self.journal_node(node);
        }
    }

    /// Removes every taint with `key`.
    pub fn remove_taints(&mut self, node: NodeId, key: &str) {
        self.nodes[node.index()].taints.retain(|t| t.key != key);
        self.refresh_node_row(node);
        self.journal_node(node);
    }

    /// `spec.unschedulable` (`kubectl cordon` / `uncordon`).
    pub fn set_unschedulable(&mut self, node: NodeId, unschedulable: bool) {
        self.nodes[node.index()].unschedulable = unschedulable;
        self.refresh_node_row(node);
        self.journal_node(node);
    }

    /// The machine goes down (`Some(since)`) or comes back (`None`).
    pub fn set_down(&mut self, node: NodeId, since: Option<SimTime>) {
        self.nodes[node.index()].down_since = since;
        if self.machines_down.len() <= node.index() {
            self.machines_down.resize(node.index() + 1, false);
        }
        self.machines_down[node.index()] = since.is_some();
        self.journal_node(node);
    }

    /// The node lifecycle controller found the node unreachable (Ready `Unknown`), or
    /// reachable again.
    pub fn set_unreachable(&mut self, node: NodeId, unreachable: bool) {
        self.nodes[node.index()].unreachable = unreachable;
        self.journal_node(node);
    }

    /// The node whose name is `name`, if it exists (and is not removed).
    pub fn node_named(&self, name: &str) -> Option<NodeId> {
        self.nodes
            .iter()
            .find(|n| n.name == name && n.state != NodeState::Removed)
            .map(|n| n.id)
    }

    /// Takes the `ToBeDeletedByClusterAutoscaler` taint off again (a scale-down that failed).
    pub fn clear_to_be_deleted(&mut self, node: NodeId) {
        self.remove_taints(node, TO_BE_DELETED_TAINT);
        self.remove_taints(node, crate::spec::karpenter::DISRUPTED_TAINT);
    }

    /// Records a failed scheduling attempt (keeps the first time).
    pub fn mark_unschedulable(&mut self, pod: PodId, now: SimTime) {
        self.pods[pod.index()]
            .unschedulable_since
            .get_or_insert(now);
    }

    /// A provisioned node registers and turns Ready.
    pub fn register_node(&mut self, node: NodeId) {
        let n = &mut self.nodes[node.index()];
        if n.state != NodeState::Provisioning {
            return;
        }
        n.state = NodeState::Ready;
        if let Err(i) = self.ready_nodes.binary_search(&node) {
            self.ready_nodes_version += 1;
            self.ready_nodes.insert(i, node);
            self.topology.node_ready(&self.nodes[node.index()], true);
            self.ready_totals
                .readiness_changed(&self.nodes[node.index()], true);
        }
        self.journal_node(node);
    }

    /// Removes a node (scale-down, or a node that never registered). Its pods must be gone.
    pub fn remove_node(&mut self, node: NodeId) {
        let n = &mut self.nodes[node.index()];
        if n.state == NodeState::Removed {
            return;
        }
        n.state = NodeState::Removed;
        self.pools[n.pool.index()].size -= 1;
        for image in &n.images {
            if let Some(count) = self.image_nodes.get_mut(image) {
                *count = count.saturating_sub(1);
            }
        }
        if let Ok(i) = self.ready_nodes.binary_search(&node) {
            self.ready_nodes_version += 1;
            self.ready_nodes.remove(i);
            self.topology.node_ready(&self.nodes[node.index()], false);
            self.ready_totals
                .readiness_changed(&self.nodes[node.index()], false);
        }
        self.journal_node(node);
    }

    /// Undoes [`Cluster::register_node`]: the node is provisioning again.
    pub(super) fn unregister_node(&mut self, node: NodeId) {
        self.nodes[node.index()].state = NodeState::Provisioning;
        if let Ok(i) = self.ready_nodes.binary_search(&node) {
            self.ready_nodes_version += 1;
            self.ready_nodes.remove(i);
            self.topology.node_ready(&self.nodes[node.index()], false);
            self.ready_totals
                .readiness_changed(&self.nodes[node.index()], false);
        }
    }

    /// Undoes [`Cluster::add_node`] of the newest node (no pod on it, not registered), with the
    /// topology domains it brought.
    pub(super) fn remove_last_node(
        &mut self,
        node: NodeId,
        topology: super::topology::TopologyMark,
    ) {
        assert_eq!(
            node.index() + 1,
            self.nodes.len(),
            "only the newest node can be taken back"
        );
        let n = self.nodes.pop().expect("the newest node");
        debug_assert!(n.pods.is_empty() && n.state == NodeState::Provisioning);
        let p = &mut self.pools[n.pool.index()];
        p.nodes.pop();
        p.size -= 1;
        self.node_rows.pop();
        self.ready_totals.node_removed_last();
        self.topology.truncate(topology);
    }

    /// The node with id `id` (removed ones included).
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    /// Whether the node's machine is down (its `down_since` is set).
    #[inline]
    pub fn is_down(&self, id: NodeId) -> bool {
        let down = self.machines_down.get(id.index()).copied().unwrap_or(false);
        debug_assert_eq!(down, self.node(id).down_since.is_some());
        down
    }

    /// The scheduler's compact copy of a node ([`NodeRow`]).
    #[inline]
    pub fn node_row(&self, id: NodeId) -> &NodeRow {
        &self.node_rows[id.index()]
    }

    /// Re-derives a node's [`NodeRow`] after a change to it made outside this type's methods
    /// (tests; anything that edits `nodes` directly must call it).
    pub fn refresh_node_row(&mut self, id: NodeId) {
        self.ready_totals.requests_changed(&self.nodes[id.index()]);
        let row = NodeRow::of(&self.nodes[id.index()]);
        match self.node_rows.get_mut(id.index()) {
            Some(slot) => *slot = row,
            None => {
                assert_eq!(self.node_rows.len(), id.index(), "node rows out of step");
                self.node_rows.push(row);
            }
        }
    }

    /// Pods bound to a node and not yet gone, by id.
    pub fn pods_on(&self, node: NodeId) -> impl Iterator<Item = &Pod> {
        self.nodes[node.index()]
            .pods
            .iter()
            .map(|&p| &self.pods[p.index()])
    }

    /// The pod with id `id` (terminated ones included).
    pub fn pod(&self, id: PodId) -> &Pod {
        &self.pods[id.index()]
    }

    pub(crate) fn pod_mut(&mut self, id: PodId) -> &mut Pod {
        &mut self.pods[id.index()]
    }

    /// The workload with id `id`.
    pub fn deployment(&self, id: DeploymentId) -> &Deployment {
        &self.deployments[id.index()]
    }

    /// Creates a ReplicaSet (no replicas yet) from the Deployment's `spec.template`, with the
    /// next revision.
    pub fn create_replica_set(&mut self, dep: DeploymentId, now: SimTime) -> ReplicaSetId {
        let id = ReplicaSetId(self.replica_sets.len() as u32);
        let d = &self.deployments[dep.index()];
        let hash = template_hash(&d.template_key);
        let revision = self.max_revision(dep) + 1;
        let template = replica_set_template(&d.spec, &hash, &d.service_selectors);
        let (desired_annotation, max_annotation) = d.replica_annotations();
        self.replica_sets.push(ReplicaSet {
            id,
            // A ReplicationController's pods are `<rc>-<suffix>`: it is its own ReplicaSet.
            name: if d.spec.source == PodSource::ReplicationController {
                d.spec.name.clone()
            } else {
                format!("{}-{hash}", d.spec.name)
            },
            deployment: dep,
            template: Arc::new(template),
            source_template: Arc::new(d.spec.pod.clone()),
            template_key: Arc::clone(&d.template_key),
            revision,
            created: now,
            desired_annotation,
            max_annotation,
            ..ReplicaSet::default()
        });
        let d = &mut self.deployments[dep.index()];
        d.replica_sets.push(id);
        d.current_revision.get_or_insert(id);
        id
    }

    /// The highest revision among a Deployment's ReplicaSets (0: none).
    pub fn max_revision(&self, dep: DeploymentId) -> u64 {
        self.deployments[dep.index()]
            .replica_sets
            .iter()
            .map(|rs| self.replica_sets[rs.index()].revision)
            .max()
            .unwrap_or(0)
    }

    /// The template of the Deployment's newest ReplicaSet: what its next pods get (a
    /// DaemonSet's only one).
    pub fn current_template(&self, dep: DeploymentId) -> &Arc<PodTemplate> {
        let newest = self.deployments[dep.index()]
            .replica_sets
            .iter()
            .max_by_key(|rs| self.replica_sets[rs.index()].revision)
            .expect("every workload has a ReplicaSet");
        &self.replica_sets[newest.index()].template
    }

    /// Replaces the Deployment's `spec.template` (and strategy, settings) as `kubectl apply`
    /// does; the Deployment controller rolls it out.
    pub fn set_deployment_spec(&mut self, dep: DeploymentId, spec: DeploymentSpec) {
        let d = &mut self.deployments[dep.index()];
        d.template_key = template_key(&spec.pod);
        d.spec = spec;
    }

    /// Deletes a ReplicaSet with no pods left (revision history limit).
    pub fn delete_replica_set(&mut self, rs: ReplicaSetId) {
        let set = &mut self.replica_sets[rs.index()];
        set.deleted = true;
        let dep = set.deployment;
        self.deployments[dep.index()]
            .replica_sets
            .retain(|&r| r != rs);
    }

    /// Creates a pending pod for a ReplicaSet from its template.
    pub fn create_pod(&mut self, rs: ReplicaSetId, now: SimTime) -> PodId {
        let template = Arc::clone(&self.replica_sets[rs.index()].template);
        self.create_pod_from(rs, template, now)
    }

    /// Creates a pending pod for a ReplicaSet from `template`: its own, or as an admission
    /// webhook changed it.
    pub fn create_pod_from(
        &mut self,
        rs: ReplicaSetId,
        template: Arc<PodTemplate>,
        now: SimTime,
    ) -> PodId {
        let set = &self.replica_sets[rs.index()];
        let name = format!("{}-{}", set.name, pod_suffix(self.pods.len() as u32));
        self.create_pod_with(rs, name, template, now)
    }

    /// Creates a DaemonSet's pod for `node` from `template` (its current template, as admission
    /// left it) with the required node affinity replaced by one term matching the node's name.
    pub fn create_daemon_pod(
        &mut self,
        deployment: DeploymentId,
        node: NodeId,
        template: &PodTemplate,
        now: SimTime,
    ) -> PodId {
        let d = &self.deployments[deployment.index()];
        let mut template = template.clone();
        template.required_node_affinity = vec![super::selector::NodeSelectorTerm {
            match_expressions: Vec::new(),
            match_fields: vec![super::selector::NodeRequirement {
                key: "metadata.name".into(),
                operator: super::selector::NodeOperator::In,
                values: vec![self.nodes[node.index()].name.clone()],
            }],
        }];
        template.daemon_node = Some(node);
        // The revision of the current template (the controller creates it first).
        let rs = d
            .replica_sets
            .iter()
            .copied()
            .find(|rs| self.replica_sets[rs.index()].has_template_of(d))
            .unwrap_or(d.replica_sets[0]);
        let name = format!("{}-{}", d.spec.name, pod_suffix(self.pods.len() as u32));
        self.create_pod_with(rs, name, Arc::new(template), now)
    }

    /// Creates a StatefulSet's pod `<name>-<ordinal>` of revision `rs` from `template` (the
    /// revision's, as admission left it).
    pub fn create_stateful_pod(
        &mut self,
        rs: ReplicaSetId,
        ordinal: u32,
        template: Arc<PodTemplate>,
        now: SimTime,
    ) -> PodId {
        let set = &self.replica_sets[rs.index()];
        let name = format!(
            "{}-{ordinal}",
            self.deployments[set.deployment.index()].spec.name
        );
        let pod = self.create_pod_with(rs, name, template, now);
        self.pods[pod.index()].ordinal = Some(ordinal);
        pod
    }

    /// Creates a pending pod with its own name and spec (a pod from a trace), owned by `rs` for
    /// bookkeeping.
    pub fn create_pod_with(
        &mut self,
        rs: ReplicaSetId,
        name: String,
        template: Arc<PodTemplate>,
        now: SimTime,
    ) -> PodId {
        let id = PodId(self.pods.len() as u32);
        let set = &mut self.replica_sets[rs.index()];
        set.pods.insert(id);
        set.pods_have_own_templates |= !Arc::ptr_eq(&template, &set.template);
        self.pods.push(Pod {
            id,
            name,
            deployment: set.deployment,
            replica_set: rs,
            phase: PodPhase::Pending,
            node: None,
            created: now,
            started: None,
            ready: false,
            ready_transition: now,
            deletion: None,
            ordinal: None,
            restarts: 0,
            template,
            unschedulable_since: None,
            nominated_node: None,
            backoff: false,
            config_error: false,
            exit: None,
            job_run: 0,
        });
        self.unscheduled.insert(id);
        self.newly_unscheduled.push(id);
        let template = &self.pods[id.index()].template;
        self.journal.pod_created(id, template);
        id
    }

    /// Binds a pending pod to a node and reserves its requests there; the kubelet pulls its
    /// images.
    pub fn bind(&mut self, pod: PodId, node: NodeId) {
        let template = Arc::clone(&self.pods[pod.index()].template);
        let n = &mut self.nodes[node.index()];
        // The kubelet pulls the images; the node reports them from then on.
        for image in &template.images {
            if n.images.insert(image.clone()) {
                *self.image_nodes.entry(image.clone()).or_default() += 1;
            }
        }
        self.place(pod, node);
        self.journal_pod(pod);
    }

    /// Binds a pending pod to a node and reserves its requests there (no image pull: what a
    /// [`Trial`](super::trial::Trial) does, and what [`Cluster::unbind`] undoes exactly).
    pub(super) fn place(&mut self, pod: PodId, node: NodeId) {
        let template = Arc::clone(&self.pods[pod.index()].template);
        let n = &mut self.nodes[node.index()];
        n.reserve(&template);
        n.pods.insert(pod);
        self.refresh_node_row(node);
        let p = &mut self.pods[pod.index()];
        p.unschedulable_since = None;
        p.nominated_node = None;
        self.nominated.remove(&pod);
        *self.bound_priorities.entry(template.priority).or_default() += 1;
        assert!(p.node.is_none(), "pod {} bound twice", p.name);
        p.node = Some(node);
        if p.deletion.is_none() {
            self.label_groups
                .add(pod, &template.namespace, &template.labels, node);
        }
        self.unscheduled.remove(&pod);
    }

    /// Reserves a pod's requests on a node without binding a pod (a simulation's).
    pub(super) fn reserve_on(&mut self, node: NodeId, template: &PodTemplate) {
        self.nodes[node.index()].reserve(template);
        self.refresh_node_row(node);
    }

    /// Releases what [`Cluster::reserve_on`] took.
    pub(super) fn release_on(&mut self, node: NodeId, template: &PodTemplate) {
        self.nodes[node.index()].release(template);
        self.refresh_node_row(node);
    }

    /// Debug check: the label groups' counts equal a recount of every node's pods.
    #[cfg(debug_assertions)]
    pub fn check_label_groups(&self) {
        let mut expected: std::collections::BTreeMap<(&str, &Labels, NodeId), u32> =
            std::collections::BTreeMap::new();
        for node in &self.nodes {
            for p in node.pods.iter().map(|&id| &self.pods[id.index()]) {
                if p.deletion.is_none() {
                    let key = (p.template.namespace.as_str(), &p.template.labels, node.id);
                    *expected.entry(key).or_insert(0) += 1;
                }
            }
        }
        let mut counted = std::collections::BTreeMap::new();
        for g in self.label_groups.groups() {
            for (&node, &n) in &g.on_node {
                counted.insert((g.namespace.as_str(), &g.labels, node), n);
            }
        }
        assert_eq!(counted, expected, "label group counts are stale");
    }

    /// The lowest priority of a bound pod (`None`: no pod is bound).
    pub fn lowest_bound_priority(&self) -> Option<i32> {
        self.bound_priorities.keys().next().copied()
    }

    /// Records that preemption made room for `pod` on `node`.
    pub fn nominate(&mut self, pod: PodId, node: NodeId) {
        self.pods[pod.index()].nominated_node = Some(node);
        self.nominated.insert(pod);
    }

    /// The garbage collector after a Job of `rs`'s workload is deleted: the Job's pods that
    /// had already ended (Kubernetes keeps them, Succeeded or Failed, until their Job goes) leave
    /// the ReplicaSet's list, so that what controllers and samples walk stays what is alive.
    /// The pods themselves stay in [`Cluster::pods`] for the run's history.
    pub fn collect_ended_pods_of_run(&mut self, rs: ReplicaSetId, run: u32) {
        let pods = &self.pods;
        self.replica_sets[rs.index()].pods.retain(|p| {
            let pod = &pods[p.index()];
            !(pod.job_run == run && pod.phase == PodPhase::Terminated && pod.deletion.is_none())
        });
    }

    /// Makes a new pod Job `run`'s, with completion index `index` for an Indexed Job.
    pub fn set_job_pod(&mut self, pod: PodId, run: u32, index: Option<u32>) {
        let p = &mut self.pods[pod.index()];
        p.ordinal = index;
        p.job_run = run;
        if p.is_active() {
            let job = p.deployment;
            self.deployments[job.index()].runs.pod_active(run, pod);
        }
    }

    /// Marks a pod for deletion: it stops counting for its ReplicaSet and leaves endpoints.
    pub fn mark_deleted(&mut self, pod: PodId, now: SimTime) {
        let p = &mut self.pods[pod.index()];
        if p.deletion.is_some() {
            return;
        }
        if p.phase != PodPhase::Terminated {
            let (job, run) = (p.deployment, p.job_run);
            self.deployments[job.index()].runs.pod_inactive(run, pod);
        }
        let p = &mut self.pods[pod.index()];
        p.deletion = Some(now);
        if let Some(node) = p.node.filter(|_| p.phase != PodPhase::Terminated) {
            let t = &p.template;
            self.label_groups.remove(pod, &t.namespace, &t.labels, node);
        }
        let (rs, ready) = (p.replica_set, p.ready);
        self.leave_ready_count(pod, rs, ready);
        self.replica_sets[rs.index()].pods.remove(&pod);
        self.unscheduled.remove(&pod);
        self.terminating.insert(pod);
        self.set_ready(pod, false, now);
        self.journal_pod(pod);
    }

    /// The pod is gone: frees its node's resources.
    pub fn terminate(&mut self, pod: PodId) {
        let p = &mut self.pods[pod.index()];
        if p.phase == PodPhase::Terminated {
            return;
        }
        if let Some(node) = p.node.filter(|_| p.deletion.is_none()) {
            let t = &p.template;
            self.label_groups.remove(pod, &t.namespace, &t.labels, node);
        }
        p.phase = PodPhase::Terminated;
        if p.deletion.is_none() {
            let (job, run) = (p.deployment, p.job_run);
            self.deployments[job.index()].runs.pod_inactive(run, pod);
        }
        let p = &mut self.pods[pod.index()];
        let (rs, ready) = (p.replica_set, std::mem::take(&mut p.ready));
        let bound = p.node.map(|node| (node, Arc::clone(&p.template)));
        self.leave_ready_count(pod, rs, ready);
        self.terminating.remove(&pod);
        self.running.remove(pod);
        if let Some((node, template)) = bound {
            self.release_from(node, pod, &template);
        }
        self.nominated.remove(&pod);
        self.journal_pod(pod);
    }

    /// Takes a bound pod off its node again and makes it Pending: how the autoscaler's
    /// simulations move pods (on a copy of the cluster).
    pub fn unbind(&mut self, pod: PodId) {
        let p = &mut self.pods[pod.index()];
        let Some(node) = p.node.take() else {
            return;
        };
        let template = Arc::clone(&p.template);
        if p.deletion.is_none() && p.phase != PodPhase::Terminated {
            self.label_groups
                .remove(pod, &template.namespace, &template.labels, node);
        }
        if p.is_active() && self.unscheduled.insert(pod) {
            self.newly_unscheduled.push(pod);
        }
        self.release_from(node, pod, &template);
    }

    /// Frees what a pod took on its node (requests, pod index, priority count).
    fn release_from(&mut self, node: NodeId, pod: PodId, template: &PodTemplate) {
        let n = &mut self.nodes[node.index()];
        n.release(template);
        n.pods.remove(&pod);
        self.refresh_node_row(node);
        if let Some(count) = self.bound_priorities.get_mut(&template.priority) {
            *count -= 1;
            if *count == 0 {
                self.bound_priorities.remove(&template.priority);
            }
        }
    }

    /// Containers started: Running (and Ready when `ready`: no probe has to pass first).
    pub fn start(&mut self, pod: PodId, now: SimTime, ready: bool) {
        let p = &mut self.pods[pod.index()];
        p.phase = PodPhase::Running;
        p.started = Some(now);
        self.running.insert(pod, now);
        self.set_ready(pod, ready, now);
        self.journal_pod(pod);
    }

    /// The kubelet killed the pod's container (a failed probe, the memory limit, a crash): it
    /// counts a restart and waits out its backoff.
    pub fn container_killed(&mut self, pod: PodId) {
        let p = &mut self.pods[pod.index()];
        p.restarts += 1;
        p.backoff = true;
        self.journal_pod(pod);
    }

    /// The backoff is over: the container runs again (Ready at once when `ready`).
    pub fn container_restarted(&mut self, pod: PodId, ready: bool, now: SimTime) {
        self.pods[pod.index()].backoff = false;
        self.set_ready(pod, ready, now);
        self.journal_pod(pod);
    }

    /// Whether the kubelet could not create the pod's container for want of a ConfigMap or
    /// Secret (`CreateContainerConfigError`).
    pub fn set_config_error(&mut self, pod: PodId, error: bool) {
        self.pods[pod.index()].config_error = error;
        self.journal_pod(pod);
    }

    /// Σ requested and Σ allocatable over the Ready nodes (kept as they change; debug builds
    /// check them against a sum over the nodes).
    pub fn allocation_totals(&self) -> super::accounting::AllocationTotals {
        let totals = self.ready_totals.totals();
        debug_assert_eq!(totals, super::accounting::AllocationTotals::of(self));
        totals
    }

    /// The indexes of the budgets covering the pods of `template` (`find` finds them; it is
    /// asked once per template).
    pub fn pdbs_covering(
        &self,
        template: &Arc<PodTemplate>,
        find: impl FnOnce() -> Vec<usize>,
    ) -> Arc<[usize]> {
        let key = Arc::as_ptr(template) as usize;
        let mut cache = self.pdb_cover.0.borrow_mut();
        let (budgets, by_template) = &mut *cache;
        if *budgets != self.pdbs.len() {
            (*budgets, *by_template) = (self.pdbs.len(), Default::default());
        }
        Arc::clone(by_template.entry(key).or_insert_with(|| find().into()))
    }

    /// Records the pod's state in the journal (kept only if it changed).
    fn journal_pod(&mut self, pod: PodId) {
        let state = super::journal::pod_state(&self.pods[pod.index()]);
        self.journal.pod(pod, state);
    }

    /// A pod that was `ready` stops counting among its ReplicaSet's Ready pods (if it was one
    /// of its active pods).
    fn leave_ready_count(&mut self, pod: PodId, rs: ReplicaSetId, ready: bool) {
        let set = &mut self.replica_sets[rs.index()];
        if ready && set.pods.contains(&pod) {
            set.ready_pods -= 1;
        }
    }

    /// Records the node's state in the journal (kept only if it changed).
    fn journal_node(&mut self, node: NodeId) {
        let state = super::journal::node_state(&self.nodes[node.index()]);
        self.journal.node(node, state);
    }

    /// Sets the Ready condition and keeps the Services' endpoint lists in step.
    pub fn set_ready(&mut self, pod: PodId, ready: bool, now: SimTime) {
        let p = &mut self.pods[pod.index()];
        if p.ready == ready {
            return;
        }
        p.ready = ready;
        p.ready_transition = now;
        let (dep, rs) = (p.deployment, p.replica_set);
        let set = &mut self.replica_sets[rs.index()];
        if set.pods.contains(&pod) {
            set.ready_pods += if ready { 1 } else { -1 };
        }
        for &s in &self.deployments[dep.index()].services {
            let service = &mut self.services[s.index()];
            let endpoints = &mut service.endpoints;
            match (endpoints.binary_search(&pod), ready) {
                (Err(i), true) => endpoints.insert(i, pod),
                (Ok(i), false) => {
                    endpoints.remove(i);
                }
                _ => continue,
            }
            service.endpoints_version += 1;
        }
        self.journal_pod(pod);
    }

    /// Nodes the pool has now (provisioning, ready or draining): what it is billed for.
    pub fn node_count(&self, pool: PoolId) -> usize {
        self.pools[pool.index()].size
    }

    /// Pods of a ReplicaSet that still exist: the active ones (by id), then those terminating
    /// (by id). No allocation: the HPA calls this every sync.
    pub fn pods_of(&self, rs: ReplicaSetId) -> impl Iterator<Item = &Pod> {
        self.pod_ids_of(rs).map(|id| &self.pods[id.index()])
    }

    /// [`Cluster::pods_of`] by id (only the terminating pods are looked at).
    pub fn pod_ids_of(&self, rs: ReplicaSetId) -> impl Iterator<Item = PodId> + Clone + '_ {
        let active = self.replica_sets[rs.index()].pods.iter().copied();
        active.chain(self.terminating_of(rs))
    }

    /// The ReplicaSet's terminating pods (deleting, not yet gone), by id.
    pub fn terminating_of(&self, rs: ReplicaSetId) -> impl Iterator<Item = PodId> + Clone + '_ {
        let terminating = self.terminating.iter().copied();
        terminating.filter(move |p| self.pods[p.index()].replica_set == rs)
    }

    /// Pods of a Deployment that are Ready (from its ReplicaSets' counts: a Job of 100 000
    /// pods is not read pod by pod at every pod end).
    pub fn ready_pods(&self, dep: DeploymentId) -> usize {
        let sets = &self.deployments[dep.index()].replica_sets;
        let ready: i32 = (sets.iter())
            .map(|rs| self.replica_sets[rs.index()].ready_pods)
            .sum();
        debug_assert_eq!(
            ready as usize,
            (sets.iter())
                .flat_map(|rs| self.replica_sets[rs.index()].pods.iter())
                .filter(|p| self.pods[p.index()].ready)
                .count(),
            "ReplicaSet ready counts out of step"
        );
        ready.max(0) as usize
    }
}

/// A template printed in full: equal templates print the same. Its last three fields came
/// later: what the effective requests are made of (`request_parts`, which follows from the
/// printed containers) is always left out; what the Cluster Autoscaler's drainability rules
/// read and the ConfigMap and Secret references are left out while they say nothing. So the
/// templates without them keep the hashes (and their pods the names) they had.
fn template_key(pod: &PodTemplate) -> Arc<str> {
    let mut printed = format!("{pod:?}");
    let parts = format!(", request_parts: {:?}", pod.request_parts);
    if let Some(at) = printed.rfind(&parts) {
        printed.replace_range(at..at + parts.len(), "");
    }
    if pod.drain == crate::spec::model::DrainTraits::default() {
        let default = format!(", drain: {:?}", pod.drain);
        if let Some(at) = printed.rfind(&default) {
            printed.replace_range(at..at + default.len(), "");
        }
    }
    match printed.strip_suffix(", config_refs: [] }") {
        Some(before) => Arc::from(format!("{before} }}")),
        None => Arc::from(printed),
    }
}

/// The `pod-template-hash` label: as upstream's `ComputeHash`, a 32-bit FNV-1a hash of the
/// printed template, written in decimal and each character mapped into the alphabet of
/// generated names (`SafeEncodeString`).
fn template_hash(key: &str) -> String {
    let mut h: u32 = 2_166_136_261;
    for b in key.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(16_777_619);
    }
    h.to_string()
        .bytes()
        .map(|b| NAME_ALPHABET[usize::from(b) % NAME_ALPHABET.len()] as char)
        .collect()
}

/// The characters of generated names (no vowels, no look-alikes).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Five characters derived bijectively from the id (unique below 27⁵ pods), like the
/// apiserver's generated name suffixes.
pub fn pod_suffix(n: u32) -> String {
    const ALPHABET: &[u8] = NAME_ALPHABET;
    const SPACE: u64 = 27 * 27 * 27 * 27 * 27;
    // 7919 is coprime with 27, so this is a permutation of 0..27⁵.
    let mut x = (u64::from(n) * 7919 + 12_345) % SPACE;
    (0..5)
        .map(|_| {
            let c = ALPHABET[(x % 27) as usize] as char;
            x /= 27;
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::config::{ConfigKind, ConfigRef, ConfigUse};

    #[test]
    fn templates_without_config_references_keep_their_hash() {
        // The key of a template without references prints no `config_refs` field at all
        // (its hash is what it was before the field existed); one with references differs.
        let plain = PodTemplate::default();
        let key = template_key(&plain);
        assert!(key.ends_with("default_spread_selector: None }"), "{key}");
        let mut with_refs = plain.clone();
        with_refs.config_refs.push(ConfigRef {
            kind: ConfigKind::ConfigMap,
            name: "app".into(),
            keys: vec![],
            usage: ConfigUse::Env,
            field: "containers[0].envFrom[0].configMapRef".into(),
        });
        let other = template_key(&with_refs);
        assert!(other.contains("config_refs: [ConfigRef"), "{other}");
        assert_ne!(template_hash(&key), template_hash(&other));
    }
}

#[cfg(test)]
mod pod_layout_tests {
    use super::Pod;
    use std::mem::{align_of, offset_of, size_of_val};

    /// The fields the scans over every live pod read end within the first cache line, and a
    /// pod starts at one.
    #[test]
    fn the_fields_every_scan_reads_share_the_first_cache_line() {
        let p = Pod::default();
        let ends = [
            (
                "deployment",
                offset_of!(Pod, deployment) + size_of_val(&p.deployment),
            ),
            (
                "replica_set",
                offset_of!(Pod, replica_set) + size_of_val(&p.replica_set),
            ),
            ("phase", offset_of!(Pod, phase) + size_of_val(&p.phase)),
            ("ready", offset_of!(Pod, ready) + size_of_val(&p.ready)),
            (
                "started",
                offset_of!(Pod, started) + size_of_val(&p.started),
            ),
            (
                "deletion",
                offset_of!(Pod, deletion) + size_of_val(&p.deletion),
            ),
            (
                "ready_transition",
                offset_of!(Pod, ready_transition) + size_of_val(&p.ready_transition),
            ),
            (
                "template",
                offset_of!(Pod, template) + size_of_val(&p.template),
            ),
        ];
        for (field, end) in ends {
            assert!(end <= 64, "{field} ends at byte {end}");
        }
        assert_eq!(align_of::<Pod>(), 64);
    }
}
