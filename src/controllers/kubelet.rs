//! kubelet: how long a bound pod takes to start (image pulls, one at a time per node, then the
//! container start), its probe workers (E.1) and the restart backoff of its container (E.2).
//! The engine runs the workers on their periods and restarts containers; the arithmetic is here.

pub mod record;

use std::collections::BTreeMap;

use crate::scenario::{ProbeSpec, WorkloadModel};
use crate::sim::{SimDuration, SimRng, SimTime};

/// How long from binding until the container runs (image pull and start).
pub fn startup_delay(workload: &WorkloadModel, rng: &mut SimRng) -> SimDuration {
    workload.startup_time.sample(rng)
}

/// The images a node has (or is pulling), and its one puller: the kubelet pulls one image at a
/// time (`serializeImagePulls: true`, the default).
#[derive(Clone, Debug, Default)]
pub struct ImageCache {
    ready_at: BTreeMap<String, SimTime>,
    busy_until: SimTime,
}

impl ImageCache {
    /// When all of `images` are on the node, the missing ones pulled from `now` on, one after
    /// another, at `bandwidth` bytes per second (no bandwidth, or an image of unknown size:
    /// no time). An image another pod is pulling is ready when that pull ends.
    pub fn pull(
        &mut self,
        images: &[String],
        sizes: &BTreeMap<String, i64>,
        bandwidth: Option<i64>,
        now: SimTime,
    ) -> SimTime {
        let mut done = now;
        for image in images {
            let ready = match self.ready_at.get(image) {
                Some(&at) => at,
                None => {
                    let start = self.busy_until.max(now);
                    let bytes = sizes.get(image).copied().unwrap_or(0);
                    let secs = bandwidth.map_or(0.0, |b| bytes as f64 / b as f64);
                    let end = start + SimDuration::from_secs_f64_ceil(secs);
                    self.busy_until = end;
                    self.ready_at.insert(image.clone(), end);
                    end
                }
            };
            done = done.max(ready);
        }
        done
    }
}

/// The three probe kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProbeKind {
    Startup,
    Readiness,
    Liveness,
}

impl ProbeKind {
    pub const ALL: [ProbeKind; 3] = [
        ProbeKind::Startup,
        ProbeKind::Readiness,
        ProbeKind::Liveness,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ProbeKind::Startup => "Startup",
            ProbeKind::Readiness => "Readiness",
            ProbeKind::Liveness => "Liveness",
        }
    }
}

/// A probe worker's result: it changes only after `successThreshold` consecutive successes or
/// `failureThreshold` consecutive failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeWorker {
    /// `None`: Unknown (a startup probe before it decides).
    pub result: Option<bool>,
    last: Option<bool>,
    run: u32,
}

impl ProbeWorker {
    /// Initial results: readiness Failure, liveness Success, startup Unknown.
    pub fn new(kind: ProbeKind) -> ProbeWorker {
        ProbeWorker {
            result: match kind {
                ProbeKind::Startup => None,
                ProbeKind::Readiness => Some(false),
                ProbeKind::Liveness => Some(true),
            },
            last: None,
            run: 0,
        }
    }

    /// Records one probe; returns the new result when it changed.
    pub fn observe(&mut self, spec: &ProbeSpec, success: bool) -> Option<bool> {
        if self.last == Some(success) {
            self.run += 1;
        } else {
            self.last = Some(success);
            self.run = 1;
        }
        let needed = if success {
            spec.success_threshold
        } else {
            spec.failure_threshold
        };
        if self.run < needed || self.result == Some(success) {
            return None;
        }
        self.result = Some(success);
        Some(success)
    }
}

/// Whether the app answers a probe now: it has warmed up, and (with a load threshold) it is not
/// overloaded.
pub fn probe_succeeds(
    workload: &WorkloadModel,
    listening_from: SimTime,
    in_flight: usize,
    now: SimTime,
) -> bool {
    now >= listening_from
        && workload
            .probe_fails_above_in_flight
            .is_none_or(|limit| in_flight <= limit as usize)
}

/// Restart backoff (`flowcontrol.Backoff` with 10 s initial, 300 s max): each exit doubles the
/// wait before the next start; an exit more than 10 minutes (2 × max) after the previous one
/// starts again from 10 s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestartBackoff {
    delay: Option<SimDuration>,
    last_exit: SimTime,
}

/// `backOffPeriod`.
pub const BACKOFF_INITIAL: SimDuration = SimDuration::from_secs(10);
/// `MaxContainerBackOff`.
pub const BACKOFF_MAX: SimDuration = SimDuration::from_secs(300);

impl RestartBackoff {
    /// The container exited at `now`: how long until it is started again.
    pub fn next(&mut self, now: SimTime) -> SimDuration {
        let expired = now.saturating_since(self.last_exit) > BACKOFF_MAX + BACKOFF_MAX;
        let delay = match self.delay {
            Some(d) if !expired => (d + d).min(BACKOFF_MAX),
            _ => BACKOFF_INITIAL,
        };
        self.delay = Some(delay);
        self.last_exit = now;
        delay
    }

    /// [`RestartBackoff::next`], with what it read: the delay before and the time since the
    /// exit before.
    pub fn step(&mut self, now: SimTime) -> BackoffStep {
        let previous = self.delay;
        let since_previous_exit = now.saturating_since(self.last_exit);
        BackoffStep {
            delay: self.next(now),
            previous,
            since_previous_exit,
        }
    }
}

/// One restart back-off: the delay, from the one before (doubled, capped at
/// [`BACKOFF_MAX`]) unless the exit before was more than twice that ago (then
/// [`BACKOFF_INITIAL`] again).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffStep {
    pub delay: SimDuration,
    /// The delay before the previous start (`None`: the first exit).
    pub previous: Option<SimDuration>,
    pub since_previous_exit: SimDuration,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(success: u32, failure: u32) -> ProbeSpec {
        ProbeSpec {
            initial_delay: SimDuration::ZERO,
            period: SimDuration::from_secs(10),
            timeout: SimDuration::from_secs(1),
            success_threshold: success,
            failure_threshold: failure,
        }
    }

    #[test]
    fn results_flip_only_after_their_thresholds() {
        // Readiness (success 2, failure 3): starts Failure; two successes make it Success; a
        // failure then success resets the run; three failures in a row make it Failure.
        let s = spec(2, 3);
        let mut w = ProbeWorker::new(ProbeKind::Readiness);
        assert_eq!(w.observe(&s, true), None);
        assert_eq!(w.observe(&s, true), Some(true));
        assert_eq!(w.observe(&s, false), None);
        assert_eq!(w.observe(&s, true), None);
        assert_eq!(w.observe(&s, false), None);
        assert_eq!(w.observe(&s, false), None);
        assert_eq!(w.observe(&s, false), Some(false));
        assert_eq!(w.observe(&s, false), None, "already Failure");
        // Liveness (default failure 3) starts Success: failures flip it on the third.
        let mut l = ProbeWorker::new(ProbeKind::Liveness);
        let d = spec(1, 3);
        assert_eq!((l.observe(&d, false), l.observe(&d, false)), (None, None));
        assert_eq!(l.observe(&d, false), Some(false));
        // Startup starts Unknown: one success decides it.
        let mut st = ProbeWorker::new(ProbeKind::Startup);
        assert_eq!(st.observe(&d, true), Some(true));
    }

    #[test]
    fn crash_loop_backoff_doubles_to_five_minutes_and_resets_after_ten() {
        // Exits every 5 s: waits 10, 20, 40, 80, 160, 300, 300 s.
        let mut b = RestartBackoff::default();
        let mut t = SimTime::from_secs(100);
        let mut waits = Vec::new();
        for _ in 0..7 {
            let wait = b.next(t);
            waits.push(wait.as_secs_f64());
            t = t + wait + SimDuration::from_secs(5);
        }
        assert_eq!(waits, vec![10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]);
        // An exit 10 min after the last one is not a crash loop: 20 s would follow 10 s, but
        // 600 s + 1 µs later it starts over at 10 s.
        let mut r = RestartBackoff::default();
        r.next(SimTime::from_secs(0));
        assert_eq!(r.next(SimTime::from_secs(600)), SimDuration::from_secs(20));
        assert_eq!(
            r.next(SimTime::from_micros(1_200_000_001)),
            SimDuration::from_secs(10)
        );
    }

    #[test]
    fn images_pull_one_at_a_time_and_once_per_node() {
        // 100 MiB/s. Pod 1 at 0 s needs a (500 MiB) and b (200 MiB): a 0–5 s, b 5–7 s.
        // Pod 2 at 1 s needs b and c (100 MiB): b is ready at 7 s, c queues after it, 7–8 s.
        // Pod 3 at 20 s needs a: already there.
        let mib = 1 << 20;
        let sizes: BTreeMap<String, i64> = [
            ("a".into(), 500 * mib),
            ("b".into(), 200 * mib),
            ("c".into(), 100 * mib),
        ]
        .into();
        let images = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut cache = ImageCache::default();
        let bw = Some(100 * mib);
        let t = SimTime::from_secs;
        assert_eq!(cache.pull(&images(&["a", "b"]), &sizes, bw, t(0)), t(7));
        assert_eq!(cache.pull(&images(&["b", "c"]), &sizes, bw, t(1)), t(8));
        assert_eq!(cache.pull(&images(&["a"]), &sizes, bw, t(20)), t(20));
        // Without a bandwidth pulls take no time.
        let mut free = ImageCache::default();
        assert_eq!(free.pull(&images(&["a"]), &sizes, None, t(3)), t(3));
    }

    #[test]
    fn probes_fail_while_warming_up_or_overloaded() {
        let mut w = WorkloadModel::default();
        let t = SimTime::from_secs;
        assert!(!probe_succeeds(&w, t(30), 0, t(29)));
        assert!(probe_succeeds(&w, t(30), 1000, t(30)));
        w.probe_fails_above_in_flight = Some(40);
        assert!(probe_succeeds(&w, t(0), 40, t(30)));
        assert!(!probe_succeeds(&w, t(0), 41, t(30)));
    }
}
