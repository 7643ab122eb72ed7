//! Connections that last (`connections: {mode: http2}`): each client — a calling pod, or one of
//! the Service's connections from outside — keeps one connection to the Service, and every
//! request it sends goes to the endpoint that connection landed on. kube-proxy balances
//! connections, not requests: the endpoint is picked when the client connects (by the
//! Service's `loadBalancing`, the Service's routing stream), and conntrack keeps it.
//!
//! A connection is replaced by a fresh one — a new pick over the ready endpoints — when the
//! client next sends and
//! - its endpoint is no longer a ready endpoint: not ready, terminating (a gRPC server closes
//!   its connections when it stops) or gone with its node; or
//! - the server's `maxConnectionAge` (±10 %, drawn per connection from the stream
//!   `connections/<service>`) is over: the server sent GOAWAY and the client reconnects lazily.
//!
//! So pods an HPA adds get traffic only from clients that connect after they are ready.
//! Connections are looked up by client and never iterated, so the table's order cannot reach
//! the run's output.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;

use rand::RngExt;

use super::Engine;
use crate::cluster::{PodId, ServiceId};
use crate::scenario::{Connections, Scenario};
use crate::sim::rng::RngStreams;
use crate::sim::{SimDuration, SimRng, SimTime};
use crate::traffic::calls::{CallRef, Parent};

/// A client's connection.
#[derive(Clone, Copy, Debug)]
struct Connection {
    endpoint: PodId,
    /// When the server closes it (`SimTime::MAX`: never).
    closes: SimTime,
}

/// One Service's connections, by client: a calling pod's id, or `EXTERNAL | slot`.
pub(super) struct ConnectionTable {
    max_age: Option<SimDuration>,
    external_clients: u32,
    by_client:
        HashMap<u64, Connection, BuildHasherDefault<std::collections::hash_map::DefaultHasher>>,
    rng: SimRng,
    /// Connections opened so far.
    opened: u64,
    /// Requests sent over the connections, by endpoint.
    requests: BTreeMap<PodId, u64>,
}

/// Client keys of connections from outside are their slot with this bit set.
const EXTERNAL: u64 = 1 << 32;

/// The connection tables of the Services whose clients keep connections, by Service.
pub(super) fn tables_of(s: &Scenario, streams: &RngStreams) -> Vec<Option<ConnectionTable>> {
    s.services
        .iter()
        .map(|x| match x.traffic.as_ref()?.connections {
            Connections::PerRequest => None,
            Connections::Http2 {
                max_age,
                external_clients,
            } => Some(ConnectionTable {
                max_age,
                external_clients,
                by_client: HashMap::default(),
                rng: streams.stream(&format!("connections/{}", x.name)),
                opened: 0,
                requests: BTreeMap::new(),
            }),
        })
        .collect()
}

impl Engine<'_, '_> {
    /// The endpoint a request from `caller` to `service` goes to over its client's connection
    /// (connecting anew when there is none, or it broke or aged); `None` when the Service has
    /// no ready endpoint.
    #[inline(never)]
    pub(super) fn connected_endpoint(
        &mut self,
        service: ServiceId,
        caller: CallRef,
    ) -> Option<PodId> {
        let client = self.client_of(service, caller);
        let now = self.now;
        let table = self.connections[service.index()]
            .as_mut()
            .expect("a Service with connections");
        if let Some(c) = table.by_client.get(&client)
            && c.closes > now
            && self
                .cluster
                .pods
                .get(c.endpoint.index())
                .is_some_and(|p| p.ready && p.deletion.is_none())
            && self.servers.contains(c.endpoint)
        {
            *table.requests.entry(c.endpoint).or_insert(0) += 1;
            return Some(c.endpoint);
        }
        let endpoints = &self.cluster.services[service.index()].endpoints;
        let servers = &self.servers;
        let outstanding = |p: PodId| {
            servers
                .get(p)
                .map_or(usize::MAX, crate::traffic::PodServer::load)
        };
        let endpoint = self.routers[service.index()].pick(endpoints, outstanding)?;
        let closes = match table.max_age {
            // gRPC's jitter: ±10 % of the age.
            Some(age) => {
                now + SimDuration::from_micros(
                    (age.as_micros() as f64 * table.rng.random_range(0.9..1.1)) as u64,
                )
            }
            None => SimTime::MAX,
        };
        table
            .by_client
            .insert(client, Connection { endpoint, closes });
        table.opened += 1;
        *table.requests.entry(endpoint).or_insert(0) += 1;
        Some(endpoint)
    }

    /// The client a request comes from: the pod running the calling request, or one of the
    /// Service's connections from outside (at random from its stream).
    fn client_of(&mut self, service: ServiceId, caller: CallRef) -> u64 {
        if !caller.is_none() && self.frames.get(caller).is_some() {
            let root = self.frames.root_of(caller);
            if let Some(Parent::Request { pod, .. }) = self.frames.get(root).map(|f| f.parent) {
                return u64::from(pod.0);
            }
        }
        let table = self.connections[service.index()]
            .as_mut()
            .expect("a Service with connections");
        EXTERNAL | u64::from(table.rng.random_range(0..table.external_clients))
    }

    /// Each Service's connections in `report` (Services whose clients keep them).
    pub(super) fn report_connections(&self, report: &mut crate::metrics::report::Report) {
        for (service, table) in report.services.iter_mut().zip(&self.connections) {
            let Some(t) = table else { continue };
            let requests: u64 = t.requests.values().sum();
            let busiest = t.requests.values().copied().max().unwrap_or(0);
            service.connections = Some(crate::metrics::report::ConnectionsReport {
                opened: t.opened,
                requests,
                pods_reached: t.requests.len() as u64,
                busiest_pod_share: (requests > 0).then(|| busiest as f64 / requests as f64),
            });
        }
    }
}
