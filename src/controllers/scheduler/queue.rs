//! The scheduling queue (C.2 step 1): which pending pods the scheduler tries now.
//!
//! A pod that fails goes to the unschedulable pool with a backoff of 1 s doubling per attempt
//! up to 10 s (`podInitialBackoffDuration`, `podMaxBackoffDuration`). It leaves the pool when a
//! cluster event could make it schedulable — an assigned pod deleted (resources freed), a node
//! added — or after 5 minutes in the pool (`podMaxInUnschedulablePodsDuration`), and is tried
//! again once its backoff has expired. Pods are tried by PrioritySort: higher priority first,
//! then in creation order.

use std::collections::{BTreeMap, BTreeSet};

use crate::cluster::PodId;
use crate::sim::{SimDuration, SimTime};

/// `podInitialBackoffDuration`: a pod's first retry after it did not fit.
pub const INITIAL_BACKOFF: SimDuration = SimDuration::from_secs(1);
/// `podMaxBackoffDuration`: the backoff doubles up to this.
pub const MAX_BACKOFF: SimDuration = SimDuration::from_secs(10);
/// `podMaxInUnschedulablePodsDuration`: a pod waits at most this long for a cluster event before it is retried anyway.
pub const MAX_IN_UNSCHEDULABLE_PODS: SimDuration = SimDuration::from_secs(300);

#[derive(Clone, Copy, Debug)]
struct Attempts {
    count: u32,
    /// When the pod may be tried again.
    backoff_until: SimTime,
    /// When it entered the unschedulable pool (`None`: it has been moved out).
    parked_at: Option<SimTime>,
}

/// Per-pod attempt state for the pods that have failed at least once.
#[derive(Clone, Debug, Default)]
pub struct SchedulingQueue {
    pods: BTreeMap<PodId, Attempts>,
}

/// `1s × 2^(attempts−1)`, at most 10 s.
pub fn backoff(attempts: u32) -> SimDuration {
    let mut d = INITIAL_BACKOFF;
    for _ in 1..attempts {
        d = d + d;
        if d >= MAX_BACKOFF {
            return MAX_BACKOFF;
        }
    }
    d
}

impl SchedulingQueue {
    /// The pods of `pending` to try at `now`, highest `priority` first, then by id (creation
    /// order).
    pub fn ready(
        &self,
        pending: &BTreeSet<PodId>,
        now: SimTime,
        priority: impl Fn(PodId) -> i32,
    ) -> Vec<PodId> {
        let mut ready: Vec<PodId> = pending
            .iter()
            .copied()
            .filter(|p| self.is_ready(*p, now))
            .collect();
        ready.sort_by_key(|&p| std::cmp::Reverse(priority(p)));
        ready
    }

    fn is_ready(&self, pod: PodId, now: SimTime) -> bool {
        match self.pods.get(&pod) {
            None => true,
            Some(a) => {
                let flushed = a
                    .parked_at
                    .is_none_or(|t| now.saturating_since(t) >= MAX_IN_UNSCHEDULABLE_PODS);
                flushed && now >= a.backoff_until
            }
        }
    }

    /// A scheduling attempt failed: into the unschedulable pool, with a longer backoff.
    pub fn failed(&mut self, pod: PodId, now: SimTime) {
        let a = self.pods.entry(pod).or_insert(Attempts {
            count: 0,
            backoff_until: now,
            parked_at: None,
        });
        a.count += 1;
        a.backoff_until = now + backoff(a.count);
        a.parked_at = Some(now);
    }

    /// A cluster event that may make pods schedulable: every parked pod becomes eligible once
    /// its backoff expires.
    pub fn move_all_to_active(&mut self) {
        for a in self.pods.values_mut() {
            a.parked_at = None;
        }
    }

    /// The pod was bound or deleted.
    pub fn forget(&mut self, pod: PodId) {
        self.pods.remove(&pod);
    }

    /// The next time a waiting pod becomes eligible (backoff expiry or the 5-minute flush).
    pub fn next_wakeup(&self, now: SimTime) -> Option<SimTime> {
        self.pods
            .values()
            .map(|a| match a.parked_at {
                Some(t) => (t + MAX_IN_UNSCHEDULABLE_PODS).max(a.backoff_until),
                None => a.backoff_until,
            })
            .filter(|t| *t > now)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_to_ten() {
        let secs: Vec<u64> = (1..=6)
            .map(|n| backoff(n).as_micros() / 1_000_000)
            .collect();
        assert_eq!(secs, [1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn failed_pods_wait_for_an_event_or_the_flush_and_their_backoff() {
        let t = SimTime::from_secs;
        let pending: BTreeSet<PodId> = [PodId(1), PodId(2)].into();
        let no_priority = |_| 0;
        let mut q = SchedulingQueue::default();
        assert_eq!(q.ready(&pending, t(0), no_priority), [PodId(1), PodId(2)]);
        q.failed(PodId(1), t(0));
        // Parked: not retried on its own before 5 minutes.
        assert_eq!(q.ready(&pending, t(60), no_priority), [PodId(2)]);
        assert_eq!(q.next_wakeup(t(0)), Some(t(300)));
        assert_eq!(q.ready(&pending, t(300), no_priority), [PodId(1), PodId(2)]);
        // A second failure at 300 s: backoff 2 s. An event at 301 s moves it, eligible at 302 s.
        q.failed(PodId(1), t(300));
        q.move_all_to_active();
        assert_eq!(q.ready(&pending, t(301), no_priority), [PodId(2)]);
        assert_eq!(q.next_wakeup(t(301)), Some(t(302)));
        assert_eq!(q.ready(&pending, t(302), no_priority), [PodId(1), PodId(2)]);
        q.forget(PodId(1));
        assert_eq!(q.next_wakeup(t(302)), None);
    }

    #[test]
    fn higher_priority_pods_go_first() {
        let pending: BTreeSet<PodId> = [PodId(1), PodId(2), PodId(3)].into();
        let priority = |p: PodId| if p == PodId(3) { 1000 } else { 0 };
        let q = SchedulingQueue::default();
        // PodId(3) is newest but most important; equal priorities keep creation order.
        assert_eq!(
            q.ready(&pending, SimTime::ZERO, priority),
            [PodId(3), PodId(1), PodId(2)]
        );
    }
}
