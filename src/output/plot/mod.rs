//! Plots of a run (`plot-*.svg`, or `.png` on request), drawn with plotters from the run
//! directory's own files: load and replicas per Deployment, latency per Service with its SLO
//! lines, availability with failures by reason, CPU utilization against the HPA target, nodes
//! per pool with the cost so far, and pending pods. Node failures, spot interruptions, rollouts
//! and scripted actions (`cluster_events.jsonl`) are marked on every time axis.
//!
//! The text is set in a font compiled into the binary (a Latin subset of DejaVu Sans,
//! `assets/fonts/`), so plots need no fonts on the machine and come out byte-identical
//! everywhere.

pub(crate) mod data;
pub(crate) mod figures;
pub(crate) mod vpa;

use std::error::Error;
use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::metrics::cluster_events::MarkerKind;
use data::RunData;
use figures::{Figure, Panel};

/// The embedded font (see `assets/fonts/LICENSE`).
static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-subset.ttf");

const WIDTH: u32 = 960;
const PANEL_HEIGHT: u32 = 250;
const TITLE_HEIGHT: u32 = 36;
/// Points per line at most: longer series keep each bucket's minimum and maximum.
const MAX_POINTS: usize = 1200;

/// The image format of the plots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// SVG documents (`plot-*.svg`).
    Svg,
    /// PNG bitmaps (`plot-*.png`), 960 pixels wide.
    Png,
}

impl Format {
    pub(crate) fn extension(self) -> &'static str {
        match self {
            Format::Svg => "svg",
            Format::Png => "png",
        }
    }
}

/// Every file name a plot can have, in both formats (for the run directory's list of files
/// kubesim writes).
pub fn file_names() -> impl Iterator<Item = String> {
    figures::STEMS
        .iter()
        .flat_map(|stem| [format!("{stem}.svg"), format!("{stem}.png")])
}

/// A figure drawn as SVG, for the files and for `report.html`.
pub struct Drawing {
    /// The figure's title (drawn above it, and its label in report.html).
    pub title: String,
    /// The file it was written to.
    pub file: String,
    /// The figure as an SVG document, whatever the files' format (report.html embeds it).
    pub svg: String,
}

/// Draws every figure the run in `dir` has data for and writes each into `dir` in `format`.
pub fn write_plots(dir: &Path, format: Format) -> Result<Vec<Drawing>, String> {
    read_and_write(dir, dir, format)
}

/// Draws every figure the run in `from` has data for into `dir` in `format`.
pub fn read_and_write(from: &Path, dir: &Path, format: Format) -> Result<Vec<Drawing>, String> {
    let run = RunData::read(from)?;
    let mut drawings = Vec::new();
    for figure in figures::figures(&run) {
        let file = format!("{}.{}", figure.stem, format.extension());
        let path = dir.join(&file);
        let at = |e: String| format!("{}: {e}", path.display());
        let svg = svg(&figure, &run).map_err(at)?;
        match format {
            Format::Svg => std::fs::write(&path, &svg).map_err(|e| at(e.to_string()))?,
            Format::Png => png(&figure, &run, &path).map_err(at)?,
        }
        drawings.push(Drawing {
            title: figure.title,
            file,
            svg,
        });
    }
    Ok(drawings)
}

fn size(figure: &Figure) -> (u32, u32) {
    (
        WIDTH,
        TITLE_HEIGHT + PANEL_HEIGHT * figure.panels.len() as u32,
    )
}

/// One figure as an SVG document.
pub fn svg(figure: &Figure, run: &RunData) -> Result<String, String> {
    register_font()?;
    let mut svg = String::new();
    draw(
        SVGBackend::with_string(&mut svg, size(figure)).into_drawing_area(),
        figure,
        run,
    )
    .map_err(|e| e.to_string())?;
    Ok(svg)
}

/// One figure as a PNG file.
pub fn png(figure: &Figure, run: &RunData, path: &Path) -> Result<(), String> {
    register_font()?;
    let area = BitMapBackend::new(path, size(figure)).into_drawing_area();
    draw(area, figure, run).map_err(|e| e.to_string())
}

pub(crate) fn register_font() -> Result<(), String> {
    static REGISTER: Once = Once::new();
    let mut result = Ok(());
    REGISTER.call_once(|| {
        result = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
            .map_err(|_| "the embedded font could not be read".to_string());
    });
    result
}

type Drawn = Result<(), Box<dyn Error>>;

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, figure: &Figure, run: &RunData) -> Drawn
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let (title, body) = root.split_vertically(TITLE_HEIGHT);
    let heading = format!("{} — {}", figure.title, run.scenario);
    title.draw_text(
        &heading,
        &("sans-serif", 18).into_font().color(&BLACK),
        (12, 10),
    )?;
    let areas = body.split_evenly((figure.panels.len(), 1));
    for (area, panel) in areas.iter().zip(&figure.panels) {
        draw_panel(area, panel, run)?;
    }
    root.present()?;
    Ok(())
}

/// The time axis' unit: minutes for runs under three hours, hours above.
fn time_unit(duration_seconds: f64) -> (f64, &'static str) {
    if duration_seconds < 3.0 * 3600.0 {
        (60.0, "simulated time (min)")
    } else {
        (3600.0, "simulated time (h)")
    }
}

/// The top of an axis for `lines`: 10 % above the largest value (1 when all are 0).
fn axis_top<'a>(lines: impl Iterator<Item = &'a figures::Line>) -> f64 {
    let max = lines
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    if max > 0.0 { max * 1.1 } else { 1.0 }
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    run: &RunData,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let (unit, x_label) = time_unit(run.duration_seconds);
    let x_max = (run.duration_seconds / unit).max(f64::MIN_POSITIVE);
    let y_max = axis_top(panel.lines.iter().filter(|l| !l.secondary));
    let y2_max = axis_top(panel.lines.iter().filter(|l| l.secondary));
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 14))
        .margin(6)
        .x_label_area_size(34)
        .y_label_area_size(58)
        .right_y_label_area_size(if panel.y2_label.is_some() { 58 } else { 0 })
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)?
        .set_secondary_coord(0.0..x_max, 0.0..y2_max);
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(&panel.y_label)
        .light_line_style(RGBColor(240, 240, 240))
        .label_style(("sans-serif", 12))
        .draw()?;
    if let Some(label) = &panel.y2_label {
        chart
            .configure_secondary_axes()
            .y_desc(label)
            .label_style(("sans-serif", 12))
            .draw()?;
    }
    draw_markers(&mut chart, run, unit, y_max)?;
    for line in &panel.lines {
        let points = thin(&line.points, unit);
        let style = line.color.stroke_width(2);
        let legend_color = line.color;
        let legend = move |(x, y): (i32, i32)| {
            PathElement::new(vec![(x, y), (x + 18, y)], legend_color.stroke_width(2))
        };
        if line.secondary {
            chart
                .draw_secondary_series(LineSeries::new(points, style))?
                .label(&line.label)
                .legend(legend);
        } else if line.dashed {
            chart
                .draw_series(DashedLineSeries::new(points, 8, 5, style))?
                .label(&line.label)
                .legend(legend);
        } else {
            chart
                .draw_series(LineSeries::new(points, style))?
                .label(&line.label)
                .legend(legend);
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 12))
        .draw()?;
    Ok(())
}

type Chart<'a, DB> = plotters::chart::DualCoordChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Vertical lines at the cluster events, one colour per kind, with a legend entry per kind that
/// happened. Events closer than a pixel apart are drawn once.
fn draw_markers<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    run: &RunData,
    unit: f64,
    y_max: f64,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let kinds = [
        (MarkerKind::Failure, "node failure", RGBColor(214, 39, 40)),
        (
            MarkerKind::Spot,
            "spot interruption",
            RGBColor(255, 127, 14),
        ),
        (MarkerKind::Rollout, "rollout", RGBColor(23, 190, 207)),
        (
            MarkerKind::Scripted,
            "scripted action",
            RGBColor(127, 127, 127),
        ),
    ];
    let pixel = run.duration_seconds / f64::from(WIDTH);
    for (kind, label, color) in kinds {
        let mut times: Vec<f64> = run
            .markers
            .iter()
            .filter(|m| m.kind == kind)
            .map(|m| m.t_seconds)
            .collect();
        times.dedup_by(|b, a| (*b - *a).abs() < pixel);
        if times.is_empty() {
            continue;
        }
        let style = color.mix(0.55).stroke_width(1);
        chart
            .draw_series(
                times
                    .iter()
                    .map(|t| PathElement::new(vec![(t / unit, 0.0), (t / unit, y_max)], style)),
            )?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x + 9, y - 6), (x + 9, y + 6)], color.stroke_width(2))
            });
    }
    Ok(())
}

/// The points in axis units, at most [`MAX_POINTS`]: a longer series keeps, per bucket, its
/// lowest and highest point in time order, so spikes stay visible.
fn thin(points: &[(f64, f64)], unit: f64) -> Vec<(f64, f64)> {
    let scaled = points.iter().map(|&(t, v)| (t / unit, v));
    if points.len() <= MAX_POINTS {
        return scaled.collect();
    }
    let per_bucket = points.len().div_ceil(MAX_POINTS / 2);
    let scaled: Vec<(f64, f64)> = scaled.collect();
    let mut out = Vec::with_capacity(MAX_POINTS + 2);
    for bucket in scaled.chunks(per_bucket) {
        let lowest = bucket
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("chunks are not empty");
        let highest = bucket
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("chunks are not empty");
        let (first, second) = if lowest.0 <= highest.0 {
            (lowest, highest)
        } else {
            (highest, lowest)
        };
        out.push(*first);
        if second != first {
            out.push(*second);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_extremes_of_each_bucket() {
        // 10 000 points with one spike: at most MAX_POINTS remain, and the spike is among them.
        let mut points: Vec<(f64, f64)> = (0..10_000).map(|i| (f64::from(i), 1.0)).collect();
        points[4_321].1 = 50.0;
        let thinned = thin(&points, 1.0);
        assert!(thinned.len() <= MAX_POINTS + 2, "{}", thinned.len());
        assert!(thinned.contains(&(4_321.0, 50.0)));
        assert!(thinned.windows(2).all(|w| w[0].0 < w[1].0), "in time order");
    }

    #[test]
    fn short_series_are_kept_whole_in_axis_units() {
        let points = [(0.0, 1.0), (3600.0, 2.0)];
        assert_eq!(thin(&points, 3600.0), vec![(0.0, 1.0), (1.0, 2.0)]);
    }
}
