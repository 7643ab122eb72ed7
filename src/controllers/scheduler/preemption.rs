//! DefaultPreemption (C.6), the PostFilter that runs when no node fits a pod: find nodes where
//! deleting lower-priority pods would make room, choose one, and name the victims.
//!
//! 1. Eligibility: not with `preemptionPolicy: Never`, nor while lower-priority pods are still
//!    terminating on the node the pod was already nominated to.
//! 2. Candidates: nodes whose failure deleting pods could resolve (resources, pod count, host
//!    ports, topology spread skew — not taints, affinity, node name or cordon), from a random
//!    offset, at most `max(100, 10 % of nodes)` of them. (Inter-pod anti-affinity counts
//!    are not recomputed without the victims.)
//! 3. Per node: remove every lower-priority pod; if the pod then fits, add them back most
//!    important first (higher priority, then earlier start) while it still fits — the rest are
//!    the victims.
//!    Victims whose eviction a PodDisruptionBudget forbids are reprieved first.
//! 4. Choose the node with the fewest budget violations, then the lowest highest-victim
//!    priority, then the smallest sum of victim priorities, then the fewest victims, then the
//!    latest start among its highest-priority victims, then the first.
//!
//! The topology spread check uses the counts before removal.

use rand::RngExt;

use super::filter::{self, Unfit};
use super::{CycleFilters, FitError, ReasonTally};
use crate::cluster::node_row::NodeRow;
use crate::cluster::{Cluster, Node, NodeId, Pod, PodId};
use crate::controllers::disruption;
use crate::sim::{SimRng, SimTime};

/// Preemption's outcome for the pod: where it will go once the victims are gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preemption {
    pub node: NodeId,
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
    filters: &CycleFilters,
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
        match select_victims(cluster, node, pod, filters, &allowed) {
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
    node: &Node,
    pod: &Pod,
    filters: &CycleFilters,
    allowed: &[i32],
) -> Result<(Vec<&'c Pod>, usize), String> {
    let mut lower: Vec<&Pod> = cluster
        .pods_on(node.id)
        .filter(|p| p.template.priority < pod.template.priority)
        .collect();
    if lower.is_empty() {
        return Err(NO_VICTIMS.into());
    }
    let mut trial = node.clone();
    for p in &lower {
        trial.release(&p.template);
    }
    if let Err(reason) = filters.check(&trial, &NodeRow::of(&trial)) {
        let mut reasons = Vec::new();
        filter::each_reason(&trial, &NodeRow::of(&trial), &pod.template, reason, |r| {
            reasons.push(r.to_string())
        });
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
        trial.reserve(&p.template);
        if filters.check(&trial, &NodeRow::of(&trial)).is_err() {
            trial.release(&p.template);
            victims.push(p);
            pdb_violations += usize::from(violates);
        }
    }
    if victims.is_empty() {
        // It fits without preempting anyone (only possible if the filters changed meanwhile).
        return Err(format!(
            "expected at least one victim pod on node {:?}",
            node.name
        ));
    }
    victims.sort_by(|a, b| more_important(a, b));
    Ok((victims, pdb_violations))
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
        preempt(c, c.pod(pod), &filters, &potential, &mut rng).map(|p| {
            let names = p.victims.iter().map(|v| c.pod(*v).name.clone()).collect();
            (p.node, names)
        })
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
