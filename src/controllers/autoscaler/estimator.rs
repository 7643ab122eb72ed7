//! The binpacking estimator (`estimator/binpacking_estimator.go`): how many template nodes a
//! node group needs for a set of pending pods, checked with the scheduler's own filters so the
//! autoscaler never adds a node the scheduler would then refuse.
//!
//! Pods are packed into [`Bins`]. When every pending pod's filters look at its node alone
//! (the common case), the bins are copies of nodes checked with the node-local filters. When
//! some pod's filters read other pods — a `DoNotSchedule` topology spread constraint, or
//! inter-pod (anti-)affinity anywhere in the cluster — the bins live in a copy of the cluster:
//! simulated nodes are added to it as the node group would add them (name, zone), packed pods
//! are bound, and each pod is checked with the scheduler's whole Filter ([`CycleFilters`]), as
//! upstream's estimator runs the scheduler framework on its cluster snapshot.

use crate::cluster::{Cluster, Node, NodeId, NodeState, PodId};
use crate::controllers::daemonset;
use crate::controllers::scheduler::{CycleFilters, SchedulerProfile, filter, profile};
use crate::scenario::PodTemplate;
use crate::sim::SimTime;

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

/// Packs `pods` onto new nodes like `template` (of its pool), added to `bins`, at most
/// `max_nodes` of them: each pod goes to the first new node that passes the filters, else to
/// another new node. Pods that do not fit even an empty new node are not helped by this group.
pub fn binpacking(
    bins: &mut Bins,
    pods: &[PendingPod],
    template: &Node,
    max_nodes: usize,
) -> Estimate {
    let first_new = bins.count();
    let mut used = 0;
    let mut helped = Vec::new();
    for pod in decreasing_order(pods, template) {
        let fit = match bins.first_fit(&pod, first_new..bins.count()) {
            Some(i) => Some(i),
            // No empty new node is left over (one would have been tried): add one.
            None if used < max_nodes
                && (first_new..bins.count()).all(|i| !bins.is_bin_empty(i)) =>
            {
                let fresh = bins.add_new(template);
                bins.first_fit(&pod, fresh..fresh + 1)
            }
            None => None,
        };
        if let Some(i) = fit {
            used += usize::from(bins.is_bin_empty(i));
            bins.place(i, &pod);
            helped.push(pod.id);
        }
    }
    Estimate {
        nodes: used,
        pods: helped,
    }
}

/// Places what it can of `pods` on the bins (first fit, reserving as it goes); returns the
/// pods that found no room.
pub fn place_on<'a>(bins: &mut Bins, pods: &[PendingPod<'a>]) -> Vec<PendingPod<'a>> {
    let all = 0..bins.count();
    pods.iter()
        .filter(|pod| match bins.first_fit(pod, all.clone()) {
            Some(i) => {
                bins.place(i, pod);
                false
            }
            None => true,
        })
        .copied()
        .collect()
}

/// The nodes an estimate packs pods onto, and how a pod is checked against one of them.
#[derive(Clone)]
pub struct Bins<'p> {
    kind: BinsKind<'p>,
}

#[derive(Clone)]
enum BinsKind<'p> {
    /// Copies of nodes with the packed pods' requests reserved; node-local filters.
    Copies { nodes: Vec<Node>, empty: Vec<bool> },
    /// Nodes of a copy of the cluster with the packed pods bound; the scheduler's whole Filter.
    InCluster {
        view: Box<Cluster>,
        nodes: Vec<NodeId>,
        empty: Vec<bool>,
        profiles: &'p [SchedulerProfile],
    },
}

impl<'p> Bins<'p> {
    /// No bins yet, checked with the node-local filters.
    pub fn copies() -> Self {
        Bins {
            kind: BinsKind::Copies {
                nodes: Vec::new(),
                empty: Vec::new(),
            },
        }
    }

    /// No bins yet, for packing `pods` of `cluster`: in a copy of the cluster when some pod's
    /// filters read other pods (see the module docs), else as copies of nodes.
    pub fn for_pods(
        cluster: &Cluster,
        profiles: &'p [SchedulerProfile],
        pods: &[PendingPod],
    ) -> Self {
        let spread_hard = |t: &PodTemplate| {
            let defaults = &profile::for_pod(profiles, t).spread_defaults;
            t.topology_spread.iter().any(|c| c.hard)
                || (t.topology_spread.is_empty()
                    && t.default_spread_selector.is_some()
                    && defaults.constraints().iter().any(|d| d.hard))
        };
        let reads_other_pods = cluster.any_pod_affinity
            || pods
                .iter()
                .any(|p| !p.template.pod_affinity.is_empty() || spread_hard(p.template));
        if !reads_other_pods {
            return Bins::copies();
        }
        Bins {
            kind: BinsKind::InCluster {
                view: Box::new(cluster.clone()),
                nodes: Vec::new(),
                empty: Vec::new(),
                profiles,
            },
        }
    }

    /// The same packed pods, without bins (each node group's estimate starts from the pods
    /// already placed on Ready and upcoming nodes).
    pub fn without_bins(&self) -> Self {
        let mut bins = self.clone();
        match &mut bins.kind {
            BinsKind::Copies { nodes, empty } => {
                nodes.clear();
                empty.clear();
            }
            BinsKind::InCluster { nodes, empty, .. } => {
                nodes.clear();
                empty.clear();
            }
        }
        bins
    }

    /// How many bins there are.
    pub fn count(&self) -> usize {
        match &self.kind {
            BinsKind::Copies { empty, .. } | BinsKind::InCluster { empty, .. } => empty.len(),
        }
    }

    /// Whether nothing has been placed on bin `i`.
    pub fn is_bin_empty(&self, i: usize) -> bool {
        match &self.kind {
            BinsKind::Copies { empty, .. } | BinsKind::InCluster { empty, .. } => empty[i],
        }
    }

    /// Adds `node` (a copy of it): a Ready node, or an upcoming one with its DaemonSet pods.
    pub fn add_existing(&mut self, cluster: &Cluster, node: NodeId) {
        let upcoming = cluster.node(node).state == NodeState::Provisioning;
        match &mut self.kind {
            BinsKind::Copies { nodes, empty } => {
                let copy = cluster.node(node).clone();
                nodes.push(match upcoming {
                    true => daemonset::with_daemons(cluster, copy),
                    false => copy,
                });
                empty.push(true);
            }
            BinsKind::InCluster {
                view, nodes, empty, ..
            } => {
                if upcoming {
                    register_with_daemons(view, node);
                }
                nodes.push(node);
                empty.push(true);
            }
        }
    }

    /// Adds a new node like `template` (its pool's next node, with its DaemonSet pods); returns
    /// its index.
    pub fn add_new(&mut self, template: &Node) -> usize {
        match &mut self.kind {
            BinsKind::Copies { nodes, empty } => {
                nodes.push(template.clone());
                empty.push(true);
            }
            BinsKind::InCluster {
                view, nodes, empty, ..
            } => {
                let id = view.add_node(template.pool, SimTime::ZERO);
                register_with_daemons(view, id);
                nodes.push(id);
                empty.push(true);
            }
        }
        self.count() - 1
    }

    /// The first of the bins `candidates` the pod passes the filters on.
    pub fn first_fit(
        &self,
        pod: &PendingPod,
        candidates: impl IntoIterator<Item = usize>,
    ) -> Option<usize> {
        match &self.kind {
            BinsKind::Copies { nodes, .. } => candidates
                .into_iter()
                .find(|&i| filter::run_filters(&nodes[i], pod.template).is_ok()),
            BinsKind::InCluster {
                view,
                nodes,
                profiles,
                ..
            } => {
                let p = view.pod(pod.id);
                let filters = CycleFilters::new(view, p, profile::for_pod(profiles, &p.template));
                candidates.into_iter().find(|&i| {
                    let id = nodes[i];
                    filters.check(view.node(id), view.node_row(id)).is_ok()
                })
            }
        }
    }

    /// Puts the pod on bin `i`.
    pub fn place(&mut self, i: usize, pod: &PendingPod) {
        match &mut self.kind {
            BinsKind::Copies { nodes, empty } => {
                nodes[i].reserve(pod.template);
                empty[i] = false;
            }
            BinsKind::InCluster {
                view, nodes, empty, ..
            } => {
                view.bind(pod.id, nodes[i]);
                empty[i] = false;
            }
        }
    }

    /// Takes the pod off bin `i` (where it was placed, or bound in the cluster).
    pub fn remove(&mut self, i: usize, pod: &PendingPod) {
        match &mut self.kind {
            BinsKind::Copies { nodes, .. } => nodes[i].release(pod.template),
            BinsKind::InCluster { view, .. } => view.unbind(pod.id),
        }
    }
}

/// Registers a node of the cluster copy as Ready and reserves its DaemonSet pods' requests.
fn register_with_daemons(view: &mut Cluster, node: NodeId) {
    view.register_node(node);
    let with = daemonset::with_daemons(view, view.node(node).clone());
    view.nodes[node.index()] = with;
    view.refresh_node_row(node);
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
        let e = binpacking(
            &mut Bins::copies(),
            &pending(&t),
            &template_node(4000, 16 * GI),
            100,
        );
        assert_eq!(e.nodes, 3);
        assert_eq!(
            e.pods,
            vec![PodId(2), PodId(4), PodId(0), PodId(1), PodId(3)]
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
        let e = binpacking(
            &mut Bins::copies(),
            &pending(&t),
            &template_node(4000, 16 * GI),
            2,
        );
        assert_eq!(e.nodes, 2);
        assert_eq!(e.pods.len(), 2);
        assert!(!e.pods.contains(&PodId(4)));
    }

    #[test]
    fn upcoming_nodes_absorb_pods_first() {
        // One upcoming 4-cpu node takes 2 × 2 cpu; the third pod is left for a scale-up.
        let t = [pod(2000, GI), pod(2000, GI), pod(2000, GI)];
        let mut upcoming = Bins::copies();
        upcoming.add_new(&template_node(4000, 16 * GI));
        let left = place_on(&mut upcoming, &pending(&t));
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].id, PodId(2));
    }
}
