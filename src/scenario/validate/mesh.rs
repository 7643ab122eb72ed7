//! `spec.mesh`: a service mesh's sidecar injected into the pods Istio's webhook would pick
//! (the rule is in [`crate::spec::mesh`]): the sidecar's container joins the pod's requests
//! (the scheduler's, the cost's, the HPA's), and the workload learns that its pods are meshed
//! and what CPU each request costs in the sidecar.

use super::Builder;
use crate::scenario::manifest::ManifestSet;
use crate::scenario::model::{ContainerRequests, DeploymentSpec};
use crate::scenario::raw::RawMesh;
use crate::sim::SimDuration;
use crate::spec::mesh::{
    ISTIO_HOP_LATENCY, ISTIO_PROXY, ISTIO_PROXY_CPU_PER_REQUEST, ISTIO_PROXY_NAME, Mesh,
    ProxyResources, istio_injects,
};
use crate::spec::pod_resources::InitStep;
use crate::spec::resources;
use crate::spec::selector::Labels;

/// Most CPU a sidecar may spend per request, and most it may add to a call.
const MAX_PROXY_CPU: SimDuration = SimDuration::from_secs(1);

impl Builder<'_> {
    /// Injects the mesh's sidecar into the workloads whose pods get it (`raw`: `spec.mesh`).
    pub(super) fn mesh(
        &mut self,
        raw: Option<&RawMesh>,
        set: &ManifestSet,
        deployments: &mut [DeploymentSpec],
    ) {
        let Some(raw) = raw else { return };
        let Some(mesh) = self.mesh_spec(raw) else {
            return;
        };
        for (i, namespace) in raw.namespaces.iter().enumerate() {
            if !deployments.iter().any(|d| &d.namespace == namespace) {
                self.error(
                    &format!("spec.mesh.namespaces[{i}]"),
                    format!("no workload runs in namespace {namespace:?}: no pod there would get the sidecar"),
                );
            }
        }
        let mut injected = 0;
        for d in deployments.iter_mut() {
            let namespace_labels = self.namespace_labels(&mesh, set, &d.namespace);
            if !istio_injects(&d.pod.labels, &namespace_labels) {
                continue;
            }
            add_sidecar(d, &mesh);
            injected += 1;
        }
        if injected == 0 {
            self.warning(
                "spec.mesh",
                "no pod gets the sidecar: label a namespace `istio-injection: enabled` (or list it in spec.mesh.namespaces) or a pod template `sidecar.istio.io/inject: \"true\"`",
            );
        }
    }

    fn mesh_spec(&mut self, raw: &RawMesh) -> Option<Mesh> {
        match raw.kind.as_deref() {
            Some("istio") => {}
            Some("linkerd") => {
                self.error("spec.mesh.kind", "linkerd is not modelled yet: istio is (Linkerd's proxy balances by peak EWMA latency and requests no resources by default)");
                return None;
            }
            Some(other) => {
                self.error(
                    "spec.mesh.kind",
                    format!("{other:?} is not a mesh kubesim models: istio"),
                );
                return None;
            }
            None => {
                self.error("spec.mesh.kind", "required: istio");
                return None;
            }
        }
        let proxy_cpu_per_request = match raw.proxy_cpu_per_request {
            None => ISTIO_PROXY_CPU_PER_REQUEST,
            Some(d) if d.0 <= MAX_PROXY_CPU => d.0,
            Some(_) => {
                self.error("spec.mesh.proxyCpuPerRequest", "must be at most 1s");
                ISTIO_PROXY_CPU_PER_REQUEST
            }
        };
        let hop_latency = match raw.hop_latency {
            None => ISTIO_HOP_LATENCY,
            Some(d) if d.0 <= MAX_PROXY_CPU => d.0,
            Some(_) => {
                self.error("spec.mesh.hopLatency", "must be at most 1s");
                ISTIO_HOP_LATENCY
            }
        };
        let proxy = match &raw.proxy {
            None => ISTIO_PROXY,
            Some(p) => self.proxy_resources(p),
        };
        Some(Mesh {
            proxy_cpu_per_request,
            hop_latency,
            proxy,
            namespaces: raw.namespaces.clone(),
        })
    }

    /// The sidecar's requests and limits as given. As Istio's resource annotations do, giving
    /// any replaces the defaults: what is not given is not set.
    fn proxy_resources(&mut self, raw: &crate::scenario::raw::RawProxy) -> ProxyResources {
        for (field, given) in [("requests", &raw.requests), ("limits", &raw.limits)] {
            for resource in given.keys() {
                if resource != resources::CPU && resource != resources::MEMORY {
                    self.error(
                        &format!("spec.mesh.proxy.{field}.{resource}"),
                        "a sidecar's requests and limits are cpu and memory",
                    );
                }
            }
        }
        let (requests, _) = self.resource_map("spec.mesh.proxy.requests", &raw.requests);
        let (limits, _) = self.resource_map("spec.mesh.proxy.limits", &raw.limits);
        ProxyResources {
            cpu_request_millis: requests.cpu_millis,
            memory_request_bytes: requests.memory_bytes,
            cpu_limit_millis: limits.cpu_millis,
        }
    }

    /// The labels of `namespace`: its Namespace object's, plus `istio-injection: enabled` when
    /// the mesh lists it.
    fn namespace_labels(&self, mesh: &Mesh, set: &ManifestSet, namespace: &str) -> Labels {
        let mut labels = set
            .namespaces
            .iter()
            .find(|n| n.object.metadata.name.as_deref() == Some(namespace))
            .and_then(|n| n.object.metadata.labels.clone())
            .unwrap_or_default();
        if mesh.namespaces.iter().any(|n| n == namespace) {
            labels.insert("istio-injection".into(), "enabled".into());
        }
        labels
    }
}

/// The sidecar joins the pod as a native sidecar (an init container that keeps running): its
/// requests add to the pod's, and the HPA sums them too.
fn add_sidecar(d: &mut DeploymentSpec, mesh: &Mesh) {
    let p = mesh.proxy;
    let pod = &mut d.pod;
    pod.requests.cpu_millis += p.cpu_request_millis;
    pod.requests.memory_bytes += p.memory_request_bytes;
    // NodeResourcesFit scores a container that requests nothing as 100m and 200Mi.
    pod.scoring_requests.cpu_millis += if p.cpu_request_millis > 0 {
        p.cpu_request_millis
    } else {
        100
    };
    pod.scoring_requests.memory_bytes += if p.memory_request_bytes > 0 {
        p.memory_request_bytes
    } else {
        200 << 20
    };
    pod.hpa_containers.push(ContainerRequests {
        name: ISTIO_PROXY_NAME.into(),
        cpu_millis: (p.cpu_request_millis > 0).then_some(p.cpu_request_millis),
        memory_bytes: (p.memory_request_bytes > 0).then_some(p.memory_request_bytes),
        cpu_limit_millis: (p.cpu_limit_millis > 0).then_some(p.cpu_limit_millis),
        ..Default::default()
    });
    // Injected as the first init container, so it runs beside every other one.
    let parts = &mut pod.request_parts;
    parts.sidecars += 1;
    let index = pod.hpa_containers.len() - 1;
    parts.inits.insert(0, InitStep::Sidecar(index));
    let w = &mut d.workload;
    w.meshed = true;
    let hops = 1.0 + w.calls.expected_calls();
    w.proxy_cpu_per_request = SimDuration::from_micros(
        (mesh.proxy_cpu_per_request.as_micros() as f64 * hops).round() as u64,
    );
    w.proxy_hop_latency = mesh.hop_latency;
}
