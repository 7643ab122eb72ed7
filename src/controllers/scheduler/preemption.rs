//! DefaultPreemption (C.6), the PostFilter that runs when no node fits a pod: find nodes where
//! deleting lower-priority pods would make room, choose one, and name the victims.
//!
//! 1. Eligibility: not with `preemptionPolicy: Never`, nor while lower-priority pods are still
//!    terminating on the node the pod was already nominated to.
//! 2. Candidates: nodes whose failure deleting pods could resolve (resources, pod count, host
//!    ports, topology spread skew — not taints, affinity, node name or cordon), from a random
//!    offset, at most `max(100, 10 % of nodes)` of them.
//! 3. Per node: remove every lower-priority pod; if the pod then fits, add them back most
//!    important first (higher priority, then earlier start) while it still fits — the rest are
//!    the victims.
//!    Victims whose eviction a PodDisruptionBudget forbids are reprieved first. When the pod's
//!    filters count other pods (PodTopologySpread, InterPodAffinity) the dry run works on a
//!    copy of the cluster with the removed pods unbound, so those counts leave them out as
//!    upstream's `RemovePod` does; otherwise a copy of the node is enough.
//! 4. Choose the node with the fewest budget violations, then the lowest highest-victim
//!    priority, then the smallest sum of victim priorities, then the fewest victims, then the
//!    latest start among its highest-priority victims, then the first.

use rand::RngExt;

use super::filter::{self, Unfit};
use super::{CycleFilters, FitError, ReasonTally, SchedulerProfile};
use crate::cluster::node_row::NodeRow;
use crate::cluster::{Cluster, Node, NodeId, Pod, PodId};
use crate::controllers::disruption;
use crate::scenario::PodTemplate;
use crate::sim::{SimRng, SimTime};

/// Preemption's outcome for the pod: where it will go once the victims are gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preemption {
    /// The node nominated for the pod.
    pub node: NodeId,
    /// The pods to evict there, lowest priority first.
    pub victims: Vec<PodId>,
}

/// `minCandidateNodesPercentage` and `minCandidateNodesAbsolute`.
const MIN_CANDIDATE_NODES_PERCENTAGE: usize = 10;
const MIN_CANDIDATE_NODES_ABSOLUTE: usize = 100;

/// One node where preemption would work.
struct Candidate<'c> {
    node: NodeId,
    /// Most important first.
    victims: Vec<&'c Pod>,
    /// How many victims' eviction a PodDisruptionBudget does not allow.
    pdb_violations: usize,
}

/// Runs preemption for `pod`; the error is the message kube-scheduler appends after
/// `preemption: ` to the FailedScheduling event.
///
/// `potential` are the nodes (in node-list order) whose filter failure was resolvable; the
/// others count as "Preemption is not helpful for scheduling".
pub fn preempt(
    cluster: &Cluster,
    pod: &Pod,
    (filters, profile): (&CycleFilters, &SchedulerProfile),
    potential: &[NodeId],
    rng: &mut SimRng,
) -> Result<Preemption, String> {
    eligible(cluster, pod)?;
    let nodes = &cluster.ready_nodes;
    let mut statuses = ReasonTally::default();
    statuses.add_n(
        "Preemption is not helpful for scheduling",
        nodes.len() - potential.len(),
    );
    // Nothing bound has a lower priority: no node has victims (the common case, decided
    // without a dry run per node).
    if cluster
        .lowest_bound_priority()
        .is_none_or(|p| p >= pod.template.priority)
    {
        statuses.add_n(NO_VICTIMS, potential.len());
        return Err(no_candidates(nodes.len(), statuses));
    }
    let potential: Vec<&Node> = potential.iter().map(|&id| cluster.node(id)).collect();
    let allowed = disruption::disruptions_allowed(cluster);
    // Filters that count other pods need the victims really gone: a copy of the cluster.
    let mut view = filters.reads_other_pods().then(|| cluster.clone());
    let wanted = (nodes.len() * MIN_CANDIDATE_NODES_PERCENTAGE / 100)
        .max(MIN_CANDIDATE_NODES_ABSOLUTE)
        .min(potential.len());
    let offset = if potential.is_empty() {
        0
    } else {
        rng.random_range(0..potential.len())
    };
    let mut candidates: Vec<Candidate> = Vec::new();
    for i in 0..potential.len() {
        if candidates.len() >= wanted {
            break;
        }
        let node = potential[(offset + i) % potential.len()];
        let mut trial = match view.as_mut() {
            Some(view) => Trial::Cluster {
                view,
                node: node.id,
                pod: pod.id,
                profile,
                taken_off: Vec::new(),
            },
            None => Trial::Node {
                node: Box::new(node.clone()),
                filters,
                pod: &pod.template,
            },
        };
        let selected = select_victims(cluster, &mut trial, pod, &allowed);
        trial.restore();
        match selected {
            Ok((victims, pdb_violations)) => candidates.push(Candidate {
                node: node.id,
                victims,
                pdb_violations,
            }),
            Err(reason) => statuses.add(&reason),
        }
    }
    match pick_one(&candidates) {
        Some(c) => Ok(Preemption {
            node: c.node,
            victims: c.victims.iter().map(|p| p.id).collect(),
        }),
        None => Err(no_candidates(nodes.len(), statuses)),
    }
}

const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// The message when no node is a candidate: a FitError over the preemption statuses.
fn no_candidates(nodes: usize, statuses: ReasonTally) -> String {
    FitError {
        nodes,
        reasons: statuses,
        post_filter: None,
    }
    .to_string()
}

/// `PodEligibleToPreemptOthers`.
fn eligible(cluster: &Cluster, pod: &Pod) -> Result<(), String> {
    if pod.template.never_preempts {
        return Err("not eligible due to preemptionPolicy=Never.".into());
    }
    if let Some(nominated) = pod.nominated_node {
        let terminating = cluster
            .pods_on(nominated)
            .any(|p| p.deletion.is_some() && p.template.priority < pod.template.priority);
        if terminating {
            return Err("not eligible due to a terminating pod on the nominated node.".into());
        }
    }
    Ok(())
}

/// Whether deleting pods could fix this failure (`Unschedulable`, not
/// `UnschedulableAndUnresolvable`).
pub fn resolvable(reason: Unfit) -> bool {
    matches!(
        reason,
        Unfit::Insufficient(_)
            | Unfit::TooManyPods
            | Unfit::NodePorts
            | Unfit::Spread
            | Unfit::PodAntiAffinity
            | Unfit::ExistingPodsAntiAffinity
    )
}

/// `SelectVictimsOnNode`: the fewest lower-priority pods whose removal lets `pod` fit, most
/// important first, and how many of them a PodDisruptionBudget protects; or why there are
/// none. Pods whose eviction would violate a budget are reprieved first.
fn select_victims<'c>(
    cluster: &'c Cluster,
    trial: &mut Trial,
    pod: &Pod,
    allowed: &[i32],
) -> Result<(Vec<&'c Pod>, usize), String> {
    let node = trial.node_id();
    let mut lower: Vec<&Pod> = cluster
        .pods_on(node)
        .filter(|p| p.template.priority < pod.template.priority)
        .collect();
    if lower.is_empty() {
        return Err(NO_VICTIMS.into());
    }
    for p in &lower {
        trial.take_off(p);
    }
    if let Err(reasons) = trial.check() {
        return Err(reasons.join(", "));
    }
    lower.sort_by(|a, b| more_important(a, b));
    // `filterPodsWithPDBViolation`: in order of importance, a pod violates when a budget
    // covering it has no disruption left.
    let mut budget = allowed.to_vec();
    let (violating, safe): (Vec<&Pod>, Vec<&Pod>) = lower
        .into_iter()
        .partition(|p| !disruption::try_evict(cluster, &mut budget, p));
    let mut victims = Vec::new();
    let mut pdb_violations = 0;
    let ordered = violating
        .iter()
        .map(|p| (*p, true))
        .chain(safe.iter().map(|p| (*p, false)));
    for (p, violates) in ordered {
        trial.put_back(p);
        if trial.check().is_err() {
            trial.take_off(p);
            victims.push(p);
            pdb_violations += usize::from(violates);
        }
    }
    if victims.is_empty() {
        // It fits without preempting anyone (only possible if the filters changed meanwhile).
        return Err(format!(
            "expected at least one victim pod on node {:?}",
            cluster.node(node).name
        ));
    }
    victims.sort_by(|a, b| more_important(a, b));
    Ok((victims, pdb_violations))
}

/// A candidate node with some of its pods taken off, as the dry run sees it.
enum Trial<'a, 'c> {
    /// A copy of the node: enough when the pod's filters look at its node alone (and the
    /// cycle's nominated pods).
    Node {
        node: Box<Node>,
        filters: &'a CycleFilters<'c>,
        pod: &'a PodTemplate,
    },
    /// The node in a copy of the cluster, the pods taken off unbound: the pod's filters are
    /// rebuilt over it for each check, so PodTopologySpread and InterPodAffinity count without
    /// them (upstream's `RemovePod` on the cycle state).
    Cluster {
        view: &'a mut Cluster,
        node: NodeId,
        pod: PodId,
        profile: &'a SchedulerProfile,
        taken_off: Vec<PodId>,
    },
}

impl Trial<'_, '_> {
    fn node_id(&self) -> NodeId {
        match self {
            Trial::Node { node, .. } => node.id,
            Trial::Cluster { node, .. } => *node,
        }
    }

    fn take_off(&mut self, p: &Pod) {
        match self {
            Trial::Node { node, .. } => node.release(&p.template),
            Trial::Cluster {
                view, taken_off, ..
            } => {
                view.unbind(p.id);
                taken_off.push(p.id);
            }
        }
    }

    fn put_back(&mut self, p: &Pod) {
        match self {
            Trial::Node { node, .. } => node.reserve(&p.template),
            Trial::Cluster {
                view,
                node,
                taken_off,
                ..
            } => {
                view.bind(p.id, *node);
                taken_off.retain(|&q| q != p.id);
            }
        }
    }

    /// Whether the pod passes every filter on the node now; else each reason it does not.
    fn check(&self) -> Result<(), Vec<String>> {
        let explain = |node: &Node, row: &NodeRow, pod: &PodTemplate, first| {
            let mut reasons = Vec::new();
            filter::each_reason(node, row, pod, first, |r| reasons.push(r.to_string()));
            reasons
        };
        match self {
            Trial::Node { node, filters, pod } => {
                let row = NodeRow::of(node);
                filters
                    .check(node, &row)
                    .map_err(|first| explain(node, &row, pod, first))
            }
            Trial::Cluster {
                view,
                node,
                pod,
                profile,
                ..
            } => {
                let pod = view.pod(*pod);
                let filters = CycleFilters::new(view, pod, profile);
                let (n, row) = (view.node(*node), view.node_row(*node));
                filters
                    .check(n, row)
                    .map_err(|first| explain(n, row, &pod.template, first))
            }
        }
    }

    /// Binds back what is still taken off (the cluster copy serves the next candidate).
    fn restore(&mut self) {
        if let Trial::Cluster {
            view,
            node,
            taken_off,
            ..
        } = self
        {
            for p in taken_off.drain(..) {
                view.bind(p, *node);
            }
        }
    }
}

/// `MoreImportantPod` as an ordering: higher priority first, then the earlier started.
fn more_important(a: &Pod, b: &Pod) -> std::cmp::Ordering {
    b.template
        .priority
        .cmp(&a.template.priority)
        .then(start_time(a).cmp(&start_time(b)))
}

/// When a pod started (not yet: as late as possible).
fn start_time(p: &Pod) -> SimTime {
    p.started.unwrap_or(SimTime::from_micros(u64::MAX))
}

/// `pickOneNodeForPreemption`.
fn pick_one<'a, 'c>(candidates: &'a [Candidate<'c>]) -> Option<&'a Candidate<'c>> {
    let highest = |c: &Candidate| c.victims.first().map_or(i32::MIN, |p| p.template.priority);
    let sum = |c: &Candidate| -> i64 {
        c.victims
            .iter()
            .map(|p| i64::from(p.template.priority) + i64::from(i32::MAX) + 1)
            .sum()
    };
    // The earliest start among the victims that share the highest priority.
    let earliest_top_start = |c: &Candidate| {
        let top = highest(c);
        c.victims
            .iter()
            .filter(|p| p.template.priority == top)
            .map(|p| start_time(p))
            .min()
            .unwrap_or(SimTime::ZERO)
    };
    let mut best: Option<&Candidate> = None;
    for c in candidates {
        let better = match best {
            None => true,
            Some(b) => {
                let key = |c: &Candidate| {
                    (
                        c.pdb_violations,
                        highest(c),
                        sum(c),
                        c.victims.len(),
                        std::cmp::Reverse(earliest_top_start(c)),
                    )
                };
                key(c) < key(b)
            }
        };
        if better {
            best = Some(c);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    //! Victim selection and node choice, after upstream `TestSelectNodesForPreemption` and
    //! `TestPickOneNodeForPreemption` (default_preemption_test.go).

    use std::sync::Arc;

    use super::*;
    use crate::cluster::ReplicaSetId;
    use crate::controllers::scheduler::{SchedulerProfile, bind_test_pod, test_cluster, test_pod};
    use crate::sim::SimDuration;

    /// A bound pod: (node, priority, cpu millis, started at second).
    type BoundPod = (usize, i32, i64, u64);

    /// (name, nodes, bound pods, preemptor cpu, expected node, expected victims).
    type Case = (
        &'static str,
        usize,
        &'static [BoundPod],
        i64,
        usize,
        &'static [&'static str],
    );

    /// Nodes of 4 cpu with `pods` bound; then the preemptor (priority 100, `cpu` millis) is
    /// created unbound.
    fn cluster(nodes: usize, pods: &[BoundPod], cpu: i64) -> (Cluster, PodId) {
        let names: Vec<String> = (0..nodes).map(|i| format!("node-{i}")).collect();
        let specs: Vec<(&str, &[(&str, &str)])> =
            names.iter().map(|n| (n.as_str(), &[][..])).collect();
        let mut c = test_cluster(&specs);
        let template = |priority, cpu| {
            let mut t = test_pod(cpu, 0);
            t.priority = priority;
            t
        };
        for &(node, priority, cpu, started) in pods {
            let id = bind_test_pod(&mut c, &names[node], template(priority, cpu));
            c.pod_mut(id).started = Some(SimTime::ZERO + SimDuration::from_secs(started));
        }
        let preemptor = c.create_pod_with(
            ReplicaSetId(0),
            "preemptor".into(),
            Arc::new(template(100, cpu)),
            SimTime::ZERO,
        );
        (c, preemptor)
    }

    fn run(c: &Cluster, pod: PodId) -> Result<(NodeId, Vec<String>), String> {
        let profile = SchedulerProfile::default();
        let filters = CycleFilters::new(c, c.pod(pod), &profile);
        let mut rng = crate::sim::RngStreams::new(1).stream("scheduler");
        let potential: Vec<NodeId> = c
            .ready_nodes
            .iter()
            .copied()
            .filter(|&n| {
                filters
                    .check(c.node(n), c.node_row(n))
                    .is_err_and(resolvable)
            })
            .collect();
        preempt(c, c.pod(pod), (&filters, &profile), &potential, &mut rng).map(|p| {
            let names = p.victims.iter().map(|v| c.pod(*v).name.clone()).collect();
            (p.node, names)
        })
    }

    /// A preemptor with required anti-affinity to `app: batch` on kubernetes.io/hostname:
    /// every node holds one such low-priority pod, so the filter fails everywhere — but it is
    /// the victim whose removal resolves it. The dry run must count the pods without it.
    #[test]
    fn victims_that_break_anti_affinity_are_counted_out() {
        use crate::cluster::selector::LabelSelector;
        use crate::scenario::AffinityTerm;
        // node-0: a batch pod (priority 0, started at 1); node-1: a batch pod started at 2.
        let (mut c, preemptor) = cluster(2, &[], 1000);
        for (node, started) in [("node-0", 1), ("node-1", 2)] {
            let mut batch = test_pod(500, 0);
            batch.labels.insert("app".into(), "batch".into());
            let id = bind_test_pod(&mut c, node, batch);
            c.pod_mut(id).started = Some(SimTime::ZERO + SimDuration::from_secs(started));
        }
        let mut wants = (*c.pod(preemptor).template).clone();
        wants.pod_affinity.required_anti = vec![AffinityTerm {
            selector: Some(LabelSelector::from_match_labels(
                [("app".to_string(), "batch".to_string())].into(),
            )),
            namespaces: Vec::new(),
            all_namespaces: false,
            topology_key: crate::controllers::scheduler::spread::HOSTNAME_KEY.into(),
        }];
        c.pod_mut(preemptor).template = Arc::new(wants);
        // Both nodes are candidates with one victim of priority 0 (the preemptor is pod 0, so
        // the batch pods are p1 and p2); node-1's victim started later, so node-1 is picked
        // (latest start among the highest-priority victims).
        assert_eq!(run(&c, preemptor), Ok((NodeId(1), vec!["p2".to_string()])));
        // The copy of the cluster was a copy: the real one still has both pods bound.
        assert_eq!(
            c.pods_on(NodeId(0)).count() + c.pods_on(NodeId(1)).count(),
            2
        );
    }

    #[test]
    fn the_fewest_least_important_victims_on_the_best_node() {
        // (node, priority, cpu, started) per pod; the preemptor wants `cpu`; expected node and
        // victims.
        let cases: [Case; 5] = [
            // Two 2-cpu pods of priority 0 started at 1 and 2: freeing 2 cpu needs one; the
            // later started (less important) goes.
            (
                "reprieve the more important",
                1,
                &[(0, 0, 2000, 1), (0, 0, 2000, 2)],
                2000,
                0,
                &["p1"],
            ),
            // node-0's victim has priority 10, node-1's 5: the lower highest priority wins.
            (
                "lowest highest-victim priority",
                2,
                &[(0, 10, 4000, 1), (1, 5, 4000, 1)],
                2000,
                1,
                &["p1"],
            ),
            // Same highest priority (5): node-0 needs two victims (sum larger), node-1 one.
            (
                "smallest priority sum",
                2,
                &[(0, 5, 2000, 1), (0, 5, 2000, 1), (1, 5, 4000, 1)],
                4000,
                1,
                &["p2"],
            ),
            // Equal priorities and counts: the node whose top victim started latest.
            (
                "latest start",
                2,
                &[(0, 5, 4000, 10), (1, 5, 4000, 20)],
                4000,
                1,
                &["p1"],
            ),
            // A pod of higher priority (200) is never a victim: node-1 is the only option.
            (
                "never more important pods",
                2,
                &[(0, 200, 4000, 1), (1, 0, 4000, 1)],
                1000,
                1,
                &["p1"],
            ),
        ];
        for (name, nodes, pods, cpu, node, victims) in cases {
            let (c, pod) = cluster(nodes, pods, cpu);
            assert_eq!(
                run(&c, pod),
                Ok((
                    NodeId(node as u32),
                    victims.iter().map(|v| v.to_string()).collect()
                )),
                "{name}"
            );
        }
    }

    #[test]
    fn why_preemption_cannot_help() {
        // Only equal-or-higher priority pods: no victims.
        let (c, pod) = cluster(1, &[(0, 100, 4000, 1)], 1000);
        assert_eq!(
            run(&c, pod),
            Err("0/1 nodes are available: 1 No preemption victims found for incoming pod.".into())
        );
        // Lower-priority pods, but even without them the pod is too big.
        let (c, pod) = cluster(1, &[(0, 0, 1000, 1)], 8000);
        assert_eq!(
            run(&c, pod),
            Err("0/1 nodes are available: 1 Insufficient cpu.".into())
        );
        // A taint no deletion can fix.
        let (mut c, pod) = cluster(1, &[(0, 0, 4000, 1)], 1000);
        c.nodes[0].taints.push(crate::cluster::resources::Taint {
            key: "dedicated".into(),
            value: String::new(),
            effect: crate::cluster::resources::TaintEffect::NoSchedule,
        });
        c.refresh_node_row(NodeId(0));
        assert_eq!(
            run(&c, pod),
            Err("0/1 nodes are available: 1 Preemption is not helpful for scheduling.".into())
        );
    }

    #[test]
    fn victims_a_disruption_budget_protects_are_avoided() {
        use crate::controllers::rollout::IntOrPercent;
        use crate::scenario::{PdbBudget, PdbSpec};
        // One 4-cpu pod on each node; node-0's started later, which alone would make node-0
        // the choice ("latest start"), but it is covered by a budget with no disruption left
        // (minAvailable 1 of 1 healthy): node-1 is chosen.
        let (mut c, pod) = cluster(2, &[(0, 0, 4000, 20), (1, 0, 4000, 10)], 1000);
        c.pod_mut(PodId(0)).template = Arc::new({
            let mut t = (*c.pod(PodId(0)).template).clone();
            t.labels.insert("app".into(), "protected".into());
            t
        });
        for p in [PodId(0), PodId(1)] {
            c.pod_mut(p).ready = true;
        }
        c.pdbs.push(PdbSpec {
            name: "keep-one".into(),
            namespace: String::new(),
            selector: Some(crate::cluster::selector::LabelSelector::from_match_labels(
                [("app".to_string(), "protected".to_string())].into(),
            )),
            budget: PdbBudget::MinAvailable(IntOrPercent::Int(1)),
        });
        assert_eq!(run(&c, pod), Ok((NodeId(1), vec!["p1".to_string()])));
        // Without the budget, the later start wins.
        c.pdbs.clear();
        assert_eq!(run(&c, pod), Ok((NodeId(0), vec!["p0".to_string()])));
    }
}
