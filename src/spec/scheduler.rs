//! A scheduling profile: which score plugins run with which weights, how NodeResourcesFit and
//! NodeResourcesBalancedAllocation score, and how many nodes to look at
//! (`percentageOfNodesToScore`). The default is kube-scheduler's default profile (C.1);
//! `scenario::scheduler_config` builds others from a KubeSchedulerConfiguration file, and
//! `controllers::scheduler` runs them.

use std::borrow::Cow;

use super::resources::{CPU, MEMORY};

/// How NodeResourcesFit scores a node (`scoringStrategy.type`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScoringKind {
    /// Prefer emptier nodes (spreads pods).
    LeastAllocated,
    /// Prefer fuller nodes (packs pods).
    MostAllocated,
    /// A piecewise-linear function of utilization: `(utilization 0..100, score 0..10)` points.
    RequestedToCapacityRatio {
        /// The function's points, by increasing utilization.
        shape: Vec<(i64, i64)>,
    },
}

/// A resource and its weight in a score.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceWeight {
    /// The resource's name.
    pub name: String,
    /// Its weight.
    pub weight: i64,
}

/// NodeResourcesFit's `scoringStrategy`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoringStrategy {
    /// `type`.
    pub kind: ScoringKind,
    /// `resources` and their weights.
    pub resources: Vec<ResourceWeight>,
}

/// One of PodTopologySpread's default constraints (its selector is the pod's default one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultSpreadConstraint {
    /// `maxSkew`.
    pub max_skew: i32,
    /// `topologyKey`.
    pub topology_key: Cow<'static, str>,
    /// `DoNotSchedule`.
    pub hard: bool,
}

/// PodTopologySpread's `defaultingType`: the built-in system defaults, or a list from the
/// plugin's args (`defaultConstraints`, possibly empty to turn defaulting off).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpreadDefaults {
    /// The built-in defaults (hostname maxSkew 3, zone maxSkew 5, both ScheduleAnyway).
    System,
    /// The plugin's `defaultConstraints` (an empty list turns defaulting off).
    List(Vec<DefaultSpreadConstraint>),
}

/// The system default constraints: hostname with maxSkew 3, zone with maxSkew 5, both
/// `ScheduleAnyway`.
const SYSTEM_DEFAULT_SPREAD: [DefaultSpreadConstraint; 2] = [
    DefaultSpreadConstraint {
        max_skew: 3,
        topology_key: Cow::Borrowed("kubernetes.io/hostname"),
        hard: false,
    },
    DefaultSpreadConstraint {
        max_skew: 5,
        topology_key: Cow::Borrowed("topology.kubernetes.io/zone"),
        hard: false,
    },
];

impl SpreadDefaults {
    /// The constraints applied to pods without their own.
    pub fn constraints(&self) -> &[DefaultSpreadConstraint] {
        match self {
            SpreadDefaults::System => &SYSTEM_DEFAULT_SPREAD,
            SpreadDefaults::List(list) => list,
        }
    }

    /// Whether these are the built-in defaults.
    pub fn is_system(&self) -> bool {
        matches!(self, SpreadDefaults::System)
    }
}

/// One profile of the scheduler. A weight of 0 means the score plugin is disabled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedulerProfile {
    /// `schedulerName`: the pods that name it are its.
    pub scheduler_name: String,
    /// `percentageOfNodesToScore`; 0 means the adaptive default.
    pub percentage_of_nodes_to_score: i32,
    /// TaintToleration's score weight.
    pub taint_toleration_weight: i64,
    /// NodeAffinity's score weight.
    pub node_affinity_weight: i64,
    /// NodeResourcesFit's score weight.
    pub fit_weight: i64,
    /// NodeResourcesBalancedAllocation's score weight.
    pub balanced_allocation_weight: i64,
    /// PodTopologySpread's score weight.
    pub topology_spread_weight: i64,
    /// InterPodAffinity's score weight.
    pub inter_pod_affinity_weight: i64,
    /// ImageLocality's score weight.
    pub image_locality_weight: i64,
    /// Whether PodTopologySpread filters (it can be disabled apart from its score).
    pub topology_spread_filter: bool,
    /// PodTopologySpread's `defaultingType` and `defaultConstraints`.
    pub spread_defaults: SpreadDefaults,
    /// NodeResourcesFit's `scoringStrategy`.
    pub fit_strategy: ScoringStrategy,
    /// NodeResourcesBalancedAllocation's resources (weights are accepted but unused).
    pub balanced_resources: Vec<ResourceWeight>,
}

/// cpu and memory with weight 1 each: the default resources of both resource scores.
pub fn default_resources() -> Vec<ResourceWeight> {
    [CPU, MEMORY]
        .into_iter()
        .map(|name| ResourceWeight {
            name: name.to_string(),
            weight: 1,
        })
        .collect()
}

impl Default for SchedulerProfile {
    fn default() -> Self {
        SchedulerProfile {
            scheduler_name: DEFAULT_SCHEDULER_NAME.to_string(),
            percentage_of_nodes_to_score: 0,
            taint_toleration_weight: 3,
            node_affinity_weight: 2,
            fit_weight: 1,
            balanced_allocation_weight: 1,
            topology_spread_weight: 2,
            inter_pod_affinity_weight: 2,
            image_locality_weight: 1,
            topology_spread_filter: true,
            spread_defaults: SpreadDefaults::System,
            fit_strategy: ScoringStrategy {
                kind: ScoringKind::LeastAllocated,
                resources: default_resources(),
            },
            balanced_resources: default_resources(),
        }
    }
}

/// kube-scheduler's own name: pods without `schedulerName` are its.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// `profiles`, or the default profile alone when there are none.
pub fn or_default(mut profiles: Vec<SchedulerProfile>) -> Vec<SchedulerProfile> {
    if profiles.is_empty() {
        profiles.push(SchedulerProfile::default());
    }
    profiles
}
