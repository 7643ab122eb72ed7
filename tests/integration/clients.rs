//! Closed-loop clients (`arrivals.closedLoop`, issue 46 part 4): users who wait for their answer
//! and their think time before they send again, their count ramped through stages.

use crate::support::{OneNode, column, deployment_and_service, run_text};

fn scenario(name: &str, closed_loop: &str, manifests: &str) -> String {
    OneNode {
        name,
        duration: "110s",
        seed: 1,
        node_cpu: "64",
        workloads: "    - {deployment: web, startupTime: 0s, cpuPerRequest: 100ms, concurrency: 1000}\n",
        traffic: &format!("    - {{service: web, arrivals: {{closedLoop: {closed_loop}}}}}\n"),
        manifests,
    }
    .text()
}

#[test]
fn each_user_sends_again_when_answered_and_its_think_time_is_over() {
    let manifests = deployment_and_service("web", 1, "16");
    let out = run_text(
        "closed-loop-users",
        &scenario("users", "{users: 10, thinkTime: 1s}", &manifests),
    );
    // 10 users, each cycle 100 ms of CPU (a core each: 16 cores, no sharing) and 1 s of
    // thought: 1.1 s. In 110 s every user sends at 0, 1.1, …, 108.9 s: 100 requests each.
    let s = &out.report.services[0];
    assert_eq!((s.requests, s.served, s.failed), (1000, 1000, 0));
    assert!(
        (s.latency_ms.p99 - 100.0).abs() < 1.0,
        "{}",
        s.latency_ms.p99
    );
}

#[test]
fn stages_ramp_the_users_and_the_load_follows_them() {
    let manifests = deployment_and_service("web", 1, "16");
    let out = run_text(
        "closed-loop-stages",
        &scenario(
            "stages",
            "{users: 2, stages: [{duration: 50s, target: 2}, {duration: 0s, target: 8}]}",
            &manifests,
        ),
    );
    // No think time: 2 users in flight until 50 s, then 8 (each request 100 ms, unqueued).
    let in_flight = column(&out, "deployment.web.in_flight");
    let at = |t: f64| in_flight.iter().find(|(x, _)| *x == t).unwrap().1;
    assert_eq!((at(30.0), at(45.0)), (2.0, 2.0));
    assert_eq!((at(60.0), at(105.0)), (8.0, 8.0));
    // 20 requests a second for 50 s, then 80 for 60 s (to 110 s).
    let s = &out.report.services[0];
    assert_eq!(s.served, 2 * 500 + 8 * 600);
}

#[test]
fn users_of_a_service_without_endpoints_wait_a_second_between_failures() {
    // No replicas: every request fails at once; each user tries again a second later.
    let manifests = deployment_and_service("web", 0, "1");
    let out = run_text(
        "closed-loop-failures",
        &scenario("failures", "{users: 3}", &manifests),
    );
    let s = &out.report.services[0];
    // At 0, 1, …, 110 s: 111 tries for each of 3 users.
    assert_eq!((s.requests, s.failed), (333, 333));
}
