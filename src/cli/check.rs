//! `kubesim check`: run scenarios and evaluate their SLO assertions; exit 1 when one fails.

use std::path::PathBuf;

use anyhow::Context;

use super::{ScenarioOptions, Status, load_and_report, run_timed};
use crate::output::junit::{self, SuiteResult};
use crate::output::run_dir;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files to run and check.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    #[command(flatten)]
    pub options: ScenarioOptions,
    /// Also write the results as JUnit XML (one test case per SLO). An existing FILE is
    /// replaced only if kubesim wrote it.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    if let Some(file) = &args.junit
        && let Err(e) = run_dir::check_junit_file(file)
    {
        eprintln!("error: --junit {e}");
        return Ok(Status::BadInput);
    }
    let mut status = Status::Success;
    let mut runs = Vec::new();
    for path in &args.scenarios {
        let Some(scenario) = load_and_report(path, &args.options) else {
            status = Status::BadInput;
            continue;
        };
        let timed = run_timed(&scenario, crate::engine::DecisionSink::Keep)?;
        let report = &timed.output.report;
        if report.slos.is_empty() {
            super::out(format!("{}: no SLOs defined", scenario.name));
        }
        for slo in &report.slos {
            let actual = slo.actual.map_or("no data".into(), |a| a.to_string());
            super::out(format!(
                "{} {}: {} (actual {actual})",
                if slo.passed { "PASS" } else { "FAIL" },
                scenario.name,
                slo.name
            ));
            if !slo.passed && status == Status::Success {
                status = Status::SloFailed;
            }
        }
        runs.push((path.display().to_string(), timed));
    }
    if let Some(file) = &args.junit {
        let suites: Vec<SuiteResult> = runs
            .iter()
            .map(|(f, t)| SuiteResult {
                scenario_file: f,
                report: &t.output.report,
                wall_seconds: t.timing.wall_seconds,
            })
            .collect();
        run_dir::write_junit_file(file, &junit::render(&suites))
            .context("--junit: the JUnit file was not written")?;
    }
    Ok(status)
}
