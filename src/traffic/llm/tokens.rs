//! Where LLM requests come from: a token-level trace replayed row by row, or arrivals from a
//! rate pattern with token counts drawn for each request from the Service's own stream.

use std::sync::Arc;

use crate::scenario::llm_trace::TokenRequest;
use crate::scenario::model::TokenSource;
use crate::sim::dist::CountDist;
use crate::sim::{SimRng, SimTime};

pub enum TokenArrivals {
    Trace {
        requests: Arc<[TokenRequest]>,
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
            TokenSource::Trace(requests) => TokenArrivals::Trace {
                requests: Arc::clone(requests),
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
            TokenArrivals::Trace { requests, next } => requests.get(*next).map(|r| r.at),
            TokenArrivals::Drawn(_) => None,
        }
    }

    pub fn is_trace(&self) -> bool {
        matches!(self, TokenArrivals::Trace { .. })
    }

    /// The prompt and output tokens of the request arriving now.
    pub fn take(&mut self) -> (u32, u32) {
        match self {
            TokenArrivals::Trace { requests, next } => {
                let r = requests[*next];
                *next += 1;
                (r.prompt_tokens, r.output_tokens)
            }
            TokenArrivals::Drawn(d) => (d.prompt.sample(&mut d.rng), d.output.sample(&mut d.rng)),
        }
    }
}
