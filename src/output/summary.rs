//! The summary table printed after a run.

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};

use crate::metrics::Report;

/// Renders the per-Service, per-Deployment, per-pool and SLO tables.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    out.push_str(&services(report));
    out.push('\n');
    out.push_str(&deployments(report));
    out.push('\n');
    out.push_str(&pools(report));
    if !report.slos.is_empty() {
        out.push('\n');
        out.push_str(&slos(report));
    }
    out
}

fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(headers.iter().copied().map(Cell::new));
    t
}

fn right(text: String) -> Cell {
    Cell::new(text).set_alignment(CellAlignment::Right)
}

fn services(r: &Report) -> String {
    let mut t = table(&[
        "Service",
        "requests",
        "failed",
        "availability",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
    ]);
    // Services no request reached (e.g. selected by nothing) would be rows of zeros.
    for s in r.services.iter().filter(|s| s.requests > 0) {
        let availability = s
            .availability
            .map_or("-".into(), |a| format!("{:.4}%", a * 100.0));
        t.add_row(vec![
            Cell::new(&s.name),
            right(s.requests.to_string()),
            right(s.failed.to_string()),
            right(availability),
            right(format!("{:.1}", s.latency_ms.p50)),
            right(format!("{:.1}", s.latency_ms.p95)),
            right(format!("{:.1}", s.latency_ms.p99)),
            right(format!("{:.1}", s.latency_ms.max)),
        ]);
    }
    t.to_string() + "\n"
}

fn deployments(r: &Report) -> String {
    let mut t = table(&[
        "Deployment",
        "replicas min",
        "mean",
        "max",
        "scale ups",
        "scale downs",
        "pods created",
        "cost USD",
    ]);
    for d in &r.deployments {
        t.add_row(vec![
            Cell::new(&d.name),
            right(d.replicas.min.to_string()),
            right(format!("{:.2}", d.replicas.mean)),
            right(d.replicas.max.to_string()),
            right(d.scale_ups.to_string()),
            right(d.scale_downs.to_string()),
            right(d.pods_created.to_string()),
            right(format!("{:.2}", d.cost_usd)),
        ]);
    }
    t.to_string() + "\n"
}

fn pools(r: &Report) -> String {
    let mut t = table(&[
        "Node pool",
        "nodes min",
        "mean",
        "max",
        "node-hours",
        "cost USD",
    ]);
    for p in &r.node_pools {
        t.add_row(vec![
            Cell::new(&p.name),
            right(p.nodes.min.to_string()),
            right(format!("{:.2}", p.nodes.mean)),
            right(p.nodes.max.to_string()),
            right(format!("{:.2}", p.node_hours)),
            right(format!("{:.2}", p.cost_usd)),
        ]);
    }
    t.add_row(vec![
        Cell::new("idle (not requested)"),
        Cell::new(""),
        Cell::new(""),
        Cell::new(""),
        Cell::new(""),
        right(format!("{:.2}", r.totals.idle_cost_usd)),
    ]);
    t.add_row(vec![
        Cell::new("total"),
        Cell::new(""),
        Cell::new(""),
        Cell::new(""),
        right(format!("{:.2}", r.totals.node_hours)),
        right(format!("{:.2}", r.totals.cost_usd)),
    ]);
    t.to_string() + "\n"
}

fn slos(r: &Report) -> String {
    let mut t = table(&["SLO", "actual", "result"]);
    for s in &r.slos {
        let actual = slo_value(s.metric, s.actual);
        t.add_row(vec![
            Cell::new(&s.name),
            right(actual),
            Cell::new(if s.passed { "pass" } else { "FAIL" }),
        ]);
    }
    t.to_string() + "\n"
}

/// An SLO's measured value with its unit: `198.8 ms`, `99.996 %`, `1.15 USD`.
pub fn slo_value(metric: &str, actual: Option<f64>) -> String {
    let Some(a) = actual else {
        return "no data".into();
    };
    match metric {
        m if m.starts_with("latency.") => format!("{a:.1} ms"),
        "availability" => format!("{:.3} %", a * 100.0),
        "cost.total" => format!("{a:.2} USD"),
        "requests.failed" => format!("{a}"),
        _ => format!("{a:.2}"),
    }
}

/// The comparison with a baseline run: one row per metric, old → new, with its tolerance.
pub fn baseline(scenario: &str, changes: &[crate::metrics::baseline::Change]) -> String {
    let mut t = table(&[
        &format!("{scenario} vs baseline"),
        "metric",
        "old",
        "new",
        "change",
        "tolerance",
        "result",
    ]);
    for c in changes {
        let result = if c.regressed {
            "REGRESSED"
        } else if c.old == c.new {
            "same"
        } else {
            "ok"
        };
        t.add_row(vec![
            Cell::new(&c.scope),
            Cell::new(c.metric.name()),
            right(c.metric.show(c.old)),
            right(c.metric.show(c.new)),
            right(c.delta()),
            right(c.tolerance.show()),
            Cell::new(result),
        ]);
    }
    t.to_string()
}
