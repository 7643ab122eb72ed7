//! What the plots read, from a run directory's own files: `timeseries.csv` (the sampled
//! series), `report.json` (names, SLO thresholds, HPA targets, Service backends, VPAs),
//! `cluster_events.jsonl` (the markers) and `vpa.jsonl` (recommendations). Reading the files back — rather than the run's memory —
//! makes `kubesim plot RUN_DIR` draw exactly what `kubesim run` drew.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::metrics::cluster_events::{ClusterEventReason, MarkerKind};

/// A Service as the plots need it.
#[derive(Clone, Debug)]
pub struct ServiceInfo {
    pub name: String,
    pub requests: u64,
    pub backends: Vec<String>,
    /// Failed requests of the whole run by reason (only reasons that happened).
    pub failed_by_reason: Vec<(String, u64)>,
}

/// An SLO threshold drawn as a line.
#[derive(Clone, Debug)]
pub struct SloLine {
    /// `service/NAME`, `deployment/NAME` or `cluster`.
    pub scope: String,
    pub metric: String,
    pub threshold: f64,
    pub assertion: String,
}

/// An event marked on the time axes.
#[derive(Clone, Debug)]
pub struct Marker {
    pub t_seconds: f64,
    pub kind: MarkerKind,
}

/// One run, as read back from its directory.
#[derive(Clone, Debug, Default)]
pub struct RunData {
    pub scenario: String,
    pub duration_seconds: f64,
    /// Sample times in seconds.
    pub t: Vec<f64>,
    series: BTreeMap<String, Vec<f64>>,
    pub services: Vec<ServiceInfo>,
    pub deployments: Vec<String>,
    pub pools: Vec<String>,
    /// The HPA cpu utilization target (percent) per target Deployment.
    pub cpu_targets: BTreeMap<String, i32>,
    pub slos: Vec<SloLine>,
    pub markers: Vec<Marker>,
    /// The VPA containers' recommendations over time (`vpa.jsonl`).
    pub vpas: Vec<super::vpa::VpaSeries>,
}

impl RunData {
    /// Reads `dir`'s files; the error names the file and what is wrong with it.
    pub fn read(dir: &Path) -> Result<RunData, String> {
        let mut data = RunData::summary(dir)?;
        data.read_series(dir, |_| true)?;
        data.read_markers(dir)?;
        let report = read_json(&dir.join("report.json"))?;
        data.vpas = super::vpa::read(dir, &report)?;
        Ok(data)
    }

    /// Reads `dir`'s report and, of the time series, the times and the columns `keep` names:
    /// no markers. A reader of a few series holds a fraction of a large run's (the 1 000-node
    /// day's 1 009 columns are 46 MB of numbers).
    pub fn series_only(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<RunData, String> {
        let mut data = RunData::summary(dir)?;
        data.read_series(dir, keep)?;
        Ok(data)
    }

    /// Reads only `dir`'s report: no time series and no markers.
    pub fn summary(dir: &Path) -> Result<RunData, String> {
        let mut data = RunData::default();
        data.read_report(dir)?;
        Ok(data)
    }

    /// A run of `duration` seconds sampled at `t`, with the given columns (for tests).
    #[cfg(test)]
    pub fn with_columns(duration: f64, t: Vec<f64>, columns: &[(&str, Vec<f64>)]) -> RunData {
        RunData {
            duration_seconds: duration,
            t,
            series: columns
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect(),
            ..RunData::default()
        }
    }

    /// A column of `timeseries.csv` by name.
    pub fn column(&self, name: &str) -> Option<&[f64]> {
        self.series.get(name).map(Vec::as_slice)
    }

    fn read_report(&mut self, dir: &Path) -> Result<(), String> {
        let path = dir.join("report.json");
        let report: Value = read_json(&path)?;
        let bad = |what: &str| format!("{}: {what}", path.display());
        self.scenario = str_field(&report, "scenario").to_string();
        self.duration_seconds = report["duration_seconds"]
            .as_f64()
            .ok_or_else(|| bad("no duration_seconds"))?;
        self.services = array(&report, "services").iter().map(service).collect();
        self.deployments = names(&report, "deployments");
        if self.pools.is_empty() {
            self.pools = names(&report, "node_pools");
        }
        for hpa in array(&report, "hpas") {
            if let Some(percent) = hpa["cpu_target_percent"].as_i64() {
                let target = str_field(hpa, "target").to_string();
                self.cpu_targets.insert(target, percent as i32);
            }
        }
        self.slos = array(&report, "slos")
            .iter()
            .map(|s| SloLine {
                scope: str_field(s, "scope").to_string(),
                metric: str_field(s, "metric").to_string(),
                threshold: s["threshold"].as_f64().unwrap_or(f64::NAN),
                assertion: str_field(s, "assertion").to_string(),
            })
            .collect();
        Ok(())
    }

    /// Reads the times and the columns `keep` names (the others are not parsed).
    fn read_series(&mut self, dir: &Path, keep: impl Fn(&str) -> bool) -> Result<(), String> {
        let path = dir.join("timeseries.csv");
        let shown = path.display();
        let mut reader = csv::Reader::from_path(&path).map_err(|e| format!("{shown}: {e}"))?;
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| format!("{shown}: {e}"))?
            .iter()
            .map(str::to_string)
            .collect();
        let kept: Vec<bool> = (headers.iter().enumerate())
            .map(|(i, h)| i == 0 || keep(h))
            .collect();
        let mut columns: Vec<Vec<f64>> = vec![Vec::new(); headers.len()];
        for (line, record) in reader.records().enumerate() {
            let record = record.map_err(|e| format!("{shown}: {e}"))?;
            let fields = record.iter().enumerate().take(columns.len());
            for (i, field) in fields.filter(|&(i, _)| kept[i]) {
                let value = field
                    .parse::<f64>()
                    .map_err(|_| format!("{shown}:{}: {:?} is not a number", line + 2, field))?;
                columns[i].push(value);
            }
        }
        // Node columns as the run wrote them (Karpenter's NodePools share one each).
        let pools: Vec<String> = (headers.iter())
            .filter_map(|h| h.strip_prefix("pool.")?.strip_suffix(".nodes"))
            .map(str::to_string)
            .collect();
        if !pools.is_empty() {
            self.pools = pools;
        }
        let mut columns = headers.into_iter().zip(columns).zip(kept);
        let Some(((first, t), _)) = columns.next().filter(|((name, _), _)| name == "t_seconds")
        else {
            return Err(format!("{shown}: the first column is not t_seconds"));
        };
        debug_assert_eq!(first, "t_seconds");
        self.t = t;
        self.series = columns.filter(|(_, kept)| *kept).map(|(c, _)| c).collect();
        Ok(())
    }

    fn read_markers(&mut self, dir: &Path) -> Result<(), String> {
        let path = dir.join("cluster_events.jsonl");
        let Ok(text) = fs::read_to_string(&path) else {
            return Ok(()); // a run from before cluster events were kept: no markers
        };
        for (i, line) in text.lines().enumerate() {
            let event: Value = serde_json::from_str(line)
                .map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
            let kind = ClusterEventReason::from_name(str_field(&event, "reason"))
                .and_then(ClusterEventReason::marker);
            if let (Some(kind), Some(t_seconds)) = (kind, event["tSeconds"].as_f64()) {
                self.markers.push(Marker { t_seconds, kind });
            }
        }
        Ok(())
    }
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn array<'v>(v: &'v Value, key: &str) -> &'v [Value] {
    v[key].as_array().map(Vec::as_slice).unwrap_or_default()
}

fn str_field<'v>(v: &'v Value, key: &str) -> &'v str {
    v[key].as_str().unwrap_or_default()
}

fn names(report: &Value, key: &str) -> Vec<String> {
    array(report, key)
        .iter()
        .map(|x| str_field(x, "name").to_string())
        .collect()
}

fn service(s: &Value) -> ServiceInfo {
    let failed_by_reason = s["failed_by_reason"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(reason, n)| Some((reason.clone(), n.as_u64()?)))
                .filter(|(_, n)| *n > 0)
                .collect()
        })
        .unwrap_or_default();
    ServiceInfo {
        name: str_field(s, "name").to_string(),
        requests: s["requests"].as_u64().unwrap_or(0),
        backends: array(s, "backends")
            .iter()
            .filter_map(|b| b.as_str().map(str::to_string))
            .collect(),
        failed_by_reason,
    }
}
