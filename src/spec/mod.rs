//! What Kubernetes objects say, as values: the workload specs a scenario is made of
//! ([`model`]), typed ids, quantities, resources, taints and tolerations, label and node
//! selectors, the rollout fields, an HPA's behavior, the scheduler's profiles, the per-pod
//! metrics a workload exports, ConfigMaps and Secrets, and the LLM servers' profiles. The lowest
//! layer above `sim`: the simulated cluster, the scenario loader and the controllers all build
//! on these types, and nothing here knows about them. The arithmetic that acts on the types (a rollout's fenceposts, an HPA's normalization,
//! a scheduler's scores) is the controllers'.

pub mod config;
pub mod hpa;
pub mod ids;
pub mod instances;
pub mod karpenter;
pub mod llm;
pub mod mesh;
pub mod metrics;
pub mod model;
pub mod network;
pub mod pattern;
pub mod pod_resources;
pub mod quantity;
pub mod resources;
pub mod rollout;
pub mod scheduler;
pub mod selector;
pub mod vpa;
