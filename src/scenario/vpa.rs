//! VerticalPodAutoscalers (`autoscaling.k8s.io/v1`), read and checked as the VPA's admission
//! webhook checks them, then resolved against the scenario's workloads into
//! [`VpaSpec`]s.
//!
//! Modelled: the recommender (every update mode computes recommendations), the admission
//! controller (every mode but `Off`: new pods get the recommendation) and the updater
//! (`Recreate`, or its deprecated name `Auto`: pods far from it are evicted;
//! `InPlaceOrRecreate`: they are resized in place, and evicted when the kubelet cannot).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::diag::{Diagnostic, did_you_mean_hint};
use super::manifest::{Manifest, ManifestSet, Source, decode_typed, namespace_of};
use super::model::{DeploymentSpec, PodSource};
use crate::spec::resources;
use crate::spec::vpa::{
    ChangeRequirement, ContainerPolicy, ControlledValues, CpuMemory, EvictionRequirement,
    UpdateMode, VpaSpec,
};

/// A `VerticalPodAutoscaler` as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpaManifest {
    #[allow(
        dead_code,
        reason = "read so that a strict parse accepts it; the kind is known"
    )]
    pub api_version: Option<String>,
    #[allow(
        dead_code,
        reason = "read so that a strict parse accepts it; the kind is known"
    )]
    pub kind: Option<String>,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: Option<VpaSpecManifest>,
    #[allow(
        dead_code,
        reason = "read so that a strict parse accepts it; status is the controller's to write"
    )]
    pub status: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpaSpecManifest {
    pub target_ref: Option<TargetRef>,
    pub update_policy: Option<UpdatePolicy>,
    pub resource_policy: Option<ResourcePolicy>,
    #[serde(default)]
    pub recommenders: Vec<RecommenderRef>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetRef {
    #[allow(
        dead_code,
        reason = "read so that a strict parse accepts it; the kind says what it is"
    )]
    pub api_version: Option<String>,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatePolicy {
    pub update_mode: Option<String>,
    pub min_replicas: Option<i32>,
    pub eviction_requirements: Option<Vec<EvictionRequirementManifest>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvictionRequirementManifest {
    #[serde(default)]
    pub resources: Vec<String>,
    pub change_requirement: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourcePolicy {
    #[serde(default)]
    pub container_policies: Vec<ContainerPolicyManifest>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPolicyManifest {
    pub container_name: Option<String>,
    pub mode: Option<String>,
    #[serde(default)]
    pub min_allowed: BTreeMap<String, K8sQuantity>,
    #[serde(default)]
    pub max_allowed: BTreeMap<String, K8sQuantity>,
    pub controlled_resources: Option<Vec<String>>,
    pub controlled_values: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecommenderRef {
    #[serde(default)]
    pub name: String,
}

/// The kinds a VPA may target, and the workloads that are of each.
const TARGET_KINDS: &str =
    "Deployment, StatefulSet, DaemonSet, ReplicationController, Job, CronJob";

fn is_of_kind(kind: &str, source: &PodSource) -> bool {
    matches!(
        (kind, source),
        ("Deployment", PodSource::ReplicaSet)
            | ("StatefulSet", PodSource::StatefulSet)
            | ("DaemonSet", PodSource::DaemonSet)
            | ("ReplicationController", PodSource::ReplicationController)
            | ("Job", PodSource::Job(_))
            | ("CronJob", PodSource::CronJob(_))
    )
}

/// Reads a VerticalPodAutoscaler into the set (checked later, against the workloads).
pub fn add_vpa(set: &mut ManifestSet, source: Source, diags: &mut Vec<Diagnostic>) {
    let mut found = Vec::new();
    let object = decode_typed::<VpaManifest>(&source, &mut set.incomplete, &mut found);
    for d in &mut found {
        let a_mode = d.path.ends_with("updateMode") || d.path.ends_with(".mode");
        if d.is_error() && a_mode && d.message.contains("boolean") {
            d.message = format!(
                "{}: unquoted, YAML reads Off as false — write \"Off\"",
                d.message.trim_end_matches('.')
            );
        }
    }
    diags.extend(found);
    if let Some(object) = object {
        set.vpas.push(Manifest { object, source });
    }
}

/// Every VPA of the set resolved against `deployments`; those with errors are left out (the
/// errors fail the load).
pub fn vpa_specs(
    set: &ManifestSet,
    deployments: &[DeploymentSpec],
    diags: &mut Vec<Diagnostic>,
) -> Vec<VpaSpec> {
    let mut out: Vec<VpaSpec> = Vec::new();
    for m in &set.vpas {
        let Some(mut vpa) = vpa_spec(m, deployments, set.incomplete, diags) else {
            continue;
        };
        vpa.limit_range = super::limit_range::namespace_bounds(set, &vpa.namespace);
        if let Some(other) = out.iter().find(|v| v.target == vpa.target) {
            diags.push(m.source.error(
                "spec.targetRef.name",
                format!(
                    "{} {:?} already has VerticalPodAutoscaler {:?}: a pod matched by two VPAs gets no recommendation from either",
                    vpa.target_kind, deployments[vpa.target].name, other.name
                ),
            ));
            continue;
        }
        out.push(vpa);
    }
    out
}

fn vpa_spec(
    m: &Manifest<VpaManifest>,
    deployments: &[DeploymentSpec],
    incomplete: bool,
    diags: &mut Vec<Diagnostic>,
) -> Option<VpaSpec> {
    let src = &m.source;
    let errors_before = diags.iter().filter(|d| d.is_error()).count();
    let name = m.object.metadata.name.clone().unwrap_or_default();
    let namespace = namespace_of(&m.object.metadata);
    let Some(spec) = &m.object.spec else {
        diags.push(src.error("spec", "a VerticalPodAutoscaler needs a spec"));
        return None;
    };
    let target = target(spec, &namespace, deployments, incomplete, src, diags);
    let (mode, min_replicas) = update_policy(spec.update_policy.as_ref(), src, diags);
    let eviction_requirements = eviction_requirements(spec.update_policy.as_ref(), src, diags);
    let policies = container_policies(spec, target.map(|t| &deployments[t]), src, diags);
    if spec.recommenders.len() > 1 {
        diags.push(src.error(
            "spec.recommenders",
            format!(
                "Too many: {}: must have at most 1 item",
                spec.recommenders.len()
            ),
        ));
    } else if spec.recommenders.iter().any(|r| r.name != "default") {
        diags.push(src.error(
            "spec.recommenders",
            "only the default recommender is modelled; a VPA that names another gets no recommendation from it (remove spec.recommenders)",
        ));
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    Some(VpaSpec {
        name,
        namespace,
        target: target?,
        target_kind: spec.target_ref.as_ref()?.kind.clone(),
        mode,
        min_replicas,
        policies,
        eviction_requirements,
        limit_range: Default::default(),
    })
    .filter(|_| errors == errors_before)
}

/// The workload `targetRef` names (in the VPA's namespace).
fn target(
    spec: &VpaSpecManifest,
    namespace: &str,
    deployments: &[DeploymentSpec],
    incomplete: bool,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> Option<usize> {
    let Some(target) = &spec.target_ref else {
        diags.push(src.error(
            "spec.targetRef",
            format!("required: the workload whose pods to size ({TARGET_KINDS})"),
        ));
        return None;
    };
    if !TARGET_KINDS.split(", ").any(|k| k == target.kind) {
        diags.push(src.error(
            "spec.targetRef.kind",
            format!(
                "{:?} is not a kind kubesim runs; use one of {TARGET_KINDS}",
                target.kind
            ),
        ));
        return None;
    }
    let of_kind = |d: &&DeploymentSpec| is_of_kind(&target.kind, &d.source);
    let found = deployments
        .iter()
        .position(|d| of_kind(&d) && d.name == target.name && d.namespace == namespace);
    if found.is_none() && !incomplete {
        let names = deployments.iter().filter(of_kind).map(|d| d.name.as_str());
        let hint = did_you_mean_hint(&target.name, names);
        diags.push(src.error(
            "spec.targetRef.name",
            format!(
                "{} {:?} not found in namespace {namespace:?}{hint}",
                target.kind, target.name
            ),
        ));
    }
    found
}

/// `updatePolicy`: the mode and `minReplicas`.
fn update_policy(
    policy: Option<&UpdatePolicy>,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> (UpdateMode, Option<i32>) {
    let unset = UpdatePolicy::default();
    let updated = policy;
    let policy = policy.unwrap_or(&unset);
    let path = "spec.updatePolicy.updateMode";
    let mode = match policy.update_mode.as_deref() {
        // Unset without an updatePolicy: upstream's default, Recreate.
        None if updated.is_none() => UpdateMode::default(),
        None => {
            diags.push(src.error(
                path,
                "required: updateMode is required if updatePolicy is used (Off, Initial, Recreate or InPlaceOrRecreate)",
            ));
            UpdateMode::default()
        }
        Some(text) => match UpdateMode::parse(text) {
            Some(mode) => mode,
            None => {
                diags.push(src.error(
                    path,
                    format!("{text:?} is not an update mode; use Off, Initial, Recreate or InPlaceOrRecreate (Auto is the deprecated name of Recreate)"),
                ));
                UpdateMode::Off
            }
        },
    };
    if let Some(n) = policy.min_replicas
        && n <= 0
    {
        diags.push(src.error(
            "spec.updatePolicy.minReplicas",
            format!("minReplicas has to be positive, got {n}"),
        ));
    }
    (mode, policy.min_replicas)
}

/// `updatePolicy.evictionRequirements`, checked as the CRD's schema checks them.
fn eviction_requirements(
    policy: Option<&UpdatePolicy>,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> Vec<EvictionRequirement> {
    let list = policy.and_then(|p| p.eviction_requirements.as_deref());
    let mut out = Vec::new();
    for (i, r) in list.unwrap_or_default().iter().enumerate() {
        let path = format!("spec.updatePolicy.evictionRequirements[{i}]");
        let change = match r.change_requirement.as_deref() {
            Some("TargetHigherThanRequests") => Some(ChangeRequirement::TargetHigherThanRequests),
            Some("TargetLowerThanRequests") => Some(ChangeRequirement::TargetLowerThanRequests),
            other => {
                let what = other.map_or("required".to_string(), |t| {
                    format!("{t:?} is not supported")
                });
                diags.push(src.error(
                    &format!("{path}.changeRequirement"),
                    format!("{what}: use TargetHigherThanRequests or TargetLowerThanRequests"),
                ));
                None
            }
        };
        if r.resources.is_empty() {
            diags.push(src.error(
                &format!("{path}.resources"),
                "required: name cpu, memory or both",
            ));
        }
        let (mut cpu, mut memory) = (false, false);
        for (j, name) in r.resources.iter().enumerate() {
            match name.as_str() {
                resources::CPU => cpu = true,
                resources::MEMORY => memory = true,
                other => diags.push(src.error(
                    &format!("{path}.resources[{j}]"),
                    format!("{other:?} is not a resource the VPA recommends; use cpu or memory"),
                )),
            }
        }
        let Some(change) = change else { continue };
        let requirement = EvictionRequirement {
            cpu,
            memory,
            change,
        };
        out.push(requirement);
    }
    out
}

/// `resourcePolicy.containerPolicies`, checked.
fn container_policies(
    spec: &VpaSpecManifest,
    target: Option<&DeploymentSpec>,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> Vec<ContainerPolicy> {
    let written = (spec.resource_policy.as_ref()).map_or(&[][..], |r| &r.container_policies);
    let containers: Vec<&str> = target.map_or_else(Vec::new, |d| {
        d.pod
            .hpa_containers
            .iter()
            .map(|c| c.name.as_str())
            .collect()
    });
    let mut out: Vec<ContainerPolicy> = Vec::new();
    for (i, p) in written.iter().enumerate() {
        let path = format!("spec.resourcePolicy.containerPolicies[{i}]");
        let Some(policy) = container_policy(p, &path, src, diags) else {
            continue;
        };
        let name = policy.container_name.as_str();
        if out.iter().any(|o| o.container_name == name) {
            diags.push(src.error(
                &format!("{path}.containerName"),
                format!("{name:?} has two policies"),
            ));
            continue;
        }
        if target.is_some() && name != "*" && !containers.contains(&name) {
            let hint = did_you_mean_hint(name, containers.iter().copied());
            diags.push(src.warning(
                &format!("{path}.containerName"),
                format!(
                    "the target's pods have no container {name:?}{hint}; they have: {}",
                    containers.join(", ")
                ),
            ));
        }
        out.push(policy);
    }
    out
}

fn container_policy(
    p: &ContainerPolicyManifest,
    path: &str,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> Option<ContainerPolicy> {
    let Some(name) = p.container_name.clone().filter(|n| !n.is_empty()) else {
        diags.push(src.error(
            &format!("{path}.containerName"),
            "required: a container's name, or \"*\" for every container",
        ));
        return None;
    };
    let off = match p.mode.as_deref() {
        None | Some("Auto") => false,
        Some("Off") => true,
        Some(other) => {
            diags.push(src.error(
                &format!("{path}.mode"),
                format!("{other:?} is not a container scaling mode; use Auto or Off"),
            ));
            false
        }
    };
    let min_allowed = cpu_memory(&p.min_allowed, &format!("{path}.minAllowed"), src, diags);
    let max_allowed = cpu_memory(&p.max_allowed, &format!("{path}.maxAllowed"), src, diags);
    check_min_max(min_allowed, max_allowed, path, src, diags);
    let (controls_cpu, controls_memory) = controlled_resources(p, path, src, diags);
    if off && p.controlled_values.as_deref() == Some("RequestsAndLimits") {
        diags.push(src.error(
            &format!("{path}.controlledValues"),
            "controlledValues shouldn't be specified if container scaling mode is off",
        ));
    }
    let controlled_values = match p.controlled_values.as_deref() {
        None | Some("RequestsAndLimits") => ControlledValues::RequestsAndLimits,
        Some("RequestsOnly") => ControlledValues::RequestsOnly,
        Some(other) => {
            diags.push(src.error(
                &format!("{path}.controlledValues"),
                format!(
                    "{other:?} is not a controlled value; use RequestsAndLimits or RequestsOnly"
                ),
            ));
            ControlledValues::RequestsAndLimits
        }
    };
    Some(ContainerPolicy {
        container_name: name,
        off,
        min_allowed,
        max_allowed,
        controls_cpu,
        controls_memory,
        controlled_values,
    })
}

/// `minAllowed` or `maxAllowed`: cpu and memory (other resources are not recommended).
fn cpu_memory(
    map: &BTreeMap<String, K8sQuantity>,
    path: &str,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> CpuMemory {
    let mut out = CpuMemory::default();
    for (name, q) in map {
        let at = format!("{path}.{name}");
        let slot = match name.as_str() {
            resources::CPU => &mut out.cpu_millis,
            resources::MEMORY => &mut out.memory_bytes,
            _ => {
                diags.push(src.warning(
                    &at,
                    "the VPA recommends cpu and memory only; this bound has no effect",
                ));
                continue;
            }
        };
        *slot = super::manifest::resource_amount(name, &q.0, |msg| diags.push(src.error(&at, msg)));
    }
    out
}

/// As the admission webhook: a resource's max below its min is refused.
fn check_min_max(
    min: CpuMemory,
    max: CpuMemory,
    path: &str,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) {
    let pairs = [
        (resources::CPU, min.cpu_millis, max.cpu_millis),
        (resources::MEMORY, min.memory_bytes, max.memory_bytes),
    ];
    for (name, lo, hi) in pairs {
        if let (Some(lo), Some(hi)) = (lo, hi)
            && hi < lo
        {
            diags.push(src.error(
                &format!("{path}.maxAllowed.{name}"),
                format!(
                    "max resource for {name} is lower than min ({hi} < {lo} {})",
                    if name == resources::CPU {
                        "millicores"
                    } else {
                        "bytes"
                    }
                ),
            ));
        }
    }
}

/// `controlledResources`: cpu and memory by default.
fn controlled_resources(
    p: &ContainerPolicyManifest,
    path: &str,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> (bool, bool) {
    let Some(list) = &p.controlled_resources else {
        return (true, true);
    };
    let mut out = (false, false);
    for (i, r) in list.iter().enumerate() {
        match r.as_str() {
            resources::CPU => out.0 = true,
            resources::MEMORY => out.1 = true,
            other => diags.push(src.error(
                &format!("{path}.controlledResources[{i}]"),
                format!("{other:?} is not a resource the VPA controls; use cpu or memory"),
            )),
        }
    }
    out
}
