//! LLM inference serving: the step-time profiles of inference servers, fitted to measured
//! latencies ([`profile`], [`fit`]); one server's continuous batching over its KV cache
//! ([`batching`]) with its prefix cache ([`prefix`]); and where requests and their token counts come from ([`tokens`]). Nothing
//! here schedules pods: the engine gives each LLM pod its server and steps it.

pub mod batching;
pub mod fit;
pub mod prefix;
pub mod profile;
pub mod tokens;

pub use profile::{LlmProfile, StepShape};
