//! The event queue: a heap of `(time, sequence)`-keyed events.
//!
//! Ordering rule: events pop in time order, and **events scheduled for the same instant pop in
//! the order they were scheduled (FIFO)**. The sequence number makes that total and
//! deterministic. The queue never inspects events: stale ones (for a pod that was replaced, a
//! completion that was rescheduled) carry a generation and are dropped by their handler.
//!
//! Speed: most handlers schedule a successor of the event they just popped (the next arrival, a
//! pod's next completion). `pop` therefore leaves the popped entry in the heap, marked consumed,
//! and the next `schedule` overwrites it in place with a single sift-down instead of a pop plus a
//! push. This changes no ordering: entries are compared by `(time, sequence)` only.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::time::SimTime;

/// A heap entry. `key` packs `(time, seq)` as `time << 64 | seq`, so one integer comparison
/// orders entries.
struct Entry<E> {
    key: u128,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    /// Reversed so that `BinaryHeap` (a max-heap) pops the earliest key first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

/// A time-ordered queue of events; equal times pop first-scheduled-first (FIFO).
pub struct EventQueue<E: Copy> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
    popped: u64,
    /// The heap's top was returned by `pop` and is logically gone.
    top_consumed: bool,
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
    pub fn new() -> Self {
        Self::with_capacity(1024)
    }

    pub fn with_capacity(capacity: usize) -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(capacity),
            next_seq: 0,
            popped: 0,
            top_consumed: false,
        }
    }

    /// Schedules `event` at `time`. Among events at the same time, earlier calls pop first.
    pub fn schedule(&mut self, time: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let key = (u128::from(time.as_micros()) << 64) | u128::from(seq);
        let entry = Entry { key, event };
        if self.top_consumed {
            self.top_consumed = false;
            // Overwrite the consumed top; dropping the PeekMut sifts the new entry down.
            *self
                .heap
                .peek_mut()
                .expect("a consumed top is still in the heap") = entry;
        } else {
            self.heap.push(entry);
        }
    }

    /// Removes and returns the earliest event.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.pop_until(SimTime::MAX)
    }

    /// Removes and returns the earliest event if it is at or before `limit`.
    pub fn pop_until(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        self.discard_consumed();
        let top = self.heap.peek()?;
        let (time, event) = (time_of(top.key), top.event);
        if time > limit {
            return None;
        }
        self.top_consumed = true;
        self.popped += 1;
        Some((time, event))
    }

    fn discard_consumed(&mut self) {
        if self.top_consumed {
            self.heap.pop();
            self.top_consumed = false;
        }
    }

    /// The time of the earliest pending event.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.discard_consumed();
        self.heap.peek().map(|e| time_of(e.key))
    }

    pub fn len(&self) -> usize {
        self.heap.len() - usize::from(self.top_consumed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Events popped so far (the engine's event count and budget use this).
    pub fn popped(&self) -> u64 {
        self.popped
    }

    /// Events scheduled so far.
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
