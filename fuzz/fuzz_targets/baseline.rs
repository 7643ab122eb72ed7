//! `check --baseline`'s reader: a baseline report's text as `kubesim check` reads it (JSON,
//! the report schema, the shape of every field it compares), then compared with itself and
//! with a shipped run's report under the default tolerances.

#![no_main]

use kubesim::metrics::baseline::{self, Tolerances};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(report) = baseline::parse_report(text) else {
        return;
    };
    let tolerances = Tolerances::default();
    let _ = baseline::compare(&report, &report, &tolerances);
    let other = serde_json::json!({
        "schema": kubesim::metrics::report::SCHEMA,
        "services": [{"name": "web", "requests": 10,
                      "latency_ms": {"p50": 1.0, "p90": 2.0, "p95": 3.0, "p99": 4.0},
                      "availability": 1.0}],
        "totals": {"availability": 1.0, "cost_usd": 0.5}
    });
    for change in baseline::compare(&report, &other, &tolerances) {
        let _ = change.delta();
    }
    for change in baseline::compare(&other, &report, &tolerances) {
        let _ = change.delta();
    }
});
