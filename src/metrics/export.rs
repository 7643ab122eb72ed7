//! What a run hands out for `--openmetrics` at each export instant: the state a Prometheus
//! server would have scraped then, from the exporters teams run (cAdvisor through the kubelet,
//! kube-state-metrics, Istio's sidecars, vLLM), as plain records. The engine fills them
//! ([`ExportSample`]); `output::openmetrics` turns them into series. Cumulative counters kept
//! only for the export — the latency histograms in the exporters' own buckets — live here too
//! ([`ServiceCounters`]), fed by the recorder when an export was asked for.

use crate::cluster::PodId;
use crate::sim::{SimDuration, SimTime};
use crate::traffic::FailureReason;
use crate::traffic::cfs::CfsStats;

/// Envoy's default histogram buckets (`HistogramSettingsImpl::defaultBuckets`), which Istio's
/// `istio_request_duration_milliseconds` uses: upper bounds in milliseconds, and how Envoy
/// prints them in `le`.
pub const ENVOY_BUCKETS_MS: [(f64, &str); 19] = [
    (0.5, "0.5"),
    (1.0, "1"),
    (5.0, "5"),
    (10.0, "10"),
    (25.0, "25"),
    (50.0, "50"),
    (100.0, "100"),
    (250.0, "250"),
    (500.0, "500"),
    (1000.0, "1000"),
    (2500.0, "2500"),
    (5000.0, "5000"),
    (10000.0, "10000"),
    (30000.0, "30000"),
    (60000.0, "60000"),
    (300000.0, "300000"),
    (600000.0, "600000"),
    (1800000.0, "1800000"),
    (3600000.0, "3600000"),
];

/// vLLM's (V1 engine) `vllm:time_to_first_token_seconds` buckets, as Python's client prints `le`.
pub const VLLM_TTFT_BUCKETS_S: [(f64, &str); 22] = [
    (0.001, "0.001"),
    (0.005, "0.005"),
    (0.01, "0.01"),
    (0.02, "0.02"),
    (0.04, "0.04"),
    (0.06, "0.06"),
    (0.08, "0.08"),
    (0.1, "0.1"),
    (0.25, "0.25"),
    (0.5, "0.5"),
    (0.75, "0.75"),
    (1.0, "1.0"),
    (2.5, "2.5"),
    (5.0, "5.0"),
    (7.5, "7.5"),
    (10.0, "10.0"),
    (20.0, "20.0"),
    (40.0, "40.0"),
    (80.0, "80.0"),
    (160.0, "160.0"),
    (640.0, "640.0"),
    (2560.0, "2560.0"),
];

/// vLLM's (V1 engine) `vllm:time_per_output_token_seconds` buckets.
pub const VLLM_TPOT_BUCKETS_S: [(f64, &str); 19] = [
    (0.01, "0.01"),
    (0.025, "0.025"),
    (0.05, "0.05"),
    (0.075, "0.075"),
    (0.1, "0.1"),
    (0.15, "0.15"),
    (0.2, "0.2"),
    (0.3, "0.3"),
    (0.4, "0.4"),
    (0.5, "0.5"),
    (0.75, "0.75"),
    (1.0, "1.0"),
    (2.5, "2.5"),
    (5.0, "5.0"),
    (7.5, "7.5"),
    (10.0, "10.0"),
    (20.0, "20.0"),
    (40.0, "40.0"),
    (80.0, "80.0"),
];

/// A cumulative histogram over fixed upper bounds: counts per bucket (not yet cumulative: the
/// writer sums them), the count and the sum of what was observed.
#[derive(Clone, Debug, PartialEq)]
pub struct BucketCounts {
    /// Observations in each bucket (the value ≤ its bound and > the previous one's); the last
    /// entry counts those above every bound (`+Inf`).
    pub buckets: Vec<u64>,
    /// Observations in all.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
}

impl BucketCounts {
    /// No observation yet, over `bounds` upper bounds.
    pub fn new(bounds: usize) -> Self {
        BucketCounts {
            buckets: vec![0; bounds + 1],
            count: 0,
            sum: 0.0,
        }
    }

    /// Counts `value` in the first bucket whose bound (from `bounds`) is at least it.
    pub fn record(&mut self, bounds: &[(f64, &str)], value: f64) {
        let i = bounds.partition_point(|&(bound, _)| bound < value);
        self.buckets[i] += 1;
        self.count += 1;
        self.sum += value;
    }
}

/// The histograms one Service has counted since the run started, for the export only (the
/// recorder's own counters have the rest): Istio's duration histogram as the destination's
/// sidecar reports it, and an LLM Service's vLLM timing histograms.
#[derive(Clone, Debug)]
pub struct ServiceCounters {
    /// Served requests' durations in whole milliseconds (Envoy records a duration truncated
    /// to milliseconds), over [`ENVOY_BUCKETS_MS`].
    pub duration_ms: BucketCounts,
    /// An LLM Service's token timings and counts (`None` until it served an LLM request).
    pub llm: Option<LlmHistograms>,
}

/// An LLM Service's vLLM timing histograms since the start.
#[derive(Clone, Debug)]
pub struct LlmHistograms {
    /// `vllm:time_to_first_token_seconds`, in seconds.
    pub time_to_first_token_s: BucketCounts,
    /// `vllm:time_per_output_token_seconds`, in seconds.
    pub time_per_output_token_s: BucketCounts,
}

impl ServiceCounters {
    /// No request counted yet.
    pub fn new() -> Self {
        ServiceCounters {
            duration_ms: BucketCounts::new(ENVOY_BUCKETS_MS.len()),
            llm: None,
        }
    }

    /// A served request's latency, in µs.
    pub fn record_duration(&mut self, micros: u64) {
        let whole_ms = (micros / 1000) as f64;
        self.duration_ms.record(&ENVOY_BUCKETS_MS, whole_ms);
    }

    /// One finished LLM request's time to first token and time per output token.
    pub fn record_llm(&mut self, ttft: SimDuration, tpot: Option<SimDuration>) {
        let llm = self.llm.get_or_insert_with(|| LlmHistograms {
            time_to_first_token_s: BucketCounts::new(VLLM_TTFT_BUCKETS_S.len()),
            time_per_output_token_s: BucketCounts::new(VLLM_TPOT_BUCKETS_S.len()),
        });
        (llm.time_to_first_token_s).record(&VLLM_TTFT_BUCKETS_S, ttft.as_secs_f64());
        if let Some(tpot) = tpot {
            (llm.time_per_output_token_s).record(&VLLM_TPOT_BUCKETS_S, tpot.as_secs_f64());
        }
    }
}

impl Default for ServiceCounters {
    fn default() -> Self {
        Self::new()
    }
}

/// A pod's phase as the API server reports it (`status.phase`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhaseName {
    /// Created, not running yet (unbound, or its containers starting).
    Pending,
    /// Its containers run.
    Running,
    /// Its run ended with exit code 0 (a Job's pod).
    Succeeded,
    /// Its run failed (a Job's pod).
    Failed,
}

/// One pod that exists at the export instant (kube-state-metrics' view, and cAdvisor's for its
/// serving container once it runs).
#[derive(Clone, Debug)]
pub struct PodRecord<'a> {
    /// Its id in the run (stable: it names the pod's series in the writer's cache).
    pub id: PodId,
    /// `metadata.name`.
    pub name: &'a str,
    /// `metadata.namespace`.
    pub namespace: &'a str,
    /// Its node, once bound.
    pub node: Option<&'a str>,
    /// `kube_pod_info`'s `created_by_kind`/`created_by_name`: the ReplicaSet, StatefulSet,
    /// DaemonSet, Job… that made it.
    pub owner_kind: &'static str,
    /// The owner's name (`<none>` for a bare pod).
    pub owner_name: &'a str,
    /// `status.phase`.
    pub phase: PhaseName,
    /// Its Ready condition.
    pub ready: bool,
    /// `metadata.creationTimestamp`.
    pub created: SimTime,
    /// When its containers started (`status.startTime`).
    pub started: Option<SimTime>,
    /// `restartCount` of its serving container.
    pub restarts: u32,
    /// Its serving container's name.
    pub container: &'a str,
    /// Its serving container's cgroup, while it runs.
    pub usage: Option<ContainerUsage>,
    /// The vLLM server's gauges and counter, for an LLM pod that runs.
    pub llm: Option<LlmGauges<'a>>,
}

/// What cAdvisor reads from a running container's cgroup.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContainerUsage {
    /// CPU time used since the container started, in millicore·µs (1e9 = one CPU-second).
    pub cpu_millicore_micros: u64,
    /// `cpu.stat`'s bandwidth counters (with a CPU limit only).
    pub cfs: Option<CfsStats>,
    /// The working set (with a memory model only).
    pub working_set_bytes: Option<i64>,
}

/// A vLLM server's gauges and token counter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LlmGauges<'a> {
    /// The served model's name (`model_name`).
    pub model_name: &'a str,
    /// `vllm:num_requests_waiting`.
    pub waiting: u64,
    /// `vllm:num_requests_running`.
    pub running: u64,
    /// KV-cache blocks in use, in thousandths of the cache.
    pub kv_usage_milli: u64,
    /// Output tokens generated since the server started (`vllm:generation_tokens_total`).
    pub generation_tokens: u64,
}

/// A workload's replica counts (kube-state-metrics' `kube_deployment_*` or
/// `kube_statefulset_*`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorkloadRecord<'a> {
    /// Which kind it is.
    pub kind: WorkloadKind,
    /// `metadata.name`.
    pub name: &'a str,
    /// `metadata.namespace`.
    pub namespace: &'a str,
    /// `spec.replicas`.
    pub spec_replicas: i32,
    /// `status.replicas`: its pods that are not being deleted.
    pub replicas: i32,
    /// `status.readyReplicas`.
    pub ready: i32,
    /// `status.updatedReplicas`: pods of the current revision.
    pub updated: i32,
}

/// The workloads kube-state-metrics reports replica counts of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkloadKind {
    /// A Deployment (`kube_deployment_*`).
    Deployment,
    /// A StatefulSet (`kube_statefulset_*`).
    StatefulSet,
}

/// An HPA's spec bounds and its status after its last sync (0 before the first).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HpaRecord<'a> {
    /// `metadata.name`.
    pub name: &'a str,
    /// `metadata.namespace`.
    pub namespace: &'a str,
    /// `spec.minReplicas`.
    pub min_replicas: i32,
    /// `spec.maxReplicas`.
    pub max_replicas: i32,
    /// `status.currentReplicas`.
    pub current_replicas: i32,
    /// `status.desiredReplicas`.
    pub desired_replicas: i32,
}

/// A Service and what it has counted.
#[derive(Clone, Copy, Debug)]
pub struct ServiceRecord<'a> {
    /// `metadata.name`.
    pub name: &'a str,
    /// `metadata.namespace`.
    pub namespace: &'a str,
    /// The LLM model its backends serve, for the `model_name` label of vLLM's series.
    pub model_name: Option<&'a str>,
    /// Requests served since the start (`response_code="200"`).
    pub served: u64,
    /// Requests failed since the start, by reason (indexed by `FailureReason as usize`).
    pub failed: [u64; FailureReason::ALL.len()],
    /// Its latency histograms in the exporters' buckets.
    pub histograms: &'a ServiceCounters,
    /// An LLM Service's token counters since the start.
    pub llm: Option<LlmTotals>,
}

/// An LLM Service's vLLM counters since the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LlmTotals {
    /// Prompt tokens (`vllm:prompt_tokens_total`).
    pub prompt_tokens: u64,
    /// Requests preempted (`vllm:num_preemptions_total`).
    pub preemptions: u64,
}

/// Everything exported at one instant.
#[derive(Clone, Debug)]
pub struct ExportSample<'a> {
    /// The instant (since the run's start).
    pub time: SimTime,
    /// Every pod that exists, by workload.
    pub pods: Vec<PodRecord<'a>>,
    /// Each Deployment's and StatefulSet's replica counts.
    pub workloads: Vec<WorkloadRecord<'a>>,
    /// Each HPA's status.
    pub hpas: Vec<HpaRecord<'a>>,
    /// Each Service's counters.
    pub services: Vec<ServiceRecord<'a>>,
    /// The time-series row sampled at the same instant (`timeseries.csv`'s columns).
    pub row: &'a [f64],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_on_a_bound_counts_in_that_bound_s_bucket() {
        // Prometheus buckets are `le`: 5 ms lands in le="5", 5.5 ms in le="10", 4000 s
        // above every bound in +Inf.
        let mut b = BucketCounts::new(ENVOY_BUCKETS_MS.len());
        for v in [0.0, 5.0, 5.5, 4_000_000.0] {
            b.record(&ENVOY_BUCKETS_MS, v);
        }
        assert_eq!(b.buckets[0], 1);
        assert_eq!(b.buckets[2], 1);
        assert_eq!(b.buckets[3], 1);
        assert_eq!(b.buckets[19], 1);
        assert_eq!((b.count, b.sum), (4, 4_000_010.5));
    }

    #[test]
    fn istio_records_whole_milliseconds() {
        // 999 µs is 0 ms (le="0.5"); 1 999 µs is 1 ms (le="1").
        let mut c = ServiceCounters::new();
        c.record_duration(999);
        c.record_duration(1_999);
        assert_eq!(&c.duration_ms.buckets[..2], &[1, 1]);
        assert_eq!(c.duration_ms.sum, 1.0);
    }
}
