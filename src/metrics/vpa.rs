//! The VPA section of `report.json`: each VerticalPodAutoscaler's last recommendation beside
//! the requests its target's pods have, and what the recommendations would have changed over
//! the run — the requested CPU and memory, and their cost at the nodes' prices (kubesim
//! charges a pod the mean of its CPU and memory shares of its node's price, so a smaller request
//! is a smaller bill even before fewer nodes are needed).

use serde::Serialize;

use crate::controllers::vpa::policy::ContainerRecommendation;
use crate::controllers::vpa::recommender::RecordedContainer;
use crate::sim::SimDuration;
use crate::spec::model::ContainerRequests;
use crate::spec::resources::Resources;
use crate::spec::vpa::{CpuMemory, VpaSpec};

/// Sums over the recommender's loops of the running pods' allocation, at their requests and
/// at the recommendation of that loop.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WhatIf {
    requested_core_hours: f64,
    recommended_core_hours: f64,
    requested_gib_hours: f64,
    recommended_gib_hours: f64,
    cost_usd: f64,
    cost_usd_at_recommendation: f64,
}

impl WhatIf {
    /// One pod over one loop `interval`: its (requests, USD per hour) now and at the
    /// recommendation.
    pub fn add(&mut self, now: (Resources, f64), then: (Resources, f64), interval: SimDuration) {
        let hours = interval.as_secs_f64() / 3600.0;
        let gib = |r: &Resources| r.memory_bytes as f64 / (1u64 << 30) as f64;
        self.requested_core_hours += now.0.cpu_millis as f64 / 1000.0 * hours;
        self.recommended_core_hours += then.0.cpu_millis as f64 / 1000.0 * hours;
        self.requested_gib_hours += gib(&now.0) * hours;
        self.recommended_gib_hours += gib(&then.0) * hours;
        self.cost_usd += now.1 * hours;
        self.cost_usd_at_recommendation += then.1 * hours;
    }
}

/// One container: its request and its recommendation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VpaContainerReport {
    /// The last recommendation.
    #[serde(flatten)]
    pub recommendation: ContainerRecommendation,
    /// What the manifest's pod template requests.
    pub requests: CpuMemory,
    /// CPU samples in its history.
    pub cpu_samples: u64,
    /// OOM kills recorded.
    pub oom_kills: u64,
}

/// The run's allocation and cost at the pods' requests and at the recommendations, summed over
/// the recommender's loops (each loop's running pods for one interval).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WhatIfReport {
    /// CPU requested, core-hours.
    pub requested_core_hours: f64,
    /// CPU the recommendation would have requested, core-hours.
    pub recommended_core_hours: f64,
    /// Memory requested, GiB-hours.
    pub requested_memory_gib_hours: f64,
    /// Memory the recommendation would have requested, GiB-hours.
    pub recommended_memory_gib_hours: f64,
    /// The pods' cost at their requests, USD.
    pub cost_usd: f64,
    /// Their cost at the recommendation, on the same nodes, USD.
    pub cost_usd_at_recommendation: f64,
}

/// What a VPA did to its target's pods.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VpaActions {
    /// Pods the admission controller created with the recommendation's requests.
    pub pods_admitted: u64,
    /// Pods the updater evicted (Eviction API) for their replacements to get it.
    pub pods_evicted: u64,
    /// Pods resized in place to it (`InPlaceOrRecreate`).
    pub pods_resized_in_place: u64,
}

/// One VPA in `report.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VpaReport {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `Kind/name` of its target.
    pub target: String,
    /// `updatePolicy.updateMode`.
    pub update_mode: &'static str,
    /// The last recommendation, per container.
    pub containers: Vec<VpaContainerReport>,
    /// How many times the recommendation changed (`vpa.jsonl` lines for this VPA).
    pub recommendation_changes: usize,
    /// What it did to pods (nothing in `Off` mode).
    #[serde(flatten)]
    pub actions: VpaActions,
    /// What the recommendations would have changed.
    pub what_if: WhatIfReport,
}

impl VpaReport {
    /// The report of `spec` (targeting `target_name`, whose pods request `requests`).
    pub fn new(
        spec: &VpaSpec,
        target_name: &str,
        requests: &[ContainerRequests],
        last: &[RecordedContainer],
        recommendation_changes: usize,
        what_if: WhatIf,
        actions: VpaActions,
    ) -> VpaReport {
        let container = |r: &RecordedContainer| {
            let own = requests
                .iter()
                .find(|c| c.name == r.recommendation.container);
            VpaContainerReport {
                recommendation: r.recommendation.clone(),
                requests: CpuMemory {
                    cpu_millis: own.and_then(|c| c.cpu_millis),
                    memory_bytes: own.and_then(|c| c.memory_bytes),
                },
                cpu_samples: r.cpu_samples,
                oom_kills: r.oom_kills,
            }
        };
        let round = super::report::round6;
        VpaReport {
            name: spec.name.clone(),
            namespace: spec.namespace.clone(),
            target: format!("{}/{target_name}", spec.target_kind),
            update_mode: spec.mode.as_str(),
            containers: last.iter().map(container).collect(),
            recommendation_changes,
            actions,
            what_if: WhatIfReport {
                requested_core_hours: round(what_if.requested_core_hours),
                recommended_core_hours: round(what_if.recommended_core_hours),
                requested_memory_gib_hours: round(what_if.requested_gib_hours),
                recommended_memory_gib_hours: round(what_if.recommended_gib_hours),
                cost_usd: round(what_if.cost_usd),
                cost_usd_at_recommendation: round(what_if.cost_usd_at_recommendation),
            },
        }
    }
}
