//! `kubesim sweep merge`'s reader: one or two `shard.json` files (the input's bytes, split at
//! the first NUL) in scratch shard folders, merged as `sweep merge` merges them (each file
//! checked, the set checked complete, the sweep's plan rebuilt and compared with the shards'
//! fingerprint, every row checked against its columns). A shard names its sweep file relative
//! to where the shards were started: run from the repository's root, where the seeds' sweep of
//! `scenarios/quickstart/scenario.yaml` was started (fuzz/seed.sh).

#![no_main]

mod support;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn scratch() -> &'static std::path::Path {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = support::scratch_folder("shards");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let mut dirs = Vec::new();
    for (i, part) in data.splitn(2, |&b| b == 0).enumerate() {
        let shard = scratch().join(format!("shard-{i}"));
        std::fs::create_dir_all(&shard).expect("a shard folder");
        std::fs::write(shard.join("shard.json"), part).expect("shard.json");
        dirs.push(shard);
    }
    let _ = kubesim::sweep::shard::merge(&dirs);
});
