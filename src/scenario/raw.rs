//! The scenario file as written: a serde mirror of `kind: Scenario` (`kubesim.io/v1alpha1`).
//!
//! Every field is optional here so that validation can report *all* missing or wrong fields at
//! once with their positions; `validate.rs` applies defaults and turns this into the typed
//! [`Scenario`](super::Scenario). The same types serialize `scenario.resolved.yaml`. Field names
//! are camelCase like the Kubernetes manifests beside them; the kube-controller-manager settings
//! use the real flag names.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::units::Duration;

/// Top level of a scenario file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawScenario {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: Option<RawMetadata>,
    pub spec: Option<RawSpec>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawMetadata {
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawSpec {
    /// Simulated time to run.
    pub duration: Option<Duration>,
    /// Seed of every random stream (overridden by `--seed`).
    pub seed: Option<u64>,
    /// Pods that exist at t = 0 start already Running and Ready (default true).
    pub start_warm: Option<bool>,
    /// The wall-clock instant of t = 0 (RFC 3339), for CronJob schedules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// Period of the time series in `timeseries.csv`.
    pub sample_interval: Option<Duration>,
    /// Safety limit on processed events; reaching it stops the run with an error.
    pub max_events: Option<u64>,
    /// Manifest files, relative to the scenario file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<String>,
    pub cluster: Option<RawCluster>,
    pub controller_manager: Option<RawControllerManager>,
    /// The Cluster Autoscaler: present (and not `enabled: false`) means it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_autoscaler: Option<RawClusterAutoscaler>,
    /// Karpenter's controller settings (its NodePools are manifests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub karpenter: Option<RawKarpenter>,
    pub metrics_server: Option<RawMetricsServer>,
    /// A KubeSchedulerConfiguration file (relative to the scenario): profiles, score plugins
    /// and weights, NodeResourcesFit scoring strategy, percentageOfNodesToScore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_config: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workloads: Vec<RawWorkload>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traffic: Vec<RawTraffic>,
    /// Pods replayed from a cluster trace (placement studies).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pod_traces: Vec<RawPodTrace>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slos: Vec<RawSlo>,
    /// Scripted metric values for HPA External and Object metrics (e.g. a message-queue depth).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_metrics: Vec<RawMetricSeries>,
    /// Container image sizes (`image: quantity`), for the scheduler's ImageLocality score.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub image_sizes: BTreeMap<String, RawQuantity>,
    /// Scripted events (`at` a time: fail a node, cordon, drain, scale …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<RawEvent>,
    /// A service mesh installed in the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh: Option<RawMesh>,
    /// Latency between zones and the price of the bytes that cross them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<RawNetwork>,
}

/// `network: {cloud: aws, crossZonePricePerGB: 0.02, latency: {crossZone: 800us, pairs: […]}}`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawNetwork {
    /// `aws`, `gcp` or `azure`: sets the price of a GB between zones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<String>,
    /// USD per GB crossing zones, both sides' charges (overrides `cloud`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "crossZonePricePerGB")]
    pub cross_zone_price_per_gb: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<RawZoneLatency>,
}

/// What a call adds to its latency (a round trip) within a zone, between zones, and between
/// named pairs of zones.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawZoneLatency {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_zone: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_zone: Option<Duration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pairs: Vec<RawZonePair>,
}

/// `{zones: [a, b], latency: 2ms}` (both directions).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawZonePair {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Duration>,
}

/// `mesh: {kind: istio, namespaces: [default], proxyCpuPerRequest: 200us, proxy: {…}}`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawMesh {
    /// `istio` (the only mesh modelled so far).
    pub kind: Option<String>,
    /// Namespaces labelled `istio-injection: enabled` in the cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// The sidecar's CPU per request passed (default 200us: Istio 1.24's 0.20 vCPU per
    /// 1 000 requests/s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_cpu_per_request: Option<Duration>,
    /// What a call's two sidecars add to it (default 228us: Istio 1.20's p90).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop_latency: Option<Duration>,
    /// The sidecar container's `requests` and `limits` (default Istio's 100m/128Mi, 2000m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<RawProxy>,
}

/// `proxy: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: "2"}}`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawProxy {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, RawQuantity>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, RawQuantity>,
}

/// A metric whose value over time comes from a CSV `t_seconds,value` (piecewise constant).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawMetricSeries {
    /// The metric name HPAs refer to (`external.metric.name` / `object.metric.name`).
    pub name: Option<String>,
    /// Path relative to the scenario file.
    pub file: Option<String>,
    /// Multiplies every value.
    pub scale: Option<f64>,
    /// Series time that maps to t = 0.
    pub offset: Option<Duration>,
    /// Series seconds per simulated second.
    pub speedup: Option<f64>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawCluster {
    #[serde(default)]
    pub node_pools: Vec<RawNodePool>,
    /// The cloud region whose prices pools with a catalogued `instanceType` take (default
    /// `us-east-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// More pools from a trace's node list, one per node shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes_from: Option<RawNodesFrom>,
}

/// Karpenter's controller settings, under its environment variables' names in camel case.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawKarpenter {
    /// `BATCH_IDLE_DURATION` (1s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_idle_duration: Option<Duration>,
    /// `BATCH_MAX_DURATION` (10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_max_duration: Option<Duration>,
    /// Launch to Ready of a node (default 45s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_time: Option<RawDistribution>,
    /// The `SpotToSpotConsolidation` feature gate (false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot_to_spot_consolidation: Option<bool>,
    /// Mean time between spot interruptions of a spot node (none by default).
    #[serde(
        default,
        rename = "spotInterruptionMTBI",
        skip_serializing_if = "Option::is_none"
    )]
    pub spot_interruption_mtbi: Option<Duration>,
}

/// Node pools read from a trace's node list.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawNodesFrom {
    /// `alibaba-openb`: `sn,cpu_milli,memory_mib,gpu,model`.
    pub format: Option<String>,
    /// Path relative to the scenario file.
    pub file: Option<String>,
    /// Prefix of the generated pool names (default: the file stem).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    /// Node price = cores × pricePerCoreHour + GiB × pricePerGiBHour + GPUs × pricePerGpuHour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_per_core_hour: Option<f64>,
    #[serde(rename = "pricePerGiBHour", skip_serializing_if = "Option::is_none")]
    pub price_per_gib_hour: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_per_gpu_hour: Option<f64>,
}

/// Bare pods created and deleted at the times of a trace.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawPodTrace {
    /// Names the workload in reports (like a Deployment).
    pub name: Option<String>,
    /// `alibaba-openb`: the Alibaba GPU cluster trace's pod list.
    pub format: Option<String>,
    /// Path relative to the scenario file.
    pub file: Option<String>,
    /// Trace time that maps to t = 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<Duration>,
    /// Trace seconds per simulated second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speedup: Option<f64>,
    /// Ignore deletion times: pods stay once created and the cluster fills up, as in
    /// fragmentation studies (default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignore_deletions: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawNodePool {
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Number of nodes.
    pub count: Option<u32>,
    /// Node allocatable: `cpu`, `memory`, `pods`, `ephemeral-storage`, `nvidia.com/gpu`, …
    #[serde(default)]
    pub allocatable: BTreeMap<String, RawQuantity>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations on every node (`cluster-autoscaler.kubernetes.io/scale-down-disabled`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<RawTaint>,
    /// On-demand price of one node, USD per hour.
    pub price_per_hour: Option<f64>,
    /// Node capacity; allocatable = capacity − systemReserved (give this or `allocatable`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capacity: BTreeMap<String, RawQuantity>,
    /// Reserved for the OS, kubelet and eviction threshold (`--system-reserved`,
    /// `--kube-reserved`, `--eviction-hard` together); only with `capacity`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub system_reserved: BTreeMap<String, RawQuantity>,
    /// Smallest size the Cluster Autoscaler may shrink the pool to (default: `count`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_count: Option<u32>,
    /// Largest size the Cluster Autoscaler may grow the pool to (default: `count`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_count: Option<u32>,
    /// `on-demand` (default) or `spot`: which price the nodes are billed at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_type: Option<String>,
    /// Spot price of one node, USD per hour (required with `capacityType: spot`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spot_price_per_hour: Option<f64>,
    /// Time from the autoscaler's request to a Ready node (default 1m; GPU nodes take longer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioning_time: Option<RawDistribution>,
    /// Zones the pool's nodes are spread over, round-robin (label `topology.kubernetes.io/zone`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<String>,
    /// Random machine failures of this pool's nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<RawNodeFailures>,
    /// Mean time between spot interruptions of each node (spot pools only).
    #[serde(
        rename = "spotInterruptionMTBI",
        skip_serializing_if = "Option::is_none"
    )]
    pub spot_interruption_mtbi: Option<Duration>,
    /// Bytes per second a node pulls images at (e.g. `100Mi`); absent: pulls take no time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_pull_bandwidth: Option<RawQuantity>,
    /// The kubelet's CPU settings on the pool's nodes (KubeletConfiguration field names).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubelet: Option<RawKubelet>,
}

/// `kubelet: {cpuCFSQuota: true, cpuCFSQuotaPeriod: 100ms}`: how the pool's kubelets turn CPU
/// limits into CFS quotas.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawKubelet {
    /// Enforce CPU limits with CFS quotas (default true).
    #[serde(rename = "cpuCFSQuota", skip_serializing_if = "Option::is_none")]
    pub cpu_cfs_quota: Option<bool>,
    /// The CFS period (default 100ms; 1ms to 1s).
    #[serde(rename = "cpuCFSQuotaPeriod", skip_serializing_if = "Option::is_none")]
    pub cpu_cfs_quota_period: Option<Duration>,
}

/// A quantity as written: a string (`"500m"`, `16Gi`) or a plain number.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum RawQuantity {
    Text(String),
    Int(i64),
    Float(f64),
}

impl RawQuantity {
    pub fn as_text(&self) -> String {
        match self {
            RawQuantity::Text(s) => s.clone(),
            RawQuantity::Int(i) => i.to_string(),
            RawQuantity::Float(f) => f.to_string(),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawTaint {
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub effect: Option<String>,
}

/// kube-controller-manager settings, under their real flag names.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct RawControllerManager {
    #[serde(rename = "horizontal-pod-autoscaler-sync-period")]
    pub hpa_sync_period: Option<Duration>,
    #[serde(rename = "horizontal-pod-autoscaler-tolerance")]
    pub hpa_tolerance: Option<f64>,
    #[serde(rename = "horizontal-pod-autoscaler-downscale-stabilization")]
    pub hpa_downscale_stabilization: Option<Duration>,
    #[serde(rename = "horizontal-pod-autoscaler-cpu-initialization-period")]
    pub hpa_cpu_initialization_period: Option<Duration>,
    #[serde(rename = "horizontal-pod-autoscaler-initial-readiness-delay")]
    pub hpa_initial_readiness_delay: Option<Duration>,
}

/// Cluster Autoscaler settings, under their real flag names.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct RawClusterAutoscaler {
    /// Set false to keep the block but not run the autoscaler.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(rename = "scan-interval")]
    pub scan_interval: Option<Duration>,
    /// `random`, `most-pods`, `least-waste` (default), `least-nodes`, `price`, `priority`, or
    /// a comma-separated chain.
    pub expander: Option<String>,
    #[serde(rename = "max-node-provision-time")]
    pub max_node_provision_time: Option<Duration>,
    #[serde(rename = "scale-down-enabled")]
    pub scale_down_enabled: Option<bool>,
    #[serde(rename = "scale-down-utilization-threshold")]
    pub scale_down_utilization_threshold: Option<f64>,
    #[serde(rename = "scale-down-gpu-utilization-threshold")]
    pub scale_down_gpu_utilization_threshold: Option<f64>,
    #[serde(rename = "scale-down-unneeded-time")]
    pub scale_down_unneeded_time: Option<Duration>,
    #[serde(rename = "scale-down-delay-after-add")]
    pub scale_down_delay_after_add: Option<Duration>,
    #[serde(rename = "scale-down-delay-after-delete")]
    pub scale_down_delay_after_delete: Option<Duration>,
    #[serde(rename = "scale-down-delay-after-failure")]
    pub scale_down_delay_after_failure: Option<Duration>,
    #[serde(rename = "max-pod-eviction-time")]
    pub max_pod_eviction_time: Option<Duration>,
    #[serde(rename = "unremovable-node-recheck-timeout")]
    pub unremovable_node_recheck_timeout: Option<Duration>,
    #[serde(rename = "max-graceful-termination-sec")]
    pub max_graceful_termination_sec: Option<u32>,
    #[serde(rename = "expendable-pods-priority-cutoff")]
    pub expendable_pods_priority_cutoff: Option<i32>,
    #[serde(rename = "max-scale-down-parallelism")]
    pub max_scale_down_parallelism: Option<u32>,
    #[serde(rename = "max-drain-parallelism")]
    pub max_drain_parallelism: Option<u32>,
    #[serde(rename = "new-pod-scale-up-delay")]
    pub new_pod_scale_up_delay: Option<Duration>,
    #[serde(rename = "max-nodes-per-scaleup")]
    pub max_nodes_per_scaleup: Option<u32>,
    #[serde(rename = "max-nodes-total")]
    pub max_nodes_total: Option<u32>,
    #[serde(rename = "cores-total")]
    pub cores_total: Option<String>,
    #[serde(rename = "memory-total")]
    pub memory_total: Option<String>,
    #[serde(rename = "initial-node-group-backoff-duration")]
    pub initial_node_group_backoff_duration: Option<Duration>,
    #[serde(rename = "max-node-group-backoff-duration")]
    pub max_node_group_backoff_duration: Option<Duration>,
    #[serde(rename = "node-group-backoff-reset-timeout")]
    pub node_group_backoff_reset_timeout: Option<Duration>,
    #[serde(rename = "scale-down-unready-enabled")]
    pub scale_down_unready_enabled: Option<bool>,
    #[serde(rename = "scale-down-unready-time")]
    pub scale_down_unready_time: Option<Duration>,
    #[serde(rename = "skip-nodes-with-system-pods")]
    pub skip_nodes_with_system_pods: Option<bool>,
    #[serde(rename = "skip-nodes-with-local-storage")]
    pub skip_nodes_with_local_storage: Option<bool>,
    #[serde(rename = "skip-nodes-with-custom-controller-pods")]
    pub skip_nodes_with_custom_controller_pods: Option<bool>,
    #[serde(rename = "min-replica-count")]
    pub min_replica_count: Option<u32>,
    /// Upstream's spelling ("distruption").
    #[serde(rename = "blocking-system-pod-distruption-timeout")]
    pub blocking_system_pod_distruption_timeout: Option<Duration>,
    #[serde(rename = "ignore-daemonsets-utilization")]
    pub ignore_daemonsets_utilization: Option<bool>,
    #[serde(rename = "ignore-mirror-pods-utilization")]
    pub ignore_mirror_pods_utilization: Option<bool>,
    #[serde(rename = "enforce-node-group-min-size")]
    pub enforce_node_group_min_size: Option<bool>,
    #[serde(rename = "balance-similar-node-groups")]
    pub balance_similar_node_groups: Option<bool>,
    #[serde(rename = "memory-difference-ratio")]
    pub memory_difference_ratio: Option<f64>,
    #[serde(rename = "max-allocatable-difference-ratio")]
    pub max_allocatable_difference_ratio: Option<f64>,
    #[serde(rename = "max-free-difference-ratio")]
    pub max_free_difference_ratio: Option<f64>,
    /// `--balancing-ignore-label`, once per label.
    #[serde(
        default,
        rename = "balancing-ignore-label",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub balancing_ignore_label: Vec<String>,
    /// `--balancing-label`, once per label.
    #[serde(
        default,
        rename = "balancing-label",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub balancing_label: Vec<String>,
    /// The priority expander's ConfigMap data: priority (an integer) → node-pool name patterns.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub priorities: BTreeMap<String, Vec<String>>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawMetricsServer {
    /// `--metric-resolution`: scrape period (the official manifests use 15s).
    pub metric_resolution: Option<Duration>,
}

/// How one Deployment's containers behave under load.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawWorkload {
    /// Name of the Deployment (from the manifests).
    pub deployment: Option<String>,
    /// Name of the Job (from the manifests), instead of `deployment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// A Job's pods: how long one runs once its container started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_time: Option<RawDistribution>,
    /// A Job's pods: the chance that a run fails (exits non-zero), 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_probability: Option<f64>,
    /// From binding to the container running (image pull unless the pool models it, start).
    pub startup_time: Option<RawDistribution>,
    /// CPU time one request needs at one full core.
    pub cpu_per_request: Option<RawDistribution>,
    /// Requests a pod serves at once; more wait in its queue.
    pub concurrency: Option<u32>,
    /// Requests that may wait per pod; beyond it requests fail with `queue_full`.
    pub queue_limit: Option<u32>,
    /// Client timeout: requests slower than this fail with `timeout`.
    pub timeout: Option<Duration>,
    /// Names for the pods' serving metrics, for HPA Pods metrics:
    /// `{http_requests_in_flight: inFlightRequests, queue_depth: queueLength, rps: requestsPerSecond}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_metrics: BTreeMap<String, String>,
    /// The container that serves requests (default: the first app container); the others use
    /// no CPU or memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Working-set memory model (needed by memory metrics and memory limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<RawMemoryModel>,
    /// After the container starts, how long the app answers nothing (requests and probes fail)
    /// while it loads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<RawDistribution>,
    /// How the app answers its probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<RawHealthCheck>,
    /// Mean time between crashes of a container (its own random stream), e.g. `6h`.
    #[serde(default, rename = "crashMTBF", skip_serializing_if = "Option::is_none")]
    pub crash_mtbf: Option<Duration>,
    /// Where the pods' CFS periods end: this long after t = 0, and every period after
    /// (default: a random point per pod, as each cgroup's period timer starts).
    #[serde(
        default,
        rename = "cfsPeriodOffset",
        skip_serializing_if = "Option::is_none"
    )]
    pub cfs_period_offset: Option<Duration>,
    /// What each request does after its `cpuPerRequest` work: calls to other Services
    /// (sequential, `parallel`, `oneOf`) and more CPU work, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<RawCallStep>,
    /// The pods are LLM inference servers (continuous batching on GPUs) instead of CPU servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<RawLlm>,
}

/// `llm: {profile: llama2-70b/a100-80gb/tp4, maxNumSeqs: 256, …}`: an inference server as vLLM
/// runs one, with vLLM's names and defaults for its engine arguments.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawLlm {
    /// A step-time profile fitted to SplitwiseSim's 2023 measurements, `model/hardware/tpN`
    /// (instead of `model` and `gpu`).
    pub profile: Option<String>,
    /// The model: a shipped name (`llama-3.1-8b` …) or a Hugging Face `config.json` relative
    /// to the scenario; its steps are costed on `gpu`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The GPU type, from kubesim's table (`h100-80gb`, `l40s` …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
    /// GPUs the model is split over (vLLM `--tensor-parallel-size`, default: the pods' GPU
    /// request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensor_parallel: Option<u32>,
    /// The weights' type (vLLM `--dtype`: `auto`, `bfloat16`, `float16`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtype: Option<String>,
    /// Weight quantization (vLLM `--quantization`: `fp8`, or none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<String>,
    /// The KV cache's type (vLLM `--kv-cache-dtype`: `auto`, `fp8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_cache_dtype: Option<String>,
    /// The roofline's coefficients, instead of those fitted for the GPU (any may be left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roofline: Option<RawRoofline>,
    /// Result files of `vllm bench serve --save-result` (one or a list, relative to the
    /// scenario): the roofline's coefficients are fitted to them before the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benchmark: Option<RawFiles>,
    /// Most sequences in a batch (vLLM `--max-num-seqs`, default 256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_num_seqs: Option<u32>,
    /// Most tokens computed in one step (`--max-num-batched-tokens`, default 8192).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_num_batched_tokens: Option<u32>,
    /// Most tokens of context per sequence (`--max-model-len`, default: the model's context
    /// window; larger stands for a long-context variant with the same step times).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_model_len: Option<u32>,
    /// Tokens per KV-cache block (`--block-size`, default 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_size: Option<u32>,
    /// Fraction of GPU memory the server may use (`--gpu-memory-utilization`, default 0.9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_memory_utilization: Option<f64>,
    /// The KV cache's size in blocks, instead of deriving it from the GPUs' memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_cache_blocks: Option<u32>,
    /// Automatic prefix caching (`--enable-prefix-caching`, on by default as in vLLM V1): used
    /// with traces that give prompt block hashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_caching: Option<bool>,
    /// Async scheduling (`--async-scheduling`, on by default as in vLLM's 2026 releases): a
    /// request arriving during a step joins the step after the next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub async_scheduling: Option<bool>,
}

/// One file or a list of them.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum RawFiles {
    One(String),
    Many(Vec<String>),
}

/// `roofline: {computeEfficiency: 0.6, memoryEfficiency: 0.8, stepOverheadUs: 1000,
/// allReduceUs: 10}`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawRoofline {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_efficiency: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_efficiency: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_overhead_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_reduce_us: Option<f64>,
}

/// One step of a request's call graph: exactly one of `call`, `parallel`, `oneOf`, `steps` or
/// `cpu` (`count`, `timeout` and `retries` go with `call`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawCallStep {
    /// A synchronous call to this Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<String>,
    /// How many times the call is made, one after another (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<RawCallCount>,
    /// How long the caller waits for each try (default: the callee's own `timeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<RawRetries>,
    /// The caller goes on when the call fails for good, as handlers that ignore an error do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
    /// A call to an LLM server's Service (or to a workload that passes tokens on): each
    /// request's prompt and output tokens, or `request` for the calling request's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<RawCallTokens>,
    /// Steps run at once; the step ends when all have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<Vec<RawCallStep>>,
    /// One branch per request, picked by weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<RawBranch>>,
    /// Steps in order (useful as one branch of `parallel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<RawCallStep>>,
    /// More CPU work in the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<RawDistribution>,
    /// A wait that uses no CPU (a sleep, an injected latency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<RawDistribution>,
    /// How this workload's clients connect to the called Service, instead of the Service's
    /// `traffic[].connections` (e.g. `perRequest`: a client-side balancer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<RawConnections>,
    /// The size of each call's request (a quantity of bytes, default 1k), for the price of
    /// bytes between zones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_bytes: Option<RawQuantity>,
    /// The size of each call's response (default 1k).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_bytes: Option<RawQuantity>,
}

/// A `oneOf` branch: `{weight: 10, steps: [...]}`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawBranch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    #[serde(default)]
    pub steps: Vec<RawCallStep>,
}

/// How many calls: a whole number, `{poisson: 2.5}` or `{uniform: {min: 1, max: 4}}`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum RawCallCount {
    Fixed(u32),
    Family(RawCallCountFamily),
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum RawCallCountFamily {
    Poisson(f64),
    Uniform { min: u32, max: u32 },
}

/// `retries: {attempts: 2, backoff: 25ms, maxBackoff: 250ms, budget: 0.2}`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawRetries {
    /// Retries after the first try.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// Base of the exponential backoff (full jitter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_backoff: Option<Duration>,
    /// Retries in flight may be at most this fraction of the calls in flight (at least 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<f64>,
}

/// `healthCheck: {failsAboveInFlight: 40}`: probes fail while the pod has more requests in
/// flight (in service and queued) than this — an overloaded app answers its health endpoint
/// too late.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawHealthCheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fails_above_in_flight: Option<u32>,
}

/// `memory: {base: 256Mi, perInFlightRequest: 2Mi}`: a pod's working set is the base plus the
/// per-request amount for every request in service or queued.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawMemoryModel {
    pub base: Option<RawQuantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_in_flight_request: Option<RawQuantity>,
}

/// A duration-valued distribution: a plain duration (constant) or one of the named families.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub enum RawDistribution {
    Constant(Duration),
    Family(RawDistributionFamily),
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub enum RawDistributionFamily {
    Constant { value: Duration },
    Exponential { mean: Duration },
    LogNormal { mean: Duration, cv: f64 },
    Uniform { min: Duration, max: Duration },
}

/// Traffic offered to one Service.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawTraffic {
    pub service: Option<String>,
    /// Instead of `service`: an Ingress, whose rules pick the backend Service for `host` and
    /// `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `Random` (kube-proxy iptables, the default) or `RoundRobin` (IPVS rr).
    pub load_balancing: Option<String>,
    pub arrivals: Option<RawArrivals>,
    /// Token counts of requests to LLM servers, drawn per request (not with `llmTrace`, whose
    /// rows carry them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<RawTokens>,
    /// LLM Services: a request counts toward goodput when its TTFT and TPOT are within these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput: Option<RawGoodput>,
    /// How clients connect to the Service (default: every request balanced on its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<RawConnections>,
}

/// `connections: {mode: http2, maxConnectionAge: 30s, clients: 100}`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawConnections {
    /// `perRequest` (a mesh, an ingress or a client-side balancer), `http2` (one long-lived
    /// connection per client pod, as gRPC's default channel keeps) or `http1` (a keep-alive
    /// pool per client pod).
    pub mode: Option<String>,
    /// The server closes a connection this long after it opened (±10 %, gRPC's
    /// `MaxConnectionAge`); the client reconnects on its next request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connection_age: Option<Duration>,
    /// Connections the traffic from outside comes over (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<u32>,
    /// `http1`: idle connections a calling pod keeps per Service (default 2, Go's
    /// `MaxIdleConnsPerHost`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<u32>,
    /// `http1`: an idle connection closes after this long (default 90s, Go's `IdleConnTimeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<Duration>,
}

/// `goodput: {ttft: 2s, tpot: 100ms}` (either may be left out).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawGoodput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot: Option<Duration>,
}

/// `tokens: {prompt: {logNormal: {mean: 1000, cv: 1}}, output: 200}`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawTokens {
    pub prompt: Option<RawCount>,
    pub output: Option<RawCount>,
    /// A system prompt shared by groups of requests, before each one's `prompt` tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_prefix: Option<RawSharedPrefix>,
}

/// `sharedPrefix: {tokens: 100, groups: 10, promptsPerGroup: 10}`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawSharedPrefix {
    /// The system prompt's length in tokens.
    pub tokens: Option<u32>,
    /// Distinct system prompts (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<u32>,
    /// A fixed pool of prompts per group, sent in turn (default: every request its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts_per_group: Option<u32>,
}

/// A count distribution: a whole number, `{uniform: {min, max}}` or `{logNormal: {mean, cv}}`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
#[serde(try_from = "RawCountInput")]
pub enum RawCount {
    Fixed(u32),
    Family(RawCountFamily),
}

/// What a count field may hold as written, so that a number out of range or a value of the
/// wrong shape gets a message saying what is expected (an untagged enum's own error names
/// only the enum).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawCountInput {
    Fixed(u32),
    Family(RawCountFamily),
    Large(u64),
    Negative(i64),
    Number(f64),
    Other(serde::de::IgnoredAny),
}

impl TryFrom<RawCountInput> for RawCount {
    type Error = String;

    fn try_from(input: RawCountInput) -> Result<RawCount, String> {
        match input {
            RawCountInput::Fixed(n) => Ok(RawCount::Fixed(n)),
            RawCountInput::Family(f) => Ok(RawCount::Family(f)),
            RawCountInput::Large(n) => Err(format!(
                "{n} is out of range: a count is a whole number from 0 to {}",
                u32::MAX
            )),
            RawCountInput::Negative(n) => Err(format!("{n}: a count must not be negative")),
            RawCountInput::Number(n) => Err(format!("{n} is not a whole number")),
            RawCountInput::Other(_) => Err(
                "expected a whole number, {uniform: {min, max}} or {logNormal: {mean, cv}}".into(),
            ),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum RawCountFamily {
    Uniform { min: u32, max: u32 },
    LogNormal { mean: f64, cv: f64 },
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub enum RawArrivals {
    /// Poisson arrivals at a constant rate.
    Constant { rate: f64 },
    /// Evenly spaced arrivals at a constant rate (a load generator's constant arrival rate).
    FixedInterval { rate: f64 },
    /// `size` requests at once every `every`.
    Bursts(RawBursts),
    /// One request at each time a CSV lists (seconds, first column).
    RequestTimes(RawTraceFile),
    /// Piecewise-constant rate from a CSV `t_seconds,rate` (Poisson within each piece).
    RateSeries(RawTraceFile),
    /// Requests per minute from a CSV (a timestamp column and a count column).
    PerMinuteCounts(RawTraceFile),
    /// One request per row, with its prompt and output tokens: the Azure LLM inference CSV or
    /// the Mooncake JSON Lines trace.
    LlmTrace(RawTraceFile),
    /// A fixed number of users, each sending its next request when the last one is answered.
    ClosedLoop(RawClosedLoop),
}

/// `closedLoop: {users: 32, thinkTime: 2s, stages: [{duration: 5m, target: 64}]}`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawClosedLoop {
    /// Users at the start.
    pub users: Option<u32>,
    /// What a user waits between an answer and its next request (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think_time: Option<RawDistribution>,
    /// Ramps of the user count, one after another from the start (k6's `ramping-vus`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<RawStage>,
}

/// `{duration: 5m, target: 64}`: the user count goes linearly to `target` over `duration`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawStage {
    pub duration: Option<Duration>,
    pub target: Option<u32>,
}

/// `bursts: {size: 8, every: 1s}`: a count or a count distribution, and the time between bursts.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawBursts {
    pub size: Option<RawCount>,
    pub every: Option<Duration>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RawTraceFile {
    /// Path relative to the scenario file.
    pub file: Option<String>,
    /// Multiplies every rate.
    pub scale: Option<f64>,
    /// Trace time that maps to t = 0 (skip the first part of the trace).
    pub offset: Option<Duration>,
    /// Trace seconds per simulated second (12 replays a day in 2 h; rates are unchanged).
    pub speedup: Option<f64>,
    /// For perMinuteCounts: the column holding the counts (default: the last column).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
}

/// `failures: {mtbf: 720h, repairTime: {exponential: {mean: 30m}}}`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawNodeFailures {
    pub mtbf: Option<Duration>,
    pub repair_time: Option<RawDistribution>,
}

/// One scripted event: `{at: 10m, action: failNode, node: general-1}`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawEvent {
    pub at: Option<Duration>,
    pub action: Option<String>,
    /// A node's name, or `{pool, pick}` to pick one when the event happens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<RawNodeRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// `apply`: the manifest file, relative to the scenario.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// `rollback`: the revision to go back to (default: the previous one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_revision: Option<u64>,
    /// `deletePod`: how many pods (default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

/// One SLO assertion, e.g. `assert: latency.p99 <= 250ms` for `service: web`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawSlo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    pub assert: Option<String>,
}

/// A scripted event's node: a name (`general-1`) or `{pool: general, pick: busiest}`.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum RawNodeRef {
    Named(String),
    Pick(RawNodePick),
}

/// `{pool, pick}`: a node of the pool, picked when the event happens.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawNodePick {
    pub pool: Option<String>,
    /// `random` (the default), `busiest` or `newest`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pick: Option<String>,
}

/// A call's tokens: `request` (the calling request's own) or `{prompt, output}` drawn per call.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum RawCallTokens {
    Request(RequestKeyword),
    Drawn(RawTokens),
}

/// The word `request`.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RequestKeyword {
    Request,
}

impl<'de> Deserialize<'de> for RawDistribution {
    /// A string is a constant duration; a mapping names a family (`logNormal: {mean, cv}`).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let constant =
            |v: &str| super::units::parse_duration(v).map(|d| Self::Constant(Duration(d)));
        string_or_map(
            deserializer,
            "a duration (100ms) or a distribution such as {logNormal: {mean: 100ms, cv: 1}}",
            constant,
            Self::Family,
        )
    }
}

impl<'de> Deserialize<'de> for RawNodeRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        string_or_map(
            deserializer,
            "a node's name (general-1) or {pool, pick: random|busiest|newest}",
            |v| Ok(Self::Named(v.to_string())),
            Self::Pick,
        )
    }
}

impl<'de> Deserialize<'de> for RawCallTokens {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let keyword = |v: &str| match v {
            "request" => Ok(Self::Request(RequestKeyword::Request)),
            other => Err(format!(
                "{other:?} is not a token source: use `request` (the calling request's own tokens) or {{prompt, output}}"
            )),
        };
        string_or_map(
            deserializer,
            "`request` (the calling request's own tokens) or {prompt, output}, each a count or a distribution",
            keyword,
            Self::Drawn,
        )
    }
}

/// Reads a value written either as a string (`from_str`) or as a mapping (deserialized as `M`,
/// then `from_map`). Hand-written rather than `#[serde(untagged)]`, so that errors keep their
/// exact position and path.
fn string_or_map<'de, D, T, M>(
    deserializer: D,
    expecting: &'static str,
    from_str: impl FnOnce(&str) -> Result<T, String>,
    from_map: fn(M) -> T,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    M: Deserialize<'de>,
{
    struct V<S, M, T> {
        expecting: &'static str,
        from_str: S,
        from_map: fn(M) -> T,
    }
    impl<'de, S, M, T> serde::de::Visitor<'de> for V<S, M, T>
    where
        S: FnOnce(&str) -> Result<T, String>,
        M: Deserialize<'de>,
    {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
            (self.from_str)(v).map_err(E::custom)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            let de = serde::de::value::MapAccessDeserializer::new(map);
            M::deserialize(de).map(self.from_map)
        }
    }
    deserializer.deserialize_any(V {
        expecting,
        from_str,
        from_map,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::de::decode;
    use crate::scenario::yaml::parse_documents;

    #[test]
    fn a_count_out_of_range_says_what_a_count_is() {
        #[derive(Debug, Deserialize)]
        struct Holder {
            #[allow(dead_code)]
            output: RawCount,
        }
        let message = |text: &str| {
            let node = parse_documents(text).unwrap().remove(0);
            decode::<Holder>(&node, "tokens").unwrap_err().message
        };
        let big = message("output: 18446744073709551615\n");
        assert!(big.contains("18446744073709551615 is out of range: a count is a whole number from 0 to 4294967295"), "{big}");
        assert!(message("output: -3\n").contains("-3: a count must not be negative"));
        assert!(message("output: 2.5\n").contains("2.5 is not a whole number"));
        assert!(message("output: lots\n").contains("expected a whole number, {uniform"));
        let node = parse_documents("output: {uniform: {min: 1, max: 4}}\n")
            .unwrap()
            .remove(0);
        assert!(decode::<Holder>(&node, "").is_ok());
    }
}
