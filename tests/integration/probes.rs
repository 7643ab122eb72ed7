//! Pod lifecycle end to end: a readiness probe keeps traffic away from a warming pod, a tight
//! liveness probe restarts overloaded pods into a cascade, CrashLoopBackOff spaces the
//! restarts, and the memory limit kills (OOMKilled) a pod whose working set outgrows it.

use kubesim::engine::RunOutput;
use kubesim::metrics::pod_events::PodEventReason;
use kubesim::output::explain::restarts;

use crate::support::{column, run_text};

/// Deployment `app` of `replicas` pods (1 cpu limit) on one 8-cpu node behind Service `app`
/// at `rate` req/s of 10 ms, 2 s to start; `container_extra` goes under the container (probes),
/// `workload_extra` under the workload model (indented for its fields).
fn lifecycle(
    name: &str,
    replicas: u32,
    rate: u32,
    container_extra: &str,
    workload_extra: &str,
    events: &str,
) -> RunOutput {
    lifecycle_with_limits(
        name,
        replicas,
        rate,
        "cpu: \"1\"",
        container_extra,
        workload_extra,
        events,
    )
}

/// [`lifecycle`] with the container's `limits` (YAML flow map body).
fn lifecycle_with_limits(
    name: &str,
    replicas: u32,
    rate: u32,
    limits: &str,
    container_extra: &str,
    workload_extra: &str,
    events: &str,
) -> RunOutput {
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {name}}}
spec:
  duration: 10m
  sampleInterval: 5s
  startWarm: false
  cluster:
    nodePools:
      - name: general
        allocatable: {{cpu: "8", memory: 32Gi}}
        count: 1
  workloads:
    - deployment: app
      startupTime: 2s
      cpuPerRequest: 10ms
      concurrency: 16
      queueLimit: 1000
      timeout: 30s
{workload_extra}  traffic:
    - service: app
      arrivals: {{constant: {{rate: {rate}}}}}
  events:
    - {{at: 10m, action: cordon, node: general-0}}
{events}---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: app}}}}
  template:
    metadata: {{labels: {{app: app}}}}
    spec:
      containers:
        - name: app
          resources: {{requests: {{cpu: "1", memory: 200Mi}}, limits: {{{limits}}}}}
{container_extra}---
apiVersion: v1
kind: Service
metadata: {{name: app}}
spec:
  selector: {{app: app}}
"#
    );
    run_text(name, &text)
}

/// `kubesim explain --pod`'s restart lines for the first pod that restarted.
fn restart_lines(out: &RunOutput) -> Vec<String> {
    let pod = &out.restart_records[0].pod;
    let story = restarts::story(&out.restart_records, pod).unwrap();
    story.lines().map(str::to_string).collect()
}

fn failed(out: &RunOutput, reason: &str) -> u64 {
    out.report.services[0].failed_by_reason[reason]
}

fn events_of(out: &RunOutput, reason: PodEventReason) -> Vec<f64> {
    out.pod_events
        .iter()
        .filter(|e| e.reason == reason)
        .map(|e| e.t_seconds)
        .collect()
}

#[test]
fn a_readiness_probe_keeps_traffic_from_a_warming_pod() {
    // The app needs 30 s after its container starts (at 2 s) before it answers. Without a
    // readiness probe the pod is Ready at 2 s and the requests of those 30 s are refused.
    let warmup = "      warmup: 30s\n";
    let bare = lifecycle("no-readiness", 2, 50, "", warmup, "");
    let refused = failed(&bare, "connection_refused");
    // 50 req/s for 30 s, all to the two warming pods.
    assert!((1400..=1600).contains(&refused), "{refused} refused");
    // With a readiness probe (period 5 s): probes at 2, 7, …, 32 s; the first success is at
    // 32 s. Until then the Service has no endpoint — refused becomes no_endpoint — and from
    // then on nothing fails.
    let probe =
        "          readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 5}\n";
    let gated = lifecycle("readiness", 2, 50, probe, warmup, "");
    assert_eq!(failed(&gated, "connection_refused"), 0);
    let first_ready = column(&gated, "deployment.app.ready")
        .into_iter()
        .find(|(_, r)| *r > 0.0)
        .unwrap()
        .0;
    assert_eq!(
        first_ready, 35.0,
        "first sample with a Ready pod (Ready at 32 s)"
    );
}

#[test]
fn a_tight_liveness_probe_restarts_overloaded_pods_into_a_cascade() {
    // 3 pods of 1 cpu get 330 req/s × 10 ms = 3.3 cpu: 110 %, overloaded. The health
    // endpoint fails with more than 20 requests in flight. With a tight liveness probe (period
    // 5 s, failureThreshold 1) each pod is killed as its queue builds; the others take its
    // traffic and are killed in turn, and the backoff keeps pods down longer and longer: a
    // restart cascade that serves far less than the same overload without the probe.
    let tight = "          livenessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 5, failureThreshold: 1}\n";
    let health = "      healthCheck: {failsAboveInFlight: 20}\n";
    let cascade = lifecycle("liveness-cascade", 3, 330, tight, health, "");
    let restarts = cascade.report.deployments[0].container_restarts;
    assert!(restarts >= 10, "{restarts} restarts");
    assert!(
        failed(&cascade, "pod_terminated") > 0,
        "requests reset by the kills"
    );
    let backoffs: Vec<String> = cascade
        .pod_events
        .iter()
        .filter(|e| e.reason == PodEventReason::BackOff)
        .map(|e| e.message.clone())
        .collect();
    assert!(
        backoffs.iter().any(|m| m.contains("Back-off 40s")),
        "{backoffs:?}"
    );
    // Told: the probe's one failure and the app's in-flight bound, the back-off.
    let told = restart_lines(&cascade);
    let first = &told[1];
    assert!(
        first.contains(" restart 1: the liveness probe failed (failureThreshold 1, periodSeconds 5): the app fails probes with more than 20 requests in flight, and it had ")
            && first.contains("; the kubelet kills the container; back-off 10s (the first exit), so it starts again at "),
        "{told:?}"
    );
    let unprobed = lifecycle("liveness-none", 3, 330, "", health, "");
    assert_eq!(unprobed.report.deployments[0].container_restarts, 0);
    let served = |out: &RunOutput| out.report.services[0].served;
    assert!(
        served(&cascade) * 10 < served(&unprobed) * 8,
        "{} served with the probe, {} without",
        served(&cascade),
        served(&unprobed)
    );
    // At 150 req/s (50 %) the same tight probe never fires.
    let calm = lifecycle("liveness-calm", 3, 150, tight, health, "");
    assert_eq!(calm.report.deployments[0].container_restarts, 0);
}

#[test]
fn crash_loop_backoff_spaces_restarts_10_20_40_seconds() {
    // A startup probe that can never pass (the app needs 10 min to warm up, the probe gives
    // it 3 × 1 s): the container is killed 3 s after each start (probes at +1, +2, +3 s) and
    // restarted after 10, 20, 40, 80 s …
    let probe = "          startupProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1, initialDelaySeconds: 1}\n";
    let out = lifecycle("crash-loop", 1, 10, probe, "      warmup: 10m\n", "");
    let kills = events_of(&out, PodEventReason::Killing);
    // Started at 2 s → killed at 5 s; restarts after 10, 20, 40, 80, 160 s: 15 → 18,
    // 38 → 41, 81 → 84, 164 → 167, 327 → 330; the next wait (300 s) ends after the run.
    assert_eq!(&kills[..1], &[5.0]);
    let starts: Vec<f64> = out
        .pod_events
        .iter()
        .filter(|e| e.reason == PodEventReason::Started)
        .flat_map(|e| [e.t_seconds, e.last_seconds])
        .collect();
    assert_eq!(
        starts,
        vec![2.0, 327.0],
        "first and last start (count aggregated)"
    );
    let started = out
        .pod_events
        .iter()
        .find(|e| e.reason == PodEventReason::Started)
        .unwrap();
    assert_eq!(started.count, 6);
    assert_eq!(out.report.services[0].served, 0);
    // Told with the same arithmetic: the deadline 1 + (3 − 1) × 1 s after each start, the
    // warm-up, the back-off doubling to its cap.
    let gives_up = |start: &str, kill: &str| {
        format!(
            "the startup probe gives up at {start} (the start) + initialDelaySeconds 1 + (failureThreshold 3 − 1) × periodSeconds 1 = {kill}, every check having failed"
        )
    };
    let told = restart_lines(&out);
    assert_eq!(
        told[..3],
        [
            "Why its container restarted (6 times):".to_string(),
            format!(
                "  00:00:05 restart 1: {}: the app answers only from 00:10:02, 10m0s after the start (its warm-up); the kubelet kills the container; back-off 10s (the first exit), so it starts again at 00:00:15",
                gives_up("00:00:02", "00:00:05")
            ),
            format!(
                "  00:00:18 restart 2: {}: the app answers only from 00:10:15, 10m0s after the start (its warm-up); the kubelet kills the container; back-off 20s (10s doubled), so it starts again at 00:00:38",
                gives_up("00:00:15", "00:00:18")
            ),
        ]
    );
    assert!(
        told[6].ends_with(
            "back-off 5m0s (2m40s doubled, capped at 5m0s), so it starts again at 00:10:30"
        ),
        "{told:?}"
    );
}

#[test]
fn the_memory_limit_oom_kills_a_pod_whose_working_set_outgrows_it() {
    // Working set 200Mi + 4Mi per request in flight, limit 256Mi: more than 14 requests in
    // flight kill the container. One pod at 120 req/s of 10 ms on a 1-cpu limit is 120 %
    // busy: its queue grows past 14 within a second, the container is OOM-killed, restarts
    // after its backoff, and is killed again as soon as the traffic piles up.
    let memory = "      memory: {base: 200Mi, perInFlightRequest: 4Mi}\n";
    let limited = r#"cpu: "1", memory: 256Mi"#;
    let out = lifecycle_with_limits("oom", 1, 120, limited, "", memory, "");
    let d = &out.report.deployments[0];
    assert!(d.oom_kills >= 3, "{} OOM kills", d.oom_kills);
    assert_eq!(d.oom_kills, d.container_restarts);
    let first = events_of(&out, PodEventReason::OOMKilled)[0];
    assert!((2.0..4.0).contains(&first), "first OOM kill at {first} s");
    // Told: 200Mi + 15 × 4Mi = 260Mi, the first working set over 256Mi (each request in
    // flight adds one step).
    let told = restart_lines(&out);
    assert!(
        told[1].contains(" restart 1: its working set, 260Mi with 15 requests in flight, went over its memory limit 256Mi: OOMKilled (exit code 137); back-off 10s (the first exit), so it starts again at "),
        "{told:?}"
    );
    assert!(failed(&out, "pod_terminated") > 0);
    // Under an 8Gi limit nothing is killed: the queue limit (1000) and concurrency (16) cap
    // the working set at 200Mi + 1016 × 4Mi ≈ 4.2Gi.
    let roomy = r#"cpu: "1", memory: 8Gi"#;
    let fine = lifecycle_with_limits("no-oom", 1, 120, roomy, "", memory, "");
    assert_eq!(fine.report.deployments[0].oom_kills, 0);
}

#[test]
fn random_crashes_come_from_their_own_stream() {
    // crashMTBF 1 min over 10 min: some crashes, each followed by a restart; the traffic (its
    // own stream) is the same request for request.
    let calm = lifecycle("no-crashes", 2, 50, "", "", "");
    let crashing = lifecycle("crashes", 2, 50, "", "      crashMTBF: 1m\n", "");
    let d = &crashing.report.deployments[0];
    assert!(
        d.container_restarts >= 5,
        "{} crashes",
        d.container_restarts
    );
    assert_eq!(d.oom_kills, 0);
    let told = restart_lines(&crashing);
    assert!(
        told[1].contains(" restart 1: the container crashed (exit code 1): this workload crashes at random, once every 1m0s on average (crashMTBF); back-off 10s (the first exit)"),
        "{told:?}"
    );
    assert!(calm.restart_records.is_empty());
    assert_eq!(
        calm.report.services[0].requests,
        crashing.report.services[0].requests
    );
}

/// One node (`bandwidth` image pulls, if any) and Deployment `app` of `replicas` pods of image
/// `app:v1` (500Mi) with `limits`, at `rate` req/s of 10 ms, starting cold.
fn kubelet_scenario(
    name: &str,
    bandwidth: &str,
    replicas: u32,
    limits: &str,
    rate: u32,
) -> RunOutput {
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {name}}}
spec:
  duration: 5m
  sampleInterval: 1s
  startWarm: false
  imageSizes: {{"app:v1": 500Mi}}
  cluster:
    nodePools:
      - name: general
        allocatable: {{cpu: "8", memory: 32Gi}}
        count: 1
{bandwidth}  workloads:
    - deployment: app
      startupTime: 2s
      cpuPerRequest: {{exponential: {{mean: 10ms}}}}
  traffic:
    - service: app
      arrivals: {{constant: {{rate: {rate}}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: app}}}}
  template:
    metadata: {{labels: {{app: app}}}}
    spec:
      containers:
        - name: app
          image: app:v1
          resources: {{requests: {{cpu: "1", memory: 1Gi}}{limits}}}
---
apiVersion: v1
kind: Service
metadata: {{name: app}}
spec:
  selector: {{app: app}}
"#
    );
    run_text(name, &text)
}

#[test]
fn images_are_pulled_once_per_node_at_the_pools_bandwidth() {
    // 500Mi at 100Mi/s: the first pod's pull takes 5 s; the second pod on the node waits for
    // the same pull. Both start 2 s later: Ready at 7 s. Without a bandwidth: at 2 s.
    let slow = kubelet_scenario("pull", "        imagePullBandwidth: 100Mi\n", 2, "", 10);
    let first_ready = |out: &RunOutput| {
        column(out, "deployment.app.ready")
            .into_iter()
            .find(|(_, r)| *r == 2.0)
            .unwrap()
            .0
    };
    assert_eq!(first_ready(&slow), 7.0);
    let pulled = events_of(&slow, PodEventReason::Pulled);
    assert_eq!(pulled, vec![0.0, 0.0], "both pods wait for the pull");
    let instant = kubelet_scenario("no-pull", "", 2, "", 10);
    assert_eq!(first_ready(&instant), 2.0);
    assert!(events_of(&instant, PodEventReason::Pulled).is_empty());
}

#[test]
fn a_tight_cpu_limit_is_throttled_in_most_periods() {
    // One pod at 80 req/s of 10 ms (0.8 cpu on average). Under a 1-cpu limit every moment
    // with two requests in service wants more than the quota: many periods are throttled.
    // Under a 4-cpu limit only moments with five at once are; without a limit nothing counts.
    let ratio = |limits: &str, name: &str| {
        let out = kubelet_scenario(name, "", 1, limits, 80);
        out.report.deployments[0].cpu_throttled_ratio
    };
    let tight = ratio(r#", limits: {cpu: "1"}"#, "cfs-tight").unwrap();
    let loose = ratio(r#", limits: {cpu: "4"}"#, "cfs-loose").unwrap();
    assert!(tight > 0.3, "1-cpu limit: {tight} of periods throttled");
    assert!(loose < tight / 10.0, "4-cpu limit: {loose}");
    assert_eq!(ratio("", "cfs-none"), None);
}
