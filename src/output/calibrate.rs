//! `kubesim calibrate`'s folder: the fitted `scenario.yaml` and its `traffic-N.csv`, `fit.json`
//! (every parameter, what could not be identified, and the replay against the observations
//! interval by interval), `fit.html` (the same as a page, a chart per quantity), `replay.om`
//! (the replay as Prometheus data, to set beside the observed in Grafana) and `run.json`.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

use serde::Serialize;

use super::RunInfo;
use super::html::escape;
use crate::calibrate::compare::{Compared, IntervalValues};
use crate::calibrate::{FittedParameters, ServiceFit};

/// The file names calibrate writes (the traffic files are [`traffic_file_names`]).
pub const FILES: &[&str] = &["scenario.yaml", "fit.json", "fit.html", "replay.om"];

/// Every traffic file name calibrate may write.
pub fn traffic_file_names() -> impl Iterator<Item = String> {
    (0..crate::calibrate::scenario_out::MAX_SERVICES)
        .map(crate::calibrate::scenario_out::traffic_file)
}

/// One Service's part of fit.json.
#[derive(Serialize)]
pub struct ServiceReport<'a> {
    /// The Service.
    pub service: &'a str,
    /// Its Deployment.
    pub deployment: &'a str,
    /// The fitted parameters.
    pub parameters: FittedParameters,
    /// Why a parameter could not be fitted, and what was done instead.
    pub notes: &'a [String],
    /// The replay against the observations.
    pub comparison: &'a [Compared],
}

/// fit.json.
#[derive(Serialize)]
pub struct FitReport<'a> {
    /// `kubesim.calibration/v1`.
    pub schema: &'static str,
    /// The calibration's name.
    pub calibration: &'a str,
    /// The interval, seconds.
    pub interval_seconds: f64,
    /// Per Service.
    pub services: Vec<ServiceReport<'a>>,
    /// What the exports' readers dropped or repaired.
    pub export_notes: &'a [String],
}

/// Everything the folder holds.
pub struct CalibrationFiles<'a> {
    /// scenario.yaml's text.
    pub scenario: &'a str,
    /// (name, CSV) of each traffic file.
    pub traffic: &'a [(String, String)],
    /// fit.json's content.
    pub report: &'a FitReport<'a>,
    /// replay.om's bytes.
    pub replay: &'a [u8],
    /// The replay's run.json.
    pub info: &'a RunInfo,
}

/// Writes the folder's files into `dir`.
pub fn write_files(dir: &Path, files: &CalibrationFiles) -> io::Result<()> {
    fs::write(dir.join("scenario.yaml"), files.scenario)?;
    for (name, csv) in files.traffic {
        fs::write(dir.join(name), csv)?;
    }
    let mut json = serde_json::to_string_pretty(files.report).map_err(io::Error::other)?;
    json.push('\n');
    fs::write(dir.join("fit.json"), json)?;
    fs::write(dir.join("fit.html"), page(files.report))?;
    fs::write(dir.join("replay.om"), files.replay)?;
    let mut info = serde_json::to_string_pretty(files.info).map_err(io::Error::other)?;
    info.push('\n');
    fs::write(dir.join("run.json"), info)
}

/// The fitted parameters of one Service, as lines for the terminal and the page.
pub fn parameter_lines(fit: &ServiceFit) -> Vec<String> {
    let p = fit.parameters();
    let mut lines = Vec::new();
    match (p.cpu_per_request_seconds, p.identified) {
        (Some(s), "ratio_only") => lines.push(format!(
            "cpuPerRequest ≤ {:.3} ms (an upper bound: the rate is flat)",
            s * 1e3
        )),
        (Some(s), _) => lines.push(format!(
            "cpuPerRequest {:.3} ms, cv {} (R² {:.3}, {} intervals); idle {:.0} millicores per pod",
            s * 1e3,
            match (p.cpu_per_request_cv, p.cpu_per_request_cv_standard_error) {
                (Some(cv), Some(se)) => format!("{cv:.2} ± {se:.2}"),
                (Some(cv), None) => format!("{cv:.2}"),
                (None, _) => "not identified".into(),
            },
            p.r_squared.unwrap_or(0.0),
            p.cpu_intervals,
            p.idle_cores.unwrap_or(0.0) * 1e3
        )),
        (None, _) => lines.push("cpuPerRequest not fitted".into()),
    }
    if let Some(base) = p.memory_base_bytes {
        let per = p
            .memory_per_in_flight_bytes
            .map_or("not identified".into(), |b| {
                format!("{:.2} MiB", b / 1_048_576.0)
            });
        lines.push(format!(
            "memory base {:.1} MiB, per request in flight {per}",
            base / 1_048_576.0
        ));
    }
    if let (Some(mean), Some(cv)) = (p.startup_mean_seconds, p.startup_cv) {
        lines.push(format!("startupTime {mean:.1} s, cv {cv:.2}"));
    }
    lines
}

/// One comparison as a line: observed and replayed means, the errors.
pub fn comparison_line(c: &Compared) -> String {
    let show = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.4}"));
    let pct = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:+.1} %", v * 100.0));
    format!(
        "{}: observed {}, replayed {} ({} of the means; median interval error {}; {} intervals)",
        c.name,
        show(c.observed_mean),
        show(c.replayed_mean),
        pct(c.error_of_means),
        c.median_interval_error
            .map_or("-".into(), |v| format!("{:.1} %", v * 100.0)),
        c.intervals_compared
    )
}

fn page(report: &FitReport) -> String {
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>kubesim calibrate</title><style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}svg{background:#fafafa}</style></head><body>",
    );
    let _ = write!(
        html,
        "<h1>Calibration {}</h1><p>Intervals of {} s. Observed: the exports; replayed: the fitted scenario (scenario.yaml) run by kubesim, read back from replay.om as Prometheus would.</p>",
        escape(report.calibration),
        report.interval_seconds
    );
    for s in &report.services {
        let _ = write!(
            html,
            "<h2>Service {} (Deployment {})</h2>",
            escape(s.service),
            escape(s.deployment)
        );
        let params = serde_json::to_string_pretty(&s.parameters).unwrap_or_default();
        let _ = write!(html, "<pre>{}</pre>", escape(&params));
        if !s.notes.is_empty() {
            html.push_str("<ul>");
            for n in s.notes {
                let _ = write!(html, "<li>{}</li>", escape(n));
            }
            html.push_str("</ul>");
        }
        html.push_str("<table><tr><th>quantity</th><th>observed mean</th><th>replayed mean</th><th>error of the means</th><th>median interval error</th><th>intervals</th></tr>");
        for c in s.comparison {
            let f = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.4}"));
            let p = |v: Option<f64>| v.map_or("–".into(), |v| format!("{:+.1} %", v * 100.0));
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&c.name),
                f(c.observed_mean),
                f(c.replayed_mean),
                p(c.error_of_means),
                c.median_interval_error
                    .map_or("–".into(), |v| format!("{:.1} %", v * 100.0)),
                c.intervals_compared
            );
        }
        html.push_str("</table>");
        for c in s.comparison {
            html.push_str(&chart(c));
        }
    }
    if !report.export_notes.is_empty() {
        html.push_str("<h2>What the exports' readers did</h2><ul>");
        for n in report.export_notes {
            let _ = write!(html, "<li>{}</li>", escape(n));
        }
        html.push_str("</ul>");
    }
    html.push_str("</body></html>\n");
    html
}

/// A line chart of one quantity: observed (black) and replayed (blue) per interval.
fn chart(c: &Compared) -> String {
    let (w, h, pad) = (900.0, 160.0, 30.0);
    let values = c.intervals.iter().flat_map(|&(_, o, r)| [o, r]).flatten();
    let max = values.fold(0.0_f64, f64::max);
    let (Some(first), Some(last)) = (c.intervals.first(), c.intervals.last()) else {
        return String::new();
    };
    if max <= 0.0 || last.0 == first.0 {
        return String::new();
    }
    let x = |t: i64| pad + (t - first.0) as f64 / (last.0 - first.0) as f64 * (w - 2.0 * pad);
    let y = |v: f64| h - pad - v / max * (h - 2.0 * pad);
    let line = |pick: fn(&IntervalValues) -> Option<f64>| {
        (c.intervals.iter())
            .filter_map(|p| pick(p).map(|v| format!("{:.1},{:.1}", x(p.0), y(v))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        "<h3>{}</h3><svg width=\"{w}\" height=\"{h}\" role=\"img\"><text x=\"4\" y=\"14\" font-size=\"11\">max {:.4}</text><polyline fill=\"none\" stroke=\"#000\" points=\"{}\"/><polyline fill=\"none\" stroke=\"#1f77b4\" points=\"{}\"/><text x=\"{}\" y=\"14\" font-size=\"11\">observed (black), replayed (blue)</text></svg>",
        escape(&c.name),
        max,
        line(|p| p.1),
        line(|p| p.2),
        w - 260.0
    )
}
