//! The calibration file (`kind: Calibration`): which series of which Prometheus export plays
//! which role for which Service, read here with the exports it names. `kubesim calibrate` (the
//! `calibrate` module, above the engine) fits the workload model from what this returns.
//!
//! ```yaml
//! apiVersion: kubesim.io/v1alpha1
//! kind: Calibration
//! metadata: {name: web}
//! spec:
//!   scenario: base.yaml            # the cluster and manifests; its workloads and traffic are refitted
//!   services:
//!     - service: web
//!       deployment: web            # default: the Service's name
//!       requests: {file: requests.json, select: 'istio_requests_total{reporter="destination"}'}
//!       cpu: {file: cpu.json, select: 'container_cpu_usage_seconds_total{container="web"}'}
//!       memory: {file: memory.json}
//!       latency: {file: latency.json, unit: milliseconds}        # histogram buckets (`le`)
//!       latencyQuantiles: {p99: {file: p99.csv, select: '{column="p99"}'}}
//!       replicas: {file: ksm.json, select: kube_deployment_status_replicas}
//!       podCreated: {file: ksm.json, select: kube_pod_created}
//!       podReady: {file: ksm.json, select: 'kube_pod_status_ready{condition="true"}'}
//!     - service: cart                # reached by web's calls: fitted, not given arrivals
//!       arrivals: calls
//!       requests: {file: cart.csv, select: '{column="rate"}', unit: perSecond, timeColumn: time}
//!       cpu: {file: cart.csv, select: '{column="cpu_m"}', unit: millicores, scale: 1}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::decode_report::{UnknownFields, decode_reported};
use super::diag::{self, Diagnostic};
use super::prom_export::{self, Export, Format, Selector, Series};
use super::raw::RawMetadata;
use super::validate::API_VERSION;
use super::yaml::{Node, parse_documents};

/// What a series role measures, and in which unit its values are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unit {
    /// A counter of events (requests).
    Counter,
    /// A gauge of events per second.
    PerSecond,
    /// A gauge of events per minute.
    PerMinute,
    /// A counter of CPU-seconds.
    CpuSeconds,
    /// A duration in seconds.
    Seconds,
    /// A duration in milliseconds.
    Milliseconds,
    /// A gauge of cores.
    Cores,
    /// A gauge of millicores.
    Millicores,
    /// Bytes.
    Bytes,
    /// Mebibytes.
    Mebibytes,
    /// A plain number (replicas, a 0/1 condition, a Unix time).
    Number,
}

/// The roles a series can play, with the units each accepts (the first is the default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// The Service's request rate.
    Requests,
    /// Each pod's CPU.
    Cpu,
    /// Each pod's working set.
    Memory,
    /// The latency histogram's buckets (`le`).
    Latency,
    /// The Deployment's replicas.
    Replicas,
    /// Each pod's creation time (Unix seconds).
    PodCreated,
    /// Each pod's readiness (1 ready).
    PodReady,
}

impl Role {
    /// The field name in the calibration file.
    pub fn field(self) -> &'static str {
        match self {
            Role::Requests => "requests",
            Role::Cpu => "cpu",
            Role::Memory => "memory",
            Role::Latency => "latency",
            Role::Replicas => "replicas",
            Role::PodCreated => "podCreated",
            Role::PodReady => "podReady",
        }
    }

    /// The units it accepts, the default first.
    pub fn units(self) -> &'static [(&'static str, Unit)] {
        match self {
            Role::Requests => &[
                ("counter", Unit::Counter),
                ("perSecond", Unit::PerSecond),
                ("perMinute", Unit::PerMinute),
            ],
            Role::Cpu => &[
                ("seconds", Unit::CpuSeconds),
                ("cores", Unit::Cores),
                ("millicores", Unit::Millicores),
            ],
            Role::Memory => &[("bytes", Unit::Bytes), ("MiB", Unit::Mebibytes)],
            Role::Latency => &[
                ("seconds", Unit::Seconds),
                ("milliseconds", Unit::Milliseconds),
            ],
            Role::Replicas | Role::PodCreated | Role::PodReady => &[("count", Unit::Number)],
        }
    }
}

/// The series that play one role, and their unit.
#[derive(Clone, Debug)]
pub struct RoleData {
    /// The selected series (at least one).
    pub series: Vec<Series>,
    /// Their unit.
    pub unit: Unit,
    /// `file select` as written, for messages.
    pub source: String,
    /// What every value is multiplied by (`scale`, default 1), after the unit.
    pub scale: f64,
}

/// One Service's roles.
#[derive(Clone, Debug)]
pub struct ServiceData {
    /// The Service (in the base scenario's traffic).
    pub service: String,
    /// The Deployment that serves it.
    pub deployment: String,
    /// The roles given.
    pub roles: BTreeMap<Role, RoleData>,
    /// Latency quantiles as gauges: (name as given, e.g. `p99`; the quantile, 0.99; the data).
    pub quantiles: Vec<(String, f64, RoleData)>,
    /// Whether the replay's arrivals to the Service are its observed rate (`arrivals:
    /// observed`, the default) or the base scenario's (`arrivals: calls`: other Services' calls
    /// reach it, and its rate is only fitted on).
    pub replay_arrivals: bool,
}

/// A calibration file, read with its exports.
#[derive(Clone, Debug)]
pub struct Calibration {
    /// `metadata.name`, else the file's stem.
    pub name: String,
    /// The base scenario.
    pub scenario: PathBuf,
    /// The Services to fit.
    pub services: Vec<ServiceData>,
    /// What the exports' readers dropped or repaired, one sentence each.
    pub notes: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCalibrationFile {
    api_version: Option<String>,
    #[allow(dead_code)] // read from the node: which document is the calibration
    kind: Option<String>,
    metadata: Option<RawMetadata>,
    spec: Option<RawCalibrationSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCalibrationSpec {
    scenario: Option<String>,
    #[serde(default)]
    services: Vec<RawService>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawService {
    service: Option<String>,
    deployment: Option<String>,
    requests: Option<RawSource>,
    cpu: Option<RawSource>,
    memory: Option<RawSource>,
    latency: Option<RawSource>,
    #[serde(default)]
    latency_quantiles: BTreeMap<String, RawSource>,
    replicas: Option<RawSource>,
    pod_created: Option<RawSource>,
    pod_ready: Option<RawSource>,
    arrivals: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSource {
    file: Option<String>,
    select: Option<String>,
    unit: Option<String>,
    format: Option<String>,
    time_column: Option<String>,
    scale: Option<f64>,
}

/// Whether `text` holds a `kind: Calibration` document.
pub fn is_calibration_file(text: &str) -> bool {
    parse_documents(text).is_ok_and(|docs| {
        docs.iter()
            .any(|d| d.get("kind").and_then(Node::as_str) == Some("Calibration"))
    })
}

/// Reads a calibration file and the exports it names; every problem found, located.
pub fn load_calibration(path: &Path) -> Result<Calibration, Vec<Diagnostic>> {
    let file = path.display().to_string();
    let one = |position, message: String| vec![Diagnostic::error(&file, position, "", message)];
    let text = super::read::read_text(path, super::read::MAX_INPUT_BYTES)
        .map_err(|e| one(None, format!("cannot read: {e}")))?;
    let docs = parse_documents(&text)
        .map_err(|e| one(e.position, format!("invalid YAML: {}", e.message)))?;
    let mut found = docs
        .iter()
        .filter(|d| d.get("kind").and_then(Node::as_str) == Some("Calibration"));
    let Some(node) = found.next() else {
        return Err(one(
            docs.first().map(|d| d.position),
            "no `kind: Calibration` document in this file".into(),
        ));
    };
    let mut reader = Reader {
        file: &file,
        node,
        dir: path.parent().unwrap_or(Path::new("")),
        diags: Vec::new(),
        exports: BTreeMap::new(),
    };
    let calibration = reader.read(path);
    let mut diags = reader.diags;
    diag::sort(&mut diags);
    match calibration {
        Some(c) if !diags.iter().any(Diagnostic::is_error) => Ok(c),
        _ => Err(diags),
    }
}

/// An export as read: its path, format and time column.
type ExportKey = (PathBuf, Option<String>, Option<String>);

/// Reads the file's document and the exports, collecting diagnostics.
struct Reader<'a> {
    file: &'a str,
    node: &'a Node,
    dir: &'a Path,
    diags: Vec<Diagnostic>,
    /// Exports read so far, by (path, format, time column): each is read once.
    exports: BTreeMap<ExportKey, Result<Export, String>>,
}

impl Reader<'_> {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        let position = Some(self.node.nearest_position(path));
        self.diags
            .push(Diagnostic::error(self.file, position, path, message));
    }

    fn read(&mut self, path: &Path) -> Option<Calibration> {
        let raw = decode_reported::<RawCalibrationFile>(
            self.node,
            "",
            self.file,
            UnknownFields::Error,
            &mut self.diags,
        )?;
        if raw.api_version.as_deref() != Some(API_VERSION) {
            self.error("apiVersion", format!("must be {API_VERSION}"));
        }
        let Some(spec) = raw.spec else {
            self.error("spec", "a Calibration needs a spec");
            return None;
        };
        let Some(scenario) = spec.scenario.as_deref() else {
            self.error(
                "spec.scenario",
                "required: the base scenario (cluster, manifests), relative to this file",
            );
            return None;
        };
        if spec.services.is_empty() {
            self.error("spec.services", "name at least one Service to fit");
        }
        let services = (spec.services.iter().enumerate())
            .filter_map(|(i, s)| self.service(s, &format!("spec.services[{i}]")))
            .collect();
        let notes = (self.exports.values())
            .filter_map(|e| e.as_ref().ok())
            .flat_map(|e| e.notes.iter().cloned())
            .collect();
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        Some(Calibration {
            name: (raw.metadata.and_then(|m| m.name))
                .or(stem)
                .unwrap_or_default(),
            scenario: self.dir.join(scenario),
            services,
            notes,
        })
    }

    fn service(&mut self, raw: &RawService, path: &str) -> Option<ServiceData> {
        let Some(service) = raw.service.clone() else {
            self.error(&format!("{path}.service"), "required: the Service's name");
            return None;
        };
        let sources = [
            (Role::Requests, &raw.requests),
            (Role::Cpu, &raw.cpu),
            (Role::Memory, &raw.memory),
            (Role::Latency, &raw.latency),
            (Role::Replicas, &raw.replicas),
            (Role::PodCreated, &raw.pod_created),
            (Role::PodReady, &raw.pod_ready),
        ];
        let mut roles = BTreeMap::new();
        for (role, source) in sources {
            let Some(source) = source else { continue };
            let at = format!("{path}.{}", role.field());
            if let Some(data) = self.source(source, role, &at) {
                roles.insert(role, data);
            }
        }
        if raw.requests.is_none() {
            self.error(
                &format!("{path}.requests"),
                "required: the Service's request counter (or rate), which every fit divides by",
            );
        }
        let mut quantiles = Vec::new();
        for (name, source) in &raw.latency_quantiles {
            let at = format!("{path}.latencyQuantiles.{name}");
            let Some(q) = quantile_of(name) else {
                self.error(
                    &at,
                    format!("{name:?} is not a quantile: write p50, p90, p99, p99.9 or 0.99"),
                );
                continue;
            };
            if let Some(data) = self.source(source, Role::Latency, &at) {
                quantiles.push((name.clone(), q, data));
            }
        }
        if roles.contains_key(&Role::Latency) {
            self.check_histogram(&roles[&Role::Latency], &format!("{path}.latency"));
        }
        let replay_arrivals = match raw.arrivals.as_deref() {
            None | Some("observed") => true,
            Some("calls") => false,
            Some(other) => {
                self.error(
                    &format!("{path}.arrivals"),
                    format!("{other:?}: `observed` (the replay's arrivals are the observed rate) or `calls` (other Services' calls reach it)"),
                );
                true
            }
        };
        Some(ServiceData {
            replay_arrivals,
            deployment: raw.deployment.clone().unwrap_or_else(|| service.clone()),
            service,
            roles,
            quantiles,
        })
    }

    fn check_histogram(&mut self, data: &RoleData, path: &str) {
        if !data.series.iter().any(|s| s.labels.contains_key("le")) {
            self.error(
                path,
                format!(
                    "{}: no series has an `le` label: `latency` takes a histogram's _bucket series; quantile gauges go under latencyQuantiles",
                    data.source
                ),
            );
        }
    }

    fn source(&mut self, raw: &RawSource, role: Role, path: &str) -> Option<RoleData> {
        let Some(file) = raw.file.as_deref() else {
            self.error(
                &format!("{path}.file"),
                "required: the export holding the series",
            );
            return None;
        };
        let unit = self.unit(raw.unit.as_deref(), role, path)?;
        let selector = match raw.select.as_deref().map(Selector::parse).transpose() {
            Ok(s) => s,
            Err(e) => {
                self.error(&format!("{path}.select"), e);
                return None;
            }
        };
        let full = self.dir.join(file);
        let key = (full.clone(), raw.format.clone(), raw.time_column.clone());
        if !self.exports.contains_key(&key) {
            let read = read_export(&full, raw.format.as_deref(), raw.time_column.as_deref());
            self.exports.insert(key.clone(), read);
        }
        let export = match &self.exports[&key] {
            Ok(e) => e,
            Err(e) => {
                let e = e.clone();
                self.error(&format!("{path}.file"), e);
                return None;
            }
        };
        let series: Vec<Series> = (export.series.iter())
            .filter(|s| selector.as_ref().is_none_or(|sel| sel.matches(s)))
            .cloned()
            .collect();
        let source = match &selector {
            Some(sel) => format!("{file} {}", sel.text()),
            None => file.to_string(),
        };
        if series.is_empty() {
            let names: Vec<String> = export.series.iter().take(5).map(Series::display).collect();
            self.error(
                &format!("{path}.select"),
                format!(
                    "matches none of the {} series in {file} (the first: {})",
                    export.series.len(),
                    names.join(", ")
                ),
            );
            return None;
        }
        let scale = raw.scale.unwrap_or(1.0);
        if !(scale.is_finite() && scale > 0.0) {
            self.error(
                &format!("{path}.scale"),
                format!("{scale} must be a positive number"),
            );
            return None;
        }
        Some(RoleData {
            series,
            unit,
            source,
            scale,
        })
    }

    fn unit(&mut self, text: Option<&str>, role: Role, path: &str) -> Option<Unit> {
        let units = role.units();
        let Some(text) = text else {
            return Some(units[0].1);
        };
        match units.iter().find(|(name, _)| *name == text) {
            Some(&(_, unit)) => Some(unit),
            None => {
                let names: Vec<&str> = units.iter().map(|u| u.0).collect();
                self.error(
                    &format!("{path}.unit"),
                    format!(
                        "{text:?} is not a unit of {}: one of {}",
                        role.field(),
                        names.join(", ")
                    ),
                );
                None
            }
        }
    }
}

/// Reads one export, its format given or told from its content.
fn read_export(
    path: &Path,
    format: Option<&str>,
    time_column: Option<&str>,
) -> Result<Export, String> {
    let name = path.display().to_string();
    let text = super::read::read_text(path, super::read::MAX_INPUT_BYTES)
        .map_err(|e| format!("cannot read {name}: {e}"))?;
    let format = match format {
        None => Format::detect(&name, &text),
        Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some("openmetrics" | "text") => Format::Text,
        Some(other) => {
            return Err(format!(
                "format {other:?}: one of json (the HTTP API's or promtool's), csv, openmetrics"
            ));
        }
    };
    if time_column.is_some() && format != Format::Csv {
        return Err(format!("{name}: timeColumn applies to CSV exports only"));
    }
    prom_export::parse(&name, &text, format, time_column)
}

/// `p99` → 0.99, `p99.9` → 0.999, `0.5` → 0.5.
fn quantile_of(name: &str) -> Option<f64> {
    let q = match name.strip_prefix('p') {
        Some(percent) => percent.parse::<f64>().ok()? / 100.0,
        None => name.parse::<f64>().ok()?,
    };
    (q > 0.0 && q < 1.0).then_some(q)
}
