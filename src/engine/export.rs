//! The run as the exporters see it, for `--openmetrics`: at each export instant the engine
//! gathers an [`ExportSample`] — every pod that exists (kube-state-metrics), its serving
//! container's cgroup counters (cAdvisor, as of the kubelet's last scrape: reading the servers
//! anew would advance them at instants a run without the export does not, and change its
//! results), each Deployment's and StatefulSet's replica counts, each HPA's status, each
//! Service's counters — and hands it to the sink. Nothing here changes the run.

use super::{Engine, RecordSink, Records};
use crate::cluster::{DeploymentId, PodExit, PodId, PodPhase};
use crate::metrics::export::{
    ContainerUsage, ExportSample, HpaRecord, LlmGauges, LlmTotals, PhaseName, PodRecord,
    ServiceRecord, WorkloadKind, WorkloadRecord,
};
use crate::spec::model::PodSource;
use crate::traffic::PodServer;

impl Engine<'_, '_> {
    /// Whether an export is due at this sample: the run exports, and `now` is a multiple of its
    /// interval or the run's end.
    pub(super) fn export_due(&self) -> bool {
        self.export_interval.is_some_and(|every| {
            (self.now.as_micros()).is_multiple_of(every.as_micros().max(1)) || self.now == self.end
        })
    }

    /// Hands the sink what the exporters show now, with the time-series `row` sampled now.
    pub(super) fn export(&mut self, row: &[f64]) {
        // Taken out for the moment the sample borrows the rest of the engine.
        let mut records = std::mem::replace(&mut self.records, Records::Keep);
        if let Records::Give(sink) = &mut records {
            self.hand_export(&mut **sink, row);
        }
        self.records = records;
    }

    fn hand_export(&self, sink: &mut dyn RecordSink, row: &[f64]) {
        let engine = self;
        let mut pods = Vec::new();
        let mut workloads = Vec::new();
        for d in 0..engine.cluster.deployments.len() {
            let id = DeploymentId(d as u32);
            engine.pod_records(id, &mut pods);
            workloads.extend(engine.workload_record(id));
        }
        let sample = ExportSample {
            time: engine.now,
            pods,
            workloads,
            hpas: engine.hpa_records(),
            services: engine.service_records(),
            row,
        };
        sink.export(&sample);
    }

    /// The pods of the workload that exist now (active, then terminating), with their owner.
    fn pod_records<'a>(&'a self, deployment: DeploymentId, out: &mut Vec<PodRecord<'a>>) {
        let d = self.cluster.deployment(deployment);
        let owner_kind = match d.spec.source {
            PodSource::ReplicaSet => "ReplicaSet",
            PodSource::Trace => "<none>",
            PodSource::DaemonSet => "DaemonSet",
            PodSource::StatefulSet => "StatefulSet",
            PodSource::Job(_) | PodSource::CronJob(_) => "Job",
            PodSource::ReplicationController => "ReplicationController",
        };
        for &rs in &d.replica_sets {
            let set = &self.cluster.replica_sets[rs.index()];
            let owner_name = match d.spec.source {
                PodSource::ReplicaSet | PodSource::ReplicationController => set.name.as_str(),
                PodSource::Trace => "<none>",
                _ => d.spec.name.as_str(),
            };
            for pod in self.cluster.pods_of(rs) {
                out.push(self.pod_record(pod.id, owner_kind, owner_name));
            }
        }
    }

    fn pod_record<'a>(
        &'a self,
        id: PodId,
        owner_kind: &'static str,
        owner_name: &'a str,
    ) -> PodRecord<'a> {
        let pod = self.cluster.pod(id);
        let d = self.cluster.deployment(pod.deployment);
        let phase = match (pod.phase, pod.exit) {
            (_, Some(PodExit::Succeeded)) => PhaseName::Succeeded,
            (_, Some(PodExit::Failed)) => PhaseName::Failed,
            (PodPhase::Running, None) => PhaseName::Running,
            _ => PhaseName::Pending,
        };
        let running = pod.phase == PodPhase::Running;
        let server = self.plane.get(id).filter(|_| running);
        let usage = server.and_then(|s| {
            let (_, cpu, memory) = self.metrics_server.last_scrape(id)?;
            Some(ContainerUsage {
                cpu_millicore_micros: cpu,
                cfs: s.cfs_stats(),
                working_set_bytes: d.spec.workload.memory.map(|_| memory),
            })
        });
        let llm = server.and_then(PodServer::llm).map(|l| LlmGauges {
            model_name: model_name(d),
            waiting: l.waiting() as u64,
            running: l.running() as u64,
            kv_usage_milli: l.kv_usage_milli(),
            generation_tokens: l.counters().output_tokens,
        });
        let container = (pod.template.hpa_containers.first()).map_or("app", |c| c.name.as_str());
        PodRecord {
            id,
            name: &pod.name,
            namespace: &pod.template.namespace,
            node: pod.node.map(|n| self.cluster.node(n).name.as_str()),
            owner_kind,
            owner_name,
            phase,
            ready: pod.ready,
            created: pod.created,
            started: pod.started,
            restarts: pod.restarts,
            container,
            usage,
            llm,
        }
    }

    /// A Deployment's or StatefulSet's replica counts (other kinds have none in this export).
    fn workload_record(&self, deployment: DeploymentId) -> Option<WorkloadRecord<'_>> {
        let d = self.cluster.deployment(deployment);
        let kind = match d.spec.source {
            PodSource::ReplicaSet => WorkloadKind::Deployment,
            PodSource::StatefulSet => WorkloadKind::StatefulSet,
            _ => return None,
        };
        let (mut replicas, mut ready, mut updated) = (0, 0, 0);
        for &rs in &d.replica_sets {
            let set = &self.cluster.replica_sets[rs.index()];
            let active = set.pods.len() as i32;
            replicas += active;
            ready += set.ready_pods;
            if set.has_template_of(d) {
                updated += active;
            }
        }
        Some(WorkloadRecord {
            kind,
            name: &d.spec.name,
            namespace: &d.spec.namespace,
            spec_replicas: d.replicas,
            replicas,
            ready,
            updated,
        })
    }

    fn hpa_records(&self) -> Vec<HpaRecord<'_>> {
        let hpas = self.cluster.hpas.iter().zip(&self.recorder.hpas);
        hpas.map(|(h, stats)| {
            let (current, desired) = stats.last_status.unwrap_or((0, 0));
            HpaRecord {
                name: &h.spec.name,
                namespace: &h.spec.namespace,
                min_replicas: h.spec.min_replicas,
                max_replicas: h.spec.max_replicas,
                current_replicas: current,
                desired_replicas: desired,
            }
        })
        .collect()
    }

    fn service_records(&self) -> Vec<ServiceRecord<'_>> {
        let specs = self.scenario.services.iter();
        let stats = specs.zip(&self.recorder.services).zip(&self.recorder.llm);
        stats
            .filter_map(|((spec, s), llm)| {
                let model = (spec.backends.iter())
                    .map(|&b| self.cluster.deployment(DeploymentId(b as u32)))
                    .find(|d| d.spec.workload.llm.is_some());
                Some(ServiceRecord {
                    name: &spec.name,
                    namespace: &spec.namespace,
                    model_name: model.map(model_name),
                    served: s.served,
                    failed: s.failed,
                    histograms: s.export.as_deref()?,
                    llm: llm.as_ref().map(|l| LlmTotals {
                        prompt_tokens: l.prompt_tokens,
                        preemptions: l.preemptions,
                    }),
                })
            })
            .collect()
    }
}

/// The `model_name` vLLM reports for the workload's model: the model part of its profile's
/// name (`llama2-70b` of `llama2-70b/a100-80gb/tp4`).
fn model_name(d: &crate::cluster::Deployment) -> &str {
    let llm = d.spec.workload.llm.as_ref();
    llm.map_or("", |l| l.profile.name.split('/').next().unwrap_or_default())
}
