//! A pod's per-container cpu and memory requests and limits, and how its effective request
//! (`resourcehelper.PodRequests`) is made from them: what a resize changes. The Vertical Pod
//! Autoscaler's admission controller and in-place resizes rewrite containers' requests and
//! limits; [`PodTemplate::resized`] recomputes everything the scheduler, the kubelet, the HPA
//! and the cost accounting read from them, exactly as the manifest reader computed it.

use super::model::HpaResource;
use super::model::PodTemplate;

/// One container's cpu and memory requests as the HPA reads them (`None`: no request), and its
/// limits.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ContainerRequests {
    /// The container's name.
    pub name: String,
    /// Its cpu request in millicores.
    pub cpu_millis: Option<i64>,
    /// Its memory request in bytes.
    pub memory_bytes: Option<i64>,
    /// Its cpu limit in millicores (what its CFS quota is made of).
    pub cpu_limit_millis: Option<i64>,
    /// Its memory limit in bytes.
    pub memory_limit_bytes: Option<i64>,
    /// `resizePolicy` says `RestartContainer` for cpu: an in-place change of its cpu restarts it.
    pub cpu_resize_restarts: bool,
    /// `resizePolicy` says `RestartContainer` for memory.
    pub memory_resize_restarts: bool,
}

/// Printed without the limits, which came later: a pod template is identified by its printed
/// form (its `pod-template-hash`, and so its pods' names), and templates printed alike before
/// must stay alike. The pod's own `cpu_limit_millis` and `memory_limit_bytes` (printed with the
/// template) tell limits apart.
impl std::fmt::Debug for ContainerRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerRequests")
            .field("name", &self.name)
            .field("cpu_millis", &self.cpu_millis)
            .field("memory_bytes", &self.memory_bytes)
            .finish()
    }
}

impl ContainerRequests {
    /// Whether resizing this container to `to` restarts it: a resource whose request or limit
    /// changes has `resizePolicy: RestartContainer`.
    pub fn resize_restarts(&self, to: &ContainerRequests) -> bool {
        let cpu = self.cpu_millis != to.cpu_millis || self.cpu_limit_millis != to.cpu_limit_millis;
        let memory = self.memory_bytes != to.memory_bytes
            || self.memory_limit_bytes != to.memory_limit_bytes;
        (cpu && self.cpu_resize_restarts) || (memory && self.memory_resize_restarts)
    }

    /// The request for `resource` in milli-units (millicores; bytes × 1000).
    pub fn request_milli(&self, resource: HpaResource) -> Option<i64> {
        match resource {
            HpaResource::Cpu => self.cpu_millis,
            HpaResource::Memory => self.memory_bytes.map(|b| b.saturating_mul(1000)),
        }
    }

    /// Its cpu and memory requests, 0 for none (what `PodRequests` adds).
    fn requested(&self) -> CpuMemoryAmount {
        CpuMemoryAmount {
            cpu_millis: self.cpu_millis.unwrap_or(0),
            memory_bytes: self.memory_bytes.unwrap_or(0),
        }
    }

    /// Its requests with NodeResourcesFit's non-zero defaults (100m, 200Mi) where it has none.
    fn scored(&self) -> CpuMemoryAmount {
        CpuMemoryAmount {
            cpu_millis: self.cpu_millis.unwrap_or(NON_ZERO_CPU_MILLIS),
            memory_bytes: self.memory_bytes.unwrap_or(NON_ZERO_MEMORY_BYTES),
        }
    }
}

/// NodeResourcesFit's score-time request for a container that requests no cpu.
pub const NON_ZERO_CPU_MILLIS: i64 = 100;
/// NodeResourcesFit's score-time request for a container that requests no memory (200Mi).
pub const NON_ZERO_MEMORY_BYTES: i64 = 200 << 20;

/// What a pod's effective cpu and memory requests are made of besides its app containers and
/// sidecars (which are [`PodTemplate::hpa_containers`]): the plain init containers, in order
/// with the sidecars, and the pod overhead.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestParts {
    /// How many of the last `hpa_containers` are sidecars (restartable init containers); the
    /// others are app containers.
    pub sidecars: usize,
    /// The init containers in start order.
    pub inits: Vec<InitStep>,
    /// `spec.overhead`'s cpu (millicores) and memory (bytes).
    pub overhead: CpuMemoryAmount,
}

/// One init container of a pod, as `PodRequests` walks them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InitStep {
    /// A sidecar: its index in `hpa_containers`.
    Sidecar(usize),
    /// An init container that runs to completion before the next starts, with its requests.
    Plain(ContainerRequests),
}

/// A cpu and memory amount.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuMemoryAmount {
    /// Millicores.
    pub cpu_millis: i64,
    /// Bytes.
    pub memory_bytes: i64,
}

impl CpuMemoryAmount {
    fn add(self, o: CpuMemoryAmount) -> CpuMemoryAmount {
        CpuMemoryAmount {
            cpu_millis: self.cpu_millis.saturating_add(o.cpu_millis),
            memory_bytes: self.memory_bytes.saturating_add(o.memory_bytes),
        }
    }

    fn max(self, o: CpuMemoryAmount) -> CpuMemoryAmount {
        CpuMemoryAmount {
            cpu_millis: self.cpu_millis.max(o.cpu_millis),
            memory_bytes: self.memory_bytes.max(o.memory_bytes),
        }
    }
}

impl RequestParts {
    /// `PodRequests` for cpu and memory: max(Σ app + Σ sidecars, each init container plus the
    /// sidecars started before it), plus overhead; `each` is a container's contribution.
    pub fn pod_total(
        &self,
        containers: &[ContainerRequests],
        each: impl Fn(&ContainerRequests) -> CpuMemoryAmount,
    ) -> CpuMemoryAmount {
        let total = containers
            .iter()
            .fold(CpuMemoryAmount::default(), |t, c| t.add(each(c)));
        let mut sidecars_so_far = CpuMemoryAmount::default();
        let mut init_peak = CpuMemoryAmount::default();
        for step in &self.inits {
            match step {
                InitStep::Sidecar(i) => {
                    let r = containers.get(*i).map(&each).unwrap_or_default();
                    sidecars_so_far = sidecars_so_far.add(r);
                    init_peak = init_peak.max(sidecars_so_far);
                }
                InitStep::Plain(c) => init_peak = init_peak.max(each(c).add(sidecars_so_far)),
            }
        }
        total.max(init_peak).add(self.overhead)
    }
}

impl PodTemplate {
    /// The pod with its containers' requests and limits replaced by `containers` (the same
    /// containers, in the same order): the effective and scoring requests and the pod's limits
    /// recomputed from them; extended resources and everything else kept.
    pub fn resized(&self, containers: Vec<ContainerRequests>) -> PodTemplate {
        debug_assert_eq!(containers.len(), self.hpa_containers.len());
        let parts = &self.request_parts;
        let requests = parts.pod_total(&containers, ContainerRequests::requested);
        let scoring = parts.pod_total(&containers, ContainerRequests::scored);
        let app = &containers[..containers.len().saturating_sub(parts.sidecars)];
        let sum_if_all = |limit: fn(&ContainerRequests) -> Option<i64>| {
            let limits: Option<Vec<i64>> = app.iter().map(limit).collect();
            let limits = limits.filter(|l| !l.is_empty())?;
            Some(limits.iter().fold(0i64, |t, &l| t.saturating_add(l)))
        };
        let mut pod = self.clone();
        pod.requests.cpu_millis = requests.cpu_millis;
        pod.requests.memory_bytes = requests.memory_bytes;
        pod.scoring_requests.cpu_millis = scoring.cpu_millis;
        pod.scoring_requests.memory_bytes = scoring.memory_bytes;
        pod.cpu_limit_millis = sum_if_all(|c| c.cpu_limit_millis);
        pod.memory_limit_bytes = sum_if_all(|c| c.memory_limit_bytes);
        pod.hpa_containers = containers;
        pod
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(name: &str, cpu: Option<i64>, memory: Option<i64>) -> ContainerRequests {
        ContainerRequests {
            name: name.into(),
            cpu_millis: cpu,
            memory_bytes: memory,
            ..Default::default()
        }
    }

    #[test]
    fn pod_total_takes_the_larger_of_the_containers_and_the_init_peak_plus_overhead() {
        // app 200m/100 + sidecar 50m/10 = 250m/110; init steps: sidecar (50m/10), then a plain
        // init of 400m/20 with the sidecar running: 450m/30. max → 450m/110, + overhead 10m/5.
        let containers = vec![
            container("app", Some(200), Some(100)),
            container("proxy", Some(50), Some(10)),
        ];
        let parts = RequestParts {
            sidecars: 1,
            inits: vec![
                InitStep::Sidecar(1),
                InitStep::Plain(container("init", Some(400), Some(20))),
            ],
            overhead: CpuMemoryAmount {
                cpu_millis: 10,
                memory_bytes: 5,
            },
        };
        let total = parts.pod_total(&containers, ContainerRequests::requested);
        assert_eq!(
            total,
            CpuMemoryAmount {
                cpu_millis: 460,
                memory_bytes: 115
            }
        );
        // Scoring: a container without a request counts 100m / 200Mi.
        let bare = vec![container("app", None, None)];
        let scored = RequestParts::default().pod_total(&bare, ContainerRequests::scored);
        assert_eq!(scored.cpu_millis, 100);
        assert_eq!(scored.memory_bytes, 200 << 20);
    }

    #[test]
    fn resized_recomputes_requests_scores_and_limits_and_keeps_extended_resources() {
        let mut pod = PodTemplate {
            hpa_containers: vec![ContainerRequests {
                cpu_limit_millis: Some(2000),
                memory_limit_bytes: Some(4 << 30),
                ..container("app", Some(1000), Some(2 << 30))
            }],
            ..Default::default()
        };
        pod.requests.cpu_millis = 1000;
        pod.requests.memory_bytes = 2 << 30;
        pod.requests.gpus = 1;
        pod.cpu_limit_millis = Some(2000);
        pod.memory_limit_bytes = Some(4 << 30);
        let smaller = vec![ContainerRequests {
            cpu_limit_millis: Some(500),
            memory_limit_bytes: None,
            ..container("app", Some(250), Some(1 << 30))
        }];
        let r = pod.resized(smaller);
        assert_eq!(
            (r.requests.cpu_millis, r.requests.memory_bytes),
            (250, 1 << 30)
        );
        assert_eq!(r.requests.gpus, 1);
        assert_eq!(r.scoring_requests.cpu_millis, 250);
        assert_eq!(r.cpu_limit_millis, Some(500));
        // One app container without a memory limit: the pod has none.
        assert_eq!(r.memory_limit_bytes, None);
    }
}
