//! Placement throughput of kube-scheduler's default profile (issue 4, part 8).
//!
//! `placement/alibaba-openb`: every pod of the Alibaba openb trace (8,152) placed in creation
//! order on its 1,523 nodes — filters, scores, `numFeasibleNodesToFind`, the rotating start
//! index and the random tie-break, exactly as in a run. Target ≤ 0.2 s.
//!
//! `placement-scaling/<N>`: the first 2,000 pods of the trace on N = 100, 1,000 and 5,000 nodes
//! (the trace's node shapes repeated), to check that the cost per pod grows at most linearly
//! with the node count.

use std::path::Path;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kubesim::cluster::{Cluster, DeploymentId};
use kubesim::controllers::scheduler::Scheduler;
use kubesim::scenario::{LoadOptions, PodTemplate, Scenario, load_scenario};
use kubesim::sim::{RngStreams, SimTime};

fn gpu_placement() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/gpu-placement/scenario.yaml");
    load_scenario(&path, &LoadOptions::default()).expect("shipped scenario loads")
}

/// Places `pods` one after another on a fresh copy of `cluster`; returns how many found a node.
fn place_all(cluster: &Cluster, scenario: &Scenario, pods: &[Arc<PodTemplate>]) -> usize {
    let mut cluster = cluster.clone();
    let mut scheduler = Scheduler::new(scenario.scheduler_profiles.clone());
    let mut rng = RngStreams::new(scenario.seed).stream("scheduler");
    let trace = DeploymentId(scenario.pod_traces[0].deployment as u32);
    let rs = cluster.deployment(trace).replica_sets[0];
    let mut placed = 0;
    for (i, template) in pods.iter().enumerate() {
        let pod = cluster.create_pod_with(rs, format!("p{i}"), Arc::clone(template), SimTime::ZERO);
        if let Ok(node) = scheduler.schedule_pod(&cluster, pod, &mut rng) {
            cluster.bind(pod, node);
            placed += 1;
        }
    }
    placed
}

/// The scenario's pools scaled so that the cluster has about `nodes` nodes.
fn scaled(scenario: &Scenario, nodes: usize) -> Scenario {
    let mut s = scenario.clone();
    let total: u32 = s.node_pools.iter().map(|p| p.count).sum();
    let mut left = nodes as u32;
    for p in &mut s.node_pools {
        let share = (u64::from(p.count) * nodes as u64).div_ceil(u64::from(total)) as u32;
        p.count = share.min(left);
        left -= p.count;
    }
    s
}

fn placement(c: &mut Criterion) {
    let scenario = gpu_placement();
    let pods: Vec<Arc<PodTemplate>> = scenario.pod_traces[0]
        .pods
        .iter()
        .map(|p| Arc::clone(&p.template))
        .collect();
    let cluster = scenario.initial_cluster();
    let placed = place_all(&cluster, &scenario, &pods);
    eprintln!(
        "alibaba-openb: {placed} of {} pods placed on {} nodes",
        pods.len(),
        cluster.ready_nodes.len()
    );
    let mut group = c.benchmark_group("placement");
    group.sample_size(10);
    group.throughput(Throughput::Elements(pods.len() as u64));
    group.bench_function("alibaba-openb", |b| {
        b.iter(|| place_all(&cluster, &scenario, &pods))
    });
    group.finish();

    let first = &pods[..2000];
    let mut group = c.benchmark_group("placement-scaling");
    group.sample_size(10);
    group.throughput(Throughput::Elements(first.len() as u64));
    for nodes in [100, 1000, 5000] {
        let s = scaled(&scenario, nodes);
        let cluster = s.initial_cluster();
        group.bench_with_input(
            BenchmarkId::from_parameter(nodes),
            &cluster,
            |b, cluster| b.iter(|| place_all(cluster, &s, first)),
        );
    }
    group.finish();
}

criterion_group!(benches, placement);
criterion_main!(benches);
