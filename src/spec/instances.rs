//! The cloud instance catalogue (`assets/instances/aws.yaml`, sources in
//! `assets/instances/SOURCES.md`): vCPUs, memory, GPUs, the VPC CNI's pod limit and prices per
//! region for about fifty AWS instance types. A node pool that names an `instanceType` and gives
//! no `allocatable`, `capacity` or `pricePerHour` takes them from here.
//!
//! Allocatable is computed as EKS's AMIs (and Karpenter, `pkg/providers/instancetype/types.go`)
//! compute it: capacity less kube-reserved less the hard eviction threshold —
//! - cpu: the vCPUs, less 6 % of the first core, 1 % of the second, 0.5 % of the third and
//!   fourth and 0.25 % of each core above four (each band in whole millicores);
//! - memory: the instance's MiB (less 64 MiB on arm64), less 7.5 % (rounded up) for the
//!   hypervisor, less `11 × pods + 255` MiB reserved and 100 MiB for eviction;
//! - pods: the VPC CNI's limit without prefix delegation;
//! - GPUs (`nvidia.com/gpu`) as the instance has them.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::resources::{CPU, GPU, MEMORY, Resources};

/// One instance type.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstanceType {
    /// The family (`m5`).
    pub family: String,
    /// `general`, `compute`, `memory`, `burstable` or `gpu`.
    pub category: String,
    /// `amd64` or `arm64`.
    pub architecture: String,
    /// vCPUs.
    pub vcpu: u32,
    /// Memory as EC2 reports it, MiB.
    #[serde(rename = "memoryMiB")]
    pub memory_mib: u64,
    /// GPUs.
    #[serde(default)]
    pub gpus: u32,
    /// The GPU's name.
    #[serde(default)]
    pub gpu_model: Option<String>,
    /// Memory per GPU, MiB.
    #[serde(default, rename = "gpuMemoryMiB")]
    pub gpu_memory_mib: Option<u64>,
    /// The VPC CNI's pod limit.
    pub max_pods: u32,
    /// On-demand USD per hour, by region.
    #[serde(default)]
    pub on_demand_price_per_hour: BTreeMap<String, f64>,
    /// Spot USD per hour, by AWS zone ID (`use1-az1`).
    #[serde(default)]
    pub spot_price_per_hour: BTreeMap<String, f64>,
}

/// A provider's catalogue.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Catalogue {
    /// `aws`.
    pub provider: String,
    /// When the on-demand prices were taken.
    pub on_demand_prices_as_of: String,
    /// The types by name.
    pub instance_types: BTreeMap<String, InstanceType>,
}

const AWS: &str = include_str!("../../assets/instances/aws.yaml");

/// The shipped AWS catalogue.
pub fn aws() -> &'static Catalogue {
    static TABLE: OnceLock<Catalogue> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_saphyr::from_str(AWS).expect("the shipped instance catalogue is valid")
    })
}

const MIB: i64 = 1 << 20;

/// kube-reserved CPU in millicores for `vcpu` cores.
pub fn kube_reserved_cpu_millis(vcpu: u32) -> i64 {
    let cores = f64::from(vcpu);
    let band = |from: f64, to: f64, percent: f64| {
        ((cores.min(to) - from).max(0.0) * 1000.0 * percent / 100.0).floor() as i64
    };
    band(0.0, 1.0, 6.0) + band(1.0, 2.0, 1.0) + band(2.0, 4.0, 0.5) + band(4.0, f64::INFINITY, 0.25)
}

impl InstanceType {
    /// Memory capacity as the node reports it, MiB: EC2's figure less 64 MiB on arm64, less
    /// the 7.5 % the hypervisor keeps (rounded up).
    pub fn memory_capacity_mib(&self) -> i64 {
        let mib = self.memory_mib as i64 - if self.architecture == "arm64" { 64 } else { 0 };
        mib - (mib as f64 * 0.075).ceil() as i64
    }

    /// What a node of this type offers pods, and its pod limit.
    pub fn allocatable(&self) -> (Resources, i64) {
        let pods = i64::from(self.max_pods);
        let mut r = Resources::default();
        r.set(
            CPU,
            i64::from(self.vcpu) * 1000 - kube_reserved_cpu_millis(self.vcpu),
        );
        let reserved_mib = 11 * pods + 255 + 100;
        r.set(MEMORY, (self.memory_capacity_mib() - reserved_mib) * MIB);
        if self.gpus > 0 {
            r.set(GPU, i64::from(self.gpus));
        }
        (r, pods)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_reserved_cpu_as_eks_reserves_it() {
        // 1 → 60, 2 → 70, 4 → 80, 8 → 90 (80 + 4 × 2.5), 16 → 110, 96 → 310 (80 + 92 × 2.5).
        for (cores, millis) in [(1, 60), (2, 70), (4, 80), (8, 90), (16, 110), (96, 310)] {
            assert_eq!(kube_reserved_cpu_millis(cores), millis, "{cores}");
        }
    }

    #[test]
    fn allocatable_matches_karpenters_table() {
        // Karpenter's instance-types reference: m5.xlarge 3920m / 14162Mi / 58 pods —
        // memory 16384 − ⌈1228.8⌉ = 15155, less 11 × 58 + 255 = 893 and 100 → 14162;
        // m5.large 1930m / 6903Mi / 29 pods.
        let c = aws();
        for (name, cpu, mib, pods) in [("m5.xlarge", 3920, 14162, 58), ("m5.large", 1930, 6903, 29)]
        {
            let (r, p) = c.instance_types[name].allocatable();
            assert_eq!(
                (r.get(CPU), r.get(MEMORY) / MIB, p),
                (cpu, mib, pods),
                "{name}"
            );
        }
    }

    #[test]
    fn every_type_is_complete() {
        let c = aws();
        assert!(c.instance_types.len() >= 40);
        for (name, t) in &c.instance_types {
            assert!(t.vcpu > 0 && t.memory_mib > 0 && t.max_pods > 0, "{name}");
            assert!(
                t.on_demand_price_per_hour.contains_key("us-east-1"),
                "{name}"
            );
            assert_eq!(t.category == "gpu", t.gpus > 0, "{name}");
            let (r, _) = t.allocatable();
            assert!(r.get(CPU) > 0 && r.get(MEMORY) > 0, "{name}");
        }
    }
}
