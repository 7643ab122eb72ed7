//! Karpenter timelines: a batch of pending pods becomes one NodeClaim that buys the cheapest
//! offering taking them all (spot first), empty nodes go after `consolidateAfter` and the 15 s
//! validation, an under-used node is replaced by a cheaper one that is Ready before the old one
//! is drained, budgets and `karpenter.sh/do-not-disrupt` hold nodes, `expireAfter` deletes
//! nodes, and `limits` cap what is launched.

use kubesim::controllers::karpenter::KarpenterEvent;
use kubesim::engine::RunOutput;
use kubesim::spec::karpenter::DisruptionReason;

use crate::support::{app_deployment, column, load, run, scratch};

/// A scenario with no node pools: Deployment `app` of `replicas` pods of 1 cpu / 1Gi (with
/// `pod_extra` in its pod spec), a NodePool `default` over the m5 family with `requirements`
/// (extra list items), `disruption` and `template_extra` (under `spec.template.spec`), and
/// `spec_extra` (events) in the scenario's spec.
struct Setup<'a> {
    name: &'a str,
    replicas: u32,
    pod_extra: &'a str,
    requirements: &'a str,
    template_extra: &'a str,
    node_pool_extra: &'a str,
    spec_extra: &'a str,
    /// Annotate the pods `karpenter.sh/do-not-disrupt: "true"`.
    do_not_disrupt: bool,
    /// More files beside the scenario (name, text), e.g. manifests to apply.
    files: Vec<(&'a str, String)>,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Setup {
            name: "karpenter",
            replicas: 6,
            pod_extra: "",
            requirements: "        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}\n",
            template_extra: "",
            node_pool_extra: "  disruption: {consolidateAfter: 30s}\n",
            spec_extra: "",
            do_not_disrupt: false,
            files: Vec::new(),
        }
    }
}

impl Setup<'_> {
    fn run(&self) -> RunOutput {
        let dir = scratch(self.name);
        for (name, text) in &self.files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let text = format!(
            r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {name}}}
spec:
  duration: 30m
  sampleInterval: 10s
  startWarm: false
  cluster: {{}}
{spec_extra}---
{deployment}---
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {{name: default}}
spec: {{role: KarpenterNodeRole}}
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {{name: default}}
spec:
  template:
    spec:
      nodeClassRef: {{group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}}
{template_extra}      requirements:
        - {{key: karpenter.k8s.aws/instance-family, operator: In, values: [m5]}}
{requirements}{node_pool_extra}"#,
            name = self.name,
            spec_extra = self.spec_extra,
            deployment = app_deployment(self.replicas, "1", self.pod_extra),
            template_extra = self.template_extra,
            requirements = self.requirements,
            node_pool_extra = self.node_pool_extra,
        );
        let text = if self.do_not_disrupt {
            text.replacen(
                "    metadata: {labels: {app: app}}",
                "    metadata: {labels: {app: app}, annotations: {karpenter.sh/do-not-disrupt: \"true\"}}",
                1,
            )
        } else {
            text
        };
        let path = dir.join("scenario.yaml");
        std::fs::write(&path, text).unwrap();
        run(&load(&path, None, &[]))
    }
}

fn events(out: &RunOutput) -> &[KarpenterEvent] {
    out.karpenter_events.as_deref().expect("Karpenter ran")
}

/// `(t, instance type, capacity type, pods, reason)` of each launch.
fn launches(out: &RunOutput) -> Vec<(f64, String, &'static str, usize, &'static str)> {
    (events(out).iter())
        .filter_map(|e| match e {
            KarpenterEvent::Launched {
                t_seconds,
                instance_type,
                capacity_type,
                pods,
                reason,
                ..
            } => Some((
                *t_seconds,
                instance_type.clone(),
                *capacity_type,
                *pods,
                *reason,
            )),
            _ => None,
        })
        .collect()
}

/// `(t, reason, nodes, replacement)` of each disruption.
fn disruptions(out: &RunOutput) -> Vec<(f64, DisruptionReason, usize, Option<String>)> {
    (events(out).iter())
        .filter_map(|e| match e {
            KarpenterEvent::Disrupted {
                t_seconds,
                reason,
                nodes,
                replacement,
                ..
            } => Some((*t_seconds, *reason, nodes.len(), replacement.clone())),
            _ => None,
        })
        .collect()
}

/// The NodePool's node count at `t` seconds.
fn nodes_at(out: &RunOutput, t: f64) -> f64 {
    let series = column(out, "pool.karpenter/default.nodes");
    series
        .iter()
        .rev()
        .find(|(at, _)| *at <= t)
        .map_or(0.0, |(_, v)| *v)
}

fn scale_to(replicas: u32, at: &str) -> String {
    format!("  events:\n    - {{at: {at}, action: scale, deployment: app, replicas: {replicas}}}\n")
}

#[test]
fn a_batch_of_pods_buys_the_cheapest_offering_that_takes_them_all() {
    // 6 pods of 1 cpu and 1Gi fail to schedule at t = 0 (no nodes): the batch closes 1 s later
    // (BATCH_IDLE_DURATION), and one NodeClaim takes all six — every m5 type from 2xlarge up
    // (7910m allocatable) does; the cheapest, m5.2xlarge at 0.384 USD/h, is bought. It is
    // Ready 45 s later, when the six pods bind.
    let out = Setup::default().run();
    assert_eq!(
        launches(&out),
        vec![(
            1.0,
            "m5.2xlarge".to_string(),
            "on-demand",
            6,
            "Provisioning"
        )]
    );
    assert_eq!(nodes_at(&out, 0.0), 0.0);
    let scheduled: Vec<f64> = (out.pod_events.iter())
        .filter(|e| format!("{:?}", e.reason) == "Scheduled")
        .map(|e| e.t_seconds)
        .collect();
    assert_eq!(scheduled, vec![46.0; 6]);
}

#[test]
fn spot_is_bought_when_the_node_pool_allows_it() {
    // Both capacity types allowed: the AWS provider tries spot first; the cheapest spot
    // offering of a type that takes the six pods wins.
    let out = Setup {
        name: "karpenter-spot",
        requirements: "",
        ..Setup::default()
    }
    .run();
    let l = launches(&out);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].2, "spot");
}

#[test]
fn an_empty_node_goes_after_consolidate_after_and_the_validation_wait() {
    // Scaled to 0 at 10 m: the pods terminate within their 30 s grace; the node is empty and
    // consolidatable 30 s after the last pod left; a pass (every 10 s) finds it, the decision
    // waits 15 s and the node is deleted — within about a minute and a half.
    let out = Setup {
        name: "karpenter-empty",
        spec_extra: &scale_to(0, "10m"),
        ..Setup::default()
    }
    .run();
    let d = disruptions(&out);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].1, DisruptionReason::Empty);
    assert!((600.0..=700.0).contains(&d[0].0), "{d:?}");
    assert_eq!(nodes_at(&out, 599.0), 1.0);
    assert_eq!(nodes_at(&out, 1200.0), 0.0);
}

#[test]
fn an_underused_node_is_replaced_by_a_cheaper_one_before_it_is_drained() {
    // Scaled from 6 to 2 at 10 m: the m5.2xlarge (0.384 USD/h) holds 2 pods that an
    // m5.xlarge (3920m, 0.192 USD/h) takes. Single-node consolidation launches the m5.xlarge
    // (reason Underutilized), and only when it is Ready is the m5.2xlarge drained.
    let out = Setup {
        name: "karpenter-replace",
        spec_extra: &scale_to(2, "10m"),
        ..Setup::default()
    }
    .run();
    let l = launches(&out);
    assert_eq!(l.len(), 2, "{l:?}");
    assert_eq!((l[1].1.as_str(), l[1].4), ("m5.xlarge", "Underutilized"));
    let d = disruptions(&out);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].1, DisruptionReason::Underutilized);
    assert_eq!(d[0].3.as_deref(), Some("m5.xlarge"));
    // Launch to Ready is 45 s: the old node is disrupted no sooner.
    assert!(d[0].0 >= l[1].0 + 45.0, "{l:?} {d:?}");
    assert_eq!(nodes_at(&out, 1700.0), 1.0);
}

#[test]
fn a_zero_budget_blocks_and_says_so() {
    let out = Setup {
        name: "karpenter-budget",
        spec_extra: &scale_to(0, "10m"),
        node_pool_extra: "  disruption:\n    consolidateAfter: 30s\n    budgets: [{nodes: \"0\"}]\n",
        ..Setup::default()
    }
    .run();
    assert!(disruptions(&out).is_empty());
    let blocked = events(&out).iter().any(|e| matches!(e,
        KarpenterEvent::DisruptionBlocked { object, message, .. }
            if object == "nodepool/default"
                && message == "No allowed disruptions for disruption reason Empty due to blocking budget"));
    assert!(blocked, "{:?}", events(&out));
    assert_eq!(nodes_at(&out, 1790.0), 1.0);
}

#[test]
fn a_do_not_disrupt_pod_holds_its_node() {
    // Scaled from 6 to 2: the m5.2xlarge would be replaced, but its pods carry
    // karpenter.sh/do-not-disrupt: "true".
    let out = Setup {
        name: "karpenter-do-not-disrupt",
        spec_extra: &scale_to(2, "10m"),
        do_not_disrupt: true,
        ..Setup::default()
    }
    .run();
    assert!(disruptions(&out).is_empty(), "{:?}", disruptions(&out));
    let blocked = events(&out).iter().any(|e| {
        matches!(e,
        KarpenterEvent::DisruptionBlocked { message, .. }
            if message.contains("has \"karpenter.sh/do-not-disrupt\" annotation"))
    });
    assert!(blocked, "{:?}", events(&out));
}

#[test]
fn expired_nodes_are_deleted_and_their_pods_get_a_new_node() {
    // expireAfter 10m: the node launched at 1 s expires at 601 s, found by the pass at 610 s;
    // its pods go back to the provisioner, which launches another m5.2xlarge.
    let out = Setup {
        name: "karpenter-expire",
        template_extra: "      expireAfter: 10m\n",
        ..Setup::default()
    }
    .run();
    let d = disruptions(&out);
    assert!(!d.is_empty());
    assert_eq!((d[0].0, d[0].1), (610.0, DisruptionReason::Expired));
    let l = launches(&out);
    assert!(l.len() >= 2 && l[1].0 > 610.0, "{l:?}");
}

#[test]
fn limits_cap_what_is_launched() {
    // limits cpu 4: an m5.xlarge (4 vCPUs of capacity) takes 3 of the 6 pods; every other
    // launch would exceed the limit, so 3 pods stay Pending and Karpenter says why.
    let out = Setup {
        name: "karpenter-limits",
        node_pool_extra: "  limits: {cpu: \"4\"}\n",
        ..Setup::default()
    }
    .run();
    let l = launches(&out);
    assert_eq!(l.len(), 1, "{l:?}");
    assert_eq!((l[0].1.as_str(), l[0].3), ("m5.xlarge", 3));
    let said = events(&out).iter().any(|e| {
        matches!(e,
        KarpenterEvent::Unprovisionable { pods: 3, message, .. }
            if message.contains("all available instance types exceed limits for nodepool"))
    });
    assert!(said, "{:?}", events(&out));
}

#[test]
fn karpenter_saves_on_the_diurnal_day_and_pays_in_disruption() {
    // scenarios/karpenter-vs-ca: the same services and day on an m5.xlarge node group with the
    // Cluster Autoscaler, and on a Karpenter NodePool with consolidation. The README's table:
    // Karpenter's bill is lower (small c5 nodes, given back a minute after they empty), its
    // churn higher (over a hundred disruptions, more pods created, more failed requests).
    let dir = crate::support::root().join("scenarios/karpenter-vs-ca");
    let k = run(&load(&dir.join("scenario.yaml"), None, &[]));
    let ca = run(&load(&dir.join("cluster-autoscaler.yaml"), None, &[]));
    let cost = |o: &RunOutput| o.report.totals.cost_usd;
    let failed = |o: &RunOutput| o.report.services.iter().map(|s| s.failed).sum::<u64>();
    let pods = |o: &RunOutput| {
        o.report
            .deployments
            .iter()
            .map(|d| d.pods_created)
            .sum::<u64>()
    };
    assert!(cost(&k) < 0.8 * cost(&ca), "{} vs {}", cost(&k), cost(&ca));
    assert!(failed(&k) > failed(&ca));
    assert!(pods(&k) > pods(&ca));
    assert!(disruptions(&k).len() > 50);
    assert!(ca.karpenter_events.is_none() && k.autoscaler_events.is_none());
}

#[test]
fn explain_node_tells_a_karpenter_nodes_story() {
    // The replacement run: default-0 (an m5.2xlarge for the six pods at 1 s) is replaced by
    // default-1 (an m5.xlarge) after the scale to 2.
    let setup = Setup {
        name: "karpenter-explain",
        spec_extra: &scale_to(2, "10m"),
        ..Setup::default()
    };
    let out = setup.run();
    // Setup::run wrote it there (scratch() would empty the folder again).
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(setup.name)
        .join("scenario.yaml");
    let path = path.to_str().unwrap();
    let told = crate::support::kubesim(&["explain", path, "--node", "default-0"]);
    assert!(told.status.success(), "{}", crate::support::stderr(&told));
    let text = String::from_utf8(told.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Karpenter's pool for a node is its NodePool, instance type, capacity type and zone.
    assert_eq!(
        lines[0],
        "node default-0 (pool default/m5.2xlarge/on-demand/us-east-1a, zone us-east-1a)"
    );
    assert_eq!(lines[1], "as Karpenter saw it (NodePool default):");
    assert_eq!(
        lines[2],
        "  00:00:01  launched for 6 pending pod(s): one m5.2xlarge (on-demand, us-east-1a, 0.384 USD/h), the cheapest of the 2 instance type(s) that could take them"
    );
    let d = disruptions(&out);
    let at = kubesim::sim::SimTime::from_micros((d[0].0 * 1e6) as u64);
    let last = format!(
        "  {at}  disrupted (Underutilized): its pods fit on the other nodes and one m5.xlarge at 0.192 USD/h, less than the 0.384 USD/h of the 1 node(s) it replaces; drained and deleted"
    );
    // The disruption ends Karpenter's part; its pods' replacements follow.
    let disrupted = lines.iter().position(|l| *l == last).expect(&text);
    assert_eq!(
        lines[disrupted + 1],
        "its pods that were lost, and their replacements:"
    );
    let unknown = crate::support::kubesim(&["explain", path, "--node", "default-9"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(crate::support::stderr(&unknown).contains("it had: default-0, default-1"));
}

/// The NodePool `default` as an applied file: instance family `family`, template labels
/// `labels` (a YAML flow mapping).
fn applied_node_pool(family: &str, labels: &str) -> String {
    format!(
        r#"apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {{name: default}}
spec:
  template:
    metadata: {{labels: {labels}}}
    spec:
      nodeClassRef: {{group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}}
      requirements:
        - {{key: karpenter.k8s.aws/instance-family, operator: In, values: [{family}]}}
        - {{key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}}
  disruption: {{consolidateAfter: 30s}}
"#
    )
}

const APPLY_AT_10M: &str = "  events:\n    - {at: 10m, action: apply, manifest: nodepool.yaml}\n";

#[test]
fn a_node_pool_applied_with_other_requirements_drifts_its_nodes() {
    // The six pods run on an m5.2xlarge from 46 s. At 10 min the NodePool is applied with the
    // c5 family only: the m5 node's offering is no longer admitted (RequirementsDrifted). The
    // next disruption pass (every 10 s) finds it drifted and not empty; its six pods fit no
    // other node, so one c5 NodeClaim is launched for them (reason Drifted) and the m5 node is
    // tainted; once the replacement is Ready (45 s later) the m5 node is disrupted (Drifted,
    // replaced by the c5 type) and drained. The six pods end on the c5 node.
    let out = Setup {
        name: "karpenter-drift",
        spec_extra: APPLY_AT_10M,
        files: vec![("nodepool.yaml", applied_node_pool("c5", "{}"))],
        ..Setup::default()
    }
    .run();
    let l = launches(&out);
    assert_eq!(l.len(), 2, "{l:?}");
    assert_eq!(l[0].1, "m5.2xlarge");
    let (t, instance, _, pods, reason) = &l[1];
    assert!((600.0..=610.0).contains(t), "{l:?}");
    assert!(instance.starts_with("c5."), "{l:?}");
    assert_eq!((*pods, *reason), (6, "Drifted"));
    let d = disruptions(&out);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].1, DisruptionReason::Drifted);
    assert!((t + 45.0..=t + 55.0).contains(&d[0].0), "{d:?}");
    assert_eq!(d[0].3.as_deref(), Some(instance.as_str()));
    assert_eq!(nodes_at(&out, 1790.0), 1.0);
}

#[test]
fn new_template_labels_drift_nodes_and_an_unchanged_apply_does_not() {
    // Applying the same requirements with a new template label changes what nodes are made
    // with (upstream's NodePool hash): the m5.2xlarge is replaced by another m5.2xlarge.
    let relabelled = Setup {
        name: "karpenter-drift-labels",
        spec_extra: APPLY_AT_10M,
        files: vec![("nodepool.yaml", applied_node_pool("m5", "{team: blue}"))],
        ..Setup::default()
    }
    .run();
    let l = launches(&relabelled);
    assert_eq!(l.len(), 2, "{l:?}");
    assert_eq!((l[1].1.as_str(), l[1].4), ("m5.2xlarge", "Drifted"));
    let d = disruptions(&relabelled);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].1, DisruptionReason::Drifted);
    // The same spec applied again drifts nothing.
    let unchanged = Setup {
        name: "karpenter-no-drift",
        spec_extra: APPLY_AT_10M,
        files: vec![("nodepool.yaml", applied_node_pool("m5", "{}"))],
        ..Setup::default()
    }
    .run();
    assert_eq!(launches(&unchanged).len(), 1);
    assert!(disruptions(&unchanged).is_empty());
}
