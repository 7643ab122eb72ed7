//! Cluster traces in a scenario: `spec.cluster.nodesFrom` (node pools from a node list) and
//! `spec.podTraces` (bare pods replayed at their creation and deletion times). Each pod trace
//! becomes a workload entry next to the Deployments so reports and series name it.

use std::sync::Arc;

use super::Builder;
use crate::cluster::selector::{LabelSelector, Labels};
use crate::scenario::alibaba::{self, NodePricing};
use crate::scenario::model::{
    DeploymentSpec, NodePoolSpec, PodSource, PodTemplate, PodTraceSpec, TracePod, WorkloadModel,
};
use crate::scenario::raw::{RawNodesFrom, RawPodTrace};
use crate::sim::dist::DurationDist;
use crate::sim::{SimDuration, SimTime};

/// The trace formats kubesim reads.
const FORMATS: [&str; 1] = ["alibaba-openb"];
/// Label on every pod of a trace, naming it.
pub const POD_TRACE_LABEL: &str = "kubesim.io/pod-trace";

impl Builder<'_> {
    /// Node pools from `spec.cluster.nodesFrom` (none when absent or unreadable).
    pub(super) fn nodes_from(&mut self, raw: Option<&RawNodesFrom>) -> Vec<NodePoolSpec> {
        let Some(raw) = raw else {
            return Vec::new();
        };
        let base = "spec.cluster.nodesFrom";
        if !self.known_format(base, raw.format.as_deref()) {
            return Vec::new();
        }
        let Some(rel) = raw.file.as_deref() else {
            self.error(&format!("{base}.file"), "required: the node list CSV");
            return Vec::new();
        };
        let Some((shown, text)) = self.read_relative(&format!("{base}.file"), rel, "node list")
        else {
            return Vec::new();
        };
        let pricing = NodePricing {
            per_core_hour: self.price(&format!("{base}.pricePerCoreHour"), raw.price_per_core_hour),
            per_gib_hour: self.price(&format!("{base}.pricePerGiBHour"), raw.price_per_gib_hour),
            per_gpu_hour: self.price(&format!("{base}.pricePerGpuHour"), raw.price_per_gpu_hour),
        };
        let nodes = alibaba::read_nodes(&shown, &text, self.diags);
        let prefix = raw.name_prefix.clone().unwrap_or_else(|| file_stem(rel));
        alibaba::pools_from_nodes(&prefix, &nodes, pricing)
    }

    /// `spec.podTraces`: each trace's pods, and a workload entry for it in `deployments`.
    pub(super) fn pod_traces(
        &mut self,
        raws: &[RawPodTrace],
        deployments: &mut Vec<DeploymentSpec>,
        duration: SimDuration,
    ) -> Vec<PodTraceSpec> {
        let mut out = Vec::new();
        for (i, raw) in raws.iter().enumerate() {
            let path = format!("spec.podTraces[{i}]");
            let Some(name) = raw.name.clone().filter(|n| !n.is_empty()) else {
                self.error(
                    &format!("{path}.name"),
                    "required: names the workload in reports",
                );
                continue;
            };
            if deployments.iter().any(|d| d.name == name) {
                self.error(
                    &format!("{path}.name"),
                    format!("{name:?} is already the name of a Deployment or pod trace"),
                );
                continue;
            }
            let Some(pods) = self.trace_pods(&path, raw, duration) else {
                continue;
            };
            out.push(PodTraceSpec {
                name: name.clone(),
                deployment: deployments.len(),
                pods,
            });
            deployments.push(trace_workload(name));
        }
        out
    }

    fn trace_pods(
        &mut self,
        path: &str,
        raw: &RawPodTrace,
        duration: SimDuration,
    ) -> Option<Vec<TracePod>> {
        if !self.known_format(path, raw.format.as_deref()) {
            return None;
        }
        let Some(rel) = raw.file.as_deref() else {
            self.error(&format!("{path}.file"), "required: the pod list CSV");
            return None;
        };
        let speedup = raw.speedup.unwrap_or(1.0);
        if !speedup.is_finite() || speedup <= 0.0 {
            self.error(&format!("{path}.speedup"), "must be a number > 0");
            return None;
        }
        let (shown, text) = self.read_relative(&format!("{path}.file"), rel, "pod list")?;
        let offset = raw.offset.map_or(0.0, |d| d.0.as_secs_f64());
        let keep = raw.ignore_deletions.unwrap_or(false);
        let end = SimTime::ZERO + duration;
        let to_sim = |trace_secs: f64| {
            let secs = (trace_secs - offset) / speedup;
            (secs >= 0.0).then(|| SimTime::ZERO + SimDuration::from_secs_f64_ceil(secs))
        };
        let pods = alibaba::read_pods(&shown, &text, self.diags)
            .iter()
            .filter_map(|row| {
                let create = to_sim(row.creation_secs)?;
                (create <= end).then(|| TracePod {
                    name: row.name.clone(),
                    create,
                    delete: row.deletion_secs.filter(|_| !keep).and_then(to_sim),
                    template: Arc::new(alibaba::template_for(row)),
                })
            })
            .collect();
        Some(pods)
    }

    fn known_format(&mut self, path: &str, format: Option<&str>) -> bool {
        match format {
            Some(f) if FORMATS.contains(&f) => true,
            Some(f) => {
                self.error(
                    &format!("{path}.format"),
                    format!("unknown trace format {f:?}: one of {}", FORMATS.join(", ")),
                );
                false
            }
            None => {
                self.error(
                    &format!("{path}.format"),
                    format!("required: one of {}", FORMATS.join(", ")),
                );
                false
            }
        }
    }
}

/// The workload entry a pod trace is reported under: no replicas of its own, pods running as
/// soon as they are bound.
fn trace_workload(name: String) -> DeploymentSpec {
    let labels: Labels = [(POD_TRACE_LABEL.to_string(), name.clone())].into();
    DeploymentSpec {
        name,
        namespace: "default".into(),
        replicas: 0,
        selector: LabelSelector::from_match_labels(labels.clone()),
        template_labels: labels,
        pod: PodTemplate::default(),
        strategy: Default::default(),
        rollout: Default::default(),
        stateful: Default::default(),
        workload: WorkloadModel {
            startup_time: DurationDist::Constant(SimDuration::ZERO),
            ..WorkloadModel::default()
        },
        source: PodSource::Trace,
    }
}

fn file_stem(rel: &str) -> String {
    std::path::Path::new(rel)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("trace")
        .to_string()
}
