//! KEDA ScaledObjects: the HPA KEDA makes, and activation to and from zero by its operator.

use kubesim::controllers::metrics_server::PodMetricSource;
use kubesim::metrics::cluster_events::ClusterEventReason;
use kubesim::scenario::{HpaMetric, ValueTarget};
use kubesim::sim::SimDuration;

use crate::support::{load, root, run, scratch};

/// A queue worker scaled by KEDA on a queue's depth (a scripted series): 0 messages for
/// 10 min, 300 for 20 min, then 0; AverageValue 30 per pod, polling every 30 s, cooldown 300 s.
const QUEUE_WORKER: &str = r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: keda-worker}
spec:
  duration: 1h
  cluster:
    nodePools:
      - {name: pool, count: 4, allocatable: {cpu: "8", memory: 32Gi}}
  externalMetrics:
    - {name: queue_messages, file: queue.csv}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker}
spec:
  replicas: 2
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers:
        - name: worker
          resources: {requests: {cpu: 500m}}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: worker}
spec:
  scaleTargetRef: {name: worker}
  maxReplicaCount: 20
  triggers:
    - type: prometheus
      metadata:
        serverAddress: http://prometheus.monitoring:9090
        query: sum(queue_messages{queue="jobs"})
        threshold: "30"
"#;

#[test]
fn keda_scales_a_worker_to_zero_wakes_it_and_its_hpa_scales_it_up() {
    let dir = scratch("keda-queue-worker");
    std::fs::write(
        dir.join("queue.csv"),
        "t_seconds,value\n0,0\n600,300\n1800,0\n",
    )
    .unwrap();
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, QUEUE_WORKER).unwrap();
    let out = run(&load(&path, None, &[]));
    let keda: Vec<(f64, ClusterEventReason, &str)> = (out.cluster_events.iter())
        .filter(|e| e.name == "worker" && format!("{:?}", e.kind) == "ScaledObject")
        .map(|e| (e.t_seconds, e.reason, e.message.as_str()))
        .collect();
    use ClusterEventReason::*;
    assert_eq!(
        keda,
        [
            // Never active; the initial cooldown (0 s) has passed after creation by the second
            // poll (KEDA's check is strictly after).
            (
                30.0,
                KEDAScaleTargetDeactivated,
                "Deactivated Deployment default/worker from 2 to 0"
            ),
            // The poll at 600 s sees 300 > activationThreshold 0.
            (
                600.0,
                KEDAScaleTargetActivated,
                "Scaled Deployment default/worker from 0 to 1, triggered by s0-prometheus"
            ),
            // Last active at the 1 770 s poll; 1 770 + 300 < now first at the 2 100 s poll, which
            // runs before the HPA's sync at the same instant (scheduled earlier).
            (
                2100.0,
                KEDAScaleTargetDeactivated,
                "Deactivated Deployment default/worker from 10 to 0"
            ),
        ]
    );
    let decisions = &out.hpa_decisions;
    assert!(decisions.iter().all(|d| &*d.hpa == "keda-hpa-worker"));
    // At zero the HPA is disabled (minReplicas is 1: KEDA's minimum, at least 1).
    let at = |t: f64| decisions.iter().rfind(|d| d.time_seconds <= t).unwrap();
    assert_eq!(at(590.0).current_replicas, 0);
    assert!(
        at(590.0)
            .skipped
            .as_deref()
            .unwrap()
            .contains("scaling is disabled")
    );
    // From 1 pod: ceil(300 / 30) = 10 through the legacy limit max(2×current, 4): 4, 8, 10.
    let ups: Vec<i32> = (decisions.iter())
        .filter(|d| d.desired_replicas > d.current_replicas)
        .map(|d| d.desired_replicas)
        .collect();
    assert_eq!(ups, vec![4, 8, 10]);
}

#[test]
fn the_llm_scenarios_scaled_object_makes_the_hpa_keda_would() {
    // scenarios/llm-inference/keda.yaml: a prometheus trigger on
    // sum(vllm:num_requests_waiting{…}), threshold "2", min 1, max 8, polling 15 s, cooldown
    // 600 s, a 600 s scale-down window under advanced.
    let path = root().join("scenarios/llm-inference/scenario.yaml");
    let s = load(
        &path,
        None,
        &["manifests=[agent.yaml, llama.yaml, keda.yaml]"],
    );
    let hpa = &s.hpas[0];
    assert_eq!(hpa.name, "keda-hpa-llama");
    assert_eq!((hpa.min_replicas, hpa.max_replicas), (1, 8));
    assert_eq!(
        hpa.metrics,
        [HpaMetric::External {
            metric: "vllm:num_requests_waiting".into(),
            series: None,
            from_pods: Some(PodMetricSource::LlmRequestsWaiting),
            target: ValueTarget::AverageValue(2000),
        }]
    );
    let window = hpa
        .behavior
        .as_ref()
        .unwrap()
        .scale_down
        .stabilization_window;
    assert_eq!(window, Some(SimDuration::from_secs(600)));
    let keda = hpa.keda.as_ref().unwrap();
    assert_eq!(keda.polling_interval, SimDuration::from_secs(15));
    assert_eq!(keda.cooldown_period, SimDuration::from_secs(600));
    assert_eq!(keda.triggers.len(), 1);
    assert!(
        s.warnings
            .iter()
            .all(|w| !w.to_string().contains("never scales"))
    );

    // Scale to zero on the servers' own queue: at zero nothing reports it, so it would never
    // wake up again — a warning at minReplicaCount.
    let zero = load(
        &path,
        None,
        &[
            "manifests=[agent.yaml, llama.yaml, keda.yaml]",
            "so/llama:spec.minReplicaCount=0",
        ],
    );
    let warned: Vec<String> = (zero.warnings.iter())
        .map(|w| w.to_string())
        .filter(|w| w.contains("never scales it up again"))
        .collect();
    assert_eq!(warned.len(), 1, "{:#?}", zero.warnings);
    assert!(warned[0].contains("spec.minReplicaCount"), "{}", warned[0]);
}
