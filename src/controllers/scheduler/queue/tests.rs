//! The queue's tests: upstream's order and hints, and groups kept exact.
use super::super::filter::FilterPlugin::{self, *};
use super::*;
use crate::controllers::scheduler::test_pod;

fn t(secs: u64) -> SimTime {
    SimTime::from_secs(secs)
}

fn ms(millis: u64) -> SimTime {
    SimTime::from_micros(millis * 1000)
}

fn by(plugins: &[FilterPlugin]) -> Rejectors {
    Rejectors::of(plugins)
}

fn pending(pods: &[u32]) -> BTreeSet<PodId> {
    pods.iter().map(|&p| PodId(p)).collect()
}

fn ids(pods: &[u32]) -> Vec<PodId> {
    pods.iter().map(|&p| PodId(p)).collect()
}

/// What a pass would try, groups spelled out as their members.
fn take(
    q: &mut SchedulingQueue,
    pending: &BTreeSet<PodId>,
    now: SimTime,
    priority: impl Fn(PodId) -> i32,
) -> Vec<PodId> {
    let ready = q.take_ready(pending, now, priority);
    (ready.into_iter())
        .flat_map(|r| match r {
            Ready::Pod(pod) => vec![pod],
            Ready::Group(g) => q.members(g),
        })
        .collect()
}

/// `pod` failed on its own (its event, index `pod`, says "m").
fn fail(q: &mut SchedulingQueue, pod: u32, now: SimTime, plugins: &[FilterPlugin]) -> GroupId {
    let _ = q.detach(PodId(pod));
    q.failed(PodId(pod), now, by(plugins), pod as usize, "m")
}

/// Adds `pods`, takes them at `now` and fails each, rejected by `plugins`.
fn fail_all(q: &mut SchedulingQueue, pods: &[u32], now: SimTime, plugins: &[FilterPlugin]) {
    for &p in pods {
        q.add(PodId(p), now);
    }
    take(q, &pending(pods), now, |_| 0);
    for &p in pods {
        fail(q, p, now, plugins);
    }
}

#[test]
fn backoff_doubles_from_one_second_to_ten() {
    let secs: Vec<u64> = (1..=6)
        .map(|n| backoff(n).as_micros() / 1_000_000)
        .collect();
    assert_eq!(secs, [1, 2, 4, 8, 10, 10]);
}

#[test]
fn parked_pods_wait_for_the_flush_and_an_idle_scheduler_skips_their_backoff() {
    let all = pending(&[1, 2]);
    let mut q = SchedulingQueue::default();
    fail_all(&mut q, &[1, 2], t(0), &[NodeResourcesFit]);
    // Parked: not retried on its own before 5 minutes.
    assert_eq!(take(&mut q, &all, t(60), |_| 0), []);
    assert_eq!(q.next_wakeup(t(0)), Some(t(300)));
    assert_eq!(take(&mut q, &all, t(300), |_| 0), ids(&[1, 2]));
    // Second failures at 300 s: backoff 2 s. A pod deleted at 301 s moves them to the
    // backoffQ (still backing off), which the pass pops at once: activeQ is empty.
    fail(&mut q, 1, t(300), &[NodeResourcesFit]);
    fail(&mut q, 2, t(300), &[NodeResourcesFit]);
    let gone = test_pod(100, 0);
    let event = QueueEvent::AssignedPodDeleted(&gone);
    assert!(q.on_event(&event, t(301), |_, _| true));
    assert_eq!(take(&mut q, &all, t(301), |_| 0), ids(&[1, 2]));
    // A pod bound or deleted leaves the queue.
    fail(&mut q, 1, t(301), &[NodeResourcesFit]);
    let _ = q.forget(PodId(2));
    assert!(q.on_event(&event, t(302), |_, _| true));
    assert_eq!(take(&mut q, &all, t(302), |_| 0), ids(&[1]));
    // A new pod no longer pending when the pass comes is dropped.
    q.add(PodId(3), t(302));
    assert_eq!(take(&mut q, &all, t(302), |_| 0), []);
    fail(&mut q, 1, t(302), &[NodeResourcesFit]);
    let _ = q.forget(PodId(1));
    assert_eq!(q.next_wakeup(t(302)), None);
}

#[test]
fn an_event_moves_only_the_pods_a_plugin_registered_for_it_rejected() {
    // Pod 1: resources; 2: node affinity; 3: topology spread; 4: ports and affinity.
    let all = pending(&[1, 2, 3, 4]);
    let mut q = SchedulingQueue::default();
    fail_all(&mut q, &[1], t(0), &[NodeResourcesFit]);
    fail_all(&mut q, &[2], t(0), &[NodeAffinity]);
    fail_all(&mut q, &[3], t(0), &[PodTopologySpread]);
    fail_all(&mut q, &[4], t(0), &[NodePorts, NodeAffinity]);
    let other = test_pod(100, 0);
    // A bind: only PodTopologySpread and InterPodAffinity registered; asked with them.
    let mut asked = Vec::new();
    let added = QueueEvent::AssignedPodAdded(&other);
    assert!(q.on_event(&added, t(20), |pod, plugins| {
        asked.push((pod, plugins));
        true
    }));
    assert_eq!(asked, [(PodId(3), by(&[PodTopologySpread]))]);
    assert_eq!(take(&mut q, &all, t(20), |_| 0), ids(&[3]));
    // A deletion: resources and ports, asked with the plugins that registered for it.
    let mut asked = Vec::new();
    let deleted = QueueEvent::AssignedPodDeleted(&other);
    assert!(q.on_event(&deleted, t(30), |pod, plugins| {
        asked.push((pod, plugins));
        pod == PodId(1)
    }));
    assert_eq!(
        asked,
        [
            (PodId(1), by(&[NodeResourcesFit])),
            (PodId(4), by(&[NodePorts]))
        ]
    );
    assert_eq!(take(&mut q, &all, t(30), |_| 0), ids(&[1]));
    // Pod 4's hint said no: it stays parked. A node added moves every parked pod.
    assert!(q.on_event(&QueueEvent::NodeChanged, t(40), |_, _| false));
    assert_eq!(take(&mut q, &all, t(40), |_| 0), ids(&[2, 4]));
    assert!(!q.on_event(&QueueEvent::NodeChanged, t(50), |_, _| true));
}

#[test]
fn a_pod_no_plugin_rejected_waits_out_its_backoff_in_windows() {
    let all = pending(&[1]);
    let mut q = SchedulingQueue::default();
    // Failed at 0.5 s with no nodes at all: backoff to 1.5 s.
    fail_all(&mut q, &[1], ms(500), &[]);
    // Any event moves it, to the error backoffQ, which is not popped early; it is flushed
    // once its backoff's window (1 s) is over: at 2 s.
    let pod = test_pod(0, 0);
    assert!(q.on_event(&QueueEvent::AssignedPodAdded(&pod), ms(700), |_, _| true));
    assert_eq!(take(&mut q, &all, ms(1600), |_| 0), []);
    assert_eq!(q.next_wakeup(ms(1600)), Some(t(2)));
    assert_eq!(take(&mut q, &all, t(2), |_| 0), ids(&[1]));
}

#[test]
fn the_active_queue_goes_first_by_priority_then_the_backoff_queue_by_window() {
    let all = pending(&[1, 2, 3, 4]);
    let priority = |p: PodId| {
        if p == PodId(2) || p == PodId(4) {
            100
        } else {
            0
        }
    };
    let mut q = SchedulingQueue::default();
    // Pods 1 and 2 fail at 0 s (backoff to 1 s), pods 3 and 4 at 5.5 s (to 6.5 s).
    fail_all(&mut q, &[1, 2], t(0), &[NodeResourcesFit]);
    fail_all(&mut q, &[3, 4], ms(5500), &[NodeResourcesFit]);
    let gone = test_pod(0, 0);
    assert!(q.on_event(&QueueEvent::AssignedPodDeleted(&gone), t(6), |_, _| true));
    // 1 and 2 are past their backoff: activeQ, priority first. 3 and 4 are backing off:
    // backoffQ, same window, so priority first.
    assert_eq!(take(&mut q, &all, t(6), priority), ids(&[2, 1, 4, 3]));
}

#[test]
fn a_pool_no_event_reaches_does_not_grow_with_its_flushes() {
    let all = pending(&[1]);
    let mut q = SchedulingQueue::default();
    fail_all(&mut q, &[1], t(0), &[NodeAffinity]);
    for flush in 1..=1000 {
        let now = t(300 * flush);
        assert_eq!(take(&mut q, &all, now, |_| 0), ids(&[1]));
        fail(&mut q, 1, now, &[NodeAffinity]);
    }
    assert!(q.pool_entries <= 2 * q.parked + 64, "{}", q.pool_entries);
    assert_eq!(q.parked, 1);
    assert!(q.on_event(&QueueEvent::NodeChanged, t(400_000), |_, _| true));
    assert_eq!(q.parked, 0);
    assert_eq!(take(&mut q, &all, t(400_000), |_| 0), ids(&[1]));
}

#[test]
fn higher_priority_pods_go_first() {
    let pending = pending(&[1, 2, 3]);
    let priority = |p: PodId| if p == PodId(3) { 1000 } else { 0 };
    let mut q = SchedulingQueue::default();
    for &pod in &pending {
        q.add(pod, SimTime::ZERO);
    }
    // PodId(3) is newest but most important; equal priorities keep creation order.
    assert_eq!(
        take(&mut q, &pending, SimTime::ZERO, priority),
        ids(&[3, 1, 2])
    );
}

/// Fails `pods` one by one at `now` (each its own event, index = pod id), each merged into the
/// group before it as a pass does; returns the groups left.
fn fail_together(q: &mut SchedulingQueue, pods: &[u32], now: SimTime) -> Vec<GroupId> {
    let mut groups: Vec<GroupId> = Vec::new();
    for &p in pods {
        let g = fail(q, p, now, &[NodeResourcesFit]);
        match groups.last().and_then(|&last| q.try_merge(last, g, now)) {
            Some(merged) => *groups.last_mut().unwrap() = merged,
            None => groups.push(g),
        }
    }
    groups
}

/// A pod deleted at `now`: every group rejected by NodeResourcesFit moves.
fn pod_deleted(q: &mut SchedulingQueue, now: SimTime) {
    let gone = test_pod(100, 0);
    assert!(q.on_event(&QueueEvent::AssignedPodDeleted(&gone), now, |_, _| true));
}

#[test]
fn pods_that_fail_alike_move_as_one_group_split_where_another_pod_comes_between() {
    let all = pending(&[1, 2, 3, 5]);
    let mut q = SchedulingQueue::default();
    for p in [1, 3, 5] {
        q.add(PodId(p), t(0));
    }
    take(&mut q, &all, t(0), |_| 0);
    let groups = fail_together(&mut q, &[1, 3, 5], t(0));
    assert_eq!(groups.len(), 1);
    let g = groups[0];
    assert_eq!(q.members(g), ids(&[1, 3, 5]));
    // One entry in the queue, tried first to last.
    pod_deleted(&mut q, t(5));
    assert_eq!(q.take_ready(&all, t(5), |_| 0), [Ready::Group(g)]);
    q.group_failed(g, t(5), by(&[NodeResourcesFit]), true);
    // Pod 2, new, comes between pods 1 and 3: the group is split around it.
    q.add(PodId(2), t(20));
    pod_deleted(&mut q, t(20));
    let ready = q.take_ready(&all, t(20), |_| 0);
    let [Ready::Group(head), Ready::Pod(PodId(2)), Ready::Group(tail)] = ready[..] else {
        panic!("{ready:?}");
    };
    assert_eq!(
        (q.members(head), q.members(tail)),
        (ids(&[1]), ids(&[3, 5]))
    );
    // A higher-priority pod goes first and splits nothing.
    q.group_failed(head, t(20), by(&[NodeResourcesFit]), true);
    q.group_failed(tail, t(20), by(&[NodeResourcesFit]), true);
    fail(&mut q, 2, t(20), &[NodeResourcesFit]);
    pod_deleted(&mut q, t(40));
    let important = |p: PodId| if p == PodId(2) { 10 } else { 0 };
    let ready = take(&mut q, &all, t(40), important);
    assert_eq!(ready, ids(&[2, 1, 3, 5]));
}

#[test]
fn groups_merge_only_in_the_same_state() {
    let mut q = SchedulingQueue::default();
    let all = pending(&[1, 2, 3]);
    for p in [1, 2] {
        q.add(PodId(p), t(0));
    }
    take(&mut q, &all, t(0), |_| 0);
    let first = fail_together(&mut q, &[1, 2], t(0));
    // Pod 3 fails first at 10 s; the group, on its second attempt, then: backoffs differ.
    q.add(PodId(3), t(10));
    pod_deleted(&mut q, t(10));
    let ready = q.take_ready(&all, t(10), |_| 0);
    assert_eq!(ready, [Ready::Group(first[0]), Ready::Pod(PodId(3))]);
    q.group_failed(first[0], t(10), by(&[NodeResourcesFit]), true);
    let three = fail(&mut q, 3, t(10), &[NodeResourcesFit]);
    assert_eq!(q.try_merge(first[0], three, t(10)), None);
    // Not at the same instant, or not in the right order: no merge either.
    assert_eq!(q.try_merge(three, first[0], t(10)), None);
    assert_eq!(q.try_merge(first[0], three, t(11)), None);
}

#[test]
fn a_group_folds_its_failures_into_each_members_event_and_gives_them_back() {
    let all = pending(&[1, 2, 3, 4, 5]);
    let mut q = SchedulingQueue::default();
    for p in [1, 2, 3, 4, 5] {
        q.add(PodId(p), t(0));
    }
    take(&mut q, &all, t(0), |_| 0);
    let groups = fail_together(&mut q, &[1, 2, 3, 4, 5], t(0));
    let g = groups[0];
    let repeats = |pod: u32, count: u32, last: u64| Repeats {
        pod: PodId(pod),
        event: pod as usize,
        count,
        last: t(last),
    };
    // Two more failures of all five, folded.
    for now in [10, 20] {
        pod_deleted(&mut q, t(now));
        assert_eq!(q.take_ready(&all, t(now), |_| 0), [Ready::Group(g)]);
        q.group_failed(g, t(now), by(&[NodeResourcesFit]), true);
    }
    // Pod 3 is bound: its event gets its two folds, the last at 20 s; pod 1 is tried alone.
    assert_eq!(q.forget(PodId(3)), Some(repeats(3, 2, 20)));
    assert_eq!(q.detach(PodId(1)), Some(repeats(1, 2, 20)));
    let alone = q.failed(PodId(1), t(20), by(&[NodeResourcesFit]), 1, "m");
    assert_ne!(alone, g);
    assert_eq!(q.members(g), ids(&[2, 4, 5]));
    // A new message: the folds so far, then new events (index 100 + pod) counted afresh.
    pod_deleted(&mut q, t(30));
    assert_eq!(
        q.take_ready(&all, t(30), |_| 0),
        [Ready::Group(alone), Ready::Group(g)]
    );
    assert_eq!(
        q.take_repeats(g),
        [repeats(2, 2, 20), repeats(4, 2, 20), repeats(5, 2, 20)]
    );
    for p in [2, 4, 5] {
        q.set_event(PodId(p), 100 + p as usize);
    }
    q.set_message(g, "other");
    q.group_failed(g, t(30), by(&[NodeResourcesFit]), false);
    pod_deleted(&mut q, t(40));
    take(&mut q, &all, t(40), |_| 0);
    q.group_failed(g, t(40), by(&[NodeResourcesFit]), true);
    // What is left at the end of the run.
    let end = q.take_every_repeat();
    let moved = |pod: u32| Repeats {
        event: 100 + pod as usize,
        ..repeats(pod, 1, 40)
    };
    assert_eq!(end, [moved(2), moved(4), moved(5)]);
    assert_eq!(q.take_every_repeat(), []);
}

#[test]
fn a_merge_keeps_each_members_unfolded_failures() {
    let all = pending(&[1, 2, 3, 4]);
    let mut q = SchedulingQueue::default();
    for p in [1, 3, 4] {
        q.add(PodId(p), t(0));
    }
    take(&mut q, &all, t(0), |_| 0);
    let big = fail_together(&mut q, &[3, 4], t(0))[0];
    let small = fail(&mut q, 1, t(0), &[NodeResourcesFit]);
    // Pod 1's group comes first, pod 3's is larger: pod 1 moves to its front.
    pod_deleted(&mut q, t(10));
    assert_eq!(
        q.take_ready(&all, t(10), |_| 0),
        [Ready::Group(small), Ready::Group(big)]
    );
    q.group_failed(small, t(10), by(&[NodeResourcesFit]), true);
    q.group_failed(big, t(10), by(&[NodeResourcesFit]), true);
    assert_eq!(q.try_merge(small, big, t(10)), Some(big));
    assert_eq!(q.members(big), ids(&[1, 3, 4]));
    pod_deleted(&mut q, t(20));
    assert_eq!(q.take_ready(&all, t(20), |_| 0), [Ready::Group(big)]);
    q.group_failed(big, t(20), by(&[NodeResourcesFit]), true);
    let folds = |pod: u32| Repeats {
        pod: PodId(pod),
        event: pod as usize,
        count: 2,
        last: t(20),
    };
    assert_eq!(q.forget(PodId(1)), Some(folds(1)));
    assert_eq!(q.take_every_repeat(), [folds(3), folds(4)]);
}
