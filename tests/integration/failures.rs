//! Node failures end to end: a machine that stops takes its pods' requests down with it until
//! the node lifecycle controller finds it unreachable (50 s), and its pods come back elsewhere
//! only after the 300 s eviction timeout; `kubectl drain` moves pods through their budgets.

use kubesim::engine::RunOutput;
use kubesim::metrics::pod_events::PodEventReason;

use crate::support::{app_deployment, load, run, scratch};

/// Deployment `app` (4 pods of 1 cpu, 5 s to start) behind Service `app` at 100 req/s on two
/// 4-cpu nodes, with `events` as `spec.events`.
fn two_nodes(name: &str, events: &str, manifests: &str) -> RunOutput {
    let dir = scratch(name);
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {name}}}
spec:
  duration: 20m
  sampleInterval: 10s
  cluster:
    nodePools:
      - name: general
        allocatable: {{cpu: "4", memory: 16Gi}}
        count: 2
  workloads:
    - deployment: app
      startupTime: 5s
      cpuPerRequest: 10ms
  traffic:
    - service: app
      arrivals: {{constant: {{rate: 100}}}}
  events:
{events}
---
{deployment}---
apiVersion: v1
kind: Service
metadata: {{name: app}}
spec:
  selector: {{app: app}}
{manifests}"#,
        deployment = app_deployment(4, "1", "")
    );
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, text).unwrap();
    run(&load(&path, None, &[]))
}

fn column(out: &RunOutput, name: &str) -> Vec<(f64, f64)> {
    let series = &out.timeseries;
    let i = series.columns.iter().position(|c| c == name).unwrap();
    series.rows.iter().map(|r| (r[0], r[i])).collect()
}

fn failed(out: &RunOutput, reason: &str) -> u64 {
    out.report.services[0].failed_by_reason[reason]
}

#[test]
fn a_failed_nodes_pods_come_back_only_after_the_eviction_timeout() {
    // general-1 (2 of the 4 pods) stops at 300 s. Its pods keep their endpoints until the
    // controller's monitor sees 50 s without a heartbeat (350 s): requests sent there fail.
    // The NoExecute taint follows on the next pass (355 s); the pods' 300 s toleration runs
    // out at 655 s, they are deleted, and their replacements start on general-0 (room for
    // two more), Ready 5 s later.
    let out = two_nodes(
        "failed-node",
        "    - {at: 5m, action: failNode, node: general-1}",
        "",
    );
    assert!(failed(&out, "node_failure") > 0);
    for (t, ready) in column(&out, "deployment.app.ready") {
        let expected = match t {
            t if t < 300.0 => 4.0,
            t if (360.0..=650.0).contains(&t) => 2.0,
            t if t >= 670.0 => 4.0,
            _ => continue,
        };
        assert_eq!(ready, expected, "ready pods at {t} s");
    }
    let evicted: Vec<f64> = out
        .pod_events
        .iter()
        .filter(|e| e.reason == PodEventReason::Killing && e.message.contains("NoExecute"))
        .map(|e| e.t_seconds)
        .collect();
    assert_eq!(evicted, vec![655.0, 655.0]);
    // After the endpoints are gone nothing more fails.
    let failures_after = column(&out, "service.app.failed")
        .into_iter()
        .filter(|(t, f)| *t > 360.0 && *f > 0.0)
        .count();
    assert_eq!(failures_after, 0);
}
