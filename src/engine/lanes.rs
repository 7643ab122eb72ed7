//! The engine's side of the node-major data plane (`crate::traffic::plane`): which plane a
//! run uses, routed requests into their lanes, the control plane's touches, the instants every
//! lane is caught up (with their observations handed to the recorder), and the eager lanes of
//! draining pods.

use super::{DataPlane, Engine, PlaneNote, RunOptions};
use crate::cluster::{DeploymentId, NodeId, PodId, ServiceId};
use crate::metrics::Observation;
use crate::scenario::LoadBalancing;
use crate::traffic::PodServer;
use crate::traffic::plane::{Plane, Routed};

/// What in a scenario couples its nodes on the request path, so that the node-major plane
/// cannot serve it exactly (`None`: nothing does).
pub fn node_major_blocker(s: &crate::scenario::Scenario) -> Option<&'static str> {
    let workloads = || s.deployments.iter().map(|d| &d.workload);
    let traffic = || s.services.iter().filter_map(|x| x.traffic.as_ref());
    if workloads().any(|w| !w.calls.is_empty()) {
        return Some("call graphs (a request waits on other Services' pods)");
    }
    if workloads().any(|w| w.llm.is_some()) || traffic().any(|t| t.tokens.is_some()) {
        return Some("LLM servers (their batching steps are control-plane events)");
    }
    if workloads().any(|w| w.memory.is_some()) {
        return Some("a memory model (a request can OOM-kill its pod)");
    }
    if workloads().any(|w| w.meshed) {
        return Some("a service mesh (its balancing reads the pods' load)");
    }
    let load_aware = |t: &crate::scenario::TrafficSpec| {
        matches!(
            t.load_balancing,
            LoadBalancing::LeastRequest | LoadBalancing::PrefixAware
        )
    };
    if traffic().any(load_aware) {
        return Some("load-aware routing (LeastRequest or PrefixAware reads every pod's load)");
    }
    None
}

impl Engine<'_, '_> {
    /// Uses the node-major plane unless the run asks for the exact one or the scenario's nodes
    /// interact on the request path.
    pub(super) fn choose_plane(&mut self, options: RunOptions) {
        let DataPlane::NodeMajor { threads } = options.plane else {
            self.plane_note = PlaneNote::ExactAsked;
            return;
        };
        let blocker = node_major_blocker(self.scenario)
            .or_else(|| {
                self.has_users
                    .then_some("closed-loop users (answers start requests)")
            })
            .or_else(|| {
                (self.has_connections).then_some("lasting connections (requests follow them)")
            })
            .or_else(|| (self.zones.is_some()).then_some("zones in the request path"));
        self.plane_note = match blocker {
            Some(why) => PlaneNote::Exact(why),
            None => {
                self.plane = Plane::node_major(threads, options.dealing);
                PlaneNote::NodeMajor(threads.max(1))
            }
        };
    }

    /// Events handled: the queue's, and the completions the lanes handled.
    pub(super) fn events(&self) -> u64 {
        self.queue.popped() + self.plane.lane_events()
    }

    /// Advances the pod's lane to now before the control plane reads or changes its server.
    #[inline(always)]
    pub(super) fn touch(&mut self, pod: PodId) {
        self.plane.touch_pod(pod, self.now);
    }

    /// The pod's server, its lane advanced to now.
    pub(super) fn server_now(&mut self, pod: PodId) -> Option<&mut PodServer> {
        self.touch(pod);
        self.plane.get_mut(pod)
    }

    /// [`Self::touch`] for every pod on `node`.
    pub(super) fn touch_node(&mut self, node: NodeId) {
        self.plane.touch_node(node, self.now);
    }

    /// A request routed to `pod` (node-major): into its lane, with its CPU work drawn now.
    pub(super) fn route_to_lane(&mut self, service: ServiceId, pod: PodId, dep: DeploymentId) {
        let workload = &self.scenario.deployments[dep.index()].workload;
        let work = self.draws.work(dep.index(), &workload.cpu_per_request);
        let routed = Routed {
            at: self.now,
            pod,
            service,
            work,
            sidecar_work: workload.proxy_cpu_per_request.as_micros() * 1000,
        };
        self.plane.route(routed);
    }

    /// Every lane advanced to now, and their request observations in the recorder: before the
    /// control plane reads the data plane (scrape, sample, export, end).
    pub(super) fn sync_lanes(&mut self) {
        if !self.plane.is_node_major() {
            return;
        }
        self.plane.advance_all(self.now);
        let (recorder, now) = (&mut self.recorder, self.now);
        self.plane.drain_observations(|service, result| {
            let observation = match result {
                Ok(latency) => Observation::RequestServed { service, latency },
                Err(reason) => Observation::RequestFailed { service, reason },
            };
            recorder.observe(now, observation);
        });
    }

    /// The draining pods whose last request has ended are gone.
    pub(super) fn finish_drained(&mut self) {
        for pod in self.plane.take_gone() {
            self.finish_termination(pod);
        }
    }

    /// The lanes of draining pods, advanced through each of their completions due before the
    /// next control-plane event (or at its instant): the instant a draining pod's last
    /// request ends is when the control plane sees it gone.
    pub(super) fn advance_eager_lanes(&mut self) {
        while let Some(t) = self.plane.next_eager_timer() {
            let next = self.queue.peek_time();
            if t > self.end || next.is_some_and(|n| n < t) {
                return;
            }
            self.now = t;
            self.cluster.journal.set_clock(t);
            self.plane.advance_eager(t);
            self.finish_drained();
            if self.dirty.any() {
                self.reconcile();
            }
        }
    }

    /// The pod's server is marked deleting (`true`) or left (`false`): its lane is eager while
    /// one of its node's pods drains.
    pub(super) fn note_draining(&mut self, pod: PodId, draining: bool) {
        if let Some(node) = self.cluster.pod(pod).node {
            self.plane.set_draining(node, draining);
        }
    }
}
