//! The VPA in the engine. The recommender's loop: every `--recommender-interval` it hands each
//! VPA's recommender the metrics-server's latest point for every running pod of the target
//! (the pod's usage is its serving container's: kubesim measures a pod as one), and keeps
//! what the recommendation would have changed — the requested CPU and memory and their cost
//! at the nodes' prices — against the pods' own requests. OOM kills reach the recommender
//! from `kill_container`. The admission controller and the updater are in [`updater`], the
//! in-place resizes in [`in_place`]. A
//! scenario without VPAs has no recommender and no event.

mod in_place;
mod updater;

use std::collections::BTreeMap;

use crate::cluster::{DeploymentId, PodId, PodPhase, accounting};
use crate::controllers::vpa::admission;
use crate::controllers::vpa::recommender::{PodSample, Recommender, RecordedContainer};
use crate::controllers::vpa::updater::UpdaterSettings;
use crate::metrics::vpa::{VpaActions, VpaReport, WhatIf};
use crate::scenario::{HpaResource, Scenario};
use crate::sim::{SimDuration, SimTime};
use crate::spec::resources::Resources;
use crate::spec::vpa::VpaSpec;

use super::{Engine, Event};

/// The recommender, the updater, and what the recommendations changed or would have.
pub(super) struct VpaLoop {
    pub(super) recommender: Recommender,
    updater: UpdaterSettings,
    /// By Deployment index: the VPA targeting it.
    vpa_of: Vec<Option<usize>>,
    /// By VPA: the allocation and cost at the pods' requests and at the recommendation.
    what_if: Vec<WhatIf>,
    /// By VPA: the template its last admitted pod got, and what it was made from.
    admitted: Vec<Option<updater::Admitted>>,
    /// By VPA: pods created with the recommendation, and pods evicted for it.
    actions: Vec<VpaActions>,
    /// How long a pod's container ran before its last termination, when an OOM kill ended it
    /// (what the updater's quick-OOM rule reads).
    last_oom_run: BTreeMap<PodId, SimDuration>,
    /// In-place resizes the kubelet has deferred or found infeasible, by pod.
    resizes: BTreeMap<PodId, in_place::PendingResize>,
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
            updater: UpdaterSettings::default(),
            vpa_of,
            what_if: vec![WhatIf::default(); s.vpas.len()],
            admitted: vec![None; s.vpas.len()],
            actions: vec![VpaActions::default(); s.vpas.len()],
            last_oom_run: BTreeMap::new(),
            resizes: BTreeMap::new(),
        })
    }

    /// The reports, one per VPA, at the end of the run.
    pub(super) fn reports(&self, s: &Scenario) -> Vec<VpaReport> {
        let report = |(i, spec): (usize, &VpaSpec)| {
            let target = &s.deployments[spec.target];
            VpaReport::new(
                spec,
                &target.name,
                &target.pod.hpa_containers,
                self.recommender.current(i),
                self.recommender
                    .records
                    .iter()
                    .filter(|r| r.vpa == spec.name)
                    .count(),
                self.what_if[i],
                self.actions[i],
            )
        };
        s.vpas.iter().enumerate().map(report).collect()
    }
}

impl Engine<'_, '_> {
    /// Starts the recommender's loop, and the updater's when a VPA evicts, each one interval
    /// after the start as upstream's tickers.
    pub(super) fn start_vpa_loop(&mut self) {
        if let Some(v) = &self.vpa {
            let first = SimTime::ZERO + v.recommender.settings.interval;
            if first <= self.end {
                self.queue.schedule(first, Event::VpaRecommender);
            }
            let first = SimTime::ZERO + v.updater.interval;
            let evicts = self.scenario.vpas.iter().any(|s| s.mode.evicts());
            if evicts && first <= self.end {
                self.queue.schedule(first, Event::VpaUpdater);
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
                let (at_requests, at_recommendation) = self.priced(i, pod, &recommendation);
                v.what_if[i].add(at_requests, at_recommendation, interval);
            }
        }
        let next = self.now + v.recommender.settings.interval;
        if next <= self.end {
            self.queue.schedule(next, Event::VpaRecommender);
        }
        self.vpa = Some(v);
    }

    /// The pod's container was killed after running `run`: an OOM kill goes to its VPA's next
    /// loop, and is the pod's last termination for the updater's quick-OOM rule.
    pub(super) fn vpa_container_killed(&mut self, pod: PodId, oom: bool, run: SimDuration) {
        let Some(v) = &mut self.vpa else { return };
        if !oom {
            v.last_oom_run.remove(&pod);
            return;
        }
        v.last_oom_run.insert(pod, run);
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
        vpa: usize,
        pod: PodId,
        recommendation: &[RecordedContainer],
    ) -> ((Resources, f64), (Resources, f64)) {
        let p = self.cluster.pod(pod);
        let current = p.template.requests.clone();
        let spec = &self.scenario.vpas[vpa];
        let recommendation: Vec<_> = recommendation
            .iter()
            .map(|r| r.recommendation.clone())
            .collect();
        let recommended = match admission::recommended_containers(
            &p.template.hpa_containers,
            spec,
            &recommendation,
        ) {
            Some(containers) => p.template.resized(containers).requests,
            None => current.clone(),
        };
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
