//! PodTopologySpread (C.5): spreading a pod's matching pods evenly over topology domains
//! (nodes, zones, any node label).
//!
//! - **Filter** ([`SpreadFilter`], the plugin's PreFilter + Filter) for `DoNotSchedule`
//!   constraints: a node passes when `matching pods in its domain + (1 if the pod matches its
//!   own selector) − the global minimum ≤ maxSkew`. Domains are the values of the topology
//!   label over the nodes that carry every constraint's key and pass the node-inclusion
//!   policies (the pod's node affinity by default, its tolerations with `nodeTaintsPolicy:
//!   Honor`); with fewer domains than `minDomains` the minimum is 0.
//! - **Score** ([`scores`], PreScore + Score + NormalizeScore) for `ScheduleAnyway`
//!   constraints, or — for a pod with no constraints at all that a Service or ReplicaSet
//!   selects — the profile's default constraints (the system defaults: hostname maxSkew 3 and
//!   zone maxSkew 5). Per node `Σ count × ln(domains + 2) + (maxSkew − 1)`, rounded; then
//!   `100 × (max + min − score) / max`, so the emptiest domain scores 100.
//!
//! Pods count when bound, not being deleted, in the pod's namespace and matched by the
//! constraint's selector.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::filter::{self, Unfit};
use super::profile::SpreadDefaults;
use crate::cluster::topology::{Domain, KeyDomains};
use crate::cluster::{Cluster, Node, NodeId};
use crate::scenario::{PodTemplate, SpreadConstraint};

/// The node label every node has, naming it: spreading over it spreads over nodes.
pub const HOSTNAME_KEY: &str = "kubernetes.io/hostname";

/// A node whose pods a constraint does not count (not Ready, without a key, or excluded by the
/// node inclusion policies).
const NOT_COUNTED: u32 = u32::MAX;

/// The constraints of one kind (`hard`: DoNotSchedule) that apply to `pod`: its own, or the
/// profile's defaults (with the pod's default selector) when it declares none at all.
fn constraints<'a>(
    pod: &'a PodTemplate,
    defaults: &SpreadDefaults,
    hard: bool,
) -> Vec<Cow<'a, SpreadConstraint>> {
    if !pod.topology_spread.is_empty() {
        return pod
            .topology_spread
            .iter()
            .filter(|c| c.hard == hard)
            .map(Cow::Borrowed)
            .collect();
    }
    let Some(selector) = pod.default_spread_selector.as_ref() else {
        return Vec::new();
    };
    defaults
        .constraints()
        .iter()
        .filter(|d| d.hard == hard)
        .map(|d| {
            Cow::Owned(SpreadConstraint {
                max_skew: d.max_skew,
                topology_key: d.topology_key.to_string(),
                hard,
                selector: Some(selector.clone()),
                match_label_keys: Vec::new(),
                min_domains: 1,
                honor_node_affinity: true,
                honor_node_taints: false,
            })
        })
        .collect()
}

/// Whether `node` carries the topology key of every constraint.
fn has_all_keys(node: &Node, constraints: &[Cow<SpreadConstraint>]) -> bool {
    constraints
        .iter()
        .all(|c| node.labels.contains_key(&c.topology_key))
}

/// `matchNodeInclusionPolicies`: whether `node`'s pods count for constraint `c` of `pod`.
fn node_included(c: &SpreadConstraint, node: &Node, pod: &PodTemplate) -> bool {
    let any_node_affinity = !pod.node_selector.is_empty() || !pod.required_node_affinity.is_empty();
    (!c.honor_node_affinity || !any_node_affinity || filter::node_affinity(node, pod).is_ok())
        && (!c.honor_node_taints || filter::taint_toleration(node, pod).is_ok())
}

/// `countPodsMatchSelector` for every node at once: per node index, the pods `c` counts there
/// (bound, not being deleted, in `namespace`, matched by its selector; an empty or absent
/// selector counts none).
fn matching_per_node(cluster: &Cluster, c: &SpreadConstraint, namespace: &str) -> Vec<i64> {
    #[cfg(debug_assertions)]
    cluster.check_label_groups();
    match c.selector.as_ref().filter(|s| !s.is_empty()) {
        Some(selector) => {
            cluster
                .label_groups
                .count_per_node(namespace, selector, cluster.nodes.len())
        }
        None => vec![0; cluster.nodes.len()],
    }
}

/// Whether `other`, a pod bound or deleted, counts for one of `pod`'s `DoNotSchedule`
/// constraints: in the same namespace and matched by its selector (PodTopologySpread's
/// queueing hint for a pod added or deleted).
pub(super) fn counts_for_hard_constraint(
    pod: &PodTemplate,
    defaults: &SpreadDefaults,
    other: &PodTemplate,
) -> bool {
    other.namespace == pod.namespace
        && constraints(pod, defaults, true).iter().any(|c| {
            c.selector
                .as_ref()
                .is_some_and(|s| s.matches(&other.labels))
        })
}

/// Calls `f(node, pods)` for each node where constraint `c` counts pods (bound, not being
/// deleted, in `namespace`, matched by its selector; an empty or absent selector counts none),
/// a node possibly more than once.
fn each_matching(
    cluster: &Cluster,
    c: &SpreadConstraint,
    namespace: &str,
    mut f: impl FnMut(NodeId, i64),
) {
    #[cfg(debug_assertions)]
    cluster.check_label_groups();
    if let Some(selector) = c.selector.as_ref().filter(|s| !s.is_empty()) {
        (cluster.label_groups).each_matching(namespace, selector, |group| {
            for (&node, &n) in &group.on_node {
                f(node, i64::from(n));
            }
        });
    }
}

/// Whether `constraints` is one constraint whose node inclusion policies exclude no node: the
/// pod has no node affinity it honors, and it ignores taints.
fn one_plain_constraint(pod: &PodTemplate, constraints: &[Cow<SpreadConstraint>]) -> bool {
    let [c] = constraints else {
        return false;
    };
    let any_node_affinity = !pod.node_selector.is_empty() || !pod.required_node_affinity.is_empty();
    !(c.honor_node_taints || c.honor_node_affinity && any_node_affinity)
}

/// Whether the pod is matched by its own constraint's selector (counts itself in the skew).
fn self_match(c: &SpreadConstraint, pod: &PodTemplate) -> bool {
    c.selector.as_ref().is_some_and(|s| s.matches(&pod.labels))
}

/// PreFilter state for the pod's `DoNotSchedule` constraints.
#[derive(Debug)]
pub struct SpreadFilter<'a> {
    constraints: Vec<Cow<'a, SpreadConstraint>>,
    /// Per constraint: the domains of its key (`None`: no node has the key).
    domains: Vec<Option<&'a KeyDomains>>,
    /// Per constraint and domain id: matching pods (`None`: no eligible node in the domain).
    counts: Vec<Vec<Option<i64>>>,
    /// Per constraint: the global minimum ([`SpreadFilter::min_match`]).
    min_match: Vec<i64>,
    self_match: Vec<i64>,
}

impl<'a> SpreadFilter<'a> {
    /// `None` when the pod has no `DoNotSchedule` constraint (the filter passes every node).
    pub fn new(
        cluster: &'a Cluster,
        pod: &'a PodTemplate,
        defaults: &SpreadDefaults,
    ) -> Option<Self> {
        let constraints = constraints(pod, defaults, true);
        if constraints.is_empty() {
            return None;
        }
        let domains: Vec<Option<&KeyDomains>> = constraints
            .iter()
            .map(|c| cluster.topology.key(&c.topology_key))
            .collect();
        Some(if one_plain_constraint(pod, &constraints) {
            Self::of_one_plain_constraint(cluster, pod, constraints, domains)
        } else {
            Self::by_node_pass(cluster, pod, constraints, domains)
        })
    }

    /// [`SpreadFilter::new`] for any constraints: a pass over the Ready nodes finds the domains
    /// whose pods count, then the matching pods are counted there.
    fn by_node_pass(
        cluster: &'a Cluster,
        pod: &'a PodTemplate,
        constraints: Vec<Cow<'a, SpreadConstraint>>,
        domains: Vec<Option<&'a KeyDomains>>,
    ) -> Self {
        let mut counts: Vec<Vec<Option<i64>>> = domains
            .iter()
            .map(|d| vec![None; d.map_or(0, KeyDomains::len)])
            .collect();
        // Per constraint and node index: the domain whose count the node's pods go to.
        let mut counted_in = vec![vec![NOT_COUNTED; cluster.nodes.len()]; constraints.len()];
        let mut node_domains = vec![0; constraints.len()];
        for &id in &cluster.ready_nodes {
            let node = cluster.node(id);
            // Only nodes with every constraint's key count.
            let has_all_keys = domains.iter().zip(&mut node_domains).all(|(d, slot)| {
                match d.map(|d| d.domain_of(node)) {
                    Some(Domain::Known(i)) => {
                        *slot = i as usize;
                        true
                    }
                    _ => false,
                }
            });
            if !has_all_keys {
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if node_included(c, node, pod) {
                    counts[i][node_domains[i]].get_or_insert(0);
                    counted_in[i][id.index()] = node_domains[i] as u32;
                }
            }
        }
        for (i, c) in constraints.iter().enumerate() {
            each_matching(cluster, c, &pod.namespace, |node, n| {
                let domain = counted_in[i][node.index()];
                if domain != NOT_COUNTED {
                    *counts[i][domain as usize].get_or_insert(0) += n;
                }
            });
        }
        let min_match = constraints
            .iter()
            .zip(&counts)
            .map(|(c, counts)| Self::min_match(c, counts))
            .collect();
        let self_match = constraints
            .iter()
            .map(|c| i64::from(self_match(c, pod)))
            .collect();
        SpreadFilter {
            constraints,
            domains,
            counts,
            min_match,
            self_match,
        }
    }

    /// [`SpreadFilter::new`] without a pass over the nodes, for the common case of one
    /// constraint whose node inclusion policies exclude no node (the pod has no node affinity
    /// to honor, and taints are ignored): its domains are those with a Ready node (which the
    /// topology index counts), and only the nodes holding matching pods are looked at.
    fn of_one_plain_constraint(
        cluster: &'a Cluster,
        pod: &'a PodTemplate,
        constraints: Vec<Cow<'a, SpreadConstraint>>,
        domains: Vec<Option<&'a KeyDomains>>,
    ) -> Self {
        let (c, d) = (&constraints[0], domains[0]);
        #[cfg(debug_assertions)]
        cluster
            .topology
            .check_ready(cluster.ready_nodes.iter().map(|&id| cluster.node(id)));
        let mut counts: Vec<Option<i64>> = match d {
            Some(d) => (0..d.len() as u32)
                .map(|id| d.has_ready_node(id).then_some(0))
                .collect(),
            None => Vec::new(),
        };
        if let Some(d) = d {
            each_matching(cluster, c, &pod.namespace, |id, n| {
                let node = cluster.node(id);
                if node.state != crate::cluster::NodeState::Ready {
                    return;
                }
                if let Domain::Known(domain) = d.domain_of(node) {
                    *counts[domain as usize].get_or_insert(0) += n;
                }
            });
        }
        let min_match = vec![Self::min_match(c, &counts)];
        let self_match = vec![i64::from(self_match(c, pod))];
        SpreadFilter {
            constraints,
            domains,
            counts: vec![counts],
            min_match,
            self_match,
        }
    }

    /// The global minimum of a constraint over its eligible domains' `counts`: 0 when there
    /// are fewer domains than `minDomains`, and large (everything passes) when there are none.
    fn min_match(c: &SpreadConstraint, counts: &[Option<i64>]) -> i64 {
        let eligible = || counts.iter().flatten().copied();
        if (eligible().count() as i64) < i64::from(c.min_domains) {
            return 0;
        }
        eligible().min().unwrap_or(i64::from(i32::MAX))
    }

    /// Filter: every constraint's skew on `node` stays within its `maxSkew`.
    pub fn check(&self, node: &Node) -> Result<(), Unfit<'static>> {
        for (i, c) in self.constraints.iter().enumerate() {
            let domain = self.domains[i].map_or(Domain::Missing, |d| d.domain_of(node));
            let matching = match domain {
                Domain::Missing => return Err(Unfit::SpreadMissingLabel),
                Domain::Known(d) => self.counts[i][d as usize].unwrap_or(0),
                Domain::Unknown => 0,
            };
            if matching + self.self_match[i] - self.min_match[i] > i64::from(c.max_skew) {
                return Err(Unfit::Spread);
            }
        }
        Ok(())
    }
}

/// PodTopologySpread's normalized scores (0–100) for `feasible`, or `None` when the pod has no
/// soft constraints (the plugin skips: every node scores 0).
pub fn scores(
    cluster: &Cluster,
    pod: &PodTemplate,
    feasible: &[&Node],
    defaults: &SpreadDefaults,
) -> Option<Vec<i64>> {
    let constraints = constraints(pod, defaults, false);
    if constraints.is_empty() {
        return None;
    }
    // Only explicit (or non-system default) constraints need every key on a node; the system
    // defaults still spread by hostname over nodes without a zone label.
    let require_all = !pod.topology_spread.is_empty() || !defaults.is_system();
    // Per constraint, each feasible node's domain (`None`: it lacks the key).
    let domains: Vec<Vec<Option<&str>>> = constraints
        .iter()
        .map(|c| feasible_domains(cluster, &c.topology_key, feasible))
        .collect();
    let ignored: Vec<bool> = (0..feasible.len())
        .map(|j| require_all && domains.iter().any(|d| d[j].is_none()))
        .collect();
    let by_host: Vec<bool> = (constraints.iter())
        .map(|c| c.topology_key == HOSTNAME_KEY)
        .collect();
    let mut counts: Vec<BTreeMap<&str, i64>> = vec![BTreeMap::new(); constraints.len()];
    for i in (0..constraints.len()).filter(|&i| !by_host[i]) {
        let kept = (0..feasible.len()).filter(|&j| !ignored[j]);
        enter_domains(&mut counts[i], kept.map(|j| domains[i][j].unwrap_or("")));
    }
    let scored_nodes = ignored.iter().filter(|i| !**i).count();
    let weights: Vec<f64> = constraints
        .iter()
        .zip(&counts)
        .map(|(c, domains)| {
            let size = if c.topology_key == HOSTNAME_KEY {
                scored_nodes
            } else {
                domains.len()
            };
            ((size + 2) as f64).ln()
        })
        .collect();
    let matching: Vec<Vec<i64>> = constraints
        .iter()
        .map(|c| matching_per_node(cluster, c, &pod.namespace))
        .collect();
    count_domains(
        cluster,
        pod,
        &constraints,
        &matching,
        require_all,
        &mut counts,
    );
    let mut lookups: Vec<DomainLookup> = counts.iter().map(DomainLookup::new).collect();
    let raw: Vec<i64> = feasible
        .iter()
        .zip(&ignored)
        .enumerate()
        .map(|(j, (node, &ignored))| {
            if ignored {
                return 0;
            }
            let mut score = 0.0;
            for (i, c) in constraints.iter().enumerate() {
                let Some(domain) = domains[i][j] else {
                    continue;
                };
                let count = if by_host[i] {
                    matching[i][node.id.index()]
                } else {
                    lookups[i].count(domain)
                };
                score += count as f64 * weights[i] + f64::from(c.max_skew - 1);
            }
            score.round() as i64
        })
        .collect();
    Some(normalize(&raw, &ignored))
}

/// Adds each of the `names` to `counts` at 0. The topology index hands out one string per
/// domain, so a name is first compared by address with the (first 16) names already added.
fn enter_domains<'c>(counts: &mut BTreeMap<&'c str, i64>, names: impl Iterator<Item = &'c str>) {
    let mut entered: Vec<&str> = Vec::new();
    for name in names {
        if entered.iter().any(|e| std::ptr::eq(*e, name)) {
            continue;
        }
        counts.entry(name).or_insert(0);
        if entered.len() < 16 {
            entered.push(name);
        }
    }
}

/// Reads domains' counts, a name compared by address with the (first 16) names already read
/// before it is looked up by its characters.
struct DomainLookup<'m, 'c> {
    counts: &'m BTreeMap<&'c str, i64>,
    read: Vec<(&'c str, i64)>,
}

impl<'m, 'c> DomainLookup<'m, 'c> {
    fn new(counts: &'m BTreeMap<&'c str, i64>) -> Self {
        DomainLookup {
            counts,
            read: Vec::new(),
        }
    }

    /// The count of domain `name` (0 when it has none).
    fn count(&mut self, name: &'c str) -> i64 {
        if let Some(&(_, n)) = self.read.iter().find(|(e, _)| std::ptr::eq(*e, name)) {
            return n;
        }
        let n = self.counts.get(name).copied().unwrap_or(0);
        if self.read.len() < 16 {
            self.read.push((name, n));
        }
        n
    }
}

/// The value of label `key` on each of the `feasible` nodes (`None`: it lacks the key), read by
/// index from the cluster's topology index rather than looked up in each node's labels.
fn feasible_domains<'c>(
    cluster: &'c Cluster,
    key: &str,
    feasible: &[&'c Node],
) -> Vec<Option<&'c str>> {
    let label = |node: &'c Node| node.labels.get(key).map(String::as_str);
    let Some(domains) = cluster.topology.key(key) else {
        return feasible.iter().map(|n| label(n)).collect();
    };
    feasible
        .iter()
        .map(|n| match domains.domain_of(n) {
            Domain::Known(d) => Some(domains.name(d)),
            Domain::Missing => None,
            Domain::Unknown => label(n),
        })
        .collect()
}

/// Adds every ready node's matching pods (per constraint and node index) to the domains the
/// feasible nodes span.
fn count_domains<'c>(
    cluster: &'c Cluster,
    pod: &PodTemplate,
    constraints: &[Cow<SpreadConstraint>],
    matching: &[Vec<i64>],
    require_all: bool,
    counts: &mut [BTreeMap<&'c str, i64>],
) {
    // Per constraint, its key's domains by id (hostname constraints count per node instead:
    // their domain maps stay empty).
    let keys: Vec<Option<&KeyDomains>> = constraints
        .iter()
        .map(|c| match c.topology_key == HOSTNAME_KEY {
            true => None,
            false => cluster.topology.key(&c.topology_key),
        })
        .collect();
    // Per constraint, a running sum for each indexed domain the counts keep (`None`: not
    // kept), so that a node's matching pods are added by domain id, not looked up by name.
    let mut sums: Vec<Vec<Option<i64>>> = (keys.iter().zip(counts.iter()))
        .map(|(key, counts)| {
            let ids = key.map_or(0, |k| k.len() as u32);
            let kept = |d| counts.contains_key(key.map_or("", |k| k.name(d)));
            (0..ids).map(|d| kept(d).then_some(0)).collect()
        })
        .collect();
    // Whether a node holds pods some domain-counting constraint matches: the others add
    // nothing, and are passed over before their node is read.
    let holds_matching = |id: NodeId| {
        keys.iter()
            .zip(matching)
            .any(|(key, matching)| key.is_some() && matching[id.index()] != 0)
    };
    for &id in cluster.ready_nodes.iter().filter(|&&id| holds_matching(id)) {
        let node = cluster.node(id);
        if require_all && !has_all_keys(node, constraints) {
            continue;
        }
        for (i, c) in constraints.iter().enumerate() {
            let Some(key) = keys[i] else {
                continue;
            };
            if !node_included(c, node, pod) {
                continue;
            }
            let matching = matching[i][id.index()];
            let count = match key.domain_of(node) {
                Domain::Known(d) => sums[i][d as usize].as_mut(),
                Domain::Missing => counts[i].get_mut(""),
                Domain::Unknown => {
                    let label = node.labels.get(&c.topology_key);
                    counts[i].get_mut(label.map_or("", String::as_str))
                }
            };
            if let Some(count) = count {
                *count += matching;
            }
        }
    }
    for ((key, sums), counts) in keys.iter().zip(sums).zip(counts.iter_mut()) {
        for (d, sum) in sums.into_iter().enumerate() {
            let kept = key.and_then(|key| counts.get_mut(key.name(d as u32)));
            if let (Some(count), Some(sum)) = (kept, sum) {
                *count += sum;
            }
        }
    }
}

/// NormalizeScore: fewer matching pods score higher; ignored nodes score 0.
fn normalize(raw: &[i64], ignored: &[bool]) -> Vec<i64> {
    let kept = || {
        raw.iter()
            .zip(ignored)
            .filter(|(_, i)| !**i)
            .map(|(s, _)| *s)
    };
    let min = kept().min().unwrap_or(0);
    let max = kept().max().unwrap_or(0);
    raw.iter()
        .zip(ignored)
        .map(|(&s, &ignored)| match (ignored, max) {
            (true, _) => 0,
            (false, 0) => 100,
            (false, max) => 100 * (max + min - s) / max,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! Cases from upstream `podtopologyspread/filtering_test.go` (`TestSingleConstraint`) and
    //! `scoring_test.go` (`TestPodTopologySpreadScore`), with the arithmetic in comments.

    use super::*;
    use crate::cluster::selector::{LabelSelector, Requirement, SelectorOperator};

    fn exists(key: &str) -> LabelSelector {
        LabelSelector {
            match_labels: Default::default(),
            match_expressions: vec![Requirement {
                key: key.into(),
                operator: SelectorOperator::Exists,
                values: Vec::new(),
            }],
        }
    }

    fn constraint(
        max_skew: i32,
        key: &str,
        hard: bool,
        selector: Option<LabelSelector>,
    ) -> SpreadConstraint {
        SpreadConstraint {
            max_skew,
            topology_key: key.into(),
            hard,
            selector,
            match_label_keys: Vec::new(),
            min_domains: 1,
            honor_node_affinity: true,
            honor_node_taints: false,
        }
    }

    /// A pod labelled with `labels` (each with an empty value).
    fn pod(labels: &[&str], constraints: Vec<SpreadConstraint>) -> PodTemplate {
        let mut p = crate::controllers::scheduler::test_pod(0, 0);
        p.labels = labels
            .iter()
            .map(|l| (l.to_string(), String::new()))
            .collect();
        p.topology_spread = constraints;
        p
    }

    /// Nodes `(name, zone)` (no zone: `""`), each labelled with its hostname, and bound pods
    /// `(node name, labels)`.
    fn cluster(nodes: &[(&str, &str)], pods: &[(&str, &[&str])]) -> Cluster {
        let zones: Vec<[(&str, &str); 1]> = nodes.iter().map(|(_, z)| [("zone", *z)]).collect();
        let specs: Vec<(&str, &[(&str, &str)])> = nodes
            .iter()
            .zip(&zones)
            .map(|((name, zone), z)| (*name, if zone.is_empty() { &[][..] } else { &z[..] }))
            .collect();
        let mut c = crate::controllers::scheduler::test_cluster(&specs);
        for (node, labels) in pods {
            crate::controllers::scheduler::bind_test_pod(&mut c, node, pod(labels, Vec::new()));
        }
        c
    }

    fn feasible<'c>(c: &'c Cluster, names: &[&str]) -> Vec<&'c Node> {
        names
            .iter()
            .map(|name| c.nodes.iter().find(|n| n.name == *name).unwrap())
            .collect()
    }

    const FOO_ON_4_NODES_2_1_0_3: [(&str, &[&str]); 6] = [
        ("node-a", &["foo"]),
        ("node-a", &["foo"]),
        ("node-b", &["foo"]),
        ("node-d", &["foo"]),
        ("node-d", &["foo"]),
        ("node-d", &["foo"]),
    ];
    const FOUR_NODES: [(&str, &str); 4] = [
        ("node-a", ""),
        ("node-b", ""),
        ("node-c", ""),
        ("node-d", ""),
    ];

    #[test]
    fn score_upstream_cases_on_hostname() {
        let all = ["node-a", "node-b", "node-c", "node-d"];
        let c = cluster(&FOUR_NODES, &FOO_ON_4_NODES_2_1_0_3);
        let score = |max_skew, selector: Option<LabelSelector>| {
            let p = pod(
                &["foo"],
                vec![constraint(max_skew, HOSTNAME_KEY, false, selector)],
            );
            scores(&c, &p, &feasible(&c, &all), &SpreadDefaults::System).unwrap()
        };
        // weight ln(4+2) = 1.79; raw 2×1.79 = 3.58 → 4, 1.79 → 2, 0, 5.38 → 5;
        // normalized 100×(5+0−s)/5 = 20, 60, 100, 0.
        assert_eq!(score(1, Some(exists("foo"))), [20, 60, 100, 0]);
        // maxSkew 2 adds 1 before rounding: 5, 3, 1, 6 → 100×(7−s)/6 = 33, 66, 100, 16.
        assert_eq!(score(2, Some(exists("foo"))), [33, 66, 100, 16]);
        // A null selector matches nothing: every raw score 0 → all 100.
        assert_eq!(score(1, None), [100, 100, 100, 100]);
    }

    #[test]
    fn score_counts_failed_nodes_and_ignores_nodes_without_the_key() {
        // Pods 4/2/1/3 on a/b/x/y; y failed the filters (not scored, but its pods count for
        // zones). Hostname: weight ln(3+2) = 1.61 → raw 6.44 → 6, 3.22 → 3, 1.61 → 2;
        // 100×(8−s)/6 = 33, 83, 100.
        let nodes = [
            ("node-a", "zone1"),
            ("node-b", "zone1"),
            ("node-x", "zone2"),
            ("node-y", "zone2"),
        ];
        let mut pods: Vec<(&str, &[&str])> = Vec::new();
        for (node, n) in [("node-a", 4), ("node-b", 2), ("node-x", 1), ("node-y", 3)] {
            pods.extend(std::iter::repeat_n((node, &["foo"][..]), n));
        }
        let c = cluster(&nodes, &pods);
        let candidates = feasible(&c, &["node-a", "node-b", "node-x"]);
        let on = |key: &str| {
            let p = pod(
                &["foo"],
                vec![constraint(1, key, false, Some(exists("foo")))],
            );
            scores(&c, &p, &candidates, &SpreadDefaults::System).unwrap()
        };
        assert_eq!(on(HOSTNAME_KEY), [33, 83, 100]);
        // Zones: zone1 = 4+2 = 6, zone2 = 1+3 = 4 (node-y counts); weight ln(2+2) = 1.39 →
        // raw 8.3 → 8, 8, 5.5 → 6; 100×(14−s)/8 = 75, 75, 100.
        assert_eq!(on("zone"), [75, 75, 100]);
        // Two constraints (zone and hostname), candidates a and x.
        let both = pod(
            &["foo"],
            vec![
                constraint(1, "zone", false, Some(exists("foo"))),
                constraint(1, HOSTNAME_KEY, false, Some(exists("foo"))),
            ],
        );
        let two = feasible(&c, &["node-a", "node-x"]);
        // zone weight ln(4) = 1.386, hostname weight ln(4) = 1.386:
        // a = 6×1.386 + 4×1.386 = 13.9 → 14; x = 4×1.386 + 1×1.386 = 6.9 → 7;
        // 100×(21−s)/14 = 50, 100.
        assert_eq!(
            scores(&c, &both, &two, &SpreadDefaults::System).unwrap(),
            [50, 100]
        );
    }

    #[test]
    fn a_node_without_the_topology_key_scores_zero() {
        // node-b has no zone: ignored (0). Zone weight: domains {zone1, zone2} → ln 4;
        // a: zone1 = 2 pods → 2.77 → 3; x: zone2 = 1 → 1.39 → 1; 100×(4−s)/3 = 33, 100.
        let nodes = [("node-a", "zone1"), ("node-b", ""), ("node-x", "zone2")];
        let c = cluster(
            &nodes,
            &[
                ("node-a", &["foo"]),
                ("node-a", &["foo"]),
                ("node-x", &["foo"]),
                ("node-b", &["foo"]),
            ],
        );
        let p = pod(
            &["foo"],
            vec![constraint(1, "zone", false, Some(exists("foo")))],
        );
        let got = scores(
            &c,
            &p,
            &feasible(&c, &["node-a", "node-b", "node-x"]),
            &SpreadDefaults::System,
        );
        assert_eq!(got.unwrap(), [33, 0, 100]);
    }

    #[test]
    fn system_defaults_spread_by_hostname_when_nodes_have_no_zone() {
        // "system defaulting, nodes don't have zone, pods match service": 4/3/2/1 pods.
        // Hostname (maxSkew 3), weight ln 6 = 1.79: 4×1.79+2 = 9.2 → 9, 7.4 → 7, 5.6 → 6,
        // 3.8 → 4; the zone default adds nothing (no node has the label):
        // 100×(13−s)/9 = 44, 66, 77, 100.
        let mut pods: Vec<(&str, &[&str])> = Vec::new();
        for (node, n) in [("node-a", 4), ("node-b", 3), ("node-c", 2), ("node-d", 1)] {
            pods.extend(std::iter::repeat_n((node, &["foo"][..]), n));
        }
        let c = cluster(&FOUR_NODES, &pods);
        let mut p = pod(&["foo"], Vec::new());
        let all = feasible(&c, &["node-a", "node-b", "node-c", "node-d"]);
        assert_eq!(
            scores(&c, &p, &all, &SpreadDefaults::System),
            None,
            "nobody selects it"
        );
        p.default_spread_selector = Some(LabelSelector::from_match_labels(
            [("foo".to_string(), String::new())].into(),
        ));
        assert_eq!(
            scores(&c, &p, &all, &SpreadDefaults::System).unwrap(),
            [44, 66, 77, 100]
        );
        // `defaultingType: List` with no constraints turns defaulting off.
        assert_eq!(
            scores(&c, &p, &all, &SpreadDefaults::List(Vec::new())),
            None
        );
    }

    /// Zone filter on a/b (zone1), x/y (zone2) with `pods` already bound.
    fn zone_filter(pods: &[(&str, &[&str])], incoming: PodTemplate) -> Vec<Result<(), String>> {
        let nodes = [
            ("node-a", "zone1"),
            ("node-b", "zone1"),
            ("node-x", "zone2"),
            ("node-y", "zone2"),
        ];
        let c = cluster(&nodes, pods);
        let f = SpreadFilter::new(&c, &incoming, &SpreadDefaults::System).unwrap();
        // The pass over every node finds the same state as the shortcut for one constraint.
        let hard = constraints(&incoming, &SpreadDefaults::System, true);
        let domains = hard
            .iter()
            .map(|k| c.topology.key(&k.topology_key))
            .collect();
        let by_nodes = SpreadFilter::by_node_pass(&c, &incoming, hard, domains);
        assert_eq!(format!("{f:?}"), format!("{by_nodes:?}"));
        c.nodes
            .iter()
            .map(|n| f.check(n).map_err(|e| e.to_string()))
            .collect()
    }

    #[test]
    fn filter_upstream_single_constraint_cases() {
        let hard = |skew| vec![constraint(skew, "zone", true, Some(exists("foo")))];
        let ok = Ok(());
        let no = Err("node(s) didn't match pod topology spread constraints".to_string());
        // No existing pods: 0 + 1 − 0 = 1 ≤ 1 everywhere.
        assert_eq!(
            zone_filter(&[], pod(&["foo"], hard(1))),
            [ok.clone(), ok.clone(), ok.clone(), ok.clone()]
        );
        // zone1 has 3 matching pods, zone2 1: zone1 → 3+1−1 = 3 > 1; zone2 → 1+1−1 = 1.
        let spread: [(&str, &[&str]); 5] = [
            ("node-a", &["foo"]),
            ("node-a", &["foo"]),
            ("node-b", &["foo"]),
            ("node-x", &["foo"]),
            ("node-y", &["bar"]), // not matched by the selector
        ];
        assert_eq!(
            zone_filter(&spread, pod(&["foo"], hard(1))),
            [no.clone(), no.clone(), ok.clone(), ok.clone()]
        );
        // maxSkew 2: zone1 → 3 > 2 still; with maxSkew 3 it passes.
        assert_eq!(
            zone_filter(&spread, pod(&["foo"], hard(3))),
            [ok.clone(), ok.clone(), ok.clone(), ok.clone()]
        );
        // The incoming pod does not match its own selector: zone1 → 3+0−1 = 2 > 1.
        assert_eq!(
            zone_filter(&spread, pod(&["bar"], hard(1))),
            [no.clone(), no.clone(), ok.clone(), ok.clone()]
        );
        // minDomains 3 with 2 zones: the global minimum is 0, so zone2 → 1+1−0 = 2 > 1 too.
        let mut min3 = hard(1);
        min3[0].min_domains = 3;
        assert_eq!(
            zone_filter(&spread, pod(&["foo"], min3)),
            [no.clone(), no.clone(), no.clone(), no]
        );
    }

    #[test]
    fn filter_node_inclusion_policies_and_missing_labels() {
        // The pod may only run in zone2 (node affinity): zone1's pods do not count, so the
        // only domain is zone2 with 1 pod: 1+1−1 = 1 passes; zone1 nodes pass the spread
        // filter too (their domain is unknown to it: 0+1−1) — NodeAffinity rejects them.
        let spread: [(&str, &[&str]); 4] = [
            ("node-a", &["foo"]),
            ("node-a", &["foo"]),
            ("node-b", &["foo"]),
            ("node-x", &["foo"]),
        ];
        let mut p = pod(
            &["foo"],
            vec![constraint(1, "zone", true, Some(exists("foo")))],
        );
        p.node_selector.insert("zone".into(), "zone2".into());
        assert!(zone_filter(&spread, p.clone()).iter().all(Result::is_ok));
        // Ignoring node affinity, zone1 counts 3 and zone2 (1) is the minimum: x → 1+1−1 = 1.
        p.topology_spread[0].honor_node_affinity = false;
        let got = zone_filter(&spread, p);
        assert!(got[0].is_err() && got[2].is_ok(), "{got:?}");
        // A node without the topology label fails as unresolvable.
        let c = cluster(&[("node-a", "zone1"), ("node-b", "")], &[]);
        let p = pod(
            &["foo"],
            vec![constraint(1, "zone", true, Some(exists("foo")))],
        );
        let f = SpreadFilter::new(&c, &p, &SpreadDefaults::System).unwrap();
        assert_eq!(
            f.check(&c.nodes[1]).map_err(|e| e.to_string()),
            Err(
                "node(s) didn't match pod topology spread constraints (missing required label)"
                    .into()
            )
        );
        // System defaults are ScheduleAnyway: no filter at all.
        let mut defaulted = pod(&["foo"], Vec::new());
        defaulted.default_spread_selector = Some(exists("foo"));
        assert!(SpreadFilter::new(&c, &defaulted, &SpreadDefaults::System).is_none());
    }
}
