//! HPA timelines users know, checked on simulated load: a load step is scaled up at most
//! `max(2×current, 4)` per sync without `behavior` (4 pods or 100 % with default `behavior`),
//! scale-down waits for the 5-minute stabilization window, pods still starting (no metrics yet)
//! do not cause a premature scale-down, and a tuned `behavior` flaps less on a spiky trace.

use kubesim::controllers::hpa::HpaDecision;

use crate::support::{kubesim, load, root, run, scratch};

/// 1-core pods at 100 ms of CPU per request and a 50 % target: the steady state is rate / 5
/// pods. Load: 10 req/s, then 200 req/s from 600 s (≈ 40 pods), then 10 req/s from 1500 s.
fn step_scenario(name: &str, behavior: &str) -> Vec<HpaDecision> {
    step_scenario_with(name, CPU_METRIC, behavior, "")
}

const CPU_METRIC: &str = "    - type: Resource\n      resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}\n";

fn step_scenario_with(
    name: &str,
    metrics: &str,
    behavior: &str,
    workload_extra: &str,
) -> Vec<HpaDecision> {
    step_scenario_containers(name, metrics, behavior, workload_extra, ONE_CONTAINER)
}

const ONE_CONTAINER: &str =
    "        - name: app\n          resources: {requests: {cpu: \"1\"}, limits: {cpu: \"1\"}}\n";

fn step_scenario_containers(
    name: &str,
    metrics: &str,
    behavior: &str,
    workload_extra: &str,
    containers: &str,
) -> Vec<HpaDecision> {
    let dir = scratch(name);
    std::fs::write(
        dir.join("step.csv"),
        "t_seconds,rate\n0,10\n600,200\n1500,10\n",
    )
    .unwrap();
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {name}}}
spec:
  duration: 50m
  seed: 3
  cluster:
    nodePools:
      - {{name: pool, count: 20, allocatable: {{cpu: "16", memory: 64Gi}}}}
  workloads:
    - deployment: app
      startupTime: 30s
      cpuPerRequest: {{exponential: {{mean: 100ms}}}}
      concurrency: 64
      queueLimit: 10000
      timeout: 60s
{workload_extra}  traffic:
    - service: app
      arrivals: {{rateSeries: {{file: step.csv}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: app}}}}
  template:
    metadata: {{labels: {{app: app}}}}
    spec:
      containers:
{containers}---
apiVersion: v1
kind: Service
metadata: {{name: app}}
spec: {{selector: {{app: app}}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: app}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: app}}
  minReplicas: 2
  maxReplicas: 100
  metrics:
{metrics}{behavior}"#
    );
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, text).unwrap();
    run(&load(&path, None, &[])).hpa_decisions
}

fn rescales(decisions: &[HpaDecision]) -> impl Iterator<Item = &HpaDecision> {
    decisions
        .iter()
        .filter(|d| d.desired_replicas != d.current_replicas)
}

#[test]
fn without_behavior_a_step_is_scaled_up_at_most_double_per_sync() {
    let decisions = step_scenario("hpa-legacy-step", "");
    for d in rescales(&decisions).filter(|d| d.desired_replicas > d.current_replicas) {
        // Legacy limit: int32(max(2 × current, 4)).
        let limit = (2 * d.current_replicas).max(4);
        assert!(
            d.desired_replicas <= limit,
            "at {} s: {} → {} exceeds {limit}",
            d.time_seconds,
            d.current_replicas,
            d.desired_replicas
        );
    }
    // 200 req/s × 0.1 core / 0.5 target = 40 pods: reached within 5 minutes of the step.
    let peak = decisions
        .iter()
        .filter(|d| d.time_seconds <= 900.0)
        .map(|d| d.desired_replicas)
        .max()
        .unwrap();
    assert!(peak >= 40, "peak {peak}");
}

#[test]
fn default_behavior_scales_up_by_at_most_4_pods_or_100_percent_per_period() {
    let decisions = step_scenario("hpa-default-behavior-step", "  behavior: {}\n");
    let mut limited = 0;
    for d in rescales(&decisions).filter(|d| d.desired_replicas > d.current_replicas) {
        // Default scaleUp policies: Pods 4 / 15 s and Percent 100 / 15 s, selectPolicy Max.
        // Syncs are 15 s apart, so an event 15 s old is outside the period (strictly after).
        let limit = (d.current_replicas + 4).max(2 * d.current_replicas);
        assert!(
            d.desired_replicas <= limit,
            "at {} s: {} → {}",
            d.time_seconds,
            d.current_replicas,
            d.desired_replicas
        );
        if d.desired_replicas == limit {
            limited += 1;
        }
    }
    assert!(
        limited > 0,
        "the step should hit the rate limit at least once"
    );
}

#[test]
fn scale_down_waits_for_the_five_minute_stabilization_window() {
    let decisions = step_scenario("hpa-scale-down-window", "");
    // Load drops at 1500 s; metrics show it from the 1515 s sync. The high recommendations
    // stay in the 300 s window until 1515 + 300 = 1815 s.
    let first_down = rescales(&decisions)
        .find(|d| d.time_seconds >= 1500.0 && d.desired_replicas < d.current_replicas)
        .expect("scales down after the drop");
    assert!(
        (1785.0..=1830.0).contains(&first_down.time_seconds),
        "first scale-down at {} s",
        first_down.time_seconds
    );
    assert_eq!(
        first_down.desired_replicas, 2,
        "straight to minReplicas once the window has passed"
    );
}

#[test]
fn pods_still_starting_do_not_cause_a_premature_scale_down() {
    // With no scale-down window at all, only the calculator's handling of pods without
    // metrics (filled at 100 % of request when scaling down, direction-flip guard) protects
    // the scale-up in progress.
    let decisions = step_scenario(
        "hpa-missing-metrics",
        "  behavior:\n    scaleDown: {stabilizationWindowSeconds: 0}\n",
    );
    let with_missing: Vec<&HpaDecision> = decisions
        .iter()
        .filter(|d| d.metrics[0].missing_pods > 0)
        .collect();
    assert!(
        !with_missing.is_empty(),
        "new pods should be seen without metrics"
    );
    for d in with_missing {
        assert!(
            d.desired_replicas >= d.current_replicas,
            "at {} s: {} → {} with {} pods missing metrics",
            d.time_seconds,
            d.current_replicas,
            d.desired_replicas,
            d.metrics[0].missing_pods
        );
    }
}

#[test]
fn a_tuned_behavior_flaps_less_on_the_launch_day_trace() {
    let out = run(&load(
        &root().join("scenarios/hpa-behavior/scenario.yaml"),
        None,
        &[],
    ));
    let rescales_of = |name: &str| {
        let d = out
            .report
            .deployments
            .iter()
            .find(|d| d.name == name)
            .unwrap();
        d.scale_ups + d.scale_downs
    };
    let (default, tuned) = (rescales_of("web-default"), rescales_of("web-tuned"));
    assert!(
        tuned * 2 <= default,
        "default {default} rescales, tuned {tuned}"
    );
}

#[test]
fn a_pods_metric_scales_on_queue_depth_from_the_serving_model() {
    // Only a Pods metric: requests in flight per pod, target 4. At 10 req/s × 0.1 s about one
    // request is in flight in total; at 200 req/s the 1-core pods saturate and requests pile up,
    // so the in-flight average far exceeds 4 and the HPA scales up on it alone.
    let metric = "    - type: Pods\n      pods:\n        metric: {name: http_requests_in_flight}\n        target: {type: AverageValue, averageValue: \"4\"}\n";
    let decisions = step_scenario_with(
        "hpa-pods-metric",
        metric,
        "",
        "      podMetrics: {http_requests_in_flight: inFlightRequests}\n",
    );
    let first = &decisions
        .iter()
        .find(|d| d.metrics[0].average_value_milli.is_some())
        .unwrap()
        .metrics[0];
    assert_eq!(&*first.metric, "pods http_requests_in_flight");
    assert_eq!(&*first.target, "4 per pod");
    let scaled_up = decisions
        .iter()
        .any(|d| d.time_seconds > 600.0 && d.desired_replicas > d.current_replicas);
    assert!(
        scaled_up,
        "the step should drive a scale-up through the in-flight metric"
    );
    // With the step over, in-flight is far below target: it scales back to minReplicas.
    assert_eq!(decisions.last().unwrap().desired_replicas, 2);
}

#[test]
fn several_metrics_take_the_largest_proposal() {
    let metrics = format!(
        "{CPU_METRIC}    - type: Pods\n      pods:\n        metric: {{name: kubesim_queue_length}}\n        target: {{type: AverageValue, averageValue: 100m}}\n"
    );
    let decisions = step_scenario_with("hpa-two-metrics", &metrics, "", "");
    for d in decisions.iter().filter(|d| d.proposed_replicas.is_some()) {
        let best = d.metrics.iter().filter_map(|m| m.replicas).max();
        assert_eq!(d.proposed_replicas, best, "at {} s", d.time_seconds);
    }
}

#[test]
fn an_external_queue_metric_scales_a_worker_from_zero_and_back() {
    // A queue worker with minReplicas 0 (HPAScaleToZero) and an External metric: queue depth
    // 0 for 10 min, 300 messages for 20 min, then 0 again. AverageValue 30 per pod.
    let dir = scratch("hpa-external-scale-to-zero");
    std::fs::write(
        dir.join("queue.csv"),
        "t_seconds,value\n0,0\n600,300\n1800,0\n",
    )
    .unwrap();
    let text = r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: queue-worker}
spec:
  duration: 1h
  cluster:
    nodePools:
      - {name: pool, count: 4, allocatable: {cpu: "8", memory: 32Gi}}
  externalMetrics:
    - {name: queue_messages, file: queue.csv}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker}
spec:
  replicas: 0
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers:
        - name: worker
          resources: {requests: {cpu: 500m}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: worker}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: worker}
  minReplicas: 0
  maxReplicas: 20
  metrics:
    - type: External
      external:
        metric: {name: queue_messages}
        target: {type: AverageValue, averageValue: "30"}
"#;
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, text).unwrap();
    let decisions = run(&load(&path, None, &[])).hpa_decisions;
    let at = |t: f64| decisions.iter().rfind(|d| d.time_seconds <= t).unwrap();
    // Before the queue fills: 0 messages → ceil(0/30) = 0: stays at zero.
    assert_eq!(at(590.0).desired_replicas, 0);
    // 300 messages with no pods: ratio is infinite → ceil(300/30) = 10, reached through the
    // legacy scale-up limit max(2×current, 4): 0 → 4 → 8 → 10.
    let ups: Vec<i32> = decisions
        .iter()
        .filter(|d| d.time_seconds >= 600.0 && d.desired_replicas > d.current_replicas)
        .map(|d| d.desired_replicas)
        .collect();
    assert_eq!(ups, vec![4, 8, 10]);
    // The queue empties at 1800 s; after the 5-minute stabilization it scales to zero.
    let down = decisions
        .iter()
        .find(|d| d.time_seconds >= 1800.0 && d.desired_replicas < d.current_replicas)
        .unwrap();
    assert_eq!(down.desired_replicas, 0);
    assert!(
        (2100.0..=2115.0).contains(&down.time_seconds),
        "scaled to zero at {} s",
        down.time_seconds
    );
}

#[test]
fn memory_utilization_follows_the_working_set_model() {
    // 512Mi requests; working set 200Mi + 4Mi per request in flight. At 10 req/s two pods hold
    // about one request (≈ 40 % of request, below the 60 % target); at 200 req/s the 1-core pods
    // saturate, requests pile up and memory climbs past the target.
    let metric = "    - type: Resource\n      resource: {name: memory, target: {type: Utilization, averageUtilization: 60}}\n";
    let containers = "        - name: app\n          resources: {requests: {cpu: \"1\", memory: 512Mi}, limits: {cpu: \"1\"}}\n";
    let decisions = step_scenario_containers(
        "hpa-memory",
        metric,
        "",
        "      memory: {base: 200Mi, perInFlightRequest: 4Mi}\n",
        containers,
    );
    let first = &decisions
        .iter()
        .find(|d| d.metrics[0].utilization_percent.is_some())
        .unwrap()
        .metrics[0];
    assert_eq!(&*first.metric, "memory");
    assert_eq!(first.unit, kubesim::controllers::hpa::Unit::Bytes);
    // 200Mi of 512Mi is 39 %; a request or two in flight adds under 2 points.
    let idle = first.utilization_percent.unwrap();
    assert!((39..=41).contains(&idle), "idle memory utilization {idle}%");
    let scaled_up = decisions
        .iter()
        .any(|d| d.time_seconds > 600.0 && d.desired_replicas > d.current_replicas);
    assert!(
        scaled_up,
        "the load step should raise memory past the target"
    );
}

#[test]
fn a_container_resource_metric_divides_by_that_container_request_only() {
    // The app container does all the work; the proxy sidecar requests as much CPU and uses none.
    // Pod-level utilization is therefore half the app container's, and the proxy's is zero.
    let metrics = "    - type: Resource\n      resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}\n    - type: ContainerResource\n      containerResource: {name: cpu, container: app, target: {type: Utilization, averageUtilization: 50}}\n    - type: ContainerResource\n      containerResource: {name: cpu, container: proxy, target: {type: Utilization, averageUtilization: 50}}\n";
    let containers = "        - name: app\n          resources: {requests: {cpu: \"1\"}, limits: {cpu: \"1\"}}\n        - name: proxy\n          resources: {requests: {cpu: \"1\"}}\n";
    let decisions = step_scenario_containers("hpa-container", metrics, "", "", containers);
    let mut compared = 0;
    for d in decisions
        .iter()
        .filter(|d| d.metrics.iter().all(|m| m.utilization_percent.is_some()))
    {
        let u: Vec<i32> = d
            .metrics
            .iter()
            .map(|m| m.utilization_percent.unwrap())
            .collect();
        // Truncation: pod = int(x/2) while app = int(x), so app ∈ {2·pod, 2·pod + 1}.
        assert!(
            u[1] == 2 * u[0] || u[1] == 2 * u[0] + 1,
            "at {}: {u:?}",
            d.time_seconds
        );
        assert_eq!(u[2], 0);
        assert_eq!(&*d.metrics[1].metric, "CPU of container app");
        compared += 1;
    }
    assert!(compared > 100, "{compared} syncs compared");
}

#[test]
fn an_hpa_whose_target_is_missing_reports_failed_get_scale() {
    let path = root().join("tests/fixtures/hpa-missing-target/scenario.yaml");
    let validate = kubesim(&["validate", path.to_str().unwrap()]);
    assert_eq!(validate.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&validate.stderr);
    assert!(
        stderr.contains("warning: spec.scaleTargetRef.name: Deployment \"wbe\" not found in namespace \"default\" (did you mean \"web\"?)"),
        "{stderr}"
    );
    let scenario = load(&path, None, &[]);
    let out = run(&scenario);
    assert_eq!(
        out.hpa_decisions.len(),
        41,
        "every 15 s over 10 min, from 0 s"
    );
    for d in &out.hpa_decisions {
        let json = serde_json::to_string(&d.conditions).unwrap();
        assert_eq!(
            json,
            r#"[{"type":"AbleToScale","status":"False","reason":"FailedGetScale","message":"the HPA controller was unable to get the target's current scale: deployments.apps \"wbe\" not found"}]"#
        );
        assert_eq!(d.desired_replicas, d.current_replicas);
    }
    // The real Deployment keeps its replicas: nothing scales it.
    assert!(
        out.report
            .deployments
            .iter()
            .all(|d| d.scale_ups + d.scale_downs == 0)
    );
}

#[test]
fn applying_a_changed_hpa_takes_effect_at_once() {
    // 600 req/s × 10 ms = 6 cpu on pods of 1 cpu: at a 60 % target the HPA wants 10, but
    // maxReplicas is 4. At 5 min `kubectl apply` raises it to 12: the next sync (15 s later at
    // most) scales up — to 10 or more, as the 4 pods' backlog keeps usage high at first.
    let dir = crate::support::scratch("hpa-apply");
    let hpa = |max: u32| {
        format!(
            r#"apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: app}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: app}}
  minReplicas: 2
  maxReplicas: {max}
  metrics:
    - type: Resource
      resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 60}}}}
"#
        )
    };
    std::fs::write(dir.join("hpa-v2.yaml"), hpa(12)).unwrap();
    let path = scenario_applying_an_hpa(&dir, "hpa-apply", &hpa(4));
    let out = crate::support::run(&crate::support::load(&path, None, &[]));
    let replicas = crate::support::column(&out, "deployment.app.replicas");
    let max_before = replicas
        .iter()
        .filter(|(t, _)| *t < 300.0)
        .map(|(_, r)| *r)
        .fold(0.0, f64::max);
    assert_eq!(max_before, 4.0, "held at the old maxReplicas");
    let after = |t0: f64| {
        replicas
            .iter()
            .filter(|(t, _)| *t >= t0)
            .map(|(_, r)| *r)
            .fold(0.0, f64::max)
    };
    assert!(after(315.0) >= 10.0, "scaled up at the next sync");
    assert!(after(0.0) <= 12.0);
}

#[test]
fn an_hpa_applied_with_a_pods_metric_reads_the_serving_metrics() {
    // The HPA as written reads CPU only; at 5 min `kubectl apply` switches it to the pods'
    // requests in flight. Every sync from the first scrape after the apply on (scrapes every
    // 15 s) must get a value for it (600 req/s × 10 ms: about 6 in flight in all, often 0 on a
    // pod at the scrape's instant) — which it can only if the scrapes record the serving
    // metrics, although no HPA read them when the run started.
    let dir = crate::support::scratch("hpa-apply-pods-metric");
    let hpa = |metric: &str| {
        format!(
            r#"apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: app}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: app}}
  minReplicas: 2
  maxReplicas: 4
  metrics:
{metric}"#
        )
    };
    let cpu = "    - type: Resource\n      resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}\n";
    let in_flight = "    - type: Pods\n      pods:\n        metric: {name: kubesim_in_flight_requests}\n        target: {type: AverageValue, averageValue: \"4\"}\n";
    std::fs::write(dir.join("hpa-v2.yaml"), hpa(in_flight)).unwrap();
    let path = scenario_applying_an_hpa(&dir, "hpa-apply-pods-metric", &hpa(cpu));
    let out = crate::support::run(&crate::support::load(&path, None, &[]));
    let pods_metric = |d: &kubesim::controllers::hpa::HpaDecision| {
        (d.metrics.first())
            .filter(|m| m.metric.starts_with("pods "))
            .map(|m| m.average_value_milli)
    };
    let (before, after): (Vec<_>, Vec<_>) =
        (out.hpa_decisions.iter()).partition(|d| d.time_seconds < 300.0);
    assert!(before.iter().all(|d| pods_metric(d).is_none()), "CPU only");
    assert!(!after.is_empty());
    for d in after.iter().filter(|d| d.time_seconds >= 330.0) {
        let value = pods_metric(d).flatten();
        assert!(value.is_some(), "at {} s: {value:?}", d.time_seconds);
    }
}

/// Each decision's error for `metric` on one pod of `app` (an app container with a CPU request
/// and a `sidecar` without one); the first is before metrics-server's first scrape.
fn metric_errors(test: &str, metric: &str) -> Vec<String> {
    let manifests = format!(
        r#"---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: app}}}}
  template:
    metadata: {{labels: {{app: app}}}}
    spec:
      containers:
        - {{name: app, resources: {{requests: {{cpu: "1", memory: 1Gi}}}}}}
        - {{name: sidecar, resources: {{requests: {{memory: 64Mi}}}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: app}}
spec: {{selector: {{app: app}}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: app}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: app}}
  minReplicas: 1
  maxReplicas: 4
  metrics:
{metric}"#
    );
    let text = crate::support::OneNode {
        name: test,
        duration: "2m",
        seed: 3,
        node_cpu: "8",
        workloads: "    - {deployment: app, startupTime: 0s, cpuPerRequest: 10ms}\n",
        traffic: "    - {service: app, arrivals: {constant: {rate: 5}}}\n",
        manifests: &manifests,
    }
    .text();
    let out = crate::support::run_text(test, &text);
    let errors: Vec<String> = out
        .hpa_decisions
        .iter()
        .map(|d| d.metrics[0].error.clone().unwrap_or_default())
        .collect();
    assert!(errors.len() > 2, "{errors:?}");
    errors
}

#[test]
fn calculator_errors_read_as_upstream_words_them() {
    // calculatePodRequests: "missing request for <resource> in container <c> of Pod <pod>",
    // under computeStatusForResourceMetric's "failed to get cpu utilization: " (the request is
    // checked once metrics came back: upstream fetches them first).
    let cpu = "    - type: Resource\n      resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}\n";
    let message = &metric_errors("hpa-missing-request", cpu)[2];
    assert!(
        message.starts_with("failed to get cpu utilization: missing request for cpu in container sidecar of Pod app-"),
        "{message}"
    );
    // GetMetricReplicas: "unable to get metric <name>: " around the custom metrics client's
    // "no metrics returned from custom metrics API" (at 0 s no pod has two scrapes to make a rate of).
    let pods = "    - type: Pods\n      pods: {metric: {name: kubesim_requests_per_second}, target: {type: AverageValue, averageValue: \"5\"}}\n";
    let message = &metric_errors("hpa-no-custom-metric", pods)[0];
    assert_eq!(
        message,
        "unable to get metric kubesim_requests_per_second: no metrics returned from custom metrics API"
    );
    // GetResourceReplicas: "unable to get metrics for resource cpu: " around the resource
    // metrics client's "no metrics returned from resource metrics API" (nothing scraped at 0 s).
    let cpu_value = "    - type: Resource\n      resource: {name: cpu, target: {type: AverageValue, averageValue: 500m}}\n";
    let message = &metric_errors("hpa-no-resource-metric", cpu_value)[0];
    assert_eq!(
        message,
        "failed to get cpu usage: unable to get metrics for resource cpu: no metrics returned from resource metrics API"
    );
}

/// Writes into `dir` a 10-minute scenario: the app (2 pods of 1 cpu, 600 req/s of 10 ms) with
/// `initial_hpa`, and at 5 min a `kubectl apply` of `hpa-v2.yaml` (which the test writes).
/// Returns the scenario's path.
fn scenario_applying_an_hpa(
    dir: &std::path::Path,
    name: &str,
    initial_hpa: &str,
) -> std::path::PathBuf {
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {name}}}
spec:
  duration: 10m
  cluster:
    nodePools:
      - name: general
        allocatable: {{cpu: "16", memory: 64Gi}}
        count: 1
  workloads:
    - deployment: app
      startupTime: 5s
      cpuPerRequest: 10ms
  traffic:
    - service: app
      arrivals: {{constant: {{rate: 600}}}}
  events:
    - {{at: 5m, action: apply, manifest: hpa-v2.yaml}}
---
{deployment}---
apiVersion: v1
kind: Service
metadata: {{name: app}}
spec:
  selector: {{app: app}}
---
{initial_hpa}"#,
        deployment = crate::support::app_deployment(2, "1", ""),
    );
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, text).unwrap();
    path
}
