//! Lasting connections (`connections: {mode: http2}`, issue 47): kube-proxy balances
//! connections, not requests, so a client's requests all go to the pod its connection landed on.

use crate::support::{OneNode, deployment_and_service, run_text, with_spec};
use kubesim::metrics::report::ConnectionsReport;

/// A front end of `front` pods calling a back end of `back` pods, the back end's clients
/// connecting as `connections` says, for `duration`.
fn front_and_back(
    name: &str,
    seed: u64,
    front: u32,
    back: u32,
    connections: &str,
    extra: &str,
) -> String {
    let manifests = format!(
        "{}{}",
        deployment_and_service("front", front, "1"),
        deployment_and_service("back", back, "1")
    );
    OneNode {
        name,
        duration: "120s",
        seed,
        node_cpu: "64",
        workloads: "    - {deployment: front, startupTime: 0s, cpuPerRequest: 1ms, calls: [{call: back}]}\n    - {deployment: back, startupTime: 0s, cpuPerRequest: 2ms}\n",
        traffic: &format!(
            "    - {{service: front, arrivals: {{constant: {{rate: 50}}}}}}\n    - {{service: back{connections}}}\n"
        ),
        manifests: &format!("{manifests}{extra}"),
    }
    .text()
}

fn back_connections(text: &str, test: &str) -> Option<ConnectionsReport> {
    let out = run_text(test, text);
    let back = out
        .report
        .services
        .iter()
        .find(|s| s.name == "back")
        .unwrap();
    assert!(back.served > 5000, "{}", back.served);
    back.connections.clone()
}

#[test]
fn each_calling_pod_sends_all_its_requests_to_the_one_pod_its_connection_reached() {
    // 2 front-end pods, one gRPC connection each: at most 2 of the 6 back-end pods get traffic.
    let http2 = front_and_back("h2", 1, 2, 6, ", connections: {mode: http2}", "");
    let c = back_connections(&http2, "connections-http2").unwrap();
    assert_eq!(c.opened, 2);
    assert!(c.pods_reached <= 2, "{c:?}");
    // Balanced per request, every back-end pod gets its share (no connections report).
    let per_request = front_and_back("pr", 1, 2, 6, "", "");
    assert_eq!(
        back_connections(&per_request, "connections-per-request"),
        None
    );
}

#[test]
fn connections_from_outside_leave_the_expected_share_of_pods_idle() {
    // 3 connections from outside, each landing on one of 6 pods uniformly at random: in
    // expectation 6 × (5/6)^3 = 3.472 pods get nothing. Over 300 seeds the mean is within 0.25
    // of that (one run's idle count has a standard deviation of about 0.8).
    let mut idle = 0u64;
    let seeds = 300;
    for seed in 0..seeds {
        let manifests = deployment_and_service("back", 6, "1");
        let text = OneNode {
            name: "outside",
            duration: "5s",
            seed,
            node_cpu: "64",
            workloads: "    - {deployment: back, startupTime: 0s, cpuPerRequest: 1ms}\n",
            traffic: "    - {service: back, arrivals: {constant: {rate: 100}}, connections: {mode: http2, clients: 3}}\n",
            manifests: &manifests,
        }
        .text();
        let out = run_text("connections-outside", &text);
        let c = out.report.services[0].connections.clone().unwrap();
        assert!(c.opened <= 3);
        idle += 6 - c.pods_reached;
    }
    let mean = idle as f64 / seeds as f64;
    assert!((mean - 3.472).abs() < 0.25, "mean idle pods {mean}");
}

#[test]
fn pods_added_later_get_traffic_only_when_clients_reconnect() {
    // The back end grows from 2 to 6 pods at 30 s (the new ones ready at once). Without a
    // connection age the two front-end connections never move: 2 pods at most, ever.
    let scale = "  events:\n    - {at: 30s, action: scale, deployment: back, replicas: 6}\n";
    let text = front_and_back("grow", 3, 2, 2, ", connections: {mode: http2}", "");
    let text = with_spec(&text, scale);
    let c = back_connections(&text, "connections-grow").unwrap();
    assert_eq!(c.opened, 2);
    assert!(c.pods_reached <= 2, "{c:?}");
    // With maxConnectionAge 10 s (±10 %) each client reconnects every 9–11 s of its 120 s:
    // 11 to 14 connections each, and the reconnections after 30 s may land on the new pods.
    let aged = text.replace("{mode: http2}", "{mode: http2, maxConnectionAge: 10s}");
    let c = back_connections(&aged, "connections-grow-aged").unwrap();
    assert!((22..=28).contains(&c.opened), "{c:?}");
    assert!(c.pods_reached > 2, "{c:?}");
}

/// A front end of 1 pod whose every request (every 100 ms) makes `calls` to the back end of
/// 6 pods, over keep-alive connections as `connections` says.
fn pooled(name: &str, calls: &str, connections: &str) -> Option<ConnectionsReport> {
    let manifests = format!(
        "{}{}",
        deployment_and_service("front", 1, "1"),
        deployment_and_service("back", 6, "1")
    );
    let text = OneNode {
        name,
        duration: "60s",
        seed: 5,
        node_cpu: "64",
        workloads: &format!("    - {{deployment: front, startupTime: 0s, cpuPerRequest: 1ms, calls: [{calls}]}}\n    - {{deployment: back, startupTime: 0s, cpuPerRequest: 2ms}}\n"),
        traffic: &format!(
            "    - {{service: front, arrivals: {{fixedInterval: {{rate: 10}}}}}}\n    - {{service: back, connections: {connections}}}\n"
        ),
        manifests: &manifests,
    }
    .text();
    let out = run_text(name, &text);
    let back = out
        .report
        .services
        .iter()
        .find(|s| s.name == "back")
        .unwrap();
    back.connections.clone()
}

#[test]
fn a_keep_alive_pool_reuses_an_idle_connection_and_opens_one_only_when_none_is_free() {
    // Requests come at 0.1 s, 0.2 s, … 59.9 s (599 in the 60 s), each calling 1 ms later.
    // One call at a time: the pod's one connection is idle again before the next call, so it
    // carries all 599 calls to the one pod it reached.
    let c = pooled("h1-one", "{call: back}", "{mode: http1}").unwrap();
    assert_eq!((c.opened, c.requests, c.pods_reached), (1, 599, 1), "{c:?}");
    // Four calls at once, a pool of 2 (Go's default): the first request opens 4; afterwards
    // two calls find an idle connection and two open new ones, and of the four answers the
    // first two go back to the pool and the other two close: 4 + 2 × 598 = 1 200 opened for
    // 4 × 599 = 2 396 calls.
    let four = "{parallel: [{call: back}, {call: back}, {call: back}, {call: back}]}";
    let c = pooled("h1-four", four, "{mode: http1}").unwrap();
    assert_eq!((c.opened, c.requests), (1200, 2396), "{c:?}");
    assert_eq!(c.pods_reached, 6, "new connections land everywhere: {c:?}");
    // A pool of 4 keeps them all: 4 connections carry the 2 396 calls.
    let c = pooled("h1-four-pool4", four, "{mode: http1, pool: 4}").unwrap();
    assert_eq!((c.opened, c.requests), (4, 2396), "{c:?}");
    assert!(c.pods_reached <= 4, "{c:?}");
}

#[test]
fn an_idle_connection_closes_after_its_timeout_and_a_timed_out_call_closes_its_own() {
    // Calls 100 ms apart, idle connections closed after 50 ms: every call opens a new one.
    let c = pooled(
        "h1-idle",
        "{call: back}",
        "{mode: http1, idleTimeout: 50ms}",
    )
    .unwrap();
    assert_eq!((c.opened, c.requests), (599, 599), "{c:?}");
    assert_eq!(c.pods_reached, 6, "{c:?}");
    // A caller that gives up after 1 ms on a 2 ms answer closes the connection each time
    // (HTTP/1.1 cannot reuse a connection with a response still due).
    let c = pooled(
        "h1-timeout",
        "{call: back, timeout: 1ms, optional: true}",
        "{mode: http1}",
    )
    .unwrap();
    assert_eq!((c.opened, c.requests), (599, 599), "{c:?}");
}

#[test]
fn pods_added_by_a_scale_up_get_their_first_request_at_the_first_reconnect() {
    // One front-end pod calls the back end every 100 ms over one HTTP/2 connection. The back
    // end grows from 1 pod to 3 at 30 s (ready at once): the new pods get nothing, since the
    // connection stays. At 60 s the oldest back-end pod — the one connected to — is deleted:
    // its endpoint goes at once. Requests come every 100 ms from 0.1 s and call 1 ms later
    // (the front end's CPU), so the first pod's calls span 0.101 s to 59.901 s exactly, and
    // the call of the request that came at 60.0 s, at 60.001 s, reconnects — to one of the
    // others — and it has every call from then on: 2 connections opened.
    let manifests = format!(
        "{}{}",
        deployment_and_service("front", 1, "1"),
        deployment_and_service("back", 1, "1")
    );
    let text = OneNode {
        name: "reconnect-times",
        duration: "90s",
        seed: 11,
        node_cpu: "64",
        workloads: "    - {deployment: front, startupTime: 0s, cpuPerRequest: 1ms, calls: [{call: back}]}\n    - {deployment: back, startupTime: 0s, cpuPerRequest: 2ms}\n",
        traffic: "    - {service: front, arrivals: {fixedInterval: {rate: 10}}}\n    - {service: back, connections: {mode: http2}}\n",
        manifests: &manifests,
    }
    .text();
    let events = "  events:\n    - {at: 30s, action: scale, deployment: back, replicas: 3}\n    - {at: 60s, action: deletePod, deployment: back}\n";
    let text = with_spec(&text, events);
    let out = run_text("connections-reconnect-times", &text);
    let back = out
        .report
        .services
        .iter()
        .find(|s| s.name == "back")
        .unwrap();
    let c = back.connections.clone().unwrap();
    assert_eq!(c.opened, 2, "{c:?}");
    assert_eq!(c.pods.len(), 2, "{c:?}");
    let (first, second) = (&c.pods[0], &c.pods[1]);
    assert_eq!((first.first_s, first.last_s), (0.101, 59.901), "{c:?}");
    assert_eq!((second.first_s, second.last_s), (60.001, 89.901), "{c:?}");
    assert_eq!((first.requests, second.requests), (599, 300), "{c:?}");
    assert_eq!(first.requests + second.requests, back.served, "{c:?}");
}

#[test]
fn calls_in_flight_when_their_connection_breaks_fail_with_the_break_and_the_client_reconnects() {
    // One front-end pod calls the back end over one HTTP/2 connection; each call takes 3 s of
    // the back end's CPU, a request every 100 ms, so about 30 calls are in flight on the
    // connection at any time. The back end, 1 pod, gets a second at 10 s; at 30 s the
    // connected (oldest) pod is deleted with a grace period of 1 s: the calls still in flight
    // at 31 s are reset (`pod_terminated`), and from 30 s on calls reconnect to the other pod.
    let back = deployment_and_service("back", 1, "64").replace(
        "    spec:\n      containers:",
        "    spec:\n      terminationGracePeriodSeconds: 1\n      containers:",
    );
    let manifests = format!("{}{back}", deployment_and_service("front", 1, "1"));
    let text = OneNode {
        name: "broken",
        duration: "60s",
        seed: 2,
        node_cpu: "256",
        workloads: "    - {deployment: front, startupTime: 0s, cpuPerRequest: 1ms, concurrency: 1000, calls: [{call: back}]}\n    - {deployment: back, startupTime: 0s, cpuPerRequest: 3s, concurrency: 1000}\n",
        traffic: "    - {service: front, arrivals: {fixedInterval: {rate: 10}}}\n    - {service: back, connections: {mode: http2}}\n",
        manifests: &manifests,
    }
    .text();
    let events = "  events:\n    - {at: 10s, action: scale, deployment: back, replicas: 2}\n    - {at: 30s, action: deletePod, deployment: back}\n";
    let text = with_spec(&text, events);
    let out = run_text("connections-broken", &text);
    let back = out
        .report
        .services
        .iter()
        .find(|s| s.name == "back")
        .unwrap();
    let reset = back
        .failed_by_reason
        .get("pod_terminated")
        .copied()
        .unwrap_or(0);
    // Calls sent from 28.001 s to 29.901 s (those from 27.x s finish by 30.9 s): 20 of them,
    // give or take the one at each edge.
    assert!(
        (19..=21).contains(&reset),
        "{reset} reset: {:?}",
        back.failed_by_reason
    );
    let c = back.connections.clone().unwrap();
    assert_eq!(c.opened, 2, "{c:?}");
    assert_eq!(c.pods[1].first_s, 30.001, "{c:?}");
}

#[test]
fn a_call_step_connects_its_own_way_whatever_the_service_says() {
    // The back end's traffic entry says per request; the front end's call step keeps one
    // HTTP/2 connection per front-end pod: 2 connections, at most 2 of the 6 pods reached.
    let own = front_and_back("own", 1, 2, 6, "", "").replace(
        "calls: [{call: back}]",
        "calls: [{call: back, connections: {mode: http2}}]",
    );
    let c = back_connections(&own, "connections-call-step-http2").unwrap();
    assert_eq!(c.opened, 2, "{c:?}");
    assert!(c.pods_reached <= 2, "{c:?}");
    // The reverse: the Service says http2, the caller balances each call itself (a
    // client-side balancer): the Service's table is never used.
    let balanced = front_and_back("bal", 1, 2, 6, ", connections: {mode: http2}", "").replace(
        "calls: [{call: back}]",
        "calls: [{call: back, connections: {mode: perRequest}}]",
    );
    let c = back_connections(&balanced, "connections-call-step-per-request").unwrap();
    assert_eq!((c.opened, c.requests, c.pods_reached), (0, 0, 0), "{c:?}");
}
