//! The VPA figure (`plot-vpa`): per VPA container, its recommendation over the run — target,
//! lower and upper bound as steps (the recommender's changes from `vpa.jsonl`) — beside the
//! manifest's request (from `report.json`), one panel for CPU and one for memory.

use std::fs;
use std::path::Path;

use serde_json::Value;

use super::figures::{BLUE, Figure, GRAY, GREEN, Line, MAX_PANELS, ORANGE, Panel};

/// One VPA container's recommendations over time.
#[derive(Clone, Debug, Default)]
pub struct VpaSeries {
    /// `VPA/container`.
    pub name: String,
    /// The manifest's cpu request (millicores) and memory request (bytes), if any.
    pub requests: (Option<f64>, Option<f64>),
    /// Each change: (seconds, [cpu target, lower, upper, memory target, lower, upper]).
    pub changes: Vec<(f64, [Option<f64>; 6])>,
}

/// The VPA containers of the run in `dir` (none without `vpa.jsonl`), in `report.json`'s order.
pub fn read(dir: &Path, report: &Value) -> Result<Vec<VpaSeries>, String> {
    let mut all: Vec<VpaSeries> = Vec::new();
    for v in report["vpas"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        for c in v["containers"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            all.push(VpaSeries {
                name: format!("{}/{}", text(v, "name"), text(c, "container")),
                requests: (
                    c["requests"]["cpu_millis"].as_f64(),
                    c["requests"]["memory_bytes"].as_f64(),
                ),
                changes: Vec::new(),
            });
        }
    }
    let path = dir.join("vpa.jsonl");
    let Ok(lines) = fs::read_to_string(&path) else {
        return Ok(all);
    };
    for (i, line) in lines.lines().enumerate() {
        let record: Value =
            serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
        let t = record["t_seconds"].as_f64().unwrap_or_default();
        for c in record["containers"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let name = format!("{}/{}", text(&record, "vpa"), text(c, "container"));
            if let Some(series) = all.iter_mut().find(|s| s.name == name) {
                series.changes.push((t, amounts(c)));
            }
        }
    }
    Ok(all)
}

fn text<'v>(v: &'v Value, key: &str) -> &'v str {
    v[key].as_str().unwrap_or_default()
}

/// [cpu target, lower, upper, memory target, lower, upper] of one recorded container.
fn amounts(c: &Value) -> [Option<f64>; 6] {
    let of = |bound: &str, resource: &str| c[bound][resource].as_f64();
    [
        of("target", "cpu_millis"),
        of("lowerBound", "cpu_millis"),
        of("upperBound", "cpu_millis"),
        of("target", "memory_bytes"),
        of("lowerBound", "memory_bytes"),
        of("upperBound", "memory_bytes"),
    ]
}

/// Two panels per VPA container (CPU, memory), the first [`MAX_PANELS`].
pub fn figure(series: &[VpaSeries], duration: f64) -> Figure {
    let mut panels = Vec::new();
    for s in series.iter().filter(|s| !s.changes.is_empty()) {
        for (resource, first, request, unit, scale) in [
            ("CPU", 0, s.requests.0, "millicores", 1.0),
            ("memory", 3, s.requests.1, "MiB", 1.0 / f64::from(1 << 20)),
        ] {
            let mut lines: Vec<Line> = [
                ("target", BLUE),
                ("lower bound", GREEN),
                ("upper bound", ORANGE),
            ]
            .into_iter()
            .enumerate()
            .filter_map(|(k, (label, color))| {
                let points = steps(&s.changes, first + k, duration, scale)?;
                Some(Line {
                    label: label.into(),
                    points,
                    color,
                    dashed: false,
                    secondary: false,
                })
            })
            .collect();
            if let Some(r) = request {
                lines.push(Line {
                    label: "manifest request".into(),
                    points: vec![(0.0, r * scale), (duration, r * scale)],
                    color: GRAY,
                    dashed: true,
                    secondary: false,
                });
            }
            if !lines.is_empty() {
                panels.push(Panel {
                    title: format!("VPA {}: {resource}", s.name),
                    y_label: unit.into(),
                    y2_label: None,
                    lines,
                });
            }
        }
    }
    let total = panels.len();
    panels.truncate(MAX_PANELS);
    let title = "VPA recommendations over time";
    Figure {
        stem: "plot-vpa",
        title: if total > panels.len() {
            format!("{title} ({} of {total} panels)", panels.len())
        } else {
            title.into()
        },
        panels,
    }
}

/// Value `k` of each change, held until the next change (and to the end of the run), scaled.
fn steps(
    changes: &[(f64, [Option<f64>; 6])],
    k: usize,
    end: f64,
    scale: f64,
) -> Option<Vec<(f64, f64)>> {
    let mut points: Vec<(f64, f64)> = Vec::new();
    for &(t, values) in changes {
        let v = values[k]? * scale;
        if let Some(&(_, previous)) = points.last() {
            points.push((t, previous));
        }
        points.push((t, v));
    }
    if let Some(&(_, last)) = points.last() {
        points.push((end, last));
    }
    Some(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recommendations_are_steps_held_to_the_end_beside_the_request() {
        let series = VpaSeries {
            name: "web/web".into(),
            requests: (Some(2000.0), Some(f64::from(2 << 20))),
            changes: vec![
                (
                    60.0,
                    [
                        Some(500.0),
                        Some(100.0),
                        Some(4000.0),
                        Some(f64::from(1 << 20)),
                        None,
                        None,
                    ],
                ),
                (
                    120.0,
                    [
                        Some(400.0),
                        Some(200.0),
                        Some(3000.0),
                        Some(f64::from(1 << 20)),
                        None,
                        None,
                    ],
                ),
            ],
        };
        let f = figure(&[series], 600.0);
        assert_eq!(f.stem, "plot-vpa");
        assert_eq!(f.panels.len(), 2);
        let cpu = &f.panels[0];
        assert_eq!(
            cpu.lines[0].points,
            vec![
                (60.0, 500.0),
                (120.0, 500.0),
                (120.0, 400.0),
                (600.0, 400.0)
            ]
        );
        assert_eq!(cpu.lines.last().unwrap().label, "manifest request");
        // Memory has no bounds recorded: target and request only, in MiB.
        let memory = &f.panels[1];
        assert_eq!(memory.lines.len(), 2);
        assert_eq!(memory.lines[1].points[0], (0.0, 2.0));
    }

    #[test]
    fn a_run_without_vpas_has_no_panel() {
        assert!(figure(&[], 60.0).panels.is_empty());
    }
}
