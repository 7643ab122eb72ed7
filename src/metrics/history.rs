//! The run's history as a file, `history.jsonl`: the objects `kubectl get` lists (workloads,
//! Services, HPAs, pod templates, nodes, pods) and every visible change of their status, one
//! JSON object per line, in the order things happened. It is the cluster's
//! `Journal` with names instead of ids.
//!
//! [`ClusterAt`] replays the lines up to an instant: what `kubesim get --at` prints and what the
//! timeline export draws. Lines at the same instant apply in file order, and "at `t`" means
//! after every change at `t`.
//!
//! Line kinds (`kind`): `Workload`, `Service`, `Hpa` (the objects from the manifests, first);
//! `Template` (a pod template, before the first pod made from it); `NodeAdded`, `Node`,
//! `PodCreated`, `Pod`, `WorkloadStatus` (changes, with `t` in simulated seconds); `End` (last:
//! the run's end, the number of change records, and when the journal was full if it was).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cluster::journal::{Change, Journal, NodeStatus, PodStatus};
use crate::cluster::quantity::format_amount;
use crate::cluster::resources::Taint;
use crate::cluster::selector::Labels;
use crate::scenario::PodTemplate;
use crate::sim::SimTime;

/// One line of `history.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all_fields = "camelCase")]
pub enum Line {
    /// A workload of the scenario (or the pods of a trace).
    Workload {
        /// `metadata.name`.
        name: String,
        /// `metadata.namespace`.
        namespace: String,
        /// Deployment, StatefulSet, DaemonSet or Pod (pods from a trace).
        workload_kind: String,
        /// Its pod selector in `kubectl -l` syntax (`app=web,tier in (a,b)`).
        selector: String,
    },
    /// A Service, as the manifests declare it.
    Service {
        /// `metadata.name`.
        name: String,
        /// `metadata.namespace`.
        namespace: String,
        /// `spec.type` (`ClusterIP` when absent); `type` in the file.
        #[serde(rename = "type")]
        service_type: String,
        /// `spec.ports` as `kubectl get services` prints them (`80/TCP`, `80:30080/TCP`).
        ports: Vec<String>,
        /// `spec.selector` as comma-separated `key=value` (empty without one).
        selector: String,
        /// The workloads whose pods it selects.
        backends: Vec<String>,
    },
    /// A HorizontalPodAutoscaler, as the manifests declare it.
    Hpa {
        /// `metadata.name`.
        name: String,
        /// `metadata.namespace`.
        namespace: String,
        /// `Deployment/web`.
        reference: String,
        /// `spec.minReplicas` (`minReplicas` in the file).
        min_replicas: i32,
        /// `spec.maxReplicas` (`maxReplicas` in the file).
        max_replicas: i32,
    },
    /// A pod template, written just before the `PodCreated` line of the first pod made from it.
    Template {
        /// The id `PodCreated` lines refer to it by (0, 1, … in order of first use).
        id: u32,
        /// The name of the workload whose pods are made from it.
        workload: String,
        /// That workload's namespace.
        namespace: String,
        /// The pods' `metadata.labels`.
        labels: Labels,
        /// App containers, then sidecars (restartable init containers), in manifest order.
        containers: Vec<ContainerLine>,
        /// Requests of the whole pod (with init containers and overhead).
        requests: BTreeMap<String, String>,
        /// `spec.nodeName` (`nodeName` in the file; absent when the template sets none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node_name: Option<String>,
    },
    /// A node was added to its pool; it is `Provisioning` until its first `Node` line.
    NodeAdded {
        /// When, in simulated seconds.
        t: f64,
        /// The node's id, which its later `Node` lines refer to.
        node: u32,
        /// The node's name.
        name: String,
        /// The name of its node pool.
        pool: String,
        /// The node's labels.
        labels: Labels,
        /// `status.allocatable` as quantities by resource name, with `pods`.
        allocatable: BTreeMap<String, String>,
    },
    /// A node's state changed (what `kubectl get nodes` shows of it).
    Node {
        /// When, in simulated seconds.
        t: f64,
        /// The node's id (from its `NodeAdded` line).
        node: u32,
        /// Its STATUS column.
        status: NodeStatus,
        /// `spec.unschedulable`: cordoned.
        unschedulable: bool,
        /// The machine is down (its kubelet is silent), whether or not that was noticed yet.
        down: bool,
        /// `key=value:Effect` (`key:Effect` without a value).
        taints: Vec<String>,
    },
    /// A pod was created (Pending).
    PodCreated {
        /// When, in simulated seconds.
        t: f64,
        /// The pod's id, which its later `Pod` lines refer to.
        pod: u32,
        /// The pod's name.
        name: String,
        /// The id of the `Template` it was made from.
        template: u32,
    },
    /// A running pod was resized in place (the VPA's `InPlaceOrRecreate`): from now on its
    /// requests are those of the `Template` it names, written before its first use.
    PodResized {
        /// When, in simulated seconds.
        t: f64,
        /// The pod's id (from its `PodCreated` line).
        pod: u32,
        /// The id of the `Template` whose requests it now has.
        template: u32,
    },
    /// A pod's state changed (what `kubectl get pods` shows of it).
    Pod {
        /// When, in simulated seconds.
        t: f64,
        /// The pod's id (from its `PodCreated` line).
        pod: u32,
        /// Its STATUS column.
        status: PodStatus,
        /// Whether it is Ready.
        ready: bool,
        /// The id of the node it is bound to (absent while it is not bound).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<u32>,
        /// How many times its container was restarted (the RESTARTS column).
        restarts: u32,
    },
    /// A workload's `spec.replicas` or status counts changed.
    WorkloadStatus {
        /// When, in simulated seconds.
        t: f64,
        /// The workload's name.
        workload: String,
        /// `spec.replicas`: how many pods it wants.
        replicas: i32,
        /// Pods of the current revision (`status.updatedReplicas`).
        updated: i32,
        /// Ready pods (`status.readyReplicas`).
        ready: i32,
        /// Pods Ready for at least `minReadySeconds` (`status.availableReplicas`).
        available: i32,
    },
    /// The last line: the run's end and how much the journal recorded.
    End {
        /// When the run ended, in simulated seconds.
        t: f64,
        /// How many change lines the file has (`Template` lines not counted).
        records: usize,
        /// When the journal was full and stopped recording, in simulated seconds (`fullAt` in
        /// the file; absent when it holds the whole run).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        full_at: Option<f64>,
    },
}

/// A container of a pod template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContainerLine {
    /// The container's name.
    pub name: String,
    /// Its `cpu` and `memory` requests as quantities (`250m`, `128Mi`); one it does not set is
    /// absent.
    pub requests: BTreeMap<String, String>,
}

/// Names and fixed facts of the run's objects, by id, that the journal refers to.
#[derive(Clone, Debug, Default)]
pub struct Objects {
    /// Workload lines, by Deployment id.
    pub workloads: Vec<Line>,
    /// `Service` lines, one per Service of the scenario.
    pub services: Vec<Line>,
    /// `Hpa` lines, one per HorizontalPodAutoscaler of the scenario.
    pub hpas: Vec<Line>,
    /// Each pod's name and workload index, by pod id.
    pub pods: Vec<(String, u32)>,
    /// Each node's `NodeAdded` facts (name, pool, labels, allocatable), by node id.
    pub nodes: Vec<NodeFacts>,
}

/// What a `NodeAdded` line says of a node, which does not change.
#[derive(Clone, Debug, Default)]
pub struct NodeFacts {
    /// The node's name.
    pub name: String,
    /// The name of its node pool.
    pub pool: String,
    /// The node's labels.
    pub labels: Labels,
    /// `status.allocatable` as quantities by resource name, with `pods`.
    pub allocatable: BTreeMap<String, String>,
}

/// The journal and what it refers to: everything `history.jsonl` is written from.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// The changes of the run, which refer to objects by id.
    pub journal: Journal,
    /// What those ids stand for.
    pub objects: Objects,
    /// When the run ended (the `End` line's `t`).
    pub end: SimTime,
}

impl History {
    /// Hands each line of the file to `write`, in order.
    pub fn for_each_line<E>(&self, mut write: impl FnMut(&Line) -> Result<(), E>) -> Result<(), E> {
        let o = &self.objects;
        for line in o.workloads.iter().chain(&o.services).chain(&o.hpas) {
            write(line)?;
        }
        let mut templates_written = vec![false; self.journal.templates().len()];
        for record in self.journal.records() {
            let t = record.at.as_secs_f64();
            if let Change::PodCreated { pod, template } | Change::PodResized { pod, template } =
                record.change
            {
                let id = template as usize;
                if !templates_written[id] {
                    templates_written[id] = true;
                    let workload = o.pods[pod.index()].1;
                    write(&self.template_line(template, workload))?;
                }
            }
            write(&self.change_line(t, &record.change))?;
        }
        write(&Line::End {
            t: self.end.as_secs_f64(),
            records: self.journal.records().len(),
            full_at: self.journal.full_at().map(SimTime::as_secs_f64),
        })
    }

    fn template_line(&self, id: u32, workload: u32) -> Line {
        let template: &Arc<PodTemplate> = &self.journal.templates()[id as usize];
        let (workload, namespace) = match &self.objects.workloads[workload as usize] {
            Line::Workload {
                name, namespace, ..
            } => (name.clone(), namespace.clone()),
            _ => unreachable!("workload lines are Workload"),
        };
        let containers = template
            .hpa_containers
            .iter()
            .map(|c| {
                let amounts = [("cpu", c.cpu_millis), ("memory", c.memory_bytes)];
                let requests = amounts
                    .into_iter()
                    .filter_map(|(name, v)| Some((name.to_string(), format_amount(name, v?))))
                    .collect();
                ContainerLine {
                    name: c.name.clone(),
                    requests,
                }
            })
            .collect();
        let requests = template
            .requests
            .nonzero()
            .map(|(name, v)| (name.to_string(), format_amount(name, v)))
            .collect();
        Line::Template {
            id,
            workload,
            namespace,
            labels: template.labels.clone(),
            containers,
            requests,
            node_name: template.node_name.clone(),
        }
    }

    fn change_line(&self, t: f64, change: &Change) -> Line {
        let o = &self.objects;
        match change {
            &Change::PodCreated { pod, template } => Line::PodCreated {
                t,
                pod: pod.0,
                name: o.pods[pod.index()].0.clone(),
                template,
            },
            &Change::PodResized { pod, template } => Line::PodResized {
                t,
                pod: pod.0,
                template,
            },
            Change::Pod { pod, state } => Line::Pod {
                t,
                pod: pod.0,
                status: state.status,
                ready: state.ready,
                node: state.node.map(|n| n.0),
                restarts: state.restarts,
            },
            Change::NodeAdded { node } => {
                let facts = &o.nodes[node.index()];
                Line::NodeAdded {
                    t,
                    node: node.0,
                    name: facts.name.clone(),
                    pool: facts.pool.clone(),
                    labels: facts.labels.clone(),
                    allocatable: facts.allocatable.clone(),
                }
            }
            Change::Node { node, state } => Line::Node {
                t,
                node: node.0,
                status: state.status,
                unschedulable: state.unschedulable,
                down: state.down,
                taints: state.taints.iter().map(taint_text).collect(),
            },
            Change::Workload {
                deployment,
                replicas,
                status,
            } => Line::WorkloadStatus {
                t,
                workload: workload_name(&o.workloads[deployment.index()]).to_string(),
                replicas: *replicas,
                updated: status.updated,
                ready: status.ready,
                available: status.available,
            },
        }
    }
}

fn workload_name(line: &Line) -> &str {
    match line {
        Line::Workload { name, .. } => name,
        _ => "",
    }
}

/// A taint as `kubectl describe node` prints it.
fn taint_text(t: &Taint) -> String {
    if t.value.is_empty() {
        format!("{}:{:?}", t.key, t.effect)
    } else {
        format!("{}={}:{:?}", t.key, t.value, t.effect)
    }
}

/// A workload at an instant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkloadAt {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// Deployment, StatefulSet, DaemonSet, … (the line's `workloadKind`).
    pub kind: String,
    /// Its pod selector in `kubectl -l` syntax.
    pub selector: String,
    /// `spec.replicas` and the status counts (zero before the first status).
    pub replicas: i32,
    /// `status.updatedReplicas`.
    pub updated: i32,
    /// `status.readyReplicas`.
    pub ready: i32,
    /// `status.availableReplicas`.
    pub available: i32,
}

/// A node at an instant.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeAt {
    /// The node's name.
    pub name: String,
    /// The name of its node pool.
    pub pool: String,
    /// The node's labels.
    pub labels: Labels,
    /// `status.allocatable` as quantities by resource name, with `pods`.
    pub allocatable: BTreeMap<String, String>,
    /// When it was added to its pool (provisioning began), in simulated seconds.
    pub created: f64,
    /// When it registered (`metadata.creationTimestamp` of the Node object).
    pub registered: Option<f64>,
    /// Its STATUS column (`Provisioning` until its first `Node` line).
    pub status: NodeStatus,
    /// `spec.unschedulable`: cordoned.
    pub unschedulable: bool,
    /// The machine is down (its kubelet is silent), whether or not that was noticed yet.
    pub down: bool,
    /// `key=value:Effect` (`key:Effect` without a value).
    pub taints: Vec<String>,
}

/// A pod at an instant.
#[derive(Clone, Debug, PartialEq)]
pub struct PodAt {
    /// The pod's name.
    pub name: String,
    /// The id of the `Template` it was made from.
    pub template: u32,
    /// When it was created, in simulated seconds.
    pub created: f64,
    /// Its STATUS column.
    pub status: PodStatus,
    /// Whether it is Ready.
    pub ready: bool,
    /// The id of the node it is bound to (`None` while it is not bound).
    pub node: Option<u32>,
    /// How many times its container was restarted (the RESTARTS column).
    pub restarts: u32,
    /// When its container was last killed (for `RESTARTS 2 (5m ago)`).
    pub last_restart: Option<f64>,
    /// When it started running (`status.startTime`).
    pub started: Option<f64>,
    /// When it was deleted (`metadata.deletionTimestamp`).
    pub deleted: Option<f64>,
}

/// The objects of a run as they were at one instant.
#[derive(Clone, Debug, Default)]
pub struct ClusterAt {
    /// The instant, in simulated seconds.
    pub at: f64,
    /// Every workload with its counts at `at`, in the order of the `Workload` lines.
    pub workloads: Vec<WorkloadAt>,
    /// `Service` lines.
    pub services: Vec<Line>,
    /// `Hpa` lines.
    pub hpas: Vec<Line>,
    /// `Template` lines by id.
    pub templates: BTreeMap<u32, Line>,
    /// Nodes added by then, by id (provisioning and removed ones included).
    pub nodes: BTreeMap<u32, NodeAt>,
    /// Pods created by then, by id (gone ones included).
    pub pods: BTreeMap<u32, PodAt>,
}

/// Why the history cannot answer for an instant.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ReplayError {
    /// The instant is after the run's end.
    #[error("the run ended at {}; {} is after it", shown(*end), shown(*at))]
    AfterEnd {
        /// The instant asked for, in simulated seconds.
        at: f64,
        /// When the run ended, in simulated seconds.
        end: f64,
    },
    /// The journal was full by the instant, so the history no longer holds every change up to
    /// it.
    #[error(
        "the history stops at {}: the run made more than {} changes and its journal was full; {} is not before that",
        shown(*full_at),
        crate::cluster::journal::MAX_RECORDS,
        shown(*at)
    )]
    AfterFull {
        /// The instant asked for, in simulated seconds.
        at: f64,
        /// When the journal was full and stopped recording, in simulated seconds.
        full_at: f64,
    },
    /// The last line is not `End` (or there are none): the file was cut short.
    #[error("the history has no End line: the file is cut short")]
    NoEnd,
    /// An `End` line before the last: the lines were reordered or the file edited.
    #[error(
        "line {line} is the End line but not the last: the lines were reordered or the file edited"
    )]
    EndNotLast {
        /// Its line number (from 1).
        line: usize,
    },
}

/// Simulated seconds as a duration (`1h30m0s`).
fn shown(seconds: f64) -> String {
    crate::sim::SimDuration::from_secs_f64_ceil(seconds).to_string()
}

impl ClusterAt {
    /// Replays `lines` up to and including the changes at `at` (simulated seconds).
    pub fn replay(lines: &[Line], at: f64) -> Result<ClusterAt, ReplayError> {
        let ends = lines.iter().position(|l| matches!(l, Line::End { .. }));
        if let Some(i) = ends.filter(|&i| i + 1 < lines.len()) {
            return Err(ReplayError::EndNotLast { line: i + 1 });
        }
        match lines.last() {
            Some(&Line::End { t, full_at, .. }) => {
                if at > t {
                    return Err(ReplayError::AfterEnd { at, end: t });
                }
                if let Some(full_at) = full_at.filter(|&f| at >= f) {
                    return Err(ReplayError::AfterFull { at, full_at });
                }
            }
            _ => return Err(ReplayError::NoEnd),
        }
        let mut c = ClusterAt {
            at,
            ..ClusterAt::default()
        };
        for line in lines {
            if line_time(line).is_some_and(|t| t > at) {
                break;
            }
            c.apply(line);
        }
        Ok(c)
    }

    fn apply(&mut self, line: &Line) {
        match line {
            Line::Workload {
                name,
                namespace,
                workload_kind,
                selector,
            } => self.workloads.push(WorkloadAt {
                name: name.clone(),
                namespace: namespace.clone(),
                kind: workload_kind.clone(),
                selector: selector.clone(),
                ..WorkloadAt::default()
            }),
            Line::Service { .. } => self.services.push(line.clone()),
            Line::Hpa { .. } => self.hpas.push(line.clone()),
            Line::Template { id, .. } => {
                self.templates.insert(*id, line.clone());
            }
            Line::NodeAdded { .. } | Line::Node { .. } => self.apply_node(line),
            Line::PodCreated { .. } | Line::Pod { .. } => self.apply_pod(line),
            Line::PodResized { pod, template, .. } => {
                if let Some(p) = self.pods.get_mut(pod) {
                    p.template = *template;
                }
            }
            Line::WorkloadStatus {
                workload,
                replicas,
                updated,
                ready,
                available,
                ..
            } => {
                if let Some(w) = self.workloads.iter_mut().find(|w| &w.name == workload) {
                    (w.replicas, w.updated, w.ready) = (*replicas, *updated, *ready);
                    w.available = *available;
                }
            }
            Line::End { .. } => {}
        }
    }

    fn apply_node(&mut self, line: &Line) {
        match line {
            Line::NodeAdded {
                t,
                node,
                name,
                pool,
                labels,
                allocatable,
            } => {
                let n = NodeAt {
                    name: name.clone(),
                    pool: pool.clone(),
                    labels: labels.clone(),
                    allocatable: allocatable.clone(),
                    created: *t,
                    registered: None,
                    status: NodeStatus::Provisioning,
                    unschedulable: false,
                    down: false,
                    taints: Vec::new(),
                };
                self.nodes.insert(*node, n);
            }
            Line::Node {
                t,
                node,
                status,
                unschedulable,
                down,
                taints,
            } => {
                if let Some(n) = self.nodes.get_mut(node) {
                    if *status != NodeStatus::Provisioning && n.registered.is_none() {
                        n.registered = Some(*t);
                    }
                    (n.status, n.unschedulable, n.down) = (*status, *unschedulable, *down);
                    n.taints.clone_from(taints);
                }
            }
            _ => {}
        }
    }

    fn apply_pod(&mut self, line: &Line) {
        match line {
            Line::PodCreated {
                t,
                pod,
                name,
                template,
            } => {
                let p = PodAt {
                    name: name.clone(),
                    template: *template,
                    created: *t,
                    status: PodStatus::Pending,
                    ready: false,
                    node: None,
                    restarts: 0,
                    last_restart: None,
                    started: None,
                    deleted: None,
                };
                self.pods.insert(*pod, p);
            }
            Line::Pod {
                t,
                pod,
                status,
                ready,
                node,
                restarts,
            } => {
                if let Some(p) = self.pods.get_mut(pod) {
                    if *restarts > p.restarts {
                        p.last_restart = Some(*t);
                    }
                    if *status == PodStatus::Running && p.started.is_none() {
                        p.started = Some(*t);
                    }
                    if matches!(status, PodStatus::Terminating | PodStatus::Gone) {
                        p.deleted.get_or_insert(*t);
                    }
                    (p.status, p.ready, p.node, p.restarts) = (*status, *ready, *node, *restarts);
                }
            }
            _ => {}
        }
    }

    /// The workload a pod belongs to (from its template).
    pub fn workload_of(&self, pod: &PodAt) -> Option<&str> {
        match self.templates.get(&pod.template) {
            Some(Line::Template { workload, .. }) => Some(workload),
            _ => None,
        }
    }

    /// A pod's labels (from its template).
    pub fn labels_of(&self, pod: &PodAt) -> Option<&Labels> {
        match self.templates.get(&pod.template) {
            Some(Line::Template { labels, .. }) => Some(labels),
            _ => None,
        }
    }
}

/// When a change line happened (`None` for the object lines, which hold from the start, and
/// for `End`).
pub fn line_time(line: &Line) -> Option<f64> {
    match line {
        Line::NodeAdded { t, .. }
        | Line::Node { t, .. }
        | Line::PodCreated { t, .. }
        | Line::PodResized { t, .. }
        | Line::Pod { t, .. }
        | Line::WorkloadStatus { t, .. } => Some(*t),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(t: f64, ready: bool) -> Line {
        Line::Pod {
            t,
            pod: 0,
            status: PodStatus::Running,
            ready,
            node: Some(0),
            restarts: 0,
        }
    }

    fn lines(full_at: Option<f64>) -> Vec<Line> {
        let created = Line::PodCreated {
            t: 0.0,
            pod: 0,
            name: "web-0".into(),
            template: 0,
        };
        let end = Line::End {
            t: 100.0,
            records: 3,
            full_at,
        };
        vec![created, pod(10.0, false), pod(20.0, true), end]
    }

    #[test]
    fn an_instant_sees_every_change_up_to_and_at_it() {
        let l = lines(None);
        let ready = |t| ClusterAt::replay(&l, t).unwrap().pods[&0].ready;
        assert!(!ready(19.999));
        assert!(ready(20.0));
        let first = ClusterAt::replay(&l, 15.0).unwrap();
        assert_eq!(first.pods[&0].started, Some(10.0));
    }

    #[test]
    fn instants_the_history_does_not_know_are_refused() {
        assert_eq!(
            ClusterAt::replay(&lines(None), 101.0).unwrap_err(),
            ReplayError::AfterEnd {
                at: 101.0,
                end: 100.0
            }
        );
        let full = lines(Some(20.0));
        assert!(ClusterAt::replay(&full, 19.0).is_ok());
        assert!(matches!(
            ClusterAt::replay(&full, 20.0),
            Err(ReplayError::AfterFull { .. })
        ));
        let cut = &lines(None)[..3];
        assert_eq!(ClusterAt::replay(cut, 5.0).unwrap_err(), ReplayError::NoEnd);
        // The End line moved to the front: said, with its line, not taken for a cut file.
        let mut reordered = lines(None);
        reordered.rotate_right(1);
        assert_eq!(
            ClusterAt::replay(&reordered, 5.0).unwrap_err(),
            ReplayError::EndNotLast { line: 1 }
        );
    }
}
