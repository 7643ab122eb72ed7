//! Units in scenario files: Go-style durations (`15s`, `5m`, `1h30m`, `250ms`, `1.5h`).
//!
//! Durations are parsed to integer microseconds, rounding sub-microsecond parts up, so the same
//! text always gives the same `SimDuration`.

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};
use std::fmt;

use crate::sim::SimDuration;

/// A duration field in a scenario file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Duration(pub SimDuration);

/// Parses a Go `time.ParseDuration` string (without a sign; negative durations are rejected).
pub fn parse_duration(text: &str) -> Result<SimDuration, String> {
    let hint = "expected a duration such as 500ms, 15s, 5m or 1h30m";
    if text == "0" {
        return Ok(SimDuration::ZERO);
    }
    if text.is_empty() || text.starts_with('-') {
        return Err(format!("{text:?} is not a valid duration: {hint}"));
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{text:?} has no unit: {hint}"))?;
        let (number, after) = rest.split_at(number_end);
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after_unit) = after.split_at(unit_end);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(format!("{text:?} has an unknown unit {unit:?}: {hint}")),
        };
        total_nanos += scaled_nanos(number, unit_nanos)
            .ok_or_else(|| format!("{text:?} is not a valid duration: {hint}"))?;
        rest = after_unit;
    }
    let micros = total_nanos.div_ceil(1_000);
    u64::try_from(micros)
        .map(SimDuration::from_micros)
        .map_err(|_| format!("{text:?} is too long"))
}

/// `number` (digits with an optional fraction) × `unit_nanos`, exactly, rounding up.
fn scaled_nanos(number: &str, unit_nanos: u128) -> Option<u128> {
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
        return None;
    }
    let int_value: u128 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().ok()?
    };
    let mut total = int_value.checked_mul(unit_nanos)?;
    let frac_digits = &frac_part[..frac_part.len().min(18)];
    if !frac_digits.is_empty() {
        let frac_value: u128 = frac_digits.parse().ok()?;
        let denominator = 10u128.pow(frac_digits.len() as u32);
        total = total.checked_add((frac_value * unit_nanos).div_ceil(denominator))?;
    }
    Some(total)
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 500ms, 15s, 5m or 1h30m")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                parse_duration(v).map(Duration).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                if v == 0 {
                    return Ok(Duration(SimDuration::ZERO));
                }
                Err(E::custom(format!(
                    "{v} has no unit: write it as {v}s, {v}m or {v}ms"
                )))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "{v} has no unit: write it as {v}s or {v}m"
                )))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let cases = [
            ("15s", 15_000_000),
            ("5m", 300_000_000),
            ("1h30m", 5_400_000_000),
            ("250ms", 250_000),
            ("1.5h", 5_400_000_000),
            ("100us", 100),
            ("1ns", 1), // rounds up to the microsecond
            ("0", 0),
            ("2m30.5s", 150_500_000),
            (".5s", 500_000),
        ];
        for (text, micros) in cases {
            assert_eq!(parse_duration(text).unwrap().as_micros(), micros, "{text}");
        }
    }

    #[test]
    fn bad_durations() {
        for text in ["", "15", "-5s", "5 s", "5x", "1.2.3s", "s", "1h-5m"] {
            assert!(parse_duration(text).is_err(), "{text:?} should fail");
        }
        let err = parse_duration("15").unwrap_err();
        assert!(err.contains("no unit"), "{err}");
    }

    #[test]
    fn round_trips_through_display() {
        for text in ["15s", "5m0s", "1h30m0s", "250ms", "1.5s"] {
            assert_eq!(parse_duration(text).unwrap().to_string(), text);
        }
    }
}
