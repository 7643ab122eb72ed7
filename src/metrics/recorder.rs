//! Aggregation of observations in bounded memory.

use hdrhistogram::Histogram;

use super::export::ServiceCounters;
use super::hdr::{LatencyCounts, new_histogram};
use super::interval::IntervalHistogram;
use crate::cluster::accounting::AllocationTotals;
use crate::cluster::{DeploymentId, HpaId, PoolId, ServiceId};
use crate::scenario::Goodput;
use crate::sim::{SimDuration, SimTime};
use crate::traffic::FailureReason;
use crate::traffic::cfs::CfsStats;

/// Something that happened in the simulation, emitted by the engine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Observation {
    RequestServed {
        service: ServiceId,
        latency: SimDuration,
    },
    RequestFailed {
        service: ServiceId,
        reason: FailureReason,
    },
    /// An LLM request was preempted in its server (its KV blocks were needed).
    LlmPreempted { service: ServiceId },
    /// An LLM request finished (besides its `RequestServed`): its token timings and counts.
    LlmServed {
        service: ServiceId,
        time_to_first_token: SimDuration,
        /// `None` for a single output token.
        time_per_output_token: Option<SimDuration>,
        prompt_tokens: u32,
        output_tokens: u32,
        /// Prompt tokens its server took from the prefix cache.
        cached_tokens: u32,
    },
    /// A Deployment's `spec.replicas` changed (also emitted once at t = 0).
    ReplicasChanged {
        deployment: DeploymentId,
        replicas: i32,
    },
    /// The number of Ready pods of a Deployment changed.
    ReadyPodsChanged {
        deployment: DeploymentId,
        ready: usize,
    },
    /// A pod was created.
    PodCreated { deployment: DeploymentId },
    /// Scheduling attempts (of pods of one workload) found no node.
    PodsUnschedulable {
        deployment: DeploymentId,
        attempts: u64,
    },
    /// An HPA synced from `from` to `to` replicas; `held_by` names what kept the result from
    /// the metrics' proposal (a `ScalingLimited` reason or a stabilization window), if anything.
    HpaSynced {
        hpa: HpaId,
        from: i32,
        to: i32,
        at_max: bool,
        held_by: Option<&'static str>,
    },
    /// A pool's node count changed (also emitted at t = 0).
    NodesChanged { pool: PoolId, nodes: usize },
    /// What a Deployment's bound pods are charged for their nodes, USD per hour, changed.
    CostRateChanged {
        deployment: DeploymentId,
        usd_per_hour: f64,
    },
    /// The GPUs a Deployment's bound pods hold changed, and what they cost per hour.
    GpusChanged {
        deployment: DeploymentId,
        gpus: f64,
        usd_per_hour: f64,
    },
    /// Requests or allocatable on the Ready nodes changed.
    AllocationChanged(AllocationTotals),
    /// A Deployment's template change (or rollback) started rolling out as `revision`.
    RolloutStarted {
        deployment: DeploymentId,
        revision: u64,
    },
    /// The rollout finished: every replica updated and available.
    RolloutCompleted {
        deployment: DeploymentId,
        revision: u64,
        took: SimDuration,
    },
    /// The Deployment made no progress for `progressDeadlineSeconds`.
    ProgressDeadlineExceeded { deployment: DeploymentId },
    /// A container of the Deployment was killed and will restart (`oom`: by its memory limit).
    ContainerRestarted { deployment: DeploymentId, oom: bool },
    /// A CPU-limited container stopped (or the run ended) with these CFS bandwidth counters.
    CpuPeriods {
        deployment: DeploymentId,
        stats: CfsStats,
    },
    /// The Deployment's Available condition (available pods ≥ replicas − maxUnavailable)
    /// changed (also emitted at its first reconcile).
    AvailableChanged {
        deployment: DeploymentId,
        available: bool,
    },
}

/// One rollout of a Deployment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RolloutRecord {
    pub revision: u64,
    pub started: SimTime,
    pub completed: Option<SimTime>,
    pub deadline_exceeded: Option<SimTime>,
}

/// What the engine measures of a Deployment at a sample.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeploymentSample {
    /// Mean CPU utilization of its pods, as the HPA sees it.
    pub cpu_utilization: f64,
    /// Requests on its pods (served or queued) at that instant.
    pub in_flight: usize,
    /// For an LLM Deployment, its servers at that instant.
    pub llm: Option<LlmSample>,
}

/// An LLM Deployment's servers at a sample: requests waiting and running (summed over its
/// pods) and the mean fraction of their KV caches in use.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LlmSample {
    pub waiting: usize,
    pub running: usize,
    pub kv_cache_usage: f64,
}

/// The time-series columns of an LLM Deployment, after its other columns.
const LLM_DEPLOYMENT_COLUMNS: [&str; 3] = ["llm_waiting", "llm_running", "kv_cache_usage"];

/// Cluster-wide values read at each sample.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ClusterSample {
    /// Pods waiting for a node.
    pub pending_pods: usize,
    /// GPU fragmentation (see `cluster::accounting::gpu_fragmentation`).
    pub gpu_fragmentation: f64,
}

/// Largest latency the histograms resolve (1 hour); larger values are clamped to it.
const MAX_LATENCY_MICROS: u64 = super::hdr::MAX_VALUE;

/// A value that holds between changes; integrates over time for means and hours.
#[derive(Clone, Copy, Debug, Default)]
pub struct Gauge {
    pub current: f64,
    pub min: f64,
    pub max: f64,
    /// ∫ value dt in value·seconds.
    pub integral: f64,
    since: SimTime,
    started: bool,
    held_any: bool,
}

impl Gauge {
    /// Sets a new value at `now`. Min and max count only values held for a positive time, so a
    /// value replaced at the same instant (0 ready pods just before warm pods start) is ignored.
    pub fn set(&mut self, now: SimTime, value: f64) {
        let held = now.saturating_since(self.since);
        if self.started && !held.is_zero() {
            self.min = if self.held_any {
                self.min.min(self.current)
            } else {
                self.current
            };
            self.max = if self.held_any {
                self.max.max(self.current)
            } else {
                self.current
            };
            self.held_any = true;
        }
        self.integral += self.current * held.as_secs_f64();
        self.since = now;
        self.current = value;
        self.started = true;
    }

    /// ∫ value dt over `[0, now)` (`now` not before the last change).
    pub fn integral_until(&self, now: SimTime) -> f64 {
        self.integral + self.current * now.saturating_since(self.since).as_secs_f64()
    }

    /// Time-weighted mean over `[0, end)`.
    pub fn mean(&self, end: SimTime) -> f64 {
        let total = end.as_secs_f64();
        if total == 0.0 {
            self.current
        } else {
            self.integral / total
        }
    }
}

/// Per-Service statistics of LLM requests: time to first token, time per output token after
/// it, and the tokens in and out.
pub struct LlmStats {
    pub time_to_first_token: Histogram<u64>,
    pub time_per_output_token: Histogram<u64>,
    pub prompt_tokens: u64,
    pub output_tokens: u64,
    /// Prompt tokens taken from prefix caches instead of computed.
    pub cached_tokens: u64,
    pub preemptions: u64,
    /// Served requests within the Service's goodput thresholds (when it has them).
    pub good: u64,
}

impl LlmStats {
    fn new() -> Self {
        LlmStats {
            time_to_first_token: new_histogram(),
            time_per_output_token: new_histogram(),
            prompt_tokens: 0,
            output_tokens: 0,
            cached_tokens: 0,
            preemptions: 0,
            good: 0,
        }
    }

    fn record(&mut self, ttft: SimDuration, tpot: Option<SimDuration>, prompt: u32, output: u32) {
        let micros = |d: SimDuration| d.as_micros().clamp(1, MAX_LATENCY_MICROS);
        self.time_to_first_token.saturating_record(micros(ttft));
        if let Some(tpot) = tpot {
            self.time_per_output_token.saturating_record(micros(tpot));
        }
        self.prompt_tokens += u64::from(prompt);
        self.output_tokens += u64::from(output);
    }
}

/// Latencies waiting to go into the histograms, a batch per Service: a large cluster's
/// Services' histograms (184 KB each for the run, 18 KB for the interval) do not stay in the
/// caches between one request and the next of the same Service, while a batch touches their few
/// hot lines together.
const LATENCY_BATCH: usize = 128;

/// Per-Service request statistics. Each latency goes into the whole-run histogram and into a
/// coarser histogram of the current sample interval (2 significant digits, cleared at each
/// sample; see [`IntervalHistogram`]), both in batches; a sample takes in the batch first.
pub struct ServiceStats {
    pub served: u64,
    pub failed: [u64; FailureReason::ALL.len()],
    /// The whole run's latencies, until [`Recorder::finish`] turns them into `latency`.
    latency_counts: LatencyCounts,
    latency: Option<Histogram<u64>>,
    /// Latencies not yet in `latency_counts` and `interval_latency` (fewer than
    /// [`LATENCY_BATCH`]; all of the current interval).
    pending: Vec<u64>,
    interval_latency: IntervalHistogram,
    interval_served: u64,
    interval_failed: u64,
    /// The exporters' histograms, when the run exports OpenMetrics.
    pub export: Option<Box<ServiceCounters>>,
}

impl ServiceStats {
    fn new() -> Self {
        ServiceStats {
            served: 0,
            failed: [0; FailureReason::ALL.len()],
            latency_counts: LatencyCounts::default(),
            latency: None,
            pending: Vec::new(),
            interval_latency: IntervalHistogram::default(),
            interval_served: 0,
            interval_failed: 0,
            export: None,
        }
    }

    pub fn failed_total(&self) -> u64 {
        self.failed.iter().sum()
    }

    /// The whole run's latency histogram (µs), once [`Recorder::finish`] has run.
    pub fn latency(&self) -> &Histogram<u64> {
        self.latency
            .as_ref()
            .expect("the recorder has finished the run")
    }

    #[inline]
    fn record_latency(&mut self, micros: u64) {
        self.pending.push(micros);
        if self.pending.len() == LATENCY_BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        for &micros in &self.pending {
            self.latency_counts.record(micros);
        }
        for &micros in &self.pending {
            self.interval_latency.record(micros);
        }
        if let Some(export) = &mut self.export {
            for &micros in &self.pending {
                export.record_duration(micros);
            }
        }
        self.pending.clear();
    }

    /// Builds the whole run's histogram from the counts (once, at the end).
    fn finish_latency(&mut self) {
        self.flush();
        if self.latency.is_none() {
            self.latency = Some(self.latency_counts.take_histogram());
        }
    }

    /// Starts a new sample interval.
    fn clear_interval(&mut self) {
        self.interval_latency.clear();
    }
}

/// Per-Deployment statistics.
#[derive(Default)]
pub struct DeploymentStats {
    pub replicas: Gauge,
    pub ready: Gauge,
    pub scale_ups: u64,
    pub scale_downs: u64,
    pub pods_created: u64,
    pub unschedulable_attempts: u64,
    /// USD per hour charged to the Deployment's bound pods; integrates to its cost.
    pub cost_rate: Gauge,
    /// GPUs its bound pods hold; integrates to GPU-seconds.
    pub gpus: Gauge,
    /// What those GPUs cost, USD per hour: each node's price split over its GPUs.
    pub gpu_cost_rate: Gauge,
    /// 1 while the Available condition is False; integrates to the seconds without it.
    pub unavailable: Gauge,
    /// 1 while fewer pods are Ready than `spec.replicas`.
    pub short_of_ready: Gauge,
    pub rollouts: Vec<RolloutRecord>,
    pub container_restarts: u64,
    pub oom_kills: u64,
    /// CFS bandwidth counters summed over the containers with an enforced CPU limit.
    pub cfs: CfsStats,
    /// An LLM Deployment's KV-cache usage (mean over its pods) at each sample: its sum,
    /// samples and largest.
    pub kv_usage_sum: f64,
    pub kv_usage_samples: u64,
    pub kv_usage_max: f64,
}

impl DeploymentStats {
    fn update_short_of_ready(&mut self, now: SimTime) {
        let short = self.ready.current < self.replicas.current;
        self.short_of_ready.set(now, f64::from(u8::from(short)));
    }
}

/// Cluster-wide allocation and pending pods.
#[derive(Default)]
pub struct ClusterStats {
    /// Σ requested / Σ allocatable on Ready nodes, per `ALLOCATION_RESOURCES` entry.
    pub requested: [Gauge; 3],
    pub allocatable: [Gauge; 3],
    /// Sampled values: sums and maxima for the report's means.
    pub pending_sum: f64,
    pub pending_max: f64,
    pub fragmentation_sum: f64,
    pub fragmentation_max: f64,
    pub samples: u64,
}

/// Per-HPA statistics.
#[derive(Default)]
pub struct HpaStats {
    pub syncs: u64,
    pub rescales: u64,
    /// Syncs that left the target at maxReplicas.
    pub syncs_at_max: u64,
    /// Syncs whose result was held back from the proposal, by reason.
    pub syncs_held_by: std::collections::BTreeMap<&'static str, u64>,
    /// `status.currentReplicas` and `status.desiredReplicas` after the last sync.
    pub last_status: Option<(i32, i32)>,
}

/// The time series: one row per sample, columns named at construction.
#[derive(Clone, Debug, Default)]
pub struct TimeSeries {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<f64>>,
}

/// Folds observations into aggregates.
pub struct Recorder {
    pub services: Vec<ServiceStats>,
    /// Per Service, once it has served an LLM request.
    pub llm: Vec<Option<LlmStats>>,
    /// Per Service, its goodput thresholds, if any.
    goodput: Vec<Option<Goodput>>,
    pub deployments: Vec<DeploymentStats>,
    pub hpas: Vec<HpaStats>,
    pub pools: Vec<Gauge>,
    pool_prices: Vec<f64>,
    /// The `pool.<name>.nodes` column each pool counts in (Karpenter's offerings share their
    /// NodePool's column).
    pool_columns: Vec<usize>,
    /// How many such columns there are.
    pool_column_count: usize,
    pub cluster: ClusterStats,
    pub series: TimeSeries,
    last_sample: SimTime,
}

/// Names used to label the time-series columns.
pub struct SeriesNames<'a> {
    pub services: Vec<&'a str>,
    pub deployments: Vec<&'a str>,
    /// Indices of the Deployments that are LLM servers (they get `LLM_DEPLOYMENT_COLUMNS`;
    /// their samples must carry `llm`).
    pub llm_deployments: Vec<usize>,
    pub pools: Vec<&'a str>,
    /// The column each pool's nodes count in: its own name, or a shared one (Karpenter's
    /// offerings count in their NodePool's); `None`: each pool has its own.
    pub pool_columns: Option<Vec<String>>,
    /// What each pool's nodes are billed per hour (for the `cluster.cost_usd` column).
    pub pool_prices: Vec<f64>,
}

impl Recorder {
    pub fn new(names: &SeriesNames) -> Self {
        let mut columns = vec!["t_seconds".to_string()];
        for s in &names.services {
            for m in [
                "rps",
                "served",
                "failed",
                "availability",
                "p50_ms",
                "p99_ms",
            ] {
                columns.push(format!("service.{s}.{m}"));
            }
        }
        for (i, d) in names.deployments.iter().enumerate() {
            for m in ["replicas", "ready", "cpu_utilization", "in_flight"] {
                columns.push(format!("deployment.{d}.{m}"));
            }
            if names.llm_deployments.contains(&i) {
                for m in LLM_DEPLOYMENT_COLUMNS {
                    columns.push(format!("deployment.{d}.{m}"));
                }
            }
        }
        let column_names: Vec<String> = match &names.pool_columns {
            Some(c) => c.clone(),
            None => names.pools.iter().map(|p| p.to_string()).collect(),
        };
        let mut shown: Vec<&str> = Vec::new();
        let pool_columns: Vec<usize> = (column_names.iter())
            .map(|c| match shown.iter().position(|s| s == c) {
                Some(i) => i,
                None => {
                    shown.push(c);
                    shown.len() - 1
                }
            })
            .collect();
        for p in &shown {
            columns.push(format!("pool.{p}.nodes"));
        }
        for c in CLUSTER_COLUMNS {
            columns.push(format!("cluster.{c}"));
        }
        columns.push("cluster.cost_usd".to_string());
        Recorder {
            services: names.services.iter().map(|_| ServiceStats::new()).collect(),
            llm: names.services.iter().map(|_| None).collect(),
            goodput: names.services.iter().map(|_| None).collect(),
            deployments: names
                .deployments
                .iter()
                .map(|_| DeploymentStats::default())
                .collect(),
            hpas: Vec::new(),
            pools: vec![Gauge::default(); names.pools.len()],
            pool_prices: names.pool_prices.clone(),
            pool_column_count: shown.len(),
            pool_columns,
            cluster: ClusterStats::default(),
            series: TimeSeries {
                columns,
                rows: Vec::new(),
            },
            last_sample: SimTime::ZERO,
        }
    }

    /// Sets each Service's goodput thresholds (in Service order).
    pub fn with_goodput(mut self, goodput: Vec<Option<Goodput>>) -> Self {
        self.goodput = goodput;
        self
    }

    /// Keeps the exporters' histograms of every Service when `export` (for `--openmetrics`).
    pub fn with_export_if(mut self, export: bool) -> Self {
        if export {
            for s in &mut self.services {
                s.export = Some(Box::default());
            }
        }
        self
    }

    pub fn with_hpas(mut self, count: usize) -> Self {
        self.hpas = (0..count).map(|_| HpaStats::default()).collect();
        self
    }

    /// Records one observation at `now`. Request observations are the hot path: no allocation.
    #[inline]
    pub fn observe(&mut self, now: SimTime, o: Observation) {
        match o {
            Observation::RequestServed { service, latency } => {
                let s = &mut self.services[service.index()];
                let micros = latency.as_micros().clamp(1, MAX_LATENCY_MICROS);
                s.served += 1;
                s.interval_served += 1;
                s.record_latency(micros);
            }
            Observation::RequestFailed { service, reason } => {
                let s = &mut self.services[service.index()];
                s.failed[reason as usize] += 1;
                s.interval_failed += 1;
            }
            Observation::LlmServed { .. } | Observation::LlmPreempted { .. } => self.observe_llm(o),
            _ => self.observe_control(now, o),
        }
    }

    /// The LLM observations, kept out of `observe` so the plain request path stays small.
    #[inline(never)]
    fn observe_llm(&mut self, o: Observation) {
        match o {
            Observation::LlmServed {
                service,
                time_to_first_token,
                time_per_output_token,
                prompt_tokens,
                output_tokens,
                cached_tokens,
            } => {
                let good = self.goodput[service.index()]
                    .is_some_and(|g| g.met_by(time_to_first_token, time_per_output_token));
                if let Some(export) = &mut self.services[service.index()].export {
                    export.record_llm(time_to_first_token, time_per_output_token);
                }
                let stats = self.llm[service.index()].get_or_insert_with(LlmStats::new);
                stats.good += u64::from(good);
                stats.cached_tokens += u64::from(cached_tokens);
                stats.record(
                    time_to_first_token,
                    time_per_output_token,
                    prompt_tokens,
                    output_tokens,
                );
            }
            Observation::LlmPreempted { service } => {
                self.llm[service.index()]
                    .get_or_insert_with(LlmStats::new)
                    .preemptions += 1;
            }
            _ => {}
        }
    }

    fn observe_control(&mut self, now: SimTime, o: Observation) {
        match o {
            Observation::ReplicasChanged {
                deployment,
                replicas,
            } => {
                let d = &mut self.deployments[deployment.index()];
                d.replicas.set(now, f64::from(replicas));
                d.update_short_of_ready(now);
            }
            Observation::ReadyPodsChanged { deployment, ready } => {
                let d = &mut self.deployments[deployment.index()];
                d.ready.set(now, ready as f64);
                d.update_short_of_ready(now);
            }
            Observation::RolloutStarted {
                deployment,
                revision,
            } => self.deployments[deployment.index()]
                .rollouts
                .push(RolloutRecord {
                    revision,
                    started: now,
                    completed: None,
                    deadline_exceeded: None,
                }),
            Observation::RolloutCompleted {
                deployment,
                revision,
                ..
            } => {
                let rollouts = &mut self.deployments[deployment.index()].rollouts;
                if let Some(r) = rollouts.iter_mut().rev().find(|r| r.revision == revision) {
                    r.completed.get_or_insert(now);
                }
            }
            Observation::ProgressDeadlineExceeded { deployment } => {
                if let Some(r) = self.deployments[deployment.index()].rollouts.last_mut() {
                    r.deadline_exceeded.get_or_insert(now);
                }
            }
            Observation::ContainerRestarted { deployment, oom } => {
                let d = &mut self.deployments[deployment.index()];
                d.container_restarts += 1;
                d.oom_kills += u64::from(oom);
            }
            Observation::CpuPeriods { deployment, stats } => {
                self.deployments[deployment.index()].cfs.add(stats)
            }
            Observation::AvailableChanged {
                deployment,
                available,
            } => self.deployments[deployment.index()]
                .unavailable
                .set(now, f64::from(u8::from(!available))),
            Observation::PodCreated { deployment } => {
                self.deployments[deployment.index()].pods_created += 1
            }
            Observation::PodsUnschedulable {
                deployment,
                attempts,
            } => self.deployments[deployment.index()].unschedulable_attempts += attempts,
            Observation::NodesChanged { pool, nodes } => {
                self.pools[pool.index()].set(now, nodes as f64)
            }
            Observation::CostRateChanged {
                deployment,
                usd_per_hour,
            } => self.deployments[deployment.index()]
                .cost_rate
                .set(now, usd_per_hour),
            Observation::GpusChanged {
                deployment,
                gpus,
                usd_per_hour,
            } => {
                let d = &mut self.deployments[deployment.index()];
                d.gpus.set(now, gpus);
                d.gpu_cost_rate.set(now, usd_per_hour);
            }
            Observation::AllocationChanged(t) => {
                for i in 0..3 {
                    self.cluster.requested[i].set(now, t.requested[i]);
                    self.cluster.allocatable[i].set(now, t.allocatable[i]);
                }
            }
            Observation::HpaSynced {
                hpa,
                from,
                to,
                at_max,
                held_by,
            } => self.hpa_synced(hpa, from, to, at_max, held_by),
            Observation::RequestServed { .. }
            | Observation::RequestFailed { .. }
            | Observation::LlmServed { .. }
            | Observation::LlmPreempted { .. } => {
                unreachable!("handled in observe")
            }
        }
    }

    fn hpa_synced(
        &mut self,
        hpa: HpaId,
        from: i32,
        to: i32,
        at_max: bool,
        held_by: Option<&'static str>,
    ) {
        let stats = &mut self.hpas[hpa.index()];
        stats.syncs += 1;
        stats.last_status = Some((from, to));
        if let Some(reason) = held_by {
            *stats.syncs_held_by.entry(reason).or_insert(0) += 1;
        }
        stats.syncs_at_max += u64::from(at_max);
        if to != from {
            stats.rescales += 1;
        }
    }

    /// Counts a rescale of a Deployment in its scale-up/scale-down tallies.
    pub fn deployment_scaled(&mut self, deployment: DeploymentId, from: i32, to: i32) {
        let d = &mut self.deployments[deployment.index()];
        if to > from {
            d.scale_ups += 1;
        } else if to < from {
            d.scale_downs += 1;
        }
    }

    /// Whether the last time-series row was sampled at `t`.
    pub fn sampled_at(&self, t: SimTime) -> bool {
        self.cluster.samples > 0 && self.last_sample == t
    }

    /// The time-series row for `now` (one value per column of `series`); `deployments` has one
    /// entry per Deployment. The caller keeps it in `series` or hands it on.
    pub fn sample(
        &mut self,
        now: SimTime,
        deployments: &[DeploymentSample],
        cluster: ClusterSample,
    ) -> Vec<f64> {
        let interval = now.saturating_since(self.last_sample).as_secs_f64();
        self.last_sample = now;
        let mut row = vec![now.as_secs_f64()];
        for s in &mut self.services {
            let done = (s.interval_served + s.interval_failed) as f64;
            row.push(if interval > 0.0 {
                round3(done / interval)
            } else {
                0.0
            });
            row.push(s.interval_served as f64);
            row.push(s.interval_failed as f64);
            // Served of finished in the interval (1 when none finished: nothing failed).
            row.push(if done > 0.0 {
                round3(s.interval_served as f64 / done)
            } else {
                1.0
            });
            // Milliseconds; 0 when nothing was served.
            s.flush();
            let [p50, p99] = s.interval_latency.values_at_quantiles([0.5, 0.99]);
            row.extend([p50, p99].map(|v| round3(v as f64 / 1000.0)));
            s.clear_interval();
            (s.interval_served, s.interval_failed) = (0, 0);
        }
        for (d, sample) in self.deployments.iter_mut().zip(deployments) {
            let util = round3(sample.cpu_utilization);
            let in_flight = sample.in_flight as f64;
            row.extend([d.replicas.current, d.ready.current, util, in_flight]);
            if let Some(l) = sample.llm {
                row.extend([l.waiting as f64, l.running as f64, round3(l.kv_cache_usage)]);
                d.kv_usage_sum += l.kv_cache_usage;
                d.kv_usage_samples += 1;
                d.kv_usage_max = d.kv_usage_max.max(l.kv_cache_usage);
            }
        }
        let mut nodes = vec![0.0; self.pool_column_count];
        for (g, &c) in self.pools.iter().zip(&self.pool_columns) {
            nodes[c] += g.current;
        }
        row.extend(nodes);
        let cost = round3(self.node_cost_so_far(now));
        let c = &mut self.cluster;
        for i in 0..3 {
            let ratio = c.requested[i].current / c.allocatable[i].current;
            row.push(if ratio.is_finite() {
                round3(ratio)
            } else {
                0.0
            });
        }
        let pending = cluster.pending_pods as f64;
        row.extend([pending, round3(cluster.gpu_fragmentation)]);
        row.push(cost);
        c.samples += 1;
        c.pending_sum += pending;
        c.pending_max = c.pending_max.max(pending);
        c.fragmentation_sum += cluster.gpu_fragmentation;
        c.fragmentation_max = c.fragmentation_max.max(cluster.gpu_fragmentation);
        row
    }

    /// Closes every gauge at the end of the run, and puts every Service's batched latencies
    /// into its whole-run histogram.
    pub fn finish(&mut self, end: SimTime) {
        self.services
            .iter_mut()
            .for_each(ServiceStats::finish_latency);
        for d in &mut self.deployments {
            d.replicas.set(end, d.replicas.current);
            d.ready.set(end, d.ready.current);
        }
        for d in &mut self.deployments {
            d.cost_rate.set(end, d.cost_rate.current);
            d.gpus.set(end, d.gpus.current);
            d.gpu_cost_rate.set(end, d.gpu_cost_rate.current);
            d.unavailable.set(end, d.unavailable.current);
            d.short_of_ready.set(end, d.short_of_ready.current);
        }
        for p in &mut self.pools {
            p.set(end, p.current);
        }
        for g in self
            .cluster
            .requested
            .iter_mut()
            .chain(self.cluster.allocatable.iter_mut())
        {
            g.set(end, g.current);
        }
    }
}

impl Recorder {
    /// USD billed for nodes from the start until `now` (the `cluster.cost_usd` column).
    fn node_cost_so_far(&self, now: SimTime) -> f64 {
        self.pools
            .iter()
            .zip(&self.pool_prices)
            .map(|(g, price)| g.integral_until(now) / 3600.0 * price)
            .sum()
    }
}

/// Cluster-wide time-series columns (`cluster.<name>`), after the pools.
const CLUSTER_COLUMNS: [&str; 5] = [
    "alloc_cpu",
    "alloc_memory",
    "alloc_gpu",
    "pending_pods",
    "gpu_fragmentation",
];

/// Rounds to 3 decimals (for readable, stable output).
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauge_integrates_time_weighted() {
        // 2 replicas for 10 s then 4 for 30 s: mean = (2·10 + 4·30)/40 = 3.5; min 2, max 4.
        let mut g = Gauge::default();
        g.set(SimTime::ZERO, 0.0); // replaced at the same instant: not a held value
        g.set(SimTime::ZERO, 2.0);
        g.set(SimTime::from_secs(10), 4.0);
        g.set(SimTime::from_secs(40), 4.0);
        assert_eq!((g.min, g.max), (2.0, 4.0));
        assert!((g.mean(SimTime::from_secs(40)) - 3.5).abs() < 1e-9);
    }

    /// A recorder of one Service, "web", and nothing else.
    fn one_service() -> Recorder {
        let names = SeriesNames {
            services: vec!["web"],
            deployments: vec![],
            llm_deployments: vec![],
            pools: vec![],
            pool_columns: None,
            pool_prices: vec![],
        };
        Recorder::new(&names)
    }

    /// Records `n` requests served by the one Service, the i-th after `latency(i)`.
    fn serve(r: &mut Recorder, n: u64, latency: impl Fn(u64) -> SimDuration) {
        for i in 0..n {
            let o = Observation::RequestServed {
                service: ServiceId(0),
                latency: latency(i),
            };
            r.observe(SimTime::ZERO, o);
        }
    }

    #[test]
    fn each_sample_has_its_own_intervals_latencies_batch_or_not() {
        let mut r = one_service();
        let ms = |millis| move |_| SimDuration::from_millis(millis);
        // Row: t, rps, served, failed, availability, p50_ms, p99_ms, ... The interval
        // histogram has two significant digits: a value reads as the top of its bucket, within
        // 1 % above it.
        let check = |row: &[f64], served: usize, millis: f64| {
            assert_eq!(row[2], served as f64);
            for quantile in [row[5], row[6]] {
                assert!((millis..=millis * 1.01).contains(&quantile), "{row:?}");
            }
        };
        // Fewer than a batch: still waiting to go into the histograms when sampled.
        serve(&mut r, 10, ms(100));
        check(
            &r.sample(SimTime::from_secs(15), &[], ClusterSample::default()),
            10,
            100.0,
        );
        // Two batches and a part of one at 2 ms: nothing of the 100 ms interval left over.
        let served = 2 * LATENCY_BATCH + 7;
        serve(&mut r, served as u64, ms(2));
        check(
            &r.sample(SimTime::from_secs(30), &[], ClusterSample::default()),
            served,
            2.0,
        );
        // An interval without requests.
        check(
            &r.sample(SimTime::from_secs(45), &[], ClusterSample::default()),
            0,
            0.0,
        );
    }

    #[test]
    fn histogram_memory_does_not_grow_with_requests() {
        let mut r = one_service();
        let serve = |r: &mut Recorder, n| serve(r, n, |i| SimDuration::from_micros(1 + i % 5000));
        let size = |r: &Recorder| {
            let s = &r.services[0];
            (s.latency_counts.memory_bytes(), s.pending.capacity())
        };
        serve(&mut r, 10_000);
        let bytes = size(&r);
        serve(&mut r, 1_000_000);
        // The counts have fixed slots and the batch a fixed size; only counts change.
        assert_eq!(size(&r), bytes);
        r.finish(SimTime::ZERO);
        assert_eq!(r.services[0].served, 1_010_000);
        // p50 of uniform 1..5000 µs ≈ 2500 µs within the 3-significant-digit resolution.
        let p50 = r.services[0].latency().value_at_quantile(0.5);
        assert!((2490..=2510).contains(&p50), "{p50}");
    }
}
