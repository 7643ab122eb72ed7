//! The kubelet's side of a running pod: its container starting (and warming up), the probe
//! workers on their periods, kills by a failed liveness or startup probe, by the memory limit
//! (OOMKilled) or by a random crash, and restarts after the CrashLoopBackOff delay.
//!
//! Each container start gets a new generation; probe, restart and crash events carry the
//! generation they were scheduled for and are dropped once it has moved on.

use super::{Engine, Event};
use crate::cluster::PodId;
use crate::controllers::PodEventReason;
use crate::controllers::kubelet::record::{MAX_RESTART_RECORDS, RestartCause, RestartRecord};
use crate::controllers::kubelet::{self, ProbeKind, ProbeWorker, RestartBackoff};
use crate::metrics::Observation;
use crate::sim::dist::DurationDist;
use crate::sim::{SimDuration, SimTime};
use crate::traffic::{FailureReason, Instance, PodServer};

/// What the kubelet tracks about a pod's container.
#[derive(Clone, Copy, Debug)]
pub(super) struct Container {
    generation: u32,
    workers: [ProbeWorker; 3],
    startup_done: bool,
    backoff: RestartBackoff,
    /// When the container last started.
    started_at: SimTime,
}

impl Container {
    /// Bumped at every container start: events of an earlier start are stale.
    pub(super) fn generation(&self) -> u32 {
        self.generation
    }
}

impl Default for Container {
    fn default() -> Self {
        Container {
            generation: 0,
            workers: ProbeKind::ALL.map(ProbeWorker::new),
            startup_done: false,
            backoff: RestartBackoff::default(),
            started_at: SimTime::ZERO,
        }
    }
}

/// How a container comes to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Start {
    /// The pod's first start after binding.
    First,
    /// Already running and warm at t = 0 (`startWarm`): its probes have passed.
    Warm,
    /// Restarted after a kill, once its backoff is over.
    Restart,
    /// Its machine came back: Ready stays as the node lifecycle controller leaves it, unless
    /// probes decide it.
    Reboot,
}

/// Why a container was killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kill {
    Probe(ProbeKind),
    OutOfMemory,
    Crash,
    /// An in-place resize of a resource whose `resizePolicy` is `RestartContainer`: the
    /// kubelet stops the container and starts it again in the same sync, with no backoff.
    Resize,
}

impl Engine<'_, '_> {
    /// How many times the pod's container has started (0: never): events for an earlier start
    /// carry an older number.
    pub(super) fn container_generation(&self, pod: PodId) -> u32 {
        self.containers.get(pod.index()).map_or(0, |c| c.generation)
    }

    /// Starts (or restarts) the pod's container.
    pub(super) fn start_container(&mut self, pod: PodId, how: Start) {
        let (cap, bandwidth, place) = self.join_node_cpu(pod);
        let p = self.cluster.pod(pod);
        let dep = p.deployment;
        let probes = p.template.probes;
        let gated = probes.readiness.is_some() || probes.startup.is_some();
        let workload = &self.cluster.deployment(dep).spec.workload;
        let warmup = if how == Start::Warm {
            SimDuration::ZERO
        } else {
            workload.warmup.sample(&mut self.startup_rngs[dep.index()])
        };
        // The app answers (requests and probes) from then on.
        let instance = Instance {
            deployment: dep,
            listening_from: self.now + warmup,
        };
        let mut server = PodServer::new(instance, cap, bandwidth, workload, self.now);
        server.set_cpu_place(place);
        if self.cluster.pod(pod).deletion.is_some() {
            server.mark_deleting();
        }
        let crash_mtbf = workload.crash_mtbf;
        if self.containers.len() <= pod.index() {
            self.containers
                .resize_with(pod.index() + 1, Container::default);
        }
        self.plane.insert(pod, server);
        let node = self.cluster.pod(pod).node.expect("a started pod is bound");
        self.track_node_demand(node);
        let c = &mut self.containers[pod.index()];
        c.generation += 1;
        c.started_at = self.now;
        c.workers = ProbeKind::ALL.map(ProbeWorker::new);
        c.startup_done = probes.startup.is_none();
        let generation = c.generation;
        if self.cluster.deployment(dep).is_job() && how != Start::Reboot {
            self.start_job_run(pod, generation);
        }
        match how {
            Start::First | Start::Warm => {
                self.cluster
                    .start(pod, self.now, how == Start::Warm || !gated);
                self.pod_event(pod, PodEventReason::Started, "Started container".into());
            }
            Start::Restart => {
                self.cluster.container_restarted(pod, !gated, self.now);
                self.pod_event(pod, PodEventReason::Started, "Started container".into());
            }
            Start::Reboot if gated => self.cluster.set_ready(pod, false, self.now),
            Start::Reboot => {}
        }
        if how == Start::Warm {
            let c = &mut self.containers[pod.index()];
            c.startup_done = true;
            c.workers[ProbeKind::Readiness as usize].result = Some(true);
        }
        self.observe_ready(dep);
        for kind in ProbeKind::ALL {
            if let Some(spec) = probe_spec(probes, kind) {
                // A warm pod's workers are already on their periods.
                let first = if how == Start::Warm {
                    spec.period
                } else {
                    spec.initial_delay
                };
                let at = self.now + first;
                self.queue.schedule(
                    at,
                    Event::Probe {
                        pod,
                        kind,
                        generation,
                    },
                );
            }
        }
        if let Some(mtbf) = crash_mtbf {
            let after = DurationDist::exponential(mtbf).sample(&mut self.crash_rngs[dep.index()]);
            let at = self.now + after;
            self.queue
                .schedule(at, Event::ContainerCrash { pod, generation });
        }
    }

    /// Whether an event scheduled for `generation` still concerns a running container.
    fn is_current(&self, pod: PodId, generation: u32) -> bool {
        let p = self.cluster.pod(pod);
        p.deletion.is_none()
            && self
                .containers
                .get(pod.index())
                .is_some_and(|c| c.generation == generation)
            && self.plane.get(pod).is_some()
    }

    /// One probe of a worker; the next is scheduled a period later.
    pub(super) fn on_probe(&mut self, pod: PodId, kind: ProbeKind, generation: u32) {
        if !self.is_current(pod, generation) {
            return;
        }
        let p = self.cluster.pod(pod);
        let probes = p.template.probes;
        let spec = probe_spec(probes, kind).expect("probes are scheduled for probes that exist");
        let c = self.containers[pod.index()];
        if kind == ProbeKind::Startup && c.startup_done {
            return; // the startup probe is done for this container
        }
        self.queue.schedule(
            self.now + spec.period,
            Event::Probe {
                pod,
                kind,
                generation,
            },
        );
        if kind != ProbeKind::Startup && !c.startup_done {
            return; // liveness and readiness wait for the startup probe
        }
        let dep = p.deployment;
        // Only a probe that fails under load reads the server's changing state.
        let reads_load = (self.cluster.deployment(dep).spec.workload)
            .probe_fails_above_in_flight
            .is_some();
        if reads_load {
            self.touch(pod);
        }
        let server = (self.plane.get(pod)).expect("a current container has its server");
        let (listening_from, load) = (server.instance().listening_from, server.load());
        let workload = &self.cluster.deployment(dep).spec.workload;
        let ok = kubelet::probe_succeeds(workload, listening_from, load, self.now);
        if !ok {
            let message = format!("{} probe failed", kind.name());
            self.pod_event(pod, PodEventReason::Unhealthy, message);
        }
        let changed = self.containers[pod.index()].workers[kind as usize].observe(&spec, ok);
        match (kind, changed) {
            (ProbeKind::Startup, Some(true)) => {
                self.containers[pod.index()].startup_done = true;
                if probes.readiness.is_none() {
                    self.set_pod_ready(pod, true);
                }
            }
            (ProbeKind::Readiness, Some(ready)) => self.set_pod_ready(pod, ready),
            (ProbeKind::Startup | ProbeKind::Liveness, Some(false)) => {
                self.kill_container(pod, Kill::Probe(kind))
            }
            _ => {}
        }
    }

    fn set_pod_ready(&mut self, pod: PodId, ready: bool) {
        // A pod on an unreachable node stays not Ready whatever its probes say.
        let unreachable = self
            .cluster
            .pod(pod)
            .node
            .is_some_and(|n| self.cluster.node(n).unreachable);
        self.cluster.set_ready(pod, ready && !unreachable, self.now);
        self.observe_ready(self.cluster.pod(pod).deployment);
    }

    /// A random crash (`crashMTBF`).
    pub(super) fn on_container_crash(&mut self, pod: PodId, generation: u32) {
        if self.is_current(pod, generation) {
            self.kill_container(pod, Kill::Crash);
        }
    }

    /// Kills the container: requests in flight are reset, the pod is not Ready, and the
    /// container starts again after its backoff.
    pub(super) fn kill_container(&mut self, pod: PodId, why: Kill) {
        self.touch(pod);
        let cause = self.restart_cause(pod, why);
        if let Some(mut server) = self.take_server(pod) {
            let slab = &mut self.plane.core(pod).slab;
            server.fail_all(FailureReason::PodTerminated, slab, &mut self.outcomes);
        }
        self.flush_outcomes();
        self.metrics_server.forget(pod);
        let (reason, message) = match why {
            Kill::Probe(kind) => (
                PodEventReason::Killing,
                format!(
                    "Container failed {} probe, will be restarted",
                    kind.name().to_lowercase()
                ),
            ),
            Kill::OutOfMemory => (
                PodEventReason::OOMKilled,
                "Container exceeded its memory limit (exit code 137)".to_string(),
            ),
            Kill::Crash => (
                PodEventReason::BackOff,
                "Container crashed (exit code 1)".to_string(),
            ),
            Kill::Resize => (
                PodEventReason::Killing,
                "Container resize requires a restart (resizePolicy RestartContainer)".to_string(),
            ),
        };
        self.pod_event(pod, reason, message);
        let run = self
            .now
            .saturating_since(self.containers[pod.index()].started_at);
        self.vpa_container_killed(pod, why == Kill::OutOfMemory, run);
        self.set_pod_ready(pod, false);
        self.cluster.container_killed(pod);
        let c = &mut self.containers[pod.index()];
        c.generation += 1;
        let generation = c.generation;
        let started = c.started_at;
        let backoff = (why != Kill::Resize).then(|| c.backoff.step(self.now));
        let delay = backoff.map_or(SimDuration::ZERO, |step| step.delay);
        if backoff.is_some() {
            let message = format!("Back-off {delay} restarting failed container");
            self.pod_event(pod, PodEventReason::BackOff, message);
        }
        if self.restart_records.len() < MAX_RESTART_RECORDS {
            let p = self.cluster.pod(pod);
            self.restart_records.push(RestartRecord {
                at: self.now,
                pod: p.name.clone(),
                restarts: p.restarts,
                started,
                cause,
                backoff,
            });
        }
        let deployment = self.cluster.pod(pod).deployment;
        self.recorder.observe(
            self.now,
            Observation::ContainerRestarted {
                deployment,
                oom: why == Kill::OutOfMemory,
            },
        );
        self.queue.schedule(
            self.now + delay,
            Event::ContainerRestart { pod, generation },
        );
        self.dirty.workload(deployment);
    }

    /// Why `why` killed the pod's container, with the numbers it read (before the kill takes
    /// its server away).
    fn restart_cause(&self, pod: PodId, why: Kill) -> RestartCause {
        let p = self.cluster.pod(pod);
        let workload = &self.cluster.deployment(p.deployment).spec.workload;
        let server = self.plane.get(pod); // touched by the caller
        let in_flight = server.map_or(0, PodServer::load);
        match why {
            Kill::Probe(kind) => RestartCause::Probe {
                kind,
                spec: probe_spec(p.template.probes, kind).expect("a probe that exists failed"),
                answers_from: server.map_or(self.now, |s| s.instance().listening_from),
                overload: (workload.probe_fails_above_in_flight)
                    .filter(|&limit| in_flight > limit as usize)
                    .map(|limit| (in_flight, limit)),
            },
            Kill::OutOfMemory => RestartCause::OutOfMemory {
                working_set: (workload.memory).map_or(0, |m| m.working_set(in_flight as u64)),
                limit: p.template.memory_limit_bytes.unwrap_or(0),
                in_flight,
            },
            Kill::Crash => RestartCause::Crash {
                mtbf: workload.crash_mtbf,
            },
            Kill::Resize => RestartCause::Resize,
        }
    }

    /// The backoff is over: the container starts again.
    pub(super) fn on_container_restart(&mut self, pod: PodId, generation: u32) {
        let p = self.cluster.pod(pod);
        let waiting = self
            .containers
            .get(pod.index())
            .is_some_and(|c| c.generation == generation);
        if p.deletion.is_some() || !waiting || self.on_failed_node(pod) {
            return;
        }
        self.start_container(pod, Start::Restart);
    }

    /// The memory limit is checked whenever a request adds to the working set.
    pub(super) fn check_memory_limit(&mut self, pod: PodId) {
        let p = self.cluster.pod(pod);
        let Some(limit) = p.template.memory_limit_bytes else {
            return;
        };
        let Some(model) = self.cluster.deployment(p.deployment).spec.workload.memory else {
            return;
        };
        let load = self.server_now(pod).map_or(0, |s| s.load());
        if model.working_set(load as u64) > limit {
            self.kill_container(pod, Kill::OutOfMemory);
        }
    }
}

fn probe_spec(
    probes: crate::scenario::PodProbes,
    kind: ProbeKind,
) -> Option<crate::scenario::ProbeSpec> {
    match kind {
        ProbeKind::Startup => probes.startup,
        ProbeKind::Readiness => probes.readiness,
        ProbeKind::Liveness => probes.liveness,
    }
}
