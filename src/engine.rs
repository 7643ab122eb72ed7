//! The simulation loop: pop the next event, dispatch it, let the controllers reconcile what
//! changed, apply their intents, and emit observations.
//!
//! The engine is the only writer of the [`Cluster`]. Controllers are pure readers that return
//! intents; the data plane (`PodServer`s) serves requests on the pods the engine gives it. After
//! a scenario has validated, running it cannot fail on its inputs; the one runtime limit is the
//! event budget (`spec.maxEvents`), which stops a runaway scenario with an error.
//!
//! This file holds the engine's state, its loop and dispatch, and the data plane's arrivals
//! and completions; its submodules add the rest of the engine's methods by concern — among
//! them `pods` (a pod's lifecycle), `reconcile` (the controllers' reconcile and their
//! intents), `rollouts`, `nodes` (registration, the Cluster Autoscaler's loop, drains, cost),
//! `observe` (the scrape, the HPA sync, the time-series sample), `calls` (routing and call
//! graphs), `containers` (starts, probes, kills), `jobs`, `scripted`, `export`, and `run` (the
//! public entry points, their options, and what a run gives back).

use self::draws::Draws;
use std::collections::BTreeMap;

use crate::cluster::accounting::{self, GpuDemand};
use crate::cluster::{Cluster, DeploymentId, PodId, PodPhase, PoolId, ServiceId};
use crate::controllers::autoscaler::ClusterAutoscaler;
use crate::controllers::deployment::record::RolloutRecord;
use crate::controllers::hpa::{HpaController, HpaDecision};
use crate::controllers::job::record::JobRecords;
use crate::controllers::keda::KedaState;
use crate::controllers::kubelet::record::RestartRecord;
use crate::controllers::metrics_server::MetricsServer;
use crate::controllers::node_lifecycle::NodeLifecycleController;
use crate::controllers::statefulset::record::StatefulRecords;
use crate::controllers::{kubelet, scheduler};
use crate::metrics::cluster_events::ClusterEventLog;
use crate::metrics::pod_events::PodEventLog;
use crate::metrics::recorder::SeriesNames;
use crate::metrics::report::{self, RunCounts};
use crate::metrics::{Observation, Recorder};
use crate::scenario::{PodSource, Scenario};
use crate::sim::{EventQueue, RngStreams, SimDuration, SimRng, SimTime};
use crate::traffic::calls::{CallRef, Frames};
use crate::traffic::llm::batching::LlmOutcome;
use crate::traffic::llm::tokens::TokenArrivals;
use crate::traffic::plane::Plane;
use crate::traffic::{ArrivalProcess, Outcome, PodServer, Router};

mod calls;
mod clients;
mod config;
mod connections;
mod containers;
mod cpu;
mod dirty;
mod draws;
mod event;
mod export;
mod healing;
mod history;
mod jobs;
mod karpenter;
mod keda;
mod lanes;
mod llm;
mod mesh;
mod nodes;
mod observe;
mod pods;
mod reconcile;
mod rollouts;
mod run;
mod zones;
pub use crate::traffic::plane::{Dealing, LaneTiming};
pub use lanes::node_major_blocker;
pub use llm::{BenchmarkFitted, fit_benchmarks};
mod quota;
mod scheduling;
mod scripted;
mod statefulsets;
mod vpa;

use dirty::Dirty;
pub(crate) use event::Event;
use run::PROGRESS_EVERY;
pub use run::{
    DataPlane, DiscardRecords, MAX_ROLLOUT_RECORDS, PlaneNote, Progress, RecordSink, Records,
    RunError, RunOptions, RunOutput, run, run_with, run_with_options,
};

/// Busy pods (pending completions) from which the engine warms the caches for the next
/// completion's server: about a megabyte of their serving state, the size of a core's L2 cache.
const WARM_FROM_BUSY_PODS: usize = 1024;

/// Call sites over all call graphs (each call step has its own retry budget).
fn call_sites(s: &Scenario) -> usize {
    s.deployments
        .iter()
        .flat_map(|d| d.workload.calls.calls())
        .map(|c| c.site as usize + 1)
        .max()
        .unwrap_or(0)
}

/// One random stream per name, each `PREFIX/NAME` (e.g. `job-run/web`).
fn named_streams<'a>(
    streams: &RngStreams,
    prefix: &str,
    names: impl Iterator<Item = &'a String>,
) -> Vec<SimRng> {
    names
        .map(|name| streams.stream(&format!("{prefix}/{name}")))
        .collect()
}

/// The names of the time series' columns: Services, Deployments, LLM Deployments, pools (as
/// Karpenter's NodePools where it owns them) and the pools' prices.
fn series_names(s: &Scenario) -> SeriesNames<'_> {
    SeriesNames {
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
    }
}

/// The GPU request sizes the scenario starts with (grouped by GPU count): its replicated
/// workloads' pods at their replicas (at least one) and every pod of its pod traces.
fn initial_gpu_demand(s: &Scenario) -> Vec<GpuDemand> {
    accounting::gpu_demand(
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
    )
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
    /// The serving pods' servers, each node's CPU divided among them, the requests in
    /// flight; advanced event by event, or node by node (`RunOptions::plane`).
    plane: Plane,
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
    /// See [`RunOutput::plane`].
    plane_note: PlaneNote,
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
        let names = series_names(s);
        let per_deployment =
            |prefix: &str| named_streams(&streams, prefix, s.deployments.iter().map(|d| &d.name));
        let per_pool =
            |prefix: &str| named_streams(&streams, prefix, s.node_pools.iter().map(|p| &p.name));
        let mut engine = Engine {
            scenario: s,
            now: SimTime::ZERO,
            end,
            queue: EventQueue::with_capacity(4096),
            cluster: s.initial_cluster(),
            plane: Plane::exact(),
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
            startup_rngs: per_deployment("startup"),
            cfs_phase_rngs: per_deployment("cfs-period"),
            quota_blocked: Default::default(),
            job_rngs: per_deployment("job-run"),
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
            provisioning_rngs: per_pool("provisioning"),
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
            call_rngs: per_deployment("calls"),
            retry_rngs: per_deployment("retries"),
            cost_rates: vec![0.0; s.deployments.len()],
            gpu_holdings: vec![(0.0, 0.0); s.deployments.len()],
            gpu_demand: initial_gpu_demand(s),
            dirty: Dirty::new(),
            warm_start: s.start_warm,
            node_lifecycle: NodeLifecycleController::default(),
            failure_rngs: per_pool("failures"),
            spot_rngs: per_pool("spot"),
            crash_rngs: per_deployment("crashes"),
            containers: Vec::new(),
            image_caches: Vec::new(),
            configs: s.config_objects.clone(),
            config_waits: BTreeMap::new(),
            plane_note: PlaneNote::ExactAsked, // until `choose_plane`
        };
        engine.choose_plane(options);
        engine
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
        loop {
            if self.plane.has_eager() {
                self.advance_eager_lanes();
            }
            let Some((at, event)) = self.queue.pop_until(self.end) else {
                break;
            };
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
            if self.plane.has_gone() {
                self.finish_drained();
            }
            if self.dirty.any() {
                self.reconcile();
            }
            let popped = self.queue.popped();
            let events = popped + self.plane.synced_events();
            if popped.is_multiple_of(PROGRESS_EVERY) {
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
            events: self.queue.popped() + self.plane.synced_events(),
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
        self.plane.warm(pod);
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

    /// A completion in the exact plane (node-major lanes handle their own).
    fn on_completion(&mut self, pod: PodId, generation: u32) {
        debug_assert!(!self.plane.is_node_major());
        let queue = &mut self.queue;
        let warm = queue.timers_pending() >= WARM_FROM_BUSY_PODS;
        let core = self.plane.core(pod);
        let Some(gone) = core.complete(
            pod,
            generation,
            self.now,
            &mut self.outcomes,
            warm,
            &mut |pod, at, generation| {
                queue.schedule_timer(pod.0, at, Event::Completion { pod, generation })
            },
        ) else {
            return;
        };
        debug_assert_eq!(
            self.plane.get(pod).map(PodServer::is_deleting),
            Some(self.cluster.pod(pod).deletion.is_some())
        );
        self.flush_outcomes();
        if gone {
            self.finish_termination(pod);
        }
    }

    fn schedule_completion(&mut self, pod: PodId, next: Option<(SimTime, u32)>) {
        let Some((at, generation)) = next else {
            return;
        };
        if self.plane.is_node_major() {
            self.plane.set_timer(pod, at, generation);
        } else {
            let event = Event::Completion { pod, generation };
            self.queue.schedule_timer(pod.0, at, event);
        }
    }

    fn finish(mut self) -> RunOutput {
        let repeats = self.scheduler.queue.take_every_repeat();
        self.add_repeats(repeats);
        self.sync_lanes();
        let llm_in_flight = self.llm_in_flight();
        for p in 0..self.plane.id_bound() {
            self.take_server(PodId(p as u32));
        }
        if !self.recorder.sampled_at(self.end) {
            self.on_sample();
        }
        self.recorder.finish(self.end);
        let events = self.events();
        let counts = RunCounts {
            events,
            in_flight_at_end: (self.plane.in_flight() + llm_in_flight) as u64,
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
            events,
            plane: self.plane_note,
            lane_timing: self.plane.timing(),
        }
    }
}
