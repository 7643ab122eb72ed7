//! Where LLM requests come from: a token-level trace replayed row by row, or arrivals from a
//! rate pattern with token counts drawn for each request from the Service's own stream.

use std::sync::Arc;

use super::prefix::Prefix;
use crate::scenario::llm_trace::TokenRequest;
use crate::scenario::model::TokenSource;
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
    rng: SimRng,
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
            TokenSource::Drawn { prompt, output } => TokenArrivals::Drawn(Box::new(Drawn {
                prompt: prompt.clone(),
                output: output.clone(),
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
                    prefix: (r.hashes_len > 0)
                        .then(|| Prefix::new(Arc::clone(hashes), r.hashes_start, r.hashes_len)),
                }
            }
            TokenArrivals::Drawn(d) => TokenCounts {
                prompt: d.prompt.sample(&mut d.rng),
                output: d.output.sample(&mut d.rng),
                prefix: None,
            },
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
