//! Timers: an indexed min-heap holding at most one pending event per timer id.
//!
//! The event queue keeps the events that are rescheduled again and again — a pod's next
//! completion moves whenever a request arrives or its CPU share changes — here instead of in its
//! main heap. Setting a timer that is already pending moves its entry in place (a sift up or
//! down) instead of leaving a stale copy behind to be popped and dropped later. Entries are keyed
//! like the main heap's, `time << 64 | sequence`, so the queue merges the two by one comparison.

/// Index of a timer that has no pending entry.
const NOT_PENDING: u32 = u32::MAX;

/// A heap entry: the event itself waits in its `Timer`, so entries stay small (32 bytes,
/// two to a cache line) for the sifts.
#[derive(Clone, Copy)]
struct Entry {
    key: u128,
    id: u32,
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
        if at == NOT_PENDING {
            self.heap.push(Entry { key, id });
            self.sift_up(self.heap.len() - 1);
            return;
        }
        let at = at as usize;
        let old = self.heap[at].key;
        self.heap[at].key = key;
        if key < old {
            self.sift_up(at);
        } else {
            self.sift_down(at);
        }
    }

    /// Replaces the earliest entry, which must belong to timer `id`, by a later one.
    pub(super) fn replace_top(&mut self, id: u32, key: u128, event: E) {
        debug_assert_eq!(self.top_id(), Some(id));
        debug_assert!(key >= self.heap[0].key);
        self.heap[0].key = key;
        self.timers[id as usize].event = event;
        self.sift_down(0);
    }

    /// Removes the earliest entry.
    pub(super) fn pop(&mut self) {
        let Some(last) = self.heap.pop() else {
            return;
        };
        if self.heap.is_empty() {
            self.timers[last.id as usize].index = NOT_PENDING;
            return;
        }
        let top = std::mem::replace(&mut self.heap[0], last);
        self.timers[top.id as usize].index = NOT_PENDING;
        self.sift_down(0);
    }

    /// Moves the entry at `at` up to its place: the entries it passes move down into the hole
    /// it leaves, and only they and it get their index written.
    fn sift_up(&mut self, at: usize) {
        // Slices of two distinct fields: the compiler knows a write to one leaves the other's
        // length alone, so the loop's bounds hold without being checked again.
        let (heap, timers) = (&mut self.heap[..], &mut self.timers[..]);
        let moving = heap[at];
        let mut hole = at;
        while hole > 0 {
            let parent = (hole - 1) / 2;
            let above = heap[parent];
            if above.key <= moving.key {
                break;
            }
            move_entry(heap, timers, hole, above);
            hole = parent;
        }
        move_entry(heap, timers, hole, moving);
    }

    /// Moves the entry at `at` down to its place, as [`Timers::sift_up`] does upwards. While a
    /// hole has both children the smaller is picked by arithmetic, not a branch: which one is
    /// earlier is a coin toss the branch predictor cannot learn.
    fn sift_down(&mut self, at: usize) {
        let (heap, timers) = (&mut self.heap[..], &mut self.timers[..]);
        let len = heap.len();
        let moving = heap[at];
        let mut hole = at;
        let mut left = 2 * hole + 1;
        while left + 1 < len {
            let child = left + usize::from(heap[left + 1].key < heap[left].key);
            let below = heap[child];
            if moving.key <= below.key {
                break;
            }
            move_entry(heap, timers, hole, below);
            hole = child;
            left = 2 * hole + 1;
        }
        if left + 1 == len && heap[left].key < moving.key {
            move_entry(heap, timers, hole, heap[left]);
            hole = left;
        }
        move_entry(heap, timers, hole, moving);
    }
}

/// Puts `entry` at `at` in `heap` and records where it is in its timer.
#[inline(always)]
fn move_entry<E>(heap: &mut [Entry], timers: &mut [Timer<E>], at: usize, entry: Entry) {
    heap[at] = entry;
    timers[entry.id as usize].index = at as u32;
}
