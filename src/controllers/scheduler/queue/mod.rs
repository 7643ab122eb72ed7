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
//!
//! Pods that failed together for the same reason move through the queue together, as one
//! group (`groups.rs`): the queue's cost follows the groups and the changes, not the pods
//! waiting. A pass takes each group as a run of pods in the order it would try them, split
//! where another pod comes between two members.

mod groups;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use groups::{Group, Groups};
pub use groups::{GroupId, Repeats};

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
/// The attempts after which the backoff is [`MAX_BACKOFF`] (1, 2, 4, 8, then 10 s): more
/// attempts change nothing, so pods past it are alike.
const ATTEMPTS_TO_MAX_BACKOFF: u32 = 5;

/// Where a group of pods that have failed is.
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
    /// An empty group, to be reused.
    Free,
}

/// An entry of the activeQ: a pod that has not failed yet, or a group with its ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    Pod(PodId),
    Group(GroupId, u64),
}

/// What a pass tries, in order: a pod on its own, or a group's members, first to last (see
/// [`SchedulingQueue::front`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ready {
    /// A pod that has not failed before.
    Pod(PodId),
    /// Pods that failed together.
    Group(GroupId),
}

/// The queue. Each part costs what changes, not what is pending: a pass takes only the
/// groups queued, an event looks only at the pool's groups that some plugin registered for it
/// may concern (the pool is kept in lists by rejecting plugins), and a timer heap holds the
/// 5-minute flushes and the error backoffs. Entries left behind when a group moves are stale
/// (their ticket is old) and are dropped when met.
#[derive(Clone, Debug, Default)]
pub struct SchedulingQueue {
    groups: Groups,
    /// The activeQ, in no order (sorted when taken).
    active: Vec<Entry>,
    /// The backoffQ, in no order (sorted when taken).
    backoff: Vec<(GroupId, u64)>,
    /// The unschedulable pool: one list per set of rejecting plugins, with tickets.
    pool: Vec<(Rejectors, Vec<(GroupId, u64)>)>,
    /// Entries in `pool`'s lists, and how many groups are parked: the lists are compacted when
    /// stale entries outnumber live ones.
    pool_entries: usize,
    parked: usize,
    /// Flush times of parked groups and backoff ends of the error backoffQ, earliest on top.
    timers: BinaryHeap<Reverse<(SimTime, GroupId, u64)>>,
    /// The last ticket handed out.
    tickets: u64,
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

/// A pass's order: backoff window (0 in the activeQ), priority (highest first), pod id.
type OrderKey = (u64, Reverse<i32>, PodId);

impl SchedulingQueue {
    fn next_ticket(&mut self) -> u64 {
        self.tickets += 1;
        self.tickets
    }

    /// A pod joined the pending pods (created, or put back by its node's removal): it is
    /// tried at the next pass (a pod that has failed and is in the queue stays where it is).
    pub fn add(&mut self, pod: PodId, _now: SimTime) {
        if self.groups.group_of(pod).is_none() {
            self.active.push(Entry::Pod(pod));
        }
    }

    /// Puts a group in the activeQ, or in the backoffQ if its backoff is not over.
    fn enqueue(&mut self, g: GroupId, now: SimTime) {
        let ticket = self.next_ticket();
        let group = self.groups.get_mut(g);
        group.place = Place::Queued;
        group.ticket = ticket;
        if backing_off(group.backoff_until, now) {
            self.backoff.push((g, ticket));
        } else {
            self.active.push(Entry::Group(g, ticket));
        }
    }

    /// Whether `(g, ticket)` is the group's current entry, with the group at `place`.
    fn is_current(&self, g: GroupId, ticket: u64, place: Place) -> bool {
        let group = self.groups.get(g);
        group.ticket == ticket && group.place == place
    }

    /// Takes what to try at `now`: the activeQ by `priority` (highest first), then by id
    /// (creation order), then the backoffQ by backoff window, priority and id; a group where
    /// its first member would come, split where another pod comes between its members. Groups
    /// whose 5-minute wait or error backoff is over join first; pods no longer in `pending`
    /// (bound, deleted) are dropped.
    pub fn take_ready(
        &mut self,
        pending: &BTreeSet<PodId>,
        now: SimTime,
        priority: impl Fn(PodId) -> i32,
    ) -> Vec<Ready> {
        self.take_due(now);
        let mut order = BinaryHeap::new();
        for entry in std::mem::take(&mut self.active) {
            match entry {
                Entry::Pod(pod) => {
                    if pending.contains(&pod) && self.groups.group_of(pod).is_none() {
                        order.push(Reverse(((0, Reverse(priority(pod)), pod), Ready::Pod(pod))));
                    }
                }
                Entry::Group(g, ticket) => {
                    if let Some(front) = self.take_group(g, ticket) {
                        order.push(Reverse((
                            (0, Reverse(priority(front)), front),
                            Ready::Group(g),
                        )));
                    }
                }
            }
        }
        let mut ready = self.in_order(order);
        let mut order = BinaryHeap::new();
        for (g, ticket) in std::mem::take(&mut self.backoff) {
            if let Some(front) = self.take_group(g, ticket) {
                let until = window(self.groups.get(g).backoff_until);
                order.push(Reverse((
                    (until, Reverse(priority(front)), front),
                    Ready::Group(g),
                )));
            }
        }
        ready.append(&mut self.in_order(order));
        ready
    }

    /// Marks a queued group taken; its first member, or None if the entry is stale.
    fn take_group(&mut self, g: GroupId, ticket: u64) -> Option<PodId> {
        if !self.is_current(g, ticket, Place::Queued) {
            return None;
        }
        self.groups.get_mut(g).place = Place::Taken;
        self.groups.front(g)
    }

    /// Empties `order` into a list, splitting a group where the next entry in order comes
    /// before its last member (the members after it go back into `order`).
    fn in_order(&mut self, mut order: BinaryHeap<Reverse<(OrderKey, Ready)>>) -> Vec<Ready> {
        let mut ready = Vec::with_capacity(order.len());
        while let Some(Reverse((key, item))) = order.pop() {
            if let Ready::Group(g) = item
                && let Some(Reverse((next, _))) = order.peek()
                && (next.0, next.1) == (key.0, key.1)
                && let Some(tail) = self.groups.split_after(g, next.2)
                && let Some(front) = self.groups.front(tail)
            {
                order.push(Reverse(((key.0, key.1, front), Ready::Group(tail))));
            }
            ready.push(item);
        }
        ready
    }

    /// Queues the groups whose timer is due by `now` (`flushUnschedulablePodsLeftover`, the
    /// error backoffQ's flush) and drops stale timers on top of the heap.
    fn take_due(&mut self, now: SimTime) {
        while let Some(&Reverse((at, g, ticket))) = self.timers.peek() {
            let group = self.groups.get(g);
            let place = (group.ticket == ticket).then_some(group.place);
            match place {
                Some(Place::Parked | Place::ErrorBackoff) if at > now => return,
                Some(Place::Parked) => {
                    self.parked -= 1;
                    self.enqueue(g, now);
                }
                Some(Place::ErrorBackoff) => {
                    let ticket = self.next_ticket();
                    let group = self.groups.get_mut(g);
                    group.place = Place::Queued;
                    group.ticket = ticket;
                    self.active.push(Entry::Group(g, ticket));
                }
                _ => {}
            }
            self.timers.pop();
        }
    }

    /// A pod's attempt failed on its own, rejected by the plugins `by`, its event (index
    /// `event` in the pod event log, this failure counted) saying `message`: into the
    /// unschedulable pool, in a group of its own, with a longer backoff. A pod that was in a
    /// group must have been [detached](Self::detach) first. Returns its group.
    pub fn failed(
        &mut self,
        pod: PodId,
        now: SimTime,
        by: Rejectors,
        event: usize,
        message: &str,
    ) -> GroupId {
        let g = match self.groups.group_of(pod) {
            Some(g) => {
                self.groups.set_event(pod, event);
                g
            }
            None => self.groups.singleton(pod, event),
        };
        debug_assert_eq!(self.groups.get(g).live, 1, "a failed pod is detached first");
        let group = self.groups.get_mut(g);
        if group.message != message {
            group.message = message.to_string();
        }
        self.park(g, now, by);
        g
    }

    /// Every member of `g` failed at `now`, rejected by `by`; `folded` if their events were not
    /// recorded one by one (the group's message is theirs: the failure is folded into each).
    pub fn group_failed(&mut self, g: GroupId, now: SimTime, by: Rejectors, folded: bool) {
        if folded {
            self.groups.fold(g, now);
        }
        self.park(g, now, by);
    }

    /// A group's failure: a longer backoff, and into the pool's list for `by`.
    fn park(&mut self, g: GroupId, now: SimTime, by: Rejectors) {
        let ticket = self.next_ticket();
        let group = self.groups.get_mut(g);
        if group.place == Place::Parked {
            self.parked -= 1;
        }
        group.attempts = (group.attempts + 1).min(ATTEMPTS_TO_MAX_BACKOFF);
        group.backoff_until = now + backoff(group.attempts);
        group.failed_at = now;
        group.rejected_by = by;
        group.place = Place::Parked;
        group.ticket = ticket;
        self.parked += 1;
        let flush = now + MAX_IN_UNSCHEDULABLE_PODS;
        self.timers.push(Reverse((flush, g, ticket)));
        match self.pool.iter_mut().find(|(set, _)| *set == by) {
            Some((_, list)) => list.push((g, ticket)),
            None => self.pool.push((by, vec![(g, ticket)])),
        }
        self.pool_entries += 1;
        if self.pool_entries > 2 * self.parked + 64 {
            self.compact_pool();
        }
    }

    /// Merges `later` into `earlier` (or the other way round, whichever is smaller moves) if
    /// both failed at `now` in the same state — same attempts, plugins and message — and
    /// `earlier`'s members all come before `later`'s. The caller knows they are pods of one
    /// template, not nominated. Returns the merged group.
    pub fn try_merge(&mut self, earlier: GroupId, later: GroupId, now: SimTime) -> Option<GroupId> {
        if earlier == later || !alike(self.groups.get(earlier), self.groups.get(later), now) {
            return None;
        }
        let last = self.groups.back(earlier)?;
        let first = self.groups.front(later)?;
        if last >= first {
            return None;
        }
        let (kept, _) = self.groups.merge(earlier, later, now);
        // The other was parked; its pool entry and timer are now stale.
        self.parked -= 1;
        Some(kept)
    }

    /// Drops the stale entries of the pool's lists.
    fn compact_pool(&mut self) {
        let mut pool = std::mem::take(&mut self.pool);
        for (_, list) in &mut pool {
            list.retain(|&(g, ticket)| self.is_current(g, ticket, Place::Parked));
        }
        pool.retain(|(_, list)| !list.is_empty());
        self.pool_entries = pool.iter().map(|(_, list)| list.len()).sum();
        self.pool = pool;
    }

    /// A cluster event: the parked groups it may make schedulable leave the pool — those
    /// that no plugin rejected, and those for which `may_help(pod, plugins)` says yes, asked
    /// of the group's first pod with the plugins that rejected the group and registered for
    /// the event. Returns whether any group left the pool (a pass is due, and maybe a new
    /// wake-up).
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
            list.retain(|&(g, ticket)| {
                if !self.is_current(g, ticket, Place::Parked) {
                    return false; // stale
                }
                if by.is_empty() {
                    self.enter_error_backoff(g, now);
                    moved = true;
                    return false;
                }
                let helps = registered == Rejectors::ALL
                    || self
                        .groups
                        .front(g)
                        .is_some_and(|pod| may_help(pod, plugins));
                if !helps {
                    return true;
                }
                self.parked -= 1;
                self.enqueue(g, now);
                moved = true;
                false
            });
            self.pool_entries -= before - list.len();
        }
        pool.retain(|(_, list)| !list.is_empty());
        self.pool = pool;
        moved
    }

    /// Moves a parked group that no plugin rejected to the error backoffQ (the activeQ if its
    /// backoff is over).
    fn enter_error_backoff(&mut self, g: GroupId, now: SimTime) {
        self.parked -= 1;
        let ticket = self.next_ticket();
        let group = self.groups.get_mut(g);
        group.ticket = ticket;
        if !backing_off(group.backoff_until, now) {
            group.place = Place::Queued;
            self.active.push(Entry::Group(g, ticket));
            return;
        }
        group.place = Place::ErrorBackoff;
        // Flushed at the start of the window after the one its backoff ends in.
        let flushed = SimTime::from_micros((window(group.backoff_until) + 1) * ORDERING_WINDOW);
        self.timers.push(Reverse((flushed, g, ticket)));
    }

    /// The pod was bound or deleted: it leaves the queue, with the failures its group folded
    /// into its event since it joined.
    #[must_use]
    pub fn forget(&mut self, pod: PodId) -> Option<Repeats> {
        let (repeats, freed) = self.groups.leave(pod);
        if freed == Some(Place::Parked) {
            self.parked -= 1;
        }
        repeats
    }

    /// The pod's attempt is to be recorded on its own: it leaves its group for one of its own
    /// in the same state, with the failures its group folded into its event.
    #[must_use]
    pub fn detach(&mut self, pod: PodId) -> Option<Repeats> {
        self.groups.detach(pod).0
    }

    /// The group's first member (the next to try), if any is left.
    pub fn front(&mut self, g: GroupId) -> Option<PodId> {
        self.groups.front(g)
    }

    /// How many members the group has.
    pub fn live(&self, g: GroupId) -> usize {
        self.groups.get(g).live
    }

    /// The group's members, in order.
    pub fn members(&self, g: GroupId) -> Vec<PodId> {
        self.groups.members(g)
    }

    /// The message of the group's members' current `FailedScheduling` event.
    pub fn message(&self, g: GroupId) -> &str {
        &self.groups.get(g).message
    }

    /// The members' events are about to change: the failures folded into them so far.
    /// Record each member's new event with [`Self::set_event`], then [`Self::set_message`].
    #[must_use]
    pub fn take_repeats(&mut self, g: GroupId) -> Vec<Repeats> {
        self.groups.take_all_repeats(g)
    }

    /// A member's new current event (index `event`, the failure that made it counted).
    pub fn set_event(&mut self, pod: PodId, event: usize) {
        self.groups.set_event(pod, event);
    }

    /// The message of the group's members' new events.
    pub fn set_message(&mut self, g: GroupId, message: &str) {
        self.groups.get_mut(g).message = message.to_string();
    }

    /// The failures folded into the events of every pod still waiting, at the end of a run.
    #[must_use]
    pub fn take_every_repeat(&mut self) -> Vec<Repeats> {
        self.groups.take_every_repeat()
    }

    /// The next time after `now` a waiting group is due (its 5-minute flush, or the end of an
    /// error backoff). Groups already due at `now` are queued for the next pass, whenever it
    /// comes.
    pub fn next_wakeup(&mut self, now: SimTime) -> Option<SimTime> {
        self.take_due(now);
        self.timers.peek().map(|Reverse((at, _, _))| *at)
    }
}

/// Whether two groups failed at `now` alike: one backoff, one flush, one list in the pool,
/// one message.
fn alike(a: &Group, b: &Group, now: SimTime) -> bool {
    a.place == Place::Parked
        && b.place == Place::Parked
        && a.failed_at == now
        && b.failed_at == now
        && a.attempts == b.attempts
        && a.rejected_by == b.rejected_by
        && a.message == b.message
}
