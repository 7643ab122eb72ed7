//! The OpenMetrics text format's small pieces, written the way Prometheus' parser reads them:
//! numbers, timestamps, label sets.

use std::fmt::Write;

/// Appends `v` as an OpenMetrics number: Rust's shortest round-trip form (never an exponent,
/// which Go's `ParseFloat` reads either way), `NaN`, `+Inf` or `-Inf`.
pub fn push_number(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Unix milliseconds as OpenMetrics seconds that Prometheus stores as exactly `ms`.
///
/// Prometheus' parser (2.42) stores `int64(seconds × 1000)`, truncating: `1.001` becomes 1000
/// ms. Whole seconds are always exact; a fraction is written with three decimals and, where
/// that lands a millisecond low, with further digits that lift it above the truncation (the
/// same arithmetic checks each).
pub fn timestamp(ms: i64) -> String {
    let (secs, frac) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    if frac == 0 {
        return secs.to_string();
    }
    // A negative instant: −1.5 s is secs −2 and frac 500; printed as −1.500.
    let text = if secs < 0 {
        format!("-{}.{:03}", -(secs + 1), 1000 - frac)
    } else {
        format!("{secs}.{frac:03}")
    };
    let stored = |t: &str| t.parse::<f64>().map(|s| (s * 1000.0) as i64);
    if stored(&text) == Ok(ms) || ms < 0 {
        return text;
    }
    // 0.0001 ms more is far below a millisecond and enough to clear the rounding of a double
    // near any instant of the next hundred thousand years.
    format!("{text}0001")
}

/// A label set being written: `name="value"` pairs joined by commas, values escaped as
/// OpenMetrics asks (`\\`, `\"`, `\n`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Labels(String);

impl Labels {
    /// No label.
    pub fn new() -> Self {
        Labels(String::new())
    }

    /// Adds `name="value"`.
    pub fn with(mut self, name: &str, value: &str) -> Self {
        if !self.0.is_empty() {
            self.0.push(',');
        }
        self.0.push_str(name);
        self.0.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => self.0.push_str("\\\\"),
                '"' => self.0.push_str("\\\""),
                '\n' => self.0.push_str("\\n"),
                c => self.0.push(c),
            }
        }
        self.0.push('"');
        self
    }

    /// The pairs as written between the braces.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_prometheus_reads_them() {
        let text = |v| {
            let mut s = String::new();
            push_number(&mut s, v);
            s
        };
        assert_eq!(text(3.0), "3");
        assert_eq!(text(0.25), "0.25");
        assert_eq!(text(1e21), "1000000000000000000000");
        assert_eq!(text(1e-7), "0.0000001");
        assert_eq!(text(f64::INFINITY), "+Inf");
        assert_eq!(text(f64::NEG_INFINITY), "-Inf");
        assert_eq!(text(f64::NAN), "NaN");
    }

    #[test]
    fn every_millisecond_survives_prometheus_truncation() {
        // 1099006878.916 parses to a double just below it: Prometheus (int64(ts*1000)) stores
        // …915 (observed with promtool 2.42); the extra digits make it …916.
        assert_eq!(timestamp(1_099_006_878_916), "1099006878.9160001");
        assert_eq!(timestamp(1_700_000_000_000), "1700000000");
        assert_eq!(timestamp(1_700_000_000_500), "1700000000.500");
        assert_eq!(timestamp(-1_500), "-1.500");
        let mut ms: i64 = 1_767_571_200_000; // 2026-01-05
        for _ in 0..200_000 {
            ms += 7_919; // a prime step: every millisecond residue comes up
            let t = timestamp(ms);
            let stored = (t.parse::<f64>().unwrap() * 1000.0) as i64;
            assert_eq!(stored, ms, "{t}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        let l = Labels::new().with("a", "x").with("b", "q\"uo\\te\nnl");
        assert_eq!(l.as_str(), r#"a="x",b="q\"uo\\te\nnl""#);
    }
}
