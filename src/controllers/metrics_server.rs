//! metrics-server as the HPA sees it: every `--metric-resolution` it scrapes each running pod's
//! cumulative CPU time and memory working set and keeps the last two points. A pod's CPU is the
//! rate between them, its memory the working set at the last scrape; a pod appears only with two
//! points, or with one point and a container at least 10 s old (its start time then serves as
//! the previous point with zero usage). `timestamp` and `window` are passed to the HPA's
//! readiness rules.
//!
//! It also stands in for a custom-metrics adapter (prometheus-adapter): at each scrape it reads
//! the per-pod serving gauges (requests in flight, queue length) and the completion counter, so
//! HPAs can scale on Pods metrics such as queue depth or requests per second. The engine records
//! them only when some HPA of the scenario reads them (`Scenario::reads_serving_metrics`).

use crate::cluster::PodId;
use crate::scenario::HpaResource;
use crate::sim::{SimDuration, SimTime};

/// One pod's metric as the resource metrics API returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodMetric {
    /// The value in milli-units (CPU: millicores over the window).
    pub value_milli: i64,
    /// The scrape the value comes from (`timestamp`).
    pub timestamp: SimTime,
    /// The span the value covers (`window`): between the two points a rate is taken from (memory:
    /// that of CPU); for a gauge, the scrape resolution.
    pub window: SimDuration,
}

/// A scrape: cumulative CPU (millicore·microseconds used since the container started) and the
/// working set then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Point {
    time: SimTime,
    cpu_millicore_micros: u64,
    memory_bytes: i64,
}

/// A pod's resource points (what every scrape writes: kept apart from the serving points,
/// which most scenarios never record, so that a scrape touches a small entry per pod).
#[derive(Clone, Copy, Debug, Default)]
struct PodSamples {
    started: Option<SimTime>,
    last: Option<Point>,
    prev: Option<Point>,
}

/// A pod's serving points (custom metrics).
#[derive(Clone, Copy, Debug, Default)]
struct CustomSamples {
    last: Option<CustomPoint>,
    prev: Option<CustomPoint>,
}

/// The serving gauges and counter of one pod at a scrape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CustomPoint {
    /// When the scrape happened.
    pub time: SimTime,
    /// Requests in service or queued (an LLM server's waiting and running ones included).
    pub in_flight: u64,
    /// Requests waiting for a concurrency slot (an LLM server's waiting ones included).
    pub queue_length: u64,
    /// Requests that finished service since the pod started (a counter).
    pub completed: u64,
    /// An LLM server's gauges and counter (0 for other pods).
    pub llm: LlmPoint,
}

/// What an LLM inference server exports at a scrape, as vLLM's `/metrics` has it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LlmPoint {
    /// Requests waiting to join the running batch (`vllm:num_requests_waiting`).
    pub waiting: u64,
    /// Requests in the running batch (`vllm:num_requests_running`).
    pub running: u64,
    /// KV-cache blocks in use, in thousandths of the cache.
    pub kv_usage_milli: u64,
    /// Output tokens generated since the pod started.
    pub output_tokens: u64,
}

pub use crate::spec::metrics::PodMetricSource;

/// The metrics-server's store of the last two points per pod.
#[derive(Clone, Debug)]
pub struct MetricsServer {
    /// `--metric-resolution`: the time between scrapes.
    pub resolution: SimDuration,
    samples: Vec<PodSamples>,
    /// By pod id, as far as any pod's serving points were recorded.
    custom: Vec<CustomSamples>,
}

/// The per-second rate of a counter between a pod's last two scrapes, in milli-units.
fn rate(s: &CustomSamples, counter: impl Fn(&CustomPoint) -> u64) -> Option<PodMetric> {
    let (prev, last) = (s.prev?, s.last?);
    let window = last.time.saturating_since(prev.time);
    let micros = window.as_micros();
    (micros > 0).then(|| {
        let done = counter(&last).saturating_sub(counter(&prev));
        // count × 1000 (milli) × 10⁶ (per second) / µs, rounded to nearest.
        let milli_per_sec =
            (u128::from(done) * 1_000_000_000 + u128::from(micros) / 2) / u128::from(micros);
        PodMetric {
            value_milli: milli_per_sec as i64,
            timestamp: last.time,
            window,
        }
    })
}

/// A container younger than this at its first scrape has no usable rate yet.
const MIN_CONTAINER_AGE: SimDuration = SimDuration::from_secs(10);

impl MetricsServer {
    /// A metrics-server with no sample yet that scrapes every `resolution`
    /// (`--metric-resolution`).
    pub fn new(resolution: SimDuration) -> Self {
        MetricsServer {
            resolution,
            samples: Vec::new(),
            custom: Vec::new(),
        }
    }

    /// Records one scrape of one running pod.
    pub fn record(
        &mut self,
        pod: PodId,
        started: SimTime,
        now: SimTime,
        cpu_millicore_micros: u64,
        memory_bytes: i64,
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
            memory_bytes,
        });
    }

    /// Starts loading the pod's resource points into the caches (a hint for scans).
    pub fn warm(&self, pod: PodId) {
        if let Some(s) = self.samples.get(pod.index()) {
            crate::sim::prefetch(s);
        }
    }

    /// Records the serving gauges and counter of one running pod at a scrape.
    pub fn record_custom(&mut self, pod: PodId, point: CustomPoint) {
        if self.custom.len() <= pod.index() {
            self.custom
                .resize(pod.index() + 1, CustomSamples::default());
        }
        let s = &mut self.custom[pod.index()];
        s.prev = s.last;
        s.last = Some(point);
    }

    /// A Pods metric for one pod, in milli-units (gauges: the last scrape; rates: between the
    /// last two scrapes).
    pub fn custom_metric(&self, pod: PodId, source: PodMetricSource) -> Option<PodMetric> {
        let s = self.custom.get(pod.index())?;
        let last = s.last?;
        let gauge = |v: u64| {
            Some(PodMetric {
                value_milli: (v * 1000) as i64,
                timestamp: last.time,
                window: self.resolution,
            })
        };
        match source {
            PodMetricSource::InFlightRequests => gauge(last.in_flight),
            PodMetricSource::QueueLength => gauge(last.queue_length),
            PodMetricSource::RequestsPerSecond => rate(s, |p| p.completed),
            PodMetricSource::LlmRequestsWaiting => gauge(last.llm.waiting),
            PodMetricSource::LlmRequestsRunning => gauge(last.llm.running),
            PodMetricSource::LlmKvCacheUsage => Some(PodMetric {
                value_milli: last.llm.kv_usage_milli as i64,
                timestamp: last.time,
                window: self.resolution,
            }),
            PodMetricSource::LlmOutputTokensPerSecond => rate(s, |p| p.llm.output_tokens),
        }
    }

    /// The pod's last scrape: when it was, the CPU its containers had used since they started
    /// (millicore·µs) and their working set then (what cAdvisor's cached stats say between
    /// housekeeping runs).
    pub fn last_scrape(&self, pod: PodId) -> Option<(SimTime, u64, i64)> {
        let last = self.samples.get(pod.index())?.last?;
        Some((last.time, last.cpu_millicore_micros, last.memory_bytes))
    }

    /// Drops a pod that is gone.
    pub fn forget(&mut self, pod: PodId) {
        if let Some(s) = self.samples.get_mut(pod.index()) {
            *s = PodSamples::default();
        }
        if let Some(s) = self.custom.get_mut(pod.index()) {
            *s = CustomSamples::default();
        }
    }

    /// The pod's cpu or memory (milli-units: millicores, bytes × 1000), if metrics-server would
    /// return the pod. Memory is the last working set, over the same window as CPU.
    pub fn resource_metric(&self, pod: PodId, resource: HpaResource) -> Option<PodMetric> {
        let cpu = self.pod_metric(pod)?;
        Some(match resource {
            HpaResource::Cpu => cpu,
            HpaResource::Memory => PodMetric {
                value_milli: self.samples[pod.index()]
                    .last
                    .map_or(0, |p| p.memory_bytes.saturating_mul(1000)),
                ..cpu
            },
        })
    }

    /// The pod's CPU, if metrics-server would return the pod.
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
                    memory_bytes: 0,
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
        let value_milli = ((used + window.as_micros() / 2) / window.as_micros()) as i64;
        Some(PodMetric {
            value_milli,
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
        m.record(
            pod,
            t0,
            SimTime::from_secs(105),
            5 * 1_000_000 * 500,
            100 << 20,
        );
        assert_eq!(m.pod_metric(pod), None);
        // Second scrape at 120 s: used 15 s × 800m more → rate 800m over a 15 s window.
        m.record(
            pod,
            t0,
            SimTime::from_secs(120),
            5 * 1_000_000 * 500 + 15 * 1_000_000 * 800,
            300 << 20,
        );
        assert_eq!(
            m.pod_metric(pod),
            Some(PodMetric {
                value_milli: 800,
                timestamp: SimTime::from_secs(120),
                window: SimDuration::from_secs(15)
            })
        );
        // Memory is the last working set (300Mi), not an average: 314 572 800 bytes × 1000.
        assert_eq!(
            m.resource_metric(pod, HpaResource::Memory)
                .map(|p| (p.value_milli, p.window)),
            Some((314_572_800_000, SimDuration::from_secs(15)))
        );
    }

    #[test]
    fn custom_metrics_are_gauges_and_a_rate() {
        let mut m = MetricsServer::new(SimDuration::from_secs(15));
        let pod = PodId(1);
        m.record_custom(
            pod,
            CustomPoint {
                time: SimTime::from_secs(15),
                in_flight: 7,
                queue_length: 3,
                completed: 100,
                llm: LlmPoint {
                    waiting: 4,
                    running: 12,
                    kv_usage_milli: 625,
                    output_tokens: 1000,
                },
            },
        );
        assert_eq!(
            m.custom_metric(pod, PodMetricSource::InFlightRequests)
                .map(|p| p.value_milli),
            Some(7_000)
        );
        assert_eq!(
            m.custom_metric(pod, PodMetricSource::QueueLength)
                .map(|p| p.value_milli),
            Some(3_000)
        );
        assert_eq!(
            m.custom_metric(pod, PodMetricSource::RequestsPerSecond),
            None,
            "a rate needs two scrapes"
        );
        // vLLM's gauges as they were at the scrape: 4 waiting, a KV cache 62.5 % full.
        let llm = |source| m.custom_metric(pod, source).map(|p| p.value_milli);
        assert_eq!(llm(PodMetricSource::LlmRequestsWaiting), Some(4_000));
        assert_eq!(llm(PodMetricSource::LlmKvCacheUsage), Some(625));
        // 250 more completions in 15 s = 16.667 req/s = 16 667 milli.
        m.record_custom(
            pod,
            CustomPoint {
                time: SimTime::from_secs(30),
                in_flight: 2,
                queue_length: 0,
                completed: 350,
                llm: LlmPoint {
                    output_tokens: 4000,
                    ..LlmPoint::default()
                },
            },
        );
        assert_eq!(
            m.custom_metric(pod, PodMetricSource::RequestsPerSecond)
                .map(|p| p.value_milli),
            Some(16_667)
        );
        // 3 000 more output tokens in 15 s = 200 tokens/s = 200 000 milli.
        assert_eq!(
            m.custom_metric(pod, PodMetricSource::LlmOutputTokensPerSecond)
                .map(|p| p.value_milli),
            Some(200_000)
        );
        assert_eq!(
            PodMetricSource::from_builtin_name("kubesim_queue_length"),
            Some(PodMetricSource::QueueLength)
        );
        // vLLM's names, and as Prometheus adapters often rename them.
        for name in ["vllm:num_requests_waiting", "vllm_num_requests_waiting"] {
            assert_eq!(
                PodMetricSource::from_builtin_name(name),
                Some(PodMetricSource::LlmRequestsWaiting)
            );
        }
        assert_eq!(
            PodMetricSource::from_scenario_name("requestsPerSecond"),
            Some(PodMetricSource::RequestsPerSecond)
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
            64 << 20,
        );
        assert_eq!(
            m.pod_metric(PodId(0)).map(|p| (p.value_milli, p.window)),
            Some((250, SimDuration::from_secs(12)))
        );
        m.forget(PodId(0));
        assert_eq!(m.pod_metric(PodId(0)), None);
    }
}
