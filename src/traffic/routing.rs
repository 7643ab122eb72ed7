//! Service load balancing over ready endpoints: uniformly random (kube-proxy iptables mode)
//! or round-robin (IPVS `rr`).

use rand::RngExt;

use crate::cluster::PodId;
use crate::scenario::LoadBalancing;
use crate::sim::SimRng;

pub struct Router {
    policy: LoadBalancing,
    cursor: usize,
    rng: SimRng,
}

impl Router {
    pub fn new(policy: LoadBalancing, rng: SimRng) -> Self {
        Router {
            policy,
            cursor: 0,
            rng,
        }
    }

    /// The endpoint for the next request, or `None` when there is no ready endpoint.
    pub fn pick(&mut self, endpoints: &[PodId]) -> Option<PodId> {
        if endpoints.is_empty() {
            return None;
        }
        let index = match self.policy {
            LoadBalancing::Random => self.rng.random_range(0..endpoints.len()),
            LoadBalancing::RoundRobin => {
                // (cursor + 1) mod len, without a division in the common case.
                let next = self.cursor + 1;
                self.cursor = if next < endpoints.len() {
                    next
                } else {
                    next % endpoints.len()
                };
                self.cursor
            }
        };
        Some(endpoints[index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::RngStreams;

    #[test]
    fn round_robin_cycles_and_random_spreads() {
        let eps = [PodId(1), PodId(2), PodId(3)];
        let mut rr = Router::new(LoadBalancing::RoundRobin, RngStreams::new(1).stream("r"));
        let picks: Vec<u32> = (0..4).map(|_| rr.pick(&eps).unwrap().0).collect();
        assert_eq!(picks, vec![2, 3, 1, 2]);
        let mut random = Router::new(LoadBalancing::Random, RngStreams::new(1).stream("r"));
        let mut counts = [0; 3];
        for _ in 0..30_000 {
            counts[(random.pick(&eps).unwrap().0 - 1) as usize] += 1;
        }
        // Each endpoint expects 10 000 (sd ≈ 82): ±500 is a ~6σ bound.
        assert!(
            counts.iter().all(|c| (9_500..=10_500).contains(c)),
            "{counts:?}"
        );
        assert_eq!(random.pick(&[]), None);
    }
}
