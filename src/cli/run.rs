//! `kubesim run`: run one scenario, print the summary, write the run directory.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;

use anyhow::Context;

use super::{ScenarioOptions, Status, load_and_report};
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
    #[command(flatten)]
    pub export: super::openmetrics::ExportOptions,
    /// Serve requests on N threads (default 1). Requests are served node by node (the
    /// node-major data plane, docs/node-major.md): each node's requests and CPU sharing advance
    /// on their own between the instants the control plane reads them (scrapes, samples), the
    /// nodes spread over the threads. Outputs are byte-identical for any N. Scenarios whose
    /// nodes interact on the request path (call graphs, LLM servers, memory models, a mesh,
    /// load-aware routing, closed-loop users, lasting connections, zones in the request path)
    /// run on the exact plane instead, and with --threads kubesim says so. When N is no more
    /// than the cores, the extra threads wait awake (yielding) up to 5 ms between two batches,
    /// so they look busy in `top`. On this project's 2-core machine one thread was fastest
    /// (the request draws take the other core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// Serve every request event by event in one queue (the exact plane), as kubesim did before
    /// the node-major plane: slower on large clusters; outputs differ from the default only
    /// where events fall on the same microsecond. For comparisons.
    #[arg(long, conflicts_with = "threads")]
    pub exact_plane: bool,
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

/// Says on stderr which data plane served a run that asked for threads.
fn say_plane(plane: kubesim::engine::PlaneNote) {
    use kubesim::engine::PlaneNote;
    match plane {
        PlaneNote::NodeMajor(threads) => {
            eprintln!("node-major data plane on {threads} thread(s)")
        }
        PlaneNote::Exact(why) => eprintln!(
            "note: --threads ignored: the scenario has {why}, which the node-major plane cannot serve exactly; the exact plane ran"
        ),
        PlaneNote::ExactAsked => {}
    }
}

impl Args {
    /// The data plane the flags ask for.
    fn plane(&self) -> kubesim::engine::DataPlane {
        use kubesim::engine::DataPlane;
        if self.exact_plane {
            return DataPlane::Exact;
        }
        let threads = self.threads.map_or(1, usize::from);
        DataPlane::NodeMajor { threads }
    }
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    let plane = args.plane();
    let Some(scenario) = load_and_report(&args.scenario, &args.options) else {
        return Ok(Status::BadInput);
    };
    let requested = args
        .out
        .unwrap_or_else(|| PathBuf::from("output").join(&scenario.name));
    let scenario_path = kubesim::scenario::manifest_files::scenario_file(&args.scenario);
    let out_dir = match super::checked_out_dir(&requested, &[&scenario_path], &[]) {
        Some(dir) => dir,
        None => return Ok(Status::BadInput),
    };
    let export = match args.export.prepare(&scenario, out_dir.path()) {
        Ok(export) => export,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Status::BadInput);
        }
    };
    // Written into the staging directory as the run goes (not kept in memory), so created
    // first; an error or a failed run removes it.
    let staging = run_dir::Staging::create(&out_dir).context(NOT_WRITTEN)?;
    let mut streamed = Streamed::create(&staging, args.rendering.choice(), export)?;
    let timed = super::run_timed_on(&scenario, Records::Give(&mut streamed), plane)?;
    if args.threads.is_some() {
        say_plane(timed.output.plane);
    }
    let result = timed.output;
    let files = RunFiles {
        report: &result.report,
        info: &timed.info,
        timeseries: None,
        hpa_decisions: None,
        autoscaler_events: result.autoscaler_events.as_deref(),
        karpenter_events: result.karpenter_events.as_deref(),
        vpa_records: result.vpa_records.as_deref(),
        pod_events: &result.pod_events,
        cluster_events: &result.cluster_events,
        history: &result.history,
        resolved_yaml: &scenario.resolved_yaml,
    };
    let stopped = |what| std::io::Error::other(format!("the {what} writer stopped"));
    let (decisions_written, narrator) = (streamed.decisions.finish()).unwrap_or_else(|| {
        let narrator = Narrator::new(pages::REPORT_SENTENCES);
        (Err(stopped("HPA decisions'")), narrator)
    });
    let timeseries_written =
        (streamed.timeseries.finish()).unwrap_or_else(|| Err(stopped("time series'")));
    (decisions_written)
        .and(timeseries_written)
        .and_then(|()| output::write_files(staging.path(), &files))
        .map_err(|e| staging.io_error(e))
        .context(NOT_WRITTEN)?;
    // The plots and the trace read the files just written: the time series and the history
    // are let go before they are drawn (on a large cluster's day, a hundred megabytes).
    let RunOutput {
        report,
        pod_events,
        cluster_events,
        history,
        autoscaler_events,
        ..
    } = result;
    drop(history);
    let pages = Pages {
        report: &report,
        pod_events: &pod_events,
        cluster_events: &cluster_events,
        autoscaler_events: autoscaler_events.as_deref().unwrap_or_default(),
        resolved_yaml: &scenario.resolved_yaml,
        narrator: &narrator,
        end_seconds: scenario.duration.as_secs_f64(),
    };
    pages::render(staging.path(), args.rendering.choice(), &pages)
        .map_err(anyhow::Error::msg)
        .context(NOT_WRITTEN)?;
    let exported = streamed
        .export
        .map(super::openmetrics::Export::finish)
        .transpose()?;
    staging.commit().context(NOT_WRITTEN)?;
    super::tell(output::summary::render(&report));
    let also = exported.map_or(String::new(), |e| format!(" and {e}"));
    super::status_line(format!(
        "simulated {} in {:.2}s ({:.0}× real time, {:.2e} events/s); wrote {}/{also}",
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
    timeseries: TimeSeriesWriter,
    /// The `--openmetrics` export, if asked for.
    export: Option<super::openmetrics::Export>,
}

impl Streamed {
    /// Starts the files in the staging directory; with `rendering.trace`, also the HPA
    /// decisions' part of trace.json (made from the decisions as they are written).
    fn create(
        staging: &run_dir::Staging,
        rendering: pages::Rendering,
        export: Option<super::openmetrics::Export>,
    ) -> anyhow::Result<Streamed> {
        let create = || -> std::io::Result<Streamed> {
            let dir = staging.path();
            let files = DecisionFiles {
                decisions: JsonLinesFile::create(&dir.join("hpa_decisions.jsonl"))?,
                trace_events: rendering
                    .trace
                    .then(|| HpaEvents::create(dir))
                    .transpose()?,
                unwritten: None,
            };
            let narrator = Narrator::new(pages::REPORT_SENTENCES);
            Ok(Streamed {
                decisions: DecisionWriter::writing(files, narrator),
                timeseries: TimeSeriesWriter::writing(TimeSeriesFile::create(
                    &dir.join(output::TIMESERIES_FILE),
                )?),
                export,
            })
        };
        create()
            .map_err(|e| staging.io_error(e))
            .context(NOT_WRITTEN)
    }
}

impl RecordSink for Streamed {
    fn timeseries_columns(&mut self, columns: &[String]) {
        self.timeseries.push(CsvLine::Header(columns.to_vec()));
        if let Some(export) = &mut self.export {
            export.set_columns(columns);
        }
    }

    fn timeseries_row(&mut self, row: &[f64]) {
        self.timeseries.push(CsvLine::Row(row.to_vec()));
    }

    fn hpa_decision(&mut self, decision: HpaDecision) {
        self.decisions.push(decision);
    }

    fn export_interval(&self) -> Option<kubesim::sim::SimDuration> {
        self.export.as_ref().map(|e| e.interval)
    }

    fn export(&mut self, sample: &kubesim::metrics::export::ExportSample) {
        if let Some(export) = &mut self.export {
            export.add(sample);
        }
    }
}

/// What the HPA decisions are written into as they are made.
struct DecisionFiles {
    decisions: JsonLinesFile,
    /// trace.json's events for them, unless the trace is not wanted.
    trace_events: Option<HpaEvents>,
    /// A decision that could not be serialized (none can; kept rather than a panic).
    unwritten: Option<std::io::Error>,
}

impl DecisionFiles {
    /// Writes one decision (serialized into `line`, reused) into each file.
    fn write(&mut self, decision: &HpaDecision, line: &mut Vec<u8>) {
        line.clear();
        if let Err(e) = serde_json::to_writer(&mut *line, decision) {
            self.unwritten.get_or_insert(std::io::Error::other(e));
            return;
        }
        self.decisions.write_serialized(line);
        if let Some(trace_events) = &mut self.trace_events {
            trace_events.decision(line);
        }
    }

    /// Flushes both; the first error, if there was one.
    fn finish(self) -> std::io::Result<()> {
        let trace_events = self.trace_events.map_or(Ok(()), HpaEvents::finish);
        let serialized = self.unwritten.map_or(Ok(()), Err);
        serialized.and(self.decisions.finish()).and(trace_events)
    }
}

/// Writes the HPA decisions (`hpa_decisions.jsonl`, and their trace events) and tells their
/// story on a thread of its own, so that the simulation does not wait for the JSON (on a large
/// cluster's day, half a gigabyte of it). Finishing gives whether the files were written, and
/// the story.
type DecisionWriter = OffThread<HpaDecision, (std::io::Result<()>, Narrator)>;

impl DecisionWriter {
    fn writing(files: DecisionFiles, narrator: Narrator) -> DecisionWriter {
        // Decisions are a few hundred bytes: 512 at a time. `line` is reused for each.
        let state = (files, narrator, Vec::new());
        OffThread::start(
            512,
            state,
            |(files, narrator, line), decision| {
                files.write(&decision, line);
                narrator.offer(decision);
            },
            |(files, narrator, _)| (files.finish(), narrator),
        )
    }
}

/// A line of `timeseries.csv`.
enum CsvLine {
    Header(Vec<String>),
    Row(Vec<f64>),
}

/// Writes `timeseries.csv` on a thread of its own (a large cluster's row is a thousand numbers
/// to format). Finishing gives whether the file was written.
type TimeSeriesWriter = OffThread<CsvLine, std::io::Result<()>>;

impl TimeSeriesWriter {
    fn writing(file: TimeSeriesFile) -> TimeSeriesWriter {
        // A row of a large run is kilobytes: 16 at a time.
        OffThread::start(
            16,
            file,
            |file, line| match line {
                CsvLine::Header(columns) => file.header(&columns),
                CsvLine::Row(row) => file.row(&row),
            },
            TimeSeriesFile::finish,
        )
    }
}

/// Items handed to a thread of its own in batches (a hand-over costs a wake-up of the thread),
/// which takes each in the order given; at the end, what the thread made of them.
struct OffThread<T, R> {
    batch: Vec<T>,
    batch_len: usize,
    to_thread: Option<mpsc::SyncSender<Vec<T>>>,
    thread: JoinHandle<R>,
}

impl<T: Send + 'static, R: Send + 'static> OffThread<T, R> {
    /// Starts the thread on `state`: `each` takes every item, then `finish` makes the result.
    fn start<S: Send + 'static>(
        batch_len: usize,
        mut state: S,
        each: fn(&mut S, T),
        finish: fn(S) -> R,
    ) -> Self {
        let (to_thread, batches) = mpsc::sync_channel::<Vec<T>>(4);
        let thread = std::thread::spawn(move || {
            for batch in batches {
                for item in batch {
                    each(&mut state, item);
                }
            }
            finish(state)
        });
        OffThread {
            batch: Vec::with_capacity(batch_len),
            batch_len,
            to_thread: Some(to_thread),
            thread,
        }
    }

    fn push(&mut self, item: T) {
        self.batch.push(item);
        if self.batch.len() == self.batch_len {
            self.hand_over();
        }
    }

    fn hand_over(&mut self) {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(self.batch_len));
        if let Some(to_thread) = &self.to_thread {
            // Only fails if the thread has stopped; `finish` then says so.
            let _ = to_thread.send(batch);
        }
    }

    /// Hands over what is left and waits for the thread: its result (`None`: it stopped).
    fn finish(mut self) -> Option<R> {
        self.hand_over();
        self.to_thread = None;
        self.thread.join().ok()
    }
}
