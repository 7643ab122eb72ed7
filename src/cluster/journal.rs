//! The cluster's journal: each change of a pod's, a node's or a workload's status as
//! `kubectl get` would show it, stamped with the simulated time it happened at, in the order it
//! happened. `kubesim get --at` and the timeline export replay it.
//!
//! The [`Cluster`](super::Cluster) methods that change what `kubectl` shows (bind, start, set
//! Ready, delete, terminate, a container killed or restarted; a node added, registered,
//! cordoned, tainted, found unreachable, down or removed) call the journal with the object's new
//! status; a record is kept only when the status differs from the last one recorded, so a
//! journal line is always a visible change. The engine moves the journal's clock before each
//! event. A [`Trial`](super::trial::Trial) suspends the journal: what a simulation tries is not
//! history.
//!
//! Memory is bounded: after [`MAX_RECORDS`] records the journal stops and remembers when, so a
//! reader can refuse instants it no longer knows.

use std::collections::HashMap;
use std::sync::Arc;

use super::resources::Taint;
use super::{DeploymentId, NodeId, PodId};
use crate::sim::SimTime;
use crate::spec::model::PodTemplate;
use crate::spec::rollout::RolloutStatus;

/// The most records a run's journal keeps (about 24 MB in memory, 60–80 MB written).
pub const MAX_RECORDS: usize = 1_000_000;

/// A pod's STATUS column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PodStatus {
    /// Not bound to a node yet.
    Pending,
    /// Bound; its containers have not started.
    ContainerCreating,
    /// Bound; the kubelet cannot create its container: a ConfigMap or Secret its environment
    /// needs is missing.
    CreateContainerConfigError,
    Running,
    /// Its container was killed and waits out the restart backoff.
    CrashLoopBackOff,
    /// Deleted, stopping within its grace period.
    Terminating,
    /// Deleted and gone from the API.
    Gone,
}

/// What `kubectl get pods` shows of a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodState {
    pub status: PodStatus,
    pub ready: bool,
    pub node: Option<NodeId>,
    pub restarts: u32,
}

/// A node's place in its life as `kubectl get nodes` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum NodeStatus {
    /// Requested from the cloud, not registered: not in the API yet.
    Provisioning,
    Ready,
    /// The node lifecycle controller found it unreachable (Ready condition Unknown).
    NotReady,
    /// Deleted.
    Removed,
}

/// What `kubectl get nodes` (and `-o yaml`) shows of a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeState {
    pub status: NodeStatus,
    /// `spec.unschedulable` (cordoned): `Ready,SchedulingDisabled`.
    pub unschedulable: bool,
    /// The machine is down (its kubelet is silent), whether or not that was noticed yet.
    pub down: bool,
    pub taints: Vec<Taint>,
}

/// One change.
#[derive(Clone, Debug)]
pub enum Change {
    /// A pod was created from `template` (an index into [`Journal::templates`]): Pending.
    PodCreated {
        pod: PodId,
        template: u32,
    },
    Pod {
        pod: PodId,
        state: PodState,
    },
    /// A running pod was resized in place: its requests are now `template`'s.
    PodResized {
        pod: PodId,
        template: u32,
    },
    /// A node was added to its pool (provisioning).
    NodeAdded {
        node: NodeId,
    },
    Node {
        node: NodeId,
        state: NodeState,
    },
    /// A workload's replicas (`spec.replicas`) and status counts.
    Workload {
        deployment: DeploymentId,
        replicas: i32,
        status: RolloutStatus,
    },
}

/// A change and when it happened.
#[derive(Clone, Debug)]
pub struct Record {
    pub at: SimTime,
    pub change: Change,
}

/// The journal of one run.
#[derive(Clone, Debug, Default)]
pub struct Journal {
    now: SimTime,
    records: Vec<Record>,
    /// The pod templates pods were created from, in order of first use.
    templates: Vec<Arc<PodTemplate>>,
    /// Template ids by the address of the shared template (the journal keeps an `Arc` of each,
    /// so an address is never reused for another template).
    template_ids: HashMap<usize, u32>,
    /// The last recorded state of each pod, node and workload, by id.
    pods: Vec<Option<PodState>>,
    nodes: Vec<Option<NodeState>>,
    workloads: Vec<Option<(i32, RolloutStatus)>>,
    /// Nesting depth of [`Journal::suspend`].
    suspended: u32,
    /// When the journal reached [`MAX_RECORDS`] and stopped.
    full_at: Option<SimTime>,
    limit: usize,
}

impl Journal {
    /// An empty journal keeping at most `limit` records.
    pub fn with_limit(limit: usize) -> Self {
        Journal {
            limit,
            ..Journal::default()
        }
    }

    /// Sets the time the next changes happen at.
    pub fn set_clock(&mut self, now: SimTime) {
        self.now = now;
    }

    /// Stops recording until the matching [`Journal::resume`].
    pub fn suspend(&mut self) {
        self.suspended += 1;
    }

    pub fn resume(&mut self) {
        self.suspended -= 1;
    }

    fn recording(&mut self) -> bool {
        if self.suspended > 0 || self.full_at.is_some() {
            return false;
        }
        if self.records.len() >= self.limit() {
            self.full_at = Some(self.now);
            return false;
        }
        true
    }

    fn limit(&self) -> usize {
        if self.limit == 0 {
            MAX_RECORDS
        } else {
            self.limit
        }
    }

    fn push(&mut self, change: Change) {
        self.records.push(Record {
            at: self.now,
            change,
        });
    }

    /// The id of `template`, kept from its first use.
    fn template_id(&mut self, template: &Arc<PodTemplate>) -> u32 {
        let next = self.templates.len() as u32;
        let id = *self
            .template_ids
            .entry(Arc::as_ptr(template) as usize)
            .or_insert(next);
        if id == next {
            self.templates.push(Arc::clone(template));
        }
        id
    }

    /// A running pod's requests changed in place to `template`'s.
    pub fn pod_resized(&mut self, pod: PodId, template: &Arc<PodTemplate>) {
        if self.recording() {
            let template = self.template_id(template);
            self.push(Change::PodResized { pod, template });
        }
    }

    /// A pod was created from `template`.
    pub fn pod_created(&mut self, pod: PodId, template: &Arc<PodTemplate>) {
        if !self.recording() {
            return;
        }
        let id = self.template_id(template);
        let state = PodState {
            status: PodStatus::Pending,
            ready: false,
            node: None,
            restarts: 0,
        };
        set_last(&mut self.pods, pod.index(), state);
        self.push(Change::PodCreated { pod, template: id });
    }

    /// A pod's state, recorded when it changed.
    pub fn pod(&mut self, pod: PodId, state: PodState) {
        if self.recording() && set_last(&mut self.pods, pod.index(), state) {
            self.push(Change::Pod { pod, state });
        }
    }

    pub fn node_added(&mut self, node: NodeId) {
        if self.recording() {
            self.push(Change::NodeAdded { node });
        }
    }

    /// A node's state, recorded when it changed.
    pub fn node(&mut self, node: NodeId, state: NodeState) {
        if !self.recording()
            || self.nodes.get(node.index()).and_then(Option::as_ref) == Some(&state)
        {
            return;
        }
        set_last(&mut self.nodes, node.index(), state.clone());
        self.push(Change::Node { node, state });
    }

    /// A workload's replicas and status counts, recorded when they changed.
    pub fn workload(&mut self, deployment: DeploymentId, replicas: i32, status: RolloutStatus) {
        if self.recording() && set_last(&mut self.workloads, deployment.index(), (replicas, status))
        {
            self.push(Change::Workload {
                deployment,
                replicas,
                status,
            });
        }
    }

    pub fn records(&self) -> &[Record] {
        &self.records
    }

    pub fn templates(&self) -> &[Arc<PodTemplate>] {
        &self.templates
    }

    /// When the journal was full and stopped recording (`None`: it holds the whole run).
    pub fn full_at(&self) -> Option<SimTime> {
        self.full_at
    }
}

/// What `kubectl get pods` shows of `p`.
pub fn pod_state(p: &super::Pod) -> PodState {
    use super::PodPhase;
    let status = if p.phase == PodPhase::Terminated {
        PodStatus::Gone
    } else if p.deletion.is_some() {
        PodStatus::Terminating
    } else if p.node.is_none() {
        PodStatus::Pending
    } else if p.phase == PodPhase::Pending && p.config_error {
        PodStatus::CreateContainerConfigError
    } else if p.phase == PodPhase::Pending {
        PodStatus::ContainerCreating
    } else if p.backoff {
        PodStatus::CrashLoopBackOff
    } else {
        PodStatus::Running
    };
    PodState {
        status,
        ready: p.ready,
        node: p.node,
        restarts: p.restarts,
    }
}

/// What `kubectl get nodes` shows of `n`.
pub fn node_state(n: &super::Node) -> NodeState {
    let status = match n.state {
        super::NodeState::Provisioning => NodeStatus::Provisioning,
        super::NodeState::Removed => NodeStatus::Removed,
        super::NodeState::Ready if n.unreachable => NodeStatus::NotReady,
        super::NodeState::Ready => NodeStatus::Ready,
    };
    NodeState {
        status,
        unschedulable: n.unschedulable,
        down: n.down_since.is_some(),
        taints: n.taints.clone(),
    }
}

/// Stores `value` as the last one at `index`; true when it differs from what was there.
fn set_last<T: PartialEq>(last: &mut Vec<Option<T>>, index: usize, value: T) -> bool {
    if last.len() <= index {
        last.resize_with(index + 1, || None);
    }
    if last[index].as_ref() == Some(&value) {
        return false;
    }
    last[index] = Some(value);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimDuration;

    fn running(ready: bool) -> PodState {
        PodState {
            status: PodStatus::Running,
            ready,
            node: Some(NodeId(0)),
            restarts: 0,
        }
    }

    #[test]
    fn only_changes_are_kept_with_their_time() {
        let mut j = Journal::default();
        let template = Arc::new(PodTemplate::default());
        j.pod_created(PodId(0), &template);
        j.set_clock(SimTime::ZERO + SimDuration::from_secs(5));
        j.pod(PodId(0), running(false));
        j.pod(PodId(0), running(false)); // no change: not kept
        j.set_clock(SimTime::ZERO + SimDuration::from_secs(9));
        j.pod(PodId(0), running(true));
        j.pod_created(PodId(1), &template); // same template: one entry
        let kept: Vec<(u64, bool)> = j
            .records()
            .iter()
            .filter_map(|r| match r.change {
                Change::Pod { state, .. } => Some((r.at.as_micros() / 1_000_000, state.ready)),
                _ => None,
            })
            .collect();
        assert_eq!(kept, [(5, false), (9, true)]);
        assert_eq!(j.records().len(), 4);
        assert_eq!(j.templates().len(), 1);
    }

    #[test]
    fn suspended_changes_are_not_history() {
        let mut j = Journal::default();
        j.suspend();
        j.node_added(NodeId(0));
        j.resume();
        assert!(j.records().is_empty());
    }

    #[test]
    fn a_full_journal_stops_and_says_when() {
        let mut j = Journal::with_limit(2);
        for s in 0..4 {
            j.set_clock(SimTime::ZERO + SimDuration::from_secs(s));
            j.node_added(NodeId(s as u32));
        }
        assert_eq!(j.records().len(), 2);
        assert_eq!(j.full_at(), Some(SimTime::ZERO + SimDuration::from_secs(2)));
    }
}
