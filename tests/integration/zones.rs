//! Zones (issue 47 part 3): which endpoints kube-proxy prefers (`trafficDistribution`,
//! topology hints, `internalTrafficPolicy` and `externalTrafficPolicy`), what a call between
//! zones adds to its latency, and what its bytes cost.

use crate::support::run_text;
use kubesim::metrics::report::{ServiceReport, ZonesReport};

/// A Deployment `name` of `replicas` pods on the nodes `selector` picks (`{}`: any), and its
/// Service with `service_spec` fields added (`""`: none) and `annotations`.
fn workload(
    name: &str,
    replicas: u32,
    selector: &str,
    service_spec: &str,
    annotations: &str,
) -> String {
    format!(
        r#"---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      nodeSelector: {selector}
      containers:
        - name: app
          resources: {{requests: {{cpu: "1"}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, annotations: {{{annotations}}}}}
spec: {{selector: {{app: {name}}}{service_spec}}}
"#
    )
}

/// More pods for Service `back`: a Deployment `name` of `replicas` pods in zone `z`.
fn more_back(name: &str, replicas: u32, z: &str) -> String {
    format!(
        r#"---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: back, part: {name}}}}}
  template:
    metadata: {{labels: {{app: back, part: {name}}}}}
    spec:
      nodeSelector: {{topology.kubernetes.io/zone: {z}}}
      containers:
        - name: app
          resources: {{requests: {{cpu: "1"}}}}
"#
    )
}

/// The zone `z`'s nodes.
fn zone(z: &str) -> String {
    format!("{{topology.kubernetes.io/zone: {z}}}")
}

/// One node in each of `zones` (64 CPUs each), a front end of one pod in zone `front_zone`
/// calling a back end (`back`: its manifests), 50 requests/s for 60 s; `network`: `spec`
/// fields; `call`: more fields of the front end's call step (`, timeout: 5ms`).
fn scenario(zones: &str, front_zone: &str, back: &str, network: &str, call: &str) -> String {
    let count = zones.split(',').count();
    let front = workload("front", 1, &zone(front_zone), "", "");
    format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: zones}}
spec:
  duration: 60s
  seed: 1
  startWarm: true
  cluster:
    nodePools:
      - {{name: pool, count: {count}, zones: [{zones}], allocatable: {{cpu: "64", memory: 256Gi}}}}
{network}  workloads:
    - {{deployment: front, startupTime: 0s, cpuPerRequest: 1ms, calls: [{{call: back{call}}}]}}
    - {{deployment: back, startupTime: 0s, cpuPerRequest: 2ms}}
  traffic:
    - {{service: front, arrivals: {{constant: {{rate: 50}}}}}}
    - {{service: back, loadBalancing: RoundRobin}}
{front}{back}"#
    )
}

fn service<'a>(out: &'a kubesim::engine::RunOutput, name: &str) -> &'a ServiceReport {
    out.report.services.iter().find(|s| s.name == name).unwrap()
}

fn back_zones(out: &kubesim::engine::RunOutput) -> ZonesReport {
    service(out, "back").zones.clone().expect("a zones report")
}

/// `replicas` back-end pods spread evenly over the zones (maxSkew 1, DoNotSchedule), its Service
/// with `service_spec` fields and `annotations`.
fn spread_back(replicas: u32, service_spec: &str, annotations: &str) -> String {
    let mut text = workload("back", replicas, "{}", service_spec, annotations);
    text = text.replacen(
        "      nodeSelector: {}\n",
        "      topologySpreadConstraints:\n        - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: back}}}\n",
        1,
    );
    text
}

#[test]
fn prefer_close_keeps_calls_in_the_callers_zone() {
    // 6 back-end pods, 2 per zone; the front end in zone a. With PreferClose every call goes
    // to zone a's two pods: no call crosses. Without, round-robin over the 6 pods sends 2 of
    // every 6 calls to zone a and 4 across: exactly 2/3 of the 3 000 calls cross.
    let close = spread_back(6, ", trafficDistribution: PreferClose", "");
    let out = run_text(
        "zones-prefer-close",
        &scenario("a, b, c", "a", &close, "", ""),
    );
    let z = back_zones(&out);
    assert_eq!(z.cross_zone_calls, 0, "{z:?}");
    assert_eq!(z.same_zone_calls, service(&out, "back").requests);
    assert_eq!(
        z.requests_by_zone["b"] + z.requests_by_zone["c"],
        0,
        "{z:?}"
    );
    assert_eq!(z.cross_zone_cost_usd, None);

    let anywhere = spread_back(6, ", trafficDistribution: PreferClose", "");
    let anywhere = anywhere.replace(", trafficDistribution: PreferClose", "");
    let network = "  network: {cloud: aws}\n";
    let out = run_text(
        "zones-anywhere",
        &scenario("a, b, c", "a", &anywhere, network, ""),
    );
    let z = back_zones(&out);
    let calls = z.same_zone_calls + z.cross_zone_calls;
    assert!(calls >= 2990, "{z:?}");
    assert!(
        (z.cross_zone_calls as i64 * 3 - calls as i64 * 2).abs() <= 4,
        "{z:?}"
    );
    // Each crossing call sends 1 000 bytes and gets 1 000 back (the defaults): at AWS's
    // 0.01 USD per GB each way, 2 000 crossing calls cost 2 000 × 2 000 B / 1e9 × 0.02 USD.
    let gb = z.cross_zone_calls as f64 * 2000.0 / 1e9;
    assert!((z.cross_zone_gb - gb).abs() < 1e-6, "{z:?}");
    assert!(
        (z.cross_zone_cost_usd.unwrap() - gb * 0.02).abs() < 1e-6,
        "{z:?}"
    );
    let network = out.report.network.clone().expect("a network report");
    assert_eq!(network.usd_per_gb, 0.02);
    assert!((network.total_cost_usd - out.report.totals.cost_usd - gb * 0.02).abs() < 1e-3);
}

#[test]
fn a_call_between_zones_waits_for_the_round_trip() {
    // The back end only in zone b, the front end in zone a: every call crosses. The front
    // end's requests take 1 ms of its CPU + 2 ms of the back end's + the round trip.
    let back = workload("back", 2, &zone("b"), "", "");
    let p50 = |network: &str| {
        let out = run_text("zones-latency", &scenario("a, b", "a", &back, network, ""));
        service(&out, "front").latency_ms.p50
    };
    assert!((p50("") - 3.0).abs() < 0.05, "without spec.network: none");
    let default = "  network: {}\n";
    assert!(
        (p50(default) - 3.8).abs() < 0.05,
        "the default round trip: 0.8 ms"
    );
    let cross = "  network: {latency: {crossZone: 10ms}}\n";
    assert!((p50(cross) - 13.0).abs() < 0.05);
    let pair = "  network: {latency: {crossZone: 10ms, pairs: [{zones: [b, a], latency: 20ms}]}}\n";
    assert!((p50(pair) - 23.0).abs() < 0.05);
    // A caller that waits 5 ms gives up before any answer arrives.
    let out = run_text(
        "zones-timeout",
        &scenario("a, b", "a", &back, cross, ", timeout: 5ms"),
    );
    let front = service(&out, "front");
    assert_eq!(front.served, 0, "{front:?}");
}

#[test]
fn topology_hints_give_a_zone_endpoints_in_proportion_to_its_cpu() {
    // Two zones of equal CPU; 3 back-end pods in zone a and 1 in b; the front end in b.
    // Hints: desired 2 per zone (minimum ⌈2/1.2⌉ = 2), a has one too many and gives its first
    // pod to b: zone b's clients use that pod and b's own, round-robin — half the calls cross.
    // PreferClose would send them all to b's one pod; no preference, 3 of 4 across.
    let back = |spec: &str, annotations: &str| {
        let mut text = workload("back", 3, &zone("a"), spec, annotations);
        text.push_str(&more_back("back-b", 1, "b"));
        text
    };
    let run = |back: &str| {
        let text = scenario("a, b", "b", back, "  network: {}\n", "")
            .replace("- {deployment: back, startupTime: 0s, cpuPerRequest: 2ms}", "- {deployment: back, startupTime: 0s, cpuPerRequest: 2ms}\n    - {deployment: back-b, startupTime: 0s, cpuPerRequest: 2ms}");
        back_zones(&run_text("zones-hints", &text))
    };
    let hints = run(&back("", "service.kubernetes.io/topology-mode: Auto"));

    let (a, b) = (hints.requests_by_zone["a"], hints.requests_by_zone["b"]);
    assert!(a.abs_diff(b) <= 1, "{hints:?}");
    assert_eq!(hints.hints.as_deref(), Some("on"));
    let close = run(&back(", trafficDistribution: PreferClose", ""));
    assert_eq!(close.requests_by_zone["a"], 0, "{close:?}");
    let none = run(&back("", ""));
    let (a, b) = (none.requests_by_zone["a"], none.requests_by_zone["b"]);
    assert!(a.abs_diff(3 * b) <= 3, "{none:?}");
    // 3 endpoints over 2 zones of equal CPU: minimums ⌈1.5/1.2⌉ = 2 each, 4 > 3: no hints,
    // every call may go to any of the 3 pods (2 of 3 in zone a).
    let mut three = workload(
        "back",
        2,
        &zone("a"),
        "",
        "service.kubernetes.io/topology-mode: Auto",
    );
    three.push_str(&more_back("back-b", 1, "b"));
    let off = run(&three);
    assert!(
        off.hints
            .as_deref()
            .unwrap()
            .starts_with("off: giving every zone"),
        "{off:?}"
    );
    let (a, b) = (off.requests_by_zone["a"], off.requests_by_zone["b"]);
    assert!(a.abs_diff(2 * b) <= 3, "{off:?}");
}

#[test]
fn internal_traffic_policy_local_keeps_calls_on_the_callers_node() {
    // The back end only in zone b, the front end on zone a's node: nothing is local, so every
    // call fails (kube-proxy drops it) and so does every front-end request.
    let back = workload("back", 2, &zone("b"), ", internalTrafficPolicy: Local", "");
    let out = run_text("zones-local-none", &scenario("a, b", "a", &back, "", ""));
    let b = service(&out, "back");
    assert_eq!(b.served, 0);
    assert_eq!(b.failed_by_reason["no_endpoint"], b.requests);
    assert_eq!(service(&out, "front").served, 0);
    // One back-end pod on the front end's node (zone a) and one in b: every call goes to a.
    let back = spread_back(2, ", internalTrafficPolicy: Local", "");
    let out = run_text("zones-local", &scenario("a, b", "a", &back, "", ""));
    let z = back_zones(&out);
    assert_eq!(z.requests_by_zone["b"], 0, "{z:?}");
    assert!(z.requests_by_zone["a"] >= 2990, "{z:?}");
}

#[test]
fn external_traffic_policy_local_splits_traffic_by_node_not_by_pod() {
    // Zone a's node runs 2 pods, zone b's 1; requests from outside. With Local the load
    // balancer picks one of the 2 nodes, each half the time, and the node one of its own pods:
    // b's one pod gets 1/2. With Cluster, round-robin over the 3 pods gives b 1/3.
    let manifests = |policy: &str| {
        let mut text = workload("back", 2, &zone("a"), policy, "");
        text.push_str(&more_back("back-b", 1, "b"));
        text
    };
    let share_b = |policy: &str| {
        let text = format!(
            r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: external}}
spec:
  duration: 60s
  seed: 3
  startWarm: true
  cluster:
    nodePools:
      - {{name: pool, count: 2, zones: [a, b], allocatable: {{cpu: "64", memory: 256Gi}}}}
  workloads:
    - {{deployment: back, startupTime: 0s, cpuPerRequest: 2ms}}
    - {{deployment: back-b, startupTime: 0s, cpuPerRequest: 2ms}}
  traffic:
    - {{service: back, arrivals: {{constant: {{rate: 100}}}}, loadBalancing: RoundRobin}}
{}"#,
            manifests(policy)
        );
        let z = back_zones(&run_text("zones-external", &text));
        z.requests_by_zone["b"] as f64 / (z.requests_by_zone["a"] + z.requests_by_zone["b"]) as f64
    };
    let local = share_b(", type: LoadBalancer, externalTrafficPolicy: Local");

    // 6 000 requests, each to b with probability 1/2: standard deviation 0.0065.
    assert!((local - 0.5).abs() < 0.025, "{local}");
    let cluster = share_b(
        ", type: LoadBalancer, externalTrafficPolicy: Cluster, trafficDistribution: PreferClose",
    );
    assert!((cluster - 1.0 / 3.0).abs() < 0.01, "{cluster}");
}
