//! Which figures a run gets and what each panel shows, as plain data ([`Figure`], [`Panel`],
//! [`Line`]) built from a [`RunData`]; [`super::draw`] turns them into SVG or PNG.

use plotters::style::RGBColor;

use super::data::RunData;

/// Panels per figure at most: the busiest Services and largest Deployments first; the
/// figure's title says how many were left out.
pub const MAX_PANELS: usize = 8;

pub const BLUE: RGBColor = RGBColor(31, 119, 180);
pub const ORANGE: RGBColor = RGBColor(255, 127, 14);
pub const GREEN: RGBColor = RGBColor(44, 160, 44);
pub const RED: RGBColor = RGBColor(214, 39, 40);
pub const PURPLE: RGBColor = RGBColor(148, 103, 189);
pub const GRAY: RGBColor = RGBColor(110, 110, 110);
const PALETTE: [RGBColor; 6] = [BLUE, ORANGE, GREEN, PURPLE, GRAY, RED];

/// A series drawn as a line.
#[derive(Clone, Debug)]
pub struct Line {
    pub label: String,
    /// (seconds, value).
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
    /// A threshold (SLO, HPA target): dashed.
    pub dashed: bool,
    /// On the right-hand axis.
    pub secondary: bool,
}

/// One chart: a title, a left axis and optionally a right one.
#[derive(Clone, Debug)]
pub struct Panel {
    pub title: String,
    pub y_label: String,
    pub y2_label: Option<String>,
    pub lines: Vec<Line>,
}

/// One file: panels stacked top to bottom.
#[derive(Clone, Debug)]
pub struct Figure {
    /// The file name without its extension (`plot-replicas`).
    pub stem: &'static str,
    pub title: String,
    pub panels: Vec<Panel>,
}

/// Every figure the run has data for (a figure with nothing to show is left out).
pub fn figures(run: &RunData) -> Vec<Figure> {
    [
        replicas(run),
        latency(run),
        availability(run),
        cpu(run),
        nodes_and_cost(run),
        pending(run),
    ]
    .into_iter()
    .filter(|f| !f.panels.is_empty())
    .collect()
}

/// The file stems [`figures`] can produce, in order.
pub const STEMS: [&str; 6] = [
    "plot-replicas",
    "plot-latency",
    "plot-availability",
    "plot-cpu",
    "plot-nodes-cost",
    "plot-pending",
];

fn line(run: &RunData, column: &str, label: &str, color: RGBColor) -> Option<Line> {
    let values = run.column(column)?;
    Some(Line {
        label: label.to_string(),
        points: run.t.iter().copied().zip(values.iter().copied()).collect(),
        color,
        dashed: false,
        secondary: false,
    })
}

fn threshold(run: &RunData, value: f64, label: String, color: RGBColor) -> Line {
    Line {
        label,
        points: vec![(0.0, value), (run.duration_seconds, value)],
        color,
        dashed: true,
        secondary: false,
    }
}

/// A column scaled by `factor` (fractions to percent).
fn scaled(mut l: Line, factor: f64) -> Line {
    l.points.iter_mut().for_each(|p| p.1 *= factor);
    l
}

/// The title of a figure of `shown` panels out of `total`.
fn titled(what: &str, shown: usize, total: usize) -> String {
    if total > shown {
        format!("{what} ({shown} of {total}, the largest)")
    } else {
        what.to_string()
    }
}

/// The Services that had requests, busiest first (ties by name).
fn busy_services(run: &RunData) -> Vec<&super::data::ServiceInfo> {
    let mut services: Vec<_> = run.services.iter().filter(|s| s.requests > 0).collect();
    services.sort_by(|a, b| b.requests.cmp(&a.requests).then(a.name.cmp(&b.name)));
    services
}

/// Deployments by mean replicas, largest first.
fn largest_deployments(run: &RunData) -> Vec<&str> {
    let mean = |d: &str| {
        run.column(&format!("deployment.{d}.replicas"))
            .map(|v| v.iter().sum::<f64>() / v.len().max(1) as f64)
            .unwrap_or(0.0)
    };
    let mut deployments: Vec<(&str, f64)> = run
        .deployments
        .iter()
        .map(|d| (d.as_str(), mean(d)))
        .collect();
    deployments.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    deployments.into_iter().map(|(d, _)| d).collect()
}

/// Desired replicas and Ready pods per Deployment, with the load of the Services it backs.
fn replicas(run: &RunData) -> Figure {
    let all = largest_deployments(run);
    let panels: Vec<Panel> = all
        .iter()
        .take(MAX_PANELS)
        .map(|d| {
            let mut lines: Vec<Line> = [
                line(
                    run,
                    &format!("deployment.{d}.replicas"),
                    "replicas (desired)",
                    BLUE,
                ),
                line(run, &format!("deployment.{d}.ready"), "ready", GREEN),
            ]
            .into_iter()
            .flatten()
            .collect();
            lines.extend(load_of(run, d));
            Panel {
                title: format!("Deployment {d}"),
                y_label: "pods".into(),
                y2_label: lines
                    .iter()
                    .any(|l| l.secondary)
                    .then(|| "requests/s".into()),
                lines,
            }
        })
        .collect();
    Figure {
        stem: "plot-replicas",
        title: titled("Load and replicas", panels.len(), all.len()),
        panels,
    }
}

/// The requests/s offered to the Services a Deployment backs, summed, on the right axis.
fn load_of(run: &RunData, deployment: &str) -> Option<Line> {
    let columns: Vec<&[f64]> = run
        .services
        .iter()
        .filter(|s| s.requests > 0 && s.backends.iter().any(|b| b == deployment))
        .filter_map(|s| run.column(&format!("service.{}.rps", s.name)))
        .collect();
    if columns.is_empty() {
        return None;
    }
    let points = (0..run.t.len())
        .map(|i| (run.t[i], columns.iter().map(|c| c[i]).sum()))
        .collect();
    Some(Line {
        label: "load (requests/s)".into(),
        points,
        color: GRAY,
        dashed: false,
        secondary: true,
    })
}

/// p50 and p99 per sample interval per Service, with its latency SLOs.
fn latency(run: &RunData) -> Figure {
    let all = busy_services(run);
    let panels: Vec<Panel> = all
        .iter()
        .take(MAX_PANELS)
        .map(|s| {
            let name = &s.name;
            let mut lines: Vec<Line> = [
                line(run, &format!("service.{name}.p50_ms"), "p50", BLUE),
                line(run, &format!("service.{name}.p99_ms"), "p99", ORANGE),
            ]
            .into_iter()
            .flatten()
            .collect();
            let scope = format!("service/{name}");
            lines.extend(
                run.slos
                    .iter()
                    .filter(|slo| slo.scope == scope && slo.metric.starts_with("latency."))
                    .map(|slo| {
                        threshold(run, slo.threshold, format!("SLO {}", slo.assertion), RED)
                    }),
            );
            Panel {
                title: format!("Service {name}: latency per sample interval"),
                y_label: "ms".into(),
                y2_label: None,
                lines,
            }
        })
        .collect();
    Figure {
        stem: "plot-latency",
        title: titled("Latency", panels.len(), all.len()),
        panels,
    }
}

/// Availability per sample interval, and failed requests, per Service.
fn availability(run: &RunData) -> Figure {
    let all = busy_services(run);
    let panels: Vec<Panel> = all
        .iter()
        .take(MAX_PANELS)
        .map(|s| {
            let name = &s.name;
            let mut lines: Vec<Line> = line(
                run,
                &format!("service.{name}.availability"),
                "availability",
                GREEN,
            )
            .map(|l| scaled(l, 100.0))
            .into_iter()
            .collect();
            if let Some(mut failed) = line(run, &format!("service.{name}.failed"), "failed", RED) {
                failed.secondary = true;
                failed.label = failed_label(s);
                lines.push(failed);
            }
            let scope = format!("service/{name}");
            lines.extend(
                run.slos
                    .iter()
                    .filter(|slo| slo.scope == scope && slo.metric == "availability")
                    .map(|slo| {
                        let label = format!("SLO {}", slo.assertion);
                        threshold(run, slo.threshold * 100.0, label, PURPLE)
                    }),
            );
            Panel {
                title: format!("Service {name}: availability per sample interval"),
                y_label: "% served".into(),
                y2_label: Some("failed requests".into()),
                lines,
            }
        })
        .collect();
    Figure {
        stem: "plot-availability",
        title: titled("Availability", panels.len(), all.len()),
        panels,
    }
}

/// "failed (node_failure 2917, no_endpoint 29982)": the run's failures by reason.
fn failed_label(s: &super::data::ServiceInfo) -> String {
    if s.failed_by_reason.is_empty() {
        return "failed".into();
    }
    let reasons: Vec<String> = s
        .failed_by_reason
        .iter()
        .map(|(reason, n)| format!("{reason} {n}"))
        .collect();
    format!("failed ({})", reasons.join(", "))
}

/// CPU utilization (of the pods' requests) against the HPA target, per scaled Deployment.
fn cpu(run: &RunData) -> Figure {
    let all: Vec<&str> = largest_deployments(run)
        .into_iter()
        .filter(|d| run.cpu_targets.contains_key(*d))
        .collect();
    let panels: Vec<Panel> = all
        .iter()
        .take(MAX_PANELS)
        .map(|d| {
            let target = run.cpu_targets[*d];
            let column = format!("deployment.{d}.cpu_utilization");
            let mut lines: Vec<Line> = line(run, &column, "cpu utilization", BLUE)
                .map(|l| scaled(l, 100.0))
                .into_iter()
                .collect();
            let label = format!("HPA target {target}%");
            lines.push(threshold(run, f64::from(target), label, RED));
            Panel {
                title: format!("Deployment {d}: CPU utilization"),
                y_label: "% of requests".into(),
                y2_label: None,
                lines,
            }
        })
        .collect();
    Figure {
        stem: "plot-cpu",
        title: titled(
            "CPU utilization against the HPA target",
            panels.len(),
            all.len(),
        ),
        panels,
    }
}

/// Nodes per pool, and what they have cost so far.
fn nodes_and_cost(run: &RunData) -> Figure {
    let mut lines: Vec<Line> = run
        .pools
        .iter()
        .zip(PALETTE.iter().cycle())
        .filter_map(|(p, &color)| line(run, &format!("pool.{p}.nodes"), p, color))
        .collect();
    if let Some(mut cost) = line(run, "cluster.cost_usd", "cost so far (USD)", RED) {
        cost.secondary = true;
        cost.dashed = false;
        lines.push(cost);
    }
    let panels = if lines.is_empty() {
        Vec::new()
    } else {
        vec![Panel {
            title: "Nodes per pool".into(),
            y_label: "nodes".into(),
            y2_label: Some("USD".into()),
            lines,
        }]
    };
    Figure {
        stem: "plot-nodes-cost",
        title: "Nodes and cost".into(),
        panels,
    }
}

/// Pods waiting for a node.
fn pending(run: &RunData) -> Figure {
    let panels = line(run, "cluster.pending_pods", "pending pods", ORANGE)
        .map(|l| Panel {
            title: "Pods waiting for a node".into(),
            y_label: "pods".into(),
            y2_label: None,
            lines: vec![l],
        })
        .into_iter()
        .collect();
    Figure {
        stem: "plot-pending",
        title: "Pending pods".into(),
        panels,
    }
}
