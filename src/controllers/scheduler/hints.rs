//! Queueing hints (C.2 step 1): which cluster events can make a pod in the unschedulable pool
//! schedulable. Each default filter plugin registers the events that can undo its rejection
//! (`EventsToRegister`) and, per event, a check of the pod against what changed
//! (`QueueingHintFn`); only the plugins that rejected the pod are asked, and the pod leaves
//! the pool when one of them says it may fit now. SchedulerQueueingHints is on by default
//! since Kubernetes 1.32 and GA since 1.34.
//!
//! | event | plugins registered | their hint |
//! |---|---|---|
//! | an assigned pod deleted | NodeResourcesFit | always (room freed) |
//! | | NodePorts | the deleted pod's host ports conflicted with the pod's |
//! | | PodTopologySpread | same namespace, matched by a `DoNotSchedule` constraint's selector |
//! | | InterPodAffinity | it matched all of the pod's required anti-affinity terms |
//! | a pod bound | PodTopologySpread | as for a deletion |
//! | | InterPodAffinity | it matches all of the pod's required affinity terms |
//! | an assigned pod's requests shrank in place | NodeResourcesFit | always |
//! | a node added, Ready again or uncordoned | every plugin | always (see below) |
//!
//! A pod that no plugin rejected (there were no nodes) leaves the pool on any event.
//!
//! Node events move every parked pod: the Filter here sees only Ready nodes, so a pod is never
//! recorded as rejected by TaintToleration for a node's `not-ready` taint, as upstream's would
//! be, and the node-side hints (does the new node fit, match, tolerate) are not asked. A pod
//! the new node cannot take is tried once more and parked again. A node removed moves nothing
//! (upstream's PodTopologySpread registers for node deletions, where a domain that goes away
//! can lower a skew: not modelled).
//!
//! Sources: each plugin's `EventsToRegister` and `isSchedulableAfter…` functions in
//! `pkg/scheduler/framework/plugins/{noderesources/fit.go, nodeports/node_ports.go,
//! podtopologyspread/plugin.go, interpodaffinity/plugin.go}`; `isPodWorthRequeuing` in
//! `pkg/scheduler/backend/queue/scheduling_queue.go`.

use super::filter::{FilterPlugin, Rejectors};
use super::profile::SpreadDefaults;
use super::{interpod, spread};
use crate::scenario::PodTemplate;

/// A change in the cluster the scheduling queue reacts to (upstream's `ClusterEvent`).
#[derive(Clone, Copy, Debug)]
pub enum QueueEvent<'a> {
    /// A pod bound to a node was deleted: its requests, host ports and labels left the node.
    AssignedPodDeleted(&'a PodTemplate),
    /// A pod was bound to a node.
    AssignedPodAdded(&'a PodTemplate),
    /// A bound pod's requests shrank in place (`UpdatePodScaleDown`).
    AssignedPodScaledDown,
    /// A node was added, became Ready again or was uncordoned.
    NodeChanged,
}

impl QueueEvent<'_> {
    /// The filter plugins registered for this event.
    pub fn registered(&self) -> Rejectors {
        use FilterPlugin::*;
        match self {
            QueueEvent::AssignedPodDeleted(_) => Rejectors::of(&[
                NodeResourcesFit,
                NodePorts,
                PodTopologySpread,
                InterPodAffinity,
            ]),
            QueueEvent::AssignedPodAdded(_) => {
                Rejectors::of(&[PodTopologySpread, InterPodAffinity])
            }
            QueueEvent::AssignedPodScaledDown => Rejectors::of(&[NodeResourcesFit]),
            QueueEvent::NodeChanged => Rejectors::ALL,
        }
    }

    /// Whether one of `plugins` (those that rejected `pending` and registered for this event)
    /// says the event may make it schedulable.
    pub fn may_help(
        &self,
        pending: &PodTemplate,
        plugins: Rejectors,
        defaults: &SpreadDefaults,
    ) -> bool {
        use FilterPlugin::*;
        let affinity = &pending.pod_affinity;
        let spread = |other| spread::counts_for_hard_constraint(pending, defaults, other);
        match *self {
            QueueEvent::AssignedPodDeleted(gone) => {
                plugins.has(NodeResourcesFit)
                    || plugins.has(NodePorts) && ports_conflict(pending, gone)
                    || plugins.has(PodTopologySpread) && spread(gone)
                    || plugins.has(InterPodAffinity)
                        && interpod::matches_all(&affinity.required_anti, &pending.namespace, gone)
            }
            QueueEvent::AssignedPodAdded(added) => {
                plugins.has(PodTopologySpread) && spread(added)
                    || plugins.has(InterPodAffinity)
                        && interpod::matches_all(&affinity.required, &pending.namespace, added)
            }
            QueueEvent::AssignedPodScaledDown | QueueEvent::NodeChanged => true,
        }
    }
}

/// When a pod that `rejected_by` turned down is tried again, in a sentence (for `kubesim
/// explain --pod`): the events its plugins registered for, or any event when none rejected it.
pub fn retried_when(rejected_by: Rejectors) -> String {
    use FilterPlugin::*;
    if rejected_by.is_empty() {
        return "It is tried again on any cluster event once its backoff is over (no plugin \
            rejected it: there were no nodes), or after 5 minutes in the unschedulable pool."
            .to_string();
    }
    let mut when = vec!["a node is added, becomes Ready or is uncordoned"];
    let phrases = [
        (
            NodeResourcesFit,
            "a pod bound to a node is deleted or shrinks in place",
        ),
        (
            NodePorts,
            "a pod holding a host port it asks for is deleted",
        ),
        (
            PodTopologySpread,
            "a pod its DoNotSchedule spread constraint counts is bound or deleted",
        ),
        (
            InterPodAffinity,
            "a pod its required affinity matches is bound, or one its anti-affinity matches is deleted",
        ),
    ];
    for (plugin, phrase) in phrases {
        if rejected_by.has(plugin) {
            when.push(phrase);
        }
    }
    let names: Vec<&str> = FilterPlugin::ALL
        .iter()
        .filter(|p| rejected_by.has(**p))
        .map(FilterPlugin::name)
        .collect();
    format!(
        "Rejected by {}: it is tried again when {}, or after 5 minutes in the unschedulable pool.",
        names.join(", "),
        when.join("; when ")
    )
}

/// Whether a host port of `pending` is one `gone` held.
fn ports_conflict(pending: &PodTemplate, gone: &PodTemplate) -> bool {
    (pending.host_ports.iter()).any(|want| gone.host_ports.iter().any(|p| want.conflicts_with(p)))
}

#[cfg(test)]
mod tests {
    use super::FilterPlugin::*;
    use super::*;
    use crate::controllers::scheduler::test_pod;
    use crate::scenario::{AffinityTerm, HostPort, SpreadConstraint};
    use crate::spec::selector::LabelSelector;

    fn labelled(namespace: &str, app: &str) -> PodTemplate {
        let mut p = test_pod(100, 0);
        p.namespace = namespace.into();
        p.labels = [("app".to_string(), app.to_string())].into();
        p
    }

    fn app_selector(app: &str) -> LabelSelector {
        LabelSelector::from_match_labels([("app".to_string(), app.to_string())].into())
    }

    fn term(app: &str) -> AffinityTerm {
        AffinityTerm {
            selector: Some(app_selector(app)),
            namespaces: Vec::new(),
            all_namespaces: false,
            topology_key: "zone".into(),
        }
    }

    fn port(n: i32) -> HostPort {
        HostPort {
            ip: "0.0.0.0".into(),
            protocol: "TCP".into(),
            port: n,
        }
    }

    #[test]
    fn each_plugin_asks_whether_the_pod_that_changed_concerns_the_pending_pod() {
        let defaults = SpreadDefaults::System;
        let ask = |event: QueueEvent, pending: &PodTemplate, plugins: &[FilterPlugin]| {
            let plugins = Rejectors::of(plugins).and(event.registered());
            event.may_help(pending, plugins, &defaults)
        };
        let web = labelled("shop", "web");
        let db = labelled("shop", "db");
        let web_elsewhere = labelled("other", "web");
        // NodeResourcesFit: any assigned pod deleted frees room; a bind never does.
        let pending = labelled("shop", "api");
        assert!(ask(
            QueueEvent::AssignedPodDeleted(&db),
            &pending,
            &[NodeResourcesFit]
        ));
        assert!(!ask(
            QueueEvent::AssignedPodAdded(&db),
            &pending,
            &[NodeResourcesFit]
        ));
        // NodePorts: only a deleted pod that held a port the pending pod wants.
        let mut wants_80 = pending.clone();
        wants_80.host_ports = vec![port(80)];
        let (mut held_80, mut held_81) = (db.clone(), db.clone());
        held_80.host_ports = vec![port(80)];
        held_81.host_ports = vec![port(81)];
        assert!(ask(
            QueueEvent::AssignedPodDeleted(&held_80),
            &wants_80,
            &[NodePorts]
        ));
        assert!(!ask(
            QueueEvent::AssignedPodDeleted(&held_81),
            &wants_80,
            &[NodePorts]
        ));
        // PodTopologySpread: a pod its DoNotSchedule selector counts, in its namespace, bound
        // or deleted; a ScheduleAnyway constraint is not asked.
        let mut spread = pending.clone();
        spread.topology_spread = vec![SpreadConstraint {
            max_skew: 1,
            topology_key: "zone".into(),
            hard: true,
            selector: Some(app_selector("web")),
            match_label_keys: Vec::new(),
            min_domains: 1,
            honor_node_affinity: true,
            honor_node_taints: false,
        }];
        let plugins = &[PodTopologySpread];
        assert!(ask(QueueEvent::AssignedPodAdded(&web), &spread, plugins));
        assert!(ask(QueueEvent::AssignedPodDeleted(&web), &spread, plugins));
        assert!(!ask(QueueEvent::AssignedPodAdded(&db), &spread, plugins));
        assert!(!ask(
            QueueEvent::AssignedPodAdded(&web_elsewhere),
            &spread,
            plugins
        ));
        spread.topology_spread[0].hard = false;
        assert!(!ask(QueueEvent::AssignedPodAdded(&web), &spread, plugins));
        // InterPodAffinity: a bound pod matching all required affinity terms; a deleted pod
        // matching all required anti-affinity terms (none: never).
        let mut near_web = pending.clone();
        near_web.pod_affinity.required = vec![term("web")];
        let plugins = &[InterPodAffinity];
        assert!(ask(QueueEvent::AssignedPodAdded(&web), &near_web, plugins));
        assert!(!ask(QueueEvent::AssignedPodAdded(&db), &near_web, plugins));
        assert!(!ask(
            QueueEvent::AssignedPodDeleted(&web),
            &near_web,
            plugins
        ));
        let mut away_from_db = pending.clone();
        away_from_db.pod_affinity.required_anti = vec![term("db")];
        assert!(ask(
            QueueEvent::AssignedPodDeleted(&db),
            &away_from_db,
            plugins
        ));
        assert!(!ask(
            QueueEvent::AssignedPodDeleted(&web),
            &away_from_db,
            plugins
        ));
        // Node-only plugins registered for no pod event: nothing is asked, nothing moves.
        let plugins = Rejectors::of(&[NodeAffinity, TaintToleration]);
        let registered = QueueEvent::AssignedPodDeleted(&db).registered();
        assert!(plugins.and(registered).is_empty());
    }
}
