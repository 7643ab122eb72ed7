//! Karpenter's objects as values (`karpenter.sh/v1` NodePools and the instance offerings they
//! launch), with the arithmetic that belongs to the objects themselves: a requirement's match
//! against a node's labels, a disruption budget's allowed count at an instant, a NodePool's
//! limits and a pod's eviction cost. What Karpenter does with them is
//! `controllers::karpenter`'s; reading them from manifests is `scenario::karpenter`'s.
//!
//! Semantics follow kubernetes-sigs/karpenter v1.14.1 (`pkg/scheduling/requirement.go`,
//! `pkg/apis/v1/nodepool.go`, `pkg/utils/disruption/disruption.go`).

use crate::sim::dist::DurationDist;
use crate::sim::{SimDuration, SimTime};
use crate::spec::resources::Taint;
use crate::spec::rollout::IntOrPercent;
use crate::spec::selector::Labels;

/// The label naming the NodePool a node was launched for.
pub const NODEPOOL_LABEL: &str = "karpenter.sh/nodepool";
/// The capacity type label (`spot`, `on-demand`).
pub const CAPACITY_TYPE_LABEL: &str = "karpenter.sh/capacity-type";
/// The annotation that blocks voluntary disruption of a pod's node (or of a node).
pub const DO_NOT_DISRUPT: &str = "karpenter.sh/do-not-disrupt";
/// The taint Karpenter puts on a node it is about to delete.
pub const DISRUPTED_TAINT: &str = "karpenter.sh/disrupted";

/// A requirement's operator, as Karpenter's CRD lists them (`Gte` and `Lte` are Karpenter's own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// The label's value is one of the values.
    In,
    /// The label is absent or its value is none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
    /// The label's value is an integer above the value.
    Gt,
    /// The label's value is an integer below the value.
    Lt,
    /// The label's value is an integer at or above the value.
    Gte,
    /// The label's value is an integer at or below the value.
    Lte,
}

impl Operator {
    /// The operators as the CRD spells them, in its order.
    pub const ALL: [(&'static str, Operator); 8] = [
        ("In", Operator::In),
        ("NotIn", Operator::NotIn),
        ("Exists", Operator::Exists),
        ("DoesNotExist", Operator::DoesNotExist),
        ("Gt", Operator::Gt),
        ("Lt", Operator::Lt),
        ("Gte", Operator::Gte),
        ("Lte", Operator::Lte),
    ];

    /// Parses an operator as written.
    pub fn parse(text: &str) -> Option<Operator> {
        Operator::ALL
            .iter()
            .find(|(name, _)| *name == text)
            .map(|&(_, op)| op)
    }

    /// Whether the operator compares integers (one non-negative integer value).
    pub fn is_bound(self) -> bool {
        matches!(
            self,
            Operator::Gt | Operator::Lt | Operator::Gte | Operator::Lte
        )
    }
}

/// One entry of `spec.template.spec.requirements`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// How the label is compared.
    pub operator: Operator,
    /// The values (one integer for the bound operators).
    pub values: Vec<String>,
    /// `minValues`: how many distinct values the launch's instance types must span.
    pub min_values: Option<u32>,
}

impl Requirement {
    /// `In [value]`: how a template label becomes a requirement (`NewNodeClaimTemplate`).
    pub fn label(key: &str, value: &str) -> Requirement {
        Requirement {
            key: key.to_string(),
            operator: Operator::In,
            values: vec![value.to_string()],
            min_values: None,
        }
    }

    /// Whether a node whose label `key` has `value` (`None`: no such label) satisfies it.
    /// A value that is not an integer never satisfies a bound ("Gt 1 Has A" is false).
    pub fn allows(&self, value: Option<&str>) -> bool {
        let bound = || self.values.first().and_then(|v| v.parse::<i64>().ok());
        let number = || value.and_then(|v| v.parse::<i64>().ok());
        let compare = |f: fn(i64, i64) -> bool| match (number(), bound()) {
            (Some(n), Some(b)) => f(n, b),
            _ => false,
        };
        match self.operator {
            Operator::In => value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Operator::NotIn => !value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::Gt => compare(|n, b| n > b),
            Operator::Lt => compare(|n, b| n < b),
            Operator::Gte => compare(|n, b| n >= b),
            Operator::Lte => compare(|n, b| n <= b),
        }
    }

    /// Whether `labels` satisfy it.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.allows(labels.get(&self.key).map(String::as_str))
    }
}

/// `spec.disruption.consolidationPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsolidationPolicy {
    /// Only empty nodes are consolidated.
    WhenEmpty,
    /// Empty nodes, and nodes whose pods fit elsewhere or on one cheaper node (the default).
    WhenEmptyOrUnderutilized,
}

impl ConsolidationPolicy {
    /// The policy as written.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsolidationPolicy::WhenEmpty => "WhenEmpty",
            ConsolidationPolicy::WhenEmptyOrUnderutilized => "WhenEmptyOrUnderutilized",
        }
    }
}

/// Why Karpenter disrupts a node (a budget's `reasons`, and the `Disrupted` events' reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum DisruptionReason {
    /// The node has no pods to move.
    Empty,
    /// Its pods fit on other nodes, or on one cheaper node.
    Underutilized,
    /// It no longer matches its NodePool.
    Drifted,
    /// It reached `expireAfter` (forceful: no budget applies).
    Expired,
    /// A spot interruption notice (forceful). Not logged yet: a spot node is drained by the
    /// engine's spot notice (`spotInterruptionMTBI`), and Karpenter provisions for its pods.
    Interrupted,
}

impl DisruptionReason {
    /// The reasons a budget may name.
    pub const BUDGETED: [(&'static str, DisruptionReason); 3] = [
        ("Underutilized", DisruptionReason::Underutilized),
        ("Empty", DisruptionReason::Empty),
        ("Drifted", DisruptionReason::Drifted),
    ];

    /// The reason as Karpenter spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            DisruptionReason::Empty => "Empty",
            DisruptionReason::Underutilized => "Underutilized",
            DisruptionReason::Drifted => "Drifted",
            DisruptionReason::Expired => "Expired",
            DisruptionReason::Interrupted => "Interrupted",
        }
    }
}

/// One entry of `spec.disruption.budgets`.
#[derive(Clone, Debug, PartialEq)]
pub struct Budget {
    /// How many nodes may be disrupting at once: a count or a percentage of the pool's nodes.
    pub nodes: IntOrPercent,
    /// The reasons it limits (empty: all of them).
    pub reasons: Vec<DisruptionReason>,
    /// When it is active, for a scheduled budget: `[start, end)` windows in simulated time,
    /// each a cron hit plus `duration` (`None`: always active).
    pub windows: Option<Vec<(SimTime, SimTime)>>,
}

impl Budget {
    /// `IsActive`: a budget with no schedule always is; else when some cron hit lies in
    /// `(now − duration, now]`.
    pub fn is_active(&self, now: SimTime) -> bool {
        match &self.windows {
            None => true,
            Some(w) => w.iter().any(|&(start, end)| start <= now && now < end),
        }
    }

    /// What it allows for `reason` among `nodes` nodes at `now`: `i32::MAX` when it does not
    /// apply (another reason, or outside its schedule), else its count, or its percentage of
    /// the nodes rounded up.
    pub fn allowed(&self, nodes: i32, reason: DisruptionReason, now: SimTime) -> i32 {
        let applies = self.reasons.is_empty() || self.reasons.contains(&reason);
        if !applies || !self.is_active(now) {
            return i32::MAX;
        }
        self.nodes.scaled(nodes, true)
    }
}

/// `GetAllowedDisruptionsByReason`: the least any budget allows (the default budget is 10 %).
pub fn allowed_disruptions(
    budgets: &[Budget],
    nodes: i32,
    reason: DisruptionReason,
    now: SimTime,
) -> i32 {
    budgets
        .iter()
        .map(|b| b.allowed(nodes, reason, now))
        .min()
        .unwrap_or(i32::MAX)
}

/// `spec.limits`: caps on the sum of the NodePool's nodes' capacity (`None`: no cap).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// CPU, in millicores.
    pub cpu_millis: Option<i64>,
    /// Memory, in bytes.
    pub memory_bytes: Option<i64>,
    /// `nvidia.com/gpu`.
    pub gpus: Option<i64>,
    /// `nodes`.
    pub nodes: Option<i64>,
}

/// What a node (or a sum of nodes) counts against a NodePool's limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capacity {
    /// CPU capacity, in millicores (vCPUs × 1000).
    pub cpu_millis: i64,
    /// Memory capacity, in bytes.
    pub memory_bytes: i64,
    /// GPUs.
    pub gpus: i64,
    /// Nodes (1 for one node).
    pub nodes: i64,
}

impl Capacity {
    /// The sum of two.
    pub fn plus(self, other: Capacity) -> Capacity {
        Capacity {
            cpu_millis: self.cpu_millis + other.cpu_millis,
            memory_bytes: self.memory_bytes + other.memory_bytes,
            gpus: self.gpus + other.gpus,
            nodes: self.nodes + other.nodes,
        }
    }
}

impl Limits {
    /// The first limit `usage` is above (`ExceededBy`: usage > limit), as `cpu`, `memory`, …
    pub fn exceeded_by(&self, usage: Capacity) -> Option<&'static str> {
        let over = |limit: Option<i64>, used: i64| limit.is_some_and(|l| used > l);
        [
            ("cpu", over(self.cpu_millis, usage.cpu_millis)),
            ("memory", over(self.memory_bytes, usage.memory_bytes)),
            ("nvidia.com/gpu", over(self.gpus, usage.gpus)),
            ("nodes", over(self.nodes, usage.nodes)),
        ]
        .into_iter()
        .find(|&(_, o)| o)
        .map(|(name, _)| name)
    }
}

/// A `karpenter.sh/v1` NodePool.
#[derive(Clone, Debug)]
pub struct NodePool {
    /// `metadata.name`.
    pub name: String,
    /// `spec.weight` (unset: 0); higher is tried first, ties by name descending.
    pub weight: i32,
    /// The requirements, the template's labels among them as `In [value]`.
    pub requirements: Vec<Requirement>,
    /// `spec.template.metadata.labels`.
    pub labels: Labels,
    /// `spec.template.spec.taints`.
    pub taints: Vec<Taint>,
    /// `spec.template.spec.expireAfter` (`None`: `Never`).
    pub expire_after: Option<SimDuration>,
    /// `spec.template.spec.terminationGracePeriod` (`None`: drains wait for budgets forever).
    pub termination_grace_period: Option<SimDuration>,
    /// `spec.template.spec.nodeClassRef.name`.
    pub node_class: String,
    /// `spec.disruption.consolidationPolicy`.
    pub consolidation_policy: ConsolidationPolicy,
    /// `spec.disruption.consolidateAfter` (`None`: `Never`, no consolidation at all).
    pub consolidate_after: Option<SimDuration>,
    /// `spec.disruption.budgets` (default: one budget of 10 %).
    pub budgets: Vec<Budget>,
    /// `spec.limits`.
    pub limits: Limits,
}

impl NodePool {
    /// The default budget when none is written: `nodes: 10%`.
    pub fn default_budgets() -> Vec<Budget> {
        vec![Budget {
            nodes: IntOrPercent::Percent(10),
            reasons: Vec::new(),
            windows: None,
        }]
    }

    /// Whether a node with `labels` satisfies every requirement.
    pub fn admits(&self, labels: &Labels) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }
}

/// An instance offering a NodePool may launch: one instance type in one zone, bought one way.
/// Each is a node pool of the cluster (size 0 at the start) that only Karpenter grows.
#[derive(Clone, Debug, PartialEq)]
pub struct Offering {
    /// The NodePool's index in [`KarpenterSettings::node_pools`].
    pub node_pool: usize,
    /// What one node counts against the NodePool's limits.
    pub capacity: Capacity,
    /// A GPU or bare-metal type: launched only when nothing else fits (the exotic filter).
    pub exotic: bool,
    /// Whether the NodePool's first spec admits it (`false`: only a spec applied later does).
    pub admitted: bool,
}

/// A NodePool changed by `kubectl apply` (a scripted `apply`): its new spec, and the offerings
/// that spec admits with the labels and taints their new nodes get.
#[derive(Clone, Debug)]
pub struct AppliedNodePool {
    /// The NodePool's index in [`KarpenterSettings::node_pools`].
    pub index: usize,
    /// The new spec.
    pub spec: NodePool,
    /// (the offering's node pool index in the cluster, its nodes' labels, their taints).
    pub offerings: Vec<(usize, Labels, Vec<Taint>)>,
}

/// Karpenter's settings (the controller's flags) and the NodePools it serves.
#[derive(Clone, Debug)]
pub struct KarpenterSettings {
    /// The NodePools, in manifest order.
    pub node_pools: Vec<NodePool>,
    /// `BATCH_IDLE_DURATION`: a provisioning batch closes after this long with no new pod (1 s).
    pub batch_idle_duration: SimDuration,
    /// `BATCH_MAX_DURATION`: … or this long after it opened (10 s).
    pub batch_max_duration: SimDuration,
    /// Launch to Ready of a node.
    pub provisioning_time: DurationDist,
    /// The `SpotToSpotConsolidation` feature gate (off by default).
    pub spot_to_spot_consolidation: bool,
}

impl KarpenterSettings {
    /// Karpenter's defaults for the batch window.
    pub const BATCH_IDLE: SimDuration = SimDuration::from_secs(1);
    /// See [`KarpenterSettings::batch_max_duration`].
    pub const BATCH_MAX: SimDuration = SimDuration::from_secs(10);
    /// The disruption controller's polling period.
    pub const DISRUPTION_PERIOD: SimDuration = SimDuration::from_secs(10);
    /// How long a consolidation decision waits before it is checked again and carried out
    /// (`commandValidationDelay`).
    pub const VALIDATION_DELAY: SimDuration = SimDuration::from_secs(15);
    /// How long a node that pending pods were planned onto is not a disruption candidate
    /// (`max(2 × BATCH_MAX_DURATION, 10 s)`).
    pub const NOMINATION_WINDOW: SimDuration = SimDuration::from_secs(20);
    /// At most this many candidates enter multi-node consolidation's search.
    pub const MULTI_NODE_MAX_CANDIDATES: usize = 100;
    /// A spot node is replaced by spot only with at least this many cheaper types.
    pub const MIN_SPOT_TO_SPOT_TYPES: usize = 15;
}

/// `EvictionCost`: `clamp(1 + deletionCost / 2^27 + priority / 2^25, −10, 10)`.
pub fn eviction_cost(deletion_cost: i64, priority: i64) -> f64 {
    let cost = 1.0 + deletion_cost as f64 / 2f64.powi(27) + priority as f64 / 2f64.powi(25);
    cost.clamp(-10.0, 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(op: Operator, values: &[&str]) -> Requirement {
        Requirement {
            key: "k".into(),
            operator: op,
            values: values.iter().map(|v| v.to_string()).collect(),
            min_values: None,
        }
    }

    /// `requirement_test.go`'s `Has` table, the rows over single values: a requirement against
    /// a label value (`None`: no label).
    #[test]
    fn requirement_has_as_upstream() {
        use Operator::*;
        let cases: &[(Operator, &[&str], Option<&str>, bool)] = &[
            (Exists, &[], Some("A"), true),
            (DoesNotExist, &[], Some("A"), false),
            (DoesNotExist, &[], None, true),
            (In, &["A"], Some("A"), true),
            (In, &["A", "B"], Some("B"), true),
            (In, &["A"], Some("B"), false),
            (NotIn, &["A"], Some("A"), false),
            (NotIn, &["A"], Some("B"), true),
            (NotIn, &["A"], None, true),
            // NotIn [1, 2] Has "A" = true.
            (NotIn, &["1", "2"], Some("A"), true),
            // Gt 1 Has "A" = false: not an integer.
            (Gt, &["1"], Some("A"), false),
            (Gt, &["1"], Some("2"), true),
            (Gt, &["1"], Some("1"), false),
            // Lt 9 Has "1" = true.
            (Lt, &["9"], Some("1"), true),
            (Lt, &["9"], Some("9"), false),
            (Gte, &["4"], Some("4"), true),
            (Lte, &["4"], Some("5"), false),
            (Gt, &["3"], None, false),
        ];
        for &(op, values, label, want) in cases {
            assert_eq!(
                req(op, values).allows(label),
                want,
                "{op:?} {values:?} {label:?}"
            );
        }
    }

    fn budget(nodes: IntOrPercent, reasons: &[DisruptionReason], active: bool) -> Budget {
        let windows = if active {
            vec![(SimTime::ZERO, SimTime::ZERO + SimDuration::from_secs(3600))]
        } else {
            vec![]
        };
        Budget {
            nodes,
            reasons: reasons.to_vec(),
            windows: Some(windows),
        }
    }

    /// `nodepool_budgets_test.go`: 100 nodes; budgets 10 (all reasons), 100, 100 %,
    /// 15 {Drifted, Underutilized}, 5 {Drifted} active; 0 (all reasons) on `@weekly`, inactive
    /// (a Thursday); 4 {Empty}. Empty = min(10, 100, 100, 4) = 4; Drifted = min(…, 15, 5) = 5;
    /// Underutilized = min(10, 100, 100, 15) = 10. With the 0-budget active: 0 for all. With
    /// none active: MaxInt32.
    #[test]
    fn allowed_disruptions_by_reason_as_upstream() {
        use DisruptionReason::*;
        use IntOrPercent::{Int, Percent};
        let now = SimTime::ZERO + SimDuration::from_secs(60);
        let mut budgets = vec![
            budget(Int(10), &[], true),
            budget(Int(100), &[], true),
            budget(Percent(100), &[], true),
            budget(Int(15), &[Drifted, Underutilized], true),
            budget(Int(5), &[Drifted], true),
            budget(Int(0), &[], false),
            budget(Int(4), &[Empty], true),
        ];
        assert_eq!(allowed_disruptions(&budgets, 100, Empty, now), 4);
        assert_eq!(allowed_disruptions(&budgets, 100, Drifted, now), 5);
        assert_eq!(allowed_disruptions(&budgets, 100, Underutilized, now), 10);
        budgets[5] = budget(Int(0), &[], true);
        for r in [Empty, Drifted, Underutilized] {
            assert_eq!(allowed_disruptions(&budgets, 100, r, now), 0);
        }
        let none: Vec<Budget> = (budgets.iter())
            .map(|b| budget(b.nodes, &b.reasons, false))
            .collect();
        assert_eq!(allowed_disruptions(&none, 100, Empty, now), i32::MAX);
    }

    /// The docs' worked example: 19 nodes with a 20 % budget → ⌈3.8⌉ = 4; and 10 % of 19 →
    /// ⌈1.9⌉ = 2; a window is `[hit, hit + duration)`.
    #[test]
    fn percentages_round_up_and_windows_end() {
        let b = Budget {
            nodes: IntOrPercent::Percent(20),
            reasons: vec![],
            windows: Some(vec![(
                SimTime::ZERO + SimDuration::from_secs(10),
                SimTime::ZERO + SimDuration::from_secs(20),
            )]),
        };
        let at = |s| SimTime::ZERO + SimDuration::from_secs(s);
        assert_eq!(b.allowed(19, DisruptionReason::Empty, at(10)), 4);
        assert_eq!(b.allowed(19, DisruptionReason::Empty, at(20)), i32::MAX);
        assert_eq!(b.allowed(19, DisruptionReason::Empty, at(9)), i32::MAX);
        let ten = &NodePool::default_budgets()[0];
        assert_eq!(ten.allowed(19, DisruptionReason::Underutilized, at(0)), 2);
    }

    /// `suite_test.go` "Pod Eviction Cost": deletion cost ±100 → 1 ± 100/2²⁷; priority ±1 →
    /// 1 ± 1/2²⁵; priority 10⁹ → clamped to 10; −2³¹ → −10.
    #[test]
    fn eviction_cost_as_upstream() {
        assert_eq!(eviction_cost(100, 0), 1.0 + 100.0 / 2f64.powi(27));
        assert_eq!(eviction_cost(-100, 0), 1.0 - 100.0 / 2f64.powi(27));
        assert_eq!(eviction_cost(0, 1), 1.0 + 1.0 / 2f64.powi(25));
        assert_eq!(eviction_cost(0, 1_000_000_000), 10.0);
        assert_eq!(eviction_cost(0, -(1 << 31)), -10.0);
    }

    #[test]
    fn limits_are_exceeded_only_above() {
        let limits = Limits {
            cpu_millis: Some(4000),
            nodes: Some(2),
            ..Limits::default()
        };
        let node = Capacity {
            cpu_millis: 2000,
            memory_bytes: 1,
            gpus: 0,
            nodes: 1,
        };
        assert_eq!(limits.exceeded_by(node.plus(node)), None);
        assert_eq!(limits.exceeded_by(node.plus(node).plus(node)), Some("cpu"));
    }
}
