//! Bare Pods and ReplicationControllers (issue 20, part 2): a bare Pod runs under its own name,
//! serves a Service that selects its labels, and is gone for good when its node fails; a
//! ReplicationController keeps its replicas (pods `<rc>-<suffix>`) and an HPA may scale it.

use kubesim::controllers::PodEventReason;

use crate::support::run_text;

const SCENARIO: &str = r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: bare}
spec:
  duration: 20m
  seed: 9
  startWarm: false
  cluster:
    nodePools:
      - {name: pool, count: 2, allocatable: {cpu: "4", memory: 16Gi}}
  workloads:
    - {deployment: cache, startupTime: 5s, cpuPerRequest: 5ms}
    - {deployment: legacy, startupTime: 5s, cpuPerRequest: 50ms}
  traffic:
    - {service: cache, arrivals: {constant: {rate: 20}}}
    - {service: legacy, arrivals: {constant: {rate: 40}}}
  events:
    - {at: 10m, action: failNode, node: pool-0}
---
apiVersion: v1
kind: Pod
metadata: {name: cache, labels: {app: cache}}
spec:
  nodeName: pool-0
  containers: [{name: cache, resources: {requests: {cpu: 500m, memory: 1Gi}}}]
---
apiVersion: v1
kind: Service
metadata: {name: cache}
spec: {selector: {app: cache}}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: legacy}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: legacy}}
    spec:
      containers: [{name: legacy, resources: {requests: {cpu: "1", memory: 1Gi}}}]
---
apiVersion: v1
kind: Service
metadata: {name: legacy}
spec: {selector: {app: legacy}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: legacy}
spec:
  scaleTargetRef: {apiVersion: v1, kind: ReplicationController, name: legacy}
  minReplicas: 2
  maxReplicas: 6
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
"#;

#[test]
fn bare_pods_are_not_recreated_and_replication_controllers_keep_their_replicas() {
    let out = run_text("bare-and-rc", SCENARIO);
    let created: Vec<(&str, f64)> = (out.pod_events.iter())
        .filter(|e| e.reason == PodEventReason::Created)
        .map(|e| (e.pod.as_str(), e.t_seconds))
        .collect();
    // The bare Pod keeps its own name and is created once, at 0.
    let cache: Vec<_> = created
        .iter()
        .filter(|(p, _)| p.starts_with("cache"))
        .collect();
    assert_eq!(cache, vec![&("cache", 0.0)]);
    // The ReplicationController's pods are `legacy-<suffix>` (no template hash).
    let legacy: Vec<&str> = (created.iter())
        .filter(|(p, _)| p.starts_with("legacy"))
        .map(|(p, _)| *p)
        .collect();
    assert!(legacy.len() >= 2, "{legacy:?}");
    assert!(
        legacy.iter().all(|p| p.len() == "legacy-".len() + 5),
        "{legacy:?}"
    );
    // 40 req/s × 50 ms = 2 cores on 1-core requests at a 50 % target: the HPA scales the
    // ReplicationController to 4.
    let d = &out.report.deployments;
    let rc = d.iter().find(|d| d.name == "legacy").unwrap();
    assert!(
        rc.replicas.max >= 4.0 && rc.scale_ups > 0,
        "{:?}",
        rc.replicas
    );
    // The cache was pinned to pool-0 (nodeName), which fails at 10 min: its Service serves
    // until then and never again (the node lifecycle controller deletes the pod 300 s after
    // the taint; nothing recreates it).
    let cache_service = out
        .report
        .services
        .iter()
        .find(|s| s.name == "cache")
        .unwrap();
    let availability = cache_service.availability.unwrap();
    assert!((0.4..0.6).contains(&availability), "{availability}");
}
