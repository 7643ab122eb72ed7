//! Node failures end to end: a machine that stops takes its pods' requests down with it until
//! the node lifecycle controller finds it unreachable (50 s), and its pods come back elsewhere
//! only after the 300 s eviction timeout; `kubectl drain` moves pods through their budgets.

use kubesim::engine::RunOutput;
use kubesim::metrics::pod_events::PodEventReason;

use crate::support::{app_deployment, column, run_text};

/// Deployment `app` (4 pods of 1 cpu, 5 s to start) behind Service `app` at 100 req/s on two
/// 4-cpu nodes in zone `a`, with `events` as `spec.events` and `manifests` appended.
fn two_nodes(name: &str, events: &str, manifests: &str) -> RunOutput {
    two_nodes_with(name, "", events, manifests)
}

/// [`two_nodes`] with `pool` appended to the node pool (indented for its fields) and a run
/// of `duration`.
fn two_nodes_with(name: &str, pool: &str, events: &str, manifests: &str) -> RunOutput {
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {name}}}
spec:
  duration: 20m
  sampleInterval: 10s
  cluster:
    nodePools:
      - name: general
        allocatable: {{cpu: "4", memory: 16Gi}}
        count: 2
        zones: [a]
{pool}  workloads:
    - deployment: app
      startupTime: 5s
      cpuPerRequest: 10ms
  traffic:
    - service: app
      arrivals: {{constant: {{rate: 100}}}}
  events:
{events}
---
{deployment}---
apiVersion: v1
kind: Service
metadata: {{name: app}}
spec:
  selector: {{app: app}}
{manifests}"#,
        deployment = app_deployment(4, "1", "")
    );
    run_text(name, &text)
}

fn failed(out: &RunOutput, reason: &str) -> u64 {
    out.report.services[0].failed_by_reason[reason]
}

#[test]
fn a_failed_nodes_pods_come_back_only_after_the_eviction_timeout() {
    // general-1 (2 of the 4 pods) stops at 300 s. Its pods keep their endpoints until the
    // controller's monitor sees 50 s without a heartbeat (350 s): requests sent there fail.
    // The NoExecute taint follows at once (upstream's tainting pass runs every 100 ms; zone a
    // has 1 of 2 nodes unreachable, healthy); the pods' 300 s toleration runs out at 650 s,
    // they are deleted, and their replacements start on general-0 (room for two more), Ready
    // 5 s later.
    let out = two_nodes(
        "failed-node",
        "    - {at: 5m, action: failNode, node: general-1}",
        "",
    );
    assert!(failed(&out, "node_failure") > 0);
    for (t, ready) in column(&out, "deployment.app.ready") {
        let expected = match t {
            t if t < 300.0 => 4.0,
            t if (360.0..650.0).contains(&t) => 2.0,
            t if t >= 660.0 => 4.0,
            _ => continue,
        };
        assert_eq!(ready, expected, "ready pods at {t} s");
    }
    let evicted: Vec<f64> = out
        .pod_events
        .iter()
        .filter(|e| e.reason == PodEventReason::Killing && e.message.contains("NoExecute"))
        .map(|e| e.t_seconds)
        .collect();
    assert_eq!(evicted, vec![650.0, 650.0]);
    // Their replacements say so.
    let replacing: Vec<&str> = (out.pod_events.iter())
        .filter(|e| e.reason == PodEventReason::Created && e.t_seconds == 650.0)
        .filter_map(|e| e.message.split_once(" to replace ").map(|(_, why)| why))
        .collect();
    assert_eq!(replacing.len(), 2, "{:?}", out.pod_events);
    for why in replacing {
        assert!(
            why.ends_with("lost at 00:10:50: evicted from node general-1, which had failed"),
            "{why}"
        );
    }
    // After the endpoints are gone nothing more fails.
    let failures_after = column(&out, "service.app.failed")
        .into_iter()
        .filter(|(t, f)| *t > 360.0 && *f > 0.0)
        .count();
    assert_eq!(failures_after, 0);
}

#[test]
fn a_node_back_within_the_grace_period_keeps_its_pods() {
    // general-1 is down from 300 s to 330 s, less than the 50 s grace period: its pods were
    // never marked not Ready and nobody is evicted; only requests sent there meanwhile fail.
    let out = two_nodes(
        "node-blip",
        "    - {at: 5m, action: failNode, node: general-1}
    - {at: 330s, action: recoverNode, node: general-1}",
        "",
    );
    assert!(failed(&out, "node_failure") > 0);
    assert!(
        column(&out, "deployment.app.ready")
            .iter()
            .all(|(_, r)| *r == 4.0)
    );
    assert!(
        !out.pod_events
            .iter()
            .any(|e| e.reason == PodEventReason::Killing)
    );
}

#[test]
fn a_whole_zone_down_is_not_evicted() {
    // Both nodes are in the one zone and both fail: every zone is fully disrupted, so the
    // controller assumes its own connectivity is at fault and taints nothing NoExecute. The
    // pods are not Ready (no endpoints) but never evicted; when the zone returns at 15 m they
    // serve again.
    let out = two_nodes(
        "zone-down",
        "    - {at: 5m, action: failZone, zone: a}
    - {at: 15m, action: recoverZone, zone: a}",
        "",
    );
    assert!(
        !out.pod_events
            .iter()
            .any(|e| e.reason == PodEventReason::Killing)
    );
    for (t, ready) in column(&out, "deployment.app.ready") {
        if (360.0..900.0).contains(&t) {
            assert_eq!(ready, 0.0, "ready pods at {t} s");
        }
    }
    assert_eq!(column(&out, "deployment.app.ready").last().unwrap().1, 4.0);
    assert!(failed(&out, "no_endpoint") > 0);
    // The controller says so, once per node.
    let held: Vec<(f64, &str)> = (out.cluster_events.iter())
        .filter(|e| format!("{:?}", e.reason) == "NodeTaintHeld")
        .map(|e| (e.t_seconds, e.name.as_str()))
        .collect();
    assert_eq!(held, vec![(350.0, "general-0"), (350.0, "general-1")]);
    assert!(out.cluster_events.iter().any(|e| {
        e.message
            .starts_with("NoExecute taint held: every zone is fully disrupted")
    }));
}

#[test]
fn the_last_zone_failing_cancels_the_evictions_already_under_way() {
    // general-1 stops at 300 s: NotReady and tainted NoExecute at 350 s (its pods would go at
    // 650 s). general-0 stops at 360 s: NotReady at 410 s, and now every zone (the one zone,
    // a) is fully disrupted: master disruption mode takes general-1's NoExecute taint off, so
    // nothing is evicted. Both return at 15 m.
    let out = two_nodes(
        "zone-down-in-turn",
        "    - {at: 5m, action: failNode, node: general-1}
    - {at: 6m, action: failNode, node: general-0}
    - {at: 15m, action: recoverZone, zone: a}",
        "",
    );
    assert!(
        !(out.pod_events.iter()).any(|e| e.reason == PodEventReason::Killing),
        "nothing is evicted"
    );
    // Each of general-1's events: its reason and its message up to the first colon.
    let reasons: Vec<(f64, String)> = (out.cluster_events.iter())
        .filter(|e| e.name == "general-1")
        .map(|e| {
            let head = e.message.split(':').next().unwrap_or_default();
            (e.t_seconds, format!("{:?} {head}", e.reason))
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            (300.0, "NodeFailed scripted".to_string()),
            (350.0, "NodeNotReady no heartbeat since 00".to_string()),
            (
                350.0,
                "NodeTainted tainted node.kubernetes.io/unreachable".to_string()
            ),
            (
                410.0,
                "NodeTaintHeld NoExecute taint removed, its evictions cancelled".to_string()
            ),
            (900.0, "NodeRecovered scripted".to_string()),
            (
                900.0,
                "NodeReady heartbeating again after 9m10s NotReady".to_string()
            ),
        ]
    );
    assert_eq!(column(&out, "deployment.app.ready").last().unwrap().1, 4.0);
}

#[test]
fn kubectl_drain_moves_pods_through_their_budget() {
    // Drain general-1 at 5 m under `maxUnavailable: 1`: one of its two pods is evicted at
    // once; the other waits until the replacement is Ready (5 s) and goes on a retry (every
    // 5 s). The node is cordoned, so both replacements land on general-0.
    let pdb = "---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: app}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: app}}
";
    let out = two_nodes(
        "kubectl-drain",
        "    - {at: 5m, action: drain, node: general-1}",
        pdb,
    );
    let killed: Vec<f64> = out
        .pod_events
        .iter()
        .filter(|e| e.reason == PodEventReason::Killing)
        .map(|e| e.t_seconds)
        .collect();
    assert_eq!(killed.len(), 2, "{killed:?}");
    assert_eq!(killed[0], 300.0);
    assert!(killed[1] >= 305.0 && killed[1] <= 315.0, "{killed:?}");
    let on_general_0 = out
        .pod_events
        .iter()
        .filter(|e| e.reason == PodEventReason::Scheduled && e.t_seconds >= 300.0)
        .all(|e| e.message.ends_with("general-0"));
    assert!(on_general_0);
    let drained = "evicted from node general-1, which was cordoned and drained";
    let replacing = (out.pod_events.iter())
        .filter(|e| e.reason == PodEventReason::Created && e.message.ends_with(drained))
        .count();
    assert_eq!(replacing, 2);
    assert!(
        column(&out, "deployment.app.ready")
            .iter()
            .all(|(_, r)| *r >= 3.0)
    );
}

#[test]
fn random_failures_come_from_their_own_stream() {
    // Nodes failing every 30 min on average for 3 min, over 20 min: some requests fail as
    // node_failure. The arrivals are drawn from their own stream: exactly as many requests
    // arrive as without failures, and the run is the same twice.
    let failing = "        failures: {mtbf: 30m, repairTime: 3m}\n";
    let with = two_nodes_with("random-failures", failing, "    []", "");
    let without = two_nodes_with("no-failures", "", "    []", "");
    assert!(failed(&with, "node_failure") > 0);
    assert_eq!(failed(&without, "node_failure"), 0);
    assert_eq!(
        with.report.services[0].requests,
        without.report.services[0].requests
    );
    let again = two_nodes_with("random-failures", failing, "    []", "");
    assert_eq!(
        serde_json::to_string(&with.report).unwrap(),
        serde_json::to_string(&again.report).unwrap()
    );
}

#[test]
fn a_spot_interruption_drains_within_its_notice_then_the_node_is_gone() {
    // general-1 (a spot node) gets its 2-minute notice at 5 m: it is cordoned and drained at
    // once, its two pods' replacements start on general-0, and at 7 m the machine leaves the
    // cluster (and the bill). Drained gracefully, no request is lost to the node.
    let spot = "        capacityType: spot\n        spotPricePerHour: 0.05\n";
    let out = two_nodes_with(
        "spot-interruption",
        spot,
        "    - {at: 5m, action: interruptSpot, node: general-1}",
        "",
    );
    for (t, nodes) in column(&out, "pool.general.nodes") {
        let expected = if t < 420.0 { 2.0 } else { 1.0 };
        assert_eq!(nodes, expected, "nodes at {t} s");
    }
    assert_eq!(failed(&out, "node_failure"), 0);
    let moved_to_general_0 = out
        .pod_events
        .iter()
        .filter(|e| e.reason == PodEventReason::Scheduled && e.t_seconds >= 300.0)
        .filter(|e| e.message.ends_with("general-0"))
        .count();
    assert_eq!(moved_to_general_0, 2);
    assert_eq!(column(&out, "deployment.app.ready").last().unwrap().1, 4.0);
}

#[test]
fn random_spot_interruptions_shrink_the_pool_without_touching_the_traffic() {
    // A spot interruption every 10 min on average per node, over 20 min and without an
    // autoscaler: nodes leave and are not replaced. The arrivals are unchanged.
    let spot = "        capacityType: spot\n        spotPricePerHour: 0.05\n";
    let interrupted = format!("{spot}        spotInterruptionMTBI: 10m\n");
    let with = two_nodes_with("random-spot", &interrupted, "    []", "");
    let without = two_nodes_with("no-spot", spot, "    []", "");
    assert!(column(&with, "pool.general.nodes").last().unwrap().1 < 2.0);
    assert_eq!(
        with.report.services[0].requests,
        without.report.services[0].requests
    );
}

#[test]
fn scripted_events_pick_their_node_when_they_happen() {
    // Two nodes, general-0 and general-1 (created in that order), two of the four pods on
    // each. Each pick chooses among the pool's nodes its action applies to:
    //   2m cordon newest          → general-1 (created last)
    //   3m uncordon random        → general-1 (the only cordoned node)
    //   4m failNode busiest       → general-0 (two pods each: the first created among equals)
    //   5m failNode random        → general-1 (the only node still up)
    //   6m failNode random        → none up: skipped, with a warning event
    //   7m recoverNode general-0  → by name
    let events = "    - {at: 2m, action: cordon, node: {pool: general, pick: newest}}
    - {at: 3m, action: uncordon, node: {pool: general}}
    - {at: 4m, action: failNode, node: {pool: general, pick: busiest}}
    - {at: 5m, action: failNode, node: {pool: general, pick: random}}
    - {at: 6m, action: failNode, node: {pool: general, pick: random}}
    - {at: 7m, action: recoverNode, node: general-0}";
    let out = two_nodes("picked-nodes", events, "");
    let said: Vec<(f64, String, String)> = (out.cluster_events.iter())
        .filter(|e| e.t_seconds >= 120.0 && e.t_seconds <= 420.0)
        .map(|e| (e.t_seconds, format!("{:?}", e.reason), e.name.clone()))
        .collect();
    let expected = [
        (120.0, "Cordon", "general-1"),
        (180.0, "Uncordon", "general-1"),
        (240.0, "NodeFailed", "general-0"),
        // The node lifecycle controller: general-0 NotReady and tainted NoExecute 50 s later …
        (290.0, "NodeNotReady", "general-0"),
        (290.0, "NodeTainted", "general-0"),
        (300.0, "NodeFailed", "general-1"),
        // … until general-1 is silent too: every zone fully disrupted, general-0's taint
        // comes off and general-1's is held.
        (350.0, "NodeNotReady", "general-1"),
        (350.0, "NodeTaintHeld", "general-0"),
        (350.0, "NodeTaintHeld", "general-1"),
        (360.0, "ScriptedEventSkipped", "picked-nodes"),
        (420.0, "NodeRecovered", "general-0"),
        // general-0 heard from: zone a is no longer all down, general-1 is tainted at once.
        (420.0, "NodeReady", "general-0"),
        (420.0, "NodeTainted", "general-1"),
    ];
    let expected: Vec<(f64, String, String)> = (expected.iter())
        .map(|(t, r, n)| (*t, r.to_string(), n.to_string()))
        .collect();
    assert_eq!(said, expected);
}
