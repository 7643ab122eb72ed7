//! The binary min-heap sifts under the event queue's main heap and its timers.
//!
//! Both keep entries in a slice ordered by a `u128` key (`time << 64 | sequence`, distinct for
//! every entry), earliest at index 0. The sifts take the entry to place as a value and write each
//! entry once, where it ends: an entry is never read back from memory right after being written
//! in pieces, which would stall the load until the pieces reach the cache (a store the CPU
//! cannot forward). The timers learn where each entry went through `placed`.

/// An entry of a heap: ordered by its key alone.
pub(super) trait Keyed: Copy {
    fn key(&self) -> u128;
}

/// Places `moving` at or above the hole at `at`: the entries it passes move down into the hole
/// it leaves. `placed(entry, index)` is told every entry written and where.
#[inline(always)]
pub(super) fn sift_up<T: Keyed>(
    heap: &mut [T],
    at: usize,
    moving: T,
    mut placed: impl FnMut(&T, usize),
) {
    let mut hole = at;
    while hole > 0 {
        let parent = (hole - 1) / 2;
        let above = heap[parent];
        if above.key() <= moving.key() {
            break;
        }
        heap[hole] = above;
        placed(&above, hole);
        hole = parent;
    }
    heap[hole] = moving;
    placed(&moving, hole);
}

/// Places `moving` at or below the hole at `at`, as [`sift_up`] does upwards. While a hole has
/// both children the earlier is picked by arithmetic, not a branch: which one it is, is a coin
/// toss the branch predictor cannot learn.
#[inline(always)]
pub(super) fn sift_down<T: Keyed>(
    heap: &mut [T],
    at: usize,
    moving: T,
    mut placed: impl FnMut(&T, usize),
) {
    let len = heap.len();
    let mut hole = at;
    let mut left = 2 * hole + 1;
    while left + 1 < len {
        let child = left + usize::from(heap[left + 1].key() < heap[left].key());
        let below = heap[child];
        if moving.key() <= below.key() {
            break;
        }
        heap[hole] = below;
        placed(&below, hole);
        hole = child;
        left = 2 * hole + 1;
    }
    if left + 1 == len && heap[left].key() < moving.key() {
        let below = heap[left];
        heap[hole] = below;
        placed(&below, hole);
        hole = left;
    }
    heap[hole] = moving;
    placed(&moving, hole);
}

/// Pushes `entry`.
#[inline(always)]
pub(super) fn push<T: Keyed>(heap: &mut Vec<T>, entry: T, placed: impl FnMut(&T, usize)) {
    heap.push(entry);
    let last = heap.len() - 1;
    sift_up(heap, last, entry, placed);
}

/// Removes the earliest entry and returns it.
#[inline(always)]
pub(super) fn pop<T: Keyed>(heap: &mut Vec<T>, placed: impl FnMut(&T, usize)) -> Option<T> {
    let last = heap.pop()?;
    let Some(&top) = heap.first() else {
        return Some(last);
    };
    sift_down(heap, 0, last, placed);
    Some(top)
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Keyed for u128 {
        fn key(&self) -> u128 {
            *self
        }
    }

    proptest::proptest! {
        /// Pushes, pops and in-place replacements of the top in any order: the heap pops
        /// what a sorted model does, and `placed` saw every entry where it now is.
        #[test]
        fn pops_in_key_order(ops in proptest::collection::vec((0u128..1000, 0u8..3), 1..300)) {
            let mut heap: Vec<u128> = Vec::new();
            let mut model = std::collections::BTreeSet::new();
            let mut last_placed = std::collections::BTreeMap::new();
            for (seq, (time, op)) in ops.into_iter().enumerate() {
                let key = time << 64 | seq as u128;
                let mut note = |e: &u128, i: usize| {
                    last_placed.insert(*e, i);
                };
                match op {
                    0 => {
                        push(&mut heap, key, &mut note);
                        model.insert(key);
                    }
                    1 => proptest::prop_assert_eq!(pop(&mut heap, &mut note), model.pop_first()),
                    _ => {
                        if let Some(&top) = heap.first().filter(|&&top| top < key) {
                            sift_down(&mut heap, 0, key, &mut note);
                            model.remove(&top);
                            model.insert(key);
                        }
                    }
                }
                proptest::prop_assert_eq!(heap.first(), model.first());
                for (i, e) in heap.iter().enumerate() {
                    proptest::prop_assert_eq!(last_placed.get(e), Some(&i));
                }
            }
        }
    }
}
