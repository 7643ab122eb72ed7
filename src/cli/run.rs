//! `kubesim run`: run one scenario, print the summary, write the run directory.

use std::path::PathBuf;

use anyhow::Context;

use super::{ScenarioOptions, Status, load_and_report, run_timed};
use crate::output::{self, RunFiles};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file (kind: Scenario).
    pub scenario: PathBuf,
    #[command(flatten)]
    pub options: ScenarioOptions,
    /// Where to write the run directory [default: output/<scenario name>/].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    let Some(scenario) = load_and_report(&args.scenario, &args.options) else {
        return Ok(Status::BadInput);
    };
    let timed = run_timed(&scenario)?;
    let out_dir = args
        .out
        .unwrap_or_else(|| PathBuf::from("output").join(&scenario.name));
    let files = RunFiles {
        report: &timed.output.report,
        info: &timed.info,
        timeseries: &timed.output.timeseries,
        hpa_decisions: &timed.output.hpa_decisions,
        autoscaler_events: timed.output.autoscaler_events.as_deref(),
        pod_events: &timed.output.pod_events,
        resolved_yaml: &scenario.resolved_yaml,
    };
    output::write_run_dir(&out_dir, &files)
        .with_context(|| format!("writing {}", out_dir.display()))?;
    super::out(output::summary::render(&timed.output.report));
    eprintln!(
        "simulated {} in {:.2}s ({:.0}× real time, {:.2e} events/s); wrote {}/",
        scenario.duration,
        timed.info.wall_seconds,
        timed.info.speedup_vs_realtime,
        timed.info.events_per_second,
        out_dir.display()
    );
    Ok(Status::Success)
}
