//! The command line's contract: exit codes, JUnit output, help.

use crate::support::{kubesim, scratch};

#[test]
fn check_passes_shipped_slos_and_writes_junit() {
    let junit = scratch("junit-pass").join("junit.xml");
    let out = kubesim(&[
        "check",
        "scenarios/quickstart/scenario.yaml",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<testsuite name=\"quickstart\" tests=\"3\" failures=\"0\""),
        "{xml}"
    );
}

#[test]
fn check_exits_1_when_an_slo_fails() {
    let junit = scratch("junit-fail").join("junit.xml");
    // An impossible latency target: p99 under 1 ms.
    let out = kubesim(&[
        "check",
        "scenarios/quickstart/scenario.yaml",
        "--set",
        "slos[0].assert=latency.p99 <= 1ms",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAIL quickstart: service web: latency.p99 <= 1ms"),
        "{stdout}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("failures=\"1\"") && xml.contains("<failure message=\"latency.p99 &lt;= 1ms"),
        "{xml}"
    );
}

#[test]
fn usage_errors_exit_2_and_help_teaches() {
    assert_eq!(kubesim(&["run"]).status.code(), Some(2));
    assert_eq!(kubesim(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        kubesim(&["run", "no/such/scenario.yaml"]).status.code(),
        Some(2)
    );
    let help = kubesim(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for needle in ["run", "check", "validate", "Examples:", "Exit codes"] {
        assert!(text.contains(needle), "--help lacks {needle}: {text}");
    }
}

#[test]
fn validate_accepts_shipped_scenarios_and_plain_manifests() {
    let out = kubesim(&[
        "validate",
        "scenarios/quickstart/scenario.yaml",
        "scenarios/quickstart/web.yaml",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 file(s) valid"));
}

#[test]
fn bad_set_paths_are_input_errors() {
    let out = kubesim(&[
        "run",
        "scenarios/quickstart/scenario.yaml",
        "--set",
        "workloads[9].concurrency=2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("out of range"));
}

#[test]
fn explain_tells_why_in_sentences() {
    let out = kubesim(&["explain", "scenarios/quickstart/scenario.yaml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // At 0 s metrics-server has not scraped yet: the condition change is shown. The first sync
    // with metrics sees the warm pods above target and scales up.
    let mut lines = text.lines();
    assert!(
        lines.next().unwrap().contains("CPU unavailable (failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API)"),
        "{text}"
    );
    assert!(
        lines
            .next()
            .unwrap()
            .contains("against a 60% utilization target on 3 ready pods"),
        "{text}"
    );
    assert!(text.contains("→ scaled 3 → "), "{text}");
    assert!(
        text.contains(
            "the scale-down stabilization window keeps the highest recent recommendation"
        ),
        "{text}"
    );
    let at = kubesim(&[
        "explain",
        "scenarios/quickstart/scenario.yaml",
        "--at",
        "00:00:15",
    ]);
    assert_eq!(String::from_utf8_lossy(&at.stdout).lines().count(), 1);
    let unknown = kubesim(&[
        "explain",
        "scenarios/hpa-behavior/scenario.yaml",
        "--hpa",
        "web-tunde",
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("did you mean \"web-tuned\""));
}

#[test]
fn explain_deployment_tells_a_reconcile_and_refuses_what_is_not_there() {
    let scenario = "scenarios/rolling-update/scenario.yaml";
    let at = kubesim(&[
        "explain",
        scenario,
        "--deployment",
        "web-surge",
        "--at",
        "01:00:26.1",
    ]);
    assert_eq!(
        at.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&at.stderr)
    );
    let text = String::from_utf8_lossy(&at.stdout);
    // 20 replicas, maxSurge 25 % → 5, maxUnavailable 0: at most 25 pods, at least 20
    // available. The old ReplicaSet has just gone 20 → 19, so 19 + 5 = 24 are asked for: the
    // new one may grow by 1.
    assert!(
        text.starts_with("01:00:26.033 web-surge: maxSurge 25% of 20 rounds up to 5 and maxUnavailable 0, so up to 25 pods and at least 20 available; the ReplicaSets ask for 24 ("),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("5 → 6; the old keep 19 until new pods are available (1 so far)."),
        "{text}"
    );
    let unknown = kubesim(&["explain", scenario, "--deployment", "web-surg"]);
    assert_eq!(unknown.status.code(), Some(2));
    let message = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        message.contains("no Deployment \"web-surg\" in this scenario")
            && message.contains("did you mean \"web-surge\"")
            && message.contains("it has: web-surge, web-no-surge"),
        "{message}"
    );
    let late = kubesim(&[
        "explain",
        scenario,
        "--deployment",
        "web-surge",
        "--at",
        "3h",
    ]);
    assert_eq!(late.status.code(), Some(2));
    let message = String::from_utf8_lossy(&late.stderr);
    assert!(
        message.contains("--at 03:00:00: the run lasts 2h"),
        "{message}"
    );
    assert!(late.stdout.is_empty());
}

#[test]
fn explain_node_tells_a_failed_nodes_lifecycle_and_refuses_what_is_not_there() {
    // general-1 (zone b, one of its two nodes) stops at 60 m. 50 s without a heartbeat: the
    // node lifecycle controller marks it NotReady and, zone b being healthy (1 of 2 nodes
    // unreachable), taints it NoExecute at once; the pod's default 300 s toleration runs out
    // at 01:05:50, it is evicted and its ReplicaSet replaces it. The machine returns at 90 m.
    let scenario = "scenarios/node-failure/scenario.yaml";
    let told = kubesim(&["explain", scenario, "--node", "general-1"]);
    assert_eq!(
        told.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&told.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&told.stdout),
        r#"node general-1 (pool general, zone b)
what happened to the machine, and what the node lifecycle controller did:
  01:00:00  NodeFailed            scripted: fail-node
  01:00:50  NodeNotReady          no heartbeat since 01:00:00 (50s ago, more than the 50s grace period): Ready=Unknown, tainted node.kubernetes.io/unreachable:NoSchedule so nothing new is scheduled here, and its 1 running pod(s) marked not Ready, out of their Services' endpoints
  01:00:50  NodeTainted           tainted node.kubernetes.io/unreachable:NoExecute as soon as it turned NotReady: zone b has 1 of 2 node(s) unreachable: healthy, one node every 10s (--node-eviction-rate 0.1); 1 pod(s) go 5m0s later (the default toleration, --default-unreachable-toleration-seconds)
  01:05:50  TaintManagerEviction  the taint manager evicts 1 pod(s) whose toleration ran out: web-spread-7b67fb794f-l9pfb (5m0s after the taint)
  01:30:00  NodeRecovered         scripted: recover-node
  01:30:00  NodeReady             heartbeating again after 29m10s NotReady: Ready=True, the unreachable taints removed, its pods Ready again
its pods that were lost, and their replacements:
  web-spread-7b67fb794f-l9pfb → web-spread-7b67fb794f-4kqhb, created at 01:05:50, bound to general-4 at 01:05:50
"#
    );
    // A node nothing happened to, in a scenario without a node autoscaler.
    let quiet = kubesim(&["explain", scenario, "--node", "general-2"]);
    assert_eq!(
        String::from_utf8_lossy(&quiet.stdout),
        "node general-2 (pool general, zone c)\nnothing happened to it: its heartbeat never stopped, nothing cordoned, drained or failed it, and none of its pods was replaced; no node autoscaler runs in this scenario\n"
    );
    let unknown = kubesim(&["explain", scenario, "--node", "general-9"]);
    assert_eq!(unknown.status.code(), Some(2));
    let message = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        message.contains("no node \"general-9\" in this run")
            && message.contains(
                "it had: general-0, general-1, general-2, general-3, general-4, general-5"
            ),
        "{message}"
    );
    assert!(unknown.stdout.is_empty());
}

#[test]
fn explain_pod_lists_the_longest_waits_and_tells_one_pods_story() {
    let scenario = "scenarios/gpu-placement/scenario.yaml";
    let list = kubesim(&["explain", scenario, "--pod", "--limit", "3"]);
    assert_eq!(
        list.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let text = String::from_utf8_lossy(&list.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].contains("pods were unschedulable at least once"),
        "{text}"
    );
    assert!(lines[1].starts_with("POD"), "{text}");
    assert!(lines[5].starts_with("… and"), "{text}");
    let longest = lines[2].split_whitespace().next().unwrap();
    let one = kubesim(&["explain", scenario, "--pod", longest]);
    let story = String::from_utf8_lossy(&one.stdout);
    assert!(
        story.starts_with(&format!("Pod {longest} (owner ")),
        "{story}"
    );
    assert!(
        story.contains("Warning  FailedScheduling  0/1523 nodes are available: "),
        "{story}"
    );
    assert!(story.contains("failed scheduling attempts."), "{story}");
    // Every node said Insufficient something: NodeResourcesFit, which a freed pod can satisfy.
    assert!(
        story.contains("Rejected by NodeResourcesFit: it is tried again when a node is added"),
        "{story}"
    );
    let unknown = kubesim(&["explain", scenario, "--pod", "no-such-pod"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no pod \"no-such-pod\""));
}

#[test]
fn extreme_values_that_validate_run_and_those_that_cannot_are_refused() {
    // Issue 19's reproducers: a 4 294 967 295-request concurrency once reserved 68 GB, and an
    // arrival rate of 1e-14/s indexed past its last rate segment; both must simply run. A
    // log-normal cv of 1.4e154 overflowed σ and panicked; it is refused, located.
    let dir = crate::support::scratch("extreme-values");
    let scenario = |cv: &str| {
        format!(
            r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: extreme}}
spec:
  duration: 10m
  cluster:
    nodePools:
      - {{name: pool, count: 1, allocatable: {{cpu: "4", memory: 16Gi}}}}
  workloads:
    - {{deployment: web, cpuPerRequest: {{logNormal: {{mean: 10ms, cv: {cv}}}}}, concurrency: 4294967295}}
  traffic:
    - {{service: web, arrivals: {{constant: {{rate: 1e-14}}}}}}
{}"#,
            crate::support::deployment_and_service("web", 1, "250m")
        )
    };
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, scenario("1")).unwrap();
    let out_dir = dir.join("run");
    let out = kubesim(&[
        "run",
        path.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&path, scenario("1.4e154")).unwrap();
    let out = kubesim(&["validate", path.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(":10:") && err.contains("logNormal.cv: 1.4e154 is out of range"),
        "{err}"
    );
}

#[test]
fn a_set_naming_no_object_lists_the_objects_of_its_kind() {
    let out = kubesim(&[
        "run",
        "scenarios/quickstart/scenario.yaml",
        "--set",
        "Deployment/webx:spec.replicas=2",
        "--out",
        "/nonexistent-never-written",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--set Deployment/webx:spec.replicas=2: no Deployment named \"webx\" in namespace \"default\" (there are: Deployment/default/web)"),
        "{err}"
    );
}

#[test]
fn errors_in_set_values_name_the_set_not_a_line_of_a_file() {
    // Each value is validated as if written in the file, and its errors are given back to the
    // --set that wrote it: a scenario field, a nested value, a manifest field.
    let cases = [
        (
            "duration=abc",
            "--set duration=abc: spec.duration: \"abc\" has an unknown unit",
        ),
        (
            "traffic[0].arrivals={constant: {rate: x}}",
            "--set traffic[0].arrivals={constant: {rate: x}}: spec.traffic[0].arrivals.constant.rate: invalid type: string \"x\"",
        ),
        (
            "hpa/web:spec.minReplicas=many",
            "--set hpa/web:spec.minReplicas=many: spec.minReplicas: invalid type: string \"many\"",
        ),
    ];
    for (set, expected) in cases {
        let out = kubesim(&["run", "scenarios/quickstart/scenario.yaml", "--set", set]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.starts_with(expected), "{set}: {err}");
    }
}

#[test]
fn a_scenario_argument_that_is_not_a_file_is_named_as_the_argument() {
    let cases = [
        (
            vec!["run", "scenarios"],
            "scenarios: the SCENARIO argument is a directory; name a file",
        ),
        (
            vec!["check", "no-such-scenario.yaml"],
            "no-such-scenario.yaml: the SCENARIO argument names no file",
        ),
        (
            vec!["validate", "no-such-file.yaml"],
            "no-such-file.yaml: the FILE argument names no file",
        ),
    ];
    for (args, expected) in cases {
        let out = kubesim(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with(expected), "{args:?}: {err}");
    }
}

#[test]
fn quiet_prints_only_what_went_wrong() {
    let dir = scratch("quiet");
    let out_dir = dir.join("run");
    // A run: nothing on either stream, every file written, and the summary's deployment
    // happenings appear without --quiet.
    let quiet = kubesim(&[
        "run",
        "scenarios/quickstart/scenario.yaml",
        "--set",
        "duration=10m",
        "--quiet",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(quiet.status.code(), Some(0));
    assert!(
        quiet.stdout.is_empty() && quiet.stderr.is_empty(),
        "{quiet:?}"
    );
    assert!(out_dir.join("report.json").is_file() && out_dir.join("report.html").is_file());
    // check -q: the FAIL line only, not the PASS lines; same exit code.
    let check = kubesim(&[
        "-q",
        "check",
        "scenarios/quickstart/scenario.yaml",
        "--set",
        "duration=10m",
        "--set",
        "slos[0].assert=latency.p99 <= 1ms",
    ]);
    assert_eq!(check.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("FAIL quickstart:"), "{stdout}");
    // validate -q: the skipped-kind note is left out, errors are not.
    let notes = kubesim(&["validate", "scenarios/online-boutique/scenario.yaml"]);
    let told = String::from_utf8_lossy(&notes.stderr);
    assert_eq!(told.matches("note: kind: skipped").count(), 1, "{told}");
    assert!(told.contains("skipped 11 ServiceAccount objects"), "{told}");
    let silent = kubesim(&["validate", "-q", "scenarios/online-boutique/scenario.yaml"]);
    assert!(
        silent.stdout.is_empty() && silent.stderr.is_empty(),
        "{silent:?}"
    );
    let bad = kubesim(&[
        "validate",
        "-q",
        "tests/bad-input/max-below-min/scenario.yaml",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("error"));
}

#[test]
fn the_summary_tells_rollouts_restarts_and_throttling() {
    let out = kubesim(&[
        "run",
        "scenarios/rolling-update/scenario.yaml",
        "--no-trace",
        "--out",
        scratch("happenings").join("run").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The scenario applies v2 of both Deployments at 1h (spec.events).
    assert!(
        stdout.contains("web-surge: rollout to revision 2 at 01:00:00, complete after"),
        "{stdout}"
    );
    assert!(
        stdout.contains("web-surge: CPU throttled by its limit in"),
        "{stdout}"
    );
}
