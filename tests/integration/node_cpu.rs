//! Pods on one node share its CPU as the CFS does: by weight from their requests,
//! work-conserving (issue 14, part 1), with their limits as CFS bandwidth (issue 45).

use crate::support::{OneNode, column, run_text};
use kubesim::engine::RunOutput;

/// One serving app on the node: its CPU request and limit, offered load and concurrency.
struct App {
    name: &'static str,
    request: &'static str,
    limit: Option<&'static str>,
    rate: f64,
    concurrency: u32,
}

/// One 4-core node running one pod of each app; every request costs `work` CPU.
fn run_node(test: &str, work: &str, apps: &[App]) -> RunOutput {
    let mut workloads = String::new();
    let mut traffic = String::new();
    let mut manifests = String::new();
    for a in apps {
        workloads.push_str(&format!(
            "    - {{deployment: {n}, startupTime: 0s, cpuPerRequest: {work}, concurrency: {c}, queueLimit: 1000000, timeout: 10h}}\n",
            n = a.name,
            c = a.concurrency
        ));
        if a.rate > 0.0 {
            traffic.push_str(&format!(
                "    - {{service: {n}, arrivals: {{constant: {{rate: {r}}}}}}}\n",
                n = a.name,
                r = a.rate
            ));
        }
        let limits = a
            .limit
            .map_or(String::new(), |l| format!(", limits: {{cpu: \"{l}\"}}"));
        manifests.push_str(&format!(
            r#"---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {n}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {n}}}}}
  template:
    metadata: {{labels: {{app: {n}}}}}
    spec:
      containers:
        - name: app
          resources: {{requests: {{cpu: "{req}", memory: 1Gi}}{limits}}}
---
apiVersion: v1
kind: Service
metadata: {{name: {n}}}
spec: {{selector: {{app: {n}}}}}
"#,
            n = a.name,
            req = a.request,
        ));
    }
    let text = OneNode {
        name: test,
        duration: "10m",
        seed: 5,
        node_cpu: "4",
        workloads: &workloads,
        traffic: &traffic,
        manifests: &manifests,
    }
    .text();
    run_text(test, &text)
}

fn served(out: &RunOutput, service: &str) -> f64 {
    let s = out
        .report
        .services
        .iter()
        .find(|s| s.name == service)
        .unwrap();
    s.served as f64
}

#[test]
fn a_saturated_node_serves_pods_in_the_ratio_of_their_requests() {
    // Both pods want the whole node (8 requests of 10 ms in service, no limits) and are offered
    // more than it can do. Shares 256 : 768 = 1 : 3 of 4 cores → 1 and 3 cores → 100 and 300
    // requests/s of 10 ms → over 600 s about 60 000 and 180 000 served: a ratio of 3.
    let apps = [
        App {
            name: "light",
            request: "250m",
            limit: None,
            rate: 400.0,
            concurrency: 8,
        },
        App {
            name: "heavy",
            request: "750m",
            limit: None,
            rate: 400.0,
            concurrency: 8,
        },
    ];
    let out = run_node("cpu-ratio", "10ms", &apps);
    let ratio = served(&out, "heavy") / served(&out, "light");
    assert!((ratio - 3.0).abs() < 0.01, "served ratio {ratio:.4}");
    assert!(
        (served(&out, "light") - 60_000.0).abs() < 60.0,
        "{}",
        served(&out, "light")
    );
}

#[test]
fn a_pod_whose_limit_equals_its_request_is_unaffected_by_a_noisy_neighbour() {
    // `steady` (1 core requested and limited, one request at a time) never wants more than
    // its share: 1024 of 2048 shares of 4 cores = 2 cores ≥ its one thread's core, and one
    // thread never spends a 1-core quota. The same arrivals and service times (their own
    // random streams) give exactly the same latencies with the neighbour idle or saturating.
    // (With more requests at once it would burst past 2 cores when the node is quiet — CFS
    // bandwidth lets it, until its quota is spent — and not when the neighbour takes its
    // share: a limit equal to the request guarantees the request, not the burst.)
    let steady = || App {
        name: "steady",
        request: "1",
        limit: Some("1"),
        rate: 80.0,
        concurrency: 1,
    };
    let with_neighbour = |test: &str, rate: f64| {
        let noisy = App {
            name: "noisy",
            request: "1",
            limit: None,
            rate,
            concurrency: 16,
        };
        run_node(test, "10ms", &[steady(), noisy])
    };
    let quiet = with_neighbour("cpu-steady-quiet", 0.0);
    let noisy = with_neighbour("cpu-steady-noisy", 1000.0);
    let (a, b) = (&quiet.report.services[0], &noisy.report.services[0]);
    assert_eq!(a.name, "steady");
    assert_eq!(
        (a.served, a.latency_ms.p99, a.latency_ms.mean),
        (b.served, b.latency_ms.p99, b.latency_ms.mean)
    );
    // Work-conserving: the neighbour used what `steady` left, 4 − 80 × 10 ms = 3.2 cores on
    // average → 320 requests/s of 10 ms.
    let neighbour = served(&noisy, "noisy") / 600.0;
    assert!((neighbour - 320.0).abs() < 3.0, "{neighbour:.1} requests/s");
}

#[test]
fn without_a_limit_a_lone_busy_pod_uses_the_whole_node() {
    // One pod requesting 500m, no limit, 8 requests in service: it may use all 4 allocatable
    // cores (not just the 3.5 others have not requested) → usage / request = 4000 / 500 = 8.
    let apps = [App {
        name: "alone",
        request: "500m",
        limit: None,
        rate: 1000.0,
        concurrency: 8,
    }];
    let out = run_node("cpu-alone", "10ms", &apps);
    let utilization = column(&out, "deployment.alone.cpu_utilization");
    let late: Vec<f64> = utilization
        .iter()
        .filter(|(t, _)| *t >= 120.0)
        .map(|p| p.1)
        .collect();
    assert!(late.iter().all(|u| (u - 8.0).abs() < 0.01), "{late:?}");
}

#[test]
fn an_overcommitted_pod_slows_down_as_its_neighbours_get_busier() {
    // The `agent` pod (250m requested, 1-core limit) is offered 40 requests/s of 10 ms: 0.4 cores
    // on average, bursting to its limit. The `batch` neighbour requests 3 cores, no limit.
    // - batch idle: the agent has its whole core (processor sharing at ρ = 0.4);
    // - batch at 300 requests/s (3 cores on average): whenever the two want more than 4 cores
    //   the agent is cut to 4000 − 3000 = 1000m at best, down to its weighted share
    //   4000 × 256 / 3328 = 307m when batch bursts;
    // - batch saturating: the agent is held at 307m, below its 400m load, and queues.
    let p99 = |rate: f64| {
        let apps = [
            App {
                name: "agent",
                request: "250m",
                limit: Some("1"),
                rate: 40.0,
                concurrency: 4,
            },
            App {
                name: "batch",
                request: "3",
                limit: None,
                rate,
                concurrency: 16,
            },
        ];
        let out = run_node(&format!("cpu-overcommit-{rate}"), "10ms", &apps);
        out.report
            .services
            .iter()
            .find(|s| s.name == "agent")
            .unwrap()
            .latency_ms
            .p99
    };
    let (idle, busy, saturating) = (p99(0.0), p99(300.0), p99(2000.0));
    assert!(
        idle < busy && busy < saturating,
        "p99 {idle} → {busy} → {saturating} ms"
    );
    assert!(saturating > 10.0 * idle, "p99 {idle} → {saturating} ms");
}

/// The mean of a time-series column over its samples that have a value.
fn mean_of(out: &RunOutput, name: &str) -> f64 {
    let values: Vec<f64> = column(out, name)
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| v.is_finite())
        .collect();
    values.iter().sum::<f64>() / values.len() as f64
}

#[test]
fn a_limit_changes_how_fast_requests_run_not_the_cpu_metrics_server_sees() {
    // The same pod (1 core requested, 8 request slots, 10 ms requests at 60 per second: 0.6
    // cores) with a 1-core limit and without one. With CFS bandwidth the limited pod runs at
    // full speed until its quota is spent, so it does the same work: the CPU utilization the HPA
    // reads (mean over the samples) is the same within a percent, while bursts past the quota
    // make its tail longer. And a throttled pod uses no CPU: its neighbour-free node never
    // gives it more than its quota per period, so its utilization stays at most 100 %.
    let app = |name: &'static str, limit: Option<&'static str>| App {
        name,
        request: "1",
        limit,
        rate: 60.0,
        concurrency: 8,
    };
    let limited = run_node("cpu-metrics-limited", "10ms", &[app("web", Some("1"))]);
    let free = run_node("cpu-metrics-free", "10ms", &[app("web", None)]);
    let (a, b) = (
        mean_of(&limited, "deployment.web.cpu_utilization"),
        mean_of(&free, "deployment.web.cpu_utilization"),
    );
    assert!((a - b).abs() / b < 0.01, "limited {a:.4} vs free {b:.4}");
    assert!((0.55..0.65).contains(&b), "{b}");
    let max = column(&limited, "deployment.web.cpu_utilization")
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    assert!(max <= 1.0 + 1e-9, "{max}");
    let p99 = |out: &RunOutput| out.report.services[0].latency_ms.p99;
    assert!(
        p99(&limited) >= p99(&free),
        "{} vs {}",
        p99(&limited),
        p99(&free)
    );
    let d = &limited.report.deployments[0];
    assert!(d.cpu_periods > 0 && d.cpu_throttled_periods > 0, "{d:?}");
}
