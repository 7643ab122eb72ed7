//! The threads that advance the other shards while the control thread advances the first, and
//! how they wait between two all-lanes advances. A rayon worker that finds no work soon sleeps,
//! and waking it costs tens of microseconds on a virtual machine — at every one of a day's ten
//! thousand advances. So after an advance each worker is handed a wait that looks for the next
//! advance (yielding its core to any other thread that wants it) for at most [`WARM_FOR`], and
//! the next advance ends it — when each thread has a core of its own. Only when work starts
//! changes: never what is computed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::Shard;
use crate::sim::SimTime;

/// How long a worker waits awake for the next advance before it may sleep.
const WARM_FOR: Duration = Duration::from_millis(5);

/// The pool's threads (one fewer than the plane's threads) and whether they are to stay awake.
pub(super) struct LaneWorkers {
    pool: rayon::ThreadPool,
    awake: Arc<AtomicBool>,
    /// Whether the workers wait awake: only when each thread has a core of its own (more
    /// threads than cores would take turns with the control thread).
    wait_awake: bool,
}

impl LaneWorkers {
    /// `threads − 1` workers; `None` for one thread, or where the system refuses the threads
    /// (the control thread then advances every shard: the same outputs, only slower).
    pub(super) fn new(threads: usize) -> Option<LaneWorkers> {
        let pool = (threads > 1)
            .then(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads - 1)
                    .thread_name(|i| format!("kubesim-lanes-{i}"))
                    .build()
                    .ok()
            })
            .flatten()?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Some(LaneWorkers {
            pool,
            awake: Arc::new(AtomicBool::new(false)),
            wait_awake: threads <= cores,
        })
    }

    /// Advances every shard to `now`: the first on this thread (its lanes stay in its caches),
    /// the others on the workers; then keeps the workers awake for the next advance.
    pub(super) fn advance(&self, shards: &mut [Shard], now: SimTime) {
        // Ends the waits, so the workers take the shards at once.
        self.awake.store(false, Ordering::Release);
        let (first, others) = shards.split_first_mut().expect("a shard");
        self.pool.in_place_scope(|scope| {
            for shard in others.iter_mut() {
                scope.spawn(move |_| shard.advance_all(now));
            }
            first.advance_all(now);
        });
        if self.wait_awake {
            self.keep_awake();
        }
    }

    /// Hands each worker a wait that ends at the next advance or after [`WARM_FOR`].
    fn keep_awake(&self) {
        self.awake.store(true, Ordering::Release);
        for _ in 0..self.pool.current_num_threads() {
            let awake = Arc::clone(&self.awake);
            self.pool.spawn(move || {
                let started = Instant::now();
                while awake.load(Ordering::Acquire) && started.elapsed() < WARM_FOR {
                    std::thread::yield_now();
                }
            });
        }
    }
}
