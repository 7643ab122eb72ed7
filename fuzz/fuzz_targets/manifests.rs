//! The manifest reader and the checks across a manifest set (`kubesim validate FILE` on a file
//! that is not a scenario), on arbitrary text.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use kubesim::scenario::validate_file;
use libfuzzer_sys::fuzz_target;

mod support;

fn folder() -> &'static PathBuf {
    static FOLDER: OnceLock<PathBuf> = OnceLock::new();
    FOLDER.get_or_init(|| support::folder_with_scenario_files("manifests"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = folder().join("fuzzed-manifests.yaml");
    std::fs::write(&path, text).expect("the fuzz folder is writable");
    let _ = validate_file(&path);
});
