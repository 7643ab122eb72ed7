//! PriorityClass and preemption end to end: an HPA scales a high-priority Deployment on a
//! cluster that low-priority batch pods fill; the scheduler deletes batch pods to make room,
//! and the batch pods it recreates wait Pending.

use kubesim::engine::RunOutput;
use kubesim::metrics::pod_events::PodEventReason;

use crate::support::{load, run, scratch};

/// Two 2-cpu nodes (8 slots of 500m). `online` (priority class `online_class`) starts at 1
/// replica and its HPA wants 4 under 200 req/s × 10 ms; `batch` (no class: priority 0) asks
/// for 6.
fn contested(name: &str, online_class: &str) -> RunOutput {
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
        allocatable: {{cpu: "2", memory: 16Gi}}
        count: 2
  workloads:
    - deployment: online
      startupTime: 5s
      cpuPerRequest: 10ms
  traffic:
    - service: online
      arrivals:
        constant: {{rate: 200}}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {{name: online}}
value: 1000
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {{name: polite}}
value: 1000
preemptionPolicy: Never
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: online}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: online}}}}
  template:
    metadata: {{labels: {{app: online}}}}
    spec:
      priorityClassName: {online_class}
      containers:
        - name: app
          resources: {{requests: {{cpu: 500m, memory: 256Mi}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: online}}
spec:
  selector: {{app: online}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: online}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: online}}
  minReplicas: 1
  maxReplicas: 4
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: {{type: Utilization, averageUtilization: 50}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: batch}}
spec:
  replicas: 6
  selector: {{matchLabels: {{app: batch}}}}
  template:
    metadata: {{labels: {{app: batch}}}}
    spec:
      containers:
        - name: app
          resources: {{requests: {{cpu: 500m, memory: 256Mi}}}}
"#
    );
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, text).unwrap();
    run(&load(&path, None, &[]))
}

fn events_of(out: &RunOutput, reason: PodEventReason) -> Vec<(&str, &str)> {
    out.pod_events
        .iter()
        .filter(|e| e.reason == reason)
        .map(|e| (e.owner.as_str(), e.message.as_str()))
        .collect()
}

fn last(out: &RunOutput, column: &str) -> f64 {
    let i = out
        .timeseries
        .columns
        .iter()
        .position(|c| c == column)
        .unwrap();
    out.timeseries.rows.last().unwrap()[i]
}

#[test]
fn a_high_priority_scale_up_preempts_batch_pods() {
    // 1 online + 6 batch = 7 of 8 slots. The HPA takes online to 4: the first new pod takes
    // the free slot, the other two preempt one batch pod each; the two recreated batch pods
    // find no victims (nothing has lower priority than 0) and stay Pending.
    let out = contested("preempt", "online");
    let preempted = events_of(&out, PodEventReason::Preempted);
    assert_eq!(preempted.len(), 2, "{preempted:?}");
    assert!(
        preempted
            .iter()
            .all(|(owner, m)| *owner == "batch" && m.starts_with("Preempted by pod online-"))
    );
    assert_eq!(last(&out, "deployment.online.ready"), 4.0);
    assert_eq!(last(&out, "deployment.batch.ready"), 4.0);
    let batch_waits = events_of(&out, PodEventReason::FailedScheduling)
        .into_iter()
        .filter(|(owner, _)| *owner == "batch")
        .count();
    assert!(batch_waits >= 2);
}

#[test]
fn preemption_policy_never_waits_instead() {
    // Same priority, but `preemptionPolicy: Never`: the online pods that do not fit wait, and
    // say why.
    let out = contested("preempt-never", "polite");
    assert!(events_of(&out, PodEventReason::Preempted).is_empty());
    assert_eq!(last(&out, "deployment.online.ready"), 2.0);
    let online_waits: Vec<_> = events_of(&out, PodEventReason::FailedScheduling)
        .into_iter()
        .filter(|(owner, _)| *owner == "online")
        .collect();
    assert!(
        online_waits
            .iter()
            .all(|(_, m)| m.ends_with("preemption: not eligible due to preemptionPolicy=Never.")),
        "{online_waits:?}"
    );
}
