//! `kubesim explain --all` without a target (issue 52): the whole cluster's story in time
//! order, each line naming its object, checked sentence by sentence on shipped scenarios — a
//! StatefulSet lesson told whole, a node failure's lifecycle with the pods it lost and their
//! waits, an HPA's holds folded and one instant's causes told before what they cause — and
//! its bound.

use crate::support::{kubesim, stderr};

/// The story `explain SCENARIO --all ARGS…` tells.
fn story(scenario: &str, args: &[&str]) -> String {
    let mut all = vec!["explain", scenario, "--all"];
    all.extend_from_slice(args);
    let out = kubesim(&all);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// `lines` appear in `text` in this order, each a whole line.
fn in_order(text: &str, lines: &[&str]) {
    let mut rest = text.lines();
    for line in lines {
        assert!(
            rest.any(|l| l == *line),
            "missing (or out of order): {line}\nin:\n{text}"
        );
    }
}

const HEADING: &str = "The run in time order (within one instant: scripted actions, nodes, node scale-down, HPAs, workload controllers, pods, node scale-up):";

#[test]
fn a_short_run_is_told_whole() {
    // Lesson 9: db (OrderedReady) and cache (Parallel), 3 replicas each, startupTime 10 s,
    // both scaled to 1 at 2 min. Every line the two `--statefulset` stories tell, merged by
    // time; the scripted scale comes before the reconciles it causes.
    let text = story("lessons/09-statefulsets/scenario.yaml", &[]);
    let expected = [
        HEADING,
        "00:00:00 statefulset/db: db-0 is created (OrderedReady: one pod at a time, in ordinal order, each once the one before is available, up to replicas 3)",
        "00:00:00 statefulset/db: db-0 is not available (ContainerCreating): OrderedReady waits for it before creating db-1",
        "00:00:00 statefulset/cache: cache-0, cache-1 and cache-2 are created (Parallel: every missing ordinal below replicas 3 at once)",
        "00:00:10 statefulset/db: db-0 is available (Running and Ready), so db-1 is created (OrderedReady)",
        "00:00:10 statefulset/db: db-1 is not available (ContainerCreating): OrderedReady waits for it before creating db-2",
        "00:00:20 statefulset/db: db-0 and db-1 are available (Running and Ready), so db-2 is created (OrderedReady)",
        "00:02:00 statefulset/db: Scripted: kubectl scale --replicas=1",
        "00:02:00 statefulset/cache: Scripted: kubectl scale --replicas=1",
        "00:02:00 statefulset/db: replicas 1, so db-2 is deleted (OrderedReady: the highest ordinal first, one at a time, each once the one before is gone)",
        "00:02:00 statefulset/db: replicas 1, so db-1 is deleted (OrderedReady)",
        "00:02:00 statefulset/cache: replicas 1, so cache-2 and cache-1 are deleted (Parallel: all at once)",
    ];
    assert_eq!(text.lines().collect::<Vec<_>>(), expected, "{text}");
    assert_eq!(story("lessons/09-statefulsets/scenario.yaml", &[]), text);
}

#[test]
fn a_node_failure_is_told_with_the_pods_it_cost() {
    // node-failure: general-1 fails at 1 h (NotReady 50 s later, its pod evicted 5 min after
    // the taint and replaced), zone a (general-0, general-3) at 1:15; web-spread's two
    // replacements cannot spread until zone a returns at 1:40 (19m10s and 19m0s Pending).
    let text = story("scenarios/node-failure/scenario.yaml", &[]);
    in_order(
        &text,
        &[
            "00:00:00 deployment/web-spread: maxSurge 25% of 6 rounds up to 2 and maxUnavailable 25% of 6 rounds down to 1, so up to 8 pods and at least 5 available; the ReplicaSets ask for 0 (web-spread-7b67fb794f 0), 8 fewer than the 8 allowed: the new ReplicaSet web-spread-7b67fb794f 0 → 6.",
            "01:00:00 node/general-1: NodeFailed: scripted: fail-node",
            "01:00:50 node/general-1: NodeNotReady: no heartbeat since 01:00:00 (50s ago, more than the 50s grace period): Ready=Unknown, tainted node.kubernetes.io/unreachable:NoSchedule so nothing new is scheduled here, and its 1 running pod(s) marked not Ready, out of their Services' endpoints",
            "01:05:50 node/general-1: TaintManagerEviction: the taint manager evicts 1 pod(s) whose toleration ran out: web-spread-7b67fb794f-l9pfb (5m0s after the taint)",
            "01:05:50 pod/web-spread-7b67fb794f-4kqhb: Created: Created by ReplicaSet web-spread-7b67fb794f to replace web-spread-7b67fb794f-l9pfb, lost at 01:05:50: evicted from node general-1, which had failed",
            "01:16:00 node/general-3: NodeTainted: tainted node.kubernetes.io/unreachable:NoExecute 10s after it turned NotReady (its zone's limiter): zone a has all 2 of its nodes unreachable: fully disrupted, which keeps the normal rate, one node every 10s (--node-eviction-rate 0.1); 4 pod(s) go 5m0s later (the default toleration, --default-unreachable-toleration-seconds)",
            "01:20:50 pod/web-spread-7b67fb794f-9zckb: Created: Created by ReplicaSet web-spread-7b67fb794f to replace web-spread-7b67fb794f-v55fb, lost at 01:20:50: evicted from node general-0, which had failed",
            "01:20:50 pod/web-spread-7b67fb794f-9zckb: FailedScheduling: 0/6 nodes are available: 3 node(s) didn't match pod topology spread constraints, 3 node(s) had untolerated taint(s). preemption: 0/6 nodes are available: 3 No preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling. (x3 over 9m10s)",
            "01:30:00 node/general-1: NodeReady: heartbeating again after 29m10s NotReady: Ready=True, the unreachable taints removed, its pods Ready again",
            "01:30:00 pod/web-spread-7b67fb794f-9zckb and 1 more of web-spread: FailedScheduling: 0/6 nodes are available: 2 node(s) had untolerated taint(s), 4 node(s) didn't match pod topology spread constraints. preemption: 0/6 nodes are available: 2 Preemption is not helpful for scheduling, 4 No preemption victims found for incoming pod. (x3 over 10m0s)",
            "01:40:00 node/general-0: NodeReady: heartbeating again after 24m10s NotReady: Ready=True, the unreachable taints removed, its pods Ready again",
            "01:40:00 pod/web-spread-7b67fb794f-9zckb: Scheduled: Successfully assigned web-spread-7b67fb794f-9zckb to general-0, after 19m10s Pending",
            "01:40:00 pod/web-spread-7b67fb794f-ghxlb: Scheduled: Successfully assigned web-spread-7b67fb794f-ghxlb to general-3, after 19m0s Pending",
        ],
    );
}

#[test]
fn holds_fold_and_causes_come_first() {
    // rolling-update: web-no-surge's HPA holds 10 replicas by its scale-down window from
    // 00:13:45 (the proposal 8 < the highest recent 10) at 39 syncs in a row, told once. At
    // 00:32:30 its scale-up 13 → 16 leaves 2 pods Pending on the 4 full nodes, and the Cluster
    // Autoscaler adds one: the HPA, the pods, then the node scale-up.
    let text = story(
        "scenarios/rolling-update/scenario.yaml",
        &["--limit", "100000"],
    );
    in_order(
        &text,
        &[
            "00:13:45 hpa/web-no-surge: CPU was 51% of request against a 70% utilization target on 10 ready pods → 8; the scale-down stabilization window keeps the highest recent recommendation, 10 → stays at 10 — and so at the next 38 sync(s), to 00:25:00.",
            "00:32:30 hpa/web-no-surge: CPU was 82% of request against a 70% utilization target on 13 ready pods → 16 → scaled 13 → 16.",
            "00:32:30 pod/web-no-surge-846b5b559-58kqb and 1 more of web-no-surge: FailedScheduling: 0/4 nodes are available: 4 Insufficient cpu. preemption: 0/4 nodes are available: 4 No preemption victims found for incoming pod.",
            "00:32:30 pod/web-no-surge-846b5b559-58kqb and 1 more of web-no-surge: TriggeredScaleUp: pod triggered scale-up: [{general 4->5 (max: 10)}]",
            "00:32:30 cluster-autoscaler: node group general grows by 1 node(s) for 2 pending pod(s)",
            // At 1 h both Deployments are applied with a new template: the scripted actions
            // first, then the reconciles they cause.
            "01:00:00 deployment/web-surge: Scripted: kubectl apply.",
            "01:00:00 deployment/web-no-surge: Scripted: kubectl apply.",
            "01:00:00 deployment/web-surge: no ReplicaSet has the new pod template: one is created (revision 2); the old web-surge-6d64569c75 20 stays.",
        ],
    );
    let first_at_1h = text.lines().find(|l| l.starts_with("01:00:00 "));
    assert_eq!(
        first_at_1h,
        Some("01:00:00 deployment/web-surge: Scripted: kubectl apply."),
        "{text}"
    );
    // The syncs folded into 00:13:45's line are not told again.
    assert!(!text.contains("00:14:00 hpa/web-no-surge"), "{text}");
    assert!(
        text.contains("reconcile(s) that only scaled a Deployment's lone ReplicaSet to follow its replicas are not told"),
        "{text}"
    );
}

#[test]
fn a_long_story_is_bounded_and_says_what_it_left_out() {
    let scenario = "scenarios/node-failure/scenario.yaml";
    let whole = story(scenario, &[]);
    let total = whole.lines().count() - 1; // the heading
    let short = story(scenario, &["--limit", "3"]);
    let lines: Vec<&str> = short.lines().collect();
    assert_eq!(lines[..4], whole.lines().take(4).collect::<Vec<_>>()[..]);
    let fourth = whole.lines().nth(4).unwrap();
    let last = whole.lines().last().unwrap();
    assert_eq!(
        lines[4],
        format!(
            "… and {} more line(s), from {} to {}: `--limit {total}` tells them all, or follow one object with --hpa, --deployment, --statefulset, --job, --cronjob, --node or --pod",
            total - 3,
            &fourth[..8],
            &last[..8]
        )
    );
    assert_eq!(lines.len(), 5, "{short}");
}

#[test]
fn the_story_keeps_the_old_meanings_and_refuses_a_misplaced_limit() {
    // With --hpa, --all is still every sync of that HPA (one line each, 15 s apart: 2 h of
    // quickstart is 481 syncs, 0 s to 7200 s).
    let scenario = "scenarios/quickstart/scenario.yaml";
    let every = story(scenario, &["--hpa", "web"]);
    assert_eq!(every.lines().count(), 481, "{every}");
    assert!(every.lines().all(|l| l.contains(" web: ")), "{every}");
    let misplaced = kubesim(&["explain", scenario, "--hpa", "web", "--limit", "5"]);
    assert_eq!(misplaced.status.code(), Some(2));
    assert!(
        stderr(&misplaced).contains("--limit counts the pods"),
        "{}",
        stderr(&misplaced)
    );
    let no_hpa = kubesim(&["explain", "lessons/09-statefulsets/scenario.yaml"]);
    assert_eq!(no_hpa.status.code(), Some(2));
    assert!(
        stderr(&no_hpa).contains("or `--all` for the whole cluster's story"),
        "{}",
        stderr(&no_hpa)
    );
}
