//! `kubesim sweep`: run every variant of a scenario (a sweep file, or a scenario and `--axis`
//! flags) with replications on all cores; write `sweep.json`/`sweep.csv`, print the variants,
//! the cost–latency frontier and the best feasible variant.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::{Status, print_diagnostics};
use kubesim::engine::RunOutput;
use kubesim::output::explain::hpa::Narrator;
use kubesim::output::pages::{self, Pages};
use kubesim::output::run_dir::{self, KEPT_RUNS};
use kubesim::output::sweep::page::Links;
use kubesim::output::sweep::{SweepInfo, Swept};
use kubesim::output::{self, RunFiles, RunInfo};
use kubesim::scenario::Scenario;
use kubesim::scenario::sweep::{SweepFlags, load_any};
use kubesim::sweep::job::{JobOptions, RESULTS_MOUNT, indexed_job};
use kubesim::sweep::run::{Job, VariantRow, conclude};
use kubesim::sweep::shard::{self, Shard, ShardFile};
use kubesim::sweep::{self, Plan};

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
  # Split over 4 machines (or an Indexed Job: see `kubesim sweep job --help`), then combine:
  kubesim sweep scenarios/sizing-sweep/sweep.yaml --shard 0/4 --out shard-0   # … 3/4
  kubesim sweep merge shard-0 shard-1 shard-2 shard-3

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
#[command(
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,
    /// A sweep file (kind: Sweep), or a scenario file to vary with --axis.
    #[arg(required = true)]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub sweep: SweepArgs,
    /// Where to write sweep.json, sweep.csv and run.json [default: output/<sweep name>/, for a
    /// shard output/<sweep name>-shard-I-of-N/]. Like `kubesim run --out`, it replaces only a
    /// directory kubesim wrote.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also keep every replication's run directory, in runs/<variant>-r<replication>/, as
    /// `kubesim run` writes it (report.html, plots and trace.json included unless --no-plots
    /// or --no-trace); the sweep's report.html links to each.
    #[arg(long)]
    pub keep_runs: bool,
    #[command(flatten)]
    pub rendering: super::run::Rendering,
    /// Worker threads [default: RAYON_NUM_THREADS, else one per core]; never more than the
    /// runs to do, nor 8 per core.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub threads: Option<usize>,
    /// Run only shard I of N (0 ≤ I < N: the variants whose index is I mod N) and write its
    /// shard.json, for `kubesim sweep merge`.
    #[arg(
        long,
        value_name = "I/N",
        conflicts_with = "shards",
        allow_hyphen_values = true
    )]
    pub shard: Option<String>,
    /// Run one of N shards, I taken from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) or
    /// SLURM_ARRAY_TASK_ID (a Slurm job array).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub shards: Option<usize>,
}

/// What defines a sweep beside its file (recorded by shards, for merging).
#[derive(Debug, Clone, clap::Args)]
pub struct SweepArgs {
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
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
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
}

impl SweepArgs {
    fn flags(&self) -> SweepFlags {
        SweepFlags {
            axes: self.axes.clone(),
            set: self.set.clone(),
            seed: self.seed,
            replications: self.replications,
            minimize: self.minimize.clone(),
            maximize: self.maximize.clone(),
            constraints: self.constraints.clone(),
            frontier: self.frontier.clone(),
        }
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Merge the outputs of every shard of a sweep (`--shard`) into the sweep.json and
    /// sweep.csv a single machine would have written. Run it from the directory the shards
    /// were started in (the sweep's file is read again).
    Merge(MergeArgs),
    /// Print a Kubernetes Indexed Job that runs a sweep's shards (one pod per shard, results on
    /// a PersistentVolumeClaim), for `kubectl apply -f -`.
    Job(Box<JobArgs>),
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The shards' output directories (each with its shard.json).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where to write the merged sweep [default: output/<sweep name>/].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct JobArgs {
    /// The sweep (or scenario) file, as the image's working directory names it.
    pub file: PathBuf,
    /// Shards: the Job's completions.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub shards: usize,
    /// Shards running at once [default: all].
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub parallelism: Option<usize>,
    /// The image (built from the repository's Dockerfile, with the sweep's files in it).
    #[arg(long, default_value = "kubesim:latest")]
    pub image: String,
    /// The PersistentVolumeClaim the shards write to (mounted at /results).
    #[arg(long, default_value = "kubesim-sweep")]
    pub claim: String,
    /// CPU request of each shard's pod (a shard uses every core it gets).
    #[arg(long, default_value = "2", allow_hyphen_values = true)]
    pub cpu: String,
    /// Memory request and limit of each shard's pod.
    #[arg(long, default_value = "1Gi", allow_hyphen_values = true)]
    pub memory: String,
    /// The Job's name (also the results folder) [default: the sweep's name].
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub sweep: SweepArgs,
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    // Planning checks variants on rayon's global pool, which would otherwise take its size from
    // RAYON_NUM_THREADS unchecked (a million threads): one per core. The runs get a pool of
    // their own (`worker_count`).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(cores)
        .build_global();
    match (&args.action, &args.file) {
        (Some(Action::Merge(m)), _) => merge(m),
        (Some(Action::Job(j)), _) => job(j),
        (None, Some(file)) => sweep(&args, file),
        (None, None) => anyhow::bail!("name a sweep or scenario file (see kubesim sweep --help)"),
    }
}

/// The rows of a sweep's variants (all, or one shard's) and how fast they ran.
struct Ran {
    rows: Vec<VariantRow>,
    wall: f64,
    threads: usize,
}

fn sweep(args: &Args, file: &Path) -> anyhow::Result<Status> {
    let flags = args.sweep.flags();
    let Some(plan) = planned(file, &flags) else {
        return Ok(Status::BadInput);
    };
    print_diagnostics(&plan.warnings);
    let shard = match shard_of(args) {
        Ok(shard) => shard,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Status::BadInput);
        }
    };
    let (indices, workers) = match work_of(args, &plan, shard) {
        Ok(work) => work,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Status::BadInput);
        }
    };
    let requested = (args.out.clone()).unwrap_or_else(|| default_out(&plan, shard));
    let Some(out_dir) = super::checked_out_dir(&requested, &[file, &plan.spec.scenario], &[])
    else {
        return Ok(Status::BadInput);
    };
    let staging = run_dir::Staging::create(&out_dir).context(NOT_WRITTEN)?;
    let ran = execute(args, &plan, &indices, workers, staging.path())
        .map_err(|e| staging.io_error(e))
        .context(NOT_WRITTEN)?;
    let info = sweep_info(&plan, indices.len(), Some(&ran));
    let (written, conclusion) = match shard {
        Some(s) => {
            let shard_file = ShardFile::new(&plan, s, file, &flags, ran.rows.clone());
            (
                output::sweep::write_shard(staging.path(), &shard_file, &info),
                None,
            )
        }
        None => {
            let c = conclude(&plan, &ran.rows);
            let swept = Swept {
                plan: &plan,
                rows: &ran.rows,
                conclusion: &c,
            };
            let written = output::sweep::write_files(staging.path(), &swept, &info, page(args));
            (written, Some(c))
        }
    };
    written
        .map_err(|e| staging.io_error(e))
        .context(NOT_WRITTEN)?;
    staging.commit().context(NOT_WRITTEN)?;
    if let Some(c) = &conclusion {
        super::tell(output::sweep::render(&plan, &ran.rows, c));
        warn_failed(&ran.rows);
    }
    report_done(&plan, &ran, &requested, shard);
    Ok(Status::Success)
}

/// What the sweep's report.html links to; `None` for no report (--no-plots).
fn page(args: &Args) -> Option<Links<'static>> {
    let choice = args.rendering.choice();
    choice.plots.map(|_| Links {
        kept_runs: args.keep_runs.then_some("report.html"),
    })
}

/// `output/<sweep name>/`, or for a shard `output/<sweep name>-shard-I-of-N/`.
fn default_out(plan: &Plan, shard: Option<Shard>) -> PathBuf {
    let name = match shard {
        Some(s) => format!("{}-shard-{}-of-{}", plan.name, s.index, s.count),
        None => plan.name.clone(),
    };
    PathBuf::from("output").join(name)
}

fn report_done(plan: &Plan, ran: &Ran, written: &Path, shard: Option<Shard>) {
    super::status_line(format!(
        "ran {} variants × {} replications in {:.2}s ({:.1} runs/s on {} threads); wrote {}/",
        ran.rows.len(),
        plan.spec.replications,
        ran.wall,
        runs_per_second(plan, ran.rows.len(), ran),
        ran.threads,
        written.display()
    ));
    if let Some(s) = shard {
        super::status_line(format!(
            "shard {} of {}: when every shard is done, combine them with `kubesim sweep merge DIR…`",
            s.index, s.count
        ));
    }
}

/// Runs the variants at `indices` (keeping their runs under `dir` if asked) on the thread pool.
fn execute(
    args: &Args,
    plan: &Plan,
    indices: &[usize],
    workers: usize,
    dir: &Path,
) -> std::io::Result<Ran> {
    let pool = thread_pool(workers).map_err(std::io::Error::other)?;
    let kept_runs = dir.join(KEPT_RUNS);
    if args.keep_runs {
        std::fs::create_dir(&kept_runs)?;
    }
    let runs = indices.len() as u64 * u64::from(plan.spec.replications);
    let bar = progress_bar(runs, &plan.name);
    let started = Instant::now();
    let rendering = args.rendering.choice();
    let keep =
        |job: &Job, s: &Scenario, o: &RunOutput| keep_run(&kept_runs, plan, job, (s, o), rendering);
    let keep = args.keep_runs.then_some(&keep as &sweep::run::Keep);
    let rows = pool.install(|| sweep::run::run(plan, indices, keep, &|| bar.inc(1)));
    let wall = started.elapsed().as_secs_f64().max(1e-9);
    bar.finish_and_clear();
    Ok(Ran {
        rows,
        wall,
        threads: pool.current_num_threads(),
    })
}

/// The variants this sweep (or shard) runs, and on how many worker threads.
fn work_of(args: &Args, plan: &Plan, shard: Option<Shard>) -> Result<(Vec<usize>, usize), String> {
    let indices: Vec<usize> = match shard {
        Some(s) => s.variants(plan),
        None => (0..plan.variants.len()).collect(),
    };
    let runs = indices
        .len()
        .saturating_mul(plan.spec.replications as usize);
    let env = std::env::var("RAYON_NUM_THREADS").ok();
    Ok((indices, worker_count(args.threads, env, runs)?))
}

/// The sweep's `run.json`; `ran`: how its runs went (none for a merge).
fn sweep_info(plan: &Plan, variants: usize, ran: Option<&Ran>) -> SweepInfo {
    SweepInfo {
        kubesim_version: env!("CARGO_PKG_VERSION"),
        sweep: plan.name.clone(),
        scenario_file: plan.spec.scenario.display().to_string(),
        seed: plan.base_seed,
        command_line: std::env::args().collect(),
        variants,
        replications: plan.spec.replications,
        threads: ran.map(|r| r.threads),
        wall_seconds: ran.map(|r| r.wall),
        runs_per_second: ran.map(|r| runs_per_second(plan, variants, r)),
    }
}

fn runs_per_second(plan: &Plan, variants: usize, ran: &Ran) -> f64 {
    variants as f64 * f64::from(plan.spec.replications) / ran.wall
}

fn warn_failed(rows: &[VariantRow]) {
    let failed: usize = rows.iter().map(|r| r.errors.len()).sum();
    if failed > 0 {
        eprintln!("warning: {failed} run(s) failed; see the errors column of sweep.csv");
    }
}

/// `--shard I/N`, or `--shards N` with I from the job's environment.
fn shard_of(args: &Args) -> Result<Option<Shard>, String> {
    if let Some(text) = &args.shard {
        return Shard::parse(text)
            .map(Some)
            .map_err(|e| format!("--shard: {e}"));
    }
    let Some(count) = args.shards else {
        return Ok(None);
    };
    let (var, value) = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"]
        .iter()
        .find_map(|v| std::env::var(v).ok().map(|x| (*v, x)))
        .ok_or("--shards: neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) nor SLURM_ARRAY_TASK_ID (Slurm job array) is set; outside such a job give --shard I/N")?;
    let index = value
        .trim()
        .parse::<usize>()
        .map_err(|_| format!("--shards: {var}={value:?} is not a shard index"))?;
    Shard::new(index, count)
        .map(Some)
        .map_err(|e| format!("--shards {count} with {var}={index}: {e}"))
}

/// The sweep described by the file and flags, checked against every variant; `None` when
/// something is wrong (printed).
fn planned(file: &Path, flags: &SweepFlags) -> Option<Plan> {
    match load_any(file, flags).and_then(sweep::plan) {
        Ok(plan) => Some(plan),
        Err(diags) => {
            print_diagnostics(&diags);
            let errors = diags.iter().filter(|d| d.is_error()).count();
            eprintln!("{}: {errors} error(s); nothing was run", file.display());
            None
        }
    }
}

fn merge(args: &MergeArgs) -> anyhow::Result<Status> {
    let (plan, rows) = match shard::merge(&args.dirs) {
        Ok(merged) => merged,
        Err(diags) => {
            print_diagnostics(&diags);
            eprintln!("merge: nothing was written");
            return Ok(Status::BadInput);
        }
    };
    let requested = (args.out.clone()).unwrap_or_else(|| PathBuf::from("output").join(&plan.name));
    let shards: Vec<(&Path, &str)> = (args.dirs.iter())
        .map(|d| (d.as_path(), "one of the shards being merged"))
        .collect();
    let Some(out_dir) = super::checked_out_dir(&requested, &[&plan.spec.scenario], &shards) else {
        return Ok(Status::BadInput);
    };
    let info = sweep_info(&plan, plan.variants.len(), None);
    let conclusion = conclude(&plan, &rows);
    let swept = Swept {
        plan: &plan,
        rows: &rows,
        conclusion: &conclusion,
    };
    // The shards' kept runs stay in the shards' directories: the merged page links to none.
    let links = Links { kept_runs: None };
    run_dir::write_atomically(&out_dir, |dir| {
        output::sweep::write_files(dir, &swept, &info, Some(links))
    })
    .context(NOT_WRITTEN)?;
    super::tell(output::sweep::render(&plan, &rows, &conclusion));
    warn_failed(&rows);
    super::status_line(format!(
        "merged {} shards; wrote {}/",
        args.dirs.len(),
        requested.display()
    ));
    Ok(Status::Success)
}

fn job(args: &JobArgs) -> anyhow::Result<Status> {
    let flags = args.sweep.flags();
    let Some(plan) = planned(&args.file, &flags) else {
        return Ok(Status::BadInput);
    };
    if args.shards == 0 {
        eprintln!("error: --shards must be at least 1");
        return Ok(Status::BadInput);
    }
    let Some(file) = path_in_image(&args.file) else {
        eprintln!(
            "error: {}: an absolute path outside the current directory would not name the file in the image; give it relative to the directory the image's kubesim runs in",
            args.file.display()
        );
        return Ok(Status::BadInput);
    };
    let options = JobOptions {
        name: args.name.clone().unwrap_or_else(|| plan.name.clone()),
        file,
        extra_args: flag_args(&args.sweep),
        shards: args.shards,
        parallelism: args.parallelism.unwrap_or(args.shards).min(args.shards),
        image: args.image.clone(),
        claim: args.claim.clone(),
        cpu: args.cpu.clone(),
        memory: args.memory.clone(),
    };
    let problems = options.problems();
    if !problems.is_empty() {
        for p in problems {
            eprintln!("error: {p}");
        }
        return Ok(Status::BadInput);
    }
    let manifest = serde_saphyr::to_string(&indexed_job(&options)).context("writing the Job")?;
    super::out(format!(
        "# kubesim sweep {}: {} variants × {} replications in {} shards.\n# Results in {}/{}/shard-I on the PersistentVolumeClaim {:?}. Copy that folder out, then\n#   kubesim sweep merge FOLDER/shard-*   (from the directory the sweep file's path is relative to)\n{}",
        plan.name,
        plan.variants.len(),
        plan.spec.replications,
        args.shards,
        RESULTS_MOUNT,
        options.name,
        options.claim,
        manifest.trim_end()
    ));
    Ok(Status::Success)
}

/// The sweep file's path as the Job's pods name it: as given when relative, relative to the
/// current directory when absolute inside it (the image is built from that directory), `None`
/// for an absolute path elsewhere (a path of this machine, not of the image).
fn path_in_image(file: &std::path::Path) -> Option<String> {
    if file.is_relative() {
        return Some(file.display().to_string());
    }
    let here = std::env::current_dir().ok()?;
    let inside = file.strip_prefix(&here).ok()?;
    Some(inside.display().to_string())
}

/// The sweep flags again as arguments, for each shard of a Job.
fn flag_args(s: &SweepArgs) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |flag: &str, value: String| out.extend([flag.to_string(), value]);
    s.axes.iter().for_each(|a| push("--axis", a.clone()));
    s.set.iter().for_each(|a| push("--set", a.clone()));
    s.constraints
        .iter()
        .for_each(|a| push("--constraint", a.clone()));
    if let Some(v) = s.seed {
        push("--seed", v.to_string());
    }
    if let Some(v) = s.replications {
        push("--replications", v.to_string());
    }
    for (flag, v) in [
        ("--minimize", &s.minimize),
        ("--maximize", &s.maximize),
        ("--frontier", &s.frontier),
    ] {
        if let Some(v) = v {
            push(flag, v.clone());
        }
    }
    out
}

fn thread_pool(workers: usize) -> anyhow::Result<rayon::ThreadPool> {
    (rayon::ThreadPoolBuilder::new().num_threads(workers))
        .build()
        .context("cannot start the worker threads")
}

/// The most worker threads per core: more only wait for a core, each with a run in memory.
const WORKERS_PER_CORE: usize = 8;

/// How many worker threads run `runs` runs: `--threads`, else `RAYON_NUM_THREADS` (`env`),
/// else one per core; at most the runs to do and [`WORKERS_PER_CORE`] per core.
fn worker_count(flag: Option<usize>, env: Option<String>, runs: usize) -> Result<usize, String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let asked = match (flag, env) {
        (Some(0), _) => return Err("--threads must be at least 1".into()),
        (Some(n), _) => n,
        (None, Some(text)) => match text.trim().parse::<usize>() {
            Ok(0) => cores, // rayon's meaning: one per core
            Ok(n) => n,
            Err(_) => {
                return Err(format!(
                    "RAYON_NUM_THREADS={text:?} is not a number of threads"
                ));
            }
        },
        (None, None) => cores,
    };
    Ok(asked.min(runs.max(1)).min(cores * WORKERS_PER_CORE))
}

fn progress_bar(runs: u64, name: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(runs), super::progress_target());
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

/// Writes one replication's run directory under `runs/` as `kubesim run` would, with the
/// `kubesim run` command that repeats it as its command line.
fn keep_run(
    runs: &Path,
    plan: &Plan,
    job: &Job,
    (scenario, output): (&Scenario, &RunOutput),
    rendering: pages::Rendering,
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
        timeseries: Some(&output.timeseries),
        hpa_decisions: Some(&output.hpa_decisions),
        autoscaler_events: output.autoscaler_events.as_deref(),
        karpenter_events: output.karpenter_events.as_deref(),
        vpa_records: output.vpa_records.as_deref(),
        pod_events: &output.pod_events,
        cluster_events: &output.cluster_events,
        history: &output.history,
        resolved_yaml: &scenario.resolved_yaml,
    };
    let dir = runs.join(job.name());
    std::fs::create_dir(&dir)
        .and_then(|()| output::write_files(&dir, &files))
        .map_err(|e| format!("writing {}: {e}", dir.display()))?;
    let mut narrator = Narrator::new(pages::REPORT_SENTENCES);
    for d in &output.hpa_decisions {
        narrator.offer(d.clone());
    }
    let pages = Pages {
        report: &output.report,
        pod_events: &output.pod_events,
        cluster_events: &output.cluster_events,
        autoscaler_events: output.autoscaler_events.as_deref().unwrap_or_default(),
        resolved_yaml: &scenario.resolved_yaml,
        narrator: &narrator,
        end_seconds: scenario.duration.as_secs_f64(),
    };
    pages::render(&dir, rendering, &pages)
}
