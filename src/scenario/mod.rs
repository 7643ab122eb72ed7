//! Reading scenarios: the only module that reads files.
//!
//! `yaml` parses text into located nodes, `de` types them, `raw` mirrors the scenario file,
//! `manifest` turns Kubernetes objects into cluster specs, `trace` reads traffic traces, and
//! `validate` checks everything at once and produces the typed [`Scenario`].

pub(crate) mod alibaba;
pub(crate) mod autoscaler_config;
pub(crate) mod bare;
pub mod calibration;
pub(crate) mod config_refs;
pub(crate) mod cron;
pub(crate) mod de;
pub(crate) mod decode_report;
pub mod diag;
pub(crate) mod ingress;
pub(crate) mod job;
pub(crate) mod karpenter;
pub(crate) mod keda;
pub(crate) mod limit_range;
pub mod llm_trace;
pub(crate) mod manifest;
pub mod manifest_files;
pub(crate) mod model;
pub(crate) mod namespaces;
pub(crate) mod overrides;
pub(crate) mod pdb;
pub(crate) mod pod_affinity;
pub(crate) mod pod_spread;
pub(crate) mod ports;
pub(crate) mod priority;
pub(crate) mod probes;
pub mod prom_export;
pub(crate) mod quota;
pub(crate) mod raw;
pub mod read;
pub(crate) mod scheduler_config;
pub(crate) mod scheduler_plugin_names;
pub(crate) mod slo;
pub mod sweep;
pub mod trace;
pub mod units;
pub(crate) mod validate;
pub(crate) mod vpa;
pub(crate) mod yaml;

pub use crate::spec::pattern;
pub use manifest::resource_amount;
pub use model::*;
pub use validate::{LoadOptions, Validated, load_scenario, validate_file, validate_files};
