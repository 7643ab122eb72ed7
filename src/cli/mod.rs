//! The command line, the binary's own (the library does not include it): one file per
//! subcommand, each with its `Args` and `run`. This is the only module that touches the wall
//! clock (timing and the progress bar) and uses `anyhow`, and the only one that prints (through
//! [`out`], [`tell`], [`status_line`] and [`print_diagnostics`],
//! which honour `--quiet`).

pub mod calibrate;
pub mod check;
pub mod explain;
pub mod get;
pub mod openmetrics;
pub mod plot;
pub mod run;
pub mod sweep;
pub mod validate;

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use kubesim::engine::{self, Progress, RunOutput};
use kubesim::output::{RunInfo, Timing, run_dir};
use kubesim::scenario::diag::Diagnostic;
use kubesim::scenario::{LoadOptions, Scenario, load_scenario};

const EXAMPLES: &str = "\
Examples:
  kubesim run scenarios/quickstart/scenario.yaml
  kubesim run scenarios/quickstart/scenario.yaml --seed 7 --set duration=30m --out /tmp/qs
  kubesim run scenarios/simpy-peer/scenario.yaml --set 'traffic[0].arrivals.constant.rate=500'
  kubesim check scenarios/*/scenario.yaml --junit kubesim-junit.xml
  kubesim validate scenarios/quickstart/scenario.yaml my-app.yaml
  kubesim explain scenarios/hpa-behavior/scenario.yaml --hpa web-tuned
  kubesim explain scenarios/quickstart/scenario.yaml --at 00:40:00
  kubesim explain scenarios/gpu-placement/scenario.yaml --pod
  kubesim explain scenarios/gpu-placement/scenario.yaml --pod openb-pod-0042
  kubesim explain scenarios/rolling-update/scenario.yaml --deployment web-surge
  kubesim explain lessons/09-statefulsets --statefulset db
  kubesim plot output/quickstart --format png
  kubesim sweep scenarios/quickstart/scenario.yaml --axis 'hpa/web:spec.minReplicas=[2, 3, 4]' --replications 3

Exit codes: 0 success, 1 an SLO assertion failed (check), 2 bad input or usage.";

/// kubesim — simulate Kubernetes autoscaling and scheduling from real manifests.
///
/// kubesim replays a traffic trace through models of the HPA, Deployment/ReplicaSet controllers,
/// kube-scheduler and kubelet, and reports latency, cost and availability — much faster than real
/// time, byte-identical for the same seed.
#[derive(Debug, Parser)]
#[command(name = "kubesim", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print only what was asked for and what went wrong: no summary tables, PASS lines,
    /// progress, notes or warnings (errors, FAIL and REGRESSED lines still print; exit codes
    /// are unchanged). For CI logs and scripts.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

/// `--quiet`, set once from the command line before the command runs.
static QUIET: AtomicBool = AtomicBool::new(false);

fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Prints to stdout what `--quiet` leaves out: summaries, tables, PASS lines.
pub fn tell(text: impl std::fmt::Display) {
    if !quiet() {
        out(text);
    }
}

/// Prints a status line to stderr (what was written, how fast) unless `--quiet`.
pub fn status_line(text: impl std::fmt::Display) {
    if !quiet() {
        eprintln!("{text}");
    }
}

/// Where progress bars draw: stderr (when it is a terminal), or nowhere under `--quiet`.
pub fn progress_target() -> ProgressDrawTarget {
    match quiet() {
        true => ProgressDrawTarget::hidden(),
        false => ProgressDrawTarget::stderr(),
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario, print a summary and write the run directory.
    Run(run::Args),
    /// Fit Services' workloads (CPU per request and its variability, memory, start-up time,
    /// traffic) to their Prometheus metrics; write the fitted scenario, replay it, and report
    /// the replay against the observations interval by interval.
    Calibrate(calibrate::Args),
    /// Run scenarios and check their SLO assertions (exit 1 if any fails).
    Check(check::Args),
    /// Check scenarios and manifests for errors without running them.
    Validate(validate::Args),
    /// Run a scenario and explain, in sentences with the arithmetic, why an HPA chose its
    /// replicas, why the Deployment controller scaled a ReplicaSet, how a Job, CronJob or
    /// StatefulSet ran its pods, why a pod was Pending, replaced or restarted, why a node
    /// stayed, or what a VPA recommends.
    Explain(explain::Args),
    /// Draw a run directory's plots again from its files (e.g. `--format png`).
    Plot(plot::Args),
    /// Print what `kubectl get` would have shown at a simulated instant of a finished run
    /// (pods, nodes, deployments, statefulsets, daemonsets, hpa, services).
    Get(get::Args),
    /// Run many variants of a scenario (axes of overrides × replications) on all cores; report
    /// each variant's mean and 95 % interval, the cost–latency frontier and the best feasible.
    Sweep(Box<sweep::Args>),
}

/// Exit status of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Success = 0,
    SloFailed = 1,
    BadInput = 2,
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> ExitCode {
        ExitCode::from(s as u8)
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Status {
    QUIET.store(cli.quiet, Ordering::Relaxed);
    install_signal_handler();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Calibrate(args) => calibrate::run(args),
        Command::Check(args) => check::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Sweep(args) => sweep::run(*args),
        Command::Plot(args) => plot::run(args),
        Command::Get(args) => get::run(args),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        Status::BadInput
    })
}

/// On SIGINT, SIGTERM or SIGHUP: remove any half-written output, then exit as the shell expects
/// of a signalled program (128 + SIGINT's 2 = 130).
fn install_signal_handler() {
    let installed = ctrlc::set_handler(|| {
        // Held until exit: no half-written directory can be renamed into place after this.
        let _staging = kubesim::output::run_dir::abandon_staging();
        eprintln!("\ninterrupted: no partial output is left behind");
        std::process::exit(130);
    });
    if let Err(e) = installed {
        eprintln!(
            "warning: cannot handle interrupts ({e}); an interrupted write may leave a hidden .partial directory"
        );
    }
}

/// Options shared by commands that load and run scenarios.
#[derive(Debug, Clone, clap::Args)]
pub struct ScenarioOptions {
    /// Seed for every random stream (overrides spec.seed).
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Override a field before validation. A scenario field: `--set duration=30m`,
    /// `--set 'workloads[0].concurrency=8'` (the `spec.` prefix may be omitted). A manifest
    /// object's field, the object named as kubectl names it (KIND/NAME or
    /// KIND/NAMESPACE/NAME; kinds in any case or as short names such as deploy, hpa, sts):
    /// `--set 'hpa/web:spec.minReplicas=6'`,
    /// `--set 'Deployment/web:spec.template.spec.containers[0].resources.requests.cpu=500m'`.
    /// VALUE is read as YAML. Repeatable.
    #[arg(long = "set", value_name = "[KIND/NAME:]PATH=VALUE")]
    pub set: Vec<String>,
}

/// Loads a scenario, printing its diagnostics to stderr. `None` means it had errors.
pub fn load_and_report(path: &Path, options: &ScenarioOptions) -> Option<Scenario> {
    let load_options = LoadOptions {
        seed: options.seed,
        overrides: options.set.clone(),
    };
    let path = &kubesim::scenario::manifest_files::scenario_file(path);
    match load_scenario(path, &load_options) {
        Ok(scenario) => {
            print_diagnostics(&scenario.warnings);
            Some(scenario)
        }
        Err(diags) => {
            print_diagnostics(&diags);
            let errors = diags.iter().filter(|d| d.is_error()).count();
            eprintln!("{}: {errors} error(s); nothing was run", path.display());
            None
        }
    }
}

/// The output directory if `--out` may be written — not the current directory, nor the folder
/// of an input file, nor a parent of either, nor an input directory (`input_dirs`: what the
/// command reads, with what they are) or anything inside one — else prints why (naming the
/// argument).
pub fn checked_out_dir(
    requested: &Path,
    inputs: &[&Path],
    input_dirs: &[(&Path, &'static str)],
) -> Option<run_dir::OutDir> {
    let mut protected = vec![run_dir::Protected::current_dir()];
    protected.extend(
        inputs
            .iter()
            .map(|f| run_dir::Protected::scenario_folder(f)),
    );
    protected
        .extend((input_dirs.iter()).map(|(dir, what)| run_dir::Protected::input_dir(dir, what)));
    match run_dir::check_out_dir(requested, &protected) {
        Ok(dir) => Some(dir),
        Err(e) => {
            eprintln!("error: --out {e}");
            None
        }
    }
}

/// Prints a line to stdout. A closed pipe (`kubesim explain … | head`) ends the program quietly
/// with success instead of panicking, as command-line tools are expected to.
pub fn out(text: impl std::fmt::Display) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{text}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(Status::BadInput as i32);
    }
}

/// Prints diagnostics to stderr; under `--quiet` only the errors.
pub fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags.iter().filter(|d| d.is_error() || !quiet()) {
        eprintln!("{d}");
    }
}

/// Whether the machine has a core beyond the one the run simulates on (for drawing ahead).
fn spare_core() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
}

/// A finished run with its wall-clock facts.
pub struct TimedRun {
    pub output: RunOutput,
    pub info: RunInfo,
    /// How fast it ran (also in `info`).
    pub timing: Timing,
}

/// Runs a loaded scenario with a progress bar on stderr (shown only on a terminal), its HPA
/// decisions and time-series rows going to `records`.
pub fn run_timed<'a>(
    scenario: &'a Scenario,
    records: engine::Records<'a>,
) -> anyhow::Result<TimedRun> {
    run_timed_on(scenario, records, engine::DataPlane::default())
}

/// [`run_timed`] on the data plane `plane`.
pub fn run_timed_on<'a>(
    scenario: &'a Scenario,
    records: engine::Records<'a>,
    plane: engine::DataPlane,
) -> anyhow::Result<TimedRun> {
    let bar = ProgressBar::with_draw_target(
        Some(scenario.duration.as_micros() / 1_000_000),
        progress_target(),
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {pos}/{len} simulated s, {elapsed} elapsed, ETA {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(scenario.name.clone());
    let started = Instant::now();
    let mut on_progress = |p: Progress| bar.set_position(p.now.as_micros() / 1_000_000);
    let options = engine::RunOptions {
        // The lanes' threads work only at the instants every lane is caught up: the drawing
        // thread has the spare core the rest of the time.
        draw_ahead: spare_core(),
        plane,
        dealing: engine::Dealing::default(),
    };
    let output = engine::run_with_options(scenario, &mut on_progress, records, options)?;
    let wall = started.elapsed().as_secs_f64().max(1e-9);
    bar.finish_and_clear();
    let timing = Timing::of(scenario, &output, wall);
    let info = RunInfo::new(
        scenario,
        &output,
        std::env::args().collect(),
        Some(timing.clone()),
    );
    Ok(TimedRun {
        output,
        info,
        timing,
    })
}
