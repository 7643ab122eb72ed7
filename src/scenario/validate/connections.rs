//! `spec.traffic[].connections`: how a Service's clients connect — every request balanced on
//! its own (`perRequest`, today's default) or one long-lived connection per client (`http2`,
//! gRPC's default channel), with the server's `maxConnectionAge` and the number of connections
//! the traffic from outside comes over.

use super::Builder;
use crate::scenario::model::Connections;
use crate::scenario::raw::RawConnections;
use crate::sim::SimDuration;

/// Connections from outside by default: a load generator's or an ingress's pool.
pub(super) const DEFAULT_EXTERNAL_CLIENTS: u32 = 100;
/// Most connections from outside.
const MAX_EXTERNAL_CLIENTS: u32 = 1_000_000;

impl Builder<'_> {
    /// The connections of `spec.traffic[i]` (`PerRequest` when not given).
    pub(super) fn connections(&mut self, path: &str, raw: Option<&RawConnections>) -> Connections {
        let Some(raw) = raw else {
            return Connections::PerRequest;
        };
        let path = format!("{path}.connections");
        match raw.mode.as_deref() {
            Some("perRequest") => {
                for (field, given) in [
                    ("maxConnectionAge", raw.max_connection_age.is_some()),
                    ("clients", raw.clients.is_some()),
                ] {
                    if given {
                        self.error(&format!("{path}.{field}"), "belongs to connections that last (mode: http2): with perRequest every request is balanced on its own");
                    }
                }
                Connections::PerRequest
            }
            Some("http2") => {
                let max_age = match raw.max_connection_age {
                    Some(d) if d.0 >= SimDuration::from_millis(1) => Some(d.0),
                    Some(_) => {
                        self.error(
                            &format!("{path}.maxConnectionAge"),
                            "must be at least 1ms (leave it out for connections that never age)",
                        );
                        None
                    }
                    None => None,
                };
                let external_clients = match raw.clients {
                    None => DEFAULT_EXTERNAL_CLIENTS,
                    Some(n) if (1..=MAX_EXTERNAL_CLIENTS).contains(&n) => n,
                    Some(n) => {
                        self.error(
                            &format!("{path}.clients"),
                            format!("{n} is out of range: 1 to {MAX_EXTERNAL_CLIENTS}"),
                        );
                        DEFAULT_EXTERNAL_CLIENTS
                    }
                };
                Connections::Http2 {
                    max_age,
                    external_clients,
                }
            }
            Some(other) => {
                self.error(
                    &format!("{path}.mode"),
                    format!("{other:?} is not a mode: perRequest or http2"),
                );
                Connections::PerRequest
            }
            None => {
                self.error(&format!("{path}.mode"), "required: perRequest or http2");
                Connections::PerRequest
            }
        }
    }
}
