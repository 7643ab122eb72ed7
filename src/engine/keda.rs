//! KEDA's operator on the engine's side: a poll per ScaledObject every `pollingInterval`, from
//! the start of the run (KEDA polls a ScaledObject as soon as it exists), reading its triggers'
//! values as its scalers would and applying the activation [`crate::controllers::keda`] decides.
//! The HPA KEDA owns syncs with the others.

use super::{Engine, Event};
use crate::cluster::HpaId;
use crate::controllers::Intent;
use crate::controllers::keda::{self, KedaScale};
use crate::metrics::cluster_events::{ClusterEventReason, ObjectKind};
use crate::scenario::KedaActivation;
use crate::sim::SimTime;

impl Engine<'_, '_> {
    /// The first poll of every ScaledObject, at the start.
    pub(super) fn start_keda_polls(&mut self) {
        for (h, spec) in self.scenario.hpas.iter().enumerate() {
            if spec.keda.is_some() {
                let hpa = HpaId(h as u32);
                self.queue.schedule(SimTime::ZERO, Event::KedaPoll { hpa });
            }
        }
    }

    pub(super) fn on_keda_poll(&mut self, hpa: HpaId) {
        let h = &self.cluster.hpas[hpa.index()];
        // A scripted `apply` may have replaced the HPA by one KEDA does not own: polling stops.
        let Some(spec) = h.spec.keda.clone() else {
            return;
        };
        if let Some(target) = h.target {
            let active = self.active_triggers(hpa, &spec);
            let current = self.cluster.deployment(target).replicas;
            let state = &mut self.keda[hpa.index()];
            let scale = keda::request_scale(
                &spec,
                state,
                self.now,
                SimTime::ZERO,
                current,
                !active.is_empty() || spec.triggers.is_empty(),
            );
            if let Some(scale) = scale {
                self.keda_event(&spec, target, current, scale, &active);
                self.apply(Intent::ScaleDeployment {
                    deployment: target,
                    replicas: scale.replicas(),
                });
                if self.dirty.any() {
                    self.reconcile();
                }
            }
        }
        let next = self.now + spec.polling_interval;
        if next <= self.end {
            self.queue.schedule(next, Event::KedaPoll { hpa });
        }
    }

    /// The names of the triggers that are active now.
    fn active_triggers<'a>(&self, hpa: HpaId, spec: &'a KedaActivation) -> Vec<&'a str> {
        (spec.triggers.iter())
            .filter(|t| {
                let value = self.hpa.external_value(
                    hpa,
                    t.metric,
                    &self.cluster,
                    &self.metrics_server,
                    self.now,
                );
                keda::trigger_active(value.unwrap_or(0), t.activation_milli)
            })
            .map(|t| t.name.as_str())
            .collect()
    }

    /// Logs KEDA's event for a rescale, worded as KEDA words it.
    fn keda_event(
        &mut self,
        spec: &KedaActivation,
        target: crate::cluster::DeploymentId,
        from: i32,
        scale: KedaScale,
        active: &[&str],
    ) {
        let d = &self.cluster.deployment(target).spec;
        let object = format!("Deployment {}/{}", d.namespace, d.name);
        let (reason, message) = match scale {
            KedaScale::Activated { to } => (
                ClusterEventReason::KEDAScaleTargetActivated,
                format!(
                    "Scaled {object} from {from} to {to}, triggered by {}",
                    active.join(";")
                ),
            ),
            KedaScale::Deactivated { to } => (
                ClusterEventReason::KEDAScaleTargetDeactivated,
                format!("Deactivated {object} from {from} to {to}"),
            ),
            KedaScale::ToMinimum { to } => (
                ClusterEventReason::KEDAScaleTargetActivated,
                format!("Set {object} from {from} to minReplicaCount {to}"),
            ),
        };
        let kind = ObjectKind::ScaledObject;
        self.cluster_events
            .record(self.now, kind, &spec.scaled_object, reason, message);
    }
}
