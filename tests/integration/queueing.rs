//! Queueing theory as a check on the serving model. With the HPA off and fixed replicas,
//! exponential service and FIFO per-pod servers, simulated mean latency must match the analytic
//! values within 2 %.

use crate::support::{deployment_and_service, load, run, run_text, scratch};

/// Writes a one-Deployment scenario: `pods` pods with `cores` CPU each, `concurrency` request
/// slots, exponential CPU time per request with mean 100 ms, Poisson arrivals at `rate`.
fn scenario(
    name: &str,
    pods: u32,
    cores: u32,
    concurrency: u32,
    rate: f64,
    hours: u32,
) -> std::path::PathBuf {
    let dir = scratch(name);
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {name}}}
spec:
  duration: {hours}h
  seed: 11
  cluster:
    nodePools:
      - {{name: pool, count: {pods}, allocatable: {{cpu: "{cores}", memory: 64Gi}}}}
  workloads:
    - deployment: app
      cpuPerRequest: {{exponential: {{mean: 100ms}}}}
      concurrency: {concurrency}
      queueLimit: 1000000
      timeout: 10h
  traffic:
    - service: app
      loadBalancing: Random
      arrivals: {{constant: {{rate: {rate}}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app}}
spec:
  replicas: {pods}
  selector: {{matchLabels: {{app: app}}}}
  template:
    metadata: {{labels: {{app: app}}}}
    spec:
      containers:
        - name: app
          resources:
            requests: {{cpu: "{cores}"}}
            limits: {{cpu: "{cores}"}}
---
apiVersion: v1
kind: Service
metadata: {{name: app}}
spec: {{selector: {{app: app}}}}
"#
    );
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Erlang C: probability an arrival waits in an M/M/c queue with offered load a = λ/μ.
fn erlang_c(c: u32, a: f64) -> f64 {
    let mut term = 1.0; // a^k / k!
    let mut sum = 0.0;
    for k in 0..c {
        sum += term;
        term *= a / f64::from(k + 1);
    }
    let top = term * f64::from(c) / (f64::from(c) - a); // a^c/c! · c/(c−a)
    top / (sum + top)
}

fn mean_latency_ms(path: &std::path::Path) -> (f64, u64) {
    let out = run(&load(path, None, &[]));
    let s = &out.report.services[0];
    assert_eq!(s.failed, 0);
    (s.latency_ms.mean, s.served)
}

#[test]
fn erlang_c_formula_matches_a_hand_computed_value() {
    // c = 4, a = 3.2: Σ_{k<4} a^k/k! = 1 + 3.2 + 5.12 + 5.4613 = 14.7813;
    // a^4/4! · 4/(4−3.2) = 4.36907 · 5 = 21.8453 → C = 21.8453 / 36.6266 = 0.59643.
    assert!((erlang_c(4, 3.2) - 0.59643).abs() < 1e-4);
}

#[test]
fn one_pod_is_an_m_m_4_queue() {
    // 4 cores and 4 slots: every request in service gets a full core, so the pod is M/M/4 with
    // μ = 10/s, λ = 32/s, ρ = λ/(cμ) = 0.8, a = 3.2.
    // W = C(4, 3.2)/(cμ − λ) + 1/μ = 0.59643/8 + 0.1 = 0.174554 s = 174.55 ms.
    // 30 h at 32/s ≈ 3.46 M requests: the standard error of the mean is well under 1 %.
    let expected = erlang_c(4, 3.2) / (40.0 - 32.0) * 1000.0 + 100.0;
    let (mean, served) = mean_latency_ms(&scenario("mm4", 1, 4, 4, 32.0, 30));
    assert!(served > 3_000_000);
    let error = (mean - expected).abs() / expected;
    assert!(
        error < 0.02,
        "simulated mean {mean:.2} ms vs Erlang-C {expected:.2} ms ({:.2} % off)",
        error * 100.0
    );
}

#[test]
fn random_routing_splits_poisson_traffic_into_independent_m_m_4_queues() {
    // Random routing of Poisson(160/s) over 5 pods gives each pod Poisson(32/s): the same
    // M/M/4 at ρ = 0.8, so the same W = 174.55 ms.
    let expected = erlang_c(4, 3.2) / 8.0 * 1000.0 + 100.0;
    let (mean, _) = mean_latency_ms(&scenario("mm4x5", 5, 4, 4, 160.0, 6));
    let error = (mean - expected).abs() / expected;
    assert!(
        error < 0.02,
        "simulated mean {mean:.2} ms vs {expected:.2} ms ({:.2} % off)",
        error * 100.0
    );
}

#[test]
fn one_core_shared_by_all_requests_is_an_m_m_1_processor_sharing_queue() {
    // 1 core, effectively unlimited concurrency: requests share the core (processor sharing).
    // M/M/1-PS has E[T] = (1/μ)/(1 − ρ) = 0.1/(1 − 0.8) = 0.5 s at λ = 8/s, μ = 10/s.
    // 120 h at 8/s ≈ 3.5 M requests.
    let (mean, _) = mean_latency_ms(&scenario("mm1ps", 1, 1, 100_000, 8.0, 120));
    let error = (mean - 500.0).abs() / 500.0;
    assert!(
        error < 0.02,
        "simulated mean {mean:.2} ms vs 500 ms ({:.2} % off)",
        error * 100.0
    );
}

/// A scenario of one-pod Services, each alone on a node of its cores (the pod requests them
/// all), so that each is a processor-sharing station of that many cores: `workloads` and
/// `traffic` are the YAML list items, `services` the (name, cores) of each Deployment, all of
/// the same cores.
fn network(
    name: &str,
    hours: u32,
    workloads: &str,
    traffic: &str,
    services: &[(&str, &str)],
) -> String {
    let cores = services[0].1;
    assert!(services.iter().all(|(_, c)| *c == cores), "one node size");
    let manifests: String = services
        .iter()
        .map(|(n, cpu)| deployment_and_service(n, 1, cpu))
        .collect();
    let nodes = services.len();
    format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {name}}}
spec:
  duration: {hours}h
  seed: 13
  startWarm: true
  cluster:
    nodePools:
      - {{name: pool, count: {nodes}, allocatable: {{cpu: "{cores}", memory: 256Gi}}}}
  workloads:
{workloads}  traffic:
{traffic}{manifests}"#
    )
}

#[test]
fn a_call_chain_is_a_tandem_of_processor_sharing_stations() {
    // Front (1 core, exponential 50 ms) calls back (1 core, exponential 80 ms) after its own
    // work; neither limits concurrency, and a waiting caller uses no CPU, so this is a tandem of
    // two M/M/1-PS stations with Poisson(10/s) arrivals — product form (BCMP), so the
    // end-to-end mean is the sum of the stations' means:
    // 0.05/(1 − 0.5) + 0.08/(1 − 0.8) = 100 ms + 400 ms = 500 ms. 60 h ≈ 2.2 M requests.
    let workloads = "    - {deployment: front, startupTime: 0s, cpuPerRequest: {exponential: {mean: 50ms}}, concurrency: 100000, queueLimit: 1000000, timeout: 1000h, calls: [{call: back}]}
    - {deployment: back, startupTime: 0s, cpuPerRequest: {exponential: {mean: 80ms}}, concurrency: 100000, queueLimit: 1000000, timeout: 1000h}
";
    let traffic = "    - {service: front, arrivals: {constant: {rate: 10}}}\n";
    let text = network(
        "tandem",
        60,
        workloads,
        traffic,
        &[("front", "1"), ("back", "1")],
    );
    let out = run_text("tandem", &text);
    let mean = |name: &str| {
        let s = out.report.services.iter().find(|s| s.name == name).unwrap();
        assert_eq!(s.failed, 0);
        s.latency_ms.mean
    };
    let (end_to_end, back) = (mean("front"), mean("back"));
    for (what, got, want) in [("end to end", end_to_end, 500.0), ("back", back, 400.0)] {
        let error = (got - want).abs() / want;
        assert!(
            error < 0.02,
            "{what}: {got:.2} ms vs {want} ms ({:.2} % off)",
            error * 100.0
        );
    }
}

#[test]
fn a_fork_join_of_two_m_m_1_queues_matches_nelson_and_tantawi() {
    // The entry does no work and calls `left` and `right` in parallel; each is an M/M/1 FCFS
    // queue (1 core, one request at a time, exponential 100 ms) fed by the same Poisson(5/s)
    // arrivals, ρ = 0.5. Its latency is the later of the two answers. For two homogeneous
    // exponential servers the mean is exact (Nelson & Tantawi 1988):
    // E[R] = (12 − ρ)/8 · 1/(μ − λ) = (11.5/8) · 200 ms = 287.5 ms, between the bounds
    // E[T] = 200 ms (one queue) and H₂·E[T] = 300 ms (independent queues).
    let one = "startupTime: 0s, cpuPerRequest: {exponential: {mean: 100ms}}, concurrency: 1, queueLimit: 1000000, timeout: 1000h";
    let workloads = format!(
        "    - {{deployment: fork, startupTime: 0s, cpuPerRequest: 0s, concurrency: 100000, queueLimit: 1000000, timeout: 1000h, calls: [{{parallel: [{{call: left}}, {{call: right}}]}}]}}
    - {{deployment: left, {one}}}
    - {{deployment: right, {one}}}
"
    );
    let traffic = "    - {service: fork, arrivals: {constant: {rate: 5}}}\n";
    let services = [("fork", "1"), ("left", "1"), ("right", "1")];
    let out = run_text(
        "fork-join",
        &network("fork-join", 100, &workloads, traffic, &services),
    );
    let s = out
        .report
        .services
        .iter()
        .find(|s| s.name == "fork")
        .unwrap();
    assert_eq!(s.failed, 0);
    let error = (s.latency_ms.mean - 287.5).abs() / 287.5;
    assert!(
        error < 0.02,
        "fork-join mean {:.2} ms vs 287.5 ms ({:.2} % off)",
        s.latency_ms.mean,
        error * 100.0
    );
}
