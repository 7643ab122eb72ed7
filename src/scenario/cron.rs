//! CronJob schedules: the standard five-field cron syntax as the CronJob controller parses it
//! (robfig/cron's standard parser) — minute, hour, day of month, month, day of week, each `*`,
//! a value, a range `a-b`, a step `*/n` or `a-b/n`, or a list of those; month and weekday names
//! (`JAN`, `MON`); `?` as `*` in the day fields; and the descriptors `@yearly` (`@annually`),
//! `@monthly`, `@weekly`, `@daily` (`@midnight`) and `@hourly`. As there, when both day fields
//! are restricted a day matches either, and when either is `*` it must match both.
//!
//! Schedule times are found minute by minute in the CronJob's time zone (the IANA database
//! bundled with kubesim, so every machine agrees): a local time a daylight-saving change skips
//! never fires, and one it repeats fires at each occurrence.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::sim::{SimDuration, SimTime};

/// A parsed schedule: one bit per allowed value of each field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CronSchedule {
    minutes: u64,
    hours: u32,
    days_of_month: u32,
    months: u16,
    days_of_week: u8,
    /// The day fields as written: `*` (or `?`) there means "any".
    dom_any: bool,
    dow_any: bool,
}

/// One field's range and names.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: Field = Field {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
};
const DAY_OF_WEEK: Field = Field {
    name: "day of week",
    min: 0,
    max: 6,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
};

impl CronSchedule {
    /// Parses a schedule; the error says which field is wrong and why.
    pub fn parse(text: &str) -> Result<CronSchedule, String> {
        let text = text.trim();
        let expanded = match text {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            t if t.starts_with("TZ=") || t.starts_with("CRON_TZ=") => {
                return Err(
                    "TZ and CRON_TZ are not allowed in the schedule: use `timeZone`".into(),
                );
            }
            t if t.starts_with("@every") => {
                return Err("@every is not modelled: write the interval as cron fields (e.g. `*/5 * * * *`)".into());
            }
            t if t.starts_with('@') => {
                return Err(format!(
                    "unknown descriptor {t:?}: use @yearly, @monthly, @weekly, @daily or @hourly"
                ));
            }
            t => t,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
                fields.len()
            ));
        }
        let any = |f: &str| f == "*" || f == "?";
        Ok(CronSchedule {
            minutes: bits(fields[0], &MINUTE)?,
            hours: bits(fields[1], &HOUR)? as u32,
            days_of_month: bits(fields[2], &DAY_OF_MONTH)? as u32,
            months: bits(fields[3], &MONTH)? as u16,
            days_of_week: bits(fields[4], &DAY_OF_WEEK)? as u8,
            dom_any: any(fields[2]),
            dow_any: any(fields[4]),
        })
    }

    /// Whether the schedule fires at this local minute (month 1–12, weekday 0 = Sunday).
    pub fn matches(&self, minute: u32, hour: u32, day: u32, month: u32, weekday: u32) -> bool {
        let has = |set: u64, v: u32| set >> v & 1 == 1;
        let dom = has(u64::from(self.days_of_month), day);
        let dow = has(u64::from(self.days_of_week), weekday);
        let day_ok = if self.dom_any || self.dow_any {
            dom && dow
        } else {
            dom || dow
        };
        has(self.minutes, minute)
            && has(u64::from(self.hours), hour)
            && has(u64::from(self.months), month)
            && day_ok
    }

    /// Every time the schedule fires in `(start, start + duration]` of simulated time, where
    /// t = 0 is the wall-clock instant `start` and local times are in `zone`.
    pub fn times(&self, start: Timestamp, zone: &TimeZone, duration: SimDuration) -> Vec<SimTime> {
        let first = start.as_second().div_euclid(60) + 1; // the first whole minute after start
        let end = start.as_second() + (duration.as_micros() / 1_000_000) as i64;
        let mut out = Vec::new();
        let mut minute = first;
        while minute * 60 <= end {
            let Ok(at) = Timestamp::from_second(minute * 60) else {
                break;
            };
            let local = at.to_zoned(zone.clone());
            let weekday = local.weekday().to_sunday_zero_offset() as u32;
            let (mi, h, d, mo) = (local.minute(), local.hour(), local.day(), local.month());
            if self.matches(mi as u32, h as u32, d as u32, mo as u32, weekday) {
                let offset = (minute * 60 - start.as_second()) as u64;
                out.push(SimTime::ZERO + SimDuration::from_secs(offset));
            }
            minute += 1;
        }
        out
    }
}

/// One field's allowed values as bits (bit v set = value v allowed).
fn bits(text: &str, f: &Field) -> Result<u64, String> {
    let mut set = 0u64;
    for part in text.split(',') {
        set |= part_bits(part, f)?;
    }
    Ok(set)
}

/// `*`, `?`, `v`, `a-b`, with an optional `/step`.
fn part_bits(part: &str, f: &Field) -> Result<u64, String> {
    let (range, step) = match part.split_once('/') {
        Some((r, s)) => {
            let step: u32 = s
                .parse()
                .map_err(|_| format!("{} field: step {s:?} is not a number", f.name))?;
            if step == 0 {
                return Err(format!("{} field: a step must be at least 1", f.name));
            }
            (r, Some(step))
        }
        None => (part, None),
    };
    let (low, high) = match range {
        "*" | "?" => (f.min, f.max),
        r => match r.split_once('-') {
            Some((a, b)) => (value(a, f)?, value(b, f)?),
            // `5/15` means from 5 to the end by 15.
            None if step.is_some() => (value(r, f)?, f.max),
            None => {
                let v = value(r, f)?;
                (v, v)
            }
        },
    };
    if low > high {
        return Err(format!(
            "{} field: range {range:?} goes backwards ({low} > {high})",
            f.name
        ));
    }
    let step = step.unwrap_or(1);
    Ok((low..=high)
        .step_by(step as usize)
        .fold(0, |set, v| set | 1 << v))
}

/// A number in the field's range, or one of its names (case-insensitive).
fn value(text: &str, f: &Field) -> Result<u32, String> {
    if let Some(i) = (f.names.iter()).position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(f.min + i as u32);
    }
    let v: u32 = text.parse().map_err(|_| {
        let names = if f.names.is_empty() {
            String::new()
        } else {
            format!(" or a name ({})", f.names.join(", "))
        };
        format!(
            "{} field: {text:?} is not a number from {} to {}{names}",
            f.name, f.min, f.max
        )
    })?;
    if v < f.min || v > f.max {
        return Err(format!(
            "{} field: {v} is outside {} to {}",
            f.name, f.min, f.max
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// The first `n` firing times after `start` in `zone`, as RFC 3339 instants.
    fn next(schedule: &str, start: &str, zone: &str, n: usize) -> Vec<String> {
        let s = CronSchedule::parse(schedule).unwrap();
        let tz = TimeZone::get(zone).unwrap();
        let start = at(start);
        s.times(start, &tz, SimDuration::from_mins(60 * 24 * 400))
            .into_iter()
            .take(n)
            .map(|t| {
                let secs = start.as_second() + (t.as_micros() / 1_000_000) as i64;
                Timestamp::from_second(secs).unwrap().to_string()
            })
            .collect()
    }

    #[test]
    fn next_times_as_robfig_cron_gives_them() {
        // Cases in the manner of robfig/cron's TestNext (times in UTC unless a zone is given).
        let cases: [(&str, &str, &str, &[&str]); 8] = [
            // Every 15 minutes from :00.
            (
                "*/15 * * * *",
                "2026-01-05T10:07:00Z",
                "UTC",
                &["2026-01-05T10:15:00Z", "2026-01-05T10:30:00Z"],
            ),
            // 02:30 on weekdays: Friday 9th, then Monday 12th (the weekend is skipped).
            (
                "30 2 * * MON-FRI",
                "2026-01-09T00:00:00Z",
                "UTC",
                &["2026-01-09T02:30:00Z", "2026-01-12T02:30:00Z"],
            ),
            // Both day fields restricted: the 1st of the month OR a Sunday.
            (
                "0 0 1 * SUN",
                "2026-01-30T00:00:00Z",
                "UTC",
                &["2026-02-01T00:00:00Z", "2026-02-08T00:00:00Z"],
            ),
            // The 31st only exists in some months.
            (
                "0 12 31 * *",
                "2026-01-31T13:00:00Z",
                "UTC",
                &["2026-03-31T12:00:00Z"],
            ),
            // A range with a step, and a list.
            (
                "5-20/5 1,13 * * *",
                "2026-01-05T00:00:00Z",
                "UTC",
                &[
                    "2026-01-05T01:05:00Z",
                    "2026-01-05T01:10:00Z",
                    "2026-01-05T01:15:00Z",
                    "2026-01-05T01:20:00Z",
                    "2026-01-05T13:05:00Z",
                ],
            ),
            // Midnight in New York is 05:00 UTC in winter, 04:00 in summer.
            (
                "@daily",
                "2026-03-07T12:00:00Z",
                "America/New_York",
                &["2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z"],
            ),
            // 02:30 does not exist in New York on 2026-03-08 (clocks jump 02:00 → 03:00).
            (
                "30 2 * * *",
                "2026-03-07T12:00:00Z",
                "America/New_York",
                &["2026-03-09T06:30:00Z"],
            ),
            // 01:30 happens twice on 2026-11-01 (clocks fall back 02:00 → 01:00): fires twice.
            (
                "30 1 * * *",
                "2026-10-31T12:00:00Z",
                "America/New_York",
                &["2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z"],
            ),
        ];
        for (schedule, start, zone, want) in cases {
            assert_eq!(
                next(schedule, start, zone, want.len()),
                want.to_vec(),
                "{schedule} from {start} in {zone}"
            );
        }
    }

    #[test]
    fn bad_schedules_say_which_field() {
        let cases = [
            ("* * * *", "expected 5 fields"),
            ("60 * * * *", "minute field: 60 is outside 0 to 59"),
            ("* 24 * * *", "hour field: 24 is outside 0 to 23"),
            ("* * 0 * *", "day of month field: 0 is outside 1 to 31"),
            (
                "* * * FOO *",
                "month field: \"FOO\" is not a number from 1 to 12 or a name",
            ),
            ("*/0 * * * *", "minute field: a step must be at least 1"),
            ("* 5-2 * * *", "hour field: range \"5-2\" goes backwards"),
            ("@every 5m", "@every is not modelled"),
            ("@fortnightly", "unknown descriptor"),
            ("TZ=UTC 0 * * * *", "use `timeZone`"),
        ];
        for (schedule, want) in cases {
            let err = CronSchedule::parse(schedule).unwrap_err();
            assert!(err.contains(want), "{schedule}: {err}");
        }
    }
}
