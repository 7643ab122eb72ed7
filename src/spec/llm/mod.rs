//! What an LLM workload's pods serve with: the step-time profiles of inference servers fitted
//! to measured latencies ([`profile`], [`fit`]), a server's batching limits, and the traces'
//! prefix block size, and one request of a token trace. The servers that use them are `traffic::llm`'s.

pub mod architecture;
pub mod bench;
pub mod catalog;
pub mod fit;
pub mod profile;
pub mod roofline;

pub use profile::{LlmProfile, StepShape};

use crate::sim::SimTime;

/// Tokens per prefix block of the traces' hashes (Mooncake's block size).
pub const PREFIX_BLOCK_TOKENS: u32 = 512;

/// vLLM's defaults: 16-token blocks, 256 sequences, 8 192 batched tokens per step.
pub const DEFAULT_BLOCK_TOKENS: u32 = 16;
/// vLLM's default `--max-num-seqs`.
pub const DEFAULT_MAX_SEQUENCES: u32 = 256;
/// vLLM's default `--max-num-batched-tokens`.
pub const DEFAULT_MAX_BATCHED_TOKENS: u32 = 8192;

/// A server's batching limits and cache size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchingConfig {
    /// Most sequences in a step's batch (`--max-num-seqs`).
    pub max_sequences: u32,
    /// Most tokens of context a sequence may reach, prompt and output (vLLM
    /// `--max-model-len`): longer prompts are refused, and generation stops there.
    pub max_model_len: u32,
    /// Most tokens scheduled in one step (`--max-num-batched-tokens`).
    pub max_batched_tokens: u32,
    /// Tokens per KV-cache block (`--block-size`).
    pub block_tokens: u32,
    /// KV-cache blocks the server has.
    pub kv_blocks: u32,
    /// Automatic prefix caching (vLLM's default): prompts that start with blocks the server
    /// holds reuse them (`traffic::llm::prefix`).
    pub prefix_caching: bool,
    /// Async scheduling (vLLM `--async-scheduling`, on by default in its 2026 releases): the
    /// scheduler plans each step while the one before runs, so a request that arrives during
    /// a step can join only the step after the next.
    pub async_scheduling: bool,
    /// How long a client waits for its answer (the workload's `timeout`, when given): at the
    /// first step boundary after it, the server aborts the request.
    pub client_timeout: Option<crate::sim::SimDuration>,
}

/// One request of a token-level trace, in simulated time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    /// When it arrives.
    pub at: SimTime,
    /// Its prompt's length in tokens.
    pub prompt_tokens: u32,
    /// Tokens to generate.
    pub output_tokens: u32,
    /// Its prompt's block hashes: `hashes_len` of the trace's table from `hashes_start`.
    pub hashes_start: u32,
    /// How many block hashes it has.
    pub hashes_len: u32,
}
