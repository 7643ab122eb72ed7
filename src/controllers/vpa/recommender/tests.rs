//! The recommender's loop on hand-made samples, with the bucket arithmetic in comments.

use super::*;
use crate::spec::vpa::{ContainerPolicy, UpdateMode};

const MIB: i64 = 1 << 20;

fn spec(policies: Vec<ContainerPolicy>) -> VpaSpec {
    VpaSpec {
        name: "web".into(),
        ..VpaSpec::for_tests(UpdateMode::Off, policies)
    }
}

/// `days` of one loop a minute for one pod using `cores` and `bytes` (metrics-server's point
/// 5 s before each loop).
fn run(
    r: &mut Recommender,
    spec: &VpaSpec,
    containers: &[&str],
    days: u64,
    usage: (f64, i64),
) -> Vec<RecordedContainer> {
    let minute = SimDuration::from_secs(60);
    for i in 1..=days * 1440 {
        let now = SimTime::ZERO + minute.saturating_mul(i);
        let scraped = now.saturating_sub(SimDuration::from_secs(5));
        let sample = PodSample {
            pod: PodId(0),
            containers,
            serving: containers[0],
            usage: Some((usage.0, usage.1, scraped)),
        };
        r.run_once(0, spec, &[sample], now);
    }
    r.current(0).to_vec()
}

#[test]
fn steady_usage_gives_the_bucket_end_plus_the_margin() {
    let mut r = Recommender::new(1, RecommenderSettings::default());
    let got = run(&mut r, &spec(vec![]), &["app"], 2, (0.5, 400 * MIB));
    let app = &got[0];
    // 0.5 cores falls in bucket 25 of 0.01 × (1.05^i − 1)/0.05: [0.4773, 0.5111); the 90th
    // percentile is its end, 511m; + trunc(511 × 0.15) = 76 → 587m.
    assert_eq!(app.recommendation.target.cpu_millis, Some(587));
    // 400 MiB (419 430 400 B) falls in memory bucket 23: [414 304 751, 445 019 988); its end
    // + 15 % (66 752 998) = 511 772 986 B.
    assert_eq!(app.recommendation.target.memory_bytes, Some(511_772_986));
    // Two days of a sample a minute: confidence min(2879/1440, 2880/1440) = 1.9993; the
    // upper bound 587 × (1 + 1/1.9993) = 880.6 → 880m; the lower 587 × (1 + 0.001/1.9993)^-2
    // = 586.41 → 586m.
    assert_eq!(app.recommendation.upper.cpu_millis, Some(880));
    assert_eq!(app.recommendation.lower.cpu_millis, Some(586));
    assert_eq!(app.cpu_samples, 2880);
    assert_eq!(
        app.recommendation.uncapped_target,
        app.recommendation.target
    );
}

#[test]
fn an_oom_kill_raises_the_memory_peak() {
    let mut r = Recommender::new(1, RecommenderSettings::default());
    let vpa = spec(vec![]);
    run(&mut r, &vpa, &["app"], 1, (0.5, 400 * MIB));
    // Killed requesting 512 MiB: used = max(512 MiB, peak 400 MiB); needed = max(512 + 100 MiB,
    // 512 MiB × 1.2 = 644 245 094 B) = 644 245 094 B, which replaces the interval's peak: bucket
    // 29 ends at 664 388 475; + 15 % = 764 046 746 B.
    let now = SimTime::ZERO + SimDuration::from_secs(86_400 + 30);
    r.oom_killed(0, PodId(0), "app", 512 * MIB, now);
    r.run_once(0, &vpa, &[], now + SimDuration::from_secs(30));
    let app = &r.current(0)[0];
    assert_eq!(app.oom_kills, 1);
    assert_eq!(app.recommendation.target.memory_bytes, Some(764_046_746));
}

#[test]
fn off_containers_get_none_and_do_not_share_the_minimum() {
    // Idle pods: every estimate is 0, so each container gets its share of 25m / 250 MiB.
    let mut r = Recommender::new(1, RecommenderSettings::default());
    let both = run(&mut r, &spec(vec![]), &["app", "proxy"], 1, (0.0, 0));
    let shares: Vec<_> = both.iter().map(|c| c.recommendation.target).collect();
    // Two containers: 12.5m truncated to 12m, and 125 MiB each.
    let half = CpuMemory {
        cpu_millis: Some(12),
        memory_bytes: Some(125 * MIB),
    };
    assert_eq!(shares, [half, half]);
    let mut off = ContainerPolicy::unconstrained("proxy");
    off.off = true;
    let mut r = Recommender::new(1, RecommenderSettings::default());
    let one = run(&mut r, &spec(vec![off]), &["app", "proxy"], 1, (0.0, 0));
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].recommendation.container, "app");
    assert_eq!(one[0].recommendation.target.cpu_millis, Some(25));
    assert_eq!(one[0].recommendation.target.memory_bytes, Some(250 * MIB));
}

#[test]
fn policy_caps_and_uncontrolled_resources() {
    let mut p = ContainerPolicy::unconstrained("*");
    p.max_allowed.cpu_millis = Some(300);
    p.controls_memory = false;
    let mut r = Recommender::new(1, RecommenderSettings::default());
    let got = run(&mut r, &spec(vec![p]), &["app"], 1, (0.5, 400 * MIB));
    assert_eq!(got[0].recommendation.target.cpu_millis, Some(300));
    assert_eq!(got[0].recommendation.uncapped_target.cpu_millis, Some(587));
    assert_eq!(got[0].recommendation.target.memory_bytes, None);
}

#[test]
fn a_scrape_seen_twice_is_one_cpu_sample_and_records_follow_changes() {
    let mut r = Recommender::new(1, RecommenderSettings::default());
    let vpa = spec(vec![]);
    let at = SimTime::ZERO + SimDuration::from_secs(50);
    let sample = PodSample {
        pod: PodId(0),
        containers: &["app"],
        serving: "app",
        usage: Some((0.5, 400 * MIB, at)),
    };
    r.run_once(0, &vpa, &[sample], at + SimDuration::from_secs(10));
    r.run_once(0, &vpa, &[sample], at + SimDuration::from_secs(70));
    assert_eq!(r.current(0)[0].cpu_samples, 1);
    // Nothing changed between the two loops: one record.
    assert_eq!(r.records.len(), 1);
    assert!(r.records[0].pods_matched);
}
