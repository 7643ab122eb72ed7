//! Where LLM requests come from: a token-level trace replayed row by row, or arrivals from a
//! rate pattern with token counts drawn for each request from the Service's own stream.
//!
//! Drawn prompts may share a system prompt (`sharedPrefix`): request prompts are then hashed
//! per [`SHARED_PREFIX_BLOCK_TOKENS`] tokens (vLLM's block) so that the prefix cache reuses
//! the system prompt's whole blocks. A block inside the system prompt hashes to its group and
//! place; any later block to the prompt itself, so a pooled prompt sent again is found whole.

use std::sync::Arc;

use super::prefix::{PREFIX_BLOCK_TOKENS, Prefix};
use crate::scenario::llm_trace::MAX_TOKENS;
use crate::scenario::llm_trace::TokenRequest;
use crate::scenario::model::{SharedPrefix, TokenSource};
use crate::sim::dist::CountDist;
use crate::sim::{SimRng, SimTime};

pub enum TokenArrivals {
    Trace {
        requests: Arc<[TokenRequest]>,
        hashes: Arc<[u64]>,
        next: usize,
    },
    Drawn(Box<Drawn>),
}

/// Token counts drawn per request.
pub struct Drawn {
    prompt: CountDist,
    output: CountDist,
    shared: Option<SharedPrefix>,
    /// A pool of prompts sent in turn, each drawn the first time it is sent.
    pool: Vec<PooledPrompt>,
    /// The next pooled prompt; the number of prompts drawn so far (their identities).
    next: usize,
    drawn: u64,
    rng: SimRng,
}

/// Tokens per hashed block of a shared-prefix prompt (vLLM's default block).
pub const SHARED_PREFIX_BLOCK_TOKENS: u32 = 16;

#[derive(Clone, Copy)]
struct PooledPrompt {
    prompt: u32,
    output: u32,
    group: u32,
    identity: u64,
}

/// SplitMix64's finaliser: hashes for a block from its owner and place.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The block hashes of a prompt of `prompt` tokens in `group` whose first `shared` tokens are
/// the group's system prompt; `identity` tells prompts apart. Hashes carry the top bit, which
/// no trace's block numbers reach.
fn prompt_hashes(shared: u32, group: u32, identity: u64, prompt: u32) -> impl Iterator<Item = u64> {
    let whole = prompt / SHARED_PREFIX_BLOCK_TOKENS;
    let shared_blocks = shared / SHARED_PREFIX_BLOCK_TOKENS;
    (0..whole).map(move |i| {
        let owner = if i < shared_blocks {
            mix(u64::from(group) << 1)
        } else {
            mix(identity << 1 | 1) ^ mix(u64::from(group))
        };
        mix(owner ^ mix(u64::from(i))) | 1 << 63
    })
}

impl Drawn {
    fn take(&mut self) -> TokenCounts {
        let Some(shared) = self.shared else {
            return TokenCounts {
                prompt: self.prompt.sample(&mut self.rng),
                output: self.output.sample(&mut self.rng),
                prefix: None,
            };
        };
        let p = match shared.prompts_per_group {
            Some(per_group) => self.pooled(shared.groups * per_group),
            None => self.fresh(shared.groups),
        };
        let prompt = shared.tokens.saturating_add(p.prompt).min(MAX_TOKENS);
        let hashes: Arc<[u64]> =
            prompt_hashes(shared.tokens, p.group, p.identity, prompt).collect();
        let len = hashes.len() as u32;
        TokenCounts {
            prompt,
            output: p.output,
            prefix: (len > 0).then(|| Prefix::new(hashes, 0, len, SHARED_PREFIX_BLOCK_TOKENS)),
        }
    }

    /// The next prompt of a pool of `size` (group-major), drawn the first time it is sent.
    fn pooled(&mut self, size: u32) -> PooledPrompt {
        let i = self.next % size as usize;
        self.next += 1;
        if i == self.pool.len() {
            let per_group = size / self.shared.map_or(1, |s| s.groups.max(1));
            let p = PooledPrompt {
                prompt: self.prompt.sample(&mut self.rng),
                output: self.output.sample(&mut self.rng),
                group: i as u32 / per_group.max(1),
                identity: i as u64,
            };
            self.pool.push(p);
        }
        self.pool[i]
    }

    /// A prompt of its own in a group drawn at random.
    fn fresh(&mut self, groups: u32) -> PooledPrompt {
        use rand::RngExt;
        let group = self.rng.random_range(0..groups.max(1));
        self.drawn += 1;
        PooledPrompt {
            prompt: self.prompt.sample(&mut self.rng),
            output: self.output.sample(&mut self.rng),
            group,
            identity: self.drawn,
        }
    }
}

impl TokenArrivals {
    /// `rng` draws the token counts of a `Drawn` source (a trace needs none).
    pub fn new(source: &TokenSource, rng: SimRng) -> Self {
        match source {
            TokenSource::Trace { requests, hashes } => TokenArrivals::Trace {
                requests: Arc::clone(requests),
                hashes: Arc::clone(hashes),
                next: 0,
            },
            TokenSource::Drawn {
                prompt,
                output,
                shared_prefix,
            } => TokenArrivals::Drawn(Box::new(Drawn {
                prompt: prompt.clone(),
                output: output.clone(),
                shared: *shared_prefix,
                pool: Vec::new(),
                next: 0,
                drawn: 0,
                rng,
            })),
        }
    }

    /// A trace's next arrival (`None` for drawn tokens: the rate pattern times those, and for a
    /// trace that has run out).
    pub fn next_trace_arrival(&self) -> Option<SimTime> {
        match self {
            TokenArrivals::Trace { requests, next, .. } => requests.get(*next).map(|r| r.at),
            TokenArrivals::Drawn(_) => None,
        }
    }

    pub fn is_trace(&self) -> bool {
        matches!(self, TokenArrivals::Trace { .. })
    }

    /// The request arriving now: its prompt and output tokens, and its prompt's block hashes
    /// when the trace gives them.
    pub fn take(&mut self) -> TokenCounts {
        match self {
            TokenArrivals::Trace {
                requests,
                hashes,
                next,
            } => {
                let r = requests[*next];
                *next += 1;
                TokenCounts {
                    prompt: r.prompt_tokens,
                    output: r.output_tokens,
                    prefix: (r.hashes_len > 0).then(|| {
                        Prefix::new(
                            Arc::clone(hashes),
                            r.hashes_start,
                            r.hashes_len,
                            PREFIX_BLOCK_TOKENS,
                        )
                    }),
                }
            }
            TokenArrivals::Drawn(d) => d.take(),
        }
    }
}

/// One LLM request's tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenCounts {
    pub prompt: u32,
    pub output: u32,
    pub prefix: Option<Prefix>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::RngStreams;

    fn source(prompts_per_group: Option<u32>) -> TokenArrivals {
        let source = TokenSource::Drawn {
            prompt: CountDist::Uniform { min: 40, max: 60 },
            output: CountDist::Constant(10),
            shared_prefix: Some(SharedPrefix {
                tokens: 100,
                groups: 2,
                prompts_per_group,
            }),
        };
        TokenArrivals::new(&source, RngStreams::new(1).stream("tokens"))
    }

    fn blocks(t: &TokenCounts) -> Vec<u64> {
        t.prefix.as_ref().unwrap().blocks().to_vec()
    }

    #[test]
    fn a_pool_of_prompts_is_sent_in_turn_and_shares_only_its_groups_system_prompt() {
        let mut arrivals = source(Some(2));
        let first: Vec<TokenCounts> = (0..4).map(|_| arrivals.take()).collect();
        let again: Vec<TokenCounts> = (0..4).map(|_| arrivals.take()).collect();
        // A pool of 2 groups × 2 prompts, sent again whole in the same order.
        assert_eq!(first, again);
        for t in &first {
            // 100 shared tokens and 40–60 of the prompt's own, hashed per 16 tokens.
            assert!((140..=160).contains(&t.prompt), "{}", t.prompt);
            assert_eq!(blocks(t).len() as u32, t.prompt / 16);
            assert_eq!(t.prefix.as_ref().unwrap().block_tokens(), 16);
        }
        // Prompts 0 and 1 are group 0's, 2 and 3 group 1's: the first 6 blocks (96 tokens of the
        // 100-token system prompt) are their group's; the 7th already holds the prompt's own.
        assert_eq!(blocks(&first[0])[..6], blocks(&first[1])[..6]);
        assert_ne!(blocks(&first[0])[6], blocks(&first[1])[6]);
        assert_ne!(blocks(&first[0])[0], blocks(&first[2])[0]);
        assert!(
            blocks(&first[0]).iter().all(|h| h >> 63 == 1),
            "apart from trace ids"
        );
    }

    #[test]
    fn without_a_pool_every_request_has_a_prompt_of_its_own() {
        let mut arrivals = source(None);
        let all: Vec<TokenCounts> = (0..50).map(|_| arrivals.take()).collect();
        let tails: std::collections::BTreeSet<u64> = all.iter().map(|t| blocks(t)[6]).collect();
        assert_eq!(tails.len(), 50);
        let heads: std::collections::BTreeSet<u64> = all.iter().map(|t| blocks(t)[0]).collect();
        assert_eq!(heads.len(), 2, "two system prompts");
    }
}
