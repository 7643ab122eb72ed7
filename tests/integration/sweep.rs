//! `kubesim sweep`: variants equal their runs alone, results do not depend on threads or on the
//! other variants, and bad sweeps are refused where they were written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{kubesim, root, scratch};

const QUICKSTART: &str = "scenarios/quickstart/scenario.yaml";

/// Runs `kubesim sweep` with a short quickstart and the given arguments, into `out`.
fn sweep(out: &Path, threads: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubesim"));
    command
        .args(["sweep", QUICKSTART, "--set", "duration=15m", "--out"])
        .arg(out)
        .args(args)
        .current_dir(root());
    match threads {
        Some(n) => command.env("RAYON_NUM_THREADS", n),
        None => command.env_remove("RAYON_NUM_THREADS"),
    };
    command.output().expect("kubesim runs")
}

fn ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: PathBuf) -> serde_json::Value {
    serde_json::from_str(&read(path)).unwrap()
}

const AXES: [&str; 6] = [
    "--axis",
    "hpa/web:spec.minReplicas=[2, 4]",
    "--axis",
    "workloads[0].concurrency=8..16:8",
    "--replications",
    "2",
];

#[test]
fn a_kept_variant_run_equals_the_same_run_alone() {
    let dir = scratch("sweep-alone");
    let out = dir.join("sweep");
    let mut args = AXES.to_vec();
    args.push("--keep-runs");
    ok(&sweep(&out, None, &args));
    let summary = json(out.join("sweep.json"));
    let variants = summary["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 4);
    // v02: minReplicas 4, concurrency 8 (the last axis varies fastest); its second replication.
    let v = &variants[2];
    assert_eq!(v["values"], serde_json::json!(["4", "8"]));
    let seed = v["seeds"][1].as_u64().unwrap().to_string();
    let alone = dir.join("alone");
    let mut run = vec!["run", QUICKSTART, "--set", "duration=15m", "--seed", &seed];
    for o in v["overrides"].as_array().unwrap() {
        run.extend(["--set", o.as_str().unwrap()]);
    }
    run.extend(["--out", alone.to_str().unwrap()]);
    ok(&kubesim(&run));
    let kept = out.join("runs").join("v02-r1");
    assert_eq!(
        read(kept.join("report.json")),
        read(alone.join("report.json"))
    );
    // The kept run says how to repeat it.
    let info = json(kept.join("run.json"));
    let command: Vec<&str> = (info["command_line"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        command.windows(2).any(|w| w == ["--seed", seed.as_str()]),
        "{command:?}"
    );
    // And the sweep's numbers are that run's.
    let report = json(alone.join("report.json"));
    let p99 = &v["metrics"]["service/web:latency.p99"]["values"][1];
    assert_eq!(p99, &report["services"][0]["latency_ms"]["p99"]);
    // The kept run's pages are what `kubesim run` draws, and the sweep's page links to them.
    for file in ["report.html", "plot-latency.svg", "trace.json"] {
        assert_eq!(read(kept.join(file)), read(alone.join(file)), "{file}");
    }
    let page = read(out.join("report.html"));
    assert!(page.contains("href=\"runs/v02-r1/report.html\""));
}

#[test]
fn the_sweep_page_lists_every_variant_and_links_only_to_what_exists() {
    let dir = scratch("sweep-page");
    let out = dir.join("sweep");
    let mut args = AXES.to_vec();
    args.push("--keep-runs");
    ok(&sweep(&out, None, &args));
    let page = read(out.join("report.html"));
    assert!(page.starts_with("<!DOCTYPE html>"));
    // One row per variant, each metric cell sortable by its mean.
    let summary = json(out.join("sweep.json"));
    let variants = summary["variants"].as_array().unwrap();
    assert_eq!(page.matches("<tr class=").count(), variants.len());
    let mean = variants[0]["metrics"]["cost.total"]["mean"]
        .as_f64()
        .unwrap();
    assert!(page.contains(&format!("<td data-v=\"{mean}\">")), "{mean}");
    assert!(page.contains("<th data-key=\"cost.total\""));
    // The frontier figure, inline and as a file; its labels name the frontier's variants.
    let figure = read(out.join("plot-frontier.svg"));
    assert!(page.contains("Pareto frontier") && figure.contains("Pareto frontier"));
    for id in summary["frontier"]["variants"].as_array().unwrap() {
        assert!(figure.contains(id.as_str().unwrap()), "{id} labelled");
    }
    // Every link leads to a file of the sweep directory; nothing is fetched.
    let links: Vec<&str> = page
        .split("href=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert_eq!(links.iter().filter(|l| l.starts_with("runs/")).count(), 8);
    for link in links.iter().filter(|l| !l.starts_with('#')) {
        assert!(out.join(link).is_file(), "{link}");
    }
    for reference in [
        "<link",
        " src=",
        "url(",
        "@import",
        "fetch(",
        "XMLHttpRequest",
    ] {
        assert!(
            !page.contains(reference),
            "report.html refers out: {reference}"
        );
    }
    // Without --keep-runs there is nothing to link to; with --no-plots there is no page.
    let bare = dir.join("bare");
    ok(&sweep(&bare, None, &AXES));
    assert!(!read(bare.join("report.html")).contains("runs/"));
    let none = dir.join("none");
    let mut args = AXES.to_vec();
    args.push("--no-plots");
    ok(&sweep(&none, None, &args));
    assert!(!none.join("report.html").exists() && !none.join("plot-frontier.svg").exists());
}

#[test]
fn results_do_not_depend_on_threads_or_on_the_other_variants() {
    let dir = scratch("sweep-threads");
    let (one, two) = (dir.join("one"), dir.join("two"));
    ok(&sweep(&one, Some("1"), &AXES));
    ok(&sweep(&two, Some("2"), &AXES));
    for file in [
        "sweep.json",
        "sweep.csv",
        "report.html",
        "plot-frontier.svg",
    ] {
        assert_eq!(read(one.join(file)), read(two.join(file)), "{file}");
    }
    // A sweep of one of those variants alone (its axes given in another order) measures the
    // same: seeds come from the variant's overrides, not from its place in a sweep.
    let single = dir.join("single");
    let args = [
        "--axis",
        "workloads[0].concurrency=[16]",
        "--axis",
        "hpa/web:spec.minReplicas=[4]",
        "--replications",
        "2",
    ];
    ok(&sweep(&single, None, &args));
    let whole = json(one.join("sweep.json"));
    let alone = json(single.join("sweep.json"));
    let v = &whole["variants"][3];
    assert_eq!(v["values"], serde_json::json!(["4", "16"]));
    assert_eq!(v["seeds"], alone["variants"][0]["seeds"]);
    assert_eq!(v["metrics"], alone["variants"][0]["metrics"]);
}

#[test]
fn the_conclusion_follows_the_constraints() {
    let dir = scratch("sweep-conclusion");
    let out = dir.join("sweep");
    // A p99 under 1 ms is out of reach: nothing is feasible. With 10 s, everything is, and
    // cost (three fixed nodes) is the same: the first variant is the best.
    let mut args = AXES.to_vec();
    args.extend(["--constraint", "service/web:latency.p99 <= 1ms"]);
    let o = sweep(&out, None, &args);
    ok(&o);
    let summary = json(out.join("sweep.json"));
    assert_eq!(summary["best"], serde_json::Value::Null);
    assert!(String::from_utf8_lossy(&o.stdout).contains("no variant is feasible"));
    let mut args = AXES.to_vec();
    args.extend(["--constraint", "service/web:latency.p99 <= 10s"]);
    ok(&sweep(&out, None, &args));
    let summary = json(out.join("sweep.json"));
    assert_eq!(summary["best"], "v00");
    let rate = &summary["variants"][0]["slo_pass_rate"];
    assert_eq!(rate.as_f64(), Some(1.0));
    // Minimizing the p99 picks the variant with the lowest mean p99.
    let mut args = AXES.to_vec();
    args.extend(["--minimize", "service/web:latency.p99"]);
    ok(&sweep(&out, None, &args));
    let summary = json(out.join("sweep.json"));
    let variants = summary["variants"].as_array().unwrap();
    let p99 = |v: &serde_json::Value| {
        v["metrics"]["service/web:latency.p99"]["mean"]
            .as_f64()
            .unwrap()
    };
    let lowest = variants
        .iter()
        .min_by(|a, b| p99(a).total_cmp(&p99(b)))
        .unwrap();
    assert_eq!(summary["best"], lowest["id"]);
}

#[test]
fn a_sweep_file_runs_and_its_mistakes_are_located() {
    let dir = scratch("sweep-file");
    let scenario = root().join(QUICKSTART);
    let file = dir.join("sweep.yaml");
    let text = format!(
        "apiVersion: kubesim.io/v1alpha1
kind: Sweep
metadata: {{name: sizing}}
spec:
  scenario: {scenario}
  set: [duration=10m]
  replications: 2
  axes:
    - set: hpa/web:spec.minReplicas
      values: [2, 3]
    - name: pool
      set:
        - cluster.nodePools[0].count
        - cluster.nodePools[0].pricePerHour
      values: [[3, 0.192], [4, 0.1]]
  objective: {{minimize: cost.total}}
  constraints:
    - {{service: web, assert: latency.p99 <= 10s}}
",
        scenario = scenario.display()
    );
    std::fs::write(&file, &text).unwrap();
    let out = dir.join("out");
    let o = kubesim(&[
        "sweep",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    ok(&o);
    let summary = json(out.join("sweep.json"));
    assert_eq!(summary["sweep"], "sizing");
    // Four nodes at $0.1 cost less than three at $0.192: the pool's second step wins.
    assert_eq!(summary["best"], "v01");
    // Mistakes, each reported at its line in the sweep file (an object or field that does not
    // exist at the target, once; a bad value at the value), and nothing is written.
    let cases = [
        (
            "values: [2, 3]",
            "values: []",
            "10:15",
            "at least one value",
        ),
        (
            "hpa/web:spec.minReplicas",
            "hpa/webx:spec.minReplicas",
            "9:12",
            "no HorizontalPodAutoscaler named \"webx\"",
        ),
        (
            "hpa/web:spec.minReplicas",
            "hpa/web:spec.minReplicaz",
            "9:12",
            "unknown field \"minReplicaz\"",
        ),
        (
            "values: [2, 3]",
            "values: [2, many]",
            "10:19",
            "invalid type: string \"many\"",
        ),
        (
            "minimize: cost.total",
            "minimize: cost.totl",
            "16:25",
            "unknown metric \"cost.totl\"",
        ),
        (
            "service: web,",
            "service: wbe,",
            "18:7",
            "no Service named \"wbe\"",
        ),
    ];
    for (from, to, at, needle) in cases {
        let bad = dir.join("bad.yaml");
        std::fs::write(&bad, text.replacen(from, to, 1)).unwrap();
        let out = dir.join("bad-out");
        let o = kubesim(&[
            "sweep",
            bad.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{to}: {stderr}");
        let located = format!("{}:{at}: ", bad.display());
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&located) && l.contains(needle)),
            "{to}: expected {located}…{needle} in\n{stderr}"
        );
        assert!(
            stderr.contains(": 1 error(s)"),
            "{to}: one problem, one error\n{stderr}"
        );
        assert!(!out.exists(), "{to}: something was written");
    }
}

#[test]
fn bad_flags_are_named() {
    let out = scratch("sweep-flags").join("out");
    let cases: [(&[&str], &str); 4] = [
        (
            &["--axis", "hpa/web:spec.minReplicas=[]"],
            "--axis hpa/web:spec.minReplicas=[]: an axis needs at least one value",
        ),
        (
            &["--axis", "hpa/web:spec.minReplicas=[2, x]"],
            "--axis hpa/web:spec.minReplicas=[2, x]: spec.minReplicas: invalid type: string \"x\"",
        ),
        (
            &["--minimize", "latency.p99x"],
            "--minimize latency.p99x: unknown metric",
        ),
        (
            &["--constraint", "service/nope:latency.p99 <= 1s"],
            "--constraint service/nope:latency.p99 <= 1s: service: no Service named \"nope\"",
        ),
    ];
    for (args, needle) in cases {
        let o = sweep(&out, None, args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?}: expected {needle} in\n{stderr}"
        );
        assert!(!out.exists());
    }
}

#[test]
fn the_shipped_sweep_file_is_valid_and_runs() {
    let out = scratch("sweep-shipped").join("out");
    let o = kubesim(&[
        "sweep",
        "scenarios/sizing-sweep/sweep.yaml",
        "--set",
        "duration=5m",
        "--replications",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    ok(&o);
    let summary = json(out.join("sweep.json"));
    assert_eq!(summary["variants"].as_array().unwrap().len(), 48);
}

/// The axes of the shard tests: 3 × 2 = 6 variants, 2 replications each.
const SHARDED: [&str; 6] = [
    "--axis",
    "hpa/web:spec.minReplicas=[2, 3, 4]",
    "--axis",
    "workloads[0].concurrency=[8, 16]",
    "--replications",
    "2",
];

fn merge(dirs: &[PathBuf], out: &Path) -> Output {
    let mut args = vec!["sweep".to_string(), "merge".into()];
    args.extend(dirs.iter().map(|d| d.display().to_string()));
    args.extend(["--out".into(), out.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    kubesim(&args)
}

#[test]
fn merged_shards_are_the_single_machine_sweep() {
    let dir = scratch("sweep-shards");
    let single = dir.join("single");
    ok(&sweep(&single, None, &SHARDED));
    for count in [1, 3, 7] {
        // Shards finish in any order; 7 shards of 6 variants leave one empty.
        let shards: Vec<PathBuf> = (0..count)
            .rev()
            .map(|i| dir.join(format!("{count}-{i}")))
            .collect();
        for (k, shard) in shards.iter().enumerate() {
            let spec = format!("{}/{count}", count - 1 - k);
            let mut args = SHARDED.to_vec();
            args.extend(["--shard", &spec]);
            ok(&sweep(shard, None, &args));
            assert!(shard.join("shard.json").is_file() && !shard.join("sweep.json").exists());
        }
        let merged = dir.join(format!("merged-{count}"));
        ok(&merge(&shards, &merged));
        for file in ["sweep.json", "sweep.csv"] {
            assert_eq!(
                read(single.join(file)),
                read(merged.join(file)),
                "{count} shards: {file}"
            );
        }
    }
    // A shard run as an Indexed Job's pod (index from the environment) is the same shard.
    let pod = dir.join("pod");
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubesim"));
    command
        .args(["sweep", QUICKSTART, "--set", "duration=15m", "--out"])
        .arg(&pod)
        .args(SHARDED)
        .args(["--shards", "3"])
        .env("JOB_COMPLETION_INDEX", "1")
        .current_dir(root());
    ok(&command.output().unwrap());
    assert_eq!(
        read(pod.join("shard.json")),
        read(dir.join("3-1").join("shard.json"))
    );
}

#[test]
fn merge_refuses_an_incomplete_or_mixed_set_of_shards() {
    let dir = scratch("sweep-merge-bad");
    let shard = |name: &str, spec: &str, extra: &[&str]| {
        let out = dir.join(name);
        let mut args = SHARDED.to_vec();
        args.extend(["--shard", spec]);
        args.extend(extra);
        ok(&sweep(&out, None, &args));
        out
    };
    let (a0, a1) = (shard("a0", "0/2", &[]), shard("a1", "1/2", &[]));
    let other = shard("b1", "1/2", &["--seed", "9"]);
    let out = dir.join("merged");
    let cases = [
        (vec![a0.clone()], "shard(s) 1 of 2 are missing"),
        (vec![a0.clone(), other], "a shard of another sweep"),
        (
            vec![a0.clone(), a0.clone(), a1.clone()],
            "shard 0 of 2 again",
        ),
        (
            vec![a0, dir.join("nowhere")],
            "cannot read a kubesim sweep shard",
        ),
    ];
    for (dirs, needle) in cases {
        let o = merge(&dirs, &out);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{dirs:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{dirs:?}: expected {needle} in\n{stderr}"
        );
        assert!(!out.exists());
    }
}

#[test]
fn the_job_manifest_is_an_indexed_batch_v1_job() {
    let o = kubesim(&[
        "sweep",
        "job",
        "scenarios/sizing-sweep/sweep.yaml",
        "--shards",
        "8",
        "--parallelism",
        "3",
        "--replications",
        "5",
    ]);
    ok(&o);
    let text = String::from_utf8(o.stdout).unwrap();
    let job: k8s_openapi::api::batch::v1::Job = serde_saphyr::from_str(&text).unwrap();
    let spec = job.spec.unwrap();
    assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
    assert_eq!((spec.completions, spec.parallelism), (Some(8), Some(3)));
    let pod = spec.template.spec.unwrap();
    let args = pod.containers[0].args.clone().unwrap();
    assert_eq!(
        args,
        [
            "sweep",
            "scenarios/sizing-sweep/sweep.yaml",
            "--shards",
            "8",
            "--out",
            "/results/sizing-sweep/shard-$(JOB_COMPLETION_INDEX)",
            "--replications",
            "5"
        ]
    );
    assert!(text.starts_with("# ") && text.contains("apiVersion: batch/v1\nkind: Job\n"));
}
