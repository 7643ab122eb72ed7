//! One scheduling cycle's Filter phase: the filters prepared for one pod ([`CycleFilters`]),
//! and the pass over the ready nodes from the rotating start index that collects up to
//! `numFeasibleNodesToFind` feasible nodes, the nodes preemption could help on, and every
//! failing node's reasons ([`filter_pass`]).

use super::filter::{self, FilterPlugin, Rejectors, Unfit};
use super::{ReasonTally, SchedulerProfile, interpod, preemption, spread};
use crate::cluster::node_row::{NodeRow, ResourceName, TOO_MANY_PODS_BIT};
use crate::cluster::{Cluster, Node, NodeId, Pod};
use crate::scenario::PodTemplate;

/// Filter failures counted per reason during one pass (cheap for the common resource reasons;
/// turned into the [`ReasonTally`] of the message at the end).
#[derive(Default)]
pub(super) struct ReasonCounts<'n> {
    too_many_pods: usize,
    /// Insufficient cpu, memory, ephemeral-storage, GPUs.
    fixed: [usize; 4],
    other: Vec<(Unfit<'n>, usize)>,
    /// The plugins that gave a reason.
    pub rejected_by: Rejectors,
}

impl<'n> ReasonCounts<'n> {
    fn note(&mut self, reason: Unfit<'n>) {
        self.rejected_by.add(reason.plugin());
        match reason {
            Unfit::TooManyPods => self.too_many_pods += 1,
            Unfit::Insufficient(ResourceName::Fixed(slot)) => self.fixed[usize::from(slot)] += 1,
            other => match self.other.iter_mut().find(|(u, _)| *u == other) {
                Some((_, n)) => *n += 1,
                None => self.other.push((other, 1)),
            },
        }
    }

    /// The reasons of a node that [`NodeRow::unfit_bits`] rejected: what [`filter::each_reason`]
    /// notes for it (too many pods, and each short fixed-slot resource), without a branch.
    fn note_fixed_bits(&mut self, bits: u8) {
        for (slot, count) in self.fixed.iter_mut().enumerate() {
            *count += usize::from(bits >> slot & 1);
        }
        self.too_many_pods += usize::from(bits & TOO_MANY_PODS_BIT != 0);
        (self.rejected_by).add_if(FilterPlugin::NodeResourcesFit, bits != 0);
    }

    pub fn tally(self) -> ReasonTally {
        let mut tally = ReasonTally::default();
        let fixed = (0..4u8).map(|slot| {
            let reason = Unfit::Insufficient(ResourceName::Fixed(slot));
            (reason, self.fixed[usize::from(slot)])
        });
        let counted = std::iter::once((Unfit::TooManyPods, self.too_many_pods))
            .chain(fixed)
            .chain(self.other);
        for (reason, n) in counted {
            tally.add_n(&reason.to_string(), n);
        }
        tally
    }
}

/// The filters for one pod in one scheduling cycle: the node-local ones, PodTopologySpread
/// (with its PreFilter state), and the room that pods nominated by earlier preemptions claim.
pub struct CycleFilters<'c> {
    pod: &'c PodTemplate,
    /// The pod asks nothing of a node but resources ([`filter::asks_only_resources`]).
    only_resources: bool,
    /// Its cpu, memory, ephemeral storage and GPU requests, in [`NodeRow`] slots.
    requests: [i64; 4],
    /// `only_resources`, and no spread, inter-pod or nominated-pod check applies: on an open
    /// node the row alone decides.
    resources_decide: bool,
    spread: Option<spread::SpreadFilter<'c>>,
    interpod: Option<interpod::InterPodFilter<'c>>,
    /// Pods nominated to a node and at least as important as this one (`addNominatedPods`):
    /// the room their victims free is theirs.
    nominated: Vec<(NodeId, &'c PodTemplate)>,
}

impl<'c> CycleFilters<'c> {
    /// The Filter pass's state for `pod` under `profile`: what PreFilter computes once per pod.
    pub fn new(cluster: &'c Cluster, pod: &'c Pod, profile: &SchedulerProfile) -> Self {
        let template = &*pod.template;
        let spread = profile
            .topology_spread_filter
            .then(|| spread::SpreadFilter::new(cluster, template, &profile.spread_defaults))
            .flatten();
        let nominated: Vec<(NodeId, &PodTemplate)> = cluster
            .nominated
            .iter()
            .map(|&id| cluster.pod(id))
            .filter(|q| q.id != pod.id && q.template.priority >= template.priority)
            .filter_map(|q| q.nominated_node.map(|n| (n, &*q.template)))
            .collect();
        let interpod = interpod::InterPodFilter::new(cluster, template);
        let only_resources = filter::asks_only_resources(template);
        CycleFilters {
            pod: template,
            only_resources,
            requests: template.requests.fixed(),
            resources_decide: only_resources
                && spread.is_none()
                && interpod.is_none()
                && nominated.is_empty(),
            spread,
            interpod,
            nominated,
        }
    }

    /// Every filter in the profile's order on `node`, whose current [`NodeRow`] is `row`
    /// (`RunFilterPluginsWithNominatedPods`: a node must pass on its own and with the pods
    /// nominated to it; their topology spread effect is not counted). On an open node a pod
    /// that asks only for resources needs only the row.
    #[inline(always)]
    pub fn check<'n>(&self, node: &'n Node, row: &NodeRow) -> Result<(), Unfit<'n>>
    where
        'c: 'n,
    {
        if self.resources_decide && row.open {
            return filter::fixed_resources_fit(row, &self.requests);
        }
        self.check_all(node, row)
    }

    /// Whether a filter counts pods on other nodes (PodTopologySpread, InterPodAffinity).
    pub fn reads_other_pods(&self) -> bool {
        self.spread.is_some() || self.interpod.is_some()
    }

    /// [`CycleFilters::check`] with every filter that applies.
    #[inline(never)]
    fn check_all<'n>(&self, node: &'n Node, row: &NodeRow) -> Result<(), Unfit<'n>>
    where
        'c: 'n,
    {
        if self.only_resources && row.open {
            filter::fixed_resources_fit(row, &self.requests)?;
        } else {
            filter::run_filters_on(node, row, self.pod)?;
        }
        if self.spread.is_none() && self.interpod.is_none() && self.nominated.is_empty() {
            return Ok(());
        }
        self.check_beyond_node(node)
    }

    /// PodTopologySpread, InterPodAffinity, and the node-local checks again with the pods
    /// nominated to the node.
    fn check_beyond_node<'n>(&self, node: &'n Node) -> Result<(), Unfit<'n>>
    where
        'c: 'n,
    {
        if let Some(s) = &self.spread {
            s.check(node)?;
        }
        if let Some(i) = &self.interpod {
            i.check(node)?;
        }
        let mut on_node = self
            .nominated
            .iter()
            .filter(|(n, _)| *n == node.id)
            .peekable();
        if on_node.peek().is_none() {
            return Ok(());
        }
        let mut with = node.clone();
        for (_, q) in on_node {
            with.reserve(q);
        }
        // Adding pods can only break the host-port and resource checks.
        filter::node_ports(&with, self.pod)?;
        filter::node_resources_fit(&with, self.pod)
    }
}

/// What the Filter phase found for one pod.
pub(super) struct FilterPass<'c> {
    /// Feasible nodes in the order met (at most the number wanted).
    pub feasible: Vec<NodeId>,
    /// Nodes whose failure deleting pods could resolve (for preemption), in the order met.
    pub resolvable: Vec<NodeId>,
    pub unfit: ReasonCounts<'c>,
    /// How many nodes were looked at (the start index moves on by this many).
    pub processed: usize,
}

/// `findNodesThatPassFilters`: the ready nodes from `start` on, wrapping around, until
/// `wanted` (at most the number of ready nodes) are feasible.
pub(super) fn filter_pass<'c>(
    cluster: &'c Cluster,
    filters: &CycleFilters<'c>,
    start: usize,
    wanted: usize,
) -> FilterPass<'c> {
    let ready = &cluster.ready_nodes;
    // Filled by index, so that the common case below needs no branch on the outcome.
    let mut feasible = vec![NodeId(0); wanted];
    let mut found = 0;
    let mut resolvable = vec![NodeId(0); ready.len()];
    let mut resolvable_found = 0;
    let mut unfit = ReasonCounts::default();
    let mut processed = 0;
    for &id in ready[start..].iter().chain(&ready[..start]) {
        processed += 1;
        let row = cluster.node_row(id);
        debug_assert_eq!(
            *row,
            NodeRow::of(cluster.node(id)),
            "row of node {id:?} stale"
        );
        if filters.resources_decide && row.open {
            // Only NodeResourcesFit can say no, and whether it does is a coin toss per node:
            // keep the branch predictor out of it. (Its reasons are all resolvable.)
            let bits = row.unfit_bits(&filters.requests);
            let fits = bits == 0;
            feasible[found] = id;
            found += usize::from(fits);
            resolvable[resolvable_found] = id;
            resolvable_found += usize::from(!fits);
            unfit.note_fixed_bits(bits);
        } else {
            let node = cluster.node(id);
            match filters.check(node, row) {
                Ok(()) => {
                    feasible[found] = id;
                    found += 1;
                }
                Err(reason) => {
                    if preemption::resolvable(reason) {
                        resolvable[resolvable_found] = id;
                        resolvable_found += 1;
                    }
                    filter::each_reason(node, row, filters.pod, reason, |r| unfit.note(r));
                }
            }
        }
        if found == wanted {
            break;
        }
    }
    feasible.truncate(found);
    resolvable.truncate(resolvable_found);
    FilterPass {
        feasible,
        resolvable,
        unfit,
        processed,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::cluster::ReplicaSetId;
    use crate::cluster::resources::{Taint, TaintEffect};
    use crate::controllers::scheduler::{bind_test_pod, test_cluster, test_pod};
    use crate::sim::SimTime;

    /// The branch-free path (a pod asking only for resources, on open nodes) and the general
    /// path (the same pod with a node selector every node matches) must find the same nodes
    /// and give the same reasons.
    #[test]
    fn resource_only_pass_matches_the_general_filters() {
        let labels: &[(&str, &str)] = &[("pool", "a")];
        let names = ["n0", "n1", "n2", "n3", "n4", "n5"];
        let nodes: Vec<(&str, &[(&str, &str)])> = names.iter().map(|n| (*n, labels)).collect();
        let mut c = test_cluster(&nodes);
        // n0: 3,500m of 4,000m taken → 1,000m does not fit (Insufficient cpu).
        bind_test_pod(&mut c, "n0", test_pod(3500, 0));
        // n2: no room for another pod (Too many pods).
        c.nodes[2].max_pods = 0;
        c.refresh_node_row(NodeId(2));
        // n4: tainted, so not open: the general filters run even for the plain pod.
        c.nodes[4].taints.push(Taint {
            key: "dedicated".into(),
            value: String::new(),
            effect: TaintEffect::NoSchedule,
        });
        c.refresh_node_row(NodeId(4));
        let plain = test_pod(1000, 1 << 20);
        let mut selecting = plain.clone();
        selecting.node_selector.insert("pool".into(), "a".into());
        let profile = SchedulerProfile::default();
        let mut outcomes = Vec::new();
        for (i, template) in [plain, selecting].into_iter().enumerate() {
            let id = c.create_pod_with(
                ReplicaSetId(0),
                format!("pending-{i}"),
                Arc::new(template),
                SimTime::ZERO,
            );
            let filters = CycleFilters::new(&c, c.pod(id), &profile);
            assert_eq!(filters.resources_decide, i == 0, "pod {i}");
            // Start at n3 and wrap: n3, n4, n5, n0, n1, n2.
            let pass = filter_pass(&c, &filters, 3, 6);
            outcomes.push((
                pass.feasible,
                pass.resolvable,
                pass.unfit.tally().message(),
                pass.processed,
            ));
        }
        let expected = (
            vec![NodeId(3), NodeId(5), NodeId(1)],
            vec![NodeId(0), NodeId(2)],
            "1 Insufficient cpu, 1 Too many pods, 1 node(s) had untolerated taint(s)".to_string(),
            6,
        );
        assert_eq!(outcomes[0], expected);
        assert_eq!(outcomes[1], expected);
    }

    /// The pass stops once it has found the nodes it wants.
    #[test]
    fn pass_stops_at_the_wanted_number_of_feasible_nodes() {
        let none: &[(&str, &str)] = &[];
        let mut c = test_cluster(&[("a", none), ("b", none), ("c", none), ("d", none)]);
        let id = c.create_pod_with(
            ReplicaSetId(0),
            "p".into(),
            Arc::new(test_pod(100, 0)),
            SimTime::ZERO,
        );
        let profile = SchedulerProfile::default();
        let filters = CycleFilters::new(&c, c.pod(id), &profile);
        let pass = filter_pass(&c, &filters, 2, 2);
        assert_eq!(pass.feasible, vec![NodeId(2), NodeId(3)]);
        assert_eq!(pass.processed, 2);
    }
}
