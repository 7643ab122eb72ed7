//! The `kubectl get` tables: one row builder per kind, and kubectl's column layout (left
//! aligned, three spaces between columns).

use super::{Format, Kind, Query, Snapshot, human_duration};
use crate::cluster::journal::{NodeStatus, PodStatus};
use crate::metrics::history::{ClusterAt, Line, NodeAt, PodAt, WorkloadAt};

/// A table: header and rows of cells.
pub struct Table {
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// kubectl's layout: columns padded to their widest cell plus three spaces.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let header = self.header.iter().map(|h| h.to_string()).collect();
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if i + 1 < row.len() {
                    let pad = widths[i] - cell.chars().count() + 3;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// The table for `query`, rows sorted by namespace and name.
pub fn table(snapshot: &Snapshot, query: &Query) -> Table {
    let wide = query.format == Format::Wide;
    let mut t = match query.kind {
        Kind::Pods => pods(snapshot.cluster, query, wide),
        Kind::Nodes => nodes(snapshot.cluster, query, wide),
        Kind::Deployments | Kind::Statefulsets | Kind::Daemonsets => {
            workloads(snapshot.cluster, query, wide)
        }
        Kind::Hpa => hpas(snapshot, query),
        Kind::Services => services(snapshot.cluster, query, wide),
    };
    if query.namespace.is_none() && query.kind != Kind::Nodes {
        t.header.insert(0, "NAMESPACE");
    }
    t
}

/// Rows keyed by (namespace, name) for sorting; the namespace becomes the first cell when
/// every namespace is listed.
fn finish(
    header: Vec<&'static str>,
    mut keyed: Vec<((String, String), Vec<String>)>,
    query: &Query,
) -> Table {
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let rows = keyed
        .into_iter()
        .map(|((namespace, _), mut row)| {
            if query.namespace.is_none() && query.kind != Kind::Nodes {
                row.insert(0, namespace);
            }
            row
        })
        .collect();
    Table { header, rows }
}

fn in_namespace(query: &Query, namespace: &str) -> bool {
    query.namespace.as_deref().is_none_or(|ns| ns == namespace)
}

/// The pods `kubectl get pods` would list (not gone), with their namespace.
pub fn listed_pods<'c>(c: &'c ClusterAt, query: &Query) -> Vec<(&'c str, &'c PodAt)> {
    let mut pods: Vec<_> = c
        .pods
        .values()
        .filter(|p| p.status != PodStatus::Gone)
        .filter_map(|p| match c.templates.get(&p.template) {
            Some(Line::Template {
                namespace, labels, ..
            }) => Some((namespace.as_str(), labels, p)),
            _ => None,
        })
        .filter(|(ns, labels, _)| {
            in_namespace(query, ns) && query.selector.as_ref().is_none_or(|s| s.matches(labels))
        })
        .map(|(ns, _, p)| (ns, p))
        .collect();
    pods.sort_by(|a, b| (a.0, &a.1.name).cmp(&(b.0, &b.1.name)));
    pods
}

fn pods(c: &ClusterAt, query: &Query, wide: bool) -> Table {
    let mut header = vec!["NAME", "READY", "STATUS", "RESTARTS", "AGE"];
    if wide {
        header.push("NODE");
    }
    let keyed = listed_pods(c, query)
        .into_iter()
        .map(|(ns, p)| {
            let containers = container_count(c, p.template);
            let ready = if p.ready { containers } else { 0 };
            let restarts = match p.last_restart {
                Some(t) => format!("{} ({} ago)", p.restarts, human_duration(c.at - t)),
                None => p.restarts.to_string(),
            };
            let mut row = vec![
                p.name.clone(),
                format!("{ready}/{containers}"),
                format!("{:?}", p.status),
                restarts,
                human_duration(c.at - p.created),
            ];
            if wide {
                row.push(node_name(c, p.node));
            }
            ((ns.to_string(), p.name.clone()), row)
        })
        .collect();
    finish(header, keyed, query)
}

fn container_count(c: &ClusterAt, template: u32) -> usize {
    match c.templates.get(&template) {
        Some(Line::Template { containers, .. }) => containers.len().max(1),
        _ => 1,
    }
}

fn node_name(c: &ClusterAt, node: Option<u32>) -> String {
    node.and_then(|n| c.nodes.get(&n))
        .map_or_else(|| "<none>".to_string(), |n| n.name.clone())
}

/// The nodes `kubectl get nodes` would list: registered and not removed.
pub fn listed_nodes<'c>(c: &'c ClusterAt, query: &Query) -> Vec<(u32, &'c NodeAt)> {
    let mut nodes: Vec<_> = c
        .nodes
        .iter()
        .filter(|(_, n)| matches!(n.status, NodeStatus::Ready | NodeStatus::NotReady))
        .filter(|(_, n)| query.selector.as_ref().is_none_or(|s| s.matches(&n.labels)))
        .map(|(&id, n)| (id, n))
        .collect();
    nodes.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    nodes
}

fn nodes(c: &ClusterAt, query: &Query, wide: bool) -> Table {
    let mut header = vec!["NAME", "STATUS", "ROLES", "AGE"];
    if wide {
        header.extend(["POOL", "INSTANCE-TYPE", "ZONE", "PODS"]);
    }
    let label = |n: &NodeAt, key: &str| n.labels.get(key).cloned().unwrap_or("<none>".into());
    let keyed = listed_nodes(c, query)
        .into_iter()
        .map(|(id, n)| {
            let mut status = format!("{:?}", n.status);
            if n.unschedulable {
                status.push_str(",SchedulingDisabled");
            }
            let age = human_duration(c.at - n.registered.unwrap_or(n.created));
            let mut row = vec![n.name.clone(), status, "<none>".into(), age];
            if wide {
                let pods = c
                    .pods
                    .values()
                    .filter(|p| p.node == Some(id) && p.status != PodStatus::Gone)
                    .count();
                row.extend([
                    n.pool.clone(),
                    label(n, crate::cluster::INSTANCE_TYPE_LABEL),
                    label(n, crate::cluster::ZONE_LABEL),
                    pods.to_string(),
                ]);
            }
            ((String::new(), n.name.clone()), row)
        })
        .collect();
    finish(header, keyed, query)
}

/// The workloads of the queried kind.
pub fn listed_workloads<'c>(c: &'c ClusterAt, query: &Query) -> Vec<&'c WorkloadAt> {
    let kind = match query.kind {
        Kind::Statefulsets => "StatefulSet",
        Kind::Daemonsets => "DaemonSet",
        _ => "Deployment",
    };
    let mut workloads: Vec<_> = c
        .workloads
        .iter()
        .filter(|w| w.kind == kind && in_namespace(query, &w.namespace))
        .collect();
    workloads.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    workloads
}

fn workloads(c: &ClusterAt, query: &Query, wide: bool) -> Table {
    let mut header = match query.kind {
        Kind::Statefulsets => vec!["NAME", "READY", "AGE"],
        Kind::Daemonsets => vec![
            "NAME",
            "DESIRED",
            "CURRENT",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
        ],
        _ => vec!["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
    };
    if wide {
        header.extend(["CONTAINERS", "SELECTOR"]);
    }
    let keyed = listed_workloads(c, query)
        .into_iter()
        .map(|w| {
            let age = human_duration(c.at);
            let mut row = match query.kind {
                Kind::Statefulsets => vec![w.name.clone(), format!("{}/{}", w.ready, w.replicas)],
                Kind::Daemonsets => vec![
                    w.name.clone(),
                    w.replicas.to_string(),
                    current_pods(c, &w.name).to_string(),
                    w.ready.to_string(),
                    w.updated.to_string(),
                    w.available.to_string(),
                ],
                _ => vec![
                    w.name.clone(),
                    format!("{}/{}", w.ready, w.replicas),
                    w.updated.to_string(),
                    w.available.to_string(),
                ],
            };
            row.push(age);
            if wide {
                row.extend([container_names(c, &w.name), w.selector.clone()]);
            }
            ((w.namespace.clone(), w.name.clone()), row)
        })
        .collect();
    finish(header, keyed, query)
}

/// A workload's pods that exist and are not being deleted.
fn current_pods(c: &ClusterAt, workload: &str) -> usize {
    c.pods
        .values()
        .filter(|p| !matches!(p.status, PodStatus::Gone | PodStatus::Terminating))
        .filter(|p| c.workload_of(p) == Some(workload))
        .count()
}

/// The container names of the workload's newest pod template.
fn container_names(c: &ClusterAt, workload: &str) -> String {
    let newest = c.templates.values().rev().find_map(|t| match t {
        Line::Template {
            workload: w,
            containers,
            ..
        } if w == workload => Some(containers),
        _ => None,
    });
    newest.map_or_else(
        || "<none>".into(),
        |cs| {
            cs.iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(",")
        },
    )
}

fn hpas(snapshot: &Snapshot, query: &Query) -> Table {
    let header = vec![
        "NAME",
        "REFERENCE",
        "TARGETS",
        "MINPODS",
        "MAXPODS",
        "REPLICAS",
        "AGE",
    ];
    let c = snapshot.cluster;
    let keyed = c
        .hpas
        .iter()
        .filter_map(|h| match h {
            Line::Hpa {
                name,
                namespace,
                reference,
                min_replicas,
                max_replicas,
            } if in_namespace(query, namespace) => {
                let decision = snapshot.decisions.get(name);
                let row = vec![
                    name.clone(),
                    reference.clone(),
                    decision.map_or("<unknown>".into(), |d| super::objects::targets(d)),
                    min_replicas.to_string(),
                    max_replicas.to_string(),
                    decision.map_or("0".into(), |d| d.current_replicas.to_string()),
                    human_duration(c.at),
                ];
                Some(((namespace.clone(), name.clone()), row))
            }
            _ => None,
        })
        .collect();
    finish(header, keyed, query)
}

fn services(c: &ClusterAt, query: &Query, wide: bool) -> Table {
    let mut header = vec!["NAME", "TYPE", "PORT(S)", "ENDPOINTS", "AGE"];
    if wide {
        header.push("SELECTOR");
    }
    let keyed = c
        .services
        .iter()
        .filter_map(|s| match s {
            Line::Service {
                name,
                namespace,
                service_type,
                ports,
                selector,
                backends,
            } if in_namespace(query, namespace) => {
                let ports = if ports.is_empty() {
                    "<none>".to_string()
                } else {
                    ports.join(",")
                };
                let mut row = vec![
                    name.clone(),
                    service_type.clone(),
                    ports,
                    ready_endpoints(c, backends).to_string(),
                    human_duration(c.at),
                ];
                if wide {
                    row.push(if selector.is_empty() {
                        "<none>".into()
                    } else {
                        selector.clone()
                    });
                }
                Some(((namespace.clone(), name.clone()), row))
            }
            _ => None,
        })
        .collect();
    finish(header, keyed, query)
}

/// Ready pods of the Service's backends: its ready endpoints.
pub fn ready_endpoints(c: &ClusterAt, backends: &[String]) -> usize {
    c.pods
        .values()
        .filter(|p| p.ready && p.status != PodStatus::Gone)
        .filter(|p| {
            c.workload_of(p)
                .is_some_and(|w| backends.iter().any(|b| b == w))
        })
        .count()
}
