//! Why the kubelet killed and restarted a container, kept for `kubesim explain --pod`: the
//! cause with the numbers it read (the probe's spec and when the app answers, the working set
//! against the memory limit, the crash rate) and the restart back-off step. Kept by the engine
//! as containers are killed (the first [`MAX_RESTART_RECORDS`] of a run).

use super::{BackoffStep, ProbeKind};
use crate::scenario::ProbeSpec;
use crate::sim::{SimDuration, SimTime};

/// Records kept per run; later ones are dropped.
pub const MAX_RESTART_RECORDS: usize = 100_000;

/// One container killed by the kubelet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestartRecord {
    pub at: SimTime,
    pub pod: String,
    /// `restartCount` with this restart.
    pub restarts: u32,
    /// When the container that was killed had started.
    pub started: SimTime,
    pub cause: RestartCause,
    /// The back-off before it starts again (`None`: a resize restarts it at once).
    pub backoff: Option<BackoffStep>,
}

/// Why the container was killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartCause {
    /// A startup or liveness probe failed `failureThreshold` times in a row.
    Probe {
        kind: ProbeKind,
        spec: ProbeSpec,
        /// When the app began to answer (after its warm-up).
        answers_from: SimTime,
        /// Requests in flight when it was killed, and the number above which the app fails
        /// probes (when the workload has one).
        overload: Option<(usize, u32)>,
    },
    /// The working set went over the memory limit.
    OutOfMemory {
        working_set: i64,
        limit: i64,
        in_flight: usize,
    },
    /// A random crash, at the workload's mean time between crashes.
    Crash { mtbf: Option<SimDuration> },
    /// An in-place resize whose `resizePolicy` is `RestartContainer`.
    Resize,
}
