//! LLM inference serving: one server's continuous batching over its KV cache
//! ([`batching`]) with its prefix cache ([`prefix`]); where requests and their token counts
//! come from ([`tokens`]); and fitting the step-time model to a user's benchmark runs by
//! replaying them through one server ([`calibrate`]). Nothing here schedules pods: the engine
//! gives each LLM pod its server and steps it.

pub(crate) mod batching;
pub mod calibrate;
pub(crate) mod prefix;
pub(crate) mod tokens;

pub(crate) use crate::spec::llm::profile;
