//! Which figures a run gets and what each panel shows, as plain data ([`Figure`], [`Panel`],
//! [`Line`]) built from a [`RunData`]; `super::draw` turns them into SVG or PNG.

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
        llm_servers(run),
        super::vpa::figure(&run.vpas, run.duration_seconds),
    ]
    .into_iter()
    .filter(|f| !f.panels.is_empty())
    .collect()
}

/// The file stems [`figures`] can produce, in order.
pub const STEMS: [&str; 8] = [
    "plot-replicas",
    "plot-latency",
    "plot-availability",
    "plot-cpu",
    "plot-nodes-cost",
    "plot-pending",
    "plot-llm",
    "plot-vpa",
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

/// A figure of one panel per item, for the first [`MAX_PANELS`] of `all`.
fn one_panel_each<T>(
    stem: &'static str,
    what: &str,
    all: &[T],
    panel: impl Fn(&T) -> Panel,
) -> Figure {
    let panels: Vec<Panel> = all.iter().take(MAX_PANELS).map(panel).collect();
    Figure {
        stem,
        title: titled(what, panels.len(), all.len()),
        panels,
    }
}

/// The thresholds of a Service's SLOs on metrics `wanted` accepts, as dashed lines (values
/// multiplied by `factor`: fractions to percent).
fn slo_lines(
    run: &RunData,
    service: &str,
    wanted: impl Fn(&str) -> bool,
    factor: f64,
    color: RGBColor,
) -> Vec<Line> {
    let scope = format!("service/{service}");
    run.slos
        .iter()
        .filter(|slo| slo.scope == scope && wanted(&slo.metric))
        .map(|slo| {
            let label = format!("SLO {}", slo.assertion);
            threshold(run, slo.threshold * factor, label, color)
        })
        .collect()
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
    one_panel_each("plot-replicas", "Load and replicas", &all, |d| {
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
    one_panel_each("plot-latency", "Latency", &all, |s| {
        let name = &s.name;
        let mut lines: Vec<Line> = [
            line(run, &format!("service.{name}.p50_ms"), "p50", BLUE),
            line(run, &format!("service.{name}.p99_ms"), "p99", ORANGE),
        ]
        .into_iter()
        .flatten()
        .collect();
        lines.extend(slo_lines(
            run,
            name,
            |m| m.starts_with("latency."),
            1.0,
            RED,
        ));
        Panel {
            title: format!("Service {name}: latency per sample interval"),
            y_label: "ms".into(),
            y2_label: None,
            lines,
        }
    })
}

/// Availability per sample interval, and failed requests, per Service.
fn availability(run: &RunData) -> Figure {
    let all = busy_services(run);
    one_panel_each("plot-availability", "Availability", &all, |s| {
        let name = &s.name;
        let column = format!("service.{name}.availability");
        let mut lines: Vec<Line> = line(run, &column, "availability", GREEN)
            .map(|l| scaled(l, 100.0))
            .into_iter()
            .collect();
        if let Some(mut failed) = line(run, &format!("service.{name}.failed"), "failed", RED) {
            failed.secondary = true;
            failed.label = failed_label(s);
            lines.push(failed);
        }
        lines.extend(slo_lines(run, name, |m| m == "availability", 100.0, PURPLE));
        Panel {
            title: format!("Service {name}: availability per sample interval"),
            y_label: "% served".into(),
            y2_label: Some("failed requests".into()),
            lines,
        }
    })
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
    let what = "CPU utilization against the HPA target";
    one_panel_each("plot-cpu", what, &all, |d| {
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

/// Per LLM Deployment: the requests its servers hold waiting and running, and how full their KV
/// caches are.
fn llm_servers(run: &RunData) -> Figure {
    let all: Vec<&str> = largest_deployments(run)
        .into_iter()
        .filter(|d| run.column(&format!("deployment.{d}.llm_waiting")).is_some())
        .collect();
    let what = "LLM servers: requests and KV cache";
    one_panel_each("plot-llm", what, &all, |d| {
        let column = |m: &str| format!("deployment.{d}.{m}");
        let mut lines: Vec<Line> = [
            ("llm_waiting", "waiting", ORANGE),
            ("llm_running", "running", BLUE),
        ]
        .into_iter()
        .filter_map(|(m, label, color)| line(run, &column(m), label, color))
        .collect();
        if let Some(kv) = line(run, &column("kv_cache_usage"), "KV cache used (%)", PURPLE) {
            lines.push(Line {
                secondary: true,
                ..scaled(kv, 100.0)
            });
        }
        Panel {
            title: format!("Deployment {d}: requests in its servers"),
            y_label: "requests".into(),
            y2_label: Some("% of KV cache".into()),
            lines,
        }
    })
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

#[cfg(test)]
mod tests {
    use super::super::data::{ServiceInfo, SloLine};
    use super::*;

    fn service(name: &str, requests: u64) -> ServiceInfo {
        ServiceInfo {
            name: name.into(),
            requests,
            backends: vec!["web".into()],
            failed_by_reason: vec![("timeout".into(), 3)],
        }
    }

    fn run() -> RunData {
        let t = vec![0.0, 15.0, 30.0];
        let mut run = RunData::with_columns(
            30.0,
            t,
            &[
                ("service.web.rps", vec![0.0, 10.0, 20.0]),
                ("service.web.p50_ms", vec![0.0, 12.0, 14.0]),
                ("service.web.p99_ms", vec![0.0, 90.0, 300.0]),
                ("service.web.availability", vec![1.0, 0.99, 1.0]),
                ("service.web.failed", vec![0.0, 3.0, 0.0]),
                ("deployment.web.replicas", vec![2.0, 3.0, 4.0]),
                ("deployment.web.ready", vec![2.0, 2.0, 4.0]),
                ("deployment.web.cpu_utilization", vec![0.5, 0.9, 0.6]),
            ],
        );
        run.services = vec![service("web", 100), service("idle", 0)];
        run.deployments = vec!["web".into()];
        run.cpu_targets.insert("web".into(), 60);
        run.slos = vec![SloLine {
            scope: "service/web".into(),
            metric: "latency.p99".into(),
            threshold: 250.0,
            assertion: "latency.p99 <= 250ms".into(),
        }];
        run
    }

    fn figure(run: &RunData, stem: &str) -> Figure {
        figures(run)
            .into_iter()
            .find(|f| f.stem == stem)
            .expect(stem)
    }

    #[test]
    fn latency_panels_carry_the_services_slo_as_a_dashed_line() {
        let f = figure(&run(), "plot-latency");
        // Only the Service with requests gets a panel.
        assert_eq!(f.panels.len(), 1);
        let slo = f.panels[0].lines.iter().find(|l| l.dashed).unwrap();
        assert_eq!(slo.points, vec![(0.0, 250.0), (30.0, 250.0)]);
        assert_eq!(slo.label, "SLO latency.p99 <= 250ms");
    }

    #[test]
    fn fractions_are_drawn_as_percent_against_the_hpa_target() {
        let run = run();
        let cpu = figure(&run, "plot-cpu");
        let lines = &cpu.panels[0].lines;
        // cpu_utilization 0.9 → 90 % of requests; the HPA's 60 % target is a dashed line.
        assert_eq!(lines[0].points[1], (15.0, 90.0));
        assert_eq!(lines[1].points, vec![(0.0, 60.0), (30.0, 60.0)]);
        let availability = figure(&run, "plot-availability");
        let failed = availability.panels[0]
            .lines
            .iter()
            .find(|l| l.secondary)
            .unwrap();
        assert_eq!(failed.label, "failed (timeout 3)");
        assert_eq!(availability.panels[0].lines[0].points[1], (15.0, 99.0));
    }

    #[test]
    fn replicas_panels_show_the_load_of_the_services_a_deployment_backs() {
        let f = figure(&run(), "plot-replicas");
        let load = f.panels[0].lines.iter().find(|l| l.secondary).unwrap();
        assert_eq!(load.points, vec![(0.0, 0.0), (15.0, 10.0), (30.0, 20.0)]);
        assert_eq!(f.panels[0].y2_label.as_deref(), Some("requests/s"));
    }

    #[test]
    fn llm_deployments_get_their_queue_and_kv_cache_and_others_nothing() {
        let run = run();
        assert!(figures(&run).iter().all(|f| f.stem != "plot-llm"));
        let mut run = RunData::with_columns(
            30.0,
            vec![0.0, 15.0, 30.0],
            &[
                ("deployment.llama.replicas", vec![2.0, 2.0, 2.0]),
                ("deployment.llama.llm_waiting", vec![0.0, 5.0, 1.0]),
                ("deployment.llama.llm_running", vec![0.0, 40.0, 30.0]),
                ("deployment.llama.kv_cache_usage", vec![0.0, 0.812, 0.5]),
            ],
        );
        run.deployments = vec!["llama".into()];
        let f = figure(&run, "plot-llm");
        let lines = &f.panels[0].lines;
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].points[1], (15.0, 5.0));
        // The KV cache's fraction on the right axis, in percent.
        assert!(lines[2].secondary);
        assert!((lines[2].points[1].1 - 81.2).abs() < 1e-9);
    }

    #[test]
    fn a_figure_shows_at_most_eight_panels_and_says_so() {
        let mut run = run();
        run.services = (0..10)
            .map(|i| service(&format!("s{i}"), 100 + i))
            .collect();
        let f = figure(&run, "plot-latency");
        assert_eq!(f.panels.len(), MAX_PANELS);
        assert_eq!(f.title, "Latency (8 of 10, the largest)");
        // Busiest first: s9 has 109 requests.
        assert!(f.panels[0].title.contains("s9"));
    }
}
