//! Running a plan's variants — every replication a job, the jobs spread over all cores by rayon
//! — and concluding: which variants meet the constraints, which are on the frontier, which is
//! best. Results are put in variant order whatever order the jobs finished in, and every sum is
//! taken in replication order, so the numbers are the same on any number of threads.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::stats::Stat;
use super::{COST_COLUMN, Plan, Variant, frontier};
use crate::engine::{self, DiscardRecords, Records, RunOutput};
use crate::metrics::slo::{holds, metric_value};
use crate::scenario::{LoadOptions, Scenario, load_scenario};

/// One variant's results over its replications.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantRow {
    /// The variant's index in the sweep ([`Variant::index`]).
    pub index: usize,
    /// The variant's id, `v03`.
    pub id: String,
    /// Per axis, the chosen values.
    pub values: Vec<String>,
    /// The `--set`s that make it.
    pub overrides: Vec<String>,
    /// One seed per replication, in replication order.
    pub seeds: Vec<u64>,
    /// Per column of the plan.
    pub metrics: Vec<Stat>,
    /// The fraction of replications in which every constraint held.
    pub slo_pass_rate: f64,
    /// Replications that could not be run, and why.
    pub errors: Vec<String>,
}

/// One replication of one variant.
pub struct Job<'a> {
    /// The variant it runs.
    pub variant: &'a Variant,
    /// Which of the variant's replications, counted from 0.
    pub replication: usize,
    /// Its seed: the variant's `seeds[replication]`.
    pub seed: u64,
}

impl Job<'_> {
    /// `v03-r1`: the name of its run directory when runs are kept.
    pub fn name(&self) -> String {
        kept_run_name(&self.variant.id, self.replication)
    }
}

/// `v03-r1`: the run directory of replication 1 of variant `v03`, when runs are kept.
pub fn kept_run_name(variant: &str, replication: usize) -> String {
    format!("{variant}-r{replication}")
}

/// Called with each finished replication (on a worker thread), e.g. to keep its run directory.
pub type Keep<'a> = dyn Fn(&Job, &Scenario, &RunOutput) -> Result<(), String> + Sync + 'a;

/// A replication's measurements.
struct Measured {
    values: Vec<Option<f64>>,
    passed: bool,
    error: Option<String>,
}

/// Runs the replications of the variants at `indices` on all cores; `done` is called after each
/// replication. Rows come back in the order of `indices`.
pub fn run(
    plan: &Plan,
    indices: &[usize],
    keep: Option<&Keep>,
    done: &(dyn Fn() + Sync),
) -> Vec<VariantRow> {
    let jobs: Vec<Job> = indices
        .iter()
        .flat_map(|&i| {
            let variant = &plan.variants[i];
            (variant.seeds.iter().enumerate()).map(move |(replication, &seed)| Job {
                variant,
                replication,
                seed,
            })
        })
        .collect();
    let measured: Vec<Measured> = jobs
        .par_iter()
        .with_max_len(1)
        .map(|job| {
            let m = run_job(plan, job, keep);
            done();
            m
        })
        .collect();
    let per_variant = plan.spec.replications as usize;
    indices
        .iter()
        .zip(measured.chunks(per_variant))
        .map(|(&i, reps)| row(plan, &plan.variants[i], reps))
        .collect()
}

fn run_job(plan: &Plan, job: &Job, keep: Option<&Keep>) -> Measured {
    let failed = |error: String| Measured {
        values: vec![None; plan.columns.len()],
        passed: false,
        error: Some(format!(
            "replication {} (seed {}): {error}",
            job.replication, job.seed
        )),
    };
    let options = LoadOptions {
        seed: Some(job.seed),
        overrides: job.variant.overrides.clone(),
    };
    let scenario = match load_scenario(&plan.spec.scenario, &options) {
        Ok(s) => s,
        Err(diags) => {
            let first = diags.iter().find(|d| d.is_error()).map(|d| d.to_string());
            return failed(first.unwrap_or_else(|| "the scenario no longer loads".into()));
        }
    };
    let mut discard = DiscardRecords;
    let sink = match keep {
        Some(_) => Records::Keep,
        None => Records::Give(&mut discard),
    };
    let output = match engine::run_with(&scenario, &mut |_| {}, sink) {
        Ok(o) => o,
        Err(e) => return failed(e.to_string()),
    };
    if let Some(Err(e)) = keep.map(|k| k(job, &scenario, &output)) {
        return failed(e);
    }
    let report = &output.report;
    let values = (plan.columns.iter())
        .map(|c| metric_value(&c.scope, c.metric, report))
        .collect();
    let passed =
        (plan.constraints.iter()).all(|c| holds(c, metric_value(&c.scope, c.metric, report)));
    Measured {
        values,
        passed,
        error: None,
    }
}

fn row(plan: &Plan, variant: &Variant, reps: &[Measured]) -> VariantRow {
    let metrics = (0..plan.columns.len())
        .map(|c| Stat::of(reps.iter().map(|m| m.values[c]).collect()))
        .collect();
    let passed = reps.iter().filter(|m| m.passed).count();
    VariantRow {
        index: variant.index,
        id: variant.id.clone(),
        values: variant.values.clone(),
        overrides: variant.overrides.clone(),
        seeds: variant.seeds.clone(),
        metrics,
        slo_pass_rate: passed as f64 / reps.len().max(1) as f64,
        errors: reps.iter().filter_map(|m| m.error.clone()).collect(),
    }
}

/// What the rows add up to.
#[derive(Clone, Debug, PartialEq)]
pub struct Conclusion {
    /// Per row: every replication ran and every constraint holds on the mean.
    pub feasible: Vec<bool>,
    /// Per row: on the Pareto frontier of mean cost against the mean frontier latency.
    pub pareto: Vec<bool>,
    /// The feasible row with the best mean objective.
    pub best: Option<usize>,
}

/// Which rows are feasible, which are on the cost–latency frontier, and which feasible row is
/// best by the plan's objective. The conclusion's vectors and `best` are indexed like `rows`.
pub fn conclude(plan: &Plan, rows: &[VariantRow]) -> Conclusion {
    let feasible: Vec<bool> = rows
        .iter()
        .map(|r| {
            r.errors.is_empty()
                && (plan.constraints.iter().zip(&plan.constraint_columns))
                    .all(|(c, &col)| holds(c, r.metrics[col].mean))
        })
        .collect();
    let points: Vec<Option<(f64, f64)>> = rows
        .iter()
        .map(|r| {
            let latency = r.metrics[plan.frontier?].mean?;
            Some((r.metrics[COST_COLUMN].mean?, latency))
        })
        .collect();
    let (direction, column) = plan.objective;
    let objective: Vec<Option<f64>> = rows.iter().map(|r| r.metrics[column].mean).collect();
    Conclusion {
        best: frontier::best(&objective, &feasible, direction),
        pareto: frontier::pareto(&points),
        feasible,
    }
}
