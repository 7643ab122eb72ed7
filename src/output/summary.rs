//! The summary table printed after a run.

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};

use crate::metrics::Report;
use crate::metrics::report::ServiceReport;
use crate::sim::{SimDuration, SimTime};

/// Renders the per-Service, per-Deployment, per-pool and SLO tables, with what happened to the
/// Deployments under theirs.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    out.push_str(&services(report));
    out.push('\n');
    if report.services.iter().any(|s| s.llm.is_some()) {
        out.push_str(&llm_services(report));
        out.push('\n');
    }
    out.push_str(&deployments(report));
    for line in happenings(report) {
        out.push_str(&format!("  {line}\n"));
    }
    out.push('\n');
    out.push_str(&pools(report));
    if !report.vpas.is_empty() {
        out.push('\n');
        out.push_str(&vpas(report));
    }
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
    let mut header = vec!["Service"];
    header.extend(SERVICE_COLUMNS);
    let mut t = table(&header);
    for s in served(r) {
        let mut row = vec![Cell::new(&s.name)];
        row.extend(service_cells(s).into_iter().map(right));
        t.add_row(row);
    }
    t.to_string() + "\n"
}

/// The token-level figures of the LLM Services.
fn llm_services(r: &Report) -> String {
    let mut t = table(&[
        "LLM Service",
        "TTFT p50 ms",
        "TTFT p99 ms",
        "TPOT p50 ms",
        "TPOT p95 ms",
        "output tokens/s",
        "GPU-hours",
        "USD / M output tokens",
    ]);
    for s in &r.services {
        let Some(l) = &s.llm else {
            continue;
        };
        let cost = l
            .cost_usd_per_million_output_tokens
            .map_or("-".to_string(), |c| format!("{c:.2}"));
        let cells = [
            format!("{:.1}", l.time_to_first_token_ms.p50),
            format!("{:.1}", l.time_to_first_token_ms.p99),
            format!("{:.1}", l.time_per_output_token_ms.p50),
            format!("{:.1}", l.time_per_output_token_ms.p95),
            format!("{:.1}", l.output_tokens_per_sec),
            format!("{:.2}", l.gpu_hours),
            cost,
        ];
        let mut row = vec![Cell::new(&s.name)];
        row.extend(cells.into_iter().map(right));
        t.add_row(row);
    }
    t.to_string() + "\n"
}

/// The Services table's columns after the name (the terminal's and report.html's).
pub const SERVICE_COLUMNS: [&str; 7] = [
    "requests",
    "failed",
    "availability",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
];

/// The Services the tables list: those some request reached (the others would be rows of
/// zeros, e.g. a Service that selects nothing).
pub fn served(r: &Report) -> impl Iterator<Item = &ServiceReport> {
    r.services.iter().filter(|s| s.requests > 0)
}

/// A Service's cells under [`SERVICE_COLUMNS`].
pub fn service_cells(s: &ServiceReport) -> [String; 7] {
    let l = &s.latency_ms;
    [
        s.requests.to_string(),
        s.failed.to_string(),
        s.availability
            .map_or("-".into(), |a| format!("{:.4} %", a * 100.0)),
        format!("{:.1}", l.p50),
        format!("{:.1}", l.p95),
        format!("{:.1}", l.p99),
        format!("{:.1}", l.max),
    ]
}

/// What happened to the Deployments beyond scaling, one sentence each, when it did: rollouts,
/// container restarts (and OOM kills), CPU throttling under a limit.
pub fn happenings(r: &Report) -> Vec<String> {
    let mut lines = Vec::new();
    let at = |seconds: f64| SimTime::from_micros((seconds * 1e6).round() as u64);
    let took = |seconds: f64| SimDuration::from_micros((seconds * 1e6).round() as u64);
    for d in &r.deployments {
        for ro in &d.rollouts {
            let end = match ro.duration_seconds {
                Some(s) => format!("complete after {}", took(s)),
                None => "still in progress at the end".into(),
            };
            let deadline = ro
                .progress_deadline_exceeded_seconds
                .map_or(String::new(), |s| {
                    format!(" (progress deadline exceeded at {})", at(s))
                });
            lines.push(format!(
                "{}: rollout to revision {} at {}, {end}{deadline}",
                d.name,
                ro.revision,
                at(ro.started_seconds)
            ));
        }
        if d.container_restarts > 0 {
            let oom = match d.oom_kills {
                0 => String::new(),
                n => format!(" ({n} killed by their memory limit)"),
            };
            lines.push(format!(
                "{}: {} container restart{}{oom}",
                d.name,
                d.container_restarts,
                if d.container_restarts == 1 { "" } else { "s" }
            ));
        }
        if let (Some(ratio), true) = (d.cpu_throttled_ratio, d.cpu_throttled_periods > 0) {
            lines.push(format!(
                "{}: CPU throttled by its limit in {:.1} % of its CFS periods ({} of {}), its threads waiting {:.1} s in all",
                d.name,
                ratio * 100.0,
                d.cpu_throttled_periods,
                d.cpu_periods,
                d.cpu_throttled_seconds
            ));
        }
    }
    lines
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

/// The VPA table's columns.
pub const VPA_COLUMNS: [&str; 9] = [
    "VPA / container",
    "cpu request",
    "target",
    "bounds",
    "memory request",
    "target",
    "bounds",
    "cost USD → at target",
    "pods admitted / resized / evicted",
];

/// Each VPA container's request (as the manifest writes it) beside the recommendation, the
/// cost at each, and what the VPA did to pods, as cells of [`VPA_COLUMNS`].
pub fn vpa_rows(r: &Report) -> Vec<[String; 9]> {
    let cpu = |v: Option<i64>| v.map_or("-".into(), |m| format!("{m}m"));
    let memory = |v: Option<i64>| v.map_or("-".into(), |b| format!("{}Mi", b >> 20));
    let mut rows = Vec::new();
    for v in &r.vpas {
        let cost = format!(
            "{:.2} → {:.2}",
            v.what_if.cost_usd, v.what_if.cost_usd_at_recommendation
        );
        for c in &v.containers {
            let rec = &c.recommendation;
            let (lower, upper) = (rec.lower, rec.upper);
            rows.push([
                format!("{}/{}", v.name, rec.container),
                cpu(c.requests.cpu_millis),
                cpu(rec.target.cpu_millis),
                format!("{}–{}", cpu(lower.cpu_millis), cpu(upper.cpu_millis)),
                memory(c.requests.memory_bytes),
                memory(rec.target.memory_bytes),
                format!(
                    "{}–{}",
                    memory(lower.memory_bytes),
                    memory(upper.memory_bytes)
                ),
                cost.clone(),
                format!(
                    "{} / {} / {}",
                    v.actions.pods_admitted,
                    v.actions.pods_resized_in_place,
                    v.actions.pods_evicted
                ),
            ]);
        }
    }
    rows
}

fn vpas(r: &Report) -> String {
    let mut t = table(&VPA_COLUMNS);
    for [name, cells @ ..] in vpa_rows(r) {
        let mut row = vec![Cell::new(name)];
        row.extend(cells.into_iter().map(right));
        t.add_row(row);
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
    let mut out = t.to_string() + "\n";
    if let Some(n) = &r.network {
        out += &format!(
            "between zones: {:.3} GB, {:.2} USD at {} USD/GB; nodes and bytes: {:.2} USD\n",
            n.cross_zone_gb, n.cross_zone_cost_usd, n.usd_per_gb, n.total_cost_usd
        );
    }
    out
}

fn slos(r: &Report) -> String {
    let mut t = table(&["SLO", "actual", "result"]);
    for s in &r.slos {
        let actual = slo_value(&s.metric, s.actual);
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
        m if ["latency.", "ttft.", "tpot."]
            .iter()
            .any(|p| m.starts_with(p)) =>
        {
            format!("{a:.1} ms")
        }
        "availability" | "goodput" => format!("{:.3} %", a * 100.0),
        "cost.total" | "cost.per_million_tokens" => format!("{a:.2} USD"),
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
