//! kubesim as a library: load a scenario, run it, read the report, and call the controllers'
//! arithmetic directly. Uses only `kubesim::` public paths, as a program embedding kubesim would.
//!
//! `cargo run --release --example library [SCENARIO]` (default: the quickstart). CI runs it;
//! docs/library.md walks through it.

use std::path::PathBuf;
use std::process::ExitCode;

use kubesim::cluster::Node;
use kubesim::controllers::hpa::calculator::{
    CpuTimings, PodView, Tolerances, resource_utilization_replicas,
};
use kubesim::controllers::rollout::{IntOrPercent, ReplicaSetView, Strategy, scale_down_old};
use kubesim::controllers::scheduler::score::balanced_allocation;
use kubesim::engine;
use kubesim::scenario::{LoadOptions, PodTemplate, load_scenario};
use kubesim::sim::{SimDuration, SimTime};
use kubesim::spec::resources::Resources;
use kubesim::spec::scheduler::default_resources;

fn main() -> ExitCode {
    let path = std::env::args().nth(1).map_or_else(
        || PathBuf::from("scenarios/quickstart/scenario.yaml"),
        PathBuf::from,
    );
    if let Err(message) = run_scenario(&path) {
        eprintln!("{message}");
        return ExitCode::from(2);
    }
    hpa_arithmetic();
    scheduler_arithmetic();
    rollout_arithmetic();
    ExitCode::SUCCESS
}

/// Loads the scenario (shortened to 30 simulated minutes), runs it and prints each Service's
/// p99 and the run's cost.
fn run_scenario(path: &std::path::Path) -> Result<(), String> {
    let options = LoadOptions {
        seed: Some(7),
        overrides: vec!["spec.duration=30m".into()],
    };
    let scenario = load_scenario(path, &options).map_err(|diagnostics| {
        let lines: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
        lines.join("\n")
    })?;
    let out = engine::run(&scenario, &mut |_progress| {}).map_err(|e| e.to_string())?;
    for s in &out.report.services {
        println!(
            "{}: {} requests, p99 {:.1} ms",
            s.name, s.requests, s.latency_ms.p99
        );
    }
    println!(
        "cost ${:.2} for {:.1} node-hours, {} events",
        out.report.totals.cost_usd, out.report.totals.node_hours, out.events
    );
    Ok(())
}

/// What the HPA computes for three pods of 1 cpu using 800m, 900m and 700m against a 50 %
/// target: 2 400m / 3 000m = 80 % → ratio 1.6 → ceil(1.6 × 3) = 5 replicas.
fn hpa_arithmetic() {
    let now = SimTime::from_secs(600);
    let pods: Vec<PodView> = [800, 900, 700]
        .into_iter()
        .map(|usage| PodView::running(1000, usage, now))
        .collect();
    let timings = CpuTimings {
        cpu_initialization_period: SimDuration::from_mins(5),
        initial_readiness_delay: SimDuration::from_secs(30),
    };
    let tolerances = Tolerances::symmetric(0.1);
    let proposal = resource_utilization_replicas(3, 50, &pods, now, tolerances, timings, true)
        .expect("every pod has a request and a sample");
    println!(
        "HPA: {} % utilization → {} replicas",
        proposal.utilization_percent, proposal.replicas
    );
    assert_eq!(proposal.replicas, 5);
}

/// How NodeResourcesBalancedAllocation scores a 3-cpu / 5 GiB pod on a 4-cpu / 10 GiB node:
/// fractions 0.75 and 0.5 → std 0.125 → (1 − 0.125) × 100 = 87.
fn scheduler_arithmetic() {
    let gib = 1 << 30;
    let node = Node::new("node-1", resources(4000, 10 * gib));
    let pod = PodTemplate::requesting(resources(3000, 5 * gib));
    let score = balanced_allocation(&node, &pod, &default_resources());
    println!("BalancedAllocation: {score}");
    assert_eq!(score, 87);
}

/// A rolling update of 10 replicas with maxUnavailable 2: the old ReplicaSet (8, all
/// available) beside a new one of 4 with 2 available may lose 8 + 2 − (10 − 2) = 2 replicas.
fn rollout_arithmetic() {
    let strategy = Strategy::RollingUpdate {
        max_surge: IntOrPercent::Int(2),
        max_unavailable: IntOrPercent::Int(2),
    };
    let old = [ReplicaSetView {
        spec: 8,
        available: 8,
    }];
    let new = ReplicaSetView {
        spec: 4,
        available: 2,
    };
    let sizes = scale_down_old(strategy, 10, &old, new);
    println!("rolling update: old ReplicaSet scaled to {sizes:?}");
    assert_eq!(sizes, Some(vec![6]));
}

fn resources(cpu_millis: i64, memory_bytes: i64) -> Resources {
    Resources {
        cpu_millis,
        memory_bytes,
        ..Resources::default()
    }
}
