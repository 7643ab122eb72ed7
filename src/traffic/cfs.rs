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
//! The quota is handed to CPUs as the kernel hands it: in 5 ms slices, which a CPU keeps across a
//! period's end (so a container may use a little more than its quota in one period), and of
//! which a CPU that goes idle keeps 1 ms. Approximations, stated: the container's CPUs are
//! counted together, as if its threads were spread evenly (so they stop together, where the
//! kernel's stop a little apart); a throttled container resumes exactly at the period's end;
//! the kernel's slack timer (which hands runtime given back to other throttled CPUs) has
//! nothing to do for one container counted this way.
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

/// The slice of runtime a CPU takes from the pool at a time (`sched_cfs_bandwidth_slice_us`,
/// 5 ms), in millicore·µs.
const SLICE: u64 = 5_000 * 1000;
/// What a CPU keeps when the container's threads leave it (`min_cfs_rq_runtime`, 1 ms), in
/// millicore·µs.
const KEPT_WHEN_IDLE: u64 = 1_000 * 1000;

/// One container's quota and where it is in its current period.
///
/// The runtime is where the kernel keeps it: the cgroup's pool, refilled to the quota at every
/// period's end, and what the container's CPUs hold locally. A CPU that runs the container's
/// threads takes a slice from the pool whenever its own runs out; what a CPU holds is not
/// refilled or taken away at a period's end, and when the threads leave a CPU it gives back
/// all but 1 ms. The CPUs are counted together (`local` is their sum; `cpus` of them take a
/// slice each at once), which is exact while the threads are spread evenly.
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
    /// The cgroup's pool for this period, in millicore·µs.
    pool: u64,
    /// What the container's CPUs hold, in millicore·µs.
    local: u64,
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
        let quota = quota_us.saturating_mul(1000);
        let mut b = Bandwidth {
            quota,
            period_us,
            phase_us: phase.as_micros() % period_us,
            index: 0,
            end_us: 0,
            pool: quota,
            local: 0,
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
    /// total rate when not throttled) with `threads` runnable threads, each on a CPU of its
    /// own; returns whether it ran (`false`: it was throttled throughout). A throttled period
    /// that ends by `now` ends here, so the next interval runs.
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
                // The period timer hands each throttled CPU just what it lacks.
                self.throttled = false;
                self.local = 0;
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
        if since >= self.end_us {
            self.enter_period_of(since); // nothing was accounted since an earlier period
        }
        if now < self.end_us {
            self.consume(rate_millis * (now - since), threads);
        } else {
            self.run_across_periods(since, now, rate_millis, threads);
        }
        true
    }

    /// `[since, now)` at `rate_millis` reaches past the current period (never beyond what it
    /// may use: running out is an event of its own). Periods run through whole leave the CPUs
    /// holding what the first of them left them (after it, each is alike).
    #[inline(never)]
    fn run_across_periods(&mut self, since: u64, now: u64, rate_millis: u64, cpus: u64) {
        self.consume(rate_millis * (self.end_us - since), cpus);
        let first_whole = self.end_us;
        self.enter_period_of(now);
        let start = self.end_us - self.period_us;
        if start > first_whole {
            // At least one whole period in between: run the first, skip to the last.
            let mut whole = self.clone();
            whole.enter_period_of(first_whole);
            whole.consume(rate_millis * self.period_us, cpus);
            self.local = whole.local;
            let last_whole = self.index - 1;
            self.count_busy(whole.index, last_whole);
        }
        self.consume(rate_millis.saturating_mul(now - start), cpus);
    }

    /// The container's threads used `amount` on `cpus` CPUs: from what the CPUs hold, then in
    /// slices from the pool.
    fn consume(&mut self, amount: u64, cpus: u64) {
        if amount <= self.local {
            self.local -= amount;
            return;
        }
        let needed = amount - self.local;
        let slices = SLICE * cpus.max(1);
        let taken = self.pool.min(needed.div_ceil(slices) * slices);
        self.pool -= taken;
        self.local = (self.local + taken).saturating_sub(amount);
        if taken > 0 {
            self.count_busy(self.index, self.index);
        }
    }

    /// The container's threads went from `before` CPUs to `after`: each CPU they left gives
    /// back to the pool all it holds (an even share of `local`) but 1 ms.
    pub fn cpus_left(&mut self, before: u64, after: u64) {
        if after >= before || self.throttled {
            return;
        }
        let each = self.local / before;
        let returned = (before - after) * each.saturating_sub(KEPT_WHEN_IDLE);
        self.pool += returned;
        self.local -= returned;
    }

    /// Nothing ran up to `now`: a period that ended is over (with its throttling, if any).
    #[inline]
    pub fn catch_up(&mut self, now: SimTime) {
        let now = now.as_micros();
        if now >= self.end_us {
            if self.throttled {
                self.throttled = false;
                self.local = 0;
            }
            self.enter_period_of(now);
        }
    }

    /// The runtime is spent and the container wants CPU: it is throttled until the period ends
    /// (returns `true` when this throttles it).
    pub fn throttle_if_spent(&mut self, now: SimTime, wants_cpu: bool) -> bool {
        if self.throttled || !wants_cpu || self.pool + self.local > 0 {
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

    /// Whether the runtime it has now lasts `span` at `rate_millis` (then nothing changes
    /// before: the period's end only adds to it).
    #[inline]
    pub fn lasts(&self, rate_millis: u64, span: SimDuration) -> bool {
        rate_millis.saturating_mul(span.as_micros()) <= self.pool + self.local
    }

    /// When the container's state next changes running at `rate_millis` on `cpus` CPUs from
    /// `now`: the throttled period's end, or the instant its runtime runs out (`None`: never at
    /// this rate).
    pub fn next_change(&self, now: SimTime, rate_millis: u64, cpus: u64) -> Option<SimTime> {
        if self.throttled {
            return Some(SimTime::from_micros(self.end_us));
        }
        if rate_millis == 0 {
            return None;
        }
        let now = now.as_micros();
        debug_assert!(now < self.end_us, "the period was brought up to now");
        let left = self.pool + self.local;
        let to_end = self.end_us - now;
        if rate_millis.saturating_mul(to_end) > left {
            return Some(SimTime::from_micros(now + left.div_ceil(rate_millis)));
        }
        // Not in this period: in the next, with a full pool and what the CPUs hold then.
        let mut next = self.clone();
        next.consume(rate_millis * to_end, cpus);
        let left = self.quota + next.local;
        (rate_millis.saturating_mul(self.period_us) > left)
            .then(|| SimTime::from_micros(self.end_us + left.div_ceil(rate_millis)))
    }

    /// Makes the period holding instant `t` the current one, its pool full.
    fn enter_period_of(&mut self, t: u64) {
        self.index = self.index_of(t);
        self.end_us = (self.index + 1) * self.period_us + self.phase_us - self.period_us;
        self.pool = self.quota;
    }

    /// The index of the period holding instant `t` (the grid shifted so that indices start at
    /// 0 before the first boundary).
    fn index_of(&self, t: u64) -> u64 {
        (t + self.period_us - self.phase_us) / self.period_us
    }

    /// The container drew runtime in periods `first..=last`: the timer fires at the end of each
    /// and of the one after the last.
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
        assert_eq!(b.next_change(at(10), 1000, 1), Some(at(30)));
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
        assert_eq!(b.next_change(at(0), 2000, 2), Some(at(10)));
        assert!(b.account(at(0), at(10), 2000, 2));
        assert!(b.throttle_if_spent(at(10), true));
        assert_eq!(b.next_change(at(10), 2000, 2), Some(at(100)));
        assert!(!b.account(at(10), at(100), 2000, 2));
        assert!(!b.is_throttled());
        assert_eq!(b.next_change(at(100), 2000, 2), Some(at(110)));
        assert_eq!(b.stats().nr_throttled, 1);
        assert_eq!(b.stats().throttled_us, 180 * MS);
    }

    #[test]
    fn under_the_quota_nothing_happens_across_periods() {
        // 150m of steady use (rate 150 < 200): never throttled, no change to schedule; three
        // periods of use count four firings.
        let mut b = limited_200m();
        assert_eq!(b.next_change(at(50), 150, 1), None);
        assert!(b.account(at(50), at(250), 150, 1));
        assert_eq!(
            b.stats().nr_periods,
            4,
            "periods 0, 1, 2 and the idle one after"
        );
        // 50–100 ms: 7.5 ms used of two slices, 2.5 ms held at the period's end; period 1 alike;
        // 200–250 ms: 7.5 ms, 2.5 of it held, one slice more taken: the pool has 15 ms left.
        assert_eq!((b.pool, b.local), (15 * MS * 1000, 0));
    }

    #[test]
    fn a_cpu_that_went_idle_keeps_a_millisecond_into_the_next_period() {
        // A 1 ms request takes a 5 ms slice and gives 3 ms back when its thread leaves the CPU,
        // keeping 1 ms. In the next period the container may run 21 ms: a 21 ms request from
        // 100 ms ends at 121 ms as the runtime runs out — not throttled.
        let mut b = limited_200m();
        b.account(at(10), at(11), 1000, 1);
        b.cpus_left(1, 0);
        assert_eq!((b.pool, b.local), (18 * MS * 1000, MS * 1000));
        b.catch_up(at(100));
        assert_eq!(b.next_change(at(100), 1000, 1), Some(at(121)));
    }

    #[test]
    fn a_slice_taken_before_a_periods_end_is_used_after_it() {
        // 15 ms at one core from 82 ms: three slices (the pool has 5 ms left), none held. Then
        // 3 ms more from 97 ms: the last slice (5 ms) is taken, 2 ms of it are held at 100 ms,
        // so the next period's runtime is 22 ms: running on at one core, it runs out at 122 ms.
        let mut b = limited_200m();
        b.account(at(82), at(97), 1000, 1);
        b.account(at(97), at(100), 1000, 1);
        assert_eq!(b.next_change(at(100), 1000, 1), Some(at(122)));
    }

    #[test]
    fn a_stretch_that_reaches_the_next_period_finds_a_full_quota_there() {
        // 15 ms used by 95 ms at 1000m (from 80 ms): 5 ms left, 5 ms to the period's end —
        // exactly enough; the next period starts full, so the quota runs out 20 ms into it.
        let mut b = limited_200m();
        assert!(b.account(at(80), at(95), 1000, 1));
        assert_eq!(b.next_change(at(95), 1000, 1), Some(at(120)));
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
    fn periods_count_where_the_pool_was_drawn_on_with_the_idle_one_after() {
        // 1 ms requests, the thread leaving its CPU after each (which keeps 1 ms). At 10 ms a
        // slice is drawn (periods 0 and 1 counted); at 20 ms the kept 1 ms does; at 150 ms a
        // slice is drawn again (period 2 counted too); at 520 ms the kept 1 ms does, and the
        // period timer, idle since 300 ms, is not even started: 3 periods.
        let mut b = limited_200m();
        for start in [10, 20, 150, 520] {
            b.account(at(start), at(start + 1), 1000, 1);
            b.cpus_left(1, 0);
        }
        assert_eq!(b.stats().nr_periods, 3);
    }
}
