//! The engine's side of node CPU sharing and CPU limits: a started pod joins its node's
//! sharing (its weight from its CPU request) with its CPU limit as the kernel enforces it (CFS
//! bandwidth, with its pool's kubelet settings), a server's demand follows its requests, and a
//! node's shares are divided again when demands change. A pod whose server stops hands its CFS
//! counters to its Deployment's.

use super::{Engine, Event, WARM_FROM_BUSY_PODS};
use crate::cluster::{NodeId, PodId};
use rand::RngExt;

use crate::metrics::Observation;
use crate::sim::{SimDuration, SimTime};
use crate::traffic::PodServer;
use crate::traffic::cfs::Bandwidth;
use crate::traffic::node_cpu;
use crate::traffic::plane::ShardCore;

impl Engine<'_, '_> {
    /// A pod's server starts on its node: it joins the node's CPU sharing with its weight (CPU
    /// shares from its request) and its cap, the node's allocatable CPU or a core per request
    /// slot, whichever is less. Its CPU limit, where
    /// the pool's kubelets enforce limits, is a CFS quota on a period grid of random phase
    /// (stream `cfs-period/<deployment>`), as the kernel starts each cgroup's period timer. A
    /// Job's pod (busy for its whole run) and an LLM server's are held to their limit as a
    /// steady rate instead. A workload's `cfsPeriodOffset` pins the grid (to replay a measured
    /// run). A limit the pod cannot reach — at least a core per request slot, or its node's
    /// CPU — never throttles it, and is not followed (it has no CFS counters). Returns the cap, the bandwidth and its place in the sharing.
    pub(super) fn join_node_cpu(
        &mut self,
        pod: PodId,
    ) -> (u64, Option<Bandwidth>, node_cpu::Place) {
        let node = self.cluster.pod(pod).node.expect("a started pod is bound");
        self.touch_node(node);
        self.plane.home_pod(pod, node);
        let p = self.cluster.pod(pod);
        let dep = p.deployment;
        let allocatable =
            u64::try_from(self.cluster.node(node).allocatable.cpu_millis).unwrap_or(0);
        let kubelet = self.cluster.pools[self.cluster.node(node).pool.index()]
            .spec
            .kubelet;
        let deployment = self.cluster.deployment(dep);
        let limit = (p.template)
            .cpu_limit_of(deployment.spec.workload.container.as_deref())
            .filter(|_| kubelet.cfs_quota)
            .map(|l| u64::try_from(l).unwrap_or(0));
        let steady = deployment.is_job() || deployment.spec.workload.llm.is_some();
        // A serving pod runs a request per core at most: it can never use more than a core per
        // request slot (which also keeps a node whose pods cannot outgrow it out of sharing).
        let slots = u64::from(deployment.spec.workload.concurrency).saturating_mul(1000);
        let most = if steady {
            allocatable
        } else {
            allocatable.min(slots)
        };
        let weight = node_cpu::shares_for_request(p.template.requests.cpu_millis);
        let (cap, bandwidth) = match limit {
            None => (most, None),
            Some(limit) if steady => (limit.min(allocatable), None),
            // A limit the pod can never reach never throttles it: no quota to follow.
            Some(limit) if limit >= most => (most, None),
            Some(limit) => {
                let period = kubelet.cfs_quota_period;
                let offset = deployment.spec.workload.cfs_period_offset;
                let rng = &mut self.cfs_phase_rngs[dep.index()];
                let phase = offset.unwrap_or_else(|| {
                    SimDuration::from_micros(rng.random_range(0..period.as_micros()))
                });
                let bandwidth = Bandwidth::new(limit, period, phase, self.now);
                (most, Some(bandwidth))
            }
        };
        let member = node_cpu::Member {
            pod,
            weight,
            cap_millis: cap,
            demand_millis: 0,
            granted_millis: cap,
        };
        if let Some(previous) = self.leave_node_cpu(pod) {
            self.track_node_demand(previous); // not expected: its old server was taken away
        }
        let place = self
            .plane
            .core_of_node(node)
            .cpu
            .join(node, allocatable, member);
        (cap, bandwidth, place)
    }

    /// The pod stops sharing its node's CPU; returns the node (`None`: it was not sharing).
    pub(super) fn leave_node_cpu(&mut self, pod: PodId) -> Option<NodeId> {
        self.plane.core(pod).leave(pod)
    }

    /// Runs `f` on the shard that holds `node`'s servers, with where the completions it
    /// schedules go (the event queue, or the node's lane) and whether to warm the servers it
    /// changes.
    fn with_node_cpu<R>(
        &mut self,
        node: NodeId,
        f: impl FnOnce(&mut ShardCore, &mut dyn FnMut(PodId, SimTime, u32), bool) -> R,
    ) -> R {
        let queue = &mut self.queue;
        let warm = queue.timers_pending() >= WARM_FROM_BUSY_PODS;
        let mut to_queue = |pod: PodId, at: SimTime, generation: u32| {
            queue.schedule_timer(pod.0, at, Event::Completion { pod, generation });
        };
        self.plane.on_node(node, &mut to_queue, |core, schedule| {
            f(core, schedule, warm)
        })
    }

    /// A server's demand for CPU, at its place in its node's sharing, may have changed
    /// (`None`: its node can never be contended, so it does not matter): on a contended node,
    /// every pod's share changes. (The exact plane: node-major lanes follow their own.)
    #[inline(always)]
    pub(super) fn update_cpu_demand(&mut self, demand: Option<(node_cpu::Place, u64)>) {
        debug_assert!(!self.plane.is_node_major());
        if let Some((place, millis)) = demand {
            let now = self.now;
            let queue = &mut self.queue;
            let warm = queue.timers_pending() >= WARM_FROM_BUSY_PODS;
            let core = self.plane.exact_core();
            core.set_demand(place, millis, now, warm, &mut |pod, at, generation| {
                queue.schedule_timer(pod.0, at, Event::Completion { pod, generation })
            });
        }
    }

    /// After a pod joined or left `node`: while the caps of its serving pods fit in its CPU the
    /// node can never be contended and their demands are not followed; otherwise every server
    /// reports its demand, starting now.
    pub(super) fn track_node_demand(&mut self, node: NodeId) {
        let now = self.now;
        self.with_node_cpu(node, |core, schedule, warm| {
            core.track_node_demand(node, now, warm, schedule)
        });
    }

    /// Takes the pod's server away (its container stopped), adding its CPU period counters to
    /// its Deployment's.
    pub(super) fn take_server(&mut self, pod: PodId) -> Option<PodServer> {
        self.touch(pod);
        let mut server = self.plane.take(pod)?;
        server.advance(self.now);
        if let Some(node) = self.leave_node_cpu(pod) {
            self.track_node_demand(node);
        }
        if server.is_deleting() {
            self.note_draining(pod, false);
        }
        if let Some(stats) = server.cfs_stats() {
            let deployment = self.cluster.pod(pod).deployment;
            let observation = Observation::CpuPeriods { deployment, stats };
            self.recorder.observe(self.now, observation);
        }
        Some(server)
    }
}
