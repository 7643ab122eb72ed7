//! LLM inference serving: one server's continuous batching over its KV cache
//! ([`batching`]) with its prefix cache ([`prefix`]); and where requests and their token counts come from ([`tokens`]). Nothing
//! here schedules pods: the engine gives each LLM pod its server and steps it.

pub(crate) mod batching;
pub(crate) mod prefix;
pub(crate) mod tokens;

pub(crate) use crate::spec::llm::profile;
