//! The discrete-event core: integer simulated time, the event queue, seeded random streams, and
//! cache hints for scans over scattered state (they change when memory is read, never a result).
//!
//! Nothing in here knows about Kubernetes. It must stay free of wall clocks and of any
//! randomness that does not come from a named stream derived from the run's seed.

pub mod dist;
mod heap;
mod prefetch;
pub mod queue;
pub mod rng;
pub mod time;
mod timers;

pub use prefetch::{AHEAD, prefetch, prefetch_first_line, warm_ahead};
pub use queue::EventQueue;
pub use rng::{RngStreams, SimRng};
pub use time::{SimDuration, SimTime};
