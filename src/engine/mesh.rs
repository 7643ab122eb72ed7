//! Requests through the mesh's sidecars (`spec.mesh`): to a Service whose pods carry the
//! sidecar, from a pod that carries it too or from outside (through the mesh's ingress
//! gateway), the client's proxy balances every request on its own, as Envoy's
//! `LEAST_REQUEST` does — two endpoints drawn at random (with replacement, from the stream
//! `mesh/<service>`), the one with fewer requests in flight, the first on a tie — whatever
//! connections the application keeps (they end at its own sidecar). The requests in flight
//! are the pod's, not only those of this client's proxy (Envoy counts its own): with many
//! clients kubesim's proxies know more than Envoy's.
//!
//! The sidecar's CPU is part of each request's work at the pod it runs in (see
//! [`crate::spec::model::WorkloadModel::proxy_cpu_per_request`]).

use rand::RngExt;

use super::{Engine, Event};
use crate::cluster::{PodId, ServiceId};
use crate::scenario::Scenario;
use crate::sim::SimRng;
use crate::sim::rng::RngStreams;
use crate::traffic::calls::CallRef;

/// The mesh's balancing stream of each Service whose pods all carry the sidecar.
pub(super) fn mesh_streams(s: &Scenario, streams: &RngStreams) -> Vec<Option<SimRng>> {
    s.services
        .iter()
        .map(|x| {
            let meshed = !x.backends.is_empty()
                && x.backends.iter().all(|&d| s.deployments[d].workload.meshed);
            meshed.then(|| streams.stream(&format!("mesh/{}", x.name)))
        })
        .collect()
}

impl Engine<'_, '_> {
    /// Whether the mesh balances a request from `caller` to `service`: the Service's pods carry
    /// the sidecar and so does the caller (or the request comes from outside).
    #[inline]
    pub(super) fn mesh_balances(&self, service: ServiceId, caller: CallRef) -> bool {
        if self.mesh_rngs[service.index()].is_none() {
            return false;
        }
        if caller.is_none() {
            return true;
        }
        self.frames.get(caller).is_some_and(|f| {
            self.scenario.deployments[f.deployment.index()]
                .workload
                .meshed
        })
    }

    /// Envoy's least-request pick over the Service's ready endpoints (`None`: there is none).
    pub(super) fn mesh_endpoint(&mut self, service: ServiceId) -> Option<PodId> {
        let endpoints = &self.cluster.services[service.index()].endpoints;
        if endpoints.is_empty() {
            return None;
        }
        let rng = self.mesh_rngs[service.index()]
            .as_mut()
            .expect("a Service the mesh balances");
        let first = endpoints[rng.random_range(0..endpoints.len())];
        let second = endpoints[rng.random_range(0..endpoints.len())];
        let load = |p: PodId| {
            self.plane
                .get(p)
                .map_or(usize::MAX, crate::traffic::PodServer::load)
        };
        Some(if load(second) < load(first) {
            second
        } else {
            first
        })
    }

    /// Sends try `attempt` of a call to `service`, after the two sidecars' latency when the
    /// mesh balances it.
    pub(super) fn send_through_sidecars(&mut self, service: ServiceId, attempt: CallRef) {
        let latency = self
            .frames
            .get(attempt)
            .map(|f| {
                self.scenario.deployments[f.deployment.index()]
                    .workload
                    .proxy_hop_latency
            })
            .unwrap_or_default();
        if latency.is_zero() || !self.mesh_balances(service, attempt) {
            return self.send_request(service, attempt);
        }
        let (frame, token) = (attempt.frame, attempt.token);
        self.queue
            .schedule(self.now + latency, Event::MeshDelivery { frame, token });
    }

    /// A call delayed by the sidecars arrives (unless its caller gave up meanwhile).
    pub(super) fn on_mesh_delivery(&mut self, frame: u32, token: u32) {
        let attempt = CallRef { frame, token };
        let Some(service) = self.call_in_flight(attempt) else {
            return;
        };
        self.send_request(service, attempt);
    }
}
