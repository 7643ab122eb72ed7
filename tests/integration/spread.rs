//! PodTopologySpread end to end: a DoNotSchedule zone constraint balances a Deployment over
//! zones and leaves a pod Pending with the scheduler's reason when it cannot; the system
//! default constraints spread pods over nodes.

use std::collections::BTreeMap;

use kubesim::engine::RunOutput;
use kubesim::metrics::pod_events::PodEventReason;

use crate::support::{app_deployment, load, run, scratch};

/// `replicas` pods of 1 cpu on `nodes` 2-cpu nodes spread round-robin over `zones`, with the
/// pod spec lines `pod_extra` (indented for `spec.template.spec`) and the scheduler
/// configuration `scheduler_config` (none when empty).
fn zoned(
    name: &str,
    replicas: u32,
    nodes: u32,
    zones: &str,
    pod_extra: &str,
    scheduler_config: &str,
) -> RunOutput {
    let dir = scratch(name);
    let config_line = if scheduler_config.is_empty() {
        String::new()
    } else {
        std::fs::write(dir.join("sched.yaml"), scheduler_config).unwrap();
        "  schedulerConfig: sched.yaml\n".to_string()
    };
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {name}}}
spec:
  duration: 5m
  cluster:
    nodePools:
      - name: general
        allocatable: {{cpu: "2", memory: 16Gi}}
        count: {nodes}
        zones: {zones}
{config_line}---
{deployment}"#,
        deployment = app_deployment(replicas, "1", pod_extra)
    );
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, text).unwrap();
    run(&load(&path, None, &[]))
}

/// Pods bound per node name.
fn pods_per_node(out: &RunOutput) -> BTreeMap<String, usize> {
    let mut per_node = BTreeMap::new();
    for e in &out.pod_events {
        if e.reason == PodEventReason::Scheduled {
            let node = e.message.rsplit(' ').next().unwrap().to_string();
            *per_node.entry(node).or_insert(0) += 1;
        }
    }
    per_node
}

/// The FailedScheduling messages of the run, in order.
fn failed_scheduling(out: &RunOutput) -> Vec<&str> {
    out.pod_events
        .iter()
        .filter(|e| e.reason == PodEventReason::FailedScheduling)
        .map(|e| e.message.as_str())
        .collect()
}

const ZONE_SPREAD: &str = "      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: DoNotSchedule
          labelSelector: {matchLabels: {app: app}}
";

#[test]
fn a_zone_constraint_keeps_zones_within_max_skew_or_leaves_the_pod_pending() {
    // Zones round-robin: general-0 and general-2 in a, general-1 in b (2 cpu each). With
    // maxSkew 1 the pods go a, b, a, b (2 and 2), then a third in a (3 − 2 = 1); a sixth would
    // make a 4 against b's 2 (b is full): Pending.
    let out = zoned("spread-zones", 6, 3, "[a, b]", ZONE_SPREAD, "");
    let per_node = pods_per_node(&out);
    let zone_a = per_node.get("general-0").unwrap_or(&0) + per_node.get("general-2").unwrap_or(&0);
    let zone_b = *per_node.get("general-1").unwrap_or(&0);
    assert_eq!((zone_a, zone_b), (3, 2), "{per_node:?}");
    let pending = failed_scheduling(&out);
    // The full nodes fail NodeResourcesFit (which runs first); the zone-a node with room
    // fails the spread check.
    assert_eq!(
        pending,
        [
            "0/3 nodes are available: 1 node(s) didn't match pod topology spread constraints, 2 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
        ]
    );
}

#[test]
fn system_default_spreading_outweighs_most_allocated_packing() {
    // MostAllocated alone would put 2 pods of 1 cpu on each 2-cpu node (2 nodes for 4 pods);
    // the default hostname spreading (weight 2) pulls each pod to an empty node instead.
    let most = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n  - pluginConfig:\n      - name: NodeResourcesFit\n        args: {scoringStrategy: {type: MostAllocated}}\n";
    let spread = zoned("spread-default", 4, 4, "[]", "", most);
    assert_eq!(pods_per_node(&spread).len(), 4);
    let no_defaults = format!(
        "{most}      - name: PodTopologySpread\n        args: {{defaultingType: List, defaultConstraints: []}}\n"
    );
    let packed = zoned("spread-off", 4, 4, "[]", "", &no_defaults);
    assert_eq!(pods_per_node(&packed).len(), 2);
}

#[test]
fn required_anti_affinity_puts_one_replica_per_node() {
    // Four replicas that refuse to share a host, on three nodes: the fourth waits, and
    // preemption cannot help (the pods on the nodes are as important as it is).
    let anti = "      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - labelSelector: {matchLabels: {app: app}}
              topologyKey: kubernetes.io/hostname
";
    let out = zoned("anti-affinity", 4, 3, "[]", anti, "");
    assert_eq!(
        pods_per_node(&out).values().copied().collect::<Vec<_>>(),
        [1, 1, 1]
    );
    let pending = failed_scheduling(&out);
    assert_eq!(
        pending,
        [
            "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
        ]
    );
}
