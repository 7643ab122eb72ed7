//! The simulation loop: pop the next event, dispatch it, let the controllers reconcile what
//! changed, apply their intents, and emit observations.
//!
//! The engine is the only writer of the [`Cluster`]. Controllers are pure readers that return
//! intents; the data plane (`PodServer`s) serves requests on the pods the engine gives it. After
//! a scenario has validated, running it cannot fail on its inputs; the one runtime limit is the
//! event budget (`spec.maxEvents`), which stops a runaway scenario with an error.

use self::draws::Draws;
use std::collections::BTreeMap;

use crate::cluster::accounting::{self, GpuDemand};
use crate::cluster::{
    Cluster, DeploymentId, HpaId, NodeId, NodeState, PodId, PodPhase, PoolId, ReplicaSetId,
    ServiceId,
};
use crate::controllers::autoscaler::{AutoscalerEvent, ClusterAutoscaler};
use crate::controllers::deployment::record::{self, RolloutRecord};
use crate::controllers::hpa::{HpaController, HpaDecision};
use crate::controllers::job::record::JobRecords;
use crate::controllers::keda::KedaState;
use crate::controllers::kubelet::record::RestartRecord;
use crate::controllers::metrics_server::{CustomPoint, LlmPoint, MetricsServer};
use crate::controllers::node_lifecycle::NodeLifecycleController;
use crate::controllers::scheduler::hints::QueueEvent;
use crate::controllers::statefulset::record::StatefulRecords;
use crate::controllers::{
    Intent, cronjob, daemonset, deployment, disruption, job, kubelet, replicaset, scheduler,
};
use crate::metrics::cluster_events::{
    ClusterEvent, ClusterEventLog, ClusterEventReason, ObjectKind,
};
use crate::metrics::pod_events::{PodEvent, PodEventLog, PodEventReason, PodRef};
use crate::metrics::recorder::{ClusterSample, DeploymentSample, LlmSample, SeriesNames};
use crate::metrics::report::{self, Report, RunCounts};
use crate::metrics::{Observation, Recorder, TimeSeries};
use crate::scenario::{HpaResource, PodSource, Scenario};
use crate::sim::{EventQueue, RngStreams, SimDuration, SimRng, SimTime};
use crate::traffic::calls::{CallRef, Frames};
use crate::traffic::llm::batching::{LlmOutcome, LlmServer};
use crate::traffic::node_cpu::CpuSharing;

/// What an LLM server exports at a scrape.
fn llm_point(server: &LlmServer) -> LlmPoint {
    LlmPoint {
        waiting: server.waiting() as u64,
        running: server.running() as u64,
        kv_usage_milli: server.kv_usage_milli(),
        output_tokens: server.counters().output_tokens,
    }
}
use crate::traffic::llm::tokens::TokenArrivals;
use crate::traffic::{ArrivalProcess, Outcome, PodServer, RequestSlab, Router, Servers};

mod calls;
mod clients;
mod config;
mod connections;
mod containers;
mod cpu;
mod dirty;
mod draws;
mod export;
mod healing;
mod history;
mod jobs;
mod karpenter;
mod keda;
mod llm;
mod mesh;
mod zones;
pub use llm::{BenchmarkFitted, fit_benchmarks};
mod quota;
mod scheduling;
mod scripted;
mod statefulsets;
mod vpa;

use dirty::Dirty;

/// Busy pods (pending completions) from which the engine warms the caches for the next
/// completion's server: about a megabyte of their serving state, the size of a core's L2 cache.
const WARM_FROM_BUSY_PODS: usize = 1024;

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

/// Call sites over all call graphs (each call step has its own retry budget).
fn call_sites(s: &Scenario) -> usize {
    s.deployments
        .iter()
        .flat_map(|d| d.workload.calls.calls())
        .map(|c| c.site as usize + 1)
        .max()
        .unwrap_or(0)
}

/// Progress of a run, passed to the caller's callback now and then.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// The simulated time reached.
    pub now: SimTime,
    /// The simulated time the run ends at.
    pub end: SimTime,
    /// Events handled so far.
    pub events: u64,
}

/// Everything a run produces.
pub struct RunOutput {
    /// The `kubesim.report/v1` document: latency, cost and availability.
    pub report: Report,
    /// The sampled time series (`timeseries.csv`); no rows when they went to a sink
    /// ([`Records::Give`]).
    pub timeseries: TimeSeries,
    /// Every HPA sync's decision (`hpa_decisions.jsonl`); empty when they went to a sink.
    pub hpa_decisions: Vec<HpaDecision>,
    /// The Cluster Autoscaler's decisions (`None` when it did not run).
    pub autoscaler_events: Option<Vec<AutoscalerEvent>>,
    /// What Karpenter did (`None` when it did not run).
    pub karpenter_events: Option<Vec<crate::controllers::karpenter::KarpenterEvent>>,
    /// Every change of a VPA's recommendation (`None` when the scenario has no VPA).
    pub vpa_records: Option<Vec<crate::controllers::vpa::recommender::VpaRecord>>,
    /// What happened to each pod (`kubectl describe pod` events).
    pub pod_events: Vec<PodEvent>,
    /// Node failures, spot interruptions, rollouts and scripted actions, in order.
    pub cluster_events: Vec<ClusterEvent>,
    /// Each Deployment reconcile that changed a ReplicaSet, with what it read (the first
    /// [`MAX_ROLLOUT_RECORDS`]).
    pub rollout_records: Vec<RolloutRecord>,
    /// Each Job sync that created pods, held them back for the failure backoff, or finished
    /// the Job, and each CronJob action (the first 100 000 of each).
    pub job_records: JobRecords,
    /// Each StatefulSet reconcile that created or deleted pods, or waited for one (the first
    /// 100 000; a repeated wait kept once).
    pub stateful_records: StatefulRecords,
    /// Each container the kubelet killed, why, and its restart back-off (the first 100 000).
    pub restart_records: Vec<RestartRecord>,
    /// Every visible change of the pods', nodes' and workloads' status (`kubesim get --at`).
    pub history: crate::metrics::history::History,
    /// Events handled.
    pub events: u64,
}

/// Why a run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "event budget of {budget} events exhausted at simulated time {at} (of {end}): raise spec.maxEvents if the scenario is meant to be this large"
    )]
    /// More events than `spec.maxEvents` allows.
    EventBudgetExceeded {
        /// `spec.maxEvents`.
        budget: u64,
        /// The simulated time reached.
        at: SimTime,
        /// The simulated time the run would have ended at.
        end: SimTime,
    },
}

/// What held an HPA's result back from its metrics' proposal: the rate limit or min/max
/// (`ScalingLimited`) first, else a stabilization window.
fn held_by(d: &HpaDecision) -> Option<&'static str> {
    use crate::controllers::hpa::normalize::LimitReason;
    match d.limit_reason {
        Some(r)
            if r != LimitReason::DesiredWithinRange
                && d.desired_replicas != d.stabilized_replicas =>
        {
            Some(r.as_str())
        }
        _ => d.stabilization_reason.map(|s| s.as_str()),
    }
}

/// Bound on the Deployment reconciles kept for `explain --deployment` (each is a few hundred
/// bytes; an HPA scaling every sync for a year makes about two million).
pub const MAX_ROLLOUT_RECORDS: usize = 100_000;

/// How often (in events) the progress callback is called.
const PROGRESS_EVERY: u64 = 1 << 20;
/// Bound on reconcile passes at one instant; more means controllers fight (a bug).
const MAX_RECONCILE_PASSES: usize = 1000;

/// Runs a scenario to its end, keeping every HPA decision and time-series row in the output.
pub fn run(scenario: &Scenario, progress: &mut dyn FnMut(Progress)) -> Result<RunOutput, RunError> {
    run_with(scenario, progress, Records::Keep)
}

/// What a run does with its long records — HPA decisions and time-series rows — as they are
/// made.
pub enum Records<'a> {
    /// Keep them in [`RunOutput::hpa_decisions`] and [`RunOutput::timeseries`].
    Keep,
    /// Hand each to this sink as it is made (to write it out: a day of a large cluster makes
    /// hundreds of megabytes of them); the output's lists stay empty (the time series keeps its
    /// columns).
    Give(&'a mut dyn RecordSink),
}

/// Takes a run's long records as they are made ([`Records::Give`]).
pub trait RecordSink {
    /// The time series' column names, once, before its first row.
    fn timeseries_columns(&mut self, columns: &[String]);
    /// One time-series row (a value per column).
    fn timeseries_row(&mut self, row: &[f64]);
    /// One HPA sync's decision.
    fn hpa_decision(&mut self, decision: HpaDecision);
    /// How often the sink wants what the exporters would show ([`RecordSink::export`]);
    /// `None` (the default): never. The engine exports at every time-series sample at a
    /// multiple of it, and at the run's end.
    fn export_interval(&self) -> Option<SimDuration> {
        None
    }
    /// What the exporters show at one instant (only when [`RecordSink::export_interval`] asks).
    fn export(&mut self, _sample: &crate::metrics::export::ExportSample) {}
}

/// A [`RecordSink`] that drops everything (a sweep's runs that are not kept).
pub struct DiscardRecords;

impl RecordSink for DiscardRecords {
    fn timeseries_columns(&mut self, _: &[String]) {}
    fn timeseries_row(&mut self, _: &[f64]) {}
    fn hpa_decision(&mut self, _: HpaDecision) {}
}

/// Runs a scenario to its end, with its HPA decisions and time-series rows going to `records`.
pub fn run_with<'a>(
    scenario: &'a Scenario,
    progress: &mut dyn FnMut(Progress),
    records: Records<'a>,
) -> Result<RunOutput, RunError> {
    run_with_options(scenario, progress, records, RunOptions::default())
}

/// How a run uses the machine. No option changes what a run computes: every output is the same
/// whichever is chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Draw the request path's random numbers (arrival times, CPU work per request) ahead on a
    /// second thread while the run simulates. Worth it for a single run on a machine with a
    /// core to spare (about a third of a small scenario's time is drawing); not for runs that
    /// already share the cores, as a sweep's do. Off by default.
    pub draw_ahead: bool,
}

/// [`run_with`], with `options` saying how to use the machine.
pub fn run_with_options<'a>(
    scenario: &'a Scenario,
    progress: &mut dyn FnMut(Progress),
    records: Records<'a>,
    options: RunOptions,
) -> Result<RunOutput, RunError> {
    // LLM step-time models fitted to the user's benchmark runs, once per run.
    let fitted = llm::with_fitted_profiles(scenario);
    let scenario = fitted.as_ref().unwrap_or(scenario);
    let mut engine = Engine::new(scenario, records, options);
    engine.initialize();
    engine.run_loop(progress)?;
    Ok(engine.finish())
}

/// The request path's draws for `s`: each Service's arrival process (`arrivals/<service>`) and
/// each Deployment's CPU work stream (`service-time/<deployment>`), drawn ahead if asked.
fn request_draws(s: &Scenario, streams: &RngStreams, options: RunOptions) -> Draws {
    let arrivals: Vec<_> = s
        .services
        .iter()
        .map(|x| {
            let pattern = x.traffic.as_ref()?.arrivals.as_ref()?;
            let rng = streams.stream(&format!("arrivals/{}", x.name));
            Some(ArrivalProcess::new(pattern, rng))
        })
        .collect();
    let service_time: Vec<_> = s
        .deployments
        .iter()
        .map(|d| streams.stream(&format!("service-time/{}", d.name)))
        .collect();
    if !options.draw_ahead {
        return Draws::inline(arrivals, service_time);
    }
    let work = s
        .deployments
        .iter()
        .map(|d| d.workload.cpu_per_request.clone())
        .collect();
    Draws::ahead(arrivals, service_time, work, SimTime::ZERO + s.duration)
}

struct Engine<'s, 'r> {
    scenario: &'s Scenario,
    now: SimTime,
    end: SimTime,
    queue: EventQueue<Event>,
    cluster: Cluster,
    servers: Servers,
    /// Each node's CPU divided among the serving pods on it.
    cpu: CpuSharing,
    slab: RequestSlab,
    /// Call frames of requests that call other Services.
    frames: Frames,
    /// Whether each Deployment's workload has a call graph.
    has_calls: Vec<bool>,
    /// Arrival times and CPU work per request: drawn when needed or ahead.
    draws: Draws,
    /// Per Service, where its requests' token counts (and, for a trace, arrivals) come from.
    llm_arrivals: Vec<Option<TokenArrivals>>,
    /// Whether each Service is served by LLM servers (requests with tokens to any other go to
    /// a workload that passes them on).
    serves_llm: Vec<bool>,
    /// Closed-loop users, by Service (`None`: the Service's requests do not wait for answers).
    users: Vec<Option<clients::Users>>,
    /// Whether any Service has closed-loop users.
    has_users: bool,
    /// Lasting connections: each Service's, and those of workloads whose calls connect their
    /// own way.
    connections: connections::ConnectionTables,
    /// Whether any Service's clients keep connections.
    has_connections: bool,
    /// The mesh's balancing stream of each Service whose pods carry its sidecar.
    mesh_rngs: Vec<Option<crate::sim::SimRng>>,
    /// Whether any Service's pods carry the mesh's sidecar.
    has_mesh: bool,
    /// Zones in the request path (`None`: no Service's routing looks at zones, and there is
    /// no `spec.network`).
    zones: Option<zones::ZoneRouting>,
    /// Reused buffer for what LLM servers report.
    llm_outcomes: Vec<LlmOutcome>,
    routers: Vec<Router>,
    startup_rngs: Vec<SimRng>,
    /// Per Deployment: where each pod's CFS period grid starts (`cfs-period/<deployment>`).
    cfs_phase_rngs: Vec<SimRng>,
    /// Each Job's run times and failures (`job-run/<job>`).
    job_rngs: Vec<SimRng>,
    /// Workloads whose last pod creation a ResourceQuota refused: looked at in every
    /// reconcile until one is admitted.
    quota_blocked: std::collections::BTreeSet<DeploymentId>,
    scheduler: scheduler::Scheduler,
    scheduler_rng: SimRng,
    /// The pending `SchedulerRetry`, if any.
    scheduler_wakeup: Option<SimTime>,
    metrics_server: MetricsServer,
    /// Whether some HPA reads the pods' serving metrics, which each scrape then records.
    scrapes_serving_metrics: bool,
    hpa: HpaController,
    /// What KEDA remembers of each HPA's ScaledObject (unused for HPAs KEDA does not own).
    keda: Vec<KedaState>,
    autoscaler: Option<ClusterAutoscaler>,
    /// Karpenter, when the scenario has NodePools.
    karpenter: Option<crate::controllers::karpenter::Karpenter>,
    /// The VPA recommender, when the scenario has VerticalPodAutoscalers.
    vpa: Option<vpa::VpaLoop>,
    /// Provisioning times, one stream per node pool.
    provisioning_rngs: Vec<SimRng>,
    /// Nodes that scripted events pick at random.
    scripted_rng: SimRng,
    recorder: Recorder,
    decisions: Vec<HpaDecision>,
    /// Where decisions and time-series rows go: kept, or handed out as they are made.
    records: Records<'r>,
    /// How often the sink takes an [`ExportSample`](crate::metrics::export::ExportSample)
    /// (`None`: it takes none).
    export_interval: Option<SimDuration>,
    pod_events: PodEventLog,
    cluster_events: ClusterEventLog,
    /// See [`RunOutput::rollout_records`].
    rollout_records: Vec<RolloutRecord>,
    /// See [`RunOutput::job_records`].
    job_records: JobRecords,
    /// See [`RunOutput::stateful_records`].
    stateful_records: StatefulRecords,
    /// See [`RunOutput::restart_records`].
    restart_records: Vec<RestartRecord>,
    /// Pods each ReplicaSet lost and has not replaced yet.
    losses: healing::Losses,
    outcomes: Vec<Outcome>,
    /// True while outcomes are being handled (handling one may add more).
    flushing: bool,
    /// Call counts, branches and CPU steps of call graphs, one stream per Deployment.
    call_rngs: Vec<SimRng>,
    /// Retry backoff jitter, one stream per Deployment.
    retry_rngs: Vec<SimRng>,
    /// USD per hour charged to each Deployment's bound pods.
    cost_rates: Vec<f64>,
    /// GPUs held by each Deployment's bound pods, and their USD per hour.
    gpu_holdings: Vec<(f64, f64)>,
    /// The workload's GPU request sizes, for the fragmentation series.
    gpu_demand: Vec<GpuDemand>,
    /// What the next reconcile must look at.
    dirty: Dirty,
    /// True while placing the pods that exist at t = 0 of a warm start.
    warm_start: bool,
    node_lifecycle: NodeLifecycleController,
    /// Random machine failures and repairs, one stream per node pool.
    failure_rngs: Vec<SimRng>,
    /// Random spot interruptions, one stream per node pool.
    spot_rngs: Vec<SimRng>,
    /// Random container crashes, one stream per Deployment.
    crash_rngs: Vec<SimRng>,
    /// Each pod's container as the kubelet tracks it, by pod id.
    containers: Vec<containers::Container>,
    /// The images on each node, by node id.
    image_caches: Vec<kubelet::ImageCache>,
    /// The ConfigMaps and Secrets that exist now.
    configs: crate::scenario::config_refs::ConfigObjects,
    /// Pods that could not start for want of one, by id.
    config_waits: BTreeMap<PodId, config::ConfigWait>,
}

impl<'s, 'r> Engine<'s, 'r> {
    fn new(s: &'s Scenario, records: Records<'r>, options: RunOptions) -> Self {
        let streams = RngStreams::new(s.seed);
        let users = clients::users_of(s, &streams);
        let connection_tables = connections::ConnectionTables::of(s, &streams);
        let mesh_rngs = mesh::mesh_streams(s, &streams);
        let end = SimTime::ZERO + s.duration;
        let export_interval = match &records {
            Records::Give(sink) => sink.export_interval(),
            Records::Keep => None,
        };
        let names = SeriesNames {
            services: s.services.iter().map(|x| x.name.as_str()).collect(),
            deployments: s.deployments.iter().map(|x| x.name.as_str()).collect(),
            llm_deployments: (0..s.deployments.len())
                .filter(|&d| s.deployments[d].workload.llm.is_some())
                .collect(),
            pools: s.node_pools.iter().map(|x| x.name.as_str()).collect(),
            pool_columns: s.karpenter.as_ref().map(|k| {
                (s.node_pools.iter())
                    .map(|p| match &p.karpenter {
                        Some(o) => format!("karpenter/{}", k.node_pools[o.node_pool].name),
                        None => p.name.clone(),
                    })
                    .collect()
            }),
            pool_prices: s
                .node_pools
                .iter()
                .map(|p| p.billed_price_per_hour())
                .collect(),
        };
        Engine {
            scenario: s,
            now: SimTime::ZERO,
            end,
            queue: EventQueue::with_capacity(4096),
            cluster: s.initial_cluster(),
            servers: Servers::default(),
            cpu: CpuSharing::default(),
            slab: RequestSlab::default(),
            frames: Frames::new(call_sites(s)),
            has_calls: s
                .deployments
                .iter()
                .map(|d| !d.workload.calls.is_empty())
                .collect(),
            draws: request_draws(s, &streams, options),
            llm_arrivals: s
                .services
                .iter()
                .map(|x| {
                    let source = x.traffic.as_ref()?.tokens.as_ref()?;
                    let rng = streams.stream(&format!("tokens/{}", x.name));
                    Some(TokenArrivals::new(source, rng))
                })
                .collect(),
            has_users: users.iter().any(Option::is_some),
            users,
            has_connections: connection_tables.any(),
            connections: connection_tables,
            has_mesh: mesh_rngs.iter().any(Option::is_some),
            zones: zones::ZoneRouting::of(s, &streams),
            mesh_rngs,
            serves_llm: (s.services.iter())
                .map(|x| x.serves_llm(&s.deployments))
                .collect(),
            llm_outcomes: Vec::new(),
            routers: s
                .services
                .iter()
                .map(|x| {
                    Router::new(
                        x.traffic
                            .as_ref()
                            .map_or(crate::scenario::LoadBalancing::Random, |t| t.load_balancing),
                        streams.stream(&format!("routing/{}", x.name)),
                    )
                })
                .collect(),
            startup_rngs: s
                .deployments
                .iter()
                .map(|d| streams.stream(&format!("startup/{}", d.name)))
                .collect(),
            cfs_phase_rngs: s
                .deployments
                .iter()
                .map(|d| streams.stream(&format!("cfs-period/{}", d.name)))
                .collect(),
            quota_blocked: Default::default(),
            job_rngs: s
                .deployments
                .iter()
                .map(|d| streams.stream(&format!("job-run/{}", d.name)))
                .collect(),
            scheduler: scheduler::Scheduler::new(s.scheduler_profiles.clone()),
            scheduler_rng: streams.stream("scheduler"),
            scheduler_wakeup: None,
            metrics_server: MetricsServer::new(s.metric_resolution),
            scrapes_serving_metrics: s.reads_serving_metrics(),
            hpa: HpaController::new(s.hpa_settings, &s.hpas, s.metric_series.clone()),
            keda: vec![KedaState::default(); s.hpas.len()],
            autoscaler: s.cluster_autoscaler.clone().map(|settings| {
                ClusterAutoscaler::new(
                    settings,
                    s.node_pools.len(),
                    s.scheduler_profiles.clone(),
                    streams.stream("cluster-autoscaler"),
                )
            }),
            karpenter: None,
            vpa: vpa::VpaLoop::of(s),
            scripted_rng: streams.stream("scripted-events"),
            provisioning_rngs: s
                .node_pools
                .iter()
                .map(|p| streams.stream(&format!("provisioning/{}", p.name)))
                .collect(),
            recorder: Recorder::new(&names)
                .with_hpas(s.hpas.len())
                .with_goodput(
                    (s.services.iter())
                        .map(|x| x.traffic.as_ref().and_then(|t| t.goodput))
                        .collect(),
                )
                .with_export_if(export_interval.is_some()),
            export_interval,
            decisions: Vec::new(),
            records,
            pod_events: PodEventLog::default(),
            cluster_events: ClusterEventLog::default(),
            rollout_records: Vec::new(),
            job_records: JobRecords::default(),
            stateful_records: StatefulRecords::default(),
            restart_records: Vec::new(),
            losses: healing::Losses::default(),
            outcomes: Vec::with_capacity(64),
            flushing: false,
            call_rngs: s
                .deployments
                .iter()
                .map(|d| streams.stream(&format!("calls/{}", d.name)))
                .collect(),
            retry_rngs: s
                .deployments
                .iter()
                .map(|d| streams.stream(&format!("retries/{}", d.name)))
                .collect(),
            cost_rates: vec![0.0; s.deployments.len()],
            gpu_holdings: vec![(0.0, 0.0); s.deployments.len()],
            gpu_demand: accounting::gpu_demand(
                s.deployments
                    .iter()
                    .filter(|d| {
                        matches!(
                            d.source,
                            PodSource::ReplicaSet | PodSource::ReplicationController
                        )
                    })
                    .map(|d| (&d.pod.requests, f64::from(d.replicas.max(1))))
                    .chain(
                        s.pod_traces
                            .iter()
                            .flat_map(|t| &t.pods)
                            .map(|p| (&p.template.requests, 1.0)),
                    ),
            ),
            dirty: Dirty::new(),
            warm_start: s.start_warm,
            node_lifecycle: NodeLifecycleController::default(),
            failure_rngs: s
                .node_pools
                .iter()
                .map(|p| streams.stream(&format!("failures/{}", p.name)))
                .collect(),
            spot_rngs: s
                .node_pools
                .iter()
                .map(|p| streams.stream(&format!("spot/{}", p.name)))
                .collect(),
            crash_rngs: s
                .deployments
                .iter()
                .map(|d| streams.stream(&format!("crashes/{}", d.name)))
                .collect(),
            containers: Vec::new(),
            image_caches: Vec::new(),
            configs: s.config_objects.clone(),
            config_waits: BTreeMap::new(),
        }
    }

    /// t = 0: create and place the initial pods, start the periodic loops and the traffic.
    fn initialize(&mut self) {
        if let Records::Give(sink) = &mut self.records {
            sink.timeseries_columns(&self.recorder.series.columns);
        }
        for (i, d) in self.cluster.deployments.iter().enumerate() {
            self.recorder.observe(
                SimTime::ZERO,
                Observation::ReplicasChanged {
                    deployment: DeploymentId(i as u32),
                    replicas: d.replicas,
                },
            );
            self.recorder.observe(
                SimTime::ZERO,
                Observation::ReadyPodsChanged {
                    deployment: DeploymentId(i as u32),
                    ready: 0,
                },
            );
        }
        for p in 0..self.cluster.pools.len() {
            self.observe_pool_size(PoolId(p as u32));
        }
        self.observe_allocation();
        self.start_karpenter();
        self.start_jobs();
        // Pods placed at t = 0 of a warm start are already Running: start them now, and
        // reconcile again for the pods that wait for them (a StatefulSet's next ordinal).
        loop {
            self.reconcile();
            if self.warm_start {
                self.warm_karpenter();
            }
            let starting: Vec<PodId> = self
                .cluster
                .pods
                .iter()
                .filter(|p| p.node.is_some() && p.phase == PodPhase::Pending)
                .filter(|p| !self.config_waits.contains_key(&p.id))
                .map(|p| p.id)
                .collect();
            if !self.warm_start || starting.is_empty() {
                break;
            }
            for pod in starting {
                if self.config_resolved(pod) {
                    self.start_container(pod, containers::Start::Warm);
                }
            }
        }
        self.warm_start = false;
        self.queue.schedule(SimTime::ZERO, Event::MetricsScrape);
        if !self.scenario.hpas.is_empty() {
            self.queue.schedule(SimTime::ZERO, Event::HpaSync);
        }
        self.start_keda_polls();
        self.queue.schedule(SimTime::ZERO, Event::Sample);
        self.start_vpa_loop();
        if let Some(ca) = &self.autoscaler {
            self.queue
                .schedule(SimTime::ZERO + ca.scan_interval(), Event::AutoscalerScan);
        }
        for s in 0..self.scenario.services.len() {
            self.schedule_next_arrival(ServiceId(s as u32));
        }
        self.start_users();
        self.schedule_scripted_events();
        for (t, trace) in self.scenario.pod_traces.iter().enumerate() {
            for (i, pod) in trace.pods.iter().enumerate() {
                let event = Event::TracePodCreated {
                    trace: t as u32,
                    index: i as u32,
                };
                self.queue.schedule(pod.create, event);
            }
        }
    }

    fn run_loop(&mut self, progress: &mut dyn FnMut(Progress)) -> Result<(), RunError> {
        let budget = self.scenario.max_events;
        while let Some((at, event)) = self.queue.pop_until(self.end) {
            self.warm_upcoming_server();
            self.now = at;
            self.cluster.journal.set_clock(at);
            // The two kinds nearly every event is go straight to their handlers, past
            // `dispatch`'s large stack frame and its jump table (about 1 % of a request-bound
            // run's time, measured on the SimPy-peer scenario).
            match event {
                Event::Completion { pod, generation } => self.on_completion(pod, generation),
                Event::Arrival { service } => self.on_arrival(service),
                _ => self.dispatch(event),
            }
            if self.dirty.any() {
                self.reconcile();
            }
            let events = self.queue.popped();
            if events.is_multiple_of(PROGRESS_EVERY) {
                progress(Progress {
                    now: self.now,
                    end: self.end,
                    events,
                });
            }
            if events >= budget {
                return Err(RunError::EventBudgetExceeded {
                    budget,
                    at: self.now,
                    end: self.end,
                });
            }
        }
        self.now = self.end;
        progress(Progress {
            now: self.end,
            end: self.end,
            events: self.queue.popped(),
        });
        Ok(())
    }

    /// Starts loading the servers of the pods the next events will likely reach — the pod whose
    /// completion is next (timer ids are pod indices) and the pod the next arrival will be
    /// routed to — so that their cache misses overlap this event's work: with many busy pods a
    /// pod's server has usually left the caches since its last request. With few, it has not,
    /// and the hint would only cost time.
    #[inline(always)]
    fn warm_upcoming_server(&self) {
        if self.queue.timers_pending() < WARM_FROM_BUSY_PODS {
            return;
        }
        if let Some(id) = self.queue.upcoming_timer() {
            self.warm_server(PodId(id));
        }
        if let Some(&Event::Arrival { service }) = self.queue.upcoming_event() {
            let endpoints = &self.cluster.services[service.index()].endpoints;
            if let Some(pod) = self.routers[service.index()].upcoming(endpoints) {
                self.warm_server(pod);
            }
        }
    }

    /// Starts loading the pod's server slot into the caches (a hint; changes nothing).
    #[inline(always)]
    fn warm_server(&self, pod: PodId) {
        self.servers.warm(pod);
    }

    fn dispatch(&mut self, event: Event) {
        match event {
            Event::Arrival { service } => self.on_arrival(service),
            Event::Completion { pod, generation } => self.on_completion(pod, generation),
            Event::LlmStep {
                pod,
                container,
                generation,
            } => self.on_llm_step(pod, container, generation),
            Event::PodStarted { pod } => self.on_pod_started(pod),
            Event::TerminationDeadline { pod } => self.kill_pod(pod),
            Event::MetricsScrape => self.on_scrape(),
            Event::HpaSync => self.on_hpa_sync(),
            Event::KedaPoll { hpa } => self.on_keda_poll(hpa),
            Event::Sample => self.on_sample(),
            Event::NodeRegistered { node } => self.on_node_registered(node),
            Event::AutoscalerScan => self.on_autoscaler_scan(),
            Event::KarpenterBatch => self.on_karpenter_batch(),
            Event::KarpenterDisruption => self.on_karpenter_disruption(),
            Event::TracePodCreated { trace, index } => self.on_trace_pod_created(trace, index),
            Event::TracePodDeleted { pod } => self.on_trace_pod_deleted(pod),
            Event::SchedulerRetry => {
                if self.scheduler_wakeup == Some(self.now) {
                    self.scheduler_wakeup = None;
                }
                self.dirty.scheduler();
            }
            Event::Scripted { index } => self.on_scripted(index as usize),
            Event::NodeMonitor => self.on_node_monitor(),
            Event::DrainRetry { node } => self.kubectl_drain(node),
            Event::NodeFails { node } => self.on_random_failure(node),
            Event::NodeRepaired { node } => self.on_repair(node),
            Event::SpotNotice { node } => self.spot_notice(node),
            Event::SpotReclaimed { node } => self.spot_reclaimed(node),
            Event::MinReadyElapsed { deployment } => self.dirty.workload(deployment),
            Event::ProgressDeadline { deployment } => self.track_rollout(deployment),
            Event::Probe {
                pod,
                kind,
                generation,
            } => self.on_probe(pod, kind, generation),
            Event::ContainerRestart { pod, generation } => {
                self.on_container_restart(pod, generation)
            }
            Event::ContainerCrash { pod, generation } => self.on_container_crash(pod, generation),
            Event::CallTimeout { frame, token } => self.on_call_timeout(frame, token),
            Event::CallRetry { frame, token } => self.on_call_retry(frame, token),
            Event::MeshDelivery { frame, token } => self.on_mesh_delivery(frame, token),
            Event::CallAnswer {
                frame,
                token,
                failure,
            } => self.on_call_answer(frame, token, failure),
            Event::FrameResume { frame, token } => self.on_frame_resume(frame, token),
            Event::JobRunEnds {
                pod,
                generation,
                failed,
            } => self.on_job_run_ends(pod, generation, failed),
            Event::JobWake { job } => self.dirty.workload(job),
            Event::JobTtl { run } => self.on_job_ttl(run),
            Event::CronTick { cron_job } => self.on_cron_tick(cron_job),
            Event::UsersChange { service } => self.on_users_change(service),
            Event::VpaRecommender => self.on_vpa_loop(),
            Event::VpaUpdater => self.on_vpa_updater(),
        }
    }

    // ---- data plane --------------------------------------------------------------------------

    #[inline]
    fn schedule_next_arrival(&mut self, service: ServiceId) {
        if self.llm_arrivals[service.index()].is_some() && self.schedule_next_trace_arrival(service)
        {
            return;
        }
        let next = self.draws.next_arrival(service.index(), self.now, self.end);
        if let Some(at) = next {
            self.queue.schedule(at, Event::Arrival { service });
        }
    }

    fn on_arrival(&mut self, service: ServiceId) {
        if self.llm_arrivals[service.index()].is_some() {
            return self.on_llm_arrival(service);
        }
        self.schedule_next_arrival(service);
        self.send_request(service, CallRef::NONE);
    }

    fn on_completion(&mut self, pod: PodId, generation: u32) {
        let Some(server) = self.servers.get_mut(pod) else {
            return;
        };
        let next = server.complete(self.now, generation, &mut self.slab, &mut self.outcomes);
        let gone = server.is_idle() && server.is_deleting();
        let demand = server.tracked_demand();
        debug_assert_eq!(
            self.servers.get(pod).map(PodServer::is_deleting),
            Some(self.cluster.pod(pod).deletion.is_some())
        );
        self.schedule_completion(pod, next);
        self.update_cpu_demand(demand);
        self.flush_outcomes();
        if gone {
            self.finish_termination(pod);
        }
    }

    fn schedule_completion(&mut self, pod: PodId, next: Option<(SimTime, u32)>) {
        if let Some((at, generation)) = next {
            let event = Event::Completion { pod, generation };
            self.queue.schedule_timer(pod.0, at, event);
        }
    }

    // ---- pod lifecycle -----------------------------------------------------------------------

    fn on_pod_started(&mut self, pod: PodId) {
        let p = self.cluster.pod(pod);
        if p.deletion.is_some() || p.phase != PodPhase::Pending {
            self.forget_config_wait(pod);
            return; // deleted while starting
        }
        if self.on_failed_node(pod) {
            return; // the machine is down: it starts when the node recovers
        }
        if self.config_resolved(pod) {
            self.start_container(pod, containers::Start::First);
        }
    }

    /// Logs an event for `pod` under its name and its Deployment's; returns its index in the
    /// log.
    fn pod_event(&mut self, pod: PodId, reason: PodEventReason, message: String) -> usize {
        let p = self.cluster.pod(pod);
        let owner = &self.cluster.deployment(p.deployment).spec.name;
        let pod = PodRef {
            id: pod,
            name: &p.name,
            owner,
        };
        self.pod_events.record(self.now, pod, reason, message)
    }

    fn node_event(&mut self, node: NodeId, reason: ClusterEventReason, message: String) {
        let name = &self.cluster.node(node).name;
        let kind = ObjectKind::Node;
        self.cluster_events
            .record(self.now, kind, name, reason, message);
    }

    fn deployment_event(
        &mut self,
        deployment: DeploymentId,
        reason: ClusterEventReason,
        message: String,
    ) {
        let name = &self.cluster.deployment(deployment).spec.name;
        let kind = ObjectKind::Deployment;
        self.cluster_events
            .record(self.now, kind, name, reason, message);
    }

    fn observe_ready(&mut self, deployment: DeploymentId) {
        // Readiness moves rollouts along; a pod is available minReadySeconds after Ready
        // (strictly after: hence the microsecond).
        self.dirty.workload(deployment);
        let min_ready = self.cluster.deployment(deployment).spec.rollout.min_ready;
        if !min_ready.is_zero() {
            let at = self.now + min_ready + SimDuration::from_micros(1);
            self.queue
                .schedule(at, Event::MinReadyElapsed { deployment });
        }
        let ready = self.cluster.ready_pods(deployment);
        self.recorder.observe(
            self.now,
            Observation::ReadyPodsChanged { deployment, ready },
        );
    }

    /// Deletion: the pod leaves its endpoints at once; a running pod drains within its grace period.
    fn delete_pod(&mut self, pod: PodId) {
        self.delete_pod_within(pod, SimDuration::MAX);
    }

    /// [`Engine::delete_pod`] with the grace period cut to at most `max_grace`.
    fn delete_pod_within(&mut self, pod: PodId, max_grace: SimDuration) {
        let was_ready = self.cluster.pod(pod).ready;
        if self.cluster.pod(pod).node.is_some() {
            self.pod_event(pod, PodEventReason::Killing, "Stopping container".into());
        } else {
            self.pod_event(pod, PodEventReason::Deleted, "Deleted while Pending".into());
        }
        self.mark_pod_deleted(pod);
        let dep = self.cluster.pod(pod).deployment;
        self.dirty.workload(dep);
        if was_ready {
            self.observe_ready(dep);
        }
        let idle = self.servers.get(pod).is_none_or(PodServer::is_idle);
        if idle {
            self.finish_termination(pod);
            return;
        }
        let grace = self
            .cluster
            .deployment(dep)
            .spec
            .pod
            .termination_grace
            .min(max_grace);
        self.queue
            .schedule(self.now + grace, Event::TerminationDeadline { pod });
    }

    /// Sets the pod's deletion timestamp, and tells its server (if it has one).
    fn mark_pod_deleted(&mut self, pod: PodId) {
        self.note_loss(pod);
        self.karpenter_pod_event(pod);
        self.cluster.mark_deleted(pod, self.now);
        if let Some(server) = self.servers.get_mut(pod) {
            server.mark_deleting();
        }
    }

    /// Grace period over: whatever is still in flight fails, and the pod is gone.
    fn kill_pod(&mut self, pod: PodId) {
        if self.cluster.pod(pod).phase == PodPhase::Terminated {
            return;
        }
        if let Some(server) = self.servers.get_mut(pod) {
            server.fail_all(
                crate::traffic::FailureReason::PodTerminated,
                &mut self.slab,
                &mut self.outcomes,
            );
        }
        self.flush_outcomes();
        self.finish_termination(pod);
    }

    fn finish_termination(&mut self, pod: PodId) {
        self.job_pod_lost(pod);
        let node = self.cluster.pod(pod).node;
        let repeats = self.scheduler.queue.forget(pod);
        self.add_repeats(repeats);
        if node.is_some() {
            self.charge(pod, -1.0);
            // Its requests, host ports and labels leave the node: parked pods may fit now.
            let gone = std::sync::Arc::clone(&self.cluster.pod(pod).template);
            self.scheduler_event(QueueEvent::AssignedPodDeleted(&gone));
        }
        self.karpenter_pod_event(pod);
        self.cluster.terminate(pod);
        self.observe_allocation();
        if let Some(node) = node.filter(|&n| self.cluster.node(n).is_to_be_deleted()) {
            self.remove_node_if_empty(node);
        }
        self.take_server(pod);
        self.metrics_server.forget(pod);
        self.dirty.workload(self.cluster.pod(pod).deployment);
    }

    // ---- pod traces --------------------------------------------------------------------------

    fn on_trace_pod_created(&mut self, trace: u32, index: u32) {
        let spec = &self.scenario.pod_traces[trace as usize];
        let row = &spec.pods[index as usize];
        let deployment = DeploymentId(spec.deployment as u32);
        let rs = self.cluster.deployment(deployment).replica_sets[0];
        let template = std::sync::Arc::clone(&row.template);
        let pod = self
            .cluster
            .create_pod_with(rs, row.name.clone(), template, self.now);
        self.pod_event(
            pod,
            PodEventReason::Created,
            "Created from the pod trace".into(),
        );
        if let Some(at) = row.delete {
            self.queue
                .schedule(at.max(self.now), Event::TracePodDeleted { pod });
        }
        self.recorder
            .observe(self.now, Observation::PodCreated { deployment });
        self.count_trace_pods(deployment, 1);
        self.dirty.workload(deployment);
    }

    fn on_trace_pod_deleted(&mut self, pod: PodId) {
        if self.cluster.pod(pod).deletion.is_some() {
            return;
        }
        let deployment = self.cluster.pod(pod).deployment;
        self.delete_pod(pod);
        self.count_trace_pods(deployment, -1);
        self.dirty.workload(deployment);
    }

    /// A trace's "replicas" are its live pods.
    fn count_trace_pods(&mut self, deployment: DeploymentId, delta: i32) {
        let d = &mut self.cluster.deployments[deployment.index()];
        d.replicas += delta;
        let replicas = d.replicas;
        self.recorder.observe(
            self.now,
            Observation::ReplicasChanged {
                deployment,
                replicas,
            },
        );
    }

    // ---- control plane -----------------------------------------------------------------------

    /// Runs the controllers of the workloads something changed for (their Deployment,
    /// StatefulSet or DaemonSet controller and their ReplicaSets), then the scheduler, until
    /// nothing changes; then updates those Deployments' rollout conditions.
    fn reconcile(&mut self) {
        let mut touched = Vec::new();
        for _ in 0..MAX_RECONCILE_PASSES {
            let workloads = self.due_workloads();
            let (intents, _replica_sets) = self.workload_intents(&workloads);
            #[cfg(debug_assertions)]
            self.check_untouched_are_settled(&workloads, &_replica_sets);
            touched.extend(workloads);
            for intent in intents {
                self.apply(intent);
            }
            self.schedule_pending();
            if !self.dirty.any() {
                touched.sort_unstable();
                touched.dedup();
                self.track_rollouts(&touched);
                return;
            }
        }
        panic!(
            "controllers did not settle after {MAX_RECONCILE_PASSES} passes at {}",
            self.now
        );
    }

    /// The workloads a reconcile pass must look at: those marked since the last pass, and those
    /// whose state moves with time alone (see [`Engine::moves_with_time`]), in id order.
    fn due_workloads(&mut self) -> Vec<DeploymentId> {
        let mut due = self.dirty.take(self.cluster.deployments.len());
        let marked = due.len();
        for d in 0..self.cluster.deployments.len() {
            let id = DeploymentId(d as u32);
            if self.moves_with_time(id) && due[..marked].binary_search(&id).is_err() {
                due.push(id);
            }
        }
        due.sort_unstable();
        due
    }

    /// Whether a Deployment's conditions can change with no object changing: paused (its
    /// Progressing time follows the clock), progressing under a deadline not yet passed, or
    /// with Ready pods not yet available (minReadySeconds). Such Deployments are looked at in
    /// every reconcile, as every Deployment once was, so that when these changes are noticed
    /// does not change.
    fn moves_with_time(&self, deployment: DeploymentId) -> bool {
        if self.cron_due(deployment) || self.quota_blocked.contains(&deployment) {
            return true;
        }
        let d = self.cluster.deployment(deployment);
        let r = &d.rollout;
        let deadline = d.spec.rollout.progress_deadline.is_some();
        d.rolls_out()
            && (d.paused
                || (r.progressing && !r.timed_out && deadline)
                || r.status.ready > r.status.available)
    }

    /// The intents of the workloads' controllers, then of their ReplicaSets in id order (the
    /// order a pass over every object gives), and which ReplicaSets those were.
    fn workload_intents(&mut self, workloads: &[DeploymentId]) -> (Vec<Intent>, Vec<ReplicaSetId>) {
        let mut intents = Vec::new();
        for &id in workloads {
            let (asked, step) = deployment::reconcile_step(&self.cluster, id, self.now);
            if self.rollout_records.len() < MAX_ROLLOUT_RECORDS
                && let Some(mut r) = record::record(&self.cluster, id, self.now, step, &asked)
            {
                r.events_before = self.cluster_events.len();
                self.rollout_records.push(r);
            }
            intents.extend(asked);
            intents.extend(daemonset::reconcile(&self.cluster, id, self.now));
            intents.extend(self.statefulset_intents(id));
            intents.extend(cronjob::reconcile(&self.cluster, id, self.now));
            intents.extend(self.job_intents(id));
        }
        let mut replica_sets: Vec<ReplicaSetId> = (workloads.iter())
            .flat_map(|&d| self.cluster.deployment(d).replica_sets.iter().copied())
            .collect();
        replica_sets.sort_unstable();
        for &rs in &replica_sets {
            intents.extend(replicaset::reconcile(&self.cluster, rs, self.now));
        }
        (intents, replica_sets)
    }

    /// Debug builds: a workload or ReplicaSet left out of a pass must have nothing to do, so
    /// that reconciling only what changed gives what reconciling everything would.
    #[cfg(debug_assertions)]
    fn check_untouched_are_settled(
        &self,
        workloads: &[DeploymentId],
        replica_sets: &[ReplicaSetId],
    ) {
        for d in 0..self.cluster.deployments.len() {
            let id = DeploymentId(d as u32);
            if workloads.binary_search(&id).is_err() {
                let intents = [
                    deployment::reconcile_step(&self.cluster, id, self.now).0,
                    daemonset::reconcile(&self.cluster, id, self.now),
                    crate::controllers::statefulset::sync(&self.cluster, id, self.now).intents,
                    cronjob::reconcile(&self.cluster, id, self.now),
                    (job::syncs(&self.cluster, id, self.now).into_iter())
                        .flat_map(|sync| sync.intents)
                        .collect(),
                ];
                let name = &self.cluster.deployment(id).spec.name;
                assert!(
                    intents.iter().all(Vec::is_empty),
                    "{name} was not marked for reconcile at {} but asks for {intents:?}",
                    self.now
                );
            }
        }
        for rs in 0..self.cluster.replica_sets.len() {
            let id = ReplicaSetId(rs as u32);
            if replica_sets.binary_search(&id).is_err() {
                let intents = replicaset::reconcile(&self.cluster, id, self.now);
                assert!(
                    intents.is_empty(),
                    "ReplicaSet {} was not marked for reconcile at {} but asks for {intents:?}",
                    self.cluster.replica_sets[rs].name,
                    self.now
                );
            }
        }
    }

    /// Applies one intent the way the API server would.
    fn apply(&mut self, intent: Intent) {
        match intent {
            Intent::SetReplicaSetReplicas {
                replica_set,
                replicas,
            } => {
                let dep = self.cluster.replica_sets[replica_set.index()].deployment;
                let (desired, max) = self.cluster.deployment(dep).replica_annotations();
                let rs = &mut self.cluster.replica_sets[replica_set.index()];
                rs.replicas = replicas;
                rs.desired_annotation = desired;
                rs.max_annotation = max;
                self.dirty.workload(dep);
            }
            Intent::CreateReplicaSet { deployment } => {
                let rs = self.cluster.create_replica_set(deployment, self.now);
                self.start_rollout(deployment, self.cluster.replica_sets[rs.index()].revision);
            }
            Intent::SetRevision {
                replica_set,
                revision,
            } => {
                let rs = &mut self.cluster.replica_sets[replica_set.index()];
                rs.revision = revision;
                let deployment = rs.deployment;
                self.start_rollout(deployment, revision);
            }
            Intent::SetCurrentRevision {
                deployment,
                replica_set,
            } => {
                self.cluster.deployments[deployment.index()].current_revision = Some(replica_set);
            }
            Intent::DeleteReplicaSet { replica_set } => {
                self.forget_losses(replica_set);
                let deployment = self.cluster.replica_sets[replica_set.index()].deployment;
                self.cluster.delete_replica_set(replica_set);
                self.dirty.workload(deployment);
            }
            Intent::CreatePod { replica_set } => {
                let rs = &self.cluster.replica_sets[replica_set.index()];
                let (workload, template) = (rs.deployment, std::sync::Arc::clone(&rs.template));
                let Some(template) = self.admit_pod(workload, template) else {
                    return;
                };
                let pod = self
                    .cluster
                    .create_pod_from(replica_set, template, self.now);
                let message = self.creation_message(replica_set);
                self.pod_event(pod, PodEventReason::Created, message);
                let deployment = self.cluster.pod(pod).deployment;
                self.recorder
                    .observe(self.now, Observation::PodCreated { deployment });
                self.dirty.workload(deployment);
            }
            Intent::CreateStatefulPod {
                replica_set,
                ordinal,
            } => {
                let rs = &self.cluster.replica_sets[replica_set.index()];
                let (workload, template) = (rs.deployment, std::sync::Arc::clone(&rs.template));
                let Some(template) = self.admit_pod(workload, template) else {
                    return;
                };
                let pod =
                    (self.cluster).create_stateful_pod(replica_set, ordinal, template, self.now);
                let deployment = self.cluster.pod(pod).deployment;
                let message = format!(
                    "Created by StatefulSet {}",
                    self.cluster.deployment(deployment).spec.name
                );
                self.pod_event(pod, PodEventReason::Created, message);
                self.recorder
                    .observe(self.now, Observation::PodCreated { deployment });
                self.dirty.workload(deployment);
            }
            Intent::CreateDaemonPod { deployment, node } => {
                let template = std::sync::Arc::clone(self.cluster.current_template(deployment));
                let Some(template) = self.admit_pod(deployment, template) else {
                    return;
                };
                let pod = (self.cluster).create_daemon_pod(deployment, node, &template, self.now);
                let message = format!(
                    "Created by DaemonSet {}",
                    self.cluster.deployment(deployment).spec.name
                );
                self.pod_event(pod, PodEventReason::Created, message);
                self.recorder
                    .observe(self.now, Observation::PodCreated { deployment });
                self.dirty.workload(deployment);
            }
            Intent::CreateJobPod { run, index } => self.create_job_pod(run, index),
            Intent::FinishJob { run, outcome } => self.finish_job(run, outcome),
            Intent::StartJob {
                cron_job,
                scheduled,
            } => self.start_cron_job_run(cron_job, scheduled),
            Intent::DeleteJob { run, reason } => self.delete_job(run, reason),
            Intent::SkipJob {
                cron_job,
                scheduled,
            } => self.skip_cron_job_run(cron_job, scheduled),
            Intent::DeletePod { pod } => self.delete_pod(pod),
            Intent::BindPod { pod, node } => {
                self.cluster.bind(pod, node);
                self.karpenter_pod_event(pod);
                self.charge(pod, 1.0);
                self.observe_allocation();
                let pulled = self.pull_images(pod, node);
                if !self.warm_start {
                    let dep = self.cluster.pod(pod).deployment;
                    let delay = kubelet::startup_delay(
                        &self.cluster.deployment(dep).spec.workload,
                        &mut self.startup_rngs[dep.index()],
                    );
                    self.queue
                        .schedule(pulled + delay, Event::PodStarted { pod });
                }
            }
            Intent::ScaleDeployment {
                deployment,
                replicas,
            } => {
                let from = self.cluster.deployment(deployment).replicas;
                self.cluster.deployments[deployment.index()].replicas = replicas;
                self.recorder.deployment_scaled(deployment, from, replicas);
                self.recorder.observe(
                    self.now,
                    Observation::ReplicasChanged {
                        deployment,
                        replicas,
                    },
                );
                self.dirty.workload(deployment);
            }
            Intent::AddNodes { pool, count } => self.add_nodes(pool, count),
            Intent::RemoveNode { node } => {
                self.cluster.mark_to_be_deleted(node, self.now);
                self.remove_node_if_empty(node);
            }
            Intent::DrainNode { node, max_grace } => self.drain_node(node, max_grace),
            Intent::DisruptNode { node, force } => self.disrupt_node(node, force),
            Intent::MarkNodeUnreachable { node } => self.mark_node_unreachable(node),
            Intent::MarkNodeReachable { node } => self.mark_node_reachable(node),
            Intent::TaintNode { node, key, effect } => self.cluster.add_taint(node, key, effect),
            Intent::UntaintNode { node, key, effect } => {
                self.cluster.remove_taint(node, key, effect);
            }
            Intent::EvictPod { pod } => self.evict_from_failed_node(pod),
            Intent::CancelScaleDown { node } => {
                self.cluster.clear_to_be_deleted(node);
                self.dirty.everything();
            }
        }
    }

    /// The kubelet pulls the pod's images the node lacks (warm pods found them there): when
    /// they are all present.
    fn pull_images(&mut self, pod: PodId, node: NodeId) -> SimTime {
        if self.image_caches.len() <= node.index() {
            self.image_caches
                .resize_with(node.index() + 1, kubelet::ImageCache::default);
        }
        let pool = self.cluster.node(node).pool;
        let bandwidth = if self.warm_start {
            None
        } else {
            self.cluster.pools[pool.index()].spec.image_pull_bandwidth
        };
        let images = &self.cluster.pod(pod).template.images;
        let pulled = self.image_caches[node.index()].pull(
            images,
            &self.cluster.image_sizes,
            bandwidth,
            self.now,
        );
        if pulled > self.now {
            let took = pulled.saturating_since(self.now);
            let message = format!("Pulled images {} (ready in {took})", images.join(", "));
            self.pod_event(pod, PodEventReason::Pulled, message);
        }
        pulled
    }

    // ---- rollouts ----------------------------------------------------------------------------

    /// A ReplicaSet became the new one (created, or revived by a rollback): a rollout starts.
    fn start_rollout(&mut self, deployment: DeploymentId, revision: u64) {
        self.dirty.workload(deployment);
        if revision <= 1 {
            return; // the Deployment's first ReplicaSet: nothing to roll from
        }
        let state = &mut self.cluster.deployments[deployment.index()].rollout;
        state.started = Some(self.now);
        state.revision = revision;
        state.progressing = true;
        state.timed_out = false;
        state.last_progress = self.now;
        self.recorder.observe(
            self.now,
            Observation::RolloutStarted {
                deployment,
                revision,
            },
        );
        let message = format!("rolling out revision {revision}");
        self.deployment_event(deployment, ClusterEventReason::RolloutStarted, message);
        self.arm_progress_deadline(deployment);
    }

    /// Updates the rollout conditions of the Deployments a reconcile looked at.
    fn track_rollouts(&mut self, touched: &[DeploymentId]) {
        for d in 0..self.cluster.deployments.len() {
            let id = DeploymentId(d as u32);
            let workload = &self.cluster.deployments[d];
            if !workload.rolls_out() {
                continue;
            }
            if touched.binary_search(&id).is_ok() {
                self.track_rollout(id);
            } else {
                #[cfg(debug_assertions)]
                self.check_rollout_settled(id);
            }
        }
    }

    /// Debug builds: the conditions of a Deployment no reconcile touched would not change.
    #[cfg(debug_assertions)]
    fn check_rollout_settled(&self, deployment: DeploymentId) {
        let status = deployment::status(&self.cluster, deployment, self.now);
        let d = self.cluster.deployment(deployment);
        let (after, event) = deployment::track_progress(d.rollout, d, status, self.now);
        let min_available = d.spec.strategy.min_available(d.replicas);
        assert!(
            after == d.rollout && event.is_none() && min_available == d.rollout.min_available,
            "{}: rollout conditions changed at {} without a reconcile: {:?} → {after:?}",
            d.spec.name,
            self.now,
            d.rollout
        );
    }

    /// Updates a Deployment's Progressing and Available conditions after a reconcile.
    fn track_rollout(&mut self, deployment: DeploymentId) {
        let status = deployment::status(&self.cluster, deployment, self.now);
        let d = self.cluster.deployment(deployment);
        let before = d.rollout;
        let min_available = d.spec.strategy.min_available(d.replicas);
        let (after, event) = deployment::track_progress(before, d, status, self.now);
        self.cluster
            .journal
            .workload(deployment, d.replicas, status);
        self.cluster.deployments[deployment.index()].rollout = after;
        let available = status.available >= min_available;
        if available != (before.status.available >= before.min_available) || !before.tracked {
            self.recorder.observe(
                self.now,
                Observation::AvailableChanged {
                    deployment,
                    available,
                },
            );
        }
        let state = &mut self.cluster.deployments[deployment.index()].rollout;
        state.min_available = min_available;
        state.tracked = true;
        match event {
            Some(deployment::ProgressEvent::Completed { started }) => {
                let revision = after.revision;
                let took = self.now.saturating_since(started);
                self.recorder.observe(
                    self.now,
                    Observation::RolloutCompleted {
                        deployment,
                        revision,
                        took,
                    },
                );
                let message = format!("revision {revision} rolled out in {took}");
                self.deployment_event(deployment, ClusterEventReason::RolloutCompleted, message);
            }
            Some(deployment::ProgressEvent::DeadlineExceeded) => {
                self.recorder.observe(
                    self.now,
                    Observation::ProgressDeadlineExceeded { deployment },
                );
                let reason = ClusterEventReason::ProgressDeadlineExceeded;
                let message = "the rollout made no progress within progressDeadlineSeconds";
                self.deployment_event(deployment, reason, message.into());
            }
            None => {}
        }
        if after.last_progress != before.last_progress && after.progressing {
            self.arm_progress_deadline(deployment);
        }
    }

    /// Checks the deadline again just after it would pass.
    fn arm_progress_deadline(&mut self, deployment: DeploymentId) {
        let d = self.cluster.deployment(deployment);
        if let Some(deadline) = d.spec.rollout.progress_deadline {
            let at = d.rollout.last_progress + deadline + SimDuration::from_micros(1);
            self.queue
                .schedule(at, Event::ProgressDeadline { deployment });
        }
    }

    // ---- nodes and accounting ----------------------------------------------------------------

    fn on_node_registered(&mut self, node: NodeId) {
        if self.cluster.node(node).state != NodeState::Provisioning {
            return; // given up on before it registered
        }
        self.cluster.register_node(node);
        self.schedule_hazards(node);
        self.scheduler_event(QueueEvent::NodeChanged);
        self.observe_allocation();
        self.dirty.everything();
    }

    fn on_autoscaler_scan(&mut self) {
        let Some(ca) = self.autoscaler.as_mut() else {
            return;
        };
        let intents = ca.scan(&mut self.cluster, self.now);
        let next = self.now + ca.scan_interval();
        for (pod, reason, message) in std::mem::take(&mut ca.pod_events) {
            self.pod_event(pod, reason, message);
        }
        for intent in intents {
            self.apply(intent);
        }
        if self.dirty.any() {
            self.reconcile();
        }
        self.queue.schedule(next, Event::AutoscalerScan);
    }

    /// The cloud starts `count` nodes; each registers after the pool's provisioning time.
    fn add_nodes(&mut self, pool: PoolId, count: u32) {
        for _ in 0..count {
            let node = self.cluster.add_node(pool, self.now);
            let delay = self.cluster.pools[pool.index()]
                .spec
                .provisioning_time
                .sample(&mut self.provisioning_rngs[pool.index()]);
            self.queue
                .schedule(self.now + delay, Event::NodeRegistered { node });
        }
        self.observe_pool_size(pool);
    }

    /// Evicts (Eviction API) every pod on a node marked for deletion that its
    /// PodDisruptionBudgets allow to go now; the autoscaler drains again until it is empty.
    fn drain_node(&mut self, node: NodeId, max_grace: SimDuration) {
        self.cluster.mark_to_be_deleted(node, self.now);
        self.evict_all(node, max_grace, false);
    }

    /// Evicts the node's pods that their budgets let go (`force`: all of them, each with at
    /// most `max_grace` to terminate), and deletes the node once it is empty.
    pub(super) fn evict_all(&mut self, node: NodeId, max_grace: SimDuration, force: bool) {
        let mut allowed = disruption::disruptions_allowed(&self.cluster);
        let evicted: Vec<PodId> = self
            .cluster
            .pods_on(node)
            .filter(|p| p.deletion.is_none())
            .filter(|p| force || disruption::try_evict(&self.cluster, &mut allowed, p))
            .map(|p| p.id)
            .collect();
        for pod in evicted {
            self.delete_pod_within(pod, max_grace);
        }
        self.dirty.everything();
        self.remove_node_if_empty(node);
    }

    pub(super) fn remove_node_if_empty(&mut self, node: NodeId) {
        let n = self.cluster.node(node);
        if n.pod_count > 0 || n.state == NodeState::Removed {
            return;
        }
        let pool = n.pool;
        self.cluster.remove_node(node);
        self.observe_pool_size(pool);
        self.observe_allocation();
        self.dirty.everything();
    }

    fn observe_pool_size(&mut self, pool: PoolId) {
        let nodes = self.cluster.node_count(pool);
        self.recorder
            .observe(self.now, Observation::NodesChanged { pool, nodes });
    }

    fn observe_allocation(&mut self) {
        let totals = self.cluster.allocation_totals();
        self.recorder
            .observe(self.now, Observation::AllocationChanged(totals));
    }

    /// Adds (`sign` 1) or removes (−1) a bound pod's share of its node's price to its
    /// Deployment's cost rate.
    fn charge(&mut self, pod: PodId, sign: f64) {
        let p = self.cluster.pod(pod);
        let Some(node) = p.node.map(|n| self.cluster.node(n)) else {
            return;
        };
        let price = self.cluster.pools[node.pool.index()]
            .spec
            .billed_price_per_hour();
        let share = accounting::cost_share(&p.template.requests, &node.allocatable);
        let (pod_gpus, node_gpus) = (p.template.requests.gpus, node.allocatable.gpus);
        let deployment = p.deployment;
        if pod_gpus > 0 && node_gpus > 0 {
            let held = &mut self.gpu_holdings[deployment.index()];
            held.0 = (held.0 + sign * pod_gpus as f64).max(0.0);
            held.1 = (held.1 + sign * price * pod_gpus as f64 / node_gpus as f64).max(0.0);
            let (gpus, usd_per_hour) = *held;
            self.recorder.observe(
                self.now,
                Observation::GpusChanged {
                    deployment,
                    gpus,
                    usd_per_hour,
                },
            );
        }
        let rate = &mut self.cost_rates[deployment.index()];
        *rate = (*rate + sign * price * share).max(0.0);
        let usd_per_hour = *rate;
        self.recorder.observe(
            self.now,
            Observation::CostRateChanged {
                deployment,
                usd_per_hour,
            },
        );
    }

    /// LLM requests waiting or running in their servers (they are not in the request slab).
    fn llm_in_flight(&self) -> usize {
        let servers = self.servers.iter();
        servers
            .filter_map(PodServer::llm)
            .map(|l| l.waiting() + l.running())
            .sum()
    }

    fn on_scrape(&mut self) {
        // As `sim::warm_ahead` does, by hand: the loop writes to what the warming reads.
        let mut lead = self.cluster.running.ids().skip(crate::sim::AHEAD);
        for (pod, started) in self.cluster.running.iter() {
            if let Some(ahead) = lead.next() {
                self.warm_server(ahead);
                self.metrics_server.warm(ahead);
            }
            debug_assert_eq!(self.cluster.pod(pod).phase, PodPhase::Running);
            debug_assert_eq!(self.cluster.pod(pod).started, Some(started));
            if let Some(server) = self.servers.get_mut(pod) {
                let used = server.cpu_used(self.now);
                let in_flight = server.load() as u64;
                let deployment = server.instance().deployment;
                let workload = &self.cluster.deployment(deployment).spec.workload;
                let working_set = workload.memory.map_or(0, |m| m.working_set(in_flight));
                self.metrics_server
                    .record(pod, started, self.now, used, working_set);
                if !self.scrapes_serving_metrics {
                    continue;
                }
                let point = CustomPoint {
                    time: self.now,
                    in_flight,
                    queue_length: server.queue_length() as u64,
                    completed: server.completed(),
                    llm: server.llm().map(llm_point).unwrap_or_default(),
                };
                self.metrics_server.record_custom(pod, point);
            }
        }
        self.queue.schedule(
            self.now + self.metrics_server.resolution,
            Event::MetricsScrape,
        );
    }

    fn on_hpa_sync(&mut self) {
        for h in 0..self.cluster.hpas.len() {
            let hpa = HpaId(h as u32);
            let (decision, intent) =
                self.hpa
                    .sync(hpa, &self.cluster, &self.metrics_server, self.now);
            let at_max = decision.desired_replicas >= self.cluster.hpas[h].spec.max_replicas;
            let held_by = held_by(&decision);
            let synced = Observation::HpaSynced {
                hpa,
                from: decision.current_replicas,
                to: decision.desired_replicas,
                at_max,
                held_by,
            };
            self.recorder.observe(self.now, synced);
            match &mut self.records {
                Records::Keep => self.decisions.push(decision),
                Records::Give(sink) => sink.hpa_decision(decision),
            }
            if let Some(intent) = intent {
                self.cluster.hpas[h].last_scale_time = Some(self.now);
                self.apply(intent);
            }
        }
        if self.dirty.any() {
            self.reconcile();
        }
        self.queue.schedule(
            self.now + self.scenario.hpa_settings.sync_period,
            Event::HpaSync,
        );
    }

    fn on_sample(&mut self) {
        let deployments: Vec<DeploymentSample> = (0..self.cluster.deployments.len())
            .map(|d| {
                let id = DeploymentId(d as u32);
                let (cpu_utilization, in_flight) = self.utilization_and_load(id);
                DeploymentSample {
                    cpu_utilization,
                    in_flight,
                    llm: self.llm_sample(id),
                }
            })
            .collect();
        let cluster = ClusterSample {
            pending_pods: self.cluster.unscheduled.len(),
            gpu_fragmentation: accounting::gpu_fragmentation(
                self.cluster
                    .ready_nodes
                    .iter()
                    .map(|&n| self.cluster.node(n)),
                &self.gpu_demand,
            ),
        };
        let row = self.recorder.sample(self.now, &deployments, cluster);
        if self.export_due() {
            self.export(&row);
        }
        match &mut self.records {
            Records::Keep => self.recorder.series.rows.push(row),
            Records::Give(sink) => sink.timeseries_row(&row),
        }
        let next = self.now + self.scenario.sample_interval;
        if next <= self.end {
            self.queue.schedule(next, Event::Sample);
        }
    }

    /// The servers of the Deployment's pods that have one.
    fn servers_of(&self, deployment: DeploymentId) -> impl Iterator<Item = &PodServer> {
        let d = self.cluster.deployment(deployment);
        let live = d
            .replica_sets
            .iter()
            .flat_map(|&rs| self.cluster.pod_ids_of(rs));
        live.filter_map(|p| self.servers.get(p))
    }

    /// An LLM Deployment's servers summed (KV usage: the mean over them); `None` for others.
    fn llm_sample(&self, deployment: DeploymentId) -> Option<LlmSample> {
        self.cluster
            .deployment(deployment)
            .spec
            .workload
            .llm
            .as_ref()?;
        let mut sample = LlmSample::default();
        let mut servers = 0u32;
        for l in self.servers_of(deployment).filter_map(PodServer::llm) {
            sample.waiting += l.waiting();
            sample.running += l.running();
            sample.kv_cache_usage += l.kv_usage();
            servers += 1;
        }
        if servers > 0 {
            sample.kv_cache_usage /= f64::from(servers);
        }
        Some(sample)
    }

    /// The Deployment's mean CPU utilization (usage / request) over its active pods with a
    /// metric, as the HPA would see it (0 when there is none), and the requests on all its pods
    /// (served or queued, terminating pods included) now: one pass over its pods.
    fn utilization_and_load(&self, deployment: DeploymentId) -> (f64, usize) {
        let d = self.cluster.deployment(deployment);
        let request = (d.spec.pod)
            .hpa_request_milli(HpaResource::Cpu, None)
            .filter(|r| *r > 0);
        let load = |pod: PodId| {
            let server = self.servers.get(pod);
            server.map_or(0, PodServer::load)
        };
        let (mut usage, mut count, mut in_flight) = (0i64, 0i64, 0usize);
        let warm = |&&pod: &&PodId| {
            self.warm_server(pod);
            self.metrics_server.warm(pod);
        };
        for &rs in &d.replica_sets {
            let pods = &self.cluster.replica_sets[rs.index()].pods;
            for &pod in crate::sim::warm_ahead(pods.iter(), warm) {
                in_flight += load(pod);
                let metric = request.and_then(|_| self.metrics_server.pod_metric(pod));
                if let Some(m) = metric {
                    usage += m.value_milli;
                    count += 1;
                }
            }
            in_flight += self.cluster.terminating_of(rs).map(load).sum::<usize>();
        }
        let utilization = match request {
            Some(request) if count > 0 => usage as f64 / (count * request) as f64,
            _ => 0.0,
        };
        (utilization, in_flight)
    }

    fn finish(mut self) -> RunOutput {
        let repeats = self.scheduler.queue.take_every_repeat();
        self.add_repeats(repeats);
        let llm_in_flight = self.llm_in_flight();
        for p in 0..self.servers.id_bound() {
            self.take_server(PodId(p as u32));
        }
        if !self.recorder.sampled_at(self.end) {
            self.on_sample();
        }
        self.recorder.finish(self.end);
        let counts = RunCounts {
            events: self.queue.popped(),
            in_flight_at_end: (self.slab.in_flight() + llm_in_flight) as u64,
        };
        let mut report = report::build(self.scenario, &self.recorder, self.end, counts);
        self.report_jobs(&mut report);
        self.report_connections(&mut report);
        self.report_zones(&mut report);
        if let Some(v) = &self.vpa {
            report.vpas = v.reports(self.scenario);
        }
        let history = history::history(&mut self.cluster, self.scenario, self.end);
        RunOutput {
            report,
            timeseries: std::mem::take(&mut self.recorder.series),
            hpa_decisions: self.decisions,
            autoscaler_events: self.autoscaler.map(|ca| ca.events),
            karpenter_events: self.karpenter.map(|k| k.events),
            vpa_records: self.vpa.map(|v| v.recommender.records),
            pod_events: self.pod_events.into_events(),
            cluster_events: self.cluster_events.into_events(),
            rollout_records: self.rollout_records,
            job_records: self.job_records,
            stateful_records: self.stateful_records,
            restart_records: self.restart_records,
            history,
            events: self.queue.popped(),
        }
    }
}
