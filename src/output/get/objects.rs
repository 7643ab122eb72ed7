//! `-o yaml|json`: the listed objects as Kubernetes API objects (k8s-openapi types), with the
//! fields the run determines (names, labels, timestamps, node, phase, conditions, restart
//! counts, replica counts), wrapped in a `v1` `List` as kubectl prints several objects.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::autoscaling::v2 as autoscaling;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use serde_json::{Value, json};

use super::tables::{listed_nodes, listed_pods, listed_workloads, ready_endpoints};
use super::{DecisionView, Kind, Query, Snapshot};
use crate::cluster::journal::{NodeStatus, PodStatus};
use crate::metrics::history::{ClusterAt, Line, NodeAt, PodAt, WorkloadAt};

/// The listed objects as a `v1` `List`.
pub fn list(snapshot: &Snapshot, query: &Query) -> Value {
    let c = snapshot.cluster;
    let items: Vec<Value> = match query.kind {
        Kind::Pods => listed_pods(c, query)
            .into_iter()
            .map(|(ns, p)| to_value(pod(c, ns, p)))
            .collect(),
        Kind::Nodes => listed_nodes(c, query)
            .into_iter()
            .map(|(_, n)| to_value(node(n)))
            .collect(),
        Kind::Deployments | Kind::Statefulsets | Kind::Daemonsets => listed_workloads(c, query)
            .into_iter()
            .map(|w| workload(c, w))
            .collect(),
        Kind::Hpa => hpa_lines(c, query)
            .map(|h| to_value(hpa(snapshot, h)))
            .collect(),
        Kind::Services => c
            .services
            .iter()
            .filter_map(|s| service(c, s, query))
            .map(to_value)
            .collect(),
    };
    json!({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}})
}

fn to_value<T: serde::Serialize>(object: T) -> Value {
    serde_json::to_value(object).expect("k8s objects serialize")
}

/// Simulated seconds as an API timestamp (simulated time 0 is the Unix epoch).
fn time(seconds: f64) -> meta::Time {
    let micros = (seconds * 1e6).round() as i64;
    meta::Time(k8s_openapi::jiff::Timestamp::from_microsecond(micros).unwrap_or_default())
}

fn metadata(name: &str, namespace: Option<&str>, created: f64) -> meta::ObjectMeta {
    meta::ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        creation_timestamp: Some(time(created)),
        ..Default::default()
    }
}

fn quantities(amounts: &BTreeMap<String, String>) -> BTreeMap<String, Quantity> {
    amounts
        .iter()
        .map(|(k, v)| (k.clone(), Quantity(v.clone())))
        .collect()
}

fn condition(kind: &str, ok: bool) -> core::PodCondition {
    core::PodCondition {
        type_: kind.to_string(),
        status: if ok { "True" } else { "False" }.to_string(),
        ..Default::default()
    }
}

fn pod(c: &ClusterAt, namespace: &str, p: &PodAt) -> core::Pod {
    let (labels, containers) = match c.templates.get(&p.template) {
        Some(Line::Template {
            labels, containers, ..
        }) => (Some(labels.clone()), containers.as_slice()),
        _ => (None, &[][..]),
    };
    let mut metadata = metadata(&p.name, Some(namespace), p.created);
    metadata.labels = labels;
    metadata.deletion_timestamp = p.deleted.map(time);
    let node_name = p.node.and_then(|n| c.nodes.get(&n)).map(|n| n.name.clone());
    let spec_containers = containers
        .iter()
        .map(|k| core::Container {
            name: k.name.clone(),
            resources: Some(core::ResourceRequirements {
                requests: Some(quantities(&k.requests)),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    let running = matches!(p.status, PodStatus::Running | PodStatus::Terminating);
    let state = if running {
        core::ContainerState {
            running: Some(core::ContainerStateRunning {
                started_at: p.started.map(time),
            }),
            ..Default::default()
        }
    } else {
        core::ContainerState {
            waiting: Some(core::ContainerStateWaiting {
                reason: Some(format!("{:?}", p.status)),
                ..Default::default()
            }),
            ..Default::default()
        }
    };
    let statuses = containers
        .iter()
        .map(|k| core::ContainerStatus {
            name: k.name.clone(),
            ready: p.ready,
            restart_count: p.restarts as i32,
            started: Some(running),
            state: Some(state.clone()),
            ..Default::default()
        })
        .collect();
    let phase = if p.started.is_some() {
        "Running"
    } else {
        "Pending"
    };
    core::Pod {
        metadata,
        spec: Some(core::PodSpec {
            node_name: node_name.clone(),
            containers: spec_containers,
            ..Default::default()
        }),
        status: Some(core::PodStatus {
            phase: Some(phase.to_string()),
            conditions: Some(vec![
                condition("PodScheduled", node_name.is_some()),
                condition("Ready", p.ready),
            ]),
            container_statuses: Some(statuses),
            start_time: p.started.map(time),
            ..Default::default()
        }),
    }
}

fn node(n: &NodeAt) -> core::Node {
    let mut metadata = metadata(&n.name, None, n.registered.unwrap_or(n.created));
    metadata.labels = Some(n.labels.clone());
    let taints = n.taints.iter().map(|t| parse_taint(t)).collect::<Vec<_>>();
    let ready = match n.status {
        NodeStatus::Ready => "True",
        _ => "Unknown",
    };
    core::Node {
        metadata,
        spec: Some(core::NodeSpec {
            unschedulable: n.unschedulable.then_some(true),
            taints: (!taints.is_empty()).then_some(taints),
            ..Default::default()
        }),
        status: Some(core::NodeStatus {
            allocatable: Some(quantities(&n.allocatable)),
            capacity: Some(quantities(&n.allocatable)),
            conditions: Some(vec![core::NodeCondition {
                type_: "Ready".into(),
                status: ready.into(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

/// `key=value:Effect` (or `key:Effect`) back into a taint.
fn parse_taint(text: &str) -> core::Taint {
    let (key_value, effect) = text.rsplit_once(':').unwrap_or((text, ""));
    let (key, value) = match key_value.split_once('=') {
        Some((k, v)) => (k, Some(v.to_string())),
        None => (key_value, None),
    };
    core::Taint {
        key: key.to_string(),
        value,
        effect: effect.to_string(),
        ..Default::default()
    }
}

fn selector(text: &str) -> meta::LabelSelector {
    let parsed = crate::cluster::selector::LabelSelector::parse_kubectl(text).unwrap_or_default();
    let expressions: Vec<meta::LabelSelectorRequirement> = parsed
        .match_expressions
        .iter()
        .map(|r| meta::LabelSelectorRequirement {
            key: r.key.clone(),
            operator: format!("{:?}", r.operator),
            values: (!r.values.is_empty()).then(|| r.values.clone()),
        })
        .collect();
    meta::LabelSelector {
        match_labels: (!parsed.match_labels.is_empty()).then_some(parsed.match_labels),
        match_expressions: (!expressions.is_empty()).then_some(expressions),
    }
}

fn workload(c: &ClusterAt, w: &WorkloadAt) -> Value {
    let metadata = metadata(&w.name, Some(&w.namespace), 0.0);
    let selector = selector(&w.selector);
    let template = core::PodTemplateSpec::default();
    match w.kind.as_str() {
        "StatefulSet" => to_value(apps::StatefulSet {
            metadata,
            spec: Some(apps::StatefulSetSpec {
                replicas: Some(w.replicas),
                selector,
                template,
                ..Default::default()
            }),
            status: Some(apps::StatefulSetStatus {
                replicas: w.replicas,
                ready_replicas: Some(w.ready),
                updated_replicas: Some(w.updated),
                available_replicas: Some(w.available),
                ..Default::default()
            }),
        }),
        "DaemonSet" => to_value(apps::DaemonSet {
            metadata,
            spec: Some(apps::DaemonSetSpec {
                selector,
                template,
                ..Default::default()
            }),
            status: Some(apps::DaemonSetStatus {
                desired_number_scheduled: w.replicas,
                number_ready: w.ready,
                updated_number_scheduled: Some(w.updated),
                number_available: Some(w.available),
                ..Default::default()
            }),
        }),
        _ => to_value(apps::Deployment {
            metadata,
            spec: Some(apps::DeploymentSpec {
                replicas: Some(w.replicas),
                selector,
                template,
                ..Default::default()
            }),
            status: Some(apps::DeploymentStatus {
                replicas: Some(workload_pods(c, &w.name)),
                ready_replicas: Some(w.ready),
                updated_replicas: Some(w.updated),
                available_replicas: Some(w.available),
                ..Default::default()
            }),
        }),
    }
}

/// `status.replicas`: the workload's pods that are not being deleted.
fn workload_pods(c: &ClusterAt, name: &str) -> i32 {
    c.pods
        .values()
        .filter(|p| !matches!(p.status, PodStatus::Gone | PodStatus::Terminating))
        .filter(|p| c.workload_of(p) == Some(name))
        .count() as i32
}

fn hpa_lines<'c>(c: &'c ClusterAt, query: &'c Query) -> impl Iterator<Item = &'c Line> {
    c.hpas.iter().filter(move |h| match h {
        Line::Hpa { namespace, .. } => query.namespace.as_ref().is_none_or(|ns| ns == namespace),
        _ => false,
    })
}

fn hpa(snapshot: &Snapshot, line: &Line) -> autoscaling::HorizontalPodAutoscaler {
    let Line::Hpa {
        name,
        namespace,
        reference,
        min_replicas,
        max_replicas,
    } = line
    else {
        unreachable!("hpa lines are Hpa");
    };
    let (kind, target) = reference
        .split_once('/')
        .unwrap_or(("Deployment", reference));
    let decision = snapshot.decisions.get(name);
    autoscaling::HorizontalPodAutoscaler {
        metadata: metadata(name, Some(namespace), 0.0),
        spec: Some(autoscaling::HorizontalPodAutoscalerSpec {
            scale_target_ref: autoscaling::CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: kind.to_string(),
                name: target.to_string(),
            },
            min_replicas: Some(*min_replicas),
            max_replicas: *max_replicas,
            ..Default::default()
        }),
        status: decision.map(|d| autoscaling::HorizontalPodAutoscalerStatus {
            current_replicas: Some(d.current_replicas),
            desired_replicas: d.desired_replicas,
            ..Default::default()
        }),
    }
}

fn service(c: &ClusterAt, line: &Line, query: &Query) -> Option<core::Service> {
    let Line::Service {
        name,
        namespace,
        service_type,
        ports,
        selector,
        backends,
    } = line
    else {
        return None;
    };
    if query.namespace.as_ref().is_some_and(|ns| ns != namespace) {
        return None;
    }
    let mut metadata = metadata(name, Some(namespace), 0.0);
    let endpoints = ready_endpoints(c, backends).to_string();
    metadata.annotations = Some(BTreeMap::from([(
        "kubesim.io/ready-endpoints".to_string(),
        endpoints,
    )]));
    let selector = crate::cluster::selector::LabelSelector::parse_kubectl(selector)
        .map(|s| s.match_labels)
        .ok()
        .filter(|s| !s.is_empty());
    Some(core::Service {
        metadata,
        spec: Some(core::ServiceSpec {
            type_: Some(service_type.clone()),
            selector,
            ports: Some(ports.iter().map(|p| parse_port(p)).collect()),
            ..Default::default()
        }),
        status: None,
    })
}

/// `port[:nodePort]/protocol` back into a port.
fn parse_port(text: &str) -> core::ServicePort {
    let (ports, protocol) = text.split_once('/').unwrap_or((text, "TCP"));
    let (port, node_port) = match ports.split_once(':') {
        Some((p, n)) => (p, n.parse().ok()),
        None => (ports, None),
    };
    core::ServicePort {
        port: port.parse().unwrap_or_default(),
        node_port,
        protocol: Some(protocol.to_string()),
        ..Default::default()
    }
}

/// The TARGETS column: `cpu: 88%/60%` per metric (`<unknown>` before a value is known).
pub fn targets(d: &DecisionView) -> String {
    let each: Vec<String> = d
        .metrics
        .iter()
        .map(|m| {
            let name = m.metric.to_lowercase();
            let target = m.target.split(' ').next().unwrap_or_default();
            let current = if m.target.ends_with("utilization") {
                m.utilization_percent.map(|u| format!("{u}%"))
            } else {
                m.average_value_milli
                    .or(m.value_milli)
                    .map(|v| m.unit.format(v))
            };
            let current = current.unwrap_or_else(|| "<unknown>".into());
            format!("{name}: {current}/{target}")
        })
        .collect();
    if each.is_empty() {
        "<none>".into()
    } else {
        each.join(", ")
    }
}
