//! What a careless user or a killed process must not cost (issue 53, "Data loss"): a merge
//! that would replace one of its own shards, a user's file saved under one of kubesim's names in
//! a run directory, and a run killed while it puts its directory in place. Each test failed on
//! the build before the fix (checked).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{entries, root, scratch, stderr};

/// `kubesim ARGS…` with the repository root as the working directory.
fn kubesim(args: &[&str]) -> Output {
    crate::support::kubesim(args)
}

/// A one-minute copy of the SimPy peer's scenario in `dir/project/scenario.yaml`.
fn short_scenario(dir: &Path, duration: &str) -> PathBuf {
    let project = dir.join("project");
    fs::create_dir_all(&project).unwrap();
    let shipped = root().join("scenarios/simpy-peer");
    fs::copy(shipped.join("app.yaml"), project.join("app.yaml")).unwrap();
    let text = fs::read_to_string(shipped.join("scenario.yaml"))
        .unwrap()
        .replace("duration: 1h", &format!("duration: {duration}"));
    let path = project.join("scenario.yaml");
    fs::write(&path, text).unwrap();
    path
}

fn run(scenario: &Path, out: &Path) -> Output {
    kubesim(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-plots",
    ])
}

fn ok(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
}

#[test]
fn a_merge_never_writes_into_or_over_one_of_its_shards() {
    let dir = scratch("data-loss-merge");
    let shards: Vec<PathBuf> = (0..2).map(|i| dir.join(format!("shard-{i}"))).collect();
    for (i, shard) in shards.iter().enumerate() {
        ok(&kubesim(&[
            "sweep",
            "scenarios/quickstart/scenario.yaml",
            "--set",
            "duration=5m",
            "--axis",
            "hpa/web:spec.minReplicas=[2, 3]",
            "--no-plots",
            "--shard",
            &format!("{i}/2"),
            "--out",
            shard.to_str().unwrap(),
        ]));
    }
    let before = fs::read(shards[0].join("shard.json")).unwrap();
    let inside = shards[1].join("merged");
    for (out, needle) in [
        (&shards[0], "is one of the shards being merged"),
        (&inside, "is inside one of the shards being merged"),
        (&dir, "is a parent of"),
    ] {
        let o = kubesim(&[
            "sweep",
            "merge",
            shards[0].to_str().unwrap(),
            shards[1].to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "--out {}: {err}", out.display());
        assert!(err.contains(needle), "--out {}: {err}", out.display());
    }
    assert_eq!(fs::read(shards[0].join("shard.json")).unwrap(), before);
    assert!(!inside.exists());
    assert_eq!(entries(&dir), ["shard-0", "shard-1"]);
}

#[test]
fn a_users_file_under_one_of_kubesims_names_keeps_the_run_directory_theirs() {
    let dir = scratch("data-loss-notes");
    let scenario = short_scenario(&dir, "1m");
    let out = dir.join("run");
    ok(&run(&scenario, &out));
    // Run again: kubesim's own files, as it wrote them, are replaced.
    ok(&run(&scenario, &out));
    // The user saves notes over report.json: the directory is no longer kubesim's alone.
    fs::write(out.join("report.json"), "my notes\n").unwrap();
    let o = run(&scenario, &out);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("report.json was changed"), "{err}");
    assert_eq!(
        fs::read_to_string(out.join("report.json")).unwrap(),
        "my notes\n"
    );
    // A file of kubesim's names that the run did not write (the run was `--no-plots`).
    fs::remove_file(out.join("report.json")).unwrap();
    fs::write(out.join("plot-latency.svg"), "<svg>mine</svg>").unwrap();
    let o = run(&scenario, &out);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("plot-latency.svg is not among"));
    assert!(out.join("plot-latency.svg").is_file());
    assert_eq!(entries(&dir), ["project", "run"]);
}

/// Spawns `kubesim run` of a long simulation, writing to `out`.
#[cfg(unix)]
fn spawn_long_run(scenario: &Path, out: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(["run", scenario.to_str().unwrap(), "--out"])
        .arg(out)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

#[cfg(unix)]
#[test]
fn the_next_run_removes_what_a_killed_run_left_and_spares_a_live_one() {
    let dir = scratch("data-loss-killed");
    let long = short_scenario(&dir, "10h");
    let short = long.with_file_name("short.yaml");
    fs::write(
        &short,
        fs::read_to_string(&long)
            .unwrap()
            .replace("duration: 10h", "duration: 1m"),
    )
    .unwrap();
    let out = dir.join("run");
    ok(&run(&short, &out));
    let earlier = fs::read(out.join("report.json")).unwrap();
    // SIGKILL while the run writes: its staging directory stays behind, and the earlier run is
    // untouched.
    let mut killed = spawn_long_run(&long, &out);
    std::thread::sleep(std::time::Duration::from_millis(400));
    killed.kill().unwrap();
    killed.wait().unwrap();
    let hidden = |dir: &Path| -> Vec<String> {
        entries(dir)
            .into_iter()
            .filter(|n| n.starts_with('.'))
            .collect()
    };
    assert_eq!(hidden(&dir).len(), 1, "{:?}", entries(&dir));
    assert_eq!(fs::read(out.join("report.json")).unwrap(), earlier);
    // A run that is alive keeps its staging directory while another run writes the same place.
    let mut alive = spawn_long_run(&long, &out);
    std::thread::sleep(std::time::Duration::from_millis(400));
    ok(&run(&short, &out));
    let left = hidden(&dir);
    assert_eq!(
        left.len(),
        1,
        "the killed run's is gone, the live one's stays: {left:?}"
    );
    assert!(
        left[0].contains(&format!("kubesim-{}-", alive.id())),
        "{left:?}"
    );
    alive.kill().unwrap();
    alive.wait().unwrap();
    ok(&run(&short, &out));
    assert_eq!(entries(&dir), ["project", "run"]);
}
