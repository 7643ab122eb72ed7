//! A node's utilization as the Cluster Autoscaler computes it for scale-down
//! (`simulator/utilization/info.go`, cluster-autoscaler 1.36) and the threshold check
//! (`core/scaledown/eligibility`):
//!
//! - a GPU node (one with GPUs allocatable, or with a cloud's accelerator label) is judged by
//!   its GPUs alone: requested / allocatable, and 0 while its GPUs are not yet allocatable;
//! - any other node by the larger of CPU and memory, each Σ requests / allocatable; with
//!   `--ignore-daemonsets-utilization` (`--ignore-mirror-pods-utilization`) those pods'
//!   requests are taken off both sides; pods long past their deletion are left out of the
//!   requests;
//! - a node without CPU or memory allocatable is an error (`UnexpectedError`: never removed);
//! - the node is unneeded when its utilization is **at or below** the threshold
//!   (`--scale-down-gpu-utilization-threshold` for GPU nodes).

use crate::cluster::Node;
use crate::cluster::resources::{CPU, GPU, MEMORY, Resources};
use crate::scenario::AutoscalerSettings;

/// The node labels by which a cloud provider marks a GPU node (GKE, EKS, Cluster API).
pub const GPU_LABELS: [&str; 3] = [
    "cloud.google.com/gke-accelerator",
    "k8s.amazonaws.com/accelerator",
    "cluster-api/accelerator",
];

/// Whether the autoscaler treats `node` as a GPU node.
pub fn is_gpu_node(node: &Node) -> bool {
    node.allocatable.get(GPU) > 0 || GPU_LABELS.iter().any(|k| node.labels.contains_key(*k))
}

/// The requests that enter a node's utilization, split as upstream splits them.
#[derive(Clone, Debug, Default)]
pub struct Requests {
    /// Σ requests of the pods counted.
    pub counted: Resources,
    /// Σ requests of the DaemonSet and mirror pods the flags leave out (off both sides).
    pub skipped: Resources,
}

/// Which resource decided, and the ratio.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Utilization {
    /// `cpu`, `memory` or the GPU resource.
    pub resource: &'static str,
    /// Requested / allocatable.
    pub value: f64,
}

/// `Calculate`: the utilization of a node with `allocatable`, or `None` where upstream
/// returns an error (CPU or memory allocatable missing or zero).
pub fn calculate(
    allocatable: &Resources,
    gpu_node: bool,
    requests: &Requests,
) -> Option<Utilization> {
    let ratio = |name: &str| -> Option<f64> {
        let alloc = allocatable.get(name);
        if alloc == 0 {
            return None;
        }
        let used = requests.counted.get(name);
        Some(used as f64 / (alloc - requests.skipped.get(name)) as f64)
    };
    if gpu_node {
        return Some(Utilization {
            resource: GPU,
            value: ratio(GPU).unwrap_or(0.0),
        });
    }
    let cpu = ratio(CPU)?;
    let memory = ratio(MEMORY)?;
    Some(if cpu > memory {
        Utilization {
            resource: CPU,
            value: cpu,
        }
    } else {
        Utilization {
            resource: MEMORY,
            value: memory,
        }
    })
}

/// The threshold `node` is held to.
pub fn threshold(gpu_node: bool, settings: &AutoscalerSettings) -> f64 {
    if gpu_node {
        settings.scale_down_gpu_utilization_threshold
    } else {
        settings.scale_down_utilization_threshold
    }
}

/// Whether a utilization is low enough to remove the node: at or below the threshold.
pub fn underutilized(value: f64, threshold: f64) -> bool {
    value <= threshold
}

#[cfg(test)]
mod tests {
    //! `simulator/utilization/info_test.go` (`TestCalculate`) and
    //! `core/scaledown/eligibility/eligibility_test.go`, cluster-autoscaler 1.36.1.
    use super::*;

    fn res(cpu: i64, mem: i64) -> Resources {
        let mut r = Resources::default();
        r.set(CPU, cpu);
        r.set(MEMORY, mem);
        r
    }

    fn sum(parts: &[(i64, i64)]) -> Resources {
        let mut r = Resources::default();
        for &(c, m) in parts {
            r.add(&res(c, m));
        }
        r
    }

    fn value(
        alloc: &Resources,
        gpu: bool,
        counted: &[(i64, i64)],
        skipped: &[(i64, i64)],
    ) -> Option<f64> {
        let requests = Requests {
            counted: sum(counted),
            skipped: sum(skipped),
        };
        calculate(alloc, gpu, &requests).map(|u| u.value)
    }

    #[test]
    fn calculate_cases() {
        // Node 2000m / 2 000 000 B; p1 = 100m / 200 000; p2 requests nothing.
        let node = res(2000, 2_000_000);
        let p1 = (100, 200_000);
        let p2 = (0, 0);
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-12;
        // p1, p1, p2: cpu 200/2000 = 0.1, memory 400k/2M = 0.2 → 0.2 (memory).
        assert!(close(value(&node, false, &[p1, p1, p2], &[]), 0.2));
        // Memory allocatable missing → error.
        assert_eq!(value(&res(2000, 0), false, &[p1], &[]), None);
        // + a DaemonSet pod and an annotated one (100m/200k each), ignored: 400k / (2M − 400k) = 0.25.
        assert!(close(value(&node, false, &[p1, p1, p2], &[p1, p1]), 0.25));
        // + a mirror pod, ignored: 400k / 1.8M = 2/9.
        assert!(close(value(&node, false, &[p1, p1, p2], &[p1]), 2.0 / 9.0));
        // p1 + mirror + DaemonSet, both ignored: 200k / 1.6M = 0.125.
        assert!(close(value(&node, false, &[p1], &[p1, p1]), 0.125));
        // A pod deleted 10 min ago (long terminating) is left out of the requests: 0.2.
        assert!(close(value(&node, false, &[p1, p1, p2], &[]), 0.2));
        // Init containers: pod requests 100 + 150 + 50 000 m → 50 250 / 2000 = 25.125 cpu;
        // memory 200k + 300k + 100M = 100.5M / 2M = 50.25 → 50.25.
        let heavy = [(100, 200_000), (150, 300_000), (50_000, 100_000_000)];
        assert!(close(value(&node, false, &heavy, &[]), 50.25));
    }

    #[test]
    fn gpu_nodes_count_gpus_only() {
        let mut node = res(2000, 2_000_000);
        node.set(GPU, 1);
        let mut counted = sum(&[(100, 200_000), (100, 200_000)]);
        counted.set(GPU, 1);
        let requests = Requests {
            counted,
            skipped: Resources::default(),
        };
        // One GPU requested of one: 1.0, whatever cpu and memory say.
        let u = calculate(&node, true, &requests).unwrap();
        assert_eq!((u.resource, u.value), (GPU, 1.0));
        // Labelled as a GPU node with no GPU allocatable yet: 0, not an error.
        let u = calculate(&res(2000, 2_000_000), true, &requests).unwrap();
        assert_eq!(u.value, 0.0);
    }

    #[test]
    fn the_threshold_includes_equality() {
        // eligibility_test.go: node 1000m / 10 B, threshold 0.5.
        let node = res(1000, 10);
        let at = |counted: &[(i64, i64)], skipped: &[(i64, i64)]| {
            value(&node, false, counted, skipped).unwrap()
        };
        assert!(underutilized(at(&[(100, 0)], &[]), 0.5)); // 0.1
        assert!(!underutilized(at(&[(600, 0)], &[]), 0.5)); // 0.6
        // Ignoring DaemonSets: 100 / (1000 − 500) = 0.2; counting them: 600/1000 = 0.6.
        assert!(underutilized(at(&[(100, 0)], &[(500, 0)]), 0.5));
        assert!(!underutilized(at(&[(100, 0), (500, 0)], &[]), 0.5));
        // Only DaemonSet pods, ignored, threshold 0: 0/500 = 0 ≤ 0 → unneeded.
        assert!(underutilized(at(&[], &[(500, 0)]), 0.0));
        // A node with nothing allocatable is an error, never unneeded.
        assert_eq!(value(&res(0, 0), false, &[], &[]), None);
    }
}
