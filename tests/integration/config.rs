//! ConfigMap and Secret references (issue 20, part 2): a pod whose environment needs a missing
//! ConfigMap waits in CreateContainerConfigError, retried every 10 s by the kubelet's pod
//! worker, and starts at the first retry after an `apply` event creates it; a pod whose volume
//! needs a missing Secret waits in ContainerCreating, the mount retried on the volume manager's
//! exponential backoff; optional references never hold a pod back.

use kubesim::controllers::PodEventReason;

use crate::support::{kubesim, load, run, scratch};

const SCENARIO: &str = r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: config-refs}
spec:
  duration: 10m
  seed: 3
  startWarm: false
  cluster:
    nodePools:
      - {name: pool, count: 2, allocatable: {cpu: "8", memory: 32Gi}}
  workloads:
    - {deployment: web, startupTime: 5s, cpuPerRequest: 10ms}
    - {deployment: cache, startupTime: 5s, cpuPerRequest: 10ms}
    - {deployment: plain, startupTime: 5s, cpuPerRequest: 10ms}
  events:
    - {at: 5m, action: apply, manifest: settings.yaml}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          resources: {requests: {cpu: 500m, memory: 1Gi}}
          envFrom:
            - configMapRef: {name: app-settings}
            - secretRef: {name: extra, optional: true}
          env:
            - {name: LEVEL, valueFrom: {configMapKeyRef: {name: app-settings, key: level}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cache}
spec:
  replicas: 1
  selector: {matchLabels: {app: cache}}
  template:
    metadata: {labels: {app: cache}}
    spec:
      containers:
        - name: cache
          resources: {requests: {cpu: 500m, memory: 1Gi}}
      volumes:
        - {name: tls, secret: {secretName: cache-tls}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: plain}
spec:
  replicas: 1
  selector: {matchLabels: {app: plain}}
  template:
    metadata: {labels: {app: plain}}
    spec:
      containers:
        - name: plain
          resources: {requests: {cpu: 500m, memory: 1Gi}}
      volumes:
        - {name: extra, configMap: {name: not-there, optional: true}}
"#;

const SETTINGS: &str = "apiVersion: v1
kind: ConfigMap
metadata: {name: app-settings}
data: {level: info}
";

fn write_scenario(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("settings.yaml"), SETTINGS).unwrap();
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, SCENARIO).unwrap();
    path
}

#[test]
fn pods_wait_for_their_config_maps_and_secrets_on_the_kubelets_backoffs() {
    let out = run(&load(&write_scenario("config-refs"), None, &[]));
    let events = |owner: &str, reason: PodEventReason| {
        (out.pod_events.iter())
            .filter(|e| e.owner == owner && e.reason == reason)
            .collect::<Vec<_>>()
    };
    // web: the container cannot be created from 5 s (bind at 0, 5 s startup) until the
    // ConfigMap exists at 300 s: tries at 5, 15, …, 295 s fail (30 each), 305 s starts.
    let failed = events("web", PodEventReason::Failed);
    assert_eq!(failed.len(), 2, "one folded event per pod: {failed:#?}");
    for e in &failed {
        assert_eq!(e.message, "Error: configmap \"app-settings\" not found");
        assert_eq!((e.t_seconds, e.count, e.last_seconds), (5.0, 30, 295.0));
    }
    let started: Vec<f64> = (events("web", PodEventReason::Started).iter())
        .map(|e| e.t_seconds)
        .collect();
    assert_eq!(started, [305.0, 305.0]);
    // cache: its Secret never comes. Mount attempts at 5 s, then 0.5 s later, doubling up to
    // 2 m 2 s: 5, 5.5, 6.5, 8.5, 12.5, 20.5, 36.5, 68.5, 132.5, 254.5, 376.5, 498.5 (12).
    let mounts = events("cache", PodEventReason::FailedMount);
    assert_eq!(mounts.len(), 1);
    assert_eq!(
        mounts[0].message,
        "MountVolume.SetUp failed for volume \"tls\" : secret \"cache-tls\" not found"
    );
    assert_eq!((mounts[0].count, mounts[0].last_seconds), (12, 498.5));
    assert!(events("cache", PodEventReason::Started).is_empty());
    // plain: its only reference is optional.
    let plain: Vec<f64> = (events("plain", PodEventReason::Started).iter())
        .map(|e| e.t_seconds)
        .collect();
    assert_eq!(plain, [5.0]);
}

#[test]
fn validate_warns_of_what_no_manifest_or_apply_provides_and_get_shows_the_waiting_pods() {
    let path = write_scenario("config-refs-cli");
    let shown = path.to_str().unwrap();
    let validated = kubesim(&["validate", shown]);
    let text = String::from_utf8_lossy(&validated.stderr).to_string()
        + &String::from_utf8_lossy(&validated.stdout);
    assert!(validated.status.success(), "{text}");
    // The ConfigMap comes with the apply event; the Secret from nowhere.
    assert!(!text.contains("Deployment \"web\""), "{text}");
    assert!(
        text.contains("spec.template.spec.volumes[0].secret: the pods of Deployment \"cache\" will not start: the kubelet would say \"MountVolume.SetUp failed for volume \\\"tls\\\" : secret \\\"cache-tls\\\" not found\""),
        "{text}"
    );
    let dir = path.parent().unwrap().join("out");
    let out_dir = dir.to_str().unwrap();
    let ran = kubesim(&[
        "run",
        shown,
        "--out",
        out_dir,
        "-q",
        "--no-plots",
        "--no-trace",
    ]);
    assert!(ran.status.success(), "{ran:?}");
    let got = kubesim(&["get", "pods", out_dir, "--at", "2m"]);
    let table = String::from_utf8_lossy(&got.stdout);
    let status_of = |prefix: &str| -> Vec<String> {
        (table.lines())
            .filter(|l| l.starts_with(prefix))
            .map(|l| l.split_whitespace().nth(2).unwrap().to_string())
            .collect()
    };
    assert_eq!(
        status_of("web-"),
        ["CreateContainerConfigError", "CreateContainerConfigError"],
        "{table}"
    );
    assert_eq!(status_of("cache-"), ["ContainerCreating"], "{table}");
    assert_eq!(status_of("plain-"), ["Running"], "{table}");
    let later = kubesim(&["get", "pods", out_dir, "--at", "6m"]);
    let table = String::from_utf8_lossy(&later.stdout);
    assert!(
        table
            .lines()
            .filter(|l| l.starts_with("web-"))
            .all(|l| l.contains(" Running ")),
        "{table}"
    );
    // explain --pod tells the wait in its closing lines.
    let cache = status_line_name(&String::from_utf8_lossy(&got.stdout), "cache-");
    let explained = kubesim(&["explain", shown, "--pod", &cache, "-q"]);
    let text = String::from_utf8_lossy(&explained.stdout);
    assert!(
        text.contains("Warning  FailedMount  MountVolume.SetUp failed for volume \"tls\" : secret \"cache-tls\" not found (x12 over 8m14s)"),
        "{text}"
    );
    assert!(
        text.ends_with("The kubelet held it back from 00:00:05 for want of a ConfigMap or Secret (the Warning events above); its container never started.\n"),
        "{text}"
    );
}

/// The name of the first pod in a `get pods` table whose name starts with `prefix`.
fn status_line_name(table: &str, prefix: &str) -> String {
    let line = table.lines().find(|l| l.starts_with(prefix)).unwrap();
    line.split_whitespace().next().unwrap().to_string()
}

#[test]
fn a_pod_waiting_for_its_config_map_does_not_start_when_its_node_comes_back() {
    // One node; web's ConfigMap comes at 5 m. The node fails at 1 m (the retries stop with its
    // kubelet) and recovers at 2 m: the kubelet tries web's pods at once (120 s), which still
    // cannot be created, then every 10 s: 130, …, 290 s fail; the apply at 300 s comes before
    // that instant's retry, which starts them.
    let dir = scratch("config-refs-recovery");
    std::fs::write(dir.join("settings.yaml"), SETTINGS).unwrap();
    let text = SCENARIO
        .replace("count: 2", "count: 1")
        .replace(
            "    - {at: 5m, action: apply, manifest: settings.yaml}",
            "    - {at: 1m, action: failNode, node: pool-0}\n    - {at: 2m, action: recoverNode, node: pool-0}\n    - {at: 5m, action: apply, manifest: settings.yaml}",
        );
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, text).unwrap();
    let out = run(&load(&path, None, &[]));
    let started: Vec<f64> = (out.pod_events.iter())
        .filter(|e| e.owner == "web" && e.reason == PodEventReason::Started)
        .map(|e| e.t_seconds)
        .collect();
    assert_eq!(started, [300.0, 300.0]);
    let failed = (out.pod_events.iter())
        .find(|e| e.owner == "web" && e.reason == PodEventReason::Failed)
        .unwrap();
    // 5 … 55 s (6), 120 … 290 s (18).
    assert_eq!((failed.count, failed.last_seconds), (24, 290.0));
}
