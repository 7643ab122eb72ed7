//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kubesim::engine::{self, RunOutput};
use kubesim::scenario::{LoadOptions, Scenario, load_scenario};

/// The repository root (tests run with it as the working directory for the binary).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the `kubesim` binary from the repository root.
pub fn kubesim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("kubesim runs")
}

pub fn load(path: &Path, seed: Option<u64>, overrides: &[&str]) -> Scenario {
    let options = LoadOptions {
        seed,
        overrides: overrides.iter().map(|s| s.to_string()).collect(),
    };
    load_scenario(path, &options)
        .unwrap_or_else(|d| panic!("{} does not load: {d:#?}", path.display()))
}

pub fn run(scenario: &Scenario) -> RunOutput {
    engine::run(scenario, &mut |_| {}).expect("scenario runs")
}

/// Writes `text` as `scenario.yaml` in a fresh directory for test `name` and runs it.
pub fn run_text(name: &str, text: &str) -> RunOutput {
    let path = scratch(name).join("scenario.yaml");
    std::fs::write(&path, text).unwrap();
    run(&load(&path, None, &[]))
}

/// One time-series column as `(t_seconds, value)` pairs.
pub fn column(out: &RunOutput, name: &str) -> Vec<(f64, f64)> {
    let series = &out.timeseries;
    let i = series.columns.iter().position(|c| c == name).unwrap();
    series.rows.iter().map(|r| (r[0], r[i])).collect()
}

/// A command's standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Sorted entry names of `dir` (hidden ones included: a leftover `.partial` would show).
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A fresh, empty directory under the target dir for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every shipped scenario file, sorted.
pub fn shipped_scenarios() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path().join("scenario.yaml"))
        .filter(|p| p.exists())
        .collect();
    out.sort();
    out
}

/// A Deployment `app` (label `app: app`) of `replicas` pods requesting `cpu` and 1Gi, with
/// `pod_extra` appended to the pod spec (indented for `spec.template.spec`), as a YAML document.
pub fn app_deployment(replicas: u32, cpu: &str, pod_extra: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: app}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: app}}}}
  template:
    metadata: {{labels: {{app: app}}}}
    spec:
      containers:
        - name: app
          resources: {{requests: {{cpu: "{cpu}", memory: 1Gi}}}}
{pod_extra}"#
    )
}

/// A Deployment `name` of `replicas` pods (label `app: name`) with CPU request and limit `cpu`,
/// and a Service `name` selecting them, as YAML documents (each starting with `---`).
pub fn deployment_and_service(name: &str, replicas: u32, cpu: &str) -> String {
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
      containers:
        - name: app
          resources: {{requests: {{cpu: "{cpu}"}}, limits: {{cpu: "{cpu}"}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec: {{selector: {{app: {name}}}}}
"#
    )
}

/// A warm-started scenario on one node: its `workloads` and `traffic` list items (YAML, indented
/// for `spec`) and `manifests` (documents, each starting with `---`).
pub struct OneNode<'a> {
    pub name: &'a str,
    pub duration: &'a str,
    pub seed: u64,
    pub node_cpu: &'a str,
    pub workloads: &'a str,
    pub traffic: &'a str,
    pub manifests: &'a str,
}

impl OneNode<'_> {
    pub fn text(&self) -> String {
        let OneNode {
            name,
            duration,
            seed,
            node_cpu,
            workloads,
            traffic,
            manifests,
        } = self;
        format!(
            r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {name}}}
spec:
  duration: {duration}
  seed: {seed}
  startWarm: true
  cluster:
    nodePools:
      - {{name: pool, count: 1, allocatable: {{cpu: "{node_cpu}", memory: 256Gi}}}}
  workloads:
{workloads}  traffic:
{traffic}{manifests}"#
        )
    }
}

/// `text` (a [`OneNode`] scenario) with more `spec` fields (YAML, indented for `spec`, each
/// line ending in a newline) inserted before its traffic: events, a mesh.
pub fn with_spec(text: &str, fields: &str) -> String {
    text.replacen("  traffic:\n", &format!("{fields}  traffic:\n"), 1)
}
