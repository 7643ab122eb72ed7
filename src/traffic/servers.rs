//! The serving pods' servers, found by pod id but stored densely.
//!
//! Pod ids are never reused, so a table indexed by pod id holds a slot for every pod ever
//! created — on a large cluster's day four times as many as are serving at once, each slot the
//! size of a whole server. Here a pod id leads to a place in a dense array of the servers that
//! exist: the table is a quarter of the size, its servers share fewer memory pages, and taking
//! a server out moves the last one into its place.

use super::serving::PodServer;
use crate::cluster::PodId;

/// A pod id without a server.
const NONE: u32 = u32::MAX;

/// The servers of the pods that have one.
#[derive(Default)]
pub struct Servers {
    /// Per pod id, the index of its server in `servers` (`NONE`: it has none).
    place: Vec<u32>,
    /// The servers, in no particular order.
    servers: Vec<PodServer>,
    /// The pod each server belongs to, beside it.
    pods: Vec<PodId>,
}

impl Servers {
    /// The pod's server, if it has one.
    #[inline(always)]
    pub fn get(&self, pod: PodId) -> Option<&PodServer> {
        let &i = self.place.get(pod.index())?;
        self.servers.get(i as usize)
    }

    /// The pod's server, if it has one.
    #[inline(always)]
    pub fn get_mut(&mut self, pod: PodId) -> Option<&mut PodServer> {
        let &i = self.place.get(pod.index())?;
        self.servers.get_mut(i as usize)
    }

    /// Gives the pod `server` (replacing any it had).
    pub fn insert(&mut self, pod: PodId, server: PodServer) {
        if let Some(old) = self.get_mut(pod) {
            *old = server;
            return;
        }
        if self.place.len() <= pod.index() {
            self.place.resize(pod.index() + 1, NONE);
        }
        self.place[pod.index()] = self.servers.len() as u32;
        self.servers.push(server);
        self.pods.push(pod);
    }

    /// Takes the pod's server away, if it has one.
    pub fn take(&mut self, pod: PodId) -> Option<PodServer> {
        let i = *self.place.get(pod.index()).filter(|&&i| i != NONE)? as usize;
        self.place[pod.index()] = NONE;
        self.pods.swap_remove(i);
        if let Some(&moved) = self.pods.get(i) {
            self.place[moved.index()] = i as u32;
        }
        Some(self.servers.swap_remove(i))
    }

    /// One more than the highest pod id that ever had a server.
    pub fn id_bound(&self) -> usize {
        self.place.len()
    }

    /// Every server, in no particular order (for sums).
    pub fn iter(&self) -> impl Iterator<Item = &PodServer> {
        self.servers.iter()
    }

    /// Starts loading the pod's server into the caches (a hint; changes nothing).
    #[inline(always)]
    pub fn warm(&self, pod: PodId) {
        if let Some(server) = self.get(pod) {
            crate::sim::prefetch(server);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::cluster::DeploymentId;
    use crate::scenario::WorkloadModel;
    use crate::sim::SimTime;
    use crate::traffic::Instance;

    /// A server told apart by its Deployment id.
    fn server(tag: u32) -> PodServer {
        let instance = Instance {
            deployment: DeploymentId(tag),
            listening_from: SimTime::ZERO,
        };
        PodServer::new(
            instance,
            1000,
            None,
            &WorkloadModel::default(),
            SimTime::ZERO,
        )
    }

    proptest::proptest! {
        /// Servers given, replaced and taken in any order are found as in a map by pod id,
        /// however taking one moves another.
        #[test]
        fn servers_are_found_by_pod_id_as_in_a_map(
            ops in proptest::collection::vec((0u32..40, 0u32..1000, proptest::bool::ANY), 0..200),
        ) {
            let mut servers = Servers::default();
            let mut model: BTreeMap<u32, u32> = BTreeMap::new();
            for (pod, tag, gives) in ops {
                if gives {
                    servers.insert(PodId(pod), server(tag));
                    model.insert(pod, tag);
                } else {
                    let taken = servers.take(PodId(pod)).map(|s| s.instance().deployment.0);
                    proptest::prop_assert_eq!(taken, model.remove(&pod));
                }
                for id in 0..40 {
                    let found = servers.get(PodId(id)).map(|s| s.instance().deployment.0);
                    proptest::prop_assert_eq!(found, model.get(&id).copied());
                }
                proptest::prop_assert_eq!(servers.iter().count(), model.len());
            }
        }
    }
}
