//! ResourceQuotas (`v1`): the `spec.hard` amounts kubesim enforces at pod creation, per
//! namespace, as the ResourceQuota admission plugin does — `requests.cpu` (or `cpu`),
//! `requests.memory` (or `memory`), `limits.cpu`, `limits.memory`, `requests.nvidia.com/gpu`
//! and `pods` (or `count/pods`). Other quota keys (object counts, storage) are warned about and
//! ignored; scopes and scope selectors are not modelled (warned).

use super::diag::Diagnostic;
use super::manifest::{ManifestSet, namespace_of, resource_amount};
use super::model::{QuotaResource, QuotaSpec};

/// Every ResourceQuota of the set, its enforced amounts read (bad quantities are errors).
pub fn quotas(set: &ManifestSet, diags: &mut Vec<Diagnostic>) -> Vec<QuotaSpec> {
    let mut out = Vec::new();
    for m in &set.resource_quotas {
        let src = &m.source;
        let Some(spec) = &m.object.spec else {
            continue;
        };
        if spec.scopes.is_some() || spec.scope_selector.is_some() {
            diags.push(src.warning(
                "spec.scopes",
                "quota scopes are not modelled: the quota applies to every pod of its namespace",
            ));
        }
        let mut hard = Vec::new();
        for (key, q) in spec.hard.iter().flatten() {
            // Quota keys have dots of their own: locate the key's value directly.
            let path = format!("spec.hard.{key}");
            let hard_node = src.node.lookup("spec.hard");
            let position = hard_node
                .and_then(|n| n.get(key))
                .or(hard_node)
                .map(|n| n.position);
            let Some(resource) = QuotaResource::of_key(key) else {
                diags.push(Diagnostic::warning(
                    &src.file,
                    position,
                    &path,
                    format!("quota on {key:?} is not modelled: ignored (kubesim enforces requests.cpu, requests.memory, limits.cpu, limits.memory, requests.nvidia.com/gpu and pods)"),
                ));
                continue;
            };
            let amount = resource_amount(resource.resource_name(), &q.0, |e| {
                diags.push(Diagnostic::error(&src.file, position, &path, e));
            });
            if let Some(amount) = amount {
                hard.push((resource, amount));
            }
        }
        out.push(QuotaSpec {
            name: m.object.metadata.name.clone().unwrap_or_default(),
            namespace: namespace_of(&m.object.metadata),
            hard,
        });
    }
    out
}
