//! Lasting connections (`connections: {mode: http2}`, issue 47): kube-proxy balances
//! connections, not requests, so a client's requests all go to the pod its connection landed on.

use crate::support::{OneNode, deployment_and_service, run_text};
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
    let text = text.replacen("  traffic:\n", &format!("{scale}  traffic:\n"), 1);
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
