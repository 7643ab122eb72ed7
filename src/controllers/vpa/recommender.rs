//! The VPA recommender's state and loop body (`pkg/recommender/routines`, 1.7.1): per VPA,
//! the usage history of each container name of its pods ([`AggregateState`]) and each live
//! container's intake ([`ContainerState`]); OOM kills buffered until the next loop; and the
//! recommendation of every loop — the estimators' bounds, minus containers whose policy is
//! `Off` and resources it does not control, capped by the policy.
//!
//! What feeds it is the engine's: every `--recommender-interval` (1 min, the first one interval
//! after the start) it hands over the metrics-server's latest CPU rate and working set of each
//! running pod of each VPA's target (a sample is used once: CPU samples at a timestamp already
//! seen are refused, as upstream), the pods that still exist, and the OOM kills since.

use std::collections::BTreeMap;

use serde::Serialize;

use super::aggregate::{AggregateState, AggregationConfig, ContainerState};
use super::estimator::{EstimatorConfig, Working, estimate_worked};
use super::policy::{ContainerRecommendation, apply_policy};
use crate::cluster::PodId;
use crate::sim::{SimDuration, SimTime};
use crate::spec::vpa::{CpuMemory, VpaSpec};

/// The recommender's flags.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecommenderSettings {
    /// `--recommender-interval` (1 min).
    pub interval: SimDuration,
    /// How samples are aggregated.
    pub aggregation: AggregationConfig,
    /// How histories become bounds.
    pub estimator: EstimatorConfig,
    /// `--container-recommendation-max-allowed-cpu` / `-memory` (none by default).
    pub global_max: CpuMemory,
}

impl Default for RecommenderSettings {
    fn default() -> Self {
        RecommenderSettings {
            interval: SimDuration::from_secs(60),
            aggregation: AggregationConfig::default(),
            estimator: EstimatorConfig::default(),
            global_max: CpuMemory::default(),
        }
    }
}

/// One container's recommendation at a loop, with how it was reached.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordedContainer {
    /// The recommendation, capped by the policy (`uncappedTarget` before it).
    #[serde(flatten)]
    pub recommendation: ContainerRecommendation,
    /// How the CPU bounds were reached (before the policy).
    pub cpu_working: Working,
    /// How the memory bounds were reached (before the policy).
    pub memory_working: Working,
    /// CPU samples in the history.
    pub cpu_samples: u64,
    /// OOM kills recorded as memory peaks.
    pub oom_kills: u64,
}

/// A VPA's recommendation as one loop left it (`vpa.jsonl`: written when it changes).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VpaRecord {
    /// Simulated seconds since the start.
    pub t_seconds: f64,
    /// The VPA's name.
    pub vpa: String,
    /// Whether some running pod matched (`NoPodsMatched` is False).
    pub pods_matched: bool,
    /// One per container with a recommendation, by name.
    pub containers: Vec<RecordedContainer>,
}

/// An OOM kill the engine saw, waiting for the next loop.
#[derive(Clone, Debug)]
struct PendingOom {
    pod: PodId,
    container: String,
    requested_bytes: i64,
    at: SimTime,
}

/// What the recommender keeps for one VPA.
#[derive(Clone, Debug, Default)]
struct VpaHistory {
    /// By container name: the merged history of every pod the VPA matched.
    aggregates: BTreeMap<String, AggregateState>,
    /// By (pod, container name): the live containers' intake.
    containers: BTreeMap<(PodId, String), ContainerState>,
    /// OOM kills recorded, by container name.
    oom_kills: BTreeMap<String, u64>,
    /// OOM kills since the last loop.
    pending_ooms: Vec<PendingOom>,
    /// Whether the last loop saw a running pod.
    pods_matched: bool,
    /// The last recommendation recorded.
    last: Option<Vec<RecordedContainer>>,
}

/// One running pod's sample for a loop.
#[derive(Clone, Copy, Debug)]
pub struct PodSample<'a> {
    /// The pod.
    pub pod: PodId,
    /// The containers its usage is attributed to: the serving container; the others are
    /// listed (they get a recommendation) with no usage of their own.
    pub containers: &'a [&'a str],
    /// The container that does the pod's work.
    pub serving: &'a str,
    /// metrics-server's CPU rate (cores) and working set (bytes), at its scrape time; `None`
    /// while metrics-server has no point for the pod.
    pub usage: Option<(f64, i64, SimTime)>,
}

/// The recommender: one history per VPA of the scenario, in its order.
#[derive(Clone, Debug)]
pub struct Recommender {
    /// Its flags.
    pub settings: RecommenderSettings,
    vpas: Vec<VpaHistory>,
    /// Every recommendation change, in time order.
    pub records: Vec<VpaRecord>,
}

impl Recommender {
    /// A recommender for `vpas` VPAs, with no history.
    pub fn new(vpas: usize, settings: RecommenderSettings) -> Recommender {
        Recommender {
            settings,
            vpas: vec![VpaHistory::default(); vpas],
            records: Vec::new(),
        }
    }

    /// An OOM kill of `container` (requesting `requested_bytes`) in `pod` of VPA `vpa`, seen
    /// at `at`: recorded at the next loop.
    pub fn oom_killed(
        &mut self,
        vpa: usize,
        pod: PodId,
        container: &str,
        requested_bytes: i64,
        at: SimTime,
    ) {
        self.vpas[vpa].pending_ooms.push(PendingOom {
            pod,
            container: container.to_string(),
            requested_bytes,
            at,
        });
    }

    /// One loop for VPA `vpa`: the running pods' samples in, the OOM kills since the last loop
    /// recorded, containers of pods no longer running forgotten, the recommendation made (and
    /// recorded when it changed). Returns it.
    pub fn run_once(
        &mut self,
        vpa: usize,
        spec: &VpaSpec,
        pods: &[PodSample],
        now: SimTime,
    ) -> Option<&[RecordedContainer]> {
        let settings = self.settings;
        let h = &mut self.vpas[vpa];
        for p in pods {
            h.add_pod_sample(p, &settings.aggregation);
        }
        h.record_ooms(&settings.aggregation);
        h.containers
            .retain(|(pod, _), _| pods.iter().any(|p| p.pod == *pod));
        h.pods_matched = !pods.is_empty();
        let recommendation = h.recommend(spec, &settings);
        if !h
            .last
            .as_ref()
            .is_some_and(|l| same_bounds(l, &recommendation))
        {
            self.records.push(VpaRecord {
                t_seconds: now.as_secs_f64(),
                vpa: spec.name.clone(),
                pods_matched: h.pods_matched,
                containers: recommendation.clone(),
            });
            h.last = Some(recommendation);
        }
        h.last.as_deref()
    }

    /// The last recommendation of VPA `vpa` (empty before the first loop).
    pub fn current(&self, vpa: usize) -> &[RecordedContainer] {
        self.vpas[vpa].last.as_deref().unwrap_or_default()
    }
}

/// Whether two recommendations give every container the same bounds (their working aside).
fn same_bounds(a: &[RecordedContainer], b: &[RecordedContainer]) -> bool {
    a.len() == b.len() && (a.iter().zip(b)).all(|(x, y)| x.recommendation == y.recommendation)
}

impl VpaHistory {
    fn add_pod_sample(&mut self, p: &PodSample, config: &AggregationConfig) {
        for &name in p.containers {
            self.aggregates
                .entry(name.to_string())
                .or_insert_with(|| AggregateState::new(config));
        }
        let Some((cores, bytes, at)) = p.usage else {
            return;
        };
        let aggregate = self
            .aggregates
            .get_mut(p.serving)
            .expect("the serving container is one of the pod's");
        let key = (p.pod, p.serving.to_string());
        let state = self.containers.entry(key).or_default();
        state.add_cpu_sample(aggregate, cores, at);
        state.add_memory_sample(aggregate, config, bytes, at);
    }

    fn record_ooms(&mut self, config: &AggregationConfig) {
        for oom in std::mem::take(&mut self.pending_ooms) {
            let aggregate = self
                .aggregates
                .entry(oom.container.clone())
                .or_insert_with(|| AggregateState::new(config));
            let key = (oom.pod, oom.container.clone());
            let state = self.containers.entry(key).or_default();
            if state
                .record_oom(aggregate, config, oom.at, oom.requested_bytes)
                .is_ok()
            {
                *self.oom_kills.entry(oom.container).or_default() += 1;
            }
        }
    }

    /// `GetRecommendedPodResources` and the capping post-processor: every container name seen
    /// whose policy is not `Off` (they share the pod minimum), by name.
    fn recommend(&self, spec: &VpaSpec, settings: &RecommenderSettings) -> Vec<RecordedContainer> {
        let recommended: Vec<(&String, &AggregateState)> = (self.aggregates.iter())
            .filter(|(name, _)| !spec.policy_for(name).off)
            .collect();
        let count = recommended.len();
        let container = |(name, state): (&String, &AggregateState)| {
            let policy = spec.policy_for(name);
            let (cpu, memory) = estimate_worked(state, count, &settings.estimator);
            let pick = |c: i64, m: i64| CpuMemory {
                cpu_millis: policy.controls_cpu.then_some(c),
                memory_bytes: policy.controls_memory.then_some(m),
            };
            let (c, m) = (cpu.bounds, memory.bounds);
            let estimate = ContainerRecommendation {
                container: name.clone(),
                target: pick(c.target, m.target),
                lower: pick(c.lower, m.lower),
                upper: pick(c.upper, m.upper),
                uncapped_target: pick(c.target, m.target),
            };
            RecordedContainer {
                recommendation: apply_policy(&estimate, Some(&policy), settings.global_max),
                cpu_working: cpu,
                memory_working: memory,
                cpu_samples: state.total_samples,
                oom_kills: self.oom_kills.get(name).copied().unwrap_or(0),
            }
        };
        recommended.into_iter().map(container).collect()
    }
}

#[cfg(test)]
mod tests;
