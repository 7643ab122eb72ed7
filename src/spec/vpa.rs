//! A VerticalPodAutoscaler (`autoscaling.k8s.io/v1`) as a value: its target, update mode and
//! per-container resource policy, resolved against the scenario's workloads. What the
//! recommender does with it is `controllers::vpa`'s; reading it from manifests is
//! `scenario::vpa`'s.

/// `spec.updatePolicy.updateMode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UpdateMode {
    /// Recommendations only: no pod is changed.
    Off,
    /// Requests set when a pod is created, never changed afterwards.
    Initial,
    /// Pods whose requests are far from the recommendation are evicted and recreated with it.
    /// `Auto` (deprecated since VPA 1.4) means this.
    #[default]
    Recreate,
    /// Pods are resized in place where the node allows it, else evicted.
    InPlaceOrRecreate,
}

impl UpdateMode {
    /// The admission controller gives new pods the recommendation (every mode but `Off`).
    pub fn admits(self) -> bool {
        self != UpdateMode::Off
    }

    /// The updater acts on running pods (`Recreate`, `InPlaceOrRecreate`).
    pub fn evicts(self) -> bool {
        matches!(self, UpdateMode::Recreate | UpdateMode::InPlaceOrRecreate)
    }

    /// The mode as written (`Auto` reads as [`UpdateMode::Recreate`]).
    pub fn parse(text: &str) -> Option<UpdateMode> {
        Some(match text {
            "Off" => UpdateMode::Off,
            "Initial" => UpdateMode::Initial,
            "Recreate" | "Auto" => UpdateMode::Recreate,
            "InPlaceOrRecreate" => UpdateMode::InPlaceOrRecreate,
            _ => return None,
        })
    }

    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateMode::Off => "Off",
            UpdateMode::Initial => "Initial",
            UpdateMode::Recreate => "Recreate",
            UpdateMode::InPlaceOrRecreate => "InPlaceOrRecreate",
        }
    }
}

/// `controlledValues`: what a recommendation changes in a pod.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ControlledValues {
    /// Requests, and limits in proportion (the limit:request ratio kept).
    #[default]
    RequestsAndLimits,
    /// Requests only; limits stay as written.
    RequestsOnly,
}

/// An amount of CPU (millicores) and memory (bytes); `None` where not given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CpuMemory {
    /// Millicores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_millis: Option<i64>,
    /// Bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<i64>,
}

/// One entry of `resourcePolicy.containerPolicies`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerPolicy {
    /// `containerName`: a container's name, or `*` for every container without its own entry.
    pub container_name: String,
    /// `mode: Off`: the container gets no recommendation.
    pub off: bool,
    /// `minAllowed`.
    pub min_allowed: CpuMemory,
    /// `maxAllowed`.
    pub max_allowed: CpuMemory,
    /// `controlledResources` has `cpu` (default: both).
    pub controls_cpu: bool,
    /// `controlledResources` has `memory`.
    pub controls_memory: bool,
    /// `controlledValues`.
    pub controlled_values: ControlledValues,
}

impl ContainerPolicy {
    /// The policy of a container without an entry: both resources, no bounds.
    pub fn unconstrained(container_name: &str) -> ContainerPolicy {
        ContainerPolicy {
            container_name: container_name.to_string(),
            off: false,
            min_allowed: CpuMemory::default(),
            max_allowed: CpuMemory::default(),
            controls_cpu: true,
            controls_memory: true,
            controlled_values: ControlledValues::default(),
        }
    }
}

/// A VerticalPodAutoscaler resolved against its target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VpaSpec {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// Index of the target workload in the scenario's `deployments`.
    pub target: usize,
    /// `targetRef.kind`, for messages.
    pub target_kind: String,
    /// `updatePolicy.updateMode`.
    pub mode: UpdateMode,
    /// `updatePolicy.minReplicas` (`None`: the updater's `--min-replicas`, 2).
    pub min_replicas: Option<i32>,
    /// `resourcePolicy.containerPolicies`, as written.
    pub policies: Vec<ContainerPolicy>,
    /// `updatePolicy.evictionRequirements` (empty: every pod the updater picks may go).
    pub eviction_requirements: Vec<EvictionRequirement>,
    /// The LimitRanges of the VPA's namespace, as the admission controller and the updater
    /// cap recommendations to them.
    pub limit_range: NamespaceLimitRange,
}

/// Which way a target must differ from a request for an [`EvictionRequirement`] to hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeRequirement {
    /// `TargetHigherThanRequests`.
    TargetHigherThanRequests,
    /// `TargetLowerThanRequests`.
    TargetLowerThanRequests,
}

/// One entry of `updatePolicy.evictionRequirements`: it holds for a container when the target
/// of any of its resources differs from the request the required way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvictionRequirement {
    /// `resources` has `cpu`.
    pub cpu: bool,
    /// `resources` has `memory`.
    pub memory: bool,
    /// `changeRequirement`.
    pub change: ChangeRequirement,
}

/// One type of a namespace's LimitRange items, merged over its LimitRanges as upstream's
/// `getLimitRangeItem` merges them (the lowest `max`, the highest `min`, the last `default`),
/// after the API's defaulting (a Container item's `default` taken from its `max`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitRangeBounds {
    /// `min`.
    pub min: CpuMemory,
    /// `max`.
    pub max: CpuMemory,
    /// `default` (limits).
    pub default_limit: CpuMemory,
}

/// A namespace's `type: Container` and `type: Pod` LimitRange items (`None`: no such item).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NamespaceLimitRange {
    /// The Container items.
    pub container: Option<LimitRangeBounds>,
    /// The Pod items.
    pub pod: Option<LimitRangeBounds>,
}

impl VpaSpec {
    /// A VPA "v" on the first workload with `policies`, no eviction requirements and no
    /// LimitRange, for tests.
    #[cfg(test)]
    pub fn for_tests(mode: UpdateMode, policies: Vec<ContainerPolicy>) -> VpaSpec {
        VpaSpec {
            name: "v".into(),
            namespace: "default".into(),
            target: 0,
            target_kind: "Deployment".into(),
            mode,
            min_replicas: None,
            policies,
            eviction_requirements: Vec::new(),
            limit_range: NamespaceLimitRange::default(),
        }
    }

    /// The policy that applies to `container`: its own entry, else the `*` entry, else none
    /// (`GetContainerResourcePolicy`).
    pub fn policy_for(&self, container: &str) -> ContainerPolicy {
        let own = self.policies.iter().find(|p| p.container_name == container);
        let any = || self.policies.iter().find(|p| p.container_name == "*");
        own.or_else(any)
            .cloned()
            .unwrap_or_else(|| ContainerPolicy::unconstrained(container))
    }
}
