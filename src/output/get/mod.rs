//! What `kubesim get KIND RUN_DIR --at T` prints: the run's objects as `kubectl get` would have
//! listed them at simulated time `T`, replayed from `history.jsonl` (and, for HPAs, the last
//! decision in `hpa_decisions.jsonl`). Tables have kubectl's columns and spacing; `-o wide` adds
//! kubectl's wide columns where kubesim knows them; `-o yaml|json` prints a `List` of
//! Kubernetes objects (k8s-openapi types) with the fields the run determines.
//!
//! Simulated time 0 is printed as `1970-01-01T00:00:00Z` in timestamps. kubesim assigns no IP
//! addresses and runs no kubelet versions, so those columns are left out.

pub(crate) mod objects;
mod tables;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::cluster::selector::LabelSelector;
use crate::controllers::hpa::Unit;
use crate::metrics::history::{ClusterAt, Line};

/// The kinds `kubesim get` lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Pods with their readiness, status, restarts and age (`-o wide`: their node).
    #[value(alias = "pod", alias = "po")]
    Pods,
    /// Nodes with their status and age (`-o wide`: pool, instance type, zone, pods).
    #[value(alias = "node", alias = "no")]
    Nodes,
    /// Deployments with their ready, up-to-date and available replicas.
    #[value(alias = "deployment", alias = "deploy")]
    Deployments,
    /// StatefulSets with their ready replicas.
    #[value(alias = "statefulset", alias = "sts")]
    Statefulsets,
    /// DaemonSets with their desired, current, ready, up-to-date and available pods.
    #[value(alias = "daemonset", alias = "ds")]
    Daemonsets,
    /// HorizontalPodAutoscalers with their min/max and, from their last sync, targets and replicas.
    #[value(alias = "horizontalpodautoscalers", alias = "horizontalpodautoscaler")]
    Hpa,
    /// Services with their type, ports and number of ready endpoints.
    #[value(alias = "service", alias = "svc")]
    Services,
}

/// `-o`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The table kubectl prints by default.
    #[default]
    Table,
    /// The table with the wide columns of kubectl that kubesim knows.
    Wide,
    /// A `List` of Kubernetes objects as YAML.
    Yaml,
    /// A `List` of Kubernetes objects as JSON.
    Json,
}

/// What to list.
#[derive(Clone, Debug)]
pub struct Query {
    /// What to list (`KIND`).
    pub kind: Kind,
    /// How to print it (`-o`).
    pub format: Format,
    /// `-l`: only objects whose labels match (pods and nodes).
    pub selector: Option<LabelSelector>,
    /// `-n`; `None` lists every namespace (`-A`) with a NAMESPACE column.
    pub namespace: Option<String>,
}

/// One HPA sync as `hpa_decisions.jsonl` records it (the fields `get hpa` shows).
#[derive(Clone, Debug, Deserialize)]
pub struct DecisionView {
    /// When the sync happened, in simulated seconds.
    pub time_seconds: f64,
    /// The HPA's name.
    pub hpa: String,
    /// The target's replicas when the sync began (the REPLICAS column,
    /// `status.currentReplicas`).
    pub current_replicas: i32,
    /// The replicas the sync decided on (`status.desiredReplicas`).
    pub desired_replicas: i32,
    /// Each metric's reading against its target (the TARGETS column).
    pub metrics: Vec<MetricView>,
}

/// One metric of a [`DecisionView`], as an `hpa_decisions.jsonl` line's `metrics` record it.
#[derive(Clone, Debug, Deserialize)]
pub struct MetricView {
    /// The metric as the record names it (`CPU`, `memory`, `pods NAME`, `external NAME`, …).
    pub metric: String,
    /// The target as the record words it (`60% utilization`, `500m per pod`, `10`); its first
    /// word is the target in the TARGETS column.
    pub target: String,
    /// What the milli-values measure: `cpu` (millicores), `bytes` or `count`.
    pub unit: Unit,
    /// For a utilization target, the pods' usage as a percentage of their requests;
    /// `None` for other targets or when unknown.
    pub utilization_percent: Option<i32>,
    /// The mean per pod in milli-units of `unit` (millicores for CPU); `None` for a `Value`
    /// target or when unknown.
    pub average_value_milli: Option<i64>,
    /// For a `Value` target, the metric's total in milli-units of `unit`; `None` otherwise.
    pub value_milli: Option<i64>,
}

/// Everything a listing is made from.
pub struct Snapshot<'a> {
    /// The run's objects as replayed from `history.jsonl` up to the instant (`--at`).
    pub cluster: &'a ClusterAt,
    /// Each HPA's last decision at or before the instant, by name.
    pub decisions: BTreeMap<String, &'a DecisionView>,
}

impl<'a> Snapshot<'a> {
    /// The cluster at its instant with the HPA decisions made by then.
    pub fn new(cluster: &'a ClusterAt, decisions: &'a [DecisionView]) -> Self {
        let decisions = decisions
            .iter()
            .filter(|d| d.time_seconds <= cluster.at)
            .map(|d| (d.hpa.clone(), d))
            .collect();
        Snapshot { cluster, decisions }
    }
}

/// Why a query cannot be answered.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// `-l` was given for a kind other than pods and nodes (the only labels kubesim keeps).
    #[error("-l selects by labels, and kubesim keeps labels of pods and nodes only")]
    SelectorOnKind,
    /// Nothing to list (kubectl says so on stderr and succeeds); the text is the message's
    /// ` in NAMESPACE namespace` part, empty for nodes and for every namespace (`-A`).
    #[error("No resources found{0}.")]
    Nothing(String),
}

/// The listing, as kubectl would print it (ending in a newline).
pub fn render(snapshot: &Snapshot, query: &Query) -> Result<String, QueryError> {
    if query.selector.is_some() && !matches!(query.kind, Kind::Pods | Kind::Nodes) {
        return Err(QueryError::SelectorOnKind);
    }
    let text = match query.format {
        Format::Table | Format::Wide => {
            let table = tables::table(snapshot, query);
            if table.rows.is_empty() {
                return Err(QueryError::Nothing(where_(query)));
            }
            table.render()
        }
        Format::Yaml | Format::Json => {
            let list = objects::list(snapshot, query);
            if query.format == Format::Json {
                let mut s = serde_json::to_string_pretty(&list).expect("objects serialize");
                s.push('\n');
                s
            } else {
                serde_saphyr::to_string(&list).expect("objects serialize")
            }
        }
    };
    Ok(text)
}

fn where_(query: &Query) -> String {
    match (&query.namespace, query.kind) {
        (_, Kind::Nodes) | (None, _) => String::new(),
        (Some(ns), _) => format!(" in {ns} namespace"),
    }
}

/// Reads a JSON-lines file of the run; an error names the file and the line.
pub fn read_json_lines<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, String> {
    let mut all = Vec::new();
    for_each_json_line(path, |v| all.push(v))?;
    Ok(all)
}

/// The longest line of a JSON-lines file kubesim reads back (its own lines are kilobytes).
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Reads a JSON-lines file one line at a time (blank lines skipped), handing each record to
/// `each`; an unreadable line is an error naming the file and line (see [`JsonLines`]).
pub fn for_each_json_line<T: serde::de::DeserializeOwned>(
    path: &Path,
    mut each: impl FnMut(T),
) -> Result<(), String> {
    for record in JsonLines::open(path)? {
        each(record?);
    }
    Ok(())
}

/// The records of a JSON-lines file, read one line at a time as they are asked for (blank
/// lines skipped), so a reader may stop early. An unreadable line is an error naming the file
/// and line, and ends the records. The file must be a regular file, and no line longer than
/// [`MAX_LINE_BYTES`]: a damaged file (or `/dev/zero` put in its place) is an error, not a
/// read without end.
pub struct JsonLines<T> {
    /// `None` once the file is read or an error was given.
    reader: Option<std::io::BufReader<std::fs::File>>,
    shown: String,
    number: usize,
    line: Vec<u8>,
    records: std::marker::PhantomData<fn() -> T>,
}

impl<T: serde::de::DeserializeOwned> JsonLines<T> {
    /// Opens `path`; an error names it.
    pub fn open(path: &Path) -> Result<JsonLines<T>, String> {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("{shown}: not a regular file"));
        }
        let file = std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
        Ok(JsonLines {
            reader: Some(std::io::BufReader::new(file)),
            shown,
            number: 0,
            line: Vec::new(),
            records: std::marker::PhantomData,
        })
    }

    /// The next line's record, `None` at the end of the file.
    fn read_next(
        &mut self,
        reader: &mut std::io::BufReader<std::fs::File>,
    ) -> Option<Result<T, String>> {
        use std::io::{BufRead, Read};
        let (shown, line) = (&self.shown, &mut self.line);
        loop {
            self.number += 1;
            let number = self.number;
            line.clear();
            let limit = MAX_LINE_BYTES as u64 + 1;
            match reader.take(limit).read_until(b'\n', line) {
                Err(e) => return Some(Err(format!("{shown}:{number}: {e}"))),
                Ok(0) => return None,
                Ok(n) if n > MAX_LINE_BYTES => {
                    return Some(Err(format!(
                        "{shown}:{number}: a line longer than {MAX_LINE_BYTES} bytes: not a file kubesim wrote"
                    )));
                }
                Ok(_) => {}
            }
            let text = match std::str::from_utf8(line) {
                Ok(text) => text,
                Err(e) => return Some(Err(format!("{shown}:{number}: {e}"))),
            };
            if !text.trim().is_empty() {
                let record = serde_json::from_str(text);
                return Some(record.map_err(|e| format!("{shown}:{number}: {e}")));
            }
        }
    }
}

impl<T: serde::de::DeserializeOwned> Iterator for JsonLines<T> {
    type Item = Result<T, String>;

    fn next(&mut self) -> Option<Result<T, String>> {
        let mut reader = self.reader.take()?;
        let next = self.read_next(&mut reader);
        if matches!(next, Some(Ok(_))) {
            self.reader = Some(reader);
        }
        next
    }
}

/// The run's `history.jsonl`.
pub fn read_history(dir: &Path) -> Result<Vec<Line>, String> {
    read_json_lines(&history_path(dir)?)
}

/// Where the run's `history.jsonl` is; an error when it is not there.
pub fn history_path(dir: &Path) -> Result<std::path::PathBuf, String> {
    let shown = dir.display();
    if dir.is_file() {
        return Err(format!(
            "{shown} is a file, not a run directory: give the folder `kubesim run` wrote (to look into a scenario, run it first: kubesim run {shown})"
        ));
    }
    if !dir.exists() {
        return Err(format!(
            "{shown} does not exist: give the folder `kubesim run` wrote"
        ));
    }
    if !dir.join("run.json").exists() {
        return Err(format!(
            "{shown} is not a run directory (it has no run.json): give the folder `kubesim run` wrote"
        ));
    }
    let path = dir.join(crate::output::HISTORY_FILE);
    if !path.exists() {
        return Err(format!(
            "{} does not exist: the run was written by a kubesim without it; run the scenario again",
            path.display()
        ));
    }
    Ok(path)
}

/// The run's `hpa_decisions.jsonl` (none when the file is absent).
pub fn read_decisions(dir: &Path) -> Result<Vec<DecisionView>, String> {
    let path = dir.join("hpa_decisions.jsonl");
    if path.exists() {
        read_json_lines(&path)
    } else {
        Ok(Vec::new())
    }
}

/// `HumanDuration` of apimachinery (what kubectl prints as AGE), for whole seconds.
pub fn human_duration(seconds: f64) -> String {
    let s = seconds.floor() as i64;
    if s < -1 {
        return "<invalid>".into();
    }
    if s < 0 {
        return "0s".into();
    }
    if s < 120 {
        return format!("{s}s");
    }
    let (minutes, hours) = (s / 60, s / 3600);
    let pair = |big: i64, big_unit: &str, small: i64, small_unit: &str| {
        if small == 0 {
            format!("{big}{big_unit}")
        } else {
            format!("{big}{big_unit}{small}{small_unit}")
        }
    };
    match () {
        _ if minutes < 10 => pair(minutes, "m", s % 60, "s"),
        _ if minutes < 180 => format!("{minutes}m"),
        _ if hours < 8 => pair(hours, "h", minutes % 60, "m"),
        _ if hours < 48 => format!("{hours}h"),
        _ if hours < 24 * 8 => pair(hours / 24, "d", hours % 24, "h"),
        _ if hours < 24 * 365 * 2 => format!("{}d", hours / 24),
        _ if hours < 24 * 365 * 8 => pair(hours / 24 / 365, "y", (hours / 24) % 365, "d"),
        _ => format!("{}y", hours / 24 / 365),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_kubectl_prints_them() {
        // Upstream's HumanDuration cases (apimachinery/pkg/util/duration).
        let cases = [
            (0.0, "0s"),
            (119.0, "119s"),
            (120.0, "2m"),
            (121.0, "2m1s"),
            (599.0, "9m59s"),
            (600.0, "10m"),
            (3.0 * 3600.0 - 1.0, "179m"),
            (3.0 * 3600.0, "3h"),
            (3.0 * 3600.0 + 60.0, "3h1m"),
            (8.0 * 3600.0, "8h"),
            (47.0 * 3600.0 + 3599.0, "47h"),
            (48.0 * 3600.0, "2d"),
            (49.0 * 3600.0, "2d1h"),
            (8.0 * 86400.0, "8d"),
            (2.0 * 365.0 * 86400.0, "2y"),
            (3.0 * 365.0 * 86400.0 + 86400.0, "3y1d"),
            (8.0 * 365.0 * 86400.0, "8y"),
        ];
        for (seconds, text) in cases {
            assert_eq!(human_duration(seconds), text, "{seconds} s");
        }
    }
}
