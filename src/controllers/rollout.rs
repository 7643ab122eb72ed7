//! The Deployment controller's rollout arithmetic (B.2–B.7), as pure functions over small
//! views of a Deployment's ReplicaSets: fenceposts (`ResolveFenceposts`), how far the new
//! ReplicaSet may grow (`NewRSNewReplicas`), how far the old ones may shrink
//! (`reconcileOldReplicaSets`: unhealthy replicas first, then available ones down to
//! `minAvailable`), and whether a rollout is complete or progressing. The controller that
//! turns these numbers into ReplicaSet updates uses them on every reconcile.

pub use crate::spec::rollout::{IntOrPercent, RolloutStatus, Strategy};

/// `ResolveFenceposts`: (surge rounded up, unavailable rounded down), with unavailable raised to
/// 1 when both are 0 (so a rollout can always make progress).
pub fn resolve_fenceposts(
    surge: Option<IntOrPercent>,
    unavailable: Option<IntOrPercent>,
    desired: i32,
) -> (i32, i32) {
    let s = surge.map_or(0, |v| v.scaled(desired, true));
    let u = unavailable.map_or(0, |v| v.scaled(desired, false));
    if s == 0 && u == 0 { (0, 1) } else { (s, u) }
}

impl Strategy {
    fn fenceposts(self, replicas: i32) -> Option<(i32, i32)> {
        match self {
            Strategy::RollingUpdate {
                max_surge,
                max_unavailable,
            } => Some(resolve_fenceposts(
                Some(max_surge),
                Some(max_unavailable),
                replicas,
            )),
            Strategy::Recreate | Strategy::OnDelete => None,
        }
    }

    /// `MaxSurge`: 0 for Recreate.
    pub fn max_surge(self, replicas: i32) -> i32 {
        self.fenceposts(replicas).map_or(0, |(s, _)| s)
    }

    /// `MaxUnavailable`: 0 for Recreate or no replicas, at most `replicas`.
    pub fn max_unavailable(self, replicas: i32) -> i32 {
        match self.fenceposts(replicas) {
            Some((_, u)) if replicas > 0 => u.min(replicas),
            _ => 0,
        }
    }

    /// `MinAvailable`: `replicas − MaxUnavailable` (0 for Recreate).
    pub fn min_available(self, replicas: i32) -> i32 {
        match self {
            Strategy::RollingUpdate { .. } => replicas - self.max_unavailable(replicas),
            Strategy::Recreate | Strategy::OnDelete => 0,
        }
    }
}

/// One ReplicaSet as the rollout arithmetic sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicaSetView {
    /// `spec.replicas`.
    pub spec: i32,
    /// `status.availableReplicas`.
    pub available: i32,
}

/// `NewRSNewReplicas`: what the new ReplicaSet may be scaled to now — up to `replicas +
/// maxSurge` pods in total across `all`, and never beyond `replicas` (Recreate: `replicas`).
pub fn new_rs_new_replicas(
    strategy: Strategy,
    replicas: i32,
    all: &[ReplicaSetView],
    new: ReplicaSetView,
) -> i32 {
    match strategy {
        Strategy::Recreate | Strategy::OnDelete => replicas,
        Strategy::RollingUpdate { .. } => {
            let max_total = replicas + strategy.max_surge(replicas);
            let current: i32 = all.iter().map(|rs| rs.spec).sum();
            if current >= max_total {
                return new.spec;
            }
            let up = (max_total - current).min(replicas - new.spec);
            new.spec + up
        }
    }
}

/// `reconcileOldReplicaSets`: the old ReplicaSets' new `spec.replicas` (same order as `old`,
/// which must be oldest first), or `None` when nothing may be scaled down now.
pub fn scale_down_old(
    strategy: Strategy,
    replicas: i32,
    old: &[ReplicaSetView],
    new: ReplicaSetView,
) -> Option<Vec<i32>> {
    let old_pods: i32 = old.iter().map(|rs| rs.spec).sum();
    if old_pods == 0 {
        return None;
    }
    let all_pods = old_pods + new.spec;
    let min_available = replicas - strategy.max_unavailable(replicas);
    let new_unavailable = new.spec - new.available;
    let max_scaled_down = all_pods - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return None;
    }
    let (mut sizes, cleaned) = cleanup_unhealthy_replicas(old, max_scaled_down);
    // The new ReplicaSet's availability counts, and the cleaned-up replicas were unavailable.
    let available: i32 = old.iter().map(|rs| rs.available).sum::<i32>() + new.available;
    let scaled = scale_down_old_for_rolling_update(&mut sizes, available, min_available);
    (cleaned + scaled > 0).then_some(sizes)
}

/// `cleanupUnhealthyReplicas`: scales away the old ReplicaSets' unavailable replicas, oldest
/// first (`old` in creation order), at most `max_cleanup` in all — they do not count towards
/// availability anyway. Returns each ReplicaSet's new `spec.replicas` and how many went.
///
/// ```
/// use kubesim::controllers::rollout::{ReplicaSetView, cleanup_unhealthy_replicas};
/// // Two old ReplicaSets of 3 with 1 and 2 available: 2 + 1 unhealthy, at most 2 cleaned.
/// let old = [ReplicaSetView { spec: 3, available: 1 }, ReplicaSetView { spec: 3, available: 2 }];
/// assert_eq!(cleanup_unhealthy_replicas(&old, 2), (vec![1, 3], 2));
/// ```
pub fn cleanup_unhealthy_replicas(old: &[ReplicaSetView], max_cleanup: i32) -> (Vec<i32>, i32) {
    let mut sizes: Vec<i32> = old.iter().map(|rs| rs.spec).collect();
    let mut cleaned = 0;
    for (size, rs) in sizes.iter_mut().zip(old) {
        if cleaned >= max_cleanup {
            break;
        }
        if *size == 0 || *size == rs.available {
            continue;
        }
        let n = (max_cleanup - cleaned).min(*size - rs.available);
        *size -= n;
        cleaned += n;
    }
    (sizes, cleaned)
}

/// `scaleDownOldReplicaSetsForRollingUpdate`: scales the old ReplicaSets (`sizes`, their
/// `spec.replicas` oldest first) down while `available` (all ReplicaSets' available pods) stays
/// above `min_available`; returns how many replicas went.
pub fn scale_down_old_for_rolling_update(
    sizes: &mut [i32],
    available: i32,
    min_available: i32,
) -> i32 {
    if available <= min_available {
        return 0;
    }
    let budget = available - min_available;
    let mut scaled = 0;
    for size in sizes.iter_mut() {
        if scaled >= budget {
            break;
        }
        let n = (*size).min(budget - scaled);
        *size -= n;
        scaled += n;
    }
    scaled
}

/// One active ReplicaSet as proportional scaling (`sync.go: scale()`) sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScaleView {
    /// `spec.replicas` (> 0: only active ReplicaSets are scaled).
    pub spec: i32,
    /// The `max-replicas` annotation (0: absent).
    pub max_annotation: i32,
    /// Creation order: larger is newer.
    pub age_rank: u32,
}

/// Proportional scaling of a RollingUpdate Deployment whose replicas changed mid-rollout (or
/// while paused): the new sizes of `active` (same order). The difference between what is
/// allowed (`replicas + maxSurge`, or 0 for no replicas) and what the ReplicaSets have is
/// shared in proportion to each one's size against its `max-replicas` annotation (or
/// `status_replicas` without one); the leftover goes to the largest.
pub fn proportional_sizes(
    strategy: Strategy,
    replicas: i32,
    status_replicas: i32,
    active: &[ScaleView],
) -> Vec<i32> {
    let mut sizes: Vec<i32> = active.iter().map(|rs| rs.spec).collect();
    let allowed = if replicas > 0 {
        replicas + strategy.max_surge(replicas)
    } else {
        0
    };
    let to_add = allowed - sizes.iter().sum::<i32>();
    if to_add == 0 || active.is_empty() {
        return sizes;
    }
    let mut order: Vec<usize> = (0..active.len()).collect();
    // Scaling up: largest first, ties to the newer; scaling down: ties to the older.
    order.sort_by_key(|&i| {
        let newer_first = if to_add > 0 {
            u32::MAX - active[i].age_rank
        } else {
            active[i].age_rank
        };
        (std::cmp::Reverse(active[i].spec), newer_first)
    });
    let mut added = 0;
    for &i in &order {
        let p = proportion(
            strategy,
            replicas,
            status_replicas,
            active[i],
            to_add,
            added,
        );
        sizes[i] += p;
        added += p;
    }
    let first = order[0];
    sizes[first] = (sizes[first] + to_add - added).max(0);
    sizes
}

/// `GetProportion`: this ReplicaSet's share of `to_add`, bounded by what is left of it.
fn proportion(
    strategy: Strategy,
    replicas: i32,
    status_replicas: i32,
    rs: ScaleView,
    to_add: i32,
    added: i32,
) -> i32 {
    if rs.spec == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = replica_set_fraction(strategy, replicas, status_replicas, rs);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// `getReplicaSetFraction`: `round(spec × (replicas + maxSurge) / max-replicas) − spec`
/// (rounded half away from zero); the whole size when scaling to 0. `status_replicas` is the
/// Deployment's `status.replicas`, used when the ReplicaSet has no `max-replicas` annotation.
///
/// ```
/// use kubesim::controllers::rollout::{IntOrPercent, ScaleView, Strategy, replica_set_fraction};
/// let strategy = Strategy::RollingUpdate {
///     max_surge: IntOrPercent::Percent(25),
///     max_unavailable: IntOrPercent::Percent(25),
/// };
/// // A Deployment of 10 (max-replicas 10 + ⌈2.5⌉ = 13) scaled to 20 mid-rollout: a ReplicaSet
/// // of 4 gets round(4 × (20 + 5) / 13) = round(7.69) = 8, i.e. 4 more.
/// let rs = ScaleView { spec: 4, max_annotation: 13, age_rank: 0 };
/// assert_eq!(replica_set_fraction(strategy, 20, 13, rs), 4);
/// // Scaling the Deployment to 0 takes the whole ReplicaSet away.
/// assert_eq!(replica_set_fraction(strategy, 0, 13, rs), -4);
/// ```
pub fn replica_set_fraction(
    strategy: Strategy,
    replicas: i32,
    status_replicas: i32,
    rs: ScaleView,
) -> i32 {
    if replicas == 0 {
        return -rs.spec;
    }
    let now_max = replicas + strategy.max_surge(replicas);
    let before = if rs.max_annotation != 0 {
        rs.max_annotation
    } else {
        status_replicas
    };
    if before == 0 {
        return 0; // upstream never gets here: it does not scale up from nothing
    }
    let size = f64::from(rs.spec) * f64::from(now_max) / f64::from(before);
    size.round() as i32 - rs.spec
}

/// An old ReplicaSet as `cleanupDeployment` sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistoryView {
    /// `deployment.kubernetes.io/revision`.
    pub revision: u64,
    /// `spec.replicas`.
    pub spec: i32,
    /// Its pods (`status.replicas`; kubesim counts terminating pods too).
    pub pods: i32,
    /// It has a deletion timestamp: not counted against the limit, never picked again.
    pub deleting: bool,
    /// `metadata.generation > status.observedGeneration`: its controller has not seen its
    /// latest spec, so it is not deleted yet.
    pub unobserved: bool,
}

/// `cleanupDeployment`: which of the old ReplicaSets (indexes into `old`, which is in
/// creation order) to delete so that at most `limit` of those not being deleted stay — the
/// lowest revisions first, and of those only the ones with no replicas, no pods and an
/// observed spec (the others are skipped, not replaced).
///
/// ```
/// use kubesim::controllers::rollout::{HistoryView, history_to_delete};
/// let rs = |revision, spec| HistoryView { revision, spec, ..HistoryView::default() };
/// // Four old ReplicaSets, limit 2: the two lowest revisions go, but revision 2 still has a
/// // replica, so only revision 1 is deleted (index 1: `old` is in creation order).
/// let old = [rs(2, 1), rs(1, 0), rs(3, 0), rs(4, 0)];
/// assert_eq!(history_to_delete(&old, 2), vec![1]);
/// ```
pub fn history_to_delete(old: &[HistoryView], limit: i32) -> Vec<usize> {
    let mut cleanable: Vec<usize> = (0..old.len()).filter(|&i| !old[i].deleting).collect();
    let excess = cleanable.len() as i64 - i64::from(limit);
    if excess <= 0 {
        return Vec::new();
    }
    cleanable.sort_by_key(|&i| (old[i].revision, i));
    cleanable
        .into_iter()
        .take(excess as usize)
        .filter(|&i| old[i].spec == 0 && old[i].pods == 0 && !old[i].unobserved)
        .collect()
}

/// `DeploymentComplete`: every replica updated, no more, all available.
pub fn complete(replicas: i32, status: RolloutStatus) -> bool {
    status.updated == replicas && status.replicas == replicas && status.available == replicas
}

/// `DeploymentProgressing`: more updated, fewer old, more ready or more available pods.
pub fn progressing(before: RolloutStatus, now: RolloutStatus) -> bool {
    now.updated > before.updated
        || (now.replicas - now.updated) < (before.replicas - before.updated)
        || now.ready > before.ready
        || now.available > before.available
}

#[cfg(test)]
mod tests {
    //! Ported from upstream `deployment/util/deployment_util_test.go` and
    //! `deployment/rolling_test.go`.

    use super::*;
    use IntOrPercent::{Int, Percent};

    fn rolling(surge: IntOrPercent, unavailable: IntOrPercent) -> Strategy {
        Strategy::RollingUpdate {
            max_surge: surge,
            max_unavailable: unavailable,
        }
    }

    #[test]
    fn resolve_fenceposts_upstream() {
        // (surge, unavailable, desired) → (surge, unavailable)
        let cases = [
            (Some(Percent(0)), Some(Percent(0)), 0, (0, 1)), // both 0: unavailable raised to 1
            (Some(Percent(39)), Some(Percent(39)), 10, (4, 3)), // ⌈3.9⌉ = 4, ⌊3.9⌋ = 3
            (None, Some(Percent(39)), 10, (0, 3)),
            (Some(Percent(39)), None, 10, (4, 0)),
            (None, None, 10, (0, 1)),
        ];
        for (s, u, desired, want) in cases {
            assert_eq!(
                resolve_fenceposts(s, u, desired),
                want,
                "{s:?} {u:?} {desired}"
            );
        }
        assert!(IntOrPercent::parse("oops").is_err());
        assert!(IntOrPercent::parse("urg%").is_err());
        assert_eq!(IntOrPercent::parse("25%"), Ok(Percent(25)));
        assert_eq!(IntOrPercent::parse("3"), Ok(Int(3)));
    }

    #[test]
    fn new_rs_new_replicas_upstream() {
        // The other ReplicaSet has 5 replicas; maxUnavailable 1.
        let rs5 = ReplicaSetView {
            spec: 5,
            available: 0,
        };
        let cases = [
            // (strategy, deployment replicas, new RS spec, maxSurge) → new RS spec
            // 5 + 5 = 10 ≥ 1 + 1: cannot grow.
            ("can not scale up", true, 1, 5, 1, 5),
            // 2 + 5 = 7 < 6 + 10 = 16: grow by min(16 − 7, 6 − 2) = 4 → 6.
            ("scale up to replicas", true, 6, 2, 10, 6),
            ("recreate", false, 3, 1, 1, 3),
        ];
        for (name, is_rolling, replicas, new_spec, surge, want) in cases {
            let strategy = if is_rolling {
                rolling(Int(surge), Int(1))
            } else {
                Strategy::Recreate
            };
            let new = ReplicaSetView {
                spec: new_spec,
                available: 0,
            };
            assert_eq!(
                new_rs_new_replicas(strategy, replicas, &[rs5, new], new),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn max_unavailable_upstream() {
        let cases = [
            (10, rolling(Int(1), Int(5)), 5),
            (10, rolling(Int(1), Int(10)), 10),
            (5, rolling(Int(1), Int(10)), 5), // capped at replicas
            (0, rolling(Int(1), Int(10)), 0), // no replicas
            (10, Strategy::Recreate, 0),
            (10, rolling(Int(1), Percent(50)), 5),
            (5, rolling(Int(1), Percent(100)), 5),
        ];
        for (replicas, strategy, want) in cases {
            assert_eq!(
                strategy.max_unavailable(replicas),
                want,
                "{replicas} {strategy:?}"
            );
        }
    }

    #[test]
    fn reconcile_old_replica_sets_upstream() {
        // (replicas, maxUnavailable, old spec, new spec, old available, new available) →
        // old spec after, or None (maxSurge 0)
        let cases = [
            // maxUnavailable 0 → raised to 1 (surge is 0): scale 10 → 9.
            (10, 0, 10, 0, 10, 0, Some(9)),
            (10, 2, 10, 0, 10, 0, Some(8)),
            // 2 unhealthy old pods are cleaned up first (max scaled down 10 − 8 = 2), and
            // availability 8 is at minAvailable: 8.
            (10, 2, 10, 0, 8, 0, Some(8)),
            // 1 unhealthy cleaned, then 1 available scaled down (9 − 8 = 1): 8.
            (10, 2, 10, 0, 9, 0, Some(8)),
            // The new RS's 2 unavailable pods use up the budget: 10 − 8 − 2 = 0.
            (10, 2, 8, 2, 8, 0, None),
        ];
        for (replicas, unavailable, old_spec, new_spec, old_avail, new_avail, want) in cases {
            let old = [ReplicaSetView {
                spec: old_spec,
                available: old_avail,
            }];
            let new = ReplicaSetView {
                spec: new_spec,
                available: new_avail,
            };
            let got = scale_down_old(rolling(Int(0), Int(unavailable)), replicas, &old, new);
            assert_eq!(
                got.map(|s| s[0]),
                want,
                "{replicas} {unavailable} {old_spec}"
            );
        }
    }

    #[test]
    fn scale_down_only_above_min_available() {
        // The cases of TestDeploymentController_scaleDownOldReplicaSetsForRollingUpdate (one
        // old RS, 10 replicas, surge 0) through the whole reconcile, cleanup included:
        // (maxUnavailable, available, spec) → spec after.
        let cases = [
            (0, 10, 10, Some(9)), // maxUnavailable raised to 1: 10 available − 9 = 1
            (2, 10, 10, Some(8)),
            (2, 8, 10, Some(8)), // the 2 unavailable are cleaned up; none available to spare
            (2, 10, 0, None),
            // Upstream's scale-down step alone does nothing here (1 available ≤ 8); the
            // cleanup before it removes 2 of the 9 unhealthy (budget 10 − 8 = 2).
            (2, 1, 10, Some(8)),
        ];
        for (unavailable, available, spec, want) in cases {
            let old = [ReplicaSetView { spec, available }];
            let got = scale_down_old(
                rolling(Int(0), Int(unavailable)),
                10,
                &old,
                ReplicaSetView::default(),
            );
            assert_eq!(got.map(|s| s[0]), want, "{unavailable} {available} {spec}");
        }
    }

    #[test]
    fn proportional_scaling_upstream() {
        // TestScale (sync_test.go). The old Deployment's replicas + maxSurge are each active
        // ReplicaSet's max-replicas annotation; maxUnavailable 0, so surge 0 → 1 unavailable.
        // (surge, old replicas, new replicas, [(spec, age)]) → sizes
        type Case<'a> = (&'a str, i32, i32, i32, &'a [(i32, u32)], &'a [i32]);
        let cases: [Case; 8] = [
            // toAdd 10 − 5 = 5. The old RS (3, larger) first: round(3·10/5) − 3 = 3 → 6;
            // then the new one: round(2·10/5) − 2 = 2 → 4.
            ("5 -> 10", 0, 5, 10, &[(2, 2), (3, 1)], &[4, 6]),
            // toAdd −2: old round(3·3/5) − 3 = −1 → 2; new round(2·3/5) − 2 = −1 → 1.
            ("5 -> 3", 0, 5, 3, &[(2, 2), (3, 1)], &[1, 2]),
            // toAdd −5: new round(8·4/9) − 8 = −4 → 4; old max(round(4/9) − 1, −1) → 0.
            ("9 -> 4", 0, 9, 4, &[(8, 2), (1, 1)], &[4, 0]),
            // toAdd 1: every fraction round(4/3) − 1 = 0; the leftover goes to the first
            // (ties go to the newer when scaling up).
            (
                "leftover 3 -> 4",
                0,
                3,
                4,
                &[(1, 3), (1, 2), (1, 1)],
                &[2, 1, 1],
            ),
            // toAdd −1: fractions round(2/3) − 1 = 0; the leftover to the oldest.
            (
                "leftover 3 -> 2",
                0,
                3,
                2,
                &[(1, 3), (1, 2), (1, 1)],
                &[1, 1, 0],
            ),
            // toAdd −6 to 0 replicas: each RS loses its whole size.
            ("6 -> 0", 0, 6, 0, &[(3, 3), (2, 2), (1, 1)], &[0, 0, 0]),
            // maxSurge 2: annotation 12, allowed 22, toAdd 10: round(6·22/12) − 6 = 5 each.
            (
                "surge pods 10 -> 20",
                2,
                10,
                20,
                &[(6, 2), (6, 1)],
                &[11, 11],
            ),
            // No new RS: ties newer first, round(2·5/4) − 2 = 1 → 3, then nothing left.
            ("no new rs 4 -> 5", 0, 4, 5, &[(2, 2), (2, 1)], &[3, 2]),
        ];
        for (name, surge, before, replicas, rss, want) in cases {
            let strategy = rolling(Int(surge), Int(0));
            let max_before = before + strategy.max_surge(before);
            let views: Vec<ScaleView> = rss
                .iter()
                .map(|&(spec, age_rank)| ScaleView {
                    spec,
                    max_annotation: max_before,
                    age_rank,
                })
                .collect();
            let got = proportional_sizes(strategy, replicas, before, &views);
            assert_eq!(got, want.to_vec(), "{name}");
        }
        // "change both surge and size": surge 3 → 6 and 10 → 50. Annotation 13, allowed 56,
        // toAdd 43: old round(8·56/13) − 8 = 26 → 34; new min(round(5·56/13) − 5, 17) → 22.
        let views = [
            ScaleView {
                spec: 5,
                max_annotation: 13,
                age_rank: 2,
            },
            ScaleView {
                spec: 8,
                max_annotation: 13,
                age_rank: 1,
            },
        ];
        let got = proportional_sizes(rolling(Int(6), Int(0)), 50, 13, &views);
        assert_eq!(got, vec![22, 34]);
    }

    #[test]
    fn cleanup_upstream() {
        let rs = |revision, spec, pods| HistoryView {
            revision,
            spec,
            pods,
            ..HistoryView::default()
        };
        // TestDeploymentController_cleanupDeployment: (old (revision, spec, status), limit) →
        // deletions.
        let count_cases: [(Vec<HistoryView>, i32, usize); 5] = [
            // 3 − 1 = 2 to delete, all deletable.
            (vec![rs(1, 0, 0), rs(2, 0, 0), rs(3, 0, 0)], 1, 2),
            // 4 − 0 = 4 candidates, only the one with spec = status = 0 goes.
            (
                vec![rs(1, 0, 0), rs(2, 0, 1), rs(3, 1, 0), rs(4, 1, 1)],
                0,
                1,
            ),
            (vec![rs(1, 0, 0), rs(2, 0, 0)], 0, 2),
            (vec![rs(1, 1, 1), rs(2, 1, 1)], 0, 0),
            // Unlimited history (MaxInt32).
            (vec![rs(1, 0, 0), rs(2, 0, 0), rs(3, 0, 0)], i32::MAX, 0),
        ];
        for (old, limit, want) in count_cases {
            assert_eq!(
                history_to_delete(&old, limit).len(),
                want,
                "{old:?} {limit}"
            );
        }
        // TestDeploymentController_cleanupDeploymentOrder (creation order as written):
        // (revisions with replicas, limit) → deleted indexes.
        let order_cases: [(Vec<HistoryView>, i32, Vec<usize>); 5] = [
            (vec![rs(1, 0, 0), rs(2, 0, 0)], 1, vec![0]),
            (vec![rs(2, 0, 0), rs(1, 0, 0)], 1, vec![1]),
            // rs1 (revision 1) has replicas: skipped, and rs2 is the other of the 2 to go.
            (vec![rs(1, 1, 1), rs(2, 0, 0), rs(3, 0, 0)], 1, vec![1]),
            (vec![rs(1, 1, 1), rs(2, 1, 1), rs(3, 0, 0)], 1, vec![]),
            // Revision order rs2 < rs4 < rs1 < rs3: the two lowest go.
            (
                vec![rs(3, 0, 0), rs(1, 0, 0), rs(4, 0, 0), rs(2, 0, 0)],
                2,
                vec![1, 3],
            ),
        ];
        for (old, limit, want) in order_cases {
            let mut got = history_to_delete(&old, limit);
            got.sort();
            assert_eq!(got, want, "{old:?} {limit}");
        }
        // A ReplicaSet being deleted is filtered out before counting (cleanupDeployment's
        // `cleanableRSes`): four old, one deleting, limit 1 → 3 − 1 = 2 go, revisions 1 and 2
        // (revision 3 is the one being deleted and is never picked again).
        let deleting = HistoryView {
            deleting: true,
            ..rs(3, 0, 0)
        };
        let old = vec![rs(1, 0, 0), rs(2, 0, 0), deleting, rs(4, 0, 0)];
        assert_eq!(history_to_delete(&old, 1), vec![0, 1]);
        // A ReplicaSet whose controller has not observed its generation is skipped, not replaced.
        let unobserved = HistoryView {
            unobserved: true,
            ..rs(1, 0, 0)
        };
        assert!(history_to_delete(&[unobserved, rs(2, 0, 0)], 1).is_empty());
    }

    #[test]
    fn unhealthy_cleanup_and_rolling_scale_down_alone() {
        let view = |spec, available| ReplicaSetView { spec, available };
        // cleanupUnhealthyReplicas (oldest first): 5 with 2 available → 3 unhealthy, but at most
        // 4 in all: 3 from the first, 1 from the second (4 with 3 available); the third is
        // healthy.
        let old = [view(5, 2), view(4, 3), view(2, 2)];
        assert_eq!(cleanup_unhealthy_replicas(&old, 4), (vec![2, 3, 2], 4));
        // Nothing to clean when none may go.
        assert_eq!(cleanup_unhealthy_replicas(&old, 0), (vec![5, 4, 2], 0));
        // scaleDownOldReplicaSetsForRollingUpdate: 9 available, minAvailable 6 → 3 may go,
        // oldest first: 2 from the first, 1 from the second.
        let mut sizes = vec![2, 3, 2];
        assert_eq!(scale_down_old_for_rolling_update(&mut sizes, 9, 6), 3);
        assert_eq!(sizes, vec![0, 2, 2]);
        // At or below minAvailable nothing goes.
        assert_eq!(scale_down_old_for_rolling_update(&mut sizes, 6, 6), 0);
    }

    #[test]
    fn complete_and_progressing_upstream() {
        let st = |replicas, updated, ready, available| RolloutStatus {
            replicas,
            updated,
            ready,
            available,
        };
        // TestDeploymentComplete: (desired, current, updated, available) → complete
        assert!(!complete(5, st(5, 5, 0, 4)));
        assert!(!complete(5, st(5, 5, 0, 3)));
        assert!(complete(5, st(5, 5, 0, 5)));
        assert!(!complete(5, st(5, 4, 0, 5)));
        assert!(!complete(1, st(2, 1, 0, 1)));
        assert!(!complete(1, st(1, 1, 0, 0)));
        // TestDeploymentProgressing: (before, now) → progressing
        let cases = [
            (st(10, 4, 4, 4), st(10, 6, 4, 4), true),
            (st(10, 4, 4, 4), st(10, 4, 4, 4), false),
            (st(10, 4, 6, 6), st(8, 4, 6, 6), true),
            (st(10, 7, 3, 3), st(10, 6, 3, 3), false),
            (st(10, 4, 7, 7), st(8, 8, 5, 5), true),
            (st(10, 10, 9, 8), st(10, 10, 10, 8), true),
            (st(10, 10, 10, 9), st(10, 10, 10, 10), true),
        ];
        for (before, now, want) in cases {
            assert_eq!(progressing(before, now), want, "{before:?} → {now:?}");
        }
    }
}
