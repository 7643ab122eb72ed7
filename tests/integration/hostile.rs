//! Input that reached the program and crashed or hung it (issue 53, "Crashes and hangs"): damaged
//! or hand-edited shard files, a FIFO where a file was expected. Each must exit 2 naming the file
//! and the field, write nothing, and return at once. Each test failed on the build before the
//! fix (checked).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{entries, kubesim, scratch, stderr};

/// Two shards of a 2-variant sweep of the quickstart (5 minutes), in `dir/shard-0` and `-1`.
fn two_shards(dir: &Path) -> Vec<PathBuf> {
    let shards: Vec<PathBuf> = (0..2).map(|i| dir.join(format!("shard-{i}"))).collect();
    for (i, shard) in shards.iter().enumerate() {
        let out = kubesim(&[
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
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    shards
}

fn merge(shards: &[PathBuf], out: &Path) -> Output {
    let mut args = vec!["sweep".to_string(), "merge".into()];
    args.extend(shards.iter().map(|d| d.display().to_string()));
    args.extend(["--out".into(), out.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    kubesim(&args)
}

/// A change made to a shard file's JSON.
type Damage = dyn Fn(&mut serde_json::Value);

/// Rewrites a shard's shard.json through `edit` (on its JSON value).
fn damage(shard: &Path, edit: impl Fn(&mut serde_json::Value)) {
    let path = shard.join("shard.json");
    let mut value: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut value);
    fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
}

#[test]
fn a_damaged_shard_file_is_refused_with_its_field() {
    let dir = scratch("hostile-shards");
    // The first shard's count sizes the merge's bookkeeping; rows are checked in every shard.
    let cases: [(&str, &Damage, &str); 7] = [
        // 2^64 − 1 shards: a capacity overflow; 10^12: an 8 TB allocation; 10^8 on both: a
        // message of gigabytes. Each is now a count out of range.
        (
            "count",
            &|v| v["count"] = serde_json::json!(u64::MAX),
            "count: 18446744073709551615 shards",
        ),
        (
            "count-huge",
            &|v| v["count"] = serde_json::json!(1_000_000_000_000u64),
            "a sweep is split into 1 to 100000",
        ),
        (
            "count-1e8",
            &|v| v["count"] = serde_json::json!(100_000_000u64),
            "a sweep is split into 1 to 100000",
        ),
        (
            "index",
            &|v| v["index"] = serde_json::json!(7),
            "index: shard 7 of 2",
        ),
        // A row with fewer metrics than the sweep's columns: an index out of bounds.
        (
            "metrics",
            &|v| {
                let metrics = v["variants"][0]["metrics"].as_array_mut().unwrap();
                metrics.truncate(2);
            },
            "variants[1]: 2 metrics for the sweep's",
        ),
        (
            "values",
            &|v| {
                let values = v["variants"][0]["metrics"][0]["values"]
                    .as_array_mut()
                    .unwrap();
                values.clear();
            },
            "has 0 values for 1 replications",
        ),
        (
            "version",
            &|v| v["kubesim_version"] = serde_json::json!("0.0.1"),
            "kubesim_version: written by kubesim 0.0.1",
        ),
    ];
    for (name, edit, needle) in cases {
        let case = dir.join(name);
        fs::create_dir_all(&case).unwrap();
        let shards = two_shards(&case);
        let damaged = if needle.starts_with("variants") || needle.starts_with("has") {
            1
        } else {
            0
        };
        damage(&shards[damaged], edit);
        let out = merge(&shards, &case.join("merged"));
        let err = stderr(&out);
        let file = format!("shard-{damaged}/shard.json");
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(&file) && err.contains(needle), "{name}: {err}");
        assert!(!case.join("merged").exists(), "{name}: nothing is written");
    }
}

#[cfg(unix)]
#[test]
fn a_fifo_where_a_shard_file_should_be_is_refused_at_once() {
    // Opening a FIFO for reading blocks until a writer comes: for ever, here.
    let dir = scratch("hostile-fifo");
    let shards = two_shards(&dir);
    let fifo = shards[0].join("shard.json");
    fs::remove_file(&fifo).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let out = merge(&shards, &dir.join("merged"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("it is not a regular file"), "{err}");
    assert_eq!(entries(&dir), ["shard-0", "shard-1"]);
}

/// `kubesim sweep` of a 2-variant quickstart sweep into `out`, with `threads` and the
/// environment's RAYON_NUM_THREADS set to `env`.
fn sweep_with(out: &Path, threads: Option<&str>, env: Option<&str>) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kubesim"));
    command
        .args([
            "sweep",
            "scenarios/quickstart/scenario.yaml",
            "--set",
            "duration=5m",
        ])
        .args([
            "--axis",
            "hpa/web:spec.minReplicas=[2, 3]",
            "--no-plots",
            "-q",
            "--out",
        ])
        .arg(out)
        .current_dir(crate::support::root());
    if let Some(n) = threads {
        command.args(["--threads", n]);
    }
    match env {
        Some(value) => command.env("RAYON_NUM_THREADS", value),
        None => command.env_remove("RAYON_NUM_THREADS"),
    };
    command.output().unwrap()
}

#[test]
fn worker_threads_are_checked_and_capped() {
    let dir = scratch("hostile-threads");
    // --threads 0: blamed on --threads, once, before anything is written.
    let out = sweep_with(&dir.join("zero"), Some("0"), None);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim(), "error: --threads must be at least 1");
    // RAYON_NUM_THREADS that is not a number is named; one of a million spawned threads for
    // seconds, then panicked: now the workers are capped at the 2 runs to do.
    let out = sweep_with(&dir.join("garbage"), None, Some("lots"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("RAYON_NUM_THREADS=\"lots\""),
        "{}",
        stderr(&out)
    );
    for (name, threads, env) in [
        ("env", None, Some("1000000")),
        ("flag", Some("100000"), None),
    ] {
        let out = sweep_with(&dir.join(name), threads, env);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        let info: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.join(name).join("run.json")).unwrap())
                .unwrap();
        assert!(info["threads"].as_u64().unwrap() <= 2, "{name}: {info}");
    }
    assert_eq!(entries(&dir), ["env", "flag"]);
}

#[test]
fn a_negative_or_impossible_value_is_blamed_on_its_flag() {
    // clap took "-1" for a flag ("unexpected argument '-1'", no flag named); explain --at took
    // clock times that are not clock times.
    let quickstart = "scenarios/quickstart/scenario.yaml";
    let cases: [(&[&str], &str); 6] = [
        (
            &["sweep", quickstart, "--replications", "-1"],
            "--replications",
        ),
        (&["sweep", quickstart, "--shard", "-1/4"], "--shard"),
        (&["run", quickstart, "--seed", "-5"], "--seed"),
        (&["explain", quickstart, "--at", "-1s"], "--at \"-1s\""),
        (&["explain", quickstart, "--at", "25:99"], "--at \"25:99\""),
        (
            &["explain", quickstart, "--at", "99999999999999999999:00"],
            "--at",
        ),
    ];
    for (args, flag) in cases {
        let out = kubesim(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(flag) && !err.contains("unexpected argument"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_set_path_too_deep_and_a_range_too_long_are_errors() {
    // 60 000 segments overflowed the stack; a range of 2^64 values or more wrapped its count
    // to 0: "ran 0 variants", exit 0.
    let deep = format!("{}=1", vec!["a"; 60_000].join("."));
    let out = kubesim(&["run", "scenarios/quickstart/scenario.yaml", "--set", &deep]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}", &err[..err.len().min(300)]);
    assert!(err.contains("a field path of 60000 keys and list items: at most 64"));
    assert!(
        err.len() < 1_000,
        "the message does not repeat the whole path"
    );
    let out = kubesim(&[
        "sweep",
        "scenarios/quickstart/scenario.yaml",
        "--axis",
        "hpa/web:spec.minReplicas=0..18446744073709551616",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("the range has 1.84e19 values"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_baseline_that_cannot_be_read_fails_the_gate() {
    // Each passed with at most a note (nothing with -q): a CI gate passing on a broken baseline.
    let dir = scratch("hostile-baseline");
    let base = dir.join("base");
    let out = kubesim(&[
        "run",
        "scenarios/quickstart/scenario.yaml",
        "--set",
        "duration=10m",
        "--no-plots",
        "--out",
        base.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = fs::read_to_string(base.join("report.json")).unwrap();
    let check = |baseline: &Path| {
        kubesim(&[
            "check",
            "scenarios/quickstart/scenario.yaml",
            "--set",
            "duration=10m",
            "-q",
            "--baseline",
            baseline.to_str().unwrap(),
        ])
    };
    // Latencies as strings.
    let mut value: serde_json::Value = serde_json::from_str(&report).unwrap();
    value["services"][0]["latency_ms"]["p99"] = serde_json::json!("12");
    let strings = dir.join("strings.json");
    fs::write(&strings, value.to_string()).unwrap();
    // report.json a directory, or a FIFO, in a run directory.
    let as_dir = dir.join("as-dir");
    fs::create_dir_all(as_dir.join("report.json")).unwrap();
    let as_fifo = dir.join("as-fifo");
    fs::create_dir_all(&as_fifo).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(as_fifo.join("report.json"))
        .status();
    assert!(made.unwrap().success());
    for (baseline, needle) in [
        (
            strings.as_path(),
            "services[0].latency_ms.p99: \"12\" is not a number",
        ),
        (as_dir.as_path(), "as-dir/report.json: not a regular file"),
        (as_fifo.as_path(), "as-fifo/report.json: not a regular file"),
        (dir.join("nowhere").as_path(), "no such file"),
    ] {
        let out = check(baseline);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", baseline.display());
        assert!(
            err.to_lowercase().contains(&needle.to_lowercase()),
            "{}: {err}",
            baseline.display()
        );
    }
    // The intact baseline passes.
    assert_eq!(check(&base).status.code(), Some(0));
}

#[test]
fn a_target_varied_by_two_axes_is_an_error() {
    // The later axis silently overrode the earlier, and sweep.csv got two columns of one name.
    let out = kubesim(&[
        "sweep",
        "scenarios/quickstart/scenario.yaml",
        "--axis",
        "hpa/web:spec.minReplicas=[2, 3]",
        "--axis",
        "hpa/web:spec.minReplicas=[4, 5]",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--axis hpa/web:spec.minReplicas=[4, 5]: hpa/web:spec.minReplicas is varied by an earlier axis already"),
        "{err}"
    );
}

#[test]
fn two_axes_of_one_name_are_an_error() {
    // Two targets under one axis name gave sweep.csv two columns of that name.
    let dir = scratch("hostile-axis-names");
    for name in ["scenario.yaml", "web.yaml", "nasa-1995-07-05.csv"] {
        fs::copy(
            Path::new("scenarios/sizing-sweep").join(name),
            dir.join(name),
        )
        .unwrap();
    }
    let sweep = dir.join("sweep.yaml");
    let text = fs::read_to_string("scenarios/sizing-sweep/sweep.yaml").unwrap();
    fs::write(&sweep, text.replace("name: cpuTarget", "name: minReplicas")).unwrap();
    let out = kubesim(&[
        "sweep",
        sweep.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "the axis name \"minReplicas\" is taken by an earlier axis (hpa/web:spec.minReplicas)"
        ),
        "{err}"
    );
    assert!(
        err.contains("sweep.yaml:15:"),
        "the second axis's line: {err}"
    );
    assert!(!dir.join("out").exists());
}

/// A trace far larger than the memory it may use is read a row at a time: validated to its
/// last row, which is wrong and named by its line. The build before read the whole file and
/// then its points into memory (about 1.5 times the file) and ran out of memory here.
#[cfg(unix)]
#[test]
fn a_long_trace_is_read_a_row_at_a_time() {
    use std::io::Write;
    let dir = scratch("hostile-long-trace");
    for name in ["scenario.yaml", "web.yaml"] {
        fs::copy(Path::new("scenarios/quickstart").join(name), dir.join(name)).unwrap();
    }
    let trace = dir.join("nasa-1995-07-05.csv");
    let mut file = std::io::BufWriter::new(fs::File::create(&trace).unwrap());
    writeln!(file, "minute_start_unix,minute_start_local,requests").unwrap();
    let rows = 1_600_000u64; // about 64 MB
    for i in 0..rows {
        writeln!(
            file,
            "{},1995-07-05T00:00:00-04:00,{}",
            804_916_800 + 60 * i,
            i % 97
        )
        .unwrap();
    }
    writeln!(file, "804916800,late,12").unwrap();
    drop(file);
    let bin = env!("CARGO_BIN_EXE_kubesim");
    // RLIMIT_DATA of 48 MiB: the heap and anonymous mappings, less than the file.
    let out = std::process::Command::new("sh")
        .args(["-c", "ulimit -d 49152 && exec \"$0\" validate \"$1\""])
        .args([bin, dir.to_str().unwrap()])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let line = rows + 2;
    assert!(
        err.contains(&format!(
            "nasa-1995-07-05.csv:{line}:1: t_seconds: time 0 does not increase"
        )),
        "{err}"
    );
    assert!(!err.contains("memory"), "{err}");
}

/// Makes a FIFO at `path`.
#[cfg(unix)]
fn mkfifo(path: &Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(made.success());
}

#[cfg(unix)]
#[test]
fn a_fifo_or_a_device_where_a_file_is_read_is_refused_at_once() {
    // Each blocked in open() for ever, or read without end (and aborted on a 4 GB allocation).
    let dir = scratch("hostile-special-files");
    // A FIFO named *.yaml among manifests.
    let manifests = dir.join("manifests");
    fs::create_dir_all(&manifests).unwrap();
    mkfifo(&manifests.join("blocked.yaml"));
    let out = kubesim(&["validate", manifests.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("blocked.yaml") && err.contains("not a regular file (a FIFO)"),
        "{err}"
    );
    // A trace that is a FIFO.
    let project = dir.join("project");
    fs::create_dir_all(&project).unwrap();
    let quickstart = crate::support::root().join("scenarios/quickstart");
    fs::copy(
        quickstart.join("scenario.yaml"),
        project.join("scenario.yaml"),
    )
    .unwrap();
    fs::copy(quickstart.join("web.yaml"), project.join("web.yaml")).unwrap();
    mkfifo(&project.join("nasa-1995-07-05.csv"));
    let out = kubesim(&["validate", project.join("scenario.yaml").to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("nasa-1995-07-05.csv") && err.contains("not a regular file"),
        "{err}"
    );
    // A run's history.jsonl replaced by /dev/zero, or by a line without end.
    let run = dir.join("run");
    let out = kubesim(&[
        "run",
        "scenarios/quickstart/scenario.yaml",
        "--set",
        "duration=5m",
        "--no-plots",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let history = run.join("history.jsonl");
    fs::remove_file(&history).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &history).unwrap();
    let out = kubesim(&["get", "pods", run.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("history.jsonl: not a regular file"),
        "{}",
        stderr(&out)
    );
    fs::remove_file(&history).unwrap();
    fs::write(&history, vec![b'x'; (16 << 20) + 10]).unwrap();
    let out = kubesim(&["get", "pods", run.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("history.jsonl:1: a line longer than"),
        "{}",
        stderr(&out)
    );
    // A run file that is a FIFO: not kubesim's run directory any more, for plot as for --out.
    fs::remove_file(run.join("timeseries.csv")).unwrap();
    mkfifo(&run.join("timeseries.csv"));
    let out = kubesim(&["plot", run.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("timeseries.csv is not a regular file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn sweep_job_refuses_what_the_api_server_would() {
    // Each of these was printed as a Job with exit 0, for kubectl to refuse (or, for an
    // absolute path, for the pods to fail on a path of this machine).
    let quickstart = "scenarios/quickstart/scenario.yaml";
    let cases: [(&[&str], &str); 7] = [
        (
            &["--name", "Bad_Name"],
            "--name \"Bad_Name\": a Job's name must be a lowercase RFC 1123 label",
        ),
        (&["--cpu", "lots"], "--cpu \"lots\""),
        (
            &["--memory", "-1Gi"],
            "--memory \"-1Gi\": must be more than 0",
        ),
        (&["--image", ""], "--image \"\""),
        (&["--claim", ""], "--claim \"\""),
        (
            &["--parallelism", "0"],
            "--parallelism 0: must be at least 1",
        ),
        (&["--name", &"a".repeat(64)], "at most 63 characters"),
    ];
    for (extra, message) in cases {
        let mut args = vec!["sweep", "job", quickstart, "--shards", "4"];
        args.extend_from_slice(extra);
        let out = kubesim(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(message), "{extra:?}: {err}");
        assert!(out.stdout.is_empty(), "{extra:?}: nothing printed");
    }
    // An absolute path inside the current directory is written relative to it.
    let absolute = crate::support::root().join(quickstart);
    let out = kubesim(&["sweep", "job", absolute.to_str().unwrap(), "--shards", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let job = String::from_utf8_lossy(&out.stdout);
    assert!(job.contains(&format!("- {quickstart}")), "{job}");
    assert!(!job.contains(absolute.to_str().unwrap()), "{job}");
}

#[test]
fn get_refuses_selectors_kubectl_refuses() {
    // These answered "No resources found" with exit 0.
    let dir = scratch("hostile-get-selector");
    let out_dir = dir.join("out");
    let run = kubesim(&[
        "run",
        "scenarios/quickstart/scenario.yaml",
        "--out",
        out_dir.to_str().unwrap(),
        "--no-plots",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let long_key = format!("{}=v", "k".repeat(120_000));
    for selector in ["é=1", "app in ((web))", long_key.as_str()] {
        let out = kubesim(&["get", "pods", out_dir.to_str().unwrap(), "-l", selector]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.starts_with("error: -l") && err.len() < 2000,
            "{}",
            &err[..err.len().min(300)]
        );
    }
}

#[test]
fn get_on_a_scenario_file_or_a_reordered_history_says_so() {
    // A scenario file where a run directory belongs was "…/scenario.yaml/history.jsonl does
    // not exist: the run was written by a kubesim without it".
    let out = kubesim(&["get", "pods", "scenarios/quickstart/scenario.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("scenario.yaml is a file, not a run directory"),
        "{err}"
    );
    // A history whose End line was moved to the front was "cut short", without the file.
    let dir = scratch("reordered-history").join("run");
    let run = kubesim(&[
        "run",
        "scenarios/quickstart/scenario.yaml",
        "--out",
        dir.to_str().unwrap(),
        "-q",
        "--no-plots",
        "--no-trace",
        "--set",
        "duration=2m",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let history = dir.join("history.jsonl");
    let text = fs::read_to_string(&history).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.rotate_right(1);
    fs::write(&history, lines.join("\n") + "\n").unwrap();
    let out = kubesim(&["get", "pods", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("history.jsonl: line 1 is the End line but not the last"),
        "{err}"
    );
}
