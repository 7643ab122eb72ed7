//! The scheduling queue (C.2 step 1): which pending pods the scheduler tries now.
//!
//! A pod that fails goes to the unschedulable pool with a backoff of 1 s doubling per attempt
//! up to 10 s (`podInitialBackoffDuration`, `podMaxBackoffDuration`). It leaves the pool when a
//! cluster event could make it schedulable — an assigned pod deleted (resources freed), a node
//! added — or after 5 minutes in the pool (`podMaxInUnschedulablePodsDuration`), and is tried
//! again once its backoff has expired. Pods are tried by PrioritySort: higher priority first,
//! then in creation order.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

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
    /// Whether it is due (taken out of the wait, to be tried at the next pass).
    due: bool,
}

impl Attempts {
    /// When the pod becomes eligible: its backoff's end, and while parked not before the
    /// 5-minute flush.
    fn eligible_at(&self) -> SimTime {
        match self.parked_at {
            Some(t) => (t + MAX_IN_UNSCHEDULABLE_PODS).max(self.backoff_until),
            None => self.backoff_until,
        }
    }
}

/// The queue's three parts, as upstream's: the pods to try at the next pass (`activeQ`), the
/// pods that failed by when each becomes eligible again (`backoffQ` and the unschedulable
/// pool in one time-ordered heap), and which of those are parked in the pool. Each costs what
/// changes, not what is pending: a pass takes only the pods due, an event moves only the
/// parked pods. A pod whose wait changes gets a new entry in the heap; the old one is stale
/// (its time is no longer the pod's) and is dropped when it comes to the top.
#[derive(Clone, Debug, Default)]
pub struct SchedulingQueue {
    /// Attempt state of the pods that have failed at least once, by pod index.
    pods: Vec<Option<Attempts>>,
    /// Those pods by the time they become eligible, earliest on top (with stale entries).
    waiting: BinaryHeap<Reverse<(SimTime, PodId)>>,
    /// The pods parked in the unschedulable pool (and maybe some that have left it since:
    /// [`SchedulingQueue::move_all_to_active`] skips those).
    parked: Vec<PodId>,
    /// Pods to try at the next pass, in no order.
    active: Vec<PodId>,
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
    fn attempts(&self, pod: PodId) -> Option<&Attempts> {
        self.pods.get(pod.index()).and_then(Option::as_ref)
    }

    /// A pod joined the pending pods (created, or put back by its node's removal): it is
    /// tried at the next pass.
    pub fn add(&mut self, pod: PodId) {
        match self.attempts(pod) {
            None => self.active.push(pod),
            // Failed before and pending again: it waits out what is left of its wait.
            Some(a) => self.waiting.push(Reverse((a.eligible_at(), pod))),
        }
    }

    /// Takes the pods to try at `now`, highest `priority` first, then by id (creation order):
    /// the pods added since the last pass and those whose wait is over. Those no longer in
    /// `pending` (bound, deleted) are dropped.
    pub fn take_ready(
        &mut self,
        pending: &BTreeSet<PodId>,
        now: SimTime,
        priority: impl Fn(PodId) -> i32,
    ) -> Vec<PodId> {
        self.take_due(now);
        let mut ready = std::mem::take(&mut self.active);
        for pod in &ready {
            if let Some(Some(a)) = self.pods.get_mut(pod.index()) {
                a.due = false;
            }
        }
        ready.retain(|pod| pending.contains(pod));
        ready.sort_unstable_by_key(|&pod| (Reverse(priority(pod)), pod));
        ready
    }

    /// Moves the pods whose wait is over by `now` to the active pods, and drops the stale
    /// entries on top of the heap.
    fn take_due(&mut self, now: SimTime) {
        while let Some(&Reverse((at, pod))) = self.waiting.peek() {
            let live = match self.pods.get_mut(pod.index()) {
                Some(Some(a)) if !a.due && a.eligible_at() == at => Some(a),
                _ => None,
            };
            match live {
                None => {}
                Some(a) if at <= now => {
                    a.due = true;
                    self.active.push(pod);
                }
                Some(_) => return,
            }
            self.waiting.pop();
        }
    }

    /// A scheduling attempt failed: into the unschedulable pool, with a longer backoff.
    pub fn failed(&mut self, pod: PodId, now: SimTime) {
        if self.pods.len() <= pod.index() {
            self.pods.resize(pod.index() + 1, None);
        }
        let a = self.pods[pod.index()].get_or_insert(Attempts {
            count: 0,
            backoff_until: now,
            parked_at: None,
            due: false,
        });
        a.count += 1;
        a.backoff_until = now + backoff(a.count);
        if a.parked_at.is_none() {
            self.parked.push(pod);
        }
        a.parked_at = Some(now);
        a.due = false;
        self.waiting.push(Reverse((a.eligible_at(), pod)));
    }

    /// A cluster event that may make pods schedulable: every parked pod becomes eligible once
    /// its backoff expires.
    pub fn move_all_to_active(&mut self) {
        for pod in std::mem::take(&mut self.parked) {
            let Some(a) = self.pods[pod.index()].as_mut() else {
                continue; // forgotten since it was parked
            };
            if a.parked_at.take().is_some() {
                self.waiting.push(Reverse((a.eligible_at(), pod)));
            }
        }
    }

    /// The pod was bound or deleted.
    pub fn forget(&mut self, pod: PodId) {
        if let Some(a) = self.pods.get_mut(pod.index()) {
            *a = None;
        }
    }

    /// The next time after `now` a waiting pod becomes eligible (backoff expiry or the
    /// 5-minute flush). Pods already eligible at `now` are due at the next pass, whenever it
    /// comes.
    pub fn next_wakeup(&mut self, now: SimTime) -> Option<SimTime> {
        self.take_due(now);
        self.waiting.peek().map(|Reverse((at, _))| *at)
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
        q.add(PodId(1));
        q.add(PodId(2));
        assert_eq!(
            q.take_ready(&pending, t(0), no_priority),
            [PodId(1), PodId(2)]
        );
        q.failed(PodId(1), t(0));
        q.failed(PodId(2), t(0));
        // Parked: not retried on its own before 5 minutes.
        assert_eq!(q.take_ready(&pending, t(60), no_priority), []);
        assert_eq!(q.next_wakeup(t(0)), Some(t(300)));
        assert_eq!(
            q.take_ready(&pending, t(300), no_priority),
            [PodId(1), PodId(2)]
        );
        // Second failures at 300 s: backoff 2 s. An event at 301 s moves them, eligible at 302 s.
        q.failed(PodId(1), t(300));
        q.failed(PodId(2), t(300));
        q.move_all_to_active();
        assert_eq!(q.take_ready(&pending, t(301), no_priority), []);
        assert_eq!(q.next_wakeup(t(301)), Some(t(302)));
        assert_eq!(
            q.take_ready(&pending, t(302), no_priority),
            [PodId(1), PodId(2)]
        );
        q.forget(PodId(2));
        // A pod no longer pending (bound, deleted) is dropped when taken.
        q.failed(PodId(1), t(302));
        q.move_all_to_active();
        let only_two: BTreeSet<PodId> = [PodId(2)].into();
        assert_eq!(q.take_ready(&only_two, t(400), no_priority), []);
        q.forget(PodId(1));
        assert_eq!(q.next_wakeup(t(302)), None);
    }

    #[test]
    fn a_changed_wait_leaves_no_early_wakeup_and_a_returning_pod_waits_its_rest() {
        let t = SimTime::from_secs;
        let pending: BTreeSet<PodId> = [PodId(1)].into();
        let mut q = SchedulingQueue::default();
        q.add(PodId(1));
        assert_eq!(q.take_ready(&pending, t(0), |_| 0), [PodId(1)]);
        q.failed(PodId(1), t(0));
        // Moved at 5 s: due since 1 s; the 300 s entry of its parked wait is stale, so no
        // wake-up is left after it.
        q.move_all_to_active();
        assert_eq!(q.next_wakeup(t(5)), None);
        assert_eq!(q.take_ready(&pending, t(6), |_| 0), [PodId(1)]);
        q.failed(PodId(1), t(6));
        // Bound elsewhere (no longer pending) when it is due: dropped; pending again later, it
        // waits out its backoff (2 s from 6 s, parked until the flush) and is tried.
        q.move_all_to_active();
        assert_eq!(q.take_ready(&BTreeSet::new(), t(8), |_| 0), []);
        q.add(PodId(1));
        assert_eq!(q.next_wakeup(t(8)), None);
        assert_eq!(q.take_ready(&pending, t(9), |_| 0), [PodId(1)]);
    }

    #[test]
    fn higher_priority_pods_go_first() {
        let pending: BTreeSet<PodId> = [PodId(1), PodId(2), PodId(3)].into();
        let priority = |p: PodId| if p == PodId(3) { 1000 } else { 0 };
        let mut q = SchedulingQueue::default();
        for &pod in &pending {
            q.add(pod);
        }
        // PodId(3) is newest but most important; equal priorities keep creation order.
        assert_eq!(
            q.take_ready(&pending, SimTime::ZERO, priority),
            [PodId(3), PodId(1), PodId(2)]
        );
    }
}
