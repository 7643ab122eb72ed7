//! kubesim: a discrete-event simulator of Kubernetes autoscaling and scheduling.
//!
//! Load a scenario with [`scenario::load_scenario`], run it with [`engine::run`], and read the
//! [`metrics::Report`]; docs/library.md shows how to embed kubesim and call the controllers'
//! arithmetic directly. See the README for the codemap and invariants.

#![warn(missing_docs)]

pub mod calibrate;
pub mod cluster;
pub mod controllers;
pub mod engine;
pub mod metrics;
pub mod output;
pub mod scenario;
pub mod sim;
pub mod spec;
pub mod sweep;
pub mod traffic;

/// The examples of docs/library.md, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/library.md")]
pub struct LibraryGuide;
