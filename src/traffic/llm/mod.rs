//! LLM inference serving: the step-time profiles of inference servers, fitted to measured
//! latencies ([`profile`], [`fit`]). Nothing here schedules pods; it only says how long a
//! server's batching steps take and how much KV cache a replica has.

pub mod batching;
pub mod fit;
pub mod profile;

pub use profile::{LlmProfile, StepShape};
