//! DaemonSets: one pod per eligible node, taking its share of every node — including the nodes
//! the Cluster Autoscaler adds, which it sizes with the DaemonSet pods already on them.

use kubesim::controllers::autoscaler::AutoscalerEvent;
use kubesim::engine::RunOutput;
use kubesim::metrics::pod_events::PodEventReason;

use crate::support::{app_deployment, load, run, scratch};

/// 4-cpu nodes (`pool_extra` appended to the pool), a DaemonSet `agent` of 500m with
/// `system-node-critical` priority (so it is placed before the pods waiting for a new node, as
/// node agents are configured in practice), and `replicas` pods of `app_cpu`.
fn with_agent(
    name: &str,
    pool_extra: &str,
    spec_extra: &str,
    replicas: u32,
    app_cpu: &str,
) -> RunOutput {
    let dir = scratch(name);
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {name}}}
spec:
  duration: 10m
  cluster:
    nodePools:
      - name: general
        allocatable: {{cpu: "4", memory: 16Gi}}
        pricePerHour: 0.2
{pool_extra}{spec_extra}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent}}
spec:
  selector: {{matchLabels: {{app: agent}}}}
  template:
    metadata: {{labels: {{app: agent}}}}
    spec:
      priorityClassName: system-node-critical
      containers:
        - name: agent
          resources: {{requests: {{cpu: 500m, memory: 128Mi}}}}
---
{deployment}"#,
        deployment = app_deployment(replicas, app_cpu, "")
    );
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, text).unwrap();
    run(&load(&path, None, &[]))
}

fn scheduled(out: &RunOutput, owner: &str) -> usize {
    out.pod_events
        .iter()
        .filter(|e| e.reason == PodEventReason::Scheduled && e.owner == owner)
        .count()
}

#[test]
fn every_node_runs_one_agent_and_apps_get_what_is_left() {
    // 3 nodes × (4 − 0.5) cpu: three 1-cpu app pods per node, 9 of 10; without the agents
    // all 10 would fit.
    let out = with_agent("ds-share", "        count: 3\n", "", 10, "1");
    assert_eq!(scheduled(&out, "agent"), 3);
    assert_eq!(scheduled(&out, "app"), 9);
    let agents_per_node: std::collections::BTreeSet<&str> = out
        .pod_events
        .iter()
        .filter(|e| e.reason == PodEventReason::Scheduled && e.owner == "agent")
        .map(|e| e.message.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(agents_per_node.len(), 3, "one agent on each node");
    let agents = out
        .report
        .deployments
        .iter()
        .find(|d| d.name == "agent")
        .unwrap();
    assert!(agents.cost_usd > 0.0, "the agents are charged their share");
}

#[test]
fn the_autoscaler_sizes_new_nodes_with_their_agents() {
    // One node; 4 app pods of 2 cpu: one fits next to the agent (3.5 cpu free), 3 are
    // pending. A template node has 3.5 cpu after its agent: one 2-cpu pod each, so 3 nodes
    // (2 per node would be the answer without the agent), and each new node gets an agent.
    let out = with_agent(
        "ds-autoscaler",
        "        count: 1\n        maxCount: 10\n        provisioningTime: 1m\n",
        "  clusterAutoscaler: {}\n",
        4,
        "2",
    );
    let scale_ups: Vec<(usize, usize)> = out
        .autoscaler_events
        .as_deref()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            AutoscalerEvent::ScaleUp { nodes, pods, .. } => Some((*nodes, *pods)),
            _ => None,
        })
        .collect();
    assert_eq!(scale_ups, [(3, 3)]);
    assert_eq!(scheduled(&out, "agent"), 4);
    assert_eq!(scheduled(&out, "app"), 4);
}

/// 4 nodes with DaemonSet `agent` (`update_strategy` as YAML flow, 10 s to start); at 2 min a
/// changed image is applied.
fn agent_rollout(name: &str, update_strategy: &str) -> RunOutput {
    let dir = scratch(name);
    let agent = |image: &str| {
        format!(
            r#"apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent}}
spec:
  updateStrategy: {update_strategy}
  selector: {{matchLabels: {{app: agent}}}}
  template:
    metadata: {{labels: {{app: agent}}}}
    spec:
      containers:
        - name: agent
          image: {image}
          resources: {{requests: {{cpu: 500m, memory: 128Mi}}}}
"#
        )
    };
    std::fs::write(dir.join("v2.yaml"), agent("agent:v2")).unwrap();
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {name}}}
spec:
  duration: 10m
  sampleInterval: 5s
  cluster:
    nodePools:
      - name: general
        allocatable: {{cpu: "4", memory: 16Gi}}
        count: 4
  events:
    - {{at: 2m, action: apply, manifest: v2.yaml}}
---
{}"#,
        agent("agent:v1")
    );
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, text).unwrap();
    run(&load(&path, None, &[]))
}

fn min_ready_agents(out: &RunOutput) -> f64 {
    crate::support::column(out, "deployment.agent.ready")
        .into_iter()
        .map(|(_, r)| r)
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn a_daemon_set_rolls_out_one_node_at_a_time() {
    // maxUnavailable 1 (the default): on one node at a time the old agent goes and the new one
    // starts, Ready 10 s later; 4 nodes: 120 → 160 s, with 3 agents Ready meanwhile.
    let out = agent_rollout("ds-rolling", "{type: RollingUpdate}");
    let agent = &out.report.deployments[0];
    let r = &agent.rollouts[0];
    assert_eq!(
        (r.started_seconds, r.completed_seconds),
        (120.0, Some(160.0))
    );
    assert_eq!(min_ready_agents(&out), 3.0);
    assert_eq!(agent.pods_created, 8);
    // maxSurge 1, maxUnavailable 0: the new agent starts beside the old one, which goes once
    // the new one is Ready: just as long, but every node keeps an agent.
    let surge = agent_rollout(
        "ds-surge",
        "{rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}",
    );
    let r = &surge.report.deployments[0].rollouts[0];
    assert_eq!(r.completed_seconds, Some(160.0));
    assert_eq!(min_ready_agents(&surge), 4.0);
    // OnDelete: nothing is replaced.
    let on_delete = agent_rollout("ds-on-delete", "{type: OnDelete}");
    let agent = &on_delete.report.deployments[0];
    assert_eq!(
        (agent.pods_created, agent.rollouts[0].completed_seconds),
        (4, None)
    );
}
