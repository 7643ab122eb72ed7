//! LLM inference serving: one server's continuous batching over its KV cache
//! ([`batching`]) with its prefix cache ([`prefix`]); and where requests and their token counts come from ([`tokens`]). Nothing
//! here schedules pods: the engine gives each LLM pod its server and steps it.

pub mod batching;
pub mod prefix;
pub mod tokens;

pub use crate::spec::llm::{LlmProfile, StepShape, fit, profile};
