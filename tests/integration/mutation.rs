//! Mutated shipped scenarios: whatever a number in a scenario file is changed to, `kubesim run`
//! answers with exit 0 (it ran) or 2 (bad input, explained) — never a panic, an abort or a run
//! that outlives a time bound. The mutations are drawn from a fixed seed, so a failure repeats.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kubesim::sim::RngStreams;
use rand::RngExt;

use crate::support::{root, scratch, shipped_scenarios};

/// Values a number in a scenario is replaced by: extremes, wrong signs, wrong types.
const REPLACEMENTS: &[&str] = &[
    "0",
    "-1",
    "1e308",
    "-1e308",
    "1e-15",
    "4294967295",
    "2147483647",
    "9223372036854775807",
    ".nan",
    ".inf",
    "1us",
    "0s",
    "99999999h",
    "0.5",
    "\"\"",
    "[]",
    "{}",
    "null",
    "abc",
];

/// Mutations per shipped scenario.
const PER_SCENARIO: usize = 8;
/// How long one run may take (every shipped scenario runs in seconds).
const TIME_BOUND: Duration = Duration::from_secs(60);

/// Where the numbers of a YAML text are: `(start, end)` byte ranges of tokens that start with a
/// digit after `: `, `- ` or `[`/`, ` (units such as `25s` and `500m` included).
fn number_spans(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let after_separator = i >= 2 && matches!(&bytes[i - 2..i], b": " | b"- " | b", ")
            || i >= 1 && bytes[i - 1] == b'[';
        if after_separator && bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                i += 1;
            }
            spans.push((start, i));
        } else {
            i += 1;
        }
    }
    spans
}

/// Copies a scenario's folder with everything in it (manifests and traces come along).
fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        match entry.file_type().unwrap().is_dir() {
            true => copy_folder(&entry.path(), &target),
            false => drop(std::fs::copy(entry.path(), target).unwrap()),
        }
    }
}

/// Runs the scenario; its exit code, or why it has none.
fn run_bounded(scenario: &Path, out: &Path) -> Result<i32, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(["run"])
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status
                .code()
                .ok_or_else(|| format!("killed by a signal: {status:?}"));
        }
        if started.elapsed() > TIME_BOUND {
            let _ = child.kill();
            return Err(format!("still running after {TIME_BOUND:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn mutated_shipped_scenarios_run_or_are_refused() {
    let mut rng = RngStreams::new(2026).stream("mutation");
    let dir = scratch("mutation");
    let mut failures = Vec::new();
    // How many mutated scenarios ran (exit 0) and were refused (exit 2).
    let mut answers = [0; 2];
    for scenario in shipped_scenarios() {
        let name = scenario
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let text = std::fs::read_to_string(&scenario).unwrap();
        let spans = number_spans(&text);
        assert!(!spans.is_empty(), "{name}: no numbers found");
        // The copy itself runs: a refusal below is the mutation's doing.
        let control = dir.join(format!("{name}-control"));
        copy_folder(scenario.parent().unwrap(), &control);
        let ran = run_bounded(&control.join("scenario.yaml"), &control.join("out"));
        assert_eq!(ran, Ok(0), "{name}: the unmutated copy does not run");
        for k in 0..PER_SCENARIO {
            let (start, end) = spans[rng.random_range(0..spans.len())];
            let value = REPLACEMENTS[rng.random_range(0..REPLACEMENTS.len())];
            let folder = dir.join(format!("{name}-{k}"));
            copy_folder(scenario.parent().unwrap(), &folder);
            let mutated = format!("{}{value}{}", &text[..start], &text[end..]);
            std::fs::write(folder.join("scenario.yaml"), &mutated).unwrap();
            let line = text[..start].lines().count();
            let what = format!("{name}: line {line}: {:?} → {value}", &text[start..end]);
            match run_bounded(&folder.join("scenario.yaml"), &folder.join("out")) {
                Ok(code @ (0 | 2)) => answers[code as usize / 2] += 1,
                Ok(code) => failures.push(format!("{what}: exit {code}")),
                Err(e) => failures.push(format!("{what}: {e}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Both answers occur: the mutations reach what is validated and what runs.
    assert!(
        answers[0] > 0 && answers[1] > 0,
        "ran / refused: {answers:?}"
    );
    eprintln!(
        "mutated scenarios: {} ran, {} refused",
        answers[0], answers[1]
    );
}
