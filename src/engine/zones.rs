//! Zones in the request path: which endpoints kube-proxy on the client's node sends a
//! Service's traffic to, what a call between zones adds to its latency, and the bytes that
//! cross zones.
//!
//! - A call's client is the pod running the calling request, on its node and in its zone.
//!   `internalTrafficPolicy: Local` keeps calls on that node (none there: the call fails, as
//!   kube-proxy drops it). `PreferClose` (`PreferSameZone`) prefers endpoints in the client's
//!   zone, `PreferSameNode` on its node then in its zone, and `topology-mode: Auto` follows the
//!   EndpointSlice controller's hints ([`crate::controllers::topology_hints`]); each falls back
//!   to every endpoint when none is preferred for the client's zone.
//! - Traffic from outside enters without a zone (the load balancer's hop is not modelled),
//!   except with `externalTrafficPolicy: Local`: the load balancer sends each request to one of
//!   the nodes with a ready endpoint at random (stream `entry/<service>`), and that node only to
//!   its own endpoints — so pods on crowded nodes get less.
//! - A call answered from another zone reaches its caller `spec.network`'s round trip later,
//!   and its request and response bytes count as crossing zones. LLM servers' Services and the
//!   mesh's own balancing ignore the preference (their latency and bytes still count).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use rand::RngExt;

use super::{Engine, Event};
use crate::cluster::{Cluster, NodeId, PodId, ServiceId, ZONE_LABEL};
use crate::controllers::topology_hints;
use crate::scenario::Scenario;
use crate::sim::rng::RngStreams;
use crate::sim::{SimDuration, SimRng};
use crate::spec::network::{CONTROL_PLANE_LABELS, Preference, ServiceTopology, pool_zones};
use crate::traffic::FailureReason;
use crate::traffic::calls::{CallRef, Parent};

type Table<K, V> = HashMap<K, V, BuildHasherDefault<std::collections::hash_map::DefaultHasher>>;

/// A node whose zone is not known (no zone label, or one no pool names).
const NO_ZONE: u32 = u32::MAX;

/// One Service's endpoints by the zone they serve, as of some endpoints and nodes.
#[derive(Default)]
struct ZoneView {
    endpoints_version: u64,
    nodes_version: u64,
    fresh: bool,
    /// The endpoints each zone's clients prefer (`None`: no preference holds — an endpoint
    /// without a zone, or the hints are off).
    by_zone: Option<Vec<Vec<PodId>>>,
    /// Why the hints are off (`topology-mode: Auto`).
    no_hints: Option<topology_hints::NoHints>,
}

/// Where one Service's requests went, by zone.
#[derive(Clone, Debug, Default)]
struct ZoneCounts {
    /// Requests its pods got, by their zone.
    by_zone: Vec<u64>,
    same_zone_calls: u64,
    cross_zone_calls: u64,
    cross_zone_bytes: u64,
}

/// The request path's zone state.
#[derive(Default)]
pub(super) struct ZoneRouting {
    zones: Vec<String>,
    topology: Vec<ServiceTopology>,
    views: Vec<ZoneView>,
    entry_rngs: Vec<Option<SimRng>>,
    /// Each node's zone id, by node id (grown as nodes are made).
    node_zone: Vec<u32>,
    /// Endpoints on one node (Local policies, PreferSameNode), rebuilt per request.
    scratch: Vec<PodId>,
    entry_nodes: Vec<NodeId>,
    /// The round trip each call in flight adds to its answer, by try.
    returns: Table<u64, SimDuration>,
    counts: Vec<ZoneCounts>,
    /// `spec.network`'s round trip by zone pair (empty: none).
    latency: Vec<SimDuration>,
}

/// Which endpoints a request may go to.
#[derive(Clone, Copy)]
enum Candidates {
    All,
    /// Those in `scratch`.
    Scratch,
    /// Those the zone's clients prefer.
    Zone(usize),
    /// None: the request fails.
    Nothing,
}

impl ZoneRouting {
    /// The zone state of a scenario; `None` when no Service's routing looks at zones and there
    /// is no `spec.network`.
    pub(super) fn of(s: &Scenario, streams: &RngStreams) -> Option<ZoneRouting> {
        let topology: Vec<ServiceTopology> = s.services.iter().map(|x| x.topology).collect();
        if s.network.is_none() && !topology.iter().any(ServiceTopology::is_set) {
            return None;
        }
        let zones = pool_zones(&s.node_pools);
        let entry_rngs = s
            .services
            .iter()
            .map(|x| {
                let local = x.topology.external_local;
                local.then(|| streams.stream(&format!("entry/{}", x.name)))
            })
            .collect();
        let counts = ZoneCounts {
            by_zone: vec![0; zones.len()],
            ..Default::default()
        };
        Some(ZoneRouting {
            views: s.services.iter().map(|_| ZoneView::default()).collect(),
            counts: vec![counts; s.services.len()],
            latency: s.network.as_ref().map_or(Vec::new(), |n| n.latency.clone()),
            zones,
            topology,
            entry_rngs,
            ..Default::default()
        })
    }

    /// The zone id of `node`.
    fn zone_of(&mut self, cluster: &Cluster, node: NodeId) -> u32 {
        while self.node_zone.len() <= node.index() {
            let n = cluster.node(NodeId(self.node_zone.len() as u32));
            let zone = n.labels.get(ZONE_LABEL);
            let id = zone.and_then(|z| self.zones.iter().position(|x| x == z));
            self.node_zone.push(id.map_or(NO_ZONE, |i| i as u32));
        }
        self.node_zone[node.index()]
    }

    /// The endpoints `candidates` names.
    fn slice<'a>(&'a self, cluster: &'a Cluster, service: ServiceId, c: Candidates) -> &'a [PodId] {
        match c {
            Candidates::All => &cluster.services[service.index()].endpoints,
            Candidates::Scratch => &self.scratch,
            Candidates::Zone(z) => {
                let view = &self.views[service.index()];
                &view.by_zone.as_ref().expect("a preference that holds")[z]
            }
            Candidates::Nothing => &[],
        }
    }

    /// Brings the Service's preferred endpoints up to date with its endpoints and the nodes.
    fn refresh(&mut self, cluster: &Cluster, service: ServiceId) {
        let s = &cluster.services[service.index()];
        let view = &self.views[service.index()];
        if view.fresh
            && view.endpoints_version == s.endpoints_version
            && view.nodes_version == cluster.ready_nodes_version
        {
            return;
        }
        let endpoint_zones: Vec<Option<usize>> = s
            .endpoints
            .iter()
            .map(|&p| {
                let node = cluster.pod(p).node?;
                let z = self.zone_of(cluster, node);
                (z != NO_ZONE).then_some(z as usize)
            })
            .collect();
        let mut no_hints = None;
        let hinted = match self.topology[service.index()].preference {
            Preference::Hints => {
                let cpu = self.cpu_by_zone(cluster);
                topology_hints::allocate(cpu.as_deref(), &endpoint_zones)
                    .map_err(|e| no_hints = Some(e))
                    .ok()
            }
            // PreferClose: every endpoint hinted to its own zone (KEP-4444).
            _ => endpoint_zones
                .iter()
                .copied()
                .collect::<Option<Vec<usize>>>(),
        };
        let by_zone = hinted.map(|hints| {
            let mut by_zone = vec![Vec::new(); self.zones.len()];
            for (&pod, &zone) in s.endpoints.iter().zip(&hints) {
                by_zone[zone].push(pod);
            }
            by_zone
        });
        self.views[service.index()] = ZoneView {
            endpoints_version: s.endpoints_version,
            nodes_version: cluster.ready_nodes_version,
            fresh: true,
            by_zone,
            no_hints,
        };
    }

    /// The Ready nodes' allocatable CPU by zone, control-plane nodes left out (`None`: a Ready
    /// node without a zone or CPU, as upstream's `SetNodes` gives up).
    fn cpu_by_zone(&mut self, cluster: &Cluster) -> Option<Vec<u64>> {
        let mut cpu = vec![0u64; self.zones.len()];
        for &id in &cluster.ready_nodes {
            let node = cluster.node(id);
            if CONTROL_PLANE_LABELS
                .iter()
                .any(|l| node.labels.contains_key(*l))
            {
                continue;
            }
            let zone = self.zone_of(cluster, id);
            let millis = node.allocatable.cpu_millis;
            if zone == NO_ZONE || millis <= 0 {
                return None;
            }
            cpu[zone as usize] += millis as u64;
        }
        Some(cpu)
    }

    /// Fills `scratch` with the Service's endpoints on `node`.
    fn on_node(&mut self, cluster: &Cluster, service: ServiceId, node: NodeId) -> bool {
        self.scratch.clear();
        let endpoints = &cluster.services[service.index()].endpoints;
        let here = endpoints
            .iter()
            .filter(|&&p| cluster.pod(p).node == Some(node));
        self.scratch.extend(here);
        !self.scratch.is_empty()
    }
}

impl Engine<'_, '_> {
    /// One of the Service's endpoints for a request from `caller`, picked by the Service's
    /// `loadBalancing` among those its topology lets the client use (`None`: no endpoint).
    #[inline(always)]
    pub(super) fn pick_endpoint(&mut self, service: ServiceId, caller: CallRef) -> Option<PodId> {
        let zoned = (self.zones.as_ref()).is_some_and(|z| z.topology[service.index()].is_set());
        let candidates = if zoned {
            self.zone_candidates(service, caller)
        } else {
            Candidates::All
        };
        let endpoints = match &self.zones {
            Some(z) => z.slice(&self.cluster, service, candidates),
            None => &self.cluster.services[service.index()].endpoints,
        };
        let plane = &self.plane;
        let outstanding = |p: PodId| {
            let server = plane.get(p);
            server.map_or(usize::MAX, crate::traffic::PodServer::load)
        };
        self.routers[service.index()].pick(endpoints, outstanding)
    }

    /// The node running the request that made call `caller` (`None`: from outside).
    fn client_node(&self, caller: CallRef) -> Option<NodeId> {
        if caller.is_none() {
            return None;
        }
        let root = self.frames.root_of(caller);
        match self.frames.get(root)?.parent {
            Parent::Request { pod, .. } => self.cluster.pod(pod).node,
            Parent::Frame(_) => None,
        }
    }

    /// The endpoints kube-proxy on the client's node lets a request use.
    #[inline(never)]
    fn zone_candidates(&mut self, service: ServiceId, caller: CallRef) -> Candidates {
        let client = self.client_node(caller);
        let zones = self.zones.as_mut().expect("zone routing");
        let topology = zones.topology[service.index()];
        let Some(node) = client else {
            if !topology.external_local {
                return Candidates::All;
            }
            return match entry_node(zones, &self.cluster, service) {
                Some(node) if zones.on_node(&self.cluster, service, node) => Candidates::Scratch,
                _ => Candidates::Nothing,
            };
        };
        if topology.internal_local {
            return match zones.on_node(&self.cluster, service, node) {
                true => Candidates::Scratch,
                false => Candidates::Nothing,
            };
        }
        match topology.preference {
            Preference::None => return Candidates::All,
            Preference::SameNode if zones.on_node(&self.cluster, service, node) => {
                return Candidates::Scratch;
            }
            _ => {}
        }
        zones.refresh(&self.cluster, service);
        let zone = zones.zone_of(&self.cluster, node);
        let view = &zones.views[service.index()];
        match &view.by_zone {
            Some(by_zone) if zone != NO_ZONE && !by_zone[zone as usize].is_empty() => {
                Candidates::Zone(zone as usize)
            }
            _ => Candidates::All,
        }
    }

    /// Counts a request from `caller` that reached `pod`, and for a call between zones the
    /// bytes that crossed and the round trip its answer will take.
    pub(super) fn note_hop(&mut self, service: ServiceId, pod: PodId, caller: CallRef) {
        let client = self.client_node(caller);
        let bytes = if client.is_some() {
            let call = self.current_call(caller);
            call.request_bytes + call.response_bytes
        } else {
            0
        };
        let zones = self.zones.as_mut().expect("zone routing");
        let Some(node) = self.cluster.pod(pod).node else {
            return;
        };
        let to = zones.zone_of(&self.cluster, node);
        let counts = &mut zones.counts[service.index()];
        if to != NO_ZONE {
            counts.by_zone[to as usize] += 1;
        }
        let Some(from) = client.map(|n| zones.zone_of(&self.cluster, n)) else {
            return;
        };
        if from == NO_ZONE || to == NO_ZONE {
            return;
        }
        let counts = &mut zones.counts[service.index()];
        if from == to {
            counts.same_zone_calls += 1;
        } else {
            counts.cross_zone_calls += 1;
            counts.cross_zone_bytes += bytes;
        }
        if zones.latency.is_empty() {
            return;
        }
        let n = zones.zones.len();
        let rtt = zones.latency[from as usize * n + to as usize];
        if !rtt.is_zero() {
            zones.returns.insert(caller.key(), rtt);
        }
    }

    /// Holds back the answer to call `caller` for its round trip between zones, if it has one
    /// (true: it is on its way).
    pub(super) fn delay_answer(&mut self, caller: CallRef, failure: Option<FailureReason>) -> bool {
        let Some(zones) = self.zones.as_mut() else {
            return false;
        };
        let Some(rtt) = zones.returns.remove(&caller.key()) else {
            return false;
        };
        let (frame, token) = (caller.frame, caller.token);
        self.queue.schedule(
            self.now + rtt,
            Event::CallAnswer {
                frame,
                token,
                failure,
            },
        );
        true
    }

    /// The answer to a call from another zone arrives (unless its caller gave up meanwhile).
    pub(super) fn on_call_answer(
        &mut self,
        frame: u32,
        token: u32,
        failure: Option<FailureReason>,
    ) {
        let attempt = CallRef { frame, token };
        if self.call_in_flight(attempt).is_some() {
            self.answer_caller(attempt, failure);
        }
    }

    /// Each Service's requests by zone in `report`, and the price of the bytes that crossed.
    pub(super) fn report_zones(&mut self, report: &mut crate::metrics::report::Report) {
        use crate::metrics::report::{NetworkReport, ZonesReport, round6};
        let Some(zones) = &mut self.zones else { return };
        let usd_per_gb = self.scenario.network.as_ref().map(|n| n.usd_per_gb);
        let mut total_bytes = 0;
        for (i, spec) in self.scenario.services.iter().enumerate() {
            if !spec.topology.is_set() && usd_per_gb.is_none() {
                continue;
            }
            let hints = (spec.topology.preference == Preference::Hints).then(|| {
                zones.refresh(&self.cluster, ServiceId(i as u32));
                match zones.views[i].no_hints {
                    None => "on".to_string(),
                    Some(why) => format!("off: {}", why.reason()),
                }
            });
            let counts = &zones.counts[i];
            total_bytes += counts.cross_zone_bytes;
            let gb = counts.cross_zone_bytes as f64 / 1e9;
            report.services[i].zones = Some(ZonesReport {
                requests_by_zone: zones
                    .zones
                    .iter()
                    .cloned()
                    .zip(counts.by_zone.iter().copied())
                    .collect(),
                same_zone_calls: counts.same_zone_calls,
                cross_zone_calls: counts.cross_zone_calls,
                cross_zone_gb: round6(gb),
                cross_zone_cost_usd: usd_per_gb.map(|p| round6(p * gb)),
                hints,
            });
        }
        if let Some(price) = usd_per_gb {
            let gb = total_bytes as f64 / 1e9;
            report.network = Some(NetworkReport::new(price, gb, report.totals.cost_usd));
        }
    }
}

/// The node the load balancer sends a request from outside to, under
/// `externalTrafficPolicy: Local`: one of the nodes with a ready endpoint, at random.
fn entry_node(zones: &mut ZoneRouting, cluster: &Cluster, service: ServiceId) -> Option<NodeId> {
    zones.entry_nodes.clear();
    let endpoints = &cluster.services[service.index()].endpoints;
    zones
        .entry_nodes
        .extend(endpoints.iter().filter_map(|&p| cluster.pod(p).node));
    zones.entry_nodes.sort_unstable();
    zones.entry_nodes.dedup();
    if zones.entry_nodes.is_empty() {
        return None;
    }
    let rng = zones.entry_rngs[service.index()]
        .as_mut()
        .expect("externalTrafficPolicy: Local");
    Some(zones.entry_nodes[rng.random_range(0..zones.entry_nodes.len())])
}
