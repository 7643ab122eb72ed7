//! Expanders (`expander/`): which node group's scale-up option to take. A chain narrows the
//! options one expander at a time; whatever ties at the end is settled at random from the
//! autoscaler's own stream.

use rand::RngExt;

use crate::cluster::{Node, PodId, PoolId};
use crate::scenario::Expander;
use crate::scenario::pattern::Pattern;
use crate::sim::SimRng;

/// One node group's way of helping the pending pods.
#[derive(Clone, Debug)]
pub struct ScaleUpOption<'a> {
    /// The node group.
    pub pool: PoolId,
    /// Its name (the `random` and `priority` expanders read it).
    pub pool_name: &'a str,
    /// Nodes to add.
    pub nodes: usize,
    /// Pending pods they would hold.
    pub pods: Vec<PodId>,
    /// Σ cpu (millicores) and memory (bytes) requested by those pods.
    pub pod_cpu_millis: i64,
    /// Σ memory (bytes) requested by those pods.
    pub pod_memory_bytes: i64,
    /// The group's template node.
    pub template: Node,
    /// USD per node-hour.
    pub price_per_hour: f64,
    /// The price expander's preferred node size for the cluster's size, in millicores
    /// ([`preferred_node_cpu_millis`]).
    pub preferred_cpu_millis: i64,
}

/// Picks an option (its index), or `None` when there is none.
pub fn choose(
    options: &[ScaleUpOption],
    chain: &[Expander],
    priorities: &[(i64, Vec<Pattern>)],
    rng: &mut SimRng,
) -> Option<usize> {
    let mut candidates: Vec<usize> = (0..options.len()).collect();
    for expander in chain {
        if candidates.len() <= 1 {
            break;
        }
        candidates = narrow(*expander, options, &candidates, priorities);
    }
    match candidates.len() {
        0 => None,
        1 => Some(candidates[0]),
        n => Some(candidates[rng.random_range(0..n)]),
    }
}

/// The best candidates by one expander (all of them when it cannot tell them apart).
fn narrow(
    expander: Expander,
    options: &[ScaleUpOption],
    candidates: &[usize],
    priorities: &[(i64, Vec<Pattern>)],
) -> Vec<usize> {
    match expander {
        Expander::Random => candidates.to_vec(),
        Expander::MostPods => best_by(candidates, |i| -(options[i].pods.len() as f64)),
        Expander::LeastNodes => best_by(candidates, |i| options[i].nodes as f64),
        Expander::LeastWaste => best_by(candidates, |i| wasted_fraction(&options[i])),
        Expander::Price => best_by(candidates, |i| price_score(&options[i])),
        Expander::Priority => by_priority(options, candidates, priorities),
    }
}

/// The candidates with the lowest key (exact ties kept).
fn best_by(candidates: &[usize], key: impl Fn(usize) -> f64) -> Vec<usize> {
    let best = candidates
        .iter()
        .map(|&i| key(i))
        .fold(f64::INFINITY, f64::min);
    candidates
        .iter()
        .copied()
        .filter(|&i| key(i) == best)
        .collect()
}

/// least-waste: unused cpu fraction + unused memory fraction of the added nodes.
pub fn wasted_fraction(o: &ScaleUpOption) -> f64 {
    let nodes = o.nodes as f64;
    let unused = |alloc: i64, used: i64| {
        let total = nodes * alloc as f64;
        if total > 0.0 {
            (total - used as f64) / total
        } else {
            0.0
        }
    };
    unused(o.template.allocatable.cpu_millis, o.pod_cpu_millis)
        + unused(o.template.allocatable.memory_bytes, o.pod_memory_bytes)
}

/// The price expander's preferred node (`expander/price/preferred.go`): the CPU doubles as
/// the cluster's node count roughly triples — 1 core up to 2 nodes, 2 up to 6, 4 up to 20,
/// 8 up to 60, 16 up to 200, then 32.
pub fn preferred_node_cpu_millis(nodes: usize) -> i64 {
    let cores = match nodes {
        0..=2 => 1,
        3..=6 => 2,
        7..=20 => 4,
        21..=60 => 8,
        61..=200 => 16,
        _ => 32,
    };
    cores * 1000
}

/// `SimpleNodeUnfitness`: how far a node's CPU is from the preferred, as a ratio ≥ 1.
pub fn node_unfitness(preferred_cpu_millis: i64, node_cpu_millis: i64) -> f64 {
    let (p, n) = (preferred_cpu_millis as f64, node_cpu_millis.max(1) as f64);
    (p / n).max(n / p)
}

/// The price expander's score (`expander/price/price.go`), lowest wins: the price of the
/// option's nodes over the price of the pods they hold (each with a stabilization pod of
/// 500m / 500Mi added), times the node's unfitness — damped as the option adds more nodes
/// (`(unfitness − 1)(1 − tanh((nodes − 1)/15)) + 1`), or 1000 for a GPU node. (Upstream
/// doubles the score of a node group that does not exist yet; kubesim's pools all exist.)
pub fn price_score_of(
    node_price: f64,
    nodes: usize,
    pods_price: f64,
    stabilization_price: f64,
    unfitness: f64,
    gpu: bool,
) -> f64 {
    let sub =
        (node_price * nodes as f64 + stabilization_price) / (pods_price + stabilization_price);
    let suppressed = if gpu {
        1000.0
    } else {
        let damping = 1.0 - ((nodes as f64 - 1.0) / 15.0).tanh();
        (unfitness - 1.0) * damping + 1.0
    };
    suppressed * sub
}

/// The price expander's score of an option. Pods are priced as a cloud prices resources:
/// linearly in cpu and memory, half of the node's price for its cpu and half for its memory
/// (kubesim's pricing model; upstream asks the cloud provider).
pub fn price_score(o: &ScaleUpOption) -> f64 {
    let alloc = &o.template.allocatable;
    let price_of = |cpu_millis: i64, memory_bytes: i64| {
        let share = |used: i64, of: i64| if of > 0 { used as f64 / of as f64 } else { 0.0 };
        o.price_per_hour
            * (share(cpu_millis, alloc.cpu_millis) + share(memory_bytes, alloc.memory_bytes))
            / 2.0
    };
    price_score_of(
        o.price_per_hour,
        o.nodes,
        price_of(o.pod_cpu_millis, o.pod_memory_bytes),
        price_of(500, 500 << 20),
        node_unfitness(o.preferred_cpu_millis, alloc.cpu_millis),
        o.template.allocatable.get(crate::cluster::resources::GPU) > 0,
    )
}

/// priority: options whose group matches a pattern of the highest priority that matches any;
/// all candidates when no pattern matches.
fn by_priority(
    options: &[ScaleUpOption],
    candidates: &[usize],
    priorities: &[(i64, Vec<Pattern>)],
) -> Vec<usize> {
    for (_, patterns) in priorities {
        let matching: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| patterns.iter().any(|p| p.is_match(options[i].pool_name)))
            .collect();
        if !matching.is_empty() {
            return matching;
        }
    }
    candidates.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::RngStreams;

    const GI: i64 = 1 << 30;

    fn option(
        name: &'static str,
        nodes: usize,
        pods: usize,
        cpu: i64,
        price: f64,
    ) -> ScaleUpOption<'static> {
        ScaleUpOption {
            pool: PoolId(0),
            pool_name: name,
            nodes,
            pods: (0..pods as u32).map(PodId).collect(),
            pod_cpu_millis: cpu,
            pod_memory_bytes: 4 * GI,
            template: crate::controllers::scheduler::test_node(8000, 32 * GI, 0, 0),
            price_per_hour: price,
            preferred_cpu_millis: 8000,
        }
    }

    fn pick(options: &[ScaleUpOption], chain: &[Expander]) -> usize {
        let mut rng = RngStreams::new(1).stream("test");
        choose(options, chain, &[], &mut rng).unwrap()
    }

    #[test]
    fn least_waste_prefers_the_fuller_nodes() {
        // a: 1 node of 8 cpu / 32Gi for 6 cpu, 4Gi → (8-6)/8 + (32-4)/32 = 0.25 + 0.875 = 1.125
        // b: 2 nodes for 6 cpu, 4Gi → (16-6)/16 + (64-4)/64 = 0.625 + 0.9375 = 1.5625
        let options = [option("b", 2, 3, 6000, 1.0), option("a", 1, 3, 6000, 1.0)];
        assert_eq!(wasted_fraction(&options[1]), 1.125);
        assert_eq!(wasted_fraction(&options[0]), 1.5625);
        assert_eq!(pick(&options, &[Expander::LeastWaste]), 1);
    }

    #[test]
    fn most_pods_least_nodes_and_price() {
        let options = [
            option("small", 3, 6, 6000, 0.2), // 3 nodes × 0.2 for 6 cpu of 24
            option("big", 1, 5, 6000, 0.8),   // 1 node × 0.8 for 6 cpu of 8
        ];
        assert_eq!(pick(&options, &[Expander::MostPods]), 0);
        assert_eq!(pick(&options, &[Expander::LeastNodes]), 1);
        // 8-core templates, 8 cores preferred (unfitness 1); a pod is priced half by cpu, half
        // by memory share of the node. small: 3 nodes cost 0.6 for pods worth
        // 0.2 × (6/8 + 4/32)/2 = 0.0875 (+ the stabilization pod's 0.0078 on both sides):
        // 6.38; big: 0.8 for 0.8 × 0.4375 = 0.35 (+ 0.031): 2.18 — big is the better buy.
        assert_eq!(pick(&options, &[Expander::Price]), 1);
    }

    /// `expander/price/preferred_test.go` and `price_test.go` (cluster-autoscaler 1.36.1).
    #[test]
    fn price_expander_as_upstream() {
        // TestPreferredNode: (nodes → cores).
        for (nodes, cores) in [
            (1, 1),
            (3, 2),
            (9, 4),
            (27, 8),
            (81, 16),
            (243, 32),
            (500, 32),
        ] {
            assert_eq!(preferred_node_cpu_millis(nodes), cores * 1000, "{nodes}");
        }
        // TestSimpleNodeUnfitness: 1000m against 2000m is 2 either way; equal is 1.
        assert_eq!(node_unfitness(1000, 2000), 2.0);
        assert_eq!(node_unfitness(2000, 1000), 2.0);
        assert_eq!(node_unfitness(2000, 2000), 1.0);
        // TestPriceExpander: pods p1 (price 20) and p2 (10), stabilization pod 10; ng1 adds two
        // 1-cpu nodes, ng2 one 4-cpu node.
        let close = |a: f64, b: f64| (a - b).abs() < 1e-3;
        // Node prices 20 / 200, preferred 2 cpu: ng1 (40 + 10)/(30 + 10) = 1.25, unfitness 2
        // damped to 1 × (1 − tanh(1/15)) + 1 = 1.93343 → 2.4168; ng2 210/40 = 5.25 × 2 = 10.5.
        assert!(close(
            price_score_of(20.0, 2, 30.0, 10.0, 2.0, false),
            2.4168
        ));
        assert!(close(
            price_score_of(200.0, 1, 30.0, 10.0, 2.0, false),
            10.5
        ));
        // Prices 50 / 200, preferred 4 cpu: ng1 110/40 = 2.75 × (3 × 0.93343 + 1) = 10.4508;
        // ng2 5.25 × 1 = 5.25 → ng2.
        assert!(close(
            price_score_of(50.0, 2, 30.0, 10.0, 4.0, false),
            10.4508
        ));
        assert!(close(
            price_score_of(200.0, 1, 30.0, 10.0, 1.0, false),
            5.25
        ));
        // Prices 200 / 100, preferred 2 cpu: ng1 410/40 = 10.25 × 1.93343 = 19.818; ng2
        // 110/40 = 2.75 × 2 = 5.5.
        assert!(close(
            price_score_of(200.0, 2, 30.0, 10.0, 2.0, false),
            19.818
        ));
        assert!(close(price_score_of(100.0, 1, 30.0, 10.0, 2.0, false), 5.5));
        // A GPU node's unfitness is 1000.
        assert!(close(
            price_score_of(100.0, 1, 30.0, 10.0, 1.0, true),
            2750.0
        ));
    }

    #[test]
    fn priority_takes_the_highest_matching_group_then_the_chain_decides() {
        let p = |s: &str| Pattern::parse(s).unwrap();
        let priorities = vec![(50, vec![p("^spot-")]), (10, vec![p(".*")])];
        let options = [
            option("on-demand", 1, 4, 6000, 1.0),
            option("spot-a", 2, 4, 6000, 0.3),
            option("spot-b", 1, 4, 6000, 0.3),
        ];
        let mut rng = RngStreams::new(1).stream("test");
        let chain = [Expander::Priority, Expander::LeastNodes];
        assert_eq!(choose(&options, &chain, &priorities, &mut rng), Some(2));
        // Nothing matches: every option stays in.
        let none = vec![(5, vec![p("^gpu")])];
        let by_nodes = choose(&options, &chain, &none, &mut rng).unwrap();
        assert!(by_nodes == 0 || by_nodes == 2);
    }

    #[test]
    fn random_ties_are_reproducible_and_cover_every_option() {
        let options = [option("a", 1, 1, 1000, 1.0), option("b", 1, 1, 1000, 1.0)];
        let mut rng = RngStreams::new(7).stream("cluster-autoscaler");
        let picks: Vec<usize> = (0..64)
            .map(|_| choose(&options, &[Expander::Random], &[], &mut rng).unwrap())
            .collect();
        assert!(picks.contains(&0) && picks.contains(&1));
        let mut again = RngStreams::new(7).stream("cluster-autoscaler");
        let replay: Vec<usize> = (0..64)
            .map(|_| choose(&options, &[Expander::Random], &[], &mut again).unwrap())
            .collect();
        assert_eq!(picks, replay);
    }
}
