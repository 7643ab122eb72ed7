//! `kubesim run --openmetrics FILE`: the options, their checks before the run, and the export
//! gathered during it and written after it.

use std::io;
use std::path::{Path, PathBuf};

use kubesim::metrics::export::ExportSample;
use kubesim::output::openmetrics::{OpenMetricsWriter, store::DEFAULT_MEMORY_VALUES};
use kubesim::output::run_dir;
use kubesim::scenario::Scenario;
use kubesim::sim::SimDuration;

/// The export's options on `kubesim run`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportOptions {
    /// Also write the run as Prometheus data: the series cAdvisor, kube-state-metrics, Istio's
    /// sidecars and vLLM would have exposed (container_cpu_usage_seconds_total,
    /// kube_deployment_status_replicas, kube_pod_status_phase,
    /// kube_horizontalpodautoscaler_status_desired_replicas, istio_requests_total,
    /// istio_request_duration_milliseconds, vllm:num_requests_waiting …), timestamped from
    /// spec.startTime, in the OpenMetrics text format. Load it with `promtool tsdb
    /// create-blocks-from openmetrics FILE DIR` and query it from Prometheus or Grafana.
    /// kubesim replaces only a file it wrote itself.
    #[arg(long, value_name = "FILE")]
    pub openmetrics: Option<PathBuf>,
    /// The time between the export's points, a whole multiple of spec.sampleInterval
    /// [default: spec.sampleInterval]. Longer runs and larger clusters make large files: a
    /// longer interval (60s) keeps them small.
    #[arg(long, value_name = "DURATION", requires = "openmetrics")]
    pub openmetrics_interval: Option<String>,
}

/// An export being gathered for one run.
pub struct Export {
    file: PathBuf,
    pub interval: SimDuration,
    writer: OpenMetricsWriter,
    /// The first error moving points to the scratch file (the run goes on; the file is not
    /// written).
    failed: Option<io::Error>,
}

impl ExportOptions {
    /// The export the options ask for (`None`: none), or why it cannot be made — checked
    /// before the run: the interval, and a file that kubesim may write outside the run
    /// directory `out`.
    pub fn prepare(&self, scenario: &Scenario, out: &Path) -> Result<Option<Export>, String> {
        let Some(file) = &self.openmetrics else {
            return Ok(None);
        };
        let sample = scenario.sample_interval;
        let interval = match &self.openmetrics_interval {
            None => sample,
            Some(text) => {
                let d = kubesim::scenario::units::parse_duration(text)
                    .map_err(|e| format!("--openmetrics-interval: {e}"))?;
                if d.is_zero() || !d.as_micros().is_multiple_of(sample.as_micros().max(1)) {
                    return Err(format!(
                        "--openmetrics-interval: {text} is not a whole multiple of the scenario's sampleInterval ({sample}): the export takes its points at the samples"
                    ));
                }
                d
            }
        };
        if inside(file, out) {
            return Err(format!(
                "--openmetrics {}: is inside the run directory {}, which kubesim replaces whole; write it beside the run directory",
                file.display(),
                out.display()
            ));
        }
        run_dir::check_openmetrics_file(file).map_err(|e| format!("--openmetrics {e}"))?;
        Ok(Some(Export {
            file: file.clone(),
            interval,
            writer: OpenMetricsWriter::new(
                &scenario.name,
                scenario.seed,
                scenario.start_time,
                DEFAULT_MEMORY_VALUES,
            ),
            failed: None,
        }))
    }
}

/// Whether `file` is (lexically or once resolved) inside `dir`.
fn inside(file: &Path, dir: &Path) -> bool {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let parent_resolved = |p: &Path| {
        let parent = p.parent().filter(|d| !d.as_os_str().is_empty());
        let parent = parent.map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        parent.canonicalize().ok()
    };
    absolute(file).starts_with(absolute(dir))
        || dir
            .canonicalize()
            .is_ok_and(|d| parent_resolved(file).is_some_and(|p| p.starts_with(d)))
}

impl Export {
    /// `timeseries.csv`'s columns.
    pub fn set_columns(&mut self, columns: &[String]) {
        self.writer.set_columns(columns);
    }

    /// Adds one export instant.
    pub fn add(&mut self, sample: &ExportSample) {
        if self.failed.is_none()
            && let Err(e) = self.writer.add(sample)
        {
            self.failed = Some(e);
        }
    }

    /// Writes the file (through a temporary sibling renamed into place); what it says of
    /// itself for the status line.
    pub fn finish(self) -> anyhow::Result<String> {
        let file = self.file.display().to_string();
        if let Some(e) = self.failed {
            anyhow::bail!("--openmetrics {file}: the export's scratch file failed: {e}");
        }
        let instants = self.writer.instants();
        let writer = self.writer;
        run_dir::write_openmetrics_file(&self.file, |mut out| writer.write(&mut out))
            .map_err(|e| anyhow::anyhow!("--openmetrics {e}: the file was not written"))?;
        Ok(format!(
            "{file} ({instants} instants, every {})",
            self.interval
        ))
    }
}
