//! The library's layers point one way (README, *Codemap*): a module may name (import, or link
//! to in its docs) only modules of a lower rank.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::root;

/// Top-level modules of the library, lowest first.
const RANKS: [(&str, u32); 12] = [
    ("sim", 0),
    ("spec", 1),
    ("cluster", 2),
    ("scenario", 3),
    ("controllers", 4),
    ("traffic", 4),
    ("metrics", 5),
    ("engine", 6),
    ("sweep", 7),
    ("calibrate", 7),
    ("output", 8),
    // The binary's command line, above everything (not part of the library).
    ("cli", 9),
];

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
        for (name, n) in names_in(&text, module) {
            *out.entry(name).or_insert(0) += n;
        }
    }
    out
}

/// The library's top-level modules other than `module` that `text` names as `crate::<name>`,
/// with how many times.
fn names_in(text: &str, module: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for piece in text.split("crate::").skip(1) {
        let name: String = piece
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if rank(&name).is_some() && name != module {
            *out.entry(name).or_insert(0) += 1;
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
fn imports_point_down_the_layers() {
    let mut backward = Vec::new();
    for (module, r) in RANKS {
        for (to, n) in imports_of(module) {
            if rank(&to).is_some_and(|t| t >= r) {
                backward.push(format!("src/{module} names crate::{to} {n} times"));
            }
        }
    }
    assert!(
        backward.is_empty(),
        "imports against the layer order (README, Codemap): {backward:#?}"
    );
}

/// The check itself: a module naming a higher one is caught (here `spec`, the lowest layer
/// but `sim`, would name everything above it).
#[test]
fn a_backward_import_is_caught() {
    let higher: Vec<&str> = RANKS
        .iter()
        .filter(|(_, r)| *r > 1)
        .map(|(m, _)| *m)
        .collect();
    let text = higher
        .iter()
        .map(|m| format!("use crate::{m}::X;\n"))
        .collect::<String>();
    let named = names_in(&text, "spec");
    assert_eq!(named.len(), higher.len(), "{named:?}");
}
