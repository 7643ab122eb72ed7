//! A service mesh (`spec.mesh: {kind: istio}`, issue 47 part 2): Istio's sidecar injected where
//! its webhook would inject it, balancing every request on its own (Envoy's least request)
//! whatever connections the application keeps, and costing CPU per request and a request of
//! its own in each pod.

use crate::support::{OneNode, column, deployment_and_service, run_text, with_spec};

/// Two front-end pods calling a back end of 6 pods that serve one request at a time (10 ms),
/// over gRPC connections; `mesh` is inserted into the spec.
fn grpc_front_and_back(name: &str, mesh: &str) -> kubesim::engine::RunOutput {
    let manifests = format!(
        "{}{}",
        deployment_and_service("front", 2, "1"),
        deployment_and_service("back", 6, "1")
    );
    let text = OneNode {
        name,
        duration: "60s",
        seed: 4,
        node_cpu: "64",
        workloads: "    - {deployment: front, startupTime: 0s, cpuPerRequest: 1ms, calls: [{call: back, timeout: 1s}]}\n    - {deployment: back, startupTime: 0s, cpuPerRequest: 10ms, concurrency: 1, queueLimit: 1000}\n",
        traffic: "    - {service: front, arrivals: {constant: {rate: 300}}}\n    - {service: back, connections: {mode: http2}}\n",
        manifests: &manifests,
    }
    .text();
    let text = with_spec(&text, mesh);
    run_text(name, &text)
}

#[test]
fn the_sidecar_balances_each_request_where_grpc_connections_pin_a_pod() {
    // 300 calls/s of 10 ms each need 3 of the 6 back-end pods. Without a mesh the 2 front-end
    // pods' 2 connections reach at most 2 pods (2 × 100/s < 300/s): calls queue, time out
    // after 1 s and fail.
    let bare = grpc_front_and_back("mesh-off", "");
    let front = &bare.report.services[0];
    assert!(front.failed > 1000, "{} failed", front.failed);
    // With Istio in the namespace every call is balanced on its own over the 6 pods (each pod
    // 300 × 10 ms / 6 = 50 % busy), 0.228 ms later through the two sidecars: none fails.
    let meshed = grpc_front_and_back("mesh-on", "  mesh: {kind: istio, namespaces: [default]}\n");
    let front = &meshed.report.services[0];
    assert_eq!(front.failed, 0, "{:?}", front.failed_by_reason);
    let back = &meshed.report.services[1];
    assert!(back.latency_ms.p99 < 50.0, "{:?}", back.latency_ms);
}

#[test]
fn the_sidecar_adds_its_cpu_to_every_request_and_its_request_to_every_pod() {
    // A back end of 2 pods requesting 100m each, 100 requests/s of 2 ms from outside: each pod
    // uses 50 × 2 ms = 0.1 core, 100 % of its request. With the sidecar each request costs
    // 0.2 ms more in the sidecar container (0.11 core in the pod) over 100m + 100m requested:
    // 55 %.
    let run = |name: &str, mesh: &str| {
        let text = OneNode {
            name,
            duration: "120s",
            seed: 1,
            node_cpu: "8",
            workloads: "    - {deployment: back, startupTime: 0s, cpuPerRequest: 2ms}\n",
            traffic: "    - {service: back, arrivals: {fixedInterval: {rate: 100}}}\n",
            manifests: &deployment_and_service("back", 2, "100m")
                .replace("limits: {cpu: \"100m\"}", "limits: {cpu: \"1\"}"),
        }
        .text();
        let text = with_spec(&text, mesh);
        let out = run_text(name, &text);
        let util = column(&out, "deployment.back.cpu_utilization");
        util[util.len() / 2..].iter().map(|(_, u)| u).sum::<f64>()
            / (util.len() - util.len() / 2) as f64
    };
    let bare = run("mesh-util-off", "");
    assert!((bare - 1.00).abs() < 0.02, "{bare}");
    let meshed = run(
        "mesh-util-on",
        "  mesh: {kind: istio, namespaces: [default]}\n",
    );
    assert!((meshed - 0.55).abs() < 0.02, "{meshed}");
}

#[test]
fn a_call_through_two_sidecars_takes_the_hop_latency_longer() {
    // One call per request: 1 ms in the front end, then 2 ms in the back end, answered in 3 ms
    // without a mesh; with sidecars adding 10 ms to each call, 13 ms. Requests from outside
    // (through the gateway) pay no hop latency here.
    let run = |name: &str, mesh: &str| {
        let manifests = format!(
            "{}{}",
            deployment_and_service("front", 1, "4"),
            deployment_and_service("back", 1, "4")
        );
        let text = OneNode {
            name,
            duration: "60s",
            seed: 1,
            node_cpu: "16",
            workloads: "    - {deployment: front, startupTime: 0s, cpuPerRequest: 1ms, calls: [{call: back}]}\n    - {deployment: back, startupTime: 0s, cpuPerRequest: 2ms}\n",
            traffic: "    - {service: front, arrivals: {fixedInterval: {rate: 10}}}\n",
            manifests: &manifests,
        }
        .text();
        let text = with_spec(&text, mesh);
        run_text(name, &text).report.services[0].latency_ms.p50
    };
    let bare = run("mesh-hop-off", "");
    assert!((bare - 3.0).abs() < 0.01, "{bare}");
    let meshed = run(
        "mesh-hop-on",
        "  mesh: {kind: istio, namespaces: [default], hopLatency: 10ms}\n",
    );
    assert!((meshed - 13.0).abs() < 0.01, "{meshed}");
}
