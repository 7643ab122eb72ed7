//! The data plane: request arrivals per Service, routing over ready endpoints, the per-pod
//! serving model, and the sharing of each node's CPU among its pods. Nothing here decides about pods or nodes; it only serves requests on the pods
//! the engine gives it and reports what happened to each.

pub(crate) mod arrivals;
pub(crate) mod calls;
pub(crate) mod cfs;
pub(crate) mod llm;
pub(crate) mod node_cpu;
pub(crate) mod plane;
pub(crate) mod routing;
pub(crate) mod servers;
pub(crate) mod serving;

pub(crate) use arrivals::ArrivalProcess;
pub(crate) use routing::Router;
pub(crate) use serving::{FailureReason, Instance, Outcome, PodServer};
