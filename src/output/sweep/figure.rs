//! The sweep's frontier figure (`plot-frontier.svg`, also inside the sweep's `report.html`):
//! every variant's mean cost against its mean frontier latency with their 95 % intervals,
//! feasible and infeasible variants told apart, the Pareto frontier joined by a line and
//! labelled, and the best feasible variant ringed.

use std::error::Error;

use plotters::prelude::*;

use super::frontier_order;
use crate::output::plot::register_font;
use crate::scenario::SloMetric;
use crate::sweep::run::{Conclusion, VariantRow};
use crate::sweep::stats::Stat;
use crate::sweep::{COST_COLUMN, Plan};

/// The figure's file in the sweep directory.
pub const FILE: &str = "plot-frontier.svg";

const SIZE: (u32, u32) = (960, 560);
const FEASIBLE: RGBColor = RGBColor(31, 119, 180);
const INFEASIBLE: RGBColor = RGBColor(150, 150, 150);
const FRONTIER: RGBColor = RGBColor(255, 127, 14);
const BEST: RGBColor = RGBColor(44, 160, 44);

/// A variant as drawn: its mean and 95 % half-width on both axes.
struct Point<'a> {
    row: usize,
    id: &'a str,
    cost: (f64, f64),
    latency: (f64, f64),
}

/// The figure as an SVG document; `None` when the sweep has no latency to draw against cost
/// (no Service had traffic) or no variant measured both.
pub fn svg(plan: &Plan, rows: &[VariantRow], c: &Conclusion) -> Result<Option<String>, String> {
    let Some(latency) = plan.frontier else {
        return Ok(None);
    };
    let points = points(rows, latency);
    if points.is_empty() {
        return Ok(None);
    }
    register_font()?;
    let mut svg = String::new();
    draw(&mut svg, plan, rows, c, &points, latency).map_err(|e| e.to_string())?;
    Ok(Some(svg))
}

fn points(rows: &[VariantRow], latency: usize) -> Vec<Point<'_>> {
    let both = |s: &Stat| s.mean.map(|m| (m, s.ci95.unwrap_or(0.0)));
    rows.iter()
        .enumerate()
        .filter_map(|(i, r)| {
            Some(Point {
                row: i,
                id: &r.id,
                cost: both(&r.metrics[COST_COLUMN])?,
                latency: both(&r.metrics[latency])?,
            })
        })
        .filter(|p| p.cost.0.is_finite() && p.latency.0.is_finite())
        .collect()
}

/// An axis range holding every mean ± half-width, with a margin.
fn range(values: impl Iterator<Item = (f64, f64)>) -> std::ops::Range<f64> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (m, ci)| {
        (lo.min(m - ci), hi.max(m + ci))
    });
    let pad = match hi - lo {
        span if span > 0.0 => span * 0.08,
        _ => (hi.abs() * 0.05).max(1e-3),
    };
    (lo - pad).max(0.0)..hi + pad
}

fn draw(
    svg: &mut String,
    plan: &Plan,
    rows: &[VariantRow],
    c: &Conclusion,
    points: &[Point],
    latency: usize,
) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let y_label = match plan.columns[latency].metric {
        SloMetric::Latency(_) => format!("{} (ms, mean ± 95 %)", plan.columns[latency].label),
        _ => plan.columns[latency].label.clone(),
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Cost against latency — sweep {}", plan.name),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(
            range(points.iter().map(|p| p.cost)),
            range(points.iter().map(|p| p.latency)),
        )?;
    chart
        .configure_mesh()
        .x_desc("cost.total (USD, mean ± 95 %)")
        .y_desc(y_label)
        .light_line_style(RGBColor(240, 240, 240))
        .label_style(("sans-serif", 12))
        .draw()?;
    for (feasible, color, label) in [
        (false, INFEASIBLE, "infeasible (a constraint fails)"),
        (true, FEASIBLE, "feasible"),
    ] {
        let these: Vec<&Point> = points
            .iter()
            .filter(|p| c.feasible[p.row] == feasible)
            .collect();
        if these.is_empty() {
            continue;
        }
        let style = color.mix(0.5).stroke_width(1);
        chart.draw_series(these.iter().map(|p| {
            let ((x, _), (y, dy)) = (p.cost, p.latency);
            ErrorBar::new_vertical(x, y - dy, y, y + dy, style, 6)
        }))?;
        chart.draw_series(these.iter().map(|p| {
            let ((x, dx), (y, _)) = (p.cost, p.latency);
            ErrorBar::new_horizontal(y, x - dx, x, x + dx, style, 6)
        }))?;
        chart
            .draw_series(
                these
                    .iter()
                    .map(|p| Circle::new((p.cost.0, p.latency.0), 4, color.filled())),
            )?
            .label(label)
            .legend(move |(x, y)| Circle::new((x + 9, y), 4, color.filled()));
    }
    draw_frontier(&mut chart, rows, c, points)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 12))
        .draw()?;
    root.present()?;
    Ok(())
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// The frontier as a line by increasing cost with each point's id, and a ring on the best.
fn draw_frontier(
    chart: &mut Chart,
    rows: &[VariantRow],
    c: &Conclusion,
    points: &[Point],
) -> Result<(), Box<dyn Error>> {
    let at = |row: usize| points.iter().find(|p| p.row == row);
    let on: Vec<&Point> = frontier_order(rows, c).into_iter().filter_map(at).collect();
    if !on.is_empty() {
        chart
            .draw_series(LineSeries::new(
                on.iter().map(|p| (p.cost.0, p.latency.0)),
                FRONTIER.stroke_width(2),
            ))?
            .label("Pareto frontier")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], FRONTIER.stroke_width(2)));
        let font = ("sans-serif", 12).into_font().color(&BLACK);
        chart.draw_series(on.iter().map(|p| {
            EmptyElement::at((p.cost.0, p.latency.0))
                + Text::new(p.id.to_string(), (6, -16), font.clone())
        }))?;
    }
    if let Some(best) = c.best.and_then(at) {
        chart
            .draw_series(std::iter::once(Circle::new(
                (best.cost.0, best.latency.0),
                9,
                BEST.stroke_width(3),
            )))?
            .label(format!("best feasible ({})", best.id))
            .legend(|(x, y)| Circle::new((x + 9, y), 5, BEST.stroke_width(2)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_hold_every_interval_with_a_margin() {
        // 10 ± 2 and 20 ± 1 span 8..21; 8 % of 13 = 1.04 on each side.
        let r = range([(10.0, 2.0), (20.0, 1.0)].into_iter());
        assert!(
            (r.start - 6.96).abs() < 1e-9 && (r.end - 22.04).abs() < 1e-9,
            "{r:?}"
        );
        // A single point gets 5 % of its value, and an axis never goes below zero.
        let r = range([(100.0, 0.0)].into_iter());
        assert!(
            (r.start - 95.0).abs() < 1e-9 && (r.end - 105.0).abs() < 1e-9,
            "{r:?}"
        );
        assert_eq!(range([(0.5, 2.0)].into_iter()).start, 0.0);
    }
}
