//! The engine's public entry points: [`run`] and its variants, what a run gives back
//! ([`RunOutput`]), where its long records go ([`Records`], [`RecordSink`]), how it uses the
//! machine ([`RunOptions`]) and why it may stop early ([`RunError`]).

use super::{Engine, llm};
use crate::controllers::autoscaler::AutoscalerEvent;
use crate::controllers::deployment::record::RolloutRecord;
use crate::controllers::hpa::HpaDecision;
use crate::controllers::job::record::JobRecords;
use crate::controllers::kubelet::record::RestartRecord;
use crate::controllers::statefulset::record::StatefulRecords;
use crate::metrics::TimeSeries;
use crate::metrics::cluster_events::ClusterEvent;
use crate::metrics::pod_events::PodEvent;
use crate::metrics::report::Report;
use crate::scenario::Scenario;
use crate::sim::{SimDuration, SimTime};
use crate::traffic::plane::{Dealing, LaneTiming};

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
    /// Which data plane ran ([`RunOptions::plane`] and what the scenario allows).
    pub plane: PlaneNote,
    /// Where the node-major plane's all-lanes advances spent their wall-clock time (`None` on
    /// the exact plane): for `run.json` and the parallel model, never for a simulation output.
    pub lane_timing: Option<LaneTiming>,
}

/// Which data plane a run used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaneNote {
    /// The node-major plane, on this many threads.
    NodeMajor(usize),
    /// The exact plane, because the scenario has this (it couples nodes on the request path).
    Exact(&'static str),
    /// The exact plane, because the run asked for it ([`DataPlane::Exact`]).
    ExactAsked,
}

impl std::fmt::Display for PlaneNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlaneNote::NodeMajor(threads) => write!(f, "node-major on {threads} thread(s)"),
            PlaneNote::Exact(why) => write!(f, "exact: the scenario has {why}"),
            PlaneNote::ExactAsked => write!(f, "exact, as asked"),
        }
    }
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

/// Bound on the Deployment reconciles kept for `explain --deployment` (each is a few hundred
/// bytes; an HPA scaling every sync for a year makes about two million).
pub const MAX_ROLLOUT_RECORDS: usize = 100_000;

/// How often (in events) the progress callback is called.
pub(super) const PROGRESS_EVERY: u64 = 1 << 20;

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

/// How a run uses the machine. `draw_ahead` and the number of threads never change what a run
/// computes; the data plane does, only where events fall on one microsecond
/// (`docs/node-major.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Draw the request path's random numbers (arrival times, CPU work per request) ahead on a
    /// second thread while the run simulates. Worth it for a single run on a machine with a
    /// core to spare (about a third of a small scenario's time is drawing); not for runs that
    /// already share the cores, as a sweep's do. Off by default.
    pub draw_ahead: bool,
    /// Which data plane serves the requests.
    pub plane: DataPlane,
    /// How the node-major plane deals nodes to threads (no output depends on it).
    pub dealing: Dealing,
}

/// Which data plane a run asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataPlane {
    /// Node by node on this many threads (at least one), where the scenario allows it
    /// ([`node_major_blocker`](super::node_major_blocker)); the exact plane where it does not.
    /// The default, on one thread: the same outputs for any number of threads.
    NodeMajor {
        /// Threads advancing the nodes at the instants every node is caught up (0 counts as 1).
        threads: usize,
    },
    /// Event by event in one queue, whatever the scenario: the plane every run used before the
    /// node-major plane, kept to compare against.
    Exact,
}

impl Default for DataPlane {
    fn default() -> Self {
        DataPlane::NodeMajor { threads: 1 }
    }
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
