//! The scenario loader on arbitrary text, in a folder holding every file the shipped scenarios
//! refer to (so a mutated shipped scenario finds its manifests and traces). A scenario that
//! loads is then run for at most one simulated minute: whatever validates must run.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use kubesim::scenario::{LoadOptions, load_scenario};
use kubesim::sim::SimDuration;
use libfuzzer_sys::fuzz_target;

mod support;

fn folder() -> &'static PathBuf {
    static FOLDER: OnceLock<PathBuf> = OnceLock::new();
    FOLDER.get_or_init(|| support::folder_with_scenario_files("scenario"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = folder().join("scenario.yaml");
    std::fs::write(&path, text).expect("the fuzz folder is writable");
    if let Ok(mut scenario) = load_scenario(&path, &LoadOptions::default()) {
        scenario.duration = scenario.duration.min(SimDuration::from_secs(60));
        let _ = kubesim::engine::run(&scenario, &mut |_| {});
    }
});
