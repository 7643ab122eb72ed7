//! VerticalPodAutoscalers: the recommender fed by the simulated pods, OOM kills raising the
//! memory recommendation, the report, `vpa.jsonl` and `kubesim explain --vpa`.

use crate::support::{kubesim, load, root, run, run_text, scratch};
use kubesim::controllers::PodEventReason;

const OOM_SCENARIO: &str = r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: vpa-oom}
spec:
  duration: 30m
  cluster:
    nodePools:
      - {name: pool, count: 1, allocatable: {cpu: "4", memory: 16Gi}}
  workloads:
    - deployment: app
      cpuPerRequest: 100ms
      concurrency: 16
      memory: {base: 300Mi, perInFlightRequest: 20Mi}
  traffic:
    - service: app
      arrivals: {constant: {rate: 50}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 1
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
        - name: app
          resources: {requests: {cpu: "1", memory: 512Mi}, limits: {memory: 512Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: app}
spec: {selector: {app: app}}
---
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {name: app}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: app}
  updatePolicy: {updateMode: "Off"}
"#;

#[test]
fn oom_kills_raise_the_memory_recommendation_above_the_limit() {
    let out = run_text("vpa-oom", OOM_SCENARIO);
    let vpa = &out.report.vpas[0];
    let app = &vpa.containers[0];
    assert!(app.oom_kills > 0, "the pod was OOM-killed: {app:?}");
    // Each kill (request 512 MiB, above any scraped working set under the 512 MiB limit) is a
    // peak of max(512 + 100 MiB, 512 MiB × 1.2 = 644 245 094 B); one pod, one interval, so the
    // interval's peak is it: memory bucket 29 ends at 664 388 475 B, + 15 % = 764 046 746 B.
    assert_eq!(app.recommendation.target.memory_bytes, Some(764_046_746));
    assert_eq!(app.requests.memory_bytes, Some(512 << 20));
    let records = out.vpa_records.as_deref().unwrap();
    assert!(records.iter().all(|r| r.vpa == "app"));
    assert_eq!(
        records[0].t_seconds, 60.0,
        "first loop one interval after the start"
    );
}

#[test]
fn the_right_sizing_scenario_reports_the_recommendation_and_what_it_would_save() {
    let scenario = load(
        &root().join("scenarios/right-sizing/scenario.yaml"),
        None,
        &[],
    );
    let out = run(&scenario);
    let vpa = &out.report.vpas[0];
    assert_eq!((vpa.name.as_str(), vpa.update_mode), ("web", "Off"));
    assert_eq!(vpa.target, "Deployment/web");
    let web = &vpa.containers[0];
    // Provisioned at 2 cores and 2 GiB; a day of use says a quarter of that or less.
    let (cpu, memory) = (
        web.recommendation.target.cpu_millis.unwrap(),
        web.recommendation.target.memory_bytes.unwrap(),
    );
    assert!((100..=1000).contains(&cpu), "{cpu}m");
    assert!(memory < 1 << 30, "{memory} B");
    assert!(
        web.recommendation.lower.cpu_millis.unwrap() <= cpu
            && cpu <= web.recommendation.upper.cpu_millis.unwrap()
    );
    let w = &vpa.what_if;
    assert!(w.cost_usd_at_recommendation < w.cost_usd / 2.0, "{w:?}");
    // 1 440 loops (one a minute from 00:01 to 24:00), each counting four pods of 2 cores for
    // a minute: 1 440 × 4 × 2 / 60 = 192 core-hours; the same in GiB-hours.
    assert_eq!(w.requested_core_hours, 192.0, "{w:?}");
    assert_eq!(w.requested_memory_gib_hours, 192.0, "{w:?}");
}

#[test]
fn no_vpa_no_file_and_no_report_section() {
    let dir = scratch("vpa-none");
    let out_dir = dir.join("out");
    let scenario = root().join("scenarios/quickstart/scenario.yaml");
    let o = kubesim(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--no-plots",
    ]);
    assert!(o.status.success());
    assert!(!out_dir.join("vpa.jsonl").exists());
    let report = std::fs::read_to_string(out_dir.join("report.json")).unwrap();
    assert!(!report.contains("\"vpas\""));
}

#[test]
fn explain_vpa_tells_the_arithmetic() {
    let scenario = root().join("scenarios/right-sizing/scenario.yaml");
    let o = kubesim(&[
        "explain",
        scenario.to_str().unwrap(),
        "--vpa",
        "--at",
        "0:10",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "web at 00:10:00 (the recommender runs every minute):"
    );
    // Ten loops over four pods: 40 samples; confidence min(9 min span, 40 samples at one a
    // minute) / 1 day = 9/1440 = 0.006.
    assert_eq!(
        lines[1],
        "  container web: 40 CPU samples, history worth 0.006 day(s) of confidence (the shorter of its span and its sample count at one a minute)"
    );
    // At that confidence the upper bound is × (1 + 1/0.00625) = 161: capped by maxAllowed.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("lowered to maxAllowed 4000m")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("      the manifest requests 2000m: the target is ")),
        "{text}"
    );
    let o = kubesim(&["explain", scenario.to_str().unwrap(), "--vpa", "wbe"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("did you mean \"web\"?"));
}

fn right_sizing(overrides: &[&str]) -> kubesim::engine::RunOutput {
    let path = root().join("scenarios/right-sizing/scenario.yaml");
    run(&load(&path, None, overrides))
}

#[test]
fn recreate_evicts_at_most_half_the_replicas_a_minute_and_recreates_them_at_the_target() {
    let out = right_sizing(&["vpa/web:spec.updatePolicy.updateMode=Recreate"]);
    let vpa = &out.report.vpas[0];
    assert!(vpa.actions.pods_evicted >= 4, "{:?}", vpa.actions);
    // Every eviction's replacement is created by the ReplicaSet and sized by admission.
    assert_eq!(vpa.actions.pods_admitted, vpa.actions.pods_evicted);
    // Four replicas, tolerance ⌊4 × 0.5⌋ = 2: no loop evicts more than two.
    let mut per_loop = std::collections::BTreeMap::<u64, u32>::new();
    for e in out
        .pod_events
        .iter()
        .filter(|e| e.reason == PodEventReason::EvictedByVPA)
    {
        *per_loop.entry(e.t_seconds as u64).or_default() += 1;
        assert_eq!(e.t_seconds % 60.0, 0.0, "the updater runs on the minute");
    }
    assert!(per_loop.values().all(|&n| n <= 2), "{per_loop:?}");
    // The replacements' templates request a recommendation's target, far below 2 cores.
    let records = out.vpa_records.as_deref().unwrap();
    let targets: Vec<i64> = (records.iter().flat_map(|r| &r.containers))
        .filter_map(|c| c.recommendation.target.cpu_millis)
        .collect();
    let templates = out.history.journal.templates();
    let resized: Vec<i64> = (templates.iter().skip(1))
        .map(|t| t.hpa_containers[0].cpu_millis.unwrap())
        .collect();
    assert!(!resized.is_empty());
    for cpu in resized {
        assert!(targets.contains(&cpu) && cpu < 1000, "{cpu}m");
    }
    // The pods requested less over the day than the four 2-core pods of Off mode.
    assert!(
        vpa.what_if.requested_core_hours < 192.0 * 0.75,
        "{:?}",
        vpa.what_if
    );
}

#[test]
fn min_replicas_and_initial_mode_evict_nothing() {
    let out = right_sizing(&[
        "vpa/web:spec.updatePolicy.updateMode=Recreate",
        "vpa/web:spec.updatePolicy.minReplicas=5",
    ]);
    assert_eq!(
        out.report.vpas[0].actions.pods_evicted, 0,
        "4 live pods < minReplicas 5"
    );
    let out = right_sizing(&["vpa/web:spec.updatePolicy.updateMode=Initial"]);
    let vpa = &out.report.vpas[0];
    assert_eq!((vpa.update_mode, vpa.actions.pods_evicted), ("Initial", 0));
}

const PDB_SCENARIO: &str = r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: vpa-pdb}
spec:
  duration: 6h
  cluster:
    nodePools:
      - {name: pool, count: 2, allocatable: {cpu: "8", memory: 32Gi}}
  workloads:
    - deployment: app
      cpuPerRequest: 20ms
      concurrency: 16
      memory: {base: 200Mi, perInFlightRequest: 2Mi}
  traffic:
    - service: app
      arrivals: {constant: {rate: 40}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 3
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
        - name: app
          resources: {requests: {cpu: "2", memory: 2Gi}, limits: {cpu: "4", memory: 2Gi}}
---
apiVersion: v1
kind: Service
metadata: {name: app}
spec: {selector: {app: app}}
---
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {name: app}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: app}
"#;

const PDB: &str = r#"---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: app}
spec:
  minAvailable: 3
  selector: {matchLabels: {app: app}}
"#;

#[test]
fn an_unset_update_policy_is_recreate_and_a_budget_stops_its_evictions() {
    let out = run_text("vpa-pdb-free", PDB_SCENARIO);
    let vpa = &out.report.vpas[0];
    assert_eq!(vpa.update_mode, "Recreate");
    assert!(vpa.actions.pods_evicted > 0, "{:?}", vpa.actions);
    // Limits keep their ratio to the requests: cpu 4:2, memory 1:1.
    let t = out.history.journal.templates().last().unwrap().clone();
    let c = &t.hpa_containers[0];
    assert_eq!(c.cpu_limit_millis, Some(2 * c.cpu_millis.unwrap()));
    assert_eq!(c.memory_limit_bytes, c.memory_bytes);
    assert_eq!(t.requests.cpu_millis, c.cpu_millis.unwrap());
    let blocked = run_text("vpa-pdb-blocked", &format!("{PDB_SCENARIO}{PDB}"));
    assert_eq!(blocked.report.vpas[0].actions.pods_evicted, 0);
}

#[test]
fn recreate_runs_are_byte_identical() {
    let a = right_sizing(&["vpa/web:spec.updatePolicy.updateMode=Recreate"]);
    let b = right_sizing(&["vpa/web:spec.updatePolicy.updateMode=Recreate"]);
    let json = |o: &kubesim::engine::RunOutput| serde_json::to_string(&o.report).unwrap();
    assert_eq!(json(&a), json(&b));
    assert_eq!(a.pod_events.len(), b.pod_events.len());
}

/// The right-sizing scenario with one of its HPA manifests and the VPA in `Recreate`.
fn with_hpa(manifest: &str) -> kubesim::engine::RunOutput {
    right_sizing(&[
        &format!("manifests=[app.yaml, {manifest}]"),
        "vpa/web:spec.updatePolicy.updateMode=Recreate",
    ])
}

#[test]
fn an_hpa_on_cpu_fights_the_vpa_and_one_on_requests_per_second_does_not() {
    let cpu = with_hpa("hpa-cpu.yaml");
    let rps = with_hpa("hpa-rps.yaml");
    let (c, r) = (&cpu.report.deployments[0], &rps.report.deployments[0]);
    // Each pod the HPA adds lowers the usage per pod, so the VPA's target, so the next pods'
    // requests, so the utilization rises again: far more pods and replica-hours than scaling
    // on a signal the VPA does not change.
    assert!(
        c.pods_created > 3 * r.pods_created,
        "{} vs {}",
        c.pods_created,
        r.pods_created
    );
    assert!(
        c.replica_hours > 2.0 * r.replica_hours,
        "{} vs {}",
        c.replica_hours,
        r.replica_hours
    );
    let target = |o: &kubesim::engine::RunOutput| {
        o.report.vpas[0].containers[0]
            .recommendation
            .target
            .cpu_millis
            .unwrap()
    };
    assert!(
        target(&cpu) < target(&rps),
        "{} vs {}",
        target(&cpu),
        target(&rps)
    );
}

#[test]
fn in_place_or_recreate_resizes_the_running_pods_without_recreating_them() {
    let out = right_sizing(&["vpa/web:spec.updatePolicy.updateMode=InPlaceOrRecreate"]);
    let vpa = &out.report.vpas[0];
    assert!(vpa.actions.pods_resized_in_place >= 4, "{:?}", vpa.actions);
    assert_eq!(
        (vpa.actions.pods_evicted, vpa.actions.pods_admitted),
        (0, 0)
    );
    assert_eq!(
        out.report.deployments[0].pods_created, 4,
        "the same four pods all day"
    );
    // Their requests fell with the resizes: less than three quarters of four 2-core pods.
    assert!(
        vpa.what_if.requested_core_hours < 192.0 * 0.75,
        "{:?}",
        vpa.what_if
    );
}

const DEFERRED_SCENARIO: &str = r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: vpa-deferred}
spec:
  duration: 40m
  cluster:
    nodePools:
      - {name: pool, count: 1, allocatable: {cpu: "4", memory: 32Gi}}
  workloads:
    - deployment: app
      cpuPerRequest: 25ms
      concurrency: 16
  traffic:
    - service: app
      arrivals: {constant: {rate: 72}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 2
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
        - name: app
          resources: {requests: {cpu: 200m, memory: 512Mi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: filler}
spec:
  replicas: 1
  selector: {matchLabels: {app: filler}}
  template:
    metadata: {labels: {app: filler}}
    spec:
      containers:
        - name: filler
          resources: {requests: {cpu: 2500m, memory: 512Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: app}
spec: {selector: {app: app}}
---
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {name: app}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: app}
  updatePolicy: {updateMode: InPlaceOrRecreate}
  resourcePolicy:
    containerPolicies: [{containerName: "*", controlledResources: [cpu]}]
"#;

#[test]
fn a_deferred_resize_falls_back_to_eviction_after_five_minutes() {
    // One 4-core node holds a 2500m filler and two 200m pods using about 0.9 core each: each
    // request is below the lower bound at once. The first resize (to about a core) fits
    // beside the others; the second, a loop later (the tolerance ⌊2 × 0.5⌋ = 1 allows one a
    // loop), does not — 2500m + two cores > 4 — and is deferred. The updater first sees it
    // pending at the next loop, and evicts the pod more than 5 min after that.
    let out = run_text("vpa-deferred", DEFERRED_SCENARIO);
    let vpa = &out.report.vpas[0];
    assert_eq!(vpa.actions.pods_resized_in_place, 1, "{:?}", vpa.actions);
    assert!(vpa.actions.pods_evicted >= 1, "{:?}", vpa.actions);
    let at = |reason: PodEventReason| {
        (out.pod_events.iter())
            .find(|e| e.reason == reason)
            .map(|e| e.t_seconds)
            .unwrap()
    };
    let (resized, evicted) = (
        at(PodEventReason::InPlaceResizedByVPA),
        at(PodEventReason::EvictedByVPA),
    );
    // Deferred at resized + 60 s, first seen pending at + 120 s, evicted after + 120 + 300 s.
    assert!(
        evicted > resized + 420.0,
        "resized at {resized} s, evicted at {evicted} s"
    );
    assert_eq!(evicted % 60.0, 0.0);
}

/// Two pods that use about 0.3 core each, requesting `{cpu}`; `{vpa}` is the VPA's
/// `updatePolicy`/`resourcePolicy`, `{extra}` more manifests, `{container}` more fields of the
/// container.
const CAPPING_SCENARIO: &str = r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: vpa-capping}
spec:
  duration: {duration}
  cluster:
    nodePools:
      - {name: pool, count: 1, allocatable: {cpu: "9", memory: 32Gi}}
  workloads:
    - deployment: app
      cpuPerRequest: 10ms
      concurrency: 16
  traffic:
    - service: app
      arrivals: {constant: {rate: 60}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 2
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
        - name: app
          resources: {requests: {cpu: "{cpu}", memory: 512Mi}}
          {container}
---
apiVersion: v1
kind: Service
metadata: {name: app}
spec: {selector: {app: app}}
---
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {name: app}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: app}
  {vpa}
{extra}"#;

/// Over-provisioned (4 cores for 0.3 used) for 3 h: the upper bound, wide while history is
/// short, comes below the request after about 2.4 h (0.35 core × (1 + 1/confidence) < 4 once
/// confidence passes 0.1 day), and the updater scales the pods down.
fn over_provisioned(name: &str, vpa: &str, extra: &str) -> kubesim::engine::RunOutput {
    run_text(name, &capping_text(vpa, extra, "", ("4", "3h")))
}

/// Under-provisioned (100m for 0.3 used) for 20 min: below the lower bound at once.
fn under_provisioned_text(vpa: &str, container: &str) -> String {
    capping_text(vpa, "", container, ("100m", "20m"))
}

fn capping_text(vpa: &str, extra: &str, container: &str, (cpu, duration): (&str, &str)) -> String {
    CAPPING_SCENARIO
        .replace("{vpa}", vpa)
        .replace("{extra}", extra)
        .replace("{container}", container)
        .replace("{cpu}", cpu)
        .replace("{duration}", duration)
}

/// The cpu requests of the templates admission made (the first template is the manifest's).
fn admitted_cpu(out: &kubesim::engine::RunOutput) -> Vec<i64> {
    let templates = out.history.journal.templates();
    (templates.iter().skip(1))
        .map(|t| t.hpa_containers[0].cpu_millis.unwrap())
        .collect()
}

const RECREATE_CPU: &str = "updatePolicy: {updateMode: Recreate}
  resourcePolicy:
    containerPolicies: [{containerName: \"*\", controlledResources: [cpu]}]";

#[test]
fn a_limit_range_minimum_raises_what_admission_gives() {
    // Without a LimitRange the pods are recreated at the target, well under 700m.
    let free = over_provisioned("vpa-lr-free", RECREATE_CPU, "");
    let targets = admitted_cpu(&free);
    assert!(
        !targets.is_empty() && targets.iter().all(|&c| c < 700),
        "{targets:?}"
    );
    // A Container item with min cpu 700m: the container has no limit, so its minimum is the
    // item's min itself (upstream's getMinAllowedRecommendation), and every target is raised.
    let limit_range = "---
apiVersion: v1
kind: LimitRange
metadata: {name: floor}
spec:
  limits: [{type: Container, min: {cpu: 700m}}]
";
    let floored = over_provisioned("vpa-lr-min", RECREATE_CPU, limit_range);
    let cpu = admitted_cpu(&floored);
    assert!(!cpu.is_empty() && cpu.iter().all(|&c| c == 700), "{cpu:?}");
}

#[test]
fn eviction_requirements_keep_pods_whose_targets_go_the_other_way() {
    // The targets are far below the 4-core requests; only scaling up is allowed to evict.
    let vpa = "updatePolicy:
    updateMode: Recreate
    evictionRequirements: [{resources: [cpu], changeRequirement: TargetHigherThanRequests}]
  resourcePolicy:
    containerPolicies: [{containerName: \"*\", controlledResources: [cpu]}]";
    let up_only = over_provisioned("vpa-evict-up", vpa, "");
    assert_eq!(up_only.report.vpas[0].actions.pods_evicted, 0);
    let down = vpa.replace("TargetHigherThanRequests", "TargetLowerThanRequests");
    let down_ok = over_provisioned("vpa-evict-down", &down, "");
    assert!(down_ok.report.vpas[0].actions.pods_evicted >= 2);
}

#[test]
fn a_restart_container_resize_policy_restarts_the_container_at_once() {
    let vpa = "updatePolicy: {updateMode: InPlaceOrRecreate}
  resourcePolicy:
    containerPolicies: [{containerName: \"*\", controlledResources: [cpu]}]";
    let restarts = |out: &kubesim::engine::RunOutput| {
        (out.pod_events.iter())
            .filter(|e| e.message.contains("resizePolicy RestartContainer"))
            .map(|e| e.t_seconds)
            .collect::<Vec<f64>>()
    };
    let quiet = run_text("vpa-resize-quiet", &under_provisioned_text(vpa, ""));
    assert!(quiet.report.vpas[0].actions.pods_resized_in_place >= 2);
    assert!(restarts(&quiet).is_empty());
    let policy = "resizePolicy: [{resourceName: cpu, restartPolicy: RestartContainer}]";
    let out = run_text("vpa-resize-restart", &under_provisioned_text(vpa, policy));
    let resized: Vec<f64> = (out.pod_events.iter())
        .filter(|e| e.reason == PodEventReason::InPlaceResizedByVPA)
        .map(|e| e.t_seconds)
        .collect();
    assert!(resized.len() >= 2, "{resized:?}");
    // Each resize restarts its container in the same instant, with no back-off.
    assert_eq!(restarts(&out), resized);
    assert!(
        !(out.pod_events.iter()).any(|e| e.reason == PodEventReason::BackOff),
        "a resize restart is not a failure"
    );
    assert_eq!(
        out.report.deployments[0].pods_created, 2,
        "restarted, not recreated"
    );
}

#[test]
fn get_shows_the_requests_a_pod_was_resized_to() {
    let dir = scratch("vpa-get-resized");
    let vpa = "updatePolicy: {updateMode: InPlaceOrRecreate}
  resourcePolicy:
    containerPolicies: [{containerName: \"*\", controlledResources: [cpu]}]";
    let text = under_provisioned_text(vpa, "");
    let scenario = dir.join("scenario.yaml");
    std::fs::write(&scenario, text).unwrap();
    let out_dir = dir.join("out");
    let o = kubesim(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--no-plots",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let get = |at: &str| {
        let o = kubesim(&[
            "get",
            "pods",
            out_dir.to_str().unwrap(),
            "-o",
            "yaml",
            "--at",
            at,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    assert!(get("30s").contains("cpu: 100m"), "{}", get("30s"));
    let end = get("20m");
    assert!(!end.contains("cpu: 100m"), "{end}");
}
