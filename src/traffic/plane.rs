//! The data plane's state — the serving pods' servers, each node's CPU sharing, the requests
//! in flight — and how it is advanced: event by event (the exact plane, `kubesim run
//! --exact-plane`, and scenarios whose nodes interact) or node by node (the node-major plane,
//! the default, on `--threads N`; design in `docs/node-major.md`).
//!
//! - **Exact** (the default): one shard. Every completion is a timer in the engine's event
//!   queue and a routed request is offered to its pod at once; the engine drives the shard
//!   through [`ShardCore`]. Ties at one microsecond pop in the order they were scheduled.
//! - **Node-major**: the nodes are dealt to shards, one per thread, and each node has a
//!   *lane*: its pods' pending completions and an inbox of requests routed to it but not yet
//!   offered. A lane is advanced when the control plane touches one of its pods ([`Plane::touch_pod`]),
//!   and every lane at the instants the control plane reads the data plane
//!   ([`Plane::advance_all`]: scrapes, samples, exports, the end), the shards in parallel. A
//!   lane's request observations wait in its shard until the engine takes them
//!   ([`Plane::drain_observations`]): integer counts and a list of latencies, whose totals do
//!   not depend on the order they are taken in.
//!
//! **The same-microsecond rule** of a lane, which depends only on its node's history: at an
//! instant, the completions due first, the earliest pod id first, then the requests routed
//! to it at that instant in the order they were routed; a control-plane event at `t` sees every
//! lane it reads advanced through `t`. So what a lane computes never depends on other nodes,
//! on how nodes are dealt to shards, or on the number of threads.
//!
//! A lane holding a draining pod is *eager* while it drains: the engine advances it at each of
//! its timers ([`Plane::next_eager_timer`]), because the instant its last request ends is the
//! instant the pod is gone, which the control plane must see.

use std::collections::BTreeSet;
use std::time::Duration;

use super::node_cpu::{CpuSharing, Place};
use super::servers::Servers;
use super::serving::{FailureReason, Instance, Outcome, PodServer, Request, RequestSlab};
use crate::cluster::{NodeId, PodId, ServiceId};
use crate::sim::{SimDuration, SimTime};

mod timing;
mod workers;
pub use timing::LaneTiming;
use timing::{SyncClock, timed};

/// A request routed to a pod of a node-major lane, waiting in the lane's inbox.
#[derive(Clone, Copy, Debug)]
pub struct Routed {
    /// When it arrived (and was routed).
    pub at: SimTime,
    pub pod: PodId,
    pub service: ServiceId,
    /// Its CPU work (millicore·µs), drawn when it was routed.
    pub work: u64,
    /// What the pod's sidecar spends on it (millicore·µs).
    pub sidecar_work: u64,
}

/// A pod's pending completion in its lane.
#[derive(Clone, Copy, Debug)]
struct Timer {
    at: SimTime,
    pod: PodId,
    generation: u32,
}

/// One node's pending completions and routed requests.
#[derive(Default)]
struct Lane {
    /// Requests routed to its pods since it was last advanced, in routing order.
    inbox: Vec<Routed>,
    /// At most one per pod (a node serves a few pods: a scan beats a heap).
    timers: Vec<Timer>,
}

impl Lane {
    /// The pod's completion is now due at `at` (replacing the one it had).
    fn set_timer(&mut self, pod: PodId, at: SimTime, generation: u32) {
        match self.timers.iter_mut().find(|t| t.pod == pod) {
            Some(t) => {
                t.at = at;
                t.generation = generation;
            }
            None => self.timers.push(Timer {
                at,
                pod,
                generation,
            }),
        }
    }

    /// The earliest timer due at or before `through` (ties: the lowest pod id), taken out.
    fn take_due(&mut self, through: SimTime) -> Option<Timer> {
        let key = |t: &Timer| (t.at, t.pod);
        let (i, _) = (self.timers.iter().enumerate())
            .filter(|(_, t)| t.at <= through)
            .min_by_key(|(_, t)| key(t))?;
        Some(self.timers.swap_remove(i))
    }

    fn next_timer(&self) -> Option<SimTime> {
        self.timers.iter().map(|t| t.at).min()
    }
}

/// The servers of a shard's pods, their nodes' CPU sharing and their requests in flight:
/// what both ways of running the plane drive. Timers a change causes go to `schedule`
/// (`(pod, due, generation)`), the outcomes of requests to `out`.
#[derive(Default)]
pub struct ShardCore {
    pub servers: Servers,
    pub cpu: CpuSharing,
    pub slab: RequestSlab,
}

impl ShardCore {
    /// A completion of the pod's server at `now` (stale ones change nothing). Returns whether
    /// the pod has drained while deleting (`None`: it has no server).
    #[inline(always)]
    pub fn complete(
        &mut self,
        pod: PodId,
        generation: u32,
        now: SimTime,
        out: &mut Vec<Outcome>,
        warm: bool,
        schedule: &mut (impl FnMut(PodId, SimTime, u32) + ?Sized),
    ) -> Option<bool> {
        let server = self.servers.get_mut(pod)?;
        let next = server.complete(now, generation, &mut self.slab, out);
        let gone = server.is_idle() && server.is_deleting();
        let demand = server.tracked_demand();
        if let Some((at, generation)) = next {
            schedule(pod, at, generation);
        }
        if let Some((place, millis)) = demand {
            self.set_demand(place, millis, now, warm, schedule);
        }
        Some(gone)
    }

    /// Offers the request in `slot` to the pod's server at `now`, its sidecar having spent
    /// `sidecar_work` on it.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn offer(
        &mut self,
        pod: PodId,
        slot: u32,
        sidecar_work: u64,
        now: SimTime,
        out: &mut Vec<Outcome>,
        warm: bool,
        schedule: &mut (impl FnMut(PodId, SimTime, u32) + ?Sized),
    ) {
        let server = self
            .servers
            .get_mut(pod)
            .expect("requests are offered to started pods");
        server.charge_sidecar(sidecar_work);
        let next = server.offer(now, slot, &mut self.slab, out);
        let demand = server.tracked_demand();
        if let Some((at, generation)) = next {
            schedule(pod, at, generation);
        }
        if let Some((place, millis)) = demand {
            self.set_demand(place, millis, now, warm, schedule);
        }
    }

    /// A server's demand for CPU at `place` in its node's sharing changed: on a contended
    /// node, every pod's share changes.
    #[inline(always)]
    pub fn set_demand(
        &mut self,
        place: Place,
        millis: u64,
        now: SimTime,
        warm: bool,
        schedule: &mut (impl FnMut(PodId, SimTime, u32) + ?Sized),
    ) {
        if let Some(node) = self.cpu.set_demand_at(place, millis) {
            self.reshare(node, now, warm, schedule);
        }
    }

    /// Gives each serving pod on `node` its current share of the CPU (`warm`: start loading
    /// their servers first, so that their cache misses overlap).
    pub fn reshare(
        &mut self,
        node: NodeId,
        now: SimTime,
        warm: bool,
        schedule: &mut (impl FnMut(PodId, SimTime, u32) + ?Sized),
    ) {
        let changes = self.cpu.changed_capacities(node);
        if warm {
            for (pod, _) in changes.clone() {
                self.servers.warm(pod);
            }
        }
        for (pod, capacity) in changes {
            let Some(server) = self.servers.get_mut(pod) else {
                continue;
            };
            if let Some((at, generation)) = server.set_capacity(now, capacity) {
                schedule(pod, at, generation);
            }
        }
    }

    /// The pod stops sharing its node's CPU; returns the node (`None`: it was not sharing).
    /// The member that takes its place there learns its new place.
    pub fn leave(&mut self, pod: PodId) -> Option<NodeId> {
        let departure = self.cpu.leave(pod)?;
        if let Some((moved, place)) = departure.moved {
            let server = self.servers.get_mut(moved);
            debug_assert!(
                server.is_some(),
                "a member of a node's sharing has a server"
            );
            if let Some(server) = server {
                server.set_cpu_place(place);
            }
        }
        Some(departure.node)
    }

    /// After a pod joined or left `node`: while the caps of its serving pods fit in its CPU
    /// the node can never be contended and their demands are not followed; otherwise every
    /// server reports its demand, starting now.
    pub fn track_node_demand(
        &mut self,
        node: NodeId,
        now: SimTime,
        warm: bool,
        schedule: &mut (impl FnMut(PodId, SimTime, u32) + ?Sized),
    ) {
        let may_contend = self.cpu.may_contend(node);
        let pods: Vec<PodId> = self.cpu.members(node).collect();
        for pod in pods {
            let Some(server) = self.servers.get_mut(pod) else {
                continue;
            };
            server.set_tracks_demand(may_contend);
            let demand = if may_contend {
                server.demand_millis()
            } else {
                0
            };
            self.cpu.set_demand(pod, demand);
        }
        self.reshare(node, now, warm, schedule);
    }

    /// Whether any serving pod on `node` is draining.
    fn drains(&self, node: NodeId) -> bool {
        (self.cpu.members(node)).any(|p| self.servers.get(p).is_some_and(PodServer::is_deleting))
    }
}

/// The lanes of the nodes dealt to one thread, with what they share.
#[derive(Default)]
pub struct Shard {
    pub core: ShardCore,
    lanes: Vec<Lane>,
    /// Scratch for the servers' outcomes while a lane advances.
    outcomes: Vec<Outcome>,
    /// Requests served and failed since the engine last took them.
    served: Vec<(ServiceId, SimDuration)>,
    failed: Vec<(ServiceId, FailureReason)>,
    /// Draining pods whose last request has ended, for the engine to finish.
    gone: Vec<PodId>,
    /// Completions handled by its lanes (stale ones included), as the event queue counts.
    events: u64,
    /// Wall-clock time spent in all-lanes advances.
    busy: Duration,
}

impl Shard {
    /// Advances lane `lane` through `through`: its completions and routed requests in the
    /// order of the same-microsecond rule (module docs).
    fn advance_lane(&mut self, lane: usize, through: SimTime) {
        let inbox = std::mem::take(&mut self.lanes[lane].inbox);
        for r in &inbox {
            self.fire_timers(lane, r.at);
            self.offer_routed(lane, r);
        }
        self.fire_timers(lane, through);
        let mut inbox = inbox;
        inbox.clear();
        if self.lanes[lane].inbox.is_empty() {
            self.lanes[lane].inbox = inbox; // keep its allocation
        }
    }

    fn fire_timers(&mut self, lane: usize, through: SimTime) {
        while let Some(t) = self.lanes[lane].take_due(through) {
            self.events += 1;
            let timers = &mut self.lanes[lane];
            let gone = self.core.complete(
                t.pod,
                t.generation,
                t.at,
                &mut self.outcomes,
                false,
                &mut |pod, at, generation| timers.set_timer(pod, at, generation),
            );
            if gone == Some(true) {
                self.gone.push(t.pod);
            }
            self.collect_outcomes();
        }
    }

    fn offer_routed(&mut self, lane: usize, r: &Routed) {
        let request = Request::external(r.service, r.at, r.work);
        let slot = self.core.slab.insert(request);
        let timers = &mut self.lanes[lane];
        self.core.offer(
            r.pod,
            slot,
            r.sidecar_work,
            r.at,
            &mut self.outcomes,
            false,
            &mut |pod, at, generation| timers.set_timer(pod, at, generation),
        );
        self.collect_outcomes();
    }

    /// The servers' outcomes, as observations to hand over (a node-major lane's requests come
    /// from outside and make no calls).
    fn collect_outcomes(&mut self) {
        for o in self.outcomes.drain(..) {
            match o {
                Outcome::Served {
                    service, latency, ..
                } => self.served.push((service, latency)),
                Outcome::Failed {
                    service, reason, ..
                } => self.failed.push((service, reason)),
                Outcome::CpuDone { .. } => debug_assert!(false, "no calls on node-major lanes"),
            }
        }
    }

    fn advance_all(&mut self, through: SimTime) {
        let mut busy = self.busy;
        timed(&mut busy, || {
            for lane in 0..self.lanes.len() {
                self.warm_lane(lane + 1);
                self.advance_lane(lane, through);
            }
        });
        self.busy = busy;
    }

    /// Starts loading what advancing lane `lane` will read first — its pending completions'
    /// servers and its first routed request with its server — so that those cache misses
    /// overlap the lane before it (a hint; changes nothing).
    fn warm_lane(&self, lane: usize) {
        let Some(lane) = self.lanes.get(lane) else {
            return;
        };
        for timer in &lane.timers {
            self.core.servers.warm(timer.pod);
        }
        // Warming every routed request's server as well measured no faster (the 1 000-node day).
        if let Some(first) = lane.inbox.first() {
            crate::sim::prefetch_first_line(first);
            self.core.servers.warm(first.pod);
        }
    }
}

/// What routing reads of a pod on the node-major plane.
#[derive(Clone, Copy, Debug)]
struct PodLane {
    home: Home,
    node: NodeId,
    instance: Option<Instance>,
}

impl PodLane {
    const NONE: PodLane = PodLane {
        home: Home::NONE,
        node: NodeId(u32::MAX),
        instance: None,
    };
}

/// Where a node's lane is: its shard and its index there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Home {
    shard: u32,
    lane: u32,
}

impl Home {
    const NONE: Home = Home {
        shard: u32::MAX,
        lane: u32::MAX,
    };
}

/// How the nodes are dealt to shards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dealing {
    /// Node `n` to shard `n mod shards`.
    #[default]
    InTurn,
    /// Shuffled by a hash of the node id and this salt (to test that dealing changes nothing).
    Shuffled(u64),
}

/// The data plane: its shards and, node-major, where each node's lane is.
pub struct Plane {
    shards: Vec<Shard>,
    node_major: bool,
    dealing: Dealing,
    /// Per node id: its lane (node-major only).
    homes: Vec<Home>,
    /// Per pod id, node-major: its node, that node's lane (set when it first gets a server; a
    /// pod never moves) and its server's instance while it has one — all that routing reads
    /// of a pod, in one line and never in a line a lane's thread writes.
    pods: Vec<PodLane>,
    /// Nodes whose lanes hold a draining pod: advanced at each of their timers.
    eager: BTreeSet<NodeId>,
    /// The threads that advance the shards together (`None`: this thread does).
    pool: Option<workers::LaneWorkers>,
    /// [`Plane::lane_events`] as of the last [`Plane::advance_all`] (the same whatever the
    /// threads: between two of those, lanes advance as the control plane touches them).
    synced_events: u64,
    /// The all-lanes advances' wall-clock time.
    clock: SyncClock,
}

impl Plane {
    /// The exact plane, driven event by event by the engine.
    pub fn exact() -> Plane {
        Plane {
            shards: vec![Shard::default()],
            node_major: false,
            dealing: Dealing::InTurn,
            homes: Vec::new(),
            pods: Vec::new(),
            eager: BTreeSet::new(),
            pool: None,
            synced_events: 0,
            clock: SyncClock::default(),
        }
    }

    /// The node-major plane on `threads` threads (at least one), its nodes dealt by
    /// `dealing`.
    pub fn node_major(threads: usize, dealing: Dealing) -> Plane {
        let threads = threads.max(1);
        let pool = workers::LaneWorkers::new(threads);
        Plane {
            shards: (0..threads).map(|_| Shard::default()).collect(),
            node_major: true,
            dealing,
            pool,
            ..Plane::exact()
        }
    }

    /// Whether lanes are advanced node by node (else the engine drives every event).
    #[inline(always)]
    pub fn is_node_major(&self) -> bool {
        self.node_major
    }

    /// The lane of `node`, made when it first serves.
    fn home_of_node(&mut self, node: NodeId) -> Home {
        if let Some(&home) = self.homes.get(node.index()).filter(|h| **h != Home::NONE) {
            return home;
        }
        let shards = self.shards.len() as u64;
        let shard = match self.dealing {
            Dealing::InTurn => u64::from(node.0) % shards,
            Dealing::Shuffled(salt) => splitmix(u64::from(node.0) ^ salt) % shards,
        } as usize;
        let home = Home {
            shard: shard as u32,
            lane: self.shards[shard].lanes.len() as u32,
        };
        self.shards[shard].lanes.push(Lane::default());
        if self.homes.len() <= node.index() {
            self.homes.resize(node.index() + 1, Home::NONE);
        }
        self.homes[node.index()] = home;
        home
    }

    /// The pod is about to get a server on `node`: its lane is that node's.
    pub fn home_pod(&mut self, pod: PodId, node: NodeId) {
        if !self.node_major {
            return;
        }
        let home = self.home_of_node(node);
        if self.pods.len() <= pod.index() {
            self.pods.resize(pod.index() + 1, PodLane::NONE);
        }
        let entry = &mut self.pods[pod.index()];
        (entry.home, entry.node) = (home, node);
    }

    #[inline(always)]
    fn pod_home(&self, pod: PodId) -> Option<Home> {
        if !self.node_major {
            return None;
        }
        (self.pods.get(pod.index()))
            .map(|p| p.home)
            .filter(|h| *h != Home::NONE)
    }

    /// The shard holding the pod's server (its node's; the only one in the exact plane).
    #[inline(always)]
    pub fn core(&mut self, pod: PodId) -> &mut ShardCore {
        let shard = self.pod_home(pod).map_or(0, |h| h.shard as usize);
        &mut self.shards[shard].core
    }

    /// The shard holding the servers on `node`.
    pub fn core_of_node(&mut self, node: NodeId) -> &mut ShardCore {
        let shard = if self.node_major {
            self.home_of_node(node).shard as usize
        } else {
            0
        };
        &mut self.shards[shard].core
    }

    /// The exact plane's one shard.
    #[inline(always)]
    pub fn exact_core(&mut self) -> &mut ShardCore {
        debug_assert!(!self.node_major);
        &mut self.shards[0].core
    }

    /// Runs `f` on the shard holding `node`'s servers, with where the completions it schedules
    /// go: to `exact` (the engine's queue) in the exact plane, to the node's lane node-major.
    pub fn on_node<R>(
        &mut self,
        node: NodeId,
        exact: &mut dyn FnMut(PodId, SimTime, u32),
        f: impl FnOnce(&mut ShardCore, &mut dyn FnMut(PodId, SimTime, u32)) -> R,
    ) -> R {
        if !self.node_major {
            return f(&mut self.shards[0].core, exact);
        }
        let home = self.home_of_node(node);
        let shard = &mut self.shards[home.shard as usize];
        let lane = &mut shard.lanes[home.lane as usize];
        f(&mut shard.core, &mut |pod, at, generation| {
            lane.set_timer(pod, at, generation)
        })
    }

    /// The pod's completion is due at `at` (node-major: in its lane).
    pub fn set_timer(&mut self, pod: PodId, at: SimTime, generation: u32) {
        let home = self.pod_home(pod).expect("a node-major pod with a server");
        let shard = &mut self.shards[home.shard as usize];
        shard.lanes[home.lane as usize].set_timer(pod, at, generation);
    }

    /// Gives the pod (homed by [`Plane::home_pod`]) its server.
    pub fn insert(&mut self, pod: PodId, server: PodServer) {
        if self.node_major {
            let entry = self.pods.get_mut(pod.index());
            let entry = entry.expect("a node-major pod is homed before it gets a server");
            entry.instance = Some(server.instance());
        }
        self.core(pod).servers.insert(pod, server);
    }

    /// Takes the pod's server away, if it has one (touch its lane first, node-major).
    pub fn take(&mut self, pod: PodId) -> Option<PodServer> {
        if let Some(entry) = self.pods.get_mut(pod.index()) {
            entry.instance = None;
        }
        self.core(pod).servers.take(pod)
    }

    /// The pod's server's instance, if it has a server (what never changes as it serves).
    #[inline(always)]
    pub fn instance(&self, pod: PodId) -> Option<Instance> {
        if self.node_major {
            return self.pods.get(pod.index()).and_then(|p| p.instance);
        }
        self.shards[0]
            .core
            .servers
            .get(pod)
            .map(PodServer::instance)
    }

    /// The pod's server as of its lane's last advance: for what does not change as it serves
    /// (its instance), or read right after a touch or [`Plane::advance_all`].
    #[inline(always)]
    pub fn get(&self, pod: PodId) -> Option<&PodServer> {
        let shard = self.pod_home(pod).map_or(0, |h| h.shard as usize);
        self.shards[shard].core.servers.get(pod)
    }

    /// [`Plane::get`], to change it (touch its lane first, node-major).
    #[inline(always)]
    pub fn get_mut(&mut self, pod: PodId) -> Option<&mut PodServer> {
        self.core(pod).servers.get_mut(pod)
    }

    /// Starts loading the pod's server into the caches (a hint; changes nothing).
    #[inline(always)]
    pub fn warm(&self, pod: PodId) {
        if !self.node_major {
            self.shards[0].core.servers.warm(pod);
        }
    }

    /// Advances the pod's lane through `now` (node-major; nothing in the exact plane).
    #[inline(always)]
    pub fn touch_pod(&mut self, pod: PodId, now: SimTime) {
        if let Some(home) = self.pod_home(pod) {
            self.shards[home.shard as usize].advance_lane(home.lane as usize, now);
        }
    }

    /// Advances the lane of `node` through `now` (node-major; nothing in the exact plane).
    pub fn touch_node(&mut self, node: NodeId, now: SimTime) {
        if !self.node_major {
            return;
        }
        let home = self.home_of_node(node);
        self.shards[home.shard as usize].advance_lane(home.lane as usize, now);
    }

    /// A request routed to a pod of a node-major lane: into its lane's inbox (offered at once
    /// if the lane is eager).
    pub fn route(&mut self, r: Routed) {
        let PodLane { home, node, .. } = self.pods[r.pod.index()];
        debug_assert!(home != Home::NONE, "routed to a pod with a server");
        let shard = &mut self.shards[home.shard as usize];
        shard.lanes[home.lane as usize].inbox.push(r);
        if !self.eager.is_empty() && self.eager.contains(&node) {
            shard.advance_lane(home.lane as usize, r.at);
        }
    }

    /// Advances every lane through `now`, the shards in parallel.
    pub fn advance_all(&mut self, now: SimTime) {
        if !self.node_major {
            return;
        }
        let before = self.lane_events();
        let (shards, pool) = (&mut self.shards, &self.pool);
        self.clock.time(|| {
            match pool {
                Some(pool) => pool.advance(shards, now),
                None => shards.iter_mut().for_each(|s| s.advance_all(now)),
            }
            shards.iter().map(|s| s.events).sum::<u64>() - before
        });
        self.synced_events = self.lane_events();
    }

    /// Where the all-lanes advances' wall-clock time went (node-major only).
    pub fn timing(&self) -> Option<LaneTiming> {
        let busy: Vec<Duration> = self.shards.iter().map(|s| s.busy).collect();
        (self.node_major).then(|| self.clock.report(&busy, self.lane_events()))
    }

    /// See the field `synced_events`.
    #[inline(always)]
    pub fn synced_events(&self) -> u64 {
        self.synced_events
    }

    /// Hands over the lanes' request observations since the last call, shard by shard: each
    /// request's Service and its latency (served) or why it failed.
    pub fn drain_observations(
        &mut self,
        mut observe: impl FnMut(ServiceId, Result<SimDuration, FailureReason>),
    ) {
        for shard in &mut self.shards {
            shard.served.drain(..).for_each(|(s, l)| observe(s, Ok(l)));
            shard.failed.drain(..).for_each(|(s, r)| observe(s, Err(r)));
        }
    }

    /// Draining pods whose last request has ended since the last call.
    pub fn take_gone(&mut self) -> Vec<PodId> {
        let mut gone = Vec::new();
        for shard in &mut self.shards {
            gone.append(&mut shard.gone);
        }
        gone
    }

    /// Whether some lane has a drained pod to hand over.
    #[inline(always)]
    pub fn has_gone(&self) -> bool {
        self.node_major && self.shards.iter().any(|s| !s.gone.is_empty())
    }

    /// `node` holds a draining pod (`true`), or may hold none now (`false`: it stays eager
    /// while one is left).
    pub fn set_draining(&mut self, node: NodeId, draining: bool) {
        if !self.node_major {
            return;
        }
        if draining {
            self.eager.insert(node);
        } else if !self.core_of_node(node).drains(node) {
            self.eager.remove(&node);
        }
    }

    /// Whether some lane is eager.
    #[inline(always)]
    pub fn has_eager(&self) -> bool {
        !self.eager.is_empty()
    }

    /// The earliest pending completion of the eager lanes.
    pub fn next_eager_timer(&self) -> Option<SimTime> {
        (self.eager.iter())
            .filter_map(|n| self.homes.get(n.index()))
            .filter_map(|h| self.shards[h.shard as usize].lanes[h.lane as usize].next_timer())
            .min()
    }

    /// Advances the eager lanes through `now`.
    pub fn advance_eager(&mut self, now: SimTime) {
        let homes: Vec<Home> = (self.eager.iter())
            .filter_map(|n| self.homes.get(n.index()).copied())
            .collect();
        for h in homes {
            self.shards[h.shard as usize].advance_lane(h.lane as usize, now);
        }
    }

    /// Completions the lanes handled (node-major).
    pub fn lane_events(&self) -> u64 {
        self.shards.iter().map(|s| s.events).sum()
    }

    /// Requests in flight (not LLM requests: those are in their servers).
    pub fn in_flight(&self) -> usize {
        let inboxes = |s: &Shard| s.lanes.iter().map(|l| l.inbox.len()).sum::<usize>();
        (self.shards.iter())
            .map(|s| s.core.slab.in_flight() + inboxes(s))
            .sum()
    }

    /// Every server, shard by shard (for sums).
    pub fn servers(&self) -> impl Iterator<Item = &PodServer> {
        self.shards.iter().flat_map(|s| s.core.servers.iter())
    }

    /// One more than the highest pod id that ever had a server.
    pub fn id_bound(&self) -> usize {
        (self.shards.iter())
            .map(|s| s.core.servers.id_bound())
            .max()
            .unwrap_or(0)
    }
}

/// A 64-bit mix (splitmix64's finalizer): spreads node ids over shards.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
