//! The trace readers — rate series, per-minute counts, the Azure LLM CSV and Mooncake JSONL —
//! and the mapping of what they read onto simulated time. The first byte picks the reader.

#![no_main]

use kubesim::scenario::{llm_trace, trace};
use kubesim::sim::SimDuration;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut diags = Vec::new();
    let mapping = trace::TraceMapping {
        offset: SimDuration::from_secs(u64::from(pick >> 4)),
        speedup: 1.0 + f64::from(pick & 0x0c),
        scale: 0.5 + f64::from(pick & 0x03),
    };
    let duration = SimDuration::from_secs(3600);
    match pick % 4 {
        0 => {
            let points = trace::read_rate_series("fuzz.csv", text, &mut diags);
            let _ = trace::to_pattern(&points, mapping, duration);
        }
        1 | 2 => {
            let column = (pick % 4 == 2).then_some("requests");
            let points = trace::read_per_minute_counts("fuzz.csv", text, column, &mut diags);
            let _ = trace::to_pattern(&points, mapping, duration);
        }
        _ => {
            let read = llm_trace::read("fuzz.jsonl", text, &mut diags);
            let _ = llm_trace::to_requests(&read.rows, mapping, duration);
        }
    }
});
