//! Filter plugins, in the default profile's order. Each returns the reason string kube-scheduler
//! would report for a node that does not fit.

use crate::cluster::Node;
use crate::cluster::resources::TaintEffect;
use crate::scenario::PodTemplate;

/// Runs the filters in order; the first failure is the node's reason.
pub fn run_filters(node: &Node, pod: &PodTemplate) -> Result<(), String> {
    taint_toleration(node, pod)?;
    node_affinity(node, pod)?;
    node_resources_fit(node, pod)
}

/// TaintToleration: every NoSchedule/NoExecute taint must be tolerated.
pub fn taint_toleration(node: &Node, pod: &PodTemplate) -> Result<(), String> {
    let pool_taints = &node.taints;
    for taint in pool_taints
        .iter()
        .filter(|t| t.effect != TaintEffect::PreferNoSchedule)
    {
        if !pod.tolerations.iter().any(|t| t.tolerates(taint)) {
            let shown = if taint.value.is_empty() {
                taint.key.clone()
            } else {
                format!("{}: {}", taint.key, taint.value)
            };
            return Err(format!("node(s) had untolerated taint {{{shown}}}"));
        }
    }
    Ok(())
}

/// NodeAffinity: every nodeSelector label must match, and one of the required terms (if any).
pub fn node_affinity(node: &Node, pod: &PodTemplate) -> Result<(), String> {
    let selector = pod
        .node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v));
    let required = pod.required_node_affinity.is_empty()
        || pod
            .required_node_affinity
            .iter()
            .any(|t| t.matches(&node.labels, &node.name));
    if selector && required {
        Ok(())
    } else {
        Err("node(s) didn't match Pod's node affinity/selector".into())
    }
}

/// NodeResourcesFit: pod count, then every requested resource against what is left.
pub fn node_resources_fit(node: &Node, pod: &PodTemplate) -> Result<(), String> {
    if node.pod_count + 1 > node.max_pods {
        return Err("Too many pods".into());
    }
    for name in pod.requests.nonzero_names() {
        let free = node.allocatable.get(name) - node.requested.get(name);
        if pod.requests.get(name) > free {
            return Err(format!("Insufficient {name}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::resources::{Resources, Taint, Toleration};

    fn node(cpu: i64, mem: i64, used_cpu: i64, used_mem: i64) -> Node {
        super::super::test_node(cpu, mem, used_cpu, used_mem)
    }

    fn pod(cpu: i64, mem: i64) -> PodTemplate {
        PodTemplate {
            requests: Resources {
                cpu_millis: cpu,
                memory_bytes: mem,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn fit_table() {
        // (allocatable cpu, mem, used cpu, mem, pod cpu, mem) → result
        let cases = [
            ((4000, 1000, 3000, 0), (1000, 0), Ok(())), // exactly fills: 1000 ≤ 4000-3000
            ((4000, 1000, 3001, 0), (1000, 0), Err("Insufficient cpu")), // 1000 > 999
            ((4000, 1000, 0, 900), (100, 200), Err("Insufficient memory")),
            ((4000, 1000, 0, 0), (0, 0), Ok(())),
        ];
        for ((ac, am, uc, um), (pc, pm), want) in cases {
            let got = node_resources_fit(&node(ac, am, uc, um), &pod(pc, pm));
            assert_eq!(got, want.map_err(String::from));
        }
        let mut extended = pod(0, 0);
        extended.requests.set("nvidia.com/gpu", 1);
        assert_eq!(
            node_resources_fit(&node(4000, 1000, 0, 0), &extended),
            Err("Insufficient nvidia.com/gpu".into())
        );
        let mut full = node(4000, 1000, 0, 0);
        full.pod_count = 110;
        assert_eq!(
            node_resources_fit(&full, &pod(0, 0)),
            Err("Too many pods".into())
        );
    }

    #[test]
    fn taints_need_tolerations() {
        let mut n = node(1, 1, 0, 0);
        n.taints.push(Taint {
            key: "gpu".into(),
            value: "true".into(),
            effect: TaintEffect::NoSchedule,
        });
        let mut p = pod(0, 0);
        assert_eq!(
            taint_toleration(&n, &p),
            Err("node(s) had untolerated taint {gpu: true}".into())
        );
        p.tolerations.push(Toleration {
            key: "gpu".into(),
            exists: true,
            value: String::new(),
            effect: None,
        });
        assert_eq!(taint_toleration(&n, &p), Ok(()));
    }

    #[test]
    fn node_affinity_requires_the_selector_and_one_required_term() {
        use crate::cluster::selector::{NodeOperator, NodeRequirement, NodeSelectorTerm};
        let term = |key: &str, value: &str| NodeSelectorTerm {
            match_expressions: vec![NodeRequirement {
                key: key.into(),
                operator: NodeOperator::In,
                values: vec![value.into()],
            }],
            match_fields: Vec::new(),
        };
        let mut n = node(1, 1, 0, 0);
        n.labels.insert("gpu".into(), "T4".into());
        n.labels.insert("zone".into(), "a".into());
        let mut p = pod(0, 0);
        // Terms are ORed: T4 or V100.
        p.required_node_affinity = vec![term("gpu", "V100"), term("gpu", "T4")];
        assert_eq!(node_affinity(&n, &p), Ok(()));
        p.required_node_affinity = vec![term("gpu", "V100")];
        let refused = Err("node(s) didn't match Pod's node affinity/selector".to_string());
        assert_eq!(node_affinity(&n, &p), refused);
        // nodeSelector and the required terms must both hold.
        p.required_node_affinity = vec![term("gpu", "T4")];
        p.node_selector.insert("zone".into(), "b".into());
        assert_eq!(node_affinity(&n, &p), refused);
    }
}
