//! Service load balancing over ready endpoints: uniformly random (kube-proxy iptables mode),
//! round-robin (IPVS `rr`), least outstanding requests (as inference gateways and Envoy's
//! `LEAST_REQUEST` with all endpoints compared), or prefix-cache aware for LLM requests (the
//! two-tier rule of SGLang's cache-aware router, with the pods' actual caches as llm-d's
//! precise prefix scorer reads them: when the loads are far apart, the least loaded; else,
//! when some pod holds more than half of the prompt's blocks, the least loaded of those holding
//! the most; else the least loaded). Ties are broken at random from the Service's routing
//! stream.
//!
//! A random pick's draw is made one pick ahead, so that the endpoint the next request will go
//! to is known before it arrives ([`Router::upcoming`]: the engine warms that pod's server in
//! the caches). The draws and picks are exactly those of `random_range` on the same stream.

use rand::{Rng, RngExt};

use crate::cluster::PodId;
use crate::scenario::LoadBalancing;
use crate::sim::SimRng;

/// SGLang's cache-aware router defaults: loads are "far apart" when they differ by more than
/// 32 requests and by more than 0.01 % (`balance_abs_threshold`, `balance_rel_threshold`); a
/// pod's cache counts when it holds more than half of the prompt (`cache_threshold`).
const BALANCE_ABS_THRESHOLD: usize = 32;
const BALANCE_REL_THRESHOLD: f64 = 1.0001;
const CACHE_THRESHOLD: f64 = 0.5;

pub struct Router {
    policy: LoadBalancing,
    cursor: usize,
    rng: SimRng,
    /// `Random`: the word the next pick starts from, drawn at the previous pick.
    next_word: Option<u32>,
}

impl Router {
    pub fn new(policy: LoadBalancing, rng: SimRng) -> Self {
        Router {
            policy,
            cursor: 0,
            rng,
            next_word: None,
        }
    }

    /// The endpoint for the next request, or `None` when there is no ready endpoint.
    /// `outstanding` gives an endpoint's requests in flight (read only by `LeastRequest`).
    #[inline(always)]
    pub fn pick(
        &mut self,
        endpoints: &[PodId],
        outstanding: impl Fn(PodId) -> usize,
    ) -> Option<PodId> {
        if endpoints.is_empty() {
            return None;
        }
        let index = match self.policy {
            LoadBalancing::LeastRequest | LoadBalancing::PrefixAware => {
                self.least_outstanding(endpoints, outstanding)
            }
            LoadBalancing::Random => {
                let word = self.next_word.take().unwrap_or_else(|| self.rng.next_u32());
                let index = uniform_index(word, endpoints.len(), &mut self.rng);
                self.next_word = Some(self.rng.next_u32());
                index
            }
            LoadBalancing::RoundRobin => {
                self.cursor = next_in_cycle(self.cursor, endpoints.len());
                self.cursor
            }
        };
        Some(endpoints[index])
    }

    /// The endpoint the next [`Router::pick`] over `endpoints` will most likely return, when it
    /// is known ahead (random and round-robin picks): a hint for warming caches. It can be
    /// wrong when the endpoints change first, or in the rare case where a random pick needs a
    /// second draw.
    #[inline(always)]
    pub fn upcoming(&self, endpoints: &[PodId]) -> Option<PodId> {
        if endpoints.is_empty() {
            return None;
        }
        let index = match self.policy {
            LoadBalancing::Random => first_estimate(self.next_word?, endpoints.len()).0 as usize,
            LoadBalancing::RoundRobin => next_in_cycle(self.cursor, endpoints.len()),
            LoadBalancing::LeastRequest | LoadBalancing::PrefixAware => return None,
        };
        endpoints.get(index).copied()
    }

    pub fn policy(&self) -> LoadBalancing {
        self.policy
    }

    /// The endpoint for an LLM request whose prompt has `blocks` prefix blocks, of which
    /// `matched` gives how many, from the first, an endpoint's cache holds (see the module
    /// doc); `None` when there is no ready endpoint.
    pub fn pick_by_prefix(
        &mut self,
        endpoints: &[PodId],
        outstanding: impl Fn(PodId) -> usize,
        matched: impl Fn(PodId) -> u32,
        blocks: usize,
    ) -> Option<PodId> {
        if endpoints.is_empty() {
            return None;
        }
        // Endpoints that cannot serve (`usize::MAX`: no server) do not count as loaded.
        let loads = endpoints
            .iter()
            .map(|&p| outstanding(p))
            .filter(|&l| l < usize::MAX);
        let (min, max) = loads.fold((usize::MAX, 0), |(lo, hi), l| (lo.min(l), hi.max(l)));
        let imbalanced = min < usize::MAX
            && max - min > BALANCE_ABS_THRESHOLD
            && max as f64 > min as f64 * BALANCE_REL_THRESHOLD;
        let best = endpoints.iter().map(|&p| matched(p)).max().unwrap_or(0);
        let affine = blocks > 0 && f64::from(best) / blocks as f64 > CACHE_THRESHOLD;
        if !imbalanced && affine {
            let holding: Vec<PodId> = (endpoints.iter().copied())
                .filter(|&p| matched(p) == best)
                .collect();
            let index = self.least_outstanding(&holding, outstanding);
            return Some(holding[index]);
        }
        let index = self.least_outstanding(endpoints, outstanding);
        Some(endpoints[index])
    }

    /// The index of an endpoint with the fewest requests in flight; among equals each is as
    /// likely (reservoir sampling: the k-th equal replaces the pick with probability 1/k).
    fn least_outstanding(
        &mut self,
        endpoints: &[PodId],
        outstanding: impl Fn(PodId) -> usize,
    ) -> usize {
        let mut best = (usize::MAX, 0);
        let mut ties = 0u32;
        for (i, &pod) in endpoints.iter().enumerate() {
            let load = outstanding(pod);
            if load < best.0 {
                best = (load, i);
                ties = 1;
            } else if load == best.0 {
                ties += 1;
                if self.rng.random_range(0..ties) == 0 {
                    best.1 = i;
                }
            }
        }
        best.1
    }
}

/// `(cursor + 1) mod len`, without a division in the common case.
#[inline(always)]
fn next_in_cycle(cursor: usize, len: usize) -> usize {
    let next = cursor + 1;
    if next < len { next } else { next % len }
}

/// A uniform index below `len` from the 32-bit `word` (and, rarely, one more word from `rng`),
/// exactly as `rng.random_range(0..len)` draws it when `word` is `rng`'s next word: the high
/// half of `word × len`; when the low half falls in the last `len` values, where that estimate
/// may be one short, a second word's high half decides whether it carries (the `rand` crate's
/// method for ranges that fit in 32 bits). Endpoints are pods, whose ids are 32-bit, so `len`
/// always fits.
fn uniform_index(word: u32, len: usize, rng: &mut SimRng) -> usize {
    let range = len as u32;
    let (mut index, low) = first_estimate(word, len);
    if low > range.wrapping_neg() {
        let (carry_from, _) = first_estimate(rng.next_u32(), len);
        index += u32::from(low.checked_add(carry_from).is_none());
    }
    index as usize
}

/// The high and low halves of `word × len`.
#[inline(always)]
fn first_estimate(word: u32, len: usize) -> (u32, u32) {
    let product = u64::from(word) * len as u64;
    ((product >> 32) as u32, product as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::RngStreams;

    #[test]
    fn round_robin_cycles_and_random_spreads() {
        let eps = [PodId(1), PodId(2), PodId(3)];
        let mut rr = Router::new(LoadBalancing::RoundRobin, RngStreams::new(1).stream("r"));
        let picks: Vec<u32> = (0..4).map(|_| rr.pick(&eps, |_| 0).unwrap().0).collect();
        assert_eq!(picks, vec![2, 3, 1, 2]);
        let mut random = Router::new(LoadBalancing::Random, RngStreams::new(1).stream("r"));
        let mut counts = [0; 3];
        for _ in 0..30_000 {
            counts[(random.pick(&eps, |_| 0).unwrap().0 - 1) as usize] += 1;
        }
        // Each endpoint expects 10 000 (sd ≈ 82): ±500 is a ~6σ bound.
        assert!(
            counts.iter().all(|c| (9_500..=10_500).contains(c)),
            "{counts:?}"
        );
        assert_eq!(random.pick(&[], |_| 0), None);
    }

    #[test]
    fn random_picks_draw_exactly_as_random_range_and_are_known_one_ahead() {
        // Lengths near 2^31 and 2^32 make the second draw (low half in the last `len` values)
        // common, so both branches are compared.
        let lens = [
            1usize,
            2,
            3,
            7,
            100,
            1 << 20,
            (1 << 31) + 1,
            u32::MAX as usize,
        ];
        for seed in 0..50 {
            let mut ours = RngStreams::new(seed).stream("r");
            let mut theirs = ours.clone();
            for (i, &len) in lens.iter().cycle().take(400).enumerate() {
                let word = ours.next_u32();
                let expected = theirs.random_range(0..len);
                assert_eq!(
                    uniform_index(word, len, &mut ours),
                    expected,
                    "seed {seed} #{i}"
                );
            }
            assert_eq!(ours.next_u64(), theirs.next_u64(), "same words consumed");
        }
        let eps: Vec<PodId> = (0..13).map(PodId).collect();
        let mut router = Router::new(LoadBalancing::Random, RngStreams::new(9).stream("r"));
        let mut plain = RngStreams::new(9).stream("r");
        for _ in 0..1_000 {
            let hint = router.upcoming(&eps);
            let picked = router.pick(&eps, |_| 0);
            assert_eq!(picked, Some(eps[plain.random_range(0..eps.len())]));
            assert!(
                hint.is_none() || hint == picked,
                "13 endpoints: never a second draw"
            );
        }
        let mut rr = Router::new(LoadBalancing::RoundRobin, RngStreams::new(1).stream("r"));
        assert_eq!(rr.upcoming(&eps), Some(PodId(1)));
        assert_eq!(rr.pick(&eps, |_| 0), Some(PodId(1)));
    }

    #[test]
    fn least_request_picks_the_least_loaded_and_spreads_ties() {
        let eps = [PodId(1), PodId(2), PodId(3), PodId(4)];
        let mut lr = Router::new(LoadBalancing::LeastRequest, RngStreams::new(1).stream("r"));
        // Loads 5, 2, 7, 2: pods 2 and 4 tie at 2, each picked about half the time.
        let load = |p: PodId| [0, 5, 2, 7, 2][p.index()];
        let mut counts = [0; 5];
        for _ in 0..10_000 {
            counts[lr.pick(&eps, load).unwrap().index()] += 1;
        }
        assert_eq!(counts[1] + counts[3], 0);
        // 5 000 each expected (sd 50): ±300 is a 6σ bound.
        assert!((4_700..=5_300).contains(&counts[2]), "{counts:?}");
    }
}
