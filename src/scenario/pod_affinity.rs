//! `affinity.podAffinity` and `affinity.podAntiAffinity` of a pod template: required and
//! preferred terms, each a label selector over pods in some namespaces and a topology key,
//! validated like the API server.

use k8s_openapi::api::core::v1::{PodAffinityTerm, PodSpec, WeightedPodAffinityTerm};

use super::diag::Diagnostic;
use super::manifest::{Source, label_selector};
use super::model::{AffinityTerm, PodAffinity};

/// The pod's inter-pod affinity (a term without `namespaces` means the pod's own namespace,
/// resolved when it is matched).
pub fn pod_affinity(
    spec: &PodSpec,
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> PodAffinity {
    let affinity = spec.affinity.as_ref();
    let base = format!("{path}.affinity");
    let mut out = PodAffinity::default();
    if let Some(a) = affinity.and_then(|a| a.pod_affinity.as_ref()) {
        let p = format!("{base}.podAffinity");
        out.required = required(
            a.required_during_scheduling_ignored_during_execution
                .as_deref(),
            src,
            &p,
            diags,
        );
        out.preferred = preferred(
            a.preferred_during_scheduling_ignored_during_execution
                .as_deref(),
            src,
            &p,
            diags,
        );
    }
    if let Some(a) = affinity.and_then(|a| a.pod_anti_affinity.as_ref()) {
        let p = format!("{base}.podAntiAffinity");
        out.required_anti = required(
            a.required_during_scheduling_ignored_during_execution
                .as_deref(),
            src,
            &p,
            diags,
        );
        out.preferred_anti = preferred(
            a.preferred_during_scheduling_ignored_during_execution
                .as_deref(),
            src,
            &p,
            diags,
        );
    }
    out
}

fn required(
    terms: Option<&[PodAffinityTerm]>,
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<AffinityTerm> {
    terms
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, t)| {
            term(
                t,
                src,
                &format!("{path}.requiredDuringSchedulingIgnoredDuringExecution[{i}]"),
                diags,
            )
        })
        .collect()
}

fn preferred(
    terms: Option<&[WeightedPodAffinityTerm]>,
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(i64, AffinityTerm)> {
    terms
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, w)| {
            let wpath = format!("{path}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
            if !(1..=100).contains(&w.weight) {
                diags.push(src.error(&format!("{wpath}.weight"), "must be in the range 1-100"));
            }
            let t = term(
                &w.pod_affinity_term,
                src,
                &format!("{wpath}.podAffinityTerm"),
                diags,
            );
            (i64::from(w.weight), t)
        })
        .collect()
}

fn term(
    t: &PodAffinityTerm,
    src: &Source,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> AffinityTerm {
    if t.topology_key.is_empty() {
        diags.push(src.error(
            &format!("{path}.topologyKey"),
            "can not be empty: name the node label that defines a domain, e.g. kubernetes.io/hostname",
        ));
    }
    let all_namespaces = match &t.namespace_selector {
        None => false,
        Some(s)
            if s.match_labels.as_ref().is_none_or(|m| m.is_empty())
                && s.match_expressions.as_ref().is_none_or(|e| e.is_empty()) =>
        {
            true
        }
        Some(_) => {
            diags.push(src.warning(
                &format!("{path}.namespaceSelector"),
                "namespace labels are not modelled: only `namespaces` (and `{}` for all) are honoured; this selector matches no namespace",
            ));
            false
        }
    };
    for key in ["matchLabelKeys", "mismatchLabelKeys"] {
        if src.node.lookup(&format!("{path}.{key}")).is_some() {
            diags.push(src.warning(
                &format!("{path}.{key}"),
                format!("{key} is not modelled yet; ignored"),
            ));
        }
    }
    AffinityTerm {
        selector: t
            .label_selector
            .as_ref()
            .map(|s| label_selector(s, src, &format!("{path}.labelSelector"), diags)),
        namespaces: t.namespaces.clone().unwrap_or_default(),
        all_namespaces,
        topology_key: t.topology_key.clone(),
    }
}
