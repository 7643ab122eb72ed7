//! One LLM inference server (a pod): iteration-level (continuous) batching over a paged KV
//! cache, as vLLM's scheduler does it.
//!
//! Each step is one forward pass. At its start the server picks what the step computes, with
//! a budget of `max_batched_tokens` tokens and at most `max_sequences` running sequences:
//!
//! 1. the running sequences, oldest first, each with all the tokens it has not computed yet up
//!    to what the budget has left — one for a sequence that is decoding, the rest of its prompt
//!    (a chunk, if the budget is short) for one still in prefill. A sequence needs KV blocks
//!    for every token it has computed or computes now; when none are free, the newest running
//!    sequence is preempted (recompute: its blocks are freed and it goes back to the front of
//!    the queue, to prefill its prompt and what it had generated again), until the blocks fit
//!    or the sequence itself was the newest;
//! 2. then, if nothing was preempted, waiting sequences in arrival order, each with as much of
//!    its prompt as the budget allows (chunked prefill), while their blocks fit.
//!
//! The step's time comes from the profile ([`super::profile::LlmProfile::step_time`]). At its
//! end every sequence that has computed all its tokens samples its next one: the first output
//! token ends the time to first token; the last frees the sequence's blocks and answers the
//! request. Generation stops at the request's output tokens or at `max_model_len` tokens of
//! context, whichever comes first (vLLM's finish reason `length`). A request whose prompt fills
//! the context limit, or that could never fit in the cache, is refused on arrival.

use std::collections::VecDeque;
use std::sync::Arc;

use super::prefix::{Prefix, PrefixCache};
use super::profile::{LlmProfile, StepShape};
use crate::sim::{SimDuration, SimTime};
use crate::traffic::calls::CallRef;

pub use crate::spec::llm::BatchingConfig;

/// A request as the server sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LlmRequest {
    /// The engine's handle for the request (returned in its outcomes).
    pub id: u32,
    pub arrival: SimTime,
    pub prompt_tokens: u32,
    /// Tokens to generate (at least one is).
    pub output_tokens: u32,
    /// Its prompt's block hashes, when its trace gives them (for prefix caching).
    pub prefix: Option<Prefix>,
    /// The call it answers ([`CallRef::NONE`]: it came from outside).
    pub caller: CallRef,
}

/// What the server reports about a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LlmOutcome {
    /// All output tokens generated.
    Finished {
        id: u32,
        caller: CallRef,
        time_to_first_token: SimDuration,
        latency: SimDuration,
        prompt_tokens: u32,
        output_tokens: u32,
        /// Prompt tokens taken from the prefix cache (not computed).
        cached_tokens: u32,
    },
    /// It can never fit in this server's KV cache.
    TooLong { id: u32, caller: CallRef },
    /// The server was stopped with the request in it.
    Dropped { id: u32, caller: CallRef },
    /// Its client gave up (`BatchingConfig::client_timeout`): the server aborted it.
    TimedOut { id: u32, caller: CallRef },
    /// The request was preempted (it will prefill again); it is still in the server.
    Preempted { id: u32 },
}

impl LlmOutcome {
    /// The request's id.
    pub fn id(&self) -> u32 {
        match *self {
            LlmOutcome::Finished { id, .. }
            | LlmOutcome::TooLong { id, .. }
            | LlmOutcome::Dropped { id, .. }
            | LlmOutcome::TimedOut { id, .. }
            | LlmOutcome::Preempted { id } => id,
        }
    }

    /// The call the request answers ([`CallRef::NONE`] for one from outside, and for a
    /// preemption, which ends nothing).
    pub fn caller(&self) -> CallRef {
        match *self {
            LlmOutcome::Finished { caller, .. }
            | LlmOutcome::TooLong { caller, .. }
            | LlmOutcome::Dropped { caller, .. }
            | LlmOutcome::TimedOut { caller, .. } => caller,
            LlmOutcome::Preempted { .. } => CallRef::NONE,
        }
    }

    /// Time per output token after the first: `(latency − TTFT) / (tokens − 1)`; `None` for a
    /// single token.
    pub fn time_per_output_token(&self) -> Option<SimDuration> {
        match *self {
            LlmOutcome::Finished {
                time_to_first_token,
                latency,
                output_tokens,
                ..
            } if output_tokens > 1 => Some(SimDuration::from_micros(
                latency
                    .as_micros()
                    .saturating_sub(time_to_first_token.as_micros())
                    / u64::from(output_tokens - 1),
            )),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
struct Sequence {
    request: LlmRequest,
    /// Tokens whose KV is computed.
    computed: u32,
    /// Output tokens sampled so far.
    generated: u32,
    /// KV blocks of its own (not counting the cached prefix blocks it uses).
    blocks: u32,
    /// Tokens this step computes for it.
    scheduled: u32,
    first_token_at: Option<SimTime>,
    /// Cached prefix blocks it uses (pinned while it runs), and their KV blocks.
    pins: Vec<u64>,
    pinned_kv: u32,
    /// Prompt blocks it has offered to the cache so far.
    offered: u32,
    /// Prompt tokens it took from the cache when admitted (the first time).
    cached_tokens: Option<u32>,
    /// The first step it may join (async scheduling: not the one already planned when it
    /// arrived).
    eligible_step: u64,
}

impl Sequence {
    fn new(request: LlmRequest) -> Sequence {
        Sequence {
            request,
            computed: 0,
            generated: 0,
            blocks: 0,
            scheduled: 0,
            first_token_at: None,
            pins: Vec::new(),
            pinned_kv: 0,
            offered: 0,
            cached_tokens: None,
            eligible_step: 0,
        }
    }

    /// Its prompt's block hashes (empty without them).
    fn prefix_blocks(&self) -> &[u64] {
        self.request.prefix.as_ref().map_or(&[], Prefix::blocks)
    }

    /// Prompt and output so far: what the KV cache must hold before the next token.
    fn tokens(&self) -> u32 {
        self.request.prompt_tokens + self.generated
    }

    fn output_target(&self) -> u32 {
        self.request.output_tokens.max(1)
    }
}

/// Counters an inference server exports (prompt tokens count once a request's first token is
/// out, as vLLM counts them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LlmCounters {
    pub steps: u64,
    /// Requests that generated all their tokens.
    pub finished: u64,
    pub prompt_tokens: u64,
    pub output_tokens: u64,
    pub preemptions: u64,
    /// Prompt tokens looked up in the prefix cache, and those found (vLLM's
    /// `prefix_cache_queries` and `prefix_cache_hits`).
    pub prefix_queried_tokens: u64,
    pub prefix_hit_tokens: u64,
}

pub struct LlmServer {
    profile: Arc<LlmProfile>,
    config: BatchingConfig,
    waiting: VecDeque<Sequence>,
    running: Vec<Sequence>,
    /// KV blocks in use: the sequences' own and the cached blocks they use.
    used_blocks: u32,
    /// Cached prefix blocks (with `config.prefix_caching`); its evictable blocks are free for
    /// any allocation that needs them.
    prefix: Option<PrefixCache>,
    /// When the step in progress ends (`None`: idle).
    step_end: Option<SimTime>,
    generation: u32,
    counters: LlmCounters,
    /// The earliest a request's client gives up (`None`: no timeout, or no request).
    next_deadline: Option<SimTime>,
}

impl LlmServer {
    pub fn new(profile: Arc<LlmProfile>, config: BatchingConfig) -> Self {
        LlmServer {
            profile,
            config,
            waiting: VecDeque::new(),
            running: Vec::new(),
            used_blocks: 0,
            prefix: config
                .prefix_caching
                .then(|| PrefixCache::new(config.block_tokens)),
            step_end: None,
            generation: 0,
            counters: LlmCounters::default(),
            next_deadline: None,
        }
    }

    /// Queues a request. Returns the end `(time, generation)` of a step to schedule when the
    /// server was idle and starts one now.
    pub fn arrive(
        &mut self,
        now: SimTime,
        request: LlmRequest,
        out: &mut Vec<LlmOutcome>,
    ) -> Option<(SimTime, u32)> {
        let max_len = self.config.max_model_len;
        if request.prompt_tokens >= max_len {
            out.push(LlmOutcome::TooLong {
                id: request.id,
                caller: request.caller,
            });
            return None;
        }
        let request = LlmRequest {
            output_tokens: request
                .output_tokens
                .clamp(1, max_len - request.prompt_tokens),
            ..request
        };
        let need = request.prompt_tokens + request.output_tokens;
        if self.blocks_for(need) > self.config.kv_blocks {
            out.push(LlmOutcome::TooLong {
                id: request.id,
                caller: request.caller,
            });
            return None;
        }
        if let Some(timeout) = self.config.client_timeout {
            let deadline = request.arrival + timeout;
            self.next_deadline = Some(self.next_deadline.map_or(deadline, |d| d.min(deadline)));
        }
        let mut s = Sequence::new(request);
        if self.step_end.is_some() {
            // The step after the one running was planned when it began.
            if self.config.async_scheduling {
                s.eligible_step = self.counters.steps + 2;
            }
            self.waiting.push_back(s);
            return None;
        }
        self.waiting.push_back(s);
        self.begin_step(now, out)
    }

    /// Handles the end of a step (stale generations are ignored) and begins the next one.
    pub fn step_done(
        &mut self,
        now: SimTime,
        generation: u32,
        out: &mut Vec<LlmOutcome>,
    ) -> Option<(SimTime, u32)> {
        if generation != self.generation || self.step_end != Some(now) {
            return None;
        }
        self.step_end = None;
        self.apply_step(now, out);
        self.begin_step(now, out)
    }

    /// Drops every request (the pod is gone) and forgets the step in progress.
    pub fn drop_all(&mut self, out: &mut Vec<LlmOutcome>) {
        for s in self.running.drain(..).chain(self.waiting.drain(..)) {
            out.push(LlmOutcome::Dropped {
                id: s.request.id,
                caller: s.request.caller,
            });
        }
        self.used_blocks = 0;
        if let Some(cache) = self.prefix.as_mut() {
            cache.clear();
        }
        self.step_end = None;
        self.generation = self.generation.wrapping_add(1);
    }

    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    pub fn running(&self) -> usize {
        self.running.len()
    }

    pub fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.running.is_empty()
    }

    /// Fraction of the KV cache's blocks in use.
    pub fn kv_usage(&self) -> f64 {
        f64::from(self.used_blocks) / f64::from(self.config.kv_blocks.max(1))
    }

    pub fn counters(&self) -> LlmCounters {
        self.counters
    }

    /// KV-cache blocks in use, in thousandths of the cache (rounded up: any use shows).
    pub fn kv_usage_milli(&self) -> u64 {
        (u64::from(self.used_blocks) * 1000).div_ceil(u64::from(self.config.kv_blocks.max(1)))
    }

    fn blocks_for(&self, tokens: u32) -> u32 {
        tokens.div_ceil(self.config.block_tokens.max(1))
    }

    /// Picks what the next step computes and returns its end, or `None` when there is nothing
    /// to compute (the server goes idle until a request arrives).
    fn begin_step(&mut self, now: SimTime, out: &mut Vec<LlmOutcome>) -> Option<(SimTime, u32)> {
        if self.next_deadline.is_some_and(|d| d <= now) {
            self.abort_expired(now, out);
        }
        let mut budget = self.config.max_batched_tokens;
        let preempted = self.schedule_running(&mut budget, out);
        if !preempted {
            self.admit_waiting(&mut budget);
        }
        let shape = self.step_shape();
        if shape == StepShape::default() {
            return None;
        }
        let end = now + self.profile.step_time(shape);
        self.step_end = Some(end);
        self.counters.steps += 1;
        Some((end, self.generation))
    }

    /// Aborts every request whose client has given up by `now` (vLLM aborts a request whose
    /// connection closed): its blocks are freed, and the earliest deadline left is kept.
    fn abort_expired(&mut self, now: SimTime, out: &mut Vec<LlmOutcome>) {
        let Some(timeout) = self.config.client_timeout else {
            return;
        };
        let expired = |s: &Sequence| s.request.arrival + timeout <= now;
        let mut i = 0;
        while i < self.running.len() {
            if expired(&self.running[i]) {
                let mut s = self.running.remove(i);
                self.release(&mut s);
                out.push(LlmOutcome::TimedOut {
                    id: s.request.id,
                    caller: s.request.caller,
                });
            } else {
                i += 1;
            }
        }
        let (gone, kept): (Vec<Sequence>, Vec<Sequence>) =
            self.waiting.drain(..).partition(|s| expired(s));
        self.waiting = kept.into();
        out.extend(gone.into_iter().map(|s| LlmOutcome::TimedOut {
            id: s.request.id,
            caller: s.request.caller,
        }));
        self.next_deadline = (self.running.iter().chain(self.waiting.iter()))
            .map(|s| s.request.arrival + timeout)
            .min();
    }

    /// Step 1 of the module doc. Returns whether anything was preempted.
    fn schedule_running(&mut self, budget: &mut u32, out: &mut Vec<LlmOutcome>) -> bool {
        let mut preempted = false;
        let mut i = 0;
        while i < self.running.len() {
            let want = (self.running[i].tokens() - self.running[i].computed).min(*budget);
            self.running[i].scheduled = 0;
            if want == 0 {
                i += 1;
                continue;
            }
            let need = self.blocks_for(self.running[i].computed + want);
            let mut fits = self.grow(i, need);
            while !fits {
                preempted = true;
                let victim = self.running.len() - 1;
                out.push(self.preempt_last());
                if victim == i {
                    break;
                }
                fits = self.grow(i, need);
            }
            if !fits {
                break; // the sequence itself was preempted
            }
            self.running[i].scheduled = want;
            *budget -= want;
            i += 1;
        }
        preempted
    }

    /// Step 2 of the module doc: admits waiting sequences while budget, seats and blocks last.
    /// A sequence first takes what the prefix cache holds of its prompt.
    fn admit_waiting(&mut self, budget: &mut u32) {
        while *budget > 0 && self.running.len() < self.config.max_sequences as usize {
            let Some(mut s) = self.waiting.pop_front() else {
                break;
            };
            // Under async scheduling a request waits for a step planned after it arrived,
            // unless nothing else would run (the planned step was empty: there was none).
            if s.eligible_step > self.counters.steps + 1 && !self.running.is_empty() {
                self.waiting.push_front(s);
                break;
            }
            self.take_cached_prefix(&mut s);
            let want = (s.tokens() - s.computed).min(*budget);
            let need = self.blocks_for(s.computed + want) - s.pinned_kv;
            if !self.reserve(need) {
                self.release(&mut s);
                self.waiting.push_front(s);
                break;
            }
            s.blocks = need;
            s.scheduled = want;
            *budget -= want;
            self.running.push(s);
        }
    }

    /// Takes for a sequence about to start (nothing computed) the cached blocks its prompt
    /// starts with — whole blocks, and never the prompt's last token, which it computes to
    /// sample from.
    fn take_cached_prefix(&mut self, s: &mut Sequence) {
        let Some(cache) = self.prefix.as_mut() else {
            return;
        };
        if s.computed > 0 || s.request.prefix.is_none() {
            return;
        }
        let Some(prefix) = s.request.prefix.as_ref() else {
            return;
        };
        let hash_tokens = prefix.block_tokens();
        let usable = (s.tokens() - 1).min(s.request.prompt_tokens) / hash_tokens;
        let matched = cache.matched(prefix.blocks()).min(usable);
        let hit = &prefix.blocks()[..matched as usize];
        self.used_blocks += cache.pin(hit);
        s.pins = hit.to_vec();
        s.pinned_kv = matched * cache.kv_per_block(hash_tokens);
        s.computed = matched * hash_tokens;
        s.offered = matched;
        if s.cached_tokens.is_none() {
            s.cached_tokens = Some(s.computed);
            self.counters.prefix_queried_tokens += u64::from(s.request.prompt_tokens);
            self.counters.prefix_hit_tokens += u64::from(s.computed);
        }
    }

    /// Puts `extra` free KV blocks in use, evicting cached blocks no sequence uses (least
    /// recently used first) as needed; false when even that would not make room.
    fn reserve(&mut self, extra: u32) -> bool {
        let total = self.config.kv_blocks;
        if self.used_blocks + extra > total {
            return false;
        }
        if let Some(cache) = self.prefix.as_mut() {
            while self.used_blocks + extra + cache.evictable_kv_blocks() > total {
                cache.evict_one();
            }
        }
        self.used_blocks += extra;
        self.debug_check_blocks();
        true
    }

    /// Blocks in use and cached blocks no one uses never exceed the cache.
    fn debug_check_blocks(&self) {
        let evictable = self
            .prefix
            .as_ref()
            .map_or(0, PrefixCache::evictable_kv_blocks);
        debug_assert!(self.used_blocks + evictable <= self.config.kv_blocks);
    }

    /// A sequence gives up its blocks (it finished, or is preempted or not admitted after
    /// all): its own are freed, the cached ones it used are left to the cache.
    fn release(&mut self, s: &mut Sequence) {
        self.used_blocks -= s.blocks + s.pinned_kv;
        if let Some(cache) = self.prefix.as_mut() {
            // Blocks other sequences still use stay in use; the rest become evictable.
            let evictable = cache.release(&s.pins);
            self.used_blocks += s.pinned_kv - evictable;
        }
        s.blocks = 0;
        s.pins.clear();
        s.pinned_kv = 0;
        self.debug_check_blocks();
    }

    /// Offers the cache the prompt blocks a sequence has computed whole since the last time;
    /// each one the cache did not hold moves from the sequence's own blocks to the cache.
    fn offer_computed_blocks(&mut self, i: usize) {
        let Some(cache) = self.prefix.as_mut() else {
            return;
        };
        let s = &mut self.running[i];
        let Some(prefix) = s.request.prefix.as_ref() else {
            return;
        };
        // A decoding sequence has offered all its blocks long ago: nothing to divide.
        let hashes = prefix.blocks().len() as u32;
        if s.offered >= hashes {
            return;
        }
        let hash_tokens = prefix.block_tokens();
        let kv = cache.kv_per_block(hash_tokens);
        let whole = (s.computed.min(s.request.prompt_tokens) / hash_tokens).min(hashes);
        for j in s.offered..whole {
            let hash = s.prefix_blocks()[j as usize];
            if cache.insert(hash, kv) {
                s.pins.push(hash);
                s.pinned_kv += kv;
                s.blocks -= kv;
            }
        }
        s.offered = s.offered.max(whole);
    }

    /// How many of `prefix`'s blocks, from the first, this server holds (what a prefix-aware
    /// router asks).
    pub fn prefix_matched(&self, prefix: &Prefix) -> u32 {
        self.prefix
            .as_ref()
            .map_or(0, |c| c.matched(prefix.blocks()))
    }

    /// Gives running sequence `i` `need` blocks in all if they are free.
    fn grow(&mut self, i: usize, need: u32) -> bool {
        let s = &self.running[i];
        let extra = need.saturating_sub(s.blocks + s.pinned_kv);
        if !self.reserve(extra) {
            return false;
        }
        self.running[i].blocks += extra;
        true
    }

    /// Recompute preemption of the newest running sequence.
    fn preempt_last(&mut self) -> LlmOutcome {
        let mut s = self.running.pop().expect("a running sequence to preempt");
        self.release(&mut s);
        s.computed = 0;
        s.scheduled = 0;
        s.offered = 0;
        let id = s.request.id;
        self.waiting.push_front(s);
        self.counters.preemptions += 1;
        LlmOutcome::Preempted { id }
    }

    fn step_shape(&self) -> StepShape {
        let mut shape = StepShape::default();
        for s in self.running.iter().filter(|s| s.scheduled > 0) {
            if s.generated > 0 && s.scheduled == 1 && s.computed + 1 == s.tokens() {
                shape.decode_sequences += 1;
                shape.decode_context_tokens += u64::from(s.tokens());
            } else {
                shape.add_prefill(u64::from(s.computed), u64::from(s.scheduled));
            }
        }
        shape
    }

    /// The step's tokens are computed: sequences that caught up sample a token; finished ones
    /// leave and free their blocks.
    fn apply_step(&mut self, now: SimTime, out: &mut Vec<LlmOutcome>) {
        let mut i = 0;
        while i < self.running.len() {
            let s = &mut self.running[i];
            s.computed += s.scheduled;
            s.scheduled = 0;
            self.offer_computed_blocks(i);
            let s = &mut self.running[i];
            if s.computed == s.tokens() {
                if s.generated == 0 {
                    self.counters.prompt_tokens += u64::from(s.request.prompt_tokens);
                }
                s.generated += 1;
                self.counters.output_tokens += 1;
                s.first_token_at.get_or_insert(now);
            }
            if s.generated < s.output_target() {
                i += 1;
                continue;
            }
            let mut s = self.running.remove(i);
            self.release(&mut s);
            self.counters.finished += 1;
            out.push(finished(now, &s));
        }
    }
}

fn finished(now: SimTime, s: &Sequence) -> LlmOutcome {
    let r = &s.request;
    LlmOutcome::Finished {
        id: r.id,
        caller: r.caller,
        time_to_first_token: s.first_token_at.unwrap_or(now).saturating_since(r.arrival),
        latency: now.saturating_since(r.arrival),
        prompt_tokens: r.prompt_tokens,
        output_tokens: s.generated,
        cached_tokens: s.cached_tokens.unwrap_or(0),
    }
}

#[cfg(test)]
mod tests;
