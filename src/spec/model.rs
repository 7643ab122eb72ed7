//! The specs a scenario is made of, validated and typed: node pools, workloads (Deployments,
//! and StatefulSets, DaemonSets, Jobs, CronJobs, bare Pods and ReplicationControllers as
//! Deployments with a source), pod templates, PodDisruptionBudgets, Services and their traffic
//! and call graphs, HPAs and their metrics, the Cluster Autoscaler's and the HPA controller's
//! settings, SLOs and scripted events. The scenario loader (`scenario`) builds them, the cluster
//! is made from them and the controllers read them.

use crate::sim::dist::DurationDist;
use crate::sim::{SimDuration, SimTime};
pub use crate::spec::metrics::PodMetricSource;
pub use crate::spec::pod_resources::{ContainerRequests, RequestParts};

use super::resources::{Resources, Taint, Toleration};
use super::selector::{LabelSelector, Labels, NodeSelectorTerm};

/// A pool of identical nodes.
#[derive(Clone, Debug)]
pub struct NodePoolSpec {
    /// The pool's name (its nodes are `<name>-<index>`).
    pub name: String,
    /// The cloud instance type (for display and cost reports).
    pub instance_type: Option<String>,
    /// Nodes at the start.
    pub count: u32,
    /// What each node offers pods.
    pub allocatable: Resources,
    /// Most pods per node (the `pods` capacity).
    pub max_pods: i64,
    /// Labels on every node (zone labels are added per node).
    pub labels: Labels,
    /// Annotations on every node.
    pub annotations: Labels,
    /// Taints on every node.
    pub taints: Vec<Taint>,
    /// On-demand price, USD per node-hour.
    pub price_usd_per_hour: f64,
    /// On-demand or spot.
    pub capacity_type: CapacityType,
    /// Spot price, USD per node-hour (`Some` exactly when `capacity_type` is spot).
    pub spot_price_usd_per_hour: Option<f64>,
    /// Bounds on the pool's size for the Cluster Autoscaler.
    pub min_count: u32,
    /// The most nodes the Cluster Autoscaler may grow it to.
    pub max_count: u32,
    /// Request to Ready of a new node.
    pub provisioning_time: DurationDist,
    /// Zones nodes are spread over, round-robin by node index (may be empty).
    pub zones: Vec<String>,
    /// Random machine failures (`None`: nodes never fail on their own).
    pub failures: Option<NodeFailures>,
    /// Mean time between spot interruptions of a node (spot pools; `None`: never).
    pub spot_interruption_mtbi: Option<SimDuration>,
    /// Bytes per second a node pulls images at (`None`: pulls take no time).
    pub image_pull_bandwidth: Option<i64>,
    /// How the pool's kubelets enforce CPU limits.
    pub kubelet: KubeletCpu,
    /// The Karpenter offering this pool stands for (`None`: a node group of the scenario,
    /// which only the Cluster Autoscaler resizes).
    pub karpenter: Option<crate::spec::karpenter::Offering>,
}

/// The kubelet's CPU limit settings (`cpuCFSQuota`, `cpuCFSQuotaPeriod`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KubeletCpu {
    /// CPU limits become CFS quotas (`false`: limits are not enforced).
    pub cfs_quota: bool,
    /// The CFS period (`cpu.cfs_period_us`).
    pub cfs_quota_period: SimDuration,
}

impl KubeletCpu {
    /// The kubelet's default period (`cpuCFSQuotaPeriod`).
    pub const DEFAULT_PERIOD: SimDuration = SimDuration::from_millis(100);
}

impl Default for KubeletCpu {
    fn default() -> Self {
        KubeletCpu {
            cfs_quota: true,
            cfs_quota_period: KubeletCpu::DEFAULT_PERIOD,
        }
    }
}

/// A pool's random machine failures: each node fails after an exponential time with mean
/// `mtbf` and is back after `repair_time`, then runs until its next failure.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeFailures {
    /// Mean time between failures of a node.
    pub mtbf: SimDuration,
    /// How long a failed machine takes to come back.
    pub repair_time: DurationDist,
}

impl NodePoolSpec {
    /// What one node costs per hour at the pool's capacity type.
    pub fn billed_price_per_hour(&self) -> f64 {
        match self.capacity_type {
            CapacityType::OnDemand => self.price_usd_per_hour,
            CapacityType::Spot => self
                .spot_price_usd_per_hour
                .unwrap_or(self.price_usd_per_hour),
        }
    }
}

/// How a pool's nodes are bought.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CapacityType {
    /// Billed at the on-demand price.
    #[default]
    OnDemand,
    /// Billed at the spot price, and may be interrupted.
    Spot,
}

impl CapacityType {
    /// The capacity type as reports spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            CapacityType::OnDemand => "on-demand",
            CapacityType::Spot => "spot",
        }
    }
}

/// A Deployment from the manifests, with the scenario's workload model attached.
#[derive(Clone, Debug)]
pub struct DeploymentSpec {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `spec.replicas` at the start.
    pub replicas: i32,
    /// `spec.selector`.
    pub selector: LabelSelector,
    /// The pod template's labels.
    pub template_labels: Labels,
    /// The pod template, with defaults and LimitRanges applied.
    pub pod: PodTemplate,
    /// `spec.strategy` (RollingUpdate 25 %/25 % by default).
    pub strategy: crate::spec::rollout::Strategy,
    /// `minReadySeconds`, `progressDeadlineSeconds`, `revisionHistoryLimit`, `paused`.
    pub rollout: RolloutSettings,
    /// A StatefulSet's pod management and partition.
    pub stateful: StatefulSettings,
    /// How its pods serve requests (the scenario's `spec.workloads[]` entry).
    pub workload: WorkloadModel,
    /// Who creates the pods: a ReplicaSet (a Deployment from the manifests) or a pod trace.
    pub source: PodSource,
}

/// A StatefulSet's `podManagementPolicy` and rolling-update `partition`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatefulSettings {
    /// `Parallel` (else `OrderedReady`: one pod at a time, in ordinal order).
    pub parallel: bool,
    /// Pods with a lower ordinal keep the old revision.
    pub partition: i32,
}

/// The Deployment fields that shape a rollout besides the strategy (apps/v1 defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RolloutSettings {
    /// `minReadySeconds`: how long a pod must have been Ready to count as available.
    pub min_ready: SimDuration,
    /// `progressDeadlineSeconds` (`None`: never times out).
    pub progress_deadline: Option<SimDuration>,
    /// `revisionHistoryLimit`: old ReplicaSets kept (scaled to 0) for rollbacks.
    pub revision_history_limit: i32,
    /// `paused`: template changes do not roll out (scaling still applies).
    pub paused: bool,
}

impl Default for RolloutSettings {
    /// 0 s, 600 s, 10, not paused.
    fn default() -> Self {
        RolloutSettings {
            min_ready: SimDuration::ZERO,
            progress_deadline: Some(SimDuration::from_secs(600)),
            revision_history_limit: 10,
            paused: false,
        }
    }
}

/// Bare pods from a trace, created and deleted at given times.
#[derive(Clone, Debug)]
pub struct PodTraceSpec {
    /// The trace's name.
    pub name: String,
    /// The workload entry (in `Scenario::deployments`) the pods are reported under.
    pub deployment: usize,
    /// In order of creation.
    pub pods: Vec<TracePod>,
}

/// One pod of a trace.
#[derive(Clone, Debug)]
pub struct TracePod {
    /// The pod's name.
    pub name: String,
    /// When it is created.
    pub create: SimTime,
    /// When it is deleted (`None`: it stays).
    pub delete: Option<SimTime>,
    /// Its pod template.
    pub template: std::sync::Arc<PodTemplate>,
}

/// Where a workload's pods come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PodSource {
    /// A Deployment: its ReplicaSet keeps `replicas` pods.
    #[default]
    ReplicaSet,
    /// Bare pods created and deleted at the times of a pod trace (`spec.podTraces`).
    Trace,
    /// A DaemonSet: one pod on every node it can run on.
    DaemonSet,
    /// A StatefulSet: pods with stable ordinals.
    StatefulSet,
    /// A Job: pods that run to completion, recreated after failures up to its backoff limit.
    Job(JobSettings),
    /// A CronJob: a Job (its `jobTemplate`) started at every time of its schedule.
    CronJob(CronJobSettings),
    /// A ReplicationController: one set of `replicas` pods with an equality selector, kept as a
    /// ReplicaSet keeps them.
    ReplicationController,
}

impl PodSource {
    /// The kind `kubectl` lists the workload under (`Pod` for a pod trace's bare pods).
    pub fn kind(self) -> &'static str {
        match self {
            PodSource::ReplicaSet => "Deployment",
            PodSource::ReplicationController => "ReplicationController",
            PodSource::StatefulSet => "StatefulSet",
            PodSource::DaemonSet => "DaemonSet",
            PodSource::Trace => "Pod",
            PodSource::Job(_) => "Job",
            PodSource::CronJob(_) => "CronJob",
        }
    }

    /// A Deployment or a ReplicationController: its pods are kept by a ReplicaSet's count.
    pub fn is_replicated(self) -> bool {
        matches!(
            self,
            PodSource::ReplicaSet | PodSource::ReplicationController
        )
    }

    /// The settings of each of its Jobs, for a Job or a CronJob.
    pub fn job_settings(self) -> Option<JobSettings> {
        match self {
            PodSource::Job(s) => Some(s),
            PodSource::CronJob(c) => Some(c.job),
            _ => None,
        }
    }
}

/// A CronJob's `spec` besides its schedule (batch/v1, defaults applied).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CronJobSettings {
    /// `jobTemplate.spec`.
    pub job: JobSettings,
    /// `concurrencyPolicy`.
    pub concurrency: ConcurrencyPolicy,
    /// `startingDeadlineSeconds`: a run that could not start this long after its time is
    /// missed.
    pub starting_deadline: Option<SimDuration>,
    /// `successfulJobsHistoryLimit` (3): succeeded Jobs kept.
    pub successful_history: i32,
    /// `failedJobsHistoryLimit` (1): failed Jobs kept.
    pub failed_history: i32,
    /// `suspend`: no new runs.
    pub suspend: bool,
}

/// `concurrencyPolicy`: what a CronJob does when a run is due while an earlier one is active.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConcurrencyPolicy {
    /// Start it anyway.
    Allow,
    /// Skip it (it starts later if the active one ends within `startingDeadlineSeconds`).
    Forbid,
    /// Delete the active ones and start it.
    Replace,
}

/// A ResourceQuota's enforced amounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaSpec {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// Each enforced resource and its hard amount (millicores, bytes or a count).
    pub hard: Vec<(QuotaResource, i64)>,
}

/// A quota key kubesim enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaResource {
    /// `requests.cpu` (or `cpu`).
    RequestsCpu,
    /// `requests.memory` (or `memory`).
    RequestsMemory,
    /// `limits.cpu`.
    LimitsCpu,
    /// `limits.memory`.
    LimitsMemory,
    /// `requests.nvidia.com/gpu`.
    RequestsGpu,
    /// `pods`: how many pods.
    Pods,
}

impl QuotaResource {
    /// The quota key as `spec.hard` may write it.
    pub fn of_key(key: &str) -> Option<QuotaResource> {
        Some(match key {
            "cpu" | "requests.cpu" => QuotaResource::RequestsCpu,
            "memory" | "requests.memory" => QuotaResource::RequestsMemory,
            "limits.cpu" => QuotaResource::LimitsCpu,
            "limits.memory" => QuotaResource::LimitsMemory,
            "requests.nvidia.com/gpu" => QuotaResource::RequestsGpu,
            "pods" | "count/pods" => QuotaResource::Pods,
            _ => return None,
        })
    }

    /// Its name in messages, as upstream's (`requests.cpu`).
    pub fn key(self) -> &'static str {
        match self {
            QuotaResource::RequestsCpu => "requests.cpu",
            QuotaResource::RequestsMemory => "requests.memory",
            QuotaResource::LimitsCpu => "limits.cpu",
            QuotaResource::LimitsMemory => "limits.memory",
            QuotaResource::RequestsGpu => "requests.nvidia.com/gpu",
            QuotaResource::Pods => "pods",
        }
    }

    /// The resource whose quantity syntax its amount uses.
    pub fn resource_name(self) -> &'static str {
        match self {
            QuotaResource::RequestsCpu | QuotaResource::LimitsCpu => "cpu",
            QuotaResource::RequestsMemory | QuotaResource::LimitsMemory => "memory",
            QuotaResource::RequestsGpu => "nvidia.com/gpu",
            QuotaResource::Pods => "pods",
        }
    }

    /// What one pod of `pod` uses of it (`None`: it does not say — no limit where a limit is
    /// quota'd, which the API server refuses).
    pub fn of_pod(self, pod: &PodTemplate) -> Option<i64> {
        match self {
            QuotaResource::RequestsCpu => Some(pod.requests.cpu_millis),
            QuotaResource::RequestsMemory => Some(pod.requests.memory_bytes),
            QuotaResource::LimitsCpu => pod.cpu_limit_millis,
            QuotaResource::LimitsMemory => pod.memory_limit_bytes,
            QuotaResource::RequestsGpu => Some(pod.requests.gpus),
            QuotaResource::Pods => Some(1),
        }
    }
}

/// A CronJob's schedule resolved to simulated times.
#[derive(Clone, Debug, PartialEq)]
pub struct CronTimes {
    /// The CronJob's index in `Scenario::deployments`.
    pub deployment: usize,
    /// Every time its schedule fires during the run, in order.
    pub times: std::sync::Arc<[SimTime]>,
}

/// A Job's `spec` fields that decide its pods (batch/v1, defaults applied).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobSettings {
    /// `completions`: successful pods it needs (`None`: a work queue — it is done once a pod
    /// has succeeded and none is left running).
    pub completions: Option<i32>,
    /// `parallelism`: pods running at once at most (default 1).
    pub parallelism: i32,
    /// `backoffLimit`: failed pods it tolerates; one more fails the Job (default 6).
    pub backoff_limit: i32,
    /// `activeDeadlineSeconds`: the Job fails when it runs longer, counted from its start.
    pub active_deadline: Option<SimDuration>,
    /// `ttlSecondsAfterFinished`: the Job and its pods are deleted this long after it finished.
    pub ttl_after_finished: Option<SimDuration>,
    /// `completionMode: Indexed`: each pod has an index in `0..completions`, and each index must
    /// succeed once.
    pub indexed: bool,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            completions: Some(1),
            parallelism: 1,
            backoff_limit: 6,
            active_deadline: None,
            ttl_after_finished: None,
            indexed: false,
        }
    }
}

/// How a Job's pod runs (`spec.workloads[]` for a Job): how long its work takes once its
/// container started, and how often it fails.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRunModel {
    /// How long the work takes once the container started.
    pub run_time: DurationDist,
    /// Chance that a run ends with a non-zero exit code, in `[0, 1]`.
    pub failure_probability: f64,
}

impl Default for JobRunModel {
    fn default() -> Self {
        JobRunModel {
            run_time: DurationDist::Constant(SimDuration::from_mins(1)),
            failure_probability: 0.0,
        }
    }
}

impl DeploymentSpec {
    /// The container that serves requests: the workload's `container`, else the first app
    /// container.
    pub fn serving_container(&self) -> Option<&str> {
        self.workload
            .container
            .as_deref()
            .or_else(|| self.pod.hpa_containers.first().map(|c| c.name.as_str()))
    }
}

/// A container probe after defaulting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeSpec {
    /// `initialDelaySeconds`.
    pub initial_delay: SimDuration,
    /// `periodSeconds`.
    pub period: SimDuration,
    /// `timeoutSeconds` (kept for the resolved spec; the health model decides failures).
    pub timeout: SimDuration,
    /// `successThreshold`.
    pub success_threshold: u32,
    /// `failureThreshold`.
    pub failure_threshold: u32,
}

/// A pod's probes (for each kind, its first app container's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PodProbes {
    /// The `startupProbe` of the serving container.
    pub startup: Option<ProbeSpec>,
    /// The `readinessProbe`.
    pub readiness: Option<ProbeSpec>,
    /// The `livenessProbe`.
    pub liveness: Option<ProbeSpec>,
}

/// The `cluster-autoscaler.kubernetes.io/safe-to-evict` annotation as the autoscaler reads it
/// (any other value counts as absent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SafeToEvict {
    /// Absent, or a value the autoscaler does not know.
    #[default]
    Unset,
    /// `"true"`: the pod never blocks a scale-down.
    True,
    /// `"false"`: the pod blocks any scale-down of its node.
    False,
    /// `"on-completion"`: the node waits for the pod to finish.
    OnCompletion,
}

/// What the Cluster Autoscaler's drainability rules (`simulator/drainability/rules`) read from a
/// pod besides its owner, namespace and budgets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrainTraits {
    /// `cluster-autoscaler.kubernetes.io/safe-to-evict`.
    pub safe_to_evict: SafeToEvict,
    /// Local-storage volumes (`hostPath`, or `emptyDir` not in memory) that the annotation
    /// `cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes` does not list, by name.
    pub local_volumes: Vec<String>,
    /// The `kubernetes.io/config.mirror` annotation: the API's copy of a static pod.
    pub mirror: bool,
    /// `cluster-autoscaler.kubernetes.io/daemonset-pod: "true"`: treated as a DaemonSet's pod.
    pub daemon_set_annotation: bool,
    /// `karpenter.sh/do-not-disrupt`: `"true"`, or a duration the pod must have run before
    /// Karpenter may disrupt its node (other values are ignored, as Karpenter ignores them).
    pub do_not_disrupt: Option<DoNotDisrupt>,
}

/// How long `karpenter.sh/do-not-disrupt` holds a pod's node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DoNotDisrupt {
    /// `"true"`: as long as the pod runs.
    Always,
    /// A duration (`"30m"`): until the pod has run that long.
    For(crate::sim::SimDuration),
}

/// What every pod of a Deployment asks for and tolerates.
#[derive(Clone, Debug, Default)]
pub struct PodTemplate {
    /// Effective pod request (`PodRequests`: containers + sidecars, max with init containers,
    /// plus overhead), as the scheduler's Filter sees it.
    pub requests: Resources,
    /// The containers the HPA sums requests over: app containers, then restartable init
    /// containers (sidecars), in manifest order.
    pub hpa_containers: Vec<ContainerRequests>,
    /// The same request with NodeResourcesFit's non-zero defaults (100m cpu, 200Mi memory for
    /// each container that requests none), used only for scoring.
    pub scoring_requests: Resources,
    /// Sum of CPU limits when every app container has one; `None` means unbounded.
    pub cpu_limit_millis: Option<i64>,
    /// Sum of memory limits when every app container has one; `None` means unbounded.
    pub memory_limit_bytes: Option<i64>,
    /// The containers' startup, readiness and liveness probes.
    pub probes: PodProbes,
    /// `nodeSelector`.
    pub node_selector: Labels,
    /// `requiredDuringSchedulingIgnoredDuringExecution` terms (ORed); empty: no requirement.
    pub required_node_affinity: Vec<NodeSelectorTerm>,
    /// `preferredDuringSchedulingIgnoredDuringExecution`: (weight 1–100, term).
    pub preferred_node_affinity: Vec<(i64, NodeSelectorTerm)>,
    /// `tolerations`.
    pub tolerations: Vec<Toleration>,
    /// `terminationGracePeriodSeconds`.
    pub termination_grace: SimDuration,
    /// `spec.schedulerName` (`None`: default-scheduler).
    pub scheduler_name: Option<String>,
    /// `metadata.labels` of the pod (a ReplicaSet's pods also carry `pod-template-hash`).
    pub labels: Labels,
    /// The namespace its pods are created in.
    pub namespace: String,
    /// `spec.topologySpreadConstraints`.
    pub topology_spread: Vec<SpreadConstraint>,
    /// `spec.priorityClassName`, resolved into `priority` when the scenario loads.
    pub priority_class_name: Option<String>,
    /// `spec.preemptionPolicy` as written (resolved with the class).
    pub preemption_policy: Option<String>,
    /// The pod's priority (from its PriorityClass; 0 without one).
    pub priority: i32,
    /// `preemptionPolicy: Never`: the pod waits instead of preempting lower-priority pods.
    pub never_preempts: bool,
    /// For a DaemonSet pod, the node it is pinned to (by a required node affinity on
    /// `metadata.name`).
    pub daemon_node: Option<crate::spec::ids::NodeId>,
    /// `spec.nodeName`: the pod may only run there.
    pub node_name: Option<String>,
    /// The containers' `hostPort`s (NodePorts: two pods cannot share one on a node).
    pub host_ports: Vec<HostPort>,
    /// Inter-pod affinity and anti-affinity.
    pub pod_affinity: PodAffinity,
    /// The images of the init and app containers, normalized (`:latest` when untagged).
    pub images: Vec<String>,
    /// The selector the scheduler's default spreading constraints use when the pod has none of
    /// its own (`helper.DefaultSelector`: the selectors of the Services that select the pod
    /// and of its ReplicaSet, ANDed); `None` for a pod that nobody selects.
    pub default_spread_selector: Option<LabelSelector>,
    /// What the effective requests are made of besides `hpa_containers` (init containers,
    /// overhead): what a resize needs to recompute them. Not part of the printed template (see
    /// `cluster::state::template_key`): it follows from the containers.
    pub request_parts: RequestParts,
    /// What the Cluster Autoscaler's drainability rules read from the pod's annotations and
    /// volumes.
    pub drain: DrainTraits,
    /// The ConfigMaps and Secrets the kubelet must find before the pod starts (not optional
    /// ones), in the order it resolves them. Kept last: see `cluster::state::template_key`.
    pub config_refs: Vec<crate::spec::config::ConfigRef>,
}

impl SpreadConstraint {
    /// ANDs `key In (value)` into the selector for each `matchLabelKeys` key the pod carries,
    /// as the API server does at pod creation.
    pub fn merge_match_label_keys(&mut self, pod_labels: &Labels) {
        let Some(selector) = self.selector.as_mut() else {
            return;
        };
        for key in self.match_label_keys.drain(..) {
            if let Some(value) = pod_labels.get(&key) {
                selector
                    .match_expressions
                    .push(crate::spec::selector::Requirement {
                        key,
                        operator: crate::spec::selector::SelectorOperator::In,
                        values: vec![value.clone()],
                    });
            }
        }
    }
}

/// `affinity.podAffinity` / `podAntiAffinity`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodAffinity {
    /// `requiredDuringSchedulingIgnoredDuringExecution` of `podAffinity`.
    pub required: Vec<AffinityTerm>,
    /// `requiredDuringSchedulingIgnoredDuringExecution` of `podAntiAffinity`.
    pub required_anti: Vec<AffinityTerm>,
    /// (weight 1–100, term).
    pub preferred: Vec<(i64, AffinityTerm)>,
    /// `preferredDuringSchedulingIgnoredDuringExecution` of `podAntiAffinity`: (weight 1–100, term).
    pub preferred_anti: Vec<(i64, AffinityTerm)>,
}

impl PodAffinity {
    /// Whether it has no term at all.
    pub fn is_empty(&self) -> bool {
        self.required.is_empty()
            && self.required_anti.is_empty()
            && self.preferred.is_empty()
            && self.preferred_anti.is_empty()
    }
}

/// A `PodAffinityTerm`: pods matching `selector` in the namespaces, within the same
/// `topology_key` domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AffinityTerm {
    /// `None` (absent) matches no pod.
    pub selector: Option<LabelSelector>,
    /// Empty: the namespace of the pod that declares the term.
    pub namespaces: Vec<String>,
    /// `namespaceSelector: {}`.
    pub all_namespaces: bool,
    /// `topologyKey`: pods count together when their nodes share this label's value.
    pub topology_key: String,
}

impl AffinityTerm {
    /// Whether `pod` is matched by this term of a pod in `owner_namespace`.
    pub fn matches(&self, owner_namespace: &str, pod: &PodTemplate) -> bool {
        let in_namespace = self.all_namespaces
            || if self.namespaces.is_empty() {
                pod.namespace == owner_namespace
            } else {
                self.namespaces.contains(&pod.namespace)
            };
        in_namespace
            && self
                .selector
                .as_ref()
                .is_some_and(|s| s.matches(&pod.labels))
    }
}

/// A PodDisruptionBudget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PdbSpec {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `None` (absent) selects no pod; an empty selector selects every pod of the namespace.
    pub selector: Option<LabelSelector>,
    /// `minAvailable` or `maxUnavailable`.
    pub budget: PdbBudget,
}

/// How much of a PodDisruptionBudget's set must stay up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PdbBudget {
    /// `minAvailable`: pods that must stay available.
    MinAvailable(crate::spec::rollout::IntOrPercent),
    /// `maxUnavailable`: pods that may be unavailable.
    MaxUnavailable(crate::spec::rollout::IntOrPercent),
}

/// An image reference as nodes report it: `:latest` added when it has neither tag nor digest.
pub fn normalized_image_name(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || last.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// A container port bound on the node (`ports[].hostPort`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    /// `hostIP` (`0.0.0.0` when unset: every address).
    pub ip: String,
    /// `TCP` (default), `UDP` or `SCTP`.
    pub protocol: String,
    /// `hostPort`.
    pub port: i32,
}

impl HostPort {
    /// Whether two host ports cannot both be bound on one node (same port and protocol, and
    /// the same address or either on every address).
    pub fn conflicts_with(&self, other: &HostPort) -> bool {
        const ANY: &str = "0.0.0.0";
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == ANY || other.ip == ANY)
    }
}

/// One `topologySpreadConstraints` entry, after defaulting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpreadConstraint {
    /// `maxSkew`.
    pub max_skew: i32,
    /// `topologyKey`.
    pub topology_key: String,
    /// `whenUnsatisfiable: DoNotSchedule` (a Filter); `ScheduleAnyway` only scores.
    pub hard: bool,
    /// `labelSelector` (with `matchLabelKeys` merged in once the pod's labels are known, by
    /// [`SpreadConstraint::merge_match_label_keys`]); `None` (absent) matches no pod.
    pub selector: Option<LabelSelector>,
    /// `matchLabelKeys`: pod label keys whose values are ANDed into the selector.
    pub match_label_keys: Vec<String>,
    /// `minDomains` (1 when unset).
    pub min_domains: i32,
    /// `nodeAffinityPolicy: Honor` (the default): only nodes matching the pod's node
    /// selector and required affinity count.
    pub honor_node_affinity: bool,
    /// `nodeTaintsPolicy: Honor` (default Ignore): only nodes whose taints the pod tolerates
    /// count.
    pub honor_node_taints: bool,
}

impl PodTemplate {
    /// A one-container pod requesting `requests` and nothing else, for calling the scheduler's
    /// filters and scores directly. A cpu or memory request of 0 counts as none: scoring then
    /// sees NodeResourcesFit's non-zero defaults (100m cpu, 200Mi memory), as for a container
    /// without a request.
    pub fn requesting(requests: Resources) -> PodTemplate {
        let mut scoring_requests = requests.clone();
        if scoring_requests.cpu_millis == 0 {
            scoring_requests.cpu_millis = 100;
        }
        if scoring_requests.memory_bytes == 0 {
            scoring_requests.memory_bytes = 200 * 1024 * 1024;
        }
        PodTemplate {
            requests,
            scoring_requests,
            ..PodTemplate::default()
        }
    }

    /// `calculatePodRequests` (A.3.2): the summed request for `resource` of the containers the
    /// HPA counts (only `container` when given), in milli-units; `None` if one of them has no
    /// request, or if no container matches.
    pub fn hpa_request_milli(&self, resource: HpaResource, container: Option<&str>) -> Option<i64> {
        let mut matched = false;
        let mut total = 0i64;
        for c in &self.hpa_containers {
            if container.is_some_and(|name| name != c.name) {
                continue;
            }
            matched = true;
            total = total.saturating_add(c.request_milli(resource)?);
        }
        matched.then_some(total)
    }

    /// The first counted container (all, or the one called `container`) without a request for
    /// `resource`: what upstream's `calculatePodRequests` names in its error.
    pub fn container_missing_request(
        &self,
        resource: HpaResource,
        container: Option<&str>,
    ) -> Option<&str> {
        self.hpa_containers
            .iter()
            .filter(|c| container.is_none_or(|name| name == c.name))
            .find(|c| c.request_milli(resource).is_none())
            .map(|c| c.name.as_str())
    }

    /// The CPU limit (millicores) of the container called `container` (`None`: the first app
    /// container): the quota that binds it, since the pod's own cgroup, when every container
    /// has a limit, has their sum.
    pub fn cpu_limit_of(&self, container: Option<&str>) -> Option<i64> {
        let mut containers = self.hpa_containers.iter();
        let found = match container {
            Some(name) => containers.find(|c| c.name == name),
            None => containers.next(),
        };
        found?.cpu_limit_millis
    }

    /// Whether the pod has a container (app or sidecar) called `name`.
    pub fn has_container(&self, name: &str) -> bool {
        self.hpa_containers.iter().any(|c| c.name == name)
    }
}

/// How a Deployment's pods behave under load.
#[derive(Clone, Debug)]
pub struct WorkloadModel {
    /// From container start to ready to serve (the app's own start-up).
    pub startup_time: DurationDist,
    /// CPU time per request at one core.
    pub cpu_per_request: DurationDist,
    /// Requests served at once (more wait in the queue).
    pub concurrency: u32,
    /// Requests that may wait; more are refused (`queue_full`).
    pub queue_limit: u32,
    /// How long a client waits for an answer before it gives up.
    pub timeout: SimDuration,
    /// Names under which the pods' serving metrics are exposed to Pods metrics.
    pub pod_metric_aliases: std::collections::BTreeMap<String, PodMetricSource>,
    /// The container that serves requests: its CPU and memory are the pod's (other containers
    /// use none). `None`: the first app container.
    pub container: Option<String>,
    /// Working-set memory of a pod; `None` when the scenario does not model memory.
    pub memory: Option<MemoryModel>,
    /// After the container starts, the app answers nothing for this long.
    pub warmup: DurationDist,
    /// Probes fail while more requests than this are in flight (`None`: load does not matter).
    pub probe_fails_above_in_flight: Option<u32>,
    /// Mean time between random container crashes (`None`: none).
    pub crash_mtbf: Option<SimDuration>,
    /// Where the pods' CFS periods end after t = 0 (modulo the period; `None`: at random per
    /// pod).
    pub cfs_period_offset: Option<SimDuration>,
    /// What each request does after its `cpu_per_request` work (empty: nothing).
    pub calls: CallGraph,
    /// The pods are LLM inference servers (`None`: CPU servers).
    pub llm: Option<LlmServing>,
    /// A Job's pods: how long they run and how often they fail.
    pub job: JobRunModel,
    /// The pods carry the mesh's sidecar (`spec.mesh`): requests to them are balanced by the
    /// mesh, and each costs the sidecar's CPU.
    pub meshed: bool,
    /// The mesh's sidecar CPU per request, in and out: its CPU per request passed times one
    /// plus the calls a request makes in expectation (zero without a sidecar).
    pub proxy_cpu_per_request: SimDuration,
    /// What the two sidecars of a call add to it, for calls from these pods to pods with the
    /// sidecar (zero without one).
    pub proxy_hop_latency: SimDuration,
}

/// An LLM inference server's model (`spec.workloads[].llm`).
#[derive(Clone, Debug)]
pub struct LlmServing {
    /// The model on its GPU type (step times, KV-cache sizing).
    pub profile: std::sync::Arc<crate::spec::llm::LlmProfile>,
    /// The server's batching limits and KV-cache size.
    pub batching: crate::spec::llm::BatchingConfig,
    /// The user's benchmark runs the step-time model is fitted to before a run (`None`: the
    /// profile as it is).
    pub benchmark: Option<std::sync::Arc<crate::spec::llm::bench::BenchmarkFit>>,
}

/// A request's program after its first CPU work: sequences of steps. Sequence 0 is the
/// top level; `parallel` and `oneOf` refer to other sequences by index. Empty: no calls.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallGraph {
    /// The sequences of steps; sequence 0 runs first.
    pub sequences: Vec<Vec<CallStep>>,
}

impl CallGraph {
    /// Whether the request makes no calls.
    pub fn is_empty(&self) -> bool {
        self.sequences.first().is_none_or(Vec::is_empty)
    }

    /// Every call step of the graph.
    pub fn calls(&self) -> impl Iterator<Item = &Call> {
        self.sequences
            .iter()
            .flatten()
            .filter_map(|step| match step {
                CallStep::Call(c) => Some(c),
                _ => None,
            })
    }

    /// Whether some call passes on the request's own tokens (`tokens: request`): every
    /// request to this workload must then carry tokens.
    pub fn forwards_tokens(&self) -> bool {
        self.calls()
            .any(|c| matches!(c.tokens, Some(CallTokens::Request)))
    }
}

/// One step of a [`CallGraph`].
#[derive(Clone, Debug, PartialEq)]
pub enum CallStep {
    /// A call to another Service.
    Call(Call),
    /// CPU work in the caller (only in sequences the request runs itself, not in `parallel`).
    Cpu(DurationDist),
    /// A wait that uses no CPU.
    Delay(DurationDist),
    /// Every sequence at once; done when all are.
    Parallel(Vec<u32>),
    /// One sequence, picked by weight.
    OneOf {
        /// Each sequence's weight.
        weights: Vec<u32>,
        /// The sequences to pick from.
        sequences: Vec<u32>,
    },
}

/// A synchronous call to a Service, made `count` times one after another.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// Index into `Scenario::services`.
    pub service: usize,
    /// How many times the call is made.
    pub count: CallCount,
    /// How long the caller waits for a try (`None`: until the callee's own timeout).
    pub timeout: Option<SimDuration>,
    /// How failed tries are retried (`None`: not at all).
    pub retries: Option<RetryPolicy>,
    /// A failure (after retries) does not fail the caller: it goes on with its next step.
    pub optional: bool,
    /// This call's index among all calls of the scenario (for its retry budget).
    pub site: u32,
    /// The tokens of each request, for a call to an LLM server's Service (or to a workload
    /// that passes them on).
    pub tokens: Option<CallTokens>,
    /// How the calling workload's clients connect to the Service, when not as the Service's
    /// traffic entry says (`None`: as it says).
    pub connections: Option<Connections>,
    /// Bytes of each request and of its response, for the price of traffic between zones.
    pub request_bytes: u64,
    /// Bytes of each response.
    pub response_bytes: u64,
}

/// The token counts of the requests a call sends.
#[derive(Clone, Debug, PartialEq)]
pub enum CallTokens {
    /// Drawn for each call from the caller's call-graph stream.
    Drawn {
        /// The prompt's length.
        prompt: crate::sim::dist::CountDist,
        /// The output's length.
        output: crate::sim::dist::CountDist,
    },
    /// The calling request's own tokens (prompt, output and prompt block hashes), as it
    /// arrived from a token trace or from a call that gave them.
    Request,
}

/// How many times a call is made per request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CallCount {
    /// Always this many.
    Fixed(u32),
    /// Poisson with this mean.
    Poisson(f64),
    /// Uniform from `min` to `max`, both included.
    Uniform {
        /// The fewest.
        min: u32,
        /// The most.
        max: u32,
    },
}

/// Retries of a failed call: exponential backoff with full jitter, within a budget.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first try.
    pub attempts: u32,
    /// The wait before the first retry (doubling after each).
    pub backoff: SimDuration,
    /// The longest wait between tries.
    pub max_backoff: SimDuration,
    /// Retries in flight may be at most this fraction of the site's calls in flight (at least
    /// [`MIN_RETRY_CONCURRENCY`]).
    pub budget: f64,
}

/// Retries always allowed in flight per call, whatever the budget (Envoy's
/// `min_retry_concurrency`).
pub const MIN_RETRY_CONCURRENCY: u32 = 3;
/// Default retry backoff base (Envoy's 25 ms).
pub const DEFAULT_RETRY_BACKOFF: SimDuration = SimDuration::from_millis(25);
/// Default retry budget (Envoy's 20 %).
pub const DEFAULT_RETRY_BUDGET: f64 = 0.2;

/// A pod's working set: `base + perInFlightRequest × requests in flight`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryModel {
    /// The container's working set with no request in flight.
    pub base_bytes: i64,
    /// What each request in flight adds.
    pub per_in_flight_bytes: i64,
}

impl MemoryModel {
    /// The working set with `in_flight` requests.
    pub fn working_set(&self, in_flight: u64) -> i64 {
        let load = i64::try_from(in_flight).unwrap_or(i64::MAX);
        self.base_bytes
            .saturating_add(self.per_in_flight_bytes.saturating_mul(load))
    }
}

impl Default for WorkloadModel {
    fn default() -> Self {
        WorkloadModel {
            startup_time: DurationDist::Constant(SimDuration::from_secs(10)),
            cpu_per_request: DurationDist::Constant(SimDuration::from_millis(10)),
            concurrency: DEFAULT_CONCURRENCY,
            queue_limit: DEFAULT_QUEUE_LIMIT,
            timeout: DEFAULT_TIMEOUT,
            pod_metric_aliases: Default::default(),
            container: None,
            memory: None,
            warmup: DurationDist::Constant(SimDuration::ZERO),
            probe_fails_above_in_flight: None,
            crash_mtbf: None,
            cfs_period_offset: None,
            calls: CallGraph::default(),
            llm: None,
            job: JobRunModel::default(),
            meshed: false,
            proxy_cpu_per_request: SimDuration::ZERO,
            proxy_hop_latency: SimDuration::ZERO,
        }
    }
}

/// Requests a pod serves at once by default.
pub const DEFAULT_CONCURRENCY: u32 = 16;
/// Most replicas a workload may have (its manifest, an HPA's `maxReplicas`, a `scale` event):
/// each is a pod the simulation holds.
pub const MAX_REPLICAS: i32 = 100_000;
/// Requests that may wait in a pod's queue by default.
pub const DEFAULT_QUEUE_LIMIT: u32 = 1000;
/// How long a client waits by default.
pub const DEFAULT_TIMEOUT: SimDuration = SimDuration::from_secs(30);

/// A Service and the traffic offered to it.
#[derive(Clone, Debug)]
pub struct ServiceSpec {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `spec.selector`.
    pub selector: LabelSelector,
    /// Indices of the Deployments whose pod template the selector matches.
    pub backends: Vec<usize>,
    /// Traffic from outside the cluster (`None`: only calls reach it).
    pub traffic: Option<TrafficSpec>,
    /// `spec.type` (`ClusterIP` when absent).
    pub service_type: String,
    /// `spec.ports` as `kubectl get services` prints them (`80/TCP`, `80:30080/TCP`).
    pub ports: Vec<String>,
    /// Which endpoints its routing prefers: `trafficDistribution`, the topology-mode
    /// annotation, `internalTrafficPolicy` and `externalTrafficPolicy`.
    pub topology: crate::spec::network::ServiceTopology,
}

impl ServiceSpec {
    /// Whether requests arrive at this Service from outside the cluster.
    pub fn has_arrivals(&self) -> bool {
        self.traffic.as_ref().is_some_and(|t| t.arrivals.is_some())
    }

    /// Whether an LLM server serves this Service (validation lets a Service select LLM servers
    /// only, or none).
    pub fn serves_llm(&self, deployments: &[DeploymentSpec]) -> bool {
        (self.backends.iter()).any(|&b| deployments[b].workload.llm.is_some())
    }
}

/// Requests from outside the cluster to a Service.
#[derive(Clone, Debug)]
pub struct TrafficSpec {
    /// Requests from outside the cluster (`None`: the Service is reached only by calls, and
    /// the entry sets how those are routed and judged).
    pub arrivals: Option<ArrivalPattern>,
    /// How the Service picks an endpoint.
    pub load_balancing: LoadBalancing,
    /// The token counts of the requests (`None`: plain requests), for an LLM server or a
    /// workload that passes them on.
    pub tokens: Option<TokenSource>,
    /// What an LLM request must meet to count toward goodput (`None`: not measured).
    pub goodput: Option<Goodput>,
    /// How the Service's clients connect to it.
    pub connections: Connections,
}

/// How a Service's clients connect to it, and so how its load spreads over its pods.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Connections {
    /// Each request is balanced on its own (a mesh sidecar, an ingress controller, a
    /// client-side balancer).
    #[default]
    PerRequest,
    /// Each client keeps one connection, its endpoint picked when it connects (by the
    /// Service's `loadBalancing`: kube-proxy's random pick, or IPVS round-robin), and sends every
    /// request over it: gRPC's default channel over HTTP/2.
    Http2 {
        /// The server closes a connection this long after it opened, ±10 % (`None`: never).
        max_age: Option<crate::sim::SimDuration>,
        /// Connections the requests from outside come over, each request on one at random.
        external_clients: u32,
    },
    /// HTTP/1.1 keep-alive: a connection carries one request at a time. A calling pod takes
    /// its most recently used idle connection to the Service, or opens a new one (a fresh
    /// endpoint pick) when none is idle; an answered request's connection goes back to the
    /// pool unless `pool` are idle already, and idle connections close after `idle_timeout`
    /// (Go's `http.Transport`: 2 idle per host, 90 s).
    Http1 {
        /// Idle connections a client keeps per Service (Go's `MaxIdleConnsPerHost`).
        pool: u32,
        /// An idle connection closes after this long unused (Go's `IdleConnTimeout`).
        idle_timeout: crate::sim::SimDuration,
        /// Connections the requests from outside come over, each request on one at random.
        external_clients: u32,
    },
}

/// Goodput thresholds: a served LLM request is good when its time to first token and its time
/// per output token are within them (a missing one does not bind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Goodput {
    /// Time to first token at most this (`None`: not judged).
    pub ttft: Option<SimDuration>,
    /// Time per output token at most this (`None`: not judged).
    pub tpot: Option<SimDuration>,
}

impl Goodput {
    /// Whether a request with these timings is good (`tpot` is `None` for one output token:
    /// only its TTFT counts).
    pub fn met_by(&self, ttft: SimDuration, tpot: Option<SimDuration>) -> bool {
        let within = |limit: Option<SimDuration>, v: SimDuration| limit.is_none_or(|l| v <= l);
        within(self.ttft, ttft) && tpot.is_none_or(|t| within(self.tpot, t))
    }
}

/// Where an LLM request's arrival and token counts come from.
#[derive(Clone, Debug, PartialEq)]
pub enum TokenSource {
    /// Replayed from a token-level trace; `arrivals` is then unused. `hashes` are the prompt
    /// block hashes the requests index (empty when the trace has none).
    Trace {
        /// The trace's requests in time order.
        requests: std::sync::Arc<[crate::spec::llm::TokenRequest]>,
        /// The trace's block hash table.
        hashes: std::sync::Arc<[u64]>,
    },
    /// Arrivals from the pattern, token counts drawn for each request.
    Drawn {
        /// The prompt's length (after the shared prefix, when there is one).
        prompt: crate::sim::dist::CountDist,
        /// The output's length.
        output: crate::sim::dist::CountDist,
        /// A system prompt shared by groups of requests (`None`: prompts share nothing).
        shared_prefix: Option<SharedPrefix>,
    },
}

/// Prompts that start with one of `groups` system prompts of `tokens` tokens, as
/// inference-perf's `shared_prefix` data builds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedPrefix {
    /// The system prompt's length.
    pub tokens: u32,
    /// Distinct system prompts.
    pub groups: u32,
    /// `Some(n)`: a fixed pool of `n` prompts per group (their lengths drawn once), sent in
    /// turn; `None`: every request draws its group and a prompt of its own.
    pub prompts_per_group: Option<u32>,
}

/// How a Service spreads requests over its ready endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadBalancing {
    /// Uniformly random endpoint per request (kube-proxy iptables mode).
    Random,
    /// Endpoints in turn (IPVS `rr`).
    RoundRobin,
    /// The endpoint with the fewest requests in flight, ties at random (inference gateways,
    /// Envoy `LEAST_REQUEST` comparing all endpoints).
    LeastRequest,
    /// For LLM requests with prompt block hashes: the pod whose cache holds most of the prompt
    /// unless the loads are far apart (SGLang's cache-aware rule); otherwise as `LeastRequest`.
    PrefixAware,
}

/// A piecewise-constant rate: segment `i` holds from `start` until the next segment; `shape`
/// says how requests are spaced at that rate.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrivalPattern {
    /// The rate's segments in time order, the first at 0 (for bursts, the mean rate).
    pub segments: Vec<RateSegment>,
    /// Poisson, evenly spaced, or bursts.
    pub shape: ArrivalShape,
}

/// How arrivals are spaced at their rate.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum ArrivalShape {
    /// Independent arrivals: exponential gaps (an open, memoryless client population).
    #[default]
    Poisson,
    /// Exactly `1 / rate` apart (a load generator's constant arrival rate).
    FixedInterval,
    /// `size` requests at the same instant every `every`, the first burst at `every`.
    Bursts {
        /// Time between bursts.
        every: SimDuration,
        /// Requests in a burst (drawn per burst from the Service's arrival stream).
        size: crate::sim::dist::CountDist,
    },
    /// At these instants, in order (a list of request times replayed).
    Times(std::sync::Arc<[SimTime]>),
    /// A closed loop of users: no rate; each user sends its next request once the last is
    /// answered and its think time is over.
    ClosedLoop(std::sync::Arc<ClosedLoop>),
}

/// Users who each wait for their answer before they send again (`vllm bench serve
/// --max-concurrency`, k6 virtual users, locust users).
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedLoop {
    /// Users at the start, each sending its first request at 0.
    pub users: u32,
    /// The wait between an answer and the user's next request.
    pub think: crate::sim::dist::DurationDist,
    /// When the user count changes, and to what, in time order (the stages' ramps).
    pub changes: Vec<(SimTime, u32)>,
}

/// A constant rate from `start` to the next segment's start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateSegment {
    /// When the segment starts.
    pub start: SimTime,
    /// Requests per second.
    pub rate_per_sec: f64,
}

impl ArrivalPattern {
    /// A constant rate for the whole run.
    pub fn constant(rate_per_sec: f64) -> Self {
        ArrivalPattern {
            segments: vec![RateSegment {
                start: SimTime::ZERO,
                rate_per_sec,
            }],
            shape: ArrivalShape::Poisson,
        }
    }

    /// Expected number of arrivals in `[0, end)`.
    pub fn expected_requests(&self, end: SimTime) -> f64 {
        let mut total = 0.0;
        for (i, seg) in self.segments.iter().enumerate() {
            let seg_end = self.segments.get(i + 1).map_or(end, |s| s.start).min(end);
            if seg_end > seg.start {
                total += seg.rate_per_sec * (seg_end - seg.start).as_secs_f64();
            }
        }
        total
    }
}

/// A HorizontalPodAutoscaler (autoscaling/v2) resolved against its target.
#[derive(Clone, Debug)]
pub struct HpaSpec {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// Index of the target Deployment; `None` when `scaleTargetRef` names none that exists:
    /// the HPA then reports `AbleToScale=False/FailedGetScale` at every sync instead of scaling.
    pub target: Option<usize>,
    /// `scaleTargetRef.name`.
    pub target_name: String,
    /// `minReplicas`.
    pub min_replicas: i32,
    /// `maxReplicas`.
    pub max_replicas: i32,
    /// `metrics`: the HPA takes the largest proposal.
    pub metrics: Vec<HpaMetric>,
    /// `spec.behavior` with upstream defaults applied; `None` takes the legacy path.
    pub behavior: Option<crate::spec::hpa::Behavior>,
    /// Set when a KEDA ScaledObject owns this HPA: KEDA's own scaling between zero (or the
    /// idle count) and the minimum.
    pub keda: Option<KedaActivation>,
}

/// What a KEDA ScaledObject adds to the HPA it owns: *activation*. Every polling interval
/// KEDA's operator asks its triggers whether there is work; it scales the target from zero (or
/// its idle count) to its minimum when there is, and back after the cooldown when there has
/// been none. Between the minimum and the maximum the HPA scales as any other.
#[derive(Clone, Debug, PartialEq)]
pub struct KedaActivation {
    /// The ScaledObject's name.
    pub scaled_object: String,
    /// `minReplicaCount` (default 0).
    pub min_replica_count: i32,
    /// `idleReplicaCount`: the replicas while inactive, when set (else `min_replica_count`).
    pub idle_replica_count: Option<i32>,
    /// `pollingInterval` (default 30 s).
    pub polling_interval: SimDuration,
    /// `cooldownPeriod` (default 300 s): inactive this long after the last activity, it scales
    /// to zero (or the idle count).
    pub cooldown_period: SimDuration,
    /// `initialCooldownPeriod` (default 0): the same, from creation, before any activity.
    pub initial_cooldown_period: SimDuration,
    /// The triggers that say whether there is work (cpu and memory triggers never do); none:
    /// always active, as KEDA treats a ScaledObject with only cpu and memory triggers.
    pub triggers: Vec<ActivationTrigger>,
}

/// A trigger KEDA asks for activity.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivationTrigger {
    /// Its metric's index in the HPA's `metrics`.
    pub metric: usize,
    /// Active while the metric's value is above this (`activationThreshold`, milli-units).
    pub activation_milli: i64,
    /// KEDA's name for it (`s0-prometheus`), for the events that name the triggers.
    pub name: String,
}

/// One entry of `spec.metrics`.
#[derive(Clone, Debug, PartialEq)]
pub enum HpaMetric {
    /// `type: Resource` (whole pod) or `type: ContainerResource` (one container), cpu or memory,
    /// as metrics-server reports it.
    Resource {
        /// cpu or memory.
        resource: HpaResource,
        /// `containerResource.container`; `None` for a `Resource` metric.
        container: Option<String>,
        /// Utilization or AverageValue.
        target: ResourceTarget,
    },
    /// `type: Pods` with an AverageValue target, served from the pods' serving metrics.
    Pods {
        /// The metric's name.
        metric: String,
        /// Resolved from the built-in names or the workload's `podMetrics` aliases.
        source: Option<PodMetricSource>,
        /// The AverageValue target, in milli-units.
        target_milli: i64,
    },
    /// `type: External`: a scripted series, or a serving metric summed over the target's pods
    /// (`from_pods`, for a built-in name such as `vllm:num_requests_waiting`: queue depth).
    External {
        /// The metric's name.
        metric: String,
        /// The scripted series (index into `Scenario::metric_series`).
        series: Option<usize>,
        /// The serving metric summed over the pods, when not scripted.
        from_pods: Option<PodMetricSource>,
        /// Value or AverageValue.
        target: ValueTarget,
    },
    /// `type: Object` from a scripted series (the described object is not modelled).
    Object {
        /// The metric's name.
        metric: String,
        /// The scripted series (index into `Scenario::metric_series`).
        series: Option<usize>,
        /// Value or AverageValue.
        target: ValueTarget,
    },
    /// A metric kubesim does not model yet; the HPA treats it as failing to fetch.
    Unsupported {
        /// What the manifest asked for, for the HPA's condition message.
        description: String,
    },
}

/// The resources metrics-server reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HpaResource {
    /// `cpu`.
    Cpu,
    /// `memory`.
    Memory,
}

impl HpaResource {
    /// The resource's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Memory => "memory",
        }
    }
}

/// A Resource or ContainerResource metric target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceTarget {
    /// `target.type: Utilization`: percent of the request.
    Utilization(i32),
    /// `target.type: AverageValue` per pod (milli-units: millicores, or bytes × 1000).
    AverageValue(i64),
}

/// An Object or External metric target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueTarget {
    /// `target.type: Value` (milli-units).
    Value(i64),
    /// `target.type: AverageValue` per pod (milli-units).
    AverageValue(i64),
}

/// A scripted metric: piecewise-constant values over simulated time.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSeries {
    /// The metric's name.
    pub name: String,
    /// `(from, value)`, sorted by time; the value holds until the next point.
    pub points: Vec<(SimTime, f64)>,
}

impl MetricSeries {
    /// The value at `now` (0 before the first point).
    pub fn value_at(&self, now: SimTime) -> f64 {
        let i = self.points.partition_point(|(t, _)| *t <= now);
        if i == 0 { 0.0 } else { self.points[i - 1].1 }
    }
}

/// Cluster Autoscaler flags (D.1), under their upstream names in the scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoscalerSettings {
    /// `--scan-interval`.
    pub scan_interval: SimDuration,
    /// The expander chain (`--expander=priority,least-waste`); final ties are random.
    pub expanders: Vec<Expander>,
    /// `--max-node-provision-time`.
    pub max_node_provision_time: SimDuration,
    /// `--scale-down-enabled`.
    pub scale_down_enabled: bool,
    /// `--scale-down-utilization-threshold`.
    pub scale_down_utilization_threshold: f64,
    /// `--scale-down-gpu-utilization-threshold`.
    pub scale_down_gpu_utilization_threshold: f64,
    /// `--scale-down-unneeded-time`.
    pub scale_down_unneeded_time: SimDuration,
    /// `--scale-down-delay-after-add`.
    pub scale_down_delay_after_add: SimDuration,
    /// `--scale-down-delay-after-delete`.
    pub scale_down_delay_after_delete: SimDuration,
    /// No scale-down this soon after a drain that failed.
    pub scale_down_delay_after_failure: SimDuration,
    /// How long a drain keeps retrying evictions (PodDisruptionBudgets) before it gives up.
    pub max_pod_eviction_time: SimDuration,
    /// `--unremovable-node-recheck-timeout`: a node whose removal simulation failed is not
    /// simulated again for this long.
    pub unremovable_node_recheck_timeout: SimDuration,
    /// `--max-graceful-termination-sec`: the longest grace period a drain gives a pod.
    pub max_graceful_termination: SimDuration,
    /// Pods below this priority neither trigger scale-up nor block scale-down.
    pub expendable_pods_priority_cutoff: i32,
    /// `--max-scale-down-parallelism`.
    pub max_scale_down_parallelism: usize,
    /// `--max-drain-parallelism`.
    pub max_drain_parallelism: usize,
    /// `--new-pod-scale-up-delay`.
    pub new_pod_scale_up_delay: SimDuration,
    /// `--max-nodes-per-scaleup`.
    pub max_nodes_per_scaleup: usize,
    /// `--max-nodes-total` (0: unlimited).
    pub max_nodes_total: usize,
    /// `--cores-total`: (min, max) cores of all nodes together.
    pub cores_total: (i64, i64),
    /// `--memory-total`: (min, max) GiB of memory of all nodes together.
    pub memory_total_gib: (i64, i64),
    /// `--initial-node-group-backoff-duration`.
    pub initial_node_group_backoff_duration: SimDuration,
    /// `--max-node-group-backoff-duration`.
    pub max_node_group_backoff_duration: SimDuration,
    /// `--node-group-backoff-reset-timeout`.
    pub node_group_backoff_reset_timeout: SimDuration,
    /// The priority expander's ConfigMap: priority → node-group name patterns.
    pub priorities: Vec<(i64, Vec<crate::spec::pattern::Pattern>)>,
    /// `--scale-down-unready-enabled`: unready nodes may be removed (after the unready time).
    pub scale_down_unready_enabled: bool,
    /// `--scale-down-unready-time`: how long an unready node must be unneeded.
    pub scale_down_unready_time: SimDuration,
    /// `--skip-nodes-with-system-pods`: a kube-system pod without a PodDisruptionBudget
    /// blocks its node's removal (until it is older than the blocking timeout).
    pub skip_nodes_with_system_pods: bool,
    /// `--skip-nodes-with-local-storage`: a pod with a local volume blocks its node's removal.
    pub skip_nodes_with_local_storage: bool,
    /// `--skip-nodes-with-custom-controller-pods`: only pods of the built-in controllers move.
    pub skip_nodes_with_custom_controller_pods: bool,
    /// `--min-replica-count`: a pod whose ReplicaSet (or ReplicationController) wants fewer
    /// replicas blocks its node's removal.
    pub min_replica_count: i32,
    /// `--blocking-system-pod-distruption-timeout`: a kube-system pod this old no longer blocks.
    pub blocking_system_pod_disruption_timeout: SimDuration,
    /// `--ignore-daemonsets-utilization`: DaemonSet pods count in neither side of utilization.
    pub ignore_daemonsets_utilization: bool,
    /// `--ignore-mirror-pods-utilization`: the same for mirror (static) pods.
    pub ignore_mirror_pods_utilization: bool,
    /// `--enforce-node-group-min-size`: node groups below their minimum are grown to it.
    pub enforce_node_group_min_size: bool,
    /// `--balance-similar-node-groups` and the rules that say which groups are similar.
    pub balancing: Balancing,
}

/// `--balance-similar-node-groups`: a scale-up is spread over node groups whose template nodes
/// are alike (resources within the ratios, the same labels but for the ignored ones).
#[derive(Clone, Debug, PartialEq)]
pub struct Balancing {
    /// `--balance-similar-node-groups` (default false).
    pub enabled: bool,
    /// `--memory-difference-ratio`: memory capacities may differ by this share of the larger.
    pub memory_difference_ratio: f64,
    /// `--max-allocatable-difference-ratio`: the same for each allocatable resource.
    pub max_allocatable_difference_ratio: f64,
    /// `--max-free-difference-ratio`: the same for each resource left free by the template's
    /// DaemonSet pods.
    pub max_free_difference_ratio: f64,
    /// `--balancing-ignore-label`: more labels that may differ between similar groups.
    pub ignore_labels: Vec<String>,
    /// `--balancing-label`: when given, groups are similar exactly when these labels are equal
    /// (nothing else is compared).
    pub labels: Vec<String>,
}

impl Default for Balancing {
    fn default() -> Self {
        Balancing {
            enabled: false,
            memory_difference_ratio: 0.015,
            max_allocatable_difference_ratio: 0.05,
            max_free_difference_ratio: 0.05,
            ignore_labels: Vec::new(),
            labels: Vec::new(),
        }
    }
}

impl Default for AutoscalerSettings {
    fn default() -> Self {
        let secs = SimDuration::from_secs;
        AutoscalerSettings {
            scan_interval: secs(10),
            expanders: vec![Expander::LeastWaste],
            max_node_provision_time: secs(15 * 60),
            scale_down_enabled: true,
            scale_down_utilization_threshold: 0.5,
            scale_down_gpu_utilization_threshold: 0.5,
            scale_down_unneeded_time: secs(10 * 60),
            scale_down_delay_after_add: secs(10 * 60),
            scale_down_delay_after_delete: SimDuration::ZERO,
            scale_down_delay_after_failure: secs(3 * 60),
            max_pod_eviction_time: secs(2 * 60),
            unremovable_node_recheck_timeout: secs(5 * 60),
            max_graceful_termination: secs(600),
            expendable_pods_priority_cutoff: -10,
            max_scale_down_parallelism: 10,
            max_drain_parallelism: 1,
            new_pod_scale_up_delay: SimDuration::ZERO,
            max_nodes_per_scaleup: 1000,
            max_nodes_total: 0,
            cores_total: (0, 320_000),
            memory_total_gib: (0, 6_400_000),
            initial_node_group_backoff_duration: secs(5 * 60),
            max_node_group_backoff_duration: secs(30 * 60),
            node_group_backoff_reset_timeout: secs(3 * 3600),
            priorities: Vec::new(),
            scale_down_unready_enabled: true,
            scale_down_unready_time: secs(20 * 60),
            skip_nodes_with_system_pods: true,
            skip_nodes_with_local_storage: true,
            skip_nodes_with_custom_controller_pods: true,
            min_replica_count: 0,
            blocking_system_pod_disruption_timeout: secs(3600),
            ignore_daemonsets_utilization: false,
            ignore_mirror_pods_utilization: false,
            enforce_node_group_min_size: false,
            balancing: Balancing::default(),
        }
    }
}

/// How the Cluster Autoscaler chooses among node groups that could help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expander {
    /// `random`: any of the options.
    Random,
    /// `most-pods`: the option that schedules the most pods.
    MostPods,
    /// `least-waste`: the option that leaves the least CPU and memory unused.
    LeastWaste,
    /// `least-nodes`: the option that adds the fewest nodes.
    LeastNodes,
    /// `price`: the cheapest option per pod.
    Price,
    /// `priority`: the option of the highest-priority node group.
    Priority,
}

impl Expander {
    /// Every expander.
    pub const ALL: [Expander; 6] = [
        Expander::Random,
        Expander::MostPods,
        Expander::LeastWaste,
        Expander::LeastNodes,
        Expander::Price,
        Expander::Priority,
    ];

    /// The expander as `--expander` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Expander::Random => "random",
            Expander::MostPods => "most-pods",
            Expander::LeastWaste => "least-waste",
            Expander::LeastNodes => "least-nodes",
            Expander::Price => "price",
            Expander::Priority => "priority",
        }
    }
}

/// kube-controller-manager HPA flags.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HpaSettings {
    /// `--horizontal-pod-autoscaler-sync-period`.
    pub sync_period: SimDuration,
    /// `--horizontal-pod-autoscaler-tolerance`.
    pub tolerance: f64,
    /// `--horizontal-pod-autoscaler-downscale-stabilization`.
    pub downscale_stabilization: SimDuration,
    /// `--horizontal-pod-autoscaler-cpu-initialization-period`.
    pub cpu_initialization_period: SimDuration,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay`.
    pub initial_readiness_delay: SimDuration,
}

impl Default for HpaSettings {
    fn default() -> Self {
        HpaSettings {
            sync_period: SimDuration::from_secs(15),
            tolerance: 0.1,
            downscale_stabilization: SimDuration::from_mins(5),
            cpu_initialization_period: SimDuration::from_mins(5),
            initial_readiness_delay: SimDuration::from_secs(30),
        }
    }
}

/// An SLO assertion, checked by `kubesim check`.
#[derive(Clone, Debug, PartialEq)]
pub struct SloSpec {
    /// Display name (defaults to the assertion text with its scope).
    pub name: String,
    /// What the assertion is about.
    pub scope: SloScope,
    /// What it measures.
    pub metric: SloMetric,
    /// How the measure compares to the threshold.
    pub comparison: Comparison,
    /// Threshold in the metric's unit (ms for latency, a fraction for availability, USD for cost).
    pub threshold: f64,
    /// The assertion as written.
    pub text: String,
}

/// What an SLO is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SloScope {
    /// A Service (index into `Scenario::services`).
    Service(usize),
    /// A workload (index into `Scenario::deployments`).
    Deployment(usize),
    /// The whole cluster.
    Cluster,
}

/// What an SLO measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SloMetric {
    /// A latency percentile in ms; `Mean` and `Max` too.
    Latency(LatencyStat),
    /// An LLM Service's time to first token (ms), as `Latency`.
    TimeToFirstToken(LatencyStat),
    /// An LLM Service's time per output token (ms), as `Latency`.
    TimePerOutputToken(LatencyStat),
    /// What an LLM Service's GPUs cost per million output tokens (USD).
    CostPerMillionTokens,
    /// The fraction of an LLM Service's served requests within its goodput thresholds.
    Goodput,
    /// Served requests over all requests.
    Availability,
    /// Requests that failed, counted.
    RequestsFailed,
    /// What the nodes cost over the run (USD).
    CostTotal,
    /// The most replicas at any time.
    ReplicasMax,
    /// The time-weighted mean of the replicas.
    ReplicasMean,
    /// The fewest replicas at any time.
    ReplicasMin,
}

/// A statistic of a latency distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatencyStat {
    /// The median.
    P50,
    /// The 90th percentile.
    P90,
    /// The 95th percentile.
    P95,
    /// The 99th percentile.
    P99,
    /// The 99.9th percentile.
    P999,
    /// The largest.
    Max,
    /// The mean.
    Mean,
}

/// How an SLO compares the measure with the threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// `<=`.
    Le,
    /// `<`.
    Lt,
    /// `>=`.
    Ge,
    /// `>`.
    Gt,
    /// `==`.
    Eq,
}

impl Comparison {
    /// Whether `actual` compares so with `threshold`.
    pub fn holds(self, actual: f64, threshold: f64) -> bool {
        match self {
            Comparison::Le => actual <= threshold,
            Comparison::Lt => actual < threshold,
            Comparison::Ge => actual >= threshold,
            Comparison::Gt => actual > threshold,
            Comparison::Eq => actual == threshold,
        }
    }

    /// The comparison as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Le => "<=",
            Comparison::Lt => "<",
            Comparison::Ge => ">=",
            Comparison::Gt => ">",
            Comparison::Eq => "==",
        }
    }
}

/// Something the scenario makes happen at a time (`spec.events`).
#[derive(Clone, Debug)]
pub struct ScriptedEvent {
    /// When, from the start of the run.
    pub at: SimDuration,
    /// What happens.
    pub action: ScriptedAction,
}

/// The node a scripted action is for.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeRef {
    /// By name, as the cluster names nodes (`<pool>-<index>`).
    Named(String),
    /// Picked when the event happens among the pool's nodes the action applies to.
    Pick {
        /// Index into the scenario's node pools.
        pool: usize,
        /// How the node is picked.
        rule: NodePick,
    },
}

/// How a scripted event picks its node in a pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodePick {
    /// Uniformly, from the scripted events' random stream (`scripted-events`).
    Random,
    /// The one with the most pods (the first created among equals).
    Busiest,
    /// The one created last.
    Newest,
}

impl NodePick {
    /// The rules' names as written.
    pub const NAMES: [&str; 3] = ["random", "busiest", "newest"];
}

/// The scripted actions. Nodes are named as the cluster names them (`<pool>-<index>`), or
/// picked when the event happens.
#[derive(Clone, Debug)]
pub enum ScriptedAction {
    /// The machine stops: its kubelet no longer heartbeats and its pods stop serving.
    FailNode {
        /// The node.
        node: NodeRef,
    },
    /// The machine is back: the kubelet heartbeats again and the pods still bound restart.
    RecoverNode {
        /// The node.
        node: NodeRef,
    },
    /// Every node in the zone fails.
    FailZone {
        /// The zone (`topology.kubernetes.io/zone`).
        zone: String,
    },
    /// Every node in the zone is back.
    RecoverZone {
        /// The zone.
        zone: String,
    },
    /// `kubectl cordon`.
    Cordon {
        /// The node.
        node: NodeRef,
    },
    /// `kubectl uncordon`.
    Uncordon {
        /// The node.
        node: NodeRef,
    },
    /// `kubectl drain`: cordon, then evict every pod (but DaemonSet pods) through the eviction
    /// API, retrying what PodDisruptionBudgets refuse every 5 s.
    Drain {
        /// The node.
        node: NodeRef,
    },
    /// `kubectl scale deployment/<name> --replicas=N` (index into the Deployments).
    Scale {
        /// Index into the scenario's Deployments.
        deployment: usize,
        /// The new `spec.replicas`.
        replicas: i32,
    },
    /// The cloud reclaims a spot node: a 2-minute notice (the node is cordoned and drained, as
    /// the node termination handler does), then the machine is gone.
    InterruptSpot {
        /// The spot node.
        node: NodeRef,
    },
    /// `kubectl apply -f <manifest>`: workloads with a changed spec (a new template rolls
    /// out) and HPAs with changed settings.
    Apply {
        /// The workloads whose spec changed.
        deployments: Vec<AppliedDeployment>,
        /// (index into the scenario's HPAs, the new spec).
        hpas: Vec<(usize, HpaSpec)>,
        /// ConfigMaps and Secrets created or replaced.
        configs: Vec<crate::spec::config::ConfigObject>,
        /// Karpenter NodePools with a new spec.
        node_pools: Vec<crate::spec::karpenter::AppliedNodePool>,
    },
    /// `kubectl rollout undo` (to the previous revision, or `to_revision`).
    Rollback {
        /// Index into the scenario's Deployments.
        deployment: usize,
        /// The revision to go back to (`None`: the previous one).
        to_revision: Option<u64>,
    },
    /// `kubectl rollout pause`.
    Pause {
        /// Index into the scenario's Deployments.
        deployment: usize,
    },
    /// `kubectl rollout resume`.
    Resume {
        /// Index into the scenario's Deployments.
        deployment: usize,
    },
    /// `kubectl delete pod`: the `count` longest-running pods of the Deployment.
    DeletePods {
        /// Index into the scenario's Deployments.
        deployment: usize,
        /// How many pods to delete.
        count: u32,
    },
}

/// One Deployment of an applied manifest.
#[derive(Clone, Debug)]
pub struct AppliedDeployment {
    /// Index into the scenario's Deployments.
    pub index: usize,
    /// The new spec (the scenario's workload model kept).
    pub spec: DeploymentSpec,
    /// `spec.replicas` when the manifest states it (else the current count stays, as the HPA
    /// set it).
    pub replicas: Option<i32>,
    /// `spec.paused` when the manifest states it (else a paused Deployment stays paused).
    pub paused: Option<bool>,
}

impl ScriptedAction {
    /// The action's name as written in `spec.events[].action`.
    pub const NAMES: [&'static str; 14] = [
        "failNode",
        "recoverNode",
        "failZone",
        "recoverZone",
        "cordon",
        "uncordon",
        "drain",
        "scale",
        "interruptSpot",
        "apply",
        "rollback",
        "pause",
        "resume",
        "deletePod",
    ];
}
