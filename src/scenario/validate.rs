//! Loading a scenario: read, parse, apply `--set`, type, cross-check, and build the [`Scenario`].
//!
//! Every problem in every input file is collected and returned at once, sorted by file and
//! position; nothing is simulated (and nothing written) unless there are no errors.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::cluster::resources::{self, Resources, Taint, TaintEffect};
use crate::sim::dist::DurationDist;
use crate::sim::{SimDuration, SimTime};

use super::de::decode_all;
use super::decode_report::unknown_field_message;
use super::diag::{self, Diagnostic, did_you_mean, did_you_mean_hint};
use super::manifest::{self, ManifestSet, Source};
use super::manifest_files;
use super::model::*;
use super::overrides::{self, ObjectOverride, ObjectOverrides, Override};
use super::raw::*;
use super::scheduler_config;
use super::slo::{parse_assertion, resolve_scope, scope_label};
use super::trace::{self, TraceMapping};
use super::units::Duration;
use super::yaml::{Node, Value, parse_documents};

/// The most requests one burst may hold.
const MAX_BURST: u32 = 1_000_000;

/// The shortest and longest CFS periods the kubelet accepts (its configuration's validation).
const MIN_CFS_PERIOD: SimDuration = SimDuration::from_millis(1);
const MAX_CFS_PERIOD: SimDuration = SimDuration::from_secs(1);

mod calls;
mod clients;
mod connections;
mod events;
mod karpenter;
mod llm;
mod llm_model;
mod mesh;
mod network;
mod traces;

pub const API_VERSION: &str = "kubesim.io/v1alpha1";
pub const DEFAULT_MAX_EVENTS: u64 = 2_000_000_000;
pub const DEFAULT_SAMPLE_INTERVAL: SimDuration = SimDuration::from_secs(15);
pub const DEFAULT_METRIC_RESOLUTION: SimDuration = SimDuration::from_secs(15);
/// A new node's time from request to Ready when the pool does not say (a typical VM boot and
/// kubelet registration).
pub const DEFAULT_PROVISIONING_TIME: SimDuration = SimDuration::from_secs(60);
/// Launch to Ready of a Karpenter node: "about 30-40 s" by a maintainer's account
/// (aws/karpenter-provider-aws#6165), 45–80 s in users' reports (#6128, #3102).
pub const DEFAULT_KARPENTER_PROVISIONING_TIME: SimDuration = SimDuration::from_secs(45);
/// kubelet's default `--max-pods`.
pub const DEFAULT_MAX_PODS: i64 = 110;
/// The region whose prices catalogued instance types take when the cluster names none.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Command-line adjustments applied before validation.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Overrides `spec.seed`.
    pub seed: Option<u64>,
    /// `PATH=VALUE` assignments into the scenario document (`spec.` may be omitted).
    pub overrides: Vec<String>,
}

/// Loads and validates a scenario file. On failure, returns every diagnostic (errors first per
/// position); on success the scenario carries the warnings.
pub fn load_scenario(path: &Path, options: &LoadOptions) -> Result<Scenario, Vec<Diagnostic>> {
    let file = path.display().to_string();
    let mut diags = Vec::new();
    let result = load_inner(path, &file, options, &mut diags);
    overrides::attribute(&mut diags, &options.overrides);
    diag::sort(&mut diags);
    match result {
        Some(mut scenario) if !diags.iter().any(Diagnostic::is_error) => {
            scenario.warnings = diags;
            Ok(scenario)
        }
        _ => Err(diags),
    }
}

/// Validates one file without running: a scenario fully, anything else as manifests.
pub fn validate_file(path: &Path) -> Vec<Diagnostic> {
    validate_files(&[path.to_path_buf()], false).diagnostics
}

/// What [`validate_files`] found.
pub struct Validated {
    /// Every error, warning and note found, sorted (see [`diag::sort`]) without duplicates.
    pub diagnostics: Vec<Diagnostic>,
    /// The files read (folders expanded).
    pub files: usize,
}

/// Validates what `kubesim validate` is given, without running: each scenario on its own, and
/// every other file — folders expanded (their subfolders too when `recursive`), `-` read from
/// standard input — together as one manifest set, so that an object in one file may refer to
/// an object in another.
pub fn validate_files(paths: &[PathBuf], recursive: bool) -> Validated {
    let mut diags = Vec::new();
    let mut manifests: Vec<(String, String)> = Vec::new();
    let mut files = 0;
    for path in paths {
        let expanded = manifest_files::manifest_paths(path, recursive)
            .map_err(|e| diags.push(Diagnostic::error(&path.display().to_string(), None, "", e)));
        for file in expanded.unwrap_or_default() {
            files += 1;
            let name = manifest_files::display_name(&file);
            let text = match manifest_files::is_stdin(&file) {
                true => manifest_files::read_manifest_text(&file)
                    .map_err(|e| format!("standard input cannot be read: {e}")),
                false => read_argument(&file, "FILE"),
            };
            match text {
                Ok(text) if holds_scenario(&text) => diags.extend(validate_scenario(&file)),
                Ok(text) => manifests.push((name, text)),
                Err(e) => diags.push(Diagnostic::error(&name, None, "", e)),
            }
        }
    }
    if !manifests.is_empty() {
        diags.extend(validate_manifest_set(&manifests));
    }
    diag::sort(&mut diags);
    diags.dedup();
    Validated {
        diagnostics: diags,
        files,
    }
}

fn holds_scenario(text: &str) -> bool {
    parse_documents(text).is_ok_and(|docs| {
        docs.iter()
            .any(|d| d.get("kind").and_then(Node::as_str) == Some("Scenario"))
    })
}

fn validate_scenario(file: &Path) -> Vec<Diagnostic> {
    if manifest_files::is_stdin(file) {
        let message = "a scenario must be a file: its manifests and traces are found beside it";
        return vec![Diagnostic::error(
            manifest_files::STDIN_NAME,
            None,
            "",
            message,
        )];
    }
    match load_scenario(file, &LoadOptions::default()) {
        Ok(s) => s.warnings,
        Err(d) => d,
    }
}

/// Manifest files (name, text) checked as one set: every object read, and what refers to
/// another object — an HPA to its target — resolved across the files.
fn validate_manifest_set(files: &[(String, String)]) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut set = ManifestSet::default();
    for (name, text) in files {
        manifest::add_text(&mut set, name, text, &mut diags);
    }
    diags.extend(set.skipped_notes());
    super::namespaces::check(&set, &mut diags);
    super::limit_range::admit(&mut set, &mut diags);
    super::config_refs::check(&mut set, &Default::default(), &mut diags);
    let deployments = convert_deployments(&set, &mut diags);
    for hpa in &set.hpas {
        manifest::hpa_spec(hpa, &deployments, set.incomplete, &mut diags);
    }
    diags
}

fn load_inner(
    path: &Path,
    file: &str,
    options: &LoadOptions,
    diags: &mut Vec<Diagnostic>,
) -> Option<Scenario> {
    let text = read_argument(path, "SCENARIO")
        .map_err(|e| diags.push(Diagnostic::error(file, None, "", e)))
        .ok()?;
    let docs = parse_documents(&text)
        .map_err(|e| {
            diags.push(Diagnostic::error(
                file,
                e.position,
                "",
                format!("invalid YAML: {}", e.message),
            ))
        })
        .ok()?;
    let (mut scenario_node, mut inline) = split_scenario_document(docs, file, diags)?;
    let mut object_overrides = apply_overrides(&mut scenario_node, &options.overrides, diags);
    let source = Source::new(file.to_string(), scenario_node);
    let (mut raw, reported) = decode_scenario(&source, diags)?;
    check_header(&raw, &source, diags);
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut set = ManifestSet::default();
    let spec = raw.spec.clone().unwrap_or_default();
    let mut manifests = ManifestReader {
        set: &mut set,
        overrides: &mut object_overrides,
        diags,
    };
    manifests.read_files(&spec.manifests, &base_dir, &source);
    manifests.add(file, &mut inline);
    diags.extend(set.skipped_notes());
    for (index, e) in object_overrides.unmatched() {
        diags.push(overrides::error(index, e));
    }
    super::namespaces::check(&set, diags);
    super::limit_range::admit(&mut set, diags);
    let mut builder = Builder {
        source: &source,
        base_dir,
        diags,
        reported,
        incomplete: false,
        invalid_llm: BTreeSet::new(),
    };
    let scenario = builder.build(&mut raw, &set, path, options);
    super::config_refs::check(&mut set, &scenario.applied_configs(), diags);
    Some(scenario)
}

/// Reads a file named on the command line (the `argument`), saying what is wrong in its terms:
/// missing, a directory (with the scenario file in it, if there is one), or unreadable.
fn read_argument(path: &Path, argument: &str) -> Result<String, String> {
    if path.is_dir() {
        let inside = path.join("scenario.yaml");
        let hint = match inside.is_file() {
            true => format!("; did you mean {}?", inside.display()),
            false => String::new(),
        };
        return Err(format!(
            "the {argument} argument is a directory; name a file{hint}"
        ));
    }
    super::read::read_text(path, super::read::MAX_INPUT_BYTES).map_err(|e| match e {
        e if e.is_not_found() => format!("the {argument} argument names no file"),
        e => format!("the {argument} argument cannot be read: {e}"),
    })
}

/// Finds the `kind: Scenario` document; the other documents are inline manifests.
fn split_scenario_document(
    docs: Vec<Node>,
    file: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<(Node, Vec<Node>)> {
    let index = docs
        .iter()
        .position(|d| d.get("kind").and_then(Node::as_str) == Some("Scenario"));
    let Some(index) = index else {
        let position = docs.first().map(|d| d.position);
        diags.push(Diagnostic::error(file, position, "kind", "no `kind: Scenario` document in this file (is it a manifest? use `kubesim validate` for manifests)"));
        return None;
    };
    let mut docs = docs;
    let scenario = docs.remove(index);
    if let Some(second) = docs
        .iter()
        .find(|d| d.get("kind").and_then(Node::as_str) == Some("Scenario"))
    {
        diags.push(Diagnostic::error(
            file,
            Some(second.position),
            "kind",
            "a second `kind: Scenario` document: a file holds one scenario (put the other in its own file)",
        ));
        return None;
    }
    Some((scenario, docs))
}

/// Applies the scenario `--set`s to the scenario document; returns the object ones, to apply
/// to the manifests as they are read.
fn apply_overrides(
    root: &mut Node,
    assignments: &[String],
    diags: &mut Vec<Diagnostic>,
) -> ObjectOverrides {
    let mut objects = Vec::new();
    for (index, assignment) in assignments.iter().enumerate() {
        let applied = match overrides::parse(assignment) {
            Ok(Override::Scenario { path, value }) => {
                root.replace(&path, overrides::node_of(value, index))
            }
            Ok(Override::Object(o)) => {
                objects.push(ObjectOverride { index, ..o });
                Ok(())
            }
            Err(e) => Err(e),
        };
        if let Err(e) = applied {
            diags.push(overrides::error(index, e));
        }
    }
    ObjectOverrides::new(objects)
}

/// Reads manifests into the set, with the object `--set`s applied to each document first.
struct ManifestReader<'a> {
    set: &'a mut ManifestSet,
    overrides: &'a mut ObjectOverrides,
    diags: &'a mut Vec<Diagnostic>,
}

impl ManifestReader<'_> {
    /// Reads `spec.manifests`: files, folders (recursively) and `-` (standard input).
    fn read_files(&mut self, paths: &[String], base_dir: &Path, source: &Source) {
        for (i, rel) in paths.iter().enumerate() {
            let at = format!("spec.manifests[{i}]");
            let entry = match rel.as_str() {
                "-" => PathBuf::from("-"),
                _ => base_dir.join(rel),
            };
            let files = match manifest_files::manifest_paths(&entry, true) {
                Ok(files) => files,
                Err(e) => {
                    self.diags.push(source.error(&at, e));
                    self.set.incomplete = true; // what refers to its objects is not checked
                    continue;
                }
            };
            for full in files {
                let file = manifest_files::display_name(&full);
                match manifest_files::read_manifest_text(&full) {
                    Ok(text) => self.add_text(&file, &text),
                    Err(e) => {
                        let message = match e.is_not_found() {
                            true => format!("there is no file {file}"),
                            false => format!("cannot read {file}: {e}"),
                        };
                        self.diags.push(source.error(&at, message));
                        self.set.incomplete = true;
                    }
                }
            }
        }
    }

    fn add_text(&mut self, file: &str, text: &str) {
        if let Some(mut docs) = manifest::parse_text(self.set, file, text, self.diags) {
            self.add(file, &mut docs);
        }
    }

    fn add(&mut self, file: &str, docs: &mut Vec<Node>) {
        for (index, e) in self.overrides.apply(docs) {
            self.diags.push(overrides::error(index, e));
        }
        manifest::add_documents(self.set, file, std::mem::take(docs), self.diags);
    }
}

/// Decodes the scenario document, reporting every type error and unknown field. Returns the
/// paths whose values were wrong (they were replaced by null to keep going) beside the result.
fn decode_scenario(
    source: &Source,
    diags: &mut Vec<Diagnostic>,
) -> Option<(RawScenario, BTreeSet<String>)> {
    let (raw, unknown, errors) = decode_all::<RawScenario>(&source.node, "");
    for u in &unknown {
        diags.push(Diagnostic::error(
            &source.file,
            Some(u.position),
            &u.path,
            scenario_unknown_field(u),
        ));
    }
    diags.extend(errors.iter().map(|e| e.diagnostic(&source.file)));
    Some((raw?, errors.into_iter().map(|e| e.path).collect()))
}

/// An unknown field of the scenario: a kubelet setting written on its pool is shown its place.
fn scenario_unknown_field(u: &super::de::UnknownField) -> String {
    let kubelet = ["cpuCFSQuota", "cpuCFSQuotaPeriod"];
    if kubelet.contains(&u.name.as_str()) && u.path.contains("nodePools[") {
        let name = &u.name;
        return format!(
            "unknown field {name:?}: a kubelet setting, which goes under the pool's kubelet (kubelet: {{{name}: …}})"
        );
    }
    unknown_field_message(u)
}

/// 2026-01-05T00:00:00Z, a Monday: t = 0 when `spec.startTime` is not given.
const DEFAULT_START_SECONDS: i64 = 1_767_571_200;

fn check_header(raw: &RawScenario, source: &Source, diags: &mut Vec<Diagnostic>) {
    if raw.api_version.as_deref() != Some(API_VERSION) {
        diags.push(source.error("apiVersion", format!("must be {API_VERSION}")));
    }
    if raw.spec.is_none() {
        diags.push(source.error("spec", "a Scenario needs a spec"));
    }
}

/// Converts every Deployment, reporting duplicates.
fn convert_deployments(set: &ManifestSet, diags: &mut Vec<Diagnostic>) -> Vec<DeploymentSpec> {
    let classes = super::priority::priority_classes(set, diags);
    let mut out: Vec<DeploymentSpec> = Vec::new();
    for m in &set.deployments {
        let Some(mut spec) = manifest::deployment_spec(m, diags) else {
            continue;
        };
        resolve_priority(&classes, m, &mut spec.pod, diags);
        if out
            .iter()
            .any(|d| d.name == spec.name && d.namespace == spec.namespace)
        {
            diags.push(m.source.error(
                "metadata.name",
                format!("Deployment {:?} is defined twice", spec.name),
            ));
            continue;
        }
        out.push(spec);
    }
    for m in &set.stateful_sets {
        if let Some(spec) = manifest::stateful_set_spec(m, diags) {
            push_workload(&mut out, spec, m, &classes, diags);
        }
    }
    for m in &set.daemon_sets {
        if let Some(spec) = manifest::daemon_set_spec(m, diags) {
            push_workload(&mut out, spec, m, &classes, diags);
        }
    }
    for m in &set.jobs {
        if let Some(spec) = super::job::job_spec(m, diags) {
            push_workload(&mut out, spec, m, &classes, diags);
        }
    }
    for m in &set.cron_jobs {
        if let Some(spec) = super::job::cron_job_spec(m, diags) {
            push_workload(&mut out, spec, m, &classes, diags);
        }
    }
    for m in &set.replication_controllers {
        if let Some(spec) = super::bare::replication_controller_spec(m, diags) {
            push_workload(&mut out, spec, m, &classes, diags);
        }
    }
    for m in &set.pods {
        if let Some(spec) = super::bare::bare_pod_spec(m, diags) {
            push_workload(&mut out, spec, m, &classes, diags);
        }
    }
    out
}

/// Adds a StatefulSet or DaemonSet unless a workload of its name exists in its namespace.
fn push_workload<T>(
    out: &mut Vec<DeploymentSpec>,
    mut spec: DeploymentSpec,
    m: &manifest::Manifest<T>,
    classes: &[super::priority::PriorityClassSpec],
    diags: &mut Vec<Diagnostic>,
) {
    if out
        .iter()
        .any(|d| d.name == spec.name && d.namespace == spec.namespace)
    {
        diags.push(m.source.error(
            "metadata.name",
            format!(
                "{:?} is already the name of a workload in this namespace: kubesim reports workloads by name",
                spec.name
            ),
        ));
        return;
    }
    resolve_priority(classes, m, &mut spec.pod, diags);
    out.push(spec);
}

/// Sets the pod's priority from its PriorityClass, as admission does.
pub(super) fn resolve_priority<T>(
    classes: &[super::priority::PriorityClassSpec],
    m: &manifest::Manifest<T>,
    pod: &mut crate::scenario::PodTemplate,
    diags: &mut Vec<Diagnostic>,
) {
    match super::priority::resolve(
        classes,
        pod.priority_class_name.as_deref(),
        pod.preemption_policy.as_deref(),
    ) {
        Ok((priority, never)) => (pod.priority, pod.never_preempts) = (priority, never),
        Err(e) => diags.push(m.source.error("spec.template.spec.priorityClassName", e)),
    }
}

/// A number as a person would write it: plain, or in exponent form when very large or small.
pub(crate) fn shown_number(x: f64) -> String {
    if x == 0.0 || (1e-4..1e6).contains(&x.abs()) {
        return format!("{x}");
    }
    // Three significant digits, as 1.67e28 (1e308, not 1.00e308).
    let text = format!("{x:.2e}");
    match text.split_once('e') {
        Some((mantissa, exponent)) => {
            let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
            format!("{mantissa}e{exponent}")
        }
        None => text,
    }
}

/// Requests kubesim simulates per second of wall time on a small scenario (for estimates).
const REQUESTS_PER_WALL_SEC: f64 = 6e6;

/// Most rows of timeseries.csv (run duration / sample interval).
const MAX_SAMPLES: u64 = 10_000_000;
/// Shortest mean time between a node's failures.
const MIN_MTBF: SimDuration = SimDuration::from_secs(60);

/// Most nodes a pool may have.
const MAX_NODES_PER_POOL: u32 = 100_000;
/// Highest node price accepted (USD per hour).
const MAX_PRICE_PER_HOUR: f64 = 1e6;
/// Highest arrival rate of one Service (requests per second).
const MAX_RATE_PER_SEC: f64 = 1e7;

/// The largest log-normal coefficient of variation accepted.
const MAX_CV: f64 = 100.0;

/// Resolves a reference `name` or `namespace/name` against (namespace, name) pairs.
pub(super) fn resolve<'a>(
    reference: &str,
    items: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    what: &str,
) -> Result<usize, String> {
    let (ns, name) = match reference.split_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, reference),
    };
    let matches: Vec<usize> = items
        .clone()
        .enumerate()
        .filter(|(_, (ins, iname))| *iname == name && ns.is_none_or(|n| n == *ins))
        .map(|(i, _)| i)
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => {
            let names: Vec<&str> = items.map(|(_, n)| n).collect();
            let hint = did_you_mean_hint(name, names.iter().copied());
            Err(format!(
                "no {what} named {reference:?} in the manifests{hint}"
            ))
        }
        _ => Err(format!(
            "{what} {reference:?} exists in several namespaces: write namespace/name"
        )),
    }
}

struct Builder<'a> {
    source: &'a Source,
    base_dir: PathBuf,
    diags: &'a mut Vec<Diagnostic>,
    /// Paths already reported as wrongly typed: no second error for them.
    reported: BTreeSet<String>,
    /// Some manifest could not be read (see [`ManifestSet::incomplete`]).
    incomplete: bool,
    /// Deployments whose `llm` block has errors: still LLM servers to the checks that follow,
    /// so that one mistake is reported once.
    invalid_llm: BTreeSet<usize>,
}

impl Builder<'_> {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        if self.reported.contains(path) {
            return;
        }
        let d = self.source.error(path, message);
        self.diags.push(d);
    }

    /// A reference to an object missing from the manifests; not reported when some manifest
    /// could not be read (that error already explains it).
    fn reference_error(&mut self, path: &str, message: String) {
        if !self.incomplete {
            self.error(path, message);
        }
    }

    fn error_count(&self) -> usize {
        self.diags.iter().filter(|d| d.is_error()).count()
    }

    fn warning(&mut self, path: &str, message: impl Into<String>) {
        let d = self.source.warning(path, message);
        self.diags.push(d);
    }

    fn build(
        &mut self,
        raw: &mut RawScenario,
        set: &ManifestSet,
        path: &Path,
        options: &LoadOptions,
    ) -> Scenario {
        self.incomplete = set.incomplete;
        let mut spec = raw.spec.clone().unwrap_or_default();
        let name = self.scenario_name(raw, path);
        let duration = match spec.duration {
            Some(Duration(d)) if !d.is_zero() => d,
            Some(_) => {
                self.error("spec.duration", "must be greater than 0");
                SimDuration::from_secs(1)
            }
            None => {
                self.error("spec.duration", "required: how long to simulate, e.g. 2h");
                SimDuration::from_secs(1)
            }
        };
        let seed = options.seed.or(spec.seed).unwrap_or(1);
        let sample_interval = self.sample_interval(spec.sample_interval, duration);
        let start_time = self.start_time(spec.start_time.as_deref());
        let mut node_pools =
            self.node_pools(spec.cluster.as_ref(), !set.karpenter_node_pools.is_empty());
        let region = (spec.cluster.as_ref().and_then(|c| c.region.clone()))
            .unwrap_or_else(|| DEFAULT_REGION.to_string());
        let karpenter = self.karpenter(
            spec.karpenter.as_ref(),
            set,
            &spec.events,
            (&region, start_time, duration),
            &mut node_pools,
        );
        let network = self.network(spec.network.as_ref(), &node_pools);
        let mut deployments = convert_deployments(set, self.diags);
        let mut services = self.services(set, &deployments);
        let hpas = self.hpas(set, &deployments);
        self.workloads(&spec.workloads, &mut deployments, &services);
        self.mesh(spec.mesh.as_ref(), set, &mut deployments);
        let mut pod_traces = super::bare::bare_pod_traces(set, &deployments);
        pod_traces.extend(self.pod_traces(&spec.pod_traces, &mut deployments, duration));
        let cron_jobs = super::job::cron_times(set, &deployments, start_time, duration, self.diags);
        let hpas = self.resolve_pod_metrics(hpas, &deployments, set);
        self.check_resource_metrics(&hpas, &deployments, set);
        let metric_series = self.metric_series(&spec.external_metrics, duration);
        let hpas = self.resolve_series(hpas, &metric_series, &deployments, set);
        self.warn_keda_never_wakes(&hpas, set);
        let vpas = super::vpa::vpa_specs(set, &deployments, self.diags);
        self.check_mixed_llm_backends(&services, &deployments, set);
        self.traffic(&spec.traffic, set, &mut services, &deployments, duration);
        let max_events = spec.max_events.unwrap_or(DEFAULT_MAX_EVENTS);
        self.check_request_work(&services, duration, max_events);
        self.warn_unfittable(&deployments, &node_pools);
        let slos = self.slos(&spec.slos, &services, &deployments);
        let events = self.events(
            &spec.events,
            &events::EventContext {
                pools: &node_pools,
                deployments: &deployments,
                services: &services,
                manifests: set,
                hpas: &hpas,
                metric_series: &metric_series,
                duration,
                autoscaler: spec.cluster_autoscaler.is_some(),
                karpenter: karpenter.as_ref().map(|k| events::KarpenterContext {
                    node_pools: &k.node_pools,
                    region: &region,
                    start: start_time,
                }),
            },
        );
        let scheduler_profiles =
            self.scheduler_profiles(spec.scheduler_config.as_deref(), set, &deployments);
        let hpa_settings = self.hpa_settings(spec.controller_manager.as_ref());
        let cluster_autoscaler = super::autoscaler_config::settings(
            spec.cluster_autoscaler.as_ref(),
            self.source,
            self.diags,
        );
        let metric_resolution = self.metric_resolution(spec.metrics_server.as_ref());
        let image_sizes = self.image_sizes(&spec.image_sizes);
        let pdbs = super::pdb::pdbs(set, self.diags);
        // Record the effective values so scenario.resolved.yaml shows what ran.
        spec.duration = Some(Duration(duration));
        spec.seed = Some(seed);
        spec.start_warm = Some(spec.start_warm.unwrap_or(true));
        spec.sample_interval = Some(Duration(sample_interval));
        spec.max_events = Some(spec.max_events.unwrap_or(DEFAULT_MAX_EVENTS));
        spec.metrics_server = Some(RawMetricsServer {
            metric_resolution: Some(Duration(metric_resolution)),
        });
        spec.controller_manager = Some(resolved_controller_manager(&hpa_settings));
        if let Some(ca) = &cluster_autoscaler {
            spec.cluster_autoscaler = Some(super::autoscaler_config::resolved(ca));
        }
        raw.metadata.get_or_insert_with(RawMetadata::default).name = Some(name.clone());
        raw.spec = Some(spec.clone());
        Scenario {
            name,
            description: raw.metadata.as_ref().and_then(|m| m.description.clone()),
            file: path.to_path_buf(),
            duration,
            seed,
            start_warm: spec.start_warm.unwrap_or(true),
            sample_interval,
            max_events: spec.max_events.unwrap_or(DEFAULT_MAX_EVENTS),
            node_pools,
            pdbs,
            image_sizes,
            deployments,
            services,
            hpas,
            pod_traces,
            cron_jobs,
            start_time,
            quotas: super::quota::quotas(set, self.diags),
            config_objects: super::config_refs::ConfigObjects::of_manifests(set),
            hpa_settings,
            network,
            metric_resolution,
            metric_series,
            slos,
            events,
            cluster_autoscaler,
            karpenter,
            vpas,
            scheduler_profiles,
            warnings: Vec::new(),
            resolved_yaml: serde_saphyr::to_string(&*raw).unwrap_or_default(),
        }
    }

    /// `metadata.name`, else the folder name for `…/<name>/scenario.yaml`, else the file stem.
    fn scenario_name(&mut self, raw: &RawScenario, path: &Path) -> String {
        if let Some(name) = raw.metadata.as_ref().and_then(|m| m.name.clone()) {
            if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
                self.error(
                    "metadata.name",
                    format!("{name:?} must be a simple name (it names the output folder)"),
                );
            }
            return name;
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("scenario");
        let folder = path
            .parent()
            .and_then(Path::file_name)
            .and_then(|s| s.to_str());
        match folder {
            Some(f) if stem == "scenario" && !f.is_empty() => f.to_string(),
            _ => stem.to_string(),
        }
    }

    fn positive_duration(
        &mut self,
        value: Option<Duration>,
        path: &str,
        default: SimDuration,
    ) -> SimDuration {
        match value {
            None => default,
            Some(Duration(d)) if d.is_zero() => {
                self.error(path, "must be greater than 0");
                default
            }
            Some(Duration(d)) => d,
        }
    }

    /// A period of a periodic loop: at least `min` (shorter ones only multiply events: a
    /// microsecond sample interval or sync period would run for hours).
    fn period_at_least(
        &mut self,
        value: Option<Duration>,
        path: &str,
        min: SimDuration,
        default: SimDuration,
    ) -> SimDuration {
        match value {
            None => default,
            Some(Duration(d)) if d < min => {
                self.error(path, format!("{d} is too short: at least {min}"));
                default
            }
            Some(Duration(d)) => d,
        }
    }

    /// `spec.sampleInterval`: at least 1 s, and at most [`MAX_SAMPLES`] rows over the run.
    fn sample_interval(&mut self, value: Option<Duration>, duration: SimDuration) -> SimDuration {
        let path = "spec.sampleInterval";
        let interval = self.period_at_least(
            value,
            path,
            SimDuration::from_secs(1),
            DEFAULT_SAMPLE_INTERVAL,
        );
        let rows = duration.as_micros() / interval.as_micros().max(1);
        if rows > MAX_SAMPLES {
            self.error(
                path,
                format!("{duration} at {interval} intervals is {rows} rows of timeseries.csv: at most {MAX_SAMPLES}; use a longer sampleInterval"),
            );
        }
        interval
    }

    /// The scenario's node pools (none are needed when Karpenter has NodePools).
    fn node_pools(&mut self, cluster: Option<&RawCluster>, karpenter: bool) -> Vec<NodePoolSpec> {
        let pools = cluster.map(|c| c.node_pools.clone()).unwrap_or_default();
        let region = cluster.and_then(|c| c.region.clone());
        let region = region.as_deref().unwrap_or(DEFAULT_REGION);
        let from_trace = self.nodes_from(cluster.and_then(|c| c.nodes_from.as_ref()));
        if pools.is_empty() && from_trace.is_empty() && !karpenter {
            self.error(
                "spec.cluster.nodePools",
                "at least one node pool is required (or Karpenter NodePools in the manifests)",
            );
        }
        let mut names = BTreeSet::new();
        pools
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let spec = self.node_pool(i, p, region)?;
                if !names.insert(spec.name.clone()) {
                    self.error(
                        &format!("spec.cluster.nodePools[{i}].name"),
                        format!("node pool {:?} is defined twice", spec.name),
                    );
                }
                Some(spec)
            })
            .collect::<Vec<_>>()
            .into_iter()
            .chain(from_trace)
            .collect()
    }

    fn node_pool(&mut self, i: usize, p: &RawNodePool, region: &str) -> Option<NodePoolSpec> {
        let path = format!("spec.cluster.nodePools[{i}]");
        let name = p.name.clone().unwrap_or_else(|| {
            self.error(&format!("{path}.name"), "required");
            String::new()
        });
        let count = p.count.unwrap_or_else(|| {
            self.error(
                &format!("{path}.count"),
                "required: the number of nodes at the start",
            );
            0
        });
        let (allocatable, max_pods, price) = self.pool_shape(&path, p, region);
        let capacity_type = match p.capacity_type.as_deref() {
            None | Some("on-demand") => CapacityType::OnDemand,
            Some("spot") => CapacityType::Spot,
            Some(other) => {
                self.error(
                    &format!("{path}.capacityType"),
                    format!("unknown capacity type {other:?}: use on-demand or spot"),
                );
                CapacityType::OnDemand
            }
        };
        let spot_price = p
            .spot_price_per_hour
            .map(|v| self.price(&format!("{path}.spotPricePerHour"), Some(v)));
        if capacity_type == CapacityType::Spot && spot_price.is_none() {
            self.error(
                &format!("{path}.spotPricePerHour"),
                "required with capacityType: spot (USD per node-hour)",
            );
        }
        let min_count = p.min_count.unwrap_or(count);
        let max_count = p.max_count.unwrap_or(count.max(min_count));
        let stated_max = p.max_count.map(|m| ("maxCount", m));
        for (field, n) in [("count", count)].into_iter().chain(stated_max) {
            if n > MAX_NODES_PER_POOL {
                self.error(
                    &format!("{path}.{field}"),
                    format!("{n} nodes is beyond what one simulation holds: at most {MAX_NODES_PER_POOL} per pool"),
                );
            }
        }
        let (count, max_count) = (
            count.min(MAX_NODES_PER_POOL),
            max_count.min(MAX_NODES_PER_POOL),
        );
        let min_count = min_count.min(max_count);
        if min_count > max_count {
            self.error(
                &format!("{path}.minCount"),
                format!("minCount {min_count} is above maxCount {max_count}"),
            );
        } else if !(min_count..=max_count).contains(&count) {
            self.error(
                &format!("{path}.count"),
                format!("the initial count {count} must lie within minCount {min_count} … maxCount {max_count}"),
            );
        }
        let provisioning_time = p
            .provisioning_time
            .as_ref()
            .map_or(DurationDist::Constant(DEFAULT_PROVISIONING_TIME), |d| {
                self.distribution(&format!("{path}.provisioningTime"), d)
            });
        for (z, zone) in p.zones.iter().enumerate() {
            if zone.is_empty() || p.zones[..z].contains(zone) {
                self.error(
                    &format!("{path}.zones[{z}]"),
                    "zones must be non-empty and distinct",
                );
            }
        }
        let taints = self.taints(&path, &p.taints);
        let failures = p
            .failures
            .as_ref()
            .and_then(|f| self.node_failures(&format!("{path}.failures"), f));
        let spot_interruption_mtbi = match (p.spot_interruption_mtbi, capacity_type) {
            (None, _) => None,
            (Some(Duration(d)), CapacityType::Spot) if !d.is_zero() => Some(d),
            (Some(_), CapacityType::Spot) => {
                self.error(
                    &format!("{path}.spotInterruptionMTBI"),
                    "must be greater than 0",
                );
                None
            }
            (Some(_), _) => {
                self.error(
                    &format!("{path}.spotInterruptionMTBI"),
                    "only spot pools are interrupted (capacityType: spot)",
                );
                None
            }
        };
        let image_pull_bandwidth = p.image_pull_bandwidth.as_ref().and_then(|q| {
            let field = format!("{path}.imagePullBandwidth");
            match crate::cluster::quantity::Quantity::parse(&q.as_text()) {
                Ok(v) if v.value() > 0 => Some(v.value()),
                Ok(_) => {
                    self.error(
                        &field,
                        "must be greater than 0 (bytes per second, e.g. 100Mi)",
                    );
                    None
                }
                Err(e) => {
                    self.error(&field, e.to_string());
                    None
                }
            }
        });
        Some(NodePoolSpec {
            name,
            instance_type: p.instance_type.clone(),
            count,
            allocatable,
            max_pods,
            labels: p.labels.clone(),
            annotations: p.annotations.clone(),
            taints,
            price_usd_per_hour: price,
            capacity_type,
            spot_price_usd_per_hour: spot_price,
            min_count,
            max_count,
            provisioning_time,
            zones: p.zones.clone(),
            failures,
            spot_interruption_mtbi,
            image_pull_bandwidth,
            kubelet: p
                .kubelet
                .as_ref()
                .map_or_else(KubeletCpu::default, |k| self.kubelet(&path, k)),
            karpenter: None,
        })
    }

    /// A pool's `kubelet` settings: the CFS period within what the kubelet accepts (1 ms to
    /// 1 s, `CustomCPUCFSQuotaPeriod`).
    fn kubelet(&mut self, pool: &str, raw: &RawKubelet) -> KubeletCpu {
        let mut kubelet = KubeletCpu {
            cfs_quota: raw.cpu_cfs_quota.unwrap_or(true),
            ..KubeletCpu::default()
        };
        if let Some(Duration(period)) = raw.cpu_cfs_quota_period {
            if (MIN_CFS_PERIOD..=MAX_CFS_PERIOD).contains(&period) {
                kubelet.cfs_quota_period = period;
            } else {
                self.error(
                    &format!("{pool}.kubelet.cpuCFSQuotaPeriod"),
                    format!("{period} is outside 1ms to 1s, the periods the kubelet accepts"),
                );
            }
        }
        kubelet
    }

    /// A pool's `failures`: both fields required, the MTBF above zero.
    fn node_failures(&mut self, path: &str, raw: &RawNodeFailures) -> Option<NodeFailures> {
        let mtbf = match raw.mtbf {
            Some(Duration(d)) if d >= MIN_MTBF => Some(d),
            Some(Duration(d)) => {
                self.error(
                    &format!("{path}.mtbf"),
                    format!(
                        "{d} is too short for a mean time between failures: at least {MIN_MTBF}"
                    ),
                );
                None
            }
            None => {
                self.error(
                    &format!("{path}.mtbf"),
                    "required: the mean time between a node's failures, e.g. 720h",
                );
                None
            }
        };
        let repair_time = match raw.repair_time.as_ref() {
            Some(d) => Some(self.distribution(&format!("{path}.repairTime"), d)),
            None => {
                self.error(
                    &format!("{path}.repairTime"),
                    "required: how long a failed node stays down, e.g. 30m or {exponential: {mean: 30m}}",
                );
                None
            }
        };
        Some(NodeFailures {
            mtbf: mtbf?,
            repair_time: repair_time?,
        })
    }

    /// A price in USD per hour: finite and ≥ 0 (absent: 0).
    fn price(&mut self, path: &str, value: Option<f64>) -> f64 {
        let v = value.unwrap_or(0.0);
        if !v.is_finite() || !(0.0..=MAX_PRICE_PER_HOUR).contains(&v) {
            self.error(
                path,
                format!(
                    "{} is not a price: USD per node-hour, between 0 and {MAX_PRICE_PER_HOUR}",
                    shown_number(v)
                ),
            );
            return 0.0;
        }
        v
    }

    /// The pool's allocatable, max pods and price: as given, or from the instance catalogue
    /// for an `instanceType` without `allocatable`/`capacity` (and without `pricePerHour`:
    /// the on-demand price in `region`).
    fn pool_shape(&mut self, path: &str, p: &RawNodePool, region: &str) -> (Resources, i64, f64) {
        let catalogue = crate::spec::instances::aws();
        let known = p
            .instance_type
            .as_deref()
            .and_then(|t| catalogue.instance_types.get(t));
        let needs_shape = p.allocatable.is_empty() && p.capacity.is_empty();
        let (allocatable, max_pods) = match (&p.instance_type, known, needs_shape) {
            (Some(_), Some(t), true) => t.allocatable(),
            (Some(name), None, true) => {
                let hint =
                    did_you_mean_hint(name, catalogue.instance_types.keys().map(String::as_str));
                self.error(
                    &format!("{path}.instanceType"),
                    format!("{name:?} is not in the instance catalogue{hint}: give allocatable (or capacity) and pricePerHour, or one of the {} catalogued types (docs/scenario.md)", catalogue.instance_types.len()),
                );
                (Resources::default(), DEFAULT_MAX_PODS)
            }
            _ => self.pool_allocatable(path, p),
        };
        let price = match (p.price_per_hour, known) {
            (None, Some(t)) => match t.on_demand_price_per_hour.get(region) {
                Some(&usd) => usd,
                None => {
                    let regions: Vec<&str> = t
                        .on_demand_price_per_hour
                        .keys()
                        .map(String::as_str)
                        .collect();
                    self.error(
                        &format!("{path}.pricePerHour"),
                        format!("the catalogue has no price for {} in {region} (it has {}): give pricePerHour", p.instance_type.as_deref().unwrap_or_default(), regions.join(", ")),
                    );
                    0.0
                }
            },
            _ => self.price(&format!("{path}.pricePerHour"), p.price_per_hour),
        };
        (allocatable, max_pods, price)
    }

    /// The pool's allocatable and max pods: `allocatable` as given, or `capacity` less
    /// `systemReserved`.
    fn pool_allocatable(&mut self, path: &str, p: &RawNodePool) -> (Resources, i64) {
        let from_capacity = !p.capacity.is_empty();
        if from_capacity && !p.allocatable.is_empty() {
            self.error(
                &format!("{path}.capacity"),
                "give either allocatable or capacity (with systemReserved), not both",
            );
        }
        if !from_capacity && !p.system_reserved.is_empty() {
            self.error(
                &format!("{path}.systemReserved"),
                "only with capacity: allocatable already excludes what the system reserves",
            );
        }
        let (field, given) = if from_capacity {
            ("capacity", &p.capacity)
        } else {
            ("allocatable", &p.allocatable)
        };
        let (mut amounts, max_pods) = self.resource_map(&format!("{path}.{field}"), given);
        for required in [resources::CPU, resources::MEMORY] {
            if !given.contains_key(required) {
                self.error(
                    &format!("{path}.{field}"),
                    format!("{required} is required (e.g. cpu: \"4\", memory: 16Gi)"),
                );
            }
        }
        if from_capacity {
            let rpath = format!("{path}.systemReserved");
            let (reserved, _) = self.resource_map(&rpath, &p.system_reserved);
            for name in reserved.nonzero_names() {
                let left = amounts.get(name) - reserved.get(name);
                if left < 0 {
                    self.error(
                        &format!("{rpath}.{name}"),
                        "reserves more than the node's capacity",
                    );
                }
                amounts.set(name, left.max(0));
            }
        }
        (amounts, max_pods.unwrap_or(DEFAULT_MAX_PODS))
    }

    /// Parses a `resource: quantity` map; `pods` is returned separately.
    fn resource_map(
        &mut self,
        path: &str,
        given: &BTreeMap<String, RawQuantity>,
    ) -> (Resources, Option<i64>) {
        let mut amounts = Resources::default();
        let mut pods = None;
        for (resource, q) in given {
            let mut errors = Vec::new();
            if let Some(v) = manifest::resource_amount(resource, &q.as_text(), |m| errors.push(m)) {
                if resource == resources::PODS {
                    pods = Some(v)
                } else {
                    amounts.set(resource, v)
                }
            }
            for e in errors {
                self.error(&format!("{path}.{resource}"), e);
            }
        }
        (amounts, pods)
    }

    /// `spec.imageSizes`: bytes by normalized image name.
    fn image_sizes(&mut self, given: &BTreeMap<String, RawQuantity>) -> BTreeMap<String, i64> {
        let mut out = BTreeMap::new();
        for (image, q) in given {
            let path = format!("spec.imageSizes.{image}");
            match crate::cluster::quantity::Quantity::parse(&q.as_text()) {
                Ok(size) if size.value() >= 0 => {
                    out.insert(crate::scenario::normalized_image_name(image), size.value());
                }
                Ok(_) => self.error(&path, "an image size cannot be negative"),
                Err(e) => self.error(&path, e.to_string()),
            }
        }
        out
    }

    fn taints(&mut self, path: &str, raw: &[RawTaint]) -> Vec<Taint> {
        let mut out = Vec::new();
        for (j, t) in raw.iter().enumerate() {
            let tpath = format!("{path}.taints[{j}]");
            let Some(key) = t.key.clone().filter(|k| !k.is_empty()) else {
                self.error(&format!("{tpath}.key"), "required");
                continue;
            };
            match t.effect.as_deref().and_then(TaintEffect::parse) {
                Some(effect) => out.push(Taint {
                    key,
                    value: t.value.clone().unwrap_or_default(),
                    effect,
                }),
                None => self.error(
                    &format!("{tpath}.effect"),
                    "must be NoSchedule, PreferNoSchedule or NoExecute",
                ),
            }
        }
        out
    }

    fn services(&mut self, set: &ManifestSet, deployments: &[DeploymentSpec]) -> Vec<ServiceSpec> {
        let mut out: Vec<ServiceSpec> = Vec::new();
        for m in &set.services {
            let name = m.object.metadata.name.clone().unwrap_or_default();
            let namespace = manifest::namespace_of(&m.object.metadata);
            if out
                .iter()
                .any(|s| s.name == name && s.namespace == namespace)
            {
                self.diags.push(m.source.error(
                    "metadata.name",
                    format!("Service {name:?} is defined twice"),
                ));
                continue;
            }
            let (selector, backends) = manifest::service_backends(m, deployments);
            let (service_type, ports) = manifest::service_type_and_ports(m);
            let topology = network::service_topology(m, self.diags);
            out.push(ServiceSpec {
                name,
                namespace,
                selector,
                backends,
                traffic: None,
                service_type,
                ports,
                topology,
            });
        }
        out
    }

    fn hpas(&mut self, set: &ManifestSet, deployments: &[DeploymentSpec]) -> Vec<HpaSpec> {
        let mut out: Vec<HpaSpec> = Vec::new();
        for m in &set.hpas {
            let Some(mut hpa) = manifest::hpa_spec(m, deployments, set.incomplete, self.diags)
            else {
                continue;
            };
            hpa.keda = set.keda_activation(&hpa.name, &hpa.namespace);
            if let Some(other) = out
                .iter()
                .find(|h| h.target.is_some() && h.target == hpa.target)
            {
                let msg = format!(
                    "Deployment {:?} is already scaled by HorizontalPodAutoscaler {:?}; two HPAs on one target fight (AmbiguousSelector)",
                    hpa.target_name, other.name
                );
                self.diags
                    .push(m.source.error("spec.scaleTargetRef.name", msg));
                continue;
            }
            out.push(hpa);
        }
        out
    }

    /// Points each Pods metric at a serving metric: a built-in name, or an alias from the target
    /// Deployment's workload `podMetrics`.
    fn resolve_pod_metrics(
        &mut self,
        mut hpas: Vec<HpaSpec>,
        deployments: &[DeploymentSpec],
        set: &ManifestSet,
    ) -> Vec<HpaSpec> {
        let no_aliases = Default::default();
        for hpa in &mut hpas {
            let aliases = hpa
                .target
                .map_or(&no_aliases, |t| &deployments[t].workload.pod_metric_aliases);
            for (i, metric) in hpa.metrics.iter_mut().enumerate() {
                let HpaMetric::Pods {
                    metric: name,
                    source,
                    ..
                } = metric
                else {
                    continue;
                };
                if source.is_none() {
                    *source = aliases.get(name.as_str()).copied();
                }
                let serves_llm = hpa
                    .target
                    .is_some_and(|t| self.is_llm_server(deployments, t));
                let problem = match source {
                    Some(s) if s.is_llm() && !serves_llm => format!(
                        "{name:?} is exported by LLM inference servers, and Deployment {:?} is not one (its workload has no llm)",
                        hpa.target_name
                    ),
                    Some(_) => continue,
                    None => {
                        let builtins: Vec<&str> = PodMetricSource::ALL
                            .iter()
                            .map(|s| s.builtin_name())
                            .collect();
                        format!(
                            "no pod metric {name:?}: use {} or name it under spec.workloads[].podMetrics of Deployment {:?}",
                            builtins.join(", "),
                            hpa.target_name
                        )
                    }
                };
                self.hpa_error(
                    set,
                    &hpa.name,
                    &format!("spec.metrics[{i}].pods.metric.name"),
                    problem,
                );
            }
        }
        hpas
    }

    /// Reads a file named relative to the scenario: `(shown path, text)`, or an error at `field`
    /// saying which `what` could not be read.
    fn read_relative(&mut self, field: &str, rel: &str, what: &str) -> Option<(String, String)> {
        let full = self.base_dir.join(rel);
        let shown = full.display().to_string();
        match super::read::read_text(&full, super::read::MAX_INPUT_BYTES) {
            Ok(text) => Some((shown, text)),
            Err(e) => {
                self.error(field, format!("cannot read {what} {shown}: {e}"));
                None
            }
        }
    }

    /// Reads `spec.schedulerConfig` and checks every pod's `schedulerName` has a profile.
    fn scheduler_profiles(
        &mut self,
        file: Option<&str>,
        set: &ManifestSet,
        deployments: &[DeploymentSpec],
    ) -> Vec<crate::spec::scheduler::SchedulerProfile> {
        let profiles = match file {
            None => Vec::new(),
            Some(rel) => {
                let read =
                    self.read_relative("spec.schedulerConfig", rel, "KubeSchedulerConfiguration");
                let Some((shown, text)) = read else {
                    return Vec::new();
                };
                scheduler_config::read(&shown, &text, self.diags)
            }
        };
        let names: Vec<&str> = if profiles.is_empty() {
            vec![crate::spec::scheduler::DEFAULT_SCHEDULER_NAME]
        } else {
            profiles.iter().map(|p| p.scheduler_name.as_str()).collect()
        };
        for d in deployments {
            let Some(name) = d.pod.scheduler_name.as_deref() else {
                continue;
            };
            if names.contains(&name) {
                continue;
            }
            if let Some(m) = set
                .deployments
                .iter()
                .find(|m| m.object.metadata.name.as_deref() == Some(d.name.as_str()))
            {
                let hint = match (file, did_you_mean(name, names.iter().copied())) {
                    (_, Some(close)) => format!(" (did you mean {close:?}?)"),
                    (None, None) => {
                        "; define it in a KubeSchedulerConfiguration under spec.schedulerConfig"
                            .to_string()
                    }
                    (Some(_), None) => String::new(),
                };
                self.diags.push(m.source.error(
                    "spec.template.spec.schedulerName",
                    format!(
                        "no scheduler profile {name:?}{hint}: profiles are {}",
                        names.join(", ")
                    ),
                ));
            }
        }
        profiles
    }

    /// Memory metrics need the target's memory model; a ContainerResource metric should name a
    /// container of the target's pods (Kubernetes accepts any name and then finds no metrics).
    fn check_resource_metrics(
        &mut self,
        hpas: &[HpaSpec],
        deployments: &[DeploymentSpec],
        set: &ManifestSet,
    ) {
        for hpa in hpas {
            let Some(target) = hpa.target.map(|t| &deployments[t]) else {
                continue;
            };
            for (i, metric) in hpa.metrics.iter().enumerate() {
                let HpaMetric::Resource {
                    resource,
                    container,
                    ..
                } = metric
                else {
                    continue;
                };
                let field = if container.is_some() {
                    "containerResource"
                } else {
                    "resource"
                };
                if *resource == HpaResource::Memory && target.workload.memory.is_none() {
                    let message = format!(
                        "scales on memory, but Deployment {:?} has no memory model: add `memory: {{base: 256Mi, perInFlightRequest: 1Mi}}` to its entry in spec.workloads of the scenario",
                        target.name
                    );
                    self.hpa_error(
                        set,
                        &hpa.name,
                        &format!("spec.metrics[{i}].{field}.name"),
                        message,
                    );
                }
                if let Some(name) = container
                    && !target.pod.has_container(name)
                    && let Some(m) = self.hpa_manifest(set, &hpa.name)
                {
                    let message = format!(
                        "Deployment {:?} has no container {name:?}: this metric will fail (FailedGetContainerResourceMetric)",
                        target.name
                    );
                    self.diags.push(m.source.warning(
                        &format!("spec.metrics[{i}].containerResource.container"),
                        message,
                    ));
                }
            }
        }
    }

    /// Reads `spec.externalMetrics`: each a CSV `t_seconds,value` mapped like a trace.
    fn metric_series(
        &mut self,
        raw: &[RawMetricSeries],
        duration: SimDuration,
    ) -> Vec<MetricSeries> {
        let mut out: Vec<MetricSeries> = Vec::new();
        for (i, r) in raw.iter().enumerate() {
            let path = format!("spec.externalMetrics[{i}]");
            let Some(name) = r.name.clone() else {
                self.error(
                    &format!("{path}.name"),
                    "required: the metric name HPAs use",
                );
                continue;
            };
            if out.iter().any(|s| s.name == name) {
                self.error(
                    &format!("{path}.name"),
                    format!("metric {name:?} is defined twice"),
                );
                continue;
            }
            let file = RawTraceFile {
                file: r.file.clone(),
                scale: r.scale,
                offset: r.offset,
                speedup: r.speedup,
                column: None,
            };
            let pattern = self.trace_pattern(&path, &file, false, duration);
            let points = pattern
                .segments
                .iter()
                .map(|seg| (seg.start, seg.rate_per_sec))
                .collect();
            out.push(MetricSeries { name, points });
        }
        out
    }

    /// Points each External and Object metric at its scripted series.
    fn resolve_series(
        &mut self,
        mut hpas: Vec<HpaSpec>,
        series: &[MetricSeries],
        deployments: &[DeploymentSpec],
        set: &ManifestSet,
    ) -> Vec<HpaSpec> {
        let no_aliases = Default::default();
        for hpa in &mut hpas {
            let aliases = hpa
                .target
                .map_or(&no_aliases, |t| &deployments[t].workload.pod_metric_aliases);
            // A built-in serving metric, or one the target's workload names in `podMetrics`.
            let pod_metric = |name: &str| {
                PodMetricSource::from_builtin_name(name).or_else(|| aliases.get(name).copied())
            };
            for (i, metric) in hpa.metrics.iter_mut().enumerate() {
                let (kind, name, slot) = match metric {
                    HpaMetric::External {
                        metric, from_pods, ..
                    } if pod_metric(metric).is_some() => {
                        *from_pods = pod_metric(metric);
                        let serves_llm = hpa
                            .target
                            .is_some_and(|t| self.is_llm_server(deployments, t));
                        if from_pods.is_some_and(|s| s.is_llm()) && !serves_llm {
                            let message = format!(
                                "{metric:?} is exported by LLM inference servers, and Deployment {:?} is not one (its workload has no llm)",
                                hpa.target_name
                            );
                            let path = format!("spec.metrics[{i}].external.metric.name");
                            self.hpa_error(set, &hpa.name, &path, message);
                        }
                        continue;
                    }
                    HpaMetric::External { metric, series, .. } => {
                        ("external", metric.clone(), series)
                    }
                    HpaMetric::Object { metric, series, .. } => ("object", metric.clone(), series),
                    _ => continue,
                };
                *slot = series.iter().position(|s| s.name == name);
                if slot.is_none() {
                    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
                    let hint = did_you_mean_hint(&name, names.iter().copied());
                    let message = match kind {
                        "external" => format!(
                            "no series for external metric {name:?}{hint}: define it under spec.externalMetrics of the scenario, or name a serving metric so under spec.workloads[].podMetrics of Deployment {:?} (summed over its pods)",
                            hpa.target_name
                        ),
                        _ => format!(
                            "no series for {kind} metric {name:?}{hint}: define it under spec.externalMetrics of the scenario"
                        ),
                    };
                    self.hpa_error(
                        set,
                        &hpa.name,
                        &format!("spec.metrics[{i}].{kind}.metric.name"),
                        message,
                    );
                }
            }
        }
        hpas
    }

    /// A ScaledObject that may scale to zero and whose triggers all read its target's own pods
    /// can never scale up again: at zero no pod reports anything.
    fn warn_keda_never_wakes(&mut self, hpas: &[HpaSpec], set: &ManifestSet) {
        for hpa in hpas {
            let Some(keda) = &hpa.keda else {
                continue;
            };
            let to_zero = keda.min_replica_count == 0 || keda.idle_replica_count == Some(0);
            let reads_own_pods = |t: &ActivationTrigger| {
                matches!(
                    hpa.metrics.get(t.metric),
                    Some(HpaMetric::External {
                        from_pods: Some(_),
                        ..
                    })
                )
            };
            if to_zero && !keda.triggers.is_empty() && keda.triggers.iter().all(reads_own_pods) {
                let message = "every trigger reads the target's own pods: at zero replicas none reports, the query reads 0 and KEDA never scales it up again; give it a trigger that exists without pods (a spec.externalMetrics series, e.g. a gateway's queue) or a minReplicaCount of 1 or more";
                if let Some(m) = self.hpa_manifest(set, &hpa.name) {
                    let path = match keda.idle_replica_count {
                        Some(0) => "spec.idleReplicaCount",
                        _ => "spec.minReplicaCount",
                    };
                    self.diags.push(m.source.warning(path, message));
                }
            }
        }
    }

    /// An error located in the manifest of the HPA called `name`.
    fn hpa_error(&mut self, set: &ManifestSet, name: &str, path: &str, message: String) {
        if let Some(m) = self.hpa_manifest(set, name) {
            self.diags.push(m.source.error(path, message));
        }
    }

    fn hpa_manifest<'s>(
        &self,
        set: &'s ManifestSet,
        name: &str,
    ) -> Option<&'s manifest::Manifest<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler>>
    {
        set.hpas
            .iter()
            .find(|m| m.object.metadata.name.as_deref() == Some(name))
    }

    fn workloads(
        &mut self,
        raw: &[RawWorkload],
        deployments: &mut [DeploymentSpec],
        services: &[ServiceSpec],
    ) {
        let mut seen = BTreeSet::new();
        let mut calls = calls::CallContext {
            services,
            sites: 0,
            edges: Vec::new(),
            connections: BTreeMap::new(),
        };
        for (i, w) in raw.iter().enumerate() {
            let path = format!("spec.workloads[{i}]");
            let Some(reference) = self.workload_reference(&path, w) else {
                continue;
            };
            let key = if w.job.is_some() { "job" } else { "deployment" };
            let index = match resolve(
                reference,
                deployments
                    .iter()
                    .map(|d| (d.namespace.as_str(), d.name.as_str())),
                "Deployment",
            ) {
                Ok(i) => i,
                Err(e) => {
                    self.reference_error(&format!("{path}.{key}"), e);
                    continue;
                }
            };
            if !seen.insert(index) {
                self.error(
                    &format!("{path}.{key}"),
                    format!("{reference:?} already has a workload model"),
                );
            }
            self.check_job_fields(&path, w, &deployments[index]);
            let mut workload = self.workload(&path, w, &deployments[index].pod);
            if w.llm.is_some() && workload.llm.is_none() {
                self.invalid_llm.insert(index);
            }
            workload.calls = self.call_graph(&path, &w.calls, index, &mut calls);
            deployments[index].workload = workload;
        }
        for (i, d) in deployments.iter().enumerate() {
            if d.source.job_settings().is_some() && !seen.contains(&i) {
                let kind = if matches!(d.source, PodSource::CronJob(_)) {
                    "CronJob"
                } else {
                    "Job"
                };
                self.warning(
                    "spec.workloads",
                    format!(
                        "{kind} {:?} has no entry here: its pods run for 1m each and never fail; add `{{job: {}, runTime: …}}`",
                        d.name, d.name
                    ),
                );
            }
        }
        self.check_call_cycles(&calls.edges, deployments, services);
        self.check_call_tokens(&calls.edges, deployments, services);
    }

    /// The workload a `spec.workloads[]` entry names: `deployment:` (any workload) or `job:`.
    fn workload_reference<'w>(&mut self, path: &str, w: &'w RawWorkload) -> Option<&'w str> {
        match (w.deployment.as_deref(), w.job.as_deref()) {
            (Some(_), Some(_)) => {
                self.error(
                    &format!("{path}.job"),
                    "give `deployment` or `job`, not both: an entry describes one workload",
                );
                None
            }
            (Some(name), None) | (None, Some(name)) => Some(name),
            (None, None) => {
                self.error(
                    &format!("{path}.deployment"),
                    "required: the Deployment (or `job:` the Job) this model describes",
                );
                None
            }
        }
    }

    /// `job:` names a Job, and `runTime`/`failureProbability` describe only a Job's pods.
    fn check_job_fields(&mut self, path: &str, w: &RawWorkload, target: &DeploymentSpec) {
        let is_job = target.source.job_settings().is_some();
        if w.job.is_some() && !is_job {
            self.error(
                &format!("{path}.job"),
                format!(
                    "{:?} is not a Job or a CronJob: use `deployment:` for it",
                    target.name
                ),
            );
        }
        if is_job && w.run_time.is_none() {
            self.error(
                &format!("{path}.runTime"),
                "required for a Job: how long one of its pods runs once started, e.g. `runTime: {logNormal: {mean: 20m, cv: 0.3}}`",
            );
        }
        for (field, given) in [
            ("runTime", w.run_time.is_some()),
            ("failureProbability", w.failure_probability.is_some()),
        ] {
            if given && !is_job {
                self.error(
                    &format!("{path}.{field}"),
                    format!(
                        "only a Job's pods run to completion; {:?} is not a Job",
                        target.name
                    ),
                );
            }
        }
    }

    /// A Job's run model: `runTime` and `failureProbability` (0 to 1, default 0).
    fn job_run(&mut self, path: &str, w: &RawWorkload) -> JobRunModel {
        let defaults = JobRunModel::default();
        let run_time = w.run_time.as_ref().map_or(defaults.run_time, |d| {
            self.distribution(&format!("{path}.runTime"), d)
        });
        let failure_probability = w.failure_probability.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&failure_probability) {
            self.error(
                &format!("{path}.failureProbability"),
                format!("{failure_probability} is not a probability: give a number from 0 to 1"),
            );
        }
        JobRunModel {
            run_time,
            failure_probability: failure_probability.clamp(0.0, 1.0),
        }
    }

    /// `spec.startTime`: the wall-clock instant of t = 0 (default Monday 2026-01-05 00:00 UTC),
    /// which CronJob schedules are read against.
    fn start_time(&mut self, text: Option<&str>) -> jiff::Timestamp {
        let default = jiff::Timestamp::from_second(DEFAULT_START_SECONDS).expect("a valid instant");
        let Some(text) = text else {
            return default;
        };
        text.parse().unwrap_or_else(|e| {
            self.error(
                "spec.startTime",
                format!("{text:?} is not an RFC 3339 instant such as 2026-01-05T00:00:00Z: {e}"),
            );
            default
        })
    }

    fn workload(&mut self, path: &str, w: &RawWorkload, pod: &PodTemplate) -> WorkloadModel {
        let defaults = WorkloadModel::default();
        let startup_time = w.startup_time.as_ref().map_or(defaults.startup_time, |d| {
            self.distribution(&format!("{path}.startupTime"), d)
        });
        let cpu_per_request = w
            .cpu_per_request
            .as_ref()
            .map_or(defaults.cpu_per_request, |d| {
                self.distribution(&format!("{path}.cpuPerRequest"), d)
            });
        let concurrency = w.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
        if concurrency == 0 {
            self.error(&format!("{path}.concurrency"), "must be at least 1");
        }
        let timeout =
            self.positive_duration(w.timeout, &format!("{path}.timeout"), DEFAULT_TIMEOUT);
        let pod_metric_aliases = self.pod_metric_aliases(path, w);
        if let Some(name) = &w.container
            && !pod.has_container(name)
        {
            let names: Vec<&str> = pod.hpa_containers.iter().map(|c| c.name.as_str()).collect();
            let hint = did_you_mean_hint(name, names.iter().copied());
            self.error(
                &format!("{path}.container"),
                format!(
                    "no container {name:?} in the pod template{hint}: it has {}",
                    names.join(", ")
                ),
            );
        }
        let memory = w.memory.as_ref().map(|m| self.memory_model(path, m));
        let warmup = w.warmup.as_ref().map_or(defaults.warmup, |d| {
            self.distribution(&format!("{path}.warmup"), d)
        });
        let probe_fails_above_in_flight = w
            .health_check
            .as_ref()
            .and_then(|h| h.fails_above_in_flight);
        let crash_mtbf = w.crash_mtbf.map(|d| d.0);
        if crash_mtbf.is_some_and(|d| d.is_zero()) {
            self.error(&format!("{path}.crashMTBF"), "must be greater than 0");
        }
        WorkloadModel {
            startup_time,
            cpu_per_request,
            concurrency: concurrency.max(1),
            queue_limit: w.queue_limit.unwrap_or(DEFAULT_QUEUE_LIMIT),
            timeout,
            pod_metric_aliases,
            container: w.container.clone(),
            memory,
            warmup,
            probe_fails_above_in_flight,
            crash_mtbf: crash_mtbf.filter(|d| !d.is_zero()),
            cfs_period_offset: w.cfs_period_offset.map(|d| d.0),
            calls: CallGraph::default(),
            llm: w.llm.as_ref().and_then(|l| {
                self.llm_serving(&format!("{path}.llm"), l, pod, w.timeout.map(|d| d.0))
            }),
            job: self.job_run(path, w),
            ..WorkloadModel::default()
        }
    }

    /// `memory: {base, perInFlightRequest}` in bytes.
    fn memory_model(&mut self, path: &str, m: &RawMemoryModel) -> MemoryModel {
        let mut amount = |field: &str, q: Option<&RawQuantity>, required: bool| -> i64 {
            let fpath = format!("{path}.memory.{field}");
            let Some(q) = q else {
                if required {
                    self.error(
                        &fpath,
                        "required: the working set of an idle pod (e.g. 256Mi)",
                    );
                }
                return 0;
            };
            let mut errors = Vec::new();
            let v = manifest::resource_amount(resources::MEMORY, &q.as_text(), |e| errors.push(e));
            for e in errors {
                self.error(&fpath, e);
            }
            v.unwrap_or(0)
        };
        MemoryModel {
            base_bytes: amount("base", m.base.as_ref(), true),
            per_in_flight_bytes: amount(
                "perInFlightRequest",
                m.per_in_flight_request.as_ref(),
                false,
            ),
        }
    }

    /// `podMetrics: {name: inFlightRequests | queueLength | requestsPerSecond}`.
    fn pod_metric_aliases(
        &mut self,
        path: &str,
        w: &RawWorkload,
    ) -> std::collections::BTreeMap<String, PodMetricSource> {
        let mut out = std::collections::BTreeMap::new();
        for (name, source) in &w.pod_metrics {
            match PodMetricSource::from_scenario_name(source) {
                Some(s) => {
                    out.insert(name.clone(), s);
                }
                None => {
                    let known: Vec<&str> = PodMetricSource::ALL
                        .iter()
                        .map(|s| s.scenario_name())
                        .collect();
                    let hint = did_you_mean_hint(source, known.iter().copied());
                    self.error(
                        &format!("{path}.podMetrics.{name}"),
                        format!(
                            "{source:?} is not a pod metric{hint}: use one of {}",
                            known.join(", ")
                        ),
                    );
                }
            }
        }
        out
    }

    fn distribution(&mut self, path: &str, d: &RawDistribution) -> DurationDist {
        match d {
            RawDistribution::Constant(Duration(v))
            | RawDistribution::Family(RawDistributionFamily::Constant { value: Duration(v) }) => {
                DurationDist::Constant(*v)
            }
            RawDistribution::Family(RawDistributionFamily::Exponential { mean: Duration(m) }) => {
                if m.is_zero() {
                    self.error(
                        &format!("{path}.exponential.mean"),
                        "must be greater than 0",
                    );
                }
                DurationDist::exponential(*m)
            }
            RawDistribution::Family(RawDistributionFamily::LogNormal {
                mean: Duration(m),
                cv,
            }) => {
                if m.is_zero() {
                    self.error(&format!("{path}.logNormal.mean"), "must be greater than 0");
                }
                // σ = √ln(1 + cv²): a cv of 100 already gives σ ≈ 3, a tail of e^9 × the median.
                let valid = cv.is_finite() && (0.0..=MAX_CV).contains(cv);
                if !valid {
                    self.error(
                        &format!("{path}.logNormal.cv"),
                        format!(
                            "{} is out of range: the coefficient of variation is between 0 and {MAX_CV}",
                            shown_number(*cv)
                        ),
                    );
                }
                DurationDist::log_normal(*m, if valid { *cv } else { 1.0 })
            }
            RawDistribution::Family(RawDistributionFamily::Uniform {
                min: Duration(a),
                max: Duration(b),
            }) => {
                if a > b {
                    self.error(&format!("{path}.uniform.max"), "must be ≥ min");
                }
                DurationDist::Uniform {
                    min: *a.min(b),
                    max: *a.max(b),
                }
            }
        }
    }

    /// The Service a traffic entry names: `service`, or the backend an Ingress routes its
    /// `host` and `path` to (as `namespace/name`).
    fn traffic_target(&mut self, path: &str, t: &RawTraffic, set: &ManifestSet) -> Option<String> {
        match (&t.service, &t.ingress) {
            (Some(_), Some(_)) => {
                self.error(
                    &format!("{path}.ingress"),
                    "give either service or ingress, not both",
                );
                None
            }
            (Some(service), None) => {
                for field in [("host", &t.host), ("path", &t.path)] {
                    if field.1.is_some() {
                        self.error(
                            &format!("{path}.{}", field.0),
                            "goes with ingress (a Service has no hosts or paths)",
                        );
                    }
                }
                Some(service.clone())
            }
            (None, Some(name)) => self.ingress_backend(path, name, t, set),
            (None, None) => {
                self.error(
                    &format!("{path}.service"),
                    "required: the Service receiving this traffic (or an ingress with host and path)",
                );
                None
            }
        }
    }

    fn ingress_backend(
        &mut self,
        path: &str,
        reference: &str,
        t: &RawTraffic,
        set: &ManifestSet,
    ) -> Option<String> {
        let names = set.ingresses.iter().map(|m| {
            (
                manifest::namespace_of(&m.object.metadata),
                m.object.metadata.name.clone().unwrap_or_default(),
            )
        });
        let names: Vec<(String, String)> = names.collect();
        let index = match resolve(
            reference,
            names.iter().map(|(n, m)| (n.as_str(), m.as_str())),
            "Ingress",
        ) {
            Ok(i) => i,
            Err(e) => {
                self.reference_error(&format!("{path}.ingress"), e);
                return None;
            }
        };
        let url_path = t.path.as_deref().unwrap_or("/");
        if !url_path.starts_with('/') {
            self.error(
                &format!("{path}.path"),
                format!("{url_path:?} is not a URL path: a URL path starts with /"),
            );
            return None;
        }
        let ingress = &set.ingresses[index].object;
        match super::ingress::backend_service(ingress, t.host.as_deref(), url_path) {
            Ok(service) => Some(format!("{}/{service}", names[index].0)),
            Err(e) => {
                self.error(
                    &format!("{path}.ingress"),
                    format!("Ingress {reference:?}: {e}"),
                );
                None
            }
        }
    }

    fn traffic(
        &mut self,
        raw: &[RawTraffic],
        set: &ManifestSet,
        services: &mut [ServiceSpec],
        deployments: &[DeploymentSpec],
        duration: SimDuration,
    ) {
        for (i, t) in raw.iter().enumerate() {
            let path = format!("spec.traffic[{i}]");
            let Some(reference) = self.traffic_target(&path, t, set) else {
                continue;
            };
            let reference = reference.as_str();
            let index = match resolve(
                reference,
                services
                    .iter()
                    .map(|s| (s.namespace.as_str(), s.name.as_str())),
                "Service",
            ) {
                Ok(i) => i,
                Err(e) => {
                    self.reference_error(&format!("{path}.service"), e);
                    continue;
                }
            };
            if services[index].traffic.is_some() {
                self.error(
                    &format!("{path}.service"),
                    format!("Service {reference:?} already has traffic"),
                );
                continue;
            }
            if services[index].backends.is_empty() && !set.incomplete {
                let m = &set.services[index];
                self.diags.push(m.source.error("spec.selector", format!("Service {reference:?} selects no Deployment's pods, so every request to it would fail")));
            }
            for &b in &services[index].backends {
                if !self.has_workload(deployments, b) {
                    self.warning(&format!("{path}.service"), format!("Deployment {:?} serves this traffic but has no entry in spec.workloads: using the default model", deployments[b].name));
                }
            }
            let load_balancing = self.load_balancing(&path, t.load_balancing.as_deref());
            let llm_served =
                (services[index].backends.iter()).any(|&b| self.is_llm_server(deployments, b));
            let goodput = self.goodput(&path, t.goodput.as_ref(), llm_served);
            let connections = self.connections(&path, t.connections.as_ref());
            let Some(arrivals) = t.arrivals.as_ref() else {
                self.traffic_without_arrivals(&path, t, index, deployments);
                services[index].traffic = Some(TrafficSpec {
                    arrivals: None,
                    load_balancing,
                    tokens: None,
                    goodput,
                    connections,
                });
                continue;
            };
            let trace = match arrivals {
                RawArrivals::LlmTrace(f) => Some(f),
                _ => None,
            };
            let tokens = self.token_source(&path, trace, t.tokens.as_ref(), duration);
            // Whether token counts were given (a bad trace or count is reported on its own).
            let tokens_given = trace.is_some() || t.tokens.is_some();
            self.check_token_backends(&path, &services[index], tokens_given, deployments);
            let arrivals = self.arrivals(&format!("{path}.arrivals"), arrivals, duration);
            services[index].traffic = Some(TrafficSpec {
                arrivals: Some(arrivals),
                load_balancing,
                tokens,
                goodput,
                connections,
            });
        }
    }

    /// A traffic entry without arrivals sets how calls to its Service are routed and judged:
    /// it has no tokens of its own, and some call graph should call it.
    fn traffic_without_arrivals(
        &mut self,
        path: &str,
        t: &RawTraffic,
        service: usize,
        deployments: &[DeploymentSpec],
    ) {
        if t.tokens.is_some() {
            self.error(
                &format!("{path}.tokens"),
                "tokens go with arrivals: calls give the tokens of the requests they send",
            );
        }
        let called = (deployments.iter())
            .flat_map(|d| d.workload.calls.calls())
            .any(|c| c.service == service);
        if !called {
            self.warning(&format!("{path}.arrivals"), "no arrivals, and no call graph calls this Service: it gets no requests (give constant, rateSeries, perMinuteCounts or llmTrace)");
        }
    }

    /// Refuses, before t = 0, traffic whose requests alone would exhaust the event budget
    /// (each request is at least two events, its arrival and its completion), naming the
    /// Service that brings the most.
    fn check_request_work(
        &mut self,
        services: &[ServiceSpec],
        duration: SimDuration,
        max_events: u64,
    ) {
        let end = SimTime::ZERO + duration;
        let expected = |s: &ServiceSpec| match s.traffic.as_ref().and_then(|t| t.tokens.as_ref()) {
            Some(TokenSource::Trace { requests, .. }) => requests.len() as f64,
            _ => (s.traffic.as_ref().and_then(|t| t.arrivals.as_ref()))
                .map_or(0.0, |a| a.expected_requests(end)),
        };
        let counts: Vec<f64> = services.iter().map(expected).collect();
        let total: f64 = counts.iter().sum();
        if 2.0 * total <= max_events as f64 {
            return;
        }
        let (most, _) =
            (counts.iter().enumerate()).fold(
                (0, 0.0),
                |best, (i, &c)| if c > best.1 { (i, c) } else { best },
            );
        let hours = total / REQUESTS_PER_WALL_SEC / 3600.0;
        self.error("spec.duration", format!("about {} requests in {} (most of them to Service {:?}) are at least {} events, beyond the event budget spec.maxEvents = {max_events}; at about 6 M requests per second of wall time they would take {} hours: shorten spec.duration or lower the traffic's rate (or raise spec.maxEvents if the run is meant to be this large)", shown_number(total.round()), duration, services[most].name, shown_number(2.0 * total.round()), shown_number(hours.round())));
    }

    fn has_workload(&self, deployments: &[DeploymentSpec], index: usize) -> bool {
        let d = &deployments[index];
        self.source
            .node
            .lookup("spec.workloads")
            .is_some_and(|n| match &n.value {
                Value::Seq(items) => items.iter().any(|w| {
                    w.get("deployment")
                        .and_then(Node::as_str)
                        .is_some_and(|r| r == d.name || r == format!("{}/{}", d.namespace, d.name))
                }),
                _ => false,
            })
    }

    fn load_balancing(&mut self, path: &str, value: Option<&str>) -> LoadBalancing {
        match value {
            None | Some("Random") => LoadBalancing::Random,
            Some("RoundRobin") => LoadBalancing::RoundRobin,
            Some("LeastRequest") => LoadBalancing::LeastRequest,
            Some("PrefixAware") => LoadBalancing::PrefixAware,
            Some(other) => {
                self.error(&format!("{path}.loadBalancing"), format!("{other:?} is not a policy: use Random (kube-proxy iptables), RoundRobin (IPVS rr), LeastRequest (fewest requests in flight) or PrefixAware (LLM requests to the pod caching their prompt)"));
                LoadBalancing::Random
            }
        }
    }

    fn arrivals(
        &mut self,
        path: &str,
        arrivals: &RawArrivals,
        duration: SimDuration,
    ) -> ArrivalPattern {
        let pattern = self.arrival_pattern(path, arrivals, duration);
        let peak = pattern
            .segments
            .iter()
            .map(|s| s.rate_per_sec)
            .fold(0.0, f64::max);
        if peak > MAX_RATE_PER_SEC {
            let field = match arrivals {
                RawArrivals::Constant { .. } => "constant.rate",
                RawArrivals::FixedInterval { .. } => "fixedInterval.rate",
                RawArrivals::Bursts(_) => "bursts.size",
                RawArrivals::RequestTimes(_) => "requestTimes.speedup",
                RawArrivals::RateSeries(_) => "rateSeries.scale",
                RawArrivals::PerMinuteCounts(_) => "perMinuteCounts.scale",
                RawArrivals::LlmTrace(_) => "llmTrace.scale",
                RawArrivals::ClosedLoop(_) => "closedLoop.users",
            };
            let source = match arrivals {
                RawArrivals::Constant { .. } | RawArrivals::FixedInterval { .. } => "",
                RawArrivals::Bursts(_) => " (the mean burst over its period)",
                RawArrivals::RequestTimes(_) => " (the file's requests over the run)",
                _ => " (the trace's busiest rate times scale)",
            };
            self.error(
                &format!("{path}.{field}"),
                format!("a peak of {} requests/s{source} is beyond what kubesim simulates (at most {MAX_RATE_PER_SEC:e} per Service): at about 6 M requests per second of wall time it would run for days", shown_number(peak)),
            );
            return ArrivalPattern::constant(0.0);
        }
        pattern
    }

    fn arrival_pattern(
        &mut self,
        path: &str,
        arrivals: &RawArrivals,
        duration: SimDuration,
    ) -> ArrivalPattern {
        match arrivals {
            RawArrivals::Constant { rate } => self.steady_rate(&format!("{path}.constant"), *rate),
            RawArrivals::FixedInterval { rate } => ArrivalPattern {
                shape: ArrivalShape::FixedInterval,
                ..self.steady_rate(&format!("{path}.fixedInterval"), *rate)
            },
            RawArrivals::Bursts(b) => self.bursts(&format!("{path}.bursts"), b),
            RawArrivals::RequestTimes(f) => {
                self.request_times(&format!("{path}.requestTimes"), f, duration)
            }
            RawArrivals::RateSeries(f) => {
                self.trace_pattern(&format!("{path}.rateSeries"), f, false, duration)
            }
            RawArrivals::PerMinuteCounts(f) => {
                self.trace_pattern(&format!("{path}.perMinuteCounts"), f, true, duration)
            }
            // Requests arrive as the trace's rows say (see `token_source`), not by a rate.
            RawArrivals::LlmTrace(_) => ArrivalPattern::constant(0.0),
            RawArrivals::ClosedLoop(c) => self.closed_loop(&format!("{path}.closedLoop"), c),
        }
    }

    /// A constant rate (`path.rate`), requests per second ≥ 0.
    fn steady_rate(&mut self, path: &str, rate: f64) -> ArrivalPattern {
        if !rate.is_finite() || rate < 0.0 {
            self.error(
                &format!("{path}.rate"),
                format!("{rate} is not a rate: requests per second must be ≥ 0"),
            );
            return ArrivalPattern::constant(0.0);
        }
        ArrivalPattern::constant(rate)
    }

    /// `bursts: {size, every}`: its mean rate is the mean size over the period.
    fn bursts(&mut self, path: &str, raw: &RawBursts) -> ArrivalPattern {
        let every = match raw.every {
            Some(Duration(d)) if d >= SimDuration::from_micros(1) => Some(d),
            Some(_) => {
                self.error(&format!("{path}.every"), "must be at least 1µs");
                None
            }
            None => {
                self.error(
                    &format!("{path}.every"),
                    "required: the time between bursts, e.g. 1s",
                );
                None
            }
        };
        let size = self.count_within(
            &format!("{path}.size"),
            raw.size.as_ref(),
            MAX_BURST,
            "requests",
        );
        let (Some(every), Some(size)) = (every, size) else {
            return ArrivalPattern::constant(0.0);
        };
        let mean_rate = size.mean() / every.as_secs_f64();
        ArrivalPattern {
            shape: ArrivalShape::Bursts { every, size },
            ..ArrivalPattern::constant(mean_rate)
        }
    }

    /// `requestTimes: {file, offset, speedup}`: one request at each listed time. Its rate (for
    /// the peak check and expectations) is the requests over the run.
    fn request_times(
        &mut self,
        path: &str,
        f: &RawTraceFile,
        duration: SimDuration,
    ) -> ArrivalPattern {
        let empty = ArrivalPattern::constant(0.0);
        if f.scale.is_some() || f.column.is_some() {
            let field = if f.scale.is_some() { "scale" } else { "column" };
            self.error(
                &format!("{path}.{field}"),
                "not for requestTimes: each listed time is one request (use offset and speedup)",
            );
        }
        let Some(rel) = f.file.as_deref() else {
            self.error(
                &format!("{path}.file"),
                "required: a CSV of request times in seconds, relative to the scenario",
            );
            return empty;
        };
        let speedup = f.speedup.unwrap_or(1.0);
        if !speedup.is_finite() || speedup <= 0.0 {
            self.error(&format!("{path}.speedup"), "must be a number > 0");
            return empty;
        }
        let Some((shown, text)) = self.read_relative(&format!("{path}.file"), rel, "request times")
        else {
            return empty;
        };
        let listed = trace::read_request_times(&shown, &text, self.diags);
        let mapping = TraceMapping {
            offset: f.offset.map_or(SimDuration::ZERO, |d| d.0),
            speedup,
            scale: 1.0,
        };
        let times = trace::to_request_times(&listed, mapping, duration);
        let rate = times.len() as f64 / duration.as_secs_f64().max(1e-6);
        ArrivalPattern {
            shape: ArrivalShape::Times(times.into()),
            ..ArrivalPattern::constant(rate)
        }
    }

    fn trace_pattern(
        &mut self,
        path: &str,
        f: &RawTraceFile,
        per_minute: bool,
        duration: SimDuration,
    ) -> ArrivalPattern {
        let empty = ArrivalPattern::constant(0.0);
        let Some(rel) = f.file.as_deref() else {
            self.error(
                &format!("{path}.file"),
                "required: the trace CSV, relative to the scenario",
            );
            return empty;
        };
        let scale = f.scale.unwrap_or(1.0);
        let speedup = f.speedup.unwrap_or(1.0);
        if !scale.is_finite() || scale < 0.0 {
            self.error(&format!("{path}.scale"), "must be a number ≥ 0");
        }
        if !speedup.is_finite() || speedup <= 0.0 {
            self.error(&format!("{path}.speedup"), "must be a number > 0");
            return empty;
        }
        let mapping = TraceMapping {
            offset: f.offset.map_or(SimDuration::ZERO, |d| d.0),
            speedup,
            scale: scale.max(0.0),
        };
        let format = if per_minute {
            trace::RateTrace::PerMinute(f.column.as_deref())
        } else {
            trace::RateTrace::Series
        };
        let pattern = trace::PatternBuilder::new(mapping, duration);
        (self.stream_trace(&format!("{path}.file"), rel, format, pattern)).unwrap_or(empty)
    }

    /// Reads the trace `rel` of `format` a row at a time into `pattern`, never holding the file
    /// whole. `None`, with an error at `field`, when the file cannot be read.
    fn stream_trace(
        &mut self,
        field: &str,
        rel: &str,
        format: trace::RateTrace,
        mut pattern: trace::PatternBuilder,
    ) -> Option<ArrivalPattern> {
        use super::read::{MAX_INPUT_BYTES, check_bound, open_bounded};
        let full = self.base_dir.join(rel);
        let shown = full.display().to_string();
        let read = open_bounded(&full, MAX_INPUT_BYTES).and_then(|input| {
            let read = trace::stream_rate_trace(&shown, input, format, self.diags, &mut pattern);
            check_bound(read?, MAX_INPUT_BYTES)
        });
        if let Err(e) = read {
            self.error(field, format!("cannot read trace {shown}: {e}"));
            return None;
        }
        Some(pattern.finish())
    }

    fn warn_unfittable(&mut self, deployments: &[DeploymentSpec], pools: &[NodePoolSpec]) {
        for d in deployments {
            let fits = pools.iter().any(|p| {
                let r = &d.pod.requests;
                r.nonzero_names()
                    .iter()
                    .all(|name| r.get(name) <= p.allocatable.get(name))
            });
            if !fits && !pools.is_empty() {
                let msg = format!(
                    "pods of Deployment {:?} request more than any node pool's allocatable: they will stay Pending",
                    d.name
                );
                self.diags.push(Diagnostic::warning(
                    &self.source.file,
                    None,
                    "spec.cluster.nodePools",
                    msg,
                ));
            }
        }
    }

    fn slos(
        &mut self,
        raw: &[RawSlo],
        services: &[ServiceSpec],
        deployments: &[DeploymentSpec],
    ) -> Vec<SloSpec> {
        let mut out = Vec::new();
        for (i, s) in raw.iter().enumerate() {
            let path = format!("spec.slos[{i}]");
            let Some(text) = s.assert.clone() else {
                self.error(
                    &format!("{path}.assert"),
                    "required, e.g. `latency.p99 <= 250ms`",
                );
                continue;
            };
            let assertion = match parse_assertion(&text) {
                Ok(a) => a,
                Err(e) => {
                    self.error(&format!("{path}.assert"), e);
                    continue;
                }
            };
            let Some(scope) = self.slo_scope(&path, s, assertion.metric, services, deployments)
            else {
                continue;
            };
            let name = s
                .name
                .clone()
                .unwrap_or_else(|| format!("{}{text}", scope_label(&scope, services, deployments)));
            out.push(SloSpec {
                name,
                scope,
                metric: assertion.metric,
                comparison: assertion.comparison,
                threshold: assertion.threshold,
                text,
            });
        }
        out
    }

    fn slo_scope(
        &mut self,
        path: &str,
        s: &RawSlo,
        metric: SloMetric,
        services: &[ServiceSpec],
        deployments: &[DeploymentSpec],
    ) -> Option<SloScope> {
        let scope = resolve_scope(
            metric,
            s.service.as_deref(),
            s.deployment.as_deref(),
            services,
            deployments,
        );
        scope
            .map_err(|e| {
                let at = match e.field {
                    Some(field) => format!("{path}.{field}"),
                    None => path.to_string(),
                };
                if e.reference {
                    self.reference_error(&at, e.message);
                } else {
                    self.error(&at, e.message);
                }
            })
            .ok()
    }

    fn hpa_settings(&mut self, raw: Option<&RawControllerManager>) -> HpaSettings {
        let d = HpaSettings::default();
        let Some(raw) = raw else { return d };
        let base = "spec.controllerManager";
        let tolerance = raw.hpa_tolerance.unwrap_or(d.tolerance);
        if !tolerance.is_finite() || tolerance < 0.0 {
            self.error(
                &format!("{base}.horizontal-pod-autoscaler-tolerance"),
                "must be a number ≥ 0",
            );
        }
        HpaSettings {
            sync_period: self.period_at_least(
                raw.hpa_sync_period,
                &format!("{base}.horizontal-pod-autoscaler-sync-period"),
                SimDuration::from_secs(1),
                d.sync_period,
            ),
            tolerance,
            downscale_stabilization: raw
                .hpa_downscale_stabilization
                .map_or(d.downscale_stabilization, |x| x.0),
            cpu_initialization_period: raw
                .hpa_cpu_initialization_period
                .map_or(d.cpu_initialization_period, |x| x.0),
            initial_readiness_delay: raw
                .hpa_initial_readiness_delay
                .map_or(d.initial_readiness_delay, |x| x.0),
        }
    }

    fn metric_resolution(&mut self, raw: Option<&RawMetricsServer>) -> SimDuration {
        let value = raw
            .and_then(|m| m.metric_resolution)
            .map_or(DEFAULT_METRIC_RESOLUTION, |d| d.0);
        if value < SimDuration::from_secs(10) {
            self.error(
                "spec.metricsServer.metricResolution",
                "metrics-server requires at least 10s",
            );
        }
        value
    }
}

fn resolved_controller_manager(s: &HpaSettings) -> RawControllerManager {
    RawControllerManager {
        hpa_sync_period: Some(Duration(s.sync_period)),
        hpa_tolerance: Some(s.tolerance),
        hpa_downscale_stabilization: Some(Duration(s.downscale_stabilization)),
        hpa_cpu_initialization_period: Some(Duration(s.cpu_initialization_period)),
        hpa_initial_readiness_delay: Some(Duration(s.initial_readiness_delay)),
    }
}
