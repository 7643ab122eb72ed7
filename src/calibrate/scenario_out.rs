//! The fitted scenario: the base scenario (as resolved) with each calibrated Deployment's work,
//! memory and start-up time, each Service's arrivals replaced by the observed rate
//! (`rateSeries` files `traffic-N.csv`), its duration and start time those of the data, and
//! every file it names made relative to the folder it is written into.

use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value, json};

use super::ServiceFit;

/// The most Services one calibration may fit (the traffic files are `traffic-1.csv` up to this).
pub const MAX_SERVICES: usize = 64;

/// The traffic file of the `index`-th Service (from 0).
pub fn traffic_file(index: usize) -> String {
    format!("traffic-{}.csv", index + 1)
}

/// The scenario and its traffic files, as text.
pub struct Written {
    /// scenario.yaml.
    pub scenario: String,
    /// (file name, CSV) per Service.
    pub traffic: Vec<(String, String)>,
    /// (index of the fit, sentence): what the written scenario could not carry over.
    pub notes: Vec<(usize, String)>,
}

/// What the written scenario is made from.
pub struct Base<'a> {
    /// The base scenario as resolved (`Scenario::resolved_yaml`).
    pub resolved_yaml: &'a str,
    /// Its folder: the files it names are relative to it.
    pub dir: &'a Path,
    /// Its sample interval.
    pub sample_interval_ms: i64,
}

/// Writes the fitted scenario for the folder `out` (absolute, may not exist yet).
pub fn write(base: &Base, out: &Path, name: &str, fits: &[ServiceFit]) -> Result<Written, String> {
    let mut doc: Value = serde_saphyr::from_str(base.resolved_yaml)
        .map_err(|e| format!("the base scenario does not read back: {e}"))?;
    let prefix = relative_prefix(out, base.dir)?;
    rebase(&mut doc, &prefix, None);
    let first = fits.first().ok_or("no Service was fitted")?;
    let o = &first.observed;
    let start = jiff::Timestamp::from_millisecond(o.start_ms())
        .map_err(|e| format!("the data's start: {e}"))?;
    let span_s = (o.ends.last().copied().unwrap_or(0) - o.start_ms()) / 1000;
    doc["metadata"] = json!({
        "name": name,
        "description": format!("fitted by kubesim calibrate to the metrics of {}", fits.iter().map(|f| f.service.as_str()).collect::<Vec<_>>().join(", ")),
    });
    let spec = doc["spec"]
        .as_object_mut()
        .ok_or("the base scenario has no spec")?;
    spec.insert("duration".into(), json!(format!("{span_s}s")));
    spec.insert("startTime".into(), json!(start.to_string()));
    if o.step_ms % base.sample_interval_ms.max(1) != 0 {
        spec.insert("sampleInterval".into(), json!(format!("{}ms", o.step_ms)));
    }
    let mut traffic = Vec::new();
    let mut notes = Vec::new();
    for (i, fit) in fits.iter().enumerate() {
        if set_workload(spec, fit) {
            notes.push((i, format!(
                "the base scenario's calls of {} do CPU work of their own (`cpu` steps), which the fit leaves as they are: the replayed CPU per pod is above the observed by their share",
                fit.deployment
            )));
        }
        if fit.replay_arrivals {
            let file = traffic_file(traffic.len());
            set_arrivals(spec, &fit.service, &file);
            traffic.push((file, traffic_csv(fit)));
        }
    }
    let scenario = serde_saphyr::to_string(&doc).map_err(|e| e.to_string())?;
    let header = format!(
        "# Written by kubesim calibrate ({name}): the base scenario with the fitted workloads and the observed traffic.\n"
    );
    Ok(Written {
        scenario: header + &scenario,
        traffic,
        notes,
    })
}

fn entry<'a>(
    spec: &'a mut Map<String, Value>,
    list: &str,
    key: &str,
    name: &str,
) -> &'a mut Map<String, Value> {
    let items = spec.entry(list).or_insert_with(|| json!([]));
    if !items.is_array() {
        *items = json!([]);
    }
    let items = items.as_array_mut().expect("an array");
    let at = items.iter().position(|w| w[key].as_str() == Some(name));
    let at = at.unwrap_or_else(|| {
        items.push(json!({ key: name }));
        items.len() - 1
    });
    items[at].as_object_mut().expect("an object")
}

/// Sets the fitted parameters; whether the workload's calls do CPU work of their own.
fn set_workload(spec: &mut Map<String, Value>, fit: &ServiceFit) -> bool {
    let w = entry(spec, "workloads", "deployment", &fit.deployment);
    let cpu_in_calls = w.get("calls").is_some_and(has_cpu_step);
    if let Some((mean, cv)) = fit.work() {
        w.insert("cpuPerRequest".into(), log_normal(mean, cv));
    }
    if let Some(m) = fit.memory {
        let mut memory = json!({"base": format!("{}", m.base_bytes.round() as u64)});
        if let Some(k) = m.per_in_flight_bytes {
            memory["perInFlightRequest"] = json!(format!("{}", k.round() as u64));
        }
        w.insert("memory".into(), memory);
    }
    if let Some((mean, cv)) = fit.startup {
        w.insert("startupTime".into(), log_normal(mean, cv));
    }
    cpu_in_calls
}

/// Whether a call graph has a `cpu` step anywhere.
fn has_cpu_step(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().any(has_cpu_step),
        Value::Object(map) => map.contains_key("cpu") || map.values().any(has_cpu_step),
        _ => false,
    }
}

fn log_normal(mean_s: f64, cv: f64) -> Value {
    let micros = (mean_s * 1e6).round().max(1.0) as u64;
    let cv = (cv * 1000.0).round() / 1000.0;
    match cv > 0.0 {
        true => json!({"logNormal": {"mean": format!("{micros}us"), "cv": cv}}),
        false => json!(format!("{micros}us")),
    }
}

fn set_arrivals(spec: &mut Map<String, Value>, service: &str, file: &str) {
    let t = entry(spec, "traffic", "service", service);
    t.insert("arrivals".into(), json!({"rateSeries": {"file": file}}));
}

/// `t_seconds,rate` from the data's start: each interval's rate from its start; an interval
/// without a rate keeps the previous one.
fn traffic_csv(fit: &ServiceFit) -> String {
    let o = &fit.observed;
    let mut csv = format!(
        "# The observed request rate of Service {} (requests per second), one row per {} s interval\nt_seconds,rate\n",
        fit.service,
        o.step_ms as f64 / 1000.0
    );
    let mut last = 0.0;
    for (end, rate) in o.ends.iter().zip(&o.rate) {
        let rate = rate.unwrap_or(last);
        last = rate;
        let t = (end - o.step_ms - o.start_ms()) as f64 / 1000.0;
        csv.push_str(&format!("{t},{}\n", (rate * 1e6).round() / 1e6));
    }
    csv
}

/// The path from `out` to `base_dir`, both resolved: relative, unless the base scenario was
/// named by an absolute path (then absolute).
fn relative_prefix(out: &Path, base_dir: &Path) -> Result<PathBuf, String> {
    let resolve = |p: &Path| -> Result<PathBuf, String> {
        let p = if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        };
        std::fs::canonicalize(p).map_err(|e| format!("{}: {e}", p.display()))
    };
    let base = resolve(base_dir)?;
    if base_dir.is_absolute() {
        return Ok(base);
    }
    let out = match out.parent().zip(out.file_name()) {
        Some((parent, name)) => resolve(parent)?.join(name),
        None => resolve(out)?,
    };
    let (b, o): (Vec<Component>, Vec<Component>) =
        (base.components().collect(), out.components().collect());
    let common = b.iter().zip(&o).take_while(|(x, y)| x == y).count();
    let mut rel = PathBuf::new();
    for _ in common..o.len() {
        rel.push("..");
    }
    for c in &b[common..] {
        rel.push(c.as_os_str());
    }
    Ok(rel)
}

/// Makes every file the scenario names (manifests, trace files, benchmark results, the
/// scheduler configuration, applied manifests) relative to the new folder.
fn rebase(value: &mut Value, prefix: &Path, key: Option<&str>) {
    let is_path = matches!(
        key,
        Some("manifests" | "file" | "benchmark" | "schedulerConfig" | "manifest")
    );
    match value {
        Value::String(s) if is_path && !Path::new(s.as_str()).is_absolute() => {
            *s = prefix.join(s.as_str()).to_string_lossy().into_owned();
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rebase(v, prefix, key)),
        Value::Object(map) => map.iter_mut().for_each(|(k, v)| rebase(v, prefix, Some(k))),
        _ => {}
    }
}
