//! LLM serving in a scenario: `spec.workloads[].llm` (a shipped step-time profile, vLLM's
//! engine arguments, the KV cache's size) and the token counts of the traffic sent to it
//! (`arrivals.llmTrace`, or `tokens` beside any other arrivals).

use std::sync::Arc;

use super::Builder;
use super::calls::CallEdge;
use crate::cluster::resources::GPU;
use crate::scenario::diag::did_you_mean_hint;
use crate::scenario::llm_trace::{self, MAX_TOKENS};
use crate::scenario::manifest::ManifestSet;
use crate::scenario::model::{
    DeploymentSpec, Goodput, LlmServing, PodTemplate, ServiceSpec, SharedPrefix, TokenSource,
};
use crate::scenario::raw::{
    RawCount, RawCountFamily, RawGoodput, RawLlm, RawSharedPrefix, RawTokens, RawTraceFile,
};
use crate::scenario::trace::TraceMapping;
use crate::sim::SimDuration;
use crate::sim::dist::CountDist;
use crate::spec::llm::PREFIX_BLOCK_TOKENS;
use crate::spec::llm::{
    BatchingConfig, DEFAULT_BLOCK_TOKENS, DEFAULT_MAX_BATCHED_TOKENS, DEFAULT_MAX_SEQUENCES,
};
use crate::spec::llm::{catalog, profile};

/// vLLM's default `--gpu-memory-utilization`.
pub const DEFAULT_GPU_MEMORY_UTILIZATION: f64 = 0.9;
/// GPU memory each GPU keeps beside weights and KV cache, for activations and CUDA graphs.
pub const RESERVED_PER_GPU_BYTES: u64 = 2 << 30;
/// Most KV-cache blocks a server may have (2³⁰: far beyond any GPU's memory, and block counts
/// stay clear of 32-bit overflow).
const MAX_KV_BLOCKS: u32 = 1 << 30;
/// Most system prompts, and most prompts in a pool of `sharedPrefix` prompts.
const MAX_PREFIX_GROUPS: u32 = 100_000;
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
        client_timeout: Option<SimDuration>,
    ) -> Option<LlmServing> {
        let gpus = pod.requests.get(GPU);
        let mut benchmark = None;
        let found = match (raw.profile.as_deref(), raw.model.as_deref()) {
            (Some(_), Some(_)) => {
                self.error(&format!("{path}.model"), "profile and model are alternatives: a profile fitted to SplitwiseSim's measurements, or a model costed on a gpu");
                return None;
            }
            (None, None) => {
                self.error(&format!("{path}.model"), format!("required: a model ({}, or a config.json) with a gpu; or a profile fitted to SplitwiseSim's measurements ({})", catalog::model_names().collect::<Vec<_>>().join(", "), profile_names()));
                return None;
            }
            (Some(name), None) => self.measured_profile(path, name)?,
            (None, Some(model)) => {
                let (profile, fit) = self.roofline_profile(path, raw, model, gpus)?;
                benchmark = fit.map(Arc::new);
                Arc::new(profile)
            }
        };
        let field = if raw.profile.is_some() {
            "profile"
        } else {
            "tensorParallel"
        };
        if gpus != i64::from(found.tensor_parallel) {
            self.error(&format!("{path}.{field}"), format!("{} runs on {tp} GPUs (tensor parallelism {tp}), but the pods request {gpus} {GPU}: request {tp}", found.name, tp = found.tensor_parallel));
        }
        let batching = BatchingConfig {
            client_timeout,
            ..self.batching(path, raw, &found)?
        };
        if raw.profile.is_some() && raw.benchmark.is_some() {
            self.error(&format!("{path}.benchmark"), "fits the step-time model of a model on a gpu: give model and gpu instead of profile");
        }
        Some(LlmServing {
            profile: found,
            batching,
            benchmark,
        })
    }

    /// A shipped profile fitted to SplitwiseSim's measurements.
    fn measured_profile(&mut self, path: &str, name: &str) -> Option<Arc<profile::LlmProfile>> {
        let found = profile::find(name);
        if found.is_none() {
            let hint = did_you_mean_hint(name, profile::shipped().iter().map(|p| p.name.as_str()));
            self.error(
                &format!("{path}.profile"),
                format!(
                    "no profile {name:?}{hint}: kubesim ships {}",
                    profile_names()
                ),
            );
        }
        found
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
            async_scheduling: raw.async_scheduling.unwrap_or(true),
            client_timeout: None,
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
                "nothing is left for the KV cache: {} GPU{} × {:.0} GiB × {utilization} hold {:.0} GiB, the weights take {:.0} GiB and each GPU keeps {:.0} GiB for activations",
                found.tensor_parallel, if found.tensor_parallel == 1 { "" } else { "s" }, gib(found.gpu_memory_bytes), gib(found.gpu_memory_bytes) * f64::from(found.tensor_parallel) * utilization, gib(found.weights_bytes), gib(RESERVED_PER_GPU_BYTES)));
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
                shared_prefix: match &t.shared_prefix {
                    None => None,
                    Some(raw) => {
                        Some(self.shared_prefix(&format!("{path}.tokens.sharedPrefix"), raw)?)
                    }
                },
            }),
            (None, None) => None,
        }
    }

    /// `tokens.sharedPrefix`: the system prompt's length, its groups, the pool per group.
    fn shared_prefix(&mut self, path: &str, raw: &RawSharedPrefix) -> Option<SharedPrefix> {
        let mut field = |name: &str, value: Option<u32>, max: u32| -> Option<u32> {
            match value {
                Some(v) if (1..=max).contains(&v) => Some(v),
                Some(v) => {
                    self.error(
                        &format!("{path}.{name}"),
                        format!("{v} is out of range: 1 to {max}"),
                    );
                    None
                }
                None => Some(0),
            }
        };
        let tokens = field("tokens", raw.tokens, MAX_TOKENS)?;
        let groups = field("groups", raw.groups, MAX_PREFIX_GROUPS)?.max(1);
        let per_group = field("promptsPerGroup", raw.prompts_per_group, MAX_PREFIX_GROUPS)?;
        if tokens == 0 {
            self.error(
                &format!("{path}.tokens"),
                "required: the shared system prompt's length in tokens",
            );
            return None;
        }
        if u64::from(groups) * u64::from(per_group) > u64::from(MAX_PREFIX_GROUPS) {
            self.error(
                &format!("{path}.promptsPerGroup"),
                format!(
                    "{groups} groups × {per_group} prompts is more than {MAX_PREFIX_GROUPS} prompts"
                ),
            );
            return None;
        }
        Some(SharedPrefix {
            tokens,
            groups,
            prompts_per_group: (per_group > 0).then_some(per_group),
        })
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
        self.count_within(path, raw, MAX_TOKENS, "tokens")
    }

    /// A count of `what` from 1 to `max`: a whole number, `{uniform: {min, max}}` or
    /// `{logNormal: {mean, cv}}`.
    pub(super) fn count_within(
        &mut self,
        path: &str,
        raw: Option<&RawCount>,
        max: u32,
        what: &str,
    ) -> Option<CountDist> {
        let bad = |v: f64| !(v.is_finite() && v >= 1.0 && v <= f64::from(max));
        match raw {
            None => {
                self.error(
                    path,
                    format!("required: a count of {what}, {{uniform: {{min, max}}}} or {{logNormal: {{mean, cv}}}}"),
                );
                None
            }
            Some(RawCount::Fixed(n)) if bad(f64::from(*n)) => {
                self.error(path, format!("{n} is out of range: 1 to {max} {what}"));
                None
            }
            Some(RawCount::Fixed(n)) => Some(CountDist::Constant(*n)),
            Some(RawCount::Family(RawCountFamily::Uniform {
                min: low,
                max: high,
            })) => {
                if bad(f64::from(*low)) || bad(f64::from(*high)) || low > high {
                    self.error(
                        &format!("{path}.uniform"),
                        format!("needs 1 ≤ min ≤ max ≤ {max}"),
                    );
                    return None;
                }
                Some(CountDist::Uniform {
                    min: *low,
                    max: *high,
                })
            }
            Some(RawCount::Family(RawCountFamily::LogNormal { mean, cv })) => {
                if bad(*mean) {
                    self.error(
                        &format!("{path}.logNormal.mean"),
                        format!("must be 1 to {max} {what}"),
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
                Some(CountDist::log_normal(*mean, *cv, max))
            }
        }
    }

    /// `spec.traffic[i].goodput`, for a Service an LLM server serves.
    pub(super) fn goodput(
        &mut self,
        path: &str,
        raw: Option<&RawGoodput>,
        llm_served: bool,
    ) -> Option<Goodput> {
        let raw = raw?;
        let path = format!("{path}.goodput");
        if !llm_served {
            self.error(
                &path,
                "goodput is measured on the requests an LLM server serves, and none serves this Service: give it on the LLM server's Service (an entry without arrivals will do for one reached by calls)",
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

    /// Why requests to Deployment `d` must carry token counts, if they must.
    fn token_need(&self, deployments: &[DeploymentSpec], d: usize) -> Option<TokenNeed> {
        if self.is_llm_server(deployments, d) {
            Some(TokenNeed::LlmServer)
        } else if deployments[d].workload.calls.forwards_tokens() {
            Some(TokenNeed::PassesOn)
        } else {
            None
        }
    }

    /// Traffic to LLM servers, and to workloads that pass the request's tokens on, gives
    /// token counts; traffic to any other does not.
    pub(super) fn check_token_backends(
        &mut self,
        path: &str,
        service: &ServiceSpec,
        has_tokens: bool,
        deployments: &[DeploymentSpec],
    ) {
        for &b in &service.backends {
            let d = &deployments[b];
            let lead = format!(
                "Service {:?} is served by Deployment {:?}",
                service.name, d.name
            );
            let give =
                "give its requests' tokens (arrivals.llmTrace, or tokens beside the arrivals)";
            match (self.token_need(deployments, b), has_tokens) {
                (Some(TokenNeed::LlmServer), false) => self.error(&format!("{path}.arrivals"), format!("{lead}, an LLM server: {give}")),
                (Some(TokenNeed::PassesOn), false) => self.error(&format!("{path}.arrivals"), format!("{lead}, whose calls pass on the request's tokens (tokens: request): {give}")),
                (None, true) => self.error(&format!("{path}.tokens"), format!("{lead}, which is not an LLM server (its workload has no llm) and passes no tokens on (no call with tokens: request): token counts would be ignored")),
                _ => {}
            }
        }
    }
}

/// Why a workload's requests must carry token counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TokenNeed {
    /// It serves them on an LLM server.
    LlmServer,
    /// A call of its call graph sends them on (`tokens: request`).
    PassesOn,
}

impl Builder<'_> {
    /// A call to an LLM server's Service, or to a workload that passes tokens on, gives its
    /// requests' tokens; a call to another does not.
    pub(super) fn check_call_tokens(
        &mut self,
        edges: &[CallEdge],
        deployments: &[DeploymentSpec],
        services: &[ServiceSpec],
    ) {
        let how = "{prompt, output}, each a count or a distribution, or `request` for the calling request's own";
        for e in edges {
            let tokens_path = format!("{}.tokens", e.path.strip_suffix(".call").unwrap_or(&e.path));
            if self.reported.contains(&tokens_path) {
                continue; // the call's tokens were wrongly written: said already
            }
            let service = &services[e.to_service];
            let need = (service.backends.iter())
                .find_map(|&b| Some((b, self.token_need(deployments, b)?)));
            let lead = |b: usize| {
                format!(
                    "Service {:?} is served by Deployment {:?}",
                    service.name, deployments[b].name
                )
            };
            match (need, e.tokens) {
                (Some((b, TokenNeed::LlmServer)), false) => self.error(
                    &e.path,
                    format!("{}, an LLM server: give the call's tokens ({how})", lead(b)),
                ),
                (Some((b, TokenNeed::PassesOn)), false) => self.error(
                    &e.path,
                    format!("{}, whose calls pass on the request's tokens: give the call's tokens ({how})", lead(b)),
                ),
                (None, true) => self.error(
                    &tokens_path,
                    format!("Service {:?} is not served by an LLM server (no backend has a workload with llm) nor by a workload that passes tokens on: tokens would be ignored", service.name),
                ),
                _ => {}
            }
        }
    }

    /// A Service selects LLM servers only, or none: one request cannot be both tokens for a
    /// model and CPU work.
    pub(super) fn check_mixed_llm_backends(
        &mut self,
        services: &[ServiceSpec],
        deployments: &[DeploymentSpec],
        set: &ManifestSet,
    ) {
        for (i, service) in services.iter().enumerate() {
            let (llm, other): (Vec<usize>, Vec<usize>) =
                (service.backends.iter()).partition(|&&b| self.is_llm_server(deployments, b));
            if let (Some(&a), Some(&b)) = (llm.first(), other.first()) {
                let m = &set.services[i];
                self.diags.push(m.source.error("spec.selector", format!("Service {:?} selects the pods of LLM server {:?} and of Deployment {:?}, which is not one: a request cannot be served by both; select one kind", service.name, deployments[a].name, deployments[b].name)));
            }
        }
    }
}

fn profile_names() -> String {
    let names: Vec<&str> = profile::shipped().iter().map(|p| p.name.as_str()).collect();
    names.join(", ")
}
