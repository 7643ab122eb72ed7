//! Namespaces the objects live in. When the manifests define Namespace objects, every object
//! must be in one of them (or in a namespace every cluster has: `default`, `kube-system`,
//! `kube-public`, `kube-node-lease`), as the API server refuses an object in a namespace that
//! does not exist. Manifests that define no Namespace at all are taken to be applied to a
//! cluster whose namespaces exist already, and are not checked.

use std::collections::BTreeSet;

use super::diag::{Diagnostic, did_you_mean_hint};
use super::manifest::{Manifest, ManifestSet};

/// Namespaces every cluster has.
const BUILT_IN: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// An error per object in a namespace the manifests do not define (when they define any).
pub fn check(set: &ManifestSet, diags: &mut Vec<Diagnostic>) {
    if set.namespaces.is_empty() {
        return;
    }
    let defined: BTreeSet<&str> = (set.namespaces.iter())
        .filter_map(|m| m.object.metadata.name.as_deref())
        .chain(BUILT_IN)
        .collect();
    let mut report = |namespace: Option<&str>, source: &super::manifest::Source| {
        let Some(ns) = namespace else {
            return;
        };
        if defined.contains(ns) {
            return;
        }
        let created: Vec<&str> = set
            .namespaces
            .iter()
            .filter_map(|m| m.object.metadata.name.as_deref())
            .collect();
        let hint = did_you_mean_hint(ns, created.iter().copied());
        diags.push(source.error(
            "metadata.namespace",
            format!(
                "namespace {ns:?} not found{hint}: the manifests define {} (and the built-in ones); add a Namespace object for it",
                created.join(", ")
            ),
        ));
    };
    macro_rules! each {
        ($($list:ident),*) => {
            $(for m in &set.$list {
                report(namespace_of(m), &m.source);
            })*
        };
    }
    each!(
        deployments,
        stateful_sets,
        daemon_sets,
        jobs,
        cron_jobs,
        pods,
        replication_controllers,
        services,
        hpas,
        pdbs,
        ingresses,
        limit_ranges,
        resource_quotas,
        config_maps,
        secrets
    );
}

/// The namespace an object names explicitly (`None`: the default one).
fn namespace_of<
    T: k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
>(
    m: &Manifest<T>,
) -> Option<&str> {
    m.object.metadata().namespace.as_deref()
}
