//! Prometheus range-query exports, as `kubesim calibrate` reads them: the HTTP API's JSON
//! (`/api/v1/query_range`: `{"status":"success","data":{"resultType":"matrix","result":[…]}}`),
//! `promtool query range -o json`'s bare array of series, and wide CSV (a time column, then a
//! column per series, as Grafana's "Download CSV" writes it). The formats' details are in
//! docs/upstream/prometheus.md §1.
//!
//! What cannot be used is dropped and said ([`Export::notes`]): NaN, infinite and empty values,
//! native-histogram points, duplicate timestamps with different values (the series is left
//! out), series with no usable point; points out of order are sorted. Nothing usable left is an
//! error naming the file. Counter resets are not an input error: [`Series::rates`] handles them
//! as Prometheus' `rate()` does and counts them.

use std::collections::BTreeMap;

use serde_json::Value;

mod selector;
mod text;

pub use selector::Selector;
pub use text::parse_text;

/// An export's format, as a calibration file names it (or as told from the file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The HTTP API's JSON or promtool's array.
    Json,
    /// A wide CSV: a time column and a column per series.
    Csv,
    /// OpenMetrics or Prometheus text with a timestamp on every sample.
    Text,
}

impl Format {
    /// The format of `text` read from `file`: JSON when it starts with `{` or `[`, CSV when
    /// the file name ends in `.csv`, text otherwise.
    pub fn detect(file: &str, text: &str) -> Format {
        match text.trim_start().chars().next() {
            Some('{' | '[') => Format::Json,
            _ if file.to_ascii_lowercase().ends_with(".csv") => Format::Csv,
            _ => Format::Text,
        }
    }
}

/// Reads an export in `format` (`time_column` for CSV only).
pub fn parse(
    file: &str,
    text: &str,
    format: Format,
    time_column: Option<&str>,
) -> Result<Export, String> {
    match format {
        Format::Json => parse_json(file, text),
        Format::Csv => parse_csv(file, text, time_column),
        Format::Text => parse_text(file, text),
    }
}

/// One series: its labels (`__name__` among them when the query kept it) and its points, Unix
/// milliseconds and value, strictly increasing in time.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Its labels, by name.
    pub labels: BTreeMap<String, String>,
    /// (Unix milliseconds, value), strictly increasing in time.
    pub points: Vec<(i64, f64)>,
}

/// The usable series of one file, and what was done to the data to get them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Export {
    /// The series that have a usable point, in the file's order.
    pub series: Vec<Series>,
    /// One sentence per series (or per file) that lost points or was left out, naming it.
    pub notes: Vec<String>,
}

impl Series {
    /// `name{a="x",b="y"}` as Prometheus prints a series, for messages.
    pub fn display(&self) -> String {
        let name = self.labels.get("__name__").map_or("", String::as_str);
        let labels: Vec<String> = (self.labels.iter())
            .filter(|(k, _)| *k != "__name__")
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!("{name}{{{}}}", labels.join(","))
    }

    /// The most common gap between consecutive points, in ms (the smallest of equally common
    /// ones); `None` with fewer than two points.
    pub fn step_ms(&self) -> Option<i64> {
        let mut gaps: BTreeMap<i64, usize> = BTreeMap::new();
        for w in self.points.windows(2) {
            *gaps.entry(w[1].0 - w[0].0).or_default() += 1;
        }
        let most = gaps.values().copied().max()?;
        gaps.into_iter()
            .find(|&(_, n)| n == most)
            .map(|(gap, _)| gap)
    }

    /// The per-second rate of a counter between consecutive points, at the later point's time,
    /// and how many times it reset: a value below the previous one means the counter restarted
    /// from zero (a restarted container or exporter), so the increase is the new value — what
    /// Prometheus' `rate()` assumes.
    pub fn rates(&self) -> (Vec<(i64, f64)>, usize) {
        let mut resets = 0;
        let rates = (self.points.windows(2))
            .map(|w| {
                let ((t0, v0), (t1, v1)) = (w[0], w[1]);
                let increase = if v1 < v0 {
                    resets += 1;
                    v1
                } else {
                    v1 - v0
                };
                (t1, increase * 1000.0 / (t1 - t0) as f64)
            })
            .collect();
        (rates, resets)
    }
}

/// Reads a range query's JSON: the HTTP API's answer or promtool's array.
pub fn parse_json(file: &str, text: &str) -> Result<Export, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("{file}: not JSON: {e}"))?;
    let result = match &value {
        Value::Array(series) => series,
        Value::Object(top) => api_result(file, top)?,
        _ => return Err(format!("{file}: {}", NEITHER_SHAPE)),
    };
    let mut export = Export::default();
    for (i, item) in result.iter().enumerate() {
        let (labels, raw) = series_parts(file, i, item)?;
        let mut points = Vec::with_capacity(raw.map_or(0, Vec::len));
        let mut dropped = Dropped::default();
        for (j, pair) in raw.into_iter().flatten().enumerate() {
            let at = || format!("{file}: result[{i}].values[{j}]");
            let pair = pair.as_array().filter(|p| p.len() == 2);
            let pair = pair.ok_or_else(|| format!("{}: expected [timestamp, \"value\"]", at()))?;
            let ms = timestamp_ms(&pair[0]).ok_or_else(|| {
                format!(
                    "{}: the timestamp {} is not a number of seconds",
                    at(),
                    pair[0]
                )
            })?;
            match sample_value(&pair[1]) {
                Ok(Some(v)) => points.push((ms, v)),
                Ok(None) => dropped.values += 1,
                Err(v) => return Err(format!("{}: the value {v} is not a number", at())),
            }
        }
        if item.get("histograms").is_some() {
            dropped.histograms = true;
        }
        export.add(file, Series { labels, points }, dropped);
    }
    export.finish(file)
}

const NEITHER_SHAPE: &str = "neither the Prometheus HTTP API's JSON (an object with \"status\" and \"data\") nor promtool's (an array of series with \"metric\" and \"values\")";

/// The `data.result` of the HTTP API's answer, or why there is none.
fn api_result<'v>(
    file: &str,
    top: &'v serde_json::Map<String, Value>,
) -> Result<&'v Vec<Value>, String> {
    match top.get("status").and_then(Value::as_str) {
        Some("success") => {}
        Some("error") => {
            let kind = top.get("errorType").and_then(Value::as_str).unwrap_or("?");
            let error = top.get("error").and_then(Value::as_str).unwrap_or("");
            return Err(format!(
                "{file}: Prometheus answered with an error ({kind}: {error}); nothing in it can be used — export the query again"
            ));
        }
        _ => return Err(format!("{file}: {NEITHER_SHAPE}")),
    }
    let data = top
        .get("data")
        .ok_or_else(|| format!("{file}: no \"data\""))?;
    match data.get("resultType").and_then(Value::as_str) {
        Some("matrix") => {}
        Some(other) => {
            return Err(format!(
                "{file}: data.resultType is {other:?}: the answer of an instant query; calibrate needs a range query (/api/v1/query_range, or promtool query range -o json)"
            ));
        }
        None => return Err(format!("{file}: data.resultType is missing")),
    }
    (data.get("result").and_then(Value::as_array))
        .ok_or_else(|| format!("{file}: data.result is not an array of series"))
}

/// A result item's labels and raw values (`None`: it has only native-histogram points).
type SeriesParts<'v> = (BTreeMap<String, String>, Option<&'v Vec<Value>>);

/// A result item's labels and raw values (`None`: it has only native-histogram points).
fn series_parts<'v>(file: &str, i: usize, item: &'v Value) -> Result<SeriesParts<'v>, String> {
    let metric = item.get("metric").and_then(Value::as_object);
    let metric = metric.ok_or_else(|| format!("{file}: result[{i}]: no \"metric\" object"))?;
    let labels = (metric.iter())
        .map(|(k, v)| match v.as_str() {
            Some(s) => Ok((k.clone(), s.to_string())),
            None => Err(format!(
                "{file}: result[{i}].metric.{k}: a label value must be a string"
            )),
        })
        .collect::<Result<_, _>>()?;
    if item.get("value").is_some() {
        return Err(format!(
            "{file}: result[{i}] has one \"value\": the answer of an instant query; calibrate needs a range query"
        ));
    }
    let values = item.get("values");
    let values = match values {
        Some(v) => Some(
            v.as_array()
                .ok_or_else(|| format!("{file}: result[{i}].values is not an array"))?,
        ),
        None if item.get("histograms").is_some() => None,
        None => return Err(format!("{file}: result[{i}]: no \"values\"")),
    };
    Ok((labels, values))
}

/// Seconds (a number, or a string of one) as Unix milliseconds, rounded.
fn timestamp_ms(v: &Value) -> Option<i64> {
    let secs = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.parse::<f64>().ok()?,
        _ => return None,
    };
    (secs.is_finite() && secs.abs() < 1e13).then(|| (secs * 1000.0).round() as i64)
}

/// A sample value: `Ok(None)` for what carries no number (NaN, ±Inf, empty), `Err` for what is
/// not a value at all.
fn sample_value(v: &Value) -> Result<Option<f64>, String> {
    let parsed = match v {
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => s.trim().parse::<f64>().map_err(|_| format!("{s:?}"))?,
        Value::Number(n) => n.as_f64().ok_or_else(|| n.to_string())?,
        Value::Null => return Ok(None),
        other => return Err(other.to_string()),
    };
    Ok(parsed.is_finite().then_some(parsed))
}

/// What a series lost on the way in.
#[derive(Default)]
struct Dropped {
    values: usize,
    histograms: bool,
}

impl Export {
    /// Adds `series` after putting its points in order, or leaves it out; notes either.
    fn add(&mut self, file: &str, mut series: Series, dropped: Dropped) {
        let name = series.display();
        if dropped.values > 0 {
            self.notes.push(format!(
                "{file}: {name}: {} NaN, infinite or empty values dropped",
                dropped.values
            ));
        }
        if dropped.histograms {
            self.notes.push(format!(
                "{file}: {name}: native-histogram points are not read"
            ));
        }
        if series.points.windows(2).any(|w| w[0].0 >= w[1].0) {
            series.points.sort_by_key(|p| p.0);
            let clash = series
                .points
                .windows(2)
                .any(|w| w[0].0 == w[1].0 && w[0].1 != w[1].1);
            if clash {
                self.notes.push(format!(
                    "{file}: {name}: two different values at one timestamp; the series is left out"
                ));
                return;
            }
            series.points.dedup_by_key(|p| p.0);
            self.notes
                .push(format!("{file}: {name}: timestamps out of order; sorted"));
        }
        if series.points.is_empty() {
            self.notes
                .push(format!("{file}: {name}: no usable point; left out"));
            return;
        }
        self.series.push(series);
    }

    fn finish(self, file: &str) -> Result<Export, String> {
        if self.series.is_empty() {
            let why = match self.notes.is_empty() {
                true => "the export has no series (did the query match nothing?)".to_string(),
                false => self.notes.join("; "),
            };
            return Err(format!("{file}: no usable series: {why}"));
        }
        Ok(self)
    }
}

/// Reads a wide CSV: a header, then rows; `time_column` (default: the first) holds Unix
/// seconds, Unix milliseconds (numbers above 10¹¹) or RFC 3339 instants (Go's
/// `2006-01-02 15:04:05.999 +0000 UTC` too); every other column is a series labelled
/// `column="<header>"`. Empty cells are dropped, as NaN.
pub fn parse_csv(file: &str, text: &str, time_column: Option<&str>) -> Result<Export, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| format!("{file}: {e}"))?
        .clone();
    let time = match time_column {
        None => 0,
        Some(name) => header.iter().position(|h| h == name).ok_or_else(|| {
            let names: Vec<&str> = header.iter().collect();
            format!(
                "{file}: no column {name:?} (the columns are {})",
                names.join(", ")
            )
        })?,
    };
    let mut columns: Vec<(Series, Dropped)> = (header.iter().enumerate())
        .filter(|&(i, _)| i != time)
        .map(|(_, h)| {
            let labels = BTreeMap::from([("column".to_string(), h.to_string())]);
            (
                Series {
                    labels,
                    points: Vec::new(),
                },
                Dropped::default(),
            )
        })
        .collect();
    for (row, record) in reader.records().enumerate() {
        let line = row + 2;
        let record = record.map_err(|e| format!("{file}:{line}: {e}"))?;
        let ms = instant_ms(&record[time]).ok_or_else(|| {
            format!(
                "{file}:{line}: {:?} is not an instant (Unix seconds or milliseconds, or RFC 3339)",
                &record[time]
            )
        })?;
        let cells = record.iter().enumerate().filter(|&(i, _)| i != time);
        for ((_, cell), (series, dropped)) in cells.zip(&mut columns) {
            match sample_value(&Value::String(cell.to_string())) {
                Ok(Some(v)) => series.points.push((ms, v)),
                Ok(None) => dropped.values += 1,
                Err(v) => {
                    let column = &series.labels["column"];
                    return Err(format!(
                        "{file}:{line}: column {column:?}: {v} is not a number"
                    ));
                }
            }
        }
    }
    let mut export = Export::default();
    for (series, dropped) in columns {
        export.add(file, series, dropped);
    }
    export.finish(file)
}

/// A CSV time cell as Unix milliseconds.
fn instant_ms(cell: &str) -> Option<i64> {
    let cell = cell.trim();
    if let Ok(n) = cell.parse::<f64>() {
        let ms = if n.abs() > 1e11 { n } else { n * 1000.0 };
        return (ms.is_finite() && ms.abs() < 1e16).then(|| ms.round() as i64);
    }
    // Go's time.Time.String(): "2022-08-22 03:51:19.799087274 +0000 UTC m=+0.305041286".
    let go = cell.split(" m=").next().unwrap_or(cell);
    let go = go.strip_suffix(" UTC").unwrap_or(go);
    if let Ok(t) =
        jiff::fmt::strtime::parse("%Y-%m-%d %H:%M:%S%.f %z", go).and_then(|t| t.to_timestamp())
    {
        return Some(t.as_millisecond());
    }
    cell.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

/// The step all `series` share, or which two differ.
pub fn common_step(series: &[&Series]) -> Result<Option<i64>, String> {
    let mut first: Option<(&Series, i64)> = None;
    for s in series {
        let Some(step) = s.step_ms() else { continue };
        match first {
            None => first = Some((s, step)),
            Some((f, f_step)) if f_step != step => {
                return Err(format!(
                    "{} has a step of {} s and {} one of {} s: export every series with the same step",
                    f.display(),
                    f_step as f64 / 1000.0,
                    s.display(),
                    step as f64 / 1000.0
                ));
            }
            Some(_) => {}
        }
    }
    Ok(first.map(|(_, step)| step))
}

#[cfg(test)]
mod tests;
