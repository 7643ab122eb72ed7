//! Filter plugins, in the default profile's order. A node that does not fit gets an [`Unfit`]
//! reason (no allocation on this hot path), displayed the way kube-scheduler reports it.

use std::fmt;

use crate::cluster::Node;
use crate::cluster::node_row::{FIXED, NodeRow, ResourceName, TOO_MANY_PODS_BIT};
use crate::cluster::resources::{Taint, TaintEffect};
use crate::scenario::PodTemplate;

/// Why a node does not fit a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unfit<'a> {
    /// The node is cordoned (`spec.unschedulable`).
    NodeUnschedulable,
    /// The pod's `spec.nodeName` names another node.
    NodeName,
    /// A `NoSchedule` or `NoExecute` taint the pod does not tolerate.
    UntoleratedTaint(&'a Taint),
    /// The pod's node selector or required node affinity does not match.
    NodeAffinity,
    /// A host port the pod asks for is taken.
    NodePorts,
    /// The node holds its `pods` capacity already.
    TooManyPods,
    /// Not enough of a resource left (`Insufficient cpu`).
    Insufficient(ResourceName<'a>),
    /// PodTopologySpread: the skew would exceed `maxSkew`.
    Spread,
    /// PodTopologySpread: the node lacks a constraint's topology label.
    SpreadMissingLabel,
    /// InterPodAffinity: no pod the required affinity asks for in the node's domain.
    PodAffinity,
    /// InterPodAffinity: a pod the required anti-affinity excludes is in the node's domain.
    PodAntiAffinity,
    /// InterPodAffinity: an existing pod's required anti-affinity excludes this pod.
    ExistingPodsAntiAffinity,
}

/// A filter plugin of the default profile: what rejected a node, so what a pod waits on in the
/// unschedulable pool (upstream's `UnschedulablePlugins`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterPlugin {
    /// `NodeUnschedulable`.
    NodeUnschedulable,
    /// `NodeName`.
    NodeName,
    /// `TaintToleration`.
    TaintToleration,
    /// `NodeAffinity`.
    NodeAffinity,
    /// `NodePorts`.
    NodePorts,
    /// `NodeResourcesFit`.
    NodeResourcesFit,
    /// `PodTopologySpread`.
    PodTopologySpread,
    /// `InterPodAffinity`.
    InterPodAffinity,
}

/// A set of filter plugins: those that rejected a pod on some node in its last attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rejectors(u8);

impl Rejectors {
    /// Every plugin.
    pub const ALL: Rejectors = Rejectors(u8::MAX);

    /// The set of `plugins`.
    pub const fn of(plugins: &[FilterPlugin]) -> Rejectors {
        let mut bits = 0;
        let mut i = 0;
        while i < plugins.len() {
            bits |= 1 << plugins[i] as u8;
            i += 1;
        }
        Rejectors(bits)
    }

    /// Adds `plugin`.
    pub fn add(&mut self, plugin: FilterPlugin) {
        self.0 |= 1 << plugin as u8;
    }

    /// Adds `plugin` when `yes` (without a branch).
    pub fn add_if(&mut self, plugin: FilterPlugin, yes: bool) {
        self.0 |= u8::from(yes) << plugin as u8;
    }

    /// Whether `plugin` is in the set.
    pub fn has(self, plugin: FilterPlugin) -> bool {
        self.0 & 1 << plugin as u8 != 0
    }

    /// Whether no plugin is (the pod failed for another reason: no nodes at all).
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The plugins in both sets.
    pub fn and(self, other: Rejectors) -> Rejectors {
        Rejectors(self.0 & other.0)
    }
}

impl FilterPlugin {
    /// Every filter plugin, in the default profile's order.
    pub const ALL: [FilterPlugin; 8] = [
        FilterPlugin::NodeUnschedulable,
        FilterPlugin::NodeName,
        FilterPlugin::TaintToleration,
        FilterPlugin::NodeAffinity,
        FilterPlugin::NodePorts,
        FilterPlugin::NodeResourcesFit,
        FilterPlugin::PodTopologySpread,
        FilterPlugin::InterPodAffinity,
    ];

    /// The plugin's name in a scheduler profile.
    pub fn name(&self) -> &'static str {
        match self {
            FilterPlugin::NodeUnschedulable => "NodeUnschedulable",
            FilterPlugin::NodeName => "NodeName",
            FilterPlugin::TaintToleration => "TaintToleration",
            FilterPlugin::NodeAffinity => "NodeAffinity",
            FilterPlugin::NodePorts => "NodePorts",
            FilterPlugin::NodeResourcesFit => "NodeResourcesFit",
            FilterPlugin::PodTopologySpread => "PodTopologySpread",
            FilterPlugin::InterPodAffinity => "InterPodAffinity",
        }
    }

    /// The plugin that gives `reason`, a reason as a `FailedScheduling` message counts it
    /// (`Insufficient cpu`, `node(s) had untolerated taint(s)`, …); `None` for other text.
    pub fn of_reason(reason: &str) -> Option<FilterPlugin> {
        if reason.starts_with("Insufficient ") {
            return Some(FilterPlugin::NodeResourcesFit);
        }
        let taint = Taint {
            key: String::new(),
            value: String::new(),
            effect: TaintEffect::NoSchedule,
        };
        let reasons = [
            Unfit::NodeUnschedulable,
            Unfit::NodeName,
            Unfit::UntoleratedTaint(&taint),
            Unfit::NodeAffinity,
            Unfit::NodePorts,
            Unfit::TooManyPods,
            Unfit::Spread,
            Unfit::SpreadMissingLabel,
            Unfit::PodAffinity,
            Unfit::PodAntiAffinity,
            Unfit::ExistingPodsAntiAffinity,
        ];
        (reasons.iter())
            .find(|unfit| unfit.to_string() == reason)
            .map(Unfit::plugin)
    }
}

impl Unfit<'_> {
    /// The plugin that gives this reason.
    pub fn plugin(&self) -> FilterPlugin {
        match self {
            Unfit::NodeUnschedulable => FilterPlugin::NodeUnschedulable,
            Unfit::NodeName => FilterPlugin::NodeName,
            Unfit::UntoleratedTaint(_) => FilterPlugin::TaintToleration,
            Unfit::NodeAffinity => FilterPlugin::NodeAffinity,
            Unfit::NodePorts => FilterPlugin::NodePorts,
            Unfit::TooManyPods | Unfit::Insufficient(_) => FilterPlugin::NodeResourcesFit,
            Unfit::Spread | Unfit::SpreadMissingLabel => FilterPlugin::PodTopologySpread,
            Unfit::PodAffinity | Unfit::PodAntiAffinity | Unfit::ExistingPodsAntiAffinity => {
                FilterPlugin::InterPodAffinity
            }
        }
    }
}

impl fmt::Display for Unfit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The taint is not named since Kubernetes 1.35 (kubernetes#134740: pod statuses no
            // longer carry taint keys or values).
            Unfit::UntoleratedTaint(_) => f.write_str("node(s) had untolerated taint(s)"),
            Unfit::NodeAffinity => f.write_str("node(s) didn't match Pod's node affinity/selector"),
            Unfit::NodeUnschedulable => f.write_str("node(s) were unschedulable"),
            Unfit::NodeName => f.write_str("node(s) didn't match the requested node name"),
            Unfit::NodePorts => {
                f.write_str("node(s) didn't have free ports for the requested pod ports")
            }
            Unfit::TooManyPods => f.write_str("Too many pods"),
            Unfit::Insufficient(name) => write!(f, "Insufficient {}", name.as_str()),
            Unfit::Spread => f.write_str("node(s) didn't match pod topology spread constraints"),
            Unfit::PodAffinity => f.write_str("node(s) didn't match pod affinity rules"),
            Unfit::PodAntiAffinity => f.write_str("node(s) didn't match pod anti-affinity rules"),
            Unfit::ExistingPodsAntiAffinity => {
                f.write_str("node(s) didn't satisfy existing pods anti-affinity rules")
            }
            Unfit::SpreadMissingLabel => f.write_str(
                "node(s) didn't match pod topology spread constraints (missing required label)",
            ),
        }
    }
}

/// Runs the node-local filters in the default profile's order; the first failure is the
/// node's reason.
pub fn run_filters<'a>(node: &'a Node, pod: &'a PodTemplate) -> Result<(), Unfit<'a>> {
    run_filters_on(node, &NodeRow::of(node), pod)
}

/// [`run_filters`] with the node's [`NodeRow`] at hand (the scheduler's loop).
pub fn run_filters_on<'a>(
    node: &'a Node,
    row: &NodeRow,
    pod: &'a PodTemplate,
) -> Result<(), Unfit<'a>> {
    node_unschedulable(node, pod)?;
    node_name(node, pod)?;
    taint_toleration(node, pod)?;
    node_affinity(node, pod)?;
    node_ports(node, pod)?;
    resources_fit(row, node, pod)
}

/// Whether the pod asks nothing of a node but room for its cpu, memory, ephemeral storage and
/// GPUs: no node name, selector, required node affinity, host ports or other extended
/// resources. On an open node ([`NodeRow::open`]) only [`fixed_resources_fit`] can reject it.
pub fn asks_only_resources(pod: &PodTemplate) -> bool {
    pod.node_name.is_none()
        && pod.node_selector.is_empty()
        && pod.required_node_affinity.is_empty()
        && pod.host_ports.is_empty()
        && pod.requests.extended.is_empty()
}

/// NodeUnschedulable: a cordoned node takes only pods tolerating
/// `node.kubernetes.io/unschedulable:NoSchedule`.
pub fn node_unschedulable<'a>(node: &Node, pod: &PodTemplate) -> Result<(), Unfit<'a>> {
    if !node.unschedulable {
        return Ok(());
    }
    let taint = Taint {
        key: UNSCHEDULABLE_KEY.into(),
        value: String::new(),
        effect: TaintEffect::NoSchedule,
    };
    if pod.tolerations.iter().any(|t| t.tolerates(&taint)) {
        Ok(())
    } else {
        Err(Unfit::NodeUnschedulable)
    }
}

pub use crate::cluster::resources::UNSCHEDULABLE_TAINT_KEY as UNSCHEDULABLE_KEY;

/// NodeName: a pod with `spec.nodeName` fits only that node.
pub fn node_name<'a>(node: &Node, pod: &PodTemplate) -> Result<(), Unfit<'a>> {
    match &pod.node_name {
        Some(name) if *name != node.name => Err(Unfit::NodeName),
        _ => Ok(()),
    }
}

/// NodePorts: none of the pod's host ports may be taken on the node.
pub fn node_ports<'a>(node: &Node, pod: &PodTemplate) -> Result<(), Unfit<'a>> {
    let taken = pod
        .host_ports
        .iter()
        .any(|want| node.used_ports.iter().any(|used| want.conflicts_with(used)));
    if taken { Err(Unfit::NodePorts) } else { Ok(()) }
}

/// Calls `note` with every reason a node that failed with `first` does not fit: NodeResourcesFit
/// reports each insufficient resource (and too many pods) of the node, the other filters one
/// reason.
pub fn each_reason<'a>(
    node: &'a Node,
    row: &NodeRow,
    pod: &'a PodTemplate,
    first: Unfit<'a>,
    mut note: impl FnMut(Unfit<'a>),
) {
    match first {
        Unfit::TooManyPods | Unfit::Insufficient(_) => {
            let mut noted = false;
            if row.pod_room < 1 {
                note(Unfit::TooManyPods);
                noted = true;
            }
            for name in insufficient(row, node, pod) {
                note(Unfit::Insufficient(name));
                noted = true;
            }
            // Short only once the pods nominated here are counted: the reason as given.
            if !noted {
                note(first);
            }
        }
        other => note(other),
    }
}

/// TaintToleration: every NoSchedule/NoExecute taint must be tolerated.
pub fn taint_toleration<'a>(node: &'a Node, pod: &PodTemplate) -> Result<(), Unfit<'a>> {
    match node
        .taints
        .iter()
        .filter(|t| t.effect != TaintEffect::PreferNoSchedule)
        .find(|taint| !pod.tolerations.iter().any(|t| t.tolerates(taint)))
    {
        Some(taint) => Err(Unfit::UntoleratedTaint(taint)),
        None => Ok(()),
    }
}

/// NodeAffinity: every nodeSelector label must match, and one of the required terms (if any).
pub fn node_affinity<'a>(node: &Node, pod: &PodTemplate) -> Result<(), Unfit<'a>> {
    let selector = pod
        .node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v));
    let required = pod.required_node_affinity.is_empty()
        || pod
            .required_node_affinity
            .iter()
            .any(|t| t.matches(&node.labels, &node.name));
    if selector && required {
        Ok(())
    } else {
        Err(Unfit::NodeAffinity)
    }
}

/// NodeResourcesFit: pod count, then every requested resource against what is left (cpu,
/// memory, ephemeral-storage, GPUs, then other extended resources by name; the first shortfall
/// is the reason).
pub fn node_resources_fit<'a>(node: &Node, pod: &'a PodTemplate) -> Result<(), Unfit<'a>> {
    resources_fit(&NodeRow::of(node), node, pod)
}

/// [`node_resources_fit`] on the node's row (extended resources other than GPUs from `node`).
fn resources_fit<'a>(row: &NodeRow, node: &Node, pod: &'a PodTemplate) -> Result<(), Unfit<'a>> {
    fixed_resources_fit(row, &pod.requests.fixed())?;
    match pod
        .requests
        .extended_shortfalls(&node.allocatable, &node.requested)
        .next()
    {
        Some(name) => Err(Unfit::Insufficient(ResourceName::Extended(name))),
        None => Ok(()),
    }
}

/// NodeResourcesFit for the pod count and the fixed-slot resources `want`: too many pods
/// first, then the first short resource.
#[inline]
pub fn fixed_resources_fit(row: &NodeRow, want: &[i64; 4]) -> Result<(), Unfit<'static>> {
    match row.unfit_bits(want) {
        0 => Ok(()),
        bits if bits & TOO_MANY_PODS_BIT != 0 => Err(Unfit::TooManyPods),
        bits => Err(Unfit::Insufficient(ResourceName::Fixed(
            bits.trailing_zeros() as u8,
        ))),
    }
}

/// The resources `pod` requests more of than the node has left.
fn insufficient<'p>(
    row: &NodeRow,
    node: &Node,
    pod: &'p PodTemplate,
) -> impl Iterator<Item = ResourceName<'p>> {
    let bits = row.shortfalls(&pod.requests.fixed());
    let fixed = (0..FIXED.len() as u8)
        .filter(move |slot| bits & (1 << slot) != 0)
        .map(ResourceName::Fixed);
    let extended = (!pod.requests.extended.is_empty())
        .then(|| {
            pod.requests
                .extended_shortfalls(&node.allocatable, &node.requested)
        })
        .into_iter()
        .flatten()
        .map(ResourceName::Extended);
    fixed.chain(extended)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::resources::{Taint, Toleration};

    fn node(cpu: i64, mem: i64, used_cpu: i64, used_mem: i64) -> Node {
        super::super::test_node(cpu, mem, used_cpu, used_mem)
    }

    fn pod(cpu: i64, mem: i64) -> PodTemplate {
        crate::controllers::scheduler::test_pod(cpu, mem)
    }

    #[test]
    fn fit_table() {
        // (allocatable cpu, mem, used cpu, mem, pod cpu, mem) → result
        let cases = [
            ((4000, 1000, 3000, 0), (1000, 0), Ok(())), // exactly fills: 1000 ≤ 4000-3000
            ((4000, 1000, 3001, 0), (1000, 0), Err("Insufficient cpu")), // 1000 > 999
            ((4000, 1000, 0, 900), (100, 200), Err("Insufficient memory")),
            ((4000, 1000, 0, 0), (0, 0), Ok(())),
        ];
        for ((ac, am, uc, um), (pc, pm), want) in cases {
            let (n, p) = (node(ac, am, uc, um), pod(pc, pm));
            let got = node_resources_fit(&n, &p).map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(String::from));
        }
        let mut extended = pod(0, 0);
        extended.requests.set("nvidia.com/gpu", 1);
        assert_eq!(
            node_resources_fit(&node(4000, 1000, 0, 0), &extended).map_err(|e| e.to_string()),
            Err("Insufficient nvidia.com/gpu".into())
        );
        let mut full = node(4000, 1000, 0, 0);
        full.pod_count = 110;
        assert_eq!(
            node_resources_fit(&full, &pod(0, 0)),
            Err(Unfit::TooManyPods)
        );
    }

    #[test]
    fn every_insufficient_resource_is_a_reason_sorted_as_upstream_sorts_strings() {
        use crate::controllers::scheduler::{FitError, ReasonTally};
        // 4 cpu / 1000 B nodes; the pod wants 5 cpu and 2000 B: both are short on each node.
        let n = node(4000, 1000, 0, 0);
        let p = pod(5000, 2000);
        let first = node_resources_fit(&n, &p).unwrap_err();
        let mut reasons = ReasonTally::default();
        for _ in 0..12 {
            each_reason(&n, &NodeRow::of(&n), &p, first, |r| {
                reasons.add(&r.to_string())
            });
        }
        reasons.add_n("node(s) had untolerated taint(s)", 4);
        let fit = FitError {
            nodes: 16,
            reasons,
            post_filter: None,
        };
        // "12 …" sorts before "4 …" as strings, exactly as kube-scheduler prints it.
        assert_eq!(
            fit.to_string(),
            "0/16 nodes are available: 12 Insufficient cpu, 12 Insufficient memory, 4 node(s) had untolerated taint(s)."
        );
        let empty = FitError {
            nodes: 0,
            reasons: ReasonTally::default(),
            post_filter: None,
        };
        assert_eq!(empty.to_string(), "no nodes available to schedule pods");
    }

    #[test]
    fn unschedulable_name_and_port_filters() {
        use crate::scenario::HostPort;
        let port = |ip: &str, protocol: &str, port| HostPort {
            ip: ip.into(),
            protocol: protocol.into(),
            port,
        };
        let mut n = node(1, 1, 0, 0);
        let mut p = pod(0, 0);
        // Cordoned: refused unless the pod tolerates node.kubernetes.io/unschedulable.
        n.unschedulable = true;
        assert_eq!(run_filters(&n, &p), Err(Unfit::NodeUnschedulable));
        p.tolerations.push(Toleration {
            key: UNSCHEDULABLE_KEY.into(),
            exists: true,
            value: String::new(),
            effect: Some(TaintEffect::NoSchedule),
            seconds: None,
        });
        assert_eq!(run_filters(&n, &p), Ok(()));
        // spec.nodeName: only that node.
        p.node_name = Some("other".into());
        assert_eq!(
            run_filters(&n, &p).map_err(|e| e.to_string()),
            Err("node(s) didn't match the requested node name".into())
        );
        p.node_name = Some("n".into());
        assert_eq!(run_filters(&n, &p), Ok(()));
        // Host ports (upstream TestNodePorts): (taken, wanted) → conflict?
        let cases = [
            (
                port("0.0.0.0", "TCP", 8080),
                port("0.0.0.0", "TCP", 8080),
                true,
            ),
            (
                port("127.0.0.1", "TCP", 8080),
                port("0.0.0.0", "TCP", 8080),
                true,
            ), // any ∩ one
            (
                port("127.0.0.1", "TCP", 8080),
                port("127.0.0.2", "TCP", 8080),
                false,
            ),
            (
                port("0.0.0.0", "UDP", 8080),
                port("0.0.0.0", "TCP", 8080),
                false,
            ), // protocol
            (
                port("0.0.0.0", "TCP", 8080),
                port("0.0.0.0", "TCP", 8081),
                false,
            ),
        ];
        for (taken, wanted, conflict) in cases {
            let mut with_port = pod(0, 0);
            with_port.host_ports = vec![taken.clone()];
            let mut n = node(1, 1, 0, 0);
            n.reserve(&with_port);
            let mut p = pod(0, 0);
            p.host_ports = vec![wanted.clone()];
            let want = if conflict {
                Err(Unfit::NodePorts)
            } else {
                Ok(())
            };
            assert_eq!(node_ports(&n, &p), want, "{taken:?} vs {wanted:?}");
            n.release(&with_port);
            assert_eq!(node_ports(&n, &p), Ok(()), "released");
        }
    }

    #[test]
    fn taints_need_tolerations() {
        let mut n = node(1, 1, 0, 0);
        n.taints.push(Taint {
            key: "gpu".into(),
            value: "true".into(),
            effect: TaintEffect::NoSchedule,
        });
        let mut p = pod(0, 0);
        assert_eq!(
            taint_toleration(&n, &p).map_err(|e| e.to_string()),
            Err("node(s) had untolerated taint(s)".into())
        );
        p.tolerations.push(Toleration {
            key: "gpu".into(),
            exists: true,
            value: String::new(),
            effect: None,
            seconds: None,
        });
        assert_eq!(taint_toleration(&n, &p), Ok(()));
    }

    #[test]
    fn node_affinity_requires_the_selector_and_one_required_term() {
        use crate::cluster::selector::{NodeOperator, NodeRequirement, NodeSelectorTerm};
        let term = |key: &str, value: &str| NodeSelectorTerm {
            match_expressions: vec![NodeRequirement {
                key: key.into(),
                operator: NodeOperator::In,
                values: vec![value.into()],
            }],
            match_fields: Vec::new(),
        };
        let mut n = node(1, 1, 0, 0);
        let labels = std::sync::Arc::make_mut(&mut n.labels);
        labels.insert("gpu".into(), "T4".into());
        labels.insert("zone".into(), "a".into());
        let mut p = pod(0, 0);
        // Terms are ORed: T4 or V100.
        p.required_node_affinity = vec![term("gpu", "V100"), term("gpu", "T4")];
        assert_eq!(node_affinity(&n, &p), Ok(()));
        p.required_node_affinity = vec![term("gpu", "V100")];
        let refused = Err(Unfit::NodeAffinity);
        assert_eq!(node_affinity(&n, &p), refused);
        // nodeSelector and the required terms must both hold.
        p.required_node_affinity = vec![term("gpu", "T4")];
        p.node_selector.insert("zone".into(), "b".into());
        assert_eq!(node_affinity(&n, &p), refused);
    }
}
