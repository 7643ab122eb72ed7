//! A sweep's `report.html`: one self-contained page with the best feasible variant and how to
//! run it, the cost–latency frontier figure, and every variant in a table that sorts by any
//! column (a click on its header, or `#sort=COLUMN` / `#sort=-COLUMN` in the address, the key
//! being the header's label) — with links to the kept runs' own reports. The sorting script is
//! inline: nothing is fetched, the page opens offline.

use std::fmt::Write;

use super::{SHOWN_IN_PAGE, frontier_order, marks, mean_ci, short_axis_names, step_labels};
use crate::output::html::{STYLE, escape};
use crate::sweep::Plan;
use crate::sweep::run::{Conclusion, VariantRow, kept_run_name};

/// What the page links to besides the sweep's own files.
#[derive(Clone, Copy, Debug)]
pub struct Links<'a> {
    /// The file of each kept run that its link opens (`report.html`); `None` when runs were
    /// not kept.
    pub kept_runs: Option<&'a str>,
}

const SORT_STYLE: &str = "th[data-key]{cursor:pointer;user-select:none}\
th[aria-sort=ascending]::after{content:' ▲'}th[aria-sort=descending]::after{content:' ▼'}\
tr.best td{background:#eaf6ec}tr.infeasible td{color:#888}td a{margin-right:.4em}\
pre.wrap{white-space:pre-wrap;overflow-wrap:anywhere}.scroll{overflow-x:auto}";

/// Sorts the variants table by a header's column: numbers by `data-v` (empty: unmeasured,
/// always last), text naturally; the sort is stable, so ties keep the sweep's order.
const SORT_SCRIPT: &str = r#"(() => {
  const table = document.getElementById('variants');
  if (!table) return;
  const body = table.tBodies[0];
  const heads = Array.from(table.tHead.rows[0].cells);
  const key = (row, i) => {
    const cell = row.cells[i];
    const v = cell.dataset.v;
    if (v === undefined) return cell.textContent;
    return v === '' ? null : Number(v);
  };
  const sortBy = (i, descending) => {
    const rows = Array.from(body.rows);
    rows.sort((a, b) => {
      const x = key(a, i), y = key(b, i);
      if (x === null || y === null) return (x === null) - (y === null);
      const order = typeof x === 'number' ? x - y
        : String(x).localeCompare(String(y), undefined, {numeric: true});
      return descending ? -order : order;
    });
    rows.forEach(r => body.appendChild(r));
    heads.forEach((h, j) => h.setAttribute('aria-sort',
      j === i ? (descending ? 'descending' : 'ascending') : 'none'));
  };
  heads.forEach((h, i) => h.addEventListener('click',
    () => sortBy(i, h.getAttribute('aria-sort') === 'ascending')));
  const fromAddress = () => {
    const m = /^#sort=(-?)(.+)$/.exec(decodeURIComponent(location.hash));
    if (!m) return;
    const i = heads.findIndex(h => h.dataset.key === m[2]);
    if (i >= 0) sortBy(i, m[1] === '-');
  };
  window.addEventListener('hashchange', fromAddress);
  fromAddress();
})();"#;

/// The page; `figure` is the frontier's SVG document, if there is one.
pub fn render(
    plan: &Plan,
    rows: &[VariantRow],
    c: &Conclusion,
    figure: Option<&str>,
    links: Links,
) -> String {
    let mut page = String::new();
    let title = format!("kubesim sweep — {}", escape(&plan.name));
    let _ = writeln!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>{STYLE}{SORT_STYLE}</style></head><body>\n<h1>{title}</h1>"
    );
    let _ = writeln!(
        page,
        "<p class=\"muted\">{} variants × {} replication{} of {}, base seed {}, kubesim {} \
         (every value is in sweep.json and sweep.csv; wall time in run.json)</p>",
        rows.len(),
        plan.spec.replications,
        if plan.spec.replications == 1 { "" } else { "s" },
        escape(&plan.spec.scenario.display().to_string()),
        plan.base_seed,
        env!("CARGO_PKG_VERSION"),
    );
    page.push_str("<nav><a href=\"#best\">Best</a><a href=\"#frontier\">Frontier</a><a href=\"#variants-table\">Variants</a></nav>\n");
    let _ = writeln!(
        page,
        "<h2 id=\"best\">Best feasible variant</h2>\n<pre class=\"wrap\">{}</pre>",
        escape(&super::verdict(plan, rows, c))
    );
    frontier(&mut page, figure);
    variants(&mut page, plan, rows, c, links);
    let _ = writeln!(page, "<script>{SORT_SCRIPT}</script>\n</body></html>");
    page
}

fn frontier(page: &mut String, figure: Option<&str>) {
    page.push_str("<h2 id=\"frontier\">Cost against latency</h2>\n");
    let Some(svg) = figure else {
        page.push_str("<p class=\"muted\">No variant measured both a cost and a latency (no Service had traffic).</p>\n");
        return;
    };
    let _ = writeln!(
        page,
        "<figure aria-label=\"the cost–latency frontier\">{}</figure>",
        crate::output::html::svg_body(svg)
    );
}

/// The rows the table lists: all, or for very large sweeps the frontier and the best.
fn listed(rows: &[VariantRow], c: &Conclusion) -> Vec<usize> {
    if rows.len() <= SHOWN_IN_PAGE {
        return (0..rows.len()).collect();
    }
    let mut on = frontier_order(rows, c);
    on.extend(c.best.filter(|b| !c.pareto[*b]));
    on
}

fn variants(page: &mut String, plan: &Plan, rows: &[VariantRow], c: &Conclusion, links: Links) {
    page.push_str("<h2 id=\"variants-table\">Variants</h2>\n<p class=\"muted\">Click a column's header to sort by it (again to reverse).</p>\n");
    let shown = listed(rows, c);
    let errors = rows.iter().any(|r| !r.errors.is_empty());
    page.push_str("<div class=\"scroll\"><table id=\"variants\"><thead><tr>");
    let mut keys: Vec<String> = vec!["variant".into()];
    keys.extend(short_axis_names(plan));
    keys.extend(plan.columns.iter().map(|col| col.label.clone()));
    keys.extend(["SLOs met", "verdict"].map(String::from));
    keys.extend(links.kept_runs.map(|_| "runs".to_string()));
    keys.extend(errors.then(|| "errors".to_string()));
    for k in &keys {
        let k = escape(k);
        let _ = write!(page, "<th data-key=\"{k}\" aria-sort=\"none\">{k}</th>");
    }
    page.push_str("</tr></thead><tbody>\n");
    for &i in &shown {
        row(page, plan, rows, c, i, links, errors);
    }
    page.push_str("</tbody></table></div>\n");
    if shown.len() < rows.len() {
        let _ = writeln!(
            page,
            "<p class=\"muted\">The frontier and the best of {} variants; all are in sweep.csv.</p>",
            rows.len()
        );
    }
}

fn row(
    page: &mut String,
    plan: &Plan,
    rows: &[VariantRow],
    c: &Conclusion,
    i: usize,
    links: Links,
    errors: bool,
) {
    let r = &rows[i];
    let class = match (c.best == Some(i), c.feasible[i]) {
        (true, _) => "best",
        (false, true) => "feasible",
        (false, false) => "infeasible",
    };
    let _ = write!(
        page,
        "<tr class=\"{class}\" title=\"{}\"><td>{}</td>",
        escape(&r.overrides.join(", ")),
        escape(&r.id)
    );
    for label in step_labels(plan, r.index) {
        let _ = write!(page, "<td>{}</td>", escape(label));
    }
    for s in &r.metrics {
        let v = s.mean.filter(|m| m.is_finite()).map(|m| m.to_string());
        let _ = write!(
            page,
            "<td data-v=\"{}\">{}</td>",
            v.unwrap_or_default(),
            escape(&mean_ci(s))
        );
    }
    let _ = write!(
        page,
        "<td data-v=\"{}\">{:.0} %</td><td>{}</td>",
        r.slo_pass_rate,
        r.slo_pass_rate * 100.0,
        marks(c, i)
    );
    if let Some(file) = links.kept_runs {
        page.push_str("<td>");
        for k in 0..r.seeds.len() {
            let name = kept_run_name(&r.id, k);
            let _ = write!(page, "<a href=\"runs/{name}/{file}\">r{k}</a>");
        }
        page.push_str("</td>");
    }
    if errors {
        let _ = write!(page, "<td>{}</td>", escape(&r.errors.join("; ")));
    }
    page.push_str("</tr>\n");
}
