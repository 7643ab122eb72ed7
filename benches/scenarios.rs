//! Whole scenarios, reported as simulated requests per second of wall time. `simpy-peer` is the
//! model of the SimPy peer (see the README's performance section for the side-by-side
//! comparison with SimPy); `quickstart` adds the trace replay and autoscaling churn;
//! `saturated-node` (bench-only, `benches/scenarios/`) keeps nodes CPU-contended so that every
//! arrival and completion re-divides a node's CPU; `online-boutique` is a call graph of
//! eleven Services (every request counted, internal calls included). `llm-inference` is the
//! Azure LLM conversation hour (19 366 turns through a chat API) on 8 fixed Llama 2 70B
//! replicas, and `llm-mooncake` (bench-only) the first 1 000 Mooncake requests on 8 servers:
//! each LLM request is a sequence of batching steps (one event per step per pod, not per
//! token).

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kubesim::engine;
use kubesim::scenario::{LoadOptions, load_scenario};

fn bench_scenario(c: &mut Criterion, name: &str, overrides: &[&str]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped = root.join(format!("scenarios/{name}/scenario.yaml"));
    let path = if shipped.exists() {
        shipped
    } else {
        root.join(format!("benches/scenarios/{name}/scenario.yaml"))
    };
    let options = LoadOptions {
        seed: None,
        overrides: overrides.iter().map(|s| s.to_string()).collect(),
    };
    let scenario = load_scenario(&path, &options).expect("shipped scenario loads");
    let requests = engine::run(&scenario, &mut |_| {})
        .expect("runs")
        .report
        .totals
        .requests;
    let mut group = c.benchmark_group("scenario");
    group.sample_size(10);
    group.throughput(Throughput::Elements(requests));
    group.bench_function(name, |b| {
        b.iter(|| engine::run(&scenario, &mut |_| {}).expect("runs"))
    });
    group.finish();
}

fn scenarios(c: &mut Criterion) {
    // 10 simulated minutes of the 1 h model keep a sample under a tenth of a second.
    bench_scenario(c, "simpy-peer", &["duration=10m"]);
    bench_scenario(c, "quickstart", &[]);
    bench_scenario(c, "saturated-node", &[]);
    // 30 simulated minutes of the day's first hours: 58 k frontend requests and their calls.
    bench_scenario(c, "online-boutique", &["duration=30m"]);
    bench_scenario(
        c,
        "llm-inference",
        &[
            "hpa/llama:spec.minReplicas=8",
            "hpa/llama:spec.maxReplicas=8",
            "cluster.nodePools[1].count=4",
        ],
    );
    bench_scenario(c, "llm-mooncake", &[]);
}

criterion_group!(benches, scenarios);
criterion_main!(benches);
