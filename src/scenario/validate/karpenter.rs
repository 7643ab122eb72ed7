//! `spec.karpenter` (the controller's settings) and the NodePools of the manifests: each
//! NodePool's offerings become node pools of the cluster, empty at the start, that only
//! Karpenter grows (`scenario::karpenter` reads and validates the objects).

use super::{Builder, DEFAULT_KARPENTER_PROVISIONING_TIME, MAX_NODES_PER_POOL};
use crate::scenario::karpenter::{KarpenterPools, NodePoolManifest, node_pools};
use crate::scenario::manifest::{self, Manifest, ManifestSet};
use crate::scenario::model::{CapacityType, KubeletCpu, NodePoolSpec};
use crate::scenario::raw::{RawEvent, RawKarpenter};
use crate::sim::SimDuration;
use crate::sim::dist::DurationDist;
use crate::spec::karpenter::{KarpenterSettings, Offering};

impl Builder<'_> {
    /// Karpenter's settings when the manifests have NodePools (their offerings are appended to
    /// `pools`); a `spec.karpenter` without any NodePool is an error.
    pub(super) fn karpenter(
        &mut self,
        raw: Option<&RawKarpenter>,
        set: &ManifestSet,
        events: &[RawEvent],
        clock: (&str, jiff::Timestamp, SimDuration),
        pools: &mut Vec<NodePoolSpec>,
    ) -> Option<KarpenterSettings> {
        let (region, start, run) = clock;
        let revisions = self.applied_node_pools(events);
        let found = node_pools(set, &revisions, region, start, run, self.diags);
        if set.karpenter_node_pools.is_empty() {
            if raw.is_some() {
                self.error(
                    "spec.karpenter",
                    "Karpenter has no NodePool to serve: add karpenter.sh/v1 NodePool manifests (and an EC2NodeClass)",
                );
            }
            return None;
        }
        let default = RawKarpenter::default();
        let raw = raw.unwrap_or(&default);
        let path = "spec.karpenter";
        let settings = KarpenterSettings {
            node_pools: Vec::new(),
            batch_idle_duration: self.positive_duration(
                raw.batch_idle_duration,
                &format!("{path}.batchIdleDuration"),
                KarpenterSettings::BATCH_IDLE,
            ),
            batch_max_duration: self.positive_duration(
                raw.batch_max_duration,
                &format!("{path}.batchMaxDuration"),
                KarpenterSettings::BATCH_MAX,
            ),
            provisioning_time: raw.provisioning_time.as_ref().map_or(
                DurationDist::Constant(DEFAULT_KARPENTER_PROVISIONING_TIME),
                |d| self.distribution(&format!("{path}.provisioningTime"), d),
            ),
            spot_to_spot_consolidation: raw.spot_to_spot_consolidation.unwrap_or(false),
        };
        let mtbi = match raw.spot_interruption_mtbi {
            Some(crate::scenario::units::Duration(d)) if d.is_zero() => {
                self.error(
                    &format!("{path}.spotInterruptionMTBI"),
                    "must be greater than 0",
                );
                None
            }
            other => other.map(|d| d.0),
        };
        Some(self.add_offerings(found, settings, mtbi, pools))
    }

    /// The NodePools of the files scripted `apply` events apply, read quietly (the events
    /// report what is wrong with them).
    fn applied_node_pools(&self, events: &[RawEvent]) -> Vec<Manifest<NodePoolManifest>> {
        let mut set = ManifestSet::default();
        for e in events
            .iter()
            .filter(|e| e.action.as_deref() == Some("apply"))
        {
            let Some(rel) = e.manifest.as_deref() else {
                continue;
            };
            let full = self.base_dir.join(rel);
            let max = crate::scenario::read::MAX_INPUT_BYTES;
            if let Ok(text) = crate::scenario::read::read_text(&full, max) {
                let shown = full.display().to_string();
                manifest::add_text(&mut set, &shown, &text, &mut Vec::new());
            }
        }
        set.karpenter_node_pools
    }

    fn add_offerings(
        &mut self,
        found: KarpenterPools,
        mut settings: KarpenterSettings,
        spot_mtbi: Option<SimDuration>,
        pools: &mut Vec<NodePoolSpec>,
    ) -> KarpenterSettings {
        for o in found.offerings {
            if pools.iter().any(|p| p.name == o.name) {
                self.error(
                    "spec.cluster.nodePools",
                    format!(
                        "node pool {:?} has the name of a Karpenter offering",
                        o.name
                    ),
                );
                continue;
            }
            pools.push(NodePoolSpec {
                name: o.name,
                instance_type: Some(o.instance_type),
                count: 0,
                allocatable: o.allocatable,
                max_pods: o.max_pods,
                labels: o.labels,
                annotations: Default::default(),
                taints: o.taints,
                price_usd_per_hour: o.on_demand_price,
                capacity_type: o.capacity_type,
                spot_price_usd_per_hour: o.spot_price,
                min_count: 0,
                max_count: MAX_NODES_PER_POOL,
                provisioning_time: settings.provisioning_time.clone(),
                zones: vec![o.zone],
                failures: None,
                spot_interruption_mtbi: spot_mtbi.filter(|_| o.capacity_type == CapacityType::Spot),
                image_pull_bandwidth: None,
                kubelet: KubeletCpu::default(),
                karpenter: Some(Offering {
                    node_pool: o.node_pool,
                    capacity: o.capacity,
                    exotic: o.exotic,
                    admitted: o.admitted,
                }),
            });
        }
        settings.node_pools = found.node_pools;
        settings
    }
}
