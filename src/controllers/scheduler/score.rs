//! Score plugins with kube-scheduler's integer formulas (MaxNodeScore = 100).

use super::profile::{ResourceWeight, ScoringKind, ScoringStrategy};
use crate::cluster::Node;
use crate::cluster::node_row::{NodeRow, ResourceName};
use crate::cluster::resources::{CPU, EPHEMERAL_STORAGE, MEMORY, Resources, TaintEffect};
use crate::scenario::PodTemplate;

/// The highest score a plugin gives a node (`framework.MaxNodeScore`).
pub const MAX_NODE_SCORE: i64 = 100;

/// NodeResourcesFit's score under `strategy`, on non-zero requests (`resource_allocation.go`):
/// per configured resource with allocatable > 0 (an extended resource only if the pod requests
/// it), the strategy's per-resource score, combined as `Σ score·w / Σ w`. A strategy with no
/// resources is an error, as upstream's scorer returns one (a scenario cannot configure it).
pub fn node_resources_fit(
    node: &Node,
    pod: &PodTemplate,
    strategy: &ScoringStrategy,
) -> Result<i64, ScoreError> {
    if strategy.resources.is_empty() {
        return Err(ScoreError::ResourcesNotFound);
    }
    Ok(FitScore::new(pod, strategy).score(&NodeRow::of(node), node))
}

/// Why a score plugin cannot score a node (upstream's `Error` status).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScoreError {
    /// The resource scorer was configured with no resources.
    #[error("resources not found")]
    ResourcesNotFound,
}

/// A resource a resource score reads, resolved once per scheduling cycle.
#[derive(Clone, Copy, Debug)]
struct Scored<'a> {
    name: ResourceName<'a>,
    weight: i64,
    /// The pod's request of it.
    pod_request: i64,
    /// An extended resource the pod does not request: left out (allocatable and requested 0).
    bypassed: bool,
}

/// The `resources` of a score with the pod's `requests` of each.
fn resolve<'a>(resources: &'a [ResourceWeight], requests: &Resources) -> Vec<Scored<'a>> {
    resources
        .iter()
        .map(|r| {
            let pod_request = requests.get(&r.name);
            Scored {
                name: ResourceName::of(&r.name),
                weight: r.weight,
                pod_request,
                bypassed: pod_request == 0 && is_scalar(&r.name),
            }
        })
        .collect()
}

/// `calculateResourceAllocatableRequest`: (allocatable, on-node + pod request), the on-node
/// amount from `on_row` (fixed slots) or `on_node` (other extended resources).
#[inline]
fn allocatable_and_requested(
    s: &Scored,
    row: &NodeRow,
    node: &Node,
    on_row: &[i64; 4],
    on_node: &Resources,
) -> (i64, i64) {
    if s.bypassed {
        return (0, 0);
    }
    match s.name {
        ResourceName::Fixed(slot) => {
            let slot = usize::from(slot);
            (row.allocatable[slot], on_row[slot] + s.pod_request)
        }
        ResourceName::Extended(name) => (
            node.allocatable.get(name),
            on_node.get(name) + s.pod_request,
        ),
    }
}

/// NodeResourcesFit's score for one pod, ready to run on many nodes.
pub struct FitScore<'a> {
    resources: Vec<Scored<'a>>,
    kind: &'a ScoringKind,
}

impl<'a> FitScore<'a> {
    /// The scorer for `pod` under NodeResourcesFit's `strategy`.
    pub fn new(pod: &PodTemplate, strategy: &'a ScoringStrategy) -> Self {
        FitScore {
            resources: resolve(&strategy.resources, &pod.scoring_requests),
            kind: &strategy.kind,
        }
    }

    /// The score on `node`, whose current row is `row`.
    pub fn score(&self, row: &NodeRow, node: &Node) -> i64 {
        let per_resource = self.resources.iter().map(|s| {
            let (alloc, req) = allocatable_and_requested(
                s,
                row,
                node,
                &row.requested_for_scoring,
                &node.requested_for_scoring,
            );
            (req, alloc, s.weight)
        });
        match self.kind {
            ScoringKind::LeastAllocated => weighted_score(per_resource, least_requested_score),
            ScoringKind::MostAllocated => weighted_score(per_resource, most_requested_score),
            ScoringKind::RequestedToCapacityRatio { shape } => {
                let (mut requested, mut allocatable, mut weights) =
                    (Vec::new(), Vec::new(), Vec::new());
                for (req, alloc, w) in per_resource {
                    requested.push(req);
                    allocatable.push(alloc);
                    weights.push(w);
                }
                requested_to_capacity_ratio(&requested, &allocatable, &weights, shape)
            }
        }
    }
}

/// Extended resources and hugepages (everything but cpu, memory, ephemeral-storage).
fn is_scalar(name: &str) -> bool {
    !matches!(name, CPU | MEMORY | EPHEMERAL_STORAGE)
}

/// `Σ score(req, alloc)·w / Σ w` over `(requested, allocatable, weight)` with allocatable > 0
/// (0 when none).
#[inline]
fn weighted_score(
    per_resource: impl Iterator<Item = (i64, i64, i64)>,
    score: impl Fn(i64, i64) -> i64,
) -> i64 {
    let (mut sum, mut weight_sum) = (0, 0);
    for (req, alloc, weight) in per_resource.filter(|(_, alloc, _)| *alloc != 0) {
        sum += score(req, alloc) * weight;
        weight_sum += weight;
    }
    if weight_sum == 0 { 0 } else { sum / weight_sum }
}

/// LeastAllocated per resource: `(capacity − requested)·100/capacity`, 0 when over capacity.
pub fn least_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

/// MostAllocated per resource: `min(requested, capacity)·100/capacity`.
pub fn most_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 {
        return 0;
    }
    requested.min(capacity) * MAX_NODE_SCORE / capacity
}

/// `MaxCustomPriorityScore`: shape scores are 0..10 and scaled ×10 to node scores.
const MAX_CUSTOM_PRIORITY_SCORE: i64 = 10;

/// RequestedToCapacityRatio: each resource's utilization percent through the broken-linear
/// shape (scores ×10); only resources scoring > 0 count; `round(Σ s·w / Σ w)`.
fn requested_to_capacity_ratio(
    requested: &[i64],
    allocatable: &[i64],
    weights: &[i64],
    shape: &[(i64, i64)],
) -> i64 {
    let scaled: Vec<(i64, i64)> = shape
        .iter()
        .map(|&(u, s)| (u, s * (MAX_NODE_SCORE / MAX_CUSTOM_PRIORITY_SCORE)))
        .collect();
    let (mut sum, mut weight_sum) = (0i64, 0i64);
    for i in 0..requested.len() {
        if allocatable[i] == 0 {
            continue;
        }
        let utilization = if requested[i] > allocatable[i] {
            100
        } else {
            requested[i] * 100 / allocatable[i]
        };
        let s = broken_linear(&scaled, utilization);
        if s > 0 {
            sum += s * weights[i];
            weight_sum += weights[i];
        }
    }
    if weight_sum == 0 {
        0
    } else {
        (sum as f64 / weight_sum as f64).round() as i64
    }
}

/// `BuildBrokenLinearFunction`: linear interpolation between `(x, y)` points (int64 math),
/// `y_0` before the first point and `y_last` after the last.
pub fn broken_linear(shape: &[(i64, i64)], p: i64) -> i64 {
    for i in 0..shape.len() {
        if p <= shape[i].0 {
            if i == 0 {
                return shape[0].1;
            }
            let (x0, y0) = shape[i - 1];
            let (x1, y1) = shape[i];
            return y0 + (y1 - y0) * (p - x0) / (x1 - x0);
        }
    }
    shape.last().map_or(0, |s| s.1)
}

/// NodeResourcesBalancedAllocation on actual requests: per resource the fraction
/// `min(1, requested/allocatable)`; score `(1 − std)·100` truncated, where std is `|f1 − f2|/2`
/// for two resources and the population standard deviation for more. A pod requesting none of
/// the configured resources is best-effort and skipped (score 0 everywhere).
pub fn balanced_allocation(node: &Node, pod: &PodTemplate, resources: &[ResourceWeight]) -> i64 {
    BalancedScore::new(pod, resources).score(&NodeRow::of(node), node)
}

/// NodeResourcesBalancedAllocation's score for one pod, ready to run on many nodes.
pub struct BalancedScore<'a> {
    resources: Vec<Scored<'a>>,
    /// The pod requests none of the configured resources (upstream's `isBestEffortPod` over
    /// the plugin's resource list): 0 everywhere.
    skipped: bool,
}

impl<'a> BalancedScore<'a> {
    /// The scorer for `pod` over the plugin's `resources`.
    pub fn new(pod: &PodTemplate, resources: &'a [ResourceWeight]) -> Self {
        let resources = resolve(resources, &pod.requests);
        let skipped = resources.iter().all(|s| s.pod_request == 0);
        BalancedScore { resources, skipped }
    }

    /// The score on `node`, whose current row is `row`.
    pub fn score(&self, row: &NodeRow, node: &Node) -> i64 {
        if self.skipped {
            return 0;
        }
        // Each fraction once, on the stack for the usual handful of resources.
        const INLINE: usize = 8;
        let mut inline = [0.0f64; INLINE];
        let mut spilled: Vec<f64> = Vec::new();
        let mut n = 0;
        for s in &self.resources {
            let (alloc, req) =
                allocatable_and_requested(s, row, node, &row.requested, &node.requested);
            if alloc > 0 {
                let f = (req as f64 / alloc as f64).min(1.0);
                match inline.get_mut(n) {
                    Some(slot) => *slot = f,
                    None => spilled.push(f),
                }
                n += 1;
            }
        }
        let fractions = || inline.iter().take(n).chain(&spilled).copied();
        let std = match n {
            2 => (inline[0] - inline[1]).abs() / 2.0,
            n if n > 2 => {
                let mean = fractions().sum::<f64>() / n as f64;
                (fractions().map(|f| (f - mean).powi(2)).sum::<f64>() / n as f64).sqrt()
            }
            _ => 0.0,
        };
        ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
    }
}

const MB: i64 = 1024 * 1024;
/// ImageLocality's floor (`minThreshold`): below it a node scores 0.
const IMAGE_MIN_THRESHOLD: i64 = 23 * MB;
/// ImageLocality's ceiling per container (`maxContainerThreshold`).
const IMAGE_MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

/// ImageLocality for one pod, ready to run on many nodes: Σ over the pod's containers of the
/// size of each image already on the node, scaled by the share of nodes that have it (so an
/// image everywhere counts little), clamped to `[23 MiB, 1000 MiB × containers]` and mapped onto
/// 0–100. Images without a size in `spec.imageSizes` count 0.
pub struct ImageLocality<'a> {
    /// The pod's images that count for something where present, with what each counts: its
    /// size × its spread, the same on every node (an image that counts 0 is left out: it changes
    /// no sum).
    counting: Vec<(&'a str, i64)>,
    max_threshold: i64,
}

impl<'a> ImageLocality<'a> {
    /// The scorer for `pod` in `cluster` as it is now (its images' sizes and spread).
    pub fn new(cluster: &crate::cluster::Cluster, pod: &'a PodTemplate) -> Self {
        let total_nodes = cluster.ready_nodes.len().max(1) as f64;
        let counting = pod
            .images
            .iter()
            .map(|image| {
                let size = cluster.image_sizes.get(image).copied().unwrap_or(0);
                let spread =
                    cluster.image_nodes.get(image).copied().unwrap_or(0) as f64 / total_nodes;
                (image.as_str(), (size as f64 * spread) as i64)
            })
            .filter(|&(_, counts)| counts != 0)
            .collect();
        ImageLocality {
            counting,
            max_threshold: IMAGE_MAX_CONTAINER_THRESHOLD * pod.images.len() as i64,
        }
    }

    /// The score on `node`.
    pub fn score(&self, node: &Node) -> i64 {
        let sum: i64 = self
            .counting
            .iter()
            .filter(|(image, _)| node.images.contains(*image))
            .map(|&(_, counts)| counts)
            .sum();
        let clamped = sum.clamp(IMAGE_MIN_THRESHOLD, self.max_threshold);
        MAX_NODE_SCORE * (clamped - IMAGE_MIN_THRESHOLD)
            / (self.max_threshold - IMAGE_MIN_THRESHOLD)
    }
}

/// TaintToleration raw score: PreferNoSchedule taints the pod does not tolerate.
pub fn taint_toleration_raw(node: &Node, pod: &PodTemplate) -> i64 {
    node.taints
        .iter()
        .filter(|t| t.effect == TaintEffect::PreferNoSchedule)
        .filter(|t| {
            !pod.tolerations.iter().any(|tol| {
                tol.effect
                    .is_none_or(|e| e == TaintEffect::PreferNoSchedule)
                    && tol.tolerates(t)
            })
        })
        .count() as i64
}

/// `DefaultNormalizeScore`: scale to 0..100 by the max; `reverse` flips (100 − s).
pub fn default_normalize(scores: &[i64], reverse: bool) -> Vec<i64> {
    let max = scores.iter().copied().max().unwrap_or(0);
    scores
        .iter()
        .map(|&s| {
            if max == 0 {
                return if reverse { MAX_NODE_SCORE } else { s };
            }
            let scaled = MAX_NODE_SCORE * s / max;
            if reverse {
                MAX_NODE_SCORE - scaled
            } else {
                scaled
            }
        })
        .collect()
}

/// NodeAffinity score before normalization: Σ weights of the preferred terms the node matches.
pub fn node_affinity_raw(node: &Node, pod: &PodTemplate) -> i64 {
    pod.preferred_node_affinity
        .iter()
        .filter(|(_, term)| term.matches(&node.labels, &node.name))
        .map(|(w, _)| w)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::resources::Taint;
    use crate::controllers::scheduler::profile::ResourceWeight;

    fn node(cpu: i64, mem: i64) -> Node {
        super::super::test_node(cpu, mem, 0, 0)
    }

    fn pod(cpu: i64, mem: i64) -> PodTemplate {
        crate::controllers::scheduler::test_pod(cpu, mem)
    }

    fn strategy(kind: ScoringKind, resources: &[(&str, i64)]) -> ScoringStrategy {
        ScoringStrategy {
            kind,
            resources: resources
                .iter()
                .map(|(n, w)| ResourceWeight {
                    name: n.to_string(),
                    weight: *w,
                })
                .collect(),
        }
    }

    const CPU_MEM: &[(&str, i64)] = &[("cpu", 1), ("memory", 1)];

    fn least(n: &Node, p: &PodTemplate) -> i64 {
        node_resources_fit(n, p, &strategy(ScoringKind::LeastAllocated, CPU_MEM)).unwrap()
    }

    fn most(n: &Node, p: &PodTemplate, resources: &[(&str, i64)]) -> i64 {
        node_resources_fit(n, p, &strategy(ScoringKind::MostAllocated, resources)).unwrap()
    }

    #[test]
    fn fit_score_without_resources_is_an_error() {
        // resource_allocation.go `score`: "resources not found" when no resource is configured.
        let empty = strategy(ScoringKind::LeastAllocated, &[]);
        let got = node_resources_fit(&node(4000, 10000), &pod(3000, 5000), &empty);
        assert_eq!(got, Err(ScoreError::ResourcesNotFound));
        assert_eq!(got.unwrap_err().to_string(), "resources not found");
    }

    fn with_gpu(mut n: Node, gpus: i64) -> Node {
        n.allocatable.set("nvidia.com/gpu", gpus);
        n
    }

    #[test]
    fn least_allocated_upstream_cases() {
        // "nothing scheduled, resources requested, differently sized nodes" (least_allocated_test.go):
        // pod 3000m/5000; node1 4000/10000 → cpu (4000−3000)·100/4000 = 25, mem 50 → (25+50)/2 = 37;
        // node2 6000/10000 → cpu 50, mem 50 → 50.
        assert_eq!(least(&node(4000, 10000), &pod(3000, 5000)), 37);
        assert_eq!(least(&node(6000, 10000), &pod(3000, 5000)), 50);
        // "nothing scheduled, nothing requested" (non-zero defaults off here): 100 each.
        assert_eq!(least(&node(4000, 10000), &pod(0, 0)), 100);
        // requested beyond capacity scores 0 for that resource: cpu 0, mem (10000−5000)·100/10000 = 50 → 25.
        assert_eq!(least(&node(2000, 10000), &pod(3000, 5000)), 25);
    }

    /// `TestMostAllocatedScoringStrategy` (most_allocated_test.go).
    #[test]
    fn most_allocated_upstream_cases() {
        // nothing scheduled, nothing requested: 0 / 4000 and 0 / 10000 → 0.
        assert_eq!(most(&node(4000, 10000), &pod(0, 0), CPU_MEM), 0);
        // differently sized nodes: node1 cpu 3000·100/4000 = 75, mem 50 → 62; node2 50, 50 → 50.
        assert_eq!(most(&node(4000, 10000), &pod(3000, 5000), CPU_MEM), 62);
        assert_eq!(most(&node(6000, 10000), &pod(3000, 5000), CPU_MEM), 50);
        // no resources requested, pods scheduled: node1 6000/10000 = 60, 0/20000 = 0 → 30;
        // node2 60 and 5000/20000 = 25 → 42.
        let on = |used_cpu, used_mem| super::super::test_node(10000, 20000, used_cpu, used_mem);
        assert_eq!(most(&on(6000, 0), &pod(0, 0), CPU_MEM), 30);
        assert_eq!(most(&on(6000, 5000), &pod(0, 0), CPU_MEM), 42);
        // resources requested, pods scheduled: node1 (3000+3000)/10000 = 60, 5000/20000 = 25
        // → 42; node2 60, (5000+5000)/20000 = 50 → 55.
        assert_eq!(most(&on(3000, 0), &pod(3000, 5000), CPU_MEM), 42);
        assert_eq!(most(&on(3000, 5000), &pod(3000, 5000), CPU_MEM), 55);
        // requests equal to capacity: node1 5000/5000 = 100, 9000/10000 = 90 → 95; node2 50
        // and 9000/9000 = 100 → 75.
        assert_eq!(most(&node(5000, 10000), &pod(5000, 9000), CPU_MEM), 95);
        assert_eq!(most(&node(10000, 9000), &pod(5000, 9000), CPU_MEM), 75);
        // weights memory 2, cpu 1: node1 (75·1 + 50·2)/3 = 58; node2 (50 + 100)/3 = 50.
        let weighted = &[("memory", 2), ("cpu", 1)];
        assert_eq!(most(&node(4000, 10000), &pod(3000, 5000), weighted), 58);
        assert_eq!(most(&node(6000, 10000), &pod(3000, 5000), weighted), 50);
        // an extended resource the pod does not request is bypassed: (50 + 50)/2 = 50 both.
        let ext = &[("cpu", 1), ("memory", 1), ("nvidia.com/gpu", 1)];
        assert_eq!(most(&node(6000, 10000), &pod(3000, 5000), ext), 50);
        assert_eq!(
            most(&with_gpu(node(6000, 10000), 4), &pod(3000, 5000), ext),
            50
        );
        // ... and honoured when requested: node1 2/4 = 50 → (50+50+50)/3 = 50; node2 2/10 = 20
        // → (50+50+20)/3 = 40.
        let mut gpu_pod = pod(3000, 5000);
        gpu_pod.requests.set("nvidia.com/gpu", 2);
        gpu_pod.scoring_requests.set("nvidia.com/gpu", 2);
        assert_eq!(most(&with_gpu(node(6000, 10000), 4), &gpu_pod, ext), 50);
        assert_eq!(most(&with_gpu(node(6000, 10000), 10), &gpu_pod, ext), 40);
        // a weight-2 extended resource the pod does not request: (50 + 40)/2 = 45 on both.
        let heavy = &[("nvidia.com/gpu", 2), ("cpu", 1), ("memory", 1)];
        assert_eq!(most(&node(6000, 10000), &pod(3000, 4000), heavy), 45);
        assert_eq!(
            most(&with_gpu(node(6000, 10000), 4), &pod(3000, 4000), heavy),
            45
        );
    }

    /// `TestBrokenLinearFunction` (helper/shape_score_test.go) and the RequestedToCapacityRatio
    /// cases of requested_to_capacity_ratio_test.go.
    #[test]
    fn requested_to_capacity_ratio_upstream_cases() {
        let shape = [(10, 1), (90, 9)];
        // below the first point → y0; interpolation; beyond the last → y_last.
        for (p, want) in [
            (-10, 1),
            (10, 1),
            (15, 1),
            (20, 2),
            (50, 5),
            (90, 9),
            (100, 9),
        ] {
            assert_eq!(broken_linear(&shape, p), want, "p = {p}");
        }
        let shape2 = [(0, 2), (40, 10), (100, 0)];
        // 20 → 2 + 8·20/40 = 6; 70 → 10 − 10·30/60 = 5.
        assert_eq!(broken_linear(&shape2, 20), 6);
        assert_eq!(broken_linear(&shape2, 70), 5);
        // "nothing scheduled, nothing requested" with shape (0,10),(100,0) (least-requested
        // like): 0 % → 10 ×10 = 100 for both resources → 100.
        let spread = ScoringKind::RequestedToCapacityRatio {
            shape: vec![(0, 10), (100, 0)],
        };
        let rtcr = |n: &Node, p: &PodTemplate, kind: &ScoringKind| {
            node_resources_fit(n, p, &strategy(kind.clone(), CPU_MEM)).unwrap()
        };
        assert_eq!(rtcr(&node(4000, 10000), &pod(0, 0), &spread), 100);
        // pod 3000/5000 on 4000/10000: cpu 75 % → 100 − 75 = 25, mem 50 % → 50 → round(37.5) = 38
        // (rounds, unlike LeastAllocated's 37).
        assert_eq!(rtcr(&node(4000, 10000), &pod(3000, 5000), &spread), 38);
        // packing shape (0,0),(100,10): cpu 75, mem 50 → round(62.5) = 63; a resource scoring 0
        // does not count: pod 0/5000 → only mem 50 → 50.
        let pack = ScoringKind::RequestedToCapacityRatio {
            shape: vec![(0, 0), (100, 10)],
        };
        assert_eq!(rtcr(&node(4000, 10000), &pod(3000, 5000), &pack), 63);
        assert_eq!(rtcr(&node(4000, 10000), &pod(0, 5000), &pack), 50);
        // over capacity counts as 100 %: cpu 6000 of 4000 → 10 ×10 = 100, mem 50 → 75.
        assert_eq!(rtcr(&node(4000, 10000), &pod(6000, 5000), &pack), 75);
    }

    #[test]
    fn balanced_allocation_upstream_cases() {
        let cpu_mem = super::super::profile::default_resources();
        // pod 3000m/5000 on node1 4000/10000: fractions 0.75 and 0.5 → std 0.125 → 87.5 → 87;
        // node2 6000/10000: 0.5 and 0.5 → 100.
        assert_eq!(
            balanced_allocation(&node(4000, 10000), &pod(3000, 5000), &cpu_mem),
            87
        );
        assert_eq!(
            balanced_allocation(&node(6000, 10000), &pod(3000, 5000), &cpu_mem),
            100
        );
        // best-effort pods are skipped.
        assert_eq!(
            balanced_allocation(&node(4000, 10000), &pod(0, 0), &cpu_mem),
            0
        );
        // Three resources (a requested GPU): fractions cpu 3000/6000 = 0.5, mem 5000/10000 = 0.5,
        // gpu 1/4 = 0.25 → mean 0.4167, variance (2·0.0069 + 0.0278)/3 = 0.01389 → std 0.1179 →
        // (1 − 0.1179)·100 = 88.2 → 88.
        let mut three = cpu_mem.clone();
        three.push(ResourceWeight {
            name: "nvidia.com/gpu".into(),
            weight: 1,
        });
        let mut gpu_pod = pod(3000, 5000);
        gpu_pod.requests.set("nvidia.com/gpu", 1);
        assert_eq!(
            balanced_allocation(&with_gpu(node(6000, 10000), 4), &gpu_pod, &three),
            88
        );
        // Without the GPU request the GPU is skipped: 0.5 and 0.5 → 100.
        assert_eq!(
            balanced_allocation(&with_gpu(node(6000, 10000), 4), &pod(3000, 5000), &three),
            100
        );
        // A pod requesting only a GPU is not best-effort when the plugin balances GPUs
        // (upstream `isBestEffortPod` looks at every configured resource): cpu 0/6000 = 0,
        // mem 0/10000 = 0, gpu 2/4 = 0.5 → mean 0.1667, variance (2·0.02778 + 0.1111)/3 =
        // 0.05556 → std 0.2357 → (1 − 0.2357)·100 = 76.4 → 76.
        let mut gpu_only = pod(0, 0);
        gpu_only.requests.set("nvidia.com/gpu", 2);
        assert_eq!(
            balanced_allocation(&with_gpu(node(6000, 10000), 4), &gpu_only, &three),
            76
        );
        // With only cpu and memory configured the same pod is best-effort: 0.
        assert_eq!(
            balanced_allocation(&with_gpu(node(6000, 10000), 4), &gpu_only, &cpu_mem),
            0
        );
    }

    #[test]
    fn normalize_and_taints() {
        // raw [0, 1, 2] reversed → max 2: 100−0 = 100, 100−50 = 50, 100−100 = 0.
        assert_eq!(default_normalize(&[0, 1, 2], true), vec![100, 50, 0]);
        assert_eq!(default_normalize(&[0, 0], true), vec![100, 100]);
        assert_eq!(default_normalize(&[2, 4], false), vec![50, 100]);
        let mut n = node(1, 1);
        n.taints.push(Taint {
            key: "spot".into(),
            value: String::new(),
            effect: TaintEffect::PreferNoSchedule,
        });
        assert_eq!(taint_toleration_raw(&n, &pod(0, 0)), 1);
    }

    /// `TestImageLocalityPriority` (imagelocality/image_locality_test.go): node1 has images
    /// of 40, 300 and 2000 MiB, node2 of 250 and 10 MiB; 2 nodes, 2 containers per pod, so the
    /// range is 23 MiB – 2000 MiB.
    #[test]
    fn image_locality_upstream_cases() {
        use crate::controllers::scheduler::{test_cluster, test_pod};
        let mut c = test_cluster(&[("node1", &[]), ("node2", &[])]);
        let sizes = [
            ("gcr.io/40:latest", 40),
            ("gcr.io/300:latest", 300),
            ("gcr.io/2000:latest", 2000),
            ("gcr.io/250:latest", 250),
            ("gcr.io/10:latest", 10),
        ];
        for (image, mib) in sizes {
            c.image_sizes.insert(image.into(), mib * MB);
            c.image_nodes.insert(image.into(), 1);
        }
        for (i, images) in [&sizes[..3], &sizes[3..]].into_iter().enumerate() {
            c.nodes[i].images = images.iter().map(|(n, _)| n.to_string()).collect();
        }
        let pod_with = |images: [&str; 2]| {
            let mut p = test_pod(0, 0);
            p.images = images
                .iter()
                .map(|i| crate::scenario::normalized_image_name(i))
                .collect();
            p
        };
        let cases = [
            // node1: 40 × ½ = 20 MiB < 23 → 0; node2: 250 × ½ = 125 → 100 × 102 / 1977 = 5.
            (["gcr.io/40", "gcr.io/250"], [0, 5]),
            // node1: 20 + 150 = 170 → 100 × 147 / 1977 = 7; node2: nothing → 0.
            (["gcr.io/40", "gcr.io/300"], [7, 0]),
            // node1: 1000 → 100 × 977 / 1977 = 49; node2: 10 × ½ = 5 < 23 → 0.
            (["gcr.io/2000", "gcr.io/10"], [49, 0]),
        ];
        for (images, want) in cases {
            let p = pod_with(images);
            let locality = ImageLocality::new(&c, &p);
            let got = [locality.score(&c.nodes[0]), locality.score(&c.nodes[1])];
            assert_eq!(got, want, "{images:?}");
        }
        assert_eq!(
            crate::scenario::normalized_image_name("gcr.io/a@sha256:x"),
            "gcr.io/a@sha256:x"
        );
        assert_eq!(
            crate::scenario::normalized_image_name("localhost:5000/a"),
            "localhost:5000/a:latest"
        );
    }
}
