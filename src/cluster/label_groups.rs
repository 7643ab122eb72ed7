//! Bound pods counted by label set: what a label selector over pods (PodTopologySpread,
//! inter-pod affinity) needs, without looking at every pod.
//!
//! Pods with the same namespace and labels form one group (a ReplicaSet's pods share theirs),
//! so a selector is matched once per group instead of once per pod. Each group keeps how many
//! of its pods each node holds — counting, as the scheduler's plugins do, pods that are bound,
//! not terminated and not being deleted. The [`Cluster`](super::Cluster) updates the counts
//! whenever a pod is bound, marked for deletion, terminated or unbound; debug builds check them
//! against a recount.

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::selector::{LabelSelector, Labels};
use super::{NodeId, PodId};

/// One namespace and label set, and where its counted pods are.
#[derive(Clone, Debug)]
pub struct LabelGroup {
    pub namespace: String,
    pub labels: Labels,
    /// Counted pods per node (no entry: none).
    pub on_node: BTreeMap<NodeId, u32>,
}

/// Every label set bound pods have had, in order of first appearance.
#[derive(Clone, Default)]
pub struct LabelGroups {
    groups: Vec<LabelGroup>,
    /// namespace → labels → index in `groups`.
    index: BTreeMap<String, BTreeMap<Labels, usize>>,
    /// Each pod's group once looked up (`NO_GROUP`: not yet): a pod's labels never change, and
    /// looking its group up compares whole label sets.
    by_pod: Vec<u32>,
    /// The groups each (namespace, selector) asked about matches: a scheduling cycle's
    /// PodTopologySpread state asks for the same few selectors again and again, and matching
    /// them against every group compares strings.
    matched: RefCell<BTreeMap<String, BTreeMap<LabelSelector, Matched>>>,
}

/// The groups a selector matches among the first `scanned`.
#[derive(Clone, Debug, Default)]
struct Matched {
    scanned: usize,
    groups: Vec<usize>,
}

const NO_GROUP: u32 = u32::MAX;

/// The groups and their index; the pods' remembered groups are a cache, not state (a trial that
/// leaves them filled in leaves the cluster as it was).
impl std::fmt::Debug for LabelGroups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabelGroups")
            .field("groups", &self.groups)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl LabelGroups {
    /// `pod`, with these labels, started counting on `node`.
    pub fn add(&mut self, pod: PodId, namespace: &str, labels: &Labels, node: NodeId) {
        let i = self.group_of_pod(pod, namespace, labels);
        *self.groups[i].on_node.entry(node).or_insert(0) += 1;
    }

    /// `pod`, with these labels, stopped counting on `node`.
    pub fn remove(&mut self, pod: PodId, namespace: &str, labels: &Labels, node: NodeId) {
        let i = self.group_of_pod(pod, namespace, labels);
        let on_node = &mut self.groups[i].on_node;
        match on_node.get_mut(&node) {
            Some(1) => {
                on_node.remove(&node);
            }
            Some(n) => *n -= 1,
            None => debug_assert!(false, "label group count below zero on node {node:?}"),
        }
    }

    fn group_of_pod(&mut self, pod: PodId, namespace: &str, labels: &Labels) -> usize {
        match self.by_pod.get(pod.index()) {
            Some(&g) if g != NO_GROUP => g as usize,
            _ => {
                let g = self.group_of(namespace, labels);
                if self.by_pod.len() <= pod.index() {
                    self.by_pod.resize(pod.index() + 1, NO_GROUP);
                }
                self.by_pod[pod.index()] = g as u32;
                g
            }
        }
    }

    fn group_of(&mut self, namespace: &str, labels: &Labels) -> usize {
        if let Some(&i) = self.index.get(namespace).and_then(|m| m.get(labels)) {
            return i;
        }
        let i = self.groups.len();
        self.groups.push(LabelGroup {
            namespace: namespace.to_string(),
            labels: labels.clone(),
            on_node: BTreeMap::new(),
        });
        self.index
            .entry(namespace.to_string())
            .or_default()
            .insert(labels.clone(), i);
        i
    }

    /// Calls `f` with each group of `namespace` that `selector` matches, in order of first
    /// appearance.
    pub fn each_matching(
        &self,
        namespace: &str,
        selector: &LabelSelector,
        mut f: impl FnMut(&LabelGroup),
    ) {
        let mut cache = self.matched.borrow_mut();
        if !cache
            .get(namespace)
            .is_some_and(|m| m.contains_key(selector))
        {
            let of_namespace = cache.entry(namespace.to_string()).or_default();
            of_namespace.insert(selector.clone(), Matched::default());
        }
        let matched = (cache.get_mut(namespace))
            .and_then(|m| m.get_mut(selector))
            .expect("just inserted");
        for (i, g) in self.groups.iter().enumerate().skip(matched.scanned) {
            if g.namespace == namespace && selector.matches(&g.labels) {
                matched.groups.push(i);
            }
        }
        matched.scanned = self.groups.len();
        for &i in &matched.groups {
            f(&self.groups[i]);
        }
    }

    /// Counted pods of `namespace` matched by `selector`, per node index (`nodes` long).
    pub fn count_per_node(
        &self,
        namespace: &str,
        selector: &LabelSelector,
        nodes: usize,
    ) -> Vec<i64> {
        let mut counts = vec![0; nodes];
        self.each_matching(namespace, selector, |group| {
            for (node, &n) in &group.on_node {
                counts[node.index()] += i64::from(n);
            }
        });
        counts
    }

    /// How many groups there are.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Forgets the groups after the first `len` (which must count no pods): undoes a trial's.
    pub fn truncate(&mut self, len: usize) {
        if len >= self.groups.len() {
            return;
        }
        for g in &mut self.by_pod {
            if *g != NO_GROUP && *g as usize >= len {
                *g = NO_GROUP;
            }
        }
        for matched in self
            .matched
            .get_mut()
            .values_mut()
            .flat_map(|m| m.values_mut())
        {
            matched.groups.retain(|&g| g < len);
            matched.scanned = matched.scanned.min(len);
        }
        for group in self.groups.drain(len..) {
            debug_assert!(
                group.on_node.is_empty(),
                "a forgotten label group counts pods"
            );
            if let Some(m) = self.index.get_mut(&group.namespace) {
                m.remove(&group.labels);
                if m.is_empty() {
                    self.index.remove(&group.namespace);
                }
            }
        }
    }

    /// Every group with its counts (for checks).
    pub fn groups(&self) -> &[LabelGroup] {
        &self.groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(app: &str) -> Labels {
        [("app".to_string(), app.to_string())].into()
    }

    #[test]
    fn counts_follow_adds_and_removes_per_group_and_node() {
        let mut g = LabelGroups::default();
        // Pods 0–3 are default/web, 4 default/db, 5 other/web.
        g.add(PodId(0), "default", &labels("web"), NodeId(0));
        g.add(PodId(1), "default", &labels("web"), NodeId(0));
        g.add(PodId(2), "default", &labels("web"), NodeId(2));
        g.add(PodId(4), "default", &labels("db"), NodeId(1));
        g.add(PodId(5), "other", &labels("web"), NodeId(1));
        g.remove(PodId(0), "default", &labels("web"), NodeId(0));
        let web = LabelSelector::from_match_labels(labels("web"));
        // default/web: 1 on node 0, 1 on node 2; other/web is another namespace.
        assert_eq!(g.count_per_node("default", &web, 3), vec![1, 0, 1]);
        assert_eq!(g.count_per_node("other", &web, 3), vec![0, 1, 0]);
        assert_eq!(g.count_per_node("nowhere", &web, 3), vec![0, 0, 0]);
        g.remove(PodId(1), "default", &labels("web"), NodeId(0));
        assert!(!g.groups()[0].on_node.contains_key(&NodeId(0)));
    }

    #[test]
    fn remembered_matches_follow_new_and_forgotten_groups() {
        // The selector app=web is asked about, then a new web group appears (another label
        // set it matches), then a trial's group is forgotten again.
        let mut g = LabelGroups::default();
        let web = LabelSelector::from_match_labels(labels("web"));
        g.add(PodId(0), "default", &labels("web"), NodeId(0));
        assert_eq!(g.count_per_node("default", &web, 2), vec![1, 0]);
        let mut canary = labels("web");
        canary.insert("track".into(), "canary".into());
        g.add(PodId(1), "default", &canary, NodeId(1));
        assert_eq!(g.count_per_node("default", &web, 2), vec![1, 1]);
        g.remove(PodId(1), "default", &canary, NodeId(1));
        g.truncate(1);
        assert_eq!(g.count_per_node("default", &web, 2), vec![1, 0]);
        g.add(PodId(2), "default", &canary, NodeId(1));
        assert_eq!(g.count_per_node("default", &web, 2), vec![1, 1]);
    }

    #[test]
    fn a_pods_remembered_group_is_forgotten_with_the_group() {
        // A trial's pod (7) first seen with labels of a new group: the group goes at the
        // rollback, and the pod's next lookup finds its group afresh.
        let mut g = LabelGroups::default();
        g.add(PodId(1), "default", &labels("web"), NodeId(0));
        g.add(PodId(7), "default", &labels("job"), NodeId(0));
        g.remove(PodId(7), "default", &labels("job"), NodeId(0));
        g.truncate(1);
        assert_eq!(g.len(), 1);
        g.add(PodId(7), "default", &labels("web"), NodeId(1));
        let web = LabelSelector::from_match_labels(labels("web"));
        assert_eq!(g.count_per_node("default", &web, 2), vec![1, 1]);
    }
}
