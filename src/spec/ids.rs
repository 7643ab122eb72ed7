//! Typed ids of the simulated cluster's objects: each indexes its kind's arena in
//! `cluster::Cluster`, and specs use them to name a node or a workload.

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(
            /// The position in its arena.
            pub u32,
        );
        impl $name {
            /// The position in its arena, to index it.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

typed_id!(/// A node pool.
    PoolId);
typed_id!(/// A node.
    NodeId);
typed_id!(/// A pod (ids are never reused).
    PodId);
typed_id!(/// A ReplicaSet.
    ReplicaSetId);
typed_id!(/// A Deployment.
    DeploymentId);
typed_id!(/// A Service.
    ServiceId);
typed_id!(/// A HorizontalPodAutoscaler.
    HpaId);

/// A set of ids kept as a sorted `Vec`: iterating it in order reads memory in order, where a
/// `BTreeSet`'s iteration chases pointers — the control plane walks a ReplicaSet's or a node's
/// pods at every HPA sync, sample and status update. Ids are mostly added in increasing order
/// (new pods get new ids), which appends; removing one moves the ids after it (sets here hold at
/// most thousands).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdSet<T>(Vec<T>);

impl<T> Default for IdSet<T> {
    fn default() -> Self {
        IdSet(Vec::new())
    }
}

impl<T: Ord + Copy> IdSet<T> {
    /// An empty set.
    pub fn new() -> Self {
        IdSet(Vec::new())
    }

    /// Adds `id`; false if it was there.
    pub fn insert(&mut self, id: T) -> bool {
        if self.0.last().is_none_or(|&last| last < id) {
            self.0.push(id);
            return true;
        }
        match self.0.binary_search(&id) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, id);
                true
            }
        }
    }

    /// Removes `id`; false if it was not there.
    pub fn remove(&mut self, id: &T) -> bool {
        match self.0.binary_search(id) {
            Ok(at) => {
                self.0.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    /// Keeps the ids for which `keep` is true (in one pass; the order stays).
    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.0.retain(keep);
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: &T) -> bool {
        self.0.binary_search(id).is_ok()
    }

    /// The ids in increasing order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    /// How many ids it holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The least id.
    pub fn first(&self) -> Option<&T> {
        self.0.first()
    }

    /// The greatest id.
    pub fn last(&self) -> Option<&T> {
        self.0.last()
    }
}

impl<'a, T> IntoIterator for &'a IdSet<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T: Ord + Copy> FromIterator<T> for IdSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(ids: I) -> Self {
        let mut all: Vec<T> = ids.into_iter().collect();
        all.sort_unstable();
        all.dedup();
        IdSet(all)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    proptest::proptest! {
        /// Any inserts and removes leave the same ids, answers and order as a `BTreeSet`.
        #[test]
        fn an_id_set_is_a_btree_set(
            ops in proptest::collection::vec((0u32..200, proptest::bool::ANY), 0..300),
        ) {
            let mut ids = IdSet::new();
            let mut model = BTreeSet::new();
            for (id, adds) in ops {
                let id = PodId(id);
                if adds {
                    proptest::prop_assert_eq!(ids.insert(id), model.insert(id));
                } else {
                    proptest::prop_assert_eq!(ids.remove(&id), model.remove(&id));
                }
                proptest::prop_assert_eq!(ids.contains(&id), model.contains(&id));
                proptest::prop_assert_eq!(ids.len(), model.len());
            }
            proptest::prop_assert!(ids.iter().eq(model.iter()));
            proptest::prop_assert_eq!(ids.first(), model.first());
            proptest::prop_assert_eq!(ids.last(), model.last());
            let collected: IdSet<PodId> = model.iter().rev().copied().collect();
            proptest::prop_assert_eq!(collected, ids);
        }
    }
}
