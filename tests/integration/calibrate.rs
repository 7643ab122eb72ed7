//! `kubesim calibrate`: known truth (issue 50's validation (a)) — a run's own metrics,
//! exported in the formats users bring (the HTTP API's JSON, promtool's array, a wide CSV,
//! OpenMetrics text), give back the CPU per request within 5 % and its variability within
//! 15 %, and the replay matches the run; bad input is refused before anything is written.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use kubesim::scenario::prom_export::{Selector, Series, parse_text};
use serde_json::{Value, json};

use crate::support::{entries, kubesim, root, scratch, stderr};

/// The truth: 35 ms of CPU per request, cv 0.8 (the base scenario says 20 ms, cv 1.5).
const TRUE_CPU: &str = "workloads[0].cpuPerRequest={logNormal: {mean: 35ms, cv: 0.8}}";

/// Runs the quickstart with the true work and its export every 15 s; the export's series.
fn truth_run(dir: &Path) -> Vec<Series> {
    let om = dir.join("truth.om");
    let out = kubesim(&[
        "run",
        "scenarios/quickstart/scenario.yaml",
        "--set",
        TRUE_CPU,
        "--out",
        dir.join("truth").to_str().unwrap(),
        "--no-plots",
        "--no-trace",
        "--openmetrics",
        om.to_str().unwrap(),
        "-q",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&om).unwrap();
    parse_text("truth.om", &text).unwrap().series
}

fn select<'a>(series: &'a [Series], selector: &str) -> Vec<&'a Series> {
    let s = Selector::parse(selector).unwrap();
    series.iter().filter(|x| s.matches(x)).collect()
}

/// promtool's bare array: each series' labels and its values as strings, times in seconds.
fn promtool_json(series: &[&Series]) -> String {
    series_array(series).to_string()
}

/// The HTTP API's answer to a range query: the same array in its envelope.
fn api_json(series: &[&Series]) -> String {
    json!({"status": "success", "data": {"resultType": "matrix", "result": series_array(series)}})
        .to_string()
}

fn series_array(series: &[&Series]) -> Value {
    let result: Vec<Value> = (series.iter())
        .map(|s| {
            let values: Vec<Value> = (s.points.iter())
                .map(|&(ms, v)| json!([ms as f64 / 1000.0, format!("{v}")]))
                .collect();
            json!({"metric": s.labels, "values": values})
        })
        .collect();
    Value::Array(result)
}

/// A wide CSV with RFC 3339 times, one column per series.
fn wide_csv(series: &[&Series], column: impl Fn(&Series) -> String) -> String {
    let mut rows: BTreeMap<i64, BTreeMap<usize, f64>> = BTreeMap::new();
    for (i, s) in series.iter().enumerate() {
        for &(ms, v) in &s.points {
            rows.entry(ms).or_default().insert(i, v);
        }
    }
    let mut csv = String::from("time");
    for s in series {
        write!(csv, ",{}", column(s)).unwrap();
    }
    csv.push('\n');
    for (ms, values) in rows {
        let t = jiff::Timestamp::from_millisecond(ms).unwrap();
        write!(csv, "{t}").unwrap();
        for i in 0..series.len() {
            match values.get(&i) {
                Some(v) => write!(csv, ",{v}").unwrap(),
                None => csv.push(','),
            }
        }
        csv.push('\n');
    }
    csv
}

fn calibration(exports: &str) -> String {
    let base = root().join("scenarios/quickstart/scenario.yaml");
    format!(
        "apiVersion: kubesim.io/v1alpha1\nkind: Calibration\nmetadata: {{name: truth}}\nspec:\n  scenario: {}\n  services:\n    - service: web\n{exports}",
        base.display()
    )
}

fn fit_json(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("fit.json")).unwrap()).unwrap()
}

fn comparison<'a>(fit: &'a Value, name: &str) -> &'a Value {
    let list = fit["services"][0]["comparison"].as_array().unwrap();
    list.iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn a_runs_own_metrics_give_back_its_cpu_per_request_and_variability() {
    let dir = scratch("calibrate-truth");
    let series = truth_run(&dir);
    let requests = select(
        &series,
        r#"istio_requests_total{reporter="destination",destination_service_name="web"}"#,
    );
    let cpu = select(
        &series,
        r#"container_cpu_usage_seconds_total{pod=~"web-.*"}"#,
    );
    let latency = select(
        &series,
        r#"istio_request_duration_milliseconds_bucket{reporter="destination",destination_service_name="web"}"#,
    );
    let replicas = select(
        &series,
        r#"kube_deployment_status_replicas{deployment="web"}"#,
    );
    std::fs::write(dir.join("requests.json"), api_json(&requests)).unwrap();
    std::fs::write(dir.join("cpu.json"), promtool_json(&cpu)).unwrap();
    std::fs::write(dir.join("latency.json"), api_json(&latency)).unwrap();
    std::fs::write(
        dir.join("replicas.csv"),
        wide_csv(&replicas, |_| "replicas".into()),
    )
    .unwrap();
    let exports = "      requests: {file: requests.json}\n      cpu: {file: cpu.json}\n      latency: {file: latency.json, unit: milliseconds}\n      replicas: {file: replicas.csv, select: '{column=\"replicas\"}', timeColumn: time}\n";
    std::fs::write(dir.join("cal.yaml"), calibration(exports)).unwrap();
    let out_dir = dir.join("fitted");
    let out = kubesim(&[
        "calibrate",
        dir.join("cal.yaml").to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let fit = fit_json(&out_dir);
    let p = &fit["services"][0]["parameters"];
    let per_request = p["cpu_per_request_seconds"].as_f64().unwrap();
    let cv = p["cpu_per_request_cv"].as_f64().unwrap();
    assert_eq!(p["identified"], "both");
    assert!(
        (per_request / 0.035 - 1.0).abs() < 0.05,
        "CPU per request {per_request} s, truth 0.035 s"
    );
    assert!((cv / 0.8 - 1.0).abs() < 0.15, "cv {cv}, truth 0.8");
    // The fitted scenario says so, and its replay comes close to the run.
    let scenario = std::fs::read_to_string(out_dir.join("scenario.yaml")).unwrap();
    assert!(
        scenario.contains("rateSeries") && scenario.contains("traffic-1.csv"),
        "{scenario}"
    );
    for (name, bound) in [
        ("CPU per pod (cores)", 0.05),
        ("latency p99 (s)", 0.10),
        ("replicas", 0.05),
        ("requests per second", 0.02),
    ] {
        let c = comparison(&fit, name);
        let e = c["error_of_means"].as_f64().unwrap();
        assert!(e.abs() < bound, "{name}: error of the means {e}");
    }
    // The replay's export reads back as the observed did; the folder is a kubesim run's.
    let names = entries(&out_dir);
    for f in [
        "fit.html",
        "fit.json",
        "replay.om",
        "run.json",
        "scenario.yaml",
        "traffic-1.csv",
    ] {
        assert!(names.contains(&f.to_string()), "{names:?}");
    }
    // Run again into the same folder: kubesim replaces what it wrote, with the same bytes.
    let first = std::fs::read(out_dir.join("fit.json")).unwrap();
    let again = kubesim(&[
        "calibrate",
        dir.join("cal.yaml").to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "-q",
    ]);
    assert!(again.status.success(), "{}", stderr(&again));
    let second = std::fs::read(out_dir.join("fit.json")).unwrap();
    assert!(first == second, "fit.json differs between two calibrations");
}

#[test]
fn openmetrics_text_is_read_directly() {
    let dir = scratch("calibrate-openmetrics");
    truth_run(&dir);
    let exports = "      requests: {file: truth.om, select: 'istio_requests_total{reporter=\"destination\",destination_service_name=\"web\"}'}\n      cpu: {file: truth.om, select: 'container_cpu_usage_seconds_total{pod=~\"web-.*\"}'}\n      podCreated: {file: truth.om, select: 'kube_pod_created{pod=~\"web-.*\"}'}\n      podReady: {file: truth.om, select: 'kube_pod_status_ready{condition=\"true\",pod=~\"web-.*\"}'}\n";
    std::fs::write(dir.join("cal.yaml"), calibration(exports)).unwrap();
    let out_dir = dir.join("fitted");
    let out = kubesim(&[
        "calibrate",
        dir.join("cal.yaml").to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let fit = fit_json(&out_dir);
    let p = &fit["services"][0]["parameters"];
    assert!((p["cpu_per_request_seconds"].as_f64().unwrap() / 0.035 - 1.0).abs() < 0.05);
    // Start-up: 25 s mean in the quickstart, seen through a 15 s step.
    let startup = p["startup_mean_seconds"].as_f64().unwrap();
    assert!((startup - 25.0).abs() <= 7.5, "start-up {startup} s");
}

/// A bad input: the calibration's Service entry, the files beside it (name, text), and what the
/// message must say.
type BadCase<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

/// Each bad input: the calibration file's exports section, the files written, and what the
/// message must say. Exit 2, and no output folder.
#[test]
fn bad_input_is_refused_naming_the_file_and_field() {
    let dir = scratch("calibrate-bad");
    let good = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"r_total"},"values":[[0,"1"],[60,"61"],[120,"121"]]}]}}"#;
    let cases: [BadCase; 8] = [
        (
            "      requests: {file: e.json}\n",
            &[(
                "e.json",
                r#"{"status":"error","errorType":"bad_data","error":"parse error at char 4"}"#,
            )],
            "bad_data",
        ),
        (
            "      requests: {file: r.json}\n      cpu: {file: r.json, select: 'nothing_here'}\n",
            &[("r.json", good)],
            "matches none of the 1 series",
        ),
        (
            "      requests: {file: r.json}\n      cpus: {file: r.json}\n",
            &[("r.json", good)],
            "unknown field \"cpus\"",
        ),
        (
            "      requests: {file: r.json, unit: perHour}\n",
            &[("r.json", good)],
            "\"perHour\" is not a unit of requests",
        ),
        (
            "      cpu: {file: r.json}\n",
            &[("r.json", good)],
            "requests: required",
        ),
        ("      requests: {file: missing.json}\n", &[], "cannot read"),
        (
            "      requests: {file: r.json, select: 'r_total{a=b}'}\n",
            &[("r.json", good)],
            "must be in double quotes",
        ),
        (
            "      requests: {file: n.json}\n",
            &[(
                "n.json",
                r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[0,"NaN"],[60,""]]}]}}"#,
            )],
            "no usable series",
        ),
    ];
    for (i, (exports, files, want)) in cases.iter().enumerate() {
        let case = dir.join(format!("case-{i}"));
        std::fs::create_dir_all(&case).unwrap();
        for (name, text) in *files {
            std::fs::write(case.join(name), text).unwrap();
        }
        std::fs::write(case.join("cal.yaml"), calibration(exports)).unwrap();
        let out_dir = case.join("out");
        let out = kubesim(&[
            "calibrate",
            case.join("cal.yaml").to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "case {i}: {err}");
        assert!(err.contains(want), "case {i}: wanted {want:?} in {err}");
        assert!(
            err.contains("cal.yaml"),
            "case {i}: the file is named: {err}"
        );
        assert!(!out_dir.exists(), "case {i}: nothing is written");
    }
}

#[test]
fn a_service_or_deployment_the_base_does_not_have_is_named_with_those_it_has() {
    let dir = scratch("calibrate-names");
    let good = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"r_total"},"values":[[0,"1"],[60,"61"],[120,"121"]]}]}}"#;
    std::fs::write(dir.join("r.json"), good).unwrap();
    let text =
        calibration("      requests: {file: r.json}\n").replace("service: web", "service: shop");
    std::fs::write(dir.join("cal.yaml"), text).unwrap();
    let out = kubesim(&[
        "calibrate",
        dir.join("cal.yaml").to_str().unwrap(),
        "--out",
        dir.join("o").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("no Service \"shop\"") && err.contains("its Services: web"),
        "{err}"
    );
}

/// Validation (b): the Nezha study's Online Boutique metrics (scenarios/calibrate-boutique).
/// The shipped call graph carries the frontend's observed rate to every service within 11 %,
/// and each pod's CPU comes back within 11 %; the latencies are far off, whichever reading of
/// the recorded CPU (README: the numbers and why).
#[test]
fn the_nezha_boutique_calibrates_and_its_call_graph_carries_the_rates() {
    let dir = scratch("calibrate-nezha");
    let out_dir = dir.join("fitted");
    let out = kubesim(&[
        "calibrate",
        "scenarios/calibrate-boutique/calibration.yaml",
        "--out",
        out_dir.to_str().unwrap(),
        "-q",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let fit = fit_json(&out_dir);
    let services = fit["services"].as_array().unwrap();
    assert_eq!(services.len(), 10);
    for s in services {
        let name = s["service"].as_str().unwrap();
        let list = s["comparison"].as_array().unwrap();
        let get = |q: &str| list.iter().find(|c| c["name"] == q).unwrap();
        for (q, bound) in [
            ("requests per second", 0.11),
            ("working set per pod (MiB)", 0.01),
        ] {
            let e = get(q)["error_of_means"].as_f64().unwrap();
            assert!(e.abs() < bound, "{name} {q}: {e}");
        }
        // A flat load: only the ratio, except where CPU barely follows a rate that moves; the
        // frontend's calls render pages with CPU steps of their own, which the fit leaves be.
        let notes = s["notes"].to_string();
        assert_eq!(
            name == "frontend-external",
            notes.contains("`cpu` steps"),
            "{name}: {notes}"
        );
        if s["parameters"]["identified"] == "ratio_only" && !notes.contains("`cpu` steps") {
            let e = get("CPU per pod (cores)")["error_of_means"]
                .as_f64()
                .unwrap();
            assert!(e.abs() < 0.11, "{name} CPU: {e}");
        }
    }
}
