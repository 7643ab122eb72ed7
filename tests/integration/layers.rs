//! The library's layers point one way (README, *Codemap*): a module may import only modules of
//! a lower rank. The imports that still point back — the simulated cluster is built from the
//! scenario's workload specs (`scenario::model`), which have yet to move down into `spec` — are
//! listed with how many there are: the test fails on any new backward import, and on more of
//! a listed one, so the list can only shrink.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::root;

/// Top-level modules of the library, lowest first.
const RANKS: [(&str, u32); 11] = [
    ("sim", 0),
    ("spec", 1),
    ("cluster", 2),
    ("scenario", 3),
    ("controllers", 4),
    ("traffic", 4),
    ("metrics", 5),
    ("engine", 6),
    ("sweep", 7),
    ("output", 8),
    // The binary's command line, above everything (not part of the library).
    ("cli", 9),
];

/// Backward imports still there, with the most allowed: (from, to, count).
const KNOWN_BACKWARD: [(&str, &str, usize); 1] = [("cluster", "scenario", 20)];

fn rank(module: &str) -> Option<u32> {
    RANKS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

/// `crate::<module>` paths in every `.rs` file under `dir` (and `dir.rs` beside it).
fn imports_of(module: &str) -> BTreeMap<String, usize> {
    let src = root().join("src");
    let mut files = Vec::new();
    collect(&src.join(module), &mut files);
    let single = src.join(format!("{module}.rs"));
    if single.is_file() {
        files.push(single);
    }
    let mut out = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for piece in text.split("crate::").skip(1) {
            let name: String = piece
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if rank(&name).is_some() && name != module {
                *out.entry(name).or_insert(0) += 1;
            }
        }
    }
    out
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn imports_point_down_the_layers_but_for_the_listed_ones() {
    let mut found = Vec::new();
    for (module, r) in RANKS {
        for (to, n) in imports_of(module) {
            if rank(&to).is_some_and(|t| t >= r) {
                found.push((module, to, n));
            }
        }
    }
    for (from, to, n) in &found {
        let allowed = KNOWN_BACKWARD
            .iter()
            .find(|(f, t, _)| f == from && t == to)
            .map_or(0, |k| k.2);
        assert!(
            *n <= allowed,
            "src/{from} imports crate::{to} {n} times, {allowed} allowed: {from} is below {to} (README, Codemap)"
        );
    }
    // The list follows what is fixed: an exception no longer needed must go.
    for (from, to, _) in KNOWN_BACKWARD {
        assert!(
            found.iter().any(|(f, t, _)| *f == from && t == to),
            "src/{from} no longer imports crate::{to}: remove it from KNOWN_BACKWARD"
        );
    }
}
