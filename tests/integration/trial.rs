//! The Cluster Autoscaler's trials (`cluster::trial`): every change a simulation makes to the
//! live cluster is undone when its trial ends, or back to a mark.

use std::sync::Arc;

use kubesim::cluster::trial::Trial;
use kubesim::cluster::{Cluster, DeploymentId, NodeState, PodId, PoolId};
use kubesim::scenario::load_scenario;
use kubesim::sim::SimTime;

use crate::support::root;

/// The quickstart scenario's cluster with six pods of its Deployment: the first `bound`
/// bound round-robin, pod 4 nominated, pod 5 found unschedulable.
fn cluster(bound: u32) -> Cluster {
    let path = root().join("scenarios/quickstart/scenario.yaml");
    let scenario = load_scenario(&path, &Default::default()).expect("the shipped scenario loads");
    let mut c = scenario.initial_cluster();
    let rs = c.create_replica_set(DeploymentId(0), SimTime::ZERO);
    for _ in 0..6 {
        c.create_pod(rs, SimTime::ZERO);
    }
    let ready = c.ready_nodes.clone();
    for pod in 0..bound {
        c.bind(PodId(pod), ready[pod as usize % ready.len()]);
    }
    c.nominate(PodId(4), ready[0]);
    c.mark_unschedulable(PodId(5), SimTime::from_secs(3));
    c
}

#[test]
fn every_change_is_undone_when_the_trial_ends() {
    let mut c = cluster(3);
    let before = format!("{c:?}");
    let ready = c.ready_nodes.clone();
    {
        let mut t = Trial::new(&mut c);
        let template = Arc::clone(&t.pod(PodId(3)).template);
        let added = t.add_node(PoolId(0));
        t.register(added);
        t.reserve(added, &template);
        t.bind(PodId(4), added);
        t.bind(PodId(5), ready[0]);
        t.unbind(PodId(0));
        t.bind(PodId(0), added);
        t.release(ready[1], &template);
        assert_eq!(t.node(added).state, NodeState::Ready);
        assert_eq!(t.pod(PodId(0)).node, Some(added));
        assert!(!t.nominated.contains(&PodId(4)));
    }
    assert_eq!(format!("{c:?}"), before);
}

#[test]
fn rolling_back_to_a_mark_keeps_the_changes_before_it() {
    let mut c = cluster(3);
    let ready = c.ready_nodes.clone();
    let mut t = Trial::new(&mut c);
    t.unbind(PodId(1));
    let kept = format!("{:?}", *t);
    let mark = t.mark();
    let added = t.add_node(PoolId(0));
    t.register(added);
    t.bind(PodId(1), added);
    t.bind(PodId(3), ready[0]);
    t.rollback_to(mark);
    assert_eq!(format!("{:?}", *t), kept);
    assert_eq!(t.pod(PodId(1)).node, None);
}

#[test]
fn label_groups_first_seen_in_a_trial_go_with_it() {
    // No pod is bound yet, so the trial's bind creates the pods' label group.
    let mut c = cluster(0);
    let before = format!("{c:?}");
    let node = c.ready_nodes[0];
    {
        let mut t = Trial::new(&mut c);
        t.bind(PodId(0), node);
        assert_eq!(t.label_groups.len(), 1);
    }
    assert_eq!(format!("{c:?}"), before);
}
