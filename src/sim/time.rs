//! Integer simulated time.
//!
//! `SimTime` is an instant (microseconds since the start of the run) and `SimDuration` a span of
//! microseconds. Both are plain `u64` newtypes: there is no floating-point clock anywhere, so two
//! runs of the same scenario order their events identically on every machine.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Microseconds in one second.
pub const MICROS_PER_SECOND: u64 = 1_000_000;

/// An instant of simulated time, in microseconds since t = 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

/// A span of simulated time, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

impl SimTime {
    /// The start of the run.
    pub const ZERO: SimTime = SimTime(0);
    /// The end of time (what never happens is scheduled here).
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// `micros` microseconds after the start.
    pub const fn from_micros(micros: u64) -> Self {
        SimTime(micros)
    }
    /// `secs` seconds after the start.
    pub const fn from_secs(secs: u64) -> Self {
        SimTime(secs * MICROS_PER_SECOND)
    }
    /// Microseconds since the start.
    pub const fn as_micros(self) -> u64 {
        self.0
    }
    /// Seconds as a float, for reports and plots only (never for ordering events).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_SECOND as f64
    }
    /// The span from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
    /// `d` earlier, or the start if that is before it.
    pub fn saturating_sub(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_sub(d.0))
    }
}

impl SimDuration {
    /// No time.
    pub const ZERO: SimDuration = SimDuration(0);
    /// The longest span (forever).
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    /// `micros` microseconds.
    pub const fn from_micros(micros: u64) -> Self {
        SimDuration(micros)
    }
    /// `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        SimDuration(millis * 1_000)
    }
    /// `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        SimDuration(secs * MICROS_PER_SECOND)
    }
    /// `mins` minutes.
    pub const fn from_mins(mins: u64) -> Self {
        SimDuration(mins * 60 * MICROS_PER_SECOND)
    }
    /// Rounds a non-negative number of seconds up to the next microsecond (saturating).
    pub fn from_secs_f64_ceil(secs: f64) -> Self {
        if secs.is_nan() || secs <= 0.0 {
            return SimDuration(0);
        }
        let micros = secs * MICROS_PER_SECOND as f64;
        if micros >= u64::MAX as f64 {
            return SimDuration(u64::MAX);
        }
        // ceil without a libm call: truncate, then add one if anything was cut off.
        let whole = micros as u64;
        SimDuration(if (whole as f64) < micros {
            whole + 1
        } else {
            whole
        })
    }
    /// The span in microseconds.
    pub const fn as_micros(self) -> u64 {
        self.0
    }
    /// Seconds as a float, for reports and arithmetic on rates (never for ordering events).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_SECOND as f64
    }
    /// Milliseconds as a float, for reports.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1_000.0
    }
    /// Whether it is no time at all.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
    /// `k` times the span, saturating at [`SimDuration::MAX`].
    pub fn saturating_mul(self, k: u64) -> SimDuration {
        SimDuration(self.0.saturating_mul(k))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

impl Sub for SimTime {
    type Output = SimDuration;
    /// Panics if `rhs` is later: subtracting a later instant is a logic error in the caller.
    fn sub(self, rhs: SimTime) -> SimDuration {
        SimDuration(
            self.0
                .checked_sub(rhs.0)
                .expect("SimTime subtraction went negative"),
        )
    }
}

impl fmt::Display for SimDuration {
    /// Go-style rendering (`1h30m`, `15s`, `250ms`, `1.5s`), the inverse of the scenario parser.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_go_duration(self.0, f)
    }
}

impl fmt::Display for SimTime {
    /// Elapsed time since the start as `HH:MM:SS` (plus `.mmm` when not on a whole second).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total_secs = self.0 / MICROS_PER_SECOND;
        let (h, m, s) = (total_secs / 3600, (total_secs / 60) % 60, total_secs % 60);
        let millis = (self.0 % MICROS_PER_SECOND) / 1_000;
        if millis == 0 {
            write!(f, "{h:02}:{m:02}:{s:02}")
        } else {
            write!(f, "{h:02}:{m:02}:{s:02}.{millis:03}")
        }
    }
}

fn format_go_duration(micros: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if micros == 0 {
        return f.write_str("0s");
    }
    if micros < 1_000 {
        return write!(f, "{micros}us");
    }
    if micros < MICROS_PER_SECOND {
        return write_with_fraction(f, micros, 1_000, "ms");
    }
    let total_secs = micros / MICROS_PER_SECOND;
    let sub_micros = micros % MICROS_PER_SECOND;
    let (h, m, s) = (total_secs / 3600, (total_secs / 60) % 60, total_secs % 60);
    if h > 0 {
        write!(f, "{h}h")?;
    }
    if h > 0 || m > 0 {
        write!(f, "{m}m")?;
    }
    write_with_fraction(
        f,
        s * MICROS_PER_SECOND + sub_micros,
        MICROS_PER_SECOND,
        "s",
    )
}

fn write_with_fraction(
    f: &mut fmt::Formatter<'_>,
    value: u64,
    unit: u64,
    suffix: &str,
) -> fmt::Result {
    let whole = value / unit;
    let frac = value % unit;
    if frac == 0 {
        return write!(f, "{whole}{suffix}");
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    write!(f, "{whole}.{}{suffix}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_render_go_style() {
        let cases = [
            (SimDuration::from_secs(15), "15s"),
            (SimDuration::from_mins(5), "5m0s"),
            (SimDuration::from_secs(5400), "1h30m0s"),
            (SimDuration::from_millis(250), "250ms"),
            (SimDuration::from_millis(1500), "1.5s"),
            (SimDuration::from_micros(7), "7us"),
            (SimDuration::ZERO, "0s"),
        ];
        for (d, want) in cases {
            assert_eq!(d.to_string(), want);
        }
    }

    #[test]
    fn time_arithmetic_is_exact_and_saturating() {
        // 15 s + 250 ms = 15 250 000 µs, exactly.
        let t = SimTime::from_secs(15) + SimDuration::from_millis(250);
        assert_eq!(t.as_micros(), 15_250_000);
        assert_eq!(t - SimTime::from_secs(15), SimDuration::from_millis(250));
        assert_eq!(SimTime::MAX + SimDuration::from_secs(1), SimTime::MAX);
        assert_eq!(
            SimTime::from_secs(1).saturating_since(SimTime::from_secs(2)),
            SimDuration::ZERO
        );
        assert_eq!(t.to_string(), "00:00:15.250");
    }

    #[test]
    fn float_seconds_round_up_to_the_microsecond() {
        // 0.1000001 s = 100 000.1 µs → 100 001 µs (ceil), so no work is ever lost to rounding.
        assert_eq!(
            SimDuration::from_secs_f64_ceil(0.1000001).as_micros(),
            100_001
        );
        assert_eq!(SimDuration::from_secs_f64_ceil(-1.0), SimDuration::ZERO);
        assert_eq!(SimDuration::from_secs_f64_ceil(f64::NAN), SimDuration::ZERO);
    }
}
