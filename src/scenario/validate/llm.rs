//! LLM serving in a scenario: `spec.workloads[].llm` (a shipped step-time profile, vLLM's
//! engine arguments, the KV cache's size) and the token counts of the traffic sent to it
//! (`arrivals.llmTrace`, or `tokens` beside any other arrivals).

use std::sync::Arc;

use super::Builder;
use super::calls::CallEdge;
use crate::cluster::resources::GPU;
use crate::scenario::diag::did_you_mean_hint;
use crate::scenario::llm_trace::{self, MAX_TOKENS};
use crate::scenario::model::{
    DeploymentSpec, Goodput, LlmServing, PodTemplate, ServiceSpec, TokenSource,
};
use crate::scenario::raw::{RawCount, RawCountFamily, RawGoodput, RawLlm, RawTokens, RawTraceFile};
use crate::scenario::trace::TraceMapping;
use crate::sim::SimDuration;
use crate::sim::dist::CountDist;
use crate::traffic::llm::batching::{
    BatchingConfig, DEFAULT_BLOCK_TOKENS, DEFAULT_MAX_BATCHED_TOKENS, DEFAULT_MAX_SEQUENCES,
};
use crate::traffic::llm::prefix::PREFIX_BLOCK_TOKENS;
use crate::traffic::llm::profile;

/// vLLM's default `--gpu-memory-utilization`.
pub const DEFAULT_GPU_MEMORY_UTILIZATION: f64 = 0.9;
/// GPU memory each GPU keeps beside weights and KV cache, for activations and CUDA graphs.
pub const RESERVED_PER_GPU_BYTES: u64 = 2 << 30;
/// Most KV-cache blocks a server may have (2³⁰: far beyond any GPU's memory, and block counts
/// stay clear of 32-bit overflow).
const MAX_KV_BLOCKS: u32 = 1 << 30;
/// Most copies of a trace's requests `scale` may ask for.
const MAX_TRACE_SCALE: f64 = 100.0;
/// The coefficient of variation of a token-count distribution is at most this.
const MAX_TOKEN_CV: f64 = 100.0;

impl Builder<'_> {
    /// `spec.workloads[i].llm`, checked against the pods' GPU request.
    pub(super) fn llm_serving(
        &mut self,
        path: &str,
        raw: &RawLlm,
        pod: &PodTemplate,
    ) -> Option<LlmServing> {
        let Some(name) = raw.profile.as_deref() else {
            self.error(
                &format!("{path}.profile"),
                format!("required: one of {}", profile_names()),
            );
            return None;
        };
        let Some(found) = profile::find(name) else {
            let hint = did_you_mean_hint(name, profile::shipped().iter().map(|p| p.name.as_str()));
            self.error(
                &format!("{path}.profile"),
                format!(
                    "no profile {name:?}{hint}: kubesim ships {}",
                    profile_names()
                ),
            );
            return None;
        };
        let gpus = pod.requests.get(GPU);
        if gpus != i64::from(found.tensor_parallel) {
            self.error(&format!("{path}.profile"), format!("{name} runs on {tp} GPUs (tensor parallelism {tp}), but the pods request {gpus} {GPU}: request {tp}", tp = found.tensor_parallel));
        }
        let batching = self.batching(path, raw, found)?;
        Some(LlmServing {
            profile: found,
            batching,
        })
    }

    fn batching(
        &mut self,
        path: &str,
        raw: &RawLlm,
        found: &profile::LlmProfile,
    ) -> Option<BatchingConfig> {
        let mut bounded = |field: &str, value: Option<u32>, default: u32, max: u32| {
            let v = value.unwrap_or(default);
            if !(1..=max).contains(&v) {
                self.error(
                    &format!("{path}.{field}"),
                    format!("{v} is out of range: 1 to {max}"),
                );
            }
            v.clamp(1, max)
        };
        let max_sequences = bounded(
            "maxNumSeqs",
            raw.max_num_seqs,
            DEFAULT_MAX_SEQUENCES,
            65_536,
        );
        let max_batched_tokens = bounded(
            "maxNumBatchedTokens",
            raw.max_num_batched_tokens,
            DEFAULT_MAX_BATCHED_TOKENS,
            1 << 20,
        );
        let max_model_len = bounded(
            "maxModelLen",
            raw.max_model_len,
            found.context_tokens,
            MAX_TOKENS,
        );
        let block_tokens = bounded("blockSize", raw.block_size, DEFAULT_BLOCK_TOKENS, 1024);
        let kv_blocks = match raw.kv_cache_blocks {
            Some(blocks) => bounded("kvCacheBlocks", Some(blocks), 1, MAX_KV_BLOCKS),
            None => self.kv_blocks_from_memory(path, raw, found, block_tokens)?,
        };
        let prefix_caching = raw.prefix_caching.unwrap_or(true);
        if prefix_caching && !PREFIX_BLOCK_TOKENS.is_multiple_of(block_tokens) {
            self.error(
                &format!("{path}.blockSize"),
                format!("{block_tokens} does not divide the traces' {PREFIX_BLOCK_TOKENS}-token prefix blocks, which prefix caching keeps whole; use a power of two up to {PREFIX_BLOCK_TOKENS} (vLLM's sizes are 8 to 128), or prefixCaching: false"),
            );
        }
        Some(BatchingConfig {
            max_sequences,
            max_model_len,
            max_batched_tokens,
            block_tokens,
            kv_blocks,
            prefix_caching,
        })
    }

    fn kv_blocks_from_memory(
        &mut self,
        path: &str,
        raw: &RawLlm,
        found: &profile::LlmProfile,
        block_tokens: u32,
    ) -> Option<u32> {
        let utilization = raw
            .gpu_memory_utilization
            .unwrap_or(DEFAULT_GPU_MEMORY_UTILIZATION);
        if !(utilization > 0.0 && utilization <= 1.0) {
            self.error(
                &format!("{path}.gpuMemoryUtilization"),
                "must be a fraction above 0 and at most 1",
            );
            return None;
        }
        let tokens = found.kv_cache_tokens(utilization, RESERVED_PER_GPU_BYTES);
        let blocks = u32::try_from(tokens / u64::from(block_tokens))
            .unwrap_or(u32::MAX)
            .min(MAX_KV_BLOCKS);
        if blocks == 0 {
            let gib = |b: u64| b as f64 / f64::from(1u32 << 30);
            self.error(&format!("{path}.gpuMemoryUtilization"), format!(
                "nothing is left for the KV cache: {} GPUs × {:.0} GiB × {utilization} hold {:.0} GiB, the weights take {:.0} GiB and each GPU keeps {:.0} GiB for activations",
                found.tensor_parallel, gib(found.gpu_memory_bytes), gib(found.gpu_memory_bytes) * f64::from(found.tensor_parallel) * utilization, gib(found.weights_bytes), gib(RESERVED_PER_GPU_BYTES)));
            return None;
        }
        Some(blocks)
    }

    /// The token counts of `spec.traffic[i]`: from an `llmTrace`, or drawn by `tokens`.
    pub(super) fn token_source(
        &mut self,
        path: &str,
        trace: Option<&RawTraceFile>,
        tokens: Option<&RawTokens>,
        duration: SimDuration,
    ) -> Option<TokenSource> {
        match (trace, tokens) {
            (Some(_), Some(_)) => {
                self.error(
                    &format!("{path}.tokens"),
                    "an llmTrace's rows carry each request's tokens: remove tokens",
                );
                None
            }
            (Some(f), None) => self.llm_trace(&format!("{path}.arrivals.llmTrace"), f, duration),
            (None, Some(t)) => Some(TokenSource::Drawn {
                prompt: self.count(&format!("{path}.tokens.prompt"), t.prompt.as_ref())?,
                output: self.count(&format!("{path}.tokens.output"), t.output.as_ref())?,
            }),
            (None, None) => None,
        }
    }

    fn llm_trace(
        &mut self,
        path: &str,
        f: &RawTraceFile,
        duration: SimDuration,
    ) -> Option<TokenSource> {
        let Some(rel) = f.file.as_deref() else {
            self.error(
                &format!("{path}.file"),
                "required: the trace (Azure LLM CSV or Mooncake JSONL), relative to the scenario",
            );
            return None;
        };
        if f.column.is_some() {
            self.error(
                &format!("{path}.column"),
                "goes with perMinuteCounts: an LLM trace's columns are fixed",
            );
        }
        let scale = f.scale.unwrap_or(1.0);
        if !(scale.is_finite() && (0.0..=MAX_TRACE_SCALE).contains(&scale)) {
            self.error(
                &format!("{path}.scale"),
                format!("must be a number from 0 to {MAX_TRACE_SCALE} (copies of each request)"),
            );
            return None;
        }
        let speedup = f.speedup.unwrap_or(1.0);
        if !(speedup.is_finite() && speedup > 0.0) {
            self.error(&format!("{path}.speedup"), "must be a number > 0");
            return None;
        }
        let (shown, text) = self.read_relative(&format!("{path}.file"), rel, "trace")?;
        let trace = llm_trace::read(&shown, &text, self.diags);
        let rows = trace.rows;
        let mapping = TraceMapping {
            offset: f.offset.map_or(SimDuration::ZERO, |d| d.0),
            speedup,
            scale,
        };
        let requests = llm_trace::to_requests(&rows, mapping, duration);
        if requests.is_empty() && !rows.is_empty() {
            self.warning(
                path,
                "no request of the trace arrives during the run (check offset and speedup)",
            );
        }
        Some(TokenSource::Trace {
            requests: Arc::from(requests),
            hashes: Arc::from(trace.hashes),
        })
    }

    pub(super) fn count(&mut self, path: &str, raw: Option<&RawCount>) -> Option<CountDist> {
        let bad = |v: f64| !(v.is_finite() && v >= 1.0 && v <= f64::from(MAX_TOKENS));
        match raw {
            None => {
                self.error(
                    path,
                    "required: a token count, {uniform: {min, max}} or {logNormal: {mean, cv}}",
                );
                None
            }
            Some(RawCount::Fixed(n)) if bad(f64::from(*n)) => {
                self.error(
                    path,
                    format!("{n} is out of range: 1 to {MAX_TOKENS} tokens"),
                );
                None
            }
            Some(RawCount::Fixed(n)) => Some(CountDist::Constant(*n)),
            Some(RawCount::Family(RawCountFamily::Uniform { min, max })) => {
                if bad(f64::from(*min)) || bad(f64::from(*max)) || min > max {
                    self.error(
                        &format!("{path}.uniform"),
                        format!("needs 1 ≤ min ≤ max ≤ {MAX_TOKENS}"),
                    );
                    return None;
                }
                Some(CountDist::Uniform {
                    min: *min,
                    max: *max,
                })
            }
            Some(RawCount::Family(RawCountFamily::LogNormal { mean, cv })) => {
                if bad(*mean) {
                    self.error(
                        &format!("{path}.logNormal.mean"),
                        format!("must be 1 to {MAX_TOKENS} tokens"),
                    );
                    return None;
                }
                if !(cv.is_finite() && (0.0..=MAX_TOKEN_CV).contains(cv)) {
                    self.error(
                        &format!("{path}.logNormal.cv"),
                        format!("must be from 0 to {MAX_TOKEN_CV}"),
                    );
                    return None;
                }
                Some(CountDist::log_normal(*mean, *cv, MAX_TOKENS))
            }
        }
    }

    /// `spec.traffic[i].goodput`, for traffic with token counts.
    pub(super) fn goodput(
        &mut self,
        path: &str,
        raw: Option<&RawGoodput>,
        has_tokens: bool,
    ) -> Option<Goodput> {
        let raw = raw?;
        let path = format!("{path}.goodput");
        if !has_tokens {
            self.error(
                &path,
                "goodput is measured on LLM requests: this traffic has no tokens",
            );
            return None;
        }
        let limit = |d: Option<crate::scenario::units::Duration>| d.map(|d| d.0);
        let goodput = Goodput {
            ttft: limit(raw.ttft),
            tpot: limit(raw.tpot),
        };
        if goodput.ttft.is_none() && goodput.tpot.is_none() {
            self.error(
                &path,
                "give ttft, tpot or both, e.g. {ttft: 2s, tpot: 100ms}",
            );
            return None;
        }
        Some(goodput)
    }

    /// Whether Deployment `d` is an LLM server (its `llm` block may have had errors).
    pub(super) fn is_llm_server(&self, deployments: &[DeploymentSpec], d: usize) -> bool {
        deployments[d].workload.llm.is_some() || self.invalid_llm.contains(&d)
    }

    /// LLM servers need token counts and only they can use them.
    pub(super) fn check_llm_backends(
        &mut self,
        path: &str,
        service: &ServiceSpec,
        has_tokens: bool,
        deployments: &[DeploymentSpec],
    ) {
        for &b in &service.backends {
            let d = &deployments[b];
            match (self.is_llm_server(deployments, b), has_tokens) {
                (true, false) => self.error(&format!("{path}.arrivals"), format!("Service {:?} is served by Deployment {:?}, an LLM server: give its requests' tokens (arrivals.llmTrace, or tokens beside the arrivals)", service.name, d.name)),
                (false, true) => self.error(&format!("{path}.tokens"), format!("Service {:?} is served by Deployment {:?}, which is not an LLM server (its workload has no llm): token counts would be ignored", service.name, d.name)),
                _ => {}
            }
        }
    }
}

impl Builder<'_> {
    /// Calls from call graphs carry no token counts: calling an LLM Service is refused (not
    /// modelled yet) rather than served as CPU time.
    /// A call to an LLM server's Service gives its requests' tokens; a call to another does
    /// not.
    pub(super) fn check_calls_to_llm(
        &mut self,
        edges: &[CallEdge],
        deployments: &[DeploymentSpec],
        services: &[ServiceSpec],
    ) {
        for e in edges {
            let service = &services[e.to_service];
            let llm = (service.backends.iter()).find(|&&b| self.is_llm_server(deployments, b));
            match (llm, e.tokens) {
                (Some(&b), false) => self.error(
                    &e.path,
                    format!("Service {:?} is served by LLM server {:?}: give the call's tokens ({{prompt, output}}, each a count or a distribution)", service.name, deployments[b].name),
                ),
                (None, true) => self.error(
                    &format!("{}.tokens", e.path.strip_suffix(".call").unwrap_or(&e.path)),
                    format!("Service {:?} is not served by an LLM server (no backend has a workload with llm): tokens would be ignored", service.name),
                ),
                _ => {}
            }
        }
    }
}

fn profile_names() -> String {
    let names: Vec<&str> = profile::shipped().iter().map(|p| p.name.as_str()).collect();
    names.join(", ")
}
