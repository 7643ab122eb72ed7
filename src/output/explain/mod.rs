//! `kubesim explain` renderings: [`hpa`] tells why an HPA chose its replicas, [`deployment`] why
//! the Deployment controller scaled a ReplicaSet, [`pod`] why a pod
//! was Pending, [`node`] why the Cluster Autoscaler kept or removed a node, [`karpenter`] why
//! Karpenter launched, kept or disrupted one, [`vpa`] why a VerticalPodAutoscaler recommends
//! what it does. Pure functions of a run's decision and event logs.

pub mod deployment;
pub mod hpa;
pub mod karpenter;
pub mod node;
pub mod pod;
pub mod vpa;

use crate::sim::SimTime;

/// A time in seconds since the start, as `HH:MM:SS`.
fn clock(seconds: f64) -> SimTime {
    SimTime::from_micros((seconds * 1e6).round() as u64)
}
