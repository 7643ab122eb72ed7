//! In-place pod resize (Kubernetes 1.33+, `InPlacePodVerticalScaling`) on the cluster's side:
//! the kubelet's check of a resize against its node's allocatable, and the node's accounting
//! when the resize is admitted. What asks for a resize (the VPA updater) and what the running
//! container does with it (its CPU sharing and CFS quota) are the engine's.

use std::sync::Arc;

use super::{Cluster, PodId};
use crate::spec::model::PodTemplate;

/// The kubelet's answer to a resize (`PodResizePending` reasons, or admitted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResizeFit {
    /// It fits beside the node's other pods: actuated now.
    Fits,
    /// It would fit the node, not beside its pods now (`Deferred`): retried when room frees up.
    Deferred,
    /// More than the node's allocatable (`Infeasible`): it can never be done there.
    Infeasible,
}

impl Cluster {
    /// Whether the bound pod could have `template`'s requests on its node: its cpu and memory
    /// requests against the node's allocatable less what its other pods request.
    pub fn resize_fit(&self, pod: PodId, template: &PodTemplate) -> ResizeFit {
        let p = self.pod(pod);
        let Some(node) = p.node.map(|n| self.node(n)) else {
            return ResizeFit::Deferred;
        };
        let (old, new, alloc) = (&p.template.requests, &template.requests, &node.allocatable);
        if new.cpu_millis > alloc.cpu_millis || new.memory_bytes > alloc.memory_bytes {
            return ResizeFit::Infeasible;
        }
        let others_cpu = node.requested.cpu_millis - old.cpu_millis;
        let others_memory = node.requested.memory_bytes - old.memory_bytes;
        if others_cpu + new.cpu_millis <= alloc.cpu_millis
            && others_memory + new.memory_bytes <= alloc.memory_bytes
        {
            ResizeFit::Fits
        } else {
            ResizeFit::Deferred
        }
    }

    /// Gives a bound pod `template` (the same pod with other requests and limits): its node's
    /// requests follow.
    pub fn resize_bound_pod(&mut self, pod: PodId, template: Arc<PodTemplate>) {
        let p = &mut self.pods[pod.index()];
        let old = std::mem::replace(&mut p.template, Arc::clone(&template));
        self.journal.pod_resized(pod, &template);
        let rs = p.replica_set;
        self.replica_sets[rs.index()].pods_have_own_templates = true;
        if let Some(node) = self.pods[pod.index()].node {
            let n = &mut self.nodes[node.index()];
            n.requested.subtract(&old.requests);
            n.requested.add(&template.requests);
            n.requested_for_scoring.subtract(&old.scoring_requests);
            n.requested_for_scoring.add(&template.scoring_requests);
            self.refresh_node_row(node);
        }
    }
}
