//! The binpacking estimator (`estimator/binpacking_estimator.go`): how many template nodes a
//! node group needs for a set of pending pods, checked with the scheduler's own filters so the
//! autoscaler never adds a node the scheduler would then refuse.

use crate::cluster::{Node, PodId};
use crate::controllers::scheduler::filter;
use crate::scenario::PodTemplate;

/// A pending pod as the estimator sees it.
#[derive(Clone, Copy, Debug)]
pub struct PendingPod<'a> {
    pub id: PodId,
    pub template: &'a PodTemplate,
}

/// What adding nodes of one group would achieve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// Template nodes needed.
    pub nodes: usize,
    /// The pending pods those nodes would hold, in packing order.
    pub pods: Vec<PodId>,
}

/// `DecreasingPodOrderer`: biggest first by `cpu/templateCpu + memory/templateMemory`; equal
/// scores keep their input order.
pub fn decreasing_order<'a>(pods: &[PendingPod<'a>], template: &Node) -> Vec<PendingPod<'a>> {
    let fraction = |req: i64, alloc: i64| {
        if alloc > 0 {
            req as f64 / alloc as f64
        } else {
            0.0
        }
    };
    let score = |p: &PendingPod| {
        fraction(
            p.template.requests.cpu_millis,
            template.allocatable.cpu_millis,
        ) + fraction(
            p.template.requests.memory_bytes,
            template.allocatable.memory_bytes,
        )
    };
    let mut ordered = pods.to_vec();
    ordered.sort_by(|a, b| score(b).total_cmp(&score(a)));
    ordered
}

/// Packs `pods` onto fresh copies of `template`, at most `max_nodes` of them: each pod goes to
/// the first simulated node that passes the filters, else to a new node. Pods that do not fit
/// even an empty template node are not helped by this group.
pub fn binpacking(pods: &[PendingPod], template: &Node, max_nodes: usize) -> Estimate {
    let mut nodes: Vec<SimulatedNode> = Vec::new();
    let mut helped = Vec::new();
    for pod in decreasing_order(pods, template) {
        if filter::run_filters(template, pod.template).is_err() {
            continue;
        }
        if let Some(node) = nodes.iter_mut().find(|n| n.fits(pod.template)) {
            node.place(pod.template);
            helped.push(pod.id);
            continue;
        }
        if nodes.len() >= max_nodes {
            continue;
        }
        let mut fresh = SimulatedNode::new(template.clone());
        fresh.place(pod.template);
        nodes.push(fresh);
        helped.push(pod.id);
    }
    Estimate {
        nodes: nodes.len(),
        pods: helped,
    }
}

/// Places what it can of `pods` on `nodes` (simulated copies), first fit, reserving as it
/// goes; returns the pods that found no room.
pub fn place_on<'a>(pods: &[PendingPod<'a>], nodes: Vec<Node>) -> Vec<PendingPod<'a>> {
    let mut nodes: Vec<SimulatedNode> = nodes.into_iter().map(SimulatedNode::new).collect();
    pods.iter()
        .filter(
            |pod| match nodes.iter_mut().find(|n| n.fits(pod.template)) {
                Some(node) => {
                    node.place(pod.template);
                    false
                }
                None => true,
            },
        )
        .copied()
        .collect()
}

/// A node in the estimator's simulation, with the pending pods placed on it so far.
struct SimulatedNode<'a> {
    node: Node,
    placed: Vec<&'a PodTemplate>,
}

impl<'a> SimulatedNode<'a> {
    fn new(node: Node) -> Self {
        SimulatedNode {
            node,
            placed: Vec::new(),
        }
    }

    /// The node-local filters, and required hostname anti-affinity against the pods placed
    /// here in the simulation (so pods that refuse to share a host get a node each).
    fn fits(&self, pod: &PodTemplate) -> bool {
        filter::run_filters(&self.node, pod).is_ok()
            && !self
                .placed
                .iter()
                .any(|other| host_anti_affinity(pod, other) || host_anti_affinity(other, pod))
    }

    fn place(&mut self, pod: &'a PodTemplate) {
        self.node.reserve(pod);
        self.placed.push(pod);
    }
}

/// Whether `pod`'s required anti-affinity on `kubernetes.io/hostname` excludes `other`.
fn host_anti_affinity(pod: &PodTemplate, other: &PodTemplate) -> bool {
    pod.pod_affinity.required_anti.iter().any(|t| {
        t.topology_key == crate::controllers::scheduler::spread::HOSTNAME_KEY
            && t.matches(&pod.namespace, other)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GI: i64 = 1 << 30;

    fn template_node(cpu: i64, mem: i64) -> Node {
        crate::controllers::scheduler::test_node(cpu, mem, 0, 0)
    }

    fn pod(cpu: i64, mem: i64) -> PodTemplate {
        crate::controllers::scheduler::test_pod(cpu, mem)
    }

    fn pending(templates: &[PodTemplate]) -> Vec<PendingPod<'_>> {
        templates
            .iter()
            .enumerate()
            .map(|(i, t)| PendingPod {
                id: PodId(i as u32),
                template: t,
            })
            .collect()
    }

    #[test]
    fn packs_pods_first_fit_decreasing() {
        // Template 4 cpu / 16Gi. Pods: 3 × 1.5 cpu, 2 × 2.5 cpu (all 1Gi).
        // Order by size: 2.5, 2.5, 1.5, 1.5, 1.5.
        // Node 1: 2.5 (+2.5 no: 5 > 4) → 2.5 + 1.5 = 4.0. Node 2: 2.5 + 1.5 = 4.0.
        // Node 3: 1.5. → 3 nodes, all 5 pods.
        let t = [
            pod(1500, GI),
            pod(1500, GI),
            pod(2500, GI),
            pod(1500, GI),
            pod(2500, GI),
        ];
        let e = binpacking(&pending(&t), &template_node(4000, 16 * GI), 100);
        assert_eq!(e.nodes, 3);
        assert_eq!(
            e.pods,
            vec![PodId(2), PodId(4), PodId(0), PodId(1), PodId(3)]
        );
    }

    #[test]
    fn pods_that_refuse_to_share_a_host_get_a_node_each() {
        use crate::cluster::selector::LabelSelector;
        use crate::scenario::AffinityTerm;
        // Four 500m pods fit one 4-cpu node by resources, but each carries required
        // anti-affinity to its own label on kubernetes.io/hostname: four nodes.
        let mut p = pod(500, GI);
        p.labels.insert("app".into(), "db".into());
        p.pod_affinity.required_anti = vec![AffinityTerm {
            selector: Some(LabelSelector::from_match_labels(
                [("app".to_string(), "db".to_string())].into(),
            )),
            namespaces: Vec::new(),
            all_namespaces: false,
            topology_key: crate::controllers::scheduler::spread::HOSTNAME_KEY.into(),
        }];
        let t = [p.clone(), p.clone(), p.clone(), p];
        assert_eq!(
            binpacking(&pending(&t), &template_node(4000, 16 * GI), 100).nodes,
            4
        );
        // Without the anti-affinity they share one.
        let plain = [pod(500, GI), pod(500, GI), pod(500, GI), pod(500, GI)];
        assert_eq!(
            binpacking(&pending(&plain), &template_node(4000, 16 * GI), 100).nodes,
            1
        );
    }

    #[test]
    fn orders_by_cpu_plus_memory_fraction() {
        // Template 4 cpu / 16Gi: a (1 cpu, 12Gi) scores 0.25 + 0.75 = 1.0,
        // b (3 cpu, 1Gi) scores 0.75 + 0.0625 = 0.8125, so a goes first.
        let t = [pod(3000, GI), pod(1000, 12 * GI)];
        let order = decreasing_order(&pending(&t), &template_node(4000, 16 * GI));
        assert_eq!(order[0].id, PodId(1));
    }

    #[test]
    fn respects_the_node_limit_and_skips_pods_that_never_fit() {
        // 4 pods of 3 cpu on 4-cpu nodes need 4 nodes; the group allows 2 → 2 pods helped.
        // A 5-cpu pod fits no template node and is never counted.
        let t = [
            pod(3000, GI),
            pod(3000, GI),
            pod(3000, GI),
            pod(3000, GI),
            pod(5000, GI),
        ];
        let e = binpacking(&pending(&t), &template_node(4000, 16 * GI), 2);
        assert_eq!(e.nodes, 2);
        assert_eq!(e.pods.len(), 2);
        assert!(!e.pods.contains(&PodId(4)));
    }

    #[test]
    fn upcoming_nodes_absorb_pods_first() {
        // One upcoming 4-cpu node takes 2 × 2 cpu; the third pod is left for a scale-up.
        let t = [pod(2000, GI), pod(2000, GI), pod(2000, GI)];
        let upcoming = vec![template_node(4000, 16 * GI)];
        let left = place_on(&pending(&t), upcoming);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].id, PodId(2));
    }
}
