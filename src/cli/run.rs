//! `kubesim run`: run one scenario, print the summary, write the run directory.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;

use anyhow::Context;

use super::{ScenarioOptions, Status, load_and_report, run_timed};
use kubesim::controllers::hpa::HpaDecision;
use kubesim::engine::{RecordSink, Records, RunOutput};
use kubesim::output::explain::hpa::Narrator;
use kubesim::output::pages::{self, Pages};
use kubesim::output::{self, HpaEvents, JsonLinesFile, RunFiles, TimeSeriesFile, plot, run_dir};

/// The context of every error writing the run directory.
const NOT_WRITTEN: &str = "--out: the run directory was not written";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file (kind: Scenario), or a folder holding a scenario.yaml.
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

impl Rendering {
    pub fn choice(&self) -> pages::Rendering {
        pages::Rendering {
            plots: (!self.no_plots).then_some(self.plot_format),
            trace: !self.no_trace,
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    let Some(scenario) = load_and_report(&args.scenario, &args.options) else {
        return Ok(Status::BadInput);
    };
    let requested = args
        .out
        .unwrap_or_else(|| PathBuf::from("output").join(&scenario.name));
    let scenario_path = kubesim::scenario::manifest_files::scenario_file(&args.scenario);
    let out_dir = match super::checked_out_dir(&requested, &[&scenario_path]) {
        Some(dir) => dir,
        None => return Ok(Status::BadInput),
    };
    // Written into the staging directory as the run goes (not kept in memory), so created
    // first; an error or a failed run removes it.
    let staging = run_dir::Staging::create(&out_dir).context(NOT_WRITTEN)?;
    let mut streamed = Streamed::create(&staging, args.rendering.choice())?;
    let timed = run_timed(&scenario, Records::Give(&mut streamed))?;
    let result = timed.output;
    let files = RunFiles {
        report: &result.report,
        info: &timed.info,
        timeseries: None,
        hpa_decisions: None,
        autoscaler_events: result.autoscaler_events.as_deref(),
        pod_events: &result.pod_events,
        cluster_events: &result.cluster_events,
        history: &result.history,
        resolved_yaml: &scenario.resolved_yaml,
    };
    let (decisions_written, narrator) = streamed.decisions.finish();
    (decisions_written)
        .and_then(|()| streamed.timeseries.finish())
        .and_then(|()| output::write_files(staging.path(), &files))
        .map_err(|e| staging.io_error(e))
        .context(NOT_WRITTEN)?;
    // The plots and the trace read the files just written: the time series and the history
    // are let go before they are drawn (on a large cluster's day, a hundred megabytes).
    let RunOutput {
        report,
        pod_events,
        cluster_events,
        ..
    } = result;
    let pages = Pages {
        report: &report,
        pod_events: &pod_events,
        cluster_events: &cluster_events,
        resolved_yaml: &scenario.resolved_yaml,
        narrator: &narrator,
        end_seconds: scenario.duration.as_secs_f64(),
    };
    pages::render(staging.path(), args.rendering.choice(), &pages)
        .map_err(anyhow::Error::msg)
        .context(NOT_WRITTEN)?;
    staging.commit().context(NOT_WRITTEN)?;
    super::tell(output::summary::render(&report));
    super::status_line(format!(
        "simulated {} in {:.2}s ({:.0}× real time, {:.2e} events/s); wrote {}/",
        scenario.duration,
        timed.timing.wall_seconds,
        timed.timing.speedup_vs_realtime,
        timed.timing.events_per_second,
        requested.display()
    ));
    Ok(Status::Success)
}

/// The records a run writes into its staging directory as it goes (not kept in memory: a large
/// cluster's day makes hundreds of megabytes of them), and the HPA story told from them.
struct Streamed {
    decisions: DecisionWriter,
    timeseries: TimeSeriesFile,
}

impl Streamed {
    /// Starts the files in the staging directory; with `rendering.trace`, also the HPA
    /// decisions' part of trace.json (made from the decisions as they are written).
    fn create(staging: &run_dir::Staging, rendering: pages::Rendering) -> anyhow::Result<Streamed> {
        let create = || -> std::io::Result<Streamed> {
            let dir = staging.path();
            let files = DecisionFiles {
                decisions: JsonLinesFile::create(&dir.join("hpa_decisions.jsonl"))?,
                trace_events: rendering
                    .trace
                    .then(|| HpaEvents::create(dir))
                    .transpose()?,
            };
            let narrator = Narrator::new(pages::REPORT_SENTENCES);
            Ok(Streamed {
                decisions: DecisionWriter::start(files, narrator),
                timeseries: TimeSeriesFile::create(&dir.join(output::TIMESERIES_FILE))?,
            })
        };
        create()
            .map_err(|e| staging.io_error(e))
            .context(NOT_WRITTEN)
    }
}

impl RecordSink for Streamed {
    fn timeseries_columns(&mut self, columns: &[String]) {
        self.timeseries.header(columns);
    }

    fn timeseries_row(&mut self, row: &[f64]) {
        self.timeseries.row(row);
    }

    fn hpa_decision(&mut self, decision: HpaDecision) {
        self.decisions.push(decision);
    }
}

/// Decisions handed over to the writer at once: a hand-over costs a wake-up of its thread.
const DECISION_BATCH: usize = 512;

/// What the HPA decisions are written into as they are made.
struct DecisionFiles {
    decisions: JsonLinesFile,
    /// trace.json's events for them, unless the trace is not wanted.
    trace_events: Option<HpaEvents>,
}

impl DecisionFiles {
    /// Writes one decision (serialized into `line`, reused) into each file.
    fn write(&mut self, decision: &HpaDecision, line: &mut Vec<u8>) {
        line.clear();
        if let Err(e) = serde_json::to_writer(&mut *line, decision) {
            unreachable!("an HPA decision always serializes: {e}");
        }
        self.decisions.write_serialized(line);
        if let Some(trace_events) = &mut self.trace_events {
            trace_events.decision(line);
        }
    }

    /// Flushes both; the first error, if there was one.
    fn finish(self) -> std::io::Result<()> {
        let trace_events = self.trace_events.map_or(Ok(()), HpaEvents::finish);
        self.decisions.finish().and(trace_events)
    }
}

/// Writes the HPA decisions (`hpa_decisions.jsonl`, and their trace events), and tells their
/// story, on a thread of its own, in the order they were made, so that the simulation does not
/// wait for the JSON (on a large cluster's day, half a gigabyte of it).
struct DecisionWriter {
    batch: Vec<HpaDecision>,
    to_writer: Option<mpsc::SyncSender<Vec<HpaDecision>>>,
    writer: JoinHandle<(std::io::Result<()>, Narrator)>,
}

impl DecisionWriter {
    fn start(mut files: DecisionFiles, mut narrator: Narrator) -> DecisionWriter {
        let (to_writer, batches) = mpsc::sync_channel::<Vec<HpaDecision>>(4);
        let writer = std::thread::spawn(move || {
            let mut line = Vec::new();
            for batch in batches {
                for decision in batch {
                    files.write(&decision, &mut line);
                    narrator.offer(decision);
                }
            }
            (files.finish(), narrator)
        });
        DecisionWriter {
            batch: Vec::with_capacity(DECISION_BATCH),
            to_writer: Some(to_writer),
            writer,
        }
    }

    fn push(&mut self, decision: HpaDecision) {
        self.batch.push(decision);
        if self.batch.len() == DECISION_BATCH {
            self.hand_over();
        }
    }

    fn hand_over(&mut self) {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(DECISION_BATCH));
        if let Some(to_writer) = &self.to_writer {
            // Only fails if the writer has stopped; `finish` then reports why.
            let _ = to_writer.send(batch);
        }
    }

    /// Writes what is left and waits for the writer: whether the file was written, and the
    /// story.
    fn finish(mut self) -> (std::io::Result<()>, Narrator) {
        self.hand_over();
        self.to_writer = None;
        self.writer.join().unwrap_or_else(|_| {
            let stopped = std::io::Error::other("the HPA decisions' writer stopped");
            (Err(stopped), Narrator::new(pages::REPORT_SENTENCES))
        })
    }
}
