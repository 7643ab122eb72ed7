//! The sweep description: a base scenario, the axes to vary (each a list or range of values for
//! one override target, or for several targets varied together), replications, an objective
//! and constraints. Read here from a sweep file (`kind: Sweep`) and/or command-line flags, and
//! checked as far as it can be without the base scenario; the sweep runner (the `sweep` module,
//! above the engine) resolves the rest
//! (Services, Deployments, every variant's overrides) and runs it.
//!
//! ```yaml
//! apiVersion: kubesim.io/v1alpha1
//! kind: Sweep
//! metadata: {name: web-sizing}
//! spec:
//!   scenario: ../quickstart/scenario.yaml
//!   replications: 3
//!   axes:
//!     - set: hpa/web:spec.minReplicas
//!       values: [2, 3, 4]
//!     - set: hpa/web:spec.metrics[0].resource.target.averageUtilization
//!       range: {from: 50, to: 80, step: 10}
//!     - name: node type            # several targets varied together: one list per step
//!       set:
//!         - cluster.nodePools[0].instanceType
//!         - cluster.nodePools[0].pricePerHour
//!       values: [[m5.xlarge, 0.192], [c5.xlarge, 0.17]]
//!   objective: {minimize: cost.total}
//!   constraints:
//!     - {service: web, assert: latency.p99 <= 250ms}
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::decode_report::{UnknownFields, decode_reported};
use super::diag::{self, Diagnostic};
use super::model::SloMetric;
use super::overrides;
use super::raw::{RawMetadata, RawSlo};
use super::slo::{parse_assertion, parse_metric};
use super::validate::API_VERSION;
use super::yaml::{Node, Position, Value, parse_documents};

/// More variants than this is a mistake (or a job for several sweeps).
pub const MAX_VARIANTS: u64 = 100_000;
/// Replications of each variant, at most.
pub const MAX_REPLICATIONS: u32 = 1_000;
/// Values of one range, at most.
const MAX_RANGE_VALUES: u64 = 10_000;

/// Where part of a sweep was written, so that a problem found later (in a variant's scenario)
/// is reported there.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    /// A field of the sweep file.
    File {
        /// The sweep file, as its path was given.
        file: String,
        /// The field's path in the sweep document, e.g. `spec.axes[0].values[2]`.
        path: String,
        /// The line and column of that field, or of its nearest enclosing field the file has.
        position: Option<Position>,
    },
    /// A command-line flag, as typed (`--axis hpa/web:spec.minReplicas=[2,3]`).
    Flag(String),
}

impl Origin {
    /// An error about this part of the sweep.
    pub fn error(&self, message: impl Into<String>) -> Diagnostic {
        match self {
            Origin::File {
                file,
                path,
                position,
            } => Diagnostic::error(file, *position, path, message),
            Origin::Flag(flag) => Diagnostic::error(flag, None, "", message),
        }
    }

    /// This origin with a diagnostic's message (from loading a variant) put under it.
    pub fn adopt(&self, d: &Diagnostic) -> Diagnostic {
        let at = match d.path.is_empty() {
            true => String::new(),
            false => format!("{}: ", d.path),
        };
        Diagnostic {
            severity: d.severity,
            ..self.error(format!("{at}{}", d.message))
        }
    }
}

/// One value of an axis for one target, as override text (flow YAML).
#[derive(Clone, Debug, PartialEq)]
pub struct AxisValue {
    /// The value as override text in flow YAML (`4`, `m5.large`, `[a, b]`): what follows `=` in
    /// the variant's override.
    pub text: String,
    /// Where the value was written: its item of `values`, the axis' `range`, or the `--axis` flag.
    pub origin: Origin,
}

/// An axis: override targets varied together; `steps[k][t]` is target `t`'s value at step `k`.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// Its column name: `name:` if given, else the targets.
    pub name: String,
    /// `hpa/web:spec.minReplicas`, `duration`: the left side of a `--set`.
    pub targets: Vec<String>,
    /// Where each target was written.
    pub target_origins: Vec<Origin>,
    /// The steps in order (at least one), each with one value per target, in the order of
    /// `targets`.
    pub steps: Vec<Vec<AxisValue>>,
}

/// Whether the objective's metric is to be made small or large.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The best feasible variant has the lowest mean (`minimize:`, `--minimize`).
    Minimize,
    /// The best feasible variant has the highest mean (`maximize:`, `--maximize`).
    Maximize,
}

impl Direction {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Direction::Minimize => "minimize",
            Direction::Maximize => "maximize",
        }
    }
}

/// A metric on a named Service or Deployment (or the cluster, or the only candidate).
#[derive(Clone, Debug, PartialEq)]
pub struct MetricRef {
    /// What is measured (`latency.p99`, `cost.total`, …).
    pub metric: SloMetric,
    /// The Service it is measured on: the `service:` key, or a `service/NAME:` (`svc/`) prefix.
    /// Both `None`: the cluster, or the only Service or Deployment the metric can be measured on.
    pub service: Option<String>,
    /// The Deployment it is measured on: the `deployment:` key, or a `deployment/NAME:` (`deploy/`)
    /// prefix.
    pub deployment: Option<String>,
    /// Where the metric was named: a field of the sweep file, or a flag.
    pub origin: Origin,
}

/// What the best feasible variant is chosen by: `spec.objective`, `--minimize` or `--maximize`.
#[derive(Clone, Debug, PartialEq)]
pub struct Objective {
    /// Minimize or maximize.
    pub direction: Direction,
    /// The metric whose mean over a variant's replications is compared.
    pub metric: MetricRef,
}

/// A constraint: an SLO entry (`assert` with an optional `service`/`deployment`).
#[derive(Clone, Debug)]
pub struct Constraint {
    /// The entry as written: its `assert` (checked to parse) and the optional `service`,
    /// `deployment` and `name` (a flag gives no name).
    pub slo: RawSlo,
    /// Where it was written: `spec.constraints[i]` of the sweep file, or a `--constraint` flag.
    pub origin: Origin,
}

/// A fixed override applied to every variant.
#[derive(Clone, Debug, PartialEq)]
pub struct Fixed {
    /// The override as `--set` takes it, `TARGET=VALUE` (checked to parse).
    pub assignment: String,
    /// Where it was written: `spec.set[i]` of the sweep file, or a `--set` flag.
    pub origin: Origin,
}

/// Everything a sweep needs, before the base scenario is read.
#[derive(Clone, Debug)]
pub struct SweepSpec {
    /// `metadata.name` of the sweep file.
    pub name: Option<String>,
    /// The base scenario file: `spec.scenario` joined to the sweep file's folder, or for a sweep
    /// by flags alone the scenario file given.
    pub scenario: PathBuf,
    /// Base seed (else the scenario's `spec.seed`).
    pub seed: Option<u64>,
    /// Runs of each variant, 1 to [`MAX_REPLICATIONS`]: `--replications`, else `spec.replications`,
    /// else 1.
    pub replications: u32,
    /// Overrides every variant gets before its axes' values: `spec.set`, then the `--set` flags.
    pub fixed: Vec<Fixed>,
    /// The axes in order (`spec.axes`, then the `--axis` flags); the last varies fastest. Empty:
    /// the sweep has one variant.
    pub axes: Vec<Axis>,
    /// `--minimize`/`--maximize`, else `spec.objective`; `None`: minimize the cluster's
    /// `cost.total`.
    pub objective: Option<Objective>,
    /// Empty: the scenario's own SLOs are the constraints.
    pub constraints: Vec<Constraint>,
    /// The latency the cost–latency frontier is drawn against (else chosen from the rest).
    pub frontier: Option<MetricRef>,
}

impl SweepSpec {
    /// Variants: the product of the axes' lengths.
    pub fn variant_count(&self) -> u64 {
        self.axes
            .iter()
            .map(|a| a.steps.len() as u64)
            .fold(1u64, u64::saturating_mul)
    }
}

/// The sweep as given by flags (added to a sweep file's, or alone with a scenario file). Kept
/// in a shard's output, so that merging can rebuild the same sweep.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepFlags {
    /// `--axis`, as typed: `TARGET=VALUES` (see [`axis_flag`]).
    pub axes: Vec<String>,
    /// `--set`: overrides for every variant, `[KIND/NAME:]PATH=VALUE`.
    pub set: Vec<String>,
    /// `--seed`: the base seed, in place of the sweep file's.
    pub seed: Option<u64>,
    /// `--replications`: runs per variant, in place of the sweep file's.
    pub replications: Option<u32>,
    /// `--minimize`: the objective's metric, `[SCOPE:]METRIC` (see [`metric_flag`]).
    pub minimize: Option<String>,
    /// `--maximize`: the objective's metric, to maximize.
    pub maximize: Option<String>,
    /// `--constraint`: `[SCOPE:]ASSERTION`s, added to the sweep file's constraints.
    pub constraints: Vec<String>,
    /// `--frontier`: the latency the frontier is drawn against, `[SCOPE:]LATENCY`.
    pub frontier: Option<String>,
}

// ---- the file ---------------------------------------------------------------------------------

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSweepFile {
    api_version: Option<String>,
    #[allow(dead_code)] // read from the node: which document is the sweep
    kind: Option<String>,
    metadata: Option<RawMetadata>,
    spec: Option<RawSweepSpec>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSweepSpec {
    scenario: Option<String>,
    seed: Option<u64>,
    replications: Option<u32>,
    #[serde(default)]
    set: Vec<String>,
    #[serde(default)]
    axes: Vec<RawAxis>,
    objective: Option<RawObjective>,
    #[serde(default)]
    constraints: Vec<RawSlo>,
    frontier: Option<RawMetricRef>,
}

/// Shapes only: `set` and `values` are read from the document itself (any YAML, with places).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct RawAxis {
    name: Option<String>,
    set: Option<serde_json::Value>,
    values: Option<Vec<serde_json::Value>>,
    range: Option<RawRange>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRange {
    from: Option<f64>,
    to: Option<f64>,
    step: Option<f64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawObjective {
    minimize: Option<String>,
    maximize: Option<String>,
    service: Option<String>,
    deployment: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMetricRef {
    metric: Option<String>,
    service: Option<String>,
    deployment: Option<String>,
}

/// The sweep a file describes with the flags: the file is a sweep file (`kind: Sweep`) or the
/// base scenario itself.
pub fn load_any(file: &Path, flags: &SweepFlags) -> Result<SweepSpec, Vec<Diagnostic>> {
    match super::read::read_text(file, super::read::MAX_INPUT_BYTES) {
        Ok(text) if is_sweep_file(&text) => load_sweep(file, flags),
        // A scenario (or an unreadable file, which loading the scenario explains).
        _ => sweep_from_flags(file, flags),
    }
}

/// Reads a JSON file kubesim wrote (a sweep shard's results), saying what is wrong in terms of
/// `what` it should be.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T, Diagnostic> {
    let file = path.display().to_string();
    let cannot =
        |why: String| Diagnostic::error(&file, None, "", format!("cannot read {what}: {why}"));
    // A FIFO would block for ever, and a huge file would be read whole: neither is kubesim's.
    let meta = std::fs::metadata(path).map_err(|e| cannot(e.to_string()))?;
    if !meta.is_file() {
        return Err(cannot("it is not a regular file".into()));
    }
    if meta.len() > MAX_JSON_BYTES {
        let why = format!(
            "{} bytes, more than kubesim writes ({MAX_JSON_BYTES})",
            meta.len()
        );
        return Err(cannot(why));
    }
    let text = std::fs::read_to_string(path).map_err(|e| cannot(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| {
        let at = Position {
            line: e.line() as u32,
            column: e.column() as u32,
        };
        Diagnostic::error(&file, Some(at), "", format!("not {what}: {e}"))
    })
}

/// The largest JSON file kubesim reads back (a shard of a sweep of a million variants is well
/// below it).
pub const MAX_JSON_BYTES: u64 = 1 << 30;

/// Whether `text` holds a `kind: Sweep` document.
pub fn is_sweep_file(text: &str) -> bool {
    parse_documents(text).is_ok_and(|docs| docs.iter().any(|d| kind_of(d) == Some("Sweep")))
}

fn kind_of(doc: &Node) -> Option<&str> {
    doc.get("kind").and_then(Node::as_str)
}

/// Reads a sweep file and adds the flags to it.
pub fn load_sweep(path: &Path, flags: &SweepFlags) -> Result<SweepSpec, Vec<Diagnostic>> {
    let file = path.display().to_string();
    let text = super::read::read_text(path, super::read::MAX_INPUT_BYTES).map_err(|e| {
        vec![Diagnostic::error(
            &file,
            None,
            "",
            format!("cannot read: {e}"),
        )]
    })?;
    let docs = parse_documents(&text).map_err(|e| {
        vec![Diagnostic::error(
            &file,
            e.position,
            "",
            format!("invalid YAML: {}", e.message),
        )]
    })?;
    let mut sweeps = docs.iter().filter(|d| kind_of(d) == Some("Sweep"));
    let Some(node) = sweeps.next() else {
        let at = docs.first().map(|d| d.position);
        return Err(vec![Diagnostic::error(
            &file,
            at,
            "kind",
            "no `kind: Sweep` document in this file",
        )]);
    };
    if let Some(second) = sweeps.next() {
        return Err(vec![Diagnostic::error(
            &file,
            Some(second.position),
            "kind",
            "a second `kind: Sweep` document: a file holds one sweep",
        )]);
    }
    let mut reader = FileReader {
        file: &file,
        node,
        dir: path.parent().unwrap_or(Path::new("")),
        diags: Vec::new(),
    };
    let spec = reader.read();
    let mut diags = reader.diags;
    let spec = spec.and_then(|mut spec| add_flags(&mut spec, flags, &mut diags).then_some(spec));
    finish(spec, diags)
}

/// A sweep of `scenario` described by flags alone.
pub fn sweep_from_flags(scenario: &Path, flags: &SweepFlags) -> Result<SweepSpec, Vec<Diagnostic>> {
    let mut spec = SweepSpec {
        name: None,
        scenario: scenario.to_path_buf(),
        seed: None,
        replications: 1,
        fixed: Vec::new(),
        axes: Vec::new(),
        objective: None,
        constraints: Vec::new(),
        frontier: None,
    };
    let mut diags = Vec::new();
    add_flags(&mut spec, flags, &mut diags);
    finish(Some(spec), diags)
}

fn finish(
    spec: Option<SweepSpec>,
    mut diags: Vec<Diagnostic>,
) -> Result<SweepSpec, Vec<Diagnostic>> {
    if let Some(spec) = &spec {
        check_size(spec, &mut diags);
        check_distinct_axes(spec, &mut diags);
    }
    diag::sort(&mut diags);
    match spec {
        Some(spec) if !diags.iter().any(Diagnostic::is_error) => Ok(spec),
        _ => Err(diags),
    }
}

/// Each target is varied by one axis (a later one would silently override the earlier in every
/// variant), and each axis has a column name of its own (`sweep.csv` would get two alike).
fn check_distinct_axes(spec: &SweepSpec, diags: &mut Vec<Diagnostic>) {
    for (i, axis) in spec.axes.iter().enumerate() {
        let earlier = &spec.axes[..i];
        let before = diags.len();
        for (target, origin) in axis.targets.iter().zip(&axis.target_origins) {
            if earlier.iter().any(|a| a.targets.contains(target)) {
                let message = format!(
                    "{target} is varied by an earlier axis already: vary it once (join targets varied together into one axis)"
                );
                diags.push(origin.error(message));
            }
        }
        let named_alike = earlier.iter().find(|a| a.name == axis.name);
        if let (Some(first), true) = (named_alike, diags.len() == before) {
            let origin = axis.target_origins.first();
            let message = format!(
                "the axis name {:?} is taken by an earlier axis ({}): name each axis apart",
                axis.name,
                first.targets.join(", ")
            );
            diags.push(match origin {
                Some(o) => o.error(message),
                None => Diagnostic::error("sweep", None, "", message),
            });
        }
    }
}

fn check_size(spec: &SweepSpec, diags: &mut Vec<Diagnostic>) {
    let count = spec.variant_count();
    if count > MAX_VARIANTS {
        let at = spec
            .axes
            .last()
            .and_then(|a| a.steps.first())
            .map(|s| &s[0].origin);
        let message = format!(
            "the axes make {count} variants, more than {MAX_VARIANTS}: split the sweep (or shard it)"
        );
        diags.push(match at {
            Some(origin) => origin.error(message),
            None => Diagnostic::error("sweep", None, "", message),
        });
    }
}

struct FileReader<'a> {
    file: &'a str,
    node: &'a Node,
    dir: &'a Path,
    diags: Vec<Diagnostic>,
}

impl FileReader<'_> {
    fn origin(&self, path: &str) -> Origin {
        Origin::File {
            file: self.file.to_string(),
            path: path.to_string(),
            position: Some(self.node.nearest_position(path)),
        }
    }

    fn error(&mut self, path: &str, message: impl Into<String>) {
        let d = self.origin(path).error(message);
        self.diags.push(d);
    }

    fn read(&mut self) -> Option<SweepSpec> {
        let raw = decode_reported::<RawSweepFile>(
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
            self.error("spec", "a Sweep needs a spec");
            return None;
        };
        let Some(scenario) = spec.scenario.as_deref() else {
            self.error(
                "spec.scenario",
                "required: the base scenario file, relative to this file",
            );
            return None;
        };
        let replications = self.replications(spec.replications);
        let fixed = (spec.set.iter().enumerate())
            .filter_map(|(i, a)| self.fixed(a, &format!("spec.set[{i}]")))
            .collect();
        let axes = (0..spec.axes.len())
            .filter_map(|i| self.axis(&spec.axes[i], &format!("spec.axes[{i}]")))
            .collect();
        let objective = spec.objective.as_ref().and_then(|o| self.objective(o));
        let constraints = (spec.constraints.iter().enumerate())
            .filter_map(|(i, c)| self.constraint(c, &format!("spec.constraints[{i}]")))
            .collect();
        let frontier = spec.frontier.as_ref().and_then(|f| self.frontier(f));
        Some(SweepSpec {
            name: raw.metadata.and_then(|m| m.name),
            scenario: self.dir.join(scenario),
            seed: spec.seed,
            replications,
            fixed,
            axes,
            objective,
            constraints,
            frontier,
        })
    }

    fn replications(&mut self, n: Option<u32>) -> u32 {
        let n = n.unwrap_or(1);
        if !(1..=MAX_REPLICATIONS).contains(&n) {
            self.error(
                "spec.replications",
                format!("must be 1 to {MAX_REPLICATIONS}"),
            );
        }
        n.clamp(1, MAX_REPLICATIONS)
    }

    fn fixed(&mut self, assignment: &str, path: &str) -> Option<Fixed> {
        let origin = self.origin(path);
        match overrides::parse(assignment) {
            Ok(_) => Some(Fixed {
                assignment: assignment.to_string(),
                origin,
            }),
            Err(e) => {
                self.diags.push(origin.error(e));
                None
            }
        }
    }

    fn axis(&mut self, raw: &RawAxis, path: &str) -> Option<Axis> {
        let (targets, target_origins): (Vec<String>, Vec<Origin>) =
            self.targets(path)?.into_iter().unzip();
        let steps = match (raw.values.is_some(), raw.range) {
            (true, None) => self.value_steps(path, targets.len())?,
            (false, Some(range)) if targets.len() == 1 => {
                let origin = self.origin(&format!("{path}.range"));
                match range_values(range.from, range.to, range.step) {
                    Ok(texts) => texts
                        .into_iter()
                        .map(|text| {
                            vec![AxisValue {
                                text,
                                origin: origin.clone(),
                            }]
                        })
                        .collect(),
                    Err(e) => {
                        self.diags.push(origin.error(e));
                        return None;
                    }
                }
            }
            (false, Some(_)) => {
                self.error(&format!("{path}.range"), "a range varies one target: give `values` (one list per step) to vary several together");
                return None;
            }
            _ => {
                self.error(
                    path,
                    "give `values: [...]` or `range: {from, to, step}`, not both",
                );
                return None;
            }
        };
        let name = raw.name.clone().unwrap_or_else(|| targets.join(" & "));
        Some(Axis {
            name,
            targets,
            target_origins,
            steps,
        })
    }

    /// `set:` as one target or a list of targets, each checked as the left side of a `--set`,
    /// with where each was written.
    fn targets(&mut self, path: &str) -> Option<Vec<(String, Origin)>> {
        let set_path = format!("{path}.set");
        let node = self.node.lookup(&set_path);
        let targets: Vec<(String, String)> = match node.map(|n| &n.value) {
            Some(Value::String(s)) => vec![(s.clone(), set_path.clone())],
            Some(Value::Seq(items)) if !items.is_empty() => items
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    (
                        n.as_str().unwrap_or_default().to_string(),
                        format!("{set_path}[{i}]"),
                    )
                })
                .collect(),
            _ => {
                self.error(&set_path, "required: the override target (e.g. hpa/web:spec.minReplicas), or a list of targets varied together");
                return None;
            }
        };
        let mut ok = true;
        for (target, at) in &targets {
            if let Err(e) = check_target(target) {
                self.error(at, e);
                ok = false;
            }
        }
        ok.then(|| {
            targets
                .into_iter()
                .map(|(t, at)| (t, self.origin(&at)))
                .collect()
        })
    }

    /// `values:` — one value per step, or (several targets) one list of values per step.
    fn value_steps(&mut self, path: &str, targets: usize) -> Option<Vec<Vec<AxisValue>>> {
        let values_path = format!("{path}.values");
        let Some(Value::Seq(items)) = self.node.lookup(&values_path).map(|n| &n.value) else {
            return None; // a type error already reported by decoding
        };
        if items.is_empty() {
            self.error(&values_path, "an axis needs at least one value");
            return None;
        }
        let mut steps = Vec::new();
        for (k, item) in items.iter().enumerate() {
            let at = format!("{values_path}[{k}]");
            let values: Vec<(&Node, String)> = match (&item.value, targets) {
                (_, 1) => vec![(item, at)],
                (Value::Seq(tuple), n) if tuple.len() == n => tuple
                    .iter()
                    .enumerate()
                    .map(|(t, node)| (node, format!("{at}[{t}]")))
                    .collect(),
                _ => {
                    self.error(&at, format!("{targets} targets are varied together: each step is a list of {targets} values, one per target"));
                    return None;
                }
            };
            steps.push(
                values
                    .into_iter()
                    .map(|(node, at)| AxisValue {
                        text: node.value.to_flow(),
                        origin: self.origin(&at),
                    })
                    .collect(),
            );
        }
        Some(steps)
    }

    fn objective(&mut self, raw: &RawObjective) -> Option<Objective> {
        let (direction, name, field) = match (&raw.minimize, &raw.maximize) {
            (Some(m), None) => (Direction::Minimize, m, "minimize"),
            (None, Some(m)) => (Direction::Maximize, m, "maximize"),
            _ => {
                self.error(
                    "spec.objective",
                    "give one of `minimize: METRIC` or `maximize: METRIC`",
                );
                return None;
            }
        };
        let path = format!("spec.objective.{field}");
        let metric = self.metric(name, &path, raw.service.clone(), raw.deployment.clone())?;
        Some(Objective { direction, metric })
    }

    fn frontier(&mut self, raw: &RawMetricRef) -> Option<MetricRef> {
        let Some(name) = &raw.metric else {
            self.error(
                "spec.frontier.metric",
                "required: a latency metric such as latency.p99",
            );
            return None;
        };
        let m = self.metric(
            name,
            "spec.frontier.metric",
            raw.service.clone(),
            raw.deployment.clone(),
        )?;
        if let Err(e) = check_frontier(&m) {
            self.error("spec.frontier.metric", e);
            return None;
        }
        Some(m)
    }

    fn metric(
        &mut self,
        name: &str,
        path: &str,
        service: Option<String>,
        deployment: Option<String>,
    ) -> Option<MetricRef> {
        match parse_metric(name) {
            Ok(metric) => Some(MetricRef {
                metric,
                service,
                deployment,
                origin: self.origin(path),
            }),
            Err(e) => {
                self.error(path, e);
                None
            }
        }
    }

    fn constraint(&mut self, raw: &RawSlo, path: &str) -> Option<Constraint> {
        let Some(text) = &raw.assert else {
            self.error(
                &format!("{path}.assert"),
                "required, e.g. `latency.p99 <= 250ms`",
            );
            return None;
        };
        if let Err(e) = parse_assertion(text) {
            self.error(&format!("{path}.assert"), e);
            return None;
        }
        Some(Constraint {
            slo: raw.clone(),
            origin: self.origin(path),
        })
    }
}

/// Checks the left side of an override (`hpa/web:spec.minReplicas`, `duration`).
fn check_target(target: &str) -> Result<(), String> {
    if target.contains('=') {
        return Err(format!(
            "{target:?}: a target is the part before `=`; its values go in `values` or `range`"
        ));
    }
    overrides::parse(&format!("{target}=0")).map(|_| ())
}

fn check_frontier(m: &MetricRef) -> Result<(), String> {
    match m.metric {
        SloMetric::Latency(_) => Ok(()),
        _ => Err("the frontier is cost against a latency: give latency.p50 … latency.max".into()),
    }
}

/// The values of an inclusive numeric range, as override text: integers when every bound is
/// whole, else decimals (rounded to 9 places, so 0.1 steps do not print 0.30000000000000004).
fn range_values(
    from: Option<f64>,
    to: Option<f64>,
    step: Option<f64>,
) -> Result<Vec<String>, String> {
    let (Some(from), Some(to)) = (from, to) else {
        return Err("a range needs `from` and `to` (and optionally `step`, default 1)".into());
    };
    let step = step.unwrap_or(1.0);
    if !(from.is_finite() && to.is_finite() && step.is_finite()) || step <= 0.0 {
        return Err("from, to and step must be numbers, with step > 0".into());
    }
    if to < from {
        return Err(format!("`to` ({to}) is below `from` ({from})"));
    }
    // Counted in floating point first: a count of 2^64 or more must not wrap to 0.
    let steps = ((to - from) / step + 1e-9).floor();
    if steps + 1.0 > MAX_RANGE_VALUES as f64 {
        return Err(format!(
            "the range has {} values, more than {MAX_RANGE_VALUES}",
            super::validate::shown_number(steps + 1.0)
        ));
    }
    let count = steps as u64 + 1;
    let whole = [from, to, step]
        .iter()
        .all(|x| x.fract() == 0.0 && x.abs() < 9e15);
    Ok((0..count)
        .map(|k| {
            let v = from + k as f64 * step;
            match whole {
                true => format!("{}", v as i64),
                false => Value::Float((v * 1e9).round() / 1e9).to_flow(),
            }
        })
        .collect())
}

// ---- flags -------------------------------------------------------------------------------------

/// Adds the flags to a spec; false when one of them is wrong (reported).
fn add_flags(spec: &mut SweepSpec, flags: &SweepFlags, diags: &mut Vec<Diagnostic>) -> bool {
    let before = diags.len();
    for a in &flags.set {
        let origin = Origin::Flag(format!("--set {a}"));
        match overrides::parse(a) {
            Ok(_) => spec.fixed.push(Fixed {
                assignment: a.clone(),
                origin,
            }),
            Err(e) => diags.push(origin.error(e)),
        }
    }
    for text in &flags.axes {
        match axis_flag(text) {
            Ok(axis) => spec.axes.push(axis),
            Err(e) => diags.push(Origin::Flag(format!("--axis {text}")).error(e)),
        }
    }
    if let Some(seed) = flags.seed {
        spec.seed = Some(seed);
    }
    if let Some(n) = flags.replications {
        if (1..=MAX_REPLICATIONS).contains(&n) {
            spec.replications = n;
        } else {
            diags.push(
                Origin::Flag(format!("--replications {n}"))
                    .error(format!("must be 1 to {MAX_REPLICATIONS}")),
            );
        }
    }
    let objectives = [
        (Direction::Minimize, "--minimize", &flags.minimize),
        (Direction::Maximize, "--maximize", &flags.maximize),
    ];
    for (direction, flag, text) in objectives {
        if let Some(text) = text {
            match metric_flag(flag, text) {
                Ok(metric) => spec.objective = Some(Objective { direction, metric }),
                Err(d) => diags.push(d),
            }
        }
    }
    for text in &flags.constraints {
        match constraint_flag(text) {
            Ok(c) => spec.constraints.push(c),
            Err(d) => diags.push(d),
        }
    }
    if let Some(text) = &flags.frontier {
        match metric_flag("--frontier", text) {
            Ok(m) => match check_frontier(&m) {
                Ok(()) => spec.frontier = Some(m),
                Err(e) => diags.push(m.origin.error(e)),
            },
            Err(d) => diags.push(d),
        }
    }
    diags.len() == before
}

/// `TARGET=VALUES`, or several joined by `;` (varied together). VALUES: a YAML list `[a, b]`,
/// a range `FROM..TO` or `FROM..TO:STEP`, or one value.
pub fn axis_flag(text: &str) -> Result<Axis, String> {
    let origin = Origin::Flag(format!("--axis {text}"));
    let mut targets = Vec::new();
    let mut columns: Vec<Vec<String>> = Vec::new();
    for part in split_top_level(text, ';') {
        let (target, values) = part.split_once('=').ok_or_else(|| {
            format!(
                "{part:?} is not TARGET=VALUES (e.g. hpa/web:spec.minReplicas=[2, 4, 6] or …=2..6)"
            )
        })?;
        let target = target.trim();
        check_target(target)?;
        targets.push(target.to_string());
        columns.push(flag_values(values.trim())?);
    }
    let steps = columns[0].len();
    if columns.iter().any(|c| c.len() != steps) {
        return Err("targets varied together (joined by ;) need as many values each".into());
    }
    Ok(Axis {
        name: targets.join(" & "),
        target_origins: vec![origin.clone(); targets.len()],
        steps: (0..steps)
            .map(|k| {
                columns
                    .iter()
                    .map(|c| AxisValue {
                        text: c[k].clone(),
                        origin: origin.clone(),
                    })
                    .collect()
            })
            .collect(),
        targets,
    })
}

fn flag_values(text: &str) -> Result<Vec<String>, String> {
    if let Some((from, rest)) = text.split_once("..") {
        let (to, step) = match rest.split_once(':') {
            Some((to, step)) => (to, Some(step)),
            None => (rest, None),
        };
        let number = |s: &str| {
            s.trim().parse::<f64>().map_err(|_| {
                format!("{text:?}: a range is FROM..TO or FROM..TO:STEP, with numbers")
            })
        };
        let step = step.map(number).transpose()?;
        return range_values(Some(number(from)?), Some(number(to)?), step);
    }
    let node = parse_documents(&format!("v: {text}"))
        .ok()
        .and_then(|docs| docs.into_iter().next())
        .and_then(|d| d.get("v").cloned())
        .ok_or_else(|| format!("{text:?} is not a YAML value"))?;
    match node.value {
        Value::Seq(items) if items.is_empty() => Err("an axis needs at least one value".into()),
        Value::Seq(items) => Ok(items.iter().map(|n| n.value.to_flow()).collect()),
        other => Ok(vec![other.to_flow()]),
    }
}

/// Splits at `sep` outside brackets, braces and quotes.
fn split_top_level(text: &str, sep: char) -> Vec<&str> {
    let (mut depth, mut quote, mut start) = (0i32, None, 0);
    let mut parts = Vec::new();
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, c) if c == sep && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// `[service/NAME:|deployment/NAME:]METRIC`, e.g. `service/web:latency.p99`, `cost.total`.
pub fn metric_flag(flag: &str, text: &str) -> Result<MetricRef, Diagnostic> {
    let origin = Origin::Flag(format!("{flag} {text}"));
    let (service, deployment, rest) = scope_prefix(text).map_err(|e| origin.error(e))?;
    let metric = parse_metric(rest.trim()).map_err(|e| origin.error(e))?;
    Ok(MetricRef {
        metric,
        service,
        deployment,
        origin,
    })
}

fn constraint_flag(text: &str) -> Result<Constraint, Diagnostic> {
    let origin = Origin::Flag(format!("--constraint {text}"));
    let (service, deployment, rest) = scope_prefix(text).map_err(|e| origin.error(e))?;
    parse_assertion(rest.trim()).map_err(|e| origin.error(e))?;
    let slo = RawSlo {
        name: None,
        service,
        deployment,
        assert: Some(rest.trim().to_string()),
    };
    Ok(Constraint { slo, origin })
}

type Scoped<'a> = (Option<String>, Option<String>, &'a str);

/// Splits `service/NAME:` or `deployment/NAME:` (kubectl short names too) off the front.
fn scope_prefix(text: &str) -> Result<Scoped<'_>, String> {
    let Some((head, rest)) = text.split_once(':') else {
        return Ok((None, None, text));
    };
    let Some((kind, name)) = head.trim().split_once('/') else {
        return Ok((None, None, text));
    };
    let name = Some(name.trim().to_string());
    match kind.trim().to_ascii_lowercase().as_str() {
        "service" | "svc" => Ok((name, None, rest)),
        "deployment" | "deploy" => Ok((None, name, rest)),
        other => Err(format!(
            "{other:?}: a metric is measured on service/NAME or deployment/NAME (or the cluster, with no prefix)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_inclusive_and_print_as_typed() {
        let r = |f, t, s| range_values(Some(f), Some(t), s).unwrap();
        assert_eq!(r(50.0, 80.0, Some(10.0)), ["50", "60", "70", "80"]);
        assert_eq!(r(2.0, 4.0, None), ["2", "3", "4"]);
        // 0.1 + 2 × 0.1 is 0.30000000000000004 in binary floating point: printed 0.3.
        assert_eq!(r(0.1, 0.3, Some(0.1)), ["0.1", "0.2", "0.3"]);
        // 1 to 2 by 0.4: 1, 1.4, 1.8 (2.2 is past the end).
        assert_eq!(r(1.0, 2.0, Some(0.4)), ["1.0", "1.4", "1.8"]);
        assert!(range_values(Some(3.0), Some(1.0), None).is_err());
        assert!(range_values(Some(1.0), Some(3.0), Some(0.0)).is_err());
        assert!(range_values(Some(0.0), Some(1e9), Some(1.0)).is_err());
    }

    #[test]
    fn axis_flags_give_lists_ranges_and_targets_varied_together() {
        let a = axis_flag("hpa/web:spec.minReplicas=[2, 4]").unwrap();
        assert_eq!(a.targets, ["hpa/web:spec.minReplicas"]);
        let texts: Vec<&str> = a.steps.iter().map(|s| s[0].text.as_str()).collect();
        assert_eq!(texts, ["2", "4"]);
        let a = axis_flag("duration=10m..30m").unwrap_err();
        assert!(a.contains("with numbers"), "{a}");
        let a = axis_flag("workloads[0].concurrency=4..8:2").unwrap();
        assert_eq!(a.steps.len(), 3);
        let a = axis_flag("cluster.nodePools[0].instanceType=[a, b]; cluster.nodePools[0].pricePerHour=[0.1, 0.2]").unwrap();
        assert_eq!(a.targets.len(), 2);
        assert_eq!(a.steps[1][0].text, "b");
        assert_eq!(a.steps[1][1].text, "0.2");
        assert!(
            axis_flag("x=[1, 2]; y=[1]")
                .unwrap_err()
                .contains("as many values")
        );
        assert!(axis_flag("x=[]").unwrap_err().contains("at least one"));
        assert!(
            axis_flag("hpa/web:=[1]")
                .unwrap_err()
                .contains("not a field path")
        );
    }

    #[test]
    fn metric_flags_take_a_scope_prefix() {
        let m = metric_flag("--minimize", "service/web:latency.p99").unwrap();
        assert_eq!(m.service.as_deref(), Some("web"));
        let m = metric_flag("--minimize", "cost.total").unwrap();
        assert_eq!((m.service, m.deployment), (None, None));
        let m = metric_flag("--minimize", "deploy/web:replicas.mean").unwrap();
        assert_eq!(m.deployment.as_deref(), Some("web"));
        let e = metric_flag("--minimize", "pod/web:latency.p99").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--minimize pod/web:latency.p99: "),
            "{e}"
        );
        assert!(metric_flag("--minimize", "latncy.p99").is_err());
    }
}
