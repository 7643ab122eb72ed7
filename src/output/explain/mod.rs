//! `kubesim explain` renderings: [`hpa`] tells why an HPA chose its replicas, [`deployment`] why
//! the Deployment controller scaled a ReplicaSet, [`job`] how a Job ran and what a CronJob
//! started, skipped or missed, [`pod`] why a pod
//! was Pending, [`restarts`] why its container restarted, [`lifecycle`] what happened to a node and what the node lifecycle controller
//! did about it, [`node`] why the Cluster Autoscaler kept or removed a node, [`karpenter`] why
//! Karpenter launched, kept or disrupted one, [`vpa`] why a VerticalPodAutoscaler recommends
//! what it does, [`statefulset`] how a StatefulSet created, deleted and replaced its pods in
//! order; [`cluster`] tells all of it as one story in time order (`--all`). Pure functions of
//! a run's decision and event logs.

pub mod cluster;
pub mod deployment;
pub mod hpa;
pub mod job;
pub mod karpenter;
pub mod lifecycle;
pub mod node;
pub mod pod;
pub mod restarts;
pub mod statefulset;
pub mod vpa;

use crate::sim::SimTime;

/// A time in seconds since the start, as `HH:MM:SS`.
fn clock(seconds: f64) -> SimTime {
    SimTime::from_micros((seconds * 1e6).round() as u64)
}

/// A pod event for the renderings' tests: `count` occurrences 10 s apart from `t`.
#[cfg(test)]
fn test_pod_event(
    t: f64,
    pod: &str,
    reason: crate::metrics::pod_events::PodEventReason,
    message: &str,
    count: u32,
) -> crate::metrics::pod_events::PodEvent {
    crate::metrics::pod_events::PodEvent {
        t_seconds: t,
        pod: pod.into(),
        owner: "web".into(),
        event_type: reason.event_type(),
        reason,
        message: message.into(),
        count,
        last_seconds: t + 10.0 * f64::from(count - 1),
    }
}
