//! `kubesim sweep`: run every variant of a scenario (a sweep file, or a scenario and `--axis`
//! flags) with replications on all cores; write `sweep.json`/`sweep.csv`, print the variants,
//! the cost–latency frontier and the best feasible variant.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Status, print_diagnostics};
use crate::engine::RunOutput;
use crate::output::run_dir::{self, KEPT_RUNS};
use crate::output::sweep::SweepInfo;
use crate::output::{self, RunFiles, RunInfo};
use crate::scenario::Scenario;
use crate::scenario::sweep::{SweepFlags, SweepSpec, is_sweep_file, load_sweep, sweep_from_flags};
use crate::sweep::run::{Job, conclude};
use crate::sweep::{self, Plan};

const NOT_WRITTEN: &str = "--out: the sweep directory was not written";

pub const EXAMPLES: &str = "\
Examples:
  # 3 × 4 variants of the quickstart, 3 replications each, on all cores:
  kubesim sweep scenarios/quickstart/scenario.yaml \\
      --axis 'hpa/web:spec.minReplicas=[2, 3, 4]' \\
      --axis 'hpa/web:spec.metrics[0].resource.target.averageUtilization=50..80:10' \\
      --replications 3 --minimize cost.total \\
      --constraint 'service/web:latency.p99 <= 250ms'
  # The same question as a file (kind: Sweep), kept with the scenario:
  kubesim sweep scenarios/sizing-sweep/sweep.yaml

An axis is TARGET=VALUES: TARGET is what `kubesim run --set` takes before `=` (a scenario path
such as workloads[0].concurrency, or an object field such as hpa/web:spec.minReplicas); VALUES
is a YAML list [a, b, c], a range FROM..TO or FROM..TO:STEP, or one value. Targets varied
together are joined by `;` (the same number of values each). Axes multiply.

METRIC is one of latency.p50 … latency.p999, latency.mean, latency.max, availability,
requests.failed, cost.total, replicas.min/mean/max, measured on `service/NAME:` or
`deployment/NAME:` (no prefix: the cluster, or the only Service with traffic).

Each variant's replications get seeds derived from the base seed and the variant's overrides,
so a variant gives the same numbers in any sweep; the summary prints the `kubesim run` command
that repeats the best one alone.";

#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// A sweep file (kind: Sweep), or a scenario file to vary with --axis.
    pub file: PathBuf,
    /// An axis to vary: TARGET=[V1, V2, …], TARGET=FROM..TO or FROM..TO:STEP; several
    /// targets varied together joined by `;`. Repeatable; the axes multiply.
    #[arg(long = "axis", value_name = "TARGET=VALUES")]
    pub axes: Vec<String>,
    /// An override for every variant, as `kubesim run --set` takes it. Repeatable.
    #[arg(long = "set", value_name = "[KIND/NAME:]PATH=VALUE")]
    pub set: Vec<String>,
    /// The base seed (else the sweep's, else the scenario's spec.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Runs of each variant, each with its own seed [default: the sweep's, else 1].
    #[arg(long, value_name = "N")]
    pub replications: Option<u32>,
    /// The metric to minimize, e.g. cost.total or service/web:latency.p99 [default: cost.total].
    #[arg(long, value_name = "METRIC", conflicts_with = "maximize")]
    pub minimize: Option<String>,
    /// The metric to maximize, e.g. availability.
    #[arg(long, value_name = "METRIC")]
    pub maximize: Option<String>,
    /// A constraint a feasible variant meets on average, e.g. 'service/web:latency.p99 <= 250ms'.
    /// Repeatable [default: the scenario's SLOs].
    #[arg(long = "constraint", value_name = "[SCOPE:]ASSERTION")]
    pub constraints: Vec<String>,
    /// The latency the cost–latency frontier is drawn against, e.g. service/web:latency.p95
    /// [default: the objective's or a constraint's latency, else p99 of the first Service].
    #[arg(long, value_name = "[SCOPE:]LATENCY")]
    pub frontier: Option<String>,
    /// Where to write sweep.json, sweep.csv and run.json [default: output/<sweep name>/].
    /// Like `kubesim run --out`, it replaces only a directory kubesim wrote.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also keep every replication's run directory, in runs/<variant>-r<replication>/.
    #[arg(long)]
    pub keep_runs: bool,
    /// Worker threads [default: RAYON_NUM_THREADS, else one per core].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    let Some(plan) = planned(&args) else {
        return Ok(Status::BadInput);
    };
    print_diagnostics(&plan.warnings);
    let requested = (args.out.clone()).unwrap_or_else(|| PathBuf::from("output").join(&plan.name));
    let Some(out_dir) = super::checked_out_dir(&requested, &[&args.file, &plan.spec.scenario])
    else {
        return Ok(Status::BadInput);
    };
    let pool = thread_pool(args.threads)?;
    let staging = run_dir::Staging::create(&out_dir).context(NOT_WRITTEN)?;
    if args.keep_runs {
        std::fs::create_dir(staging.path().join(KEPT_RUNS))
            .map_err(|e| staging.io_error(e))
            .context(NOT_WRITTEN)?;
    }
    let runs = plan.variants.len() * plan.spec.replications as usize;
    let bar = progress_bar(runs as u64, &plan.name);
    let started = Instant::now();
    let kept_runs = staging.path().join(KEPT_RUNS);
    let keep = |job: &Job, s: &Scenario, o: &RunOutput| keep_run(&kept_runs, &plan, job, s, o);
    let all: Vec<usize> = (0..plan.variants.len()).collect();
    let rows = pool
        .install(|| sweep::run::run(&plan, &all, args.keep_runs.then_some(&keep), &|| bar.inc(1)));
    let wall = started.elapsed().as_secs_f64().max(1e-9);
    bar.finish_and_clear();
    let conclusion = conclude(&plan, &rows);
    let info = SweepInfo {
        kubesim_version: env!("CARGO_PKG_VERSION"),
        sweep: plan.name.clone(),
        scenario_file: plan.spec.scenario.display().to_string(),
        seed: plan.base_seed,
        command_line: std::env::args().collect(),
        variants: plan.variants.len(),
        replications: plan.spec.replications,
        threads: pool.current_num_threads(),
        wall_seconds: wall,
        runs_per_second: runs as f64 / wall,
    };
    output::sweep::write_files(staging.path(), &plan, &rows, &conclusion, &info)
        .map_err(|e| staging.io_error(e))
        .context(NOT_WRITTEN)?;
    staging.commit().context(NOT_WRITTEN)?;
    super::out(output::sweep::render(&plan, &rows, &conclusion));
    let failed: usize = rows.iter().map(|r| r.errors.len()).sum();
    if failed > 0 {
        eprintln!("warning: {failed} run(s) failed; see the errors column of sweep.csv");
    }
    eprintln!(
        "ran {} variants × {} replications in {wall:.2}s ({:.1} runs/s on {} threads); wrote {}/",
        plan.variants.len(),
        plan.spec.replications,
        info.runs_per_second,
        info.threads,
        requested.display()
    );
    Ok(Status::Success)
}

/// The sweep described by the file and flags, checked against every variant; `None` when
/// something is wrong (printed).
fn planned(args: &Args) -> Option<Plan> {
    let flags = SweepFlags {
        axes: args.axes.clone(),
        set: args.set.clone(),
        seed: args.seed,
        replications: args.replications,
        minimize: args.minimize.clone(),
        maximize: args.maximize.clone(),
        constraints: args.constraints.clone(),
        frontier: args.frontier.clone(),
    };
    let spec = spec_of(&args.file, &flags).and_then(sweep::plan);
    match spec {
        Ok(plan) => Some(plan),
        Err(diags) => {
            print_diagnostics(&diags);
            let errors = diags.iter().filter(|d| d.is_error()).count();
            eprintln!(
                "{}: {errors} error(s); nothing was run",
                args.file.display()
            );
            None
        }
    }
}

fn spec_of(
    file: &Path,
    flags: &SweepFlags,
) -> Result<SweepSpec, Vec<crate::scenario::diag::Diagnostic>> {
    match std::fs::read_to_string(file) {
        Ok(text) if is_sweep_file(&text) => load_sweep(file, flags),
        // A scenario (or an unreadable file, which loading the scenario explains).
        _ => sweep_from_flags(file, flags),
    }
}

fn thread_pool(threads: Option<usize>) -> anyhow::Result<rayon::ThreadPool> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        anyhow::ensure!(n >= 1, "--threads must be at least 1");
        builder = builder.num_threads(n);
    }
    builder.build().context("cannot start the worker threads")
}

fn progress_bar(runs: u64, name: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(runs), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {pos}/{len} runs, {elapsed} elapsed, ETA {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(name.to_string());
    bar
}

/// Writes one replication's run directory under `runs/`, with the `kubesim run` command that
/// repeats it as its command line.
fn keep_run(
    runs: &Path,
    plan: &Plan,
    job: &Job,
    scenario: &Scenario,
    output: &RunOutput,
) -> Result<(), String> {
    let mut command = vec![
        "kubesim".to_string(),
        "run".into(),
        plan.spec.scenario.display().to_string(),
        "--seed".into(),
        job.seed.to_string(),
    ];
    for o in &job.variant.overrides {
        command.extend(["--set".to_string(), o.clone()]);
    }
    let info = RunInfo::new(scenario, output, command, None);
    let files = RunFiles {
        report: &output.report,
        info: &info,
        timeseries: &output.timeseries,
        hpa_decisions: Some(&output.hpa_decisions),
        autoscaler_events: output.autoscaler_events.as_deref(),
        pod_events: &output.pod_events,
        resolved_yaml: &scenario.resolved_yaml,
    };
    let dir = runs.join(job.name());
    std::fs::create_dir(&dir)
        .and_then(|()| output::write_files(&dir, &files))
        .map_err(|e| format!("writing {}: {e}", dir.display()))
}
