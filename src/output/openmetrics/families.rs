//! Which series an export instant becomes: the exporters' metric names and label sets
//! (docs/upstream/prometheus.md §3 lists the real ones), filled from an [`ExportSample`].

use super::store::{Family, MetricType, SeriesStore};
use super::text::Labels;
use crate::metrics::export::{
    ENVOY_BUCKETS_MS, ExportSample, HpaRecord, PhaseName, PodRecord, ServiceRecord,
    VLLM_TPOT_BUCKETS_S, VLLM_TTFT_BUCKETS_S, WorkloadKind, WorkloadRecord,
};
use crate::traffic::FailureReason;

const fn family(
    name: &'static str,
    kind: MetricType,
    unit: Option<&'static str>,
    help: &'static str,
) -> Family {
    Family {
        name,
        kind,
        unit,
        help,
    }
}

use MetricType::{Counter, Gauge, Histogram, Info};

/// Every family an export may have, in the order they are written.
pub static FAMILIES: [Family; 39] = [
    family(
        "kubesim_run",
        Info,
        None,
        "The kubesim run these series come from.",
    ),
    family(
        "container_cpu_usage_seconds",
        Counter,
        Some("seconds"),
        "Cumulative cpu time consumed (cAdvisor, as of the kubelet's last scrape).",
    ),
    family(
        "container_cpu_cfs_periods",
        Counter,
        None,
        "Number of elapsed enforcement period intervals.",
    ),
    family(
        "container_cpu_cfs_throttled_periods",
        Counter,
        None,
        "Number of throttled period intervals.",
    ),
    family(
        "container_cpu_cfs_throttled_seconds",
        Counter,
        Some("seconds"),
        "Total time duration the container has been throttled.",
    ),
    family(
        "container_memory_working_set_bytes",
        Gauge,
        Some("bytes"),
        "Current working set (as of the kubelet's last scrape).",
    ),
    family("kube_pod_info", Gauge, None, "Information about pod."),
    family("kube_pod_created", Gauge, None, "Unix creation timestamp."),
    family(
        "kube_pod_start_time",
        Gauge,
        None,
        "Start time in unix timestamp for a pod.",
    ),
    family(
        "kube_pod_status_phase",
        Gauge,
        None,
        "The pods current phase.",
    ),
    family(
        "kube_pod_status_ready",
        Gauge,
        None,
        "Describes whether the pod is ready to serve requests.",
    ),
    family(
        "kube_pod_container_status_restarts",
        Counter,
        None,
        "The number of container restarts per container.",
    ),
    family(
        "kube_deployment_spec_replicas",
        Gauge,
        None,
        "Number of desired pods for a deployment.",
    ),
    family(
        "kube_deployment_status_replicas",
        Gauge,
        None,
        "The number of replicas per deployment.",
    ),
    family(
        "kube_deployment_status_replicas_ready",
        Gauge,
        None,
        "The number of ready replicas per deployment.",
    ),
    family(
        "kube_deployment_status_replicas_updated",
        Gauge,
        None,
        "The number of updated replicas per deployment.",
    ),
    family(
        "kube_statefulset_replicas",
        Gauge,
        None,
        "Number of desired pods for a StatefulSet.",
    ),
    family(
        "kube_statefulset_status_replicas",
        Gauge,
        None,
        "The number of replicas per StatefulSet.",
    ),
    family(
        "kube_statefulset_status_replicas_ready",
        Gauge,
        None,
        "The number of ready replicas per StatefulSet.",
    ),
    family(
        "kube_statefulset_status_replicas_updated",
        Gauge,
        None,
        "The number of updated replicas per StatefulSet.",
    ),
    family(
        "kube_horizontalpodautoscaler_spec_min_replicas",
        Gauge,
        None,
        "Lower limit for the number of pods that can be set by the autoscaler, default 1.",
    ),
    family(
        "kube_horizontalpodautoscaler_spec_max_replicas",
        Gauge,
        None,
        "Upper limit for the number of pods that can be set by the autoscaler; cannot be smaller than MinReplicas.",
    ),
    family(
        "kube_horizontalpodautoscaler_status_current_replicas",
        Gauge,
        None,
        "Current number of replicas of pods managed by this autoscaler.",
    ),
    family(
        "kube_horizontalpodautoscaler_status_desired_replicas",
        Gauge,
        None,
        "Desired number of replicas of pods managed by this autoscaler.",
    ),
    family(
        "istio_requests",
        Counter,
        None,
        "Requests to the Service (Istio's sidecars; kubesim counts a request when it ends).",
    ),
    family(
        "istio_request_duration_milliseconds",
        Histogram(&ENVOY_BUCKETS_MS),
        Some("milliseconds"),
        "Served requests' durations, whole milliseconds, Envoy's default buckets.",
    ),
    family(
        "vllm:num_requests_running",
        Gauge,
        None,
        "Number of requests in model execution batches.",
    ),
    family(
        "vllm:num_requests_waiting",
        Gauge,
        None,
        "Number of requests waiting to be processed.",
    ),
    family(
        "vllm:kv_cache_usage_perc",
        Gauge,
        None,
        "KV-cache usage. 1 means 100 percent usage.",
    ),
    family(
        "vllm:generation_tokens",
        Counter,
        None,
        "Number of generation tokens processed.",
    ),
    family(
        "vllm:prompt_tokens",
        Counter,
        None,
        "Number of prefill tokens processed (per Service in kubesim).",
    ),
    family(
        "vllm:num_preemptions",
        Counter,
        None,
        "Cumulative number of preemptions from the engine (per Service in kubesim).",
    ),
    family(
        "vllm:time_to_first_token_seconds",
        Histogram(&VLLM_TTFT_BUCKETS_S),
        Some("seconds"),
        "Histogram of time to first token in seconds (per Service in kubesim).",
    ),
    family(
        "vllm:time_per_output_token_seconds",
        Histogram(&VLLM_TPOT_BUCKETS_S),
        Some("seconds"),
        "Histogram of time per output token in seconds (per Service in kubesim).",
    ),
    family(
        "kubesim_node_pool_nodes",
        Gauge,
        None,
        "Nodes of the pool (provisioning, ready or draining): what it is billed for (timeseries.csv pool.<name>.nodes).",
    ),
    family(
        "kubesim_cost_usd",
        Counter,
        None,
        "USD billed for nodes since the start (timeseries.csv cluster.cost_usd).",
    ),
    family(
        "kubesim_cluster_pending_pods",
        Gauge,
        None,
        "Pods waiting for a node (timeseries.csv cluster.pending_pods).",
    ),
    family(
        "kubesim_service_p50_milliseconds",
        Gauge,
        Some("milliseconds"),
        "Median latency of the requests served since the previous sample (timeseries.csv service.<name>.p50_ms).",
    ),
    family(
        "kubesim_service_p99_milliseconds",
        Gauge,
        Some("milliseconds"),
        "99th percentile latency of the requests served since the previous sample (timeseries.csv service.<name>.p99_ms).",
    ),
];

/// Indexes into [`FAMILIES`].
mod f {
    pub const RUN: usize = 0;
    pub const CPU: usize = 1;
    pub const CFS_PERIODS: usize = 2;
    pub const CFS_THROTTLED: usize = 3;
    pub const CFS_THROTTLED_SECONDS: usize = 4;
    pub const WORKING_SET: usize = 5;
    pub const POD_INFO: usize = 6;
    pub const POD_CREATED: usize = 7;
    pub const POD_START: usize = 8;
    pub const POD_PHASE: usize = 9;
    pub const POD_READY: usize = 10;
    pub const RESTARTS: usize = 11;
    /// The first of four Deployment families (spec, status, ready, updated); StatefulSets' four
    /// follow.
    pub const DEPLOYMENT: usize = 12;
    pub const STATEFULSET: usize = 16;
    /// The first of four HPA families (min, max, current, desired).
    pub const HPA: usize = 20;
    pub const REQUESTS: usize = 24;
    pub const DURATION: usize = 25;
    pub const VLLM_RUNNING: usize = 26;
    pub const VLLM_WAITING: usize = 27;
    pub const VLLM_KV: usize = 28;
    pub const VLLM_GENERATION: usize = 29;
    pub const VLLM_PROMPT: usize = 30;
    pub const VLLM_PREEMPTIONS: usize = 31;
    pub const VLLM_TTFT: usize = 32;
    pub const VLLM_TPOT: usize = 33;
    pub const POOL_NODES: usize = 34;
    pub const COST: usize = 35;
    pub const PENDING: usize = 36;
    pub const P50: usize = 37;
    pub const P99: usize = 38;
}

/// What a run's export is about, for `kubesim_run_info` and the series of timeseries.csv's
/// columns.
pub struct RunLabels {
    /// `kubesim_run_info`'s labels.
    pub info: Labels,
    /// `timeseries.csv`'s columns, once known.
    pub columns: Vec<String>,
    /// Unix milliseconds of t = 0.
    pub start_ms: i64,
}

/// Adds one export instant's series to `store`.
pub fn add_sample(store: &mut SeriesStore, run: &RunLabels, sample: &ExportSample) {
    store.push(f::RUN, run.info.clone(), &[1.0]);
    for pod in &sample.pods {
        add_pod(store, run, pod);
    }
    for w in &sample.workloads {
        add_workload(store, w);
    }
    for h in &sample.hpas {
        add_hpa(store, h);
    }
    for s in &sample.services {
        add_service(store, s);
    }
    add_columns(store, &run.columns, sample.row);
}

/// A pod's uid: the API server makes random ones; kubesim's name the pod's place in the run.
fn uid(pod: &PodRecord) -> String {
    format!("00000000-0000-4000-8000-{:012x}", pod.id.0)
}

fn add_pod(store: &mut SeriesStore, run: &RunLabels, pod: &PodRecord) {
    let ksm = Labels::new()
        .with("namespace", pod.namespace)
        .with("pod", pod.name)
        .with("uid", &uid(pod));
    let info = (ksm.clone())
        .with("node", pod.node.unwrap_or_default())
        .with("created_by_kind", pod.owner_kind)
        .with("created_by_name", pod.owner_name);
    store.push(f::POD_INFO, info, &[1.0]);
    let unix = |t: crate::sim::SimTime| (run.start_ms as f64 + t.as_micros() as f64 / 1e3) / 1e3;
    store.push(f::POD_CREATED, ksm.clone(), &[unix(pod.created).floor()]);
    if let Some(started) = pod.started {
        store.push(f::POD_START, ksm.clone(), &[unix(started).floor()]);
    }
    // kube-state-metrics' order of the phases.
    for (name, phase) in [
        ("Pending", Some(PhaseName::Pending)),
        ("Succeeded", Some(PhaseName::Succeeded)),
        ("Failed", Some(PhaseName::Failed)),
        ("Unknown", None),
        ("Running", Some(PhaseName::Running)),
    ] {
        let value = f64::from(u8::from(Some(pod.phase) == phase));
        store.push(f::POD_PHASE, ksm.clone().with("phase", name), &[value]);
    }
    for (condition, value) in [
        ("true", pod.ready),
        ("false", !pod.ready),
        ("unknown", false),
    ] {
        let labels = ksm.clone().with("condition", condition);
        store.push(f::POD_READY, labels, &[f64::from(u8::from(value))]);
    }
    let restarts = ksm.with("container", pod.container);
    store.push(f::RESTARTS, restarts, &[f64::from(pod.restarts)]);
    add_container(store, pod);
}

/// cAdvisor's series of the pod's serving container, and vLLM's of its server.
fn add_container(store: &mut SeriesStore, pod: &PodRecord) {
    let cadvisor = Labels::new()
        .with("container", pod.container)
        .with("namespace", pod.namespace)
        .with("pod", pod.name);
    if let Some(usage) = pod.usage {
        let cpu = cadvisor.clone().with("cpu", "total");
        store.push(f::CPU, cpu, &[usage.cpu_millicore_micros as f64 / 1e9]);
        if let Some(cfs) = usage.cfs {
            store.push(f::CFS_PERIODS, cadvisor.clone(), &[cfs.nr_periods as f64]);
            store.push(
                f::CFS_THROTTLED,
                cadvisor.clone(),
                &[cfs.nr_throttled as f64],
            );
            let throttled = cfs.throttled_us as f64 / 1e6;
            store.push(f::CFS_THROTTLED_SECONDS, cadvisor.clone(), &[throttled]);
        }
        if let Some(bytes) = usage.working_set_bytes {
            store.push(f::WORKING_SET, cadvisor, &[bytes as f64]);
        }
    }
    if let Some(llm) = pod.llm {
        let labels = Labels::new()
            .with("engine", "0")
            .with("model_name", llm.model_name)
            .with("namespace", pod.namespace)
            .with("pod", pod.name);
        store.push(f::VLLM_RUNNING, labels.clone(), &[llm.running as f64]);
        store.push(f::VLLM_WAITING, labels.clone(), &[llm.waiting as f64]);
        let kv = llm.kv_usage_milli as f64 / 1000.0;
        store.push(f::VLLM_KV, labels.clone(), &[kv]);
        store.push(f::VLLM_GENERATION, labels, &[llm.generation_tokens as f64]);
    }
}

fn add_workload(store: &mut SeriesStore, w: &WorkloadRecord) {
    let (first, label) = match w.kind {
        WorkloadKind::Deployment => (f::DEPLOYMENT, "deployment"),
        WorkloadKind::StatefulSet => (f::STATEFULSET, "statefulset"),
    };
    let labels = Labels::new()
        .with("namespace", w.namespace)
        .with(label, w.name);
    let values = [w.spec_replicas, w.replicas, w.ready, w.updated];
    for (i, v) in values.into_iter().enumerate() {
        store.push(first + i, labels.clone(), &[f64::from(v)]);
    }
}

fn add_hpa(store: &mut SeriesStore, h: &HpaRecord) {
    let labels = Labels::new()
        .with("namespace", h.namespace)
        .with("horizontalpodautoscaler", h.name);
    let values = [
        h.min_replicas,
        h.max_replicas,
        h.current_replicas,
        h.desired_replicas,
    ];
    for (i, v) in values.into_iter().enumerate() {
        store.push(f::HPA + i, labels.clone(), &[f64::from(v)]);
    }
}

/// The HTTP status and Envoy response flags a failed request ends with, and whether the
/// destination's sidecar sees it (a request that found no endpoint, or went to a dead node,
/// never reaches one).
pub fn response_of(reason: FailureReason) -> (&'static str, &'static str, bool) {
    match reason {
        FailureReason::NoEndpoint => ("503", "UH", false),
        FailureReason::NodeFailure => ("503", "UF", false),
        FailureReason::ConnectionRefused => ("503", "UF", true),
        FailureReason::QueueFull => ("503", "-", true),
        FailureReason::Timeout => ("504", "UT", true),
        FailureReason::PodTerminated => ("503", "UC", true),
        FailureReason::DownstreamTimeout | FailureReason::DownstreamFailed => ("500", "-", true),
        FailureReason::PromptTooLong => ("400", "-", true),
    }
}

fn add_service(store: &mut SeriesStore, s: &ServiceRecord) {
    let service = |reporter: &str| {
        Labels::new()
            .with("reporter", reporter)
            .with(
                "destination_service",
                &format!("{}.{}.svc.cluster.local", s.name, s.namespace),
            )
            .with("destination_service_name", s.name)
            .with("destination_service_namespace", s.namespace)
            .with("request_protocol", "http")
    };
    for (reporter, at_destination) in [("destination", true), ("source", false)] {
        // Series by (code, flags), in the order they first had a request: served first.
        let mut counts: Vec<((&str, &str), u64)> = vec![(("200", "-"), s.served)];
        for reason in FailureReason::ALL {
            let (code, flags, reaches) = response_of(reason);
            let n = s.failed[reason as usize];
            if n == 0 || (at_destination && !reaches) {
                continue;
            }
            match counts.iter_mut().find(|(k, _)| *k == (code, flags)) {
                Some((_, total)) => *total += n,
                None => counts.push(((code, flags), n)),
            }
        }
        for ((code, flags), n) in counts {
            let labels = service(reporter)
                .with("response_code", code)
                .with("response_flags", flags);
            store.push(f::REQUESTS, labels, &[n as f64]);
        }
    }
    let served = service("destination").with("response_code", "200");
    let d = &s.histograms.duration_ms;
    store.push(f::DURATION, served, &histogram_values(d));
    add_llm_service(store, s);
}

/// A histogram point's values as the store takes them: per-bucket counts, count, sum.
fn histogram_values(h: &crate::metrics::export::BucketCounts) -> Vec<f64> {
    let mut values: Vec<f64> = h.buckets.iter().map(|&n| n as f64).collect();
    values.extend([h.count as f64, h.sum]);
    values
}

fn add_llm_service(store: &mut SeriesStore, s: &ServiceRecord) {
    let (Some(model), Some(totals)) = (s.model_name, s.llm) else {
        return;
    };
    let labels = Labels::new()
        .with("model_name", model)
        .with("namespace", s.namespace)
        .with("service", s.name);
    store.push(
        f::VLLM_PROMPT,
        labels.clone(),
        &[totals.prompt_tokens as f64],
    );
    store.push(
        f::VLLM_PREEMPTIONS,
        labels.clone(),
        &[totals.preemptions as f64],
    );
    if let Some(h) = &s.histograms.llm {
        let ttft = histogram_values(&h.time_to_first_token_s);
        store.push(f::VLLM_TTFT, labels.clone(), &ttft);
        let tpot = histogram_values(&h.time_per_output_token_s);
        store.push(f::VLLM_TPOT, labels, &tpot);
    }
}

/// kubesim's own series, from the time-series row: nodes per pool, cost, pending pods, and
/// each Service's interval quantiles.
fn add_columns(store: &mut SeriesStore, columns: &[String], row: &[f64]) {
    for (column, &value) in columns.iter().zip(row) {
        let (family, labels) = if let Some(pool) = column_part(column, "pool.", ".nodes") {
            (f::POOL_NODES, Labels::new().with("pool", pool))
        } else if column == "cluster.cost_usd" {
            (f::COST, Labels::new())
        } else if column == "cluster.pending_pods" {
            (f::PENDING, Labels::new())
        } else if let Some(s) = column_part(column, "service.", ".p50_ms") {
            (f::P50, Labels::new().with("service", s))
        } else if let Some(s) = column_part(column, "service.", ".p99_ms") {
            (f::P99, Labels::new().with("service", s))
        } else {
            continue;
        };
        store.push(family, labels, &[value]);
    }
}

/// The `<name>` of a column `<prefix><name><suffix>`.
fn column_part<'c>(column: &'c str, prefix: &str, suffix: &str) -> Option<&'c str> {
    column.strip_prefix(prefix)?.strip_suffix(suffix)
}
