//! Services that call Services: sequences, counts, branches, CPU between calls, the caller's
//! slot held while it waits, and failures, timeouts and retries reaching the caller.

use crate::support::{OneNode, deployment_and_service, run_text};
use kubesim::engine::RunOutput;
use kubesim::metrics::report::ServiceReport;

/// A scenario of Services on one 256-core node, each `(name, replicas)` with 8 cores per pod
/// (so that requests in a pod do not share a core, and pods never contend for the node).
fn run_graph(
    test: &str,
    minutes: u32,
    workloads: &str,
    traffic: &str,
    services: &[(&str, u32)],
) -> RunOutput {
    let manifests: String = services
        .iter()
        .map(|(n, replicas)| deployment_and_service(n, *replicas, "8"))
        .collect();
    let text = OneNode {
        name: test,
        duration: &format!("{minutes}m"),
        seed: 21,
        node_cpu: "256",
        workloads,
        traffic,
        manifests: &manifests,
    }
    .text();
    run_text(test, &text)
}

fn service<'a>(out: &'a RunOutput, name: &str) -> &'a ServiceReport {
    out.report.services.iter().find(|s| s.name == name).unwrap()
}

fn failed(s: &ServiceReport, reason: &str) -> u64 {
    s.failed_by_reason.get(reason).copied().unwrap_or(0)
}

const WIDE: &str = "startupTime: 0s, concurrency: 1000, queueLimit: 100000, timeout: 1h";

#[test]
fn sequential_calls_cpu_between_and_counts_add_up() {
    // Each `front` request: 10 ms of CPU, 3 calls to `back` (20 ms each, one after another),
    // 5 ms of CPU, one call to `edge` (1 ms). Each request has a core of its own: 10 + 3 × 20
    // + 5 + 1 = 76 ms end to end, for every request (to the histograms' 0.1 % precision).
    let workloads = format!(
        "    - {{deployment: front, {WIDE}, cpuPerRequest: 10ms, calls: [{{call: back, count: 3}}, {{cpu: 5ms}}, {{call: edge}}]}}
    - {{deployment: back, {WIDE}, cpuPerRequest: 20ms}}
    - {{deployment: edge, {WIDE}, cpuPerRequest: 1ms}}
"
    );
    let traffic = "    - {service: front, arrivals: {constant: {rate: 1}}}\n";
    let out = run_graph(
        "calls-sequence",
        10,
        &workloads,
        traffic,
        &[("front", 1), ("back", 1), ("edge", 1)],
    );
    let (front, back, edge) = (
        service(&out, "front"),
        service(&out, "back"),
        service(&out, "edge"),
    );
    assert!(front.served > 500, "{}", front.served);
    assert_eq!((front.role, back.role), ("entry", "internal"));
    for latency in [front.latency_ms.p50, front.latency_ms.max] {
        assert!((latency - 76.0).abs() < 0.08, "{:?}", front.latency_ms);
    }
    // Requests still in flight at the end may have made only some of their calls.
    assert!(
        back.requests.abs_diff(3 * front.requests) <= 3,
        "{} vs {}",
        back.requests,
        front.requests
    );
    assert!(edge.requests.abs_diff(front.requests) <= 1);
}

#[test]
fn parallel_calls_wait_for_the_slowest_and_one_of_follows_its_weights() {
    // `front` calls `slow` (40 ms) and `fast` (10 ms) at once → 40 ms; then one of `a` (weight 1)
    // or `b` (weight 3), 1 ms each → 41 ms end to end; `b` gets about 3/4 of the requests.
    let workloads = format!(
        "    - {{deployment: front, {WIDE}, cpuPerRequest: 0s, calls: [{{parallel: [{{call: slow}}, {{call: fast}}]}}, {{oneOf: [{{weight: 1, steps: [{{call: a}}]}}, {{weight: 3, steps: [{{call: b}}]}}]}}]}}
    - {{deployment: slow, {WIDE}, cpuPerRequest: 40ms}}
    - {{deployment: fast, {WIDE}, cpuPerRequest: 10ms}}
    - {{deployment: a, {WIDE}, cpuPerRequest: 1ms}}
    - {{deployment: b, {WIDE}, cpuPerRequest: 1ms}}
"
    );
    let traffic = "    - {service: front, arrivals: {constant: {rate: 10}}}\n";
    let names = [("front", 1), ("slow", 1), ("fast", 1), ("a", 1), ("b", 1)];
    let out = run_graph("calls-parallel", 30, &workloads, traffic, &names);
    let max = service(&out, "front").latency_ms.max;
    assert!((max - 41.0).abs() < 0.05, "{max}");
    let (a, b) = (
        service(&out, "a").requests as f64,
        service(&out, "b").requests as f64,
    );
    let share = b / (a + b);
    assert!((share - 0.75).abs() < 0.01, "{share}");
}

#[test]
fn a_waiting_caller_holds_its_slot() {
    // `front` does no work itself but may serve 2 requests at once, and each waits 100 ms for
    // `back`: at most 2 / 0.1 s = 20 requests/s get through. Offered 30/s with 10 queue places,
    // about a third fail as queue_full, although `front` never uses its CPU.
    let workloads = format!(
        "    - {{deployment: front, startupTime: 0s, concurrency: 2, queueLimit: 10, timeout: 1h, cpuPerRequest: 0s, calls: [{{call: back}}]}}
    - {{deployment: back, {WIDE}, cpuPerRequest: 100ms}}
"
    );
    let traffic = "    - {service: front, arrivals: {constant: {rate: 30}}}\n";
    let out = run_graph(
        "calls-slot",
        10,
        &workloads,
        traffic,
        &[("front", 1), ("back", 4)],
    );
    let front = service(&out, "front");
    let served_per_second = front.served as f64 / 600.0;
    assert!(
        (served_per_second - 20.0).abs() < 0.5,
        "{served_per_second}"
    );
    assert!(
        failed(front, "queue_full") > 5000,
        "{:?}",
        front.failed_by_reason
    );
}

#[test]
fn failures_and_timeouts_downstream_reach_the_caller() {
    // `nobody` has no pods: every call fails (no_endpoint there, downstream_failed here).
    // `sluggish` takes 2 s; the caller waits 100 ms per try: downstream_timeout here after
    // 100 ms, while `sluggish` still does (and serves) the work.
    let workloads = format!(
        "    - {{deployment: gone, {WIDE}, cpuPerRequest: 1ms, calls: [{{call: nobody}}]}}
    - {{deployment: impatient, {WIDE}, cpuPerRequest: 1ms, calls: [{{call: sluggish, timeout: 100ms}}]}}
    - {{deployment: nobody, {WIDE}, cpuPerRequest: 1ms}}
    - {{deployment: sluggish, {WIDE}, cpuPerRequest: 2s}}
"
    );
    let traffic = "    - {service: gone, arrivals: {constant: {rate: 2}}}
    - {service: impatient, arrivals: {constant: {rate: 2}}}
";
    let names = [
        ("gone", 1),
        ("impatient", 1),
        ("nobody", 0),
        ("sluggish", 8),
    ];
    let out = run_graph("calls-failures", 10, &workloads, traffic, &names);
    let gone = service(&out, "gone");
    assert_eq!(gone.served, 0);
    assert_eq!(failed(gone, "downstream_failed"), gone.failed);
    assert_eq!(failed(service(&out, "nobody"), "no_endpoint"), gone.failed);
    let impatient = service(&out, "impatient");
    assert_eq!(impatient.served, 0);
    assert_eq!(failed(impatient, "downstream_timeout"), impatient.failed);
    let sluggish = service(&out, "sluggish");
    assert!(
        sluggish.served > 1000 && sluggish.failed == 0,
        "{sluggish:?}"
    );
}

#[test]
fn retries_recover_failures_and_add_load_downstream() {
    // `flaky` serves one request at a time with no queue: a call that finds it busy fails
    // (queue_full). Without retries the caller sees those failures; with 3 retries (25 ms
    // backoff, full jitter) most succeed, and `flaky` receives more requests than calls were
    // made — the retry storm is visible in its load.
    let run = |retries: &str| {
        let workloads = format!(
            "    - {{deployment: front, {WIDE}, cpuPerRequest: 0s, calls: [{{call: flaky{retries}}}]}}
    - {{deployment: flaky, startupTime: 0s, concurrency: 1, queueLimit: 0, timeout: 1h, cpuPerRequest: {{exponential: {{mean: 20ms}}}}}}
"
        );
        let traffic = "    - {service: front, arrivals: {constant: {rate: 20}}}\n";
        let name = if retries.is_empty() {
            "calls-no-retry"
        } else {
            "calls-retry"
        };
        run_graph(name, 20, &workloads, traffic, &[("front", 1), ("flaky", 1)])
    };
    let plain = run("");
    let retried = run(", retries: {attempts: 3, backoff: 25ms}");
    let availability = |o: &RunOutput| service(o, "front").availability.unwrap();
    assert!(availability(&plain) < 0.8, "{}", availability(&plain));
    assert!(
        availability(&retried) > availability(&plain) + 0.1,
        "{} vs {}",
        availability(&retried),
        availability(&plain)
    );
    let (front, flaky) = (service(&retried, "front"), service(&retried, "flaky"));
    assert!(
        flaky.requests as f64 > 1.2 * front.requests as f64,
        "{} calls for {} requests",
        flaky.requests,
        front.requests
    );
    assert_eq!(
        service(&plain, "flaky")
            .requests
            .abs_diff(service(&plain, "front").requests),
        0
    );
}

#[test]
fn a_killed_caller_fails_its_waiting_requests_and_the_answers_are_dropped() {
    // At 30 s `front`'s pod is deleted while its requests wait 60 s for `back`: after the 30 s
    // grace period they fail as pod_terminated; `back` still answers them later, to nobody.
    let workloads = format!(
        "    - {{deployment: front, {WIDE}, cpuPerRequest: 0s, calls: [{{call: back}}]}}
    - {{deployment: back, {WIDE}, cpuPerRequest: 60s}}
"
    );
    let traffic = "    - {service: front, arrivals: {constant: {rate: 2}}}\n  events:\n    - {at: 30s, action: deletePod, deployment: front}\n";
    let out = run_graph(
        "calls-killed",
        3,
        &workloads,
        traffic,
        &[("front", 1), ("back", 16)],
    );
    let front = service(&out, "front");
    assert!(
        failed(front, "pod_terminated") >= 5,
        "{:?}",
        front.failed_by_reason
    );
    assert_eq!(service(&out, "back").failed, 0);
}

#[test]
fn traffic_given_to_an_ingress_reaches_the_backend_its_rules_pick() {
    // shop.example.com/cart/… → `cart` by its Prefix rule; anything else → `front`, the
    // defaultBackend. Each backend receives its entry's rate: 5/s and 2/s for 10 minutes.
    let workloads = format!(
        "    - {{deployment: front, {WIDE}, cpuPerRequest: 1ms}}
    - {{deployment: cart, {WIDE}, cpuPerRequest: 1ms}}
"
    );
    let traffic = r#"    - {ingress: shop, host: shop.example.com, path: /cart/items, arrivals: {constant: {rate: 5}}}
    - {ingress: shop, host: shop.example.com, path: /, arrivals: {constant: {rate: 2}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop}
spec:
  defaultBackend: {service: {name: front, port: {number: 80}}}
  rules:
    - host: shop.example.com
      http:
        paths:
          - {path: /cart, pathType: Prefix, backend: {service: {name: cart, port: {number: 8080}}}}
"#;
    let out = run_graph(
        "ingress",
        10,
        &workloads,
        traffic,
        &[("front", 1), ("cart", 1)],
    );
    let per_second = |name: &str| service(&out, name).requests as f64 / 600.0;
    assert!(
        (per_second("cart") - 5.0).abs() < 0.5,
        "{}",
        per_second("cart")
    );
    assert!(
        (per_second("front") - 2.0).abs() < 0.3,
        "{}",
        per_second("front")
    );
    assert_eq!(service(&out, "cart").role, "entry");
}

#[test]
fn optional_calls_do_not_fail_the_caller_and_delays_use_no_cpu() {
    // `front`: 1 ms of CPU, an optional call to `nobody` (no pods: it fails at once, ignored),
    // a 50 ms delay without CPU, then `back` (1 ms): 1 + 50 + 1 = 52 ms, every request served.
    // At 20 requests/s `front` uses 20 × 1 ms = 20 millicores of its 8-core request → 0.25 %.
    let workloads = format!(
        "    - {{deployment: front, {WIDE}, cpuPerRequest: 1ms, calls: [{{call: nobody, optional: true}}, {{delay: 50ms}}, {{call: back}}]}}
    - {{deployment: back, {WIDE}, cpuPerRequest: 1ms}}
    - {{deployment: nobody, {WIDE}, cpuPerRequest: 1ms}}
"
    );
    let traffic = "    - {service: front, arrivals: {constant: {rate: 20}}}\n";
    let names = [("front", 1), ("back", 1), ("nobody", 0)];
    let out = run_graph("calls-optional-delay", 10, &workloads, traffic, &names);
    let front = service(&out, "front");
    assert_eq!(front.failed, 0);
    assert!(
        (front.latency_ms.p50 - 52.0).abs() < 0.1,
        "{:?}",
        front.latency_ms
    );
    let refused = failed(service(&out, "nobody"), "no_endpoint");
    assert!(
        refused.abs_diff(front.requests) <= 3,
        "{refused} vs {}",
        front.requests
    );
    let cpu = crate::support::column(&out, "deployment.front.cpu_utilization");
    let late: Vec<f64> = cpu
        .iter()
        .filter(|(t, _)| *t >= 120.0)
        .map(|p| p.1)
        .collect();
    let mean = late.iter().sum::<f64>() / late.len() as f64;
    assert!((mean - 0.0025).abs() < 0.0005, "{mean}");
}
