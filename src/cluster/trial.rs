//! Changes tried on the cluster and undone: how the Cluster Autoscaler simulates a scale-up or a
//! scale-down on the live cluster instead of on a copy of it.
//!
//! A [`Trial`] borrows the cluster mutably, reads as a `&Cluster` (it dereferences to one),
//! and offers the few changes a simulation makes — bind a pending pod, take a bound pod off its
//! node, reserve a pod's requests on a node, register a provisioning node, add a node to a
//! pool. Each change is journaled with what undoes it exactly. [`Trial::mark`] and
//! [`Trial::rollback_to`] undo the changes made since a mark (a failed candidate, one node
//! group's estimate); dropping the trial undoes the rest, so the cluster is as it was before —
//! field for field, which the tests check against the cluster's debug form.
//!
//! Copying a cluster of a thousand nodes and every pod it ever had costs far more than the few
//! dozen changes a simulation makes; the journal's cost grows with the changes alone.

use std::ops::Deref;
use std::sync::Arc;

use super::topology::TopologyMark;
use super::{Cluster, NodeId, PodId, PoolId};
use crate::sim::SimTime;
use crate::spec::model::PodTemplate;

/// The cluster with changes that are undone when the trial ends.
pub struct Trial<'c> {
    cluster: &'c mut Cluster,
    undo: Vec<Undo>,
    start: Mark,
}

/// A point in a trial to roll back to.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    changes: usize,
    label_groups: usize,
    /// The Ready nodes' version then: back at the mark, the Ready nodes are as they were.
    ready_nodes_version: u64,
    /// How many pods the scheduler had yet to hear of: a pod a trial unbinds is not news.
    newly_unscheduled: usize,
}

/// One change, as what undoes it.
#[derive(Debug)]
enum Undo {
    /// A pending pod was bound: unbind it and restore the status that binding cleared.
    Bound {
        pod: PodId,
        nominated_node: Option<NodeId>,
        was_nominated: bool,
        unschedulable_since: Option<SimTime>,
    },
    /// A bound pod was taken off `node`: bind it back.
    Unbound { pod: PodId, node: NodeId },
    /// A pod's requests were reserved on a node (no pod bound): release them.
    Reserved {
        node: NodeId,
        template: Arc<PodTemplate>,
    },
    /// A pod's requests were released on a node: reserve them again.
    Released {
        node: NodeId,
        template: Arc<PodTemplate>,
    },
    /// A provisioning node was registered: make it provisioning again.
    Registered { node: NodeId },
    /// A node was added to a pool: remove it, and the topology domains it brought.
    Added {
        node: NodeId,
        topology: TopologyMark,
    },
}

impl<'c> Trial<'c> {
    /// Starts a trial on `cluster`. The cluster's journal is suspended until the trial ends: what a
    /// simulation tries is not the cluster's history.
    pub fn new(cluster: &'c mut Cluster) -> Self {
        let start = Mark {
            changes: 0,
            label_groups: cluster.label_groups.len(),
            ready_nodes_version: cluster.ready_nodes_version,
            newly_unscheduled: cluster.newly_unscheduled.len(),
        };
        // What a simulation tries is not the cluster's history.
        cluster.journal.suspend();
        Trial {
            cluster,
            undo: Vec::new(),
            start,
        }
    }

    /// Where the trial stands now.
    pub fn mark(&self) -> Mark {
        Mark {
            changes: self.undo.len(),
            label_groups: self.cluster.label_groups.len(),
            ready_nodes_version: self.cluster.ready_nodes_version,
            newly_unscheduled: self.cluster.newly_unscheduled.len(),
        }
    }

    /// Undoes every change made since `mark`, newest first.
    pub fn rollback_to(&mut self, mark: Mark) {
        while self.undo.len() > mark.changes {
            let change = self.undo.pop().expect("a change past the mark");
            self.revert(change);
        }
        self.cluster.label_groups.truncate(mark.label_groups);
        self.cluster.ready_nodes_version = mark.ready_nodes_version;
        self.cluster
            .newly_unscheduled
            .truncate(mark.newly_unscheduled);
    }

    /// Binds a pending pod to a node, as [`Cluster::bind`] does but without pulling its images
    /// (a simulation only filters; images only score).
    pub fn bind(&mut self, pod: PodId, node: NodeId) {
        let p = self.cluster.pod(pod);
        self.undo.push(Undo::Bound {
            pod,
            nominated_node: p.nominated_node,
            was_nominated: self.cluster.nominated.contains(&pod),
            unschedulable_since: p.unschedulable_since,
        });
        self.cluster.place(pod, node);
    }

    /// Takes a bound pod off its node (it turns pending).
    pub fn unbind(&mut self, pod: PodId) {
        if let Some(node) = self.cluster.pod(pod).node {
            self.undo.push(Undo::Unbound { pod, node });
            self.cluster.unbind(pod);
        }
    }

    /// Reserves a pod's requests on a node without binding a pod.
    pub fn reserve(&mut self, node: NodeId, template: &Arc<PodTemplate>) {
        self.cluster.reserve_on(node, template);
        self.undo.push(Undo::Reserved {
            node,
            template: Arc::clone(template),
        });
    }

    /// Releases requests that [`Trial::reserve`] took (or a bound pod's, without unbinding it).
    pub fn release(&mut self, node: NodeId, template: &Arc<PodTemplate>) {
        self.cluster.release_on(node, template);
        self.undo.push(Undo::Released {
            node,
            template: Arc::clone(template),
        });
    }

    /// Registers a provisioning node: it turns Ready.
    pub fn register(&mut self, node: NodeId) {
        if self.cluster.node(node).state == super::NodeState::Provisioning {
            self.cluster.register_node(node);
            self.undo.push(Undo::Registered { node });
        }
    }

    /// Adds the pool's next node (provisioning), named and zoned as the pool would add it.
    pub fn add_node(&mut self, pool: PoolId) -> NodeId {
        let topology = self.cluster.topology.mark();
        let node = self.cluster.add_node(pool, SimTime::ZERO);
        self.undo.push(Undo::Added { node, topology });
        node
    }

    fn revert(&mut self, change: Undo) {
        let c = &mut *self.cluster;
        match change {
            Undo::Bound {
                pod,
                nominated_node,
                was_nominated,
                unschedulable_since,
            } => {
                c.unbind(pod);
                let p = c.pod_mut(pod);
                p.nominated_node = nominated_node;
                p.unschedulable_since = unschedulable_since;
                if was_nominated {
                    c.nominated.insert(pod);
                }
            }
            Undo::Unbound { pod, node } => c.place(pod, node),
            Undo::Reserved { node, template } => c.release_on(node, &template),
            Undo::Released { node, template } => c.reserve_on(node, &template),
            Undo::Registered { node } => c.unregister_node(node),
            Undo::Added { node, topology } => c.remove_last_node(node, topology),
        }
    }
}

impl Deref for Trial<'_> {
    type Target = Cluster;

    fn deref(&self) -> &Cluster {
        self.cluster
    }
}

impl Drop for Trial<'_> {
    fn drop(&mut self) {
        self.rollback_to(self.start);
        self.cluster.journal.resume();
    }
}
