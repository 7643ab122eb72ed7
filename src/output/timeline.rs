//! `trace.json`: the run as a timeline in the Chrome trace-event format, which
//! `ui.perfetto.dev` and `chrome://tracing` open. Built from the run directory's own files
//! (`history.jsonl`, `hpa_decisions.jsonl`, `pod_events.jsonl`, `cluster_events.jsonl`,
//! `timeseries.csv`), so it shows exactly what the run recorded.
//!
//! Layout (one "process" per group, one "thread" per track):
//! - **Cluster**: counters of nodes per pool and pending pods; node failures, spot
//!   interruptions, rollouts and scripted actions as global instants (a line across every track).
//! - **Workloads**: counters of desired and ready replicas and of requests in flight per
//!   workload; one track per HPA with its decisions as instants (the decision record — metrics,
//!   conditions and their messages, limits — as arguments). Only decisions that changed the
//!   replicas or a condition are marked.
//! - **Pending pods**: a track per pod that waited for a node, with its `Pending` slice and the
//!   scheduler's and the autoscaler's events (`FailedScheduling` with the per-node reasons).
//! - **One process per node**: its status as slices (Ready, NotReady, down, cordoned) and a
//!   track per pod bound there: ContainerCreating, Running (Ready or not), CrashLoopBackOff,
//!   Terminating, with the pod's warnings as instants.
//!
//! Time is simulated time in microseconds. Counters are written only when their value changes.
//!
//! `kubesim run` makes the HPA decisions' events while the run goes, from each decision's line
//! as it is written ([`HpaEvents`], on the decisions' writer thread), and the trace takes them
//! as made; a directory without them (a sweep's kept run) has them made from
//! `hpa_decisions.jsonl`. The bytes are the same either way.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::{Value, json};

use crate::cluster::journal::{NodeStatus, PodStatus};
use crate::metrics::history::{Line, line_time};
use crate::output::get::{for_each_json_line, history_path, read_json_lines};
use crate::output::plot::data::RunData;

/// The file name.
pub const TRACE_FILE: &str = "trace.json";

const CLUSTER_PID: u64 = 1;
const WORKLOADS_PID: u64 = 2;
const PENDING_PID: u64 = 3;
/// Node `n` is process `NODE_PID_BASE + n`.
const NODE_PID_BASE: u64 = 10;

/// Where `kubesim run` puts the HPA decisions' trace events as the decisions are made
/// ([`HpaEvents`]), in the run directory being written: `trace.json` takes them from there (and
/// removes it) rather than reading every decision back from `hpa_decisions.jsonl`.
pub const HPA_EVENTS_FILE: &str = "trace-hpa-events.part";

/// The HPA decisions' part of `trace.json`, made while the run goes, from each decision's line
/// of `hpa_decisions.jsonl` as it is written (into `trace-hpa-events.part`). Every event is
/// exactly what the trace would make from that line read back, so the trace has the same bytes
/// either way; on a large cluster's day this is most of the trace's work, and it is done beside
/// the simulation instead of after it.
pub struct HpaEvents {
    trace: Trace<std::io::BufWriter<std::fs::File>>,
    hpas: HpaTracks,
}

impl HpaEvents {
    /// Starts its file (`trace-hpa-events.part`) in `dir`.
    pub fn create(dir: &Path) -> std::io::Result<HpaEvents> {
        let file = std::fs::File::create(dir.join(HPA_EVENTS_FILE))?;
        Ok(HpaEvents {
            trace: Trace::continuing(std::io::BufWriter::new(file)),
            hpas: HpaTracks::default(),
        })
    }

    /// The events of one decision, given as its line of `hpa_decisions.jsonl`.
    pub fn decision(&mut self, line: &[u8]) {
        if let Err(e) = self.trace.hpa_decision(&mut self.hpas, line) {
            self.trace.fail(e.into());
        }
    }

    /// Flushes the file; the first error, if there was one.
    pub fn finish(self) -> std::io::Result<()> {
        self.trace.finish_part()
    }
}

/// Builds `trace.json` from the files in `from` and writes it into `dir`, an event at a time
/// (a day of a large cluster makes millions of them).
pub fn write_trace(from: &Path, dir: &Path) -> Result<(), String> {
    let path = dir.join(TRACE_FILE);
    let located = |e: std::io::Error| format!("{}: {e}", path.display());
    let file = std::fs::File::create(&path).map_err(located)?;
    let mut t = Trace::new(std::io::BufWriter::new(file));
    build(from, &mut t)?;
    t.finish().map_err(located)
}

/// Writes the trace of the run in `dir` into `t`: its `otherData`, then its events. The HPA
/// decisions and pod events are read a line at a time (a day of a large cluster writes half a
/// gigabyte of decisions), and the history and the time series one after the other.
fn build<W: Write>(dir: &Path, t: &mut Trace<W>) -> Result<(), String> {
    let summary = RunData::summary(dir)?;
    t.begin(&json!({
        "scenario": summary.scenario,
        "simulatedSeconds": summary.duration_seconds,
        "clock": "simulated time; ts in microseconds from the start of the run",
    }));
    t.name_processes();
    let pods = t.pods_and_nodes(dir)?;
    each_optional_line(&dir.join("pod_events.jsonl"), |e: PodEventLine| {
        t.pod_event(&e, &pods)
    })?;
    drop(pods);
    let cluster_events: Vec<Value> = optional_lines(&dir.join("cluster_events.jsonl"))?;
    t.cluster_events(&cluster_events);
    hpa_events(dir, t)?;
    // The time series last, once the history is let go, and only the columns counted.
    t.counters(&RunData::series_only(dir, Trace::<W>::counted)?);
    Ok(())
}

/// The HPA decisions' events: those made during the run ([`HPA_EVENTS_FILE`], which is then
/// removed), or else made from `hpa_decisions.jsonl` (a sweep's kept run).
fn hpa_events<W: Write>(dir: &Path, t: &mut Trace<W>) -> Result<(), String> {
    let made_during_the_run = dir.join(HPA_EVENTS_FILE);
    if made_during_the_run.exists() {
        t.append_events(&made_during_the_run)?;
        return std::fs::remove_file(&made_during_the_run)
            .map_err(|e| format!("{}: {e}", made_during_the_run.display()));
    }
    let path = dir.join("hpa_decisions.jsonl");
    if !path.exists() {
        return Ok(());
    }
    let located =
        |line: usize, e: &dyn std::fmt::Display| format!("{}:{line}: {e}", path.display());
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut hpas = HpaTracks::default();
    for (i, line) in std::io::BufRead::lines(std::io::BufReader::new(file)).enumerate() {
        let line = line.map_err(|e| located(i + 1, &e))?;
        if !line.trim().is_empty() {
            (t.hpa_decision(&mut hpas, line.as_bytes())).map_err(|e| located(i + 1, &e))?;
        }
    }
    Ok(())
}

/// What the trace reads of a line of `pod_events.jsonl`: its owner and type are skipped, and
/// the fields shown as the event's arguments are kept as they were written.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodEventLine {
    t_seconds: Option<f64>,
    pod: Option<String>,
    reason: Option<String>,
    message: Option<String>,
    #[serde(default)]
    count: Value,
    #[serde(default)]
    last_seconds: Value,
}

fn each_optional_line<T: serde::de::DeserializeOwned>(
    path: &Path,
    each: impl FnMut(T),
) -> Result<(), String> {
    match path.exists() {
        true => for_each_json_line(path, each),
        false => Ok(()),
    }
}

fn optional_lines(path: &Path) -> Result<Vec<Value>, String> {
    if path.exists() {
        read_json_lines(path)
    } else {
        Ok(Vec::new())
    }
}

fn micros(seconds: f64) -> i64 {
    (seconds * 1e6).round() as i64
}

/// Where a pod's slices go, and since when it is in its current state.
struct Open {
    pid: u64,
    tid: u64,
    name: &'static str,
    since: f64,
}

/// A pod's track: its id on the Pending process, one more on a node's (track 0 there is the
/// node's status).
fn pod_tid(pod: u32, pid: u64) -> u64 {
    u64::from(pod) + u64::from(pid != PENDING_PID)
}

/// A pod as the trace tracks it: its name, its track, when it was bound where.
#[derive(Default)]
pub struct PodTracks {
    /// Pod id → (name, [(from t, pid)]).
    by_id: BTreeMap<u32, (String, Vec<(f64, u64)>)>,
    /// Pod name → ids with that name (a StatefulSet reuses names), in creation order.
    by_name: BTreeMap<String, Vec<u32>>,
}

/// What the pass over the history keeps: the pods' tracks, the slices still open, and the
/// run's end when the line last read was the closing one.
#[derive(Default)]
struct HistoryPass {
    tracks: PodTracks,
    open_pods: BTreeMap<u32, Open>,
    open_nodes: BTreeMap<u32, Open>,
    end: Option<f64>,
}

/// Per HPA: its track (1, 2, … in order of first decision), and its conditions at its previous
/// decision (by track).
#[derive(Default)]
struct HpaTracks {
    tids: BTreeMap<String, u64>,
    last_conditions: Vec<Vec<ConditionHead>>,
}

/// What of an HPA decision's line says whether the trace marks it: the HPA, the replicas before
/// and after, and each condition's type, status and reason (not its message). Most decisions
/// change none of these, and only a marked one is read whole.
#[derive(serde::Deserialize)]
struct DecisionHead<'a> {
    #[serde(borrow, default)]
    hpa: std::borrow::Cow<'a, str>,
    #[serde(default)]
    current_replicas: Value,
    #[serde(default)]
    desired_replicas: Value,
    #[serde(default)]
    conditions: Vec<ConditionHead>,
}

/// A condition as the trace compares decisions (a field absent is `null`).
#[derive(serde::Deserialize, PartialEq)]
struct ConditionHead {
    #[serde(rename = "type", default)]
    kind: Value,
    #[serde(default)]
    status: Value,
    #[serde(default)]
    reason: Value,
}

/// A complete ("X") event without arguments. The fields are in the order a JSON object writes
/// its keys (by name), so it is written with the bytes of the same event made as a [`Value`].
#[derive(Serialize)]
struct Slice<'a> {
    args: NoArgs,
    dur: i64,
    name: &'a str,
    ph: &'static str,
    pid: u64,
    tid: u64,
    ts: i64,
}

/// An empty arguments object (`{}`).
#[derive(Serialize)]
struct NoArgs {}

/// A counter ("C") event, its fields by name as in [`Slice`].
#[derive(Serialize)]
struct Counter<'a> {
    args: CounterArgs<'a>,
    name: &'a str,
    ph: &'static str,
    pid: u64,
    ts: i64,
}

/// A counter's values by series label, the labels in ascending order. A value is written as a
/// JSON number would be (`null` when not finite).
struct CounterArgs<'a> {
    labels: &'a [&'a str],
    values: &'a [f64],
}

impl Serialize for CounterArgs<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.labels.len()))?;
        for (label, value) in self.labels.iter().zip(self.values) {
            map.serialize_entry(label, &json_number(*value))?;
        }
        map.end()
    }
}

/// `v` as a JSON value makes it: a number, or `null` when it is not finite.
fn json_number(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// The trace being written: the document's head, then each event as it is made. A write error
/// is kept and returned by [`Trace::finish`] (the events after it are not written).
struct Trace<W: Write> {
    out: W,
    events: usize,
    error: Option<std::io::Error>,
    /// Threads already named, per process.
    named: std::collections::BTreeSet<(u64, u64)>,
}

impl<W: Write> Trace<W> {
    fn new(out: W) -> Self {
        Trace {
            out,
            events: 0,
            error: None,
            named: Default::default(),
        }
    }

    /// A part of a trace whose head and first event are written elsewhere: every event is
    /// preceded by its separating comma, so the part can be appended after them.
    fn continuing(out: W) -> Self {
        Trace {
            events: 1,
            ..Trace::new(out)
        }
    }

    fn write(&mut self, text: &str) {
        if self.error.is_none()
            && let Err(e) = self.out.write_all(text.as_bytes())
        {
            self.error = Some(e);
        }
    }

    /// Keeps the first error.
    fn fail(&mut self, e: std::io::Error) {
        self.error.get_or_insert(e);
    }

    /// Appends the events of a part made by [`Trace::continuing`] (in the file at `path`).
    fn append_events(&mut self, path: &Path) -> Result<(), String> {
        debug_assert!(self.events > 0, "a part's events begin with a comma");
        let located = |e: std::io::Error| format!("{}: {e}", path.display());
        let mut part = std::fs::File::open(path).map_err(located)?;
        if self.error.is_none()
            && let Err(e) = std::io::copy(&mut part, &mut self.out)
        {
            self.error = Some(e);
        }
        self.events += 1; // at least: only whether there were any matters
        Ok(())
    }

    /// The head of the document, up to the first event.
    fn begin(&mut self, other_data: &Value) {
        self.write("{\"displayTimeUnit\":\"ms\",\"otherData\":");
        self.write(&other_data.to_string());
        self.write(",\"traceEvents\":[");
    }

    /// Writes one event, serialized straight into the output.
    fn push(&mut self, event: &impl Serialize) {
        if self.events > 0 {
            self.write(",");
        }
        self.events += 1;
        if self.error.is_none()
            && let Err(e) = serde_json::to_writer(&mut self.out, event)
        {
            self.error = Some(e.into());
        }
    }

    /// Closes the document; the first write error, if any.
    fn finish(mut self) -> std::io::Result<()> {
        self.write("]}");
        self.finish_part()
    }

    /// Flushes what was written; the first write error, if any.
    fn finish_part(mut self) -> std::io::Result<()> {
        match self.error.take() {
            Some(e) => Err(e),
            None => self.out.flush(),
        }
    }

    fn meta(&mut self, pid: u64, tid: Option<u64>, name: &str) {
        match tid {
            None => self.push(&json!({"ph": "M", "name": "process_name", "pid": pid,
                "args": {"name": name}})),
            Some(tid) => {
                if self.named.insert((pid, tid)) {
                    self.push(&json!({"ph": "M", "name": "thread_name", "pid": pid,
                        "tid": tid, "args": {"name": name}}));
                }
            }
        }
    }

    fn sort_index(&mut self, pid: u64) {
        self.push(
            &json!({"ph": "M", "name": "process_sort_index", "pid": pid, "args": {"sort_index": pid}}),
        );
    }

    fn name_processes(&mut self) {
        for (pid, name) in [
            (CLUSTER_PID, "Cluster"),
            (WORKLOADS_PID, "Workloads and HPAs"),
            (PENDING_PID, "Pending pods"),
        ] {
            self.meta(pid, None, name);
            self.sort_index(pid);
        }
    }

    /// A slice without arguments.
    fn slice(&mut self, pid: u64, tid: u64, name: &str, from: f64, to: f64) {
        self.push(&Slice {
            args: NoArgs {},
            dur: micros(to) - micros(from),
            name,
            ph: "X",
            pid,
            tid,
            ts: micros(from),
        });
    }

    fn instant(&mut self, pid: u64, tid: u64, name: &str, at: f64, args: Value) {
        self.push(
            &json!({"ph": "i", "s": "t", "name": name, "pid": pid, "tid": tid,
            "ts": micros(at), "args": args}),
        );
    }

    /// Node status slices and pod lifetime slices, from the history read a line at a time.
    fn pods_and_nodes(&mut self, dir: &Path) -> Result<PodTracks, String> {
        let mut pass = HistoryPass::default();
        for_each_json_line(&history_path(dir)?, |line: Line| {
            self.history_line(&mut pass, &line);
            pass.end = match line {
                Line::End { t, full_at, .. } => Some(full_at.unwrap_or(t)),
                _ => None,
            };
        })?;
        let end = pass.end.unwrap_or(0.0);
        let open = pass
            .open_pods
            .into_values()
            .chain(pass.open_nodes.into_values());
        for open in open {
            self.close(open, end);
        }
        Ok(pass.tracks)
    }

    /// One line of the history: a node or pod added, or its status changed.
    fn history_line(&mut self, pass: &mut HistoryPass, line: &Line) {
        let Some(at) = line_time(line) else {
            return;
        };
        let HistoryPass {
            tracks,
            open_pods,
            open_nodes,
            ..
        } = pass;
        match line {
            Line::NodeAdded {
                node, name, pool, ..
            } => {
                let pid = NODE_PID_BASE + u64::from(*node);
                self.meta(pid, None, &format!("node {name} ({pool})"));
                self.sort_index(pid);
                self.meta(pid, Some(0), "node status");
            }
            Line::Node { node, .. } => {
                let pid = NODE_PID_BASE + u64::from(*node);
                let name = node_slice_name(line);
                self.switch(open_nodes, *node, (pid, 0), name, at);
            }
            Line::PodCreated { pod, name, .. } => {
                tracks
                    .by_id
                    .insert(*pod, (name.clone(), vec![(at, PENDING_PID)]));
                tracks.by_name.entry(name.clone()).or_default().push(*pod);
                self.meta(PENDING_PID, Some(u64::from(*pod)), name);
                let tid = pod_tid(*pod, PENDING_PID);
                self.switch(open_pods, *pod, (PENDING_PID, tid), "Pending", at);
            }
            Line::Pod {
                pod,
                status,
                ready,
                node,
                ..
            } => {
                let pid = node.map_or(PENDING_PID, |n| NODE_PID_BASE + u64::from(n));
                if let Some((name, places)) = tracks.by_id.get_mut(pod) {
                    if places.last().is_some_and(|&(_, p)| p != pid) {
                        places.push((at, pid));
                    }
                    let name = name.clone();
                    self.meta(pid, Some(pod_tid(*pod, pid)), &name);
                }
                let slice = pod_slice_name(*status, *ready);
                self.switch(open_pods, *pod, (pid, pod_tid(*pod, pid)), slice, at);
            }
            _ => {}
        }
    }

    /// Ends the object's open slice at `at` and opens `name` (nothing for a gone object).
    fn switch(
        &mut self,
        open: &mut BTreeMap<u32, Open>,
        id: u32,
        (pid, tid): (u64, u64),
        name: &'static str,
        at: f64,
    ) {
        if let Some(previous) = open.remove(&id) {
            if previous.name == name && previous.pid == pid {
                open.insert(id, previous);
                return;
            }
            self.close(previous, at);
        }
        if !name.is_empty() {
            let since = at;
            open.insert(
                id,
                Open {
                    pid,
                    tid,
                    name,
                    since,
                },
            );
        }
    }

    /// Ends an open slice (a state left at the instant it was entered is not drawn).
    fn close(&mut self, open: Open, at: f64) {
        if micros(at) > micros(open.since) {
            self.slice(open.pid, open.tid, open.name, open.since, at);
        }
    }

    /// The pods' events as instants on the track they were on then.
    fn pod_event(&mut self, e: &PodEventLine, tracks: &PodTracks) {
        let (Some(pod), Some(at)) = (e.pod.as_deref(), e.t_seconds) else {
            return;
        };
        let reason = e.reason.as_deref().unwrap_or_default();
        if matches!(reason, "Created" | "Scheduled" | "Started" | "Pulled") {
            return; // the slices show these
        }
        let Some((id, pid)) = tracks.place(pod, at) else {
            return;
        };
        let tid = pod_tid(id, pid);
        let args = json!({"message": e.message, "count": e.count,
            "lastSeconds": e.last_seconds});
        self.instant(pid, tid, reason, at, args);
    }

    /// Node failures, rollouts and scripted actions as global instants.
    fn cluster_events(&mut self, events: &[Value]) {
        self.meta(CLUSTER_PID, Some(1), "events");
        for e in events {
            let at = e["tSeconds"].as_f64().unwrap_or_default();
            let name = format!(
                "{} {}",
                e["reason"].as_str().unwrap_or_default(),
                e["name"].as_str().unwrap_or_default()
            );
            self.push(
                &json!({"ph": "i", "s": "g", "name": name, "pid": CLUSTER_PID,
                "tid": 1, "ts": micros(at), "args": {"message": e["message"]}}),
            );
        }
    }

    /// An HPA decision, as an instant when it changed the replicas or a condition, with the
    /// decision as arguments.
    ///
    /// The decision is given as its line of `hpa_decisions.jsonl`; an error when it is not a
    /// decision's JSON.
    fn hpa_decision(&mut self, hpas: &mut HpaTracks, line: &[u8]) -> serde_json::Result<()> {
        let mut head: DecisionHead = serde_json::from_slice(line)?;
        let (tid, first) = match hpas.tids.get(&*head.hpa) {
            Some(&tid) => (tid, false),
            None => {
                let tid = hpas.tids.len() as u64 + 1;
                hpas.tids.insert(head.hpa.to_string(), tid);
                hpas.last_conditions.push(Vec::new());
                self.meta(WORKLOADS_PID, Some(tid), &format!("HPA {}", head.hpa));
                (tid, true)
            }
        };
        let last = &mut hpas.last_conditions[tid as usize - 1];
        let changed_conditions = first || *last != head.conditions;
        if changed_conditions {
            *last = std::mem::take(&mut head.conditions);
        } else if head.current_replicas == head.desired_replicas {
            return Ok(());
        }
        self.mark_decision(tid, &head, line)
    }

    /// A marked decision: an instant on its HPA's track with the whole decision as arguments.
    fn mark_decision(
        &mut self,
        tid: u64,
        head: &DecisionHead,
        line: &[u8],
    ) -> serde_json::Result<()> {
        let d: Value = serde_json::from_slice(line)?;
        let (current, desired) = (&head.current_replicas, &head.desired_replicas);
        let name = format!("HPA {}: {current} → {desired}", head.hpa);
        let at = d["time_seconds"].as_f64().unwrap_or_default();
        self.instant(WORKLOADS_PID, tid, &name, at, d);
        Ok(())
    }

    /// Whether the counters ([`Trace::counters`]) read the time-series column called `name`.
    fn counted(name: &str) -> bool {
        let deployment = name.strip_prefix("deployment.").is_some_and(|rest| {
            [".replicas", ".ready", ".in_flight"]
                .iter()
                .any(|s| rest.ends_with(s))
        });
        let pool = name.starts_with("pool.") && name.ends_with(".nodes");
        deployment || pool || name == "cluster.pending_pods"
    }

    /// Replicas, in-flight requests, nodes per pool and pending pods, when they change.
    fn counters(&mut self, run: &RunData) {
        for d in &run.deployments {
            let replicas = [
                ("desired", format!("deployment.{d}.replicas")),
                ("ready", format!("deployment.{d}.ready")),
            ];
            self.counter(run, WORKLOADS_PID, &format!("{d} replicas"), &replicas);
            let in_flight = [("requests", format!("deployment.{d}.in_flight"))];
            self.counter(run, WORKLOADS_PID, &format!("{d} in flight"), &in_flight);
        }
        let pools: Vec<(&str, String)> = run
            .pools
            .iter()
            .map(|p| (p.as_str(), format!("pool.{p}.nodes")))
            .collect();
        self.counter(run, CLUSTER_PID, "nodes", &pools);
        let pending = [("pods", "cluster.pending_pods".to_string())];
        self.counter(run, CLUSTER_PID, "pending pods", &pending);
    }

    /// One counter track with a series per `(label, column)`, a point wherever one changes.
    fn counter(&mut self, run: &RunData, pid: u64, name: &str, series: &[(&str, String)]) {
        let columns: Vec<(&str, &[f64])> = series
            .iter()
            .filter_map(|(label, column)| run.column(column).map(|c| (*label, c)))
            .collect();
        if columns.is_empty() {
            return;
        }
        // The arguments' order as a JSON object writes them: by label.
        let mut by_label: Vec<(&str, &[f64])> = columns;
        by_label.sort_by_key(|&(label, _)| label);
        let labels: Vec<&str> = by_label.iter().map(|&(label, _)| label).collect();
        let mut values: Vec<f64> = Vec::with_capacity(labels.len());
        let mut last: Option<Vec<f64>> = None;
        for (i, &t) in run.t.iter().enumerate() {
            values.clear();
            values.extend(by_label.iter().map(|(_, c)| c[i]));
            if last.as_deref() == Some(&values[..]) {
                continue;
            }
            self.push(&Counter {
                args: CounterArgs {
                    labels: &labels,
                    values: &values,
                },
                name,
                ph: "C",
                pid,
                ts: micros(t),
            });
            last = Some(values.clone());
        }
    }
}

impl PodTracks {
    /// The pod called `name` at `at` (the newest created by then) and the process it was on.
    fn place(&self, name: &str, at: f64) -> Option<(u32, u64)> {
        let ids = self.by_name.get(name)?;
        let id = *ids
            .iter()
            .rev()
            .find(|id| self.by_id[id].1.first().is_some_and(|&(t, _)| t <= at))
            .or(ids.first())?;
        let places = &self.by_id[&id].1;
        let pid = places
            .iter()
            .rev()
            .find(|&&(t, _)| t <= at)
            .map_or(PENDING_PID, |&(_, pid)| pid);
        Some((id, pid))
    }
}

fn pod_slice_name(status: PodStatus, ready: bool) -> &'static str {
    match (status, ready) {
        (PodStatus::Pending, _) => "Pending",
        (PodStatus::ContainerCreating, _) => "ContainerCreating",
        (PodStatus::CreateContainerConfigError, _) => "CreateContainerConfigError",
        (PodStatus::Running, true) => "Running (Ready)",
        (PodStatus::Running, false) => "Running (not Ready)",
        (PodStatus::CrashLoopBackOff, _) => "CrashLoopBackOff",
        (PodStatus::Terminating, _) => "Terminating",
        (PodStatus::Gone, _) => "",
    }
}

fn node_slice_name(line: &Line) -> &'static str {
    let Line::Node {
        status,
        unschedulable,
        down,
        ..
    } = line
    else {
        return "";
    };
    match (status, down, unschedulable) {
        (NodeStatus::Provisioning, _, _) => "Provisioning",
        (NodeStatus::Removed, _, _) => "",
        (NodeStatus::NotReady, _, _) => "NotReady (unreachable)",
        (NodeStatus::Ready, true, _) => "Ready (machine down, not noticed yet)",
        (NodeStatus::Ready, false, true) => "Ready, SchedulingDisabled",
        (NodeStatus::Ready, false, false) => "Ready",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decisions of two HPAs: unchanged, scaling, a condition changing, scaling back.
    const DECISIONS: [&str; 6] = [
        r#"{"time_seconds":0.0,"hpa":"web","current_replicas":2,"desired_replicas":2,"conditions":[{"type":"ScalingActive","status":"False","reason":"FailedGetResourceMetric","message":"no metrics"}]}"#,
        r#"{"time_seconds":0.0,"hpa":"api","current_replicas":3,"desired_replicas":3,"conditions":[]}"#,
        r#"{"time_seconds":15.0,"hpa":"web","current_replicas":2,"desired_replicas":2,"conditions":[{"type":"ScalingActive","status":"False","reason":"FailedGetResourceMetric","message":"no metrics"}]}"#,
        r#"{"time_seconds":15.0,"hpa":"api","current_replicas":3,"desired_replicas":5,"conditions":[]}"#,
        r#"{"time_seconds":30.0,"hpa":"web","current_replicas":2,"desired_replicas":2,"conditions":[{"type":"ScalingActive","status":"True","reason":"ValidMetricFound","message":"ok"}]}"#,
        r#"{"time_seconds":45.5,"hpa":"api","current_replicas":5,"desired_replicas":4,"conditions":[]}"#,
    ];

    /// A trace's head and process names, then the HPA events as [`build`] adds them from `dir`.
    fn trace_with_hpa_events(dir: &Path) -> String {
        let mut t = Trace::new(Vec::new());
        t.begin(&json!({}));
        t.name_processes();
        hpa_events(dir, &mut t).unwrap();
        assert!(t.error.is_none());
        String::from_utf8(t.out).unwrap()
    }

    #[test]
    fn hpa_events_made_during_the_run_are_those_read_back_from_the_decisions() {
        let dir = std::env::temp_dir().join(format!("kubesim-hpa-events-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let jsonl: String = DECISIONS.iter().map(|d| format!("{d}\n")).collect();
        std::fs::write(dir.join("hpa_decisions.jsonl"), jsonl).unwrap();
        let read_back = trace_with_hpa_events(&dir);

        let mut during = HpaEvents::create(&dir).unwrap();
        for d in DECISIONS {
            during.decision(d.as_bytes());
        }
        during.finish().unwrap();
        let made_during = trace_with_hpa_events(&dir);
        let part_left = dir.join(HPA_EVENTS_FILE).exists();
        std::fs::remove_dir_all(&dir).unwrap();

        assert_eq!(made_during, read_back);
        assert!(!part_left, "the part is removed once in the trace");
        // Web's thread name and its condition change; api's name and its two scalings.
        for expected in [
            "\"name\":\"HPA web\"",
            "\"name\":\"HPA api: 3 → 5\"",
            "\"name\":\"HPA api: 5 → 4\"",
            "\"ts\":45500000",
        ] {
            assert!(read_back.contains(expected), "{expected} in {read_back}");
        }
        assert_eq!(read_back.matches("\"name\":\"HPA web: 2 → 2\"").count(), 2);
    }

    #[test]
    fn the_counters_read_their_columns_and_no_other() {
        type T = Trace<Vec<u8>>;
        let read = [
            "deployment.web.replicas",
            "deployment.web.ready",
            "deployment.web.in_flight",
            "deployment.team/api.ready",
            "pool.on-demand.nodes",
            "cluster.pending_pods",
        ];
        for name in read {
            assert!(T::counted(name), "{name}");
        }
        let unread = [
            "deployment.web.cpu_utilization",
            "service.web.p99_ms",
            "service.web.ready",
            "cluster.cost_usd",
            "pool.on-demand.cost",
        ];
        for name in unread {
            assert!(!T::counted(name), "{name}");
        }
    }

    #[test]
    fn an_unreadable_decision_is_an_error_when_the_events_are_finished() {
        let dir = std::env::temp_dir().join(format!("kubesim-hpa-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut during = HpaEvents::create(&dir).unwrap();
        during.decision(b"{\"hpa\": ");
        let finished = during.finish();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(finished.is_err());
    }
}
