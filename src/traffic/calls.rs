//! The state of requests that call other Services: one *frame* per sequence of steps being run.
//!
//! A request whose workload has a call graph gets a root frame when it arrives. After its first
//! CPU work, the engine runs the frame's steps: a call sends a child request to the callee
//! Service and waits for its outcome (the caller keeps its concurrency slot); `parallel` starts
//! one child frame per branch and waits for all of them (a failed branch fails the step, without
//! cancelling the others); `oneOf` runs one branch as a child frame; `cpu` puts the request back
//! into its pod's processor-sharing server. A failed call is retried, if its policy and its
//! site's retry budget allow, after an exponential backoff with full jitter.
//!
//! Frames live in a slab and are named by [`CallRef`]s. A frame's token changes with every call
//! attempt it starts and when it is freed, so anything that holds an older reference — the
//! outcome of an abandoned (timed-out) attempt, a timer, a branch whose request has died — is
//! recognised as stale and dropped, never searched for.
//!
//! This module keeps the state and the arithmetic (counts, branches, backoff, budgets); the
//! engine (`engine/calls.rs`) drives it.

use rand::RngExt;
use rand_distr::{Distribution, Poisson};

use crate::cluster::{DeploymentId, PodId};
use crate::scenario::{CallCount, MIN_RETRY_CONCURRENCY, RetryPolicy};
use crate::sim::{SimDuration, SimRng};

use super::FailureReason;
use super::llm::tokens::TokenCounts;

/// A frame at one point of its life; stale once the frame's token has moved on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallRef {
    pub frame: u32,
    pub token: u32,
}

impl CallRef {
    /// No frame: a request from outside the cluster, or one without calls.
    pub const NONE: CallRef = CallRef {
        frame: u32::MAX,
        token: 0,
    };

    /// One number naming this try (frame and token), for tables keyed by try.
    pub fn key(self) -> u64 {
        u64::from(self.frame) << 32 | u64::from(self.token)
    }

    pub fn is_none(self) -> bool {
        self.frame == u32::MAX
    }
}

/// Who waits for a frame to finish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parent {
    /// The request itself, blocked in its pod's server.
    Request { slot: u32, pod: PodId },
    /// A frame waiting for its branches.
    Frame(CallRef),
}

/// One sequence of steps being run.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    token: u32,
    live: bool,
    /// The Deployment whose call graph this is.
    pub deployment: DeploymentId,
    pub sequence: u32,
    /// The step being run.
    pub step: u32,
    pub parent: Parent,
    /// The request's root frame (itself, for a root): when it is gone, so is the request.
    pub root: CallRef,
    /// Calls of the current call step still to make after the one in flight.
    pub calls_left: u32,
    /// Tries of the current call so far.
    pub tries: u32,
    /// The call site of the attempt in flight (`None`: no attempt in flight).
    pub in_flight_site: Option<u32>,
    /// Branches still running.
    pub pending: u32,
    /// The first failure among finished branches.
    pub failure: Option<FailureReason>,
    /// (Root frames) the frame that asked for the request's CPU work in progress.
    cpu_waiter: Option<CallRef>,
}

/// Calls and retries in flight at one call site (for the retry budget).
#[derive(Clone, Copy, Debug, Default)]
struct SiteLoad {
    calls: u32,
    retries: u32,
}

/// Every frame, and the load of every call site.
#[derive(Default)]
pub struct Frames {
    frames: Vec<Frame>,
    free: Vec<u32>,
    sites: Vec<SiteLoad>,
    /// By root frame, the tokens its request carries (for calls with `tokens: request`);
    /// grown only when a request carries some.
    carried: Vec<Option<TokenCounts>>,
}

impl Frames {
    pub fn new(call_sites: usize) -> Self {
        Frames {
            sites: vec![SiteLoad::default(); call_sites],
            ..Frames::default()
        }
    }

    /// A new frame running `sequence` of `deployment`'s graph from its first step.
    pub fn start(
        &mut self,
        deployment: DeploymentId,
        sequence: u32,
        parent: Parent,
        root: Option<CallRef>,
    ) -> CallRef {
        let frame = Frame {
            token: 0,
            live: true,
            deployment,
            sequence,
            step: 0,
            parent,
            root: CallRef::NONE,
            calls_left: 0,
            tries: 0,
            in_flight_site: None,
            pending: 0,
            failure: None,
            cpu_waiter: None,
        };
        let id = match self.free.pop() {
            Some(id) => {
                let token = self.frames[id as usize].token;
                self.frames[id as usize] = Frame { token, ..frame };
                id
            }
            None => {
                self.frames.push(frame);
                (self.frames.len() - 1) as u32
            }
        };
        let me = CallRef {
            frame: id,
            token: self.frames[id as usize].token,
        };
        self.frames[id as usize].root = root.unwrap_or(me);
        me
    }

    /// The frame, if `r` is still current.
    pub fn get(&self, r: CallRef) -> Option<&Frame> {
        self.frames
            .get(r.frame as usize)
            .filter(|f| f.live && f.token == r.token)
    }

    pub fn get_mut(&mut self, r: CallRef) -> Option<&mut Frame> {
        self.frames
            .get_mut(r.frame as usize)
            .filter(|f| f.live && f.token == r.token)
    }

    /// Whether frame `frame` is in use.
    pub fn is_live(&self, frame: u32) -> bool {
        self.frames.get(frame as usize).is_some_and(|f| f.live)
    }

    /// The current reference of live frame `frame`, for the request that owns it as its root.
    pub fn owned(&self, frame: u32) -> CallRef {
        let f = &self.frames[frame as usize];
        assert!(
            f.live,
            "a request's root frame lives until the request ends"
        );
        CallRef {
            frame,
            token: f.token,
        }
    }

    /// The root frame of the request `r` belongs to (its token is steady while `r` exists: a
    /// root makes no calls while it waits for branches).
    pub fn root_of(&self, r: CallRef) -> CallRef {
        match self.get(r) {
            Some(f) if f.root.frame != r.frame => f.root,
            _ => r,
        }
    }

    /// Whether the request `r` belongs to is still being served.
    pub fn request_alive(&self, r: CallRef) -> bool {
        self.get(r).is_some() && self.get(self.root_of(r)).is_some()
    }

    /// The frame goes on to its next step.
    pub fn advance(&mut self, r: CallRef) {
        let f = self.current(r);
        f.step += 1;
        f.tries = 0;
        f.calls_left = 0;
    }

    /// The current call step makes `count` calls.
    pub fn set_calls(&mut self, r: CallRef, count: u32) {
        let f = self.current(r);
        f.calls_left = count;
        f.tries = 0;
    }

    /// One call of the current step was answered; true when another is to be made.
    pub fn one_call_done(&mut self, r: CallRef) -> bool {
        let f = self.current(r);
        f.calls_left = f.calls_left.saturating_sub(1);
        f.tries = 0;
        f.calls_left > 0
    }

    /// The frame waits for `branches` child frames, then goes on after the current step.
    pub fn await_branches(&mut self, r: CallRef, branches: u32) {
        let f = self.current(r);
        f.pending = branches;
        f.failure = None;
        f.step += 1;
    }

    /// A branch of `parent` finished. `Some(outcome)` when it was the last one (`outcome`: the
    /// first failure, if any); `None` while others run or when the parent is gone.
    pub fn branch_done(
        &mut self,
        parent: CallRef,
        failure: Option<FailureReason>,
    ) -> Option<Option<FailureReason>> {
        let f = self.get_mut(parent)?;
        f.pending -= 1;
        if f.failure.is_none() {
            f.failure = failure;
        }
        (f.pending == 0).then(|| f.failure.take())
    }

    /// The root's request does CPU work for frame `waiter`.
    pub fn set_cpu_waiter(&mut self, root: CallRef, waiter: CallRef) {
        self.current(root).cpu_waiter = Some(waiter);
    }

    /// The frame that waits for the root's CPU work (`None`: the root itself).
    pub fn take_cpu_waiter(&mut self, root: CallRef) -> Option<CallRef> {
        self.current(root).cpu_waiter.take()
    }

    /// The caller stops waiting for the try in flight: it ends at its site, and its answer, when
    /// it comes, is stale. Returns the frame's new reference.
    pub fn abandon(&mut self, r: CallRef) -> CallRef {
        self.end_attempt(r);
        let f = self.current(r);
        f.token = f.token.wrapping_add(1);
        CallRef {
            frame: r.frame,
            token: f.token,
        }
    }

    fn current(&mut self, r: CallRef) -> &mut Frame {
        self.get_mut(r).expect("a current frame")
    }

    /// Root frame `root`'s request carries these tokens.
    pub fn carry(&mut self, root: CallRef, tokens: TokenCounts) {
        let i = root.frame as usize;
        if self.carried.len() <= i {
            self.carried.resize(i + 1, None);
        }
        self.carried[i] = Some(tokens);
    }

    /// The tokens the request that frame `r` belongs to carries, if any.
    pub fn carried(&self, r: CallRef) -> Option<&TokenCounts> {
        let root = self.root_of(r);
        self.get(root)?;
        self.carried.get(root.frame as usize)?.as_ref()
    }

    /// Frees the frame (stale references to it are dropped from now on).
    pub fn finish(&mut self, r: CallRef) {
        if self.get(r).is_none() {
            return;
        }
        if let Some(tokens) = self.carried.get_mut(r.frame as usize) {
            *tokens = None;
        }
        self.end_attempt(r);
        let f = &mut self.frames[r.frame as usize];
        f.live = false;
        f.token = f.token.wrapping_add(1);
        self.free.push(r.frame);
    }

    /// Starts a call attempt at `site`; returns the reference its outcome and timer carry.
    pub fn begin_attempt(&mut self, r: CallRef, site: u32) -> CallRef {
        let load = &mut self.sites[site as usize];
        let f = &mut self.frames[r.frame as usize];
        load.calls += 1;
        if f.tries > 0 {
            load.retries += 1;
        }
        f.tries += 1;
        f.in_flight_site = Some(site);
        f.token = f.token.wrapping_add(1);
        CallRef {
            frame: r.frame,
            token: f.token,
        }
    }

    /// The attempt in flight ended (answered, failed or abandoned).
    pub fn end_attempt(&mut self, r: CallRef) {
        let f = &mut self.frames[r.frame as usize];
        let Some(site) = f.in_flight_site.take() else {
            return;
        };
        let load = &mut self.sites[site as usize];
        load.calls -= 1;
        if f.tries > 1 {
            load.retries -= 1;
        }
    }

    /// Whether the failed call of frame `r` may be retried: tries left, and the site's retries
    /// in flight under `budget × calls in flight` (at least [`MIN_RETRY_CONCURRENCY`]).
    pub fn may_retry(&self, r: CallRef, site: u32, policy: &RetryPolicy) -> bool {
        let f = &self.frames[r.frame as usize];
        let load = self.sites[site as usize];
        let allowed = ((policy.budget * f64::from(load.calls)) as u32).max(MIN_RETRY_CONCURRENCY);
        f.tries <= policy.attempts && load.retries < allowed
    }
}

/// How many calls a call step makes for one request.
pub fn sample_count(count: CallCount, rng: &mut SimRng) -> u32 {
    match count {
        CallCount::Fixed(n) => n,
        CallCount::Poisson(mean) if mean > 0.0 => Poisson::new(mean)
            .map(|d| d.sample(rng) as u32)
            .unwrap_or(0),
        CallCount::Poisson(_) => 0,
        CallCount::Uniform { min, max } => rng.random_range(min..=max),
    }
}

/// Picks a branch by weight.
pub fn pick_branch(weights: &[u32], rng: &mut SimRng) -> usize {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    let mut x = rng.random_range(0..total.max(1));
    for (i, &w) in weights.iter().enumerate() {
        if x < u64::from(w) {
            return i;
        }
        x -= u64::from(w);
    }
    weights.len() - 1
}

/// The wait before retry number `retry` (1 for the first): full jitter over
/// `min(max_backoff, backoff × 2^(retry − 1))`.
pub fn backoff(policy: &RetryPolicy, retry: u32, rng: &mut SimRng) -> SimDuration {
    let ceiling = policy
        .backoff
        .as_micros()
        .saturating_mul(1u64 << (retry.saturating_sub(1)).min(40))
        .min(policy.max_backoff.as_micros());
    SimDuration::from_micros(rng.random_range(0..=ceiling))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::RngStreams;

    fn policy(attempts: u32, budget: f64) -> RetryPolicy {
        RetryPolicy {
            attempts,
            backoff: SimDuration::from_millis(25),
            max_backoff: SimDuration::from_millis(250),
            budget,
        }
    }

    #[test]
    fn tokens_make_old_references_stale() {
        let mut frames = Frames::new(1);
        let parent = Parent::Request {
            slot: 0,
            pod: PodId(0),
        };
        let root = frames.start(DeploymentId(0), 0, parent, None);
        let attempt = frames.begin_attempt(root, 0);
        assert!(frames.get(root).is_none(), "the attempt moved the token on");
        assert!(frames.get(attempt).is_some());
        frames.end_attempt(attempt);
        frames.finish(attempt);
        assert!(frames.get(attempt).is_none(), "freed");
        // The slot is reused with a new token: the old reference stays stale.
        let again = frames.start(DeploymentId(0), 0, parent, None);
        assert_eq!(again.frame, attempt.frame);
        assert!(frames.get(attempt).is_none() && frames.get(again).is_some());
    }

    #[test]
    fn a_request_carries_its_tokens_until_its_root_frame_is_freed() {
        let mut frames = Frames::new(1);
        let parent = Parent::Request {
            slot: 0,
            pod: PodId(0),
        };
        let plain = frames.start(DeploymentId(0), 0, parent, None);
        let root = frames.start(DeploymentId(0), 0, parent, None);
        let tokens = TokenCounts {
            prompt: 900,
            output: 40,
            prefix: None,
        };
        frames.carry(root, tokens.clone());
        // A branch and a later attempt of the root find the request's tokens; another
        // request's frame does not.
        let branch = frames.start(DeploymentId(0), 1, Parent::Frame(root), Some(root));
        assert_eq!(frames.carried(branch), Some(&tokens));
        frames.finish(branch);
        let attempt = frames.begin_attempt(root, 0);
        assert_eq!(frames.carried(attempt), Some(&tokens));
        assert_eq!(frames.carried(plain), None);
        // Freed: the slot's next request starts with none, and old references find none.
        frames.finish(attempt);
        assert_eq!(frames.carried(attempt), None);
        let next = frames.start(DeploymentId(0), 0, parent, None);
        assert_eq!(next.frame, attempt.frame);
        assert_eq!(frames.carried(next), None);
    }

    #[test]
    fn retries_stop_at_the_attempts_and_at_the_budget() {
        // 10 calls in flight at a site with budget 0.2: 0.2 × 10 = 2 < 3, so 3 retries may be in
        // flight; the fourth must wait.
        let mut frames = Frames::new(1);
        let parent = Parent::Request {
            slot: 0,
            pod: PodId(0),
        };
        let refs: Vec<CallRef> = (0..10)
            .map(|_| {
                let r = frames.start(DeploymentId(0), 0, parent, None);
                frames.begin_attempt(r, 0)
            })
            .collect();
        let p = policy(2, 0.2);
        let mut retrying = Vec::new();
        for &r in &refs[..4] {
            assert!(frames.may_retry(r, 0, &p));
            frames.end_attempt(r);
            retrying.push(frames.begin_attempt(r, 0));
            if retrying.len() == 3 {
                break;
            }
        }
        assert!(!frames.may_retry(refs[3], 0, &p), "3 retries in flight");
        // Attempts: a frame on its third try (2 retries made) may not retry again.
        let r = retrying[0];
        frames.end_attempt(r);
        let r = frames.begin_attempt(r, 0);
        assert!(!frames.may_retry(r, 0, &p));
    }

    #[test]
    fn backoff_doubles_up_to_its_ceiling_with_full_jitter() {
        // Ceilings 25, 50, 100, 200, 250, 250 ms: every draw lies in [0, ceiling].
        let mut rng = RngStreams::new(1).stream("t");
        let p = policy(6, 0.2);
        for (retry, ceiling_ms) in [(1, 25), (2, 50), (3, 100), (4, 200), (5, 250), (6, 250)] {
            for _ in 0..200 {
                let d = backoff(&p, retry, &mut rng);
                assert!(
                    d <= SimDuration::from_millis(ceiling_ms),
                    "retry {retry}: {d}"
                );
            }
        }
    }

    #[test]
    fn branches_are_picked_by_weight() {
        // Weights 1 : 3 → about 25 % and 75 % of 40 000 draws.
        let mut rng = RngStreams::new(1).stream("t");
        let mut counts = [0u32; 2];
        for _ in 0..40_000 {
            counts[pick_branch(&[1, 3], &mut rng)] += 1;
        }
        let share = f64::from(counts[0]) / 40_000.0;
        assert!((share - 0.25).abs() < 0.01, "{share}");
    }
}
