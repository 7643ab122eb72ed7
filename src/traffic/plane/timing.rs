//! Where the node-major plane's wall-clock time goes at its all-lanes advances — what the
//! parallel model of `benches/parallel-model.sh` is fitted to. These readings never reach a
//! simulation output: only `run.json` reports them, beside the run's own wall time.

use std::time::{Duration, Instant};

use serde::Serialize;

/// The node-major plane's all-lanes advances (scrapes, samples, exports, the end), timed.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LaneTiming {
    /// Threads the lanes were dealt to.
    pub threads: usize,
    /// All-lanes advances.
    pub syncs: u64,
    /// Wall-clock seconds the control thread spent in them, from the start of each to its last
    /// shard done.
    pub sync_seconds: f64,
    /// Per shard: the seconds its thread spent advancing its lanes in them.
    pub shard_busy_seconds: Vec<f64>,
    /// Completions the lanes handled in all.
    pub lane_events: u64,
    /// Of those, the ones handled at the all-lanes advances (the rest at the control plane's
    /// touches, on the control thread).
    pub lane_events_at_syncs: u64,
}

/// The running totals behind [`LaneTiming`].
#[derive(Debug, Default)]
pub(super) struct SyncClock {
    syncs: u64,
    wall: Duration,
    events_at_syncs: u64,
}

impl SyncClock {
    /// Times one all-lanes advance, `advance`, which returns the lane events it handled.
    pub(super) fn time(&mut self, advance: impl FnOnce() -> u64) {
        let started = Instant::now();
        self.events_at_syncs += advance();
        self.wall += started.elapsed();
        self.syncs += 1;
    }

    /// The totals, with each shard's busy time and the lanes' events in all.
    pub(super) fn report(&self, busy: &[Duration], lane_events: u64) -> LaneTiming {
        LaneTiming {
            threads: busy.len(),
            syncs: self.syncs,
            sync_seconds: self.wall.as_secs_f64(),
            shard_busy_seconds: busy.iter().map(Duration::as_secs_f64).collect(),
            lane_events,
            lane_events_at_syncs: self.events_at_syncs,
        }
    }
}

/// Runs `f`, adding its wall-clock time to `busy`.
pub(super) fn timed(busy: &mut Duration, f: impl FnOnce()) {
    let started = Instant::now();
    f();
    *busy += started.elapsed();
}
