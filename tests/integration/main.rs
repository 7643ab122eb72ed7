//! Integration tests: one binary, a module per concern.

mod autoscaler;
mod bad_input;
mod bare;
mod calls;
mod cli;
mod daemonset;
mod failures;
mod hpa;
mod inputs;
mod jobs;
mod keda;
mod llm;
mod mutation;
mod node_cpu;
mod output_dir;
mod plots;
mod preemption;
mod probes;
mod queueing;
mod rollouts;
mod scenarios;
mod spread;
mod statefulset;
mod support;
mod sweep;
mod timeline;
