//! The names and fixed facts of the run's objects that the cluster's journal refers to by id,
//! gathered at the end of a run into a [`History`].

use std::collections::BTreeMap;

use crate::cluster::Cluster;
use crate::cluster::quantity::format_amount;
use crate::metrics::history::{History, Line, NodeFacts, Objects};
use crate::scenario::Scenario;
use crate::sim::SimTime;

/// Takes the journal out of `cluster` with what its ids stand for.
pub(super) fn history(cluster: &mut Cluster, scenario: &Scenario, end: SimTime) -> History {
    let objects = Objects {
        workloads: workloads(cluster),
        services: services(scenario),
        hpas: hpas(scenario),
        pods: cluster
            .pods
            .iter()
            .map(|p| (p.name.clone(), p.deployment.0))
            .collect(),
        nodes: cluster
            .nodes
            .iter()
            .map(|n| NodeFacts {
                name: n.name.clone(),
                pool: cluster.pools[n.pool.index()].spec.name.clone(),
                labels: (*n.labels).clone(),
                allocatable: allocatable(n),
            })
            .collect(),
    };
    History {
        journal: std::mem::take(&mut cluster.journal),
        objects,
        end,
    }
}

fn workloads(cluster: &Cluster) -> Vec<Line> {
    cluster
        .deployments
        .iter()
        .map(|d| Line::Workload {
            name: d.spec.name.clone(),
            namespace: d.spec.namespace.clone(),
            workload_kind: d.spec.source.kind().to_string(),
            selector: d.spec.selector.to_string(),
        })
        .collect()
}

fn services(scenario: &Scenario) -> Vec<Line> {
    scenario
        .services
        .iter()
        .map(|s| Line::Service {
            name: s.name.clone(),
            namespace: s.namespace.clone(),
            service_type: s.service_type.clone(),
            ports: s.ports.clone(),
            selector: s.selector.to_string(),
            backends: s
                .backends
                .iter()
                .map(|&d| scenario.deployments[d].name.clone())
                .collect(),
        })
        .collect()
}

fn hpas(scenario: &Scenario) -> Vec<Line> {
    scenario
        .hpas
        .iter()
        .map(|h| {
            let kind = h
                .target
                .map_or("Deployment", |d| scenario.deployments[d].source.kind());
            Line::Hpa {
                name: h.name.clone(),
                namespace: h.namespace.clone(),
                reference: format!("{kind}/{}", h.target_name),
                min_replicas: h.min_replicas,
                max_replicas: h.max_replicas,
            }
        })
        .collect()
}

/// `status.allocatable` as quantities, with `pods`.
fn allocatable(n: &crate::cluster::Node) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = n
        .allocatable
        .nonzero()
        .map(|(name, v)| (name.to_string(), format_amount(name, v)))
        .collect();
    out.insert("pods".into(), n.max_pods.to_string());
    out
}
