//! The control plane's reconcile: the workload controllers run for the workloads something
//! changed for, and the engine applies their intents (pods created, deleted, bound; ReplicaSets
//! scaled; images pulled).

use crate::cluster::{DeploymentId, NodeId, PodId, ReplicaSetId};
use crate::controllers::deployment::record;
use crate::controllers::{Intent, cronjob, daemonset, deployment, kubelet, replicaset};
use crate::metrics::Observation;
use crate::metrics::pod_events::PodEventReason;
use crate::sim::SimTime;

use super::{Engine, Event, MAX_ROLLOUT_RECORDS};

/// Bound on reconcile passes at one instant; more means controllers fight (a bug).
const MAX_RECONCILE_PASSES: usize = 1000;

impl Engine<'_, '_> {
    /// Runs the controllers of the workloads something changed for (their Deployment,
    /// StatefulSet or DaemonSet controller and their ReplicaSets), then the scheduler, until
    /// nothing changes; then updates those Deployments' rollout conditions.
    pub(super) fn reconcile(&mut self) {
        let mut touched = Vec::new();
        for _ in 0..MAX_RECONCILE_PASSES {
            let workloads = self.due_workloads();
            let (intents, _replica_sets) = self.workload_intents(&workloads);
            #[cfg(debug_assertions)]
            self.check_untouched_are_settled(&workloads, &_replica_sets);
            touched.extend(workloads);
            for intent in intents {
                self.apply(intent);
            }
            self.schedule_pending();
            if !self.dirty.any() {
                touched.sort_unstable();
                touched.dedup();
                self.track_rollouts(&touched);
                return;
            }
        }
        panic!(
            "controllers did not settle after {MAX_RECONCILE_PASSES} passes at {}",
            self.now
        );
    }

    /// The workloads a reconcile pass must look at: those marked since the last pass, and those
    /// whose state moves with time alone (see [`Engine::moves_with_time`]), in id order.
    fn due_workloads(&mut self) -> Vec<DeploymentId> {
        let mut due = self.dirty.take(self.cluster.deployments.len());
        let marked = due.len();
        for d in 0..self.cluster.deployments.len() {
            let id = DeploymentId(d as u32);
            if self.moves_with_time(id) && due[..marked].binary_search(&id).is_err() {
                due.push(id);
            }
        }
        due.sort_unstable();
        due
    }

    /// Whether a Deployment's conditions can change with no object changing: paused (its
    /// Progressing time follows the clock), progressing under a deadline not yet passed, or
    /// with Ready pods not yet available (minReadySeconds). Such Deployments are looked at in
    /// every reconcile, as every Deployment once was, so that when these changes are noticed
    /// does not change.
    fn moves_with_time(&self, deployment: DeploymentId) -> bool {
        if self.cron_due(deployment) || self.quota_blocked.contains(&deployment) {
            return true;
        }
        let d = self.cluster.deployment(deployment);
        let r = &d.rollout;
        let deadline = d.spec.rollout.progress_deadline.is_some();
        d.rolls_out()
            && (d.paused
                || (r.progressing && !r.timed_out && deadline)
                || r.status.ready > r.status.available)
    }

    /// The intents of the workloads' controllers, then of their ReplicaSets in id order (the
    /// order a pass over every object gives), and which ReplicaSets those were.
    fn workload_intents(&mut self, workloads: &[DeploymentId]) -> (Vec<Intent>, Vec<ReplicaSetId>) {
        let mut intents = Vec::new();
        for &id in workloads {
            let (asked, step) = deployment::reconcile_step(&self.cluster, id, self.now);
            if self.rollout_records.len() < MAX_ROLLOUT_RECORDS
                && let Some(mut r) = record::record(&self.cluster, id, self.now, step, &asked)
            {
                r.events_before = self.cluster_events.len();
                self.rollout_records.push(r);
            }
            intents.extend(asked);
            intents.extend(daemonset::reconcile(&self.cluster, id, self.now));
            intents.extend(self.statefulset_intents(id));
            intents.extend(cronjob::reconcile(&self.cluster, id, self.now));
            intents.extend(self.job_intents(id));
        }
        let mut replica_sets: Vec<ReplicaSetId> = (workloads.iter())
            .flat_map(|&d| self.cluster.deployment(d).replica_sets.iter().copied())
            .collect();
        replica_sets.sort_unstable();
        for &rs in &replica_sets {
            intents.extend(replicaset::reconcile(&self.cluster, rs, self.now));
        }
        (intents, replica_sets)
    }

    /// Debug builds: a workload or ReplicaSet left out of a pass must have nothing to do, so
    /// that reconciling only what changed gives what reconciling everything would.
    #[cfg(debug_assertions)]
    fn check_untouched_are_settled(
        &self,
        workloads: &[DeploymentId],
        replica_sets: &[ReplicaSetId],
    ) {
        for d in 0..self.cluster.deployments.len() {
            let id = DeploymentId(d as u32);
            if workloads.binary_search(&id).is_err() {
                let intents = [
                    deployment::reconcile_step(&self.cluster, id, self.now).0,
                    daemonset::reconcile(&self.cluster, id, self.now),
                    crate::controllers::statefulset::sync(&self.cluster, id, self.now).intents,
                    cronjob::reconcile(&self.cluster, id, self.now),
                    (crate::controllers::job::syncs(&self.cluster, id, self.now).into_iter())
                        .flat_map(|sync| sync.intents)
                        .collect(),
                ];
                let name = &self.cluster.deployment(id).spec.name;
                assert!(
                    intents.iter().all(Vec::is_empty),
                    "{name} was not marked for reconcile at {} but asks for {intents:?}",
                    self.now
                );
            }
        }
        for rs in 0..self.cluster.replica_sets.len() {
            let id = ReplicaSetId(rs as u32);
            if replica_sets.binary_search(&id).is_err() {
                let intents = replicaset::reconcile(&self.cluster, id, self.now);
                assert!(
                    intents.is_empty(),
                    "ReplicaSet {} was not marked for reconcile at {} but asks for {intents:?}",
                    self.cluster.replica_sets[rs].name,
                    self.now
                );
            }
        }
    }

    /// Applies one intent the way the API server would.
    pub(super) fn apply(&mut self, intent: Intent) {
        match intent {
            Intent::SetReplicaSetReplicas {
                replica_set,
                replicas,
            } => {
                let dep = self.cluster.replica_sets[replica_set.index()].deployment;
                let (desired, max) = self.cluster.deployment(dep).replica_annotations();
                let rs = &mut self.cluster.replica_sets[replica_set.index()];
                rs.replicas = replicas;
                rs.desired_annotation = desired;
                rs.max_annotation = max;
                self.dirty.workload(dep);
            }
            Intent::CreateReplicaSet { deployment } => {
                let rs = self.cluster.create_replica_set(deployment, self.now);
                self.start_rollout(deployment, self.cluster.replica_sets[rs.index()].revision);
            }
            Intent::SetRevision {
                replica_set,
                revision,
            } => {
                let rs = &mut self.cluster.replica_sets[replica_set.index()];
                rs.revision = revision;
                let deployment = rs.deployment;
                self.start_rollout(deployment, revision);
            }
            Intent::SetCurrentRevision {
                deployment,
                replica_set,
            } => {
                self.cluster.deployments[deployment.index()].current_revision = Some(replica_set);
            }
            Intent::DeleteReplicaSet { replica_set } => {
                self.forget_losses(replica_set);
                let deployment = self.cluster.replica_sets[replica_set.index()].deployment;
                self.cluster.delete_replica_set(replica_set);
                self.dirty.workload(deployment);
            }
            Intent::CreatePod { replica_set } => {
                let rs = &self.cluster.replica_sets[replica_set.index()];
                let (workload, template) = (rs.deployment, std::sync::Arc::clone(&rs.template));
                let Some(template) = self.admit_pod(workload, template) else {
                    return;
                };
                let pod = self
                    .cluster
                    .create_pod_from(replica_set, template, self.now);
                let message = self.creation_message(replica_set);
                self.pod_event(pod, PodEventReason::Created, message);
                let deployment = self.cluster.pod(pod).deployment;
                self.recorder
                    .observe(self.now, Observation::PodCreated { deployment });
                self.dirty.workload(deployment);
            }
            Intent::CreateStatefulPod {
                replica_set,
                ordinal,
            } => {
                let rs = &self.cluster.replica_sets[replica_set.index()];
                let (workload, template) = (rs.deployment, std::sync::Arc::clone(&rs.template));
                let Some(template) = self.admit_pod(workload, template) else {
                    return;
                };
                let pod =
                    (self.cluster).create_stateful_pod(replica_set, ordinal, template, self.now);
                let deployment = self.cluster.pod(pod).deployment;
                let message = format!(
                    "Created by StatefulSet {}",
                    self.cluster.deployment(deployment).spec.name
                );
                self.pod_event(pod, PodEventReason::Created, message);
                self.recorder
                    .observe(self.now, Observation::PodCreated { deployment });
                self.dirty.workload(deployment);
            }
            Intent::CreateDaemonPod { deployment, node } => {
                let template = std::sync::Arc::clone(self.cluster.current_template(deployment));
                let Some(template) = self.admit_pod(deployment, template) else {
                    return;
                };
                let pod = (self.cluster).create_daemon_pod(deployment, node, &template, self.now);
                let message = format!(
                    "Created by DaemonSet {}",
                    self.cluster.deployment(deployment).spec.name
                );
                self.pod_event(pod, PodEventReason::Created, message);
                self.recorder
                    .observe(self.now, Observation::PodCreated { deployment });
                self.dirty.workload(deployment);
            }
            Intent::CreateJobPod { run, index } => self.create_job_pod(run, index),
            Intent::FinishJob { run, outcome } => self.finish_job(run, outcome),
            Intent::StartJob {
                cron_job,
                scheduled,
            } => self.start_cron_job_run(cron_job, scheduled),
            Intent::DeleteJob { run, reason } => self.delete_job(run, reason),
            Intent::SkipJob {
                cron_job,
                scheduled,
            } => self.skip_cron_job_run(cron_job, scheduled),
            Intent::DeletePod { pod } => self.delete_pod(pod),
            Intent::BindPod { pod, node } => {
                self.cluster.bind(pod, node);
                self.karpenter_pod_event(pod);
                self.charge(pod, 1.0);
                self.observe_allocation();
                let pulled = self.pull_images(pod, node);
                if !self.warm_start {
                    let dep = self.cluster.pod(pod).deployment;
                    let delay = kubelet::startup_delay(
                        &self.cluster.deployment(dep).spec.workload,
                        &mut self.startup_rngs[dep.index()],
                    );
                    self.queue
                        .schedule(pulled + delay, Event::PodStarted { pod });
                }
            }
            Intent::ScaleDeployment {
                deployment,
                replicas,
            } => {
                let from = self.cluster.deployment(deployment).replicas;
                self.cluster.deployments[deployment.index()].replicas = replicas;
                self.recorder.deployment_scaled(deployment, from, replicas);
                self.recorder.observe(
                    self.now,
                    Observation::ReplicasChanged {
                        deployment,
                        replicas,
                    },
                );
                self.dirty.workload(deployment);
            }
            Intent::AddNodes { pool, count } => self.add_nodes(pool, count),
            Intent::RemoveNode { node } => {
                self.cluster.mark_to_be_deleted(node, self.now);
                self.remove_node_if_empty(node);
            }
            Intent::DrainNode { node, max_grace } => self.drain_node(node, max_grace),
            Intent::DisruptNode { node, force } => self.disrupt_node(node, force),
            Intent::MarkNodeUnreachable { node } => self.mark_node_unreachable(node),
            Intent::MarkNodeReachable { node } => self.mark_node_reachable(node),
            Intent::TaintNode { node, key, effect } => self.cluster.add_taint(node, key, effect),
            Intent::UntaintNode { node, key, effect } => {
                self.cluster.remove_taint(node, key, effect);
            }
            Intent::EvictPod { pod } => self.evict_from_failed_node(pod),
            Intent::CancelScaleDown { node } => {
                self.cluster.clear_to_be_deleted(node);
                self.dirty.everything();
            }
        }
    }

    /// The kubelet pulls the pod's images the node lacks (warm pods found them there): when
    /// they are all present.
    fn pull_images(&mut self, pod: PodId, node: NodeId) -> SimTime {
        if self.image_caches.len() <= node.index() {
            self.image_caches
                .resize_with(node.index() + 1, kubelet::ImageCache::default);
        }
        let pool = self.cluster.node(node).pool;
        let bandwidth = if self.warm_start {
            None
        } else {
            self.cluster.pools[pool.index()].spec.image_pull_bandwidth
        };
        let images = &self.cluster.pod(pod).template.images;
        let pulled = self.image_caches[node.index()].pull(
            images,
            &self.cluster.image_sizes,
            bandwidth,
            self.now,
        );
        if pulled > self.now {
            let took = pulled.saturating_since(self.now);
            let message = format!("Pulled images {} (ready in {took})", images.join(", "));
            self.pod_event(pod, PodEventReason::Pulled, message);
        }
        pulled
    }
}
