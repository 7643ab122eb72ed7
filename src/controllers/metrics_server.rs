//! metrics-server as the HPA sees it: every `--metric-resolution` it scrapes each running pod's
//! cumulative CPU time and keeps the last two points. A pod's CPU is the rate between them; a pod
//! appears only with two points, or with one point and a container at least 10 s old (its start
//! time then serves as the previous point with zero usage). `timestamp` and `window` are passed
//! to the HPA's readiness rules.

use crate::cluster::PodId;
use crate::sim::{SimDuration, SimTime};

/// One pod's metric as the resource metrics API returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodMetric {
    /// CPU usage in millicores over the window.
    pub cpu_millis: i64,
    pub timestamp: SimTime,
    pub window: SimDuration,
}

/// Cumulative CPU at a scrape: millicore·microseconds used since the container started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Point {
    time: SimTime,
    cpu_millicore_micros: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct PodSamples {
    started: Option<SimTime>,
    last: Option<Point>,
    prev: Option<Point>,
}

/// The metrics-server's store of the last two points per pod.
#[derive(Clone, Debug)]
pub struct MetricsServer {
    pub resolution: SimDuration,
    samples: Vec<PodSamples>,
}

/// A container younger than this at its first scrape has no usable rate yet.
const MIN_CONTAINER_AGE: SimDuration = SimDuration::from_secs(10);

impl MetricsServer {
    pub fn new(resolution: SimDuration) -> Self {
        MetricsServer {
            resolution,
            samples: Vec::new(),
        }
    }

    /// Records one scrape of one running pod.
    pub fn record(
        &mut self,
        pod: PodId,
        started: SimTime,
        now: SimTime,
        cpu_millicore_micros: u64,
    ) {
        if self.samples.len() <= pod.index() {
            self.samples.resize(pod.index() + 1, PodSamples::default());
        }
        let s = &mut self.samples[pod.index()];
        s.started = Some(started);
        s.prev = s.last;
        s.last = Some(Point {
            time: now,
            cpu_millicore_micros,
        });
    }

    /// Drops a pod that is gone.
    pub fn forget(&mut self, pod: PodId) {
        if let Some(s) = self.samples.get_mut(pod.index()) {
            *s = PodSamples::default();
        }
    }

    /// The pod's metric, if metrics-server would return one.
    pub fn pod_metric(&self, pod: PodId) -> Option<PodMetric> {
        let s = self.samples.get(pod.index())?;
        let last = s.last?;
        let prev = match s.prev {
            Some(p) => p,
            None => {
                let started = s.started?;
                if last.time.saturating_since(started) < MIN_CONTAINER_AGE {
                    return None;
                }
                Point {
                    time: started,
                    cpu_millicore_micros: 0,
                }
            }
        };
        let window = last.time.saturating_since(prev.time);
        if window.is_zero() {
            return None;
        }
        let used = last
            .cpu_millicore_micros
            .saturating_sub(prev.cpu_millicore_micros);
        // Rate in millicores, rounded to the nearest millicore.
        let cpu_millis = ((used + window.as_micros() / 2) / window.as_micros()) as i64;
        Some(PodMetric {
            cpu_millis,
            timestamp: last.time,
            window,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_between_the_last_two_scrapes() {
        let mut m = MetricsServer::new(SimDuration::from_secs(15));
        let pod = PodId(3);
        let t0 = SimTime::from_secs(100);
        // Started at 100 s, first scrape at 105 s: only 5 s old → no metric yet.
        m.record(pod, t0, SimTime::from_secs(105), 5 * 1_000_000 * 500);
        assert_eq!(m.pod_metric(pod), None);
        // Second scrape at 120 s: used 15 s × 800m more → rate 800m over a 15 s window.
        m.record(
            pod,
            t0,
            SimTime::from_secs(120),
            5 * 1_000_000 * 500 + 15 * 1_000_000 * 800,
        );
        assert_eq!(
            m.pod_metric(pod),
            Some(PodMetric {
                cpu_millis: 800,
                timestamp: SimTime::from_secs(120),
                window: SimDuration::from_secs(15)
            })
        );
    }

    #[test]
    fn one_point_is_enough_for_a_container_older_than_ten_seconds() {
        let mut m = MetricsServer::new(SimDuration::from_secs(15));
        // Started at 0, first scrape at 12 s with 12 s × 250m used → 250m over a 12 s window.
        m.record(
            PodId(0),
            SimTime::ZERO,
            SimTime::from_secs(12),
            12 * 1_000_000 * 250,
        );
        assert_eq!(
            m.pod_metric(PodId(0)).map(|p| (p.cpu_millis, p.window)),
            Some((250, SimDuration::from_secs(12)))
        );
        m.forget(PodId(0));
        assert_eq!(m.pod_metric(PodId(0)), None);
    }
}
