//! Score plugins with kube-scheduler's integer formulas (MaxNodeScore = 100).

use crate::cluster::Node;
use crate::cluster::resources::TaintEffect;
use crate::scenario::PodTemplate;

pub const MAX_NODE_SCORE: i64 = 100;

/// NodeResourcesFit LeastAllocated over cpu and memory (weights 1, 1), on non-zero requests:
/// per resource `(alloc − req)·100/alloc` (0 if req > alloc); node = Σ score·w / Σ w.
pub fn least_allocated(node: &Node, pod: &PodTemplate) -> i64 {
    let mut sum = 0;
    let mut weights = 0;
    for (alloc, req) in [
        (
            node.allocatable.cpu_millis,
            node.requested_for_scoring.cpu_millis + pod.scoring_requests.cpu_millis,
        ),
        (
            node.allocatable.memory_bytes,
            node.requested_for_scoring.memory_bytes + pod.scoring_requests.memory_bytes,
        ),
    ] {
        if alloc == 0 {
            continue;
        }
        sum += least_requested_score(req, alloc);
        weights += 1;
    }
    if weights == 0 { 0 } else { sum / weights }
}

pub fn least_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

/// NodeResourcesBalancedAllocation on actual requests: `(1 − |f_cpu − f_mem|/2)·100`, truncated.
/// Pods requesting nothing are skipped (score 0 everywhere).
pub fn balanced_allocation(node: &Node, pod: &PodTemplate) -> i64 {
    if pod.requests.cpu_millis == 0 && pod.requests.memory_bytes == 0 {
        return 0;
    }
    let fraction = |req: i64, alloc: i64| (req as f64 / alloc as f64).min(1.0);
    let mut fractions = Vec::with_capacity(2);
    if node.allocatable.cpu_millis > 0 {
        fractions.push(fraction(
            node.requested.cpu_millis + pod.requests.cpu_millis,
            node.allocatable.cpu_millis,
        ));
    }
    if node.allocatable.memory_bytes > 0 {
        fractions.push(fraction(
            node.requested.memory_bytes + pod.requests.memory_bytes,
            node.allocatable.memory_bytes,
        ));
    }
    let std = if fractions.len() == 2 {
        (fractions[0] - fractions[1]).abs() / 2.0
    } else {
        0.0
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::resources::{Resources, Taint};

    fn node(cpu: i64, mem: i64) -> Node {
        super::super::test_node(cpu, mem, 0, 0)
    }

    fn pod(cpu: i64, mem: i64) -> PodTemplate {
        let r = Resources {
            cpu_millis: cpu,
            memory_bytes: mem,
            ..Default::default()
        };
        PodTemplate {
            requests: r.clone(),
            scoring_requests: r,
            ..Default::default()
        }
    }

    #[test]
    fn least_allocated_upstream_cases() {
        // "nothing scheduled, resources requested, differently sized nodes" (least_allocated_test.go):
        // pod 3000m/5000; node1 4000/10000 → cpu (4000−3000)·100/4000 = 25, mem 50 → (25+50)/2 = 37;
        // node2 6000/10000 → cpu 50, mem 50 → 50.
        assert_eq!(least_allocated(&node(4000, 10000), &pod(3000, 5000)), 37);
        assert_eq!(least_allocated(&node(6000, 10000), &pod(3000, 5000)), 50);
        // "nothing scheduled, nothing requested" (non-zero defaults off here): 100 each.
        assert_eq!(least_allocated(&node(4000, 10000), &pod(0, 0)), 100);
        // requested beyond capacity scores 0 for that resource: cpu 0, mem (10000−5000)·100/10000 = 50 → 25.
        assert_eq!(least_allocated(&node(2000, 10000), &pod(3000, 5000)), 25);
    }

    #[test]
    fn balanced_allocation_upstream_cases() {
        // pod 3000m/5000 on node1 4000/10000: fractions 0.75 and 0.5 → std 0.125 → 87.5 → 87;
        // node2 6000/10000: 0.5 and 0.5 → 100.
        assert_eq!(
            balanced_allocation(&node(4000, 10000), &pod(3000, 5000)),
            87
        );
        assert_eq!(
            balanced_allocation(&node(6000, 10000), &pod(3000, 5000)),
            100
        );
        // best-effort pods are skipped.
        assert_eq!(balanced_allocation(&node(4000, 10000), &pod(0, 0)), 0);
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
}
