//! kube-scheduler (first version of the default profile): Filter with NodeUnschedulable-free
//! nodes, TaintToleration, NodeAffinity (nodeSelector) and NodeResourcesFit; Score with
//! TaintToleration (weight 3), NodeResourcesFit LeastAllocated (1) and
//! NodeResourcesBalancedAllocation (1); ties broken uniformly at random from the scheduler's own
//! stream. Filters and scores are pure functions over a node and the pod's template.

pub mod filter;
pub mod score;

use std::collections::BTreeMap;
use std::fmt;

use rand::RngExt;

use crate::cluster::{Cluster, Node, NodeId, PodId};
use crate::scenario::PodTemplate;
use crate::sim::SimRng;

/// Why no node fits, counted per reason as `kubectl describe pod` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FitError {
    pub nodes: usize,
    pub reasons: BTreeMap<String, usize>,
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0/{} nodes are available", self.nodes)?;
        let parts: Vec<String> = self
            .reasons
            .iter()
            .map(|(r, n)| format!("{n} {r}"))
            .collect();
        if !parts.is_empty() {
            write!(f, ": {}", parts.join(", "))?;
        }
        f.write_str(".")
    }
}

/// Picks a node for `pod`, or explains why none fits.
pub fn schedule_pod(cluster: &Cluster, pod: PodId, rng: &mut SimRng) -> Result<NodeId, FitError> {
    let template = &cluster.deployment(cluster.pod(pod).deployment).spec.pod;
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut feasible: Vec<&Node> = Vec::new();
    for node in &cluster.nodes {
        match filter::run_filters(node, template) {
            Ok(()) => feasible.push(node),
            Err(reason) => *reasons.entry(reason).or_default() += 1,
        }
    }
    match feasible.len() {
        0 => Err(FitError {
            nodes: cluster.nodes.len(),
            reasons,
        }),
        1 => Ok(feasible[0].id),
        _ => Ok(select_host(&feasible, template, rng)),
    }
}

/// Scores feasible nodes and picks the best, breaking ties by reservoir sampling.
fn select_host(feasible: &[&Node], template: &PodTemplate, rng: &mut SimRng) -> NodeId {
    let taint_raw: Vec<i64> = feasible
        .iter()
        .map(|n| score::taint_toleration_raw(n, template))
        .collect();
    let taint_scores = score::default_normalize(&taint_raw, true);
    let mut best = NodeId(0);
    let mut best_score = i64::MIN;
    let mut ties = 0u32;
    for (i, node) in feasible.iter().enumerate() {
        let total = 3 * taint_scores[i]
            + score::least_allocated(node, template)
            + score::balanced_allocation(node, template);
        if total > best_score {
            (best, best_score, ties) = (node.id, total, 1);
        } else if total == best_score {
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                best = node.id;
            }
        }
    }
    best
}

/// A node for filter and score tests: `cpu`/`mem` allocatable with `used_*` already requested.
#[cfg(test)]
pub(crate) fn test_node(cpu: i64, mem: i64, used_cpu: i64, used_mem: i64) -> Node {
    use crate::cluster::resources::Resources;
    let amount = |cpu_millis, memory_bytes| Resources {
        cpu_millis,
        memory_bytes,
        ..Default::default()
    };
    Node {
        id: NodeId(0),
        name: "n".into(),
        pool: crate::cluster::PoolId(0),
        labels: Default::default(),
        allocatable: amount(cpu, mem),
        max_pods: 110,
        requested: amount(used_cpu, used_mem),
        requested_for_scoring: amount(used_cpu, used_mem),
        pod_count: 0,
        created: crate::sim::SimTime::ZERO,
        taints: Vec::new(),
    }
}
