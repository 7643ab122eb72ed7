//! `spec.traffic[].connections`: how a Service's clients connect — every request balanced on
//! its own (`perRequest`, today's default), one long-lived connection per client (`http2`,
//! gRPC's default channel) with the server's `maxConnectionAge`, or a keep-alive pool per
//! client (`http1`, Go's `http.Transport` defaults) — and the number of connections the
//! traffic from outside comes over.

use super::Builder;
use crate::scenario::model::Connections;
use crate::scenario::raw::RawConnections;
use crate::sim::SimDuration;

/// Connections from outside by default: a load generator's or an ingress's pool.
pub(super) const DEFAULT_EXTERNAL_CLIENTS: u32 = 100;
/// Most connections from outside.
const MAX_EXTERNAL_CLIENTS: u32 = 1_000_000;
/// Idle connections a client keeps per host by default (Go's `DefaultMaxIdleConnsPerHost`).
const DEFAULT_POOL: u32 = 2;
/// Most idle connections per client and Service.
const MAX_POOL: u32 = 10_000;
/// How long an idle connection stays open by default (Go's `IdleConnTimeout`).
const DEFAULT_IDLE_TIMEOUT: SimDuration = SimDuration::from_secs(90);

impl Builder<'_> {
    /// The connections of `spec.traffic[i]` (`PerRequest` when not given).
    pub(super) fn connections(&mut self, path: &str, raw: Option<&RawConnections>) -> Connections {
        let Some(raw) = raw else {
            return Connections::PerRequest;
        };
        let path = format!("{path}.connections");
        match raw.mode.as_deref() {
            Some("perRequest") => {
                self.refuse_fields(&path, raw, &["maxConnectionAge", "clients", "pool", "idleTimeout"], "belongs to connections that last (mode: http2 or http1): with perRequest every request is balanced on its own");
                Connections::PerRequest
            }
            Some("http2") => {
                self.refuse_fields(&path, raw, &["pool", "idleTimeout"], "belongs to keep-alive pools (mode: http1): an HTTP/2 client keeps one connection");
                Connections::Http2 {
                    max_age: self.max_connection_age(&path, raw),
                    external_clients: self.external_clients(&path, raw),
                }
            }
            Some("http1") => {
                self.refuse_fields(&path, raw, &["maxConnectionAge"], "belongs to HTTP/2 servers (mode: http2); keep-alive connections close after idleTimeout");
                Connections::Http1 {
                    pool: self.pool(&path, raw),
                    idle_timeout: self.idle_timeout(&path, raw),
                    external_clients: self.external_clients(&path, raw),
                }
            }
            Some(other) => {
                self.error(
                    &format!("{path}.mode"),
                    format!("{other:?} is not a mode: perRequest, http2 or http1"),
                );
                Connections::PerRequest
            }
            None => {
                self.error(
                    &format!("{path}.mode"),
                    "required: perRequest, http2 or http1",
                );
                Connections::PerRequest
            }
        }
    }

    /// An error at each of `fields` that `raw` gives, saying `why` it does not belong.
    fn refuse_fields(&mut self, path: &str, raw: &RawConnections, fields: &[&str], why: &str) {
        for &field in fields {
            let given = match field {
                "maxConnectionAge" => raw.max_connection_age.is_some(),
                "clients" => raw.clients.is_some(),
                "pool" => raw.pool.is_some(),
                _ => raw.idle_timeout.is_some(),
            };
            if given {
                self.error(&format!("{path}.{field}"), why);
            }
        }
    }

    fn max_connection_age(&mut self, path: &str, raw: &RawConnections) -> Option<SimDuration> {
        match raw.max_connection_age {
            Some(d) if d.0 >= SimDuration::from_millis(1) => Some(d.0),
            Some(_) => {
                self.error(
                    &format!("{path}.maxConnectionAge"),
                    "must be at least 1ms (leave it out for connections that never age)",
                );
                None
            }
            None => None,
        }
    }

    fn external_clients(&mut self, path: &str, raw: &RawConnections) -> u32 {
        match raw.clients {
            None => DEFAULT_EXTERNAL_CLIENTS,
            Some(n) if (1..=MAX_EXTERNAL_CLIENTS).contains(&n) => n,
            Some(n) => {
                self.error(
                    &format!("{path}.clients"),
                    format!("{n} is out of range: 1 to {MAX_EXTERNAL_CLIENTS}"),
                );
                DEFAULT_EXTERNAL_CLIENTS
            }
        }
    }

    fn pool(&mut self, path: &str, raw: &RawConnections) -> u32 {
        match raw.pool {
            None => DEFAULT_POOL,
            Some(n) if (1..=MAX_POOL).contains(&n) => n,
            Some(n) => {
                self.error(
                    &format!("{path}.pool"),
                    format!("{n} is out of range: 1 to {MAX_POOL} idle connections per client (a client that keeps none opens a connection per request: use perRequest)"),
                );
                DEFAULT_POOL
            }
        }
    }

    fn idle_timeout(&mut self, path: &str, raw: &RawConnections) -> SimDuration {
        match raw.idle_timeout {
            None => DEFAULT_IDLE_TIMEOUT,
            Some(d) if d.0 >= SimDuration::from_millis(1) => d.0,
            Some(_) => {
                self.error(&format!("{path}.idleTimeout"), "must be at least 1ms");
                DEFAULT_IDLE_TIMEOUT
            }
        }
    }
}
