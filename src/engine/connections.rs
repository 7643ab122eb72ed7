//! Connections that last (`connections: {mode: http2 | http1}`): a client — a calling pod, or
//! one of the Service's connections from outside — sends its requests over connections it
//! keeps, and a request goes to the endpoint its connection landed on. kube-proxy balances
//! connections, not requests: the endpoint is picked when the client connects (by the
//! Service's `loadBalancing`, the Service's routing stream), and conntrack keeps it.
//!
//! - `http2`: one connection per client and Service, every request over it (gRPC's channel).
//!   It is replaced by a fresh one when the client next sends and its endpoint is no longer
//!   a ready endpoint (not ready, terminating — a gRPC server closes its connections when it
//!   stops — or gone with its node), or the server's `maxConnectionAge` (±10 %, drawn per
//!   connection from the stream `connections/<service>`) is over: the server sent GOAWAY and
//!   the client reconnects lazily.
//! - `http1`: a keep-alive pool per calling pod and Service, as Go's `http.Transport` keeps
//!   it. A connection carries one request at a time. A call takes the most recently used idle
//!   connection whose endpoint is still ready and which has been idle at most `idleTimeout`,
//!   or opens a new one; when the answer comes the connection goes back to the pool unless
//!   `pool` are idle already (then it is closed). A call that timed out, or whose pod was
//!   killed or lost, closes its connection. Traffic from outside comes over `clients`
//!   connections as with `http2`, each closing after `idleTimeout` unused.
//!
//! So pods an HPA adds get traffic only from connections opened after they are ready.
//! Connections are looked up by client (and in-flight calls by their try) and never iterated,
//! so the tables' order cannot reach the run's output.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;

use rand::RngExt;

use super::Engine;
use crate::cluster::{Cluster, PodId, ServiceId};
use crate::scenario::{Connections, Scenario};
use crate::sim::rng::RngStreams;
use crate::sim::{SimDuration, SimRng, SimTime};
use crate::traffic::FailureReason;
use crate::traffic::calls::{CallRef, Parent};
use crate::traffic::plane::Plane;

/// A client's lasting connection (`http2`, and `http1` from outside).
#[derive(Clone, Copy, Debug)]
struct Connection {
    endpoint: PodId,
    /// When the server closes it (`SimTime::MAX`: never).
    closes: SimTime,
}

/// An idle keep-alive connection in a calling pod's pool.
#[derive(Clone, Copy, Debug)]
struct Idle {
    endpoint: PodId,
    since: SimTime,
}

type Table<K, V> = HashMap<K, V, BuildHasherDefault<std::collections::hash_map::DefaultHasher>>;

/// How a Service's clients keep connections.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Http2 {
        max_age: Option<SimDuration>,
    },
    Http1 {
        pool: u32,
        idle_timeout: SimDuration,
    },
}

/// One Service's connections, by client: a calling pod's id, or `EXTERNAL | slot`.
pub(super) struct ConnectionTable {
    service: ServiceId,
    kind: Kind,
    external_clients: u32,
    by_client: Table<u64, Connection>,
    /// `http1`: each calling pod's idle connections, the most recently used last.
    idle: Table<u64, Vec<Idle>>,
    rng: SimRng,
    /// Connections opened so far.
    opened: u64,
    /// Requests sent over the connections, by endpoint.
    requests: BTreeMap<PodId, Reached>,
}

/// The requests an endpoint got over connections, and when the first and the last came.
#[derive(Clone, Copy, Debug)]
struct Reached {
    requests: u64,
    first: SimTime,
    last: SimTime,
}

impl Reached {
    /// Both counts together.
    fn merge(&mut self, other: &Reached) {
        self.requests += other.requests;
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
    }
}

impl ConnectionTable {
    /// One more request over a connection to `endpoint` at `now`.
    fn count(&mut self, endpoint: PodId, now: SimTime) {
        let r = self.requests.entry(endpoint).or_insert(Reached {
            requests: 0,
            first: now,
            last: now,
        });
        r.requests += 1;
        r.last = now;
    }
}

/// Client keys of connections from outside are their slot with this bit set.
const EXTERNAL: u64 = 1 << 32;

/// Every connection table: a Service's own (its `traffic[].connections`), and those of
/// workloads whose calls to it connect their own way (a call step's `connections`).
pub(super) struct ConnectionTables {
    tables: Vec<ConnectionTable>,
    /// Each Service's own table (`None`: balanced per request).
    by_service: Vec<Option<usize>>,
    /// By (calling workload, Service): the table its calls use (`None`: per request).
    overrides: BTreeMap<(u32, u32), Option<usize>>,
    /// `http1`: the connection each call in flight holds (table, client, endpoint), by its try.
    busy: Table<u64, (usize, u64, PodId)>,
}

impl ConnectionTables {
    /// The tables of a scenario's Services and call steps.
    pub(super) fn of(s: &Scenario, streams: &RngStreams) -> ConnectionTables {
        let mut tables = Vec::new();
        let mut add = |service: usize, connections: Connections, stream: String| {
            let table = ConnectionTable::new(ServiceId(service as u32), connections, || {
                streams.stream(&stream)
            })?;
            tables.push(table);
            Some(tables.len() - 1)
        };
        let by_service = (s.services.iter().enumerate())
            .map(|(i, x)| {
                let connections = x.traffic.as_ref()?.connections;
                add(i, connections, format!("connections/{}", x.name))
            })
            .collect();
        let mut overrides = BTreeMap::new();
        for (d, dep) in s.deployments.iter().enumerate() {
            for call in dep.workload.calls.calls() {
                let Some(connections) = call.connections else {
                    continue;
                };
                let key = (d as u32, call.service as u32);
                if overrides.contains_key(&key) {
                    continue; // validation made the workload's calls to it agree
                }
                let name = &s.services[call.service].name;
                let stream = format!("connections/{}/{name}", dep.name);
                overrides.insert(key, add(call.service, connections, stream));
            }
        }
        ConnectionTables {
            tables,
            by_service,
            overrides,
            busy: Table::default(),
        }
    }

    /// Whether any client keeps connections.
    pub(super) fn any(&self) -> bool {
        !self.tables.is_empty()
    }
}

impl ConnectionTable {
    /// A table for clients that connect as `connections` says (`None`: per request).
    fn new(
        service: ServiceId,
        connections: Connections,
        rng: impl FnOnce() -> SimRng,
    ) -> Option<ConnectionTable> {
        let (kind, external_clients) = match connections {
            Connections::PerRequest => return None,
            Connections::Http2 {
                max_age,
                external_clients,
            } => (Kind::Http2 { max_age }, external_clients),
            Connections::Http1 {
                pool,
                idle_timeout,
                external_clients,
            } => (Kind::Http1 { pool, idle_timeout }, external_clients),
        };
        Some(ConnectionTable {
            service,
            kind,
            external_clients,
            by_client: Table::default(),
            idle: Table::default(),
            rng: rng(),
            opened: 0,
            requests: BTreeMap::new(),
        })
    }
}

/// Whether `endpoint` still takes requests over a connection: ready, not terminating, and its
/// machine up.
fn usable(cluster: &Cluster, plane: &Plane, endpoint: PodId) -> bool {
    cluster
        .pods
        .get(endpoint.index())
        .is_some_and(|p| p.ready && p.deletion.is_none())
        && plane.get(endpoint).is_some()
}

/// Whether a connection survives a request that ended with `result` (`None`: answered):
/// an answer, even an error, leaves it open; a reset, a lost machine or a client that gave up
/// closes it.
fn survives(result: Option<FailureReason>) -> bool {
    !matches!(
        result,
        Some(
            FailureReason::Timeout
                | FailureReason::PodTerminated
                | FailureReason::NodeFailure
                | FailureReason::ConnectionRefused
        )
    )
}

impl Engine<'_, '_> {
    /// The connection table a request from `caller` to `service` goes by, if its client keeps
    /// connections: the calling workload's own way for that Service, else the Service's.
    #[inline]
    pub(super) fn connection_table(&self, service: ServiceId, caller: CallRef) -> Option<usize> {
        let c = &self.connections;
        if !c.overrides.is_empty()
            && let Some(f) = self.frames.get(caller)
            && f.in_flight_site.is_some()
            && self.current_call(caller).connections.is_some()
        {
            let key = (f.deployment.0, service.0);
            return c.overrides.get(&key).copied().flatten();
        }
        c.by_service[service.index()]
    }

    /// The endpoint a request from `caller` goes to over its client's connection of table `t`
    /// (connecting anew when there is none, or it broke or aged); `None` when the Service has
    /// no ready endpoint.
    #[inline(never)]
    pub(super) fn connected_endpoint(&mut self, t: usize, caller: CallRef) -> Option<PodId> {
        let client = self.client_of(t, caller);
        match self.connections.tables[t].kind {
            Kind::Http1 {
                pool: _,
                idle_timeout,
            } if client & EXTERNAL == 0 => self.pooled_endpoint(t, client, caller, idle_timeout),
            _ => self.lasting_endpoint(t, client, caller),
        }
    }

    /// A request over the client's one lasting connection.
    fn lasting_endpoint(&mut self, t: usize, client: u64, caller: CallRef) -> Option<PodId> {
        let now = self.now;
        let table = &mut self.connections.tables[t];
        if let Some(c) = table.by_client.get_mut(&client)
            && c.closes > now
            && usable(&self.cluster, &self.plane, c.endpoint)
        {
            if let Kind::Http1 { idle_timeout, .. } = table.kind {
                c.closes = now + idle_timeout;
            }
            let endpoint = c.endpoint;
            table.count(endpoint, now);
            return Some(endpoint);
        }
        let endpoint = self.new_connection(t, caller)?;
        let table = &mut self.connections.tables[t];
        let closes = match table.kind {
            // gRPC's jitter: ±10 % of the age.
            Kind::Http2 { max_age: Some(age) } => {
                now + SimDuration::from_micros(
                    (age.as_micros() as f64 * table.rng.random_range(0.9..1.1)) as u64,
                )
            }
            Kind::Http2 { max_age: None } => SimTime::MAX,
            Kind::Http1 { idle_timeout, .. } => now + idle_timeout,
        };
        table
            .by_client
            .insert(client, Connection { endpoint, closes });
        Some(endpoint)
    }

    /// A call over one of the calling pod's keep-alive connections: its most recently used
    /// idle one that is still open, or a new one. The try holds it until its answer.
    fn pooled_endpoint(
        &mut self,
        t: usize,
        client: u64,
        caller: CallRef,
        idle_timeout: SimDuration,
    ) -> Option<PodId> {
        let now = self.now;
        let table = &mut self.connections.tables[t];
        let mut reused = None;
        if let Some(idle) = table.idle.get_mut(&client) {
            while let Some(c) = idle.pop() {
                if now - c.since <= idle_timeout && usable(&self.cluster, &self.plane, c.endpoint) {
                    reused = Some(c.endpoint);
                    break;
                }
            }
        }
        let endpoint = match reused {
            Some(endpoint) => {
                table.count(endpoint, now);
                endpoint
            }
            None => self.new_connection(t, caller)?,
        };
        self.connections
            .busy
            .insert(caller.key(), (t, client, endpoint));
        Some(endpoint)
    }

    /// A new connection of table `t` to one of its Service's ready endpoints, picked as
    /// kube-proxy picks (the Service's `loadBalancing`), carrying its first request.
    fn new_connection(&mut self, t: usize, caller: CallRef) -> Option<PodId> {
        let service = self.connections.tables[t].service;
        let endpoint = self.pick_endpoint(service, caller)?;
        let table = &mut self.connections.tables[t];
        table.opened += 1;
        table.count(endpoint, self.now);
        Some(endpoint)
    }

    /// The try `caller` of a call is over with `result` (`None`: answered): the keep-alive
    /// connection it held goes back to its pod's pool, or closes.
    pub(super) fn release_connection(&mut self, caller: CallRef, result: Option<FailureReason>) {
        let now = self.now;
        let Some((t, client, endpoint)) = self.connections.busy.remove(&caller.key()) else {
            return; // not over a pool, or already closed (the caller gave up)
        };
        let table = &mut self.connections.tables[t];
        let Kind::Http1 { pool, .. } = table.kind else {
            return;
        };
        if !survives(result) || !usable(&self.cluster, &self.plane, endpoint) {
            return;
        }
        let idle = table.idle.entry(client).or_default();
        if idle.len() < pool as usize {
            idle.push(Idle {
                endpoint,
                since: now,
            });
        }
    }

    /// The client a request comes from: the pod running the calling request, or one of the
    /// Service's connections from outside (at random from its stream).
    fn client_of(&mut self, t: usize, caller: CallRef) -> u64 {
        if !caller.is_none() && self.frames.get(caller).is_some() {
            let root = self.frames.root_of(caller);
            if let Some(Parent::Request { pod, .. }) = self.frames.get(root).map(|f| f.parent) {
                return u64::from(pod.0);
            }
        }
        let table = &mut self.connections.tables[t];
        EXTERNAL | u64::from(table.rng.random_range(0..table.external_clients))
    }

    /// Each Service's connections in `report` (Services whose clients keep them), its own
    /// table's and those of the workloads that connect their own way added up.
    pub(super) fn report_connections(&self, report: &mut crate::metrics::report::Report) {
        use crate::metrics::report::{ConnectionsReport, PodReached};
        let mut by_service: BTreeMap<ServiceId, (u64, BTreeMap<PodId, Reached>)> = BTreeMap::new();
        for t in &self.connections.tables {
            let (opened, reached) = by_service.entry(t.service).or_default();
            *opened += t.opened;
            for (&pod, r) in &t.requests {
                reached.entry(pod).and_modify(|m| m.merge(r)).or_insert(*r);
            }
        }
        for (service, (opened, reached)) in by_service {
            let requests: u64 = reached.values().map(|r| r.requests).sum();
            let busiest = reached.values().map(|r| r.requests).max().unwrap_or(0);
            let pods = reached
                .iter()
                .map(|(&pod, r)| PodReached {
                    pod: self.cluster.pod(pod).name.clone(),
                    requests: r.requests,
                    first_s: r.first.as_secs_f64(),
                    last_s: r.last.as_secs_f64(),
                })
                .collect();
            report.services[service.index()].connections = Some(ConnectionsReport {
                opened,
                requests,
                pods_reached: reached.len() as u64,
                busiest_pod_share: (requests > 0).then(|| busiest as f64 / requests as f64),
                pods,
            });
        }
    }
}
