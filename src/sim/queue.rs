//! The event queue: a heap of `(time, sequence)`-keyed events.
//!
//! Ordering rule: events pop in time order, and **events scheduled for the same instant pop in
//! the order they were scheduled (FIFO)**. The sequence number makes that total and
//! deterministic. The queue never inspects events: stale ones (for a pod that was replaced, a
//! probe of an old container) carry a generation and are dropped by their handler.
//!
//! Speed: most handlers schedule a successor of the event they just popped (the next arrival, a
//! pod's next completion). `pop` therefore leaves the popped entry in the heap, marked consumed,
//! and the next `schedule` overwrites it in place with a single sift-down instead of a pop plus a
//! push. This changes no ordering: entries are compared by `(time, sequence)` only.
//!
//! Timers: an event that is rescheduled again and again before it is due (a pod's next
//! completion) may be scheduled as a timer with an id; scheduling the timer again replaces its
//! pending event (`sim::timers`), so the replaced one never pops. Everything else is as above:
//! the two heaps share the sequence counter and pop merged by `(time, sequence)`.

use super::heap::{self, Keyed};
use super::time::SimTime;
use super::timers::Timers;

/// A heap entry. `key` packs `(time, seq)` as `time << 64 | seq`, so one integer comparison
/// orders entries.
#[derive(Clone, Copy)]
struct Entry<E> {
    key: u128,
    event: E,
}

impl<E: Copy> Keyed for Entry<E> {
    #[inline(always)]
    fn key(&self) -> u128 {
        self.key
    }
}

/// Which entry `pop` returned and left in place, logically gone.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Consumed {
    Nothing,
    /// The main heap's top.
    Event,
    /// The timers' top.
    Timer,
}

/// A time-ordered queue of events; equal times pop first-scheduled-first (FIFO).
pub struct EventQueue<E: Copy> {
    /// A binary min-heap (`sim::heap`), earliest first.
    heap: Vec<Entry<E>>,
    timers: Timers<E>,
    next_seq: u64,
    popped: u64,
    consumed: Consumed,
}

fn time_of(key: u128) -> SimTime {
    SimTime::from_micros((key >> 64) as u64)
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::with_capacity(1024)
    }

    /// An empty queue with room for `capacity` events before it grows.
    pub fn with_capacity(capacity: usize) -> Self {
        EventQueue {
            heap: Vec::with_capacity(capacity),
            timers: Timers::new(),
            next_seq: 0,
            popped: 0,
            consumed: Consumed::Nothing,
        }
    }

    /// The key of an event scheduled now for `time`: later calls sort after earlier ones.
    fn next_key(&mut self, time: SimTime) -> u128 {
        let seq = self.next_seq;
        self.next_seq += 1;
        (u128::from(time.as_micros()) << 64) | u128::from(seq)
    }

    /// Schedules `event` at `time`. Among events at the same time, earlier calls pop first.
    #[inline(always)]
    pub fn schedule(&mut self, time: SimTime, event: E) {
        let entry = Entry {
            key: self.next_key(time),
            event,
        };
        if self.consumed == Consumed::Event {
            self.consumed = Consumed::Nothing;
            // The new entry takes the consumed top's place and sifts down from there.
            heap::sift_down(&mut self.heap, 0, entry, |_, _| {});
        } else {
            self.discard_consumed();
            heap::push(&mut self.heap, entry, |_, _| {});
        }
    }

    /// Schedules `event` at `time` as timer `id`, replacing the event the timer still has
    /// pending, if any: that one will not pop. Ordering is as for [`EventQueue::schedule`] (the
    /// timer's event sorts as if scheduled now). Timer ids index a table: keep them dense.
    pub fn schedule_timer(&mut self, id: u32, time: SimTime, event: E) {
        let key = self.next_key(time);
        if self.consumed == Consumed::Timer && self.timers.top_id() == Some(id) {
            self.consumed = Consumed::Nothing;
            self.timers.replace_top(id, key, event);
        } else {
            self.discard_consumed();
            self.timers.set(id, key, event);
        }
    }

    /// The id of the timer most likely to fire next, for warming the caches: right after a
    /// pop, the one after the popped timer, or the earliest timer if an event was popped.
    /// A hint only: events scheduled meanwhile may come first.
    pub fn upcoming_timer(&self) -> Option<u32> {
        match self.consumed {
            Consumed::Timer => self.timers.second_id(),
            _ => self.timers.top_id(),
        }
    }

    /// The event (not a timer) most likely to pop next, for warming the caches: right after a
    /// pop from the main heap, the earlier of the popped entry's children. A hint only, as for
    /// [`EventQueue::upcoming_timer`].
    #[inline(always)]
    pub fn upcoming_event(&self) -> Option<&E> {
        let candidates = match self.consumed {
            Consumed::Event => &self.heap[1..self.heap.len().min(3)],
            _ => &self.heap[..self.heap.len().min(1)],
        };
        candidates.iter().min_by_key(|e| e.key).map(|e| &e.event)
    }

    /// Timers pending (a consumed one included).
    pub fn timers_pending(&self) -> usize {
        self.timers.len()
    }

    /// Removes and returns the earliest event.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.pop_until(SimTime::MAX)
    }

    /// Removes and returns the earliest event if it is at or before `limit`.
    pub fn pop_until(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        self.discard_consumed();
        let event = self.heap.first().map(|e| (e.key, e.event));
        let (key, event, source) = match (event, self.timers.peek()) {
            (Some(e), Some(t)) if t.0 < e.0 => (t.0, t.1, Consumed::Timer),
            (Some(e), _) => (e.0, e.1, Consumed::Event),
            (None, Some(t)) => (t.0, t.1, Consumed::Timer),
            (None, None) => return None,
        };
        let time = time_of(key);
        if time > limit {
            return None;
        }
        self.consumed = source;
        self.popped += 1;
        Some((time, event))
    }

    fn discard_consumed(&mut self) {
        match std::mem::replace(&mut self.consumed, Consumed::Nothing) {
            Consumed::Nothing => {}
            Consumed::Event => {
                heap::pop(&mut self.heap, |_, _| {});
            }
            Consumed::Timer => self.timers.pop(),
        }
    }

    /// The time of the earliest pending event.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.discard_consumed();
        let event = self.heap.first().map(|e| e.key);
        let timer = self.timers.peek().map(|t| t.0);
        event.into_iter().chain(timer).min().map(time_of)
    }

    /// Events and timers pending.
    pub fn len(&self) -> usize {
        self.heap.len() + self.timers.len() - usize::from(self.consumed != Consumed::Nothing)
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Events popped so far (the engine's event count and budget use this).
    pub fn popped(&self) -> u64 {
        self.popped
    }

    /// Events scheduled so far (a timer's replaced events included).
    pub fn scheduled(&self) -> u64 {
        self.next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equal_times_pop_in_scheduling_order() {
        let mut q = EventQueue::new();
        let t = SimTime::from_secs(5);
        q.schedule(t, "first");
        q.schedule(SimTime::from_secs(1), "early");
        q.schedule(t, "second");
        q.schedule(t, "third");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, ["early", "first", "second", "third"]);
        assert_eq!(q.popped(), 4);
    }

    #[test]
    fn scheduling_after_a_pop_reuses_the_slot_without_reordering() {
        let mut q = EventQueue::new();
        q.schedule(SimTime::from_secs(1), 'a');
        q.schedule(SimTime::from_secs(3), 'c');
        assert_eq!(q.pop(), Some((SimTime::from_secs(1), 'a')));
        assert_eq!(q.len(), 1);
        q.schedule(SimTime::from_secs(2), 'b'); // overwrites the consumed 'a'
        q.schedule(SimTime::from_secs(3), 'd'); // same time as 'c', scheduled later
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, ['b', 'c', 'd']);
        assert!(q.is_empty());
        assert_eq!(q.pop_until(SimTime::ZERO), None);
    }

    #[test]
    fn a_rescheduled_timer_pops_once_at_its_new_time_in_scheduling_order() {
        let mut q = EventQueue::new();
        q.schedule_timer(7, SimTime::from_secs(1), "timer, first setting");
        q.schedule(SimTime::from_secs(2), "event");
        q.schedule_timer(7, SimTime::from_secs(2), "timer, moved later");
        q.schedule_timer(3, SimTime::from_secs(2), "other timer");
        assert_eq!(q.len(), 3);
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        // All at 2 s: in the order they were (last) scheduled.
        assert_eq!(order, ["event", "timer, moved later", "other timer"]);
        assert_eq!(q.popped(), 3);
        assert_eq!(q.scheduled(), 4);
    }

    #[test]
    fn a_popped_timer_set_again_reuses_its_slot() {
        let mut q = EventQueue::new();
        q.schedule_timer(0, SimTime::from_secs(1), 'a');
        q.schedule_timer(1, SimTime::from_secs(3), 'c');
        assert_eq!(q.pop(), Some((SimTime::from_secs(1), 'a')));
        q.schedule_timer(0, SimTime::from_secs(4), 'd'); // replaces the consumed 'a' in place
        q.schedule_timer(1, SimTime::from_secs(2), 'b'); // moves 'c' earlier
        assert_eq!(q.peek_time(), Some(SimTime::from_secs(2)));
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, ['b', 'd']);
        assert!(q.is_empty());
    }

    #[test]
    fn the_upcoming_timer_is_the_one_that_pops_next_when_nothing_intervenes() {
        let mut q = EventQueue::new();
        assert_eq!(q.upcoming_timer(), None);
        for (id, secs) in [(4, 9), (1, 3), (2, 7), (3, 5), (5, 1)] {
            q.schedule_timer(id, SimTime::from_secs(secs), id);
        }
        q.schedule(SimTime::from_secs(2), 99);
        assert_eq!(q.upcoming_timer(), Some(5)); // nothing popped yet: the earliest timer
        assert_eq!(q.timers_pending(), 5);
        let mut order = Vec::new();
        let mut hints = Vec::new();
        while let Some((_, popped)) = q.pop() {
            order.push(popped);
            // After a timer pops, the hint names the timer after it; after an event, the earliest.
            hints.push(q.upcoming_timer());
        }
        assert_eq!(order, [5, 99, 1, 3, 2, 4]);
        assert_eq!(hints, [Some(1), Some(1), Some(3), Some(2), Some(4), None]);
    }

    #[test]
    fn the_upcoming_event_is_the_one_that_pops_next_when_nothing_intervenes() {
        let mut q = EventQueue::new();
        assert_eq!(q.upcoming_event(), None);
        for (secs, event) in [(9, 40), (3, 10), (7, 20), (5, 30), (1, 50), (8, 60)] {
            q.schedule(SimTime::from_secs(secs), event);
        }
        q.schedule_timer(1, SimTime::from_secs(2), 99);
        assert_eq!(q.upcoming_event(), Some(&50)); // nothing popped yet: the earliest event
        let mut order = Vec::new();
        let mut hints = Vec::new();
        while let Some((_, popped)) = q.pop() {
            order.push(popped);
            // After an event pops, the hint is the earlier of its children, which is the next
            // event; after a timer, the earliest event.
            hints.push(q.upcoming_event().copied());
        }
        assert_eq!(order, [50, 99, 10, 30, 20, 60, 40]);
        let next_events = [
            Some(10),
            Some(10),
            Some(30),
            Some(20),
            Some(60),
            Some(40),
            None,
        ];
        assert_eq!(hints, next_events);
    }

    /// Runs `ops` on a queue and on a model, checking every pop. Op kinds: 0 plain event, 1–2
    /// set timer `id`, 3 and above pop. The model is a Vec sorted by (time, seq) in which setting
    /// a timer removes its earlier entry.
    fn check_against_model(ops: &[(u64, u32, u8)]) -> Result<(), TestCaseError> {
        let mut q = EventQueue::new();
        let mut model: Vec<(u64, usize, Option<u32>)> = Vec::new();
        let mut now = 0;
        for (i, (dt, id, kind)) in ops.iter().enumerate() {
            let t = now + dt;
            match kind {
                0 => {
                    q.schedule(SimTime::from_micros(t), i);
                    model.push((t, i, None));
                }
                1 | 2 => {
                    q.schedule_timer(*id, SimTime::from_micros(t), i);
                    model.retain(|m| m.2 != Some(*id));
                    model.push((t, i, Some(*id)));
                }
                _ => {
                    model.sort();
                    let got = q.pop().map(|(t, e)| (t.as_micros(), e));
                    let want = (!model.is_empty())
                        .then(|| model.remove(0))
                        .map(|m| (m.0, m.1));
                    prop_assert_eq!(got, want);
                    if let Some((t, _)) = got {
                        now = t;
                    }
                }
            }
            prop_assert_eq!(q.len(), model.len());
        }
        model.sort();
        let rest: Vec<(u64, usize)> = std::iter::from_fn(|| q.pop())
            .map(|(t, e)| (t.as_micros(), e))
            .collect();
        prop_assert_eq!(
            rest,
            model.into_iter().map(|m| (m.0, m.1)).collect::<Vec<_>>()
        );
        Ok(())
    }

    proptest! {
        #[test]
        fn interleaved_pops_and_schedules_match_a_sorted_model(ops in proptest::collection::vec((0u64..40, proptest::bool::ANY), 1..400)) {
            // Model: a Vec sorted by (time, seq). Every op schedules at now+dt; some also pop.
            let mut q = EventQueue::new();
            let mut model: Vec<(u64, usize)> = Vec::new();
            let mut now = 0;
            for (i, (dt, pop)) in ops.iter().enumerate() {
                q.schedule(SimTime::from_micros(now + dt), i);
                model.push((now + dt, i));
                model.sort();
                if *pop {
                    let got = q.pop().map(|(t, e)| (t.as_micros(), e));
                    let want = Some(model.remove(0));
                    prop_assert_eq!(got, want);
                    now = got.unwrap().0;
                }
            }
            let rest: Vec<(u64, usize)> = std::iter::from_fn(|| q.pop()).map(|(t, e)| (t.as_micros(), e)).collect();
            prop_assert_eq!(rest, model);
        }

        #[test]
        fn events_and_timers_match_a_model_where_a_timer_keeps_its_last_setting(
            ops in proptest::collection::vec((0u64..30, 0u32..6, 0u8..4), 1..400)
        ) {
            check_against_model(&ops)?;
        }

        #[test]
        fn many_timers_grow_the_tree_and_reuse_slots_like_the_model(
            ops in proptest::collection::vec((0u64..30, 0u32..300, 0u8..5), 1..1500)
        ) {
            check_against_model(&ops)?;
        }

        #[test]
        fn pops_sorted_by_time_then_sequence(times in proptest::collection::vec(0u64..50, 0..300)) {
            let mut q = EventQueue::new();
            for (i, t) in times.iter().enumerate() {
                q.schedule(SimTime::from_micros(*t), i);
            }
            let mut expected: Vec<(u64, usize)> = times.iter().copied().zip(0..).collect();
            expected.sort();
            let got: Vec<(u64, usize)> =
                std::iter::from_fn(|| q.pop()).map(|(t, i)| (t.as_micros(), i)).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
