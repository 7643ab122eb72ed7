//! Scale-up: the pods to help, the cluster-wide gate of `--max-nodes-total`, the estimate
//! per node group, the caps (`--max-nodes-total`, `--cores-total`, `--memory-total`), the
//! split over similar groups (`--balance-similar-node-groups`), and the pod events
//! (`TriggeredScaleUp`, `NotTriggerScaleUp`) with upstream's wording.

use crate::cluster::node_row::NodeRow;
use crate::cluster::trial::Trial;
use crate::cluster::{Cluster, Node, NodeId, NodeState, PodId, PoolId};
use crate::controllers::PodEventReason;
use crate::controllers::daemonset;
use crate::controllers::scheduler::{ReasonTally, filter};
use crate::sim::SimTime;

use super::estimator::{self, Bins, PendingPod};
use super::expander::{self, ScaleUpOption};
use super::nodegroupset::{self, GroupSize};
use super::{AutoscalerEvent, ClusterAutoscaler, GroupEstimate, Intent, cluster_totals};

impl ClusterAutoscaler {
    /// Pods the autoscaler acts on: unschedulable for at least `new-pod-scale-up-delay` since
    /// creation, and not DaemonSet pods (a new node would not help a pod pinned to another).
    fn pending_pods(&self, cluster: &Cluster, now: SimTime) -> Vec<PendingPod> {
        cluster
            .unscheduled
            .iter()
            .map(|&id| cluster.pod(id))
            .filter(|p| {
                p.unschedulable_since.is_some()
                    && p.template.daemon_node.is_none()
                    && p.template.priority >= self.settings.expendable_pods_priority_cutoff
                    && now.saturating_since(p.created) >= self.settings.new_pod_scale_up_delay
            })
            .map(|p| PendingPod::of(cluster, p.id))
            .collect()
    }

    /// One scale-up: false when no node was asked for.
    pub(super) fn scale_up(
        &mut self,
        cluster: &mut Cluster,
        now: SimTime,
        intents: &mut Vec<Intent>,
    ) -> bool {
        let pending = self.pending_pods(cluster, now);
        if pending.is_empty() {
            self.last_no_scale_up = 0;
            self.at_max_nodes_total = false;
            return false;
        }
        if self.max_nodes_total_reached(cluster, &pending, now) {
            return false;
        }
        let Some((rest, estimates)) = self.estimate_scale_up(cluster, &pending, now) else {
            return false;
        };
        let cluster: &Cluster = cluster;
        let options = self.options(cluster, estimates);
        let chosen = expander::choose(
            &options,
            &self.settings.expanders,
            &self.settings.priorities,
            &mut self.rng,
        );
        let Some(i) = chosen else {
            self.explain_left_out(cluster, &rest, now);
            if self.last_no_scale_up != rest.len() {
                self.events.push(AutoscalerEvent::NoScaleUp {
                    t_seconds: now.as_secs_f64(),
                    pods: rest.len(),
                });
                self.last_no_scale_up = rest.len();
            }
            return false;
        };
        let split = self.split(cluster, &options[i], now);
        if split.is_empty() {
            return false;
        }
        self.execute(cluster, &options, i, &split, now, intents);
        true
    }

    /// Upstream's gate before any scale-up: with `--max-nodes-total` set and at least that many
    /// Ready nodes, no scale-up is tried; a `MaxNodesTotalReached` warning is logged (once
    /// while it lasts) and every pod gets `NotTriggerScaleUp` with no reasons.
    fn max_nodes_total_reached(
        &mut self,
        cluster: &Cluster,
        pending: &[PendingPod],
        now: SimTime,
    ) -> bool {
        let max = self.settings.max_nodes_total;
        if max == 0 || cluster.ready_nodes.len() < max {
            self.at_max_nodes_total = false;
            return false;
        }
        if !self.at_max_nodes_total {
            self.events.push(AutoscalerEvent::MaxNodesTotalReached {
                t_seconds: now.as_secs_f64(),
                max_nodes_total: max,
                nodes: cluster.ready_nodes.len(),
            });
            self.at_max_nodes_total = true;
        }
        for pod in pending {
            self.pod_events.push((
                pod.id,
                PodEventReason::NotTriggerScaleUp,
                "pod didn't trigger scale-up: ".into(),
            ));
        }
        true
    }

    /// The chosen option's nodes after the caps, spread over its similar groups: as upstream,
    /// `GetCappedNewNodeCount` (nodes that exist or are coming, plus the new ones, at most
    /// `--max-nodes-total`; a `MaxNodesTotalReached` warning when it cuts), the
    /// `cores-total` / `memory-total` quotas (checked with the chosen group's template node),
    /// then `BalanceScaleUpBetweenGroups`.
    fn split(&mut self, cluster: &Cluster, o: &ScaleUpOption, now: SimTime) -> Vec<GroupSize> {
        let (cpu_room, memory_room) = self.quota_room(cluster, o.pool.index());
        let mut nodes = o.nodes.min(cpu_room).min(memory_room);
        let max = self.settings.max_nodes_total;
        let existing = node_count(cluster);
        if max > 0 && nodes + existing > max {
            nodes = max.saturating_sub(existing);
            self.events.push(AutoscalerEvent::MaxNodesTotalReached {
                t_seconds: now.as_secs_f64(),
                max_nodes_total: max,
                nodes: existing,
            });
        }
        let groups: Vec<(usize, usize, usize)> = self
            .balanced_groups(cluster, o, now)
            .into_iter()
            .map(|id| {
                let pool = &cluster.pools[id.index()];
                (id.index(), pool.size, pool.spec.max_count as usize)
            })
            .collect();
        nodegroupset::balance(&groups, nodes)
    }

    /// The groups a scale-up of option `o` is spread over: its own, and with
    /// `--balance-similar-node-groups` every similar group that can grow and would take each
    /// of the option's pods (`ComputeSimilarNodeGroups`).
    fn balanced_groups(&self, cluster: &Cluster, o: &ScaleUpOption, now: SimTime) -> Vec<PoolId> {
        let mut groups = self.similar_groups(cluster, o.pool, &o.template, now);
        groups.retain(|&id| {
            id == o.pool || {
                let template = daemonset::template_node(cluster, id);
                o.pods
                    .iter()
                    .all(|&p| filter::run_filters(&template, &cluster.pod(p).template).is_ok())
            }
        });
        groups
    }

    /// `pool` and, when balancing, the other node groups (not Karpenter's) whose template
    /// nodes are similar to `template` and that may grow now (not in backoff, below their
    /// maximum, room under the quotas).
    fn similar_groups(
        &self,
        cluster: &Cluster,
        pool: PoolId,
        template: &Node,
        now: SimTime,
    ) -> Vec<PoolId> {
        let mut out = vec![pool];
        if !self.settings.balancing.enabled {
            return out;
        }
        for i in 0..cluster.pools.len() {
            let id = PoolId(i as u32);
            if id == pool
                || cluster.pools[i].spec.karpenter.is_some()
                || self.group_room(cluster, i, now).is_err()
            {
                continue;
            }
            let other = daemonset::template_node(cluster, id);
            if nodegroupset::similar(template, &other, &self.settings.balancing) {
                out.push(id);
            }
        }
        out
    }

    /// Asks for the nodes of `split`, with a `ScaleUp` event per group and `TriggeredScaleUp`
    /// for each pod the option packed (`pod triggered scale-up: [{group 1->3 (max: 10)} …]`).
    fn execute(
        &mut self,
        cluster: &Cluster,
        options: &[ScaleUpOption],
        chosen: usize,
        split: &[GroupSize],
        now: SimTime,
        intents: &mut Vec<Intent>,
    ) {
        let o = &options[chosen];
        let infos: Vec<String> = split
            .iter()
            .map(|g| {
                let name = &cluster.pools[g.group].spec.name;
                format!("{{{name} {}->{} (max: {})}}", g.current, g.new, g.max)
            })
            .collect();
        let message = format!("pod triggered scale-up: [{}]", infos.join(" "));
        self.pod_events.extend(
            o.pods
                .iter()
                .map(|&p| (p, PodEventReason::TriggeredScaleUp, message.clone())),
        );
        for g in split {
            let name = &cluster.pools[g.group].spec.name;
            self.events.push(AutoscalerEvent::ScaleUp {
                t_seconds: now.as_secs_f64(),
                pool: name.clone(),
                nodes: g.new - g.current,
                pods: o.pods.len(),
                alternatives: options
                    .iter()
                    .filter(|x| x.pool != o.pool)
                    .map(|x| x.pool_name.to_string())
                    .collect(),
                balanced_with: split
                    .iter()
                    .filter(|x| x.group != g.group)
                    .map(|x| cluster.pools[x.group].spec.name.clone())
                    .collect(),
            });
            intents.push(Intent::AddNodes {
                pool: PoolId(g.group as u32),
                count: (g.new - g.current) as u32,
            });
        }
        self.last_scale_up = Some(now);
        self.last_no_scale_up = 0;
    }

    /// `--enforce-node-group-min-size` (`ScaleUpToNodeGroupMinSize`): every node group below
    /// its minimum and not in backoff grows to it, as far as the cluster's limits allow.
    pub(super) fn scale_up_to_min_size(
        &mut self,
        cluster: &Cluster,
        now: SimTime,
        intents: &mut Vec<Intent>,
    ) {
        for (i, pool) in cluster.pools.iter().enumerate() {
            let short = (pool.spec.min_count as usize).saturating_sub(pool.size);
            if short == 0 {
                continue;
            }
            let Ok(room) = self.group_room(cluster, i, now) else {
                continue;
            };
            let nodes = short.min(room);
            if nodes == 0 {
                continue;
            }
            self.events.push(AutoscalerEvent::ScaleUp {
                t_seconds: now.as_secs_f64(),
                pool: pool.spec.name.clone(),
                nodes,
                pods: 0,
                alternatives: Vec::new(),
                balanced_with: Vec::new(),
            });
            intents.push(Intent::AddNodes {
                pool: PoolId(i as u32),
                count: nodes as u32,
            });
        }
    }

    /// How many nodes group `i` may add in one scale-up's binpacking (its max size, the
    /// cluster's `max-nodes-total` counting nodes that exist or are coming,
    /// `max-nodes-per-scaleup`), or why it may not grow (the phrase of the autoscaler's
    /// `NotTriggerScaleUp` event). A full cluster gives 0, not a reason: as upstream, the
    /// group's estimate then adds no node and its pods wait. The `cores-total` /
    /// `memory-total` quotas only refuse a group that cannot take one node: they cap the
    /// chosen scale-up afterwards ([`Self::quota_room`]), and the pods reported as helped are
    /// all those the uncapped estimate packed.
    fn group_room(&self, cluster: &Cluster, i: usize, now: SimTime) -> Result<usize, &'static str> {
        let room = self.own_room(cluster, i, now)?;
        Ok(room.min(self.cluster_room(cluster)))
    }

    /// Room in group `i` alone (its max size, its backoff, the quotas), without the caps that
    /// hold for the whole cluster.
    fn own_room(&self, cluster: &Cluster, i: usize, now: SimTime) -> Result<usize, &'static str> {
        let pool = &cluster.pools[i];
        if self.backoff[i].until.is_some_and(|t| now < t) {
            return Err("in backoff after failed scale-up");
        }
        let room = (pool.spec.max_count as usize).saturating_sub(pool.size);
        if room == 0 {
            return Err("max node group size reached");
        }
        let (cpu_room, memory_room) = self.quota_room(cluster, i);
        if cpu_room == 0 {
            return Err("max cluster cpu limit reached");
        }
        if memory_room == 0 {
            return Err("max cluster memory limit reached");
        }
        Ok(room)
    }

    /// The caps on any one scale-up: `--max-nodes-total` less the nodes that exist or are
    /// coming, and `--max-nodes-per-scaleup`.
    fn cluster_room(&self, cluster: &Cluster) -> usize {
        let total_room = match self.settings.max_nodes_total {
            0 => usize::MAX,
            max => max.saturating_sub(node_count(cluster)),
        };
        total_room.min(self.settings.max_nodes_per_scaleup)
    }

    /// The binpacking limit for group `i`: its room, or with balancing the room of it and its
    /// similar groups together (upstream's similar-node-group capacity threshold).
    fn binpacking_room(
        &self,
        cluster: &Cluster,
        i: usize,
        now: SimTime,
    ) -> Result<usize, &'static str> {
        let own = self.own_room(cluster, i, now)?;
        if !self.settings.balancing.enabled {
            return Ok(own.min(self.cluster_room(cluster)));
        }
        let id = PoolId(i as u32);
        let template = daemonset::template_node(cluster, id);
        let together: usize = self
            .similar_groups(cluster, id, &template, now)
            .into_iter()
            .map(|g| {
                let pool = &cluster.pools[g.index()];
                (pool.spec.max_count as usize).saturating_sub(pool.size)
            })
            .sum();
        Ok(together.min(self.cluster_room(cluster)))
    }

    /// How many of group `i`'s nodes the `cores-total` and `memory-total` maxima leave room
    /// for: (by cores, by memory).
    fn quota_room(&self, cluster: &Cluster, i: usize) -> (usize, usize) {
        let (cores, memory) = cluster_totals(cluster);
        let template = &cluster.pools[i].spec.allocatable;
        let within = |used: i64, max: i64, per_node: i64| match per_node {
            0 => usize::MAX,
            _ => usize::try_from((max - used) / per_node).unwrap_or(0),
        };
        (
            within(
                cores,
                self.settings.cores_total.1 * 1000,
                template.cpu_millis,
            ),
            within(
                memory,
                self.settings.memory_total_gib.1 << 30,
                template.memory_bytes,
            ),
        )
    }

    /// `NotTriggerScaleUp` for each pod of `rest` that fits the template node of no node
    /// group that may grow, with the reasons every group refused it (`pod didn't trigger
    /// scale-up: 1 max node group size reached, 2 Insufficient nvidia.com/gpu`): upstream's
    /// `PodsRemainUnschedulable`, reported only when no scale-up happens. Pods some group
    /// could take get nothing: a later loop may help them.
    fn explain_left_out(&mut self, cluster: &Cluster, rest: &[PendingPod], now: SimTime) {
        let groups: Vec<Result<Node, &'static str>> = (0..cluster.pools.len())
            .filter(|&i| cluster.pools[i].spec.karpenter.is_none())
            .map(|i| {
                self.group_room(cluster, i, now)
                    .map(|_| daemonset::template_node(cluster, PoolId(i as u32)))
            })
            .collect();
        for pod in rest {
            let mut tally = ReasonTally::default();
            let mut fits_somewhere = false;
            for group in &groups {
                match group {
                    Err(why) => tally.add(why),
                    Ok(node) => match filter::run_filters(node, &pod.template) {
                        Ok(()) => fits_somewhere = true,
                        Err(first) => {
                            let row = NodeRow::of(node);
                            filter::each_reason(node, &row, &pod.template, first, |r| {
                                tally.add(&r.to_string())
                            })
                        }
                    },
                }
            }
            if fits_somewhere {
                continue;
            }
            let message = format!("pod didn't trigger scale-up: {}", tally.message());
            self.pod_events
                .push((pod.id, PodEventReason::NotTriggerScaleUp, message));
        }
    }

    /// The scale-up simulation, in a [`Trial`] of the cluster. `FilterOutSchedulable`: pods
    /// that fit on a Ready node (the scheduler has not retried them yet) need no new node;
    /// then the upcoming nodes take what they can. For the `rest`, if any, each node group
    /// that can grow gets an estimate (with its template node) for packing them on new nodes.
    fn estimate_scale_up(
        &self,
        cluster: &mut Cluster,
        pending: &[PendingPod],
        now: SimTime,
    ) -> Option<(Vec<PendingPod>, Vec<GroupEstimate>)> {
        let templates = pending.iter().map(|p| &*p.template);
        let mut bins = Bins::for_templates(cluster, &self.profiles, templates);
        let mut trial = Trial::new(cluster);
        for i in 0..trial.ready_nodes.len() {
            let node = trial.ready_nodes[i];
            bins.add_existing(&mut trial, node);
        }
        let pending = estimator::place_on(&mut trial, &mut bins, pending);
        let mut bins = bins.without_bins();
        let upcoming: Vec<NodeId> = trial
            .nodes
            .iter()
            .filter(|n| n.state == NodeState::Provisioning)
            .map(|n| n.id)
            .collect();
        for node in upcoming {
            bins.add_existing(&mut trial, node);
        }
        let rest = estimator::place_on(&mut trial, &mut bins, &pending);
        if rest.is_empty() {
            return None;
        }
        let bins = bins.without_bins();
        let mut estimates = Vec::new();
        for i in 0..trial.pools.len() {
            if trial.pools[i].spec.karpenter.is_some() {
                continue; // Karpenter's, not a node group
            }
            let Ok(room) = self.binpacking_room(&trial, i, now) else {
                continue;
            };
            let id = PoolId(i as u32);
            let template = daemonset::template_node(&trial, id);
            let mark = trial.mark();
            let estimate =
                estimator::binpacking(&mut trial, &mut bins.clone(), &rest, &template, room);
            trial.rollback_to(mark);
            if estimate.nodes > 0 {
                estimates.push(GroupEstimate {
                    pool: id,
                    estimate,
                    template,
                });
            }
        }
        Some((rest, estimates))
    }

    /// One option per node group whose estimate helps some pods.
    fn options<'c>(
        &self,
        cluster: &'c Cluster,
        estimates: Vec<GroupEstimate>,
    ) -> Vec<ScaleUpOption<'c>> {
        estimates
            .into_iter()
            .map(
                |GroupEstimate {
                     pool: id,
                     estimate,
                     template,
                 }| {
                    let pool = &cluster.pools[id.index()];
                    let (cpu, memory) = requested_by(cluster, &estimate.pods);
                    ScaleUpOption {
                        pool: id,
                        pool_name: &pool.spec.name,
                        nodes: estimate.nodes,
                        pods: estimate.pods,
                        pod_cpu_millis: cpu,
                        pod_memory_bytes: memory,
                        template,
                        price_per_hour: pool.spec.billed_price_per_hour(),
                        preferred_cpu_millis: expander::preferred_node_cpu_millis(
                            cluster.ready_nodes.len(),
                        ),
                    }
                },
            )
            .collect()
    }
}

/// Nodes that exist or are coming (upstream's `len(nodes)` with the upcoming nodes in the
/// snapshot), as `--max-nodes-total` counts them.
fn node_count(cluster: &Cluster) -> usize {
    cluster.pools.iter().map(|p| p.size).sum()
}

/// Σ cpu and memory requests of some pods.
fn requested_by(cluster: &Cluster, pods: &[PodId]) -> (i64, i64) {
    pods.iter().fold((0, 0), |(cpu, mem), &p| {
        let r = &cluster.pod(p).template.requests;
        (cpu + r.cpu_millis, mem + r.memory_bytes)
    })
}
