//! The only writer of files: the run directory (`report.json`, `run.json`, `timeseries.csv`,
//! `hpa_decisions.jsonl`, `autoscaler.jsonl`, `karpenter.jsonl`, `vpa.jsonl`, `pod_events.jsonl`, `cluster_events.jsonl`,
//! `history.jsonl`, `scenario.resolved.yaml`, plots, `report.html`, `trace.json`), JUnit XML,
//! the terminal summary table and what `kubesim get` prints.
//!
//! A run directory is written into a temporary sibling and renamed into place, so a failed or
//! interrupted write never leaves a half-written result behind; kubesim replaces only
//! directories it wrote itself (see [`run_dir`]).

pub mod calibrate;
pub mod explain;
pub mod get;
pub(crate) mod html;
pub mod junit;
pub mod openmetrics;
pub mod pages;
pub mod plot;
pub mod run_dir;
pub mod summary;
pub mod sweep;
pub(crate) mod timeline;
pub(crate) mod watch;

pub use timeline::HpaEvents;

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use crate::controllers::autoscaler::AutoscalerEvent;
use crate::controllers::hpa::HpaDecision;
use crate::engine::RunOutput;
use crate::metrics::cluster_events::ClusterEvent;
use crate::metrics::history::History;
use crate::metrics::pod_events::PodEvent;
use crate::metrics::{Report, TimeSeries};
use crate::scenario::Scenario;

/// Facts about one invocation that are not a function of the scenario (wall time, command line).
#[derive(Clone, Debug, Serialize)]
pub struct RunInfo {
    /// The version of kubesim that ran it.
    pub kubesim_version: &'static str,
    /// The scenario's name (`metadata.name`, or the name kubesim derives from its path).
    pub scenario: String,
    /// The path of the scenario file it was loaded from.
    pub scenario_file: String,
    /// The seed it ran with (`--seed`, else the scenario's `spec.seed`, else 1).
    pub seed: u64,
    /// The command that ran it (for a run kept by a sweep: the `kubesim run` that repeats it).
    pub command_line: Vec<String>,
    /// The scenario's duration, in simulated seconds.
    pub simulated_seconds: f64,
    /// Events the engine handled.
    pub events: u64,
    /// Requests that finished, served or failed, over every Service.
    pub requests: u64,
    /// Which data plane served them: `node-major on N thread(s)`, or `exact` and why.
    pub data_plane: String,
    /// How fast it ran (absent for the runs a sweep keeps: the sweep's own `run.json` says).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
}

/// Wall-clock speed of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Timing {
    /// How long the simulation took, in wall-clock seconds (not counting the files written
    /// after it).
    pub wall_seconds: f64,
    /// Simulated seconds per wall-clock second.
    pub speedup_vs_realtime: f64,
    /// Events the engine handled per wall-clock second.
    pub events_per_second: f64,
    /// Requests finished (served or failed) per wall-clock second.
    pub requests_per_second: f64,
    /// On the node-major plane: where its all-lanes advances spent their time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lanes: Option<crate::engine::LaneTiming>,
}

impl Timing {
    /// The speed of a run that took `wall_seconds`.
    pub fn of(scenario: &Scenario, output: &RunOutput, wall_seconds: f64) -> Timing {
        Timing {
            wall_seconds,
            speedup_vs_realtime: scenario.duration.as_secs_f64() / wall_seconds,
            events_per_second: output.events as f64 / wall_seconds,
            requests_per_second: output.report.totals.requests as f64 / wall_seconds,
            lanes: output.lane_timing.clone(),
        }
    }
}

impl RunInfo {
    /// The facts of a finished run.
    pub fn new(
        scenario: &Scenario,
        output: &RunOutput,
        command_line: Vec<String>,
        timing: Option<Timing>,
    ) -> RunInfo {
        RunInfo {
            kubesim_version: env!("CARGO_PKG_VERSION"),
            scenario: scenario.name.clone(),
            scenario_file: scenario.file.display().to_string(),
            seed: scenario.seed,
            command_line,
            simulated_seconds: scenario.duration.as_secs_f64(),
            events: output.events,
            requests: output.report.totals.requests,
            data_plane: output.plane.to_string(),
            timing,
        }
    }
}

/// Everything that goes into a run directory.
pub struct RunFiles<'a> {
    /// The run's report (`report.json`).
    pub report: &'a Report,
    /// The invocation's facts (`run.json`).
    pub info: &'a RunInfo,
    /// `None`: already written into the directory during the run ([`TimeSeriesFile`]).
    pub timeseries: Option<&'a TimeSeries>,
    /// `None`: already written into the directory during the run ([`JsonLinesFile`]).
    pub hpa_decisions: Option<&'a [HpaDecision]>,
    /// The Cluster Autoscaler's decisions (`None`: it did not run, and no file is written).
    pub autoscaler_events: Option<&'a [AutoscalerEvent]>,
    /// What Karpenter did (`None`: it did not run, and no file is written).
    pub karpenter_events: Option<&'a [crate::controllers::karpenter::KarpenterEvent]>,
    /// Every change of a VPA's recommendation (`None`: no VPA, and no file is written).
    pub vpa_records: Option<&'a [crate::controllers::vpa::recommender::VpaRecord]>,
    /// Every pod's events (`pod_events.jsonl`).
    pub pod_events: &'a [PodEvent],
    /// Node failures, rollouts and scripted actions, in order (`cluster_events.jsonl`).
    pub cluster_events: &'a [ClusterEvent],
    /// The cluster's visible changes, for `kubesim get` ([`HISTORY_FILE`]).
    pub history: &'a History,
    /// The scenario after defaults and `--set`, as YAML (`scenario.resolved.yaml`).
    pub resolved_yaml: &'a str,
}

/// The report as pretty JSON with a trailing newline (byte-identical for identical reports).
pub fn report_json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("reports always serialize");
    s.push('\n');
    s
}

/// Writes the run directory atomically (a staging sibling renamed into place, replacing only an
/// earlier run's files).
pub fn write_run_dir(dir: &run_dir::OutDir, files: &RunFiles) -> Result<(), run_dir::OutPathError> {
    run_dir::write_atomically(dir, |staging| write_files(staging, files))
}

/// Writes a run's files into `dir` (a [`run_dir::Staging`] directory).
pub fn write_files(dir: &Path, files: &RunFiles) -> io::Result<()> {
    fs::write(dir.join("report.json"), report_json(files.report))?;
    let mut info = serde_json::to_string_pretty(files.info).map_err(io::Error::other)?;
    info.push('\n');
    fs::write(dir.join("run.json"), info)?;
    if let Some(series) = files.timeseries {
        write_timeseries(&dir.join(TIMESERIES_FILE), series)?;
    }
    if let Some(decisions) = files.hpa_decisions {
        write_json_lines(&dir.join("hpa_decisions.jsonl"), decisions)?;
    }
    if let Some(events) = files.autoscaler_events {
        write_json_lines(&dir.join("autoscaler.jsonl"), events)?;
    }
    if let Some(events) = files.karpenter_events {
        write_json_lines(&dir.join("karpenter.jsonl"), events)?;
    }
    if let Some(records) = files.vpa_records {
        write_json_lines(&dir.join("vpa.jsonl"), records)?;
    }
    write_json_lines(&dir.join("pod_events.jsonl"), files.pod_events)?;
    write_json_lines(&dir.join("cluster_events.jsonl"), files.cluster_events)?;
    write_history(&dir.join(HISTORY_FILE), files.history)?;
    fs::write(dir.join("scenario.resolved.yaml"), files.resolved_yaml)
}

/// The run's time series, one row per sample.
pub const TIMESERIES_FILE: &str = "timeseries.csv";

fn write_timeseries(path: &Path, series: &TimeSeries) -> io::Result<()> {
    let mut file = TimeSeriesFile::create(path)?;
    file.header(&series.columns);
    for row in &series.rows {
        file.row(row);
    }
    file.finish()
}

/// `timeseries.csv` written a row at a time (rows streamed out of a run as they are sampled);
/// the first error is kept and returned by [`TimeSeriesFile::finish`].
pub struct TimeSeriesFile {
    writer: csv::Writer<fs::File>,
    error: Option<io::Error>,
    /// Where each number is formatted (a row of a large run has a thousand).
    field: String,
}

impl TimeSeriesFile {
    /// Creates (or truncates) the file at `path`; write its [`header`](Self::header), then
    /// its rows.
    pub fn create(path: &Path) -> io::Result<Self> {
        Ok(TimeSeriesFile {
            writer: csv::Writer::from_path(path).map_err(io::Error::other)?,
            error: None,
            field: String::new(),
        })
    }

    /// Writes the column names (once, first).
    pub fn header(&mut self, columns: &[String]) {
        self.record(columns.iter().map(String::as_str));
    }

    /// Appends one row (nothing more after an error), each number as [`format_number`]
    /// writes it.
    pub fn row(&mut self, row: &[f64]) {
        for &v in row {
            if self.error.is_some() {
                return;
            }
            self.field.clear();
            write_number(&mut self.field, v);
            self.error = self
                .writer
                .write_field(&self.field)
                .err()
                .map(io::Error::other);
        }
        self.record(std::iter::empty::<&[u8]>());
    }

    fn record<I: IntoIterator<Item = T>, T: AsRef<[u8]>>(&mut self, fields: I) {
        if self.error.is_none() {
            self.error = self
                .writer
                .write_record(fields)
                .map_err(io::Error::other)
                .err();
        }
    }

    /// Flushes the file; the first error of any write, if there was one.
    pub fn finish(mut self) -> io::Result<()> {
        match self.error.take() {
            Some(e) => Err(e),
            None => self.writer.flush(),
        }
    }
}

/// The file `kubesim get` reads: [`History`] as JSON lines.
pub const HISTORY_FILE: &str = "history.jsonl";

fn write_history(path: &Path, history: &History) -> io::Result<()> {
    let mut file = JsonLinesFile::create(path)?;
    history.for_each_line(|line| {
        file.write(line);
        Ok::<(), io::Error>(())
    })?;
    file.finish()
}

fn write_json_lines<T: Serialize>(path: &Path, records: &[T]) -> io::Result<()> {
    let mut file = JsonLinesFile::create(path)?;
    for record in records {
        file.write(record);
    }
    file.finish()
}

/// A JSON-lines file written a record at a time (records streamed out of a run as they
/// happen); the first error is kept and returned by [`JsonLinesFile::finish`].
pub struct JsonLinesFile {
    writer: io::BufWriter<fs::File>,
    error: Option<io::Error>,
}

impl JsonLinesFile {
    /// Creates (or truncates) the file at `path`.
    pub fn create(path: &Path) -> io::Result<Self> {
        Ok(JsonLinesFile {
            writer: io::BufWriter::new(fs::File::create(path)?),
            error: None,
        })
    }

    /// Appends one record as a line (nothing more after an error).
    pub fn write<T: Serialize>(&mut self, record: &T) {
        if self.error.is_some() {
            return;
        }
        let written = serde_json::to_writer(&mut self.writer, record)
            .map_err(io::Error::other)
            .and_then(|()| self.writer.write_all(b"\n"));
        self.error = written.err();
    }

    /// Appends one record already serialized as JSON (`json`, without its newline).
    pub fn write_serialized(&mut self, json: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let written = self
            .writer
            .write_all(json)
            .and_then(|()| self.writer.write_all(b"\n"));
        self.error = written.err();
    }

    /// Flushes the file; the first error of any write, if there was one.
    pub fn finish(mut self) -> io::Result<()> {
        match self.error.take() {
            Some(e) => Err(e),
            None => self.writer.flush(),
        }
    }
}

/// Shortest faithful rendering: integers without a fraction, others as Rust prints them.
pub fn format_number(v: f64) -> String {
    let mut out = String::new();
    write_number(&mut out, v);
    out
}

/// [`format_number`] into `out`.
fn write_number(out: &mut String, v: f64) {
    use std::fmt::Write;
    let _ = if v.fract() == 0.0 && v.abs() < 1e15 {
        write!(out, "{}", v as i64)
    } else {
        write!(out, "{v}")
    };
}
