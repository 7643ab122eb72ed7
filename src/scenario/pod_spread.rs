//! `spec.topologySpreadConstraints` of a pod template, validated like the API server
//! (`ValidateTopologySpreadConstraints`) and defaulted (minDomains 1, nodeAffinityPolicy Honor,
//! nodeTaintsPolicy Ignore).

use k8s_openapi::api::core::v1::{PodSpec, TopologySpreadConstraint};

use super::diag::Diagnostic;
use super::manifest::{Source, label_selector};
use super::model::SpreadConstraint;

/// The pod's spread constraints; problems go to `diags` with their field paths.
pub fn topology_spread(
    spec: &PodSpec,
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<SpreadConstraint> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    let mut out = Vec::new();
    for (i, c) in spec
        .topology_spread_constraints
        .iter()
        .flatten()
        .enumerate()
    {
        let cpath = format!("{path}.topologySpreadConstraints[{i}]");
        let pair = (c.topology_key.as_str(), c.when_unsatisfiable.as_str());
        if seen.contains(&pair) {
            diags.push(src.error(
                &format!("{cpath}.topologyKey"),
                format!(
                    "duplicate constraint for topologyKey {:?} and whenUnsatisfiable {:?}",
                    pair.0, pair.1
                ),
            ));
        }
        seen.push(pair);
        out.push(one_constraint(c, src, &cpath, diags));
    }
    out
}

fn one_constraint(
    c: &TopologySpreadConstraint,
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> SpreadConstraint {
    let mut error = |field: &str, message: String| {
        diags.push(src.error(&format!("{path}.{field}"), message));
    };
    if c.max_skew <= 0 {
        error(
            "maxSkew",
            format!("must be greater than zero, got {}", c.max_skew),
        );
    }
    if c.topology_key.is_empty() {
        error(
            "topologyKey",
            "required: the node label that defines a domain, e.g. topology.kubernetes.io/zone"
                .into(),
        );
    }
    let hard = when_unsatisfiable(&c.when_unsatisfiable).unwrap_or_else(|e| {
        error("whenUnsatisfiable", e);
        false
    });
    let min_domains = c.min_domains.unwrap_or(1);
    if c.min_domains.is_some() {
        if min_domains <= 0 {
            error(
                "minDomains",
                format!("must be greater than zero, got {min_domains}"),
            );
        } else if !hard {
            error(
                "minDomains",
                "can only be used with whenUnsatisfiable: DoNotSchedule".into(),
            );
        }
    }
    let honor_node_affinity = policy(
        c.node_affinity_policy.as_deref(),
        true,
        "nodeAffinityPolicy",
        &mut error,
    );
    let honor_node_taints = policy(
        c.node_taints_policy.as_deref(),
        false,
        "nodeTaintsPolicy",
        &mut error,
    );
    let selector = c
        .label_selector
        .as_ref()
        .map(|s| label_selector(s, src, &format!("{path}.labelSelector"), diags));
    let match_label_keys = c.match_label_keys.clone().unwrap_or_default();
    for (k, key) in match_label_keys.iter().enumerate() {
        let kpath = format!("{path}.matchLabelKeys[{k}]");
        match &selector {
            None => diags.push(src.error(&kpath, "must not be set when labelSelector is not set")),
            Some(s)
                if s.match_labels.contains_key(key)
                    || s.match_expressions.iter().any(|r| &r.key == key) =>
            {
                diags.push(src.error(
                    &kpath,
                    format!("{key:?} exists in both matchLabelKeys and labelSelector"),
                ));
            }
            Some(_) => {}
        }
    }
    SpreadConstraint {
        max_skew: c.max_skew,
        topology_key: c.topology_key.clone(),
        hard,
        selector,
        match_label_keys,
        min_domains,
        honor_node_affinity,
        honor_node_taints,
    }
}

/// `whenUnsatisfiable`: whether it is `DoNotSchedule` (a hard constraint).
pub fn when_unsatisfiable(value: &str) -> Result<bool, String> {
    match value {
        "DoNotSchedule" => Ok(true),
        "ScheduleAnyway" => Ok(false),
        other => Err(format!(
            "{other:?} is not supported: use DoNotSchedule or ScheduleAnyway"
        )),
    }
}

/// `Honor` or `Ignore` (`default` when unset).
fn policy(
    value: Option<&str>,
    default: bool,
    field: &str,
    error: &mut impl FnMut(&str, String),
) -> bool {
    match value {
        None => default,
        Some("Honor") => true,
        Some("Ignore") => false,
        Some(other) => {
            error(
                field,
                format!("{other:?} is not supported: use Honor or Ignore"),
            );
            default
        }
    }
}
