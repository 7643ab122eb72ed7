//! Reads a real `KubeSchedulerConfiguration` file (`kubescheduler.config.k8s.io/v1`) into
//! scheduler profiles: score plugins enabled, disabled and weighted (under `score` or
//! `multiPoint`), NodeResourcesFit's `scoringStrategy` (LeastAllocated, MostAllocated,
//! RequestedToCapacityRatio with its shape), NodeResourcesBalancedAllocation's resources and
//! `percentageOfNodesToScore`, validated as the scheduler validates them. Fields kubesim does not
//! model are accepted with a warning.

use serde::Deserialize;

use super::decode_report::{UnknownFields, decode_reported};
use super::diag::Diagnostic;
use super::manifest::Source;
use super::scheduler_plugin_names::{bad_weight, unknown_plugin};
use super::yaml::{Node, parse_documents};
use crate::spec::scheduler::{
    DEFAULT_SCHEDULER_NAME, DefaultSpreadConstraint, ResourceWeight, SchedulerProfile, ScoringKind,
    ScoringStrategy, SpreadDefaults,
};

// Some fields are only accepted (so that real files load cleanly), not modelled.
#[allow(dead_code)]
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawConfig {
    api_version: Option<String>,
    kind: Option<String>,
    percentage_of_nodes_to_score: Option<i32>,
    profiles: Option<Vec<RawProfile>>,
    // Accepted, not modelled:
    parallelism: Option<i64>,
    pod_initial_backoff_seconds: Option<i64>,
    pod_max_backoff_seconds: Option<i64>,
    leader_election: Option<serde_json::Value>,
    client_connection: Option<serde_json::Value>,
    enable_profiling: Option<bool>,
    enable_contention_profiling: Option<bool>,
    delay_cache_until_active: Option<bool>,
    extenders: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProfile {
    scheduler_name: Option<String>,
    percentage_of_nodes_to_score: Option<i32>,
    plugins: Option<RawPlugins>,
    #[serde(default)]
    plugin_config: Vec<RawPluginConfig>,
}

/// Every extension point is accepted (its names checked); only `multiPoint` and `score` change
/// what kubesim does.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPlugins {
    multi_point: Option<RawPluginSet>,
    score: Option<RawPluginSet>,
    pre_enqueue: Option<RawPluginSet>,
    queue_sort: Option<RawPluginSet>,
    pre_filter: Option<RawPluginSet>,
    filter: Option<RawPluginSet>,
    post_filter: Option<RawPluginSet>,
    pre_score: Option<RawPluginSet>,
    reserve: Option<RawPluginSet>,
    permit: Option<RawPluginSet>,
    pre_bind: Option<RawPluginSet>,
    bind: Option<RawPluginSet>,
    post_bind: Option<RawPluginSet>,
}

impl RawPlugins {
    /// Each extension point's lists, by its field name.
    fn sets(&self) -> [(&'static str, &Option<RawPluginSet>); 13] {
        [
            ("multiPoint", &self.multi_point),
            ("preEnqueue", &self.pre_enqueue),
            ("queueSort", &self.queue_sort),
            ("preFilter", &self.pre_filter),
            ("filter", &self.filter),
            ("postFilter", &self.post_filter),
            ("preScore", &self.pre_score),
            ("score", &self.score),
            ("reserve", &self.reserve),
            ("permit", &self.permit),
            ("preBind", &self.pre_bind),
            ("bind", &self.bind),
            ("postBind", &self.post_bind),
        ]
    }
}

/// The plugin names of every list and of `pluginConfig`, and the weights, as kube-scheduler
/// checks them when it starts.
fn check_plugins(p: &RawProfile, path: &str, src: &Source, diags: &mut Vec<Diagnostic>) {
    let sets = p.plugins.iter().flat_map(|plugins| plugins.sets());
    for (field, set) in sets {
        let Some(set) = set else { continue };
        let lists = [
            ("enabled", &set.enabled, false),
            ("disabled", &set.disabled, true),
        ];
        for (list, plugins, wildcard) in lists {
            for (k, plugin) in plugins.iter().enumerate() {
                let at = format!("{path}.plugins.{field}.{list}[{k}]");
                if let Some(message) = unknown_plugin(&plugin.name, wildcard) {
                    diags.push(src.error(&format!("{at}.name"), message));
                }
                if let Some(message) = plugin.weight.and_then(bad_weight) {
                    diags.push(src.error(&format!("{at}.weight"), message));
                }
            }
        }
    }
    for (j, c) in p.plugin_config.iter().enumerate() {
        if let Some(message) = unknown_plugin(&c.name, false) {
            diags.push(src.error(&format!("{path}.pluginConfig[{j}].name"), message));
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPluginSet {
    #[serde(default)]
    enabled: Vec<RawPlugin>,
    #[serde(default)]
    disabled: Vec<RawPlugin>,
}

#[derive(Debug, Default, Deserialize)]
struct RawPlugin {
    name: String,
    weight: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
struct RawPluginConfig {
    name: String,
    args: Option<serde_json::Value>,
}

#[allow(dead_code)]
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFitArgs {
    scoring_strategy: Option<RawScoringStrategy>,
    ignored_resources: Option<Vec<String>>,
    ignored_resource_groups: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawScoringStrategy {
    #[serde(rename = "type")]
    kind: Option<String>,
    resources: Option<Vec<RawResource>>,
    requested_to_capacity_ratio: Option<RawShapeArgs>,
}

#[derive(Debug, Default, Deserialize)]
struct RawResource {
    name: String,
    weight: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
struct RawShapeArgs {
    #[serde(default)]
    shape: Vec<RawShapePoint>,
}

#[derive(Debug, Default, Deserialize)]
struct RawShapePoint {
    utilization: i64,
    score: i64,
}

#[derive(Debug, Default, Deserialize)]
struct RawBalancedArgs {
    resources: Option<Vec<RawResource>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSpreadArgs {
    #[serde(default)]
    default_constraints: Vec<RawDefaultConstraint>,
    defaulting_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDefaultConstraint {
    max_skew: i32,
    topology_key: String,
    when_unsatisfiable: String,
    label_selector: Option<serde_json::Value>,
}

/// The score plugins kubesim models, with their default-profile weights.
const MODELLED_SCORES: [(&str, i64); 7] = [
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodeResourcesFit", 1),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
];

/// Score plugins of the default profile that kubesim does not model yet.
const UNMODELLED_SCORES: [&str; 1] = ["VolumeBinding"];

/// Reads `text` (the file `file`) into profiles; problems go to `diags`.
pub fn read(file: &str, text: &str, diags: &mut Vec<Diagnostic>) -> Vec<SchedulerProfile> {
    let docs = match parse_documents(text) {
        Ok(d) => d,
        Err(e) => {
            diags.push(Diagnostic::error(
                file,
                e.position,
                "",
                format!("invalid YAML: {}", e.message),
            ));
            return Vec::new();
        }
    };
    let Some(node) = docs.into_iter().next() else {
        diags.push(Diagnostic::error(file, None, "", "the file is empty"));
        return Vec::new();
    };
    let source = Source::new(file.to_string(), node);
    let raw = decode_reported::<RawConfig>(&source.node, "", file, UnknownFields::Warning, diags);
    let Some(raw) = raw else {
        return Vec::new();
    };
    convert(&raw, &source, diags)
}

fn convert(raw: &RawConfig, src: &Source, diags: &mut Vec<Diagnostic>) -> Vec<SchedulerProfile> {
    if raw.kind.as_deref() != Some("KubeSchedulerConfiguration") {
        diags.push(src.error("kind", "must be KubeSchedulerConfiguration"));
    }
    if raw.api_version.as_deref() != Some("kubescheduler.config.k8s.io/v1") {
        diags.push(src.error(
            "apiVersion",
            "must be kubescheduler.config.k8s.io/v1 (the only version current schedulers read)",
        ));
    }
    let global_pct = percentage(
        raw.percentage_of_nodes_to_score,
        "percentageOfNodesToScore",
        src,
        diags,
    );
    let defaults = [RawProfile::default()];
    let raws = match raw.profiles.as_deref() {
        Some(p) if !p.is_empty() => p,
        _ => &defaults,
    };
    let mut out: Vec<SchedulerProfile> = Vec::new();
    for (i, p) in raws.iter().enumerate() {
        let path = format!("profiles[{i}]");
        let mut profile = SchedulerProfile {
            scheduler_name: p
                .scheduler_name
                .clone()
                .unwrap_or_else(|| DEFAULT_SCHEDULER_NAME.to_string()),
            percentage_of_nodes_to_score: global_pct,
            ..SchedulerProfile::default()
        };
        if out
            .iter()
            .any(|o| o.scheduler_name == profile.scheduler_name)
        {
            diags.push(src.error(
                &format!("{path}.schedulerName"),
                format!("duplicate profile {:?}", profile.scheduler_name),
            ));
        }
        if p.percentage_of_nodes_to_score.is_some() {
            profile.percentage_of_nodes_to_score = percentage(
                p.percentage_of_nodes_to_score,
                &format!("{path}.percentageOfNodesToScore"),
                src,
                diags,
            );
        }
        check_plugins(p, &path, src, diags);
        if let Some(plugins) = &p.plugins {
            apply_score_plugins(&mut profile, plugins, &path, src, diags);
            apply_filter_plugins(&mut profile, plugins);
        }
        for (j, c) in p.plugin_config.iter().enumerate() {
            let cpath = format!("{path}.pluginConfig[{j}].args");
            let Some(args) = src.node.lookup(&cpath).filter(|_| c.args.is_some()) else {
                continue;
            };
            match c.name.as_str() {
                "NodeResourcesFit" => fit_args(&mut profile, args, &cpath, src, diags),
                "PodTopologySpread" => spread_args(&mut profile, args, &cpath, src, diags),
                "NodeResourcesBalancedAllocation" => {
                    if let Some(a) = decode_args::<RawBalancedArgs>(args, &cpath, src, diags)
                        && let Some(r) = &a.resources
                    {
                        profile.balanced_resources =
                            resources(r, &format!("{cpath}.resources"), src, diags);
                    }
                }
                _ => {}
            }
        }
        out.push(profile);
    }
    out
}

fn percentage(value: Option<i32>, path: &str, src: &Source, diags: &mut Vec<Diagnostic>) -> i32 {
    match value {
        Some(v) if !(0..=100).contains(&v) => {
            diags.push(src.error(path, format!("{v} is not in the range [0, 100]")));
            0
        }
        Some(v) => v,
        None => 0,
    }
}

/// Applies `multiPoint` then `score` enable/disable lists to the score weights.
fn apply_score_plugins(
    profile: &mut SchedulerProfile,
    plugins: &RawPlugins,
    path: &str,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) {
    for (set, field) in [
        (&plugins.multi_point, "multiPoint"),
        (&plugins.score, "score"),
    ] {
        let Some(set) = set else { continue };
        let spath = format!("{path}.plugins.{field}");
        for (k, d) in set.disabled.iter().enumerate() {
            if d.name == "*" {
                for (name, _) in MODELLED_SCORES {
                    *weight_mut(profile, name).expect("modelled") = 0;
                }
            } else if let Some(w) = weight_mut(profile, &d.name) {
                *w = 0;
            } else if !UNMODELLED_SCORES.contains(&d.name.as_str())
                && field == "score"
                && unknown_plugin(&d.name, true).is_none()
            {
                diags.push(src.warning(
                    &format!("{spath}.disabled[{k}].name"),
                    format!("{:?} is not a score plugin kubesim knows; ignored", d.name),
                ));
            }
        }
        for (k, e) in set.enabled.iter().enumerate() {
            let epath = format!("{spath}.enabled[{k}]");
            if e.weight.and_then(bad_weight).is_some() {
                continue; // reported by check_plugins
            }
            // A score plugin enabled without a weight (or with 0) gets weight 1.
            let weight = e.weight.filter(|w| *w > 0).unwrap_or(1);
            if let Some(w) = weight_mut(profile, &e.name) {
                *w = weight;
            } else if UNMODELLED_SCORES.contains(&e.name.as_str()) {
                diags.push(src.warning(
                    &format!("{epath}.name"),
                    format!(
                        "{} scoring is not modelled yet; it scores every node the same",
                        e.name
                    ),
                ));
            }
        }
    }
}

/// `multiPoint` then `filter` enable/disable lists, for the one filter that can be switched off
/// in kubesim (PodTopologySpread; the others are always on).
fn apply_filter_plugins(profile: &mut SchedulerProfile, plugins: &RawPlugins) {
    for set in [&plugins.multi_point, &plugins.filter]
        .into_iter()
        .flatten()
    {
        if set
            .disabled
            .iter()
            .any(|d| d.name == "*" || d.name == SPREAD)
        {
            profile.topology_spread_filter = false;
        }
        if set.enabled.iter().any(|e| e.name == SPREAD) {
            profile.topology_spread_filter = true;
        }
    }
}

const SPREAD: &str = "PodTopologySpread";

/// PodTopologySpreadArgs: `defaultingType` (System, or List with `defaultConstraints`).
fn spread_args(
    profile: &mut SchedulerProfile,
    args: &Node,
    path: &str,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(a) = decode_args::<RawSpreadArgs>(args, path, src, diags) else {
        return;
    };
    let list = match a.defaulting_type.as_deref() {
        None | Some("System") => {
            if !a.default_constraints.is_empty() {
                diags.push(src.error(
                    &format!("{path}.defaultConstraints"),
                    "must be empty when defaultingType is System (set defaultingType: List to use your own)",
                ));
            }
            return;
        }
        Some("List") => &a.default_constraints,
        Some(other) => {
            diags.push(src.error(
                &format!("{path}.defaultingType"),
                format!("{other:?} is not supported: use System or List"),
            ));
            return;
        }
    };
    let mut constraints = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let cpath = format!("{path}.defaultConstraints[{i}]");
        if c.max_skew <= 0 {
            diags.push(src.error(&format!("{cpath}.maxSkew"), "must be greater than zero"));
        }
        if c.topology_key.is_empty() {
            diags.push(src.error(&format!("{cpath}.topologyKey"), "required"));
        }
        if c.label_selector.is_some() {
            diags.push(src.error(
                &format!("{cpath}.labelSelector"),
                "must not be set: default constraints use the selector deduced for each pod",
            ));
        }
        let hard =
            super::pod_spread::when_unsatisfiable(&c.when_unsatisfiable).unwrap_or_else(|e| {
                diags.push(src.error(&format!("{cpath}.whenUnsatisfiable"), e));
                false
            });
        constraints.push(DefaultSpreadConstraint {
            max_skew: c.max_skew,
            topology_key: c.topology_key.clone().into(),
            hard,
        });
    }
    profile.spread_defaults = SpreadDefaults::List(constraints);
}

fn weight_mut<'p>(profile: &'p mut SchedulerProfile, name: &str) -> Option<&'p mut i64> {
    match name {
        "TaintToleration" => Some(&mut profile.taint_toleration_weight),
        "NodeAffinity" => Some(&mut profile.node_affinity_weight),
        "NodeResourcesFit" => Some(&mut profile.fit_weight),
        "NodeResourcesBalancedAllocation" => Some(&mut profile.balanced_allocation_weight),
        SPREAD => Some(&mut profile.topology_spread_weight),
        "InterPodAffinity" => Some(&mut profile.inter_pod_affinity_weight),
        "ImageLocality" => Some(&mut profile.image_locality_weight),
        _ => None,
    }
}

fn decode_args<T: serde::de::DeserializeOwned>(
    node: &Node,
    path: &str,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> Option<T> {
    decode_reported::<T>(node, path, &src.file, UnknownFields::Warning, diags)
}

/// `NodeResourcesFitArgs.scoringStrategy`, validated (`ValidateNodeResourcesFitArgs`).
fn fit_args(
    profile: &mut SchedulerProfile,
    args: &Node,
    path: &str,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(a) = decode_args::<RawFitArgs>(args, path, src, diags) else {
        return;
    };
    let Some(s) = &a.scoring_strategy else {
        return;
    };
    let spath = format!("{path}.scoringStrategy");
    let resources_list = match &s.resources {
        Some(r) if r.is_empty() => {
            // kube-scheduler accepts it, then fails every scheduling cycle with "resources not
            // found" from the score: no pod could ever be placed.
            diags.push(src.error(
                &format!("{spath}.resources"),
                "an empty list makes kube-scheduler's NodeResourcesFit score fail with \"resources not found\" for every pod, so no pod could be scheduled; list at least one resource (the default is cpu and memory, weight 1 each) or leave `resources` out".to_string(),
            ));
            profile.fit_strategy.resources.clone()
        }
        Some(r) => resources(r, &format!("{spath}.resources"), src, diags),
        None => profile.fit_strategy.resources.clone(),
    };
    let kind = match s.kind.as_deref().unwrap_or("LeastAllocated") {
        "LeastAllocated" => ScoringKind::LeastAllocated,
        "MostAllocated" => ScoringKind::MostAllocated,
        "RequestedToCapacityRatio" => {
            let shape = s
                .requested_to_capacity_ratio
                .as_ref()
                .map(|r| r.shape.as_slice())
                .unwrap_or_default();
            ScoringKind::RequestedToCapacityRatio {
                shape: validate_shape(
                    shape,
                    &format!("{spath}.requestedToCapacityRatio.shape"),
                    src,
                    diags,
                ),
            }
        }
        other => {
            diags.push(src.error(
                &format!("{spath}.type"),
                format!("{other:?} is not a scoring strategy: use LeastAllocated, MostAllocated or RequestedToCapacityRatio"),
            ));
            ScoringKind::LeastAllocated
        }
    };
    profile.fit_strategy = ScoringStrategy {
        kind,
        resources: resources_list,
    };
}

/// Resources with weights 1..100 (default 1).
fn resources(
    raw: &[RawResource],
    path: &str,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> Vec<ResourceWeight> {
    raw.iter()
        .enumerate()
        .map(|(i, r)| {
            let weight = r.weight.unwrap_or(1);
            if !(1..=100).contains(&weight) {
                diags.push(src.error(
                    &format!("{path}[{i}].weight"),
                    format!(
                        "resource weight of {} should be in the range [1, 100], got {weight}",
                        r.name
                    ),
                ));
            }
            ResourceWeight {
                name: r.name.clone(),
                weight: weight.clamp(1, 100),
            }
        })
        .collect()
}

/// A shape needs points with utilization strictly increasing in 0..100 and scores in 0..10.
fn validate_shape(
    shape: &[RawShapePoint],
    path: &str,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(i64, i64)> {
    if shape.is_empty() {
        diags.push(src.error(path, "at least one point is required"));
        return vec![(0, 10), (100, 0)];
    }
    for (i, p) in shape.iter().enumerate() {
        if !(0..=100).contains(&p.utilization) {
            diags.push(src.error(
                &format!("{path}[{i}].utilization"),
                "must be in the range [0, 100]",
            ));
        }
        if !(0..=10).contains(&p.score) {
            diags.push(src.error(
                &format!("{path}[{i}].score"),
                "must be in the range [0, 10]",
            ));
        }
        if i > 0 && p.utilization <= shape[i - 1].utilization {
            diags.push(src.error(
                &format!("{path}[{i}].utilization"),
                "utilization values must be sorted in increasing order",
            ));
        }
    }
    shape.iter().map(|p| (p.utilization, p.score)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology_spread_can_be_disabled_or_given_list_defaults() {
        let text = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n  - schedulerName: no-spread\n    plugins:\n      multiPoint:\n        disabled: [{name: PodTopologySpread}]\n  - schedulerName: zones\n    plugins:\n      score:\n        enabled: [{name: PodTopologySpread, weight: 4}]\n    pluginConfig:\n      - name: PodTopologySpread\n        args:\n          defaultingType: List\n          defaultConstraints:\n            - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule}\n";
        let mut diags = Vec::new();
        let profiles = read("sched.yaml", text, &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        let off = &profiles[0];
        assert_eq!(
            (off.topology_spread_weight, off.topology_spread_filter),
            (0, false)
        );
        let zones = &profiles[1];
        assert_eq!(
            (zones.topology_spread_weight, zones.topology_spread_filter),
            (4, true)
        );
        assert_eq!(
            zones.spread_defaults,
            SpreadDefaults::List(vec![DefaultSpreadConstraint {
                max_skew: 1,
                topology_key: "topology.kubernetes.io/zone".into(),
                hard: true,
            }])
        );
        let bad = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n  - pluginConfig:\n      - name: PodTopologySpread\n        args:\n          defaultConstraints:\n            - {maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}\n";
        let mut diags = Vec::new();
        read("sched.yaml", bad, &mut diags);
        assert!(
            diags[0]
                .to_string()
                .contains("must be empty when defaultingType is System"),
            "{diags:?}"
        );
    }

    #[test]
    fn most_allocated_profile_from_a_real_file() {
        let text = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nleaderElection: {leaderElect: false}\nprofiles:\n  - schedulerName: default-scheduler\n    percentageOfNodesToScore: 40\n    plugins:\n      score:\n        disabled: [{name: NodeResourcesBalancedAllocation}]\n        enabled: [{name: NodeResourcesFit, weight: 5}]\n    pluginConfig:\n      - name: NodeResourcesFit\n        args:\n          scoringStrategy:\n            type: MostAllocated\n            resources: [{name: cpu, weight: 1}, {name: nvidia.com/gpu, weight: 3}]\n  - schedulerName: shaped\n    pluginConfig:\n      - name: NodeResourcesFit\n        args:\n          scoringStrategy:\n            type: RequestedToCapacityRatio\n            requestedToCapacityRatio:\n              shape: [{utilization: 0, score: 0}, {utilization: 100, score: 10}]\n";
        let mut diags = Vec::new();
        let profiles = read("sched.yaml", text, &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(profiles.len(), 2);
        let p = &profiles[0];
        assert_eq!(p.percentage_of_nodes_to_score, 40);
        assert_eq!(
            (
                p.fit_weight,
                p.balanced_allocation_weight,
                p.taint_toleration_weight
            ),
            (5, 0, 3)
        );
        assert_eq!(p.fit_strategy.kind, ScoringKind::MostAllocated);
        assert_eq!(p.fit_strategy.resources[1].name, "nvidia.com/gpu");
        assert_eq!(p.fit_strategy.resources[1].weight, 3);
        assert_eq!(
            profiles[1].fit_strategy.kind,
            ScoringKind::RequestedToCapacityRatio {
                shape: vec![(0, 0), (100, 10)]
            }
        );
        assert_eq!(profiles[1].balanced_allocation_weight, 1, "defaults kept");
    }

    #[test]
    fn an_empty_fit_resource_list_is_refused() {
        // Upstream accepts it and then every Score call fails with "resources not found".
        let text = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n  - pluginConfig:\n      - name: NodeResourcesFit\n        args:\n          scoringStrategy: {type: LeastAllocated, resources: []}\n";
        let mut diags = Vec::new();
        read("sched.yaml", text, &mut diags);
        let shown: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert_eq!(shown.len(), 1, "{shown:#?}");
        assert!(shown[0].starts_with("sched.yaml:7:"), "{shown:#?}");
        assert!(shown[0].contains("args.scoringStrategy.resources: an empty list"));
        assert!(shown[0].contains("\"resources not found\""));
    }

    #[test]
    fn invalid_configuration_is_reported_with_positions() {
        let text = "apiVersion: kubescheduler.config.k8s.io/v1beta3\nkind: KubeSchedulerConfiguration\npercentageOfNodesToScore: 140\nprofiles:\n  - pluginConfig:\n      - name: NodeResourcesFit\n        args:\n          scoringStrategy:\n            type: MostAlocated\n            resources: [{name: cpu, weight: 0}]\n          scoringStrategyy: {}\n";
        let mut diags = Vec::new();
        read("sched.yaml", text, &mut diags);
        let shown: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        let expect = [
            "sched.yaml:1:13: apiVersion: must be kubescheduler.config.k8s.io/v1",
            "sched.yaml:3:27: percentageOfNodesToScore: 140 is not in the range [0, 100]",
            "sched.yaml:9:19: profiles[0].pluginConfig[0].args.scoringStrategy.type: \"MostAlocated\" is not a scoring strategy",
            "sched.yaml:10:45: profiles[0].pluginConfig[0].args.scoringStrategy.resources[0].weight: resource weight of cpu should be in the range [1, 100], got 0",
            "sched.yaml:11:29: warning: profiles[0].pluginConfig[0].args.scoringStrategyy: unknown field \"scoringStrategyy\" (did you mean \"scoringStrategy\"?); it is ignored",
        ];
        for e in expect {
            assert!(
                shown.iter().any(|s| s.starts_with(e)),
                "missing {e:?} in {shown:#?}"
            );
        }
    }
}
