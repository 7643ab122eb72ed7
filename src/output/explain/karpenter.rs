//! `kubesim explain --node` for a node Karpenter launched: why it was bought (the pods, the
//! cheapest of how many instance types), what held it (Karpenter's `Unconsolidatable` and
//! `DisruptionBlocked` messages) and how it went (empty, under-used and replaced, expired).

use std::fmt::Write;

use super::clock;
use crate::controllers::karpenter::KarpenterEvent;
use crate::spec::karpenter::DisruptionReason;

/// The nodes Karpenter launched, in launch order.
pub fn node_names(events: &[KarpenterEvent]) -> Vec<&str> {
    (events.iter())
        .filter_map(|e| match e {
            KarpenterEvent::Launched { node, .. } => Some(node.as_str()),
            _ => None,
        })
        .collect()
}

/// The node's story, one line per event; `None` when Karpenter did not launch it.
pub fn timeline(events: &[KarpenterEvent], node: &str) -> Option<String> {
    let pool = events.iter().find_map(|e| match e {
        KarpenterEvent::Launched {
            node: n, node_pool, ..
        } if n == node => Some(node_pool.as_str()),
        _ => None,
    })?;
    let mut out = format!("as Karpenter saw it (NodePool {pool}):\n");
    for e in events {
        if let Some((t, text)) = sentence(e, node) {
            let _ = writeln!(out, "  {}  {text}", clock(t));
        }
    }
    Some(out)
}

/// One of Karpenter's events, told.
pub struct Told<'a> {
    /// When, in seconds from the start.
    pub t_seconds: f64,
    /// The nodes it is about (none: pending pods no NodePool can take).
    pub nodes: Vec<&'a str>,
    /// A launch, or pods left without one (else a disruption or why there was none).
    pub provisions: bool,
    /// Its sentence.
    pub text: String,
}

/// Every event, told.
pub fn lines(events: &[KarpenterEvent]) -> Vec<Told<'_>> {
    (events.iter())
        .filter_map(|e| {
            let nodes = nodes_of(e);
            let provisions = matches!(
                e,
                KarpenterEvent::Launched { .. } | KarpenterEvent::Unprovisionable { .. }
            );
            let (t, text) = match e {
                KarpenterEvent::ConsolidationRejected { t_seconds, .. } => (
                    *t_seconds,
                    "consolidation rejected: the decision no longer held when it was checked again 15s later, so the node(s) stay".to_string(),
                ),
                KarpenterEvent::Unprovisionable {
                    t_seconds,
                    pods,
                    message,
                } => (
                    *t_seconds,
                    format!("{pods} pending pod(s) no NodePool can launch a node for: {message}"),
                ),
                _ => sentence(e, nodes.first()?)?,
            };
            Some(Told {
                t_seconds: t,
                nodes,
                provisions,
                text,
            })
        })
        .collect()
}

/// The nodes an event is about.
fn nodes_of(e: &KarpenterEvent) -> Vec<&str> {
    match e {
        KarpenterEvent::Launched { node, .. } | KarpenterEvent::Unconsolidatable { node, .. } => {
            vec![node]
        }
        KarpenterEvent::DisruptionBlocked { object, .. } => vec![object],
        KarpenterEvent::Disrupted { nodes, .. }
        | KarpenterEvent::ConsolidationRejected { nodes, .. } => {
            nodes.iter().map(String::as_str).collect()
        }
        KarpenterEvent::Unprovisionable { .. } => Vec::new(),
    }
}

fn sentence(e: &KarpenterEvent, node: &str) -> Option<(f64, String)> {
    Some(match e {
        KarpenterEvent::Launched {
            t_seconds,
            node: n,
            instance_type,
            capacity_type,
            zone,
            price_per_hour,
            pods,
            instance_types,
            reason,
            ..
        } if n == node => {
            let why = match *reason {
                "Provisioning" => format!("for {pods} pending pod(s)"),
                "Drifted" => format!("to replace a drifted node, for {pods} pod(s)"),
                r => format!("to replace under-used node(s) ({r}), for {pods} pod(s)"),
            };
            let text = format!(
                "launched {why}: one {instance_type} ({capacity_type}, {zone}, {price_per_hour} USD/h), the cheapest of the {instance_types} instance type(s) that could take them"
            );
            (*t_seconds, text)
        }
        KarpenterEvent::Unconsolidatable {
            t_seconds,
            node: n,
            message,
        } if n == node => (*t_seconds, format!("not consolidated: {message}")),
        KarpenterEvent::DisruptionBlocked {
            t_seconds,
            object,
            message,
        } if object == node => (*t_seconds, format!("disruption blocked: {message}")),
        KarpenterEvent::Disrupted {
            t_seconds,
            reason,
            nodes,
            replacement,
            price_per_hour,
            replacement_price_per_hour,
        } if nodes.iter().any(|n| n == node) => {
            let how = match (reason, replacement) {
                (DisruptionReason::Empty, _) => "it was empty".to_string(),
                (DisruptionReason::Expired, _) => {
                    "it reached its NodePool's expireAfter".to_string()
                }
                (DisruptionReason::Interrupted, _) => "a spot interruption".to_string(),
                (DisruptionReason::Drifted, Some(t)) => format!(
                    "its NodePool was applied with a spec it no longer matches; its pods went to the other nodes and {t}, launched for them"
                ),
                (DisruptionReason::Drifted, None) => "its NodePool was applied with a spec it no longer matches; its pods (if any) fit on the other nodes".to_string(),
                (_, Some(t)) => format!(
                    "its pods fit on the other nodes and one {t} at {replacement_price_per_hour} USD/h, less than the {price_per_hour} USD/h of the {} node(s) it replaces",
                    nodes.len()
                ),
                (_, None) => format!(
                    "its pods fit on the other nodes ({} node(s), {price_per_hour} USD/h, deleted together)",
                    nodes.len()
                ),
            };
            (
                *t_seconds,
                format!(
                    "disrupted ({}): {how}; drained and deleted",
                    reason.as_str()
                ),
            )
        }
        _ => return None,
    })
}
