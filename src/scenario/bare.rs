//! Bare Pods and ReplicationControllers from the manifests.
//!
//! A bare Pod (no controller) is a workload of its own name with that one pod, created at t = 0
//! and never recreated: lost with its node or evicted, it is gone, and it keeps its node from
//! being scaled down, as the Cluster Autoscaler treats pods without a controller. A
//! ReplicationController keeps `replicas` pods as a ReplicaSet does (its selector is a set of
//! equalities, defaulting to the template's labels); it has no rollouts of its own.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, ReplicationController};

use super::diag::Diagnostic;
use super::manifest::{
    Manifest, ManifestSet, named_spec, namespace_of, non_negative, pod_template,
};
use super::model::{DeploymentSpec, PodSource, PodTraceSpec, TracePod, WorkloadModel};
use crate::cluster::selector::{LabelSelector, Labels};
use crate::sim::SimTime;

/// A bare Pod as a workload of its own (its pod comes from [`bare_pod_traces`]).
pub fn bare_pod_spec(m: &Manifest<Pod>, diags: &mut Vec<Diagnostic>) -> Option<DeploymentSpec> {
    let src = &m.source;
    let name = Manifest::<Pod>::meta_name(&m.object.metadata);
    let spec = named_spec("Pod", &name, m.object.spec.as_ref(), src, diags)?;
    let namespace = namespace_of(&m.object.metadata);
    let labels: Labels = m.object.metadata.labels.clone().unwrap_or_default();
    let annotations = m.object.metadata.annotations.as_ref();
    let mut pod = pod_template(spec, annotations, src, "spec", diags);
    pod.labels = labels.clone();
    pod.namespace = namespace.clone();
    Some(DeploymentSpec {
        name,
        namespace,
        replicas: 0,
        selector: LabelSelector::from_match_labels(labels.clone()),
        template_labels: labels,
        pod,
        strategy: Default::default(),
        rollout: Default::default(),
        stateful: Default::default(),
        workload: WorkloadModel::default(),
        source: PodSource::Trace,
    })
}

/// Each bare Pod's one pod, created at t = 0, for the workloads [`bare_pod_spec`] made.
pub fn bare_pod_traces(set: &ManifestSet, deployments: &[DeploymentSpec]) -> Vec<PodTraceSpec> {
    let mut out = Vec::new();
    for m in &set.pods {
        let name = Manifest::<Pod>::meta_name(&m.object.metadata);
        let namespace = namespace_of(&m.object.metadata);
        let Some(index) = deployments.iter().position(|d| {
            d.name == name && d.namespace == namespace && d.source == PodSource::Trace
        }) else {
            continue;
        };
        let d = &deployments[index];
        out.push(PodTraceSpec {
            name: name.clone(),
            deployment: index,
            pods: vec![TracePod {
                name,
                create: SimTime::ZERO,
                delete: None,
                template: Arc::new(d.pod.clone()),
            }],
        });
    }
    out
}

/// A ReplicationController as a workload whose pods a ReplicaSet keeps.
pub fn replication_controller_spec(
    m: &Manifest<ReplicationController>,
    diags: &mut Vec<Diagnostic>,
) -> Option<DeploymentSpec> {
    let src = &m.source;
    let name = Manifest::<ReplicationController>::meta_name(&m.object.metadata);
    let spec = named_spec(
        "ReplicationController",
        &name,
        m.object.spec.as_ref(),
        src,
        diags,
    )?;
    let namespace = namespace_of(&m.object.metadata);
    let template = spec.template.as_ref();
    let template_labels: Labels = (template.and_then(|t| t.metadata.as_ref()))
        .and_then(|md| md.labels.clone())
        .unwrap_or_default();
    // `SetDefaults_ReplicationController`: the selector defaults to the template's labels.
    let selector_labels: Labels = spec
        .selector
        .clone()
        .unwrap_or_else(|| template_labels.clone());
    let selector = LabelSelector::from_match_labels(selector_labels);
    if selector.is_empty() {
        diags.push(src.error(
            "spec.selector",
            "a ReplicationController needs a selector or template labels",
        ));
    } else if !selector.matches(&template_labels) {
        diags.push(src.error(
            "spec.template.metadata.labels",
            "`selector` does not match template `labels`",
        ));
    }
    let mut pod = match template.and_then(|t| t.spec.as_ref()) {
        Some(pod_spec) => {
            let annotations = template
                .and_then(|t| t.metadata.as_ref())
                .and_then(|m| m.annotations.as_ref());
            pod_template(pod_spec, annotations, src, "spec.template.spec", diags)
        }
        None => {
            diags.push(src.error(
                "spec.template.spec",
                "the pod template needs a spec with containers",
            ));
            Default::default()
        }
    };
    pod.labels = template_labels.clone();
    pod.namespace = namespace.clone();
    let replicas = non_negative("spec.replicas", spec.replicas.unwrap_or(1), src, diags)
        .min(super::model::MAX_REPLICAS);
    let mut rollout = super::model::RolloutSettings::default();
    let min_ready = non_negative(
        "spec.minReadySeconds",
        spec.min_ready_seconds.unwrap_or(0),
        src,
        diags,
    );
    rollout.min_ready = crate::sim::SimDuration::from_secs(min_ready as u64);
    rollout.progress_deadline = None;
    Some(DeploymentSpec {
        name,
        namespace,
        replicas,
        selector,
        template_labels,
        pod,
        strategy: Default::default(),
        rollout,
        stateful: Default::default(),
        workload: WorkloadModel::default(),
        source: PodSource::ReplicationController,
    })
}
