//! The series of an export, held until the run ends and then written family by family, series
//! by series, each series' points in time order — the layout OpenMetrics asks for (a family's
//! metrics contiguous, never interleaved) and the one Prometheus' backfill needs (each series
//! strictly increasing in time). A run hands its points out instant by instant, so they are
//! transposed here: held in memory, and past a bound moved to a scratch file (unlinked at once,
//! so a killed run leaves nothing behind) from which the writer reads each series' parts back
//! in order.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};

use super::text::{Labels, push_number, timestamp};

/// A family's OpenMetrics type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MetricType {
    /// Written as `NAME_total`.
    Counter,
    /// Written as `NAME`.
    Gauge,
    /// Written as `NAME_info`, value 1.
    Info,
    /// `NAME_bucket{le=…}` for each bound and `+Inf`, then `NAME_count` and `NAME_sum`: a
    /// point's values are the per-bucket counts (not cumulative; the writer sums them), the
    /// count and the sum.
    Histogram(&'static [(f64, &'static str)]),
}

impl MetricType {
    /// Values per point.
    fn width(self) -> usize {
        match self {
            MetricType::Histogram(bounds) => bounds.len() + 3,
            _ => 1,
        }
    }

    fn name(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Info => "info",
            MetricType::Histogram(_) => "histogram",
        }
    }
}

/// A metric family: its name (without the type's suffix), type, unit and help text.
#[derive(Clone, Copy, Debug)]
pub struct Family {
    /// The family's name (a counter's without `_total`).
    pub name: &'static str,
    /// Its type.
    pub kind: MetricType,
    /// The `# UNIT` (the name must end with `_<unit>`).
    pub unit: Option<&'static str>,
    /// The `# HELP` text.
    pub help: &'static str,
}

/// A series' points from `first` (an index into the export instants) on, `width` values each.
#[derive(Clone, Debug, Default)]
struct Run {
    first: u32,
    values: Vec<f64>,
}

#[derive(Debug)]
struct Series {
    labels: Labels,
    runs: Vec<Run>,
    /// Earlier points moved to the scratch file: (offset, length) of each part, in time order.
    spilled: Vec<(u64, u64)>,
    /// The last instant it has a point at (`None`: none yet).
    last: Option<u32>,
}

/// Values held in memory before they are moved to the scratch file (8 bytes each: 256 MB).
pub const DEFAULT_MEMORY_VALUES: usize = 32 << 20;

/// Every series of an export, by family.
pub struct SeriesStore {
    families: &'static [Family],
    /// Series ids of each family, in the order they first had a point.
    by_family: Vec<Vec<u32>>,
    series: Vec<Series>,
    family_of: Vec<u16>,
    index: HashMap<(u16, Labels), u32>,
    /// Unix milliseconds of each export instant.
    times: Vec<i64>,
    held: usize,
    memory_values: usize,
    scratch: Option<BufWriter<File>>,
    scratch_len: u64,
}

impl SeriesStore {
    /// An empty store for `families` (written in that order) that moves points to a scratch
    /// file once more than `memory_values` values are held.
    pub fn new(families: &'static [Family], memory_values: usize) -> Self {
        SeriesStore {
            families,
            by_family: vec![Vec::new(); families.len()],
            series: Vec::new(),
            family_of: Vec::new(),
            index: HashMap::new(),
            times: Vec::new(),
            held: 0,
            memory_values: memory_values.max(1),
            scratch: None,
            scratch_len: 0,
        }
    }

    /// Starts the next export instant, at `ms` Unix milliseconds (later than the last).
    pub fn start_instant(&mut self, ms: i64) -> io::Result<()> {
        if self.held >= self.memory_values {
            self.spill()?;
        }
        debug_assert!(self.times.last().is_none_or(|&t| t < ms));
        self.times.push(ms);
        Ok(())
    }

    /// Adds the point of the series of `family` with `labels` at the current instant (its
    /// values: one, or a histogram's). A second point of the same series at one instant is
    /// dropped: Prometheus keeps one value per timestamp.
    pub fn push(&mut self, family: usize, labels: Labels, values: &[f64]) {
        let Some(now) = self.times.len().checked_sub(1) else {
            return;
        };
        let now = now as u32;
        let key = (family as u16, labels);
        let id = match self.index.get(&key) {
            Some(&id) => id,
            None => {
                let id = self.series.len() as u32;
                self.by_family[family].push(id);
                self.family_of.push(family as u16);
                self.series.push(Series {
                    labels: key.1.clone(),
                    runs: Vec::new(),
                    spilled: Vec::new(),
                    last: None,
                });
                self.index.insert(key, id);
                id
            }
        };
        let s = &mut self.series[id as usize];
        debug_assert_eq!(values.len(), self.families[family].kind.width());
        if s.last == Some(now) {
            return;
        }
        match s.runs.last_mut() {
            Some(run) if s.last == Some(now - 1) => run.values.extend_from_slice(values),
            _ => s.runs.push(Run {
                first: now,
                values: values.to_vec(),
            }),
        }
        s.last = Some(now);
        self.held += values.len();
    }

    /// Moves every held point to the scratch file.
    fn spill(&mut self) -> io::Result<()> {
        if self.scratch.is_none() {
            self.scratch = Some(BufWriter::new(scratch_file()?));
        }
        let out = self.scratch.as_mut().expect("made above");
        for s in &mut self.series {
            if s.runs.is_empty() {
                continue;
            }
            let start = self.scratch_len;
            for run in s.runs.drain(..) {
                out.write_all(&run.first.to_le_bytes())?;
                out.write_all(&(run.values.len() as u64).to_le_bytes())?;
                for v in &run.values {
                    out.write_all(&v.to_le_bytes())?;
                }
                self.scratch_len += 12 + 8 * run.values.len() as u64;
            }
            s.spilled.push((start, self.scratch_len - start));
        }
        self.held = 0;
        Ok(())
    }

    /// Writes every family with a series: `# TYPE`, `# UNIT`, `# HELP`, then its series in the
    /// order they appeared, each with its points in time order; then `# EOF`.
    pub fn write(mut self, out: &mut impl Write) -> io::Result<()> {
        let mut scratch = match self.scratch.take() {
            Some(w) => Some(w.into_inner().map_err(io::IntoInnerError::into_error)?),
            None => None,
        };
        let mut text = String::new();
        for (f, family) in self.families.iter().enumerate() {
            if self.by_family[f].is_empty() {
                continue;
            }
            write_metadata(&mut text, family);
            for &id in &self.by_family[f] {
                let s = &self.series[id as usize];
                for &(offset, len) in &s.spilled {
                    let file = scratch
                        .as_mut()
                        .expect("spilled points have a scratch file");
                    for run in read_runs(file, offset, len)? {
                        self.write_run(&mut text, family, &s.labels, &run);
                        flush_if_long(&mut text, out)?;
                    }
                }
                for run in &s.runs {
                    self.write_run(&mut text, family, &s.labels, run);
                    flush_if_long(&mut text, out)?;
                }
            }
        }
        text.push_str("# EOF\n");
        out.write_all(text.as_bytes())
    }

    fn write_run(&self, text: &mut String, family: &Family, labels: &Labels, run: &Run) {
        let width = family.kind.width();
        for (i, point) in run.values.chunks(width).enumerate() {
            let ts = timestamp(self.times[run.first as usize + i]);
            write_point(text, family, labels, point, &ts);
        }
    }

    /// Export instants so far.
    pub fn instants(&self) -> usize {
        self.times.len()
    }
}

fn flush_if_long(text: &mut String, out: &mut impl Write) -> io::Result<()> {
    if text.len() > 1 << 16 {
        out.write_all(text.as_bytes())?;
        text.clear();
    }
    Ok(())
}

fn write_metadata(text: &mut String, family: &Family) {
    text.push_str("# TYPE ");
    text.push_str(family.name);
    text.push(' ');
    text.push_str(family.kind.name());
    text.push('\n');
    if let Some(unit) = family.unit {
        text.push_str(&format!("# UNIT {} {unit}\n", family.name));
    }
    text.push_str(&format!("# HELP {} {}\n", family.name, family.help));
}

/// One point's sample lines.
fn write_point(text: &mut String, family: &Family, labels: &Labels, point: &[f64], ts: &str) {
    let mut line = |suffix: &str, le: Option<&str>, value: f64| {
        text.push_str(family.name);
        text.push_str(suffix);
        let labels = match le {
            Some(le) => labels.clone().with("le", le),
            None => labels.clone(),
        };
        if !labels.as_str().is_empty() {
            text.push('{');
            text.push_str(labels.as_str());
            text.push('}');
        }
        text.push(' ');
        push_number(text, value);
        text.push(' ');
        text.push_str(ts);
        text.push('\n');
    };
    match family.kind {
        MetricType::Counter => line("_total", None, point[0]),
        MetricType::Gauge => line("", None, point[0]),
        MetricType::Info => line("_info", None, 1.0),
        MetricType::Histogram(bounds) => {
            let mut cumulative = 0.0;
            for (i, &(_, le)) in bounds.iter().enumerate() {
                cumulative += point[i];
                line("_bucket", Some(le), cumulative);
            }
            cumulative += point[bounds.len()];
            line("_bucket", Some("+Inf"), cumulative);
            line("_count", None, point[bounds.len() + 1]);
            line("_sum", None, point[bounds.len() + 2]);
        }
    }
}

/// A scratch file nobody else sees: created in the temporary directory and unlinked at once,
/// so it vanishes with the process however that ends.
fn scratch_file() -> io::Result<File> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "kubesim-openmetrics-{}-{n}.scratch",
        std::process::id()
    ));
    let file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

/// The runs written at `offset` (`len` bytes) of the scratch file.
fn read_runs(file: &mut File, offset: u64, len: u64) -> io::Result<Vec<Run>> {
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = vec![0u8; len as usize];
    file.read_exact(&mut bytes)?;
    let mut runs = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let first = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let n = u64::from_le_bytes(bytes[at + 4..at + 12].try_into().expect("8 bytes")) as usize;
        at += 12;
        let values = (bytes[at..at + 8 * n].chunks_exact(8))
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        at += 8 * n;
        runs.push(Run { first, values });
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    static FAMILIES: [Family; 2] = [
        Family {
            name: "g",
            kind: MetricType::Gauge,
            unit: None,
            help: "A gauge.",
        },
        Family {
            name: "h_seconds",
            kind: MetricType::Histogram(&[(0.1, "0.1"), (1.0, "1.0")]),
            unit: Some("seconds"),
            help: "A histogram.",
        },
    ];

    /// A store fed the same points (two gauges, one appearing late and one leaving, and a
    /// histogram) whatever its memory bound.
    fn fed(memory_values: usize) -> String {
        let mut store = SeriesStore::new(&FAMILIES, memory_values);
        for i in 0..6i64 {
            store.start_instant(1_000_000 + i * 15_000).unwrap();
            store.push(
                1,
                Labels::new().with("svc", "a"),
                &[i as f64, 1.0, 0.0, 1.0 + i as f64, 0.5],
            );
            if i != 3 {
                store.push(0, Labels::new().with("pod", "x"), &[i as f64]);
            }
            if i >= 2 {
                store.push(0, Labels::new().with("pod", "y"), &[-(i as f64)]);
                store.push(0, Labels::new().with("pod", "y"), &[99.0]);
            }
        }
        let mut out = Vec::new();
        store.write(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn families_then_series_then_time() {
        let text = fed(DEFAULT_MEMORY_VALUES);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            &lines[..3],
            [
                "# TYPE g gauge",
                "# HELP g A gauge.",
                r#"g{pod="x"} 0 1000"#
            ]
        );
        // x skips instant 3; y starts at 2 and keeps its first value of an instant.
        assert!(
            text.contains("g{pod=\"x\"} 2 1030\ng{pod=\"x\"} 4 1060\n"),
            "{text}"
        );
        assert!(
            text.contains("g{pod=\"y\"} -2 1030\ng{pod=\"y\"} -3 1045\n"),
            "{text}"
        );
        // Histogram buckets cumulative: 0.1 → i, 1.0 → i + 1, +Inf → i + 1; then count, sum.
        assert!(text.contains(
            "h_seconds_bucket{svc=\"a\",le=\"0.1\"} 5 1075\nh_seconds_bucket{svc=\"a\",le=\"1.0\"} 6 1075\nh_seconds_bucket{svc=\"a\",le=\"+Inf\"} 6 1075\nh_seconds_count{svc=\"a\"} 6 1075\nh_seconds_sum{svc=\"a\"} 0.5 1075\n"
        ), "{text}");
        assert!(text.contains("# TYPE h_seconds histogram\n# UNIT h_seconds seconds\n"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn points_moved_to_the_scratch_file_come_back_in_place() {
        // Bounds of 1, 7 and 20 values spill after every instant, every other one, and so on.
        let whole = fed(DEFAULT_MEMORY_VALUES);
        for bound in [1, 7, 20] {
            assert_eq!(fed(bound), whole, "memory bound {bound}");
        }
    }
}
