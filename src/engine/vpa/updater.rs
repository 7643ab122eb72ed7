//! The VPA's admission controller and updater in the engine. A new pod of a VPA's target (in
//! any mode but `Off`) gets the recommendation's requests (capped to the namespace's
//! LimitRanges, the policy and, under `RequestsOnly`, the limits) and proportional limits; the pods of
//! one template share one changed template until the recommendation changes. Every minute (the
//! first one minute in), the updater of each `Recreate` VPA ranks the pods far from the
//! recommendation and evicts as many as `minReplicas`, the eviction tolerance and the
//! PodDisruptionBudgets let go; their controller recreates them, and admission sizes them. An
//! `InPlaceOrRecreate` VPA resizes them in place instead ([`super::in_place`]), and evicts
//! those whose resize the kubelet defers too long or cannot do.

use std::sync::Arc;

use crate::cluster::{DeploymentId, PodId, PodPhase, ReplicaSetId};
use crate::controllers::PodEventReason;
use crate::controllers::disruption;
use crate::controllers::vpa::policy::ContainerRecommendation;
use crate::controllers::vpa::updater::{self as rules, PodAge, ReplicaGroup, UpdatePriority};
use crate::controllers::vpa::{admission, capping};
use crate::scenario::PodTemplate;
use crate::spec::model::PodSource;
use crate::spec::vpa::{UpdateMode, VpaSpec};

use super::super::{Engine, Event};
use super::VpaLoop;

/// The template admission last gave a VPA's new pod, with what it was made from.
#[derive(Clone)]
pub(super) struct Admitted {
    source: Arc<PodTemplate>,
    recommendation: Vec<ContainerRecommendation>,
    admitted: Arc<PodTemplate>,
}

impl VpaLoop {
    /// The VPA's current recommendation, per container.
    fn recommendation(&self, vpa: usize) -> Vec<ContainerRecommendation> {
        let current = self.recommender.current(vpa).iter();
        current.map(|r| r.recommendation.clone()).collect()
    }
}

impl Engine<'_, '_> {
    /// The VPA's mutating webhook: `template` as a new pod of `workload` gets it (unchanged
    /// without a VPA in a mode that admits, or before its first recommendation).
    pub(in crate::engine) fn vpa_admission(
        &mut self,
        workload: DeploymentId,
        template: Arc<PodTemplate>,
    ) -> Arc<PodTemplate> {
        let Some(v) = &mut self.vpa else {
            return template;
        };
        let Some(i) = v.vpa_of[workload.index()] else {
            return template;
        };
        let spec = &self.scenario.vpas[i];
        if !spec.mode.admits() {
            return template;
        }
        let recommendation = v.recommendation(i);
        if let Some(a) = &v.admitted[i]
            && Arc::ptr_eq(&a.source, &template)
            && a.recommendation == recommendation
        {
            return Arc::clone(&a.admitted);
        }
        let changed =
            admission::recommended_containers(&template.hpa_containers, spec, &recommendation);
        let admitted = match changed {
            Some(containers) => Arc::new(template.resized(containers)),
            None => Arc::clone(&template),
        };
        v.admitted[i] = Some(Admitted {
            source: template,
            recommendation,
            admitted: Arc::clone(&admitted),
        });
        admitted
    }

    /// Counts a pod of `workload` created with its VPA's recommendation.
    pub(in crate::engine) fn vpa_admitted(&mut self, workload: DeploymentId) {
        if let Some(v) = &mut self.vpa
            && let Some(i) = v.vpa_of[workload.index()]
        {
            v.actions[i].pods_admitted += 1;
        }
    }

    /// One updater loop over every VPA that evicts.
    pub(in crate::engine) fn on_vpa_updater(&mut self) {
        let Some(mut v) = self.vpa.take() else { return };
        for (i, spec) in self.scenario.vpas.iter().enumerate() {
            let recommendation = v.recommendation(i);
            if !spec.mode.evicts() || recommendation.is_empty() {
                continue;
            }
            let in_place = spec.mode == UpdateMode::InPlaceOrRecreate;
            if in_place {
                self.retry_resizes(&mut v, i, &spec.name);
            }
            let min_replicas = spec.min_replicas.unwrap_or(v.updater.min_replicas);
            for (group, pods) in
                self.replica_groups(DeploymentId(spec.target as u32), min_replicas, &v)
            {
                let candidates = self.update_candidates(&pods, spec, &recommendation, &v);
                let (group, evict) = if in_place {
                    self.update_in_place(&mut v, i, spec, group, candidates, &recommendation)
                } else {
                    (group, candidates)
                };
                v.actions[i].pods_evicted += self.evict_for_vpa(group, evict, &spec.name);
            }
        }
        let next = self.now + v.updater.interval;
        if next <= self.end {
            self.queue.schedule(next, Event::VpaUpdater);
        }
        self.vpa = Some(v);
    }

    /// The target's pods by controller (`GetCreatorMaps`): a Deployment's by ReplicaSet (its
    /// `spec.replicas` configured), a StatefulSet's or Job's as one group (replicas, or live
    /// pods for a Job), a DaemonSet's with its ready pods configured. Only bound pods not being
    /// deleted count; a group below `min_replicas` live pods is left out.
    fn replica_groups(
        &self,
        workload: DeploymentId,
        min_replicas: i32,
        v: &VpaLoop,
    ) -> Vec<(ReplicaGroup, Vec<PodId>)> {
        let d = self.cluster.deployment(workload);
        let live = |rs: ReplicaSetId| {
            let pods = self.cluster.pods_of(rs);
            pods.filter(|p| {
                p.node.is_some() && p.deletion.is_none() && p.phase != PodPhase::Terminated
            })
            .map(|p| p.id)
            .collect::<Vec<PodId>>()
        };
        let per_replica_set = matches!(
            d.spec.source,
            PodSource::ReplicaSet | PodSource::ReplicationController
        );
        let groups: Vec<(i32, Vec<PodId>)> = if per_replica_set {
            let sets = d.replica_sets.iter();
            sets.map(|&rs| (self.cluster.replica_sets[rs.index()].replicas, live(rs)))
                .collect()
        } else {
            let pods: Vec<PodId> = d.replica_sets.iter().flat_map(|&rs| live(rs)).collect();
            let configured = match d.spec.source {
                PodSource::DaemonSet => self.cluster.ready_pods(workload) as i32,
                PodSource::Job(_) | PodSource::CronJob(_) => pods.len() as i32,
                _ => d.replicas,
            };
            vec![(configured, pods)]
        };
        let pending = |pods: &[PodId]| {
            pods.iter()
                .filter(|&&p| self.cluster.pod(p).phase == PodPhase::Pending)
                .count() as i32
        };
        groups
            .into_iter()
            .filter_map(|(configured, pods)| {
                let live = pods.len() as i32;
                let group =
                    ReplicaGroup::new(configured, live, pending(&pods), min_replicas, &v.updater)?;
                Some((group, pods))
            })
            .collect()
    }

    /// The group's pods the updater would update, highest priority first.
    /// Each pod's priority is computed against the recommendation capped for it (LimitRanges,
    /// policy, `RequestsOnly`), as upstream's `AddPod` does; `evictionRequirements` filter the
    /// ranked list.
    fn update_candidates(
        &self,
        pods: &[PodId],
        spec: &VpaSpec,
        recommendation: &[ContainerRecommendation],
        v: &VpaLoop,
    ) -> Vec<PodId> {
        let mut ranked: Vec<(PodId, UpdatePriority)> = pods
            .iter()
            .filter_map(|&pod| {
                let p = self.cluster.pod(pod);
                let containers = &p.template.hpa_containers;
                let capped = capping::capped_for_pod(containers, spec, recommendation);
                let priority = rules::update_priority(containers, &capped);
                let age = PodAge {
                    started: p.started,
                    last_oom_run: v.last_oom_run.get(&pod).copied(),
                };
                let wanted = rules::wants_update(&priority, age, self.now, &v.updater)
                    && rules::admits_eviction(containers, &capped, &spec.eviction_requirements);
                wanted.then_some((pod, priority))
            })
            .collect();
        rules::sort_by_priority(&mut ranked);
        ranked.into_iter().map(|(pod, _)| pod).collect()
    }

    /// Evicts the candidates in order while the group and the disruption budgets allow;
    /// returns how many went.
    fn evict_for_vpa(&mut self, mut group: ReplicaGroup, candidates: Vec<PodId>, vpa: &str) -> u64 {
        let mut allowed = disruption::disruptions_allowed(&self.cluster);
        let mut evicted = 0;
        for pod in candidates {
            let pending = self.cluster.pod(pod).phase == PodPhase::Pending;
            if !group.can_evict(pending)
                || !disruption::try_evict(&self.cluster, &mut allowed, self.cluster.pod(pod))
            {
                continue;
            }
            group.evict(pending);
            let message =
                format!("Pod was evicted by VPA Updater to apply resource recommendation of {vpa}");
            self.pod_event(pod, PodEventReason::EvictedByVPA, message);
            self.delete_pod(pod);
            evicted += 1;
        }
        if evicted > 0 {
            self.dirty.everything();
        }
        evicted
    }
}
