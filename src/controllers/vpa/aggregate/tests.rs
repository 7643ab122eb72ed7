//! Upstream's `container_test.go` (vertical-pod-autoscaler 1.7.1) as tables: upstream checks
//! the calls a mock histogram receives; here the histogram the calls should have built is
//! compared with the one the container state built.

use super::*;

const MI: i64 = 1 << 20;
/// `testTimestamp`, 2017-04-18 17:35:05 UTC, in seconds.
const T: SimTime = SimTime::from_secs(1_492_536_905);
const DAY: SimDuration = SimDuration::from_secs(24 * 3600);

fn at(base: SimTime, days_halves: u64) -> SimTime {
    base + SimDuration::from_secs(12 * 3600).saturating_mul(days_halves)
}

/// Memory peaks `(bytes, time)` added in this order, as the expected histogram.
fn peaks(config: &AggregationConfig, calls: &[(i64, SimTime)]) -> DecayingHistogram {
    let mut h = AggregateState::new(config).memory_peaks;
    for &(bytes, t) in calls {
        h.add_sample(bytes as f64, 1.0, t);
    }
    h
}

fn same(a: &DecayingHistogram, b: &DecayingHistogram) -> bool {
    [0.0, 0.1, 0.5, 0.9, 0.95, 1.0]
        .iter()
        .all(|&p| a.percentile(p) == b.percentile(p))
        && a.is_empty() == b.is_empty()
}

#[test]
fn usage_samples_make_one_memory_peak_per_interval() {
    // TestAggregateContainerUsageSamples: CPU 3.14 / 6.28 / 1.57 cores at T, T+12h, T+24h
    // (weight 0.1 each; written as fractions so that no constant looks like π); memory 5 @T → peak at T+I; 10 @T+12h replaces it (same interval);
    // 2 @T+24h opens the next interval → peak at T+2I.
    let config = AggregationConfig::default();
    let mut agg = AggregateState::new(&config);
    let mut c = ContainerState::default();
    for (i, cores, bytes) in [
        (0, 314.0 / 100.0, 5),
        (1, 628.0 / 100.0, 10),
        (2, 157.0 / 100.0, 2),
    ] {
        assert!(c.add_cpu_sample(&mut agg, cores, at(T, i)));
        assert!(c.add_memory_sample(&mut agg, &config, bytes, at(T, i)));
    }
    assert_eq!(agg.total_samples, 3);
    assert_eq!(agg.first_sample_start, Some(T));
    assert_eq!(agg.last_sample_start, Some(at(T, 2)));
    let want = peaks(&config, &[(10, T + DAY), (2, at(T, 4))]);
    assert!(same(&agg.memory_peaks, &want));
    // The same timestamp again, or negative usage, is refused.
    assert!(!c.add_cpu_sample(&mut agg, 1.0, at(T, 2)));
    assert!(!c.add_cpu_sample(&mut agg, -1.0, at(T, 4)));
    assert!(!c.add_memory_sample(&mut agg, &config, -1000, at(T, 4)));
}

#[test]
fn oom_kills_bump_the_peak() {
    let config = AggregationConfig::default();
    // TestRecordOOMIncreasedByBumpUp: 1000Mi → max(1100Mi, 1200Mi) = 1200Mi at T+I.
    let mut agg = AggregateState::new(&config);
    let mut c = ContainerState::default();
    assert_eq!(c.record_oom(&mut agg, &config, T, 1000 * MI), Ok(()));
    assert!(same(
        &agg.memory_peaks,
        &peaks(&config, &[(1200 * MI, T + DAY)])
    ));
    // TestRecordOOMDontRunAway: 999Mi → 1198.8Mi < 1200Mi: nothing; 2000Mi → 2400Mi replaces.
    assert_eq!(c.record_oom(&mut agg, &config, T, 999 * MI), Ok(()));
    assert!(same(
        &agg.memory_peaks,
        &peaks(&config, &[(1200 * MI, T + DAY)])
    ));
    assert_eq!(c.record_oom(&mut agg, &config, T, 2000 * MI), Ok(()));
    assert!(same(
        &agg.memory_peaks,
        &peaks(&config, &[(2400 * MI, T + DAY)])
    ));
    // TestRecordOOMIncreasedByMin: 1Mi → 1Mi + 100Mi = 101Mi (> 1.2Mi).
    let mut agg = AggregateState::new(&config);
    let mut c = ContainerState::default();
    c.record_oom(&mut agg, &config, T, MI).unwrap();
    assert!(same(
        &agg.memory_peaks,
        &peaks(&config, &[(101 * MI, T + DAY)])
    ));
}

#[test]
fn an_oom_kill_starts_from_the_known_peak() {
    let config = AggregationConfig::default();
    // TestRecordOOMMaxedWithKnownSample: peak 3000Mi, OOM with request 1000Mi → 3600Mi.
    let mut agg = AggregateState::new(&config);
    let mut c = ContainerState::default();
    c.add_memory_sample(&mut agg, &config, 3000 * MI, T);
    c.record_oom(&mut agg, &config, T, 1000 * MI).unwrap();
    assert!(same(
        &agg.memory_peaks,
        &peaks(&config, &[(3600 * MI, T + DAY)])
    ));
    // TestRecordOOMDiscardsOldSample: T − 30h is before the interval's start (T).
    let mut agg = AggregateState::new(&config);
    let mut c = ContainerState::default();
    c.add_memory_sample(&mut agg, &config, 1000 * MI, T);
    let early = T.saturating_sub(SimDuration::from_secs(30 * 3600));
    assert_eq!(
        c.record_oom(&mut agg, &config, early, 1000 * MI),
        Err(OomError::TooOld)
    );
    // TestRecordOOMInNewWindow: peak 2000Mi (window ends T+I); OOM at T+2I with 1000Mi →
    // max(2100Mi, 2400Mi) = 2400Mi in the interval ending T+3I.
    let mut agg = AggregateState::new(&config);
    let mut c = ContainerState::default();
    c.add_memory_sample(&mut agg, &config, 2000 * MI, T);
    c.record_oom(&mut agg, &config, at(T, 4), 1000 * MI)
        .unwrap();
    let want = peaks(&config, &[(2000 * MI, T + DAY), (2400 * MI, at(T, 6))]);
    assert!(same(&agg.memory_peaks, &want));
}

#[test]
fn custom_aggregation_intervals() {
    let hour = SimDuration::from_secs(3600);
    let config = AggregationConfig {
        memory_aggregation_interval: hour,
        ..AggregationConfig::default()
    };
    // TestMemorySamplesWithCustomAggregationInterval: 5 @T → T+1h; 10 @T+2h → T+3h.
    let mut agg = AggregateState::new(&config);
    let mut c = ContainerState::default();
    c.add_memory_sample(&mut agg, &config, 5, T);
    c.add_memory_sample(&mut agg, &config, 10, T + hour.saturating_mul(2));
    let want = peaks(&config, &[(5, T + hour), (10, T + hour.saturating_mul(3))]);
    assert!(same(&agg.memory_peaks, &want));
    // TestMemoryPeakUpdateWithinCustomInterval: 5 @T, 10 @T+30m → one peak of 10 at T+1h.
    let mut agg = AggregateState::new(&config);
    let mut c = ContainerState::default();
    c.add_memory_sample(&mut agg, &config, 5, T);
    c.add_memory_sample(&mut agg, &config, 10, T + SimDuration::from_secs(1800));
    assert!(same(&agg.memory_peaks, &peaks(&config, &[(10, T + hour)])));
    // TestRecordOOMDiscardsOldSampleWithCustomInterval: T − 2h < T.
    let mut c = ContainerState::default();
    c.add_memory_sample(&mut agg, &config, 1000 * MI, T);
    let early = T.saturating_sub(hour.saturating_mul(2));
    assert!(c.record_oom(&mut agg, &config, early, 1000 * MI).is_err());
}

#[test]
fn merged_states_add_their_samples() {
    // TestAggregateStateByContainerName's counts: two app-A containers merge (2 samples).
    let config = AggregationConfig::default();
    let (mut a, mut b) = (AggregateState::new(&config), AggregateState::new(&config));
    a.add_cpu_sample(1.0, T);
    b.add_cpu_sample(3.0, T + DAY);
    a.merge(&b);
    assert_eq!(a.total_samples, 2);
    assert_eq!(a.first_sample_start, Some(T));
    assert_eq!(a.last_sample_start, Some(T + DAY));
    assert_eq!(cpu_histogram_options().num_buckets(), 176);
    assert_eq!(memory_histogram_options().num_buckets(), 176);
}
