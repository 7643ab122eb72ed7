//! Why a pod's container restarted (`kubesim explain --pod NAME`): each kill by the kubelet
//! with its cause and numbers — a startup or liveness probe's `failureThreshold` failures in a
//! row and why the app did not answer (still warming up, or more requests in flight than it
//! answers probes under), the working set over the memory limit (OOMKilled), a random crash —
//! and the restart back-off: 10 s, doubled at each exit up to 5 min, from 10 s again after
//! 10 min without an exit.

use std::fmt::Write;

use crate::controllers::kubelet::record::{RestartCause, RestartRecord};
use crate::controllers::kubelet::{BACKOFF_INITIAL, BACKOFF_MAX, BackoffStep, ProbeKind};
use crate::scenario::ProbeSpec;
use crate::sim::{SimDuration, SimTime};
use crate::spec::quantity::format_bytes;

/// The restarts of `pod`'s container, one line each (`None`: it never restarted).
pub fn story(records: &[RestartRecord], pod: &str) -> Option<String> {
    let mine: Vec<&RestartRecord> = records.iter().filter(|r| r.pod == pod).collect();
    let last = mine.last()?;
    let times = if last.restarts == 1 { "once" } else { "times" };
    let count = match last.restarts {
        1 => String::new(),
        n => format!("{n} "),
    };
    let mut text = format!("Why its container restarted ({count}{times}):\n");
    for r in mine {
        let _ = writeln!(text, "  {} {}", r.at, line(r));
    }
    Some(text)
}

/// One restart without its time: `restart 2: <cause>; back-off 20s (…), so it starts again at T`.
pub fn line(r: &RestartRecord) -> String {
    let mut text = format!("restart {}: {}", r.restarts, cause(r));
    if let Some(step) = r.backoff {
        let again = r.at + step.delay;
        let _ = write!(text, "; {}, so it starts again at {again}", backoff(step));
    }
    text
}

fn cause(r: &RestartRecord) -> String {
    match r.cause {
        RestartCause::Probe {
            kind,
            spec,
            answers_from,
            overload,
        } => probe(r, kind, &spec, answers_from, overload),
        RestartCause::OutOfMemory {
            working_set,
            limit,
            in_flight,
        } => format!(
            "its working set, {} with {in_flight} requests in flight, went over its memory limit {}: OOMKilled (exit code 137)",
            format_bytes(working_set),
            format_bytes(limit)
        ),
        RestartCause::Crash { mtbf } => match mtbf {
            Some(mtbf) => format!(
                "the container crashed (exit code 1): this workload crashes at random, once every {mtbf} on average (crashMTBF)"
            ),
            None => "the container crashed (exit code 1)".to_string(),
        },
        RestartCause::Resize => {
            "an in-place resize whose resizePolicy is RestartContainer: stopped and started again at once, with no back-off".to_string()
        }
    }
}

/// A probe's `failureThreshold` failures in a row, and why the app did not answer.
fn probe(
    r: &RestartRecord,
    kind: ProbeKind,
    spec: &ProbeSpec,
    answers_from: SimTime,
    overload: Option<(usize, u32)>,
) -> String {
    let name = kind.name().to_lowercase();
    let threshold = spec.failure_threshold;
    let since_first = spec
        .period
        .saturating_mul(u64::from(threshold.saturating_sub(1)));
    let first_failure = r.at.saturating_sub(since_first);
    let from_start = spec.initial_delay + since_first;
    let mut text = if r.started + from_start == r.at {
        // Every check since the start failed: the probe gave up at its deadline.
        format!(
            "the {name} probe gives up at {} (the start) + initialDelaySeconds {} + (failureThreshold {threshold} − 1) × periodSeconds {} = {}, every check having failed",
            r.started,
            seconds(spec.initial_delay),
            seconds(spec.period),
            r.at
        )
    } else if threshold == 1 {
        format!(
            "the {name} probe failed (failureThreshold 1, periodSeconds {})",
            seconds(spec.period)
        )
    } else {
        format!(
            "the {name} probe failed {threshold} times in a row from {first_failure} (failureThreshold {threshold}, periodSeconds {})",
            seconds(spec.period)
        )
    };
    if let Some((in_flight, limit)) = overload {
        let _ = write!(
            text,
            ": the app fails probes with more than {limit} requests in flight, and it had {in_flight}"
        );
    } else if answers_from > first_failure {
        let warm = answers_from.saturating_since(r.started);
        let _ = write!(
            text,
            ": the app answers only from {answers_from}, {warm} after the start (its warm-up)"
        );
    }
    text + "; the kubelet kills the container"
}

/// The back-off with its arithmetic.
fn backoff(step: BackoffStep) -> String {
    let delay = step.delay;
    match step.previous {
        None => format!("back-off {delay} (the first exit)"),
        Some(_) if step.since_previous_exit > BACKOFF_MAX + BACKOFF_MAX => format!(
            "back-off {delay} (the exit before was {} ago, more than 2 × {BACKOFF_MAX}: from {BACKOFF_INITIAL} again)",
            step.since_previous_exit
        ),
        Some(previous) if previous == BACKOFF_MAX => {
            format!("back-off {delay} (the cap, MaxContainerBackOff)")
        }
        Some(previous) if previous + previous > BACKOFF_MAX => {
            format!("back-off {delay} ({previous} doubled, capped at {BACKOFF_MAX})")
        }
        Some(previous) => format!("back-off {delay} ({previous} doubled)"),
    }
}

/// Whole seconds as a manifest writes them, else with their fraction.
fn seconds(d: SimDuration) -> String {
    let micros = d.as_micros();
    match micros % 1_000_000 {
        0 => (micros / 1_000_000).to_string(),
        _ => format!("{}", d.as_secs_f64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::kubelet::RestartBackoff;

    /// The back-offs of a container that exits at `exits` (seconds).
    fn steps(exits: &[u64]) -> Vec<String> {
        let mut b = RestartBackoff::default();
        (exits.iter())
            .map(|&t| backoff(b.step(SimTime::from_secs(t))))
            .collect()
    }

    #[test]
    fn back_offs_double_to_the_cap_and_start_again_after_ten_minutes() {
        // 10 → 20 → 40 → 80 → 160 → 320 capped to 300 → 300; then an exit 601 s after the
        // one before (> 2 × 300 s) starts from 10 s again.
        let told = steps(&[0, 20, 50, 100, 190, 360, 670, 1271]);
        assert_eq!(
            told,
            [
                "back-off 10s (the first exit)",
                "back-off 20s (10s doubled)",
                "back-off 40s (20s doubled)",
                "back-off 1m20s (40s doubled)",
                "back-off 2m40s (1m20s doubled)",
                "back-off 5m0s (2m40s doubled, capped at 5m0s)",
                "back-off 5m0s (the cap, MaxContainerBackOff)",
                "back-off 10s (the exit before was 10m1s ago, more than 2 × 5m0s: from 10s again)",
            ]
        );
    }
}
