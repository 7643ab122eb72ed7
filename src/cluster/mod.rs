//! The simulated world: nodes, pods, ReplicaSets, Deployments, Services and HPAs in typed-id
//! arenas (made of the value types of [`crate::spec`], re-exported here), and the accounting of what capacity is used for (allocation, cost shares, GPU fragmentation).
//! Only the engine mutates it; controllers read it and return intents — but for the Cluster
//! Autoscaler's simulations, which change it in a [`trial::Trial`] that undoes every change.

pub(crate) mod accounting;
pub(crate) mod job_runs;
pub(crate) mod journal;
pub(crate) mod label_groups;
pub mod node_row;
pub mod resize;
pub(crate) mod running;
pub(crate) mod state;
pub(crate) mod topology;
pub mod trial;

pub use crate::spec::{quantity, resources, selector};
pub use job_runs::JobRuns;
pub use resize::ResizeFit;
pub use state::*;

/// A node for filter and score tests: `cpu`/`mem` allocatable with `used_*` already requested.
#[cfg(test)]
pub(crate) fn test_node(cpu: i64, mem: i64, used_cpu: i64, used_mem: i64) -> Node {
    use crate::spec::resources::Resources;
    let amount = |cpu_millis, memory_bytes| Resources {
        cpu_millis,
        memory_bytes,
        ..Default::default()
    };
    Node {
        requested: amount(used_cpu, used_mem),
        requested_for_scoring: amount(used_cpu, used_mem),
        ..Node::new("n", amount(cpu, mem))
    }
}
