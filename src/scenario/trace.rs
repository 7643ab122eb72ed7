//! Traffic traces: CSV files turned into a piecewise-constant arrival rate.
//!
//! Two formats: a rate series (`t_seconds,rate`: the rate holds until the next row) and
//! per-minute request counts (a timestamp column plus a count column, as in the NASA HTTP trace).
//! The trace's own time axis is mapped to simulated time by `offset` (trace seconds skipped) and
//! `speedup` (trace seconds per simulated second); `scale` multiplies every rate.

use std::io::{self, BufRead};
use std::ops::ControlFlow;

use super::diag::Diagnostic;
use super::model::{ArrivalPattern, ArrivalShape, RateSegment};
use super::yaml::Position;
use crate::sim::{SimDuration, SimTime};

/// A rate change in trace time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TracePoint {
    /// When the rate starts, in seconds of trace time: `t_seconds`, or for per-minute counts the
    /// row's timestamp less the first row's.
    pub trace_secs: f64,
    /// Requests per second until the next point (per-minute counts: the count / 60).
    pub rate_per_sec: f64,
}

/// How to map trace time and rates onto the simulation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TraceMapping {
    /// Trace time skipped: the trace instant that maps to t = 0 (`offset`, default 0 s).
    pub offset: SimDuration,
    /// Trace seconds per simulated second (`speedup`, default 1, > 0).
    pub speedup: f64,
    /// Multiplies every rate (`scale`, default 1, ≥ 0); an LLM trace replays each request about
    /// `scale` times instead.
    pub scale: f64,
}

/// An error at a line of a trace file (column 1), for the field `column`.
pub(super) fn line_error(
    file: &str,
    line: usize,
    column: &str,
    message: impl Into<String>,
) -> Diagnostic {
    let position = Some(Position {
        line: line as u32,
        column: 1,
    });
    Diagnostic::error(file, position, column, message)
}

/// The rows of a CSV read a line at a time from `input`, so that a long trace is never held
/// whole, skipping blank and `#` comment lines: `each` gets (1-based line number, fields) and
/// says whether to go on. Returns the bytes read.
fn for_each_row(
    mut input: impl BufRead,
    mut each: impl FnMut(usize, &[&str]) -> ControlFlow<()>,
) -> io::Result<u64> {
    let (mut line, mut number, mut bytes) = (String::new(), 0usize, 0u64);
    loop {
        line.clear();
        let read = input.read_line(&mut line)?;
        if read == 0 {
            return Ok(bytes);
        }
        (number, bytes) = (number + 1, bytes + read as u64);
        let row = line.trim();
        if row.is_empty() || row.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = row.split(',').map(str::trim).collect();
        if each(number, &fields).is_break() {
            return Ok(bytes);
        }
    }
}

fn is_header(fields: &[&str]) -> bool {
    fields.first().is_some_and(|f| f.parse::<f64>().is_err())
}

/// Which of the two rate-trace formats a file is in.
#[derive(Clone, Copy, Debug)]
pub enum RateTrace<'a> {
    /// `t_seconds,rate` rows.
    Series,
    /// Per-minute counts, in the named column (`None`: the last).
    PerMinute(Option<&'a str>),
}

/// Reads a rate trace of `format` from `input` a row at a time into `pattern` (see
/// [`stream_rate_series`] and [`stream_per_minute_counts`]). Returns the bytes read.
pub fn stream_rate_trace(
    file: &str,
    input: impl BufRead,
    format: RateTrace,
    diags: &mut Vec<Diagnostic>,
    pattern: &mut PatternBuilder,
) -> io::Result<u64> {
    let sink = |p| pattern.push(p);
    match format {
        RateTrace::Series => stream_rate_series(file, input, diags, sink),
        RateTrace::PerMinute(column) => stream_per_minute_counts(file, input, column, diags, sink),
    }
}

/// Reads a `t_seconds,rate` series. Times must increase; rates must be finite and ≥ 0.
pub fn read_rate_series(file: &str, text: &str, diags: &mut Vec<Diagnostic>) -> Vec<TracePoint> {
    let mut points = Vec::new();
    let read = stream_rate_series(file, text.as_bytes(), diags, |p| points.push(p));
    debug_assert!(read.is_ok(), "text in memory reads");
    points
}

/// [`read_rate_series`] from a reader, a row at a time, each point handed to `sink` (nothing
/// is kept but the last point). Returns the bytes read.
pub fn stream_rate_series(
    file: &str,
    input: impl BufRead,
    diags: &mut Vec<Diagnostic>,
    mut sink: impl FnMut(TracePoint),
) -> io::Result<u64> {
    let mut last: Option<TracePoint> = None;
    let read = for_each_row(input, |line, fields| {
        if last.is_none() && is_header(fields) {
            return ControlFlow::Continue(());
        }
        if fields.len() < 2 {
            let message = "expected two columns: t_seconds,rate";
            diags.push(line_error(file, line, "", message));
            return ControlFlow::Continue(());
        }
        let (Ok(t), Ok(rate)) = (fields[0].parse::<f64>(), fields[1].parse::<f64>()) else {
            let message = format!("{:?} is not two numbers t_seconds,rate", fields.join(","));
            diags.push(line_error(file, line, "", message));
            return ControlFlow::Continue(());
        };
        if let Some(p) = checked_point(last, file, line, t, rate, diags) {
            last = Some(p);
            sink(p);
        }
        ControlFlow::Continue(())
    })?;
    if last.is_none() {
        diags.push(line_error(file, 1, "", "the trace has no data rows"));
    }
    Ok(read)
}

/// Reads a list of request arrival times: the first column of each row, seconds from the
/// trace's start, not decreasing (requests at one instant are allowed); a header is allowed.
pub fn read_request_times(file: &str, text: &str, diags: &mut Vec<Diagnostic>) -> Vec<f64> {
    let mut times: Vec<f64> = Vec::new();
    let read = for_each_row(text.as_bytes(), |line, fields| {
        if times.is_empty() && is_header(fields) {
            return ControlFlow::Continue(());
        }
        let t = match fields[0].parse::<f64>() {
            Ok(t) if t.is_finite() && t >= 0.0 => t,
            _ => {
                let message = format!("{:?} is not a time in seconds ≥ 0", fields[0]);
                diags.push(line_error(file, line, "t_seconds", message));
                return ControlFlow::Continue(());
            }
        };
        if let Some(&last) = times.last().filter(|&&last| t < last) {
            let message = format!("time {t} goes back (the previous request is at {last})");
            diags.push(line_error(file, line, "t_seconds", message));
            return ControlFlow::Continue(());
        }
        times.push(t);
        ControlFlow::Continue(())
    });
    debug_assert!(read.is_ok(), "text in memory reads");
    if times.is_empty() {
        diags.push(line_error(file, 1, "", "the file lists no requests"));
    }
    times
}

/// Request times on the simulated clock: `(t − offset) / speedup`, those in `[0, end]`.
pub fn to_request_times(times: &[f64], mapping: TraceMapping, end: SimDuration) -> Vec<SimTime> {
    let offset = mapping.offset.as_secs_f64();
    (times.iter())
        .filter(|&&t| t >= offset)
        .map(|&t| SimDuration::from_secs_f64_ceil((t - offset) / mapping.speedup))
        .take_while(|&d| d <= end)
        .map(|d| SimTime::ZERO + d)
        .collect()
}

/// The row's point, if its time and rate are valid and its time comes after `last`'s; else an
/// error at the row.
fn checked_point(
    last: Option<TracePoint>,
    file: &str,
    line: usize,
    t: f64,
    rate: f64,
    diags: &mut Vec<Diagnostic>,
) -> Option<TracePoint> {
    if !t.is_finite() || t < 0.0 {
        diags.push(line_error(
            file,
            line,
            "t_seconds",
            format!("{t} is not a time ≥ 0"),
        ));
    } else if !rate.is_finite() || rate < 0.0 {
        diags.push(line_error(
            file,
            line,
            "rate",
            format!("{rate} is not a rate ≥ 0"),
        ));
    } else if let Some(last) = last.filter(|p| t <= p.trace_secs) {
        diags.push(line_error(
            file,
            line,
            "t_seconds",
            format!(
                "time {t} does not increase (previous row is at {})",
                last.trace_secs
            ),
        ));
    } else {
        return Some(TracePoint {
            trace_secs: t,
            rate_per_sec: rate,
        });
    }
    None
}

/// Reads per-minute counts: column 0 is a timestamp in seconds (e.g. Unix time), `column` (a
/// header name; default the last column) holds the count. Minutes missing from the file keep the
/// previous rate (the gap is reported as a warning).
pub fn read_per_minute_counts(
    file: &str,
    text: &str,
    column: Option<&str>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<TracePoint> {
    let mut points = Vec::new();
    let read = stream_per_minute_counts(file, text.as_bytes(), column, diags, |p| points.push(p));
    debug_assert!(read.is_ok(), "text in memory reads");
    points
}

/// [`read_per_minute_counts`] from a reader, a row at a time, each point handed to `sink`.
/// Returns the bytes read.
pub fn stream_per_minute_counts(
    file: &str,
    input: impl BufRead,
    column: Option<&str>,
    diags: &mut Vec<Diagnostic>,
    mut sink: impl FnMut(TracePoint),
) -> io::Result<u64> {
    let mut last: Option<TracePoint> = None;
    let mut count_index: Option<usize> = None;
    let mut first_ts: Option<f64> = None;
    let mut gaps = 0u64;
    let first_diag = diags.len();
    let mut no_column = false;
    let read = for_each_row(input, |line, fields| {
        if first_ts.is_none() && count_index.is_none() && is_header(fields) {
            count_index = match column {
                Some(name) => match fields.iter().position(|f| *f == name) {
                    Some(i) => Some(i),
                    None => {
                        let message =
                            format!("no column {name:?} in header {:?}", fields.join(","));
                        diags.push(line_error(file, line, name, message));
                        no_column = true;
                        return ControlFlow::Break(());
                    }
                },
                None => Some(fields.len() - 1),
            };
            return ControlFlow::Continue(());
        }
        let index = count_index.unwrap_or(fields.len() - 1);
        let (Some(ts), Some(count)) = (
            fields.first().and_then(|f| f.parse::<f64>().ok()),
            fields.get(index).and_then(|f| f.parse::<f64>().ok()),
        ) else {
            let message = format!(
                "{:?}: expected a timestamp in seconds and a count",
                fields.join(",")
            );
            diags.push(line_error(file, line, "", message));
            return ControlFlow::Continue(());
        };
        if !count.is_finite() || count < 0.0 {
            let name = column.unwrap_or("count");
            let text = fields.get(index).copied().unwrap_or_default();
            diags.push(line_error(
                file,
                line,
                name,
                format!("{text} is not a count ≥ 0"),
            ));
            return ControlFlow::Continue(());
        }
        let base = *first_ts.get_or_insert(ts);
        if let Some(last) = last {
            gaps += (((ts - base) - last.trace_secs) / 60.0).round().max(1.0) as u64 - 1;
        }
        if let Some(p) = checked_point(last, file, line, ts - base, count / 60.0, diags) {
            last = Some(p);
            sink(p);
        }
        ControlFlow::Continue(())
    })?;
    if no_column {
        return Ok(read);
    }
    // A gap beside a refused row follows from that row's error: not said again.
    let refused_rows = diags[first_diag..].iter().any(Diagnostic::is_error);
    if last.is_none() {
        diags.push(line_error(file, 1, "", "the trace has no data rows"));
    } else if gaps > 0 && !refused_rows {
        diags.push(Diagnostic::warning(file, None, "", format!("{gaps} minute(s) are missing from the trace; each gap keeps the rate of the minute before it")));
    }
    Ok(read)
}

/// Maps trace points to a simulation rate pattern over `[0, duration)`.
pub fn to_pattern(
    points: &[TracePoint],
    mapping: TraceMapping,
    duration: SimDuration,
) -> ArrivalPattern {
    let mut pattern = PatternBuilder::new(mapping, duration);
    points.iter().for_each(|&p| pattern.push(p));
    pattern.finish()
}

/// [`to_pattern`] a point at a time, as a trace is read: keeps the segments inside the run and
/// the one point whose rate holds until the next.
pub struct PatternBuilder {
    mapping: TraceMapping,
    duration: SimDuration,
    segments: Vec<RateSegment>,
    /// The last point pushed: where its rate ends is the next point's time.
    pending: Option<TracePoint>,
    /// A point started at or after the run's end: the rest is ignored.
    ended: bool,
}

impl PatternBuilder {
    /// An empty pattern for a run of `duration`.
    pub fn new(mapping: TraceMapping, duration: SimDuration) -> Self {
        PatternBuilder {
            mapping,
            duration,
            segments: Vec::new(),
            pending: None,
            ended: false,
        }
    }

    /// The next point of the trace (times increasing).
    pub fn push(&mut self, point: TracePoint) {
        if let Some(previous) = self.pending.replace(point) {
            self.place(previous, point.trace_secs);
        }
    }

    /// The pattern of the points pushed.
    pub fn finish(mut self) -> ArrivalPattern {
        if let Some(last) = self.pending.take() {
            self.place(last, f64::INFINITY);
        }
        let mut segments = self.segments;
        if segments.first().is_none_or(|s| s.start > SimTime::ZERO) {
            segments.insert(
                0,
                RateSegment {
                    start: SimTime::ZERO,
                    rate_per_sec: 0.0,
                },
            );
        }
        ArrivalPattern {
            segments,
            shape: ArrivalShape::Poisson,
        }
    }

    /// Adds the segment of point `p`, whose rate holds until trace time `next_secs`.
    fn place(&mut self, p: TracePoint, next_secs: f64) {
        let offset = self.mapping.offset.as_secs_f64();
        if self.ended || next_secs <= offset {
            return; // after the run, or entirely before the offset
        }
        let sim_secs = ((p.trace_secs - offset) / self.mapping.speedup).max(0.0);
        let start = SimTime::ZERO + SimDuration::from_secs_f64_ceil(sim_secs);
        if start >= SimTime::ZERO + self.duration {
            self.ended = true;
            return;
        }
        let rate = p.rate_per_sec * self.mapping.scale;
        match self.segments.last_mut() {
            Some(last) if last.start == start => last.rate_per_sec = rate,
            _ => self.segments.push(RateSegment {
                start,
                rate_per_sec: rate,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_times_are_replayed_from_the_offset_at_the_speedup() {
        // Rows at 0, 1, 1 (a burst of two), 3 and 9 s; from 1 s at 2× speed within 2 s of run:
        // 1 → 0, 1 → 0, 3 → 1 s, 9 → 4 s (beyond the end).
        let mut d = Vec::new();
        let times = read_request_times("t.csv", "t_seconds\n0\n1\n1,x\n3\n9\n", &mut d);
        assert!(d.is_empty(), "{d:?}");
        let mapping = TraceMapping {
            offset: SimDuration::from_secs(1),
            speedup: 2.0,
            scale: 1.0,
        };
        let sim = to_request_times(&times, mapping, SimDuration::from_secs(2));
        assert_eq!(sim, [SimTime::ZERO, SimTime::ZERO, SimTime::from_secs(1)]);
    }

    #[test]
    fn request_times_that_go_back_or_are_not_times_are_errors_with_their_line() {
        let mut d = Vec::new();
        read_request_times("t.csv", "5\n4\n-1\nabc\n", &mut d);
        let shown: Vec<String> = d.iter().map(|d| d.to_string()).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(
            shown[0].contains("t.csv:2:1") && shown[0].contains("goes back"),
            "{shown:?}"
        );
        assert!(
            shown[1].contains("t.csv:3:1") && shown[1].contains("\"-1\""),
            "{shown:?}"
        );
        assert!(shown[2].contains("t.csv:4:1"), "{shown:?}");
    }

    #[test]
    fn rate_series_with_header_and_comments() {
        let mut d = Vec::new();
        let pts = read_rate_series("r.csv", "# demo\nt_seconds,rate\n0,10\n60,20\n", &mut d);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            pts,
            vec![
                TracePoint {
                    trace_secs: 0.0,
                    rate_per_sec: 10.0
                },
                TracePoint {
                    trace_secs: 60.0,
                    rate_per_sec: 20.0
                }
            ]
        );
    }

    #[test]
    fn non_monotonic_time_names_the_line() {
        let mut d = Vec::new();
        read_rate_series("r.csv", "t_seconds,rate\n0,10\n60,20\n30,5\n", &mut d);
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].to_string(),
            "r.csv:4:1: t_seconds: time 30 does not increase (previous row is at 60)"
        );
    }

    #[test]
    fn a_bad_count_is_quoted_as_written_without_a_gap_warning_after_it() {
        // The second minute's count is negative: its row is refused, and the gap it leaves is
        // not reported as a missing minute.
        let mut d = Vec::new();
        let text = "ts,requests\n0,60\n60,-5\n120,30\n";
        read_per_minute_counts("m.csv", text, Some("requests"), &mut d);
        let said: Vec<String> = d.iter().map(ToString::to_string).collect();
        assert_eq!(said, ["m.csv:3:1: requests: -5 is not a count ≥ 0"]);
    }

    #[test]
    fn negative_rate_is_an_error() {
        let mut d = Vec::new();
        read_rate_series("r.csv", "0,-1\n", &mut d);
        assert!(
            d[0].to_string().contains("rate: -1 is not a rate"),
            "{}",
            d[0]
        );
    }

    #[test]
    fn per_minute_counts_become_rates_and_gaps_are_reported() {
        // 120 requests in a minute = 2 req/s; minute 804571320 is missing → one gap.
        let text = "minute_start_unix,minute_start_local,requests\n804571200,x,120\n804571260,x,60\n804571380,x,30\n";
        let mut d = Vec::new();
        let pts = read_per_minute_counts("n.csv", text, None, &mut d);
        assert_eq!(
            pts.iter()
                .map(|p| (p.trace_secs, p.rate_per_sec))
                .collect::<Vec<_>>(),
            vec![(0.0, 2.0), (60.0, 1.0), (180.0, 0.5)]
        );
        assert_eq!(d.len(), 1);
        assert!(
            d[0].message.starts_with("1 minute(s) are missing"),
            "{}",
            d[0]
        );
    }

    #[test]
    fn mapping_applies_offset_speedup_and_scale() {
        let pts = [
            TracePoint {
                trace_secs: 0.0,
                rate_per_sec: 1.0,
            },
            TracePoint {
                trace_secs: 3600.0,
                rate_per_sec: 2.0,
            },
            TracePoint {
                trace_secs: 7200.0,
                rate_per_sec: 4.0,
            },
        ];
        // offset 1h skips the first row; speedup 12 maps trace 7200 s → (7200-3600)/12 = 300 s.
        let m = TraceMapping {
            offset: SimDuration::from_secs(3600),
            speedup: 12.0,
            scale: 10.0,
        };
        let p = to_pattern(&pts, m, SimDuration::from_secs(1000));
        assert_eq!(
            p.segments,
            vec![
                RateSegment {
                    start: SimTime::ZERO,
                    rate_per_sec: 20.0
                },
                RateSegment {
                    start: SimTime::from_secs(300),
                    rate_per_sec: 40.0
                },
            ]
        );
    }
}
