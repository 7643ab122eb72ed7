//! Pods in lockstep: the scheduling queue's unit of work.
//!
//! Pods of one template that failed at the same instant for the same reason share everything
//! the queue knows about them — their backoff, their place, the plugins that rejected them,
//! the message their `FailedScheduling` event carries — and, tried in a row on a cluster that
//! does not change between them, the same answer. A [`Group`] holds such pods in the order a
//! pass tries them (by id: one template, one priority), so that a pass that has seen the
//! group's answer fails the whole group at once instead of pod by pod. An Indexed Job of
//! 100 000 completions waiting on three nodes is then one entry in the queue, not 100 000.
//!
//! Each pod's own record stays exact: a group counts the failures folded into its members'
//! events (`folds`); a member remembers where the count stood when it joined (`base`) and its
//! event's index, and the difference is added to that event when it leaves, when the message
//! changes, or at the end of the run ([`Repeats`]). A group keeps a member's id in its list
//! after the pod left (it is stale: its slot no longer names this group with this serial) and
//! drops such ids when it meets them or when they outnumber the live ones.

use std::collections::VecDeque;

use super::Place;
use crate::cluster::PodId;
use crate::controllers::scheduler::filter::Rejectors;
use crate::sim::SimTime;

/// A group's index among the queue's groups (reused once the group is empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId(u32);

impl GroupId {
    fn index(self) -> usize {
        self.0 as usize
    }
}

/// Failures folded into a pod's `FailedScheduling` event while it was in a group: add `count`
/// to event `event` (an index into the run's pod event log) and move its last time to `last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repeats {
    /// The pod.
    pub pod: PodId,
    /// Its event's index in the pod event log.
    pub event: usize,
    /// Failures to add to the event's count.
    pub count: u32,
    /// The last of them.
    pub last: SimTime,
}

/// What pods in lockstep share.
#[derive(Clone, Debug)]
pub(super) struct Group {
    /// Member ids in the order a pass tries them (ascending), each with the serial it joined
    /// with; stale entries are skipped.
    members: VecDeque<(PodId, u64)>,
    /// Members still in the group.
    pub live: usize,
    /// Failed attempts, counted up to the one whose backoff is the longest (more change
    /// nothing).
    pub attempts: u32,
    /// When the members' backoff ends.
    pub backoff_until: SimTime,
    /// When they last failed.
    pub failed_at: SimTime,
    /// The filter plugins that rejected them last.
    pub rejected_by: Rejectors,
    /// Where the group is in the queue.
    pub place: Place,
    /// Names the group's current entry in the queue's lists: an entry with another ticket is
    /// stale.
    pub ticket: u64,
    /// The message of the members' current `FailedScheduling` event.
    pub message: String,
    /// Failures folded into the members' events since the group began.
    folds: u32,
    /// When the last of them happened.
    last_fold: SimTime,
}

impl Group {
    fn empty() -> Self {
        Group {
            members: VecDeque::new(),
            live: 0,
            attempts: 0,
            backoff_until: SimTime::ZERO,
            failed_at: SimTime::ZERO,
            rejected_by: Rejectors::default(),
            place: Place::Free,
            ticket: 0,
            message: String::new(),
            folds: 0,
            last_fold: SimTime::ZERO,
        }
    }

    /// A copy of the shared state, with no members.
    fn same_state(&self) -> Self {
        Group {
            members: VecDeque::new(),
            live: 0,
            message: self.message.clone(),
            ..*self
        }
    }
}

/// A pod's membership: its group, the serial it joined with, its current `FailedScheduling`
/// event and the group's fold count when that event last took its folds.
#[derive(Clone, Copy, Debug)]
struct Member {
    group: GroupId,
    serial: u64,
    event: usize,
    base: u32,
}

/// The groups, and which group each pod that has failed is in.
#[derive(Clone, Debug, Default)]
pub(super) struct Groups {
    groups: Vec<Group>,
    free: Vec<GroupId>,
    pods: Vec<Option<Member>>,
    serial: u64,
}

impl Groups {
    pub fn get(&self, g: GroupId) -> &Group {
        &self.groups[g.index()]
    }

    pub fn get_mut(&mut self, g: GroupId) -> &mut Group {
        &mut self.groups[g.index()]
    }

    /// The group `pod` is in, if it has failed and is still pending.
    pub fn group_of(&self, pod: PodId) -> Option<GroupId> {
        self.member(pod).map(|m| m.group)
    }

    fn member(&self, pod: PodId) -> Option<&Member> {
        self.pods.get(pod.index()).and_then(Option::as_ref)
    }

    fn is_live(&self, g: GroupId, (pod, serial): (PodId, u64)) -> bool {
        matches!(self.member(pod), Some(m) if m.group == g && m.serial == serial)
    }

    /// A new group with the state of `like` and no members.
    fn create(&mut self, like: Group) -> GroupId {
        match self.free.pop() {
            Some(g) => {
                self.groups[g.index()] = like;
                g
            }
            None => {
                self.groups.push(like);
                GroupId(self.groups.len() as u32 - 1)
            }
        }
    }

    /// A group of one: `pod`, which has not failed before (or has just left its group).
    pub fn singleton(&mut self, pod: PodId, event: usize) -> GroupId {
        let g = self.create(Group {
            place: Place::Taken,
            ..Group::empty()
        });
        self.push_member(g, pod, event);
        g
    }

    /// Adds `pod` after the group's last member, its folds counted from now on.
    fn push_member(&mut self, g: GroupId, pod: PodId, event: usize) {
        self.serial += 1;
        let serial = self.serial;
        if self.pods.len() <= pod.index() {
            self.pods.resize(pod.index() + 1, None);
        }
        let base = self.groups[g.index()].folds;
        self.pods[pod.index()] = Some(Member {
            group: g,
            serial,
            event,
            base,
        });
        let group = &mut self.groups[g.index()];
        group.members.push_back((pod, serial));
        group.live += 1;
    }

    /// The group's first member, stale entries before it dropped.
    pub fn front(&mut self, g: GroupId) -> Option<PodId> {
        while let Some(&entry) = self.groups[g.index()].members.front() {
            if self.is_live(g, entry) {
                return Some(entry.0);
            }
            self.groups[g.index()].members.pop_front();
        }
        None
    }

    /// The group's last member, stale entries after it dropped.
    pub fn back(&mut self, g: GroupId) -> Option<PodId> {
        while let Some(&entry) = self.groups[g.index()].members.back() {
            if self.is_live(g, entry) {
                return Some(entry.0);
            }
            self.groups[g.index()].members.pop_back();
        }
        None
    }

    /// The group's members, in order.
    pub fn members(&self, g: GroupId) -> Vec<PodId> {
        let group = &self.groups[g.index()];
        (group.members.iter())
            .filter(|&&entry| self.is_live(g, entry))
            .map(|&(pod, _)| pod)
            .collect()
    }

    /// The folds `pod` has not yet added to its event, now taken.
    fn take_repeats(&mut self, pod: PodId) -> Option<Repeats> {
        let m = self.pods.get_mut(pod.index())?.as_mut()?;
        let group = &self.groups[m.group.index()];
        let count = group.folds.wrapping_sub(m.base);
        m.base = group.folds;
        (count > 0).then_some(Repeats {
            pod,
            event: m.event,
            count,
            last: group.last_fold,
        })
    }

    /// `pod` leaves its group (bound, deleted): its folds, and the group's place if that was
    /// its last member (the group is then free).
    pub fn leave(&mut self, pod: PodId) -> (Option<Repeats>, Option<Place>) {
        let Some(g) = self.group_of(pod) else {
            return (None, None);
        };
        let repeats = self.take_repeats(pod);
        self.pods[pod.index()] = None;
        let group = &mut self.groups[g.index()];
        group.live -= 1;
        if group.live > 0 {
            self.compact(g);
            return (repeats, None);
        }
        let place = group.place;
        *group = Group::empty();
        self.free.push(g);
        (repeats, Some(place))
    }

    /// `pod` leaves its group for a group of its own with the same state (its attempt is to be
    /// recorded on its own). Returns its folds and its group.
    pub fn detach(&mut self, pod: PodId) -> (Option<Repeats>, Option<GroupId>) {
        let Some(g) = self.group_of(pod) else {
            return (None, None);
        };
        let repeats = self.take_repeats(pod);
        if self.groups[g.index()].live == 1 {
            return (repeats, Some(g));
        }
        let event = self.pods[pod.index()].map_or(0, |m| m.event);
        let like = Group {
            place: Place::Taken,
            ..self.groups[g.index()].same_state()
        };
        self.groups[g.index()].live -= 1;
        self.pods[pod.index()] = None;
        self.compact(g);
        let own = self.create(like);
        self.push_member(own, pod, event);
        (repeats, Some(own))
    }

    /// Sets `pod`'s current event (just recorded, with this failure counted).
    pub fn set_event(&mut self, pod: PodId, event: usize) {
        if let Some(m) = self.pods.get_mut(pod.index()).and_then(Option::as_mut) {
            m.event = event;
            m.base = self.groups[m.group.index()].folds;
        }
    }

    /// Every member's folds, before their events change.
    pub fn take_all_repeats(&mut self, g: GroupId) -> Vec<Repeats> {
        let members = self.members(g);
        members
            .into_iter()
            .filter_map(|pod| self.take_repeats(pod))
            .collect()
    }

    /// One more failure folded into every member's event.
    pub fn fold(&mut self, g: GroupId, now: SimTime) {
        let group = &mut self.groups[g.index()];
        group.folds = group.folds.wrapping_add(1);
        group.last_fold = now;
    }

    /// Splits off the members after `pod` (which is in no group of theirs) into a new group
    /// with the same state, so that `pod` is tried between the two. None if no member is
    /// after it.
    pub fn split_after(&mut self, g: GroupId, pod: PodId) -> Option<GroupId> {
        if self.back(g).is_none_or(|last| last < pod) {
            return None;
        }
        let group = &mut self.groups[g.index()];
        let at = group.members.partition_point(|&(member, _)| member < pod);
        let tail = group.members.split_off(at);
        let like = group.same_state();
        let new = self.create(like);
        for entry in tail {
            if self.is_live(g, entry) {
                self.move_member(entry.0, g, new);
            }
        }
        self.compact(g);
        Some(new)
    }

    /// Moves a live member from `from` to the back of `to`, its unfolded count kept.
    fn move_member(&mut self, pod: PodId, from: GroupId, to: GroupId) {
        let from_folds = self.groups[from.index()].folds;
        let to_folds = self.groups[to.index()].folds;
        self.serial += 1;
        let serial = self.serial;
        let Some(m) = self.pods[pod.index()].as_mut() else {
            return;
        };
        let pending = from_folds.wrapping_sub(m.base);
        m.base = to_folds.wrapping_sub(pending);
        m.group = to;
        m.serial = serial;
        self.groups[from.index()].live -= 1;
        let group = &mut self.groups[to.index()];
        group.members.push_back((pod, serial));
        group.live += 1;
    }

    /// Merges two groups in the same state that both failed at `now`, `earlier`'s members all
    /// before `later`'s; the smaller group's members move. Returns the group that remains and
    /// the one that is now empty (and free).
    pub fn merge(&mut self, earlier: GroupId, later: GroupId, now: SimTime) -> (GroupId, GroupId) {
        let (keep, gone) = if self.get(earlier).live >= self.get(later).live {
            (earlier, later)
        } else {
            (later, earlier)
        };
        // Both failed at `now`: a member with folds not yet added to its event folded its
        // last one now.
        self.groups[keep.index()].last_fold = now;
        let moving = self.members(gone);
        if keep == earlier {
            for pod in moving {
                self.move_member(pod, gone, keep);
            }
        } else {
            for pod in moving.into_iter().rev() {
                self.move_member(pod, gone, keep);
                let group = &mut self.groups[keep.index()];
                let entry = group.members.pop_back().expect("just pushed");
                group.members.push_front(entry);
            }
        }
        self.groups[gone.index()] = Group::empty();
        self.free.push(gone);
        (keep, gone)
    }

    /// Drops stale entries once they outnumber the live ones.
    fn compact(&mut self, g: GroupId) {
        let group = &self.groups[g.index()];
        if group.members.len() <= 2 * group.live + 16 {
            return;
        }
        let mut members = std::mem::take(&mut self.groups[g.index()].members);
        members.retain(|&entry| self.is_live(g, entry));
        self.groups[g.index()].members = members;
    }

    /// Every member's folds, at the end of the run.
    pub fn take_every_repeat(&mut self) -> Vec<Repeats> {
        let pods: Vec<PodId> = (self.pods.iter().enumerate())
            .filter(|(_, m)| m.is_some())
            .map(|(i, _)| PodId(i as u32))
            .collect();
        pods.into_iter()
            .filter_map(|pod| self.take_repeats(pod))
            .collect()
    }
}
