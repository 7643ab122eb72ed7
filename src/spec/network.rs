//! Zones on the network: how a Service's routing prefers close endpoints (a Service's
//! `trafficDistribution`, its `topology-mode: Auto` annotation, `internalTrafficPolicy` and
//! `externalTrafficPolicy`), what a call between two zones adds to its latency, and what the
//! bytes that cross zones cost (`spec.network`).
//!
//! The prices are the clouds' published list prices for traffic between availability zones of
//! one region (read 2026-11): AWS charges $0.01/GB on each side ("data transferred between
//! Availability Zones … $0.01/GB in each direction", EC2 on-demand pricing, data transfer),
//! so a byte that crosses costs $0.02/GB; Google Cloud $0.01/GB ("data transfer between zones
//! in the same region", VPC network pricing); Azure none (Microsoft stopped charging for
//! traffic between availability zones in 2024).

use crate::sim::SimDuration;

/// The annotation that turns on topology-aware routing's hints (Kubernetes 1.27+).
pub const TOPOLOGY_MODE_ANNOTATION: &str = "service.kubernetes.io/topology-mode";
/// Its name before 1.27 (`auto`), still honoured.
pub const TOPOLOGY_HINTS_ANNOTATION: &str = "service.kubernetes.io/topology-aware-hints";
/// What a node carries to be left out of the hints' CPU shares.
pub const CONTROL_PLANE_LABELS: [&str; 2] = [
    "node-role.kubernetes.io/control-plane",
    "node-role.kubernetes.io/master",
];

/// The node label naming its zone.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// A call's request and response size when its step gives none: a small RPC.
pub const DEFAULT_MESSAGE_BYTES: u64 = 1_000;

/// How a Service's routing prefers endpoints close to the client (kube-proxy on the client's
/// node applies it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Preference {
    /// Any ready endpoint.
    #[default]
    None,
    /// `trafficDistribution: PreferClose` (or `PreferSameZone`): endpoints in the client's zone
    /// when there are any, else any.
    SameZone,
    /// `trafficDistribution: PreferSameNode`: endpoints on the client's node, else in its
    /// zone, else any.
    SameNode,
    /// `service.kubernetes.io/topology-mode: Auto`: the EndpointSlice controller's hints, which
    /// give each zone endpoints in proportion to its nodes' allocatable CPU (or none when that
    /// would overload an endpoint by more than 20 %).
    Hints,
}

/// A Service's routing topology, from its manifest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceTopology {
    /// Which endpoints kube-proxy prefers for traffic inside the cluster.
    pub preference: Preference,
    /// `internalTrafficPolicy: Local`: calls go only to endpoints on the caller's node (and
    /// fail when there is none).
    pub internal_local: bool,
    /// `externalTrafficPolicy: Local`: the load balancer sends traffic from outside only to
    /// nodes with a ready endpoint, and each node only to its own.
    pub external_local: bool,
}

impl ServiceTopology {
    /// Whether routing looks at where pods run at all.
    pub fn is_set(&self) -> bool {
        *self != ServiceTopology::default()
    }
}

/// `spec.network`: latency between zones and the price of crossing them.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// The zones, in the order the node pools name them: a zone's index is its id.
    pub zones: Vec<String>,
    /// What a call adds to its latency (one round trip), by the caller's and the callee's zone:
    /// `latency[from × zones + to]`.
    pub latency: Vec<SimDuration>,
    /// USD per GB (10⁹ bytes) that crosses from one zone to another (both sides' charges).
    pub usd_per_gb: f64,
}

impl Network {
    /// The round trip a call adds between zones `from` and `to` (ids into [`Network::zones`]).
    pub fn latency(&self, from: usize, to: usize) -> SimDuration {
        self.latency[from * self.zones.len() + to]
    }
}

/// A cloud's price of a GB between zones of a region (both sides' charges), by name.
pub fn cloud_price_per_gb(cloud: &str) -> Option<f64> {
    match cloud {
        "aws" => Some(0.02),
        "gcp" => Some(0.01),
        "azure" => Some(0.0),
        _ => None,
    }
}

/// The zones the node pools put nodes in (`zones`, or a zone label on the pool), in the order
/// the pools name them.
pub fn pool_zones(pools: &[crate::spec::model::NodePoolSpec]) -> Vec<String> {
    let mut zones: Vec<String> = Vec::new();
    for pool in pools {
        let labelled = pool.labels.get(ZONE_LABEL).into_iter();
        for zone in pool.zones.iter().chain(labelled) {
            if !zones.contains(zone) {
                zones.push(zone.clone());
            }
        }
    }
    zones
}
