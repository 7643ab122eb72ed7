//! The sweep file reader and the plan built from it: the input's bytes as a `kind: Sweep` file
//! beside the shipped sizing sweep's scenario, loaded (`load_sweep`) and, when it loads,
//! planned (every variant's overrides, columns, constraints, objective).

#![no_main]

mod support;

use std::sync::OnceLock;

use kubesim::scenario::sweep::{SweepFlags, load_sweep};
use libfuzzer_sys::fuzz_target;

fn folder() -> &'static std::path::Path {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| support::copy_of_scenario("sweeps", "sizing-sweep"))
}

fuzz_target!(|data: &[u8]| {
    let path = folder().join("fuzz-sweep.yaml");
    std::fs::write(&path, data).expect("the sweep file");
    let Ok(spec) = load_sweep(&path, &SweepFlags::default()) else {
        return;
    };
    if spec.variant_count() > 10_000 {
        return; // a plan loads the scenario once per variant: fine, but slow for a fuzzer
    }
    let _ = kubesim::sweep::plan(spec);
});
