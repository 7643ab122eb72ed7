//! The disruption controller's arithmetic (E.6): how many of a PodDisruptionBudget's pods may
//! be evicted now. The Eviction API (the autoscaler's drains) evicts a pod only while every
//! budget covering it allows a disruption; preemption prefers victims whose eviction violates
//! no budget.

use std::sync::Arc;

use crate::cluster::{Cluster, DeploymentId, Pod, PodId, PodPhase};
use crate::scenario::{PdbBudget, PdbSpec, PodTemplate};

/// Whether `pdb` covers the pods of `template` (same namespace, selector matches; an absent
/// selector covers none, as the PDB controller treats it).
pub fn covers(pdb: &PdbSpec, template: &PodTemplate) -> bool {
    template.namespace == pdb.namespace
        && pdb
            .selector
            .as_ref()
            .is_some_and(|s| s.matches(&template.labels))
}

/// `disruptionsAllowed` of every budget, in order: `max(0, currentHealthy − desiredHealthy)`.
/// Healthy pods are Ready and not terminating. With `maxUnavailable` or a `minAvailable`
/// percentage the expected count is the scale of the pods' controllers (Deployments' replicas);
/// a budget over pods without such a controller allows nothing, as upstream.
///
/// Only the pods that are not gone are visited (the ReplicaSets' active pods and the
/// terminating ones), and each pod spec is matched against the budgets once. A ReplicaSet
/// whose pods all carry its template and which no budget covers is passed over without
/// reading its pods: on a large cluster most pods are under no budget.
pub fn disruptions_allowed(cluster: &Cluster) -> Vec<i32> {
    let mut tallies = vec![Tally::default(); cluster.pdbs.len()];
    let mut count = |pod: &Pod, covering: &[usize]| {
        if pod.phase != PodPhase::Terminated {
            for &i in covering {
                tallies[i].count(pod);
            }
        }
    };
    for rs in &cluster.replica_sets {
        if rs.pods.is_empty() {
            continue;
        }
        if rs.pods_have_own_templates {
            count_each(cluster, rs.pods.iter(), &mut count);
            continue;
        }
        let covering = covering(cluster, &rs.template);
        if !covering.is_empty() {
            for &id in &rs.pods {
                count(cluster.pod(id), &covering);
            }
        }
    }
    count_each(cluster, cluster.terminating.iter(), &mut count);
    cluster
        .pdbs
        .iter()
        .zip(&tallies)
        .map(|(pdb, tally)| match desired_healthy(cluster, pdb, tally) {
            Some(desired) => (tally.healthy - desired).max(0),
            None => 0,
        })
        .collect()
}

/// Passes each of `pods` to `count` with the budgets covering it (found once for a run of
/// pods with one template).
fn count_each<'c>(
    cluster: &'c Cluster,
    pods: impl Iterator<Item = &'c PodId>,
    count: &mut impl FnMut(&Pod, &[usize]),
) {
    let mut last: Option<(*const PodTemplate, Arc<[usize]>)> = None;
    for &id in pods {
        let pod = cluster.pod(id);
        let key = Arc::as_ptr(&pod.template);
        if last.as_ref().is_none_or(|(k, _)| *k != key) {
            last = Some((key, covering(cluster, &pod.template)));
        }
        count(pod, last.as_ref().map_or(&[][..], |(_, c)| &c[..]));
    }
}

/// The indexes of the budgets covering the pods of `template`.
fn covering(cluster: &Cluster, template: &Arc<PodTemplate>) -> Arc<[usize]> {
    cluster.pdbs_covering(template, || {
        (cluster.pdbs.iter().enumerate())
            .filter(|(_, pdb)| covers(pdb, template))
            .map(|(i, _)| i)
            .collect()
    })
}

/// What one budget's pods add up to.
#[derive(Clone, Debug, Default)]
struct Tally {
    healthy: i32,
    /// The pods' owners, each once.
    owners: Vec<DeploymentId>,
}

impl Tally {
    fn count(&mut self, pod: &Pod) {
        if pod.ready && pod.deletion.is_none() {
            self.healthy += 1;
        }
        if !self.owners.contains(&pod.deployment) {
            self.owners.push(pod.deployment);
        }
    }
}

/// `desiredHealthy`, or `None` when the expected count cannot be known.
fn desired_healthy(cluster: &Cluster, pdb: &PdbSpec, tally: &Tally) -> Option<i32> {
    // The owners' scale, summed; unknown when an owner has none.
    let expected = || -> Option<i32> {
        tally.owners.iter().try_fold(0, |total, &id| {
            let d = cluster.deployment(id);
            d.is_replicated().then_some(total + d.replicas)
        })
    };
    match pdb.budget {
        PdbBudget::MinAvailable(crate::controllers::rollout::IntOrPercent::Int(n)) => Some(n),
        PdbBudget::MinAvailable(p) => Some(p.scaled(expected()?, true)),
        PdbBudget::MaxUnavailable(v) => {
            let expected = expected()?;
            Some((expected - v.scaled(expected, true)).max(0))
        }
    }
}

/// Whether evicting `pod` now fits every budget covering it; if so the allowances in `allowed`
/// are taken (so later evictions in the same pass see them spent).
pub fn try_evict(cluster: &Cluster, allowed: &mut [i32], pod: &Pod) -> bool {
    let covering = covering(cluster, &pod.template);
    if covering.iter().any(|&i| allowed[i] <= 0) {
        return false;
    }
    for &i in covering.iter() {
        allowed[i] -= 1;
    }
    true
}

/// Whether some budget covering `pod` allows no disruption now (the pod cannot be evicted).
pub fn blocks(cluster: &Cluster, allowed: &[i32], pod: &Pod) -> bool {
    covering(cluster, &pod.template)
        .iter()
        .any(|&i| allowed[i] <= 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::selector::LabelSelector;
    use crate::cluster::{ReplicaSet, ReplicaSetId};
    use crate::controllers::rollout::IntOrPercent;
    use crate::controllers::scheduler::{bind_test_pod, test_cluster, test_pod};
    use crate::sim::SimTime;

    fn labelled(app: &str) -> PodTemplate {
        let mut t = test_pod(100, 1 << 20);
        t.labels = [("app".to_string(), app.to_string())].into();
        t
    }

    fn budget(app: &str, min_available: i32) -> PdbSpec {
        PdbSpec {
            name: format!("keep-{app}"),
            namespace: String::new(),
            selector: Some(LabelSelector::from_match_labels(
                [("app".to_string(), app.to_string())].into(),
            )),
            budget: PdbBudget::MinAvailable(IntOrPercent::Int(min_available)),
        }
    }

    /// A ReplicaSet whose pods carry its template, with `pods` Ready pods.
    fn add_replica_set(c: &mut Cluster, app: &str, pods: usize) {
        let id = ReplicaSetId(c.replica_sets.len() as u32);
        c.replica_sets.push(ReplicaSet {
            id,
            name: format!("rs-{app}"),
            template: Arc::new(labelled(app)),
            ..Default::default()
        });
        for _ in 0..pods {
            let pod = c.create_pod(id, SimTime::ZERO);
            c.pod_mut(pod).ready = true;
        }
    }

    /// What every budget allows, counted pod by pod: the live pods (active or terminating,
    /// not Terminated) each budget covers, Ready and not deleting, less its `minAvailable`.
    fn allowed_pod_by_pod(c: &Cluster) -> Vec<i32> {
        let live: Vec<&Pod> = (c.replica_sets.iter().flat_map(|rs| rs.pods.iter()))
            .chain(&c.terminating)
            .map(|&id| c.pod(id))
            .filter(|p| p.phase != PodPhase::Terminated)
            .collect();
        (c.pdbs.iter())
            .map(|pdb| {
                let covered = live.iter().filter(|p| covers(pdb, &p.template));
                let healthy = covered.filter(|p| p.ready && p.deletion.is_none()).count();
                let PdbBudget::MinAvailable(IntOrPercent::Int(min)) = pdb.budget else {
                    unreachable!("the tests' budgets are minAvailable counts")
                };
                (healthy as i32 - min).max(0)
            })
            .collect()
    }

    /// Pods with specs of their own (as a DaemonSet's are) are matched one by one even when
    /// their ReplicaSet's template is covered by no budget; a ReplicaSet whose pods share its
    /// template is matched once, covered or not.
    #[test]
    fn budgets_count_the_pods_they_cover_whether_or_not_pods_share_a_template() {
        let mut c = test_cluster(&[("n0", &[])]);
        for app in ["protected", "protected", "other"] {
            let pod = bind_test_pod(&mut c, "n0", labelled(app));
            c.pod_mut(pod).ready = true;
        }
        add_replica_set(&mut c, "protected", 3);
        add_replica_set(&mut c, "web", 4);
        add_replica_set(&mut c, "other", 2);
        c.pdbs = vec![budget("protected", 2), budget("web", 1), budget("none", 0)];
        assert!(c.replica_sets[0].pods_have_own_templates);
        assert!(!c.replica_sets[1].pods_have_own_templates);
        // protected: 2 own-spec pods + 3 shared = 5 healthy, 5 − 2 = 3; web: 4 − 1 = 3.
        assert_eq!(disruptions_allowed(&c), vec![3, 3, 0]);
        assert_eq!(disruptions_allowed(&c), allowed_pod_by_pod(&c));
    }
}
