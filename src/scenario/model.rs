//! The validated, typed scenario: what the engine consumes. Its parts — node pools, workloads,
//! Services, traffic, HPAs, SLOs, scripted events — are [`crate::spec::model`]'s types,
//! re-exported here.
//!
//! Every value has had its defaults applied and its cross-references resolved to indices (a
//! workload points at its Deployment by index, a Service at the Deployments it selects). Once a
//! `Scenario` exists, the simulation cannot fail on its inputs.

use std::path::PathBuf;

use crate::cluster::{Cluster, InitialState};
use crate::sim::SimDuration;
pub use crate::spec::model::*;

use super::diag::Diagnostic;

/// A scenario ready to run.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// `metadata.name`, else the folder of a `<name>/scenario.yaml`, else the file's stem; it names
    /// the output folder.
    pub name: String,
    /// `metadata.description`: free text (`None` when absent).
    pub description: Option<String>,
    /// The scenario file it was loaded from.
    pub file: PathBuf,
    /// `spec.duration`: how long to simulate (greater than 0).
    pub duration: SimDuration,
    /// The seed of every random stream: `LoadOptions::seed` (`--seed`, or a sweep replication's),
    /// else `spec.seed`, else 1.
    pub seed: u64,
    /// `spec.startWarm` (default true): pods that exist at t = 0 are already Running and Ready;
    /// false starts them cold, with their startup time.
    pub start_warm: bool,
    /// `spec.sampleInterval` (default 15 s, at least 1 s): the period of `timeseries.csv` rows.
    pub sample_interval: SimDuration,
    /// `spec.maxEvents` (default 2 000 000 000): the budget of processed events; a run that reaches
    /// it stops with an error.
    pub max_events: u64,
    /// `spec.cluster.nodePools`, then the pools `spec.cluster.nodesFrom` makes of a trace's nodes.
    pub node_pools: Vec<NodePoolSpec>,
    /// PodDisruptionBudgets from the manifests.
    pub pdbs: Vec<PdbSpec>,
    /// Image sizes in bytes by normalized image name (`spec.imageSizes`).
    pub image_sizes: std::collections::BTreeMap<String, i64>,
    /// Every workload — the manifests' Deployments, other controllers and bare Pods, then one entry
    /// per pod trace — with its workload model; other parts refer to them by index here.
    pub deployments: Vec<DeploymentSpec>,
    /// The manifests' Services, each with the traffic `spec.traffic` offers it.
    pub services: Vec<ServiceSpec>,
    /// The manifests' HorizontalPodAutoscalers (and those KEDA ScaledObjects create), resolved
    /// against their targets.
    pub hpas: Vec<HpaSpec>,
    /// Pods replayed from traces; each has a workload entry in `deployments`.
    pub pod_traces: Vec<PodTraceSpec>,
    /// Each CronJob's schedule times.
    pub cron_jobs: Vec<CronTimes>,
    /// ResourceQuotas, enforced when pods are created.
    pub quotas: Vec<QuotaSpec>,
    /// The ConfigMaps and Secrets of the manifests (scripted `apply` events may add more).
    pub config_objects: super::config_refs::ConfigObjects,
    /// The wall-clock instant of t = 0 (`spec.startTime`): CronJob schedules and Job names.
    pub start_time: jiff::Timestamp,
    /// kube-controller-manager's HPA flags (`spec.controllerManager`), defaults applied.
    pub hpa_settings: HpaSettings,
    /// `spec.metricsServer.metricResolution` (default 15 s, at least 10 s): how often
    /// metrics-server scrapes the pods.
    pub metric_resolution: SimDuration,
    /// Scripted series for External and Object metrics.
    pub metric_series: Vec<MetricSeries>,
    /// `spec.slos`, scopes resolved: what `kubesim check` checks, and a sweep's constraints when
    /// it gives none.
    pub slos: Vec<SloSpec>,
    /// Scripted events, in time order (ties in the order written).
    pub events: Vec<ScriptedEvent>,
    /// `spec.network`: latency between zones and the price of crossing them (`None`: calls
    /// between zones are free and instant).
    pub network: Option<crate::spec::network::Network>,
    /// The Cluster Autoscaler's flags; `None` when it is not running.
    pub cluster_autoscaler: Option<AutoscalerSettings>,
    /// Karpenter and its NodePools; `None` when the manifests have no NodePool.
    pub karpenter: Option<crate::spec::karpenter::KarpenterSettings>,
    /// VerticalPodAutoscalers, resolved against `deployments`.
    pub vpas: Vec<crate::spec::vpa::VpaSpec>,
    /// kube-scheduler profiles (from `spec.schedulerConfig`; empty: the default profile).
    pub scheduler_profiles: Vec<crate::spec::scheduler::SchedulerProfile>,
    /// Warnings and notes found while loading (errors stop loading).
    pub warnings: Vec<Diagnostic>,
    /// The scenario document after defaults and `--set`, as YAML.
    pub resolved_yaml: String,
}

impl Scenario {
    /// What the cluster starts from: the node pools and workloads.
    pub fn initial_state(&self) -> InitialState<'_> {
        InitialState {
            node_pools: &self.node_pools,
            deployments: &self.deployments,
            services: &self.services,
            hpas: &self.hpas,
            cron_jobs: &self.cron_jobs,
            pdbs: &self.pdbs,
            image_sizes: &self.image_sizes,
        }
    }

    /// The cluster at the start of a run ([`Cluster::new`] of [`Scenario::initial_state`]).
    pub fn initial_cluster(&self) -> Cluster {
        Cluster::new(self.initial_state())
    }

    /// Whether any HPA, as written or as a scripted `apply` changes it, reads the pods' serving
    /// metrics (a Pods metric, or an External one summed over the pods): without one,
    /// metrics-server need not keep them.
    pub fn reads_serving_metrics(&self) -> bool {
        let reads = |spec: &HpaSpec| {
            spec.metrics.iter().any(|m| {
                matches!(
                    m,
                    HpaMetric::Pods { .. }
                        | HpaMetric::External {
                            from_pods: Some(_),
                            ..
                        }
                )
            })
        };
        let applied = self.events.iter().flat_map(|e| match &e.action {
            ScriptedAction::Apply { hpas, .. } => &hpas[..],
            _ => &[],
        });
        self.hpas
            .iter()
            .chain(applied.map(|(_, spec)| spec))
            .any(reads)
    }

    /// The ConfigMaps and Secrets that scripted `apply` events create or replace.
    pub fn applied_configs(&self) -> super::config_refs::ConfigObjects {
        let mut out = super::config_refs::ConfigObjects::default();
        for e in &self.events {
            if let ScriptedAction::Apply { configs, .. } = &e.action {
                configs.iter().cloned().for_each(|c| out.put(c));
            }
        }
        out
    }
}
