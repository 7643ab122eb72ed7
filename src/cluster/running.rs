//! The pods in phase Running, with their start times (`status.startTime`): what metrics-server
//! scrapes at every resolution step.
//!
//! Kept as a bit per pod id and a start time per pod id rather than an ordered map: a scrape
//! walks every running pod in id order, and walking set bits word by word reads memory in
//! order, where an ordered map's iteration chases pointers (on a large cluster's day the
//! map's walk was most of a scrape's time). A pod starts and stops in constant time.

use crate::sim::SimTime;
use crate::spec::ids::PodId;

/// The Running pods by id, with their start times.
#[derive(Clone, Debug, Default)]
pub struct RunningPods {
    /// Bit `id % 64` of word `id / 64`: pod `id` is Running.
    bits: Vec<u64>,
    /// Start time by pod id (meaningful where the bit is set).
    started: Vec<SimTime>,
    len: usize,
}

impl RunningPods {
    /// Pod `pod` is Running since `started` (a pod already Running gets the new time).
    pub fn insert(&mut self, pod: PodId, started: SimTime) {
        let (word, bit) = place(pod);
        if self.bits.len() <= word {
            self.bits.resize(word + 1, 0);
        }
        if self.started.len() <= pod.index() {
            self.started.resize(pod.index() + 1, SimTime::ZERO);
        }
        if self.bits[word] & bit == 0 {
            self.len += 1;
        }
        self.bits[word] |= bit;
        self.started[pod.index()] = started;
    }

    /// Pod `pod` is no longer Running (nothing if it was not).
    pub fn remove(&mut self, pod: PodId) {
        let (word, bit) = place(pod);
        if let Some(w) = self.bits.get_mut(word)
            && *w & bit != 0
        {
            *w &= !bit;
            self.len -= 1;
        }
    }

    /// The start time of `pod`, if it is Running.
    pub fn get(&self, pod: PodId) -> Option<SimTime> {
        let (word, bit) = place(pod);
        let running = self.bits.get(word).is_some_and(|w| w & bit != 0);
        running.then(|| self.started[pod.index()])
    }

    /// How many pods are Running.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The Running pods in id order.
    pub fn ids(&self) -> impl Iterator<Item = PodId> + Clone + '_ {
        self.bits
            .iter()
            .enumerate()
            .flat_map(|(word, &bits)| SetBits(bits).map(move |bit| PodId((word * 64 + bit) as u32)))
    }

    /// The Running pods in id order, with their start times.
    pub fn iter(&self) -> impl Iterator<Item = (PodId, SimTime)> + Clone + '_ {
        self.ids().map(|pod| (pod, self.started[pod.index()]))
    }
}

/// The word and the bit of `pod`.
fn place(pod: PodId) -> (usize, u64) {
    (pod.index() / 64, 1 << (pod.index() % 64))
}

/// The positions of a word's set bits, lowest first.
#[derive(Clone)]
struct SetBits(u64);

impl Iterator for SetBits {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let bit = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(bit)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    proptest::proptest! {
        /// Starts, restarts and stops in any order leave the same pods and times, in the same
        /// order, as an ordered map.
        #[test]
        fn running_pods_are_an_ordered_map_of_start_times(
            ops in proptest::collection::vec((0u32..300, 0u64..1_000, proptest::bool::ANY), 0..400),
        ) {
            let mut running = RunningPods::default();
            let mut model: BTreeMap<PodId, SimTime> = BTreeMap::new();
            for (id, secs, starts) in ops {
                let (pod, at) = (PodId(id), SimTime::from_secs(secs));
                if starts {
                    running.insert(pod, at);
                    model.insert(pod, at);
                } else {
                    running.remove(pod);
                    model.remove(&pod);
                }
                proptest::prop_assert_eq!(running.len(), model.len());
                proptest::prop_assert_eq!(running.get(pod), model.get(&pod).copied());
            }
            let listed: Vec<(PodId, SimTime)> = running.iter().collect();
            let expected: Vec<(PodId, SimTime)> = model.into_iter().collect();
            proptest::prop_assert_eq!(listed, expected);
        }
    }

    #[test]
    fn pods_on_word_edges_are_listed_in_order() {
        let mut running = RunningPods::default();
        for id in [64, 0, 127, 63, 128] {
            running.insert(PodId(id), SimTime::from_secs(u64::from(id)));
        }
        running.remove(PodId(127));
        let ids: Vec<u32> = running.ids().map(|p| p.0).collect();
        assert_eq!(ids, [0, 63, 64, 128]);
        assert!(!running.is_empty());
    }
}
