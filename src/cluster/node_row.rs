//! A node as the scheduler's per-node loop reads it: the four resources with a fixed slot
//! (cpu, memory, ephemeral-storage, `nvidia.com/gpu`) as arrays, the room for more pods, and
//! whether anything but resources can turn a pod away. The [`Cluster`](super::Cluster) keeps
//! one row per node, side by side, in step with every change to the node's requests, taints or
//! cordon, so a Filter pass over thousands of nodes reads a few cache lines per node instead of
//! the whole [`Node`]. Extended resources other than GPUs stay on the node.

use super::Node;
use super::resources::{CPU, EPHEMERAL_STORAGE, GPU, MEMORY, Resources, TaintEffect};

/// The resources with a fixed slot, in the order NodeResourcesFit reports them.
pub const FIXED: [&str; 4] = [CPU, MEMORY, EPHEMERAL_STORAGE, GPU];
/// The bit of [`NodeRow::unfit_bits`] that says the node has no room for another pod.
pub const TOO_MANY_PODS_BIT: u8 = 1 << FIXED.len();

/// A resource, by its fixed slot or (for other extended resources) its name: cheap to compare
/// on the scheduler's hot path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceName<'a> {
    /// A resource with a fixed slot: its index in [`FIXED`].
    Fixed(u8),
    /// Another extended resource, by name (the row has no slot for it: it stays on the [`Node`]).
    Extended(&'a str),
}

impl<'a> ResourceName<'a> {
    /// The slot of the resource named `name`, or the name itself when it has none.
    pub fn of(name: &'a str) -> Self {
        match FIXED.iter().position(|f| *f == name) {
            Some(slot) => ResourceName::Fixed(slot as u8),
            None => ResourceName::Extended(name),
        }
    }

    /// The resource's Kubernetes name (`cpu`, `nvidia.com/gpu`, `example.com/fpga`).
    pub fn as_str(self) -> &'a str {
        match self {
            ResourceName::Fixed(slot) => FIXED[usize::from(slot)],
            ResourceName::Extended(name) => name,
        }
    }
}

impl Resources {
    /// The fixed-slot amounts, in [`FIXED`] order.
    pub fn fixed(&self) -> [i64; 4] {
        [
            self.cpu_millis,
            self.memory_bytes,
            self.ephemeral_storage_bytes,
            self.gpus,
        ]
    }
}

/// What the scheduler's Filter and resource scores read of a node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeRow {
    /// `status.allocatable` of the fixed-slot resources, in [`FIXED`] order (millicores, bytes,
    /// bytes, GPUs).
    pub allocatable: [i64; 4],
    /// Σ requests of the pods bound here.
    pub requested: [i64; 4],
    /// Σ non-zero (scoring) requests of the same pods.
    pub requested_for_scoring: [i64; 4],
    /// `max_pods − pod_count`.
    pub pod_room: i64,
    /// Not cordoned and without NoSchedule/NoExecute taints: a pod that asks nothing of the
    /// node but resources is judged by NodeResourcesFit alone.
    pub open: bool,
    /// Without any taint (TaintToleration scores 0 here for every pod).
    pub untainted: bool,
}

impl NodeRow {
    /// The row of `node` as it stands now.
    pub fn of(node: &Node) -> Self {
        let hard_taint = node
            .taints
            .iter()
            .any(|t| t.effect != TaintEffect::PreferNoSchedule);
        NodeRow {
            allocatable: node.allocatable.fixed(),
            requested: node.requested.fixed(),
            requested_for_scoring: node.requested_for_scoring.fixed(),
            pod_room: node.max_pods - node.pod_count,
            open: !node.unschedulable && !hard_taint,
            untainted: node.taints.is_empty(),
        }
    }

    /// The fixed-slot resources `want` asks more of than is left, as a bit set (bit `i` for
    /// `FIXED[i]`).
    #[inline]
    pub fn shortfalls(&self, want: &[i64; 4]) -> u8 {
        let mut bits = 0;
        for (i, &want) in want.iter().enumerate() {
            let free = self.allocatable[i] - self.requested[i];
            bits |= u8::from(want > 0 && want > free) << i;
        }
        bits
    }

    /// [`NodeRow::shortfalls`], plus [`TOO_MANY_PODS_BIT`] when the node has no room for
    /// another pod: 0 when NodeResourcesFit lets the pod in.
    #[inline]
    pub fn unfit_bits(&self, want: &[i64; 4]) -> u8 {
        self.shortfalls(want) | (u8::from(self.pod_room < 1) << FIXED.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_resolve_to_slots() {
        assert_eq!(ResourceName::of("memory"), ResourceName::Fixed(1));
        assert_eq!(ResourceName::of("nvidia.com/gpu"), ResourceName::Fixed(3));
        assert_eq!(
            ResourceName::of("example.com/fpga"),
            ResourceName::Extended("example.com/fpga")
        );
        assert_eq!(ResourceName::Fixed(2).as_str(), "ephemeral-storage");
    }

    #[test]
    fn shortfalls_flag_each_short_resource() {
        let row = NodeRow {
            allocatable: [4000, 1000, 0, 2],
            requested: [3000, 200, 0, 2],
            ..NodeRow::default()
        };
        // free: cpu 1000, memory 800, ephemeral 0, gpu 0.
        assert_eq!(row.shortfalls(&[1000, 800, 0, 0]), 0);
        assert_eq!(row.shortfalls(&[1001, 800, 0, 0]), 0b0001);
        assert_eq!(row.shortfalls(&[0, 900, 1, 1]), 0b1110);
    }
}
