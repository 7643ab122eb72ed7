//! The text exposition formats with timestamps: OpenMetrics (what `kubesim run --openmetrics`
//! writes and `promtool tsdb create-blocks-from openmetrics` reads; timestamps in seconds, the
//! file ends at `# EOF`) and Prometheus' own text format (timestamps in milliseconds), as a
//! scraper that appends each scrape with its time would save them.
//!
//! Every sample needs a timestamp: samples without one cannot be placed in time, and are an
//! error naming the line. `# HELP`, `# TYPE`, `# UNIT` and other comments are skipped; the
//! series keep their full sample names (`…_bucket`, `…_total`).

use std::collections::BTreeMap;

use super::{Dropped, Export, Series};

/// Reads an OpenMetrics or Prometheus text file with timestamps. A file with a `# EOF` line is
/// OpenMetrics (seconds); one without is Prometheus' format (milliseconds).
pub fn parse_text(file: &str, text: &str) -> Result<Export, String> {
    let openmetrics = text.lines().any(|l| l.trim_end() == "# EOF");
    let mut series: BTreeMap<String, (Series, Dropped)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |why: String| format!("{file}:{}: {why}", i + 1);
        let sample = parse_sample(line).map_err(at)?;
        let Some(stamp) = sample.timestamp else {
            return Err(at(format!(
                "{:?} has no timestamp: calibrate places every sample in time, so each must carry one (save each scrape with its time, or export a range query)",
                sample.name
            )));
        };
        let ms = if openmetrics { stamp * 1000.0 } else { stamp };
        if !ms.is_finite() || ms.abs() >= 1e16 {
            return Err(at(format!("the timestamp {stamp} is out of range")));
        }
        let key = format!("{}{{{}}}", sample.name, sample.label_text);
        let entry = series.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            let mut labels = sample.labels.clone();
            labels.insert("__name__".to_string(), sample.name.clone());
            (
                Series {
                    labels,
                    points: Vec::new(),
                },
                Dropped::default(),
            )
        });
        match sample.value.is_finite() {
            true => entry.0.points.push((ms.round() as i64, sample.value)),
            false => entry.1.values += 1,
        }
    }
    let mut export = Export::default();
    for key in order {
        let (s, dropped) = series.remove(&key).expect("every key was inserted");
        export.add(file, s, dropped);
    }
    export.finish(file)
}

/// One sample line, parsed.
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    /// The label text as written, to tell series apart.
    label_text: String,
    value: f64,
    timestamp: Option<f64>,
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() {
        return Err("a sample line must start with a metric name".into());
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    let mut label_text = String::new();
    if let Some(after) = rest.strip_prefix('{') {
        let (parsed, remaining) = parse_labels(after)?;
        labels = parsed;
        label_text = (labels.iter())
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect::<Vec<_>>()
            .join(",");
        rest = remaining;
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or_else(|| format!("{name}: no value"))?;
    let value = parse_number(value).ok_or_else(|| format!("{name}: {value:?} is not a number"))?;
    let timestamp = match fields.next() {
        None => None,
        Some(t) => Some(
            t.parse::<f64>()
                .map_err(|_| format!("{name}: the timestamp {t:?} is not a number"))?,
        ),
    };
    if let Some(extra) = fields.next() {
        return Err(format!(
            "{name}: unexpected {extra:?} after the timestamp (exemplars are not read)"
        ));
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        label_text,
        value,
        timestamp,
    })
}

/// A value as the formats write it: a float, `NaN`, `+Inf`, `-Inf`.
fn parse_number(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

/// `a="x",b="y"}` → the labels and what follows the brace.
fn parse_labels(mut text: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    loop {
        text = text.trim_start_matches([' ', ',']);
        if let Some(rest) = text.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let eq = text
            .find('=')
            .ok_or("a label without `=\"value\"` (or a `}` missing)")?;
        let name = text[..eq].trim();
        let after = text[eq + 1..]
            .strip_prefix('"')
            .ok_or_else(|| format!("label {name}: its value must be in double quotes"))?;
        let (value, rest) =
            unquote(after).ok_or_else(|| format!("label {name}: unterminated value"))?;
        labels.insert(name.to_string(), value);
        text = rest;
    }
}

/// The value of a quoted string whose opening quote is consumed, with `\\`, `\"` and `\n`
/// undone; and the text after the closing quote.
fn unquote(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                other => value.push(other),
            },
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_seconds_and_prometheus_milliseconds() {
        let om = "# TYPE a counter\na_total{pod=\"p-1\",x=\"q\\\"r\"} 1 1700000000\na_total{x=\"q\\\"r\",pod=\"p-1\"} 3 1700000015.5\n# EOF\n";
        let e = parse_text("a.om", om).unwrap();
        assert_eq!(e.series.len(), 1);
        assert_eq!(e.series[0].labels["x"], "q\"r");
        assert_eq!(e.series[0].labels["__name__"], "a_total");
        assert_eq!(
            e.series[0].points,
            vec![(1_700_000_000_000, 1.0), (1_700_000_015_500, 3.0)]
        );
        let prom = "b 2 1700000000000\nb 4 1700000015000\n";
        let e = parse_text("b.prom", prom).unwrap();
        assert_eq!(e.series[0].points[1], (1_700_000_015_000, 4.0));
    }

    #[test]
    fn a_sample_without_a_timestamp_is_an_error_naming_the_line() {
        let err = parse_text("s.prom", "# HELP x y\nx 1 5\nx 2\n").unwrap_err();
        assert!(err.starts_with("s.prom:3: \"x\" has no timestamp"), "{err}");
        let err = parse_text("s.prom", "x{a=b} 1 5\n").unwrap_err();
        assert!(
            err.contains("s.prom:1: label a: its value must be in double quotes"),
            "{err}"
        );
        let err = parse_text("s.prom", "x{a=\"b\"} one 5\n").unwrap_err();
        assert!(err.contains("\"one\" is not a number"), "{err}");
    }

    #[test]
    fn nan_values_are_dropped_and_said() {
        let e = parse_text("n.prom", "x NaN 1000\nx 1 2000\n").unwrap();
        assert_eq!(e.series[0].points, vec![(2000, 1.0)]);
        assert!(e.notes[0].contains("1 NaN, infinite or empty values dropped"));
    }
}
