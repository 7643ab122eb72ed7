//! StatefulSets in the engine: each reconcile's intents, and a record of what it did or
//! waited for (`kubesim explain --statefulset`).

use super::Engine;
use crate::cluster::DeploymentId;
use crate::controllers::Intent;
use crate::controllers::statefulset::{self, record};

impl Engine<'_, '_> {
    /// What StatefulSet `id`'s controller asks for now (nothing for another workload), its
    /// steps recorded.
    pub(super) fn statefulset_intents(&mut self, id: DeploymentId) -> Vec<Intent> {
        let sync = statefulset::sync(&self.cluster, id, self.now);
        if !sync.steps.is_empty() && !self.stateful_records.truncated() {
            let r = record::record(&self.cluster, id, self.now, sync.steps);
            self.stateful_records.push(id, r);
        }
        sync.intents
    }
}
