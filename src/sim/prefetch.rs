//! Cache warming: a hint to the CPU to start loading a value it will soon be asked for, so that
//! the wait for memory overlaps other work. It changes no result, only when memory is read.

/// Bytes per cache line on the CPUs kubesim runs on.
const LINE: usize = 64;

/// Starts loading every cache line of `value` into the caches (nothing on CPUs other than
/// x86-64).
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    let start = (value as *const T).cast::<i8>();
    for offset in (0..std::mem::size_of::<T>()).step_by(LINE) {
        prefetch_address(start.wrapping_add(offset));
    }
}

/// Starts loading the cache line that holds the start of `value` (for scans that read only a
/// value's first fields).
#[inline(always)]
pub fn prefetch_first_line<T>(value: &T) {
    prefetch_address((value as *const T).cast::<i8>());
}

/// The hint itself, for an address within a live value.
#[inline(always)]
fn prefetch_address(address: *const i8) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch reads nothing into the program and cannot fault, whatever the
        // address (here always within a live value). SSE, which it needs, is part of x86-64.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(address) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

/// How many items ahead [`warm_ahead`] warms: far enough for memory to answer before the
/// item is reached, near enough for the lines to still be there.
pub const AHEAD: usize = 8;

/// `items`, calling `warm` on each item [`AHEAD`] items before it is yielded, so that a scan
/// over values scattered in memory waits for several at once instead of one after another.
pub fn warm_ahead<I: Iterator + Clone>(
    items: I,
    warm: impl Fn(&I::Item),
) -> impl Iterator<Item = I::Item> {
    let mut lead = items.clone();
    lead.by_ref().take(AHEAD).for_each(|item| warm(&item));
    items.inspect(move |_| {
        if let Some(next) = lead.next() {
            warm(&next);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn warm_ahead_yields_every_item_in_order_each_warmed_once_before_it_is_reached() {
        for len in [0, 1, AHEAD, AHEAD + 1, 3 * AHEAD + 5] {
            let log = RefCell::new(Vec::new());
            let warm = |&i: &usize| log.borrow_mut().push(("warm", i));
            for i in warm_ahead(0..len, warm) {
                log.borrow_mut().push(("use", i));
            }
            let log = log.into_inner();
            let used: Vec<usize> = log.iter().filter(|e| e.0 == "use").map(|e| e.1).collect();
            assert_eq!(used, (0..len).collect::<Vec<_>>());
            for i in 0..len {
                let warmed = log.iter().position(|&e| e == ("warm", i));
                let reached = log.iter().position(|&e| e == ("use", i));
                assert!(warmed < reached, "item {i} of {len} warmed before use");
                assert_eq!(log.iter().filter(|&&e| e == ("warm", i)).count(), 1);
                // Warmed AHEAD items early: with AHEAD uses in between unless near the start.
                let between = log[warmed.unwrap()..reached.unwrap()]
                    .iter()
                    .filter(|e| e.0 == "use")
                    .count();
                assert_eq!(between, i.min(AHEAD));
            }
        }
    }
}
