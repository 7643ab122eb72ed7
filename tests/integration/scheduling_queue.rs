//! The scheduling queue end to end: a pod leaves the unschedulable pool only on an event a
//! plugin that rejected it registered for (queueing hints), and an idle scheduler tries it at
//! once rather than after its backoff (SchedulerPopFromBackoffQ).

use kubesim::controllers::PodEventReason;
use kubesim::engine::RunOutput;

use crate::support::run_text;

/// One 2-cpu node holding `hog` (2 × 900m) and `small` (100m); `waiting` (1 cpu) does not fit,
/// `pinned` asks for a node label no node has. At 60 s `small` goes, at 60.5 s one `hog` pod.
fn queue_scenario() -> RunOutput {
    let deployment = |name: &str, replicas: u32, cpu: &str, extra: &str| {
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
      terminationGracePeriodSeconds: 0{extra}
      containers: [{{name: app, resources: {{requests: {{cpu: "{cpu}", memory: 1Gi}}}}}}]
"#
        )
    };
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: queueing-hints}}
spec:
  duration: 4m
  startWarm: false
  cluster:
    nodePools:
      - {{name: pool, count: 1, allocatable: {{cpu: "2", memory: 16Gi}}}}
  workloads:
    - {{deployment: hog, startupTime: 0s}}
    - {{deployment: small, startupTime: 0s}}
    - {{deployment: waiting, startupTime: 0s}}
    - {{deployment: pinned, startupTime: 0s}}
  events:
    - {{at: 60s, action: scale, deployment: small, replicas: 0}}
    - {{at: 60500ms, action: scale, deployment: hog, replicas: 1}}
{}{}{}{}"#,
        deployment("hog", 2, "900m", ""),
        deployment("small", 1, "100m", ""),
        deployment("waiting", 1, "1", ""),
        deployment("pinned", 1, "100m", "\n      nodeSelector: {disk: ssd}"),
    );
    run_text("queueing-hints", &text)
}

/// `(first, last, count)` of the FailedScheduling events of `owner`'s pod, and when it was
/// bound.
fn attempts(out: &RunOutput, owner: &str) -> ((f64, f64, u32), Option<f64>) {
    let of = |reason| (out.pod_events.iter()).find(|e| e.owner == owner && e.reason == reason);
    let failed = of(PodEventReason::FailedScheduling).expect("it failed at first");
    let bound = of(PodEventReason::Scheduled).map(|e| e.t_seconds);
    ((failed.t_seconds, failed.last_seconds, failed.count), bound)
}

#[test]
fn only_events_that_may_help_requeue_a_pod_and_an_idle_scheduler_skips_the_backoff() {
    let out = queue_scenario();
    // `waiting`, rejected by NodeResourcesFit at 0 s: `small`'s deletion at 60 s frees 100m
    // (NodeResourcesFit queues on any assigned pod deleted), so it is tried at once and fails
    // (200m free), its backoff now 2 s, to 62 s. `hog`'s pod leaves at 60.5 s: tried at once
    // from the backoffQ and bound at 60.5 s (a scheduler waiting out the backoff binds at 62 s).
    assert_eq!(attempts(&out, "waiting"), ((0.0, 60.0, 2), Some(60.5)));
    // `pinned`, rejected by NodeAffinity only, which registers for no pod event: neither
    // deletion moves it, and the 5-minute flush is past the run's 4 minutes.
    assert_eq!(attempts(&out, "pinned"), ((0.0, 0.0, 1), None));
}

/// An Indexed Job of 600 pods on 3 nodes that run 9 at a time (benches/scenarios/indexed-job):
/// the pods waiting fail together, as groups, and each pod's own record stays whole — its
/// `FailedScheduling` counts add up to the attempts the report counts, every pod that waited
/// has one, and a pod's last failure comes before it was bound.
#[test]
fn pods_that_fail_together_keep_their_own_counts() {
    let path = crate::support::root().join("benches/scenarios/indexed-job/scenario.yaml");
    let overrides = [
        "Job/render:spec.completions=600",
        "Job/render:spec.parallelism=600",
        "duration=2h",
    ];
    let out = crate::support::run(&crate::support::load(&path, None, &overrides));
    let report = &out.report.deployments[0];
    assert_eq!(report.jobs[0].succeeded, 600);
    let failed: Vec<_> = (out.pod_events.iter())
        .filter(|e| e.reason == PodEventReason::FailedScheduling)
        .collect();
    let counted: u64 = failed.iter().map(|e| u64::from(e.count)).sum();
    assert_eq!(counted, report.unschedulable_attempts);
    // Each of the 591 pods that waited was retried at each of the pod ends before its turn:
    // far more attempts than pods, folded into one event per pod.
    assert_eq!(failed.len(), 591);
    assert!(counted > 100 * 591, "{counted}");
    for e in &failed {
        let bound = (out.pod_events.iter())
            .find(|s| s.pod == e.pod && s.reason == PodEventReason::Scheduled)
            .expect("every pod is bound in the end");
        assert!(e.t_seconds <= e.last_seconds && e.last_seconds <= bound.t_seconds);
        assert!(e.count > 1 || e.t_seconds == e.last_seconds);
    }
}
