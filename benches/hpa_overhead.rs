//! HPA overhead: a 24 h run of 20 Deployments with traffic, with and without an HPA on each.
//! HPA work is per sync (every 15 s), not per request, so the two should cost about the same;
//! the README records the measured ratio (target: ≤ 5 % overhead).

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use kubesim::engine;
use kubesim::scenario::{LoadOptions, Scenario, load_scenario};

const DEPLOYMENTS: usize = 20;

/// 20 web Deployments (3 pods of 1 CPU each, 20 ms of CPU per request) at 5 req/s each for 24 h;
/// with `hpas`, each has a CPU HPA (2..10, 60 %).
fn scenario(hpas: bool) -> Scenario {
    let mut text = String::from(
        "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {name: hpa-overhead}\nspec:\n  duration: 24h\n  cluster:\n    nodePools:\n      - {name: pool, count: 20, allocatable: {cpu: \"16\", memory: 64Gi}}\n  workloads:\n",
    );
    for i in 0..DEPLOYMENTS {
        text += &format!(
            "    - {{deployment: web-{i}, cpuPerRequest: {{exponential: {{mean: 20ms}}}}, concurrency: 8}}\n"
        );
    }
    text += "  traffic:\n";
    for i in 0..DEPLOYMENTS {
        text += &format!("    - {{service: web-{i}, arrivals: {{constant: {{rate: 5}}}}}}\n");
    }
    for i in 0..DEPLOYMENTS {
        text += &format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web-{i}}}\nspec:\n  replicas: 3\n  selector: {{matchLabels: {{app: web-{i}}}}}\n  template:\n    metadata: {{labels: {{app: web-{i}}}}}\n    spec:\n      containers: [{{name: web, resources: {{requests: {{cpu: \"1\"}}, limits: {{cpu: \"1\"}}}}}}]\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: web-{i}}}\nspec: {{selector: {{app: web-{i}}}}}\n"
        );
        if hpas {
            text += &format!(
                "---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {{name: web-{i}}}\nspec:\n  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: web-{i}}}\n  minReplicas: 2\n  maxReplicas: 10\n  metrics: [{{type: Resource, resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 60}}}}}}]\n"
            );
        }
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(if hpas {
        "hpa-overhead-with"
    } else {
        "hpa-overhead-without"
    });
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, text).expect("scenario written");
    load_scenario(&path, &LoadOptions::default()).expect("generated scenario loads")
}

fn hpa_overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("hpa_overhead_24h_20_deployments");
    group.sample_size(10);
    for (name, hpas) in [("without_hpas", false), ("with_20_hpas", true)] {
        let s = scenario(hpas);
        group.bench_function(name, |b| {
            b.iter(|| engine::run(&s, &mut |_| {}).expect("runs"))
        });
    }
    group.finish();
}

criterion_group!(benches, hpa_overhead);
criterion_main!(benches);
