//! PodDisruptionBudgets (`policy/v1`) from the manifests, validated like the API server.

use super::diag::Diagnostic;
use super::manifest::{ManifestSet, label_selector, namespace_of};
use super::model::{PdbBudget, PdbSpec};
use crate::spec::rollout::IntOrPercent;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Every PodDisruptionBudget of the manifests; problems go to `diags`.
pub fn pdbs(set: &ManifestSet, diags: &mut Vec<Diagnostic>) -> Vec<PdbSpec> {
    let mut out = Vec::new();
    for m in &set.pdbs {
        let src = &m.source;
        let name = m.object.metadata.name.clone().unwrap_or_default();
        let Some(spec) = &m.object.spec else {
            diags.push(src.error("spec", "a PodDisruptionBudget needs a spec"));
            continue;
        };
        let value = |field: &str, v: &IntOrString, diags: &mut Vec<Diagnostic>| {
            let path = format!("spec.{field}");
            let parsed = match v {
                IntOrString::Int(i) => Ok(IntOrPercent::Int(*i)),
                IntOrString::String(s) => IntOrPercent::parse(s),
            };
            match parsed {
                Ok(IntOrPercent::Int(i) | IntOrPercent::Percent(i)) if i < 0 => {
                    diags.push(src.error(&path, "must be greater than or equal to 0"));
                    None
                }
                Ok(IntOrPercent::Percent(p)) if p > 100 => {
                    diags.push(src.error(&path, "must not be greater than 100%"));
                    None
                }
                Ok(v) => Some(v),
                Err(e) => {
                    diags.push(src.error(&path, e));
                    None
                }
            }
        };
        let budget = match (&spec.min_available, &spec.max_unavailable) {
            (Some(_), Some(_)) => {
                diags.push(src.error(
                    "spec.maxUnavailable",
                    "minAvailable and maxUnavailable cannot be both set",
                ));
                continue;
            }
            (Some(v), None) => value("minAvailable", v, diags).map(PdbBudget::MinAvailable),
            (None, Some(v)) => value("maxUnavailable", v, diags).map(PdbBudget::MaxUnavailable),
            (None, None) => Some(PdbBudget::MinAvailable(IntOrPercent::Int(1))),
        };
        let Some(budget) = budget else { continue };
        out.push(PdbSpec {
            name,
            namespace: namespace_of(&m.object.metadata),
            selector: spec
                .selector
                .as_ref()
                .map(|s| label_selector(s, src, "spec.selector", diags)),
            budget,
        });
    }
    out
}
