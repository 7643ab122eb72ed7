//! `spec.traffic[].arrivals.closedLoop`: users who each send a request, wait for its answer and
//! their think time, and send the next; their count ramps through `stages` as k6's
//! `ramping-vus` executor does.

use std::sync::Arc;

use super::Builder;
use crate::scenario::model::{ArrivalPattern, ArrivalShape, ClosedLoop};
use crate::scenario::raw::{RawClosedLoop, RawStage};
use crate::sim::dist::DurationDist;
use crate::sim::{SimDuration, SimTime};

/// Most users a closed loop may have at once.
pub(super) const MAX_USERS: u32 = 100_000;
/// Most stages a closed loop may have.
const MAX_STAGES: usize = 10_000;

impl Builder<'_> {
    /// `closedLoop: {users, thinkTime, stages}`: a pattern without a rate.
    pub(super) fn closed_loop(&mut self, path: &str, raw: &RawClosedLoop) -> ArrivalPattern {
        let empty = ArrivalPattern::constant(0.0);
        let users = match raw.users {
            Some(n) if n <= MAX_USERS => n,
            Some(n) => {
                self.error(
                    &format!("{path}.users"),
                    format!("{n} is out of range: 0 to {MAX_USERS}"),
                );
                return empty;
            }
            None if !raw.stages.is_empty() => 0,
            None => {
                self.error(
                    &format!("{path}.users"),
                    "required: how many users send requests (or stages that ramp them up from 0)",
                );
                return empty;
            }
        };
        let think = raw
            .think_time
            .as_ref()
            .map_or(DurationDist::Constant(SimDuration::ZERO), |d| {
                self.distribution(&format!("{path}.thinkTime"), d)
            });
        if raw.stages.len() > MAX_STAGES {
            self.error(
                &format!("{path}.stages"),
                format!("{} stages: at most {MAX_STAGES}", raw.stages.len()),
            );
            return empty;
        }
        let Some(stages) = self.stages(path, &raw.stages) else {
            return empty;
        };
        ArrivalPattern {
            shape: ArrivalShape::ClosedLoop(Arc::new(ClosedLoop {
                users,
                think,
                changes: ramp_changes(users, &stages),
            })),
            ..empty
        }
    }

    fn stages(&mut self, path: &str, raw: &[RawStage]) -> Option<Vec<(SimDuration, u32)>> {
        let mut stages = Vec::with_capacity(raw.len());
        let mut ok = true;
        for (i, stage) in raw.iter().enumerate() {
            let at = format!("{path}.stages[{i}]");
            let duration = stage.duration.map(|d| d.0);
            if duration.is_none() {
                self.error(
                    &format!("{at}.duration"),
                    "required: how long the ramp to target takes (0s for a step)",
                );
                ok = false;
            }
            let target = match stage.target {
                Some(n) if n <= MAX_USERS => Some(n),
                Some(n) => {
                    self.error(
                        &format!("{at}.target"),
                        format!("{n} is out of range: 0 to {MAX_USERS}"),
                    );
                    None
                }
                None => {
                    self.error(
                        &format!("{at}.target"),
                        "required: the users at the stage's end",
                    );
                    None
                }
            };
            if let (Some(d), Some(t)) = (duration, target) {
                stages.push((d, t));
            } else {
                ok = false;
            }
        }
        ok.then_some(stages)
    }
}

/// The times the user count changes, and to what: each stage moves it linearly from the last
/// stage's target to its own over its duration, and the count is that line rounded to the
/// nearest whole user (k + ½ crossed: k + 1 users going up, k going down).
pub(super) fn ramp_changes(users: u32, stages: &[(SimDuration, u32)]) -> Vec<(SimTime, u32)> {
    let mut changes = Vec::new();
    let mut start = SimTime::ZERO;
    let mut from = users;
    for &(duration, to) in stages {
        let span = duration.as_micros() as f64;
        let (a, b) = (f64::from(from), f64::from(to));
        let at = |value: f64| {
            start + SimDuration::from_micros(((value - a) / (b - a) * span).ceil() as u64)
        };
        if to > from {
            changes.extend((from + 1..=to).map(|k| (at(f64::from(k) - 0.5), k)));
        } else if to < from {
            changes.extend((to..from).rev().map(|k| (at(f64::from(k) + 0.5), k)));
        }
        start += duration;
        from = to;
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(secs)
    }

    #[test]
    fn a_ramp_adds_a_user_each_time_the_line_passes_a_half() {
        // 0 → 4 users over 8 s: the line is at k − ½ at 2k − 1 seconds.
        let up = ramp_changes(0, &[(SimDuration::from_secs(8), 4)]);
        assert_eq!(up, vec![(t(1), 1), (t(3), 2), (t(5), 3), (t(7), 4)]);
        // Then hold 4 for 10 s, and step down to 1 at once.
        let steps = [
            (SimDuration::from_secs(8), 4),
            (SimDuration::from_secs(10), 4),
            (SimDuration::ZERO, 1),
        ];
        let all = ramp_changes(0, &steps);
        assert_eq!(&all[4..], &[(t(18), 3), (t(18), 2), (t(18), 1)]);
        // Down from 3 to 1 over 4 s: 2.5 at 1 s, 1.5 at 3 s.
        let down = ramp_changes(3, &[(SimDuration::from_secs(4), 1)]);
        assert_eq!(down, vec![(t(1), 2), (t(3), 1)]);
    }
}
