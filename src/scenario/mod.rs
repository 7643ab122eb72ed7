//! Reading scenarios: the only module that reads files.
//!
//! `yaml` parses text into located nodes, `de` types them, `raw` mirrors the scenario file,
//! `manifest` turns Kubernetes objects into cluster specs, `trace` reads traffic traces, and
//! `validate` checks everything at once and produces the typed [`Scenario`].

pub mod alibaba;
pub mod autoscaler_config;
pub mod bare;
pub mod config_refs;
pub mod cron;
pub mod de;
pub mod diag;
pub mod ingress;
pub mod job;
pub mod keda;
pub mod limit_range;
pub mod llm_trace;
pub mod manifest;
pub mod manifest_files;
pub mod model;
pub mod namespaces;
pub mod overrides;
pub mod pdb;
pub mod pod_affinity;
pub mod pod_spread;
pub mod priority;
pub mod probes;
pub mod quota;
pub mod raw;
pub mod scheduler_config;
pub mod slo;
pub mod sweep;
pub mod trace;
pub mod units;
pub mod validate;
pub mod yaml;

pub use crate::spec::pattern;
pub use model::*;
pub use validate::{LoadOptions, Validated, load_scenario, validate_file, validate_files};
