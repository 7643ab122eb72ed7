//! What the cluster's capacity is used for: allocation totals per resource, the share of a
//! node's price a pod is charged, and GPU fragmentation. Pure functions over nodes and requests;
//! the engine turns them into observations.

use super::resources::{self, Resources};
use super::state::{Cluster, Node};

/// The resources allocation is reported for, in this order.
pub const ALLOCATION_RESOURCES: [&str; 3] = [resources::CPU, resources::MEMORY, resources::GPU];

/// Σ requested and Σ allocatable over the Ready nodes, per [`ALLOCATION_RESOURCES`] entry.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AllocationTotals {
    pub requested: [f64; 3],
    pub allocatable: [f64; 3],
}

impl AllocationTotals {
    pub fn of(cluster: &Cluster) -> Self {
        let mut t = AllocationTotals::default();
        for &id in &cluster.ready_nodes {
            let node = cluster.node(id);
            for (i, name) in ALLOCATION_RESOURCES.iter().enumerate() {
                t.requested[i] += node.requested.get(name) as f64;
                t.allocatable[i] += node.allocatable.get(name) as f64;
            }
        }
        t
    }
}

/// [`AllocationTotals`] kept up to date as nodes turn Ready, go, and have their requests
/// change, instead of summed over every node at each change: integer sums, which equal the
/// floating-point sum over the nodes as long as every partial sum is below 2^53 (a million nodes
/// of a petabyte each would not reach it).
#[derive(Clone, Debug, Default)]
pub struct ReadyTotals {
    requested: [i64; 3],
    allocatable: [i64; 3],
    /// Each node's requests as last counted, by node index.
    counted: Vec<[i64; 3]>,
}

fn amounts(r: &Resources) -> [i64; 3] {
    ALLOCATION_RESOURCES.map(|name| r.get(name))
}

/// `total += sign × amount`, per resource.
fn add(total: &mut [i64; 3], amount: &[i64; 3], sign: i64) {
    for (t, a) in total.iter_mut().zip(amount) {
        *t += sign * a;
    }
}

impl ReadyTotals {
    pub fn totals(&self) -> AllocationTotals {
        AllocationTotals {
            requested: self.requested.map(|v| v as f64),
            allocatable: self.allocatable.map(|v| v as f64),
        }
    }

    /// `node`'s requests may have changed (a Ready node's count in the totals follows).
    pub fn requests_changed(&mut self, node: &Node) {
        let before = self.take_count(node);
        if node.state == super::NodeState::Ready {
            let now = self.counted[node.id.index()];
            add(&mut self.requested, &now, 1);
            add(&mut self.requested, &before, -1);
        }
    }

    /// `node` joined (`true`) or left the Ready nodes.
    pub fn readiness_changed(&mut self, node: &Node, ready: bool) {
        let allocatable = amounts(&node.allocatable);
        if ready {
            self.take_count(node);
            add(&mut self.allocatable, &allocatable, 1);
            add(&mut self.requested, &self.counted[node.id.index()], 1);
        } else {
            add(&mut self.allocatable, &allocatable, -1);
            add(&mut self.requested, &self.counted[node.id.index()], -1);
        }
    }

    /// Counts the node's requests as they are now; returns the count before.
    fn take_count(&mut self, node: &Node) -> [i64; 3] {
        let i = node.id.index();
        if self.counted.len() <= i {
            self.counted.resize(i + 1, [0; 3]);
        }
        std::mem::replace(&mut self.counted[i], amounts(&node.requested))
    }

    /// The newest node is taken back (it was never Ready).
    pub fn node_removed_last(&mut self) {
        self.counted.pop();
    }
}

/// The fraction of a node's price charged to a pod: the mean, over cpu, memory and (on a node
/// that has GPUs) `nvidia.com/gpu`, of the pod's request as a fraction of the node's
/// allocatable (each capped at 1). What no pod is charged is the node's idle cost.
///
/// A CPU-only pod on a GPU node pays at most two thirds of it: the idle GPUs show up as idle cost.
pub fn cost_share(requests: &Resources, allocatable: &Resources) -> f64 {
    let mut sum = 0.0;
    let mut counted = 0u32;
    for name in ALLOCATION_RESOURCES {
        let alloc = allocatable.get(name);
        if alloc <= 0 {
            continue;
        }
        sum += (requests.get(name) as f64 / alloc as f64).min(1.0);
        counted += 1;
    }
    if counted == 0 {
        0.0
    } else {
        sum / f64::from(counted)
    }
}

/// GPU fragmentation: the share of unallocated GPUs that the workload's GPU requests cannot use.
///
/// `demand` lists the GPU counts pods ask for with their weights (how many pods asked). A free
/// GPU on a node counts as fragmented for a request size when the node's free GPUs are fewer
/// than that size, or its free cpu or memory cannot hold a pod of that size's typical cpu and
/// memory; the result is Σ_nodes Σ_sizes weight × fragmented free GPUs / (Σ weights × Σ free
/// GPUs), in `[0, 1]` (0 when no GPU is free). After Weng et al., "Beware of Fragmentation"
/// (ATC '23), with whole GPUs.
pub fn gpu_fragmentation<'a>(nodes: impl Iterator<Item = &'a Node>, demand: &[GpuDemand]) -> f64 {
    let total_weight: f64 = demand.iter().map(|d| d.weight).sum();
    if total_weight <= 0.0 {
        return 0.0;
    }
    let (mut fragmented, mut free_total) = (0.0, 0.0);
    for node in nodes {
        let free = node.allocatable.get(resources::GPU) - node.requested.get(resources::GPU);
        if free <= 0 {
            continue;
        }
        let free_cpu = node.allocatable.cpu_millis - node.requested.cpu_millis;
        let free_memory = node.allocatable.memory_bytes - node.requested.memory_bytes;
        free_total += free as f64;
        for d in demand {
            let unusable = free < d.gpus || free_cpu < d.cpu_millis || free_memory < d.memory_bytes;
            if unusable {
                fragmented += d.weight * free as f64;
            }
        }
    }
    if free_total == 0.0 {
        0.0
    } else {
        fragmented / (total_weight * free_total)
    }
}

/// One GPU request size of the workload: whole GPUs, the typical (median) cpu and memory asked
/// with it, and how many pods asked.
#[derive(Clone, Debug, PartialEq)]
pub struct GpuDemand {
    pub gpus: i64,
    pub cpu_millis: i64,
    pub memory_bytes: i64,
    pub weight: f64,
}

/// The GPU request sizes of a workload: pods' requests with how many pods make them, grouped by
/// GPU count, with the median cpu and memory of each group. Pods without GPUs are ignored.
pub fn gpu_demand<'a>(pods: impl Iterator<Item = (&'a Resources, f64)>) -> Vec<GpuDemand> {
    let mut groups: std::collections::BTreeMap<i64, Vec<(i64, i64, f64)>> = Default::default();
    for (requests, weight) in pods {
        let gpus = requests.get(resources::GPU);
        if gpus > 0 && weight > 0.0 {
            groups.entry(gpus).or_default().push((
                requests.cpu_millis,
                requests.memory_bytes,
                weight,
            ));
        }
    }
    groups
        .into_iter()
        .map(|(gpus, members)| {
            let median = |key: fn(&(i64, i64, f64)) -> i64| {
                let mut v: Vec<i64> = members.iter().map(key).collect();
                v.sort_unstable();
                v[v.len() / 2]
            };
            GpuDemand {
                gpus,
                cpu_millis: median(|m| m.0),
                memory_bytes: median(|m| m.1),
                weight: members.iter().map(|m| m.2).sum(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(cpu: i64, mem: i64, gpu: i64) -> Resources {
        let mut r = Resources {
            cpu_millis: cpu,
            memory_bytes: mem,
            ..Default::default()
        };
        if gpu > 0 {
            r.set(resources::GPU, gpu);
        }
        r
    }

    #[test]
    fn cost_share_averages_the_resources_the_node_has() {
        // cpu 2/8 = 0.25, memory 8/32 = 0.25 → 0.25 on a CPU node.
        assert_eq!(cost_share(&res(2000, 8, 0), &res(8000, 32, 0)), 0.25);
        // GPU node: (0.25 + 0.25 + 0/4) / 3 = 1/6 for a CPU-only pod…
        let share = cost_share(&res(2000, 8, 0), &res(8000, 32, 4));
        assert!((share - 1.0 / 6.0).abs() < 1e-12);
        // …and (0.25 + 0.25 + 4/4) / 3 = 0.5 for one taking every GPU.
        assert_eq!(cost_share(&res(2000, 8, 4), &res(8000, 32, 4)), 0.5);
        // Requests above allocatable are capped: (1 + 1) / 2.
        assert_eq!(cost_share(&res(9000, 64, 0), &res(8000, 32, 0)), 1.0);
    }

    fn gpu_node(gpus: i64, used: i64) -> Node {
        let mut n = crate::cluster::test_node(64_000, 256, 0, 0);
        n.allocatable.set(resources::GPU, gpus);
        n.requested.set(resources::GPU, used);
        n
    }

    #[test]
    fn demand_groups_by_gpu_count_with_median_cpu_and_memory() {
        let pods = [
            (res(1000, 10, 1), 1.0),
            (res(3000, 30, 1), 1.0),
            (res(2000, 20, 1), 2.0),
            (res(8000, 80, 4), 1.0),
            (res(500, 5, 0), 9.0),
        ];
        let d = gpu_demand(pods.iter().map(|(r, w)| (r, *w)));
        assert_eq!(d.len(), 2);
        // 1 GPU: cpu {1000, 3000, 2000} → median 2000; weight 1 + 1 + 2.
        assert_eq!(
            (d[0].gpus, d[0].cpu_millis, d[0].memory_bytes),
            (1, 2000, 20)
        );
        assert_eq!(d[0].weight, 4.0);
        assert_eq!((d[1].gpus, d[1].cpu_millis, d[1].weight), (4, 8000, 1.0));
    }

    #[test]
    fn fragmentation_counts_free_gpus_too_few_for_a_request() {
        let demand = |gpus, weight| GpuDemand {
            gpus,
            cpu_millis: 0,
            memory_bytes: 0,
            weight,
        };
        // Node A: 8 GPUs, 7 used → 1 free; node B: 8 GPUs, 4 used → 4 free. 5 free in all.
        let nodes = [gpu_node(8, 7), gpu_node(8, 4)];
        // Only 1-GPU requests: every free GPU is usable.
        assert_eq!(gpu_fragmentation(nodes.iter(), &[demand(1, 1.0)]), 0.0);
        // Only 2-GPU requests: A's single GPU is stranded → 1/5.
        assert_eq!(gpu_fragmentation(nodes.iter(), &[demand(2, 1.0)]), 0.2);
        // Half 1-GPU, half 8-GPU: (0.5·0 + 0.5·5) / (1 · 5) = 0.5.
        let mixed = [demand(1, 1.0), demand(8, 1.0)];
        assert_eq!(gpu_fragmentation(nodes.iter(), &mixed), 0.5);
        // A node with free GPUs but no free cpu strands them all.
        let mut starved = gpu_node(8, 0);
        starved.requested.cpu_millis = 64_000;
        let d = GpuDemand {
            cpu_millis: 1000,
            ..demand(1, 1.0)
        };
        assert_eq!(gpu_fragmentation([starved].iter(), &[d]), 1.0);
        // Nothing free: 0.
        assert_eq!(
            gpu_fragmentation([gpu_node(8, 8)].iter(), &[demand(1, 1.0)]),
            0.0
        );
    }
}
