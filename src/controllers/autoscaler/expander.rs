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
        Expander::Price => best_by(candidates, |i| price_per_pod(&options[i])),
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

/// price (simplified): USD per hour of the added nodes per pod helped.
pub fn price_per_pod(o: &ScaleUpOption) -> f64 {
    o.nodes as f64 * o.price_per_hour / o.pods.len().max(1) as f64
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
            option("small", 3, 6, 6000, 0.2), // 3 × 0.2 / 6 = 0.1 per pod
            option("big", 1, 5, 6000, 0.8),   // 0.8 / 5 = 0.16 per pod
        ];
        assert_eq!(pick(&options, &[Expander::MostPods]), 0);
        assert_eq!(pick(&options, &[Expander::LeastNodes]), 1);
        assert_eq!(pick(&options, &[Expander::Price]), 0);
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
