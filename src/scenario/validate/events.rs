//! Scripted events (`spec.events`): what happens at a time — node and zone failures and
//! recoveries, `kubectl cordon` / `uncordon` / `drain` / `scale`. Nodes are named as the
//! cluster names them, `<pool>-<index>`, and must be among the nodes a pool starts with.

use super::Builder;
use crate::scenario::model::{
    CapacityType, DeploymentSpec, NodePoolSpec, PodSource, ScriptedAction, ScriptedEvent,
};
use crate::scenario::raw::RawEvent;
use crate::sim::SimDuration;

impl Builder<'_> {
    /// The events, sorted by time (stable: ties keep their written order).
    pub(super) fn events(
        &mut self,
        raw: &[RawEvent],
        pools: &[NodePoolSpec],
        deployments: &[DeploymentSpec],
        duration: SimDuration,
    ) -> Vec<ScriptedEvent> {
        let mut out: Vec<ScriptedEvent> = raw
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                self.event(
                    &format!("spec.events[{i}]"),
                    e,
                    pools,
                    deployments,
                    duration,
                )
            })
            .collect();
        out.sort_by_key(|e| e.at);
        out
    }

    fn event(
        &mut self,
        path: &str,
        raw: &RawEvent,
        pools: &[NodePoolSpec],
        deployments: &[DeploymentSpec],
        duration: SimDuration,
    ) -> Option<ScriptedEvent> {
        let at = match raw.at {
            Some(at) if at.0 <= duration => Some(at.0),
            Some(_) => {
                self.error(
                    &format!("{path}.at"),
                    "is after the end of the run (spec.duration)",
                );
                None
            }
            None => {
                self.error(&format!("{path}.at"), "required: when it happens, e.g. 10m");
                None
            }
        };
        let Some(name) = raw.action.as_deref() else {
            let names = ScriptedAction::NAMES.join(", ");
            self.error(
                &format!("{path}.action"),
                format!("required: one of {names}"),
            );
            return None;
        };
        let node = |b: &mut Self| b.event_node(path, raw.node.as_deref(), pools);
        let zone = |b: &mut Self| b.event_zone(path, raw.zone.as_deref(), pools);
        let action = match name {
            "failNode" => node(self).map(|node| ScriptedAction::FailNode { node }),
            "recoverNode" => node(self).map(|node| ScriptedAction::RecoverNode { node }),
            "failZone" => zone(self).map(|zone| ScriptedAction::FailZone { zone }),
            "recoverZone" => zone(self).map(|zone| ScriptedAction::RecoverZone { zone }),
            "cordon" => node(self).map(|node| ScriptedAction::Cordon { node }),
            "uncordon" => node(self).map(|node| ScriptedAction::Uncordon { node }),
            "drain" => node(self).map(|node| ScriptedAction::Drain { node }),
            "scale" => self.event_scale(path, raw, deployments),
            "interruptSpot" => node(self).and_then(|node| {
                let spot = pools.iter().any(|p| {
                    p.capacity_type == CapacityType::Spot
                        && node.starts_with(&format!("{}-", p.name))
                });
                if !spot {
                    self.error(
                        &format!("{path}.node"),
                        format!("{node:?} is not in a spot pool"),
                    );
                }
                spot.then_some(ScriptedAction::InterruptSpot { node })
            }),
            other => {
                let names = ScriptedAction::NAMES.join(", ");
                let hint = crate::scenario::diag::did_you_mean_hint(other, ScriptedAction::NAMES);
                self.error(
                    &format!("{path}.action"),
                    format!("unknown action {other:?}{hint}: one of {names}"),
                );
                None
            }
        };
        Some(ScriptedEvent {
            at: at?,
            action: action?,
        })
    }

    /// A node a pool starts with, by name.
    fn event_node(
        &mut self,
        path: &str,
        node: Option<&str>,
        pools: &[NodePoolSpec],
    ) -> Option<String> {
        let field = format!("{path}.node");
        let Some(node) = node else {
            self.error(
                &field,
                "required: the node's name, <pool>-<index> (e.g. general-0)",
            );
            return None;
        };
        let known = pools.iter().any(|p| {
            node.strip_prefix(p.name.as_str())
                .and_then(|rest| rest.strip_prefix('-'))
                .and_then(|index| index.parse::<u32>().ok().filter(|i| i.to_string() == index))
                .is_some_and(|index| index < p.count)
        });
        if !known {
            let first: Vec<String> = pools
                .iter()
                .filter(|p| p.count > 0)
                .map(|p| format!("{}-0 … {}-{}", p.name, p.name, p.count - 1))
                .collect();
            self.error(
                &field,
                format!(
                    "no node {node:?} at the start: the nodes are {}",
                    first.join(", ")
                ),
            );
            return None;
        }
        Some(node.to_string())
    }

    /// A zone some pool's nodes are in.
    fn event_zone(
        &mut self,
        path: &str,
        zone: Option<&str>,
        pools: &[NodePoolSpec],
    ) -> Option<String> {
        let field = format!("{path}.zone");
        let mut zones: Vec<&str> = pools
            .iter()
            .flat_map(|p| p.zones.iter().map(String::as_str))
            .collect();
        zones.sort();
        zones.dedup();
        let Some(zone) = zone else {
            self.error(&field, "required: a zone of the node pools");
            return None;
        };
        if !zones.contains(&zone) {
            self.error(
                &field,
                format!(
                    "no pool has nodes in zone {zone:?} (zones: {})",
                    zones.join(", ")
                ),
            );
            return None;
        }
        Some(zone.to_string())
    }

    fn event_scale(
        &mut self,
        path: &str,
        raw: &RawEvent,
        deployments: &[DeploymentSpec],
    ) -> Option<ScriptedAction> {
        let field = format!("{path}.deployment");
        let Some(name) = raw.deployment.as_deref() else {
            self.error(&field, "required: the Deployment to scale");
            return None;
        };
        let found = deployments
            .iter()
            .position(|d| d.name == name && d.source == PodSource::ReplicaSet);
        let Some(deployment) = found else {
            self.error(&field, format!("no Deployment {name:?} in the manifests"));
            return None;
        };
        match raw.replicas {
            Some(replicas) if replicas >= 0 => Some(ScriptedAction::Scale {
                deployment,
                replicas,
            }),
            Some(_) => {
                self.error(&format!("{path}.replicas"), "must not be negative");
                None
            }
            None => {
                self.error(
                    &format!("{path}.replicas"),
                    "required: the new replica count",
                );
                None
            }
        }
    }
}
