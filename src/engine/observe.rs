//! What the engine reads off the data plane at fixed instants: metrics-server's scrape, the
//! HPA controller's sync, and the recorder's time-series sample (utilization, load, LLM
//! state).

use crate::cluster::accounting::{self};
use crate::cluster::{DeploymentId, HpaId, PodId, PodPhase};
use crate::controllers::hpa::HpaDecision;
use crate::controllers::metrics_server::{CustomPoint, LlmPoint};
use crate::metrics::Observation;
use crate::metrics::recorder::{ClusterSample, DeploymentSample, LlmSample};
use crate::scenario::HpaResource;
use crate::traffic::PodServer;
use crate::traffic::llm::batching::LlmServer;

use super::{Engine, Event, Records};

/// What an LLM server exports at a scrape.
fn llm_point(server: &LlmServer) -> LlmPoint {
    LlmPoint {
        waiting: server.waiting() as u64,
        running: server.running() as u64,
        kv_usage_milli: server.kv_usage_milli(),
        output_tokens: server.counters().output_tokens,
    }
}

/// What held an HPA's result back from its metrics' proposal: the rate limit or min/max
/// (`ScalingLimited`) first, else a stabilization window.
fn held_by(d: &HpaDecision) -> Option<&'static str> {
    use crate::controllers::hpa::normalize::LimitReason;
    match d.limit_reason {
        Some(r)
            if r != LimitReason::DesiredWithinRange
                && d.desired_replicas != d.stabilized_replicas =>
        {
            Some(r.as_str())
        }
        _ => d.stabilization_reason.map(|s| s.as_str()),
    }
}

impl Engine<'_, '_> {
    /// LLM requests waiting or running in their servers (they are not in the request slab).
    pub(super) fn llm_in_flight(&self) -> usize {
        self.plane
            .servers()
            .filter_map(PodServer::llm)
            .map(|l| l.waiting() + l.running())
            .sum()
    }

    pub(super) fn on_scrape(&mut self) {
        self.sync_lanes();
        // As `sim::warm_ahead` does, by hand: the loop writes to what the warming reads.
        let mut lead = self.cluster.running.ids().skip(crate::sim::AHEAD);
        for (pod, started) in self.cluster.running.iter() {
            if let Some(ahead) = lead.next() {
                self.warm_server(ahead);
                self.metrics_server.warm(ahead);
            }
            debug_assert_eq!(self.cluster.pod(pod).phase, PodPhase::Running);
            debug_assert_eq!(self.cluster.pod(pod).started, Some(started));
            if let Some(server) = self.plane.get_mut(pod) {
                let used = server.cpu_used(self.now);
                let in_flight = server.load() as u64;
                let deployment = server.instance().deployment;
                let workload = &self.cluster.deployment(deployment).spec.workload;
                let working_set = workload.memory.map_or(0, |m| m.working_set(in_flight));
                self.metrics_server
                    .record(pod, started, self.now, used, working_set);
                if !self.scrapes_serving_metrics {
                    continue;
                }
                let point = CustomPoint {
                    time: self.now,
                    in_flight,
                    queue_length: server.queue_length() as u64,
                    completed: server.completed(),
                    llm: server.llm().map(llm_point).unwrap_or_default(),
                };
                self.metrics_server.record_custom(pod, point);
            }
        }
        self.queue.schedule(
            self.now + self.metrics_server.resolution,
            Event::MetricsScrape,
        );
    }

    pub(super) fn on_hpa_sync(&mut self) {
        for h in 0..self.cluster.hpas.len() {
            let hpa = HpaId(h as u32);
            let (decision, intent) =
                self.hpa
                    .sync(hpa, &self.cluster, &self.metrics_server, self.now);
            let at_max = decision.desired_replicas >= self.cluster.hpas[h].spec.max_replicas;
            let held_by = held_by(&decision);
            let synced = Observation::HpaSynced {
                hpa,
                from: decision.current_replicas,
                to: decision.desired_replicas,
                at_max,
                held_by,
            };
            self.recorder.observe(self.now, synced);
            match &mut self.records {
                Records::Keep => self.decisions.push(decision),
                Records::Give(sink) => sink.hpa_decision(decision),
            }
            if let Some(intent) = intent {
                self.cluster.hpas[h].last_scale_time = Some(self.now);
                self.apply(intent);
            }
        }
        if self.dirty.any() {
            self.reconcile();
        }
        self.queue.schedule(
            self.now + self.scenario.hpa_settings.sync_period,
            Event::HpaSync,
        );
    }

    pub(super) fn on_sample(&mut self) {
        self.sync_lanes();
        let deployments: Vec<DeploymentSample> = (0..self.cluster.deployments.len())
            .map(|d| {
                let id = DeploymentId(d as u32);
                let (cpu_utilization, in_flight) = self.utilization_and_load(id);
                DeploymentSample {
                    cpu_utilization,
                    in_flight,
                    llm: self.llm_sample(id),
                }
            })
            .collect();
        let cluster = ClusterSample {
            pending_pods: self.cluster.unscheduled.len(),
            gpu_fragmentation: accounting::gpu_fragmentation(
                self.cluster
                    .ready_nodes
                    .iter()
                    .map(|&n| self.cluster.node(n)),
                &self.gpu_demand,
            ),
        };
        let row = self.recorder.sample(self.now, &deployments, cluster);
        if self.export_due() {
            self.export(&row);
        }
        match &mut self.records {
            Records::Keep => self.recorder.series.rows.push(row),
            Records::Give(sink) => sink.timeseries_row(&row),
        }
        let next = self.now + self.scenario.sample_interval;
        if next <= self.end {
            self.queue.schedule(next, Event::Sample);
        }
    }

    /// The servers of the Deployment's pods that have one.
    fn servers_of(&self, deployment: DeploymentId) -> impl Iterator<Item = &PodServer> {
        let d = self.cluster.deployment(deployment);
        let live = d
            .replica_sets
            .iter()
            .flat_map(|&rs| self.cluster.pod_ids_of(rs));
        live.filter_map(|p| self.plane.get(p))
    }

    /// An LLM Deployment's servers summed (KV usage: the mean over them); `None` for others.
    fn llm_sample(&self, deployment: DeploymentId) -> Option<LlmSample> {
        self.cluster
            .deployment(deployment)
            .spec
            .workload
            .llm
            .as_ref()?;
        let mut sample = LlmSample::default();
        let mut servers = 0u32;
        for l in self.servers_of(deployment).filter_map(PodServer::llm) {
            sample.waiting += l.waiting();
            sample.running += l.running();
            sample.kv_cache_usage += l.kv_usage();
            servers += 1;
        }
        if servers > 0 {
            sample.kv_cache_usage /= f64::from(servers);
        }
        Some(sample)
    }

    /// The Deployment's mean CPU utilization (usage / request) over its active pods with a
    /// metric, as the HPA would see it (0 when there is none), and the requests on all its pods
    /// (served or queued, terminating pods included) now: one pass over its pods.
    fn utilization_and_load(&self, deployment: DeploymentId) -> (f64, usize) {
        let d = self.cluster.deployment(deployment);
        let request = (d.spec.pod)
            .hpa_request_milli(HpaResource::Cpu, None)
            .filter(|r| *r > 0);
        let load = |pod: PodId| {
            let server = self.plane.get(pod);
            server.map_or(0, PodServer::load)
        };
        let (mut usage, mut count, mut in_flight) = (0i64, 0i64, 0usize);
        let warm = |&&pod: &&PodId| {
            self.warm_server(pod);
            self.metrics_server.warm(pod);
        };
        for &rs in &d.replica_sets {
            let pods = &self.cluster.replica_sets[rs.index()].pods;
            for &pod in crate::sim::warm_ahead(pods.iter(), warm) {
                in_flight += load(pod);
                let metric = request.and_then(|_| self.metrics_server.pod_metric(pod));
                if let Some(m) = metric {
                    usage += m.value_milli;
                    count += 1;
                }
            }
            in_flight += self.cluster.terminating_of(rs).map(load).sum::<usize>();
        }
        let utilization = match request {
            Some(request) if count > 0 => usage as f64 / (count * request) as f64,
            _ => 0.0,
        };
        (utilization, in_flight)
    }
}
