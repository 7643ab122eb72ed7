//! What a run directory shows besides its data — the plots, `report.html` and `trace.json` —
//! drawn from the files already written into it. One path for `kubesim run` and for the runs a
//! sweep keeps, so a kept run's directory is what `kubesim run` would have written.

use std::path::Path;

use super::explain::hpa::Narrator;
use super::{html, plot, timeline};
use crate::metrics::cluster_events::ClusterEvent;
use crate::metrics::pod_events::PodEvent;
use crate::metrics::report::Report;

/// HPA decisions told in report.html at most (`kubesim explain --all` tells every one).
pub const REPORT_SENTENCES: usize = 400;
/// Pods listed in report.html's table of the longest waits.
const REPORT_PENDING_PODS: usize = 20;

/// What to draw.
#[derive(Clone, Copy, Debug)]
pub struct Rendering {
    /// The plots' format, `None` for neither plots nor report.html.
    pub plots: Option<plot::Format>,
    /// Whether to write `trace.json` (`--no-trace` turns it off).
    pub trace: bool,
}

/// What report.html tells (besides the plots, which are drawn from the run's files).
pub struct Pages<'a> {
    /// The run's report: the SLO results and the Service, Deployment and node-pool tables.
    pub report: &'a Report,
    /// The run's pod events, for the table of the pods that waited longest for a node.
    pub pod_events: &'a [PodEvent],
    /// The run's cluster events (`cluster_events.jsonl`), listed on the page.
    pub cluster_events: &'a [ClusterEvent],
    /// The Cluster Autoscaler's decisions: why nodes stayed.
    pub autoscaler_events: &'a [crate::controllers::autoscaler::AutoscalerEvent],
    /// The scenario as it ran (`scenario.resolved.yaml`), shown on the page.
    pub resolved_yaml: &'a str,
    /// The HPA decisions as sentences, told as the run made them.
    pub narrator: &'a Narrator,
    /// The run's end, in simulated seconds (where the wait of a pod still pending ends).
    pub end_seconds: f64,
}

/// Draws what `rendering` asks for into `dir`, where the run's files were written.
pub fn render(dir: &Path, rendering: Rendering, pages: &Pages) -> Result<(), String> {
    if let Some(format) = rendering.plots {
        report(dir, format, pages)?;
    }
    if rendering.trace {
        timeline::write_trace(dir, dir)?;
    }
    Ok(())
}

/// The plots, then report.html around them.
fn report(dir: &Path, format: plot::Format, pages: &Pages) -> Result<(), String> {
    let drawings = plot::write_plots(dir, format)?;
    let plots: Vec<(String, String)> = drawings.into_iter().map(|d| (d.title, d.svg)).collect();
    let pending = super::explain::pod::pending_table(
        pages.pod_events,
        pages.end_seconds,
        REPORT_PENDING_PODS,
    );
    let staying = super::explain::node::staying(pages.autoscaler_events);
    let watch = super::watch::section(
        dir,
        pages.pod_events,
        pages.cluster_events,
        pages.end_seconds,
    )?;
    let extras = html::Extras {
        plots: &plots,
        staying: &staying,
        hpa_sentences: &pages.narrator.sentences,
        hpa_untold: pages.narrator.untold,
        pending: &pending,
        cluster_events: pages.cluster_events,
        resolved_yaml: pages.resolved_yaml,
        watch: &watch,
    };
    let page = html::render(pages.report, &extras);
    let path = dir.join("report.html");
    std::fs::write(&path, page).map_err(|e| format!("writing {}: {e}", path.display()))
}
