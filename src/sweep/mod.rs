//! Sweeps: many variants of one scenario — each the base scenario plus overrides — run with
//! replications on all cores, summarized per variant (mean and 95 % interval of each metric,
//! how often the constraints held), with the cost–latency Pareto frontier and the best feasible
//! variant by an objective.
//!
//! [`plan`] checks a [`SweepSpec`] against the base scenario and every variant (so a bad value
//! is reported before anything runs, at the place it was written) and fixes each variant's
//! seeds; [`run::run`] runs a plan's variants (all, or one shard's); [`run::conclude`] ranks
//! them. A variant's seeds derive from the base seed and the variant's own overrides — never
//! from its position — so any subset of a sweep, run anywhere in any order, gives the same
//! per-variant results, and each equals `kubesim run --seed S --set …` of that variant.

pub(crate) mod frontier;
pub mod job;
pub mod run;
pub mod shard;
pub(crate) mod stats;

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use crate::scenario::diag::{self, Diagnostic};
use crate::scenario::slo::{metric_name, parse_assertion, resolve_scope, scope_label};
use crate::scenario::sweep::{Direction, MetricRef, Origin, SweepSpec};
use crate::scenario::{
    LatencyStat, LoadOptions, Scenario, SloMetric, SloScope, SloSpec, load_scenario,
};
use crate::sim::rng::derive_seed;

/// A measured metric: a column of the sweep's results.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// `cost.total`, `service/web:latency.p99`, `deployment/web:replicas.mean`.
    pub label: String,
    /// What it is measured on: the cluster, or a Service or Deployment by its index in the base
    /// scenario.
    pub scope: SloScope,
    /// What is measured.
    pub metric: SloMetric,
}

/// One variant: a choice of step on every axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// Its place in the sweep's order (the last axis varies fastest).
    pub index: usize,
    /// `v003`: its index, zero-padded to the width of the count.
    pub id: String,
    /// Per axis, the index of the chosen step.
    pub steps: Vec<usize>,
    /// Per axis, the chosen values (several targets varied together: joined by `, `).
    pub values: Vec<String>,
    /// The overrides that make it, as `--set` takes them: the fixed ones, then the axes'.
    pub overrides: Vec<String>,
    /// Where each override's value was written.
    origins: Vec<Origin>,
    /// Where each override's target was written.
    target_origins: Vec<Origin>,
    /// One seed per replication.
    pub seeds: Vec<u64>,
}

/// A sweep checked against its base scenario, ready to run.
#[derive(Debug)]
pub struct Plan {
    /// The sweep's name: `metadata.name` of the sweep file, else `<scenario name>-sweep`.
    pub name: String,
    /// The sweep as read from its file and flags.
    pub spec: SweepSpec,
    /// The seed the replication seeds derive from: the sweep's, else the base scenario's
    /// `spec.seed`, else 1.
    pub base_seed: u64,
    /// The base scenario's warnings (once, not per variant).
    pub warnings: Vec<Diagnostic>,
    /// The metrics every replication measures: cost first ([`COST_COLUMN`]), the defaults, then
    /// any the constraints, objective or frontier add.
    pub columns: Vec<Column>,
    /// The constraints, resolved (the scenario's own SLOs when the sweep gives none).
    pub constraints: Vec<SloSpec>,
    /// Column of each constraint's metric.
    pub constraint_columns: Vec<usize>,
    /// The objective: its direction and column; minimize cost when the sweep names none.
    pub objective: (Direction, usize),
    /// Column of the latency the frontier is drawn against (cost is column 0).
    pub frontier: Option<usize>,
    /// Every variant, in sweep order (`variants[i].index == i`).
    pub variants: Vec<Variant>,
}

/// The column every plan starts with: what the frontier trades latency against.
pub const COST_COLUMN: usize = 0;

/// Checks the sweep against its base scenario and every variant; all problems are returned at
/// once, each at the place in the sweep (file or flag) that caused it.
pub fn plan(spec: SweepSpec) -> Result<Plan, Vec<Diagnostic>> {
    let fixed: Vec<String> = spec.fixed.iter().map(|f| f.assignment.clone()).collect();
    let fixed_origins: Vec<Origin> = spec.fixed.iter().map(|f| f.origin.clone()).collect();
    let base = load(&spec, &fixed, &fixed_origins, spec.seed)?;
    let mut diags = Vec::new();
    let mut columns = default_columns(&base);
    let constraints = constraints(&spec, &base, &mut diags);
    let constraint_columns = constraints
        .iter()
        .map(|c| column_of(&mut columns, &base, c.scope.clone(), c.metric))
        .collect();
    let objective = spec
        .objective
        .as_ref()
        .map_or(Some((Direction::Minimize, COST_COLUMN)), |o| {
            let scope = scope_of(&o.metric, &base, &mut diags)?;
            Some((
                o.direction,
                column_of(&mut columns, &base, scope, o.metric.metric),
            ))
        });
    let frontier = frontier_column(&spec, &base, &constraints, &mut columns, &mut diags);
    if !diags.is_empty() {
        diag::sort(&mut diags);
        return Err(diags);
    }
    let variants = variants(&spec, base.seed);
    check_variants(&spec, &base, &variants)?;
    Ok(Plan {
        name: spec
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-sweep", base.name)),
        base_seed: base.seed,
        warnings: base.warnings.clone(),
        columns,
        constraints,
        constraint_columns,
        objective: objective.expect("reported above"),
        frontier,
        variants,
        spec,
    })
}

/// Loads the scenario with `overrides`, giving its errors to the places the overrides came from.
fn load(
    spec: &SweepSpec,
    overrides: &[String],
    origins: &[Origin],
    seed: Option<u64>,
) -> Result<Scenario, Vec<Diagnostic>> {
    load_raw(spec, overrides, seed).map_err(|errors| {
        (errors.into_iter())
            .map(|(i, d)| i.map_or(d.clone(), |i| origins[i].adopt(&d)))
            .collect()
    })
}

/// Loads the scenario with `overrides`; each error comes with the index of the override it is
/// about, if any.
fn load_raw(
    spec: &SweepSpec,
    overrides: &[String],
    seed: Option<u64>,
) -> Result<Scenario, Vec<(Option<usize>, Diagnostic)>> {
    let options = LoadOptions {
        seed,
        overrides: overrides.to_vec(),
    };
    load_scenario(&spec.scenario, &options).map_err(|diags| {
        (diags.into_iter().filter(Diagnostic::is_error))
            .map(|d| {
                let i = overrides
                    .iter()
                    .position(|o| d.file == format!("--set {o}"));
                (i, d)
            })
            .collect()
    })
}

/// Cost, availability and failures of the cluster; latency and availability of each Service
/// with traffic; replicas of each Deployment an HPA scales.
fn default_columns(base: &Scenario) -> Vec<Column> {
    let mut columns = Vec::new();
    for metric in [
        SloMetric::CostTotal,
        SloMetric::Availability,
        SloMetric::RequestsFailed,
    ] {
        column_of(&mut columns, base, SloScope::Cluster, metric);
    }
    let latencies = [
        LatencyStat::P50,
        LatencyStat::P95,
        LatencyStat::P99,
        LatencyStat::P999,
    ];
    for (i, _) in base
        .services
        .iter()
        .enumerate()
        .filter(|(_, s)| s.traffic.is_some())
    {
        for stat in latencies {
            column_of(
                &mut columns,
                base,
                SloScope::Service(i),
                SloMetric::Latency(stat),
            );
        }
        column_of(
            &mut columns,
            base,
            SloScope::Service(i),
            SloMetric::Availability,
        );
    }
    let scaled: BTreeSet<usize> = base.hpas.iter().filter_map(|h| h.target).collect();
    for d in scaled {
        for metric in [SloMetric::ReplicasMean, SloMetric::ReplicasMax] {
            column_of(&mut columns, base, SloScope::Deployment(d), metric);
        }
    }
    columns
}

/// The column measuring `metric` on `scope`, added if new.
fn column_of(
    columns: &mut Vec<Column>,
    base: &Scenario,
    scope: SloScope,
    metric: SloMetric,
) -> usize {
    if let Some(i) = columns
        .iter()
        .position(|c| c.scope == scope && c.metric == metric)
    {
        return i;
    }
    let prefix = match &scope {
        SloScope::Service(i) => format!("service/{}:", base.services[*i].name),
        SloScope::Deployment(i) => format!("deployment/{}:", base.deployments[*i].name),
        SloScope::Cluster => String::new(),
    };
    columns.push(Column {
        label: format!("{prefix}{}", metric_name(metric)),
        scope,
        metric,
    });
    columns.len() - 1
}

fn scope_of(m: &MetricRef, base: &Scenario, diags: &mut Vec<Diagnostic>) -> Option<SloScope> {
    resolve_scope(
        m.metric,
        m.service.as_deref(),
        m.deployment.as_deref(),
        &base.services,
        &base.deployments,
    )
    .map_err(|e| diags.push(m.origin.error(field_message(e.field, e.message))))
    .ok()
}

fn field_message(field: Option<&str>, message: String) -> String {
    match field {
        Some(f) => format!("{f}: {message}"),
        None => message,
    }
}

/// The sweep's constraints resolved on the base scenario; none given: the scenario's SLOs.
fn constraints(spec: &SweepSpec, base: &Scenario, diags: &mut Vec<Diagnostic>) -> Vec<SloSpec> {
    if spec.constraints.is_empty() {
        return base.slos.clone();
    }
    let mut out = Vec::new();
    for c in &spec.constraints {
        let text = c.slo.assert.clone().unwrap_or_default();
        let Ok(a) = parse_assertion(&text) else {
            continue; // reported when the sweep was read
        };
        let scope = resolve_scope(
            a.metric,
            c.slo.service.as_deref(),
            c.slo.deployment.as_deref(),
            &base.services,
            &base.deployments,
        );
        match scope {
            Ok(scope) => out.push(SloSpec {
                name: format!(
                    "{}{text}",
                    scope_label(&scope, &base.services, &base.deployments)
                ),
                scope,
                metric: a.metric,
                comparison: a.comparison,
                threshold: a.threshold,
                text,
            }),
            Err(e) => diags.push(c.origin.error(field_message(e.field, e.message))),
        }
    }
    out
}

/// The latency column of the frontier: as given; else the objective's or the first latency
/// constraint's; else p99 of the first Service with traffic.
fn frontier_column(
    spec: &SweepSpec,
    base: &Scenario,
    constraints: &[SloSpec],
    columns: &mut Vec<Column>,
    diags: &mut Vec<Diagnostic>,
) -> Option<usize> {
    let is_latency = |m: SloMetric| matches!(m, SloMetric::Latency(_));
    if let Some(m) = &spec.frontier {
        let scope = scope_of(m, base, diags)?;
        return Some(column_of(columns, base, scope, m.metric));
    }
    if let Some(o) = spec
        .objective
        .as_ref()
        .filter(|o| is_latency(o.metric.metric))
    {
        let scope = scope_of(&o.metric, base, &mut Vec::new())?;
        return Some(column_of(columns, base, scope, o.metric.metric));
    }
    if let Some(c) = constraints.iter().find(|c| is_latency(c.metric)) {
        return Some(column_of(columns, base, c.scope.clone(), c.metric));
    }
    let service = base.services.iter().position(|s| s.traffic.is_some())?;
    let p99 = SloMetric::Latency(LatencyStat::P99);
    Some(column_of(columns, base, SloScope::Service(service), p99))
}

/// Every variant in order: the product of the axes, the last varying fastest.
fn variants(spec: &SweepSpec, base_seed: u64) -> Vec<Variant> {
    let count = spec.variant_count() as usize;
    let width = count.saturating_sub(1).to_string().len().max(2);
    (0..count)
        .map(|index| {
            let mut rest = index;
            let mut steps = vec![0; spec.axes.len()];
            for (a, axis) in spec.axes.iter().enumerate().rev() {
                steps[a] = rest % axis.steps.len();
                rest /= axis.steps.len();
            }
            variant(spec, index, &steps, width, base_seed)
        })
        .collect()
}

fn variant(
    spec: &SweepSpec,
    index: usize,
    steps: &[usize],
    width: usize,
    base_seed: u64,
) -> Variant {
    let mut overrides: Vec<String> = spec.fixed.iter().map(|f| f.assignment.clone()).collect();
    let mut origins: Vec<Origin> = spec.fixed.iter().map(|f| f.origin.clone()).collect();
    let mut target_origins = origins.clone();
    let mut values = Vec::new();
    for (axis, &k) in spec.axes.iter().zip(steps) {
        let chosen = &axis.steps[k];
        for ((target, v), at) in axis.targets.iter().zip(chosen).zip(&axis.target_origins) {
            overrides.push(format!("{target}={}", v.text));
            origins.push(v.origin.clone());
            target_origins.push(at.clone());
        }
        values.push(
            chosen
                .iter()
                .map(|v| v.text.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    let seeds = replication_seeds(base_seed, &overrides, spec.replications);
    Variant {
        index,
        id: format!("v{index:0width$}"),
        steps: steps.to_vec(),
        values,
        overrides,
        origins,
        target_origins,
        seeds,
    }
}

/// The seeds of a variant's replications: from the base seed and the variant's identity (its
/// overrides, in any order), never from its place in the sweep.
pub fn replication_seeds(base_seed: u64, overrides: &[String], replications: u32) -> Vec<u64> {
    let mut identity: Vec<&str> = overrides.iter().map(String::as_str).collect();
    identity.sort_unstable();
    let identity = identity.join("\n");
    (0..replications)
        .map(|r| derive_seed(base_seed, &format!("sweep\n{identity}\nreplication {r}")))
        .collect()
}

/// Loads every variant (in parallel) and reports, once each, the errors its overrides cause —
/// including overrides that add or remove Services or Deployments, which a sweep cannot compare.
fn check_variants(
    spec: &SweepSpec,
    base: &Scenario,
    variants: &[Variant],
) -> Result<(), Vec<Diagnostic>> {
    let names = |s: &Scenario| {
        let services = s.services.iter().map(|x| x.name.clone());
        let deployments = s.deployments.iter().map(|x| x.name.clone());
        (
            services.collect::<Vec<_>>(),
            deployments.collect::<Vec<_>>(),
        )
    };
    let base_names = names(base);
    let found: Vec<Found> = variants
        .par_iter()
        .flat_map_iter(|v| match load_raw(spec, &v.overrides, Some(v.seeds[0])) {
            Ok(s) if names(&s) == base_names => Vec::new(),
            Ok(_) => vec![Found::changed_objects(v)],
            Err(errors) => errors
                .into_iter()
                .map(|(i, d)| Found::of(v, i, d))
                .collect(),
        })
        .collect();
    match found.is_empty() {
        true => Ok(()),
        false => Err(Found::report(found)),
    }
}

/// An error found loading a variant, with the override it is about.
struct Found {
    /// Where the override's value and its target were written (`None`: about no override).
    origins: Option<(Origin, Origin)>,
    diag: Diagnostic,
}

impl Found {
    fn of(v: &Variant, i: Option<usize>, diag: Diagnostic) -> Found {
        let origins = i.map(|i| (v.origins[i].clone(), v.target_origins[i].clone()));
        Found { origins, diag }
    }

    fn changed_objects(v: &Variant) -> Found {
        let at = v
            .origins
            .last()
            .cloned()
            .unwrap_or(Origin::Flag("sweep".into()));
        let message = "this variant adds, removes or renames a Service or Deployment: a sweep compares settings of the same objects";
        Found {
            diag: at.error(message),
            origins: None,
        }
    }

    /// What is wrong, without where (the override's text includes its value).
    fn problem(&self) -> String {
        format!("{}: {}", self.diag.path, self.diag.message)
    }

    /// One diagnostic per problem: the same error for two or more values of a target is about
    /// the target (an object or field that does not exist) and is reported once, at the target.
    fn report(found: Vec<Found>) -> Vec<Diagnostic> {
        let mut values_per_error: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for f in &found {
            if let Some((value, target)) = &f.origins {
                let key = (format!("{target:?}"), f.problem());
                values_per_error
                    .entry(key)
                    .or_default()
                    .insert(format!("{value:?}"));
            }
        }
        let mut out: BTreeMap<String, Diagnostic> = BTreeMap::new();
        for f in found {
            let d = match &f.origins {
                Some((value, target)) => {
                    let key = (format!("{target:?}"), f.problem());
                    match values_per_error[&key].len() >= 2 {
                        true => target.adopt(&f.diag),
                        false => value.adopt(&f.diag),
                    }
                }
                None => f.diag,
            };
            out.insert(d.to_string(), d);
        }
        out.into_values().collect()
    }
}
