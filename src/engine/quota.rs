//! The admission chain a new pod goes through ([`Engine::admit_pod`]): the VPA's mutating
//! webhook, then ResourceQuota.
//!
//! ResourceQuota admission at pod creation: a pod that would take its namespace past a quota's
//! hard amount is not created. Its controller keeps asking at every reconcile (the workload is
//! looked at until a pod of it is admitted again), and the refusal is a `FailedCreate` event
//! once per episode, worded as the API server's (`exceeded quota: …, requested: …, used: …,
//! limited: …`). Usage is what the namespace's pods not yet gone hold.

use std::sync::Arc;

use super::Engine;
use crate::cluster::{DeploymentId, PodPhase};
use crate::metrics::cluster_events::{ClusterEventReason, ObjectKind};
use crate::scenario::{PodTemplate, QuotaResource, QuotaSpec};

impl Engine<'_, '_> {
    /// The admission chain a new pod of `workload` goes through: the VPA's mutating webhook
    /// (which may give it the recommendation's requests), then ResourceQuota (which may refuse
    /// it: `None`).
    pub(super) fn admit_pod(
        &mut self,
        workload: DeploymentId,
        template: Arc<PodTemplate>,
    ) -> Option<Arc<PodTemplate>> {
        let written = Arc::clone(&template);
        let template = self.vpa_admission(workload, template);
        if !self.admit_quota(workload, &template) {
            return None;
        }
        if !Arc::ptr_eq(&written, &template) {
            self.vpa_admitted(workload);
        }
        Some(template)
    }

    /// Whether a pod of `workload` with `template` may be created now; if not, the workload is
    /// held (and told once).
    fn admit_quota(&mut self, workload: DeploymentId, template: &PodTemplate) -> bool {
        let refusal = (self.scenario.quotas.iter())
            .filter(|q| q.namespace == template.namespace)
            .find_map(|q| self.quota_refusal(q, template));
        match refusal {
            None => {
                self.quota_blocked.remove(&workload);
                true
            }
            Some(message) => {
                if self.quota_blocked.insert(workload) {
                    let name = self.cluster.deployment(workload).spec.name.clone();
                    let message = format!("pods of {name} are forbidden: {message}");
                    let reason = ClusterEventReason::FailedCreate;
                    let kind = ObjectKind::Deployment;
                    self.cluster_events
                        .record(self.now, kind, &name, reason, message);
                }
                false
            }
        }
    }

    /// Why `quota` refuses a pod of `template`, in the API server's words (`None`: it fits).
    fn quota_refusal(&self, quota: &QuotaSpec, template: &PodTemplate) -> Option<String> {
        let mut refused = Vec::new();
        for &(resource, hard) in &quota.hard {
            let Some(requested) = resource.of_pod(template) else {
                let what = resource.key();
                return Some(format!("failed quota: {}: must specify {what}", quota.name));
            };
            let used = self.quota_usage(&quota.namespace, resource);
            if used.saturating_add(requested) > hard {
                refused.push((resource, requested, used, hard));
            }
        }
        if refused.is_empty() {
            return None;
        }
        let list = |pick: fn(&(QuotaResource, i64, i64, i64)) -> i64| {
            (refused.iter())
                .map(|r| format!("{}={}", r.0.key(), shown(r.0, pick(r))))
                .collect::<Vec<_>>()
                .join(",")
        };
        Some(format!(
            "exceeded quota: {}, requested: {}, used: {}, limited: {}",
            quota.name,
            list(|r| r.1),
            list(|r| r.2),
            list(|r| r.3)
        ))
    }

    /// What the namespace's pods that are not gone hold of `resource`.
    fn quota_usage(&self, namespace: &str, resource: QuotaResource) -> i64 {
        (self.cluster.pods.iter())
            .filter(|p| p.phase != PodPhase::Terminated && p.template.namespace == namespace)
            .map(|p| resource.of_pod(&p.template).unwrap_or(0))
            .sum()
    }
}

/// An amount as a quantity reads (`500m`, `4`, `8Gi`).
fn shown(resource: QuotaResource, amount: i64) -> String {
    match resource.resource_name() {
        "cpu" if amount % 1000 == 0 => (amount / 1000).to_string(),
        "cpu" => format!("{amount}m"),
        "memory" => crate::cluster::quantity::format_bytes(amount),
        _ => amount.to_string(),
    }
}
