//! Topology domains by number: for every node label key, the distinct values (domains) with
//! ids, and each node's domain. PodTopologySpread reads a node's domain as an index instead of
//! looking its label up by string for every node of every scheduling cycle.
//!
//! Node labels are fixed when a node is created, so [`Cluster::add_node`](super::Cluster)
//! indexes them once.

use std::collections::BTreeMap;

use super::{Node, NodeId};

const NONE: u32 = u32::MAX;

/// The domains of one label key.
#[derive(Clone, Debug, Default)]
pub struct KeyDomains {
    key: String,
    /// Domain id → value.
    names: Vec<String>,
    ids: BTreeMap<String, u32>,
    /// Node index → domain id (`NONE`: the node lacks the key, or is not indexed).
    of_node: Vec<u32>,
    /// Domain id → how many Ready nodes it has.
    ready: Vec<u32>,
}

/// Where a node stands for one topology key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// The node lacks the key.
    Missing,
    /// A domain some indexed node has (its id).
    Known(u32),
    /// A value no indexed node has (e.g. a template node in a new zone).
    Unknown,
}

impl KeyDomains {
    /// How many distinct domains the indexed nodes have.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Whether domain `id` has a Ready node.
    pub fn has_ready_node(&self, id: u32) -> bool {
        self.ready[id as usize] > 0
    }

    /// The value of domain `id`.
    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    /// The node's domain: by index for indexed nodes, else by its label.
    pub fn domain_of(&self, node: &Node) -> Domain {
        match self.of_node.get(node.id.index()) {
            Some(&d) if d != NONE => Domain::Known(d),
            _ => match node.labels.get(&self.key) {
                None => Domain::Missing,
                Some(value) => self
                    .ids
                    .get(value)
                    .map_or(Domain::Unknown, |&d| Domain::Known(d)),
            },
        }
    }

    fn set(&mut self, node: NodeId, value: &str) {
        let next = self.names.len() as u32;
        let id = *self.ids.entry(value.to_string()).or_insert(next);
        if id == next {
            self.names.push(value.to_string());
            self.ready.push(0);
        }
        let i = node.index();
        if self.of_node.len() <= i {
            self.of_node.resize(i + 1, NONE);
        }
        self.of_node[i] = id;
    }
}

/// Every label key of the indexed nodes.
/// Per key, how many domains and node entries the index had (see [`TopologyIndex::mark`]).
#[derive(Clone, Debug, Default)]
pub struct TopologyMark {
    keys: BTreeMap<String, (usize, usize)>,
}

#[derive(Clone, Debug, Default)]
pub struct TopologyIndex {
    keys: BTreeMap<String, KeyDomains>,
}

impl TopologyIndex {
    /// Indexes a node's labels.
    pub fn add(&mut self, node: &Node) {
        for (key, value) in node.labels.iter() {
            self.keys
                .entry(key.clone())
                .or_insert_with(|| KeyDomains {
                    key: key.clone(),
                    ..KeyDomains::default()
                })
                .set(node.id, value);
        }
    }

    /// The node turned Ready (`true`) or stopped being Ready: its domains' Ready counts follow.
    pub fn node_ready(&mut self, node: &Node, ready: bool) {
        for key in node.labels.keys() {
            let Some(d) = self.keys.get_mut(key) else {
                continue;
            };
            let Some(&id) = d.of_node.get(node.id.index()).filter(|&&id| id != NONE) else {
                continue;
            };
            let count = &mut d.ready[id as usize];
            *count = if ready { *count + 1 } else { *count - 1 };
        }
    }

    /// Debug check: every domain's Ready count equals a recount over `ready` (the Ready nodes).
    #[cfg(debug_assertions)]
    pub fn check_ready<'n>(&self, ready: impl Iterator<Item = &'n Node> + Clone) {
        for d in self.keys.values() {
            let mut expected = vec![0u32; d.names.len()];
            for node in ready.clone() {
                if let Domain::Known(id) = d.domain_of(node) {
                    expected[id as usize] += 1;
                }
            }
            assert_eq!(d.ready, expected, "Ready counts of {} are stale", d.key);
        }
    }

    /// How far the index reaches now, to [`TopologyIndex::truncate`] back to.
    pub fn mark(&self) -> TopologyMark {
        TopologyMark {
            keys: self
                .keys
                .iter()
                .map(|(k, d)| (k.clone(), (d.names.len(), d.of_node.len())))
                .collect(),
        }
    }

    /// Forgets what nodes added since `mark` brought: keys, domains and node entries.
    pub fn truncate(&mut self, mark: TopologyMark) {
        self.keys.retain(|k, _| mark.keys.contains_key(k));
        for (key, d) in &mut self.keys {
            let (names, of_node) = mark.keys[key];
            d.names.truncate(names);
            debug_assert!(d.ready[names..].iter().all(|&n| n == 0));
            d.ready.truncate(names);
            d.ids.retain(|_, id| (*id as usize) < names);
            d.of_node.truncate(of_node);
        }
    }

    /// The domains of `key` (`None`: no indexed node has it).
    pub fn key(&self, key: &str) -> Option<&KeyDomains> {
        self.keys.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u32, labels: &[(&str, &str)]) -> Node {
        let mut n = crate::cluster::test_node(1000, 1 << 30, 0, 0);
        n.id = NodeId(id);
        n.labels = std::sync::Arc::new(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        n
    }

    #[test]
    fn nodes_get_domain_ids_in_order_of_first_appearance() {
        let mut t = TopologyIndex::default();
        t.add(&node(0, &[("zone", "b")]));
        t.add(&node(1, &[("zone", "a"), ("gpu", "T4")]));
        t.add(&node(2, &[("zone", "b")]));
        let zone = t.key("zone").unwrap();
        assert_eq!(zone.len(), 2);
        assert_eq!(zone.domain_of(&node(2, &[])), Domain::Known(0));
        assert_eq!(zone.name(1), "a");
        // Node 0 lacks gpu: missing, though the key is indexed.
        assert_eq!(
            t.key("gpu").unwrap().domain_of(&node(0, &[])),
            Domain::Missing
        );
        // An unindexed node is looked up by label: a known zone, or an unknown one.
        assert_eq!(zone.domain_of(&node(9, &[("zone", "a")])), Domain::Known(1));
        assert_eq!(zone.domain_of(&node(9, &[("zone", "c")])), Domain::Unknown);
        assert!(t.key("rack").is_none());
    }
}
