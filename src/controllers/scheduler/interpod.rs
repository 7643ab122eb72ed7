//! InterPodAffinity (C.5): pods placed relative to other pods in the same topology domain.
//!
//! - **Filter** ([`InterPodFilter`]): the pod's required affinity terms must each find a
//!   matching pod in the node's domain (a pod whose terms match only itself may start a group
//!   anywhere when no pod matches yet); its required anti-affinity terms must find none; and no
//!   existing pod's required anti-affinity may match it within that pod's domain.
//! - **Score** ([`scores`]): per topology domain, the weights of the pod's preferred terms
//!   that existing pods match (anti-affinity subtracts), plus existing pods' preferred terms
//!   that match it, plus `hardPodAffinityWeight` (1) for existing pods' required affinity
//!   terms that match it; normalized `100 × (s − min) / (max − min)` (0 when all are equal).
//!
//! Existing pods are the pods bound to Ready nodes, terminating ones included, as in the
//! scheduler's cache.

use std::collections::BTreeMap;

use super::filter::Unfit;
use crate::cluster::{Cluster, Node};
use crate::scenario::{AffinityTerm, PodTemplate};

/// `hardPodAffinityWeight` (InterPodAffinityArgs default).
const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

/// A topology domain: (key, value).
type Domain<'c> = (&'c str, &'c str);

/// Every (node, pod) pair of bound pods on Ready nodes.
fn existing_pods(cluster: &Cluster) -> impl Iterator<Item = (&Node, &PodTemplate)> {
    cluster.ready_nodes.iter().flat_map(move |&n| {
        let node = cluster.node(n);
        node.pods
            .iter()
            .map(move |&p| (node, &*cluster.pod(p).template))
    })
}

/// The domain of `node` for `key`, if it has the label.
fn domain<'c>(node: &'c Node, key: &'c str) -> Option<Domain<'c>> {
    node.labels.get(key).map(|v| (key, v.as_str()))
}

/// PreFilter state: counts of matching pods per domain.
#[derive(Debug)]
pub struct InterPodFilter<'c> {
    pod: &'c PodTemplate,
    /// Pods matching all of the pod's required affinity terms, per term domain.
    affinity: BTreeMap<Domain<'c>, i64>,
    /// Pods matching one of the pod's required anti-affinity terms, per term domain.
    anti_affinity: BTreeMap<Domain<'c>, i64>,
    /// Existing pods whose required anti-affinity matches the pod, per their term's domain.
    existing_anti_affinity: BTreeMap<Domain<'c>, i64>,
}

impl<'c> InterPodFilter<'c> {
    /// `None` when neither the pod nor any pod in the cluster has inter-pod affinity.
    pub fn new(cluster: &'c Cluster, pod: &'c PodTemplate) -> Option<Self> {
        let own = &pod.pod_affinity;
        if !cluster.any_pod_affinity && own.required.is_empty() && own.required_anti.is_empty() {
            return None;
        }
        let mut f = InterPodFilter {
            pod,
            affinity: BTreeMap::new(),
            anti_affinity: BTreeMap::new(),
            existing_anti_affinity: BTreeMap::new(),
        };
        for (node, other) in existing_pods(cluster) {
            for t in &other.pod_affinity.required_anti {
                if t.matches(&other.namespace, pod)
                    && let Some(d) = domain(node, &t.topology_key)
                {
                    *f.existing_anti_affinity.entry(d).or_default() += 1;
                }
            }
            if !own.required.is_empty() && matches_all(&own.required, &pod.namespace, other) {
                for t in &own.required {
                    if let Some(d) = domain(node, &t.topology_key) {
                        *f.affinity.entry(d).or_default() += 1;
                    }
                }
            }
            for t in &own.required_anti {
                if t.matches(&pod.namespace, other)
                    && let Some(d) = domain(node, &t.topology_key)
                {
                    *f.anti_affinity.entry(d).or_default() += 1;
                }
            }
        }
        Some(f)
    }

    /// Filter: affinity, then the pod's anti-affinity, then existing pods' anti-affinity.
    pub fn check(&self, node: &Node) -> Result<(), Unfit<'static>> {
        if !self.satisfies_affinity(node) {
            return Err(Unfit::PodAffinity);
        }
        let count = |map: &BTreeMap<Domain, i64>, key: &str| {
            node.labels
                .get(key)
                .and_then(|v| map.get(&(key, v.as_str())))
                .copied()
                .unwrap_or(0)
        };
        let own = &self.pod.pod_affinity;
        if own
            .required_anti
            .iter()
            .any(|t| count(&self.anti_affinity, &t.topology_key) > 0)
        {
            return Err(Unfit::PodAntiAffinity);
        }
        if node
            .labels
            .iter()
            .any(|(k, v)| self.existing_anti_affinity.get(&(k.as_str(), v.as_str())) > Some(&0))
        {
            return Err(Unfit::ExistingPodsAntiAffinity);
        }
        Ok(())
    }

    /// `satisfyPodAffinity`.
    fn satisfies_affinity(&self, node: &Node) -> bool {
        let terms = &self.pod.pod_affinity.required;
        let mut pods_exist = true;
        for t in terms {
            let Some(d) = domain(node, &t.topology_key) else {
                return false; // every topology label must be on the node
            };
            if self.affinity.get(&d).copied().unwrap_or(0) <= 0 {
                pods_exist = false;
            }
        }
        pods_exist
            || (self.affinity.is_empty() && matches_all(terms, &self.pod.namespace, self.pod))
    }
}

/// `podMatchesAllAffinityTerms`: `pod` matches every term (declared in `owner_namespace`).
pub(super) fn matches_all(
    terms: &[AffinityTerm],
    owner_namespace: &str,
    pod: &PodTemplate,
) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(owner_namespace, pod))
}

/// InterPodAffinity's normalized scores (0–100) for `feasible`, or `None` when it has
/// nothing to score (PreScore skips: every node scores 0).
pub fn scores<'c>(cluster: &'c Cluster, pod: &PodTemplate, feasible: &[&Node]) -> Option<Vec<i64>> {
    let own = &pod.pod_affinity;
    let preferring = !own.preferred.is_empty() || !own.preferred_anti.is_empty();
    if !preferring && !cluster.any_pod_affinity {
        return None;
    }
    let mut topology: BTreeMap<&'c str, BTreeMap<&'c str, i64>> = BTreeMap::new();
    let mut add = |node: &'c Node, key: &str, weight: i64| {
        if let Some((k, v)) = node.labels.get_key_value(key) {
            *topology
                .entry(k.as_str())
                .or_default()
                .entry(v.as_str())
                .or_default() += weight;
        }
    };
    for (node, other) in existing_pods(cluster) {
        for (w, t) in &own.preferred {
            if t.matches(&pod.namespace, other) {
                add(node, &t.topology_key, *w);
            }
        }
        for (w, t) in &own.preferred_anti {
            if t.matches(&pod.namespace, other) {
                add(node, &t.topology_key, -*w);
            }
        }
        let theirs = &other.pod_affinity;
        for t in &theirs.required {
            if t.matches(&other.namespace, pod) {
                add(node, &t.topology_key, HARD_POD_AFFINITY_WEIGHT);
            }
        }
        for (w, t) in &theirs.preferred {
            if t.matches(&other.namespace, pod) {
                add(node, &t.topology_key, *w);
            }
        }
        for (w, t) in &theirs.preferred_anti {
            if t.matches(&other.namespace, pod) {
                add(node, &t.topology_key, -*w);
            }
        }
    }
    let raw: Vec<i64> = feasible
        .iter()
        .map(|node| {
            topology
                .iter()
                .filter_map(|(key, values)| {
                    node.labels.get(*key).and_then(|v| values.get(v.as_str()))
                })
                .sum()
        })
        .collect();
    Some(normalize(&raw))
}

/// `100 × (s − min) / (max − min)`, truncated; all 0 when every score is equal.
fn normalize(raw: &[i64]) -> Vec<i64> {
    let min = raw.iter().copied().min().unwrap_or(0);
    let max = raw.iter().copied().max().unwrap_or(0);
    let diff = max - min;
    raw.iter()
        .map(|&s| {
            if diff > 0 {
                (100.0 * ((s - min) as f64 / diff as f64)) as i64
            } else {
                0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! Cases after upstream `interpodaffinity/filtering_test.go` (`TestRequiredAffinitySingleNode`)
    //! and `scoring_test.go` (`TestPreferredAffinity`).

    use super::*;
    use crate::cluster::selector::LabelSelector;
    use crate::controllers::scheduler::{bind_test_pod, test_cluster, test_pod};
    use crate::scenario::PodAffinity;

    fn labelled(labels: &[(&str, &str)]) -> PodTemplate {
        let mut p = test_pod(0, 0);
        p.labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        p
    }

    fn term(key: &str, value: &str, topology: &str) -> AffinityTerm {
        AffinityTerm {
            selector: Some(LabelSelector::from_match_labels(
                [(key.to_string(), value.to_string())].into(),
            )),
            namespaces: Vec::new(),
            all_namespaces: false,
            topology_key: topology.into(),
        }
    }

    const HOST: &str = "kubernetes.io/hostname";
    const NODES: [(&str, &[(&str, &str)]); 2] = [
        ("machine1", &[("region", "r1")]),
        ("machine2", &[("region", "r2")]),
    ];

    fn filter(existing: &[(&str, PodTemplate)], pod: &PodTemplate) -> Vec<Result<(), String>> {
        let mut c = test_cluster(&NODES);
        for (node, t) in existing {
            bind_test_pod(&mut c, node, t.clone());
        }
        c.any_pod_affinity = true;
        let f = InterPodFilter::new(&c, pod).unwrap();
        c.nodes
            .iter()
            .map(|n| f.check(n).map_err(|e| e.to_string()))
            .collect()
    }

    #[test]
    fn filter_upstream_required_cases() {
        let ok = Ok(());
        let scan = labelled(&[("service", "securityscan")]);
        // Required affinity to a securityscan pod on the same host: only machine1 has one.
        let mut p = labelled(&[]);
        p.pod_affinity.required = vec![term("service", "securityscan", HOST)];
        assert_eq!(
            filter(&[("machine1", scan.clone())], &p),
            [
                ok.clone(),
                Err("node(s) didn't match pod affinity rules".into())
            ]
        );
        // On the region key instead: the domain is the region (machine2 is in another).
        p.pod_affinity.required = vec![term("service", "securityscan", "region")];
        assert_eq!(filter(&[("machine1", scan.clone())], &p)[0], ok);
        // Required anti-affinity: machine1 holds a matching pod.
        let mut anti = labelled(&[]);
        anti.pod_affinity.required_anti = vec![term("service", "securityscan", HOST)];
        assert_eq!(
            filter(&[("machine1", scan.clone())], &anti),
            [
                Err("node(s) didn't match pod anti-affinity rules".into()),
                ok.clone()
            ]
        );
        // An existing pod's anti-affinity against the incoming pod's labels.
        let mut guard = labelled(&[]);
        guard.pod_affinity.required_anti = vec![term("app", "noisy", HOST)];
        assert_eq!(
            filter(&[("machine2", guard)], &labelled(&[("app", "noisy")])),
            [
                ok.clone(),
                Err("node(s) didn't satisfy existing pods anti-affinity rules".into())
            ]
        );
        // The first pod of a group with affinity to itself may go anywhere.
        let mut first = labelled(&[("group", "a")]);
        first.pod_affinity.required = vec![term("group", "a", HOST)];
        assert_eq!(filter(&[], &first), [ok.clone(), ok.clone()]);
        // …but not when its terms do not match itself.
        let mut lonely = labelled(&[("group", "b")]);
        lonely.pod_affinity.required = vec![term("group", "a", HOST)];
        assert!(filter(&[], &lonely).iter().all(Result::is_err));
    }

    fn score(existing: &[(&str, PodTemplate)], pod: &PodTemplate) -> Option<Vec<i64>> {
        let mut c = test_cluster(&NODES);
        for (node, t) in existing {
            bind_test_pod(&mut c, node, t.clone());
        }
        c.any_pod_affinity = existing.iter().any(|(_, t)| !t.pod_affinity.is_empty());
        let feasible: Vec<&Node> = c.nodes.iter().collect();
        scores(&c, pod, &feasible)
    }

    #[test]
    fn score_upstream_preferred_cases() {
        let s1 = labelled(&[("security", "S1")]);
        let preferring = |anti: bool| {
            let mut p = labelled(&[]);
            let weighted = vec![(5, term("security", "S1", "region"))];
            p.pod_affinity = if anti {
                PodAffinity {
                    preferred_anti: weighted,
                    ..Default::default()
                }
            } else {
                PodAffinity {
                    preferred: weighted,
                    ..Default::default()
                }
            };
            p
        };
        // Affinity weight 5 to S1 by region: machine1's region scores 5, machine2's 0 →
        // 100 × (5 − 0)/5 = 100 and 0.
        assert_eq!(
            score(&[("machine1", s1.clone())], &preferring(false)),
            Some(vec![100, 0])
        );
        // Anti-affinity: −5 and 0 → 0 and 100.
        assert_eq!(
            score(&[("machine1", s1.clone())], &preferring(true)),
            Some(vec![0, 100])
        );
        // An existing pod's required affinity matching the incoming pod adds
        // hardPodAffinityWeight (1) to its domain: 1 and 0 → 100 and 0.
        let mut needs_s1 = labelled(&[]);
        needs_s1.pod_affinity.required = vec![term("security", "S1", HOST)];
        assert_eq!(score(&[("machine2", needs_s1)], &s1), Some(vec![0, 100]));
        // Nothing anywhere: the plugin skips.
        assert_eq!(score(&[("machine1", s1.clone())], &s1), None);
    }
}
