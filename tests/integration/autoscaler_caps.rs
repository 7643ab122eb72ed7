//! The Cluster Autoscaler's cluster-wide caps and balancing: `--max-nodes-total` as upstream's
//! gate (Ready nodes at the maximum: no scale-up, a `MaxNodesTotalReached` warning, every pod
//! told with no reason) and as a cap on a scale-up (nodes existing and coming), and
//! `--balance-similar-node-groups` spreading one scale-up over similar node groups.

use kubesim::controllers::autoscaler::AutoscalerEvent;
use kubesim::engine::RunOutput;
use kubesim::metrics::pod_events::PodEventReason;

use crate::support::{app_deployment, run_text};

/// Pods of `cpu` each (`replicas` of them) on 4-cpu pools (`pools`, YAML list items) with the
/// autoscaler's flags `flags` (a YAML flow mapping's inside); 2-minute provisioning.
fn scenario(name: &str, replicas: u32, cpu: &str, pools: &str, flags: &str) -> RunOutput {
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {name}}}
spec:
  duration: 10m
  sampleInterval: 10s
  cluster:
    nodePools:
{pools}  clusterAutoscaler: {{{flags}}}
---
{deployment}"#,
        deployment = app_deployment(replicas, cpu, "")
    );
    run_text(name, &text)
}

/// A 4-cpu / 16Gi pool item named `name` with `count` nodes (max 10) and `extra` fields.
fn pool(name: &str, count: u32, extra: &str) -> String {
    format!(
        "      - name: {name}\n        allocatable: {{cpu: \"4\", memory: 16Gi}}\n        count: {count}\n        maxCount: 10\n        provisioningTime: 2m\n{extra}"
    )
}

fn events(out: &RunOutput) -> &[AutoscalerEvent] {
    out.autoscaler_events
        .as_deref()
        .expect("the autoscaler ran")
}

/// `(time, pool, nodes)` of every scale-up.
fn scale_ups(out: &RunOutput) -> Vec<(f64, String, usize)> {
    events(out)
        .iter()
        .filter_map(|e| match e {
            AutoscalerEvent::ScaleUp {
                t_seconds,
                pool,
                nodes,
                ..
            } => Some((*t_seconds, pool.clone(), *nodes)),
            _ => None,
        })
        .collect()
}

/// `(time, nodes counted)` of every `MaxNodesTotalReached`.
fn max_total_reached(out: &RunOutput) -> Vec<(f64, usize)> {
    events(out)
        .iter()
        .filter_map(|e| match e {
            AutoscalerEvent::MaxNodesTotalReached {
                t_seconds, nodes, ..
            } => Some((*t_seconds, *nodes)),
            _ => None,
        })
        .collect()
}

/// The distinct messages of one reason, in order of first appearance.
fn messages(out: &RunOutput, reason: PodEventReason) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for e in out.pod_events.iter().filter(|e| e.reason == reason) {
        if !seen.contains(&e.message) {
            seen.push(e.message.clone());
        }
    }
    seen
}

#[test]
fn ready_nodes_at_max_nodes_total_stop_every_scale_up() {
    // 12 pods of 1 cpu on two 4-cpu nodes: 4 wait. With max-nodes-total 2 the two Ready nodes
    // are at the maximum: upstream's gate (static_autoscaler.go) logs MaxNodesTotalReached,
    // tries no scale-up, and tells every pending pod "pod didn't trigger scale-up: " with no
    // reason (its PodsRemainUnschedulable hold no rejected or skipped groups).
    let out = scenario(
        "ca-max-total-gate",
        12,
        "1",
        &pool("general", 2, ""),
        "max-nodes-total: 2",
    );
    assert!(scale_ups(&out).is_empty(), "{:?}", scale_ups(&out));
    // Logged once while it lasts, at the first scan.
    assert_eq!(max_total_reached(&out), vec![(10.0, 2)]);
    assert_eq!(
        messages(&out, PodEventReason::NotTriggerScaleUp),
        ["pod didn't trigger scale-up: "]
    );
}

#[test]
fn max_nodes_total_caps_a_scale_up_then_gates_the_next() {
    // 8 pods of 2 cpu on one 4-cpu node: 6 wait and would need 3 nodes. max-nodes-total 3
    // leaves 3 − 1 = 2 for the binpacking (upstream's cluster-capacity threshold), which packs
    // 4 pods on them: one scale-up of 2 at 10 s. While they provision, the cluster's nodes
    // (1 Ready + 2 coming) are at the maximum: estimates add no node, and the 2 pods left fit
    // the group's template, so they are not told anything (they are not
    // PodsRemainUnschedulable). At 130 s the new nodes are Ready: 3 Ready nodes hit the gate.
    let out = scenario(
        "ca-max-total-cap",
        8,
        "2",
        &pool("general", 1, ""),
        "max-nodes-total: 3",
    );
    assert_eq!(scale_ups(&out), vec![(10.0, "general".to_string(), 2)]);
    let reached = max_total_reached(&out);
    assert_eq!(reached.len(), 1, "{reached:?}");
    assert!((130.0..=140.0).contains(&reached[0].0), "{reached:?}");
    assert_eq!(reached[0].1, 3);
    let told: Vec<f64> = out
        .pod_events
        .iter()
        .filter(|e| e.reason == PodEventReason::NotTriggerScaleUp)
        .map(|e| e.t_seconds)
        .collect();
    assert!(told.iter().all(|&t| t >= 130.0), "{told:?}");
}

#[test]
fn balancing_spreads_a_scale_up_over_similar_groups() {
    // 16 pods of 2 cpu on a (1 node) and b (2 nodes): 6 run, 10 wait for 5 new nodes. With
    // --balance-similar-node-groups the two groups (same resources; only their zones differ,
    // which is ignored) share the 5: nodes go to the smaller group first, a 1→2→3, then in
    // turn a 4, b 3, b 4 (BalanceScaleUpBetweenGroups): a 1->4, b 2->4.
    let pools = format!(
        "{}{}",
        pool("a", 1, "        zones: [z1]\n"),
        pool("b", 2, "        zones: [z2]\n")
    );
    let out = scenario(
        "ca-balance",
        16,
        "2",
        &pools,
        "balance-similar-node-groups: true",
    );
    let mut ups = scale_ups(&out);
    ups.sort_by(|x, y| x.1.cmp(&y.1));
    assert_eq!(
        ups,
        vec![(10.0, "a".to_string(), 3), (10.0, "b".to_string(), 2)]
    );
    assert_eq!(
        messages(&out, PodEventReason::TriggeredScaleUp),
        ["pod triggered scale-up: [{a 1->4 (max: 10)} {b 2->4 (max: 10)}]"]
    );
    // Without the flag one group takes all 5.
    let alone = scenario("ca-no-balance", 16, "2", &pools, "");
    let ups = scale_ups(&alone);
    assert_eq!(ups.len(), 1, "{ups:?}");
    assert_eq!(ups[0].2, 5);
}

#[test]
fn a_label_that_differs_keeps_groups_apart_unless_ignored() {
    // As above, but the pools carry different `team` labels: not similar (upstream compares
    // every label but the ignored ones), so one group takes all 5 nodes; with
    // --balancing-ignore-label team they are similar again.
    let pools = format!(
        "{}{}",
        pool("a", 1, "        labels: {team: red}\n"),
        pool("b", 2, "        labels: {team: blue}\n")
    );
    let apart = scenario(
        "ca-balance-label",
        16,
        "2",
        &pools,
        "balance-similar-node-groups: true",
    );
    assert_eq!(scale_ups(&apart).len(), 1);
    let ignored = scenario(
        "ca-balance-ignored",
        16,
        "2",
        &pools,
        "balance-similar-node-groups: true, balancing-ignore-label: [team]",
    );
    assert_eq!(scale_ups(&ignored).len(), 2, "{:?}", scale_ups(&ignored));
}
