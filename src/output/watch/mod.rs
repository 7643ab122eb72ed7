//! report.html's "Watch the cluster" section: a time slider (with play) that shows the cluster
//! at an instant — nodes as boxes holding their pods, coloured by status and readiness; each
//! workload's desired and ready replicas and its HPA's last decision; the Pending pods; the
//! events of the minute before. It is built from the run's own records — `history.jsonl` (what
//! `kubesim get --at` replays), the HPA decisions that changed the current or desired count, the
//! cluster events and the pods' warnings — and replayed in the page by a small inline script
//! (`watch.js`) with `kubesim get`'s rule: "at `t`" is after every change at `t`.
//!
//! The data is a list of changes in time order, one JSON array each (the first two fields are
//! the time and the kind; a pod or node is numbered by the order of its creation record):
//!
//! | kind | fields after the kind |
//! |---|---|
//! | 0 node added (Provisioning) | name, pool |
//! | 1 node changed | node, status (index into `nodeStatuses`), cordoned 0/1, down 0/1 |
//! | 2 pod created (Pending) | name, workload (index into `workloads`), containers |
//! | 3 pod changed | pod, status (index into `podStatuses`), ready 0/1, node or −1, restarts |
//! | 4 workload counts | workload, desired replicas, ready replicas |
//! | 5 HPA decision | hpa (index into `hpas`), current replicas, desired replicas |
//! | 6 event | text |
//!
//! **Size.** The changes take at most [`WATCH_BUDGET`] bytes of JSON. A run with more is shown
//! from its start up to the first instant whose changes no longer fit, and the page says until
//! when (`kubesim get --at` reads the whole history). A history cut short by a full journal is
//! shown up to where it stops.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use serde::Serialize;

use crate::cluster::journal::{NodeStatus, PodStatus};
use crate::metrics::cluster_events::ClusterEvent;
use crate::metrics::history::{Line, line_time};
use crate::metrics::pod_events::PodEvent;
use crate::output::get::{JsonLines, history_path};
use crate::output::html::escape;

/// Bytes of change records the page holds at most.
pub const WATCH_BUDGET: usize = 768 * 1024;
/// An event's text is cut to this many characters on the page (the whole text is in
/// `cluster_events.jsonl` or `pod_events.jsonl`).
const EVENT_CHARS: usize = 160;
/// The script that replays the changes in the page.
const SCRIPT: &str = include_str!("watch.js");

/// Pod statuses in the order their indexes name them (`Pending`, the state of a new pod, is 0).
const POD_STATUSES: [PodStatus; 7] = [
    PodStatus::Pending,
    PodStatus::ContainerCreating,
    PodStatus::CreateContainerConfigError,
    PodStatus::Running,
    PodStatus::CrashLoopBackOff,
    PodStatus::Terminating,
    PodStatus::Gone,
];
/// Node statuses in index order (`Provisioning`, the state of a new node, is 0).
const NODE_STATUSES: [NodeStatus; 4] = [
    NodeStatus::Provisioning,
    NodeStatus::Ready,
    NodeStatus::NotReady,
    NodeStatus::Removed,
];

fn pod_status_index(status: PodStatus) -> usize {
    match status {
        PodStatus::Pending => 0,
        PodStatus::ContainerCreating => 1,
        PodStatus::CreateContainerConfigError => 2,
        PodStatus::Running => 3,
        PodStatus::CrashLoopBackOff => 4,
        PodStatus::Terminating => 5,
        PodStatus::Gone => 6,
    }
}

fn node_status_index(status: NodeStatus) -> usize {
    match status {
        NodeStatus::Provisioning => 0,
        NodeStatus::Ready => 1,
        NodeStatus::NotReady => 2,
        NodeStatus::Removed => 3,
    }
}

/// The section's HTML (heading, controls, data and script), from the run directory's
/// `history.jsonl` and `hpa_decisions.jsonl` and the run's events. The decisions are read only
/// up to the instant the page is cut at (a large run's day has half a gigabyte of them, and its
/// page holds its first hour or two).
pub fn section(
    dir: &Path,
    pod_events: &[PodEvent],
    cluster_events: &[ClusterEvent],
    end_seconds: f64,
) -> Result<String, String> {
    let mut side = SideRecords::open(dir, pod_events, cluster_events)?;
    let mut gathered = Gathered::default();
    for line in JsonLines::<Line>::open(&history_path(dir)?)? {
        let line = line?;
        if let Some(t) = line_time(&line) {
            while !gathered.changes.is_cut() {
                let Some((at, record)) = side.next_before(t)? else {
                    break;
                };
                gathered.take_side(at, record);
            }
        }
        gathered.take(&line);
    }
    while !gathered.changes.is_cut() {
        let Some((at, record)) = side.next_before(f64::INFINITY)? else {
            break;
        };
        gathered.take_side(at, record);
    }
    Ok(render(&gathered.finish(end_seconds)))
}

/// What the section reads of a line of `hpa_decisions.jsonl`: the HPA and its replicas before
/// and after. The rest of the line (metrics, conditions, limits: most of its bytes) is skipped
/// without being kept — a large run's day has half a million lines.
#[derive(serde::Deserialize)]
struct DecisionPair {
    time_seconds: f64,
    hpa: String,
    current_replicas: i32,
    desired_replicas: i32,
}

/// A record that does not come from the history.
enum Side {
    /// An HPA decision whose (current, desired) pair differs from the HPA's decision before.
    Decision {
        hpa: String,
        current: i32,
        desired: i32,
    },
    /// A cluster event or a pod's warning, in words.
    Event(String),
}

/// The records that do not come from the history, in time order: the HPA decisions that
/// changed an HPA's (current, desired) pair, read from `hpa_decisions.jsonl` as they are asked
/// for, and the cluster events and the pods' warnings. At one instant the decisions come first
/// (in the file's order), then the cluster events, then the warnings. The decisions' file is
/// in time order, as a run writes it.
struct SideRecords {
    decisions: Option<JsonLines<DecisionPair>>,
    /// Per HPA, the (current, desired) pair of its decision before.
    last: BTreeMap<String, (i32, i32)>,
    /// The next changing decision, read ahead.
    decision: Option<(f64, Side)>,
    events: std::iter::Peekable<std::vec::IntoIter<(f64, Side)>>,
}

impl SideRecords {
    fn open(
        dir: &Path,
        pod_events: &[PodEvent],
        cluster_events: &[ClusterEvent],
    ) -> Result<SideRecords, String> {
        let path = dir.join("hpa_decisions.jsonl");
        let decisions = match path.exists() {
            true => Some(JsonLines::open(&path)?),
            false => None,
        };
        let mut events = Vec::new();
        for e in cluster_events {
            let text = format!("{:?} {}: {:?}: {}", e.kind, e.name, e.reason, e.message);
            events.push((e.t_seconds, Side::Event(text)));
        }
        for e in pod_events.iter().filter(|e| e.event_type == "Warning") {
            let text = format!("pod {}: {:?}: {}", e.pod, e.reason, e.message);
            events.push((e.t_seconds, Side::Event(text)));
        }
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(SideRecords {
            decisions,
            last: BTreeMap::new(),
            decision: None,
            events: events.into_iter().peekable(),
        })
    }

    /// The next record if it comes before `t`.
    fn next_before(&mut self, t: f64) -> Result<Option<(f64, Side)>, String> {
        self.read_decision()?;
        let decision_at = self.decision.as_ref().map(|(at, _)| *at);
        let event_at = self.events.peek().map(|(at, _)| *at);
        let decision_first = match (decision_at, event_at) {
            (Some(d), Some(e)) => d.total_cmp(&e).is_le(),
            (d, _) => d.is_some(),
        };
        let at = if decision_first {
            decision_at
        } else {
            event_at
        };
        if at.is_none_or(|at| at >= t) {
            return Ok(None);
        }
        Ok(match decision_first {
            true => self.decision.take(),
            false => self.events.next(),
        })
    }

    /// Reads decisions until one changes its HPA's pair (unless one is already read ahead).
    fn read_decision(&mut self) -> Result<(), String> {
        while self.decision.is_none() {
            let Some(lines) = &mut self.decisions else {
                return Ok(());
            };
            let Some(d) = lines.next() else {
                self.decisions = None;
                return Ok(());
            };
            let d = d?;
            let pair = (d.current_replicas, d.desired_replicas);
            if self.last.get(&d.hpa) != Some(&pair) {
                self.last.insert(d.hpa.clone(), pair);
                let (current, desired) = pair;
                let hpa = d.hpa;
                let record = Side::Decision {
                    hpa,
                    current,
                    desired,
                };
                self.decision = Some((d.time_seconds, record));
            }
        }
        Ok(())
    }
}

/// The changes gathered so far, within the budget.
#[derive(Default)]
struct Changes {
    /// (time, the record as JSON).
    records: Vec<(f64, String)>,
    bytes: usize,
    /// The first instant whose changes did not fit.
    cut: Option<f64>,
}

impl Changes {
    /// Adds a record at `t` unless the page is full. The first record that does not fit cuts
    /// the page at its instant: the records of that instant already taken are taken back, so
    /// the page holds whole instants only.
    fn push(&mut self, t: f64, record: impl Serialize) -> bool {
        if self.cut.is_some() {
            return false;
        }
        let text = serde_json::to_string(&record).expect("a change serializes");
        if self.bytes + text.len() + 1 > WATCH_BUDGET {
            self.cut = Some(t);
            self.take_back_from(t);
            return false;
        }
        self.bytes += text.len() + 1;
        self.records.push((t, text));
        true
    }

    /// Whether the page is full: no record is taken from here on.
    fn is_cut(&self) -> bool {
        self.cut.is_some()
    }

    /// Drops the records at `t` and after.
    fn take_back_from(&mut self, t: f64) {
        while self.records.last().is_some_and(|(at, _)| *at >= t) {
            let (_, dropped) = self.records.pop().expect("a last record");
            self.bytes -= dropped.len() + 1;
        }
    }
}

/// The objects the history names, numbered as the page numbers them, and the changes.
#[derive(Default)]
struct Gathered {
    /// Workload names as shown (`namespace/name` outside `default`).
    workloads: Vec<String>,
    /// Workload name → its index (the history's status lines name workloads without namespace).
    workload_index: BTreeMap<String, usize>,
    /// Template id → (workload index or −1, containers).
    templates: BTreeMap<u32, (i64, usize)>,
    /// (HPA name, index of its workload or −1).
    hpas: Vec<(String, i64)>,
    hpa_index: BTreeMap<String, usize>,
    /// History node id → the node's number on the page (order of its `NodeAdded` record).
    nodes: BTreeMap<u32, usize>,
    /// History pod id → the pod's number on the page (order of its `PodCreated` record).
    pods: BTreeMap<u32, usize>,
    changes: Changes,
    /// When the run's journal was full (the history has no change from then on).
    full_at: Option<f64>,
}

impl Gathered {
    fn workload(&self, name: &str) -> i64 {
        self.workload_index.get(name).map_or(-1, |&i| i as i64)
    }

    fn take(&mut self, line: &Line) {
        match line {
            Line::Workload {
                name, namespace, ..
            } => {
                let shown = if namespace == "default" {
                    name.clone()
                } else {
                    format!("{namespace}/{name}")
                };
                let index = self.workloads.len();
                self.workload_index.entry(name.clone()).or_insert(index);
                self.workloads.push(shown);
            }
            Line::Hpa {
                name, reference, ..
            } => {
                let target = reference.rsplit('/').next().unwrap_or(reference);
                self.hpa_index.insert(name.clone(), self.hpas.len());
                self.hpas.push((name.clone(), self.workload(target)));
            }
            Line::Template {
                id,
                workload,
                containers,
                ..
            } => {
                let entry = (self.workload(workload), containers.len().max(1));
                self.templates.insert(*id, entry);
            }
            Line::End { full_at, .. } => self.full_at = *full_at,
            _ => self.take_change(line),
        }
    }

    fn take_change(&mut self, line: &Line) {
        match line {
            Line::NodeAdded {
                t,
                node,
                name,
                pool,
                ..
            } => {
                // Numbered only when on the page: the kept nodes are numbered 0, 1, … in order.
                let on_page = self.changes.push(*t, (t, 0, name, pool));
                if on_page {
                    self.nodes.insert(*node, self.nodes.len());
                }
            }
            Line::Node {
                t,
                node,
                status,
                unschedulable,
                down,
                ..
            } => {
                if let Some(&n) = self.nodes.get(node) {
                    let record = (
                        t,
                        1,
                        n,
                        node_status_index(*status),
                        *unschedulable as u8,
                        *down as u8,
                    );
                    self.changes.push(*t, record);
                }
            }
            Line::PodCreated {
                t,
                pod,
                name,
                template,
            } => {
                let (workload, containers) =
                    self.templates.get(template).copied().unwrap_or((-1, 1));
                let on_page = self.changes.push(*t, (t, 2, name, workload, containers));
                if on_page {
                    self.pods.insert(*pod, self.pods.len());
                }
            }
            Line::Pod {
                t,
                pod,
                status,
                ready,
                node,
                restarts,
            } => {
                let Some(&p) = self.pods.get(pod) else { return };
                let node = node
                    .and_then(|n| self.nodes.get(&n))
                    .map_or(-1, |&n| n as i64);
                let record = (
                    t,
                    3,
                    p,
                    pod_status_index(*status),
                    *ready as u8,
                    node,
                    restarts,
                );
                self.changes.push(*t, record);
            }
            Line::WorkloadStatus {
                t,
                workload,
                replicas,
                ready,
                ..
            } => {
                let w = self.workload(workload);
                if w >= 0 {
                    self.changes.push(*t, (t, 4, w, replicas, ready));
                }
            }
            _ => {}
        }
    }

    fn take_side(&mut self, t: f64, record: Side) {
        match record {
            Side::Decision {
                hpa,
                current,
                desired,
            } => {
                if let Some(&h) = self.hpa_index.get(&hpa) {
                    self.changes.push(t, (t, 5, h, current, desired));
                }
            }
            Side::Event(text) => {
                let text = if text.chars().count() > EVENT_CHARS {
                    let kept: String = text.chars().take(EVENT_CHARS - 1).collect();
                    format!("{kept}…")
                } else {
                    text
                };
                self.changes.push(t, (t, 6, text));
            }
        }
    }

    /// The page's data: the changes up to the first instant the page does not hold.
    fn finish(mut self, end: f64) -> Page {
        let budget_cut = self.changes.cut;
        let by_journal = self.full_at.filter(|&f| budget_cut.is_none_or(|c| f < c));
        let (until, until_why) = match (by_journal, budget_cut) {
            (Some(full), _) => (
                Some(full),
                Some(format!(
                    "the run's journal was full ({} changes) and recorded nothing after",
                    crate::cluster::journal::MAX_RECORDS
                )),
            ),
            (None, Some(cut)) => (
                Some(cut),
                Some(format!(
                    "the run made more changes than the page holds ({} KiB of them)",
                    WATCH_BUDGET / 1024
                )),
            ),
            (None, None) => (None, None),
        };
        if let Some(until) = until {
            self.changes.take_back_from(until);
        }
        Page {
            header: Header {
                end,
                until,
                until_why,
                pod_statuses: POD_STATUSES.iter().map(|s| format!("{s:?}")).collect(),
                node_statuses: NODE_STATUSES.iter().map(|s| format!("{s:?}")).collect(),
                workloads: self.workloads,
                hpas: self.hpas,
            },
            changes: self.changes.records.into_iter().map(|(_, r)| r).collect(),
        }
    }
}

/// What the page's script reads, but the changes.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    /// The run's end, in simulated seconds.
    end: f64,
    /// Changes from this instant on are not on the page (`None`: every change is).
    until: Option<f64>,
    /// Why the page stops at `until`.
    until_why: Option<String>,
    pod_statuses: Vec<String>,
    node_statuses: Vec<String>,
    workloads: Vec<String>,
    hpas: Vec<(String, i64)>,
}

/// The section's data.
struct Page {
    header: Header,
    /// Each change as a JSON array, in time order.
    changes: Vec<String>,
}

impl Page {
    /// The data as one JSON object, safe inside a `<script>` element (`<` is written `\u003c`).
    fn json(&self) -> String {
        let header = serde_json::to_string(&self.header).expect("the header serializes");
        let mut json = String::with_capacity(header.len() + WATCH_BUDGET);
        json.push_str(header.strip_suffix('}').expect("a JSON object"));
        json.push_str(",\"changes\":[");
        json.push_str(&self.changes.join(","));
        json.push_str("]}");
        json.replace('<', "\\u003c")
    }
}

/// The section: what it shows, the controls, the data and the script.
fn render(page: &Page) -> String {
    let h = &page.header;
    let shown_end = h.until.map_or(h.end, |u| (u - 1e-6).max(0.0));
    let mut html = String::new();
    html.push_str("<h2 id=\"watch\">Watch the cluster</h2>\n");
    html.push_str(
        "<p class=\"muted\">The cluster at the slider's instant, replayed from history.jsonl as \
         <code>kubesim get pods RUN_DIR --at T -o wide</code> replays it: nodes as boxes holding \
         their pods (green Running and Ready, amber Running not Ready, blue ContainerCreating, \
         orange CreateContainerConfigError, red CrashLoopBackOff, grey Terminating), the pods \
         waiting for a node, each workload's desired and ready replicas with its HPA's last \
         decision, and the events of the minute before. Play runs the whole run in about 30 \
         seconds; <code>#t=SECONDS</code> in the address opens an instant.</p>\n",
    );
    if let (Some(until), Some(why)) = (h.until, &h.until_why) {
        let _ = writeln!(
            html,
            "<p>This page holds the run up to {}: {}. <code>kubesim get pods RUN_DIR --at T</code> \
             reads any instant.</p>",
            crate::sim::SimDuration::from_secs_f64_ceil(until),
            escape(why)
        );
    }
    let _ = writeln!(
        html,
        "<div class=\"watch-controls\"><button type=\"button\" id=\"watch-play\">play</button> \
         <input type=\"range\" id=\"watch-time\" min=\"0\" max=\"{shown_end}\" step=\"any\" \
         value=\"{shown_end}\" aria-label=\"simulated time\"> <input type=\"number\" \
         id=\"watch-seconds\" min=\"0\" max=\"{shown_end}\" step=\"1\" aria-label=\"simulated \
         seconds\"> s <output id=\"watch-at\"></output></div>"
    );
    html.push_str(
        "<div id=\"watch-view\"><noscript><p class=\"muted\">The slider needs JavaScript; \
         <code>kubesim get pods RUN_DIR --at T -o wide</code> prints the same pods.</p>\
         </noscript></div>\n",
    );
    let _ = writeln!(
        html,
        "<script type=\"application/json\" id=\"watch-data\">{}</script>\n<script>{SCRIPT}</script>",
        page.json()
    );
    html
}

/// The section's style (in the page's `<style>`).
pub const STYLE: &str = ".watch-controls{display:flex;gap:.5em;align-items:center;\
position:sticky;top:0;background:#fff;padding:.4em 0;z-index:1}#watch-time{flex:1}\
#watch-seconds{width:6em}.watch-nodes{display:flex;flex-wrap:wrap;gap:.5em}\
.watch-node{border:2px solid #999;border-radius:4px;padding:.3em;min-width:9em;max-width:24em;\
font-size:.8em}.watch-node.NotReady{border-color:#b3261e}.watch-node.cordoned{border-style:dashed}\
.watch-node h3{font-size:1em;margin:0 0 .2em}.pod{display:inline-block;margin:1px;padding:0 .3em;\
border-radius:3px;color:#fff;font-size:.9em;min-width:.8em;min-height:1.1em}\
.pod.Running{background:#2e7d32}.pod.Running.unready{background:#f9a825;color:#222}\
.pod.ContainerCreating{background:#1e88e5}.pod.CreateContainerConfigError{background:#ef6c00}\
.pod.CrashLoopBackOff{background:#c62828}.pod.Terminating{background:#757575}\
.pod.Pending{background:#bdbdbd;color:#222}";

#[cfg(test)]
mod tests;
