//! Cache warming: a hint to the CPU to start loading a value it will soon be asked for, so that
//! the wait for memory overlaps other work. It changes no result, only when memory is read.

/// Bytes per cache line on the CPUs kubesim runs on.
const LINE: usize = 64;

/// Starts loading every cache line of `value` into the caches (nothing on CPUs other than
/// x86-64).
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = (value as *const T).cast::<i8>();
        for offset in (0..std::mem::size_of::<T>()).step_by(LINE) {
            // SAFETY: a prefetch reads nothing into the program and cannot fault; the address
            // is within `value`, a live reference. SSE, which it needs, is part of x86-64.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
