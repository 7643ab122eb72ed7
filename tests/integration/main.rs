//! Integration tests: one binary, a module per concern.

mod bad_input;
mod cli;
mod hpa;
mod queueing;
mod scenarios;
mod support;
