//! Rollouts end to end: a scripted `apply` changes the image of Deployment `app`, and the
//! Deployment controller replaces its pods the way its strategy says — surge first with
//! `maxUnavailable: 0` (stalling when there is no room for the surge pod), capacity lost with
//! `maxSurge: 0`, everything down at once with Recreate — and proportional scaling, rollback,
//! pause and `minReadySeconds` shape it.

use kubesim::engine::RunOutput;
use kubesim::metrics::pod_events::PodEventReason;
use kubesim::metrics::report::RolloutReport;
use kubesim::output::explain::deployment::{self, Selection};

use crate::support::{column, load, run, scratch};

/// How a test's scenario differs from the default.
struct Setup<'a> {
    /// 4-cpu nodes in pool `general`.
    nodes: u32,
    replicas: u32,
    /// `spec.strategy` of both versions (YAML flow), e.g. `{type: Recreate}`.
    strategy: &'a str,
    /// Extra Deployment spec fields of both versions (indented for `spec`).
    deployment_extra: &'a str,
    /// The container's `resources` (YAML flow).
    resources: &'a str,
    /// Requests per second to Service `app`.
    rate: u32,
    /// Appended to the node pool (indented for its fields).
    pool_extra: &'a str,
    /// Appended to the scenario spec.
    spec_extra: &'a str,
    /// Events after the apply of v2 at 2 min (indented list items).
    events: &'a str,
    duration: &'a str,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Setup {
            nodes: 2,
            replicas: 4,
            strategy: "{rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}",
            deployment_extra: "",
            resources: r#"{requests: {cpu: "1", memory: 1Gi}}"#,
            rate: 100,
            pool_extra: "",
            spec_extra: "",
            events: "",
            duration: "20m",
        }
    }
}

/// Deployment `app` with `image`, `replicas` pods (of 1 cpu / 1Gi by default).
fn app(image: &str, replicas: Option<u32>, s: &Setup) -> String {
    let replicas = replicas.map_or(String::new(), |r| format!("  replicas: {r}\n"));
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: app}}
spec:
{replicas}  strategy: {strategy}
{extra}  selector: {{matchLabels: {{app: app}}}}
  template:
    metadata: {{labels: {{app: app}}}}
    spec:
      containers:
        - name: app
          image: {image}
          resources: {resources}
"#,
        strategy = s.strategy,
        extra = s.deployment_extra,
        resources = s.resources,
    )
}

/// Runs the scenario: `app` v1 (5 s to start, 10 ms of CPU per request) behind Service `app`;
/// at 2 min `kubectl apply` of v2 (the same spec but the image, no `replicas`); `v3.yaml` is
/// there for `events` to apply.
fn rollout(name: &str, s: Setup) -> RunOutput {
    let dir = scratch(name);
    std::fs::write(dir.join("v2.yaml"), app("app:v2", None, &s)).unwrap();
    std::fs::write(dir.join("v3.yaml"), app("app:v3", None, &s)).unwrap();
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {name}}}
spec:
  duration: {duration}
  sampleInterval: 5s
  cluster:
    nodePools:
      - name: general
        allocatable: {{cpu: "4", memory: 16Gi}}
        count: {nodes}
{pool_extra}  workloads:
    - deployment: app
      startupTime: 5s
      cpuPerRequest: 10ms
  traffic:
    - service: app
      arrivals: {{constant: {{rate: {rate}}}}}
  events:
    - {{at: 2m, action: apply, manifest: v2.yaml}}
{events}{spec_extra}
---
{v1}---
apiVersion: v1
kind: Service
metadata: {{name: app}}
spec:
  selector: {{app: app}}
"#,
        duration = s.duration,
        nodes = s.nodes,
        pool_extra = s.pool_extra,
        rate = s.rate,
        events = s.events,
        spec_extra = s.spec_extra,
        v1 = app("app:v1", Some(s.replicas), &s),
    );
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, text).unwrap();
    run(&load(&path, None, &[]))
}

fn rollouts(out: &RunOutput) -> &[RolloutReport] {
    &out.report.deployments[0].rollouts
}

fn min_ready_during(out: &RunOutput, from: f64, to: f64) -> f64 {
    column(out, "deployment.app.ready")
        .into_iter()
        .filter(|(t, _)| (from..=to).contains(t))
        .map(|(_, r)| r)
        .fold(f64::INFINITY, f64::min)
}

fn failed(out: &RunOutput, reason: &str) -> u64 {
    out.report.services[0].failed_by_reason[reason]
}

#[test]
fn surge_first_replaces_one_pod_per_startup_time_without_losing_capacity() {
    // maxSurge 1, maxUnavailable 0, room for the surge pod. Each step: one v2 pod is created
    // (4 + 1 = 5 pods allowed), Ready 5 s later; then one v1 pod goes (availability 5 > 4).
    // 4 steps of 5 s: 120 s → 140 s.
    let out = rollout("surge-first", Setup::default());
    let r = &rollouts(&out)[0];
    assert_eq!((r.revision, r.started_seconds), (2, 120.0));
    assert_eq!(r.completed_seconds, Some(140.0));
    assert_eq!(r.duration_seconds, Some(20.0));
    assert_eq!(min_ready_during(&out, 0.0, 1200.0), 4.0);
    let d = &out.report.deployments[0];
    assert_eq!(d.pods_created, 8);
    assert_eq!(d.short_of_ready_seconds, 0.0);
    assert_eq!(d.unavailable_seconds, 0.0);
    assert_eq!(out.report.services[0].failed, 0);
}

#[test]
fn max_unavailable_zero_on_a_full_cluster_stalls_until_the_autoscaler_adds_a_node() {
    // One 4-cpu node holds the 4 pods: the surge pod cannot be placed, and with
    // maxUnavailable 0 no old pod may go first. Without an autoscaler the rollout never ends;
    // the Progressing condition times out 600 s after the last progress (the surge pod's
    // creation at 120 s): 720 s.
    let stuck = rollout(
        "stall-forever",
        Setup {
            nodes: 1,
            ..Setup::default()
        },
    );
    let r = &rollouts(&stuck)[0];
    assert_eq!(r.completed_seconds, None);
    assert_eq!(r.progress_deadline_exceeded_seconds, Some(720.0));
    assert_eq!(
        min_ready_during(&stuck, 0.0, 1200.0),
        4.0,
        "no capacity lost"
    );
    // With the Cluster Autoscaler: its scan at 120 s (just after the surge pod failed to
    // schedule) asks for a node, Ready 2 min later (240 s); the surge pod binds there, Ready
    // at 245 s, and three more 5 s steps follow: complete at 260 s.
    let scaled = rollout(
        "stall-until-scale-up",
        Setup {
            nodes: 1,
            pool_extra: "        maxCount: 3\n        provisioningTime: 2m\n",
            spec_extra: "  clusterAutoscaler: {}\n",
            ..Setup::default()
        },
    );
    let r = &rollouts(&scaled)[0];
    assert_eq!(r.completed_seconds, Some(260.0));
    assert_eq!(r.progress_deadline_exceeded_seconds, None);
}

#[test]
fn max_surge_zero_loses_capacity_and_p99_shows_it() {
    // 4 pods limited to 1 cpu at 340 req/s × 10 ms = 3.4 cpu: 85 % busy. maxSurge 0 /
    // maxUnavailable 1 takes a v1 pod away before its v2 replacement is Ready, so for the
    // rollout's 20 s three pods carry 3.4 cpu (113 %): a backlog builds, and p99 shows it.
    // Surge-first keeps four pods throughout.
    let setup = |strategy| Setup {
        strategy,
        rate: 340,
        resources: r#"{requests: {cpu: "1", memory: 1Gi}, limits: {cpu: "1"}}"#,
        duration: "4m",
        ..Setup::default()
    };
    let surge = rollout(
        "surge-p99",
        setup("{rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}"),
    );
    let no_surge = rollout(
        "no-surge-p99",
        setup("{rollingUpdate: {maxSurge: 0, maxUnavailable: 1}}"),
    );
    assert_eq!(min_ready_during(&no_surge, 120.0, 140.0), 3.0);
    assert_eq!(no_surge.report.deployments[0].short_of_ready_seconds, 20.0);
    assert_eq!(rollouts(&no_surge)[0].duration_seconds, Some(20.0));
    let p99 = |out: &RunOutput| out.report.services[0].latency_ms.p99;
    assert!(
        p99(&no_surge) > 2.0 * p99(&surge),
        "p99 {} ms without surge vs {} ms with",
        p99(&no_surge),
        p99(&surge)
    );
}

#[test]
fn recreate_takes_every_pod_down_before_the_new_ones_start() {
    // Recreate: the 4 v1 pods are deleted at 120 s and finish their requests in flight
    // within milliseconds; once they are gone the v2 pods start, Ready 5 s later. Requests in
    // those 5 s find no endpoint. (Recreate's minAvailable is 0: the Available condition
    // stays True.)
    let out = rollout(
        "recreate",
        Setup {
            strategy: "{type: Recreate}",
            ..Setup::default()
        },
    );
    let took = rollouts(&out)[0].duration_seconds.unwrap();
    assert!((5.0..5.02).contains(&took), "rollout took {took} s");
    assert_eq!(min_ready_during(&out, 120.0, 124.0), 0.0);
    // ~100 req/s for 5 s.
    let lost = failed(&out, "no_endpoint");
    assert!(
        (400..=600).contains(&lost),
        "{lost} requests without endpoint"
    );
    let d = &out.report.deployments[0];
    assert!((5.0..5.02).contains(&d.short_of_ready_seconds));
    assert_eq!(d.unavailable_seconds, 0.0);
    // The Service's availability over time: the sample covering 120–125 s is failures but for
    // the few requests the v1 pods finished after 120 s.
    let availability = column(&out, "service.app.availability");
    let at = |t: f64| availability.iter().find(|(s, _)| *s == t).unwrap().1;
    assert_eq!((at(120.0), at(130.0)), (1.0, 1.0));
    assert!(at(125.0) < 0.01, "{}", at(125.0));
}

#[test]
fn min_ready_seconds_holds_each_step_back() {
    // minReadySeconds 10: a new pod counts as available only 10 s after Ready, so each step
    // takes 5 + 10 s (plus the strict inequality's microsecond): 4 steps from 120 s.
    let out = rollout(
        "min-ready",
        Setup {
            deployment_extra: "  minReadySeconds: 10\n",
            ..Setup::default()
        },
    );
    let took = rollouts(&out)[0].duration_seconds.unwrap();
    assert!((60.0..60.01).contains(&took), "rollout took {took} s");
}

#[test]
fn scaling_mid_rollout_is_proportional() {
    // 10 pods, maxSurge 3 / maxUnavailable 0 on 6 nodes with room for 24 pods. At 120 s the
    // new ReplicaSet grows to 3 (10 + 3 = 13 pods). `kubectl scale` to 20 at the same instant
    // is a scaling event: allowed 20 + 3 = 23, 10 to add, shared by size against the
    // max-replicas annotation 13: old round(10 × 23 / 13 = 17.7) − 10 = +8 → 18, new
    // round(3 × 23 / 13 = 5.3) − 3 = +2 → 5 — and `explain --deployment` says so. The rollout
    // goes on from there and ends with 20 v2 pods.
    let out = rollout(
        "proportional",
        Setup {
            nodes: 6,
            replicas: 10,
            strategy: "{rollingUpdate: {maxSurge: 3, maxUnavailable: 0}}",
            events: "    - {at: 2m, action: scale, deployment: app, replicas: 20}\n",
            ..Setup::default()
        },
    );
    let r = &rollouts(&out)[0];
    assert!(r.completed_seconds.is_some(), "{r:?}");
    let ready = column(&out, "deployment.app.ready");
    assert_eq!(ready.last().unwrap().1, 20.0);
    assert_eq!(min_ready_during(&out, 0.0, 1200.0), 10.0);
    let text = story(&out, Selection::Rollouts);
    let line = (text.lines())
        .find(|l| l.contains("mid-rollout"))
        .unwrap_or_else(|| panic!("{text}"));
    let old = first_replica_set(&out);
    assert!(
        line.starts_with("00:02:00 app: replicas 10 → 20 mid-rollout: 20 + maxSurge 3 = 23 allowed and 13 asked for, so +10 shared in proportion to each ReplicaSet's size ("),
        "{line}"
    );
    assert!(
        line.contains(&format!("{old}: 10 × 23 / 13 → +8")),
        "{line}"
    );
    assert!(line.contains(": 3 × 23 / 13 → +2"), "{line}");
    assert!(line.contains(&format!("{old} 10 → 18")), "{line}");
    // No HPA: no lone scaling to count.
    assert!(!text.contains("(and "), "{text}");
}

#[test]
fn rollback_returns_to_the_first_template_as_a_new_revision() {
    // v2 rolls out at 120 s (done 140 s); `kubectl rollout undo` at 5 min revives the v1
    // ReplicaSet as revision 3 and rolls back the same way (done 320 s).
    let out = rollout(
        "rollback",
        Setup {
            events: "    - {at: 5m, action: rollback, deployment: app}\n",
            ..Setup::default()
        },
    );
    let revisions: Vec<(u64, Option<f64>)> = rollouts(&out)
        .iter()
        .map(|r| (r.revision, r.completed_seconds))
        .collect();
    assert_eq!(revisions, vec![(2, Some(140.0)), (3, Some(320.0))]);
    // The pods created last come from the first ReplicaSet (named as at t = 0).
    let first_rs = first_replica_set(&out);
    let last = out
        .pod_events
        .iter()
        .rfind(|e| e.reason == PodEventReason::Created)
        .unwrap();
    assert!(last.pod.starts_with(first_rs), "{} vs {first_rs}", last.pod);
    let text = story(&out, Selection::Rollouts);
    assert!(text.contains(&format!(
        "00:05:00 app: Scripted: kubectl rollout undo.\n\
         00:05:00 app: rolled back: ReplicaSet {first_rs} has the pod template again, so it takes revision 3 (it was 1).\n\
         00:05:00 app: RolloutStarted: rolling out revision 3.\n"
    )), "{text}");
}

#[test]
fn a_paused_deployment_rolls_out_only_when_resumed() {
    // Paused at 1 min: the apply at 2 min changes the template but creates nothing; resumed
    // at 10 min, the rollout runs then (600 → 620 s), as `explain --deployment` tells.
    let out = rollout(
        "paused",
        Setup {
            events: "    - {at: 1m, action: pause, deployment: app}\n    - {at: 10m, action: resume, deployment: app}\n",
            ..Setup::default()
        },
    );
    let r = &rollouts(&out)[0];
    assert_eq!(
        (r.started_seconds, r.completed_seconds),
        (600.0, Some(620.0))
    );
    let text = story(&out, Selection::Rollouts);
    let first = first_replica_set(&out);
    assert!(text.contains(&format!(
        "00:01:00 app: Scripted: kubectl rollout pause.\n\
         00:02:00 app: Scripted: kubectl apply.\n\
         00:10:00 app: Scripted: kubectl rollout resume.\n\
         00:10:00 app: no ReplicaSet has the new pod template: one is created (revision 2); the old {first} 4 stays.\n"
    )), "{text}");
}

#[test]
fn deleted_pods_are_replaced_at_once() {
    // `kubectl delete pod` of 2 pods at 5 min: the ReplicaSet creates 2 more immediately;
    // Ready 5 s later. 2 pods short for 5 s. Each replacement names the pod it replaces;
    // the rollout's pods (120–135 s) say how many their ReplicaSet wanted.
    let out = rollout(
        "delete-pods",
        Setup {
            events: "    - {at: 5m, action: deletePod, deployment: app, count: 2}\n",
            ..Setup::default()
        },
    );
    let d = &out.report.deployments[0];
    assert_eq!(d.pods_created, 10);
    assert_eq!(d.short_of_ready_seconds, 5.0);
    let created: Vec<(f64, &str, &str)> = (out.pod_events.iter())
        .filter(|e| e.reason == PodEventReason::Created && e.t_seconds > 0.0)
        .map(|e| (e.t_seconds, e.pod.as_str(), e.message.as_str()))
        .collect();
    let (rollout_pods, replacements) = created.split_at(4);
    let rs = rollout_pods[0].1.rsplit_once('-').unwrap().0;
    for (i, (t, _, message)) in rollout_pods.iter().enumerate() {
        assert_eq!(*t, 120.0 + 5.0 * i as f64);
        let wanted = match i {
            0 => "1 pod".to_string(),
            _ => format!("{} pods", i + 1),
        };
        let expected = format!("Created by ReplicaSet {rs}: it wants {wanted} and had {i}");
        assert_eq!(*message, expected);
    }
    for ((t, _, message), lost) in replacements.iter().zip(rollout_pods) {
        assert_eq!(*t, 300.0);
        let expected = format!(
            "Created by ReplicaSet {rs} to replace {}, lost at 00:05:00: deleted",
            lost.1
        );
        assert_eq!(*message, expected);
    }
}

#[test]
fn revision_history_limit_removes_the_oldest_revision() {
    // v2 at 2 min, v3 at 5 min; then `rollout undo --to-revision=1` at 8 min. With the
    // default history (10) revision 1's ReplicaSet is still there: it rolls back in as
    // revision 4. With `revisionHistoryLimit: 1`, completing v3 deleted it (two old
    // ReplicaSets, one kept: the lowest revision goes), so the undo finds nothing — as
    // `explain --deployment` tells.
    let events = "    - {at: 5m, action: apply, manifest: v3.yaml}\n    - {at: 8m, action: rollback, deployment: app, toRevision: 1}\n";
    let kept = rollout(
        "history-kept",
        Setup {
            events,
            ..Setup::default()
        },
    );
    let revisions =
        |out: &RunOutput| -> Vec<u64> { rollouts(out).iter().map(|r| r.revision).collect() };
    assert_eq!(revisions(&kept), vec![2, 3, 4]);
    let trimmed = rollout(
        "history-trimmed",
        Setup {
            events,
            deployment_extra: "  revisionHistoryLimit: 1\n",
            ..Setup::default()
        },
    );
    assert_eq!(revisions(&trimmed), vec![2, 3]);
    let text = story(&trimmed, Selection::Rollouts);
    let first = first_replica_set(&trimmed);
    assert!(text.contains(&format!(
        "00:05:20 app: the rollout is complete and revisionHistoryLimit 1 keeps that many old ReplicaSets (2 now): deletes {first} (revision 1).\n\
         00:05:20 app: RolloutCompleted: revision 3 rolled out in 20s.\n\
         00:08:00 app: Scripted: kubectl rollout undo --to-revision=1.\n"
    )), "{text}");
    // `--at` tells the one reconcile then: at 00:02:07 the last was at 00:02:05, the new
    // ReplicaSet's second pod (4 + 1 = 5 pods, maxSurge 1).
    let at = story(&trimmed, Selection::At(127.0));
    assert!(at.starts_with("00:02:05 app: maxSurge 1 and maxUnavailable 0, so up to 5 pods and at least 4 available; the ReplicaSets ask for 4 ("), "{at}");
    assert_eq!(at.lines().count(), 1, "{at}");
}

/// `explain --deployment`'s story of Deployment `app`.
fn story(out: &RunOutput, selection: Selection) -> String {
    deployment::story(&out.rollout_records, &out.cluster_events, "app", selection)
}

/// The name of the ReplicaSet made at t = 0.
fn first_replica_set(out: &RunOutput) -> &str {
    &out.rollout_records[0].sets[0].name
}
