//! Timers: an indexed min-heap holding at most one pending event per timer id.
//!
//! The event queue keeps the events that are rescheduled again and again — a pod's next
//! completion moves whenever a request arrives or its CPU share changes — here instead of in its
//! main heap. Setting a timer that is already pending moves its entry in place (a sift up or
//! down) instead of leaving a stale copy behind to be popped and dropped later. Entries are keyed
//! like the main heap's, `time << 64 | sequence`, so the queue merges the two by one comparison.

use super::heap::{self, Keyed};

/// Index of a timer that has no pending entry.
const NOT_PENDING: u32 = u32::MAX;

/// A heap entry: the event itself waits in its `Timer`, so entries stay small (32 bytes,
/// two to a cache line) for the sifts.
#[derive(Clone, Copy)]
struct Entry {
    key: u128,
    id: u32,
}

impl Keyed for Entry {
    #[inline(always)]
    fn key(&self) -> u128 {
        self.key
    }
}

pub(super) struct Timers<E> {
    heap: Vec<Entry>,
    /// By timer id: where its entry is in `heap` and its pending event, side by side (setting a
    /// timer reads the one and writes the other).
    timers: Vec<Timer<E>>,
}

/// A timer's place in the heap (`NOT_PENDING`: none) and its pending event (meaningless where
/// it has none).
#[derive(Clone, Copy)]
struct Timer<E> {
    index: u32,
    event: E,
}

impl<E: Copy> Timers<E> {
    pub(super) fn new() -> Self {
        Timers {
            heap: Vec::new(),
            timers: Vec::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.heap.len()
    }

    /// The earliest entry's key and event.
    pub(super) fn peek(&self) -> Option<(u128, E)> {
        self.heap
            .first()
            .map(|e| (e.key, self.timers[e.id as usize].event))
    }

    /// The earliest entry's timer id.
    pub(super) fn top_id(&self) -> Option<u32> {
        self.heap.first().map(|e| e.id)
    }

    /// The timer id of the entry that comes after the earliest (the earlier of its two
    /// children), if any.
    pub(super) fn second_id(&self) -> Option<u32> {
        let children = self.heap.get(1..self.heap.len().min(3))?;
        children.iter().min_by_key(|e| e.key).map(|e| e.id)
    }

    /// Sets timer `id` to fire at `key`, replacing its pending entry if it has one.
    pub(super) fn set(&mut self, id: u32, key: u128, event: E) {
        let slot = id as usize;
        if self.timers.len() <= slot {
            let idle = Timer {
                index: NOT_PENDING,
                event,
            };
            self.timers.resize(slot + 1, idle);
        }
        let timer = &mut self.timers[slot];
        timer.event = event;
        let at = timer.index;
        let entry = Entry { key, id };
        let (entries, timers) = (&mut self.heap, &mut self.timers[..]);
        if at == NOT_PENDING {
            heap::push(entries, entry, note_index(timers));
            return;
        }
        let at = at as usize;
        if key < entries[at].key {
            heap::sift_up(entries, at, entry, note_index(timers));
        } else {
            heap::sift_down(entries, at, entry, note_index(timers));
        }
    }

    /// Replaces the earliest entry, which must belong to timer `id`, by a later one.
    pub(super) fn replace_top(&mut self, id: u32, key: u128, event: E) {
        debug_assert_eq!(self.top_id(), Some(id));
        debug_assert!(key >= self.heap[0].key);
        self.timers[id as usize].event = event;
        let entry = Entry { key, id };
        heap::sift_down(&mut self.heap, 0, entry, note_index(&mut self.timers));
    }

    /// Removes the earliest entry.
    pub(super) fn pop(&mut self) {
        if let Some(top) = heap::pop(&mut self.heap, note_index(&mut self.timers)) {
            self.timers[top.id as usize].index = NOT_PENDING;
        }
    }
}

/// Records in each timer where its entry was placed in the heap.
#[inline(always)]
fn note_index<E>(timers: &mut [Timer<E>]) -> impl FnMut(&Entry, usize) + '_ {
    |entry, at| timers[entry.id as usize].index = at as u32
}
