//! Every shipped scenario runs, meets its own SLOs, and is deterministic.

use kubesim::engine::{self, Records, RunOptions, RunOutput};
use kubesim::output::report_json;

use crate::support::{kubesim, load, run, scratch, shipped_scenarios};

#[test]
fn every_shipped_scenario_runs_and_meets_its_slos() {
    let scenarios = shipped_scenarios();
    assert!(
        scenarios.len() >= 2,
        "expected the shipped scenarios, found {scenarios:?}"
    );
    for path in scenarios {
        let scenario = load(&path, None, &[]);
        let out = run(&scenario);
        let report = &out.report;
        let pods: u64 = report.deployments.iter().map(|d| d.pods_created).sum();
        assert!(
            report.totals.requests > 0 || pods > 0,
            "{}: neither requests nor pods",
            path.display()
        );
        for slo in &report.slos {
            assert!(
                slo.passed,
                "{}: SLO {} failed: {:?}",
                path.display(),
                slo.name,
                slo.actual
            );
        }
    }
}

#[test]
fn same_seed_gives_identical_report_bytes_and_another_seed_differs() {
    let path = crate::support::root().join("scenarios/quickstart/scenario.yaml");
    let first = report_json(&run(&load(&path, None, &[])).report);
    let second = report_json(&run(&load(&path, None, &[])).report);
    assert_eq!(first, second, "same seed, different report");
    let other = report_json(&run(&load(&path, Some(7), &[])).report);
    assert_ne!(first, other, "a different seed should change the results");
}

#[test]
fn call_graphs_and_contended_nodes_are_deterministic() {
    // Calls, retries with jitter, timeouts and CPU shares re-divided on every arrival: two runs
    // of the same seed give the same bytes (report, time series, HPA decisions).
    let root = crate::support::root();
    for (path, overrides) in [
        (
            "scenarios/online-boutique/scenario.yaml",
            &["duration=20m"][..],
        ),
        ("scenarios/ai-agent/scenario.yaml", &[][..]),
        (
            "benches/scenarios/saturated-node/scenario.yaml",
            &["duration=2m"][..],
        ),
    ] {
        let outputs: Vec<_> = (0..2)
            .map(|_| run(&load(&root.join(path), None, overrides)))
            .collect();
        assert!(
            output_bytes(&outputs[0]) == output_bytes(&outputs[1]),
            "{path}: runs differ"
        );
    }
}

/// A run's report, time series and HPA decisions as bytes, to compare runs.
pub(crate) fn output_bytes(o: &RunOutput) -> (String, String, Vec<String>) {
    let decisions: Vec<String> = o
        .hpa_decisions
        .iter()
        .map(|d| serde_json::to_string(d).unwrap())
        .collect();
    (
        report_json(&o.report),
        format!("{:?}", o.timeseries.rows),
        decisions,
    )
}

#[test]
fn drawing_ahead_on_a_second_thread_changes_no_output() {
    // Arrival times and CPU work drawn ahead by a helper thread are the numbers the engine
    // would have drawn itself: Poisson and rate-pattern arrivals, log-normal and exponential
    // work, call graphs, LLM serving, contended nodes.
    let root = crate::support::root();
    for (path, overrides) in [
        ("scenarios/simpy-peer/scenario.yaml", &["duration=10m"][..]),
        ("scenarios/quickstart/scenario.yaml", &[][..]),
        (
            "scenarios/online-boutique/scenario.yaml",
            &["duration=20m"][..],
        ),
        ("scenarios/ai-agent/scenario.yaml", &[][..]),
        ("scenarios/llm-inference/scenario.yaml", &[][..]),
        (
            "benches/scenarios/saturated-node/scenario.yaml",
            &["duration=2m"][..],
        ),
    ] {
        let scenario = load(&root.join(path), None, overrides);
        let runs = [false, true].map(|draw_ahead| {
            let options = RunOptions {
                draw_ahead,
                ..RunOptions::default()
            };
            engine::run_with_options(&scenario, &mut |_| {}, Records::Keep, options)
                .expect("scenario runs")
        });
        assert!(runs[0].report.totals.requests > 0, "{path}: no requests");
        assert!(
            output_bytes(&runs[0]) == output_bytes(&runs[1]),
            "{path}: drawing ahead changed the output"
        );
    }
}

#[test]
fn cli_runs_write_byte_identical_reports() {
    let dir = scratch("determinism-cli");
    let (a, b) = (dir.join("a"), dir.join("b"));
    for out in [&a, &b] {
        let o = kubesim(&[
            "run",
            "scenarios/quickstart/scenario.yaml",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let read = |d: &std::path::Path, f: &str| std::fs::read(d.join(f)).unwrap();
    for file in [
        "report.json",
        "timeseries.csv",
        "hpa_decisions.jsonl",
        "pod_events.jsonl",
        "scenario.resolved.yaml",
    ] {
        assert_eq!(
            read(&a, file),
            read(&b, file),
            "{file} differs between identical runs"
        );
    }
    let run_json = String::from_utf8(read(&a, "run.json")).unwrap();
    assert!(
        run_json.contains("\"wall_seconds\""),
        "wall time belongs in run.json"
    );
    assert!(
        !String::from_utf8(read(&a, "report.json"))
            .unwrap()
            .contains("wall"),
        "no wall-clock values in report.json"
    );
}

#[test]
fn quickstart_autoscales_with_the_traffic() {
    let path = crate::support::root().join("scenarios/quickstart/scenario.yaml");
    let out = run(&load(&path, None, &[]));
    let d = &out.report.deployments[0];
    // The day's traffic rises ~5× from night to afternoon: the HPA must scale up and back down.
    assert!(d.scale_ups > 0 && d.scale_downs > 0, "{d:?}");
    assert!(d.replicas.max > d.replicas.min, "{d:?}");
    assert!(!out.hpa_decisions.is_empty());
}

#[test]
fn overrides_and_seed_flags_change_the_run() {
    let path = crate::support::root().join("scenarios/quickstart/scenario.yaml");
    let short = load(
        &path,
        Some(3),
        &["duration=10m", "workloads[0].concurrency=4"],
    );
    assert_eq!(short.duration.to_string(), "10m0s");
    assert_eq!(short.seed, 3);
    assert_eq!(short.deployments[0].workload.concurrency, 4);
    assert!(
        short.resolved_yaml.contains("duration: 10m0s"),
        "{}",
        short.resolved_yaml
    );
}

#[test]
fn manifest_overrides_give_the_run_of_an_edited_copy() {
    // `--set` into the HPA and the Deployment's container gives byte for byte the run of a
    // copy of the scenario whose manifest was edited by hand, and not the unchanged run.
    let shipped = crate::support::root().join("scenarios/quickstart");
    let dir = scratch("set-manifests");
    for file in ["scenario.yaml", "nasa-1995-07-05.csv"] {
        std::fs::copy(shipped.join(file), dir.join(file)).unwrap();
    }
    let manifests = std::fs::read_to_string(shipped.join("web.yaml")).unwrap();
    let edited = manifests
        .replace("minReplicas: 2", "minReplicas: 6")
        .replace("requests: {cpu: 500m,", "requests: {cpu: 250m,");
    assert_ne!(edited, manifests);
    std::fs::write(dir.join("web.yaml"), edited).unwrap();
    let short = "duration=20m";
    let by_hand = run(&load(&dir.join("scenario.yaml"), None, &[short]));
    let overridden = load(
        &shipped.join("scenario.yaml"),
        None,
        &[
            short,
            "hpa/web:spec.minReplicas=6",
            "Deployment/web:spec.template.spec.containers[0].resources.requests.cpu=250m",
        ],
    );
    assert_eq!(overridden.hpas[0].min_replicas, 6);
    assert_eq!(overridden.deployments[0].pod.requests.cpu_millis, 250);
    let overridden = run(&overridden);
    let unchanged = run(&load(&shipped.join("scenario.yaml"), None, &[short]));
    assert_eq!(
        report_json(&overridden.report),
        report_json(&by_hand.report)
    );
    assert_ne!(
        report_json(&overridden.report),
        report_json(&unchanged.report)
    );
}
