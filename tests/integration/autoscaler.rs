//! Cluster Autoscaler timelines: pods wait Pending for the provisioning time of the node added
//! for them, nodes go only after 10 minutes unneeded (and 10 minutes after a scale-up), a node
//! that never registers backs its group off, and MostAllocated packing lets the autoscaler
//! remove more nodes than LeastAllocated spreading.

use kubesim::controllers::autoscaler::AutoscalerEvent;
use kubesim::engine::RunOutput;
use kubesim::metrics::pod_events::PodEventReason;

use crate::support::{app_deployment, column, load, run, run_text, scratch};

/// Writes a scenario whose Deployment `app` has `replicas` pods of 1 cpu / 1Gi on 4-cpu nodes
/// (pool `general`, with `pool_extra` appended), plus `spec_extra` at the end of the spec.
fn pool_scenario(name: &str, replicas: u32, pool_extra: &str, spec_extra: &str) -> RunOutput {
    let dir = scratch(name);
    let most = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n  - pluginConfig:\n      - name: NodeResourcesFit\n        args: {scoringStrategy: {type: MostAllocated}}\n";
    std::fs::write(dir.join("most.yaml"), most).unwrap();
    // Bin-packing as it is configured in practice: MostAllocated, and no default spreading.
    let packing = format!(
        "{most}      - name: PodTopologySpread\n        args: {{defaultingType: List, defaultConstraints: []}}\n"
    );
    std::fs::write(dir.join("packing.yaml"), packing).unwrap();
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {name}}}
spec:
  duration: 1h
  sampleInterval: 10s
  cluster:
    nodePools:
      - name: general
        allocatable: {{cpu: "4", memory: 16Gi}}
        pricePerHour: 0.2
{pool_extra}{spec_extra}
---
{deployment}"#,
        deployment = app_deployment(replicas, "1", "")
    );
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, text).unwrap();
    run(&load(&path, None, &[]))
}

fn events(out: &RunOutput) -> &[AutoscalerEvent] {
    out.autoscaler_events
        .as_deref()
        .expect("the autoscaler ran")
}

#[test]
fn pods_stay_pending_for_the_provisioning_time_then_run() {
    // 6 pods of 1 cpu, one 4-cpu node: 2 pods are unschedulable at t = 0. The first scan
    // (t = 10 s) adds one node, which registers 2 min later (t = 130 s); the pods bind then.
    let out = pool_scenario(
        "ca-spike",
        6,
        "        count: 1\n        maxCount: 5\n        provisioningTime: 2m\n",
        "  clusterAutoscaler: {}\n",
    );
    assert_eq!(scale_ups(&out), vec![(10.0, 1, 2)]);
    for (t, pending) in column(&out, "cluster.pending_pods") {
        let expected = if t < 130.0 { 2.0 } else { 0.0 };
        assert_eq!(pending, expected, "pending pods at {t} s");
    }
    let nodes = column(&out, "pool.general.nodes");
    assert_eq!(nodes[0].1, 1.0);
    assert!(
        nodes
            .iter()
            .filter(|(t, _)| *t >= 10.0)
            .all(|(_, n)| *n == 2.0)
    );
    let ready = column(&out, "deployment.app.ready");
    assert!(ready.iter().all(|(t, r)| *t >= 130.0 || *r == 4.0));
}

#[test]
fn nodes_go_only_after_the_unneeded_time() {
    // 10 nodes, 2 pods: 8 nodes are empty from t = 0 and unneeded from the first scan (10 s).
    // They are deleted together once unneeded for 10 min: at 610 s, not before.
    let out = pool_scenario(
        "ca-unneeded",
        2,
        "        count: 10\n        minCount: 1\n        maxCount: 10\n",
        "  clusterAutoscaler: {}\n",
    );
    let downs: Vec<(f64, f64)> = events(&out)
        .iter()
        .filter_map(|e| match e {
            AutoscalerEvent::ScaleDown {
                t_seconds,
                unneeded_seconds,
                ..
            } => Some((*t_seconds, *unneeded_seconds)),
            _ => None,
        })
        .collect();
    assert!(!downs.is_empty());
    assert!(
        downs.iter().all(|(t, u)| *t >= 610.0 && *u >= 600.0),
        "{downs:?}"
    );
    let nodes = column(&out, "pool.general.nodes");
    assert!(
        nodes
            .iter()
            .filter(|(t, _)| *t < 610.0)
            .all(|(_, n)| *n == 10.0)
    );
    // The flag under its real name shortens the wait: unneeded for 2 min → gone at 130 s.
    let quick = pool_scenario(
        "ca-unneeded-2m",
        2,
        "        count: 10\n        minCount: 1\n        maxCount: 10\n",
        "  clusterAutoscaler: {scale-down-unneeded-time: 2m}\n",
    );
    let first = events(&quick)
        .iter()
        .find_map(|e| match e {
            AutoscalerEvent::ScaleDown { t_seconds, .. } => Some(*t_seconds),
            _ => None,
        })
        .unwrap();
    assert_eq!(first, 130.0);
}

#[test]
fn no_scale_down_within_the_delay_after_a_scale_up() {
    // 6 pods on one 4-cpu node: scale-up at 10 s. A second pool of 500m nodes holds no pod (the
    // pods need 1 cpu), so its two nodes are unneeded from the first scan; with a 1 min
    // unneeded time they would go at 70 s, but scale-down-delay-after-add holds every removal
    // until 10 s + 10 min.
    let tiny = "      - {name: tiny, count: 2, minCount: 0, maxCount: 2, allocatable: {cpu: 500m, memory: 1Gi}}\n";
    let out = pool_scenario(
        "ca-delay-after-add",
        6,
        &format!("        count: 1\n        maxCount: 5\n        provisioningTime: 30s\n{tiny}"),
        "  clusterAutoscaler: {scale-down-unneeded-time: 1m}\n",
    );
    let downs: Vec<f64> = events(&out)
        .iter()
        .filter_map(|e| match e {
            AutoscalerEvent::ScaleDown { t_seconds, .. } => Some(*t_seconds),
            _ => None,
        })
        .collect();
    assert_eq!(downs, vec![610.0, 610.0]);
    // Without the delay they go as soon as they have been unneeded for 1 min.
    let eager = pool_scenario(
        "ca-no-delay-after-add",
        6,
        &format!("        count: 1\n        maxCount: 5\n        provisioningTime: 30s\n{tiny}"),
        "  clusterAutoscaler: {scale-down-unneeded-time: 1m, scale-down-delay-after-add: 0s}\n",
    );
    let first = events(&eager).iter().find_map(|e| match e {
        AutoscalerEvent::ScaleDown { t_seconds, .. } => Some(*t_seconds),
        _ => None,
    });
    assert_eq!(first, Some(70.0));
}

#[test]
fn a_node_that_never_registers_backs_its_group_off() {
    // Provisioning takes 20 min, past max-node-provision-time (15 min): the node requested at
    // 10 s is given up at 910 s + the next scan, the group backs off 5 min, the next attempt
    // fails too and backs off 10 min (doubling).
    let out = pool_scenario(
        "ca-backoff",
        6,
        "        count: 1\n        maxCount: 5\n        provisioningTime: 20m\n",
        "  clusterAutoscaler: {}\n",
    );
    let failures: Vec<(f64, f64)> = events(&out)
        .iter()
        .filter_map(|e| match e {
            AutoscalerEvent::ProvisionFailed {
                t_seconds,
                backoff_seconds,
                ..
            } => Some((*t_seconds, *backoff_seconds)),
            _ => None,
        })
        .collect();
    assert_eq!(failures[0], (910.0, 300.0));
    assert_eq!(failures[1].1, 600.0);
    // Between the first failure and the end of its backoff, no scale-up.
    for e in events(&out) {
        if let AutoscalerEvent::ScaleUp { t_seconds, .. } = e {
            assert!(*t_seconds < 910.0 || *t_seconds >= 1210.0, "{t_seconds}");
        }
    }
}

#[test]
fn most_allocated_packs_onto_fewer_nodes_and_costs_less() {
    // 8 pods of 1 cpu on 10 nodes of 4 cpu. LeastAllocated spreads them (one per node); the
    // autoscaler drains the under-used nodes one at a time, and the evicted pods land on the
    // least allocated nodes again; a node at 50 % is still unneeded (upstream: utilization at
    // or below the threshold), so it ends on 2 full nodes, after many drains. MostAllocated
    // without default spreading packs them onto 2 nodes at once; the 8 empty ones go
    // together.
    let pool = "        count: 10\n        minCount: 1\n        maxCount: 10\n";
    let spread = pool_scenario("ca-least", 8, pool, "  clusterAutoscaler: {}\n");
    let packed = pool_scenario(
        "ca-most",
        8,
        pool,
        "  schedulerConfig: packing.yaml\n  clusterAutoscaler: {}\n",
    );
    let last_nodes = |out: &RunOutput| column(out, "pool.general.nodes").last().unwrap().1;
    let cost = |out: &RunOutput| out.report.totals.cost_usd;
    assert_eq!(last_nodes(&packed), 2.0);
    assert_eq!(last_nodes(&spread), 2.0);
    // MostAllocated alone does not pack: the default hostname spreading (PodTopologySpread,
    // weight 2) outweighs it (weight 1). For the second pod, a node with one pod scores
    // MostAllocated (50+12)/2 = 31 against 15 for an empty one (+16), but spreading 50 against
    // 100 (−50 × 2): it goes to an empty node, like LeastAllocated, and ends on 2 nodes
    // the same slow way.
    let most_only = pool_scenario(
        "ca-most-only",
        8,
        pool,
        "  schedulerConfig: most.yaml\n  clusterAutoscaler: {}\n",
    );
    assert_eq!(last_nodes(&most_only), 2.0);
    assert!(cost(&packed) < cost(&most_only));
    assert!(
        cost(&packed) < cost(&spread),
        "{} vs {}",
        cost(&packed),
        cost(&spread)
    );
    let idle = |out: &RunOutput| out.report.totals.idle_cost_usd;
    assert!(idle(&packed) < idle(&spread));
}

/// A pending pod's events, as `(seconds, reason, message, count)`.
fn pod_events(
    out: &RunOutput,
    reason_filter: &[PodEventReason],
) -> Vec<(f64, PodEventReason, String, u32)> {
    let pending = out
        .pod_events
        .iter()
        .find(|e| e.reason == PodEventReason::FailedScheduling)
        .map(|e| e.pod.clone())
        .expect("some pod was unschedulable");
    out.pod_events
        .iter()
        .filter(|e| e.pod == pending && reason_filter.contains(&e.reason))
        .map(|e| (e.t_seconds, e.reason, e.message.clone(), e.count))
        .collect()
}

#[test]
fn a_pending_pod_tells_why_and_what_the_autoscaler_did() {
    use PodEventReason::*;
    // As in the spike above: 2 of 6 pods do not fit the one 4-cpu node at t = 0; the scan at
    // 10 s adds a node (1 → 2 of max 5) that registers at 130 s.
    let out = pool_scenario(
        "ca-pod-events",
        6,
        "        count: 1\n        maxCount: 5\n        provisioningTime: 2m\n",
        "  clusterAutoscaler: {}\n",
    );
    let events = pod_events(&out, &[FailedScheduling, TriggeredScaleUp, Scheduled]);
    assert_eq!(events[0].0, 0.0);
    assert_eq!(events[0].1, FailedScheduling);
    assert_eq!(
        events[0].2,
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    );
    assert_eq!(
        events[1..]
            .iter()
            .map(|(t, r, m, _)| (*t, *r, m.as_str()))
            .collect::<Vec<_>>()[..1],
        [(
            10.0,
            TriggeredScaleUp,
            "pod triggered scale-up: [{general 1->2 (max: 5)}]"
        )]
    );
    let scheduled = events.iter().find(|e| e.1 == Scheduled).unwrap();
    assert_eq!(scheduled.0, 130.0);
    assert!(scheduled.2.ends_with(" to general-1"), "{}", scheduled.2);
}

#[test]
fn a_group_at_its_max_size_does_not_trigger_a_scale_up() {
    use PodEventReason::*;
    let out = pool_scenario(
        "ca-at-max",
        6,
        "        count: 1\n        maxCount: 1\n",
        "  clusterAutoscaler: {}\n",
    );
    let events = pod_events(&out, &[NotTriggerScaleUp, TriggeredScaleUp]);
    // One event per distinct message, repeated every 10 s scan for the hour: folded into one.
    assert_eq!(events.len(), 1, "{events:?}");
    let (t, _, message, count) = &events[0];
    assert_eq!(*t, 10.0);
    assert_eq!(
        message,
        "pod didn't trigger scale-up: 1 max node group size reached"
    );
    assert!(*count > 300, "{count}");
}

#[test]
fn a_disruption_budget_blocks_drains_but_not_empty_nodes() {
    // As above (8 pods on 10 nodes, LeastAllocated): without a budget the autoscaler drains
    // down to 4 nodes. With `minAvailable: 8` no pod may be evicted, so only the 2 empty nodes
    // go.
    let pool = "        count: 10\n        minCount: 1\n        maxCount: 10\n";
    let pdb = "  clusterAutoscaler: {}\n---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: app}\nspec:\n  minAvailable: 8\n  selector: {matchLabels: {app: app}}\n";
    let out = pool_scenario("ca-pdb", 8, pool, pdb);
    let last_nodes = column(&out, "pool.general.nodes").last().unwrap().1;
    assert_eq!(last_nodes, 8.0);
    let drained = events(&out)
        .iter()
        .filter(|e| matches!(e, AutoscalerEvent::ScaleDown { drained: true, .. }))
        .count();
    assert_eq!(drained, 0);
}

#[test]
fn drains_proceed_one_eviction_at_a_time_under_max_unavailable_1() {
    // `maxUnavailable: 1`: one pod may be away at a time. Each candidate node holds one pod;
    // while an evicted pod's replacement is not Ready yet the budget allows nothing and the
    // next node is not a candidate. Drains just take turns: the end state is the same 4 nodes
    // as without a budget.
    let pool = "        count: 10\n        minCount: 1\n        maxCount: 10\n";
    let pdb = "  clusterAutoscaler: {}\n---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: app}\nspec:\n  maxUnavailable: 1\n  selector: {matchLabels: {app: app}}\n";
    let out = pool_scenario("ca-pdb-1", 8, pool, pdb);
    assert_eq!(column(&out, "pool.general.nodes").last().unwrap().1, 4.0);
}

/// Deployment `app` of `replicas` pods requesting `cpu` (with `pod_extra` in the pod spec) on
/// 4-cpu nodes of pool `general`, `count` of them at the start, spread round-robin over
/// `zones`, 1 to 10 with the autoscaler (2-minute provisioning); `manifests` are appended as
/// further YAML documents.
fn autoscaled(
    name: &str,
    replicas: u32,
    cpu: &str,
    pool: (u32, &str),
    pod_extra: &str,
    manifests: &str,
) -> RunOutput {
    let deployment = app_deployment(replicas, cpu, pod_extra);
    autoscaled_with(name, pool, &deployment, manifests)
}

/// As [`autoscaled`], with the Deployment's manifest given.
fn autoscaled_with(
    name: &str,
    (count, zones): (u32, &str),
    deployment: &str,
    manifests: &str,
) -> RunOutput {
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {name}}}
spec:
  duration: 30m
  sampleInterval: 10s
  cluster:
    nodePools:
      - name: general
        allocatable: {{cpu: "4", memory: 16Gi}}
        count: {count}
        minCount: 1
        maxCount: 10
        zones: {zones}
        provisioningTime: 2m
  clusterAutoscaler: {{}}
---
{deployment}{manifests}"#
    );
    run_text(name, &text)
}

/// A PriorityClass below the autoscaler's expendable cutoff (-10), and the pod spec line using it.
const EXPENDABLE_CLASS: &str = "---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: expendable}
value: -100
";
const EXPENDABLE_POD: &str = "      priorityClassName: expendable\n";

/// `(time, nodes, pods)` of every scale-up.
fn scale_ups(out: &RunOutput) -> Vec<(f64, usize, usize)> {
    events(out)
        .iter()
        .filter_map(|e| match e {
            AutoscalerEvent::ScaleUp {
                t_seconds,
                nodes,
                pods,
                ..
            } => Some((*t_seconds, *nodes, *pods)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_estimator_honours_zone_spread_on_the_nodes_it_adds() {
    // 6 pods of 1.5 cpu with zone spread (maxSkew 1, DoNotSchedule) on 2 nodes in zones a and
    // b: 2 pods per zone run, 2 wait. The pool's next nodes are general-2 in a and general-3
    // in b. Both waiting pods would fit one new node by resources, but the second would put
    // zone a at 4 against b's 2; the estimator, filtering as the scheduler does in a copy of
    // the cluster with the new nodes in their zones, asks for 2 nodes at once.
    let spread = "      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: DoNotSchedule
          labelSelector: {matchLabels: {app: app}}
";
    let out = autoscaled("ca-zone-spread", 6, "1500m", (2, "[a, b]"), spread, "");
    assert_eq!(scale_ups(&out), vec![(10.0, 2, 2)]);
    // Both register at 130 s and take one pod each (the second pod tried while only
    // general-2 was up, so it binds after its 2 s backoff); nothing else is ever needed.
    for (t, pending) in column(&out, "cluster.pending_pods") {
        match t {
            t if t < 130.0 => assert_eq!(pending, 2.0, "pending pods at {t} s"),
            t if t > 130.0 => assert_eq!(pending, 0.0, "pending pods at {t} s"),
            _ => {}
        }
    }
}

#[test]
fn pods_that_refuse_to_share_a_host_get_a_node_each_and_keep_it() {
    // 4 pods of 500m with required anti-affinity to each other on kubernetes.io/hostname, one
    // node: 1 runs, 3 wait. By resources the 3 fit one new node; the estimator asks for 3.
    let anti = "      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - labelSelector: {matchLabels: {app: app}}
              topologyKey: kubernetes.io/hostname
";
    let out = autoscaled("ca-host-anti-affinity", 4, "500m", (1, "[a]"), anti, "");
    assert_eq!(scale_ups(&out), vec![(10.0, 3, 3)]);
    // Each node is under half used, but scale-down, simulating with the same filters, finds
    // no other node for its pod: none is removed (and no pod waits again).
    let scale_downs = events(&out)
        .iter()
        .filter(|e| matches!(e, AutoscalerEvent::ScaleDown { .. }))
        .count();
    assert_eq!(scale_downs, 0);
}

#[test]
fn a_drain_the_budget_holds_back_fails_after_the_max_pod_eviction_time() {
    // 8 pods of 1 cpu annotated `safe-to-evict: "true"` on 10 nodes, one per node, under a
    // budget `minAvailable: 8`. The annotation lets a pod go before the drainability rules
    // look at budgets (upstream's SafeToEvict rule precedes its PDB rule), so at 610 s the 2
    // empty nodes go and one node starts draining — but the Eviction API refuses its pod.
    // The drain retries each loop until max-pod-eviction-time (2 min): at 730 s the
    // scale-down fails, the node is untainted and keeps its pod, and scale-down waits
    // scale-down-delay-after-failure (3 min) before trying again.
    let manifests = "---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: app}
spec:
  minAvailable: 8
  selector: {matchLabels: {app: app}}
";
    let deployment = app_deployment(8, "1", "").replace(
        "metadata: {labels: {app: app}}",
        "metadata: {labels: {app: app}, annotations: {cluster-autoscaler.kubernetes.io/safe-to-evict: \"true\"}}",
    );
    let out = autoscaled_with("ca-drain-fails", (10, "[a]"), &deployment, manifests);
    let failures: Vec<(f64, usize)> = events(&out)
        .iter()
        .filter_map(|e| match e {
            AutoscalerEvent::ScaleDownFailed {
                t_seconds,
                pods_left,
                ..
            } => Some((*t_seconds, *pods_left)),
            _ => None,
        })
        .collect();
    assert_eq!(failures.first(), Some(&(730.0, 1)), "{failures:?}");
    // Nothing is drained between the failure and 3 min later.
    let drains: Vec<f64> = events(&out)
        .iter()
        .filter_map(|e| match e {
            AutoscalerEvent::ScaleDown {
                t_seconds,
                drained: true,
                ..
            } => Some(*t_seconds),
            _ => None,
        })
        .collect();
    assert_eq!(drains.first(), Some(&610.0));
    assert!(
        drains.iter().all(|&t| !(730.0..910.0).contains(&t)),
        "{drains:?}"
    );
    // Every pod keeps running on the 8 nodes that hold them.
    assert_eq!(column(&out, "pool.general.nodes").last().unwrap().1, 8.0);
    assert!(
        column(&out, "deployment.app.ready")
            .iter()
            .all(|(_, r)| *r == 8.0)
    );
}

#[test]
fn expendable_pods_do_not_trigger_a_scale_up() {
    // 6 pods of 1.5 cpu at priority -100 on one 4-cpu node: 2 run, 4 stay Pending, and no
    // node is added for pods below expendable-pods-priority-cutoff (-10) …
    let out = autoscaled(
        "ca-expendable",
        6,
        "1500m",
        (1, "[a]"),
        EXPENDABLE_POD,
        EXPENDABLE_CLASS,
    );
    assert_eq!(scale_ups(&out), vec![]);
    assert_eq!(column(&out, "cluster.pending_pods").last().unwrap().1, 4.0);
    // … unless the cutoff is lowered below their priority.
    let path =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ca-expendable/scenario.yaml");
    let lowered = load(
        &path,
        None,
        &["clusterAutoscaler.expendable-pods-priority-cutoff=-1000"],
    );
    assert_eq!(scale_ups(&run(&lowered)), vec![(10.0, 2, 4)]);
}

#[test]
fn cores_total_caps_a_scale_up() {
    // 8 pods of 2 cpu on one 4-cpu node: 6 wait and would need 3 more nodes, but
    // `cores-total: 0:12` leaves room for 12 − 4 = 8 cores: 2 nodes for 4 of them. As
    // upstream, the quota caps the node count after the estimate, and the scale-up reports
    // every pod the uncapped estimate packed (its `PodsTriggeredScaleUp`): 6. The 2 that the
    // new nodes cannot take are told at a later loop why the pool does not grow for them.
    let dir = scratch("ca-cores-total");
    let out = autoscaled("ca-cores-total", 8, "2", (1, "[a]"), "", "");
    assert_eq!(scale_ups(&out), vec![(10.0, 3, 6)]);
    let path = dir.join("scenario.yaml");
    let capped = run(&load(&path, None, &["clusterAutoscaler.cores-total=0:12"]));
    assert_eq!(scale_ups(&capped), vec![(10.0, 2, 6)]);
    let told = capped.pod_events.iter().any(|e| {
        e.reason == PodEventReason::NotTriggerScaleUp
            && e.message == "pod didn't trigger scale-up: 1 max cluster cpu limit reached"
    });
    assert!(told);
}

#[test]
fn a_node_found_unremovable_is_simulated_again_only_after_the_recheck_timeout() {
    // general-1 holds the only pod (1 of 4 cpu: under the threshold), pinned there by its node
    // selector, so the first scan (10 s) finds it unremovable: with the default
    // unremovable-node-recheck-timeout (5 min) it is not simulated again until 310 s. The pod
    // is scaled away at 60 s, so the node is empty soon after — but it only becomes unneeded
    // at 310 s and goes at 310 + 600 = 910 s. Rechecked every loop (10 s), it goes at least
    // 200 s earlier.
    let pinned = "      nodeSelector: {kubernetes.io/hostname: general-1}\n";
    let removal = |name: &str, flags: &str| {
        let dir = scratch(name);
        let text = format!(
            "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {{name: {name}}}\nspec:\n  duration: 20m\n  cluster:\n    nodePools:\n      - {{name: general, count: 2, minCount: 0, maxCount: 2, allocatable: {{cpu: \"4\", memory: 16Gi}}}}\n  clusterAutoscaler: {{{flags}}}\n  events:\n    - {{at: 60s, action: scale, deployment: app, replicas: 0}}\n---\n{}",
            app_deployment(1, "1", pinned)
        );
        let path = dir.join("scenario.yaml");
        std::fs::write(&path, text).unwrap();
        let out = run(&load(&path, None, &[]));
        events(&out)
            .iter()
            .find_map(|e| match e {
                AutoscalerEvent::ScaleDown {
                    t_seconds, node, ..
                } if node == "general-1" => Some(*t_seconds),
                _ => None,
            })
            .expect("general-1 is scaled down")
    };
    assert_eq!(removal("ca-recheck-default", ""), 910.0);
    let every_loop = removal("ca-recheck-10s", "unremovable-node-recheck-timeout: 10s");
    assert!(every_loop <= 710.0, "{every_loop}");
}

/// `kubesim explain --node` on the shipped scenario, sentence for sentence: the kube-system
/// pod blocks general-2 until it is older than the (shortened) 5 min timeout; the node is
/// simulated again at the recheck (5 min after the first block, 310 s), found unneeded with
/// the moved tiny pod's 100m and its own 100m (0.05 of 4 cores), and removed 2 min later.
#[test]
fn explain_node_tells_why_a_node_stayed_and_when_it_went() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/why-nodes-stay/scenario.yaml");
    let scenario = load(&path, None, &[]);
    let out = run(&scenario);
    let events = out.autoscaler_events.as_deref().unwrap();
    let settings = scenario.cluster_autoscaler.as_ref().unwrap();
    let story = |node| kubesim::output::explain::node::timeline(events, node, settings).unwrap();
    let dns = events
        .iter()
        .find_map(|e| match e {
            AutoscalerEvent::NodeUnremovable { pod: Some(p), .. }
                if p.starts_with("kube-system/") =>
            {
                Some(p.clone())
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(
        story("general-2"),
        format!(
            "as the Cluster Autoscaler saw it (node group general):
  00:00:10  stays (BlockedByPod): pod {dns} blocks it: it runs in kube-system and no PodDisruptionBudget covers it; it stops blocking once older than 5m0s (UnmovableKubeSystemPod)
  00:05:10  unneeded: its cpu utilization 0.05 is at or below the threshold 0.5, and every pod it runs could move to another node; it goes once unneeded for 2m0s
  00:07:10  removed after being unneeded for 2m0s: its pods were evicted (drained) first
"
        )
    );
    assert_eq!(
        story("general-0"),
        "as the Cluster Autoscaler saw it (node group general):
  00:00:10  stays (BlockedByPod): pod default/solo blocks it: it has no controller to recreate it elsewhere (NotReplicated)
"
    );
    assert!(story("general-1").contains("(LocalStorageRequested)"));
    assert!(
        story("general-3")
            .contains("stays (NotUnderutilized): utilization 0.75 is above the threshold 0.5")
    );
    assert_eq!(
        kubesim::output::explain::node::timeline(events, "general-9", settings),
        None
    );
}
