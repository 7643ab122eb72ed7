//! The Kubernetes quantity parser and what is computed from a parsed quantity.

#![no_main]

use kubesim::cluster::quantity::Quantity;
use kubesim::scenario::resource_amount;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(q) = Quantity::parse(text) {
        let _ = (q.nanos(), q.value(), q.milli_value(), q.as_f64());
        let _ = (q.is_integer(), q.is_negative(), q.as_str());
    }
    for resource in [
        "cpu",
        "memory",
        "nvidia.com/gpu",
        "ephemeral-storage",
        "pods",
    ] {
        let _ = resource_amount(resource, text, |_| {});
    }
});
