//! The run report (`report.json`, schema `kubesim.report/v1`): a pure function of the scenario,
//! the seed and the kubesim version — no wall-clock values (those go to `run.json`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::scenario::{Goodput, Scenario};
use crate::sim::{SimDuration, SimTime};
use crate::traffic::FailureReason;

use super::recorder::{ClusterStats, DeploymentStats, Gauge, LlmStats, Recorder, round3};
use crate::cluster::accounting::ALLOCATION_RESOURCES;

/// The report's schema name and version.
pub const SCHEMA: &str = "kubesim.report/v1";

/// `report.json`: what a run measured — latency, availability and cost per Service, Deployment, HPA and node pool, with the SLO results.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// The version of kubesim that wrote it.
    pub kubesim_version: &'static str,
    /// The scenario's `metadata.name`.
    pub scenario: String,
    /// The seed of the run.
    pub seed: u64,
    /// Simulated seconds.
    pub duration_seconds: f64,
    /// One per Service.
    pub services: Vec<ServiceReport>,
    /// One per workload.
    pub deployments: Vec<DeploymentReport>,
    /// One per HorizontalPodAutoscaler.
    pub hpas: Vec<HpaReport>,
    /// One per node pool.
    pub node_pools: Vec<PoolReport>,
    /// Cluster-wide allocation and pending pods.
    pub cluster: ClusterReport,
    /// Totals over the run.
    pub totals: Totals,
    /// The scenario's SLO assertions, checked.
    pub slos: Vec<SloResult>,
    /// Bytes between zones and what they cost beside the nodes (with `spec.network`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkReport>,
    /// One per VerticalPodAutoscaler: its last recommendation and what it would have changed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vpas: Vec<super::vpa::VpaReport>,
}

/// The price of traffic between zones, beside the nodes' cost.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NetworkReport {
    /// USD per GB that crosses zones (`spec.network`).
    pub usd_per_gb: f64,
    /// GB of calls' requests and responses that crossed zones.
    pub cross_zone_gb: f64,
    /// What they cost, USD.
    pub cross_zone_cost_usd: f64,
    /// The nodes' cost (`totals.cost_usd`) plus the bytes', USD.
    pub total_cost_usd: f64,
}

impl NetworkReport {
    /// At `usd_per_gb`, for `gb` crossed beside `node_cost_usd`.
    pub fn new(usd_per_gb: f64, gb: f64, node_cost_usd: f64) -> NetworkReport {
        let cost = usd_per_gb * gb;
        NetworkReport {
            usd_per_gb,
            cross_zone_gb: round6(gb),
            cross_zone_cost_usd: round6(cost),
            total_cost_usd: round3(node_cost_usd + cost),
        }
    }
}

/// Where a Service's requests went by zone, and what crossed zones.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ZonesReport {
    /// Requests its pods got, by the zone they run in.
    pub requests_by_zone: BTreeMap<String, u64>,
    /// Calls answered in the caller's own zone.
    pub same_zone_calls: u64,
    /// Calls answered from another zone.
    pub cross_zone_calls: u64,
    /// Their requests' and responses' GB.
    pub cross_zone_gb: f64,
    /// What those cost (`null` without `spec.network`).
    pub cross_zone_cost_usd: Option<f64>,
    /// `topology-mode: Auto`: whether the EndpointSlice controller's hints were on at the end
    /// (`on`, or `off:` and why).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hints: Option<String>,
}

/// One Service's requests: counts, latency and failures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceReport {
    /// `metadata.name`.
    pub name: String,
    /// `entry` (it has traffic from outside: its latency is end to end), `internal` (only
    /// other Services call it) or `idle` (nothing sends it requests).
    pub role: &'static str,
    /// The Deployments whose pods it selects.
    pub backends: Vec<String>,
    /// Requests that completed or failed (requests still in flight at the end are excluded).
    pub requests: u64,
    /// Requests answered in time.
    pub served: u64,
    /// Requests that failed.
    pub failed: u64,
    /// Failed requests by reason (`timeout`, `queue_full`, `no_endpoint`, …).
    pub failed_by_reason: BTreeMap<&'static str, u64>,
    /// served / requests; `null` when there were no requests.
    pub availability: Option<f64>,
    /// Latency of served requests.
    pub latency_ms: LatencyMs,
    /// Token-level figures, for a Service served by LLM inference servers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmServiceReport>,
    /// How its lasting connections spread the requests, for a Service whose clients keep
    /// connections (`connections: {mode: http2}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections: Option<ConnectionsReport>,
    /// Its requests by zone, for a Service whose routing looks at zones or with
    /// `spec.network`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zones: Option<ZonesReport>,
}

/// Requests sent over lasting connections, and how they spread over the Service's pods.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConnectionsReport {
    /// Connections opened (first connections and reconnections).
    pub opened: u64,
    /// Requests sent over them.
    pub requests: u64,
    /// Pods that got at least one of them.
    pub pods_reached: u64,
    /// The busiest pod's share of them (`null` without requests).
    pub busiest_pod_share: Option<f64>,
    /// Each pod reached, in the order pods were created.
    pub pods: Vec<PodReached>,
}

/// One pod's requests over connections: how many, and when the first and the last came.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PodReached {
    /// The pod's name.
    pub pod: String,
    /// Requests it got over connections.
    pub requests: u64,
    /// When its first request came, seconds into the run.
    pub first_s: f64,
    /// When its last request came, seconds into the run.
    pub last_s: f64,
}

/// Goodput: the served requests whose TTFT and TPOT were within the thresholds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GoodputReport {
    /// The TTFT threshold, ms (`null`: not judged).
    pub ttft_ms: Option<f64>,
    /// The TPOT threshold, ms (`null`: not judged).
    pub tpot_ms: Option<f64>,
    /// Served requests within both thresholds.
    pub good_requests: u64,
    /// Of the requests that completed or failed (`null` with none).
    pub fraction: Option<f64>,
    /// Good requests per second of simulated time.
    pub good_requests_per_sec: f64,
}

/// What an LLM Service's users and its owners ask about.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LlmServiceReport {
    /// From arrival to the first output token (queueing and prefill).
    pub time_to_first_token_ms: LatencyMs,
    /// Per request, the mean time between its output tokens after the first.
    pub time_per_output_token_ms: LatencyMs,
    /// Tokens of the requests served.
    pub prompt_tokens: u64,
    /// Output tokens of the requests served.
    pub output_tokens: u64,
    /// Prompt tokens taken from the servers' prefix caches instead of computed, and their share
    /// of the prompt tokens (`null` without prompt tokens).
    pub prefix_cached_tokens: u64,
    /// The share of the prompt tokens taken from prefix caches (`null` without prompt tokens).
    pub prefix_cache_hit_rate: Option<f64>,
    /// Times a running request lost its KV blocks to an older one and prefilled again.
    pub preemptions: u64,
    /// How full its servers' KV caches were at the samples (the mean over the pods of a
    /// Deployment, then over the samples; and the largest), as fractions (`null` before any
    /// sample).
    pub kv_cache_usage_mean: Option<f64>,
    /// The fullest a KV cache was at a sample (`null` before any sample).
    pub kv_cache_usage_max: Option<f64>,
    /// Served requests within the goodput thresholds (`traffic[].goodput`), if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goodput: Option<GoodputReport>,
    /// Output tokens per second of simulated time.
    pub output_tokens_per_sec: f64,
    /// GPU-hours its Deployments' bound pods held.
    pub gpu_hours: f64,
    /// Output tokens per GPU-second held (`null` without GPUs).
    pub output_tokens_per_gpu_sec: Option<f64>,
    /// What those GPUs cost (each node's price split over its GPUs), in USD, and per million
    /// output tokens (`null` with no output tokens).
    pub gpu_cost_usd: f64,
    /// `gpu_cost_usd` per million output tokens (`null` with no output tokens).
    pub cost_usd_per_million_output_tokens: Option<f64>,
}

/// A latency distribution's statistics, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LatencyMs {
    /// The median.
    pub p50: f64,
    /// The 90th percentile.
    pub p90: f64,
    /// The 95th percentile.
    pub p95: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// The 99.9th percentile.
    pub p999: f64,
    /// The largest.
    pub max: f64,
    /// The mean.
    pub mean: f64,
}

/// min / time-weighted mean / max of a value over the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// The least.
    pub min: f64,
    /// The time-weighted mean.
    pub mean: f64,
    /// The most.
    pub max: f64,
}

impl Summary {
    fn of(g: &Gauge, end: SimTime) -> Self {
        Summary {
            min: g.min,
            mean: round3(g.mean(end)),
            max: g.max,
        }
    }
}

/// One workload: its replicas, scaling, pods, cost and rollouts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeploymentReport {
    /// `metadata.name`.
    pub name: String,
    /// `spec.replicas` over time.
    pub replicas: Summary,
    /// Ready pods over time.
    pub ready_pods: Summary,
    /// ∫ spec.replicas dt, in hours: what the Deployment's pods occupy.
    pub replica_hours: f64,
    /// Times its replicas went up.
    pub scale_ups: u64,
    /// Times its replicas went down.
    pub scale_downs: u64,
    /// Pods created over the run.
    pub pods_created: u64,
    /// Times one of its pods did not fit any node.
    pub unschedulable_attempts: u64,
    /// The Deployment's share of node cost: each bound pod pays its node's price × its
    /// requests' share of the node (mean over cpu, memory and GPUs).
    pub cost_usd: f64,
    /// Time with fewer Ready pods than `spec.replicas`, in seconds.
    pub short_of_ready_seconds: f64,
    /// Time with the Available condition False (available pods below `replicas −
    /// maxUnavailable`), in seconds.
    pub unavailable_seconds: f64,
    /// Template changes rolled out (scripted `apply` and `rollback`), in order.
    pub rollouts: Vec<RolloutReport>,
    /// Containers killed and restarted (failed liveness or startup probes, OOM kills, crashes).
    pub container_restarts: u64,
    /// Of those, killed by their memory limit.
    pub oom_kills: u64,
    /// Serving containers with an enforced CPU limit, summed: CFS periods as `cpu.stat` counts
    /// them (`nr_periods`: the period timer's firings, at the end of each period with work and
    /// of the idle one after).
    pub cpu_periods: u64,
    /// Of those, periods that ended with the container throttled, its quota spent
    /// (`nr_throttled`).
    pub cpu_throttled_periods: u64,
    /// `cpu_throttled_periods / cpu_periods` (`None` without CPU-limited work).
    pub cpu_throttled_ratio: Option<f64>,
    /// Time the containers' runnable threads waited for their next period, summed over the
    /// CPUs they were on (`throttled_time`), in seconds.
    pub cpu_throttled_seconds: f64,
    /// A Job's outcome, or each Job's a CronJob started (empty for other workloads).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<JobReport>,
}

/// What a Job did: its pods' ends and its condition at the end of the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobReport {
    /// The Job's name (a CronJob's: `<cronjob>-<scheduled minutes since the epoch>`).
    pub name: String,
    /// A CronJob's Job: the schedule time it was started for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_seconds: Option<f64>,
    /// `Complete`, `Failed` or `Running` (not finished when the run ended).
    pub status: &'static str,
    /// The condition's reason: `Completed`, `BackoffLimitExceeded` or `DeadlineExceeded`.
    pub reason: Option<&'static str>,
    /// `spec.completions` (`None`: a work queue).
    pub completions: Option<i32>,
    /// Pods that succeeded.
    pub succeeded: i32,
    /// Pods that failed.
    pub failed: i32,
    /// When it started, in seconds from the start of the run.
    pub started_seconds: Option<f64>,
    /// When it finished (`null`: it had not by the end).
    pub finished_seconds: Option<f64>,
    /// From its start to its finish.
    pub duration_seconds: Option<f64>,
    /// Deleted after `ttlSecondsAfterFinished`.
    pub deleted: bool,
}

impl JobReport {
    /// The report of Job `name` with `completions` from its status.
    pub fn of(
        name: String,
        completions: Option<i32>,
        status: &crate::cluster::JobStatus,
    ) -> JobReport {
        let secs = |t: crate::sim::SimTime| round3(t.as_secs_f64());
        let finished = status.finished;
        JobReport {
            name,
            scheduled_seconds: status.scheduled.map(secs),
            status: match finished {
                None => "Running",
                Some((_, crate::cluster::JobOutcome::Complete)) => "Complete",
                Some(_) => "Failed",
            },
            reason: finished.map(|(_, o)| o.reason()),
            completions,
            succeeded: status.succeeded,
            failed: status.failed,
            started_seconds: status.started.map(secs),
            finished_seconds: finished.map(|(t, _)| secs(t)),
            duration_seconds: status
                .started
                .zip(finished)
                .map(|(s, (f, _))| round3((f - s).as_secs_f64())),
            deleted: status.deleted,
        }
    }
}

/// One rollout: when it started and finished.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RolloutReport {
    /// The ReplicaSet revision rolled out.
    pub revision: u64,
    /// When it started, in seconds from the start of the run.
    pub started_seconds: f64,
    /// `None`: still rolling out at the end of the run.
    pub completed_seconds: Option<f64>,
    /// How long it took (`null`: not finished).
    pub duration_seconds: Option<f64>,
    /// When `progressDeadlineSeconds` passed without progress (the Progressing condition's
    /// `ProgressDeadlineExceeded`), if it did.
    pub progress_deadline_exceeded_seconds: Option<f64>,
}

impl RolloutReport {
    fn of(r: &crate::metrics::recorder::RolloutRecord) -> RolloutReport {
        RolloutReport {
            revision: r.revision,
            started_seconds: round3(r.started.as_secs_f64()),
            completed_seconds: r.completed.map(|t| round3(t.as_secs_f64())),
            duration_seconds: r
                .completed
                .map(|t| round3(t.saturating_since(r.started).as_secs_f64())),
            progress_deadline_exceeded_seconds: r
                .deadline_exceeded
                .map(|t| round3(t.as_secs_f64())),
        }
    }
}

/// One HorizontalPodAutoscaler: its bounds, syncs and what held it back.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HpaReport {
    /// `metadata.name`.
    pub name: String,
    /// The workload it scales.
    pub target: String,
    /// `minReplicas`.
    pub min_replicas: i32,
    /// `maxReplicas`.
    pub max_replicas: i32,
    /// The average CPU utilization it aims at, in percent of the pods' requests, when it has a
    /// `Resource` cpu metric with a `Utilization` target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_target_percent: Option<i32>,
    /// Syncs over the run.
    pub syncs: u64,
    /// Syncs that changed the replicas.
    pub rescales: u64,
    /// Sync periods that ended with the target at maxReplicas, in seconds.
    pub time_at_max_seconds: f64,
    /// Sync periods whose result was held back from the metrics' proposal, in seconds, by
    /// reason (`ScaleUpLimit`, `ScaleDownLimit`, `TooManyReplicas`, `TooFewReplicas`,
    /// `ScaleUpStabilized`, `ScaleDownStabilized`).
    pub time_held_seconds: BTreeMap<&'static str, f64>,
}

/// One node pool: its nodes and what they cost.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoolReport {
    /// The pool's name.
    pub name: String,
    /// The cloud instance type.
    pub instance_type: Option<String>,
    /// `on-demand` or `spot`.
    pub capacity_type: &'static str,
    /// The price nodes are billed at (the spot price for spot pools).
    pub price_usd_per_hour: f64,
    /// Nodes over time.
    pub nodes: Summary,
    /// ∫ nodes dt, in hours.
    pub node_hours: f64,
    /// What the nodes cost, USD.
    pub cost_usd: f64,
}

/// Totals over the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Totals {
    /// Requests that completed or failed, over every Service.
    pub requests: u64,
    /// Requests served.
    pub served: u64,
    /// Requests failed.
    pub failed: u64,
    /// served / requests (`null` with no requests).
    pub availability: Option<f64>,
    /// Requests still in flight when the run ended (not counted above).
    pub in_flight_at_end: u64,
    /// Node-hours over every pool.
    pub node_hours: f64,
    /// What every node cost, USD.
    pub cost_usd: f64,
    /// Node cost no pod's requests account for.
    pub idle_cost_usd: f64,
    /// Events the engine processed (deterministic for a scenario and seed).
    pub events: u64,
}

/// Cluster-wide use of capacity.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterReport {
    /// ∫ requested / ∫ allocatable over Ready nodes, per resource (`cpu`, `memory`,
    /// `nvidia.com/gpu`); `null` for a resource no node has.
    pub allocation: BTreeMap<&'static str, Option<f64>>,
    /// Pods waiting for a node, over the samples.
    pub pending_pods: SampledSummary,
    /// Share of free GPUs the workload's GPU requests cannot use, over the samples.
    pub gpu_fragmentation: SampledSummary,
}

/// Mean and maximum of a sampled value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SampledSummary {
    /// The mean over the samples.
    pub mean: f64,
    /// The largest sample.
    pub max: f64,
}

/// One SLO assertion, checked.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SloResult {
    /// Its display name.
    pub name: String,
    /// What it is about: `service/NAME`, `deployment/NAME` or `cluster`.
    pub scope: String,
    /// The metric as written (`latency.p99`, `availability`, …).
    pub metric: String,
    /// The assertion as written.
    pub assertion: String,
    /// The measured value (`null`: nothing to measure; availability and goodput then count as
    /// 1, the others as 0).
    pub actual: Option<f64>,
    /// The threshold.
    pub threshold: f64,
    /// Whether it held.
    pub passed: bool,
}

/// The target of an HPA's pod-wide cpu Utilization metric, if it has one.
fn cpu_target_percent(spec: &crate::scenario::HpaSpec) -> Option<i32> {
    use crate::scenario::{HpaMetric, HpaResource, ResourceTarget};
    spec.metrics.iter().find_map(|m| match m {
        HpaMetric::Resource {
            resource: HpaResource::Cpu,
            container: None,
            target: ResourceTarget::Utilization(percent),
        } => Some(*percent),
        _ => None,
    })
}

/// The Services some workload's call graph calls.
fn called_services(scenario: &Scenario) -> std::collections::BTreeSet<usize> {
    scenario
        .deployments
        .iter()
        .flat_map(|d| d.workload.calls.calls())
        .map(|c| c.service)
        .collect()
}

/// Counts the engine knows at the end of the run.
pub struct RunCounts {
    /// Events the engine handled.
    pub events: u64,
    /// Requests still in flight at the end.
    pub in_flight_at_end: u64,
}

/// Builds the report from the recorder's aggregates.
pub fn build(scenario: &Scenario, recorder: &Recorder, end: SimTime, counts: RunCounts) -> Report {
    let called = called_services(scenario);
    let services: Vec<ServiceReport> = scenario
        .services
        .iter()
        .zip(&recorder.services)
        .enumerate()
        .map(|(i, (spec, s))| {
            let failed = s.failed_total();
            let requests = s.served + failed;
            let failed_by_reason = FailureReason::ALL
                .iter()
                .map(|r| (r.as_str(), s.failed[*r as usize]))
                .collect();
            ServiceReport {
                name: spec.name.clone(),
                role: match (spec.traffic.is_some(), called.contains(&i)) {
                    (true, _) => "entry",
                    (false, true) => "internal",
                    (false, false) => "idle",
                },
                backends: spec
                    .backends
                    .iter()
                    .map(|&d| scenario.deployments[d].name.clone())
                    .collect(),
                requests,
                served: s.served,
                failed,
                failed_by_reason,
                availability: ratio(s.served, requests),
                latency_ms: latency(s.latency()),
                llm: recorder.llm[i].as_ref().map(|l| {
                    let mut report = llm_report(l, &spec.backends, recorder, end);
                    let goodput = spec.traffic.as_ref().and_then(|t| t.goodput);
                    report.goodput = goodput.map(|g| goodput_report(g, l.good, requests, end));
                    report
                }),
                connections: None,
                zones: None,
            }
        })
        .collect();
    let deployments = scenario
        .deployments
        .iter()
        .zip(&recorder.deployments)
        .map(|(spec, d)| DeploymentReport {
            name: spec.name.clone(),
            replicas: Summary::of(&d.replicas, end),
            ready_pods: Summary::of(&d.ready, end),
            replica_hours: round3(d.replicas.integral / 3600.0),
            scale_ups: d.scale_ups,
            scale_downs: d.scale_downs,
            pods_created: d.pods_created,
            unschedulable_attempts: d.unschedulable_attempts,
            cost_usd: round3(d.cost_rate.integral / 3600.0),
            short_of_ready_seconds: round3(d.short_of_ready.integral),
            unavailable_seconds: round3(d.unavailable.integral),
            rollouts: d.rollouts.iter().map(RolloutReport::of).collect(),
            container_restarts: d.container_restarts,
            oom_kills: d.oom_kills,
            cpu_periods: d.cfs.nr_periods,
            cpu_throttled_periods: d.cfs.nr_throttled,
            cpu_throttled_ratio: (d.cfs.nr_periods > 0)
                .then(|| round3(d.cfs.nr_throttled as f64 / d.cfs.nr_periods as f64)),
            cpu_throttled_seconds: round3(d.cfs.throttled_us as f64 / 1e6),
            jobs: Vec::new(),
        })
        .collect();
    let hpas = scenario
        .hpas
        .iter()
        .zip(&recorder.hpas)
        .map(|(spec, h)| HpaReport {
            name: spec.name.clone(),
            target: spec.target_name.clone(),
            min_replicas: spec.min_replicas,
            max_replicas: spec.max_replicas,
            cpu_target_percent: cpu_target_percent(spec),
            syncs: h.syncs,
            rescales: h.rescales,
            time_at_max_seconds: h.syncs_at_max as f64
                * scenario.hpa_settings.sync_period.as_secs_f64(),
            time_held_seconds: h
                .syncs_held_by
                .iter()
                .map(|(r, n)| {
                    (
                        *r,
                        *n as f64 * scenario.hpa_settings.sync_period.as_secs_f64(),
                    )
                })
                .collect(),
        })
        .collect();
    let node_pools: Vec<PoolReport> = scenario
        .node_pools
        .iter()
        .zip(&recorder.pools)
        // Karpenter's offerings are listed once they have had a node.
        .filter(|(spec, g)| spec.karpenter.is_none() || g.integral > 0.0 || g.current > 0.0)
        .map(|(spec, g)| {
            let node_hours = g.integral / 3600.0;
            let price = spec.billed_price_per_hour();
            PoolReport {
                name: spec.name.clone(),
                instance_type: spec.instance_type.clone(),
                capacity_type: spec.capacity_type.as_str(),
                price_usd_per_hour: price,
                nodes: Summary::of(g, end),
                node_hours: round3(node_hours),
                cost_usd: round3(node_hours * price),
            }
        })
        .collect();
    let cost_usd: f64 = node_pools.iter().map(|p| p.cost_usd).sum();
    let charged: f64 = recorder
        .deployments
        .iter()
        .map(|d| d.cost_rate.integral / 3600.0)
        .sum();
    let served: u64 = services.iter().map(|s| s.served).sum();
    let failed: u64 = services.iter().map(|s| s.failed).sum();
    let totals = Totals {
        requests: served + failed,
        served,
        failed,
        availability: ratio(served, served + failed),
        in_flight_at_end: counts.in_flight_at_end,
        node_hours: round3(node_pools.iter().map(|p| p.node_hours).sum()),
        cost_usd: round3(cost_usd),
        idle_cost_usd: round3((cost_usd - charged).max(0.0)),
        events: counts.events,
    };
    let mut report = Report {
        schema: SCHEMA,
        kubesim_version: env!("CARGO_PKG_VERSION"),
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        duration_seconds: end.as_secs_f64(),
        services,
        deployments,
        hpas,
        node_pools,
        cluster: cluster_report(&recorder.cluster),
        totals,
        slos: Vec::new(),
        network: None,
        vpas: Vec::new(),
    };
    report.slos = super::slo::evaluate(scenario, &report);
    report
}

fn cluster_report(c: &ClusterStats) -> ClusterReport {
    let allocation = ALLOCATION_RESOURCES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let alloc = c.allocatable[i].integral;
            let share = (alloc > 0.0).then(|| round3(c.requested[i].integral / alloc));
            (*name, share)
        })
        .collect();
    let samples = c.samples.max(1) as f64;
    ClusterReport {
        allocation,
        pending_pods: SampledSummary {
            mean: round3(c.pending_sum / samples),
            max: c.pending_max,
        },
        gpu_fragmentation: SampledSummary {
            mean: round3(c.fragmentation_sum / samples),
            max: round3(c.fragmentation_max),
        },
    }
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn goodput_report(g: Goodput, good: u64, requests: u64, end: SimTime) -> GoodputReport {
    let ms = |d: Option<SimDuration>| d.map(|d| round3(d.as_micros() as f64 / 1000.0));
    let secs = end.as_secs_f64();
    GoodputReport {
        ttft_ms: ms(g.ttft),
        tpot_ms: ms(g.tpot),
        good_requests: good,
        fraction: ratio(good, requests).map(round3_fraction),
        good_requests_per_sec: if secs > 0.0 {
            round3(good as f64 / secs)
        } else {
            0.0
        },
    }
}

/// A fraction to six decimals (availability's precision).
/// Rounds to 6 decimals (GB and USD of bytes: small numbers).
pub(crate) fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn round3_fraction(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// The mean KV-cache usage over the samples of the LLM Deployments in `backends`.
fn kv_usage_mean(backends: &[usize], recorder: &Recorder) -> Option<f64> {
    let stats = backends.iter().map(|&b| &recorder.deployments[b]);
    let (sum, n) = stats.fold((0.0, 0), |(s, n), d| {
        (s + d.kv_usage_sum, n + d.kv_usage_samples)
    });
    (n > 0).then(|| round3_fraction(sum / n as f64))
}

/// The fullest any of the LLM Deployments in `backends` was at a sample.
fn kv_usage_max(backends: &[usize], recorder: &Recorder) -> Option<f64> {
    let stats = backends.iter().map(|&b| &recorder.deployments[b]);
    let sampled = stats.filter(|d| d.kv_usage_samples > 0);
    sampled
        .map(|d| d.kv_usage_max)
        .reduce(f64::max)
        .map(round3_fraction)
}

fn llm_report(
    l: &LlmStats,
    backends: &[usize],
    recorder: &Recorder,
    end: SimTime,
) -> LlmServiceReport {
    let sum = |f: fn(&DeploymentStats) -> f64| -> f64 {
        backends.iter().map(|&b| f(&recorder.deployments[b])).sum()
    };
    let gpu_secs = sum(|d| d.gpus.integral);
    let cost_usd = sum(|d| d.gpu_cost_rate.integral) / 3600.0;
    let secs = end.as_secs_f64();
    LlmServiceReport {
        time_to_first_token_ms: latency(&l.time_to_first_token),
        time_per_output_token_ms: latency(&l.time_per_output_token),
        prompt_tokens: l.prompt_tokens,
        output_tokens: l.output_tokens,
        prefix_cached_tokens: l.cached_tokens,
        prefix_cache_hit_rate: (l.prompt_tokens > 0)
            .then(|| round3_fraction(l.cached_tokens as f64 / l.prompt_tokens as f64)),
        preemptions: l.preemptions,
        kv_cache_usage_mean: kv_usage_mean(backends, recorder),
        kv_cache_usage_max: kv_usage_max(backends, recorder),
        goodput: None,
        output_tokens_per_sec: if secs > 0.0 {
            round3(l.output_tokens as f64 / secs)
        } else {
            0.0
        },
        gpu_hours: round3(gpu_secs / 3600.0),
        output_tokens_per_gpu_sec: (gpu_secs > 0.0)
            .then(|| round3(l.output_tokens as f64 / gpu_secs)),
        gpu_cost_usd: round3(cost_usd),
        cost_usd_per_million_output_tokens: (l.output_tokens > 0)
            .then(|| round3(cost_usd / l.output_tokens as f64 * 1e6)),
    }
}

fn latency(h: &hdrhistogram::Histogram<u64>) -> LatencyMs {
    if h.is_empty() {
        return LatencyMs::default();
    }
    let ms = |micros: u64| round3(micros as f64 / 1000.0);
    LatencyMs {
        p50: ms(h.value_at_quantile(0.5)),
        p90: ms(h.value_at_quantile(0.9)),
        p95: ms(h.value_at_quantile(0.95)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
        mean: round3(h.mean() / 1000.0),
    }
}
