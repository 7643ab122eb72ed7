//! The binpacking estimator (`estimator/binpacking_estimator.go`): how many template nodes a
//! node group needs for a set of pending pods, checked with the scheduler's own filters so the
//! autoscaler never adds a node the scheduler would then refuse.
//!
//! Pods are packed into [`Bins`], on the live cluster in a [`Trial`] that undoes every change
//! when the simulation ends. When every pending pod's filters look at its node alone (the
//! common case), packing a pod reserves its requests on the node, and new nodes are copies of
//! the group's template node kept aside, checked with the node-local filters. When some pod's
//! filters read other pods — a `DoNotSchedule` topology spread constraint, or inter-pod
//! (anti-)affinity anywhere in the cluster — packed pods are bound, new nodes are added to
//! their pool as the node group would add them (name, zone), and each pod is checked with the
//! scheduler's whole Filter ([`CycleFilters`]), as upstream's estimator runs the scheduler
//! framework on its cluster snapshot.

use std::sync::Arc;

use crate::cluster::trial::Trial;
use crate::cluster::{Cluster, Node, NodeId, NodeState, PodId};
use crate::controllers::daemonset;
use crate::controllers::scheduler::{CycleFilters, SchedulerProfile, filter, profile};
use crate::scenario::PodTemplate;

/// A pending pod as the estimator sees it.
#[derive(Clone, Debug)]
pub struct PendingPod {
    /// The pod.
    pub id: PodId,
    /// Its pod template (what the filters read).
    pub template: Arc<PodTemplate>,
}

impl PendingPod {
    /// The pod `id` of `cluster`.
    pub fn of(cluster: &Cluster, id: PodId) -> Self {
        PendingPod {
            id,
            template: Arc::clone(&cluster.pod(id).template),
        }
    }
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
pub fn decreasing_order(pods: &[PendingPod], template: &Node) -> Vec<PendingPod> {
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
    trial: &mut Trial,
    bins: &mut Bins,
    pods: &[PendingPod],
    template: &Node,
    max_nodes: usize,
) -> Estimate {
    let first_new = bins.count();
    let mut used = 0;
    let mut helped = Vec::new();
    for pod in decreasing_order(pods, template) {
        let fit = match bins.first_fit(trial, &pod, first_new..bins.count()) {
            Some(i) => Some(i),
            // No empty new node is left over (one would have been tried): add one.
            None if used < max_nodes
                && (first_new..bins.count()).all(|i| !bins.is_bin_empty(i)) =>
            {
                let fresh = bins.add_new(trial, template);
                bins.first_fit(trial, &pod, fresh..fresh + 1)
            }
            None => None,
        };
        if let Some(i) = fit {
            used += usize::from(bins.is_bin_empty(i));
            bins.place(trial, i, &pod);
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
pub fn place_on(trial: &mut Trial, bins: &mut Bins, pods: &[PendingPod]) -> Vec<PendingPod> {
    let mut left = Vec::new();
    for pod in pods {
        match bins.first_fit(trial, pod, 0..bins.count()) {
            Some(i) => bins.place(trial, i, pod),
            None => left.push(pod.clone()),
        }
    }
    left
}

/// The nodes an estimate packs pods onto, and how a pod is checked against one of them.
#[derive(Clone)]
pub struct Bins<'p> {
    /// `None`: node-local filters on reserved requests; else the scheduler's whole Filter on
    /// bound pods, with these profiles.
    in_cluster: Option<&'p [SchedulerProfile]>,
    bins: Vec<Bin>,
    empty: Vec<bool>,
    /// Copies of template nodes (node-local filters only).
    fresh: Vec<Node>,
}

/// A bin: a node of the cluster, or a copy of a template node.
#[derive(Clone, Copy, Debug)]
enum Bin {
    Node(NodeId),
    Fresh(usize),
}

impl<'p> Bins<'p> {
    /// No bins yet, checked with the node-local filters.
    pub fn node_local() -> Self {
        Bins {
            in_cluster: None,
            bins: Vec::new(),
            empty: Vec::new(),
            fresh: Vec::new(),
        }
    }

    /// No bins yet, for packing pods with these `templates`: checked with the whole Filter
    /// when some pod's filters read other pods (see the module docs), else node-local.
    pub fn for_templates<'t>(
        cluster: &Cluster,
        profiles: &'p [SchedulerProfile],
        mut templates: impl Iterator<Item = &'t PodTemplate>,
    ) -> Self {
        let spread_hard = |t: &PodTemplate| {
            let defaults = &profile::for_pod(profiles, t).spread_defaults;
            t.topology_spread.iter().any(|c| c.hard)
                || (t.topology_spread.is_empty()
                    && t.default_spread_selector.is_some()
                    && defaults.constraints().iter().any(|d| d.hard))
        };
        let reads_other_pods = cluster.any_pod_affinity
            || templates.any(|t| !t.pod_affinity.is_empty() || spread_hard(t));
        Bins {
            in_cluster: reads_other_pods.then_some(profiles),
            ..Bins::node_local()
        }
    }

    /// The same kind of bins, none yet (the pods placed so far stay placed).
    pub fn without_bins(&self) -> Self {
        Bins {
            in_cluster: self.in_cluster,
            ..Bins::node_local()
        }
    }

    /// How many bins there are.
    pub fn count(&self) -> usize {
        self.bins.len()
    }

    /// Whether nothing has been placed on bin `i`.
    pub fn is_bin_empty(&self, i: usize) -> bool {
        self.empty[i]
    }

    /// Adds a node of the cluster: a Ready node, or an upcoming one, which is registered with
    /// its DaemonSet pods' requests reserved.
    pub fn add_existing(&mut self, trial: &mut Trial, node: NodeId) {
        if trial.node(node).state == NodeState::Provisioning {
            if self.in_cluster.is_some() {
                trial.register(node);
            }
            reserve_daemons(trial, node);
        }
        self.push(Bin::Node(node));
    }

    /// Adds a new node like `template` (its pool's next node, with its DaemonSet pods); returns
    /// its index.
    pub fn add_new(&mut self, trial: &mut Trial, template: &Node) -> usize {
        match self.in_cluster {
            None => {
                self.fresh.push(template.clone());
                self.push(Bin::Fresh(self.fresh.len() - 1));
            }
            Some(_) => {
                let id = trial.add_node(template.pool);
                trial.register(id);
                reserve_daemons(trial, id);
                self.push(Bin::Node(id));
            }
        }
        self.count() - 1
    }

    fn push(&mut self, bin: Bin) {
        self.bins.push(bin);
        self.empty.push(true);
    }

    /// The first of the bins `candidates` the pod passes the filters on.
    pub fn first_fit(
        &self,
        cluster: &Cluster,
        pod: &PendingPod,
        mut candidates: impl Iterator<Item = usize>,
    ) -> Option<usize> {
        match self.in_cluster {
            None => candidates.find(|&i| {
                let node = match self.bins[i] {
                    Bin::Node(id) => cluster.node(id),
                    Bin::Fresh(k) => &self.fresh[k],
                };
                filter::run_filters(node, &pod.template).is_ok()
            }),
            Some(profiles) => {
                let p = cluster.pod(pod.id);
                let filters =
                    CycleFilters::new(cluster, p, profile::for_pod(profiles, &p.template));
                candidates.find(|&i| {
                    let id = self.node_id(i);
                    filters
                        .check(cluster.node(id), cluster.node_row(id))
                        .is_ok()
                })
            }
        }
    }

    /// Puts the pod on bin `i`.
    pub fn place(&mut self, trial: &mut Trial, i: usize, pod: &PendingPod) {
        match (self.in_cluster, self.bins[i]) {
            (None, Bin::Node(id)) => trial.reserve(id, &pod.template),
            (None, Bin::Fresh(k)) => self.fresh[k].reserve(&pod.template),
            (Some(_), _) => trial.bind(pod.id, self.node_id(i)),
        }
        self.empty[i] = false;
    }

    /// Takes the pod off bin `i` (where it was placed, or bound in the cluster).
    pub fn remove(&mut self, trial: &mut Trial, i: usize, pod: &PendingPod) {
        match (self.in_cluster, self.bins[i]) {
            (None, Bin::Node(id)) => trial.release(id, &pod.template),
            (None, Bin::Fresh(k)) => self.fresh[k].release(&pod.template),
            (Some(_), _) => trial.unbind(pod.id),
        }
    }

    fn node_id(&self, i: usize) -> NodeId {
        match self.bins[i] {
            Bin::Node(id) => id,
            Bin::Fresh(_) => unreachable!("template copies are only node-local bins"),
        }
    }
}

/// Reserves the requests of the DaemonSet pods a new or upcoming node will run.
fn reserve_daemons(trial: &mut Trial, node: NodeId) {
    for template in daemonset::daemon_templates(trial, trial.node(node)) {
        trial.reserve(node, &template);
    }
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

    fn pending(templates: &[PodTemplate]) -> Vec<PendingPod> {
        templates
            .iter()
            .enumerate()
            .map(|(i, t)| PendingPod {
                id: PodId(i as u32),
                template: Arc::new(t.clone()),
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
        let mut cluster = Cluster::default();
        let e = binpacking(
            &mut Trial::new(&mut cluster),
            &mut Bins::node_local(),
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
        let mut cluster = Cluster::default();
        let e = binpacking(
            &mut Trial::new(&mut cluster),
            &mut Bins::node_local(),
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
        let mut cluster = Cluster::default();
        let mut trial = Trial::new(&mut cluster);
        let mut upcoming = Bins::node_local();
        upcoming.add_new(&mut trial, &template_node(4000, 16 * GI));
        let left = place_on(&mut trial, &mut upcoming, &pending(&t));
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].id, PodId(2));
    }
}
