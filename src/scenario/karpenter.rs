//! Karpenter's objects from the manifests: `karpenter.sh/v1` NodePools and
//! `karpenter.k8s.aws/v1` EC2NodeClasses, validated as Karpenter's CRD and webhooks validate
//! them (kubernetes-sigs/karpenter v1.14.1, `nodepool_validation_cel_test.go`), and each
//! NodePool expanded into the offerings it may launch: one node pool of the cluster per
//! catalogued instance type × capacity type × zone that its requirements admit.
//!
//! Instance types come from the built-in catalogue (`assets/instances/aws.yaml`) with the
//! labels Karpenter's AWS provider computes for them (`instance-family`, `-category`,
//! `-generation`, `-size`, `-cpu`, `-memory`, `-gpu-count`, `-gpu-name`; `kubernetes.io/arch`).
//! Zones are the region's: `us-east-1a` … `us-east-1e` stand for the zone IDs `use1-az1`,
//! `-az2`, `-az4`, `-az5`, `-az6` (the catalogue's spot prices are by zone ID; zone names are
//! per-account aliases, so this mapping is an assumption); a NodePool that does not restrict
//! `topology.kubernetes.io/zone` gets the first three, as a VPC with three subnets gives.
//! EC2NodeClasses are read only so that a NodePool's `nodeClassRef` resolves: AMIs, subnets and
//! security groups are not modelled.

mod offerings;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::cron::CronSchedule;
use super::diag::{Diagnostic, did_you_mean_hint};
use super::manifest::{Manifest, ManifestSet, Source, decode_typed};
use crate::cluster::resources::{Taint, TaintEffect};
use crate::sim::{SimDuration, SimTime};
use crate::spec::instances;
use crate::spec::karpenter::{
    Budget, ConsolidationPolicy, DisruptionReason, Limits, NodePool, Operator, Requirement,
};
use crate::spec::quantity::Quantity;
use crate::spec::rollout::IntOrPercent;
pub use offerings::OfferingSpec;
use offerings::offerings;

/// A `NodePool` as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePoolManifest {
    #[allow(dead_code, reason = "read so that a strict parse accepts it")]
    pub api_version: Option<String>,
    #[allow(dead_code, reason = "read so that a strict parse accepts it")]
    pub kind: Option<String>,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: Option<RawNodePoolSpec>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawNodePoolSpec {
    pub template: Option<RawTemplate>,
    pub disruption: Option<RawDisruption>,
    #[serde(default)]
    pub limits: BTreeMap<String, K8sQuantity>,
    pub weight: Option<i64>,
    pub replicas: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawTemplate {
    pub metadata: Option<RawTemplateMeta>,
    pub spec: Option<RawTemplateSpec>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawTemplateMeta {
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    #[allow(dead_code, reason = "read so that a strict parse accepts it")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawTemplateSpec {
    #[serde(default)]
    pub requirements: Vec<RawRequirement>,
    #[serde(default)]
    pub taints: Vec<RawTaint>,
    #[serde(default)]
    pub startup_taints: Vec<RawTaint>,
    pub node_class_ref: Option<RawNodeClassRef>,
    pub expire_after: Option<String>,
    pub termination_grace_period: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawRequirement {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub operator: String,
    #[serde(default)]
    pub values: Vec<String>,
    pub min_values: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawTaint {
    #[serde(default)]
    pub key: String,
    pub value: Option<String>,
    #[serde(default)]
    pub effect: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawNodeClassRef {
    #[allow(dead_code, reason = "read so that a strict parse accepts it")]
    pub group: Option<String>,
    pub kind: Option<String>,
    #[serde(default)]
    pub name: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawDisruption {
    pub consolidation_policy: Option<String>,
    pub consolidate_after: Option<String>,
    pub budgets: Option<Vec<RawBudget>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawBudget {
    pub nodes: Option<String>,
    pub schedule: Option<String>,
    pub duration: Option<String>,
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// An `EC2NodeClass` as written: only its name is used.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeClassManifest {
    #[allow(dead_code, reason = "read so that a strict parse accepts it")]
    pub api_version: Option<String>,
    #[allow(dead_code, reason = "read so that a strict parse accepts it")]
    pub kind: Option<String>,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[allow(dead_code, reason = "AMIs, subnets and roles are not modelled")]
    pub spec: Option<serde_json::Value>,
    #[allow(dead_code, reason = "read so that a strict parse accepts it")]
    pub status: Option<serde_json::Value>,
}

/// Reads a NodePool into `set`.
pub fn add_node_pool(set: &mut ManifestSet, source: Source, diags: &mut Vec<Diagnostic>) {
    if let Some(object) = decode_typed::<NodePoolManifest>(&source, &mut set.incomplete, diags) {
        set.karpenter_node_pools.push(Manifest { object, source });
    }
}

/// Reads an EC2NodeClass into `set`.
pub fn add_node_class(set: &mut ManifestSet, source: Source, diags: &mut Vec<Diagnostic>) {
    if let Some(object) = decode_typed::<NodeClassManifest>(&source, &mut set.incomplete, diags) {
        set.node_classes.push(Manifest { object, source });
    }
}

/// Label keys a requirement may not name (`karpenter.sh/nodepool` is Karpenter's own).
const FORBIDDEN_KEYS: [&str; 2] = ["karpenter.sh/nodepool", "kubernetes.io/hostname"];

/// The well-known keys of Karpenter's restricted domains that a NodePool may use.
const WELL_KNOWN_RESTRICTED: [&str; 12] = [
    "karpenter.sh/capacity-type",
    "karpenter.k8s.aws/instance-category",
    "karpenter.k8s.aws/instance-family",
    "karpenter.k8s.aws/instance-generation",
    "karpenter.k8s.aws/instance-size",
    "karpenter.k8s.aws/instance-cpu",
    "karpenter.k8s.aws/instance-memory",
    "karpenter.k8s.aws/instance-gpu-count",
    "karpenter.k8s.aws/instance-gpu-name",
    "karpenter.k8s.aws/instance-hypervisor",
    "karpenter.k8s.aws/instance-cpu-manufacturer",
    "karpenter.k8s.aws/instance-local-nvme",
];

/// The NodePools of the manifests and the offerings they may launch.
#[derive(Clone, Debug, Default)]
pub struct KarpenterPools {
    /// The NodePools, in manifest order.
    pub node_pools: Vec<NodePool>,
    /// One per (NodePool, instance type, capacity type, zone) admitted, in that order.
    pub offerings: Vec<OfferingSpec>,
}

/// Every NodePool of the manifests, validated, with its offerings in `region`; `start` and
/// `run` place budget schedules (UTC) on the simulated clock.
///
/// `revisions` are the NodePools of the files scripted `apply` events apply: the offerings
/// they admit are added too (not admitted at the start), so that applying them later changes
/// only which offerings Karpenter may launch. They are read quietly: their apply event reports
/// their errors.
pub fn node_pools(
    set: &ManifestSet,
    revisions: &[Manifest<NodePoolManifest>],
    region: &str,
    start: jiff::Timestamp,
    run: SimDuration,
    diags: &mut Vec<Diagnostic>,
) -> KarpenterPools {
    let mut out = KarpenterPools::default();
    let classes = node_class_names(set);
    for m in &set.karpenter_node_pools {
        let reader = Reader {
            src: &m.source,
            diags: &mut *diags,
            errors: 0,
        };
        let Some(pool) = reader.node_pool(&m.object, &classes, set.incomplete, (start, run)) else {
            continue;
        };
        if out.node_pools.iter().any(|p| p.name == pool.name) {
            diags.push(m.source.error(
                "metadata.name",
                format!("NodePool {:?} is defined twice", pool.name),
            ));
            continue;
        }
        let index = out.node_pools.len();
        let first = offerings(&pool, index, region);
        if first.is_empty() {
            diags.push(m.source.error(
                "spec.template.spec.requirements",
                format!("no catalogued instance type, capacity type and zone of {region} satisfies every requirement: the NodePool could never launch a node"),
            ));
        }
        out.offerings.extend(first);
        for revision in revisions
            .iter()
            .filter(|r| r.object.metadata.name == m.object.metadata.name)
        {
            let quiet = Reader {
                src: &revision.source,
                diags: &mut Vec::new(),
                errors: 0,
            };
            let Some(later) = quiet.node_pool(&revision.object, &classes, true, (start, run))
            else {
                continue;
            };
            for mut o in offerings(&later, index, region) {
                if !out.offerings.iter().any(|x| x.name == o.name) {
                    o.admitted = false;
                    out.offerings.push(o);
                }
            }
        }
        out.node_pools.push(pool);
    }
    out
}

/// The EC2NodeClasses' names.
pub fn node_class_names(set: &ManifestSet) -> Vec<String> {
    (set.node_classes.iter())
        .map(|m| m.object.metadata.name.clone().unwrap_or_default())
        .collect()
}

/// A NodePool of an applied file, validated as the scenario's are: it must be one of
/// `existing` (by name). Returns its index, its new spec and the offerings (of every catalogued
/// one) that spec admits, with their labels and taints.
pub fn applied_node_pool(
    m: &Manifest<NodePoolManifest>,
    existing: &[NodePool],
    classes: &[String],
    clock: (&str, jiff::Timestamp, SimDuration),
    diags: &mut Vec<Diagnostic>,
) -> Option<(usize, NodePool, Vec<OfferingSpec>)> {
    let (region, start, run) = clock;
    let reader = Reader {
        src: &m.source,
        diags: &mut *diags,
        errors: 0,
    };
    let pool = reader.node_pool(&m.object, classes, false, (start, run))?;
    let Some(index) = existing.iter().position(|p| p.name == pool.name) else {
        let hint = did_you_mean_hint(&pool.name, existing.iter().map(|p| p.name.as_str()));
        diags.push(m.source.error(
            "metadata.name",
            format!("apply changes the scenario's NodePools only: no NodePool {:?} in the manifests{hint}", pool.name),
        ));
        return None;
    };
    let admitted = offerings(&pool, index, region);
    if admitted.is_empty() {
        diags.push(m.source.error(
            "spec.template.spec.requirements",
            format!("no catalogued instance type, capacity type and zone of {region} satisfies every requirement: the NodePool could never launch a node"),
        ));
        return None;
    }
    Some((index, pool, admitted))
}

/// Reads one NodePool, counting its errors.
struct Reader<'a> {
    src: &'a Source,
    diags: &'a mut Vec<Diagnostic>,
    errors: usize,
}

impl Reader<'_> {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.errors += 1;
        self.diags.push(self.src.error(path, message));
    }

    fn node_pool(
        mut self,
        m: &NodePoolManifest,
        classes: &[String],
        incomplete: bool,
        clock: (jiff::Timestamp, SimDuration),
    ) -> Option<NodePool> {
        let name = m.metadata.name.clone().unwrap_or_default();
        if name.is_empty() {
            self.error("metadata.name", "required");
        }
        let Some(spec) = &m.spec else {
            self.error("spec", "a NodePool needs a spec (its template)");
            return None;
        };
        if spec.replicas.is_some() {
            self.error(
                "spec.replicas",
                "static NodePools (alpha) are not modelled: leave out replicas",
            );
        }
        let default_template = RawTemplate::default();
        let template = spec.template.as_ref().unwrap_or(&default_template);
        let default_spec = RawTemplateSpec::default();
        let tspec = template.spec.as_ref().unwrap_or(&default_spec);
        let labels = template
            .metadata
            .as_ref()
            .map(|x| x.labels.clone())
            .unwrap_or_default();
        let mut requirements = self.requirements(&tspec.requirements);
        requirements.extend(self.labels(&labels));
        let node_class = self.node_class(tspec, classes, incomplete);
        let taints = self.taints(tspec);
        let p = "spec.template.spec";
        let expire_after = self.duration(
            &format!("{p}.expireAfter"),
            tspec.expire_after.as_deref(),
            Some(SimDuration::from_secs(720 * 3600)),
            true,
        );
        let termination_grace_period = self.duration(
            &format!("{p}.terminationGracePeriod"),
            tspec.termination_grace_period.as_deref(),
            None,
            false,
        );
        let disruption = spec.disruption.clone().unwrap_or_default();
        let consolidation_policy = self.policy(disruption.consolidation_policy.as_deref());
        let consolidate_after = self.duration(
            "spec.disruption.consolidateAfter",
            disruption.consolidate_after.as_deref(),
            Some(SimDuration::ZERO),
            true,
        );
        let budgets = match &disruption.budgets {
            None => NodePool::default_budgets(),
            Some(b) => self.budgets(b, clock),
        };
        let weight = self.weight(spec.weight);
        let limits = self.limits(&spec.limits);
        (self.errors == 0).then_some(NodePool {
            name,
            weight,
            requirements,
            labels,
            taints,
            expire_after,
            termination_grace_period,
            node_class,
            consolidation_policy,
            consolidate_after,
            budgets,
            limits,
        })
    }

    fn requirements(&mut self, raw: &[RawRequirement]) -> Vec<Requirement> {
        let mut out = Vec::new();
        for (i, r) in raw.iter().enumerate() {
            let path = format!("spec.template.spec.requirements[{i}]");
            let errors = self.errors;
            self.requirement_key(&format!("{path}.key"), &r.key);
            let Some(operator) = Operator::parse(&r.operator) else {
                let names: Vec<&str> = Operator::ALL.iter().map(|(n, _)| *n).collect();
                self.error(
                    &format!("{path}.operator"),
                    format!(
                        "key {} has an unsupported operator {:?} not in [{}]",
                        r.key,
                        r.operator,
                        names.join(" ")
                    ),
                );
                continue;
            };
            self.requirement_values(&path, operator, r);
            if self.errors == errors {
                out.push(Requirement {
                    key: r.key.clone(),
                    operator,
                    values: r.values.clone(),
                    min_values: r.min_values.map(|v| v as u32),
                });
            }
        }
        out
    }

    fn requirement_key(&mut self, path: &str, key: &str) {
        if key.is_empty() {
            self.error(path, "required");
        } else if FORBIDDEN_KEYS.contains(&key) {
            self.error(path, format!("label {key:?} is restricted"));
        } else if let Some(e) = crate::spec::selector::qualified_name_error(key) {
            self.error(path, e);
        } else if restricted_domain(key) && !WELL_KNOWN_RESTRICTED.contains(&key) {
            let hint = did_you_mean_hint(key, WELL_KNOWN_RESTRICTED.iter().copied());
            self.error(
                path,
                format!("label domain of {key:?} is restricted: only Karpenter's well-known labels may be used there{hint}"),
            );
        }
    }

    fn requirement_values(&mut self, path: &str, op: Operator, r: &RawRequirement) {
        let vpath = format!("{path}.values");
        if op == Operator::In && r.values.is_empty() {
            self.error(
                &vpath,
                "requirements with operator 'In' must have a value defined",
            );
        }
        let one_integer = r.values.len() == 1 && r.values[0].parse::<u64>().is_ok();
        if op.is_bound() && !one_integer {
            self.error(
                &vpath,
                format!(
                    "requirements with operator '{}' must have a single positive integer value",
                    r.operator
                ),
            );
        }
        if let Some(min) = r.min_values {
            if !(1..=50).contains(&min) {
                self.error(&format!("{path}.minValues"), "must be between 1 and 50");
            } else if op == Operator::In && (r.values.len() as i64) < min {
                self.error(
                    &format!("{path}.minValues"),
                    format!(
                        "requirements with 'minValues' must have at least that many values specified in the 'values' field ({} < {min})",
                        r.values.len()
                    ),
                );
            }
        }
        if r.key == INSTANCE_TYPE && matches!(op, Operator::In) {
            let catalogue = &instances::aws().instance_types;
            for (j, v) in r.values.iter().enumerate() {
                if !catalogue.contains_key(v) {
                    let hint = did_you_mean_hint(v, catalogue.keys().map(String::as_str));
                    self.error(
                        &format!("{vpath}[{j}]"),
                        format!("instance type {v:?} is not in the instance catalogue{hint} (docs/scenario.md lists the {} types)", catalogue.len()),
                    );
                }
            }
        }
    }

    /// The template's labels, each an `In [value]` requirement.
    fn labels(&mut self, labels: &BTreeMap<String, String>) -> Vec<Requirement> {
        let mut out = Vec::new();
        for (k, v) in labels {
            let path = format!("spec.template.metadata.labels.{k}");
            if FORBIDDEN_KEYS.contains(&k.as_str())
                || (restricted_domain(k) && k != "karpenter.sh/capacity-type")
            {
                self.error(&path, format!("label {k:?} is restricted"));
            } else if let Some(e) = crate::spec::selector::label_value_error(v) {
                self.error(&path, e);
            } else {
                out.push(Requirement::label(k, v));
            }
        }
        out
    }

    fn node_class(&mut self, t: &RawTemplateSpec, classes: &[String], incomplete: bool) -> String {
        let path = "spec.template.spec.nodeClassRef";
        let Some(r) = &t.node_class_ref else {
            self.error(path, "required: the EC2NodeClass nodes are launched with");
            return String::new();
        };
        if r.kind.as_deref().is_some_and(|k| k != "EC2NodeClass") {
            self.error(&format!("{path}.kind"), "only EC2NodeClass is modelled");
        } else if !classes.contains(&r.name) && !incomplete {
            let hint = did_you_mean_hint(&r.name, classes.iter().map(String::as_str));
            self.error(
                &format!("{path}.name"),
                format!("EC2NodeClass {:?} is not in the manifests{hint}", r.name),
            );
        }
        r.name.clone()
    }

    fn taints(&mut self, t: &RawTemplateSpec) -> Vec<Taint> {
        let mut out = Vec::new();
        let mut seen = Vec::new();
        let all = (t.taints.iter().map(|x| ("taints", x)).enumerate()).chain(
            t.startup_taints
                .iter()
                .map(|x| ("startupTaints", x))
                .enumerate(),
        );
        for (i, (field, raw)) in all {
            let path = format!("spec.template.spec.{field}[{i}]");
            let Some(effect) = TaintEffect::parse(&raw.effect) else {
                self.error(
                    &format!("{path}.effect"),
                    "must be NoSchedule, PreferNoSchedule or NoExecute",
                );
                continue;
            };
            if let Some(e) = crate::spec::selector::qualified_name_error(&raw.key) {
                self.error(&format!("{path}.key"), e);
                continue;
            }
            if seen.contains(&(raw.key.clone(), effect)) {
                self.error(&path, "duplicate taint Key/Effect pair");
                continue;
            }
            seen.push((raw.key.clone(), effect));
            // Startup taints are gone by the time a node is Ready here: only `taints` stay.
            if field == "taints" {
                out.push(Taint {
                    key: raw.key.clone(),
                    value: raw.value.clone().unwrap_or_default(),
                    effect,
                });
            }
        }
        out
    }

    /// `expireAfter`, `consolidateAfter` (`never`: may be `Never`) and
    /// `terminationGracePeriod`: `([0-9]+(s|m|h))+`; `Ok(None)` is `Never`.
    fn duration(
        &mut self,
        path: &str,
        text: Option<&str>,
        default: Option<SimDuration>,
        never: bool,
    ) -> Option<SimDuration> {
        let Some(text) = text else { return default };
        if never && text == "Never" {
            return None;
        }
        match go_duration(text, &['h', 'm', 's']) {
            Some(d) => Some(d),
            None => {
                let also = if never { " or Never" } else { "" };
                self.error(
                    path,
                    format!("{text:?} is not a duration: use whole hours, minutes and seconds such as 720h or 30s{also}"),
                );
                default
            }
        }
    }

    fn policy(&mut self, text: Option<&str>) -> ConsolidationPolicy {
        let path = "spec.disruption.consolidationPolicy";
        match text {
            None | Some("WhenEmptyOrUnderutilized") => {
                ConsolidationPolicy::WhenEmptyOrUnderutilized
            }
            Some("WhenEmpty") => ConsolidationPolicy::WhenEmpty,
            Some("Balanced") => {
                self.error(path, "Balanced (Karpenter 1.14) is not modelled yet: use WhenEmpty or WhenEmptyOrUnderutilized");
                ConsolidationPolicy::WhenEmptyOrUnderutilized
            }
            Some(other) => {
                self.error(
                    path,
                    format!(
                        "unsupported value {other:?}: use WhenEmpty or WhenEmptyOrUnderutilized"
                    ),
                );
                ConsolidationPolicy::WhenEmptyOrUnderutilized
            }
        }
    }

    fn budgets(&mut self, raw: &[RawBudget], clock: (jiff::Timestamp, SimDuration)) -> Vec<Budget> {
        let mut out = Vec::new();
        for (i, b) in raw.iter().enumerate() {
            let path = format!("spec.disruption.budgets[{i}]");
            let nodes = self.budget_nodes(&format!("{path}.nodes"), b.nodes.as_deref());
            let mut reasons = Vec::new();
            for (j, r) in b.reasons.iter().enumerate() {
                match DisruptionReason::BUDGETED.iter().find(|(n, _)| n == r) {
                    Some(&(_, reason)) => reasons.push(reason),
                    None => self.error(
                        &format!("{path}.reasons[{j}]"),
                        format!("unsupported value {r:?}: use Underutilized, Empty or Drifted"),
                    ),
                }
            }
            let windows = self.budget_windows(&path, b, clock);
            if let Some(nodes) = nodes {
                out.push(Budget {
                    nodes,
                    reasons,
                    windows,
                });
            }
        }
        out
    }

    /// `nodes`: `^((100|[0-9]{1,2})%|[0-9]+)$`.
    fn budget_nodes(&mut self, path: &str, text: Option<&str>) -> Option<IntOrPercent> {
        let text = text.unwrap_or("10%");
        let parsed = match text.strip_suffix('%') {
            Some(p) if (1..=3).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()) => p
                .parse::<i32>()
                .ok()
                .filter(|&v| v <= 100)
                .map(IntOrPercent::Percent),
            Some(_) => None,
            None if !text.is_empty() && text.bytes().all(|c| c.is_ascii_digit()) => {
                text.parse::<i32>().ok().map(IntOrPercent::Int)
            }
            None => None,
        };
        if parsed.is_none() {
            self.error(
                path,
                format!("{text:?} is not a node count: a whole number (5) or a percentage from 0% to 100%"),
            );
        }
        parsed
    }

    /// A scheduled budget's active windows over the run; `None` for an unscheduled one.
    fn budget_windows(
        &mut self,
        path: &str,
        b: &RawBudget,
        (start, run): (jiff::Timestamp, SimDuration),
    ) -> Option<Vec<(SimTime, SimTime)>> {
        let (schedule, duration) = match (&b.schedule, &b.duration) {
            (None, None) => return None,
            (Some(_), None) => {
                self.error(
                    &format!("{path}.duration"),
                    "'schedule' must be set with 'duration'",
                );
                return None;
            }
            (None, Some(_)) => {
                self.error(
                    &format!("{path}.schedule"),
                    "'schedule' must be set with 'duration'",
                );
                return None;
            }
            (Some(s), Some(d)) => (s, d),
        };
        let cron = CronSchedule::parse(schedule)
            .map_err(|e| self.error(&format!("{path}.schedule"), e))
            .ok();
        let length = budget_duration(duration);
        if length.is_none() {
            self.error(
                &format!("{path}.duration"),
                format!("{duration:?} is not a budget duration: hours and minutes such as 8h, 30m or 2h20m"),
            );
        }
        let (cron, length) = (cron?, length?);
        // Hits in (start − duration, start + run]: each opens a window [hit, hit + duration).
        let lead = length.as_micros() / 1_000_000;
        let before = start
            .checked_sub(jiff::SignedDuration::from_secs(lead as i64))
            .unwrap_or(start);
        let hits = cron.times(before, &jiff::tz::TimeZone::UTC, run + length);
        let windows = hits
            .into_iter()
            .map(|h| {
                let since_start = h.as_micros() as i64 - (lead as i64) * 1_000_000;
                let open = SimTime::from_micros(since_start.max(0) as u64);
                let close = since_start + length.as_micros() as i64;
                (open, SimTime::from_micros(close.max(0) as u64))
            })
            .filter(|(open, close)| open < close)
            .collect();
        Some(windows)
    }

    fn weight(&mut self, weight: Option<i64>) -> i32 {
        match weight {
            None => 0,
            Some(w) if (1..=100).contains(&w) => w as i32,
            Some(w) => {
                self.error("spec.weight", format!("{w} is outside 1 to 100"));
                0
            }
        }
    }

    /// `spec.limits`. Karpenter accepts a negative limit (which blocks every launch); kubesim
    /// refuses it as the mistake it is.
    fn limits(&mut self, raw: &BTreeMap<String, K8sQuantity>) -> Limits {
        let mut limits = Limits::default();
        for (key, q) in raw {
            let path = format!("spec.limits.{key}");
            let value = match Quantity::parse(&q.0) {
                Ok(v) => v,
                Err(e) => {
                    self.error(&path, e.to_string());
                    continue;
                }
            };
            if value.value() < 0 {
                self.error(&path, format!("{} is below zero: a limit caps the NodePool's total capacity (Karpenter would accept it and never launch a node)", q.0));
                continue;
            }
            match key.as_str() {
                "cpu" => limits.cpu_millis = Some(value.milli_value()),
                "memory" => limits.memory_bytes = Some(value.value()),
                "nvidia.com/gpu" => limits.gpus = Some(value.value()),
                "nodes" => limits.nodes = Some(value.value()),
                other => self.error(
                    &path,
                    format!("{other:?} is not a limit kubesim models: use cpu, memory, nvidia.com/gpu or nodes"),
                ),
            }
        }
        limits
    }
}

const INSTANCE_TYPE: &str = "node.kubernetes.io/instance-type";

fn restricted_domain(key: &str) -> bool {
    let domain = key.split_once('/').map_or("", |(d, _)| d);
    ["karpenter.sh", "karpenter.k8s.aws"]
        .iter()
        .any(|r| domain == *r || domain.ends_with(&format!(".{r}")))
}

/// A Go-style duration of whole `units` (`2h20m`, `30s`); `None` when it is not one.
pub(crate) fn go_duration(text: &str, units: &[char]) -> Option<SimDuration> {
    let mut total: u64 = 0;
    let mut number = String::new();
    if text.is_empty() {
        return None;
    }
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        if number.is_empty() || !units.contains(&c) {
            return None;
        }
        let n: u64 = number.parse().ok()?;
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            _ => 1,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
        number.clear();
    }
    number
        .is_empty()
        .then(|| SimDuration::from_secs(total.min(100 * 365 * 86_400)))
}

/// A budget's `duration`: `^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$`.
fn budget_duration(text: &str) -> Option<SimDuration> {
    let core = text.strip_suffix("0s").unwrap_or(text);
    let shape_ok = {
        let units: Vec<char> = core.chars().filter(|c| !c.is_ascii_digit()).collect();
        matches!(units.as_slice(), ['h'] | ['m'] | ['h', 'm'])
    };
    shape_ok.then(|| go_duration(core, &['h', 'm'])).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_the_crd_patterns() {
        assert_eq!(
            go_duration("720h", &['h', 'm', 's']),
            Some(SimDuration::from_secs(720 * 3600))
        );
        assert_eq!(
            go_duration("2h20m", &['h', 'm', 's']),
            Some(SimDuration::from_secs(8400))
        );
        assert_eq!(go_duration("FooNever", &['h', 'm', 's']), None);
        assert_eq!(go_duration("1hr", &['h', 'm', 's']), None);
        assert_eq!(go_duration("-1s", &['h', 'm', 's']), None);
        assert_eq!(budget_duration("2h20m"), Some(SimDuration::from_secs(8400)));
        assert_eq!(
            budget_duration("8h0s"),
            Some(SimDuration::from_secs(8 * 3600))
        );
        assert_eq!(budget_duration("30s"), None);
        assert_eq!(budget_duration("-20m"), None);
    }
}
