//! CFS bandwidth control of one pod's serving container: how the Linux kernel enforces a CPU
//! limit, period by period.
//!
//! The kubelet gives a container with a CPU limit the quota `limit × period` of CPU time per
//! period (`cpu.cfs_quota_us`, at least 1 ms; the period is `cpuCFSQuotaPeriod`, 100 ms by
//! default). Within a period the container's threads run at whatever speed the node's sharing
//! gives them — a core each, not the limit — until the quota is used up; then all of them stop
//! until the period ends, when the quota is refilled (unused quota does not carry over). Light
//! load is not slowed at all; a burst that spends the quota early waits for the rest of the
//! period.
//!
//! Periods are the kernel's per-cgroup period timer: a fixed grid, `phase + k × period`, whose
//! phase is random per cgroup (`init_cfs_bandwidth` since Linux 6.4) and kept across idle
//! stretches. The counters are `cpu.stat`'s: `nr_periods` counts the timer's firings — at the
//! end of every period in which the container ran, and once more at the end of the next one,
//! when the timer finds it idle and stops; `nr_throttled` the periods that ended with it
//! throttled; `throttled_time` the time its runnable threads spent throttled, summed over the
//! CPUs they were on.
//!
//! Approximations, stated: the quota is one pool (the kernel hands it to CPUs in 5 ms slices
//! and lets a CPU that went idle keep 1 ms of it into the next period, so a container may use a
//! little more than its quota in a period, and its threads on different CPUs stop a few
//! milliseconds apart); a throttled container resumes exactly at the period's end.
//!
//! Nothing here schedules events: [`Bandwidth::next_change`] says when the quota would run out
//! at the current rate (or when a throttled period ends), and the pod's server makes that its
//! next event only when it comes before the next request finishes — a container that stays
//! under its quota costs no event per period.

use crate::sim::{SimDuration, SimTime};

/// The kubelet's smallest quota (`MinQuotaPeriod`, 1 ms): a smaller limit gets this much.
pub const MIN_QUOTA: SimDuration = SimDuration::from_millis(1);

/// A container's `cpu.stat` bandwidth counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CfsStats {
    /// Period timer firings (`nr_periods`).
    pub nr_periods: u64,
    /// Periods that ended with the container throttled (`nr_throttled`).
    pub nr_throttled: u64,
    /// Thread-µs its runnable threads spent throttled (`throttled_time`, which sums over the
    /// CPUs they were on).
    pub throttled_us: u64,
}

impl CfsStats {
    /// Adds `other`'s counts (a Deployment's pods, summed).
    pub fn add(&mut self, other: CfsStats) {
        self.nr_periods += other.nr_periods;
        self.nr_throttled += other.nr_throttled;
        self.throttled_us += other.throttled_us;
    }
}

/// One container's quota and where it is in its current period.
#[derive(Clone, Debug)]
pub struct Bandwidth {
    /// CPU time per period, in millicore·µs (1 ms at one core = 1 000 000).
    quota: u64,
    period_us: u64,
    /// Periods end at `phase_us + k × period_us` (`phase_us < period_us`).
    phase_us: u64,
    /// The period accounted for: its index (periods since the grid's origin) and end (µs).
    index: u64,
    end_us: u64,
    /// CPU used in it, in millicore·µs.
    used: u64,
    /// The quota ran out: the container's threads wait for the period's end.
    throttled: bool,
    /// The last period already counted in `nr_periods` plus one (0: none).
    counted_through: u64,
    stats: CfsStats,
}

impl Bandwidth {
    /// The bandwidth of a container limited to `limit_millis`, its cgroup created at `now`
    /// with its period timer at `phase` into the period.
    pub fn new(limit_millis: u64, period: SimDuration, phase: SimDuration, now: SimTime) -> Self {
        let period_us = period.as_micros().max(1);
        // cpu.cfs_quota_us = limit × period / 1000, at least MinQuotaPeriod.
        let quota_us = (limit_millis.saturating_mul(period_us) / 1000).max(MIN_QUOTA.as_micros());
        let mut b = Bandwidth {
            quota: quota_us.saturating_mul(1000),
            period_us,
            phase_us: phase.as_micros() % period_us,
            index: 0,
            end_us: 0,
            used: 0,
            throttled: false,
            counted_through: 0,
            stats: CfsStats::default(),
        };
        b.enter_period_of(now.as_micros());
        b
    }

    /// The counters as of the last accounting.
    pub fn stats(&self) -> CfsStats {
        self.stats
    }

    /// Whether the container is throttled (its threads wait for the period's end).
    #[inline]
    pub fn is_throttled(&self) -> bool {
        self.throttled
    }

    /// Accounts `[since, now)`, over which the container ran at `rate_millis` (its requests'
    /// total rate when not throttled) with `threads` runnable threads; returns whether it ran
    /// (`false`: it was throttled throughout). A throttled period that ends by `now` ends here,
    /// so the next interval runs.
    #[inline]
    pub fn account(
        &mut self,
        since: SimTime,
        now: SimTime,
        rate_millis: u64,
        threads: u64,
    ) -> bool {
        let (since, now) = (since.as_micros(), now.as_micros());
        if self.throttled {
            let until = now.min(self.end_us);
            self.stats.throttled_us += threads * until.saturating_sub(since);
            if now >= self.end_us {
                self.throttled = false;
                self.enter_period_of(now);
            }
            return false;
        }
        if rate_millis == 0 || now <= since {
            if now >= self.end_us {
                self.enter_period_of(now);
            }
            return true;
        }
        if now < self.end_us {
            self.used += rate_millis * (now - since);
            self.count_busy(self.index, self.index);
        } else {
            self.run_across_periods(since, now, rate_millis);
        }
        true
    }

    /// Nothing ran up to `now`: a period that ended is over (with its throttling, if any).
    #[inline]
    pub fn catch_up(&mut self, now: SimTime) {
        let now = now.as_micros();
        if now >= self.end_us {
            self.throttled = false;
            self.enter_period_of(now);
        }
    }

    /// `[since, now)` at `rate_millis` reaches past the current period (never beyond the quota:
    /// the quota's running out is an event of its own).
    #[inline(never)]
    fn run_across_periods(&mut self, since: u64, now: u64, rate_millis: u64) {
        let first = self.index_of(since);
        let last = self.index_of(now - 1);
        self.count_busy(first, last);
        self.enter_period_of(now);
        let start = self.end_us - self.period_us;
        self.used = rate_millis.saturating_mul(now.saturating_sub(start.max(since)));
    }

    /// The quota is spent and the container wants CPU: it is throttled until the period ends
    /// (returns `true` when this throttles it).
    pub fn throttle_if_spent(&mut self, now: SimTime, wants_cpu: bool) -> bool {
        if self.throttled || !wants_cpu || self.used < self.quota {
            return false;
        }
        debug_assert!(
            now.as_micros() < self.end_us,
            "a period that ended was rolled over"
        );
        self.throttled = true;
        self.stats.nr_throttled += 1;
        true
    }

    /// When the container's state next changes running at `rate_millis` from `now`: the
    /// throttled period's end, or the instant its quota runs out (`None`: never at this rate).
    pub fn next_change(&self, now: SimTime, rate_millis: u64) -> Option<SimTime> {
        if self.throttled {
            return Some(SimTime::from_micros(self.end_us));
        }
        if rate_millis == 0 {
            return None;
        }
        let now = now.as_micros();
        debug_assert!(now < self.end_us, "the period was brought up to now");
        let left = self.quota.saturating_sub(self.used);
        let to_end = self.end_us - now;
        let at = if rate_millis.saturating_mul(to_end) > left {
            now + left.div_ceil(rate_millis)
        } else if rate_millis.saturating_mul(self.period_us) > self.quota {
            // Not in this period: in the next, which starts with a full quota.
            self.end_us + self.quota.div_ceil(rate_millis)
        } else {
            return None;
        };
        Some(SimTime::from_micros(at))
    }

    /// Makes the period holding instant `t` the current one, with nothing used yet.
    fn enter_period_of(&mut self, t: u64) {
        self.index = self.index_of(t);
        self.end_us = (self.index + 1) * self.period_us + self.phase_us - self.period_us;
        self.used = 0;
    }

    /// The index of the period holding instant `t` (the grid shifted so that indices start at
    /// 0 before the first boundary).
    fn index_of(&self, t: u64) -> u64 {
        (t + self.period_us - self.phase_us) / self.period_us
    }

    /// The container ran in periods `first..=last`: the timer fires at the end of each and of
    /// the one after the last.
    #[inline]
    fn count_busy(&mut self, first: u64, last: u64) {
        let through = last + 2; // the period after the last, plus one
        if through <= self.counted_through {
            return;
        }
        // Periods are accounted in order: those below `counted_through` were counted already.
        self.stats.nr_periods += through - first.max(self.counted_through);
        self.counted_through = through;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1000;

    fn at(ms: u64) -> SimTime {
        SimTime::from_micros(ms * MS)
    }

    /// 200m limit, 100 ms periods starting at 0 (phase 0).
    fn limited_200m() -> Bandwidth {
        Bandwidth::new(
            200,
            SimDuration::from_millis(100),
            SimDuration::ZERO,
            SimTime::ZERO,
        )
    }

    #[test]
    fn a_light_request_runs_at_full_speed_and_counts_two_periods() {
        // A 5 ms request at one core (1000m) from 10 ms: 5 ms of the 20 ms quota, never spent
        // (the quota would run out 20 ms into a busy stretch, after the request's end).
        let mut b = limited_200m();
        assert_eq!(b.next_change(at(10), 1000), Some(at(30)));
        assert!(b.account(at(10), at(15), 1000, 1));
        assert!(!b.throttle_if_spent(at(15), false));
        // The timer fires at 100 ms (the period it ran in) and at 200 ms (idle: it stops).
        assert_eq!(
            b.stats(),
            CfsStats {
                nr_periods: 2,
                nr_throttled: 0,
                throttled_us: 0
            }
        );
    }

    #[test]
    fn a_burst_that_spends_the_quota_waits_for_the_period_to_end() {
        // Two requests at two cores from 0: 20 ms of quota at 2000m lasts 10 ms; then both
        // threads wait 90 ms (180 thread-ms throttled), and run again at 100 ms.
        let mut b = limited_200m();
        assert_eq!(b.next_change(at(0), 2000), Some(at(10)));
        assert!(b.account(at(0), at(10), 2000, 2));
        assert!(b.throttle_if_spent(at(10), true));
        assert_eq!(b.next_change(at(10), 2000), Some(at(100)));
        assert!(!b.account(at(10), at(100), 2000, 2));
        assert!(!b.is_throttled());
        assert_eq!(b.next_change(at(100), 2000), Some(at(110)));
        assert_eq!(b.stats().nr_throttled, 1);
        assert_eq!(b.stats().throttled_us, 180 * MS);
    }

    #[test]
    fn under_the_quota_nothing_happens_across_periods() {
        // 150m of steady use (a sixth of a core... rate 150 < 200): never throttled, no change
        // to schedule; three periods of use count four firings.
        let mut b = limited_200m();
        assert_eq!(b.next_change(at(50), 150), None);
        assert!(b.account(at(50), at(250), 150, 1));
        assert_eq!(
            b.stats().nr_periods,
            4,
            "periods 0, 1, 2 and the idle one after"
        );
        // 50 ms into period 2 at 150m: 7.5 ms used.
        assert_eq!(b.used, 150 * 50 * MS);
    }

    #[test]
    fn a_stretch_that_reaches_the_next_period_finds_a_full_quota_there() {
        // 15 ms used by 95 ms at 1000m (from 80 ms): 5 ms left, 5 ms to the period's end —
        // exactly enough; the next period starts full, so the quota runs out 20 ms into it.
        let mut b = limited_200m();
        assert!(b.account(at(80), at(95), 1000, 1));
        assert_eq!(b.next_change(at(95), 1000), Some(at(120)));
    }

    #[test]
    fn the_grid_keeps_its_phase() {
        // Phase 30 ms: periods end at 30, 130, 230 … whenever the container starts.
        let b = Bandwidth::new(
            200,
            SimDuration::from_millis(100),
            SimDuration::from_millis(30),
            at(500),
        );
        assert_eq!(b.end_us, 530 * MS);
        let b = Bandwidth::new(
            200,
            SimDuration::from_millis(100),
            SimDuration::from_millis(30),
            at(529),
        );
        assert_eq!(b.end_us, 530 * MS);
        let b = Bandwidth::new(
            200,
            SimDuration::from_millis(100),
            SimDuration::from_millis(30),
            at(530),
        );
        assert_eq!(b.end_us, 630 * MS);
    }

    #[test]
    fn a_tiny_limit_gets_the_kubelets_smallest_quota() {
        // 5m × 100 ms = 0.5 ms, raised to 1 ms (1 000 µs × 1000 millicores).
        let b = Bandwidth::new(
            5,
            SimDuration::from_millis(100),
            SimDuration::ZERO,
            SimTime::ZERO,
        );
        assert_eq!(b.quota, 1000 * 1000);
    }

    #[test]
    fn busy_periods_are_counted_once_with_the_idle_one_after() {
        // Busy in periods 0 and 1 (counts 0, 1, 2), idle in 2, busy in 5 (counts 5, 6): 5.
        let mut b = limited_200m();
        b.account(at(10), at(11), 1000, 1);
        b.account(at(20), at(21), 1000, 1);
        b.account(at(150), at(151), 1000, 1);
        b.account(at(520), at(521), 1000, 1);
        assert_eq!(b.stats().nr_periods, 5);
    }
}
