//! Observations in, aggregates out. The engine emits `Observation`s; the `Recorder` folds them
//! into bounded-memory aggregates (latency histograms, counters, time-weighted gauges, a sampled
//! time series); [`report`] turns the aggregates into the `kubesim.report/v1` document and
//! `slo` evaluates assertions against it. Nothing here reads the cluster directly.

pub mod baseline;
pub mod cluster_events;
pub mod export;
pub(crate) mod hdr;
pub mod history;
pub(crate) mod interval;
pub mod pod_events;
pub(crate) mod recorder;
pub mod report;
pub(crate) mod slo;
pub mod vpa;

pub(crate) use recorder::{Observation, Recorder, TimeSeries};
pub use report::Report;
