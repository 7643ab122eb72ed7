//! A sweep's files — `sweep.json` (schema `kubesim.sweep/v1`), `sweep.csv`, `run.json`, the
//! frontier figure (`figure`) and `report.html` ([`page`]) — and its summary table in the
//! terminal. All but `run.json` are a pure function of the sweep and its seeds (no wall-clock
//! values), so they are byte-identical across runs and thread counts; `run.json` holds the
//! wall-clock facts.

pub(crate) mod figure;
pub mod page;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, Table};
use serde::Serialize;

use super::format_number;
use crate::sweep::run::{Conclusion, VariantRow};
use crate::sweep::shard::{SHARD_FILE, ShardFile};
use crate::sweep::stats::Stat;
use crate::sweep::{COST_COLUMN, Plan};

/// Facts about one sweep invocation that are not a function of the sweep.
#[derive(Clone, Debug, Serialize)]
pub struct SweepInfo {
    /// The version of kubesim that ran the sweep.
    pub kubesim_version: &'static str,
    /// The sweep's name (`metadata.name`, else the base scenario's name with `-sweep`).
    pub sweep: String,
    /// The base scenario file's path.
    pub scenario_file: String,
    /// The base seed (variants derive theirs from it).
    pub seed: u64,
    /// The command that ran the sweep (or the merge).
    pub command_line: Vec<String>,
    /// Variants run (by this shard, for a shard).
    pub variants: usize,
    /// Runs of each variant.
    pub replications: u32,
    /// How fast they ran (absent for a merge, which runs nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// How long the variants took to run, in wall-clock seconds (absent for a merge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wall_seconds: Option<f64>,
    /// Runs per wall-clock second: variants × replications / `wall_seconds` (absent for a merge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs_per_second: Option<f64>,
}

#[derive(Serialize)]
struct SweepJson<'a> {
    schema: &'static str,
    kubesim_version: &'static str,
    sweep: &'a str,
    scenario: String,
    base_seed: u64,
    replications: u32,
    axes: Vec<AxisJson<'a>>,
    objective: BTreeMap<&'static str, &'a str>,
    constraints: Vec<&'a str>,
    frontier: Option<FrontierJson<'a>>,
    best: Option<&'a str>,
    columns: Vec<&'a str>,
    variants: Vec<VariantJson<'a>>,
}

#[derive(Serialize)]
struct AxisJson<'a> {
    name: &'a str,
    targets: &'a [String],
}

#[derive(Serialize)]
struct FrontierJson<'a> {
    cost: &'a str,
    latency: &'a str,
    /// On the frontier, by increasing cost.
    variants: Vec<&'a str>,
}

#[derive(Serialize)]
struct VariantJson<'a> {
    id: &'a str,
    /// Per axis, in the order of `axes`.
    values: &'a [String],
    overrides: &'a [String],
    seeds: &'a [u64],
    feasible: bool,
    pareto: bool,
    slo_pass_rate: f64,
    errors: &'a [String],
    metrics: BTreeMap<&'a str, &'a Stat>,
}

/// `sweep.json`: the whole result, pretty-printed with a trailing newline.
pub fn sweep_json(plan: &Plan, rows: &[VariantRow], c: &Conclusion) -> String {
    let labels: Vec<&str> = plan.columns.iter().map(|c| c.label.as_str()).collect();
    let (direction, objective) = plan.objective;
    let doc = SweepJson {
        schema: "kubesim.sweep/v1",
        kubesim_version: env!("CARGO_PKG_VERSION"),
        sweep: &plan.name,
        scenario: plan.spec.scenario.display().to_string(),
        base_seed: plan.base_seed,
        replications: plan.spec.replications,
        axes: (plan.spec.axes.iter())
            .map(|a| AxisJson {
                name: &a.name,
                targets: &a.targets,
            })
            .collect(),
        objective: BTreeMap::from([(direction.word(), labels[objective])]),
        constraints: plan.constraints.iter().map(|s| s.name.as_str()).collect(),
        frontier: plan.frontier.map(|f| FrontierJson {
            cost: labels[COST_COLUMN],
            latency: labels[f],
            variants: frontier_order(rows, c)
                .into_iter()
                .map(|i| rows[i].id.as_str())
                .collect(),
        }),
        best: c.best.map(|i| rows[i].id.as_str()),
        columns: labels.clone(),
        variants: rows
            .iter()
            .enumerate()
            .map(|(i, r)| VariantJson {
                id: &r.id,
                values: &r.values,
                overrides: &r.overrides,
                seeds: &r.seeds,
                feasible: c.feasible[i],
                pareto: c.pareto[i],
                slo_pass_rate: r.slo_pass_rate,
                errors: &r.errors,
                metrics: labels.iter().copied().zip(&r.metrics).collect(),
            })
            .collect(),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("sweeps always serialize");
    s.push('\n');
    s
}

/// The rows on the frontier, by increasing cost (then id).
fn frontier_order(rows: &[VariantRow], c: &Conclusion) -> Vec<usize> {
    let mut on: Vec<usize> = (0..rows.len()).filter(|&i| c.pareto[i]).collect();
    let cost = |i: usize| rows[i].metrics[COST_COLUMN].mean.unwrap_or(f64::INFINITY);
    on.sort_by(|&a, &b| cost(a).total_cmp(&cost(b)).then(a.cmp(&b)));
    on
}

/// `sweep.csv`: one row per variant — its axis values, the mean and 95 % half-width of every
/// column, the pass rate and the verdicts.
pub fn write_csv(path: &Path, plan: &Plan, rows: &[VariantRow], c: &Conclusion) -> io::Result<()> {
    let mut w = csv::Writer::from_path(path).map_err(io::Error::other)?;
    let mut header = vec!["variant".to_string()];
    header.extend(plan.spec.axes.iter().map(|a| a.name.clone()));
    for col in &plan.columns {
        header.push(format!("{}.mean", col.label));
        header.push(format!("{}.ci95", col.label));
    }
    header.extend(
        [
            "slo_pass_rate",
            "feasible",
            "pareto",
            "best",
            "errors",
            "seeds",
        ]
        .map(String::from),
    );
    w.write_record(&header).map_err(io::Error::other)?;
    for (i, r) in rows.iter().enumerate() {
        let mut record = vec![r.id.clone()];
        record.extend(r.values.iter().cloned());
        for s in &r.metrics {
            record.push(s.mean.map(format_number).unwrap_or_default());
            record.push(s.ci95.map(format_number).unwrap_or_default());
        }
        record.push(format_number(r.slo_pass_rate));
        record.push(c.feasible[i].to_string());
        record.push(c.pareto[i].to_string());
        record.push((c.best == Some(i)).to_string());
        record.push(r.errors.join("; "));
        let seeds: Vec<String> = r.seeds.iter().map(u64::to_string).collect();
        record.push(seeds.join(" "));
        w.write_record(&record).map_err(io::Error::other)?;
    }
    w.flush()
}

/// Writes `sweep.json`, `sweep.csv` and `run.json` into `dir`, and unless `page` is `None`
/// the frontier figure and `report.html`.
pub fn write_files(
    dir: &Path,
    sweep: &Swept,
    info: &SweepInfo,
    page: Option<page::Links>,
) -> io::Result<()> {
    let Swept {
        plan,
        rows,
        conclusion: c,
    } = *sweep;
    fs::write(dir.join("sweep.json"), sweep_json(plan, rows, c))?;
    write_csv(&dir.join("sweep.csv"), plan, rows, c)?;
    write_info(dir, info)?;
    let Some(links) = page else {
        return Ok(());
    };
    let svg = figure::svg(plan, rows, c).map_err(io::Error::other)?;
    if let Some(svg) = &svg {
        fs::write(dir.join(figure::FILE), svg)?;
    }
    let html = page::render(plan, rows, c, svg.as_deref(), links);
    fs::write(dir.join("report.html"), html)
}

/// A finished sweep: its plan, a row per variant and the verdicts.
#[derive(Clone, Copy)]
pub struct Swept<'a> {
    /// The sweep as planned: its axes, variants, metric columns, objective and constraints.
    pub plan: &'a Plan,
    /// Each variant's results over its replications.
    pub rows: &'a [VariantRow],
    /// Which rows are feasible and on the frontier, and which is the best.
    pub conclusion: &'a Conclusion,
}

/// Writes a shard's `shard.json` and `run.json` into `dir`.
pub fn write_shard(dir: &Path, shard: &ShardFile, info: &SweepInfo) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(shard).map_err(io::Error::other)?;
    text.push('\n');
    fs::write(dir.join(SHARD_FILE), text)?;
    write_info(dir, info)
}

fn write_info(dir: &Path, info: &SweepInfo) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(info).map_err(io::Error::other)?;
    text.push('\n');
    fs::write(dir.join("run.json"), text)
}

/// Variants shown in the terminal at most; beyond, the frontier and the best.
const SHOWN: usize = 30;
/// Variants listed in report.html at most; beyond, the frontier and the best.
const SHOWN_IN_PAGE: usize = 2000;

/// The terminal summary: a table of the variants (or, for large sweeps, of the frontier and
/// the best), the best feasible variant and how to run it alone.
pub fn render(plan: &Plan, rows: &[VariantRow], c: &Conclusion) -> String {
    let shown: Vec<usize> = match rows.len() <= SHOWN {
        true => (0..rows.len()).collect(),
        false => {
            let mut on = frontier_order(rows, c);
            on.extend(c.best.filter(|b| !c.pareto[*b]));
            on
        }
    };
    let mut out = table(plan, rows, c, &shown);
    if shown.len() < rows.len() {
        out.push_str(&format!(
            "\n(the frontier and the best of {} variants; all are in sweep.csv)\n",
            rows.len()
        ));
    }
    out.push('\n');
    out.push_str(&verdict(plan, rows, c));
    out
}

fn table(plan: &Plan, rows: &[VariantRow], c: &Conclusion, shown: &[usize]) -> String {
    let (direction, objective) = plan.objective;
    let mut metric_columns = vec![objective];
    metric_columns.extend(plan.frontier.filter(|f| *f != objective));
    if objective != COST_COLUMN {
        metric_columns.push(COST_COLUMN);
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["variant".to_string()];
    header.extend(short_axis_names(plan));
    for (k, &col) in metric_columns.iter().enumerate() {
        let label = &plan.columns[col].label;
        header.push(match k {
            0 => format!("{label} ({})", direction.word()),
            _ => label.clone(),
        });
    }
    header.extend(["SLOs met", "verdict"].map(String::from));
    t.set_header(header);
    for &i in shown {
        let r = &rows[i];
        let mut cells = vec![Cell::new(&r.id)];
        cells.extend(step_labels(plan, r.index).into_iter().map(Cell::new));
        for &col in &metric_columns {
            cells.push(Cell::new(mean_ci(&r.metrics[col])).set_alignment(CellAlignment::Right));
        }
        cells.push(
            Cell::new(format!("{:.0}%", r.slo_pass_rate * 100.0))
                .set_alignment(CellAlignment::Right),
        );
        cells.push(Cell::new(marks(c, i)));
        t.add_row(cells);
    }
    t.to_string()
}

/// Per axis, what the table shows of a variant's step: its value, or for targets varied
/// together the first target's (e.g. the instance type of a node-type axis).
fn step_labels(plan: &Plan, variant: usize) -> Vec<&str> {
    let steps = &plan.variants[variant].steps;
    (plan.spec.axes.iter().zip(steps))
        .map(|(axis, &k)| axis.steps[k][0].text.as_str())
        .collect()
}

/// Axis names for a narrow table: the last key of each target (`minReplicas`), unless that
/// would make two axes look the same or the axis was named.
fn short_axis_names(plan: &Plan) -> Vec<String> {
    let short = |name: &str| {
        let field = name.rsplit([':', '.']).next().unwrap_or(name);
        field.split('[').next().unwrap_or(field).to_string()
    };
    let names: Vec<String> = (plan.spec.axes.iter())
        .map(|a| match a.name == a.targets.join(" & ") {
            true => a
                .targets
                .iter()
                .map(|t| short(t))
                .collect::<Vec<_>>()
                .join(" & "),
            false => a.name.clone(),
        })
        .collect();
    let unique = names
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        == names.len();
    match unique {
        true => names,
        false => plan.spec.axes.iter().map(|a| a.name.clone()).collect(),
    }
}

fn marks(c: &Conclusion, i: usize) -> String {
    let mut m = Vec::new();
    if c.best == Some(i) {
        m.push("best");
    }
    m.push(if c.feasible[i] {
        "feasible"
    } else {
        "infeasible"
    });
    if c.pareto[i] {
        m.push("frontier");
    }
    m.join(", ")
}

/// `12.3 ± 0.4`, `12.3` with one replication, `-` when nothing was measured.
fn mean_ci(s: &Stat) -> String {
    match (s.mean, s.ci95) {
        (Some(m), Some(ci)) => format!("{} ± {}", short(m), short(ci)),
        (Some(m), None) => short(m),
        _ => "-".into(),
    }
}

/// Four significant digits (what a table can show; the files keep every digit).
fn short(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format_number(v);
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
    format!("{v:.digits$}")
}

fn verdict(plan: &Plan, rows: &[VariantRow], c: &Conclusion) -> String {
    let constraints: Vec<&str> = plan.constraints.iter().map(|s| s.name.as_str()).collect();
    let subject = match constraints.is_empty() {
        true => String::new(),
        false => format!(" subject to {}", constraints.join(", ")),
    };
    let (direction, objective) = plan.objective;
    let goal = format!(
        "{} {}{subject}",
        direction.word(),
        plan.columns[objective].label
    );
    let Some(b) = c.best else {
        return format!("no variant is feasible: {goal}\n");
    };
    let r = &rows[b];
    let mut command = format!(
        "kubesim run {}",
        shell_word(&plan.spec.scenario.display().to_string())
    );
    command.push_str(&format!(" --seed {}", r.seeds[0]));
    for o in &r.overrides {
        command.push_str(&format!(" --set {}", shell_word(o)));
    }
    format!(
        "best feasible variant ({goal}): {} — {}\n  run it alone (replication 0): {command}\n",
        r.id,
        r.overrides.join(", ")
    )
}

/// A word as a POSIX shell reads it back: single-quoted unless it is plainly safe.
fn shell_word(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    match safe {
        true => s.to_string(),
        false => format!("'{}'", s.replace('\'', r"'\''")),
    }
}
