//! `kubesim sweep merge`'s reader: one or two `shard.json` files (the input's bytes, split at
//! the first NUL) in shard folders beside the shipped sizing sweep, merged as
//! `sweep merge` merges them (each file checked, the set checked complete, the sweep's plan
//! rebuilt and compared with the shards' fingerprint, every row checked against its columns).

#![no_main]

mod support;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn folder() -> &'static std::path::Path {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = support::copy_of_scenario("shards", "sizing-sweep");
        // A shard names its sweep file relative to where the shards were started.
        std::env::set_current_dir(&dir).expect("into the scratch folder");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = folder();
    let mut dirs = Vec::new();
    for (i, part) in data.splitn(2, |&b| b == 0).enumerate() {
        let shard = dir.join(format!("shard-{i}"));
        std::fs::create_dir_all(&shard).expect("a shard folder");
        std::fs::write(shard.join("shard.json"), part).expect("shard.json");
        dirs.push(shard);
    }
    let _ = kubesim::sweep::shard::merge(&dirs);
});
