//! Zones on the network: a Service's routing topology from its manifest (`trafficDistribution`,
//! the `topology-mode` annotation, `internalTrafficPolicy`, `externalTrafficPolicy`, checked as
//! the API server checks them), and `spec.network` (latency between zones, the price of
//! crossing them), whose zone pairs must name zones the node pools have.

use k8s_openapi::api::core::v1::Service;

use super::Builder;
use crate::scenario::diag::Diagnostic;
use crate::scenario::manifest::{Manifest, Source};
use crate::scenario::model::NodePoolSpec;
use crate::scenario::raw::{RawNetwork, RawZoneLatency};
use crate::sim::SimDuration;
use crate::spec::network::{
    Network, Preference, ServiceTopology, TOPOLOGY_HINTS_ANNOTATION, TOPOLOGY_MODE_ANNOTATION,
    cloud_price_per_gb, pool_zones,
};

/// Default round trip a call adds between two zones: 0.8 ms, about the average measured
/// between EC2 instances in two zones of eu-west-1 (0.82–0.83 ms, L. Liesis 2022; 0.94–1.13 ms
/// in us-east-1, O. Sol 2009; 0.25–3.4 ms over every region's zone pairs, K. Walker's maps).
pub const DEFAULT_CROSS_ZONE_LATENCY: SimDuration = SimDuration::from_micros(800);
/// The longest latency a zone pair may add.
const MAX_ZONE_LATENCY: SimDuration = SimDuration::from_secs(1);

/// A Service's routing topology, with every field the API server would refuse located.
pub(super) fn service_topology(
    m: &Manifest<Service>,
    diags: &mut Vec<Diagnostic>,
) -> ServiceTopology {
    let src = &m.source;
    let spec = m.object.spec.as_ref();
    let annotations = m.object.metadata.annotations.as_ref();
    let annotation = |key: &str| annotations.and_then(|a| a.get(key)).map(String::as_str);
    let hints = matches!(annotation(TOPOLOGY_MODE_ANNOTATION), Some("Auto" | "auto"))
        || matches!(annotation(TOPOLOGY_HINTS_ANNOTATION), Some("Auto" | "auto"));
    let distribution = spec.and_then(|s| s.traffic_distribution.as_deref());
    let preference = match distribution {
        // The annotation wins over trafficDistribution (KEP-4444).
        _ if hints => Preference::Hints,
        None => Preference::None,
        Some("PreferClose" | "PreferSameZone") => Preference::SameZone,
        Some("PreferSameNode") => Preference::SameNode,
        Some(other) => {
            diags.push(src.error(
                "spec.trafficDistribution",
                format!("Unsupported value: {other:?}: supported values: \"PreferClose\", \"PreferSameZone\", \"PreferSameNode\""),
            ));
            Preference::None
        }
    };
    let internal_local = policy(
        src,
        diags,
        "spec.internalTrafficPolicy",
        spec.and_then(|s| s.internal_traffic_policy.as_deref()),
    );
    let external = spec.and_then(|s| s.external_traffic_policy.as_deref());
    let external_local = policy(src, diags, "spec.externalTrafficPolicy", external);
    let service_type = spec.and_then(|s| s.type_.as_deref()).unwrap_or("ClusterIP");
    if external.is_some() && !matches!(service_type, "NodePort" | "LoadBalancer") {
        diags.push(src.error(
            "spec.externalTrafficPolicy",
            format!("may only be set for externally-accessible services (type NodePort or LoadBalancer; this one is {service_type})"),
        ));
    }
    ServiceTopology {
        preference,
        internal_local,
        external_local,
    }
}

/// Whether a traffic policy is `Local` (`Cluster` or absent: false).
fn policy(src: &Source, diags: &mut Vec<Diagnostic>, path: &str, value: Option<&str>) -> bool {
    match value {
        None | Some("Cluster") => false,
        Some("Local") => true,
        Some(other) => {
            diags.push(src.error(
                path,
                format!("Unsupported value: {other:?}: supported values: \"Cluster\", \"Local\""),
            ));
            false
        }
    }
}

impl Builder<'_> {
    /// `spec.network` against the pools' zones.
    pub(super) fn network(
        &mut self,
        raw: Option<&RawNetwork>,
        pools: &[NodePoolSpec],
    ) -> Option<Network> {
        let raw = raw?;
        let zones = pool_zones(pools);
        if zones.len() < 2 {
            self.warning(
                "spec.network",
                "the node pools have fewer than two zones (nodePools[].zones): no call crosses zones",
            );
        }
        let usd_per_gb = self.cross_zone_price(raw);
        let latency = self.zone_latency(raw.latency.as_ref(), &zones);
        Some(Network {
            zones,
            latency,
            usd_per_gb,
        })
    }

    fn cross_zone_price(&mut self, raw: &RawNetwork) -> f64 {
        let from_cloud = match raw.cloud.as_deref() {
            None => None,
            Some(cloud) => match cloud_price_per_gb(cloud) {
                Some(price) => Some(price),
                None => {
                    self.error(
                        "spec.network.cloud",
                        format!("{cloud:?} is not a cloud kubesim knows the price of: aws, gcp or azure (or give crossZonePricePerGB)"),
                    );
                    None
                }
            },
        };
        match raw.cross_zone_price_per_gb {
            Some(p) if p.is_finite() && (0.0..=10.0).contains(&p) => p,
            Some(_) => {
                self.error(
                    "spec.network.crossZonePricePerGB",
                    "must be between 0 and 10 USD per GB",
                );
                0.0
            }
            None => from_cloud.unwrap_or(0.0),
        }
    }

    /// The round trip by zone pair: `sameZone` on the diagonal, `crossZone` elsewhere, then
    /// each named pair (both ways).
    fn zone_latency(&mut self, raw: Option<&RawZoneLatency>, zones: &[String]) -> Vec<SimDuration> {
        let n = zones.len();
        let path = "spec.network.latency";
        let same = self.zone_delay(
            &format!("{path}.sameZone"),
            raw.and_then(|r| r.same_zone),
            SimDuration::ZERO,
        );
        let cross = self.zone_delay(
            &format!("{path}.crossZone"),
            raw.and_then(|r| r.cross_zone),
            DEFAULT_CROSS_ZONE_LATENCY,
        );
        let mut out: Vec<SimDuration> = (0..n * n)
            .map(|i| if i / n == i % n { same } else { cross })
            .collect();
        for (i, pair) in raw.map_or(&[][..], |r| &r.pairs).iter().enumerate() {
            let at = format!("{path}.pairs[{i}]");
            let latency = self.zone_delay(&format!("{at}.latency"), pair.latency, cross);
            if pair.latency.is_none() {
                self.error(
                    &format!("{at}.latency"),
                    "required: the round trip between the two zones, e.g. 2ms",
                );
            }
            let [a, b] = pair.zones.as_slice() else {
                self.error(
                    &format!("{at}.zones"),
                    "must name two zones, e.g. [us-east-1a, us-east-1b]",
                );
                continue;
            };
            let mut index = |j: usize, zone: &String| {
                let found = zones.iter().position(|z| z == zone);
                if found.is_none() {
                    self.error(
                        &format!("{at}.zones[{j}]"),
                        format!("{zone:?} is no zone of the node pools ({})", known(zones)),
                    );
                }
                found
            };
            let (Some(a), Some(b)) = (index(0, a), index(1, b)) else {
                continue;
            };
            out[a * n + b] = latency;
            out[b * n + a] = latency;
        }
        out
    }

    fn zone_delay(
        &mut self,
        path: &str,
        given: Option<crate::scenario::units::Duration>,
        default: SimDuration,
    ) -> SimDuration {
        match given {
            None => default,
            Some(d) if d.0 <= MAX_ZONE_LATENCY => d.0,
            Some(_) => {
                self.error(path, "must be at most 1s");
                default
            }
        }
    }
}

/// The zones listed for an error message.
fn known(zones: &[String]) -> String {
    if zones.is_empty() {
        return "they have none: give nodePools[].zones".into();
    }
    zones.join(", ")
}
