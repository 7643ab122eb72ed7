//! The simulated world: nodes, pods, ReplicaSets, Deployments, Services and HPAs in typed-id
//! arenas, plus the value types they are made of (quantities, resources, selectors) and the
//! accounting of what capacity is used for (allocation, cost shares, GPU fragmentation).
//! Only the engine mutates it; controllers read it and return intents — but for the Cluster
//! Autoscaler's simulations, which change it in a [`trial::Trial`] that undoes every change.

pub mod accounting;
pub mod journal;
pub mod label_groups;
pub mod node_row;
pub mod quantity;
pub mod resources;
pub mod selector;
pub mod state;
pub mod topology;
pub mod trial;

pub use state::*;
