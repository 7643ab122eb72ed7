//! Karpenter's provisioner: pods into NodeClaims, and which offering each NodeClaim buys
//! (`pkg/controllers/provisioning/scheduling/scheduler.go`; the AWS provider's
//! `instance.go` and `filter.go` for the choice at launch).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Karpenter, KarpenterEvent, secs};
use crate::cluster::trial::Trial;
use crate::cluster::{Cluster, Node, NodeId, NodeState, Pod, PodId, PoolId};
use crate::controllers::Intent;
use crate::controllers::autoscaler::estimator::{self, Bins, PendingPod};
use crate::controllers::daemonset;
use crate::controllers::scheduler::filter;
use crate::scenario::PodTemplate;
use crate::sim::SimTime;
use crate::spec::karpenter::Capacity;
use crate::spec::model::CapacityType;

/// A NodeClaim planned in one pass.
#[derive(Clone, Debug)]
pub struct Claim {
    /// Its NodePool.
    pub node_pool: usize,
    /// The pods planned onto it.
    pub pods: Vec<PodId>,
    /// The offerings that take them all: each offering's template node with the pods (and
    /// the DaemonSet pods it will run) reserved.
    pub options: Vec<Node>,
}

impl Claim {
    /// Adds the pod if some option still takes it; the others are dropped.
    fn try_add(&mut self, pod: &Pod) -> bool {
        let fits: Vec<bool> = (self.options.iter())
            .map(|n| filter::run_filters(n, &pod.template).is_ok())
            .collect();
        if !fits.contains(&true) {
            return false;
        }
        let mut keep = fits.into_iter();
        self.options.retain(|_| keep.next().unwrap_or(false));
        for n in &mut self.options {
            n.reserve(&pod.template);
        }
        self.pods.push(pod.id);
        true
    }

    /// The offering bought at launch: spot when any spot option is left (the AWS provider's
    /// capacity-type order), GPU types only when nothing else is, then the cheapest (ties:
    /// the first pool).
    pub fn launch(&self, cluster: &Cluster) -> PoolId {
        let spec = |n: &Node| &cluster.pools[n.pool.index()].spec;
        let exotic = |n: &Node| spec(n).karpenter.as_ref().is_some_and(|o| o.exotic);
        let spot = |n: &Node| spec(n).capacity_type == CapacityType::Spot;
        let any_plain = self.options.iter().any(|n| !exotic(n));
        let any_spot = (self.options.iter()).any(|n| spot(n) && (!any_plain || !exotic(n)));
        let chosen = (self.options.iter())
            .filter(|n| !any_plain || !exotic(n))
            .filter(|n| !any_spot || spot(n))
            .min_by(|a, b| {
                let (pa, pb) = (
                    spec(a).billed_price_per_hour(),
                    spec(b).billed_price_per_hour(),
                );
                pa.total_cmp(&pb).then(a.pool.cmp(&b.pool))
            });
        chosen.map_or(self.options[0].pool, |n| n.pool)
    }

    /// How many distinct instance types could take the pods.
    pub fn instance_types(&self, cluster: &Cluster) -> usize {
        let mut types: Vec<&str> = (self.options.iter())
            .filter_map(|n| cluster.pools[n.pool.index()].spec.instance_type.as_deref())
            .collect();
        types.sort_unstable();
        types.dedup();
        types.len()
    }
}

/// Each offering's empty template node with its DaemonSet pods reserved, built on first use and
/// kept while the DaemonSets' pod templates stay the same.
#[derive(Default)]
pub struct Templates {
    cache: RefCell<TemplateCache>,
}

/// The DaemonSets' pod templates the cached nodes were built with, and the nodes.
#[derive(Default)]
struct TemplateCache {
    daemons: Vec<Arc<PodTemplate>>,
    nodes: BTreeMap<PoolId, Arc<Node>>,
}

/// Which nodes a group of pods may be placed on (`true`: skip the node).
pub type Skip<'a> = &'a dyn Fn(&Node) -> bool;

impl Templates {
    /// The template node of offering `pool`.
    fn get(&self, cluster: &Cluster, pool: PoolId) -> Arc<Node> {
        let mut cache = self.cache.borrow_mut();
        let daemons: Vec<Arc<PodTemplate>> = (cluster.deployments.iter())
            .filter(|d| d.is_daemon_set())
            .map(|d| Arc::clone(cluster.current_template(d.id)))
            .collect();
        let same = cache.daemons.len() == daemons.len()
            && cache
                .daemons
                .iter()
                .zip(&daemons)
                .all(|(a, b)| Arc::ptr_eq(a, b));
        if !same {
            *cache = TemplateCache {
                daemons,
                nodes: BTreeMap::new(),
            };
        }
        let node = (cache.nodes.entry(pool))
            .or_insert_with(|| Arc::new(daemonset::template_node(cluster, pool)));
        Arc::clone(node)
    }
}

/// Packs pods into new NodeClaims, NodePool by NodePool.
pub struct Packer<'k> {
    karpenter: &'k Karpenter,
    /// NodePools in the order they are tried: weight descending, then name descending.
    order: Vec<usize>,
    /// Each NodePool's capacity in use: its nodes, and the claims planned (each counted at its
    /// largest option, as upstream's `subtractMax`).
    used: Vec<Capacity>,
    /// The claims planned.
    pub claims: Vec<Claim>,
}

impl<'k> Packer<'k> {
    /// A packer with the NodePools' current usage.
    pub fn new(karpenter: &'k Karpenter, cluster: &Cluster) -> Self {
        let pools = &karpenter.settings.node_pools;
        let mut order: Vec<usize> = (0..pools.len()).collect();
        order.sort_by(|&a, &b| {
            (pools[b].weight.cmp(&pools[a].weight)).then(pools[b].name.cmp(&pools[a].name))
        });
        let mut used = vec![Capacity::default(); pools.len()];
        for n in cluster
            .nodes
            .iter()
            .filter(|n| n.state != NodeState::Removed)
        {
            if let Some(o) = &cluster.pools[n.pool.index()].spec.karpenter {
                used[o.node_pool] = used[o.node_pool].plus(o.capacity);
            }
        }
        Packer {
            karpenter,
            order,
            used,
            claims: Vec::new(),
        }
    }

    /// Plans the pod onto a claim: one already planned (fewest pods first), else a new one of
    /// the first NodePool that can take it. The error says why none can.
    pub fn add(&mut self, cluster: &Cluster, pod: &Pod) -> Result<(), String> {
        let mut by_size: Vec<usize> = (0..self.claims.len()).collect();
        by_size.sort_by_key(|&i| self.claims[i].pods.len());
        if by_size.into_iter().any(|i| self.claims[i].try_add(pod)) {
            return Ok(());
        }
        let mut why = Vec::new();
        for k in 0..self.order.len() {
            let np = self.order[k];
            match self.new_claim(cluster, np, pod) {
                Ok(claim) => {
                    let largest = claim_capacity(cluster, &claim);
                    self.used[np] = self.used[np].plus(largest);
                    self.claims.push(claim);
                    return Ok(());
                }
                Err(e) => why.push(e),
            }
        }
        Err(why.join("; "))
    }

    fn new_claim(&mut self, cluster: &Cluster, np: usize, pod: &Pod) -> Result<Claim, String> {
        let pool = &self.karpenter.settings.node_pools[np];
        let mut within_limits = 0;
        let mut options = Vec::new();
        let mut first_unfit = None;
        for &p in &self.karpenter.offerings[np] {
            let capacity = cluster.pools[p.index()]
                .spec
                .karpenter
                .as_ref()
                .map(|o| o.capacity);
            let usage = self.used[np].plus(capacity.unwrap_or_default());
            if pool.limits.exceeded_by(usage).is_some() {
                continue;
            }
            within_limits += 1;
            let template = self.karpenter.templates.get(cluster, p);
            match filter::run_filters(&template, &pod.template) {
                Ok(()) => {
                    let mut node = Node::clone(&template);
                    node.reserve(&pod.template);
                    options.push(node);
                }
                Err(e) if first_unfit.is_none() => first_unfit = Some(e.to_string()),
                Err(_) => {}
            }
        }
        if within_limits == 0 {
            return Err(format!(
                "all available instance types exceed limits for nodepool: {:?}",
                pool.name
            ));
        }
        if options.is_empty() {
            return Err(format!(
                "incompatible with nodepool {:?}: no instance type met the scheduling requirements or had enough resources ({})",
                pool.name,
                first_unfit.unwrap_or_default()
            ));
        }
        Ok(Claim {
            node_pool: np,
            pods: vec![pod.id],
            options,
        })
    }
}

/// The largest capacity among a claim's options (`subtractMax`).
fn claim_capacity(cluster: &Cluster, claim: &Claim) -> Capacity {
    let caps = (claim.options.iter())
        .filter_map(|n| cluster.pools[n.pool.index()].spec.karpenter.as_ref())
        .map(|o| o.capacity);
    caps.fold(Capacity::default(), |m, c| Capacity {
        cpu_millis: m.cpu_millis.max(c.cpu_millis),
        memory_bytes: m.memory_bytes.max(c.memory_bytes),
        gpus: m.gpus.max(c.gpus),
        nodes: 1,
    })
}

/// Karpenter's pod order: CPU request descending, then memory, then creation, then id
/// (`byCPUAndMemoryDescending`).
pub fn by_cpu_and_memory_descending(cluster: &Cluster, pods: &mut [PodId]) {
    pods.sort_by(|&a, &b| {
        let (pa, pb) = (cluster.pod(a), cluster.pod(b));
        let r = |p: &Pod| {
            (
                p.template.requests.cpu_millis,
                p.template.requests.memory_bytes,
            )
        };
        r(pb)
            .cmp(&r(pa))
            .then(pa.created.cmp(&pb.created))
            .then(a.cmp(&b))
    });
}

/// Groups of pods placed, in turn, on the cluster's nodes (Ready and launching, not being
/// deleted) where they fit, first fit — each group on the nodes its `skip` keeps, seeing the
/// room the groups before it took; returns each group's pods that found none. The cluster is
/// as it was afterwards.
pub fn place_on_existing(cluster: &mut Cluster, groups: &[(&[PodId], Skip)]) -> Vec<Vec<PodId>> {
    let mut trial = Trial::new(cluster);
    let mut left = Vec::new();
    for (pods, skip) in groups {
        let pending: Vec<PendingPod> = pods.iter().map(|&p| PendingPod::of(&trial, p)).collect();
        let mut bins = Bins::node_local();
        let nodes: Vec<_> = (trial.nodes.iter())
            .filter(|n| matches!(n.state, NodeState::Ready | NodeState::Provisioning))
            .filter(|n| !n.is_to_be_deleted() && !skip(n))
            .map(|n| n.id)
            .collect();
        for node in nodes {
            bins.add_existing(&mut trial, node);
        }
        let rest = estimator::place_on(&mut trial, &mut bins, &pending);
        left.push(rest.into_iter().map(|p| p.id).collect());
    }
    left
}

impl Karpenter {
    /// Pods Karpenter provisions for: unschedulable, not bound or nominated by preemption, not
    /// DaemonSet pods.
    pub(super) fn provisionable(&self, cluster: &Cluster) -> Vec<PodId> {
        let mut pods: Vec<PodId> = (cluster.unscheduled.iter())
            .map(|&id| cluster.pod(id))
            .filter(|p| {
                p.unschedulable_since.is_some()
                    && p.nominated_node.is_none()
                    && p.template.daemon_node.is_none()
                    && p.deletion.is_none()
            })
            .map(|p| p.id)
            .collect();
        by_cpu_and_memory_descending(cluster, &mut pods);
        pods
    }

    /// The batch closed: plan NodeClaims for its pods and launch them.
    pub fn provision(&mut self, cluster: &mut Cluster, now: SimTime) -> Vec<Intent> {
        self.batch = None;
        let pods = self.provisionable(cluster);
        if pods.is_empty() {
            return Vec::new();
        }
        let keep_all: Skip = &|_| false;
        let rest = place_on_existing(cluster, &[(&pods, keep_all)]).remove(0);
        let cluster: &Cluster = cluster;
        let mut packer = Packer::new(self, cluster);
        let mut failed = Vec::new();
        for &id in &rest {
            if let Err(why) = packer.add(cluster, cluster.pod(id)) {
                failed.push(why);
            }
        }
        let claims = std::mem::take(&mut packer.claims);
        self.note_unprovisionable(&failed, now);
        let first = cluster.nodes.len();
        (claims.iter().enumerate())
            .map(|(i, c)| self.launch(cluster, c, "Provisioning", now, NodeId((first + i) as u32)))
            .collect()
    }

    /// Launches a claim's offering as node `id` (the next the cluster adds): the intent, and
    /// the `Launched` event.
    pub(super) fn launch(
        &mut self,
        cluster: &Cluster,
        claim: &Claim,
        reason: &'static str,
        now: SimTime,
        id: NodeId,
    ) -> Intent {
        let pool = claim.launch(cluster);
        let revision = self.static_revision[claim.node_pool];
        self.launched_revision.insert(id, revision);
        let spec = &cluster.pools[pool.index()].spec;
        self.events.push(KarpenterEvent::Launched {
            t_seconds: secs(now),
            node_pool: self.settings.node_pools[claim.node_pool].name.clone(),
            node: cluster.node_name(pool, id),
            instance_type: spec.instance_type.clone().unwrap_or_default(),
            capacity_type: spec.capacity_type.as_str(),
            zone: spec.zones.first().cloned().unwrap_or_default(),
            price_per_hour: spec.billed_price_per_hour(),
            pods: claim.pods.len(),
            instance_types: claim.instance_types(cluster),
            reason,
        });
        Intent::AddNodes { pool, count: 1 }
    }

    fn note_unprovisionable(&mut self, failed: &[String], now: SimTime) {
        if failed.len() != self.last_unprovisionable && !failed.is_empty() {
            self.events.push(KarpenterEvent::Unprovisionable {
                t_seconds: secs(now),
                pods: failed.len(),
                message: format!("Failed to schedule pod, {}", failed[0]),
            });
        }
        self.last_unprovisionable = failed.len();
    }
}
