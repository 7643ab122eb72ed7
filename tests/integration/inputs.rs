//! Manifests as people keep them: folders of files (recursively, as `kubectl apply -R -f`),
//! several files checked as one set, JSON, standard input, and a scenario's folder given in
//! place of its file.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::{kubesim, root, scratch};

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, resources: {requests: {cpu: 100m}}}]
";

const HPA_JSON: &str = r#"{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
 "metadata": {"name": "web"},
 "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
          "minReplicas": 1, "maxReplicas": 5,
          "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                       "target": {"type": "Utilization", "averageUtilization": 60}}}]}}
"#;

/// `DIR/deploy.yaml` and, one folder down, `DIR/autoscaling/hpa.json`.
fn manifest_folder(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    std::fs::create_dir_all(dir.join("autoscaling")).unwrap();
    std::fs::write(dir.join("deploy.yaml"), DEPLOYMENT).unwrap();
    std::fs::write(dir.join("autoscaling/hpa.json"), HPA_JSON).unwrap();
    std::fs::write(dir.join("NOTES.txt"), "not a manifest").unwrap();
    dir
}

fn validate(args: &[&str]) -> (Option<i32>, String) {
    let out = kubesim(&[&["validate"], args].concat());
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

#[test]
fn manifest_files_are_validated_as_one_set() {
    let dir = manifest_folder("validate-one-set");
    let hpa = dir.join("autoscaling/hpa.json").display().to_string();
    let deploy = dir.join("deploy.yaml").display().to_string();
    let folder = dir.display().to_string();
    // Alone, the HPA's target is missing; beside the file that defines it, it is found.
    let (code, text) = validate(&[&hpa]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("Deployment \"web\" not found"), "{text}");
    let (code, text) = validate(&[&deploy, &hpa]);
    assert_eq!((code, text.trim()), (Some(0), "2 file(s) valid"));
    // A folder is its own files (not NOTES.txt); -R takes its subfolders too, as kubectl does.
    let (code, text) = validate(&["-f", &folder]);
    assert_eq!((code, text.trim()), (Some(0), "1 file(s) valid"));
    let (code, text) = validate(&["-R", "-f", &folder]);
    assert_eq!((code, text.trim()), (Some(0), "2 file(s) valid"));
    // An empty folder is an error naming it.
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    let (code, text) = validate(&[&dir.join("empty").display().to_string()]);
    assert_eq!(code, Some(2));
    assert!(
        text.contains("holds no .yaml, .yml or .json file"),
        "{text}"
    );
}

#[test]
fn manifests_piped_to_validate_are_read_from_standard_input() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(["validate", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let piped = format!("{DEPLOYMENT}---\n{HPA_JSON}");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(piped.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A mistake is located in <stdin>.
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(["validate", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(HPA_JSON.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.starts_with("<stdin>:3:"), "{err}");
}

#[test]
fn a_scenario_reads_a_folder_of_manifests_and_runs_from_its_own_folder() {
    // The quickstart with its manifest file split into two files, one a folder further down,
    // named by the folder: the same run as the shipped one.
    let dir = scratch("manifest-folder-scenario");
    let shipped = root().join("scenarios/quickstart");
    for f in ["scenario.yaml", "nasa-1995-07-05.csv"] {
        std::fs::copy(shipped.join(f), dir.join(f)).unwrap();
    }
    let web = std::fs::read_to_string(shipped.join("web.yaml")).unwrap();
    let (first, rest) = web
        .split_once("\n---\n")
        .expect("web.yaml holds several objects");
    std::fs::create_dir_all(dir.join("k8s/more")).unwrap();
    std::fs::write(dir.join("k8s/a.yaml"), first).unwrap();
    std::fs::write(dir.join("k8s/more/b.yaml"), rest).unwrap();
    let scenario = std::fs::read_to_string(dir.join("scenario.yaml")).unwrap();
    let scenario = scenario.replace("manifests: [web.yaml]", "manifests: [k8s]");
    std::fs::write(dir.join("scenario.yaml"), scenario).unwrap();
    let run = |scenario: &str, out: &str| {
        let out_dir = dir.join(out).display().to_string();
        let args = [
            "run",
            scenario,
            "--out",
            &out_dir,
            "-q",
            "--no-plots",
            "--no-trace",
        ];
        let result = kubesim(&[&args[..], &["--set", "duration=20m"]].concat());
        assert_eq!(
            result.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&result.stderr)
        );
        std::fs::read_to_string(dir.join(out).join("report.json")).unwrap()
    };
    let from_folder = run(&dir.display().to_string(), "folder-run");
    let shipped_run = run("scenarios/quickstart", "shipped-run");
    assert_eq!(from_folder, shipped_run);
}

const ADMITTED: &str = "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: admitted}
spec:
  duration: 10m
  cluster:
    nodePools:
      - {name: pool, count: 2, allocatable: {cpu: \"4\", memory: 16Gi}}
  workloads:
    - deployment: web
  events:
    - {at: 2m, action: apply, manifest: v2.yaml}
---
apiVersion: v1
kind: LimitRange
metadata: {name: defaults}
spec:
  limits:
    - type: Container
      defaultRequest: {cpu: 250m}
      default: {cpu: 500m}
      max: {cpu: \"1\"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: web:v1}]
";

/// `web` at `image`, its container's resources as given (YAML flow).
fn applied_web(image: &str, resources: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: web, image: {image}, resources: {resources}}}]
"
    )
}

#[test]
fn applied_templates_are_admitted_through_the_scenarios_limit_ranges() {
    use kubesim::scenario::ScriptedAction;
    // v2 states no resources: the LimitRange gives it 250m requested, 500m limit, as v1.
    let dir = scratch("apply-admitted");
    std::fs::write(dir.join("scenario.yaml"), ADMITTED).unwrap();
    std::fs::write(dir.join("v2.yaml"), applied_web("web:v2", "{}")).unwrap();
    let scenario = crate::support::load(&dir.join("scenario.yaml"), None, &[]);
    assert_eq!(scenario.deployments[0].pod.requests.cpu_millis, 250);
    let ScriptedAction::Apply { deployments, .. } = &scenario.events[0].action else {
        panic!("an apply event");
    };
    let pod = &deployments[0].spec.pod;
    assert_eq!(
        (pod.requests.cpu_millis, pod.cpu_limit_millis),
        (250, Some(500))
    );
    // A v2 above the LimitRange's max is refused where it is written, as the API server
    // would refuse its pods.
    let big = applied_web("web:v2", "{requests: {cpu: \"2\"}, limits: {cpu: \"2\"}}");
    std::fs::write(dir.join("v2.yaml"), big).unwrap();
    let (code, text) = validate(&[dir.join("scenario.yaml").to_str().unwrap()]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("v2.yaml:9:")
            && text.contains("maximum cpu usage per Container is 1, but limit is 2"),
        "{text}"
    );
}
