//! Real Kubernetes manifests in, cluster specs out.
//!
//! Reads multi-document YAML as users have it (`---`-separated files, `kind: List` from
//! `kubectl get -o yaml`, Helm output with comments), types each object with k8s-openapi, and
//! converts Deployments, Services and HorizontalPodAutoscalers into the specs the engine uses —
//! applying the API server's defaults and validation on the way. PodDisruptionBudget,
//! PriorityClass and Namespace are accepted; other kinds are skipped with a note. Every problem is
//! reported with the file, line, column and field path of the offending value.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler as HpaV1;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, LimitRange, Namespace, Pod, PodSpec, ReplicationController,
    ResourceQuota, Secret, Service,
};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector as K8sSelector, ObjectMeta};
use serde::de::DeserializeOwned;

use crate::cluster::quantity::Quantity;
use crate::cluster::resources::{self, Resources, TaintEffect, Toleration};
use crate::cluster::selector::{
    LabelSelector, Labels, NodeOperator, NodeRequirement, NodeSelectorTerm, Requirement,
    SelectorOperator,
};
use crate::sim::SimDuration;
use crate::spec::hpa as behavior;
use crate::spec::pod_resources::{CpuMemoryAmount, InitStep, RequestParts};

use super::decode_report::{UnknownFields, decode_reported};
use super::diag::{Diagnostic, did_you_mean_hint};
use super::model::{
    ContainerRequests, DeploymentSpec, DoNotDisrupt, DrainTraits, HostPort, HpaMetric, HpaResource,
    HpaSpec, KedaActivation, PodMetricSource, PodTemplate, ResourceTarget, SafeToEvict,
    ValueTarget, WorkloadModel,
};
use super::yaml::{Node, Position, parse_documents};
use crate::spec::rollout::{IntOrPercent, Strategy};
use k8s_openapi::api::autoscaling::v2::{MetricSpec, MetricTarget};

/// Where an object came from: its file and its YAML node (for positions of any field).
#[derive(Clone, Debug)]
pub struct Source {
    pub file: String,
    pub node: Node,
    /// For an object made from another (the HPA of a KEDA ScaledObject): maps a path in the
    /// made object to the field of the written one it came from.
    pub written_as: Option<fn(&str) -> String>,
}

impl Source {
    /// An object's source: `node` in `file`.
    pub fn new(file: String, node: Node) -> Source {
        Source {
            file,
            node,
            written_as: None,
        }
    }

    /// Position of `path`, or of its nearest ancestor present in the file.
    pub fn position(&self, path: &str) -> Option<Position> {
        Some(self.node.nearest_position(path))
    }

    pub fn error(&self, path: &str, message: impl Into<String>) -> Diagnostic {
        let path = self.written_path(path);
        Diagnostic::error(&self.file, self.position(&path), &path, message)
    }

    pub fn warning(&self, path: &str, message: impl Into<String>) -> Diagnostic {
        let path = self.written_path(path);
        Diagnostic::warning(&self.file, self.position(&path), &path, message)
    }

    /// A note: something the reader should know, not a problem.
    pub fn note(&self, path: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: super::diag::Severity::Note,
            ..self.warning(path, message)
        }
    }

    fn written_path(&self, path: &str) -> String {
        self.written_as
            .map_or_else(|| path.to_string(), |f| f(path))
    }
}

/// A typed object with its source.
#[derive(Clone, Debug)]
pub struct Manifest<T> {
    pub object: T,
    pub source: Source,
}

impl<T> Manifest<T> {
    pub(super) fn meta_name(meta: &ObjectMeta) -> String {
        meta.name.clone().unwrap_or_default()
    }
}

/// Every object found in the manifests, by kind.
#[derive(Clone, Debug, Default)]
pub struct ManifestSet {
    pub deployments: Vec<Manifest<Deployment>>,
    pub daemon_sets: Vec<Manifest<DaemonSet>>,
    pub stateful_sets: Vec<Manifest<StatefulSet>>,
    pub jobs: Vec<Manifest<Job>>,
    pub cron_jobs: Vec<Manifest<CronJob>>,
    /// Bare Pods (no controller).
    pub pods: Vec<Manifest<Pod>>,
    pub replication_controllers: Vec<Manifest<ReplicationController>>,
    pub limit_ranges: Vec<Manifest<LimitRange>>,
    pub resource_quotas: Vec<Manifest<ResourceQuota>>,
    /// ConfigMaps and Secrets, which pods may need before they start.
    pub config_maps: Vec<Manifest<ConfigMap>>,
    pub secrets: Vec<Manifest<Secret>>,
    pub services: Vec<Manifest<Service>>,
    pub hpas: Vec<Manifest<HorizontalPodAutoscaler>>,
    pub pdbs: Vec<Manifest<PodDisruptionBudget>>,
    pub priority_classes: Vec<Manifest<PriorityClass>>,
    pub namespaces: Vec<Manifest<Namespace>>,
    /// Ingresses, for traffic given to a host and path.
    pub ingresses: Vec<Manifest<Ingress>>,
    /// What KEDA ScaledObjects add to the HPAs made from them (in `hpas`): by HPA name and
    /// namespace.
    pub keda: Vec<(String, String, KedaActivation)>,
    /// Karpenter NodePools (`karpenter.sh/v1`).
    pub karpenter_node_pools: Vec<Manifest<super::karpenter::NodePoolManifest>>,
    /// Karpenter EC2NodeClasses (`karpenter.k8s.aws/v1`): only their names are used.
    pub node_classes: Vec<Manifest<super::karpenter::NodeClassManifest>>,
    /// VerticalPodAutoscalers (`autoscaling.k8s.io/v1`).
    pub vpas: Vec<Manifest<super::vpa::VpaManifest>>,
    /// Some file or object could not be read: references to missing objects may be caused by
    /// that error, so they are not reported again.
    pub incomplete: bool,
    /// Objects of kinds kubesim does not model, by kind: where the first was, and every name.
    skipped: BTreeMap<String, Skipped>,
}

/// The objects of one kind that were skipped.
#[derive(Clone, Debug)]
struct Skipped {
    first: Diagnostic,
    names: Vec<String>,
}

/// Skipped objects named in a note at most.
const SKIPPED_NAMES_SHOWN: usize = 3;

impl ManifestSet {
    /// The KEDA activation of the HPA `name` in `namespace`, when a ScaledObject made it.
    pub fn keda_activation(&self, name: &str, namespace: &str) -> Option<KedaActivation> {
        (self.keda.iter())
            .find(|(n, ns, _)| n == name && ns == namespace)
            .map(|(_, _, a)| a.clone())
    }

    /// One note per kind that was skipped (not one per object), at its first object, once the
    /// set is complete.
    pub fn skipped_notes(&self) -> Vec<Diagnostic> {
        let note = |kind: &str, s: &Skipped| {
            let shown: Vec<String> = (s.names.iter().take(SKIPPED_NAMES_SHOWN))
                .map(|n| format!("{n:?}"))
                .collect();
            let more = s.names.len().saturating_sub(SKIPPED_NAMES_SHOWN);
            let what = match (s.names.len(), more) {
                (1, _) => format!("{kind} {}", shown[0]),
                (n, 0) => format!("{n} {kind} objects ({})", shown.join(", ")),
                (n, more) => format!("{n} {kind} objects ({}, and {more} more)", shown.join(", ")),
            };
            Diagnostic {
                message: format!("skipped {what}: kind not modelled"),
                ..s.first.clone()
            }
        };
        self.skipped.iter().map(|(k, s)| note(k, s)).collect()
    }

    fn skip(&mut self, kind: &str, source: &Source) {
        let name = object_name(&source.node);
        let entry = self
            .skipped
            .entry(kind.to_string())
            .or_insert_with(|| Skipped {
                first: Diagnostic {
                    severity: super::diag::Severity::Note,
                    ..source.warning("kind", String::new())
                },
                names: Vec::new(),
            });
        entry.names.push(name);
    }
}

/// Adds every object of one YAML text (a file, or the extra documents of a scenario file).
pub fn add_documents(
    set: &mut ManifestSet,
    file: &str,
    docs: Vec<Node>,
    diags: &mut Vec<Diagnostic>,
) {
    for doc in docs {
        add_object(set, Source::new(file.to_string(), doc), diags);
    }
}

/// Parses a manifest file's text and adds its objects.
pub fn add_text(set: &mut ManifestSet, file: &str, text: &str, diags: &mut Vec<Diagnostic>) {
    if let Some(docs) = parse_text(set, file, text, diags) {
        add_documents(set, file, docs, diags);
    }
}

/// Parses a manifest file's text into documents; invalid YAML is reported (and the set marked
/// incomplete).
pub fn parse_text(
    set: &mut ManifestSet,
    file: &str,
    text: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Vec<Node>> {
    parse_documents(text)
        .map_err(|e| {
            set.incomplete = true;
            diags.push(Diagnostic::error(
                file,
                e.position,
                "",
                format!("invalid YAML: {}", e.message),
            ));
        })
        .ok()
}

fn add_object(set: &mut ManifestSet, source: Source, diags: &mut Vec<Diagnostic>) {
    let api_version = source
        .node
        .get("apiVersion")
        .and_then(Node::as_str)
        .unwrap_or("")
        .to_string();
    let Some(kind) = source
        .node
        .get("kind")
        .and_then(Node::as_str)
        .map(str::to_string)
    else {
        diags.push(source.error("kind", "every manifest needs `apiVersion` and `kind`"));
        return;
    };
    match (api_version.as_str(), kind.as_str()) {
        (_, "List") => add_list_items(set, source, diags),
        ("apps/v1", "Deployment") => {
            push_typed(&mut set.deployments, &mut set.incomplete, source, diags)
        }
        ("apps/v1", "DaemonSet") => {
            push_typed(&mut set.daemon_sets, &mut set.incomplete, source, diags)
        }
        ("apps/v1", "StatefulSet") => {
            push_typed(&mut set.stateful_sets, &mut set.incomplete, source, diags)
        }
        ("batch/v1", "Job") => push_typed(&mut set.jobs, &mut set.incomplete, source, diags),
        ("batch/v1", "CronJob") => {
            push_typed(&mut set.cron_jobs, &mut set.incomplete, source, diags)
        }
        ("v1", "Service") => super::ports::add_service(set, source, diags),
        ("v1", "Pod") => push_typed(&mut set.pods, &mut set.incomplete, source, diags),
        ("v1", "ResourceQuota") => {
            push_typed(&mut set.resource_quotas, &mut set.incomplete, source, diags)
        }
        ("v1", "LimitRange") => {
            push_typed(&mut set.limit_ranges, &mut set.incomplete, source, diags)
        }
        ("v1", "ConfigMap") => push_typed(&mut set.config_maps, &mut set.incomplete, source, diags),
        ("v1", "Secret") => push_secret(set, source, diags),
        ("v1", "ReplicationController") => push_typed(
            &mut set.replication_controllers,
            &mut set.incomplete,
            source,
            diags,
        ),
        ("autoscaling/v2", "HorizontalPodAutoscaler") => {
            push_typed(&mut set.hpas, &mut set.incomplete, source, diags)
        }
        ("autoscaling/v1", "HorizontalPodAutoscaler") => add_hpa_v1(set, source, diags),
        ("policy/v1", "PodDisruptionBudget") => {
            push_typed(&mut set.pdbs, &mut set.incomplete, source, diags)
        }
        ("scheduling.k8s.io/v1", "PriorityClass") => push_typed(
            &mut set.priority_classes,
            &mut set.incomplete,
            source,
            diags,
        ),
        ("v1", "Namespace") => push_typed(&mut set.namespaces, &mut set.incomplete, source, diags),
        ("networking.k8s.io/v1", "Ingress") => super::ingress::add_ingress(set, source, diags),
        ("keda.sh/v1alpha1", "ScaledObject") => super::keda::add_scaled_object(set, source, diags),
        ("karpenter.sh/v1", "NodePool") => super::karpenter::add_node_pool(set, source, diags),
        ("karpenter.k8s.aws/v1", "EC2NodeClass") => {
            super::karpenter::add_node_class(set, source, diags)
        }
        ("autoscaling.k8s.io/v1", "VerticalPodAutoscaler") => {
            super::vpa::add_vpa(set, source, diags)
        }
        (
            _,
            "Deployment"
            | "DaemonSet"
            | "StatefulSet"
            | "Job"
            | "CronJob"
            | "Pod"
            | "LimitRange"
            | "ResourceQuota"
            | "ConfigMap"
            | "Secret"
            | "ReplicationController"
            | "Service"
            | "HorizontalPodAutoscaler"
            | "PodDisruptionBudget"
            | "PriorityClass"
            | "Namespace"
            | "Ingress"
            | "ScaledObject"
            | "NodePool"
            | "EC2NodeClass"
            | "VerticalPodAutoscaler",
        ) => {
            diags.push(source.error(
                "apiVersion",
                format!(
                    "{kind} {api_version:?} is not a served version; use {}",
                    served_version(&kind)
                ),
            ));
        }
        _ => set.skip(&kind, &source),
    }
}

fn served_version(kind: &str) -> &'static str {
    match kind {
        "Deployment" | "DaemonSet" | "StatefulSet" => "apps/v1",
        "Job" | "CronJob" => "batch/v1",
        "HorizontalPodAutoscaler" => "autoscaling/v2",
        "PodDisruptionBudget" => "policy/v1",
        "PriorityClass" => "scheduling.k8s.io/v1",
        "Ingress" => "networking.k8s.io/v1",
        "ScaledObject" => "keda.sh/v1alpha1",
        "NodePool" => "karpenter.sh/v1",
        "EC2NodeClass" => "karpenter.k8s.aws/v1",
        "VerticalPodAutoscaler" => "autoscaling.k8s.io/v1",
        _ => "v1",
    }
}

fn object_name(node: &Node) -> String {
    node.lookup("metadata.name")
        .and_then(Node::as_str)
        .unwrap_or("")
        .to_string()
}

fn add_list_items(set: &mut ManifestSet, source: Source, diags: &mut Vec<Diagnostic>) {
    match source.node.get("items").map(|n| &n.value) {
        Some(super::yaml::Value::Seq(items)) => {
            for item in items {
                add_object(set, Source::new(source.file.clone(), item.clone()), diags);
            }
        }
        Some(super::yaml::Value::Null) | None => {}
        Some(_) => diags.push(source.error("items", "a List's items must be a list of objects")),
    }
}

/// Decodes a typed object; type errors become errors (all of them), unknown fields warnings
/// with a hint. An object with errors is returned when it could still be typed (its wrong
/// values replaced by defaults), so later checks can run on it too.
pub(super) fn decode_typed<T: DeserializeOwned>(
    source: &Source,
    incomplete: &mut bool,
    diags: &mut Vec<Diagnostic>,
) -> Option<T> {
    let object = decode_reported::<T>(
        &source.node,
        "",
        &source.file,
        UnknownFields::Warning,
        diags,
    );
    if object.is_none() {
        *incomplete = true;
    }
    object
}

fn push_typed<T: DeserializeOwned>(
    into: &mut Vec<Manifest<T>>,
    incomplete: &mut bool,
    source: Source,
    diags: &mut Vec<Diagnostic>,
) {
    if let Some(object) = decode_typed::<T>(&source, incomplete, diags) {
        into.push(Manifest { object, source });
    }
}

/// A Secret, its `data` values decoded as base64 (a value that is not says so).
fn push_secret(set: &mut ManifestSet, source: Source, diags: &mut Vec<Diagnostic>) {
    let mut found = Vec::new();
    push_typed(&mut set.secrets, &mut set.incomplete, source, &mut found);
    for d in &mut found {
        if d.is_error() && d.path.starts_with("data.") {
            d.message = format!(
                "not base64 ({}): a Secret's data values are base64-encoded; write plain text under stringData",
                d.message.trim_end_matches('.')
            );
        }
    }
    diags.extend(found);
}

/// autoscaling/v1 HPAs are converted to v2 with one CPU Utilization metric, as the API server does.
fn add_hpa_v1(set: &mut ManifestSet, source: Source, diags: &mut Vec<Diagnostic>) {
    use k8s_openapi::api::autoscaling::v2;
    let Some(v1) = decode_typed::<HpaV1>(&source, &mut set.incomplete, diags) else {
        return;
    };
    let spec = v1.spec.unwrap_or_default();
    let metric = v2::MetricSpec {
        type_: "Resource".into(),
        resource: Some(v2::ResourceMetricSource {
            name: "cpu".into(),
            target: v2::MetricTarget {
                type_: "Utilization".into(),
                average_utilization: Some(spec.target_cpu_utilization_percentage.unwrap_or(80)),
                ..Default::default()
            },
        }),
        ..Default::default()
    };
    let object = HorizontalPodAutoscaler {
        metadata: v1.metadata,
        spec: Some(v2::HorizontalPodAutoscalerSpec {
            scale_target_ref: v2::CrossVersionObjectReference {
                api_version: spec.scale_target_ref.api_version,
                kind: spec.scale_target_ref.kind,
                name: spec.scale_target_ref.name,
            },
            min_replicas: spec.min_replicas,
            max_replicas: spec.max_replicas,
            metrics: Some(vec![metric]),
            behavior: None,
        }),
        status: None,
    };
    set.hpas.push(Manifest { object, source });
}

/// Namespace of an object (`default` when unset).
pub fn namespace_of(meta: &ObjectMeta) -> String {
    meta.namespace
        .clone()
        .unwrap_or_else(|| "default".to_string())
}

/// Converts a Deployment to its spec (with a default workload model, replaced by the scenario's).
pub fn deployment_spec(
    m: &Manifest<Deployment>,
    diags: &mut Vec<Diagnostic>,
) -> Option<DeploymentSpec> {
    let src = &m.source;
    let name = Manifest::<Deployment>::meta_name(&m.object.metadata);
    let spec = named_spec("Deployment", &name, m.object.spec.as_ref(), src, diags)?;
    let replicas = replica_count(spec.replicas.unwrap_or(1), src, diags);
    let strategy = strategy(spec, src, diags);
    let rollout = rollout_settings(spec, src, diags);
    let namespace = namespace_of(&m.object.metadata);
    let (selector, template_labels, pod) = controller_template(
        "Deployment",
        &spec.selector,
        &spec.template,
        &namespace,
        src,
        diags,
    );
    // Returned even with errors (the load fails on them anyway) so that references to this
    // Deployment from Services, HPAs and the scenario are still checked, not reported missing.
    Some(DeploymentSpec {
        name,
        namespace,
        replicas,
        selector,
        template_labels,
        pod,
        strategy,
        rollout,
        stateful: Default::default(),
        workload: WorkloadModel::default(),
        source: super::model::PodSource::ReplicaSet,
    })
}

/// A workload's spec, reporting a missing name (the object is still read) or a missing spec
/// (it is not).
pub(super) fn named_spec<'s, T>(
    kind: &str,
    name: &str,
    spec: Option<&'s T>,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'s T> {
    if name.is_empty() {
        diags.push(src.error("metadata.name", format!("a {kind} needs a name")));
    }
    if spec.is_none() {
        diags.push(src.error("spec", format!("a {kind} needs a spec")));
    }
    spec
}

/// A DaemonSet as a workload whose controller runs one pod per eligible node.
pub fn daemon_set_spec(
    m: &Manifest<DaemonSet>,
    diags: &mut Vec<Diagnostic>,
) -> Option<DeploymentSpec> {
    let src = &m.source;
    let name = Manifest::<DaemonSet>::meta_name(&m.object.metadata);
    let spec = named_spec("DaemonSet", &name, m.object.spec.as_ref(), src, diags)?;
    let namespace = namespace_of(&m.object.metadata);
    let (selector, template_labels, pod) = controller_template(
        "DaemonSet",
        &spec.selector,
        &spec.template,
        &namespace,
        src,
        diags,
    );
    let strategy = daemon_set_strategy(spec, src, diags);
    let rollout = min_ready_only(spec.min_ready_seconds, src, diags);
    Some(DeploymentSpec {
        name,
        namespace,
        replicas: 0,
        selector,
        template_labels,
        pod,
        strategy,
        rollout,
        stateful: Default::default(),
        workload: WorkloadModel::default(),
        source: super::model::PodSource::DaemonSet,
    })
}

/// A count that must not be negative (reported, and 0 used instead).
pub(super) fn non_negative(
    path: &str,
    value: i32,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> i32 {
    if value < 0 {
        diags.push(src.error(
            path,
            format!("must be greater than or equal to 0, got {value}"),
        ));
    }
    value.max(0)
}

/// `spec.replicas`: from 0 to [`super::model::MAX_REPLICAS`].
fn replica_count(value: i32, src: &Source, diags: &mut Vec<Diagnostic>) -> i32 {
    let max = super::model::MAX_REPLICAS;
    if value > max {
        diags.push(src.error(
            "spec.replicas",
            format!("{value} replicas is beyond what one simulation holds: at most {max}"),
        ));
        return max;
    }
    non_negative("spec.replicas", value, src, diags)
}

/// The rollout settings of a DaemonSet or StatefulSet: `minReadySeconds`, and no progress
/// deadline.
fn min_ready_only(
    min_ready_seconds: Option<i32>,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> super::model::RolloutSettings {
    let min_ready = non_negative(
        "spec.minReadySeconds",
        min_ready_seconds.unwrap_or(0),
        src,
        diags,
    );
    super::model::RolloutSettings {
        min_ready: SimDuration::from_secs(min_ready as u64),
        progress_deadline: None,
        ..Default::default()
    }
}

/// A StatefulSet as a workload whose pods have ordinals (`<name>-0`, `<name>-1`, …).
pub fn stateful_set_spec(
    m: &Manifest<StatefulSet>,
    diags: &mut Vec<Diagnostic>,
) -> Option<DeploymentSpec> {
    let src = &m.source;
    let name = Manifest::<StatefulSet>::meta_name(&m.object.metadata);
    let spec = named_spec("StatefulSet", &name, m.object.spec.as_ref(), src, diags)?;
    let replicas = replica_count(spec.replicas.unwrap_or(1), src, diags);
    let namespace = namespace_of(&m.object.metadata);
    let (selector, template_labels, pod) = controller_template(
        "StatefulSet",
        &spec.selector,
        &spec.template,
        &namespace,
        src,
        diags,
    );
    let parallel = match spec.pod_management_policy.as_deref() {
        None | Some("OrderedReady") => false,
        Some("Parallel") => true,
        Some(other) => {
            diags.push(src.error(
                "spec.podManagementPolicy",
                format!("unsupported value {other:?}: must be OrderedReady or Parallel"),
            ));
            false
        }
    };
    let (strategy, partition) = stateful_set_strategy(spec, src, diags);
    let rollout = min_ready_only(spec.min_ready_seconds, src, diags);
    Some(DeploymentSpec {
        name,
        namespace,
        replicas,
        selector,
        template_labels,
        pod,
        strategy,
        rollout,
        stateful: super::model::StatefulSettings {
            parallel,
            partition,
        },
        workload: WorkloadModel::default(),
        source: super::model::PodSource::StatefulSet,
    })
}

/// A StatefulSet's `spec.updateStrategy`: RollingUpdate (one pod at a time, from the highest
/// ordinal down to `partition`) or OnDelete.
fn stateful_set_strategy(
    spec: &k8s_openapi::api::apps::v1::StatefulSetSpec,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> (Strategy, i32) {
    let one_at_a_time = Strategy::RollingUpdate {
        max_surge: IntOrPercent::Int(0),
        max_unavailable: IntOrPercent::Int(1),
    };
    let Some(strategy) = &spec.update_strategy else {
        return (one_at_a_time, 0);
    };
    match strategy.type_.as_deref() {
        None | Some("RollingUpdate") => {}
        Some("OnDelete") => return (Strategy::OnDelete, 0),
        Some(other) => diags.push(src.error(
            "spec.updateStrategy.type",
            format!("unsupported value {other:?}: must be RollingUpdate or OnDelete"),
        )),
    }
    let partition = strategy
        .rolling_update
        .as_ref()
        .and_then(|ru| ru.partition)
        .unwrap_or(0);
    if partition < 0 {
        diags.push(src.error(
            "spec.updateStrategy.rollingUpdate.partition",
            format!("must be greater than or equal to 0, got {partition}"),
        ));
    }
    (one_at_a_time, partition.max(0))
}

/// A controller's selector (required, non-empty, matching the template's labels), the
/// template's labels and its pod template.
fn controller_template(
    kind: &str,
    selector: &K8sSelector,
    template: &k8s_openapi::api::core::v1::PodTemplateSpec,
    namespace: &str,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> (LabelSelector, Labels, PodTemplate) {
    let selector_path = "spec.selector";
    let resolved = label_selector(selector, src, selector_path, diags);
    let template_labels: Labels = template
        .metadata
        .as_ref()
        .and_then(|md| md.labels.clone())
        .unwrap_or_default();
    if src.node.lookup(selector_path).is_none() {
        diags.push(src.error(
            selector_path,
            format!("required: a {kind} needs a selector matching its pod template's labels"),
        ));
    } else if resolved.is_empty() {
        diags.push(src.error(
            selector_path,
            format!(
                "empty selector is invalid for a {kind}: it must select the pod template's labels"
            ),
        ));
    } else if !resolved.matches(&template_labels) {
        diags.push(src.error(
            "spec.template.metadata.labels",
            "`selector` does not match template `labels`",
        ));
    }
    let mut pod = match &template.spec {
        Some(pod_spec) => {
            let annotations = template
                .metadata
                .as_ref()
                .and_then(|m| m.annotations.as_ref());
            pod_template(pod_spec, annotations, src, "spec.template.spec", diags)
        }
        None => {
            diags.push(src.error(
                "spec.template.spec",
                "the pod template needs a spec with containers",
            ));
            PodTemplate::default()
        }
    };
    pod.labels = template_labels.clone();
    pod.namespace = namespace.to_string();
    (resolved, template_labels, pod)
}

/// `minReadySeconds`, `progressDeadlineSeconds`, `revisionHistoryLimit` and `paused`, validated
/// like the API server (non-negative; the deadline greater than `minReadySeconds`).
fn rollout_settings(
    spec: &k8s_openapi::api::apps::v1::DeploymentSpec,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> super::model::RolloutSettings {
    let defaults = super::model::RolloutSettings::default();
    let mut seconds = |field: &str, v: Option<i32>| -> Option<i32> {
        let v = v?;
        if v < 0 {
            diags.push(src.error(
                &format!("spec.{field}"),
                format!("must be greater than or equal to 0, got {v}"),
            ));
            return None;
        }
        Some(v)
    };
    let min_ready = seconds("minReadySeconds", spec.min_ready_seconds).unwrap_or(0);
    let deadline = seconds("progressDeadlineSeconds", spec.progress_deadline_seconds);
    let limit = seconds("revisionHistoryLimit", spec.revision_history_limit);
    if let Some(d) = deadline
        && d <= min_ready
    {
        diags.push(src.error(
            "spec.progressDeadlineSeconds",
            format!("must be greater than minReadySeconds ({min_ready}), got {d}"),
        ));
    }
    super::model::RolloutSettings {
        min_ready: SimDuration::from_secs(min_ready as u64),
        // MaxInt32 is how the API spells "no deadline".
        progress_deadline: match deadline {
            Some(i32::MAX) => None,
            Some(d) => Some(SimDuration::from_secs(d as u64)),
            None => defaults.progress_deadline,
        },
        revision_history_limit: limit.unwrap_or(defaults.revision_history_limit),
        paused: spec.paused.unwrap_or(false),
    }
}

/// `spec.strategy`, validated like the API server (both-zero rule, percent bounds) and
/// defaulted (RollingUpdate, 25 % / 25 %).
fn strategy(
    spec: &k8s_openapi::api::apps::v1::DeploymentSpec,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> Strategy {
    let Some(strategy) = &spec.strategy else {
        return Strategy::default();
    };
    match strategy.type_.as_deref() {
        None | Some("RollingUpdate") => {}
        Some("Recreate") => return Strategy::Recreate,
        Some(other) => diags.push(src.error(
            "spec.strategy.type",
            format!("unsupported value {other:?}: must be RollingUpdate or Recreate"),
        )),
    }
    let Some(ru) = &strategy.rolling_update else {
        return Strategy::default();
    };
    let default = IntOrPercent::Percent(25);
    rolling_update(
        "spec.strategy.rollingUpdate",
        (&ru.max_surge, default),
        (&ru.max_unavailable, default),
        src,
        diags,
    )
}

/// A DaemonSet's `spec.updateStrategy`: RollingUpdate (maxUnavailable 1, maxSurge 0 by
/// default) or OnDelete.
fn daemon_set_strategy(
    spec: &k8s_openapi::api::apps::v1::DaemonSetSpec,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> Strategy {
    let (surge, unavailable) = (IntOrPercent::Int(0), IntOrPercent::Int(1));
    let default = Strategy::RollingUpdate {
        max_surge: surge,
        max_unavailable: unavailable,
    };
    let Some(strategy) = &spec.update_strategy else {
        return default;
    };
    match strategy.type_.as_deref() {
        None | Some("RollingUpdate") => {}
        Some("OnDelete") => return Strategy::OnDelete,
        Some(other) => diags.push(src.error(
            "spec.updateStrategy.type",
            format!("unsupported value {other:?}: must be RollingUpdate or OnDelete"),
        )),
    }
    let Some(ru) = &strategy.rolling_update else {
        return default;
    };
    rolling_update(
        "spec.updateStrategy.rollingUpdate",
        (&ru.max_surge, surge),
        (&ru.max_unavailable, unavailable),
        src,
        diags,
    )
}

type IntOrStringField<'a> = (
    &'a Option<k8s_openapi::apimachinery::pkg::util::intstr::IntOrString>,
    IntOrPercent,
);

/// `rollingUpdate.maxSurge` and `maxUnavailable` (each with its default), validated: not
/// negative, maxUnavailable at most 100 %, not both 0.
fn rolling_update(
    path: &str,
    surge: IntOrStringField,
    unavailable: IntOrStringField,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> Strategy {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let mut value = |field: &str, (v, default): IntOrStringField| -> IntOrPercent {
        let path = format!("{path}.{field}");
        let parsed = match v {
            None => return default,
            Some(IntOrString::Int(i)) => IntOrPercent::Int(*i),
            Some(IntOrString::String(s)) => match IntOrPercent::parse(s) {
                Ok(p) => p,
                Err(e) => {
                    diags.push(src.error(&path, e));
                    return default;
                }
            },
        };
        match parsed {
            IntOrPercent::Int(i) | IntOrPercent::Percent(i) if i < 0 => {
                diags.push(src.error(&path, "must be greater than or equal to 0"))
            }
            IntOrPercent::Percent(p) if field == "maxUnavailable" && p > 100 => {
                diags.push(src.error(&path, "must not be greater than 100%"))
            }
            _ => {}
        }
        parsed
    };
    let max_surge = value("maxSurge", surge);
    let max_unavailable = value("maxUnavailable", unavailable);
    if max_surge.is_zero() && max_unavailable.is_zero() {
        diags.push(src.error(
            &format!("{path}.maxUnavailable"),
            "may not be 0 when maxSurge is 0",
        ));
    }
    Strategy::RollingUpdate {
        max_surge,
        max_unavailable,
    }
}

/// Resolves a metav1.LabelSelector, validating its expressions.
pub(super) fn label_selector(
    sel: &K8sSelector,
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> LabelSelector {
    let mut out = LabelSelector::from_match_labels(sel.match_labels.clone().unwrap_or_default());
    for (i, expr) in sel.match_expressions.iter().flatten().enumerate() {
        let epath = format!("{path}.matchExpressions[{i}]");
        let Some(operator) = SelectorOperator::parse(&expr.operator) else {
            diags.push(src.error(
                &format!("{epath}.operator"),
                format!(
                    "{:?} is not a valid operator: use In, NotIn, Exists or DoesNotExist",
                    expr.operator
                ),
            ));
            continue;
        };
        let req = Requirement {
            key: expr.key.clone(),
            operator,
            values: expr.values.clone().unwrap_or_default(),
        };
        if let Err(e) = req.validate() {
            diags.push(src.error(&format!("{epath}.values"), e));
        }
        out.match_expressions.push(req);
    }
    out
}

/// A container's requests and limits after defaulting (request defaults to the limit).
struct ContainerResources {
    name: String,
    requests: Resources,
    limits: Resources,
    has_cpu_request: bool,
    has_memory_request: bool,
    has_cpu_limit: bool,
    has_memory_limit: bool,
    cpu_resize_restarts: bool,
    memory_resize_restarts: bool,
}

fn container_resources(
    c: &Container,
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> ContainerResources {
    let res = c.resources.clone().unwrap_or_default();
    let requests_in = res.requests.unwrap_or_default();
    let limits_in = res.limits.unwrap_or_default();
    let requests = quantities(
        &requests_in,
        src,
        &format!("{path}.resources.requests"),
        diags,
    );
    let limits = quantities(&limits_in, src, &format!("{path}.resources.limits"), diags);
    let restarts = resize_policy(c, src, path, diags);
    let mut effective = requests.clone();
    for name in limits_in.keys() {
        if !requests_in.contains_key(name) {
            effective.set(name, limits.get(name));
        }
    }
    for name in requests_in.keys() {
        let rpath = format!("{path}.resources.requests.{name}");
        if limits_in.contains_key(name) && requests.get(name) > limits.get(name) {
            diags.push(src.error(
                &rpath,
                format!(
                    "must be less than or equal to {name} limit of {}",
                    limits_in[name].0
                ),
            ));
        }
        if !is_native(name) && !limits_in.contains_key(name) {
            diags.push(src.error(
                &rpath,
                format!("limit must be set for non-overcommitable resource {name}"),
            ));
        } else if !is_native(name) && requests.get(name) != limits.get(name) {
            diags.push(src.error(
                &rpath,
                format!(
                    "must be equal to {name} limit (extended resources cannot be overcommitted)"
                ),
            ));
        }
    }
    ContainerResources {
        name: c.name.clone(),
        requests: effective,
        limits,
        has_cpu_request: requests_in.contains_key(resources::CPU)
            || limits_in.contains_key(resources::CPU),
        has_memory_request: requests_in.contains_key(resources::MEMORY)
            || limits_in.contains_key(resources::MEMORY),
        has_cpu_limit: limits_in.contains_key(resources::CPU),
        has_memory_limit: limits_in.contains_key(resources::MEMORY),
        cpu_resize_restarts: restarts.0,
        memory_resize_restarts: restarts.1,
    }
}

/// `resizePolicy`, checked as the API server checks it: whether an in-place resize of cpu and
/// of memory restarts the container.
fn resize_policy(
    c: &Container,
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> (bool, bool) {
    let mut out = (false, false);
    let mut seen = Vec::new();
    for (i, p) in c.resize_policy.iter().flatten().enumerate() {
        let at = format!("{path}.resizePolicy[{i}]");
        let restarts = match p.restart_policy.as_str() {
            "NotRequired" | "" => false,
            "RestartContainer" => true,
            other => {
                diags.push(src.error(
                    &format!("{at}.restartPolicy"),
                    format!("Unsupported value: {other:?}: supported values: \"NotRequired\", \"RestartContainer\""),
                ));
                continue;
            }
        };
        if seen.contains(&p.resource_name) {
            diags.push(src.error(
                &format!("{at}.resourceName"),
                format!("Duplicate value: {:?}", p.resource_name),
            ));
            continue;
        }
        seen.push(p.resource_name.clone());
        match p.resource_name.as_str() {
            resources::CPU => out.0 = restarts,
            resources::MEMORY => out.1 = restarts,
            other => diags.push(src.error(
                &format!("{at}.resourceName"),
                format!("Unsupported value: {other:?}: supported values: \"cpu\", \"memory\""),
            )),
        }
    }
    out
}

fn is_native(name: &str) -> bool {
    matches!(
        name,
        resources::CPU | resources::MEMORY | resources::EPHEMERAL_STORAGE
    ) || name.starts_with("hugepages-")
}

/// Parses a resource map (`cpu` → millicores, memory-like → bytes, others → whole numbers).
pub fn quantities(
    map: &BTreeMap<String, K8sQuantity>,
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> Resources {
    let mut out = Resources::default();
    for (name, q) in map {
        if let Some(v) = resource_amount(name, &q.0, |msg| {
            diags.push(src.error(&format!("{path}.{name}"), msg))
        }) {
            out.set(name, v);
        }
    }
    out
}

/// One resource amount in the simulator's unit, or an error message through `report`.
pub fn resource_amount(name: &str, text: &str, mut report: impl FnMut(String)) -> Option<i64> {
    let q = match Quantity::parse(text) {
        Ok(q) => q,
        Err(e) => {
            report(e.to_string());
            return None;
        }
    };
    if q.is_negative() {
        report(format!("{text:?} must be greater than or equal to 0"));
        return None;
    }
    let (amount, limit, shown) = match name {
        resources::CPU => (q.milli_value(), MAX_CPU_MILLIS, "100000 cores"),
        resources::MEMORY | "ephemeral-storage" => (q.value(), MAX_BYTES, "64Ti"),
        _ => (q.value(), MAX_COUNT, "1000000"),
    };
    if !is_native(name) && name != resources::CPU && !q.is_integer() {
        report(format!(
            "{text:?} must be a whole number for extended resource {name}"
        ));
        return None;
    }
    if amount > limit {
        report(format!(
            "more than any machine has: at most {shown} of {name}"
        ));
        return None;
    }
    Some(amount)
}

/// The largest amount of a resource a node, pod or container may have: beyond any real machine,
/// and small enough that the scheduler's and autoscaler's integer sums over 100 000 nodes and
/// their ×100 scores cannot overflow.
const MAX_CPU_MILLIS: i64 = 100_000_000;
const MAX_BYTES: i64 = 1 << 46;
const MAX_COUNT: i64 = 1_000_000;

/// The pod template as the scheduler, kubelet, HPA and Cluster Autoscaler see it (`annotations`:
/// the pod's, from its template's or its own metadata).
pub(super) fn pod_template(
    spec: &PodSpec,
    annotations: Option<&BTreeMap<String, String>>,
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> PodTemplate {
    if spec.containers.is_empty() {
        diags.push(src.error(
            &format!("{path}.containers"),
            "a pod needs at least one container",
        ));
    }
    let app: Vec<ContainerResources> = spec
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| container_resources(c, src, &format!("{path}.containers[{i}]"), diags))
        .collect();
    let inits: Vec<(bool, ContainerResources)> = spec
        .init_containers
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| {
            (
                c.restart_policy.as_deref() == Some("Always"),
                container_resources(c, src, &format!("{path}.initContainers[{i}]"), diags),
            )
        })
        .collect();
    let overhead = spec
        .overhead
        .as_ref()
        .map(|o| quantities(o, src, &format!("{path}.overhead"), diags))
        .unwrap_or_default();
    let requests = pod_requests(&app, &inits, &overhead, |c| c.requests.clone());
    let scoring_requests = pod_requests(&app, &inits, &overhead, nonzero_requests);
    let sidecars = inits.iter().filter(|(sidecar, _)| *sidecar).map(|(_, c)| c);
    let hpa_containers: Vec<ContainerRequests> =
        app.iter().chain(sidecars).map(container_requests).collect();
    let request_parts = request_parts(app.len(), &inits, &overhead);
    let cpu_limit_millis = (!app.is_empty() && app.iter().all(|c| c.has_cpu_limit))
        .then(|| app.iter().map(|c| c.limits.cpu_millis).sum());
    let memory_limit_bytes = (!app.is_empty() && app.iter().all(|c| c.has_memory_limit))
        .then(|| app.iter().map(|c| c.limits.memory_bytes).sum());
    PodTemplate {
        requests,
        scoring_requests,
        hpa_containers,
        request_parts,
        cpu_limit_millis,
        memory_limit_bytes,
        probes: super::probes::pod_probes(&spec.containers, src, path, diags),
        node_selector: spec.node_selector.clone().unwrap_or_default(),
        required_node_affinity: required_node_affinity(spec, src, path, diags),
        preferred_node_affinity: preferred_node_affinity(spec, src, path, diags),
        tolerations: tolerations(spec, src, path, diags),
        termination_grace: termination_grace(spec, src, path, diags),
        scheduler_name: spec.scheduler_name.clone(),
        topology_spread: super::pod_spread::topology_spread(spec, src, path, diags),
        node_name: spec.node_name.clone().filter(|n| !n.is_empty()),
        priority_class_name: spec.priority_class_name.clone().filter(|n| !n.is_empty()),
        preemption_policy: spec.preemption_policy.clone(),
        host_ports: host_ports(spec, src, path, diags),
        pod_affinity: super::pod_affinity::pod_affinity(spec, src, path, diags),
        images: spec
            .init_containers
            .iter()
            .flatten()
            .chain(&spec.containers)
            .filter_map(|c| c.image.as_deref())
            .map(super::model::normalized_image_name)
            .collect(),
        config_refs: super::config_refs::config_refs(spec),
        drain: drain_traits(spec, annotations),
        ..PodTemplate::default()
    }
}

/// The annotations and volumes the Cluster Autoscaler's drainability rules read. Local storage
/// is a `hostPath` volume or an `emptyDir` whose medium is not `Memory`; the names listed in
/// `safe-to-evict-local-volumes` (split at commas, matched exactly) do not count.
fn drain_traits(spec: &PodSpec, annotations: Option<&BTreeMap<String, String>>) -> DrainTraits {
    let annotation = |key: &str| annotations.and_then(|a| a.get(key)).map(String::as_str);
    let listed: Vec<&str> =
        annotation("cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes")
            .map(|v| v.split(',').collect())
            .unwrap_or_default();
    let local_volumes = (spec.volumes.iter().flatten())
        .filter(|v| {
            v.host_path.is_some()
                || v.empty_dir
                    .as_ref()
                    .is_some_and(|e| e.medium.as_deref() != Some("Memory"))
        })
        .filter(|v| !listed.contains(&v.name.as_str()))
        .map(|v| v.name.clone())
        .collect();
    DrainTraits {
        safe_to_evict: match annotation("cluster-autoscaler.kubernetes.io/safe-to-evict") {
            Some("true") => SafeToEvict::True,
            Some("false") => SafeToEvict::False,
            Some("on-completion") => SafeToEvict::OnCompletion,
            _ => SafeToEvict::Unset,
        },
        local_volumes,
        mirror: annotation("kubernetes.io/config.mirror").is_some(),
        daemon_set_annotation: annotation("cluster-autoscaler.kubernetes.io/daemonset-pod")
            == Some("true"),
        do_not_disrupt: match annotation(crate::spec::karpenter::DO_NOT_DISRUPT) {
            Some("true") => Some(DoNotDisrupt::Always),
            Some(v) => super::karpenter::go_duration(v, &['h', 'm', 's']).map(DoNotDisrupt::For),
            None => None,
        },
    }
}

/// The `hostPort`s of all containers (init containers included, as NodePorts counts them).
fn host_ports(
    spec: &PodSpec,
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<HostPort> {
    let containers = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| ("initContainers", c))
        .enumerate()
        .chain(
            spec.containers
                .iter()
                .map(|c| ("containers", c))
                .enumerate(),
        );
    let mut out: Vec<HostPort> = Vec::new();
    for (i, (kind, c)) in containers {
        super::ports::check_container_ports(c, &format!("{path}.{kind}[{i}]"), src, diags);
        for (j, p) in c.ports.iter().flatten().enumerate() {
            let Some(port) = p.host_port.filter(|&h| h != 0) else {
                continue;
            };
            let ppath = format!("{path}.{kind}[{i}].ports[{j}]");
            if !(1..=65535).contains(&port) {
                diags.push(src.error(
                    &format!("{ppath}.hostPort"),
                    format!("must be between 1 and 65535, inclusive, got {port}"),
                ));
            }
            let protocol = p.protocol.clone().unwrap_or_else(|| "TCP".into());
            if !["TCP", "UDP", "SCTP"].contains(&protocol.as_str()) {
                diags.push(src.error(
                    &format!("{ppath}.protocol"),
                    format!("{protocol:?} is not supported: use TCP, UDP or SCTP"),
                ));
            }
            let wanted = HostPort {
                ip: p.host_ip.clone().unwrap_or_else(|| "0.0.0.0".into()),
                protocol,
                port,
            };
            if out.contains(&wanted) {
                diags.push(src.error(
                    &format!("{ppath}.hostPort"),
                    format!("duplicate host port {port}/{}", wanted.protocol),
                ));
            }
            out.push(wanted);
        }
    }
    out
}

/// NodeResourcesFit's non-zero defaults: 100m cpu and 200Mi memory for a container requesting none.
fn nonzero_requests(c: &ContainerResources) -> Resources {
    let mut r = c.requests.clone();
    if !c.has_cpu_request {
        r.cpu_millis = 100;
    }
    if !c.has_memory_request {
        r.memory_bytes = 200 * 1024 * 1024;
    }
    r
}

/// A container's cpu and memory requests and limits as the HPA and a resize read them.
fn container_requests(c: &ContainerResources) -> ContainerRequests {
    ContainerRequests {
        name: c.name.clone(),
        cpu_millis: c.has_cpu_request.then_some(c.requests.cpu_millis),
        memory_bytes: c.has_memory_request.then_some(c.requests.memory_bytes),
        cpu_limit_millis: c.has_cpu_limit.then_some(c.limits.cpu_millis),
        memory_limit_bytes: c.has_memory_limit.then_some(c.limits.memory_bytes),
        cpu_resize_restarts: c.cpu_resize_restarts,
        memory_resize_restarts: c.memory_resize_restarts,
    }
}

/// The init containers (a sidecar by its index among the app containers and sidecars) and the
/// overhead, from which a resize recomputes the pod's requests.
fn request_parts(
    app: usize,
    inits: &[(bool, ContainerResources)],
    overhead: &Resources,
) -> RequestParts {
    let mut sidecars = 0;
    let steps = inits
        .iter()
        .map(|(is_sidecar, c)| {
            if *is_sidecar {
                sidecars += 1;
                InitStep::Sidecar(app + sidecars - 1)
            } else {
                InitStep::Plain(container_requests(c))
            }
        })
        .collect();
    RequestParts {
        sidecars,
        inits: steps,
        overhead: CpuMemoryAmount {
            cpu_millis: overhead.cpu_millis,
            memory_bytes: overhead.memory_bytes,
        },
    }
}

/// `resourcehelper.PodRequests`: max(Σ app + Σ sidecars, each init container plus the sidecars
/// started before it), plus overhead.
fn pod_requests(
    app: &[ContainerResources],
    inits: &[(bool, ContainerResources)],
    overhead: &Resources,
    request_of: impl Fn(&ContainerResources) -> Resources,
) -> Resources {
    let mut total = Resources::default();
    for c in app {
        total.add(&request_of(c));
    }
    let mut sidecars_so_far = Resources::default();
    let mut init_peak = Resources::default();
    for (is_sidecar, c) in inits {
        let r = request_of(c);
        if *is_sidecar {
            total.add(&r);
            sidecars_so_far.add(&r);
            init_peak.max_each(&sidecars_so_far);
        } else {
            let mut step = r;
            step.add(&sidecars_so_far);
            init_peak.max_each(&step);
        }
    }
    total.max_each(&init_peak);
    total.add(overhead);
    total
}

/// `affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`.
fn required_node_affinity(
    spec: &PodSpec,
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<NodeSelectorTerm> {
    let base = format!(
        "{path}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
    );
    let Some(required) = node_affinity_of(spec).and_then(|a| {
        a.required_during_scheduling_ignored_during_execution
            .as_ref()
    }) else {
        return Vec::new();
    };
    if required.node_selector_terms.is_empty() {
        diags.push(src.error(&base, "must have at least one node selector term"));
    }
    required
        .node_selector_terms
        .iter()
        .enumerate()
        .map(|(i, t)| node_selector_term(t, src, &format!("{base}[{i}]"), diags))
        .collect()
}

/// `affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution`.
fn preferred_node_affinity(
    spec: &PodSpec,
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(i64, NodeSelectorTerm)> {
    let base =
        format!("{path}.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution");
    let preferred = node_affinity_of(spec).and_then(|a| {
        a.preferred_during_scheduling_ignored_during_execution
            .as_ref()
    });
    preferred
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, p)| {
            let ppath = format!("{base}[{i}]");
            if !(1..=100).contains(&p.weight) {
                diags.push(src.error(&format!("{ppath}.weight"), "must be in the range 1-100"));
            }
            let term =
                node_selector_term(&p.preference, src, &format!("{ppath}.preference"), diags);
            (i64::from(p.weight), term)
        })
        .collect()
}

fn node_affinity_of(spec: &PodSpec) -> Option<&k8s_openapi::api::core::v1::NodeAffinity> {
    spec.affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
}

fn node_selector_term(
    term: &k8s_openapi::api::core::v1::NodeSelectorTerm,
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> NodeSelectorTerm {
    let mut convert =
        |field: &str, list: Option<&Vec<k8s_openapi::api::core::v1::NodeSelectorRequirement>>| {
            let mut out = Vec::new();
            for (i, r) in list.into_iter().flatten().enumerate() {
                let rpath = format!("{path}.{field}[{i}]");
                let Some(operator) = NodeOperator::parse(&r.operator) else {
                    diags.push(src.error(
                    &format!("{rpath}.operator"),
                    format!("{:?} is not a valid operator: use In, NotIn, Exists, DoesNotExist, Gt or Lt", r.operator),
                ));
                    continue;
                };
                let req = NodeRequirement {
                    key: r.key.clone(),
                    operator,
                    values: r.values.clone().unwrap_or_default(),
                };
                if let Err(e) = req.validate() {
                    diags.push(src.error(&format!("{rpath}.values"), e));
                }
                // The API server checks In and NotIn values as label values since Kubernetes
                // 1.33 (kubernetes#128212); before, the scheduler took such a term to match
                // no node.
                if field == "matchExpressions"
                    && matches!(operator, NodeOperator::In | NodeOperator::NotIn)
                {
                    for (j, v) in req.values.iter().enumerate() {
                        if let Some(e) = crate::spec::selector::label_value_error(v) {
                            diags.push(src.error(&format!("{rpath}.values[{j}]"), e));
                        }
                    }
                }
                if field == "matchFields"
                    && (r.key != "metadata.name"
                        || !matches!(operator, NodeOperator::In | NodeOperator::NotIn))
                {
                    diags.push(src.error(
                        &rpath,
                        "matchFields supports only key metadata.name with operator In or NotIn",
                    ));
                }
                out.push(req);
            }
            out
        };
    NodeSelectorTerm {
        match_expressions: convert("matchExpressions", term.match_expressions.as_ref()),
        match_fields: convert("matchFields", term.match_fields.as_ref()),
    }
}

fn tolerations(
    spec: &PodSpec,
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Toleration> {
    let mut out = Vec::new();
    for (i, t) in spec.tolerations.iter().flatten().enumerate() {
        let tpath = format!("{path}.tolerations[{i}]");
        let exists = match t.operator.as_deref() {
            None | Some("Equal") => false,
            Some("Exists") => true,
            Some(other) => {
                diags.push(src.error(
                    &format!("{tpath}.operator"),
                    format!("{other:?} is not a valid operator: use Equal or Exists"),
                ));
                continue;
            }
        };
        let effect = match t.effect.as_deref() {
            None | Some("") => None,
            Some(e) => match TaintEffect::parse(e) {
                Some(effect) => Some(effect),
                None => {
                    diags.push(src.error(&format!("{tpath}.effect"), format!("{e:?} is not a valid effect: use NoSchedule, PreferNoSchedule or NoExecute")));
                    continue;
                }
            },
        };
        out.push(Toleration {
            key: t.key.clone().unwrap_or_default(),
            exists,
            value: t.value.clone().unwrap_or_default(),
            effect,
            seconds: t.toleration_seconds,
        });
    }
    out
}

fn termination_grace(
    spec: &PodSpec,
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> SimDuration {
    match spec.termination_grace_period_seconds {
        None => SimDuration::from_secs(30),
        Some(s) if s >= 0 => SimDuration::from_secs(s as u64),
        Some(_) => {
            diags.push(src.error(
                &format!("{path}.terminationGracePeriodSeconds"),
                "must be greater than or equal to 0",
            ));
            SimDuration::ZERO
        }
    }
}

/// The Deployments (by index) a Service's selector picks, in its namespace.
pub fn service_backends(
    m: &Manifest<Service>,
    deployments: &[DeploymentSpec],
) -> (LabelSelector, Vec<usize>) {
    let selector = LabelSelector::from_match_labels(
        m.object
            .spec
            .as_ref()
            .and_then(|s| s.selector.clone())
            .unwrap_or_default(),
    );
    let namespace = namespace_of(&m.object.metadata);
    let backends = if selector.is_empty() {
        Vec::new() // a Service without a selector gets no managed endpoints
    } else {
        deployments
            .iter()
            .enumerate()
            .filter(|(_, d)| d.namespace == namespace && selector.matches(&d.template_labels))
            .map(|(i, _)| i)
            .collect()
    };
    (selector, backends)
}

/// A Service's `spec.type` (`ClusterIP` when absent) and its ports as `kubectl get services`
/// prints them: `port[:nodePort]/protocol`.
pub fn service_type_and_ports(m: &Manifest<Service>) -> (String, Vec<String>) {
    let spec = m.object.spec.as_ref();
    let service_type = spec
        .and_then(|s| s.type_.clone())
        .unwrap_or_else(|| "ClusterIP".to_string());
    let ports = spec
        .and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
        .map(|p| {
            let protocol = p.protocol.as_deref().unwrap_or("TCP");
            match p.node_port {
                Some(node_port) => format!("{}:{node_port}/{protocol}", p.port),
                None => format!("{}/{protocol}", p.port),
            }
        })
        .collect();
    (service_type, ports)
}

/// Converts an HPA (autoscaling/v2) against the Deployments.
/// The annotation that lets an HPA name a Deployment that does not exist, to simulate the
/// `FailedGetScale` condition instead of failing validation.
pub const ALLOW_MISSING_TARGET: &str = "kubesim.io/allow-missing-target";

pub fn hpa_spec(
    m: &Manifest<HorizontalPodAutoscaler>,
    deployments: &[DeploymentSpec],
    incomplete: bool,
    diags: &mut Vec<Diagnostic>,
) -> Option<HpaSpec> {
    let src = &m.source;
    let name = m.object.metadata.name.clone().unwrap_or_default();
    let namespace = namespace_of(&m.object.metadata);
    let Some(spec) = &m.object.spec else {
        diags.push(src.error("spec", "a HorizontalPodAutoscaler needs a spec"));
        return None;
    };
    let target_ref = &spec.scale_target_ref;
    let kind = match target_ref.kind.as_str() {
        "Deployment" => Some(super::model::PodSource::ReplicaSet),
        "StatefulSet" => Some(super::model::PodSource::StatefulSet),
        "ReplicationController" => Some(super::model::PodSource::ReplicationController),
        _ => None,
    };
    let target = if let Some(kind) = kind {
        let scalable = |d: &DeploymentSpec| d.source == kind;
        let found = deployments
            .iter()
            .position(|d| scalable(d) && d.name == target_ref.name && d.namespace == namespace);
        if found.is_none() && !incomplete {
            let names: Vec<&str> = deployments
                .iter()
                .filter(|d| scalable(d))
                .map(|d| d.name.as_str())
                .collect();
            let hint = did_you_mean_hint(&target_ref.name, names);
            // Kubernetes accepts such an HPA and reports FailedGetScale at every sync. Almost
            // always a mistake, so an error unless the HPA says it is deliberate.
            let allowed = m
                .object
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(ALLOW_MISSING_TARGET))
                .is_some_and(|v| v == "true");
            let message = format!(
                "{} {:?} not found in namespace {namespace:?}{hint}",
                target_ref.kind, target_ref.name
            );
            diags.push(if allowed {
                src.warning(
                    "spec.scaleTargetRef.name",
                    format!("{message}; this HPA will only report FailedGetScale"),
                )
            } else {
                src.error("spec.scaleTargetRef.name", message)
            });
        }
        Some(found)
    } else {
        diags.push(src.error(
            "spec.scaleTargetRef.kind",
            format!(
                "{} targets are not modelled yet; kubesim scales Deployments, StatefulSets and ReplicationControllers",
                target_ref.kind
            ),
        ));
        None
    };
    let min_replicas = spec.min_replicas.unwrap_or(1);
    let max_replicas = spec.max_replicas;
    let metrics = hpa_metrics(spec, src, diags);
    check_replica_bounds(min_replicas, max_replicas, &metrics, src, diags);
    let behavior = spec.behavior.as_ref().map(|b| hpa_behavior(b, src, diags));
    // Returned even with errors (the load fails on them) so its metrics are still resolved.
    Some(HpaSpec {
        name,
        namespace,
        target: target?,
        target_name: target_ref.name.clone(),
        min_replicas,
        max_replicas,
        metrics,
        behavior,
        keda: None,
    })
}

fn check_replica_bounds(
    min: i32,
    max: i32,
    metrics: &[HpaMetric],
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) {
    if min < 0 {
        diags.push(src.error("spec.minReplicas", "must be greater than or equal to 0"));
    }
    // HPAScaleToZero: minReplicas 0 needs a metric that can see load with no pods running.
    if min == 0
        && !metrics
            .iter()
            .any(|m| matches!(m, HpaMetric::External { .. } | HpaMetric::Object { .. }))
    {
        diags.push(src.error(
            "spec.minReplicas",
            "0 is only allowed with an Object or External metric (HPAScaleToZero); use 1 or more",
        ));
    }
    if max < 1 {
        diags.push(src.error("spec.maxReplicas", "must be greater than 0"));
    } else if max > super::model::MAX_REPLICAS {
        diags.push(src.error(
            "spec.maxReplicas",
            format!(
                "{max} replicas is beyond what one simulation holds: at most {}",
                super::model::MAX_REPLICAS
            ),
        ));
    } else if max < min {
        diags.push(src.error(
            "spec.maxReplicas",
            format!("must be greater than or equal to `minReplicas` ({min}), got {max}"),
        ));
    }
}

fn hpa_metrics(
    spec: &k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerSpec,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> Vec<HpaMetric> {
    let Some(list) = spec.metrics.as_ref().filter(|l| !l.is_empty()) else {
        return vec![HpaMetric::Resource {
            resource: HpaResource::Cpu,
            container: None,
            target: ResourceTarget::Utilization(80),
        }];
    };
    let mut out = Vec::new();
    for (i, metric) in list.iter().enumerate() {
        let path = format!("spec.metrics[{i}]");
        if let Some(m) = supported_metric(metric, src, &path, diags) {
            out.push(m);
            continue;
        }
        if !matches!(
            metric.type_.as_str(),
            "Resource" | "Pods" | "Object" | "External" | "ContainerResource"
        ) {
            diags.push(src.error(&format!("{path}.type"), format!("{:?} is not a metric source type: use Resource, Pods, Object, External or ContainerResource", metric.type_)));
            continue;
        }
        let description = format!("{} metric", metric.type_);
        diags.push(src.warning(&path, format!("{description} is not modelled: metrics-server reports only cpu and memory, so this HPA treats it as unavailable")));
        out.push(HpaMetric::Unsupported { description });
    }
    out
}

/// A metric kubesim models, or `None` (with errors reported for invalid targets) otherwise.
/// Returns `Some` only when the metric is consumed here.
fn supported_metric(
    metric: &MetricSpec,
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<HpaMetric> {
    let kind = metric.type_.as_str();
    let field = match kind {
        "Resource" => "resource",
        "ContainerResource" => "containerResource",
        "Pods" => "pods",
        "Object" => "object",
        "External" => "external",
        _ => return None,
    };
    let present = match kind {
        "Resource" => metric.resource.is_some(),
        "ContainerResource" => metric.container_resource.is_some(),
        "Pods" => metric.pods.is_some(),
        "Object" => metric.object.is_some(),
        _ => metric.external.is_some(),
    };
    if !present {
        diags.push(src.error(
            &format!("{path}.{field}"),
            format!("must be set for a metric of type {kind}"),
        ));
        // Consumed: the error fails the load, no "not modelled" warning on top.
        return Some(HpaMetric::Unsupported {
            description: format!("{kind} metric"),
        });
    }
    let fpath = format!("{path}.{field}");
    if let Some(r) = &metric.resource {
        return resource_metric(&r.name, None, &r.target, &fpath, src, diags);
    }
    if let Some(r) = &metric.container_resource {
        return resource_metric(&r.name, Some(&r.container), &r.target, &fpath, src, diags);
    }
    if let Some(p) = &metric.pods {
        if p.target.type_ != "AverageValue" {
            diags.push(src.error(
                &format!("{fpath}.target.type"),
                "must be AverageValue for a Pods metric",
            ));
            return Some(HpaMetric::Unsupported {
                description: "Pods metric".into(),
            });
        }
        return Some(HpaMetric::Pods {
            metric: p.metric.name.clone(),
            source: PodMetricSource::from_builtin_name(&p.metric.name),
            target_milli: average_value(&p.target, &format!("{fpath}.target"), src, diags),
        });
    }
    if let Some(e) = &metric.external {
        let target = value_target(&e.target, &format!("{fpath}.target"), src, diags);
        return Some(HpaMetric::External {
            metric: e.metric.name.clone(),
            series: None,
            from_pods: None,
            target,
        });
    }
    let o = metric.object.as_ref()?;
    let target = value_target(&o.target, &format!("{fpath}.target"), src, diags);
    Some(HpaMetric::Object {
        metric: o.metric.name.clone(),
        series: None,
        target,
    })
}

/// A Resource or ContainerResource metric on cpu or memory (what metrics-server reports);
/// `None` for other resources.
fn resource_metric(
    name: &str,
    container: Option<&String>,
    target: &MetricTarget,
    path: &str,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> Option<HpaMetric> {
    let resource = match name {
        "cpu" => HpaResource::Cpu,
        "memory" => HpaResource::Memory,
        _ => return None,
    };
    if container.is_some_and(|c| c.is_empty()) {
        diags.push(src.error(&format!("{path}.container"), "must name a container"));
    }
    let tpath = format!("{path}.target");
    let target = match target.type_.as_str() {
        "Utilization" => match target.average_utilization {
            Some(p) if p > 0 => ResourceTarget::Utilization(p),
            _ => {
                diags.push(src.error(
                    &format!("{tpath}.averageUtilization"),
                    "must be set and greater than 0 for a Utilization target",
                ));
                ResourceTarget::Utilization(1)
            }
        },
        "AverageValue" => ResourceTarget::AverageValue(average_value(target, &tpath, src, diags)),
        other => {
            diags.push(src.error(
                &format!("{tpath}.type"),
                format!("{other:?} is not supported here: use Utilization or AverageValue"),
            ));
            ResourceTarget::Utilization(1)
        }
    };
    Some(HpaMetric::Resource {
        resource,
        container: container.cloned(),
        target,
    })
}

/// A target's `averageValue` in milli-units (must be set and positive).
fn average_value(
    target: &MetricTarget,
    tpath: &str,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> i64 {
    let path = format!("{tpath}.averageValue");
    let Some(q) = &target.average_value else {
        diags.push(src.error(&path, "must be set for an AverageValue target"));
        return 1;
    };
    match Quantity::parse(&q.0) {
        Ok(v) if v.milli_value() > 0 => v.milli_value(),
        Ok(_) => {
            diags.push(src.error(&path, "must be greater than 0"));
            1
        }
        Err(e) => {
            diags.push(src.error(&path, e.to_string()));
            1
        }
    }
}

/// A Value or AverageValue target of an Object or External metric.
fn value_target(
    target: &MetricTarget,
    tpath: &str,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> ValueTarget {
    match target.type_.as_str() {
        "AverageValue" => ValueTarget::AverageValue(average_value(target, tpath, src, diags)),
        "Value" => match target.value.as_ref().map(|q| Quantity::parse(&q.0)) {
            Some(Ok(v)) if v.milli_value() > 0 => ValueTarget::Value(v.milli_value()),
            Some(Ok(_)) => {
                diags.push(src.error(&format!("{tpath}.value"), "must be greater than 0"));
                ValueTarget::Value(1)
            }
            Some(Err(e)) => {
                diags.push(src.error(&format!("{tpath}.value"), e.to_string()));
                ValueTarget::Value(1)
            }
            None => {
                diags.push(src.error(&format!("{tpath}.value"), "must be set for a Value target"));
                ValueTarget::Value(1)
            }
        },
        other => {
            diags.push(src.error(
                &format!("{tpath}.type"),
                format!("{other:?} is not supported here: use Value or AverageValue"),
            ));
            ValueTarget::Value(1)
        }
    }
}

/// Converts and validates `spec.behavior`, applying the upstream defaults field by field.
fn hpa_behavior(
    b: &k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerBehavior,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> behavior::Behavior {
    let up = b
        .scale_up
        .as_ref()
        .map(|r| scaling_rules(r, src, "spec.behavior.scaleUp", diags));
    let down = b
        .scale_down
        .as_ref()
        .map(|r| scaling_rules(r, src, "spec.behavior.scaleDown", diags));
    behavior::Behavior {
        scale_up: behavior::scale_up_rules(up.as_ref()),
        scale_down: behavior::scale_down_rules(down.as_ref()),
    }
}

/// One direction's rules as written, validated like the API server does.
fn scaling_rules(
    r: &k8s_openapi::api::autoscaling::v2::HPAScalingRules,
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> behavior::PartialRules {
    use behavior::{PolicyKind, ScalingPolicy, SelectPolicy};
    let stabilization_window = r.stabilization_window_seconds.and_then(|w| {
        if (0..=3600).contains(&w) {
            Some(SimDuration::from_secs(w as u64))
        } else {
            diags.push(src.error(
                &format!("{path}.stabilizationWindowSeconds"),
                format!("must be between 0 and 3600, got {w}"),
            ));
            None
        }
    });
    let select_policy = r.select_policy.as_deref().and_then(|p| match p {
        "Max" => Some(SelectPolicy::Max),
        "Min" => Some(SelectPolicy::Min),
        "Disabled" => Some(SelectPolicy::Disabled),
        other => {
            diags.push(src.error(
                &format!("{path}.selectPolicy"),
                format!("{other:?} is not supported: use Max, Min or Disabled"),
            ));
            None
        }
    });
    let policies = r.policies.as_ref().map(|list| {
        list.iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let ppath = format!("{path}.policies[{i}]");
                let kind = match p.type_.as_str() {
                    "Pods" => PolicyKind::Pods,
                    "Percent" => PolicyKind::Percent,
                    other => {
                        diags.push(src.error(
                            &format!("{ppath}.type"),
                            format!("{other:?} is not supported: use Pods or Percent"),
                        ));
                        return None;
                    }
                };
                if p.value <= 0 {
                    diags.push(src.error(&format!("{ppath}.value"), "must be greater than zero"));
                }
                if !(1..=1800).contains(&p.period_seconds) {
                    diags.push(src.error(
                        &format!("{ppath}.periodSeconds"),
                        format!("must be between 1 and 1800, got {}", p.period_seconds),
                    ));
                }
                Some(ScalingPolicy {
                    kind,
                    value: p.value,
                    period: SimDuration::from_secs(p.period_seconds.clamp(1, 1800) as u64),
                })
            })
            .collect()
    });
    if r.policies.as_ref().is_some_and(|p| p.is_empty()) {
        diags.push(src.error(
            &format!("{path}.policies"),
            "must not be empty when set (omit it for the defaults)",
        ));
    }
    let tolerance = r
        .tolerance
        .as_ref()
        .and_then(|q| match Quantity::parse(&q.0) {
            Ok(t) if !t.is_negative() => Some(t.as_f64()),
            Ok(_) => {
                diags.push(src.error(
                    &format!("{path}.tolerance"),
                    "must be greater than or equal to 0",
                ));
                None
            }
            Err(e) => {
                diags.push(src.error(&format!("{path}.tolerance"), e.to_string()));
                None
            }
        });
    behavior::PartialRules {
        stabilization_window,
        select_policy,
        policies,
        tolerance,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_amounts_are_bounded_by_any_machine() {
        // (resource, quantity, accepted amount): cpu in millicores, memory in bytes.
        let cases = [
            ("cpu", "100000", Some(100_000_000)),
            ("cpu", "100001", None),
            ("cpu", "1e308", None),
            ("memory", "64Ti", Some(1 << 46)),
            ("memory", "65Ti", None),
            ("nvidia.com/gpu", "1000000", Some(1_000_000)),
            ("nvidia.com/gpu", "1000001", None),
            ("pods", "1e9", None),
        ];
        for (name, text, expected) in cases {
            let mut errors = Vec::new();
            let amount = resource_amount(name, text, |e| errors.push(e));
            assert_eq!(amount, expected, "{name} {text}: {errors:?}");
            assert_eq!(errors.is_empty(), expected.is_some(), "{name} {text}");
        }
    }

    fn load(text: &str) -> (ManifestSet, Vec<Diagnostic>) {
        let mut set = ManifestSet::default();
        let mut diags = Vec::new();
        add_text(&mut set, "app.yaml", text, &mut diags);
        (set, diags)
    }

    const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n        - name: app\n          resources:\n            requests: {cpu: 250m, memory: 256Mi}\n            limits: {cpu: \"1\"}\n";

    #[test]
    fn deployment_defaults_and_requests() {
        let (set, diags) = load(DEPLOYMENT);
        assert!(diags.is_empty(), "{diags:?}");
        let mut d = Vec::new();
        let spec = deployment_spec(&set.deployments[0], &mut d).unwrap();
        assert_eq!(spec.replicas, 1, "API default replicas = 1");
        assert_eq!(spec.namespace, "default");
        assert_eq!(spec.pod.requests.cpu_millis, 250);
        assert_eq!(spec.pod.requests.memory_bytes, 256 << 20);
        assert_eq!(spec.pod.cpu_limit_millis, Some(1000));
        assert_eq!(
            spec.pod.hpa_request_milli(HpaResource::Cpu, None),
            Some(250)
        );
        // 256Mi in milli-bytes, as the HPA compares MilliValue()s.
        assert_eq!(
            spec.pod.hpa_request_milli(HpaResource::Memory, None),
            Some((256 << 20) * 1000)
        );
        assert_eq!(spec.pod.termination_grace, SimDuration::from_secs(30));
    }

    #[test]
    fn sidecars_and_init_containers_follow_pod_requests() {
        // app 200m + sidecar 100m = 300m; init 500m (+ 0 sidecars before it) → max = 500m.
        // memory: app none (0) + sidecar 64Mi = 64Mi; init 0 → 64Mi. Scoring adds 200Mi for the app
        // container without a memory request: 200Mi + 64Mi = 264Mi.
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      initContainers:\n        - {name: init, resources: {requests: {cpu: 500m}}}\n        - {name: proxy, restartPolicy: Always, resources: {requests: {cpu: 100m, memory: 64Mi}}}\n      containers:\n        - {name: app, resources: {requests: {cpu: 200m}}}\n";
        let (set, diags) = load(text);
        assert!(diags.is_empty(), "{diags:?}");
        let spec = deployment_spec(&set.deployments[0], &mut Vec::new()).unwrap();
        assert_eq!(spec.pod.requests.cpu_millis, 500);
        assert_eq!(spec.pod.requests.memory_bytes, 64 << 20);
        assert_eq!(spec.pod.scoring_requests.memory_bytes, (200 + 64) << 20);
        // A resize to the same containers recomputes the same requests from the parts.
        let same = spec.pod.resized(spec.pod.hpa_containers.clone());
        assert_eq!(same.requests, spec.pod.requests);
        assert_eq!(same.scoring_requests, spec.pod.scoring_requests);
        // The sidecar grown to 600m. The plain init container starts first (500m with no
        // sidecar beside it), then the sidecar (600m): the init peak is 600m; the containers
        // sum to 200m + 600m = 800m, which is larger.
        let mut grown = spec.pod.hpa_containers.clone();
        grown[1].cpu_millis = Some(600);
        assert_eq!(spec.pod.resized(grown).requests.cpu_millis, 800);
        assert_eq!(
            spec.pod.hpa_request_milli(HpaResource::Cpu, None),
            Some(300),
            "HPA sums app + sidecar requests"
        );
        // calculatePodRequests with a container name takes only that container.
        assert_eq!(
            spec.pod.hpa_request_milli(HpaResource::Cpu, Some("proxy")),
            Some(100)
        );
        // The app container has no memory request: the pod-level memory request is missing,
        // the sidecar's alone is 64Mi; an unknown container has none.
        assert_eq!(spec.pod.hpa_request_milli(HpaResource::Memory, None), None);
        assert_eq!(
            spec.pod
                .hpa_request_milli(HpaResource::Memory, Some("proxy")),
            Some((64 << 20) * 1000)
        );
        assert_eq!(
            spec.pod.hpa_request_milli(HpaResource::Cpu, Some("nope")),
            None
        );
        assert_eq!(
            spec.pod.hpa_request_milli(HpaResource::Cpu, Some("init")),
            None,
            "a non-restartable init container is not counted"
        );
    }

    #[test]
    fn list_kind_and_unknown_kinds() {
        let text = "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ServiceAccount\n    metadata: {name: cfg}\n  - apiVersion: v1\n    kind: Service\n    metadata: {name: web}\n    spec: {selector: {app: web}}\n";
        let (set, diags) = load(text);
        assert_eq!(set.services.len(), 1);
        assert!(diags.is_empty(), "{diags:?}");
        let notes = set.skipped_notes();
        assert_eq!(notes.len(), 1);
        assert_eq!(
            notes[0].message,
            "skipped ServiceAccount \"cfg\": kind not modelled"
        );
        assert!(!notes[0].is_error());
    }

    #[test]
    fn skipped_objects_are_told_once_per_kind_at_the_first() {
        let object = |kind: &str, name: &str| {
            format!("apiVersion: v1\nkind: {kind}\nmetadata: {{name: {name}}}\n")
        };
        let docs: Vec<String> = [
            ("ServiceAccount", "a"),
            ("Role", "cfg"),
            ("ServiceAccount", "b"),
        ]
        .into_iter()
        .chain((0..3).map(|_| ("ServiceAccount", "z")))
        .map(|(k, n)| object(k, n))
        .collect();
        let (set, _) = load(&docs.join("---\n"));
        let notes = set.skipped_notes();
        let messages: Vec<&str> = notes.iter().map(|n| n.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "skipped Role \"cfg\": kind not modelled",
                "skipped 5 ServiceAccount objects (\"a\", \"b\", \"z\", and 2 more): kind not modelled",
            ]
        );
        // At the first ServiceAccount (line 2: its `kind:`), not the last.
        assert_eq!(notes[1].position.map(|p| p.line), Some(2));
    }

    #[test]
    fn bad_quantity_is_located_with_its_path() {
        let (set, _) = load(&DEPLOYMENT.replace("250m", "\"1.5.0\""));
        let mut diags = Vec::new();
        // The spec is still returned (so references to it are checked); the error is reported.
        assert!(deployment_spec(&set.deployments[0], &mut diags).is_some());
        assert_eq!(diags.len(), 1);
        assert_eq!(
            diags[0].to_string(),
            "app.yaml:12:29: spec.template.spec.containers[0].resources.requests.cpu: \"1.5.0\" is not a quantity: expected a number such as 100m, 1.5, 2Gi or 1e3"
        );
    }

    #[test]
    fn typo_in_manifest_field_is_a_warning_with_a_hint() {
        let (_, diags) = load(&DEPLOYMENT.replace("  selector:", "  replcas: 3\n  selector:"));
        assert_eq!(diags.len(), 1);
        assert!(
            diags[0]
                .to_string()
                .contains("spec.replcas: unknown field \"replcas\" (did you mean \"replicas\"?)"),
            "{}",
            diags[0]
        );
    }
}
