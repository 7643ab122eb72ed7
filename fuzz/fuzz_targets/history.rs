//! `kubesim get`'s reader: a run directory's `history.jsonl` (the input's bytes), replayed to
//! the start, the middle and the end of what it covers, and every kind listed in every format.

#![no_main]

mod support;

use std::sync::OnceLock;

use kubesim::metrics::history::{ClusterAt, line_time};
use kubesim::output::get::{self, Format, Kind, Query, Snapshot};
use libfuzzer_sys::fuzz_target;

fn run_dir() -> &'static std::path::Path {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = support::scratch_folder("history");
        std::fs::write(dir.join("run.json"), "{}").expect("run.json");
        dir
    })
}

const KINDS: [Kind; 7] = [
    Kind::Pods,
    Kind::Nodes,
    Kind::Deployments,
    Kind::Statefulsets,
    Kind::Daemonsets,
    Kind::Hpa,
    Kind::Services,
];

fuzz_target!(|data: &[u8]| {
    let dir = run_dir();
    std::fs::write(dir.join(kubesim::output::HISTORY_FILE), data).expect("history.jsonl");
    let Ok(lines) = get::read_history(dir) else {
        return;
    };
    let end = lines.iter().filter_map(line_time).fold(0.0, f64::max);
    for at in [0.0, end / 2.0, end] {
        let Ok(cluster) = ClusterAt::replay(&lines, at) else {
            continue;
        };
        for kind in KINDS {
            for format in [Format::Table, Format::Wide, Format::Json] {
                let query = Query {
                    kind,
                    format,
                    selector: None,
                    namespace: None,
                };
                let _ = get::render(&Snapshot::new(&cluster, &[]), &query);
            }
        }
    }
});
