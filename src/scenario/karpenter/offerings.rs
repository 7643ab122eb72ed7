//! A NodePool's offerings: every catalogued instance type, capacity type and zone whose labels —
//! as Karpenter's AWS provider computes them — satisfy the NodePool's requirements, each with
//! the shape, price and capacity its nodes get.

use crate::cluster::resources::{Resources, Taint};
use crate::spec::instances::{self, InstanceType};
use crate::spec::karpenter::{Capacity, NodePool};
use crate::spec::model::CapacityType;
use crate::spec::selector::Labels;

use super::INSTANCE_TYPE;

/// An offering as the loader found it; the scenario turns it into a node pool.
#[derive(Clone, Debug)]
pub struct OfferingSpec {
    /// The NodePool's index.
    pub node_pool: usize,
    /// `<nodepool>/<type>/<capacity type>/<zone>`.
    pub name: String,
    /// The catalogue's name for the type.
    pub instance_type: String,
    /// What a node offers pods, and its pod limit.
    pub allocatable: Resources,
    /// The pod limit.
    pub max_pods: i64,
    /// Every label a node of it carries (but its hostname, zone and capacity type, which the
    /// cluster adds).
    pub labels: Labels,
    /// The NodePool's taints.
    pub taints: Vec<Taint>,
    /// The zone.
    pub zone: String,
    /// Spot or on-demand.
    pub capacity_type: CapacityType,
    /// The on-demand price in the region.
    pub on_demand_price: f64,
    /// The zone's spot price (spot offerings only).
    pub spot_price: Option<f64>,
    /// What one node counts against the NodePool's limits.
    pub capacity: Capacity,
    /// A GPU type.
    pub exotic: bool,
    /// Whether the NodePool's first spec admits it (else only a spec applied later does).
    pub admitted: bool,
}

/// A region's zones: names and the zone IDs the catalogue's spot prices use.
pub fn region_zones(region: &str) -> Vec<(String, Option<&'static str>)> {
    if region == "us-east-1" {
        let ids = ["use1-az1", "use1-az2", "use1-az4", "use1-az5", "use1-az6"];
        return (ids.iter().zip('a'..='e'))
            .map(|(id, letter)| (format!("{region}{letter}"), Some(*id)))
            .collect();
    }
    ('a'..='c')
        .map(|l| (format!("{region}{l}"), None))
        .collect()
}

/// The labels Karpenter's AWS provider gives a node of `t` (named `name`).
pub fn instance_labels(name: &str, t: &InstanceType) -> Labels {
    let size = name.split_once('.').map_or("", |(_, s)| s);
    let letters: String = t
        .family
        .chars()
        .take_while(char::is_ascii_lowercase)
        .collect();
    let generation: String = (t.family.chars().skip(letters.len()))
        .take_while(char::is_ascii_digit)
        .collect();
    let mut labels = Labels::new();
    let mut put = |k: &str, v: String| {
        labels.insert(k.to_string(), v);
    };
    put(INSTANCE_TYPE, name.to_string());
    put("kubernetes.io/arch", t.architecture.clone());
    put("kubernetes.io/os", "linux".into());
    put("karpenter.k8s.aws/instance-family", t.family.clone());
    put("karpenter.k8s.aws/instance-category", letters);
    put("karpenter.k8s.aws/instance-generation", generation);
    put("karpenter.k8s.aws/instance-size", size.to_string());
    put("karpenter.k8s.aws/instance-cpu", t.vcpu.to_string());
    put(
        "karpenter.k8s.aws/instance-memory",
        t.memory_mib.to_string(),
    );
    if t.gpus > 0 {
        put("karpenter.k8s.aws/instance-gpu-count", t.gpus.to_string());
        if let Some(model) = &t.gpu_model {
            let short = model.strip_prefix("NVIDIA ").unwrap_or(model);
            put("karpenter.k8s.aws/instance-gpu-name", short.to_lowercase());
        }
    }
    labels
}

/// The offerings of `pool` (index `index`) in `region`: every catalogued type, capacity type
/// (spot where the zone has a spot price) and zone whose labels satisfy every requirement.
pub(super) fn offerings(pool: &NodePool, index: usize, region: &str) -> Vec<OfferingSpec> {
    let zone_restricted = pool.requirements.iter().any(|r| r.key == network_zone());
    let zones = region_zones(region);
    let zones = if zone_restricted {
        &zones[..]
    } else {
        &zones[..3.min(zones.len())]
    };
    let mut out = Vec::new();
    for (name, t) in &instances::aws().instance_types {
        let Some(&on_demand) = t.on_demand_price_per_hour.get(region) else {
            continue;
        };
        let mut labels = instance_labels(name, t);
        labels.extend(pool.labels.clone());
        labels.insert(
            crate::spec::karpenter::NODEPOOL_LABEL.into(),
            pool.name.clone(),
        );
        labels.insert("topology.kubernetes.io/region".into(), region.to_string());
        for (zone, zone_id) in zones {
            let spot = zone_id.and_then(|id| t.spot_price_per_hour.get(id).copied());
            let kinds = [
                (CapacityType::Spot, spot),
                (CapacityType::OnDemand, Some(on_demand)),
            ];
            for (capacity_type, price) in kinds {
                let Some(price) = price else { continue };
                let mut all = labels.clone();
                all.insert(network_zone().into(), zone.clone());
                all.insert(
                    crate::spec::karpenter::CAPACITY_TYPE_LABEL.into(),
                    capacity_type.as_str().into(),
                );
                if let Some(id) = zone_id {
                    all.insert("topology.k8s.aws/zone-id".into(), (*id).to_string());
                }
                if !pool.admits(&all) {
                    continue;
                }
                let (allocatable, max_pods) = t.allocatable();
                out.push(OfferingSpec {
                    node_pool: index,
                    name: format!("{}/{name}/{}/{zone}", pool.name, capacity_type.as_str()),
                    instance_type: name.clone(),
                    allocatable,
                    max_pods,
                    labels: labels.clone(),
                    taints: pool.taints.clone(),
                    zone: zone.clone(),
                    capacity_type,
                    on_demand_price: on_demand,
                    spot_price: (capacity_type == CapacityType::Spot).then_some(price),
                    capacity: Capacity {
                        cpu_millis: i64::from(t.vcpu) * 1000,
                        memory_bytes: t.memory_capacity_mib() * (1 << 20),
                        gpus: i64::from(t.gpus),
                        nodes: 1,
                    },
                    exotic: t.gpus > 0 || name.ends_with(".metal"),
                    admitted: true,
                });
            }
        }
    }
    out
}

fn network_zone() -> &'static str {
    crate::spec::network::ZONE_LABEL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_labels_as_the_aws_provider_computes_them() {
        let c = instances::aws();
        let l = instance_labels("m5.xlarge", &c.instance_types["m5.xlarge"]);
        assert_eq!(l["karpenter.k8s.aws/instance-category"], "m");
        assert_eq!(l["karpenter.k8s.aws/instance-generation"], "5");
        assert_eq!(l["karpenter.k8s.aws/instance-size"], "xlarge");
        assert_eq!(l["karpenter.k8s.aws/instance-cpu"], "4");
        assert_eq!(l["karpenter.k8s.aws/instance-memory"], "16384");
        let g = instance_labels("g5.xlarge", &c.instance_types["g5.xlarge"]);
        assert_eq!(g["karpenter.k8s.aws/instance-gpu-name"], "a10g");
    }
}
