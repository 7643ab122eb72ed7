//! StatefulSets: pods with ordinals, created in order (each once the one before is Ready) or in
//! parallel, removed from the highest ordinal down, and updated one at a time from the highest
//! ordinal down to the partition.

use kubesim::engine::RunOutput;
use kubesim::metrics::pod_events::PodEventReason;

use crate::support::{load, run, scratch};

/// StatefulSet `db` (`replicas` pods of 1 cpu, 10 s to start, `extra` in its spec) on two
/// 4-cpu nodes, started cold; `events` as `spec.events`; `v2.yaml` holds the same StatefulSet
/// with image `db:v2`.
fn stateful(name: &str, replicas: u32, extra: &str, events: &str) -> RunOutput {
    let dir = scratch(name);
    let db = |image: &str, replicas: &str| {
        format!(
            r#"apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db}}
spec:
{replicas}  serviceName: db
{extra}  selector: {{matchLabels: {{app: db}}}}
  template:
    metadata: {{labels: {{app: db}}}}
    spec:
      containers:
        - name: db
          image: {image}
          resources: {{requests: {{cpu: "1", memory: 1Gi}}}}
"#
        )
    };
    std::fs::write(dir.join("v2.yaml"), db("db:v2", "")).unwrap();
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {name}}}
spec:
  duration: 10m
  startWarm: false
  cluster:
    nodePools:
      - name: general
        allocatable: {{cpu: "4", memory: 16Gi}}
        count: 2
  workloads:
    - deployment: db
      startupTime: 10s
  events:
    - {{at: 9m, action: cordon, node: general-0}}
{events}---
{}"#,
        db("db:v1", &format!("  replicas: {replicas}\n"))
    );
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, text).unwrap();
    run(&load(&path, None, &[]))
}

/// `(time, pod)` of the events with `reason`.
fn events(out: &RunOutput, reason: PodEventReason) -> Vec<(f64, String)> {
    out.pod_events
        .iter()
        .filter(|e| e.reason == reason)
        .map(|e| (e.t_seconds, e.pod.clone()))
        .collect()
}

fn at(t: f64, pod: &str) -> (f64, String) {
    (t, pod.to_string())
}

#[test]
fn ordered_ready_creates_each_pod_once_the_previous_one_is_ready() {
    // db-0 at 0 s (Ready 10 s), db-1 at 10 s (Ready 20 s), db-2 at 20 s.
    let out = stateful("sts-ordered", 3, "", "");
    assert_eq!(
        events(&out, PodEventReason::Created),
        vec![at(0.0, "db-0"), at(10.0, "db-1"), at(20.0, "db-2")]
    );
    // Parallel: all three at once.
    let parallel = stateful("sts-parallel", 3, "  podManagementPolicy: Parallel\n", "");
    assert_eq!(
        events(&parallel, PodEventReason::Created),
        vec![at(0.0, "db-0"), at(0.0, "db-1"), at(0.0, "db-2")]
    );
}

#[test]
fn scale_down_removes_the_highest_ordinal_first_one_at_a_time() {
    // 3 → 1 at 2 min: db-2 goes (idle, so at once), then db-1.
    let out = stateful(
        "sts-scale-down",
        3,
        "",
        "    - {at: 2m, action: scale, deployment: db, replicas: 1}\n",
    );
    assert_eq!(
        events(&out, PodEventReason::Killing),
        vec![at(120.0, "db-2"), at(120.0, "db-1")]
    );
}

#[test]
fn a_rolling_update_goes_down_from_the_highest_ordinal_to_the_partition() {
    // partition 1: db-2 is replaced at 120 s (Ready at 130 s), then db-1 (130 s); db-0 keeps
    // the old revision. The rollout never completes: one pod is below the partition.
    let out = stateful(
        "sts-rolling",
        3,
        "  updateStrategy: {rollingUpdate: {partition: 1}}\n",
        "    - {at: 2m, action: apply, manifest: v2.yaml}\n",
    );
    let created = events(&out, PodEventReason::Created);
    assert_eq!(&created[3..], &[at(120.0, "db-2"), at(130.0, "db-1")]);
    let db = &out.report.deployments[0];
    assert_eq!(db.pods_created, 5);
    assert_eq!(db.rollouts[0].completed_seconds, None);
    // Without a partition every pod is replaced: complete at 150 s.
    let all = stateful(
        "sts-rolling-all",
        3,
        "",
        "    - {at: 2m, action: apply, manifest: v2.yaml}\n",
    );
    assert_eq!(
        all.report.deployments[0].rollouts[0].completed_seconds,
        Some(150.0)
    );
}

#[test]
fn an_hpa_scales_a_stateful_set_whose_new_pods_come_one_at_a_time() {
    // 2 pods of 1 cpu get 300 req/s × 10 ms = 3 cpu: 150 % of their requests. The HPA (target
    // 50 %) asks for 6 at its first sync with metrics; OrderedReady adds db-2 … db-5 one
    // after another, each 10 s after the one before.
    let text = r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: sts-hpa}
spec:
  duration: 10m
  cluster:
    nodePools:
      - name: general
        allocatable: {cpu: "8", memory: 32Gi}
        count: 1
  workloads:
    - deployment: db
      startupTime: 10s
      cpuPerRequest: 10ms
  traffic:
    - service: db
      arrivals: {constant: {rate: 300}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
        - name: db
          resources: {requests: {cpu: "1", memory: 1Gi}, limits: {cpu: "2"}}
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  selector: {app: db}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: db}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: db}
  minReplicas: 2
  maxReplicas: 6
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
"#;
    let out = crate::support::run_text("sts-hpa", text);
    let created: Vec<(f64, String)> = events(&out, PodEventReason::Created)
        .into_iter()
        .filter(|(t, _)| *t > 0.0)
        .collect();
    let names: Vec<&str> = created.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(names, vec!["db-2", "db-3", "db-4", "db-5"]);
    for pair in created.windows(2) {
        assert_eq!(pair[1].0 - pair[0].0, 10.0, "{pair:?}");
    }
    assert_eq!(out.report.deployments[0].replicas.max, 6.0);
}
