//! The scheduling queue (C.2 step 1): which pending pods the scheduler tries now.
//!
//! As upstream's, in three parts. A pod that fails goes to the **unschedulable pool**, noting
//! the filter plugins that rejected it, with a backoff of 1 s doubling per attempt up to 10 s
//! (`podInitialBackoffDuration`, `podMaxBackoffDuration`). It leaves the pool when a cluster
//! event one of those plugins registered for may make it schedulable ([`super::hints`]), or
//! after 5 minutes there (`podMaxInUnschedulablePodsDuration`). Leaving, it goes to the
//! **activeQ** if its backoff is over and to the **backoffQ** if not. A pass tries the activeQ
//! by PrioritySort (higher priority first, then creation order), then, the activeQ being empty,
//! pops the backoffQ by backoff expiry (in 1 s windows), then priority (SchedulerPopFromBackoffQ,
//! on by default since 1.33): an idle scheduler does not wait out a backoff. A pod that no
//! plugin rejected (there were no nodes) waits out its backoff in the error backoffQ, which is
//! not popped early.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use super::filter::Rejectors;
use super::hints::QueueEvent;
use crate::cluster::PodId;
use crate::sim::{SimDuration, SimTime};

/// `podInitialBackoffDuration`: a pod's first retry after it did not fit.
pub const INITIAL_BACKOFF: SimDuration = SimDuration::from_secs(1);
/// `podMaxBackoffDuration`: the backoff doubles up to this.
pub const MAX_BACKOFF: SimDuration = SimDuration::from_secs(10);
/// `podMaxInUnschedulablePodsDuration`: a pod waits at most this long for a cluster event before it is retried anyway.
pub const MAX_IN_UNSCHEDULABLE_PODS: SimDuration = SimDuration::from_secs(300);
/// `backoffQOrderingWindowDuration`: backoff expiries are compared by the second they fall in.
const ORDERING_WINDOW: u64 = 1_000_000;

/// Where a pod that has failed at least once is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// In the unschedulable pool (its list there says which plugins put it there; its timer,
    /// when it is flushed).
    Parked,
    /// In the error backoffQ (rejected by no plugin, moved by an event) until its backoff ends.
    ErrorBackoff,
    /// In the activeQ or the backoffQ: tried at the next pass.
    Queued,
    /// Taken by a pass, in no part of the queue.
    Taken,
}

#[derive(Clone, Copy, Debug)]
struct Attempts {
    count: u32,
    /// When the pod's backoff ends.
    backoff_until: SimTime,
    place: Place,
    /// Counts the pod's entries into the pool and the error backoffQ: an entry of the pool's
    /// lists or of the timer heap with another ticket is stale.
    ticket: u32,
}

/// The queue. Each part costs what changes, not what is pending: a pass takes only the pods
/// queued, an event looks only at the pool's pods that some plugin registered for it may
/// concern (the pool is kept in lists by rejecting plugins), and a timer heap holds the
/// 5-minute flushes and the error backoffs. Entries left behind when a pod moves are stale
/// (their ticket is old) and are dropped when met.
#[derive(Clone, Debug, Default)]
pub struct SchedulingQueue {
    /// Attempt state of the pods that have failed at least once, by pod index.
    pods: Vec<Option<Attempts>>,
    /// The activeQ, in no order (sorted when taken).
    active: Vec<PodId>,
    /// The backoffQ, in no order (sorted when taken).
    backoff: Vec<PodId>,
    /// The unschedulable pool: one list per set of rejecting plugins, with tickets.
    pool: Vec<(Rejectors, Vec<(PodId, u32)>)>,
    /// Entries in `pool`'s lists, and how many pods are parked: the lists are compacted when
    /// stale entries outnumber live ones.
    pool_entries: usize,
    parked: usize,
    /// Flush times of parked pods and backoff ends of the error backoffQ, earliest on top.
    timers: BinaryHeap<Reverse<(SimTime, PodId, u32)>>,
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

/// The ordering window `t` falls in.
fn window(t: SimTime) -> u64 {
    t.as_micros() / ORDERING_WINDOW
}

/// `isPodBackingoff`: the backoff ends in this window or a later one.
fn backing_off(backoff_until: SimTime, now: SimTime) -> bool {
    window(backoff_until) >= window(now)
}

impl SchedulingQueue {
    fn attempts_mut(&mut self, pod: PodId) -> Option<&mut Attempts> {
        self.pods.get_mut(pod.index()).and_then(Option::as_mut)
    }

    /// A pod joined the pending pods (created, or put back by its node's removal): it is
    /// tried at the next pass (a pod that failed before and is in the queue stays where it is).
    pub fn add(&mut self, pod: PodId, now: SimTime) {
        match self.attempts_mut(pod) {
            None => self.active.push(pod),
            Some(a) if a.place == Place::Taken => {
                let until = a.backoff_until;
                self.enqueue(pod, until, now);
            }
            Some(_) => {}
        }
    }

    /// Puts a pod whose backoff ends at `backoff_until` in the activeQ or the backoffQ.
    fn enqueue(&mut self, pod: PodId, backoff_until: SimTime, now: SimTime) {
        if let Some(a) = self.attempts_mut(pod) {
            a.place = Place::Queued;
        }
        if backing_off(backoff_until, now) {
            self.backoff.push(pod);
        } else {
            self.active.push(pod);
        }
    }

    /// Takes the pods to try at `now`: the activeQ by `priority` (highest first), then by id
    /// (creation order), then the backoffQ by backoff window, priority and id. Pods whose
    /// 5-minute wait or error backoff is over join first; those no longer in `pending` (bound,
    /// deleted) are dropped.
    pub fn take_ready(
        &mut self,
        pending: &BTreeSet<PodId>,
        now: SimTime,
        priority: impl Fn(PodId) -> i32,
    ) -> Vec<PodId> {
        self.take_due(now);
        let mut ready = std::mem::take(&mut self.active);
        ready.sort_unstable_by_key(|&pod| (Reverse(priority(pod)), pod));
        let mut backing_off = std::mem::take(&mut self.backoff);
        backing_off.sort_unstable_by_key(|&pod| {
            let until = self.pods[pod.index()].map_or(now, |a| a.backoff_until);
            (window(until), Reverse(priority(pod)), pod)
        });
        ready.append(&mut backing_off);
        for pod in &ready {
            if let Some(a) = self.attempts_mut(*pod) {
                a.place = Place::Taken;
            }
        }
        ready.retain(|pod| pending.contains(pod));
        ready
    }

    /// Queues the pods whose timer is due by `now` (`flushUnschedulablePodsLeftover`, the error
    /// backoffQ's flush) and drops stale timers on top of the heap.
    fn take_due(&mut self, now: SimTime) {
        while let Some(&Reverse((at, pod, ticket))) = self.timers.peek() {
            let place = match self.pods.get(pod.index()) {
                Some(Some(a)) if a.ticket == ticket => Some((a.place, a.backoff_until)),
                _ => None,
            };
            match place {
                Some((Place::Parked | Place::ErrorBackoff, _)) if at > now => return,
                Some((Place::Parked, until)) => {
                    self.parked -= 1;
                    self.enqueue(pod, until, now);
                }
                Some((Place::ErrorBackoff, _)) => {
                    self.active.push(pod);
                    if let Some(a) = self.attempts_mut(pod) {
                        a.place = Place::Queued;
                    }
                }
                _ => {}
            }
            self.timers.pop();
        }
    }

    /// A scheduling attempt failed, rejected by the plugins `by`: into the unschedulable pool,
    /// with a longer backoff.
    pub fn failed(&mut self, pod: PodId, now: SimTime, by: Rejectors) {
        if self.pods.len() <= pod.index() {
            self.pods.resize(pod.index() + 1, None);
        }
        let a = self.pods[pod.index()].get_or_insert(Attempts {
            count: 0,
            backoff_until: now,
            place: Place::Taken,
            ticket: 0,
        });
        if let Place::Parked = a.place {
            self.parked -= 1;
        }
        a.count += 1;
        a.backoff_until = now + backoff(a.count);
        a.place = Place::Parked;
        a.ticket = a.ticket.wrapping_add(1);
        let ticket = a.ticket;
        self.parked += 1;
        let flush = now + MAX_IN_UNSCHEDULABLE_PODS;
        self.timers.push(Reverse((flush, pod, ticket)));
        match self.pool.iter_mut().find(|(set, _)| *set == by) {
            Some((_, list)) => list.push((pod, ticket)),
            None => self.pool.push((by, vec![(pod, ticket)])),
        }
        self.pool_entries += 1;
        if self.pool_entries > 2 * self.parked + 64 {
            self.compact_pool();
        }
    }

    /// Drops the stale entries of the pool's lists.
    fn compact_pool(&mut self) {
        let pods = &self.pods;
        for (_, list) in &mut self.pool {
            list.retain(|&(pod, ticket)| is_parked(pods, pod, ticket));
        }
        self.pool.retain(|(_, list)| !list.is_empty());
        self.pool_entries = self.pool.iter().map(|(_, list)| list.len()).sum();
    }

    /// A cluster event: the parked pods it may make schedulable leave the pool — those that
    /// no plugin rejected, and those for which `may_help(pod, plugins)` says yes, asked with
    /// the plugins that rejected the pod and registered for the event. Returns whether any
    /// pod left the pool (a pass is due, and maybe a new wake-up).
    pub fn on_event(
        &mut self,
        event: &QueueEvent,
        now: SimTime,
        mut may_help: impl FnMut(PodId, Rejectors) -> bool,
    ) -> bool {
        let registered = event.registered();
        let mut moved = false;
        let mut pool = std::mem::take(&mut self.pool);
        for (by, list) in &mut pool {
            let plugins = by.and(registered);
            if !by.is_empty() && plugins.is_empty() {
                continue;
            }
            let before = list.len();
            list.retain(|&(pod, ticket)| {
                if !is_parked(&self.pods, pod, ticket) {
                    return false; // stale
                }
                if by.is_empty() {
                    self.enter_error_backoff(pod, now);
                    moved = true;
                    return false;
                }
                if !(registered == Rejectors::ALL || may_help(pod, plugins)) {
                    return true;
                }
                let until = self.pods[pod.index()].map_or(now, |a| a.backoff_until);
                self.parked -= 1;
                self.enqueue(pod, until, now);
                moved = true;
                false
            });
            self.pool_entries -= before - list.len();
        }
        pool.retain(|(_, list)| !list.is_empty());
        self.pool = pool;
        moved
    }

    /// Moves a parked pod that no plugin rejected to the error backoffQ (the activeQ if its
    /// backoff is over).
    fn enter_error_backoff(&mut self, pod: PodId, now: SimTime) {
        self.parked -= 1;
        let Some(a) = self.attempts_mut(pod) else {
            return;
        };
        if !backing_off(a.backoff_until, now) {
            a.place = Place::Queued;
            self.active.push(pod);
            return;
        }
        a.place = Place::ErrorBackoff;
        a.ticket = a.ticket.wrapping_add(1);
        // Flushed at the start of the window after the one its backoff ends in.
        let flushed = SimTime::from_micros((window(a.backoff_until) + 1) * ORDERING_WINDOW);
        let ticket = a.ticket;
        self.timers.push(Reverse((flushed, pod, ticket)));
    }

    /// The pod was bound or deleted.
    pub fn forget(&mut self, pod: PodId) {
        if let Some(slot) = self.pods.get_mut(pod.index()) {
            if let Some(Attempts {
                place: Place::Parked,
                ..
            }) = slot
            {
                self.parked -= 1;
            }
            *slot = None;
        }
    }

    /// The next time after `now` a waiting pod is due (its 5-minute flush, or the end of an
    /// error backoff). Pods already due at `now` are queued for the next pass, whenever it
    /// comes.
    pub fn next_wakeup(&mut self, now: SimTime) -> Option<SimTime> {
        self.take_due(now);
        self.timers.peek().map(|Reverse((at, _, _))| *at)
    }
}

/// Whether the pool entry `(pod, ticket)` is live.
fn is_parked(pods: &[Option<Attempts>], pod: PodId, ticket: u32) -> bool {
    matches!(pods.get(pod.index()), Some(Some(a)) if a.ticket == ticket
        && matches!(a.place, Place::Parked))
}

#[cfg(test)]
mod tests {
    use super::super::filter::FilterPlugin::{self, *};
    use super::*;
    use crate::controllers::scheduler::test_pod;

    fn t(secs: u64) -> SimTime {
        SimTime::from_secs(secs)
    }

    fn ms(millis: u64) -> SimTime {
        SimTime::from_micros(millis * 1000)
    }

    fn by(plugins: &[FilterPlugin]) -> Rejectors {
        Rejectors::of(plugins)
    }

    fn pending(pods: &[u32]) -> BTreeSet<PodId> {
        pods.iter().map(|&p| PodId(p)).collect()
    }

    fn ids(pods: &[u32]) -> Vec<PodId> {
        pods.iter().map(|&p| PodId(p)).collect()
    }

    /// Adds `pods`, takes them at `now` and fails each, rejected by `plugins`.
    fn fail_all(q: &mut SchedulingQueue, pods: &[u32], now: SimTime, plugins: &[FilterPlugin]) {
        for &p in pods {
            q.add(PodId(p), now);
        }
        q.take_ready(&pending(pods), now, |_| 0);
        for &p in pods {
            q.failed(PodId(p), now, by(plugins));
        }
    }

    #[test]
    fn backoff_doubles_from_one_second_to_ten() {
        let secs: Vec<u64> = (1..=6)
            .map(|n| backoff(n).as_micros() / 1_000_000)
            .collect();
        assert_eq!(secs, [1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn parked_pods_wait_for_the_flush_and_an_idle_scheduler_skips_their_backoff() {
        let all = pending(&[1, 2]);
        let mut q = SchedulingQueue::default();
        fail_all(&mut q, &[1, 2], t(0), &[NodeResourcesFit]);
        // Parked: not retried on its own before 5 minutes.
        assert_eq!(q.take_ready(&all, t(60), |_| 0), []);
        assert_eq!(q.next_wakeup(t(0)), Some(t(300)));
        assert_eq!(q.take_ready(&all, t(300), |_| 0), ids(&[1, 2]));
        // Second failures at 300 s: backoff 2 s. A pod deleted at 301 s moves them to the
        // backoffQ (still backing off), which the pass pops at once: activeQ is empty.
        q.failed(PodId(1), t(300), by(&[NodeResourcesFit]));
        q.failed(PodId(2), t(300), by(&[NodeResourcesFit]));
        let gone = test_pod(100, 0);
        let event = QueueEvent::AssignedPodDeleted(&gone);
        assert!(q.on_event(&event, t(301), |_, _| true));
        assert_eq!(q.take_ready(&all, t(301), |_| 0), ids(&[1, 2]));
        // A pod no longer pending (bound, deleted) is dropped when taken.
        q.failed(PodId(1), t(301), by(&[NodeResourcesFit]));
        q.forget(PodId(2));
        assert!(q.on_event(&event, t(302), |_, _| true));
        assert_eq!(q.take_ready(&pending(&[2]), t(302), |_| 0), []);
        q.forget(PodId(1));
        assert_eq!(q.next_wakeup(t(302)), None);
    }

    #[test]
    fn an_event_moves_only_the_pods_a_plugin_registered_for_it_rejected() {
        // Pod 1: resources; 2: node affinity; 3: topology spread; 4: ports and affinity.
        let all = pending(&[1, 2, 3, 4]);
        let mut q = SchedulingQueue::default();
        fail_all(&mut q, &[1], t(0), &[NodeResourcesFit]);
        fail_all(&mut q, &[2], t(0), &[NodeAffinity]);
        fail_all(&mut q, &[3], t(0), &[PodTopologySpread]);
        fail_all(&mut q, &[4], t(0), &[NodePorts, NodeAffinity]);
        let other = test_pod(100, 0);
        // A bind: only PodTopologySpread and InterPodAffinity registered; asked with them.
        let mut asked = Vec::new();
        let added = QueueEvent::AssignedPodAdded(&other);
        assert!(q.on_event(&added, t(20), |pod, plugins| {
            asked.push((pod, plugins));
            true
        }));
        assert_eq!(asked, [(PodId(3), by(&[PodTopologySpread]))]);
        assert_eq!(q.take_ready(&all, t(20), |_| 0), ids(&[3]));
        // A deletion: resources and ports, asked with the plugins that registered for it.
        let mut asked = Vec::new();
        let deleted = QueueEvent::AssignedPodDeleted(&other);
        assert!(q.on_event(&deleted, t(30), |pod, plugins| {
            asked.push((pod, plugins));
            pod == PodId(1)
        }));
        assert_eq!(
            asked,
            [
                (PodId(1), by(&[NodeResourcesFit])),
                (PodId(4), by(&[NodePorts]))
            ]
        );
        assert_eq!(q.take_ready(&all, t(30), |_| 0), ids(&[1]));
        // Pod 4's hint said no: it stays parked. A node added moves every parked pod.
        assert!(q.on_event(&QueueEvent::NodeChanged, t(40), |_, _| false));
        assert_eq!(q.take_ready(&all, t(40), |_| 0), ids(&[2, 4]));
        assert!(!q.on_event(&QueueEvent::NodeChanged, t(50), |_, _| true));
    }

    #[test]
    fn a_pod_no_plugin_rejected_waits_out_its_backoff_in_windows() {
        let all = pending(&[1]);
        let mut q = SchedulingQueue::default();
        // Failed at 0.5 s with no nodes at all: backoff to 1.5 s.
        fail_all(&mut q, &[1], ms(500), &[]);
        // Any event moves it, to the error backoffQ, which is not popped early; it is flushed
        // once its backoff's window (1 s) is over: at 2 s.
        let pod = test_pod(0, 0);
        assert!(q.on_event(&QueueEvent::AssignedPodAdded(&pod), ms(700), |_, _| true));
        assert_eq!(q.take_ready(&all, ms(1600), |_| 0), []);
        assert_eq!(q.next_wakeup(ms(1600)), Some(t(2)));
        assert_eq!(q.take_ready(&all, t(2), |_| 0), ids(&[1]));
    }

    #[test]
    fn the_active_queue_goes_first_by_priority_then_the_backoff_queue_by_window() {
        let all = pending(&[1, 2, 3, 4]);
        let priority = |p: PodId| {
            if p == PodId(2) || p == PodId(4) {
                100
            } else {
                0
            }
        };
        let mut q = SchedulingQueue::default();
        // Pods 1 and 2 fail at 0 s (backoff to 1 s), pods 3 and 4 at 5.5 s (to 6.5 s).
        fail_all(&mut q, &[1, 2], t(0), &[NodeResourcesFit]);
        fail_all(&mut q, &[3, 4], ms(5500), &[NodeResourcesFit]);
        let gone = test_pod(0, 0);
        assert!(q.on_event(&QueueEvent::AssignedPodDeleted(&gone), t(6), |_, _| true));
        // 1 and 2 are past their backoff: activeQ, priority first. 3 and 4 are backing off:
        // backoffQ, same window, so priority first.
        assert_eq!(q.take_ready(&all, t(6), priority), ids(&[2, 1, 4, 3]));
    }

    #[test]
    fn a_pool_no_event_reaches_does_not_grow_with_its_flushes() {
        let all = pending(&[1]);
        let mut q = SchedulingQueue::default();
        fail_all(&mut q, &[1], t(0), &[NodeAffinity]);
        for flush in 1..=1000 {
            let now = t(300 * flush);
            assert_eq!(q.take_ready(&all, now, |_| 0), ids(&[1]));
            q.failed(PodId(1), now, by(&[NodeAffinity]));
        }
        assert!(q.pool_entries <= 2 * q.parked + 64, "{}", q.pool_entries);
        assert_eq!(q.parked, 1);
        assert!(q.on_event(&QueueEvent::NodeChanged, t(400_000), |_, _| true));
        assert_eq!(q.parked, 0);
        assert_eq!(q.take_ready(&all, t(400_000), |_| 0), ids(&[1]));
    }

    #[test]
    fn higher_priority_pods_go_first() {
        let pending = pending(&[1, 2, 3]);
        let priority = |p: PodId| if p == PodId(3) { 1000 } else { 0 };
        let mut q = SchedulingQueue::default();
        for &pod in &pending {
            q.add(pod, SimTime::ZERO);
        }
        // PodId(3) is newest but most important; equal priorities keep creation order.
        assert_eq!(
            q.take_ready(&pending, SimTime::ZERO, priority),
            ids(&[3, 1, 2])
        );
    }
}
