//! `kubesim check`: run scenarios and evaluate their SLO assertions, and optionally compare
//! each with a baseline run; exit 1 when an SLO fails or a metric regressed.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{ScenarioOptions, Status, load_and_report, run_timed};
use kubesim::metrics::baseline::{self, Change, Tolerances};
use kubesim::output::junit::{self, SuiteResult};
use kubesim::output::{run_dir, summary};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files to run and check (a folder stands for its scenario.yaml).
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    #[command(flatten)]
    pub options: ScenarioOptions,
    /// Also write the results as JUnit XML (one test case per SLO, and per compared metric
    /// with --baseline). An existing FILE is replaced only if kubesim wrote it.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Compare each run with an earlier one and fail (exit 1) when a metric got worse beyond its
    /// tolerance: Services' latency p50/p95/p99 and availability, the cluster's availability
    /// and cost. PATH is a report.json, a run directory, or a directory of run directories
    /// named after the scenarios (e.g. the output/ of the last green CI run); a scenario with
    /// no run there is not compared.
    #[arg(long, value_name = "PATH")]
    pub baseline: Option<PathBuf>,
    /// How much worse a metric may get, repeatable: `latency=10%` (the default, every
    /// percentile), `latency.p99=5%`, `availability=0.1%` (percentage points; the default),
    /// `cost=5%` (the default).
    #[arg(long, value_name = "METRIC=PCT", requires = "baseline")]
    pub tolerance: Vec<String>,
    /// With a directory of runs as --baseline: a scenario without a run there is not compared
    /// (a note) instead of an error — for the first run of a new scenario.
    #[arg(long, requires = "baseline")]
    pub allow_missing_baseline: bool,
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    if let Some(file) = &args.junit
        && let Err(e) = run_dir::check_junit_file(file)
    {
        eprintln!("error: --junit {e}");
        return Ok(Status::BadInput);
    }
    let Some(tolerances) = tolerances(&args) else {
        return Ok(Status::BadInput);
    };
    if let Some(path) = &args.baseline
        && let Err(e) = check_baseline_path(path, args.scenarios.len())
    {
        eprintln!("error: --baseline {}: {e}", path.display());
        return Ok(Status::BadInput);
    }
    let mut status = Status::Success;
    let mut runs = Vec::new();
    for path in &args.scenarios {
        let Some(scenario) = load_and_report(path, &args.options) else {
            status = Status::BadInput;
            continue;
        };
        let timed = run_timed(&scenario, kubesim::engine::Records::Keep)?;
        let report = &timed.output.report;
        if report.slos.is_empty() {
            super::tell(format!("{}: no SLOs defined", scenario.name));
        }
        for slo in &report.slos {
            let actual = summary::slo_value(&slo.metric, slo.actual);
            let line = format!(
                "{} {}: {} (actual {actual})",
                if slo.passed { "PASS" } else { "FAIL" },
                scenario.name,
                slo.name
            );
            match slo.passed {
                true => super::tell(line),
                false => super::out(line),
            }
            if !slo.passed && status == Status::Success {
                status = Status::SloFailed;
            }
        }
        let changes = match &args.baseline {
            Some(base) => {
                match compare_with(base, report, &tolerances, args.allow_missing_baseline) {
                    Ok(changes) => changes,
                    Err(e) => {
                        eprintln!("error: --baseline {e}");
                        status = Status::BadInput;
                        Vec::new()
                    }
                }
            }
            None => Vec::new(),
        };
        if changes.iter().any(|c| c.regressed) && status == Status::Success {
            status = Status::SloFailed;
        }
        runs.push((path.display().to_string(), timed, changes));
    }
    if let Some(file) = &args.junit {
        let suites: Vec<SuiteResult> = runs
            .iter()
            .map(|(f, t, changes)| SuiteResult {
                scenario_file: f,
                report: &t.output.report,
                wall_seconds: t.timing.wall_seconds,
                baseline: changes,
            })
            .collect();
        run_dir::write_junit_file(file, &junit::render(&suites))
            .context("--junit: the JUnit file was not written")?;
    }
    Ok(status)
}

/// The defaults with every `--tolerance` applied; `None` after reporting a bad one.
fn tolerances(args: &Args) -> Option<Tolerances> {
    let mut tolerances = Tolerances::default();
    for text in &args.tolerance {
        if let Err(e) = tolerances.set(text) {
            eprintln!("error: --tolerance {text}: {e}");
            return None;
        }
    }
    Some(tolerances)
}

/// The baseline report at `file`: a regular file of at most 256 MiB holding a kubesim report
/// whose compared fields have their types.
fn read_baseline(file: &Path) -> Result<serde_json::Value, String> {
    let shown = file.display();
    let meta = std::fs::metadata(file).map_err(|e| format!("{shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    if meta.len() > 256 << 20 {
        return Err(format!(
            "{shown}: {} bytes, larger than any report",
            meta.len()
        ));
    }
    let text = std::fs::read_to_string(file).map_err(|e| format!("{shown}: {e}"))?;
    baseline::parse_report(&text).map_err(|e| format!("{shown}: {e}"))
}

/// A baseline must exist; a single report (a file, or a run directory) serves one scenario.
fn check_baseline_path(path: &Path, scenarios: usize) -> Result<(), String> {
    let single = path.is_file() || path.join("report.json").is_file();
    if !path.exists() {
        Err("no such file or directory".into())
    } else if single && scenarios > 1 {
        Err(format!(
            "is one run's report, but {scenarios} scenarios are checked; name a directory holding a run directory per scenario"
        ))
    } else {
        Ok(())
    }
}

/// Compares a run with its baseline and prints the table. A baseline that cannot be read (not
/// a regular file, too large, not a kubesim report, a field of the wrong type) is an error; so
/// is a scenario without a run in a directory of runs, unless `allow_missing`.
fn compare_with(
    base: &Path,
    report: &kubesim::metrics::Report,
    t: &Tolerances,
    allow_missing: bool,
) -> Result<Vec<Change>, String> {
    let file = if base.is_file() {
        base.to_path_buf()
    } else if base.join("report.json").exists() {
        base.join("report.json")
    } else {
        let file = base.join(&report.scenario).join("report.json");
        if !file.exists() && allow_missing {
            super::status_line(format!(
                "note: no baseline for {} ({} does not exist): not compared",
                report.scenario,
                file.display()
            ));
            return Ok(Vec::new());
        }
        file
    };
    let old = read_baseline(&file)?;
    let new = serde_json::to_value(report).expect("reports always serialize");
    let changes = baseline::compare(&old, &new, t);
    let table = summary::baseline(&report.scenario, &changes);
    match changes.iter().any(|c| c.regressed) {
        true => super::out(table),
        false => super::tell(table),
    }
    Ok(changes)
}
