//! `kubesim run`: run one scenario, print the summary, write the run directory.

use std::path::PathBuf;

use anyhow::Context;

use super::{ScenarioOptions, Status, load_and_report, run_timed};
use crate::engine::DecisionSink;
use crate::output::explain::hpa::Narrator;
use crate::output::{self, RunFiles, html, plot, run_dir, timeline};

/// The context of every error writing the run directory.
const NOT_WRITTEN: &str = "--out: the run directory was not written";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file (kind: Scenario).
    pub scenario: PathBuf,
    #[command(flatten)]
    pub options: ScenarioOptions,
    /// Where to write the run directory [default: output/<scenario name>/]. kubesim replaces
    /// only a directory it wrote itself (empty, or an earlier run's files with its run.json);
    /// it refuses anything else, and the current directory, the scenario's folder and their
    /// parents, before the run starts.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub rendering: Rendering,
}

/// What `kubesim run` draws besides its data files.
#[derive(Debug, Clone, clap::Args)]
pub struct Rendering {
    /// Skip the plots (plot-*.svg) and report.html: only the data files are written.
    #[arg(long)]
    pub no_plots: bool,
    /// The plots' image format (report.html always embeds SVG).
    #[arg(long, value_enum, default_value = "svg", value_name = "FORMAT")]
    pub plot_format: plot::Format,
    /// Skip trace.json (the run as a timeline for ui.perfetto.dev or chrome://tracing).
    #[arg(long)]
    pub no_trace: bool,
}

/// HPA decisions told in report.html at most (`kubesim explain --all` tells every one).
const REPORT_SENTENCES: usize = 400;
/// Pods listed in report.html's table of the longest waits.
const REPORT_PENDING_PODS: usize = 20;

pub fn run(args: Args) -> anyhow::Result<Status> {
    let Some(scenario) = load_and_report(&args.scenario, &args.options) else {
        return Ok(Status::BadInput);
    };
    let requested = args
        .out
        .unwrap_or_else(|| PathBuf::from("output").join(&scenario.name));
    let out_dir = match super::checked_out_dir(&requested, &[&args.scenario]) {
        Some(dir) => dir,
        None => return Ok(Status::BadInput),
    };
    // Written into the staging directory as the run goes (not kept in memory), so created
    // first; an error or a failed run removes it.
    let staging = run_dir::Staging::create(&out_dir).context(NOT_WRITTEN)?;
    let decisions_path = staging.path().join("hpa_decisions.jsonl");
    let mut decisions = output::JsonLinesFile::create(&decisions_path)
        .map_err(|e| staging.io_error(e))
        .context(NOT_WRITTEN)?;
    let mut narrator = Narrator::new(REPORT_SENTENCES);
    let mut give = |d| {
        decisions.write(&d);
        narrator.offer(d);
    };
    let timed = run_timed(&scenario, DecisionSink::Give(&mut give))?;
    let files = RunFiles {
        report: &timed.output.report,
        info: &timed.info,
        timeseries: &timed.output.timeseries,
        hpa_decisions: None,
        autoscaler_events: timed.output.autoscaler_events.as_deref(),
        pod_events: &timed.output.pod_events,
        cluster_events: &timed.output.cluster_events,
        history: &timed.output.history,
        resolved_yaml: &scenario.resolved_yaml,
    };
    decisions
        .finish()
        .and_then(|()| output::write_files(staging.path(), &files))
        .map_err(|e| staging.io_error(e))
        .context(NOT_WRITTEN)?;
    if !args.rendering.no_plots {
        let pages = Pages {
            files: &files,
            narrator: &narrator,
            end_seconds: scenario.duration.as_secs_f64(),
        };
        render(staging.path(), args.rendering.plot_format, &pages).context(NOT_WRITTEN)?;
    }
    if !args.rendering.no_trace {
        let dir = staging.path();
        timeline::write_trace(dir, dir)
            .map_err(anyhow::Error::msg)
            .context(NOT_WRITTEN)?;
    }
    staging.commit().context(NOT_WRITTEN)?;
    super::out(output::summary::render(&timed.output.report));
    eprintln!(
        "simulated {} in {:.2}s ({:.0}× real time, {:.2e} events/s); wrote {}/",
        scenario.duration,
        timed.timing.wall_seconds,
        timed.timing.speedup_vs_realtime,
        timed.timing.events_per_second,
        requested.display()
    );
    Ok(Status::Success)
}

/// What report.html tells besides the run's files.
struct Pages<'a> {
    files: &'a RunFiles<'a>,
    narrator: &'a Narrator,
    end_seconds: f64,
}

/// Draws the plots into the run directory being written, then report.html around them.
fn render(dir: &std::path::Path, format: plot::Format, pages: &Pages) -> anyhow::Result<()> {
    let drawings = plot::write_plots(dir, format).map_err(anyhow::Error::msg)?;
    let plots: Vec<(String, String)> = drawings.into_iter().map(|d| (d.title, d.svg)).collect();
    let files = pages.files;
    let pending = output::explain::pod::pending_table(
        files.pod_events,
        pages.end_seconds,
        REPORT_PENDING_PODS,
    );
    let extras = html::Extras {
        plots: &plots,
        hpa_sentences: &pages.narrator.sentences,
        hpa_untold: pages.narrator.untold,
        pending: &pending,
        cluster_events: files.cluster_events,
        resolved_yaml: files.resolved_yaml,
    };
    let page = html::render(files.report, &extras);
    let path = dir.join("report.html");
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))
}
