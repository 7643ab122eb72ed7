//! StatefulSets: pods with ordinals, created in order (each once the one before is Ready) or in
//! parallel, removed from the highest ordinal down, and updated one at a time from the highest
//! ordinal down to the partition; `kubesim explain --statefulset` tells those steps.

use kubesim::engine::RunOutput;
use kubesim::metrics::pod_events::PodEventReason;
use kubesim::output::explain;

use crate::support::{kubesim, load, run, scratch, stderr};

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

/// `kubesim explain --statefulset db` of a run.
fn story(out: &RunOutput) -> String {
    explain::statefulset::story(&out.stateful_records, &out.pod_events, "db").expect("db ran")
}

#[test]
fn explain_tells_the_ordered_steps_and_the_scale_down() {
    // As `ordered_ready_creates_each_pod_once_the_previous_one_is_ready` and
    // `scale_down_removes_the_highest_ordinal_first_one_at_a_time` derive: db-0 at 0 s, each
    // next pod 10 s later once the one before is Ready; at 2 min 3 → 1 removes db-2, then
    // db-1 (idle pods go at once). The waits are told while the pod before is starting.
    let out = stateful(
        "sts-explain-ordered",
        3,
        "",
        "    - {at: 2m, action: scale, deployment: db, replicas: 1}\n",
    );
    let expected = "StatefulSet db: replicas 3, podManagementPolicy OrderedReady, updateStrategy RollingUpdate
00:00:00 db-0 is created (OrderedReady: one pod at a time, in ordinal order, each once the one before is available, up to replicas 3)
00:00:00 db-0 is not available (ContainerCreating): OrderedReady waits for it before creating db-1
00:00:10 db-0 is available (Running and Ready), so db-1 is created (OrderedReady)
00:00:10 db-1 is not available (ContainerCreating): OrderedReady waits for it before creating db-2
00:00:20 db-0 and db-1 are available (Running and Ready), so db-2 is created (OrderedReady)
00:02:00 replicas 1, so db-2 is deleted (OrderedReady: the highest ordinal first, one at a time, each once the one before is gone)
00:02:00 replicas 1, so db-1 is deleted (OrderedReady)
";
    assert_eq!(story(&out), expected);
    let parallel = stateful(
        "sts-explain-parallel",
        3,
        "  podManagementPolicy: Parallel\n",
        "    - {at: 2m, action: scale, deployment: db, replicas: 1}\n",
    );
    let expected =
        "StatefulSet db: replicas 3, podManagementPolicy Parallel, updateStrategy RollingUpdate
00:00:00 db-0, db-1 and db-2 are created (Parallel: every missing ordinal below replicas 3 at once)
00:02:00 replicas 1, so db-2 and db-1 are deleted (Parallel: all at once)
";
    assert_eq!(story(&parallel), expected);
}

#[test]
fn explain_tells_the_partitioned_update_a_recreated_pod_and_a_pod_stuck_terminating() {
    // partition 1: v2 at 2 min replaces db-2 (120 s) then db-1 (130 s), as
    // `a_rolling_update_goes_down_from_the_highest_ordinal_to_the_partition` derives; db-0
    // stays at v1. The machine of general-0 (db-1's node) fails at 3 min. At 4 min
    // `deletePod` deletes the oldest pod, db-0: below the partition it comes back from the
    // current revision (v1, status.currentRevision), though no v1 pod is left. general-0 is
    // NotReady 50 s after its failure (3:50) and db-1 is evicted 300 s later (8:50): on a
    // machine that is down the deletion never completes, and OrderedReady makes no new db-1.
    let out = stateful(
        "sts-explain-partition",
        3,
        "  updateStrategy: {rollingUpdate: {partition: 1}}\n",
        "    - {at: 2m, action: apply, manifest: v2.yaml}
    - {at: 3m, action: failNode, node: general-0}
    - {at: 4m, action: deletePod, deployment: db}
",
    );
    let (v1, v2) = ("db-67f68fcfb9", "db-746885f446");
    let expected = format!("StatefulSet db: replicas 3, podManagementPolicy OrderedReady, updateStrategy RollingUpdate (partition 1)
00:00:00 db-0 is created (OrderedReady: one pod at a time, in ordinal order, each once the one before is available, up to replicas 3)
00:00:00 db-0 is not available (ContainerCreating): OrderedReady waits for it before creating db-1
00:00:10 db-0 is available (Running and Ready), so db-1 is created (OrderedReady)
00:00:10 db-1 is not available (ContainerCreating): OrderedReady waits for it before creating db-2
00:00:20 db-0 and db-1 are available (Running and Ready), so db-2 is created (OrderedReady)
00:02:00 the pod template changed: a new revision is made from it (the pods stay at {v1} until the rolling update reaches them)
00:02:00 every pod is available and db-2 is not at the update revision {v2}, so it is deleted, to be created again from it (RollingUpdate: one pod at a time, from the highest ordinal down to partition 1, each once every pod is available)
00:02:00 db-0 and db-1 are available (Running and Ready), so db-2 is created again (OrderedReady) from the update revision {v2}
00:02:00 db-2 is not available (ContainerCreating): the rolling update waits for every pod before replacing db-1
00:02:10 every pod is available and db-1 is not at the update revision {v2}, so it is deleted, to be created again from it (RollingUpdate)
00:02:10 db-0 is available (Running and Ready), so db-1 is created again (OrderedReady) from the update revision {v2}
00:04:00 db-0 is created again (OrderedReady) from the current revision {v1} (below partition 1): its previous pod went at 00:04:00 (Killing: Stopping container)
00:08:50 db-1's previous pod is still terminating and holds its name: db-1 is created again once it is gone; it is on node general-0, whose machine is down: nobody there confirms the deletion, so it stays Terminating until the node returns (or, in a real cluster, someone force-deletes it), as a StatefulSet never runs two pods of one name
");
    assert_eq!(story(&out), expected);
    // What the story says, read from the history instead: the db-0 created at 4 min has v1's
    // template, and no db-1 is created after 2:10.
    let mut templates = std::collections::BTreeMap::new();
    let mut created = Vec::new();
    out.history
        .for_each_line(|line| {
            let v = serde_json::to_value(line).unwrap();
            match v["kind"].as_str() {
                Some("Template") => {
                    let hash = &v["labels"]["controller-revision-hash"];
                    templates.insert(
                        v["id"].as_u64().unwrap(),
                        hash.as_str().unwrap().to_string(),
                    );
                }
                Some("PodCreated") => created.push((
                    v["t"].as_f64().unwrap(),
                    v["name"].as_str().unwrap().to_string(),
                    templates[&v["template"].as_u64().unwrap()].clone(),
                )),
                _ => {}
            }
            Ok::<(), ()>(())
        })
        .unwrap();
    let after_update: Vec<(f64, &str, &str)> = (created.iter())
        .filter(|(t, ..)| *t >= 120.0)
        .map(|(t, name, hash)| (*t, name.as_str(), hash.as_str()))
        .collect();
    assert_eq!(
        after_update,
        vec![
            (120.0, "db-2", v2),
            (130.0, "db-1", v2),
            (240.0, "db-0", v1)
        ]
    );
}

#[test]
fn explain_names_the_stateful_sets_when_the_name_is_wrong() {
    let lesson = "lessons/09-statefulsets";
    let told = kubesim(&["explain", lesson, "--statefulset", "db"]);
    assert_eq!(told.status.code(), Some(0), "{}", stderr(&told));
    let text = String::from_utf8_lossy(&told.stdout);
    assert!(
        text.contains(
            "00:00:10 db-0 is available (Running and Ready), so db-1 is created (OrderedReady)\n"
        ),
        "{text}"
    );
    let wrong = kubesim(&["explain", lesson, "--statefulset", "dbx"]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        stderr(&wrong).contains(
            "no StatefulSet \"dbx\" in this scenario (did you mean \"db\"?); it has: db, cache"
        ),
        "{}",
        stderr(&wrong)
    );
    assert!(wrong.stdout.is_empty());
}
