//! `kubesim run --openmetrics FILE`: the run as Prometheus data. The series a team's Prometheus
//! would have scraped from cAdvisor, kube-state-metrics, Istio's sidecars and vLLM — under
//! their names and labels — timestamped from the scenario's `spec.startTime`, in the OpenMetrics
//! text format that `promtool tsdb create-blocks-from openmetrics` backfills; plus a few of
//! kubesim's own (`kubesim_*`: nodes per pool, cost, pending pods).
//!
//! [`families`] says which series an instant becomes, [`store`] holds them until the run ends
//! (the format wants each series' points together, a run makes them instant by instant), and
//! [`text`] writes the format's pieces as Prometheus' parser reads them. The file's first line,
//! `# TYPE kubesim_run info`, marks it as kubesim's: a later run replaces such a file, and no
//! other.

pub mod families;
pub mod store;
pub mod text;

use std::io::{self, Write};
use std::path::Path;

use crate::metrics::export::ExportSample;
use families::{FAMILIES, RunLabels};
use store::SeriesStore;
use text::Labels;

/// The first line of every file kubesim writes here.
pub const MARKER_LINE: &str = "# TYPE kubesim_run info";

/// An export being gathered, instant by instant, then written.
pub struct OpenMetricsWriter {
    store: SeriesStore,
    run: RunLabels,
}

impl OpenMetricsWriter {
    /// An export of the run of `scenario` with `seed` whose t = 0 is `start` (`spec.startTime`);
    /// past `memory_values` values held, points move to a scratch file
    /// ([`store::DEFAULT_MEMORY_VALUES`] for a run).
    pub fn new(scenario: &str, seed: u64, start: jiff::Timestamp, memory_values: usize) -> Self {
        let info = Labels::new()
            .with("scenario", scenario)
            .with("seed", &seed.to_string())
            .with("version", env!("CARGO_PKG_VERSION"));
        OpenMetricsWriter {
            store: SeriesStore::new(&FAMILIES, memory_values),
            run: RunLabels {
                info,
                columns: Vec::new(),
                start_ms: start.as_millisecond(),
            },
        }
    }

    /// `timeseries.csv`'s column names (kubesim's own series are read from its rows).
    pub fn set_columns(&mut self, columns: &[String]) {
        self.run.columns = columns.to_vec();
    }

    /// Adds one export instant.
    pub fn add(&mut self, sample: &ExportSample) -> io::Result<()> {
        let ms = self.run.start_ms + (sample.time.as_micros() / 1000) as i64;
        self.store.start_instant(ms)?;
        families::add_sample(&mut self.store, &self.run, sample);
        Ok(())
    }

    /// Export instants so far.
    pub fn instants(&self) -> usize {
        self.store.instants()
    }

    /// Writes the export: every family, then `# EOF`.
    pub fn write(self, out: &mut impl Write) -> io::Result<()> {
        self.store.write(out)
    }
}

/// Whether kubesim may write `file`: it does not exist, or it is a regular file that an earlier
/// `--openmetrics` wrote (it starts with [`MARKER_LINE`]). Otherwise, why not.
pub fn check_writable(file: &Path) -> Result<(), String> {
    let meta = match std::fs::symlink_metadata(file) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.to_string()),
    };
    if !meta.is_file() {
        return Err("it exists and is not a regular file".into());
    }
    let mut first = [0u8; MARKER_LINE.len() + 1];
    let ours = std::fs::File::open(file)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut first))
        .is_ok_and(|()| {
            first[..MARKER_LINE.len()] == *MARKER_LINE.as_bytes()
                && first[MARKER_LINE.len()] == b'\n'
        });
    match ours {
        true => Ok(()),
        false => Err("it exists and is not an OpenMetrics file kubesim wrote (kubesim replaces only its own)".into()),
    }
}
