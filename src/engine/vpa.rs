//! The VPA recommender's loop in the engine: every `--recommender-interval` it hands each
//! VPA's recommender the metrics-server's latest point for every running pod of the target
//! (the pod's usage is its serving container's: kubesim measures a pod as one), and keeps
//! what the recommendation would have changed — the requested CPU and memory and their cost
//! at the nodes' prices — against the pods' own requests. OOM kills reach the recommender
//! from `kill_container`. A scenario without VPAs has no recommender and no event.

use crate::cluster::{DeploymentId, PodId, PodPhase, accounting};
use crate::controllers::vpa::recommender::{PodSample, Recommender, RecordedContainer};
use crate::metrics::vpa::{VpaReport, WhatIf};
use crate::scenario::{HpaResource, Scenario};
use crate::sim::SimTime;
use crate::spec::resources::Resources;

use super::{Engine, Event};

/// The recommender and what its recommendations would have changed.
pub(super) struct VpaLoop {
    pub(super) recommender: Recommender,
    /// By Deployment index: the VPA targeting it.
    vpa_of: Vec<Option<usize>>,
    /// By VPA: the allocation and cost at the pods' requests and at the recommendation.
    what_if: Vec<WhatIf>,
}

impl VpaLoop {
    /// `None` when the scenario has no VPA.
    pub(super) fn of(s: &Scenario) -> Option<VpaLoop> {
        if s.vpas.is_empty() {
            return None;
        }
        let mut vpa_of = vec![None; s.deployments.len()];
        for (i, v) in s.vpas.iter().enumerate() {
            vpa_of[v.target] = Some(i);
        }
        Some(VpaLoop {
            recommender: Recommender::new(s.vpas.len(), Default::default()),
            vpa_of,
            what_if: vec![WhatIf::default(); s.vpas.len()],
        })
    }

    /// The reports, one per VPA, at the end of the run.
    pub(super) fn reports(&self, s: &Scenario) -> Vec<VpaReport> {
        let report = |(i, spec)| {
            let requests = &s.deployments[spec_target(s, i)].pod.hpa_containers;
            VpaReport::new(
                spec,
                &s.deployments[spec_target(s, i)].name,
                requests,
                self.recommender.current(i),
                self.recommender
                    .records
                    .iter()
                    .filter(|r| r.vpa == spec.name)
                    .count(),
                self.what_if[i],
            )
        };
        s.vpas.iter().enumerate().map(report).collect()
    }
}

fn spec_target(s: &Scenario, vpa: usize) -> usize {
    s.vpas[vpa].target
}

impl Engine<'_, '_> {
    /// Starts the recommender's loop, one interval after the start as upstream's ticker.
    pub(super) fn start_vpa_loop(&mut self) {
        if let Some(v) = &self.vpa {
            let first = SimTime::ZERO + v.recommender.settings.interval;
            if first <= self.end {
                self.queue.schedule(first, Event::VpaRecommender);
            }
        }
    }

    /// One recommender loop over every VPA.
    pub(super) fn on_vpa_loop(&mut self) {
        let Some(mut v) = self.vpa.take() else { return };
        for (i, spec) in self.scenario.vpas.iter().enumerate() {
            let pods = self.running_pods(DeploymentId(spec.target as u32));
            let names: Vec<Vec<&str>> = pods.iter().map(|&p| self.container_names(p)).collect();
            let serving = self.scenario.deployments[spec.target].serving_container();
            let samples: Vec<PodSample> = (pods.iter().zip(&names))
                .map(|(&pod, names)| PodSample {
                    pod,
                    containers: names,
                    serving: serving.filter(|s| names.contains(s)).unwrap_or(names[0]),
                    usage: self.usage(pod),
                })
                .collect();
            let recommendation = v.recommender.run_once(i, spec, &samples, self.now);
            let recommendation = recommendation.unwrap_or_default().to_vec();
            let interval = v.recommender.settings.interval;
            for &pod in &pods {
                let (at_requests, at_recommendation) = self.priced(pod, &recommendation);
                v.what_if[i].add(at_requests, at_recommendation, interval);
            }
        }
        let next = self.now + v.recommender.settings.interval;
        if next <= self.end {
            self.queue.schedule(next, Event::VpaRecommender);
        }
        self.vpa = Some(v);
    }

    /// An OOM kill of `pod`'s serving container, for its VPA's next loop.
    pub(super) fn vpa_oom(&mut self, pod: PodId) {
        let Some(v) = &mut self.vpa else { return };
        let p = self.cluster.pod(pod);
        let Some(i) = v.vpa_of[p.deployment.index()] else {
            return;
        };
        let spec = &self.scenario.deployments[p.deployment.index()];
        let containers = &p.template.hpa_containers;
        let serving = spec.serving_container().unwrap_or_default();
        let container = (containers.iter().find(|c| c.name == serving))
            .or(containers.first())
            .map(|c| (c.name.as_str(), c.memory_bytes.unwrap_or(0)));
        if let Some((name, requested)) = container {
            v.recommender.oom_killed(i, pod, name, requested, self.now);
        }
    }

    /// The Deployment's pods that are Running (the recommender does not see Pending ones).
    fn running_pods(&self, deployment: DeploymentId) -> Vec<PodId> {
        let d = self.cluster.deployment(deployment);
        let pods = (d.replica_sets.iter()).flat_map(|&rs| self.cluster.pod_ids_of(rs));
        pods.filter(|&p| self.cluster.pod(p).phase == PodPhase::Running)
            .collect()
    }

    fn container_names(&self, pod: PodId) -> Vec<&str> {
        let containers = &self.cluster.pod(pod).template.hpa_containers;
        containers.iter().map(|c| c.name.as_str()).collect()
    }

    /// metrics-server's CPU rate (cores) and working set (bytes) for `pod`, at its scrape.
    fn usage(&self, pod: PodId) -> Option<(f64, i64, SimTime)> {
        let cpu = self.metrics_server.resource_metric(pod, HpaResource::Cpu)?;
        let memory = self
            .metrics_server
            .resource_metric(pod, HpaResource::Memory)?;
        let cores = cpu.value_milli as f64 / 1000.0;
        Some((cores, memory.value_milli / 1000, cpu.timestamp))
    }

    /// The pod's requests and those the recommendation would give it (each recommended
    /// container's request replaced by its target), with their share of the node's price
    /// per hour.
    fn priced(
        &self,
        pod: PodId,
        recommendation: &[RecordedContainer],
    ) -> ((Resources, f64), (Resources, f64)) {
        let p = self.cluster.pod(pod);
        let current = p.template.requests.clone();
        let mut recommended = current.clone();
        for c in &p.template.hpa_containers {
            let Some(r) = recommendation
                .iter()
                .find(|r| r.recommendation.container == c.name)
            else {
                continue;
            };
            if let Some(cpu) = r.recommendation.target.cpu_millis {
                recommended.cpu_millis += cpu - c.cpu_millis.unwrap_or(0);
            }
            if let Some(memory) = r.recommendation.target.memory_bytes {
                recommended.memory_bytes += memory - c.memory_bytes.unwrap_or(0);
            }
        }
        let price = |requests: &Resources| match p.node.map(|n| self.cluster.node(n)) {
            Some(node) => {
                let pool = &self.cluster.pools[node.pool.index()].spec;
                pool.billed_price_per_hour() * accounting::cost_share(requests, &node.allocatable)
            }
            None => 0.0,
        };
        let (now_price, then_price) = (price(&current), price(&recommended));
        ((current, now_price), (recommended, then_price))
    }
}
