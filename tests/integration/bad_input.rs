//! The bad-input corpus: each `tests/bad-input/<case>/` holds a scenario with a known problem
//! and `expected.txt`, the exact diagnostics kubesim must print. Every case must exit 2, print
//! exactly those lines (all at once), and write nothing.

use crate::support::{kubesim, root, scratch};

fn cases() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("tests/bad-input"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn diagnostics(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| !l.contains("file(s) have errors") && !l.contains("nothing was run"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_corpus_covers_the_required_problems() {
    let required = [
        "broken-yaml",
        "wrong-type",
        "bad-quantity",
        "missing-selector",
        "hpa-missing-deployment",
        "service-selects-nothing",
        "max-below-min",
        "unknown-scenario-field",
        "negative-rate",
        "missing-trace-file",
        "non-monotonic-trace",
        "call-unknown-service",
        "call-cycle",
        "call-service-not-deployed",
        "bad-retry-budget",
        "bad-call-steps",
        "two-scenarios",
        "duplicate-key",
        "broken-manifest-no-cascade",
    ];
    let present = cases();
    for r in required {
        assert!(present.iter().any(|c| c == r), "missing bad-input case {r}");
    }
}

#[test]
fn validate_reports_exactly_the_expected_diagnostics() {
    for case in cases() {
        let scenario = format!("tests/bad-input/{case}/scenario.yaml");
        let expected: Vec<String> =
            std::fs::read_to_string(root().join(format!("tests/bad-input/{case}/expected.txt")))
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect();
        let out = kubesim(&["validate", &scenario]);
        assert_eq!(out.status.code(), Some(2), "{case}: exit code");
        assert_eq!(diagnostics(&out.stderr), expected, "{case}: diagnostics");
    }
}

#[test]
fn run_refuses_bad_input_and_writes_nothing() {
    for case in cases() {
        let out_dir = scratch(&format!("bad-input-{case}")).join("run");
        let scenario = format!("tests/bad-input/{case}/scenario.yaml");
        let out = kubesim(&["run", &scenario, "--out", out_dir.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{case}: exit code");
        assert!(!out_dir.exists(), "{case}: wrote {}", out_dir.display());
        assert!(out.stdout.is_empty(), "{case}: printed a summary");
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(!text.contains("panicked"), "{case}: {text}");
    }
}

#[test]
fn several_problems_are_reported_at_once() {
    let text =
        std::fs::read_to_string(root().join("tests/bad-input/many-errors-at-once/expected.txt"))
            .unwrap();
    // A bad quantity and a bad HPA in the manifest, a bad duration and a negative rate in the
    // scenario: four independent problems, one run.
    assert_eq!(text.lines().count(), 4, "{text}");
}
