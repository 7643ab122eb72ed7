//! `report.html`: one self-contained page per run — the summary tables, the SLO results, the
//! plots (inline SVG), why the HPAs scaled and which pods waited for a node, the cluster events,
//! the cluster to watch at any instant (`super::watch`: the page's one script, inline), and the
//! scenario as it ran. No scripts, fonts or images are fetched: the page opens offline.

use std::fmt::Write;

use super::summary;
use crate::metrics::Report;
use crate::metrics::cluster_events::ClusterEvent;

/// Cluster events listed at most (the rest are in `cluster_events.jsonl`).
const MAX_EVENT_ROWS: usize = 300;

/// What the page shows besides the report.
pub struct Extras<'a> {
    /// (title, SVG document) per figure.
    pub plots: &'a [(String, String)],
    /// HPA decisions as sentences, and how many more there were.
    pub hpa_sentences: &'a [String],
    pub hpa_untold: u64,
    /// (node, why) for each node the Cluster Autoscaler had judged and kept at the end.
    pub staying: &'a [(String, String)],
    /// The pods that waited longest for a node, as a text table (empty: none waited).
    pub pending: &'a str,
    pub cluster_events: &'a [ClusterEvent],
    pub resolved_yaml: &'a str,
    /// The "Watch the cluster" section (`super::watch`).
    pub watch: &'a str,
}

/// Text with `&`, `<`, `>` and quotes escaped for HTML and XML (report.html, JUnit).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;\
max-width:1000px;color:#222;padding:0 1em}h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.25em .7em;border-bottom:1px solid #eee;\
text-align:right}th{background:#f6f6f6}td:first-child,th:first-child{text-align:left}\
.pass{color:#17702e;font-weight:600}.fail{color:#b3261e;font-weight:600}pre{background:#f6f6f6;\
padding:1em;overflow-x:auto;font-size:.85em}figure{margin:1em 0}svg{max-width:100%;height:auto}\
nav a{margin-right:1em}.muted{color:#666}";

/// The page.
pub fn render(report: &Report, extras: &Extras) -> String {
    let mut page = String::new();
    let title = format!("kubesim — {}", escape(&report.scenario));
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>{STYLE}{}</style></head><body>\n<h1>{title}</h1>\n",
        super::watch::STYLE
    );
    let _ = writeln!(
        page,
        "<p class=\"muted\">seed {}, {} simulated, kubesim {} (the command and its speed are in run.json)</p>",
        report.seed,
        crate::sim::SimDuration::from_micros((report.duration_seconds * 1e6) as u64),
        report.kubesim_version,
    );
    page.push_str("<nav><a href=\"#watch\">Watch</a><a href=\"#slos\">SLOs</a><a href=\"#services\">Services</a><a href=\"#deployments\">Deployments</a><a href=\"#nodes\">Nodes</a><a href=\"#plots\">Plots</a><a href=\"#hpa\">HPA decisions</a><a href=\"#pending\">Pending pods</a><a href=\"#events\">Cluster events</a><a href=\"#scenario\">Scenario</a></nav>\n");
    slos(&mut page, report);
    page.push_str(extras.watch);
    services(&mut page, report);
    deployments(&mut page, report);
    nodes(&mut page, report, extras.staying);
    vpas(&mut page, report);
    plots(&mut page, extras.plots);
    narrative(&mut page, extras);
    events(&mut page, extras.cluster_events);
    let _ = writeln!(
        page,
        "<h2 id=\"scenario\">Scenario as it ran</h2>\n<pre>{}</pre>\n</body></html>",
        escape(extras.resolved_yaml)
    );
    page
}

/// A table from a header row and rows of cells (already escaped).
fn table(page: &mut String, header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    page.push_str("<table><thead><tr>");
    for h in header {
        let _ = write!(page, "<th>{h}</th>");
    }
    page.push_str("</tr></thead><tbody>\n");
    for row in rows {
        page.push_str("<tr>");
        for cell in row {
            let _ = write!(page, "<td>{cell}</td>");
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody></table>\n");
}

fn percent(fraction: Option<f64>) -> String {
    fraction.map_or("–".into(), |f| format!("{:.4} %", f * 100.0))
}

fn slos(page: &mut String, report: &Report) {
    page.push_str("<h2 id=\"slos\">SLOs</h2>\n");
    if report.slos.is_empty() {
        page.push_str("<p class=\"muted\">The scenario states no SLO.</p>\n");
        return;
    }
    let rows = report.slos.iter().map(|s| {
        let (class, word) = if s.passed {
            ("pass", "pass")
        } else {
            ("fail", "FAIL")
        };
        vec![
            escape(&s.name),
            summary::slo_value(&s.metric, s.actual),
            summary::slo_value(&s.metric, Some(s.threshold)),
            format!("<span class=\"{class}\">{word}</span>"),
        ]
    });
    table(page, &["SLO", "actual", "threshold", "result"], rows);
}

fn services(page: &mut String, report: &Report) {
    page.push_str("<h2 id=\"services\">Services</h2>\n");
    let rows = summary::served(report).map(|s| {
        let mut row = vec![escape(&s.name), s.role.to_string()];
        row.extend(summary::service_cells(s));
        row
    });
    let mut header = vec!["Service", "role"];
    header.extend(summary::SERVICE_COLUMNS);
    table(page, &header, rows);
    let _ = writeln!(
        page,
        "<p>All Services: {} requests, {} failed, availability {}.</p>",
        report.totals.requests,
        report.totals.failed,
        percent(report.totals.availability)
    );
}

fn deployments(page: &mut String, report: &Report) {
    page.push_str("<h2 id=\"deployments\">Deployments</h2>\n");
    let rows = report.deployments.iter().map(|d| {
        vec![
            escape(&d.name),
            format!("{}", d.replicas.min),
            format!("{:.2}", d.replicas.mean),
            format!("{}", d.replicas.max),
            d.scale_ups.to_string(),
            d.scale_downs.to_string(),
            d.pods_created.to_string(),
            d.rollouts.len().to_string(),
            d.container_restarts.to_string(),
            format!("{:.2}", d.cost_usd),
        ]
    });
    let header = [
        "Deployment",
        "replicas min",
        "mean",
        "max",
        "scale ups",
        "scale downs",
        "pods created",
        "rollouts",
        "restarts",
        "cost USD",
    ];
    table(page, &header, rows);
    let happened = summary::happenings(report);
    if !happened.is_empty() {
        page.push_str("<ul>\n");
        for line in happened {
            let _ = writeln!(page, "<li>{}</li>", escape(&line));
        }
        page.push_str("</ul>\n");
    }
}

fn nodes(page: &mut String, report: &Report, staying: &[(String, String)]) {
    page.push_str("<h2 id=\"nodes\">Node pools and cost</h2>\n");
    let rows = report.node_pools.iter().map(|p| {
        vec![
            escape(&p.name),
            p.capacity_type.to_string(),
            format!("{}", p.nodes.min),
            format!("{:.2}", p.nodes.mean),
            format!("{}", p.nodes.max),
            format!("{:.2}", p.node_hours),
            format!("{:.2}", p.cost_usd),
        ]
    });
    let header = [
        "Node pool",
        "capacity",
        "nodes min",
        "mean",
        "max",
        "node-hours",
        "cost USD",
    ];
    table(page, &header, rows);
    let t = &report.totals;
    let _ = writeln!(
        page,
        "<p>Total {:.2} node-hours, {:.2} USD, of which {:.2} USD paid for capacity no pod requested.</p>",
        t.node_hours, t.cost_usd, t.idle_cost_usd
    );
    if staying.is_empty() {
        return;
    }
    page.push_str(
        "<p>Why nodes stayed: the Cluster Autoscaler's last word on each node still there at the end \
         (<code>kubesim explain SCENARIO --node NAME</code> tells a node's whole story).</p>\n",
    );
    let rows = staying
        .iter()
        .map(|(node, why)| vec![escape(node), escape(why)]);
    table(page, &["Node", "why it stayed"], rows);
}

/// The VPAs' recommendations beside the pods' requests (when the scenario has VPAs).
fn vpas(page: &mut String, report: &Report) {
    if report.vpas.is_empty() {
        return;
    }
    page.push_str("<h2 id=\"vpas\">Vertical Pod Autoscalers</h2>\n");
    page.push_str(
        "<p>The last recommendation of each VPA beside what the pods request, and the pods' cost \
         share at their requests and at each minute's recommendation \
         (<code>kubesim explain SCENARIO --vpa NAME</code> tells the arithmetic).</p>\n",
    );
    let rows = super::summary::vpa_rows(report);
    let rows = rows
        .into_iter()
        .map(|r| r.iter().map(|c| escape(c)).collect());
    table(page, &super::summary::VPA_COLUMNS, rows);
}

fn plots(page: &mut String, plots: &[(String, String)]) {
    page.push_str("<h2 id=\"plots\">Plots</h2>\n");
    if plots.is_empty() {
        page.push_str("<p class=\"muted\">No plots.</p>\n");
    }
    for (title, svg) in plots {
        let _ = writeln!(
            page,
            "<figure aria-label=\"{}\">{}</figure>",
            escape(title),
            svg_body(svg)
        );
    }
}

/// An SVG document without its XML declaration, which HTML does not allow inline.
pub(crate) fn svg_body(svg: &str) -> &str {
    let body = svg.trim_start().strip_prefix("<?xml").map_or(svg, |rest| {
        rest.split_once("?>").map_or(rest, |(_, after)| after)
    });
    body.trim()
}

fn narrative(page: &mut String, extras: &Extras) {
    page.push_str("<h2 id=\"hpa\">Why the HPAs scaled</h2>\n");
    if extras.hpa_sentences.is_empty() {
        page.push_str("<p class=\"muted\">No HPA changed replicas.</p>\n");
    } else {
        page.push_str("<pre>");
        for s in extras.hpa_sentences {
            page.push_str(&escape(s));
            page.push('\n');
        }
        if extras.hpa_untold > 0 {
            let _ = writeln!(
                page,
                "… and {} more (kubesim explain --all)",
                extras.hpa_untold
            );
        }
        page.push_str("</pre>\n");
    }
    page.push_str("<h2 id=\"pending\">Pods that waited for a node</h2>\n");
    if extras.pending.trim().is_empty() {
        page.push_str("<p class=\"muted\">No pod waited for a node.</p>\n");
    } else {
        let _ = writeln!(page, "<pre>{}</pre>", escape(extras.pending));
    }
}

fn events(page: &mut String, events: &[ClusterEvent]) {
    page.push_str("<h2 id=\"events\">Cluster events</h2>\n");
    if events.is_empty() {
        page.push_str("<p class=\"muted\">No node failure, spot interruption, rollout or scripted action.</p>\n");
        return;
    }
    let rows = events.iter().take(MAX_EVENT_ROWS).map(|e| {
        vec![
            format!(
                "{}",
                crate::sim::SimDuration::from_micros((e.t_seconds * 1e6) as u64)
            ),
            format!("{:?}/{}", e.kind, escape(&e.name)),
            format!("{:?}", e.reason),
            escape(&e.message),
        ]
    });
    table(page, &["time", "object", "reason", "message"], rows);
    if events.len() > MAX_EVENT_ROWS {
        let _ = writeln!(
            page,
            "<p class=\"muted\">… and {} more in cluster_events.jsonl.</p>",
            events.len() - MAX_EVENT_ROWS
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }
}
