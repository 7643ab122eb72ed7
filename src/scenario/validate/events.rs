//! Scripted events (`spec.events`): what happens at a time — node and zone failures and
//! recoveries, `kubectl cordon` / `uncordon` / `drain` / `scale` / `apply` / `rollout undo` /
//! `rollout pause` / `resume` / `delete pod`. Nodes are named as the cluster names them,
//! `<pool>-<index>`, and must be among the nodes a pool starts with, or picked in a pool by a
//! rule when the event happens.

use super::Builder;
use crate::scenario::manifest::{self, ManifestSet};
use crate::scenario::model::{
    AppliedDeployment, CapacityType, DeploymentSpec, HpaSpec, MetricSeries, NodePick, NodePoolSpec,
    NodeRef, PodSource, ScriptedAction, ScriptedEvent, ServiceSpec,
};
use crate::scenario::raw::{RawEvent, RawNodePick, RawNodeRef};
use crate::sim::SimDuration;
use crate::spec::karpenter::AppliedNodePool;

/// The workloads `scale` and `deletePod` act on.
const SCALABLE: &[PodSource] = &[
    PodSource::ReplicaSet,
    PodSource::ReplicationController,
    PodSource::StatefulSet,
];

/// What the events may refer to.
pub(in crate::scenario) struct EventContext<'a> {
    pub pools: &'a [NodePoolSpec],
    pub deployments: &'a [DeploymentSpec],
    pub services: &'a [ServiceSpec],
    /// The scenario's manifests (for the PriorityClasses applied Deployments name).
    pub manifests: &'a ManifestSet,
    pub hpas: &'a [HpaSpec],
    pub metric_series: &'a [MetricSeries],
    pub duration: SimDuration,
    /// Whether the Cluster Autoscaler runs (and may remove nodes).
    pub autoscaler: bool,
    /// Karpenter's NodePools, and the region and clock their offerings and budgets use.
    pub karpenter: Option<KarpenterContext<'a>>,
}

/// What an applied NodePool is checked against.
pub(in crate::scenario) struct KarpenterContext<'a> {
    pub node_pools: &'a [crate::spec::karpenter::NodePool],
    pub region: &'a str,
    pub start: jiff::Timestamp,
}

impl Builder<'_> {
    /// The events, sorted by time (stable: ties keep their written order).
    pub(super) fn events(&mut self, raw: &[RawEvent], ctx: &EventContext) -> Vec<ScriptedEvent> {
        let mut out: Vec<(usize, ScriptedEvent)> = raw
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((i, self.event(&format!("spec.events[{i}]"), e, ctx)?)))
            .collect();
        out.sort_by_key(|(_, e)| e.at);
        self.check_rollbacks(&out, ctx.deployments);
        out.into_iter().map(|(_, e)| e).collect()
    }

    /// A rollback needs a revision to go back to: an `apply` of the Deployment before it.
    fn check_rollbacks(
        &mut self,
        events: &[(usize, ScriptedEvent)],
        deployments: &[DeploymentSpec],
    ) {
        let mut revisions = vec![1u64; deployments.len()];
        for (i, e) in events {
            match &e.action {
                ScriptedAction::Apply { deployments, .. } => {
                    for a in deployments {
                        revisions[a.index] += 1;
                    }
                }
                ScriptedAction::Rollback {
                    deployment,
                    to_revision,
                } => {
                    let known = revisions[*deployment];
                    let name = &deployments[*deployment].name;
                    match to_revision {
                        None if known < 2 => self.error(
                            &format!("spec.events[{i}].deployment"),
                            format!("no earlier apply changes {name:?}: there is no revision to roll back to"),
                        ),
                        Some(r) if *r == 0 || *r > known => self.error(
                            &format!("spec.events[{i}].toRevision"),
                            format!("{name:?} has at most {known} revision(s) by then (revision 1 is the manifests', each apply adds one)"),
                        ),
                        _ => revisions[*deployment] += 1,
                    }
                }
                _ => {}
            }
        }
    }

    fn event(&mut self, path: &str, raw: &RawEvent, ctx: &EventContext) -> Option<ScriptedEvent> {
        let (pools, deployments) = (ctx.pools, ctx.deployments);
        let at = match raw.at {
            Some(at) if at.0 <= ctx.duration => Some(at.0),
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
        let node = |b: &mut Self| b.event_node(path, raw.node.as_ref(), at, ctx);
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
            "apply" => self.event_apply(path, raw, ctx),
            "rollback" => self
                .event_deployment(path, raw, deployments)
                .map(|deployment| ScriptedAction::Rollback {
                    deployment,
                    to_revision: raw.to_revision,
                }),
            "pause" => self
                .event_deployment(path, raw, deployments)
                .map(|deployment| ScriptedAction::Pause { deployment }),
            "resume" => self
                .event_deployment(path, raw, deployments)
                .map(|deployment| ScriptedAction::Resume { deployment }),
            "deletePod" => {
                let count = raw.count.unwrap_or(1);
                if count == 0 {
                    self.error(&format!("{path}.count"), "must be at least 1");
                }
                self.event_workload(path, raw, deployments, SCALABLE)
                    .filter(|_| count > 0)
                    .map(|deployment| ScriptedAction::DeletePods { deployment, count })
            }
            "interruptSpot" => node(self).and_then(|node| {
                let spot = pool_of(&node, pools)
                    .is_some_and(|p| pools[p].capacity_type == CapacityType::Spot);
                if !spot {
                    let what = match &node {
                        NodeRef::Named(name) => format!("{name:?} is not in a spot pool"),
                        NodeRef::Pick { pool, .. } => {
                            format!("pool {:?} is not a spot pool", pools[*pool].name)
                        }
                    };
                    self.error(&format!("{path}.node"), what);
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

    /// The node of a node action: a node a pool starts with, by name, or a pool and a rule
    /// to pick one by when the event happens.
    fn event_node(
        &mut self,
        path: &str,
        node: Option<&RawNodeRef>,
        at: Option<SimDuration>,
        ctx: &EventContext,
    ) -> Option<NodeRef> {
        let field = format!("{path}.node");
        match node {
            None => {
                self.error(&field, "required: the node's name, <pool>-<index> (e.g. general-0), or {pool, pick: random|busiest|newest}");
                None
            }
            Some(RawNodeRef::Named(name)) => {
                let named = self.named_node(&field, name, ctx.pools)?;
                self.warn_node_may_be_gone(&field, &named, at, ctx);
                Some(named)
            }
            Some(RawNodeRef::Pick(pick)) => self.picked_node(&field, pick, ctx.pools),
        }
    }

    /// A node a pool starts with, by name.
    fn named_node(&mut self, field: &str, node: &str, pools: &[NodePoolSpec]) -> Option<NodeRef> {
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
                field,
                format!(
                    "no node {node:?} at the start: the nodes are {}",
                    first.join(", ")
                ),
            );
            return None;
        }
        Some(NodeRef::Named(node.to_string()))
    }

    /// `{pool, pick}`.
    fn picked_node(
        &mut self,
        field: &str,
        raw: &RawNodePick,
        pools: &[NodePoolSpec],
    ) -> Option<NodeRef> {
        let names: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
        let pool = match raw.pool.as_deref() {
            None => {
                self.error(
                    &format!("{field}.pool"),
                    format!(
                        "required: the pool to pick a node in ({})",
                        names.join(", ")
                    ),
                );
                None
            }
            Some(name) => {
                let found = names.iter().position(|n| *n == name);
                if found.is_none() {
                    let hint =
                        crate::scenario::diag::did_you_mean_hint(name, names.iter().copied());
                    self.error(
                        &format!("{field}.pool"),
                        format!(
                            "no node pool {name:?}{hint}: the pools are {}",
                            names.join(", ")
                        ),
                    );
                }
                found
            }
        };
        let rule = match raw.pick.as_deref().unwrap_or("random") {
            "random" => Some(NodePick::Random),
            "busiest" => Some(NodePick::Busiest),
            "newest" => Some(NodePick::Newest),
            other => {
                self.error(&format!("{field}.pick"), format!("{other:?} is not a rule: {} (random draws from the scripted events' own stream; busiest has the most pods; newest was created last)", NodePick::NAMES.join(", ")));
                None
            }
        };
        Some(NodeRef::Pick {
            pool: pool?,
            rule: rule?,
        })
    }

    /// A node named in an event after t = 0 may be gone by then if the Cluster Autoscaler can
    /// shrink its pool.
    fn warn_node_may_be_gone(
        &mut self,
        field: &str,
        node: &NodeRef,
        at: Option<SimDuration>,
        ctx: &EventContext,
    ) {
        let Some(pool) = pool_of(node, ctx.pools) else {
            return;
        };
        let p = &ctx.pools[pool];
        if ctx.autoscaler && p.min_count < p.count && at.is_some_and(|t| !t.is_zero()) {
            let NodeRef::Named(name) = node else {
                return;
            };
            self.warning(field, format!("the Cluster Autoscaler may remove {name:?} before the event (pool {:?} may shrink to minCount {}); if it does, the event is skipped with a warning. {{pool: {}, pick: busiest}} picks a node that exists when the event happens", p.name, p.min_count, p.name));
        }
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

    /// The Deployment (from the manifests) an event names in `deployment`.
    fn event_deployment(
        &mut self,
        path: &str,
        raw: &RawEvent,
        deployments: &[DeploymentSpec],
    ) -> Option<usize> {
        self.event_workload(path, raw, deployments, &[PodSource::ReplicaSet])
    }

    /// The workload of one of `kinds` an event names in `deployment`.
    fn event_workload(
        &mut self,
        path: &str,
        raw: &RawEvent,
        deployments: &[DeploymentSpec],
        kinds: &[PodSource],
    ) -> Option<usize> {
        let what = if kinds.len() > 1 {
            "Deployment or StatefulSet"
        } else {
            "Deployment"
        };
        let field = format!("{path}.deployment");
        let Some(name) = raw.deployment.as_deref() else {
            self.error(&field, format!("required: the name of a {what}"));
            return None;
        };
        let found = deployments
            .iter()
            .position(|d| d.name == name && kinds.contains(&d.source));
        if found.is_none() {
            let names = deployments
                .iter()
                .filter(|d| kinds.contains(&d.source))
                .map(|d| d.name.as_str());
            let hint = crate::scenario::diag::did_you_mean_hint(name, names);
            self.error(&field, format!("no {what} {name:?} in the manifests{hint}"));
        }
        found
    }

    /// `apply`: every Deployment of the manifest must exist already, keep its selector, and
    /// stay selected by the same Services.
    fn event_apply(
        &mut self,
        path: &str,
        raw: &RawEvent,
        ctx: &EventContext,
    ) -> Option<ScriptedAction> {
        let field = format!("{path}.manifest");
        let Some(rel) = raw.manifest.as_deref() else {
            self.error(
                &field,
                "required: the manifest file to apply, relative to the scenario",
            );
            return None;
        };
        let (shown, text) = self.read_relative(&field, rel, "manifest")?;
        let mut applied = ManifestSet::default();
        let errors_before = self.error_count();
        manifest::add_text(&mut applied, &shown, &text, self.diags);
        self.diags.extend(applied.skipped_notes());
        let others = applied.services.len()
            + applied.pdbs.len()
            + applied.priority_classes.len()
            + applied.namespaces.len()
            + applied.jobs.len()
            + applied.cron_jobs.len()
            + applied.pods.len()
            + applied.replication_controllers.len()
            + applied.limit_ranges.len()
            + applied.resource_quotas.len()
            + applied.ingresses.len()
            + applied.node_classes.len();
        if others > 0 {
            self.error(
                &field,
                format!("{shown}: apply changes Deployments, StatefulSets, DaemonSets, HorizontalPodAutoscalers, ConfigMaps, Secrets and Karpenter NodePools only; other kinds in the file are not simulated yet"),
            );
        }
        // The applied templates are admitted as the scenario's are: the LimitRanges of their
        // namespaces default and bound them (the ResourceQuotas apply when pods are created).
        applied.limit_ranges = ctx.manifests.limit_ranges.clone();
        super::super::limit_range::admit(&mut applied, self.diags);
        let configs = super::super::config_refs::ConfigObjects::of_manifests(&applied);
        if applied.deployments.is_empty()
            && applied.daemon_sets.is_empty()
            && applied.stateful_sets.is_empty()
            && applied.hpas.is_empty()
            && configs.is_empty()
            && applied.karpenter_node_pools.is_empty()
        {
            self.error(&field, format!("{shown} has no workload to apply"));
        }
        // The scenario's own PriorityClass errors are reported where they are defined.
        let classes = crate::scenario::priority::priority_classes(ctx.manifests, &mut Vec::new());
        let mut out = Vec::new();
        for m in &applied.deployments {
            let Some(mut spec) = manifest::deployment_spec(m, self.diags) else {
                continue;
            };
            super::resolve_priority(&classes, m, &mut spec.pod, self.diags);
            let stated = m.object.spec.as_ref();
            let replicas = stated.and_then(|s| s.replicas);
            let paused = stated.and_then(|s| s.paused);
            out.extend(self.applied(&m.source, spec, ctx, replicas, paused));
        }
        for m in &applied.stateful_sets {
            let Some(mut spec) = manifest::stateful_set_spec(m, self.diags) else {
                continue;
            };
            super::resolve_priority(&classes, m, &mut spec.pod, self.diags);
            let replicas = m.object.spec.as_ref().and_then(|s| s.replicas);
            out.extend(self.applied(&m.source, spec, ctx, replicas, None));
        }
        for m in &applied.daemon_sets {
            let Some(mut spec) = manifest::daemon_set_spec(m, self.diags) else {
                continue;
            };
            super::resolve_priority(&classes, m, &mut spec.pod, self.diags);
            out.extend(self.applied(&m.source, spec, ctx, None, None));
        }
        let hpas = self.applied_hpas(&applied, ctx);
        let node_pools = self.applied_node_pools_of(&applied, ctx);
        let nothing =
            out.is_empty() && hpas.is_empty() && configs.is_empty() && node_pools.is_empty();
        (self.error_count() == errors_before && !nothing).then(|| ScriptedAction::Apply {
            deployments: out,
            hpas,
            configs: configs.into_objects(),
            node_pools,
        })
    }

    /// The Karpenter NodePools of an applied manifest: each must be one of the scenario's,
    /// with every offering its new spec admits prepared at load (the scenario reads the
    /// applied files ahead for that).
    fn applied_node_pools_of(
        &mut self,
        applied: &ManifestSet,
        ctx: &EventContext,
    ) -> Vec<AppliedNodePool> {
        let Some(k) = &ctx.karpenter else {
            for m in &applied.karpenter_node_pools {
                let message = "apply changes the scenario's NodePools only, and it has none";
                self.diags.push(m.source.error("kind", message));
            }
            return Vec::new();
        };
        let classes = crate::scenario::karpenter::node_class_names(ctx.manifests);
        let clock = (k.region, k.start, ctx.duration);
        let mut out = Vec::new();
        for m in &applied.karpenter_node_pools {
            let found = crate::scenario::karpenter::applied_node_pool(
                m,
                k.node_pools,
                &classes,
                clock,
                self.diags,
            );
            let Some((index, spec, admitted)) = found else {
                continue;
            };
            let mut offerings: Vec<(usize, _, _)> = (admitted.into_iter())
                .filter_map(|o| {
                    let i = ctx.pools.iter().position(|p| p.name == o.name)?;
                    Some((i, o.labels, o.taints))
                })
                .collect();
            offerings.sort_by_key(|o| o.0);
            out.push(AppliedNodePool {
                index,
                spec,
                offerings,
            });
        }
        out
    }

    /// The HPAs of an applied manifest, resolved like the scenario's: each must exist (by name
    /// and namespace) and keep its target.
    fn applied_hpas(&mut self, applied: &ManifestSet, ctx: &EventContext) -> Vec<(usize, HpaSpec)> {
        let specs: Vec<HpaSpec> = applied
            .hpas
            .iter()
            .filter_map(|m| manifest::hpa_spec(m, ctx.deployments, false, self.diags))
            .map(|mut hpa| {
                hpa.keda = applied.keda_activation(&hpa.name, &hpa.namespace);
                hpa
            })
            .collect();
        let specs = self.resolve_pod_metrics(specs, ctx.deployments, applied);
        self.check_resource_metrics(&specs, ctx.deployments, applied);
        let specs = self.resolve_series(specs, ctx.metric_series, ctx.deployments, applied);
        let mut out = Vec::new();
        for (spec, m) in specs.into_iter().zip(&applied.hpas) {
            let existing = ctx
                .hpas
                .iter()
                .position(|h| h.name == spec.name && h.namespace == spec.namespace);
            match existing {
                None => self.diags.push(m.source.error(
                    "metadata.name",
                    format!(
                        "no HorizontalPodAutoscaler {:?} in the scenario's manifests: apply changes HPAs that exist",
                        spec.name
                    ),
                )),
                Some(i) if ctx.hpas[i].target != spec.target => self.diags.push(m.source.error(
                    "spec.scaleTargetRef",
                    "changing an HPA's target is not simulated: apply a new HPA in the scenario instead",
                )),
                Some(i) => out.push((i, spec)),
            }
        }
        out
    }

    /// One applied workload: it must exist (same kind, name and namespace), keep its selector,
    /// and stay selected by the same Services.
    fn applied(
        &mut self,
        src: &manifest::Source,
        mut spec: DeploymentSpec,
        ctx: &EventContext,
        replicas: Option<i32>,
        paused: Option<bool>,
    ) -> Option<AppliedDeployment> {
        let kind = match spec.source {
            PodSource::DaemonSet => "DaemonSet",
            PodSource::StatefulSet => "StatefulSet",
            _ => "Deployment",
        };
        let Some(index) = ctx.deployments.iter().position(|d| {
            d.name == spec.name && d.namespace == spec.namespace && d.source == spec.source
        }) else {
            self.diags.push(src.error(
                "metadata.name",
                format!(
                    "no {kind} {:?} in the scenario's manifests: apply changes workloads that exist",
                    spec.name
                ),
            ));
            return None;
        };
        let current = &ctx.deployments[index];
        if spec.selector != current.selector {
            self.diags
                .push(src.error("spec.selector", "field is immutable"));
        }
        for svc in ctx.services {
            let was = svc.backends.contains(&index);
            let now = svc.namespace == spec.namespace
                && !svc.selector.is_empty()
                && svc.selector.matches(&spec.template_labels);
            if was != now {
                self.diags.push(src.error(
                    "spec.template.metadata.labels",
                    format!(
                        "Service {:?} would {} selecting these pods: changing which Services select a workload is not simulated",
                        svc.name,
                        if now { "start" } else { "stop" }
                    ),
                ));
            }
        }
        spec.workload = current.workload.clone();
        Some(AppliedDeployment {
            index,
            spec,
            replicas,
            paused,
        })
    }

    fn event_scale(
        &mut self,
        path: &str,
        raw: &RawEvent,
        deployments: &[DeploymentSpec],
    ) -> Option<ScriptedAction> {
        let deployment = self.event_workload(path, raw, deployments, SCALABLE)?;
        match raw.replicas {
            Some(replicas) if replicas > crate::scenario::model::MAX_REPLICAS => {
                self.error(
                    &format!("{path}.replicas"),
                    format!(
                        "{replicas} replicas is beyond what one simulation holds: at most {}",
                        crate::scenario::model::MAX_REPLICAS
                    ),
                );
                None
            }
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

/// The pool a node reference is in (by name: the pool whose prefix it has).
fn pool_of(node: &NodeRef, pools: &[NodePoolSpec]) -> Option<usize> {
    match node {
        NodeRef::Pick { pool, .. } => Some(*pool),
        NodeRef::Named(name) => (pools.iter()).position(|p| {
            let index = name
                .strip_prefix(p.name.as_str())
                .and_then(|r| r.strip_prefix('-'));
            index.is_some_and(|i| i.parse::<u32>().is_ok())
        }),
    }
}
