//! The data plane: request arrivals per Service, routing over ready endpoints, the per-pod
//! serving model, and the sharing of each node's CPU among its pods. Nothing here decides about pods or nodes; it only serves requests on the pods
//! the engine gives it and reports what happened to each.

pub mod arrivals;
pub mod calls;
pub mod llm;
pub mod node_cpu;
pub mod routing;
pub mod serving;

pub use arrivals::ArrivalProcess;
pub use routing::Router;
pub use serving::{FailureReason, Instance, Outcome, PodServer, RequestSlab};
