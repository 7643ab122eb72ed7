//! The run's history: `history.jsonl`, `kubesim get KIND RUN_DIR --at T`, and `trace.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use kubesim::metrics::history::{ClusterAt, Line};
use kubesim::output::get::read_history;
use serde_json::Value;

use crate::support::{kubesim, scratch};

fn run_into(name: &str, scenario: &str) -> PathBuf {
    let dir = scratch(name).join("run");
    let args = [
        "run",
        scenario,
        "--out",
        dir.to_str().unwrap(),
        "--no-plots",
    ];
    let out = kubesim(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    dir
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn get(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["get"];
    all.extend_from_slice(&args[..1]);
    all.push(dir.to_str().unwrap());
    all.extend_from_slice(&args[1..]);
    kubesim(&all)
}

/// The timeseries as columns by name.
fn timeseries(dir: &Path) -> BTreeMap<String, Vec<f64>> {
    let mut reader = csv::Reader::from_path(dir.join("timeseries.csv")).unwrap();
    let names: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let mut columns: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for row in reader.records() {
        for (name, cell) in names.iter().zip(row.unwrap().iter()) {
            columns
                .entry(name.clone())
                .or_default()
                .push(cell.parse().unwrap());
        }
    }
    columns
}

/// Instants at which the history records a change.
fn change_times(lines: &[Line]) -> BTreeSet<u64> {
    lines
        .iter()
        .filter_map(kubesim::metrics::history::line_time)
        .map(|t| (t * 1e6) as u64)
        .collect()
}

/// The pods Ready at t, replayed from the history, equal the ready count the run sampled at t
/// — at every sample with no change at that very instant (where the sample may have been taken
/// before or after the change: events at one instant run in the order they were scheduled).
fn ready_pods_match_the_timeseries(name: &str, scenario: &str) {
    let dir = run_into(name, scenario);
    let lines = read_history(&dir).unwrap();
    let series = timeseries(&dir);
    let changes = change_times(&lines);
    let deployments: Vec<String> = series
        .keys()
        .filter_map(|k| k.strip_prefix("deployment.")?.strip_suffix(".ready"))
        .map(String::from)
        .collect();
    assert!(!deployments.is_empty());
    let (mut compared, mut skipped) = (0, 0);
    for (i, &t) in series["t_seconds"].iter().enumerate() {
        if changes.contains(&((t * 1e6) as u64)) {
            skipped += 1;
            continue;
        }
        let at = ClusterAt::replay(&lines, t).unwrap();
        for d in &deployments {
            let ready = at
                .pods
                .values()
                .filter(|p| p.ready && at.workload_of(p) == Some(d.as_str()))
                .count();
            let sampled = series[&format!("deployment.{d}.ready")][i];
            assert_eq!(ready as f64, sampled, "{d} at {t} s");
        }
        compared += 1;
    }
    assert!(
        compared > 10 * skipped.max(1),
        "{compared} compared, {skipped} skipped"
    );
}

#[test]
fn pods_ready_at_any_instant_match_the_timeseries_quickstart() {
    ready_pods_match_the_timeseries("history-qs", "scenarios/quickstart/scenario.yaml");
}

#[test]
fn pods_ready_at_any_instant_match_the_timeseries_node_failure() {
    ready_pods_match_the_timeseries("history-nf", "scenarios/node-failure/scenario.yaml");
}

#[test]
fn get_prints_kubectl_tables_and_objects_at_an_instant() {
    let dir = run_into("get-nf", "scenarios/node-failure/scenario.yaml");
    // The scenario fails general-1 at 1h; the node lifecycle controller marks it NotReady
    // after its grace period, and evicts its pods after the eviction timeout.
    let out = get(&dir, &["nodes", "--at", "59m"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let header = text.lines().next().unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["NAME", "STATUS", "ROLES", "AGE"]
    );
    assert!(text.contains("general-1   Ready"), "{text}");
    let later = get(&dir, &["nodes", "--at", "1h2m"]);
    let later = String::from_utf8(later.stdout).unwrap();
    assert!(later.contains("general-1   NotReady"), "{later}");

    let wide = get(
        &dir,
        &["pods", "--at", "1h6m", "-o", "wide", "-l", "app=web-spread"],
    );
    let wide = String::from_utf8(wide.stdout).unwrap();
    assert!(wide.lines().next().unwrap().ends_with("NODE"), "{wide}");
    assert!(
        wide.lines().skip(1).all(|l| l.starts_with("web-spread-")),
        "{wide}"
    );
    assert!(
        wide.contains("Terminating"),
        "the failed node's pod is evicted: {wide}"
    );

    let json = get(&dir, &["pods", "--at", "30m", "-o", "json"]);
    let list: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for pod in items {
        assert_eq!(pod["kind"], "Pod");
        assert!(pod["spec"]["nodeName"].is_string());
        // k8s-openapi reads back what was printed.
        let _: k8s_openapi::api::core::v1::Pod = serde_json::from_value(pod.clone()).unwrap();
    }
    let yaml = get(&dir, &["deploy", "--at", "30m", "-o", "yaml"]);
    assert!(
        String::from_utf8(yaml.stdout)
            .unwrap()
            .contains("kind: Deployment")
    );
}

#[test]
fn get_refuses_what_it_cannot_answer_with_exit_2() {
    let dir = run_into("get-bad", "scenarios/quickstart/scenario.yaml");
    let cases: [(&[&str], &str); 4] = [
        (&["pods", "--at", "3h"], "the run ended at 2h0m0s"),
        (&["pods", "--at", "soon"], "--at"),
        (&["pods", "-l", "app in web"], "-l"),
        (
            &["deploy", "-l", "app=web"],
            "labels of pods and nodes only",
        ),
    ];
    for (args, expected) in cases {
        let out = get(&dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let empty = get(&dir, &["pods", "-n", "other"]);
    assert_eq!(empty.status.code(), Some(0));
    assert!(stderr(&empty).contains("No resources found in other namespace."));
    let nowhere = scratch("get-nowhere");
    let out = kubesim(&["get", "pods", nowhere.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    // An empty folder is not taken for a run of an older kubesim: it is no run at all.
    assert!(
        stderr(&out).contains("is not a run directory (it has no run.json)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn trace_json_is_a_chrome_trace_of_the_run() {
    let dir = run_into("trace-nf", "scenarios/node-failure/scenario.yaml");
    let trace: Value = serde_json::from_slice(&fs::read(dir.join("trace.json")).unwrap()).unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    let named: BTreeSet<u64> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "process_name")
        .map(|e| e["pid"].as_u64().unwrap())
        .collect();
    for e in events {
        let ph = e["ph"].as_str().unwrap();
        assert!(["M", "X", "i", "C"].contains(&ph), "{e}");
        assert!(
            named.contains(&e["pid"].as_u64().unwrap()),
            "unnamed process: {e}"
        );
        if ph == "X" {
            assert!(e["dur"].as_i64().unwrap() > 0, "{e}");
            assert!(e["ts"].as_i64().unwrap() >= 0, "{e}");
        }
    }
    let node_names: Vec<&str> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "process_name")
        .filter_map(|e| e["args"]["name"].as_str())
        .filter(|n| n.starts_with("node "))
        .collect();
    assert_eq!(node_names.len(), 6, "a process per node: {node_names:?}");
    let has = |ph: &str, name: &str| events.iter().any(|e| e["ph"] == ph && e["name"] == name);
    assert!(
        has("X", "NotReady (unreachable)"),
        "the failed node's status"
    );
    assert!(has("X", "Running (Ready)") && has("X", "Terminating"));
    assert!(
        events
            .iter()
            .any(|e| e["ph"] == "i" && e["s"] == "g" && e["ts"] == 3_600_000_000i64),
        "the scripted failure at 1h across every track"
    );
    assert!(has("C", "nodes") && has("C", "web-spread replicas"));
}

#[test]
fn hpa_decisions_are_instants_with_their_conditions() {
    let dir = run_into("trace-qs", "scenarios/quickstart/scenario.yaml");
    let trace: Value = serde_json::from_slice(&fs::read(dir.join("trace.json")).unwrap()).unwrap();
    let scale_ups: Vec<&Value> = trace["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "i" && e["name"].as_str().unwrap().starts_with("HPA web: 3 → 5"))
        .collect();
    assert!(!scale_ups.is_empty());
    let args = &scale_ups[0]["args"];
    assert_eq!(args["desired_replicas"], 5);
    assert!(args["conditions"][0]["message"].is_string());
    // Made while the run went, in a part of the run directory that is gone once in the trace.
    let names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".part")), "{names:?}");
}

#[test]
fn history_and_trace_are_the_same_bytes_on_every_run() {
    let a = run_into("history-det-a", "scenarios/rolling-update/scenario.yaml");
    let b = run_into("history-det-b", "scenarios/rolling-update/scenario.yaml");
    for file in ["history.jsonl", "trace.json"] {
        assert_eq!(
            fs::read(a.join(file)).unwrap(),
            fs::read(b.join(file)).unwrap(),
            "{file}"
        );
    }
}
