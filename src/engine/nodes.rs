//! Nodes in the engine: a provisioned node registers, the Cluster Autoscaler's loop adds and
//! removes nodes, a node is drained, and the cluster's allocation and cost are charged.

use crate::cluster::accounting;
use crate::cluster::{NodeId, NodeState, PodId, PoolId};
use crate::controllers::disruption;
use crate::controllers::scheduler::hints::QueueEvent;
use crate::metrics::Observation;
use crate::sim::SimDuration;

use super::{Engine, Event};

impl Engine<'_, '_> {
    pub(super) fn on_node_registered(&mut self, node: NodeId) {
        if self.cluster.node(node).state != NodeState::Provisioning {
            return; // given up on before it registered
        }
        self.cluster.register_node(node);
        self.schedule_hazards(node);
        self.scheduler_event(QueueEvent::NodeChanged);
        self.observe_allocation();
        self.dirty.everything();
    }

    pub(super) fn on_autoscaler_scan(&mut self) {
        let Some(ca) = self.autoscaler.as_mut() else {
            return;
        };
        let intents = ca.scan(&mut self.cluster, self.now);
        let next = self.now + ca.scan_interval();
        for (pod, reason, message) in std::mem::take(&mut ca.pod_events) {
            self.pod_event(pod, reason, message);
        }
        for intent in intents {
            self.apply(intent);
        }
        if self.dirty.any() {
            self.reconcile();
        }
        self.queue.schedule(next, Event::AutoscalerScan);
    }

    /// The cloud starts `count` nodes; each registers after the pool's provisioning time.
    pub(super) fn add_nodes(&mut self, pool: PoolId, count: u32) {
        for _ in 0..count {
            let node = self.cluster.add_node(pool, self.now);
            let delay = self.cluster.pools[pool.index()]
                .spec
                .provisioning_time
                .sample(&mut self.provisioning_rngs[pool.index()]);
            self.queue
                .schedule(self.now + delay, Event::NodeRegistered { node });
        }
        self.observe_pool_size(pool);
    }

    /// Evicts (Eviction API) every pod on a node marked for deletion that its
    /// PodDisruptionBudgets allow to go now; the autoscaler drains again until it is empty.
    pub(super) fn drain_node(&mut self, node: NodeId, max_grace: SimDuration) {
        self.cluster.mark_to_be_deleted(node, self.now);
        self.evict_all(node, max_grace, false);
    }

    /// Evicts the node's pods that their budgets let go (`force`: all of them, each with at
    /// most `max_grace` to terminate), and deletes the node once it is empty.
    pub(super) fn evict_all(&mut self, node: NodeId, max_grace: SimDuration, force: bool) {
        let mut allowed = disruption::disruptions_allowed(&self.cluster);
        let evicted: Vec<PodId> = self
            .cluster
            .pods_on(node)
            .filter(|p| p.deletion.is_none())
            .filter(|p| force || disruption::try_evict(&self.cluster, &mut allowed, p))
            .map(|p| p.id)
            .collect();
        for pod in evicted {
            self.delete_pod_within(pod, max_grace);
        }
        self.dirty.everything();
        self.remove_node_if_empty(node);
    }

    pub(super) fn remove_node_if_empty(&mut self, node: NodeId) {
        let n = self.cluster.node(node);
        if n.pod_count > 0 || n.state == NodeState::Removed {
            return;
        }
        let pool = n.pool;
        self.cluster.remove_node(node);
        self.observe_pool_size(pool);
        self.observe_allocation();
        self.dirty.everything();
    }

    pub(super) fn observe_pool_size(&mut self, pool: PoolId) {
        let nodes = self.cluster.node_count(pool);
        self.recorder
            .observe(self.now, Observation::NodesChanged { pool, nodes });
    }

    pub(super) fn observe_allocation(&mut self) {
        let totals = self.cluster.allocation_totals();
        self.recorder
            .observe(self.now, Observation::AllocationChanged(totals));
    }

    /// Adds (`sign` 1) or removes (−1) a bound pod's share of its node's price to its
    /// Deployment's cost rate.
    pub(super) fn charge(&mut self, pod: PodId, sign: f64) {
        let p = self.cluster.pod(pod);
        let Some(node) = p.node.map(|n| self.cluster.node(n)) else {
            return;
        };
        let price = self.cluster.pools[node.pool.index()]
            .spec
            .billed_price_per_hour();
        let share = accounting::cost_share(&p.template.requests, &node.allocatable);
        let (pod_gpus, node_gpus) = (p.template.requests.gpus, node.allocatable.gpus);
        let deployment = p.deployment;
        if pod_gpus > 0 && node_gpus > 0 {
            let held = &mut self.gpu_holdings[deployment.index()];
            held.0 = (held.0 + sign * pod_gpus as f64).max(0.0);
            held.1 = (held.1 + sign * price * pod_gpus as f64 / node_gpus as f64).max(0.0);
            let (gpus, usd_per_hour) = *held;
            self.recorder.observe(
                self.now,
                Observation::GpusChanged {
                    deployment,
                    gpus,
                    usd_per_hour,
                },
            );
        }
        let rate = &mut self.cost_rates[deployment.index()];
        *rate = (*rate + sign * price * share).max(0.0);
        let usd_per_hour = *rate;
        self.recorder.observe(
            self.now,
            Observation::CostRateChanged {
                deployment,
                usd_per_hour,
            },
        );
    }
}
