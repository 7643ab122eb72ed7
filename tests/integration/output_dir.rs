//! `--out` and `--junit` never delete or overwrite what kubesim did not write (issue 19, part 1).
//! Each test works in its own scratch directory, holding a copy of a small scenario and a file
//! of the user's, and checks that what it must not touch is still there, byte for byte.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{entries, scratch, stderr};

/// A 1-minute scenario (fast) in `dir/project/`, with a user file beside it.
fn project(name: &str) -> PathBuf {
    let dir = scratch(name).join("project");
    fs::create_dir_all(&dir).unwrap();
    let shipped = crate::support::root().join("scenarios/simpy-peer");
    fs::copy(shipped.join("app.yaml"), dir.join("app.yaml")).unwrap();
    let scenario = fs::read_to_string(shipped.join("scenario.yaml"))
        .unwrap()
        .replace("duration: 1h", "duration: 1m");
    fs::write(dir.join("scenario.yaml"), scenario).unwrap();
    fs::write(dir.join("notes.txt"), "the user's own notes\n").unwrap();
    dir
}

/// Runs `kubesim run scenario.yaml ARGS…` with `cwd` as the working directory.
fn run_in(cwd: &Path, scenario: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .arg("run")
        .arg(scenario)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("kubesim runs")
}

fn assert_project_intact(dir: &Path) {
    assert_eq!(entries(dir), ["app.yaml", "notes.txt", "scenario.yaml"]);
    assert_eq!(
        fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "the user's own notes\n"
    );
}

fn assert_refused(out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--out") && err.contains(needle), "{err}");
}

#[test]
fn out_dot_is_the_current_directory_and_is_refused() {
    let dir = project("out-dot");
    let out = run_in(&dir, Path::new("scenario.yaml"), &["--out", "."]);
    assert_refused(&out, "the current directory");
    assert_project_intact(&dir);
}

#[test]
fn out_dot_dot_and_the_root_are_refused() {
    let dir = project("out-dot-dot");
    let parent = dir.parent().unwrap().to_path_buf();
    fs::write(parent.join("sibling.txt"), "keep\n").unwrap();
    let out = run_in(&dir, Path::new("scenario.yaml"), &["--out", ".."]);
    assert_refused(&out, "a parent of the current directory");
    let out = run_in(&dir, Path::new("scenario.yaml"), &["--out", "/"]);
    assert_refused(&out, "the root directory");
    assert_eq!(entries(&parent), ["project", "sibling.txt"]);
    assert_project_intact(&dir);
}

#[test]
fn the_scenario_folder_and_its_parents_are_refused_from_elsewhere() {
    let dir = project("out-scenario-folder");
    let elsewhere = dir.parent().unwrap().join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    let scenario = dir.join("scenario.yaml");
    let folder = dir.to_str().unwrap();
    let out = run_in(&elsewhere, &scenario, &["--out", folder]);
    assert_refused(&out, "the scenario's folder");
    // Its parent is also the working directory's parent: either reason is right.
    let grandparent = dir.parent().unwrap().to_str().unwrap().to_string();
    let out = run_in(&elsewhere, &scenario, &["--out", &grandparent]);
    assert_refused(&out, "is a parent of the");
    assert_project_intact(&dir);
}

#[test]
fn a_directory_with_the_users_files_is_refused_and_kept() {
    let dir = project("out-user-dir");
    let theirs = dir.parent().unwrap().join("results");
    fs::create_dir_all(theirs.join("2025")).unwrap();
    fs::write(theirs.join("summary.md"), "mine\n").unwrap();
    let out = run_in(&dir, Path::new("scenario.yaml"), &["--out", "../results"]);
    assert_refused(&out, "holds files kubesim did not write (2025, summary.md)");
    assert_eq!(entries(&theirs), ["2025", "summary.md"]);
    assert_eq!(entries(dir.parent().unwrap()), ["project", "results"]);
}

#[test]
fn an_existing_file_is_refused_and_nothing_partial_is_left() {
    let dir = project("out-file");
    let out = run_in(&dir, Path::new("scenario.yaml"), &["--out", "notes.txt"]);
    assert_refused(&out, "is a file, not a directory");
    assert_project_intact(&dir);
}

#[test]
fn kubesim_replaces_its_own_run_but_not_one_the_user_added_to() {
    let dir = project("out-rerun");
    let run = dir.parent().unwrap().join("run");
    // Fresh, then an empty directory's replacement, then an earlier run's.
    for round in 0..2 {
        let out = run_in(&dir, Path::new("scenario.yaml"), &["--out", "../run"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round}: {}",
            stderr(&out)
        );
        assert!(run.join("report.json").is_file());
    }
    let empty = dir.parent().unwrap().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let out = run_in(&dir, Path::new("scenario.yaml"), &["--out", "../empty"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The user keeps a note in the run directory: it is no longer kubesim's to replace.
    fs::write(run.join("analysis.txt"), "mine\n").unwrap();
    let out = run_in(&dir, Path::new("scenario.yaml"), &["--out", "../run"]);
    assert_refused(&out, "analysis.txt");
    assert_eq!(
        fs::read_to_string(run.join("analysis.txt")).unwrap(),
        "mine\n"
    );
    assert_eq!(
        entries(dir.parent().unwrap()),
        ["empty", "project", "run"],
        "no hidden staging or old directories are left behind"
    );
    assert_project_intact(&dir);
}

#[test]
fn a_run_json_that_kubesim_did_not_write_does_not_mark_a_run() {
    let dir = project("out-fake-marker");
    let theirs = dir.parent().unwrap().join("fake");
    fs::create_dir_all(&theirs).unwrap();
    fs::write(theirs.join("run.json"), "{\"anything\": 1}\n").unwrap();
    let out = run_in(&dir, Path::new("scenario.yaml"), &["--out", "../fake"]);
    assert_refused(&out, "no kubesim run.json");
    assert_eq!(entries(&theirs), ["run.json"]);
}

#[test]
fn junit_never_overwrites_a_file_kubesim_did_not_write() {
    let dir = project("junit-foreign");
    let check = |junit: &str| {
        Command::new(env!("CARGO_BIN_EXE_kubesim"))
            .args(["check", "scenario.yaml", "--junit", junit])
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let out = check("notes.txt");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--junit notes.txt"),
        "{}",
        stderr(&out)
    );
    assert_project_intact(&dir);
    // Its own file it replaces: written twice.
    for _ in 0..2 {
        let out = check("junit.xml");
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let xml = fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(xml.contains("<testsuites name=\"kubesim\""), "{xml}");
}

#[cfg(unix)]
#[test]
fn an_interrupted_run_leaves_nothing_behind() {
    // A 10-hour simulation takes seconds; SIGTERM arrives while it runs. The handler exits with
    // 130 and neither the output directory nor a hidden staging directory exists afterwards.
    let dir = project("out-interrupted");
    let scenario = fs::read_to_string(dir.join("scenario.yaml"))
        .unwrap()
        .replace("duration: 1m", "duration: 10h");
    fs::write(dir.join("scenario.yaml"), scenario).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(["run", "scenario.yaml", "--out", "../run"])
        .current_dir(&dir)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert_eq!(entries(dir.parent().unwrap()), ["project"]);
}

#[test]
fn a_run_that_stops_early_leaves_nothing_behind() {
    // HPA decisions are written into the staging directory while the run goes on; the event
    // budget then runs out (after several HPA syncs: 1 000 req/s make ~2 500 events/s, so
    // 200 000 events reach past the first minute). Exit 2, and neither the output directory
    // nor a staging directory is left.
    let dir = project("out-budget");
    let scenario = fs::read_to_string(dir.join("scenario.yaml"))
        .unwrap()
        .replace("duration: 1m", "duration: 10m\n  maxEvents: 200000");
    fs::write(dir.join("scenario.yaml"), &scenario).unwrap();
    let out = run_in(&dir, Path::new("scenario.yaml"), &["--out", "../run"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("event budget"), "{err}");
    assert_eq!(entries(dir.parent().unwrap()), ["project"]);
}

#[test]
fn streamed_hpa_decisions_and_time_series_match_the_ones_kept_in_memory() {
    // `run` writes hpa_decisions.jsonl as the HPA decides and timeseries.csv as it samples;
    // the library (and `check`, `explain`) keep both in memory. Same scenario, same seed: the
    // same lines.
    let dir = project("out-streamed");
    let out = run_in(&dir, Path::new("scenario.yaml"), &["--out", "../run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let written =
        fs::read_to_string(dir.parent().unwrap().join("run/hpa_decisions.jsonl")).unwrap();
    let kept = crate::support::run(&crate::support::load(&dir.join("scenario.yaml"), None, &[]));
    assert!(
        kept.hpa_decisions.len() >= 4,
        "{}",
        kept.hpa_decisions.len()
    );
    let expected: String = kept
        .hpa_decisions
        .iter()
        .map(|d| serde_json::to_string(d).unwrap() + "\n")
        .collect();
    assert_eq!(written, expected);
    let series = fs::read_to_string(dir.parent().unwrap().join("run/timeseries.csv")).unwrap();
    let mut lines = series.lines();
    assert_eq!(
        lines.next(),
        Some(kept.timeseries.columns.join(",").as_str())
    );
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert!(rows.len() >= 5, "{}", rows.len());
    assert_eq!(rows, kept.timeseries.rows);
}
