//! The engine's side of Karpenter: when its loops run (a provisioning batch opened by the first
//! pod the scheduler cannot place, the disruption loop every 10 s or when a decision is due),
//! which pod changes it hears of, and how its nodes are drained.

use super::{Engine, Event};
use crate::cluster::resources::TaintEffect;
use crate::cluster::{NodeId, PodId};
use crate::controllers::karpenter::Karpenter;
use crate::sim::{SimDuration, SimTime};
use crate::spec::karpenter::DISRUPTED_TAINT;

/// The grace an evicted pod gets: its own `terminationGracePeriodSeconds` (Karpenter does not
/// cap it).
const NO_GRACE_CAP: SimDuration = SimDuration::from_secs(365 * 86_400);

impl Engine<'_, '_> {
    /// Starts Karpenter when the scenario has NodePools.
    pub(super) fn start_karpenter(&mut self) {
        let Some(settings) = self.scenario.karpenter.clone() else {
            return;
        };
        let k = Karpenter::new(settings, &self.cluster);
        self.queue.schedule(
            k.next_disruption_pass(SimTime::ZERO),
            Event::KarpenterDisruption,
        );
        self.karpenter = Some(k);
    }

    /// A warm start: the nodes Karpenter launches for the pods pending at t = 0 are Ready at
    /// once (the cluster starts as Karpenter would have left it).
    pub(super) fn warm_karpenter(&mut self) {
        let Some(k) = self.karpenter.as_mut() else {
            return;
        };
        let intents = k.provision(&mut self.cluster, self.now);
        if intents.is_empty() {
            return;
        }
        let first = self.cluster.nodes.len();
        for intent in intents {
            self.apply(intent);
        }
        for n in first..self.cluster.nodes.len() {
            self.on_node_registered(NodeId(n as u32));
        }
        self.reconcile();
    }

    /// `kubectl apply` of a NodePool: its offerings' new nodes get the new labels and taints,
    /// and Karpenter the new spec (its disruption pass finds the drifted nodes).
    pub(super) fn apply_node_pool(&mut self, applied: crate::spec::karpenter::AppliedNodePool) {
        for (pool, labels, taints) in &applied.offerings {
            let spec = &mut self.cluster.pools[*pool].spec;
            spec.labels = labels.clone();
            spec.taints = taints.clone();
        }
        if let Some(k) = self.karpenter.as_mut() {
            k.apply_node_pool(applied);
        }
    }

    /// A pod failed to schedule: Karpenter's batch hears of it.
    pub(super) fn karpenter_pod_unschedulable(&mut self, pod: PodId) {
        let Some(k) = self.karpenter.as_mut() else {
            return;
        };
        if self.cluster.pod(pod).template.daemon_node.is_some() {
            return;
        }
        if let Some(at) = k.pod_unschedulable(pod, self.now) {
            self.queue.schedule(at, Event::KarpenterBatch);
        }
    }

    /// A non-DaemonSet pod arrives on its node or leaves it (`lastPodEventTime`).
    pub(super) fn karpenter_pod_event(&mut self, pod: PodId) {
        let Some(k) = self.karpenter.as_mut() else {
            return;
        };
        let p = self.cluster.pod(pod);
        if let Some(node) = p.node.filter(|_| p.template.daemon_node.is_none()) {
            k.pod_event(node, self.now);
        }
    }

    pub(super) fn on_karpenter_batch(&mut self) {
        let Some(k) = self.karpenter.as_mut() else {
            return;
        };
        if let Err(later) = k.batch_closed(self.now) {
            self.queue.schedule(later, Event::KarpenterBatch);
            return;
        }
        let intents = k.provision(&mut self.cluster, self.now);
        self.apply_karpenter(intents);
    }

    pub(super) fn on_karpenter_disruption(&mut self) {
        let Some(k) = self.karpenter.as_mut() else {
            return;
        };
        let intents = k.disrupt(&mut self.cluster, self.now);
        let next = k.next_disruption_pass(self.now);
        self.apply_karpenter(intents);
        self.queue.schedule(next, Event::KarpenterDisruption);
    }

    fn apply_karpenter(&mut self, intents: Vec<crate::controllers::Intent>) {
        for intent in intents {
            self.apply(intent);
        }
        if self.dirty.any() {
            self.reconcile();
        }
    }

    /// Karpenter's termination: the node is tainted `karpenter.sh/disrupted:NoSchedule`, its
    /// pods evicted through their budgets (all of them when `force`d), and it goes once empty.
    pub(super) fn disrupt_node(&mut self, node: NodeId, force: bool) {
        self.cluster
            .add_taint(node, DISRUPTED_TAINT, TaintEffect::NoSchedule);
        self.evict_all(node, NO_GRACE_CAP, force);
    }
}
