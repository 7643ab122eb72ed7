//! One pod serving requests: a processor-sharing CPU server with a concurrency limit, a bounded
//! FIFO queue beyond it, and a client timeout.
//!
//! Up to `concurrency` requests are in service at once; with `n` of them each progresses at
//! `min(1, cores / n)` cores, where `cores` is the CPU the pod may use now: its cap (its CPU
//! limit, or the node's allocatable CPU) while its node has CPU to spare, its weighted share
//! when the node is contended (see [`super::node_cpu`]; the engine sets it with
//! [`PodServer::set_capacity`] whenever the shares change).
//! Progress is tracked with an integer *virtual clock*: the work every in-service request has
//! received, in millicore·µs. A request finishes when the clock reaches its start tag plus its
//! work, so only the pod's earliest finisher needs an event; the event is rescheduled (and the old
//! one made stale by a generation number) only when that time changes. CPU used accumulates in
//! the same units and is what metrics-server scrapes, so utilization emerges from the work done.
//!
//! A CPU limit is CFS bandwidth control ([`super::cfs`]): the pod runs at full speed until its
//! quota for the period is spent, then not at all until the period ends. Running out and the
//! period's end are the server's own events, folded into its one scheduled event (the earlier
//! of the next finish and the next change of the quota's state), so a pod under its quota
//! costs nothing more.
//!
//! Timeouts are applied without events: a queued request whose client has given up is dropped
//! when it reaches the front; a request finishing after its deadline counts as a timeout (the pod
//! did the work anyway, as servers that do not watch for cancellation do).
//!
//! A request that calls other Services (it has a call frame) does not finish when its CPU work
//! is done: it reports [`Outcome::CpuDone`] and stays *blocked*, holding its concurrency slot
//! but using no CPU, until the engine gives it more work ([`PodServer::resume`]) or finishes it
//! ([`PodServer::finish`]) — as a synchronous RPC server's handler waits for its callees.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use serde::Serialize;

use super::calls::CallRef;
use super::cfs::{Bandwidth, CfsStats};
use super::llm::batching::LlmServer;
use super::node_cpu::Place;
use crate::cluster::{DeploymentId, ServiceId};
use crate::scenario::WorkloadModel;
use crate::sim::{SimDuration, SimTime};

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// The Service had no ready endpoint (connection refused).
    NoEndpoint,
    /// The pod's queue was full.
    QueueFull,
    /// The client gave up before the response.
    Timeout,
    /// The pod was killed with the request in flight (connection reset).
    PodTerminated,
    /// The pod's node failed: in flight, or sent to an endpoint not yet removed.
    NodeFailure,
    /// Sent to a Ready pod whose app is not listening yet (no readiness probe held it back
    /// while it warmed up).
    ConnectionRefused,
    /// A call the request made timed out (at the caller, or at the callee), after any retries.
    DownstreamTimeout,
    /// A call the request made failed for another reason, after any retries.
    DownstreamFailed,
    /// An LLM request whose prompt and output can never fit in its server's KV cache.
    PromptTooLong,
}

impl FailureReason {
    pub const ALL: [FailureReason; 9] = [
        Self::NoEndpoint,
        Self::QueueFull,
        Self::Timeout,
        Self::PodTerminated,
        Self::NodeFailure,
        Self::ConnectionRefused,
        Self::DownstreamTimeout,
        Self::DownstreamFailed,
        Self::PromptTooLong,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoEndpoint => "no_endpoint",
            Self::QueueFull => "queue_full",
            Self::Timeout => "timeout",
            Self::PodTerminated => "pod_terminated",
            Self::NodeFailure => "node_failure",
            Self::ConnectionRefused => "connection_refused",
            Self::DownstreamTimeout => "downstream_timeout",
            Self::DownstreamFailed => "downstream_failed",
            Self::PromptTooLong => "prompt_too_long",
        }
    }

    /// What a caller's request fails with when a call it made failed for this reason.
    pub fn downstream(self) -> FailureReason {
        match self {
            Self::Timeout | Self::DownstreamTimeout => Self::DownstreamTimeout,
            _ => Self::DownstreamFailed,
        }
    }
}

/// What happened to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Served {
        service: ServiceId,
        latency: SimDuration,
        link: Link,
    },
    Failed {
        service: ServiceId,
        reason: FailureReason,
        link: Link,
    },
    /// The CPU work of a request with a call frame is done; it is blocked in its slot.
    CpuDone { slot: u32 },
}

/// No call frame: the request does its CPU work and is done.
pub const NO_FRAME: u32 = u32::MAX;

/// How a request is tied into call graphs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// Its root call frame while it runs a call graph ([`NO_FRAME`]: none).
    pub frame: u32,
    /// The call this request answers ([`CallRef::NONE`]: it came from outside).
    pub caller: CallRef,
}

impl Link {
    /// A request from outside that makes no calls.
    pub const NONE: Link = Link {
        frame: NO_FRAME,
        caller: CallRef::NONE,
    };

    #[inline]
    pub fn is_none(self) -> bool {
        self.frame == NO_FRAME && self.caller.is_none()
    }
}

/// A request in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub service: ServiceId,
    pub arrival: SimTime,
    /// CPU work needed, in millicore·µs (1 ms at one core = 1 000 000).
    pub work: u64,
    pub link: Link,
}

impl Request {
    /// A request from outside the cluster, without calls.
    pub fn external(service: ServiceId, arrival: SimTime, work: u64) -> Request {
        Request {
            service,
            arrival,
            work,
            link: Link::NONE,
        }
    }

    /// This request's outcome: failed for `reason`.
    fn failed(&self, reason: FailureReason) -> Outcome {
        Outcome::Failed {
            service: self.service,
            reason,
            link: self.link,
        }
    }
}

/// Storage for in-flight requests, reusing slots so the hot path does not allocate.
#[derive(Default)]
pub struct RequestSlab {
    slots: Vec<Request>,
    free: Vec<u32>,
}

impl RequestSlab {
    pub fn insert(&mut self, r: Request) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = r;
                i
            }
            None => {
                self.slots.push(r);
                (self.slots.len() - 1) as u32
            }
        }
    }

    pub fn take(&mut self, slot: u32) -> Request {
        self.free.push(slot);
        self.slots[slot as usize]
    }

    pub fn get(&self, slot: u32) -> &Request {
        &self.slots[slot as usize]
    }

    pub fn get_mut(&mut self, slot: u32) -> &mut Request {
        &mut self.slots[slot as usize]
    }

    /// Requests currently stored.
    pub fn in_flight(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

/// Which Deployment's app a server runs, and from when it answers (before, it is still
/// loading: requests are refused). Fixed for the server's life; the request path reads it here,
/// beside the queues it touches anyway, rather than in the pod.
#[derive(Clone, Copy, Debug)]
pub struct Instance {
    pub deployment: DeploymentId,
    pub listening_from: SimTime,
}

/// The requests in service as (finish tag on the virtual clock, request slot), earliest
/// first.
///
/// Up to [`InService::INLINE`] of them are kept inside the server itself, sorted latest first:
/// on a large cluster a pod's requests were a cache miss of their own at nearly every arrival
/// and completion, where now they come with the server (which the engine warms ahead). A
/// server that ever holds more keeps them all in `spill` from then on.
struct InService {
    /// How many are in service.
    len: usize,
    /// While `spill` is `None`: the first `len` entries, latest first.
    inline: [(u64, u32); InService::INLINE],
    spill: Option<Tags>,
}

/// How [`InService`] keeps its tags beyond [`InService::INLINE`]. Both (and the inline
/// entries) take the least `(tag, slot)` first, so which one holds them never changes the
/// order requests finish in.
enum Tags {
    /// A handful, sorted latest first: taking the earliest (the last) moves nothing, and a new
    /// request, which usually finishes after most of the others, is moved to its place from
    /// the end by a few plain copies — cheaper, and easier on the branch predictor, than a
    /// heap's sifts.
    Few(Vec<(u64, u32)>),
    /// Many (from [`InService::MANY`] until it empties): a heap, whose insertions do not
    /// grow with the number in service.
    Many(BinaryHeap<Reverse<(u64, u32)>>),
}

impl InService {
    /// Up to this many in service, they are kept inside the server.
    const INLINE: usize = 4;
    /// From this many in service, a heap holds them.
    const MANY: usize = 32;

    fn new() -> Self {
        InService {
            len: 0,
            inline: [(0, 0); Self::INLINE],
            spill: None,
        }
    }

    #[inline(always)]
    fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    fn earliest(&self) -> Option<u64> {
        self.peek().map(|(tag, _)| tag)
    }

    #[inline(always)]
    fn peek(&self) -> Option<(u64, u32)> {
        match &self.spill {
            // An empty one's `len - 1` wraps past the end: `None`.
            None => self.inline.get(self.len.wrapping_sub(1)).copied(),
            Some(Tags::Few(sorted)) => sorted.last().copied(),
            Some(Tags::Many(heap)) => heap.peek().map(|r| r.0),
        }
    }

    #[inline]
    fn push(&mut self, tag: u64, slot: u32) {
        let entry = (tag, slot);
        match &mut self.spill {
            None if self.len < Self::INLINE => insert_sorted(&mut self.inline[..=self.len], entry),
            None => {
                let mut spilled = Vec::with_capacity(2 * Self::INLINE);
                spilled.extend_from_slice(&self.inline);
                spilled.push(entry);
                insert_sorted(&mut spilled, entry);
                self.spill = Some(Tags::Few(spilled));
            }
            Some(Tags::Few(sorted)) if sorted.len() < Self::MANY => {
                sorted.push(entry);
                insert_sorted(sorted, entry);
            }
            Some(Tags::Few(sorted)) => {
                let mut heap: BinaryHeap<_> = sorted.drain(..).map(Reverse).collect();
                heap.push(Reverse(entry));
                self.spill = Some(Tags::Many(heap));
            }
            Some(Tags::Many(heap)) => heap.push(Reverse(entry)),
        }
        self.len += 1;
    }

    /// Takes the earliest request if its finish tag is at most `clock`: its slot (one look at
    /// where the entries are, where a peek and a pop would take two).
    #[inline(always)]
    fn take_due(&mut self, clock: u64) -> Option<u32> {
        let due = |&(tag, _): &(u64, u32)| tag <= clock;
        let slot = match &mut self.spill {
            None => {
                let last = self.inline.get(self.len.wrapping_sub(1))?;
                due(last).then_some(last.1)?
            }
            Some(Tags::Few(sorted)) => sorted.pop_if(|e| due(e))?.1,
            Some(Tags::Many(heap)) => {
                let Reverse(entry) = *heap.peek()?;
                if !due(&entry) {
                    return None;
                }
                heap.pop();
                if heap.is_empty() {
                    self.spill = Some(Tags::Few(Vec::with_capacity(Self::MANY)));
                }
                entry.1
            }
        };
        self.len -= 1;
        Some(slot)
    }

    /// Empties it, appending the slots to `slots` (a heap's allocation is kept for the sorted
    /// form it returns to).
    fn drain_into(&mut self, slots: &mut Vec<u32>) {
        let slot = |&(_, slot): &(u64, u32)| slot;
        match &mut self.spill {
            None => slots.extend(self.inline[..self.len].iter().map(slot)),
            Some(Tags::Few(sorted)) => slots.extend(sorted.drain(..).map(|entry| slot(&entry))),
            Some(Tags::Many(heap)) => {
                slots.extend(heap.drain().map(|Reverse(entry)| slot(&entry)));
                let emptied = std::mem::take(heap).into_vec();
                // Empty, and collected in place: the allocation is the heap's.
                let sorted = emptied.into_iter().map(|Reverse(entry)| entry).collect();
                self.spill = Some(Tags::Few(sorted));
            }
        }
        self.len = 0;
    }
}

/// Puts `entry`, already written at the end of `sorted` (latest first), in its place: the
/// earlier entries before it move back one by one.
fn insert_sorted(sorted: &mut [(u64, u32)], entry: (u64, u32)) {
    let mut at = sorted.len() - 1;
    sorted[at] = entry;
    while at > 0 && sorted[at - 1] < entry {
        sorted[at] = sorted[at - 1];
        at -= 1;
    }
    sorted[at] = entry;
}

/// A pod's serving state.
pub struct PodServer {
    instance: Instance,
    /// The CPU it may use now (millicores): its cap, or less while its node is contended.
    capacity_millis: u64,
    /// The most it can use alone: its node's allocatable CPU (a Job's pod: its CPU limit, as
    /// a long-run rate).
    cap_millis: u64,
    /// Its node could be contended: the engine follows its demand.
    tracks_demand: bool,
    /// Where it is in its node's CPU sharing (set by the engine when it joins).
    cpu_place: Option<Place>,
    /// A batch (Job) pod's container: busy computing its whole run, it wants all the CPU its
    /// cap allows, whatever requests it has.
    cpu_bound: bool,
    /// Its pod is being deleted: it terminates once it has drained. Kept here so that a
    /// completion need not look at the pod.
    deleting: bool,
    concurrency: usize,
    queue_limit: usize,
    timeout: SimDuration,
    running: InService,
    waiting: VecDeque<u32>,
    /// Requests holding a slot while their calls run (no CPU used).
    blocked: Vec<u32>,
    virtual_clock: u64,
    last_update: SimTime,
    cpu_used: u64,
    /// Requests that left service (served or timed out), for the requests-per-second metric.
    completed: u64,
    generation: u32,
    scheduled: Option<SimTime>,
    /// Its CPU limit as the kernel enforces it (`None`: no limit, or not enforced).
    bandwidth: Option<Bandwidth>,
    /// The LLM inference server of an LLM workload's pod (it serves the token requests; the
    /// CPU server above then serves none).
    llm: Option<Box<LlmServer>>,
}

impl PodServer {
    /// A server that may use `cap_millis` alone, within its CPU limit's `bandwidth` if it has
    /// one.
    pub fn new(
        instance: Instance,
        cap_millis: u64,
        bandwidth: Option<Bandwidth>,
        workload: &WorkloadModel,
        now: SimTime,
    ) -> Self {
        let cap_millis = cap_millis.max(1);
        PodServer {
            instance,
            capacity_millis: cap_millis,
            cap_millis,
            tracks_demand: false,
            cpu_place: None,
            cpu_bound: false,
            deleting: false,
            concurrency: workload.concurrency.max(1) as usize,
            queue_limit: workload.queue_limit as usize,
            timeout: workload.timeout,
            // Grows with use: a huge `concurrency` must not reserve memory up front.
            running: InService::new(),
            waiting: VecDeque::new(),
            blocked: Vec::new(),
            virtual_clock: 0,
            last_update: now,
            cpu_used: 0,
            completed: 0,
            generation: 0,
            scheduled: None,
            bandwidth,
            llm: workload
                .llm
                .as_ref()
                .map(|l| Box::new(LlmServer::new(l.profile.clone(), l.batching))),
        }
    }

    pub fn llm(&self) -> Option<&LlmServer> {
        self.llm.as_deref()
    }

    pub fn llm_mut(&mut self) -> Option<&mut LlmServer> {
        self.llm.as_deref_mut()
    }

    pub fn instance(&self) -> Instance {
        self.instance
    }

    /// The CPU it would use now if its node had enough: a core per request in service, up to its
    /// cap.
    #[inline]
    pub fn demand_millis(&self) -> u64 {
        if self.cpu_bound {
            return self.cap_millis;
        }
        if self.is_throttled() {
            return 0; // its threads wait for the period's end: the CPU goes to its neighbours
        }
        (1000 * self.running.len() as u64).min(self.cap_millis)
    }

    /// Whether its CPU limit's quota is spent for the current period.
    #[inline]
    fn is_throttled(&self) -> bool {
        self.bandwidth.as_ref().is_some_and(Bandwidth::is_throttled)
    }

    /// From now on it wants all the CPU its cap allows (a Job's pod running its work).
    pub fn set_cpu_bound(&mut self) {
        self.cpu_bound = true;
    }

    /// Its pod is being deleted (from now on, draining means the pod is gone).
    pub fn mark_deleting(&mut self) {
        self.deleting = true;
    }

    /// Whether its pod is being deleted.
    #[inline]
    pub fn is_deleting(&self) -> bool {
        self.deleting
    }

    pub fn set_tracks_demand(&mut self, tracks: bool) {
        self.tracks_demand = tracks;
    }

    /// Its place in its node's CPU sharing is now `place`.
    pub fn set_cpu_place(&mut self, place: Place) {
        self.cpu_place = Some(place);
    }

    /// Its place in its node's CPU sharing and its demand, if its node could be contended.
    #[inline]
    pub fn tracked_demand(&self) -> Option<(Place, u64)> {
        let place = self.cpu_place.filter(|_| self.tracks_demand)?;
        Some((place, self.demand_millis()))
    }

    /// Its node's share changed: from `now` it may use `capacity_millis`. Returns a completion
    /// event to schedule when the earliest finish moved.
    pub fn set_capacity(&mut self, now: SimTime, capacity_millis: u64) -> Option<(SimTime, u32)> {
        let capacity_millis = capacity_millis.max(1);
        if capacity_millis == self.capacity_millis {
            return None;
        }
        self.advance(now);
        self.capacity_millis = capacity_millis;
        self.reschedule(now)
    }

    /// Its CPU limit changed in place (an in-place resize): from `now` it may use `cap_millis`
    /// alone, within `bandwidth`. Returns the old limit's CFS counters and a completion event
    /// to schedule when the earliest finish moved.
    pub fn set_cpu_limit(
        &mut self,
        now: SimTime,
        cap_millis: u64,
        bandwidth: Option<Bandwidth>,
    ) -> (Option<CfsStats>, Option<(SimTime, u32)>) {
        self.advance(now);
        let old = std::mem::replace(&mut self.bandwidth, bandwidth);
        self.cap_millis = cap_millis.max(1);
        self.capacity_millis = self.cap_millis;
        (old.as_ref().map(Bandwidth::stats), self.reschedule(now))
    }

    /// The CFS bandwidth counters as of the last event (`None` without an enforced limit).
    pub fn cfs_stats(&self) -> Option<CfsStats> {
        self.bandwidth.as_ref().map(Bandwidth::stats)
    }

    /// Accounts `[since, now)` at `rate` with `n` requests in service to its CPU limit's
    /// quota; whether it ran (`false`: throttled).
    #[inline(never)]
    fn account_quota(&mut self, since: SimTime, now: SimTime, rate: u64, n: u64) -> bool {
        let threads = self.cpus_used(n);
        let bandwidth = self.bandwidth.as_mut().expect("called with a CPU limit");
        bandwidth.account(since, now, rate, threads)
    }

    /// The CPUs `n` requests in service run on: one each, as far as its cap goes.
    #[inline]
    fn cpus_used(&self, n: u64) -> u64 {
        n.min(self.cap_millis.div_ceil(1000))
    }

    /// Total millicores of CPU handed out per µs with `n` requests in service, when not
    /// throttled.
    fn total_rate(&self, n: u64) -> u64 {
        (1000 * n).min(self.capacity_millis)
    }

    /// Brings the virtual clock, the CPU counter and the quota's accounting up to `now`.
    #[inline]
    pub fn advance(&mut self, now: SimTime) {
        let since = self.last_update;
        let dt = now.saturating_since(since).as_micros();
        self.last_update = now;
        let n = self.running.len() as u64;
        if dt == 0 {
            return;
        }
        if n == 0 {
            if let Some(bandwidth) = self.bandwidth.as_mut() {
                bandwidth.catch_up(now);
            }
            return;
        }
        let rate = self.total_rate(n);
        if self.bandwidth.is_some() && !self.account_quota(since, now, rate, n) {
            return; // throttled: no progress
        }
        self.cpu_used += dt * rate;
        // Unsaturated (every request gets a full core) is the common case: no division needed.
        self.virtual_clock += if 1000 * n <= self.capacity_millis {
            dt * 1000
        } else {
            dt * rate / n
        };
    }

    /// The mesh's sidecar spent `work` (millicore·µs) on a request: it counts in the pod's CPU
    /// (metrics-server sums the containers), outside the serving container's quota and slots.
    #[inline]
    pub fn charge_sidecar(&mut self, work: u64) {
        self.cpu_used += work;
    }

    /// CPU used since the pod started, in millicore·µs, as of `now`.
    pub fn cpu_used(&mut self, now: SimTime) -> u64 {
        self.advance(now);
        self.cpu_used
    }

    /// Requests in service (working or waiting on calls) or queued.
    pub fn load(&self) -> usize {
        let llm = self.llm().map_or(0, |l| l.waiting() + l.running());
        self.running.len() + self.blocked.len() + self.waiting.len() + llm
    }

    /// Concurrency slots taken.
    fn busy_slots(&self) -> usize {
        self.running.len() + self.blocked.len()
    }

    /// Requests waiting for a concurrency slot.
    pub fn queue_length(&self) -> usize {
        self.waiting.len() + self.llm().map_or(0, LlmServer::waiting)
    }

    /// Requests that finished service since the pod started.
    pub fn completed(&self) -> u64 {
        self.completed + self.llm().map_or(0, |l| l.counters().finished)
    }

    pub fn is_idle(&self) -> bool {
        self.running.is_empty()
            && self.waiting.is_empty()
            && self.blocked.is_empty()
            && self.llm().is_none_or(LlmServer::is_idle)
    }

    /// Accepts a new request: into service, into the queue, or rejected as `queue_full`.
    /// Returns a completion event to schedule `(time, generation)` when the earliest finish moved.
    #[inline]
    pub fn offer(
        &mut self,
        now: SimTime,
        slot: u32,
        slab: &mut RequestSlab,
        out: &mut Vec<Outcome>,
    ) -> Option<(SimTime, u32)> {
        self.advance(now);
        if self.busy_slots() < self.concurrency {
            self.start(slot, slab);
            return self.reschedule(now);
        }
        if self.waiting.len() < self.queue_limit {
            self.waiting.push_back(slot);
        } else {
            out.push(slab.take(slot).failed(FailureReason::QueueFull));
        }
        None
    }

    /// Handles a completion event; stale generations are ignored (returns `None`).
    #[inline(always)]
    pub fn complete(
        &mut self,
        now: SimTime,
        generation: u32,
        slab: &mut RequestSlab,
        out: &mut Vec<Outcome>,
    ) -> Option<(SimTime, u32)> {
        if generation != self.generation || self.scheduled != Some(now) {
            return None;
        }
        self.scheduled = None;
        self.advance(now);
        let in_service = self.running.len() as u64;
        while let Some(slot) = self.running.take_due(self.virtual_clock) {
            if slab.get(slot).link.frame != NO_FRAME {
                self.blocked.push(slot);
                out.push(Outcome::CpuDone { slot });
                continue;
            }
            self.completed += 1;
            out.push(self.answer(now, slab.take(slot), None));
        }
        self.admit_waiting(now, slab, out);
        if self.bandwidth.is_some() {
            self.settle_quota(now, in_service);
        }
        self.reschedule(now)
    }

    /// After a completion event of a server with a CPU limit: the CPUs its threads left (it
    /// had `in_service` requests before) give back what they hold; if its runtime is spent
    /// while it still has work, it is throttled.
    #[inline(never)]
    fn settle_quota(&mut self, now: SimTime, in_service: u64) {
        let cpus = self.cpus_used(in_service);
        let busy = self.cpus_used(self.running.len() as u64);
        let bandwidth = self.bandwidth.as_mut().expect("called with a CPU limit");
        bandwidth.cpus_left(cpus, busy);
        bandwidth.throttle_if_spent(now, busy > 0);
    }

    /// The response to `r`: failed for `failure`, a timeout if its client gave up, or served.
    fn answer(&self, now: SimTime, r: Request, failure: Option<FailureReason>) -> Outcome {
        let latency = now.saturating_since(r.arrival);
        match failure {
            Some(reason) => r.failed(reason),
            None if latency > self.timeout => r.failed(FailureReason::Timeout),
            None => Outcome::Served {
                service: r.service,
                latency,
                link: r.link,
            },
        }
    }

    /// A blocked request has `work` more CPU to do.
    pub fn resume(&mut self, now: SimTime, slot: u32, work: u64) -> Option<(SimTime, u32)> {
        self.unblock(slot);
        self.advance(now);
        self.running.push(self.virtual_clock + work, slot);
        self.reschedule(now)
    }

    /// A blocked request is done (its calls answered, or one failed): it answers and frees its
    /// slot for the queue.
    pub fn finish(
        &mut self,
        now: SimTime,
        slot: u32,
        failure: Option<FailureReason>,
        slab: &mut RequestSlab,
        out: &mut Vec<Outcome>,
    ) -> Option<(SimTime, u32)> {
        self.unblock(slot);
        self.advance(now);
        self.completed += 1;
        out.push(self.answer(now, slab.take(slot), failure));
        self.admit_waiting(now, slab, out);
        self.reschedule(now)
    }

    /// Whether the request in `slot` is blocked here, waiting on its calls.
    pub fn is_blocked(&self, slot: u32) -> bool {
        self.blocked.contains(&slot)
    }

    fn unblock(&mut self, slot: u32) {
        let i = self
            .blocked
            .iter()
            .position(|&s| s == slot)
            .expect("the request is blocked in this server");
        self.blocked.swap_remove(i);
    }

    /// Fails everything in flight for `reason` (the pod is killed, or its node died).
    pub fn fail_all(
        &mut self,
        reason: FailureReason,
        slab: &mut RequestSlab,
        out: &mut Vec<Outcome>,
    ) {
        let mut slots =
            Vec::with_capacity(self.running.len() + self.blocked.len() + self.waiting.len());
        self.running.drain_into(&mut slots);
        slots.append(&mut self.blocked);
        slots.extend(self.waiting.drain(..));
        for slot in slots {
            out.push(slab.take(slot).failed(reason));
        }
        self.generation += 1;
        self.scheduled = None;
        if let Some(llm) = self.llm.as_deref_mut() {
            let mut dropped = Vec::new();
            llm.drop_all(&mut dropped);
            // An LLM request's id is its Service; it answers its caller, if any.
            out.extend(dropped.into_iter().map(|o| Outcome::Failed {
                service: ServiceId(o.id()),
                reason,
                link: Link {
                    frame: NO_FRAME,
                    caller: o.caller(),
                },
            }));
        }
    }

    fn start(&mut self, slot: u32, slab: &RequestSlab) {
        let work = slab.slots[slot as usize].work;
        self.running.push(self.virtual_clock + work, slot);
    }

    /// Moves queued requests into free slots, dropping those whose client already gave up.
    #[inline]
    fn admit_waiting(&mut self, now: SimTime, slab: &mut RequestSlab, out: &mut Vec<Outcome>) {
        if !self.waiting.is_empty() {
            self.admit_queued(now, slab, out);
        }
    }

    #[inline(never)]
    fn admit_queued(&mut self, now: SimTime, slab: &mut RequestSlab, out: &mut Vec<Outcome>) {
        while self.busy_slots() < self.concurrency {
            let Some(slot) = self.waiting.pop_front() else {
                break;
            };
            let arrival = slab.slots[slot as usize].arrival;
            if now.saturating_since(arrival) >= self.timeout {
                out.push(slab.take(slot).failed(FailureReason::Timeout));
            } else {
                self.start(slot, slab);
            }
        }
    }

    /// Recomputes the server's next event: when the earliest in-service request finishes at
    /// the current rate, or, if sooner, when its CPU limit's quota runs out or its throttled
    /// period ends.
    #[inline(always)]
    fn reschedule(&mut self, now: SimTime) -> Option<(SimTime, u32)> {
        let Some(tag) = self.running.earliest() else {
            self.scheduled = None;
            return None;
        };
        let n = self.running.len() as u64;
        let at = match self.bandwidth.as_ref() {
            None => now + self.time_to_finish(tag, n),
            Some(bandwidth) => self.next_under_quota(bandwidth, now, tag, n),
        };
        if self.scheduled == Some(at) {
            return None;
        }
        self.generation = self.generation.wrapping_add(1);
        self.scheduled = Some(at);
        Some((at, self.generation))
    }

    /// How long until the request tagged `tag` finishes at the current rate, not throttled.
    #[inline(always)]
    fn time_to_finish(&self, tag: u64, n: u64) -> SimDuration {
        let remaining = tag.saturating_sub(self.virtual_clock);
        let micros = if 1000 * n <= self.capacity_millis {
            remaining.div_ceil(1000) // full core per request: a constant divisor
        } else {
            (remaining * n).div_ceil(self.total_rate(n))
        };
        SimDuration::from_micros(micros)
    }

    /// The next event of a server with a CPU limit: the earlier of the next finish (none while
    /// throttled) and the quota's next change.
    #[inline(never)]
    fn next_under_quota(&self, bandwidth: &Bandwidth, now: SimTime, tag: u64, n: u64) -> SimTime {
        let rate = self.total_rate(n);
        if bandwidth.is_throttled() {
            return (bandwidth.next_change(now, rate, 0)).expect("a throttled period ends");
        }
        let to_finish = self.time_to_finish(tag, n);
        let finish = now + to_finish;
        if bandwidth.lasts(rate, to_finish) {
            return finish; // the runtime it has now outlasts the next finish
        }
        let change = bandwidth.next_change(now, rate, self.cpus_used(n));
        change.map_or(finish, |c| c.min(finish))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::dist::DurationDist;

    fn workload(concurrency: u32, queue_limit: u32) -> WorkloadModel {
        WorkloadModel {
            startup_time: DurationDist::Constant(SimDuration::ZERO),
            cpu_per_request: DurationDist::Constant(SimDuration::ZERO),
            concurrency,
            queue_limit,
            timeout: SimDuration::from_secs(10),
            ..WorkloadModel::default()
        }
    }

    fn request(slab: &mut RequestSlab, at: SimTime, work_ms: u64) -> u32 {
        slab.insert(Request::external(ServiceId(0), at, work_ms * 1_000_000))
    }

    /// Runs the server's own events to completion, returning (finish time, outcome) pairs.
    fn drain(
        server: &mut PodServer,
        mut next: Option<(SimTime, u32)>,
        slab: &mut RequestSlab,
    ) -> Vec<(SimTime, Outcome)> {
        let mut done = Vec::new();
        while let Some((t, g)) = next {
            let mut out = Vec::new();
            next = server.complete(t, g, slab, &mut out);
            done.extend(out.into_iter().map(|o| (t, o)));
        }
        done
    }

    const INSTANCE: Instance = Instance {
        deployment: DeploymentId(0),
        listening_from: SimTime::ZERO,
    };

    #[test]
    fn processor_sharing_slows_requests_beyond_the_cpu() {
        // 1 core, two 100 ms requests at t=0: each runs at 0.5 core → both finish at 200 ms.
        let mut slab = RequestSlab::default();
        let mut s = PodServer::new(INSTANCE, 1000, None, &workload(4, 10), SimTime::ZERO);
        let mut out = Vec::new();
        let a = request(&mut slab, SimTime::ZERO, 100);
        s.offer(SimTime::ZERO, a, &mut slab, &mut out);
        let b = request(&mut slab, SimTime::ZERO, 100);
        let next = s.offer(SimTime::ZERO, b, &mut slab, &mut out);
        let done = drain(&mut s, next, &mut slab);
        assert_eq!(done.len(), 2);
        assert!(
            done.iter()
                .all(|(t, _)| *t == SimTime::from_micros(200_000)),
            "{done:?}"
        );
        // CPU used: one core for 200 ms = 200 000 µs × 1000 millicores.
        assert_eq!(s.cpu_used(SimTime::from_micros(200_000)), 200_000_000);
    }

    #[test]
    fn enough_cores_means_no_slowdown_and_a_queue_beyond_concurrency() {
        // 4 cores, concurrency 2, three 100 ms requests at t=0: two run at full speed (done at
        // 100 ms); the third waits, then runs 100 ms → done at 200 ms with latency 200 ms.
        let mut slab = RequestSlab::default();
        let mut s = PodServer::new(INSTANCE, 4000, None, &workload(2, 10), SimTime::ZERO);
        let mut out = Vec::new();
        let mut next = None;
        for _ in 0..3 {
            let r = request(&mut slab, SimTime::ZERO, 100);
            next = s.offer(SimTime::ZERO, r, &mut slab, &mut out).or(next);
        }
        let done = drain(&mut s, next, &mut slab);
        let times: Vec<u64> = done.iter().map(|(t, _)| t.as_micros()).collect();
        assert_eq!(times, vec![100_000, 100_000, 200_000]);
        assert!(
            matches!(done[2].1, Outcome::Served { latency, .. } if latency == SimDuration::from_millis(200)),
            "{:?}",
            done[2].1
        );
    }

    #[test]
    fn full_queue_rejects_and_timeouts_fail() {
        let mut slab = RequestSlab::default();
        let mut s = PodServer::new(INSTANCE, 1000, None, &workload(1, 1), SimTime::ZERO);
        let mut out = Vec::new();
        // 20 s request (longer than the 10 s timeout), then one queued, then one rejected.
        let long = request(&mut slab, SimTime::ZERO, 20_000);
        let next = s.offer(SimTime::ZERO, long, &mut slab, &mut out);
        let queued = request(&mut slab, SimTime::ZERO, 1);
        s.offer(SimTime::ZERO, queued, &mut slab, &mut out);
        let rejected = request(&mut slab, SimTime::ZERO, 1);
        s.offer(SimTime::ZERO, rejected, &mut slab, &mut out);
        assert!(
            matches!(
                out.as_slice(),
                [Outcome::Failed {
                    reason: FailureReason::QueueFull,
                    ..
                }]
            ),
            "{out:?}"
        );
        // At 20 s the long request finishes late (timeout) and the queued one has waited 20 s ≥ 10 s
        // (its client is gone): both fail as timeouts; nothing is left.
        let done = drain(&mut s, next, &mut slab);
        assert_eq!(done.len(), 2);
        assert!(done.iter().all(|(_, o)| matches!(
            o,
            Outcome::Failed {
                reason: FailureReason::Timeout,
                ..
            }
        )));
        assert!(s.is_idle());
        assert_eq!(slab.in_flight(), 0);
    }

    #[test]
    fn a_smaller_share_slows_the_work_left() {
        // 1 core: a 100 ms request. At 50 ms the node's share drops to 500m: the 50 ms of work
        // left takes 100 ms → done at 150 ms. CPU used: 50 ms × 1000 + 100 ms × 500.
        let mut slab = RequestSlab::default();
        let mut s = PodServer::new(INSTANCE, 1000, None, &workload(4, 10), SimTime::ZERO);
        let mut out = Vec::new();
        let a = request(&mut slab, SimTime::ZERO, 100);
        s.offer(SimTime::ZERO, a, &mut slab, &mut out).unwrap();
        assert_eq!(s.demand_millis(), 1000);
        let t50 = SimTime::from_micros(50_000);
        let next = s.set_capacity(t50, 500).unwrap();
        assert_eq!(next.0, SimTime::from_micros(150_000));
        assert_eq!(
            s.set_capacity(t50, 500),
            None,
            "unchanged share: nothing to do"
        );
        let done = drain(&mut s, Some(next), &mut slab);
        assert_eq!(done.len(), 1);
        assert_eq!(s.cpu_used(SimTime::from_micros(150_000)), 100_000_000);
        assert_eq!(s.demand_millis(), 0);
    }

    /// A 4-core server limited to `limit_millis` with 100 ms periods starting at 0.
    fn limited(limit_millis: u64, concurrency: u32) -> PodServer {
        let period = SimDuration::from_millis(100);
        let bandwidth = Bandwidth::new(limit_millis, period, SimDuration::ZERO, SimTime::ZERO);
        PodServer::new(
            INSTANCE,
            4000,
            Some(bandwidth),
            &workload(concurrency, 100),
            SimTime::ZERO,
        )
    }

    #[test]
    fn a_light_request_under_a_limit_is_not_slowed() {
        // 200m limit = 20 ms of CPU per 100 ms. A 5 ms request alone runs at a full core and
        // is done at 5 ms (a rate cap would have taken 25 ms); nothing is throttled.
        let mut slab = RequestSlab::default();
        let mut s = limited(200, 4);
        let mut out = Vec::new();
        let a = request(&mut slab, SimTime::ZERO, 5);
        let next = s.offer(SimTime::ZERO, a, &mut slab, &mut out);
        let done = drain(&mut s, next, &mut slab);
        assert_eq!(done[0].0, SimTime::from_micros(5_000));
        let stats = s.cfs_stats().unwrap();
        assert_eq!((stats.nr_periods, stats.nr_throttled), (2, 0));
    }

    #[test]
    fn a_burst_past_the_quota_waits_for_the_next_period() {
        // 200m limit. Four 10 ms requests at t=0 on 4 cores: 4000m spends the 20 ms quota in
        // 5 ms (each request has 5 ms of work left); throttled until 100 ms, then done at
        // 105 ms — 105 ms each, where a steady 200m would have made them 200 ms. While
        // throttled the server wants no CPU from its node, and its 4 threads wait 95 ms each.
        let mut slab = RequestSlab::default();
        let mut s = limited(200, 4);
        let mut out = Vec::new();
        let mut next = None;
        for _ in 0..4 {
            let r = request(&mut slab, SimTime::ZERO, 10);
            next = s.offer(SimTime::ZERO, r, &mut slab, &mut out).or(next);
        }
        let (at, generation) = next.unwrap();
        assert_eq!(at, SimTime::from_micros(5_000), "the quota runs out first");
        let next = s.complete(at, generation, &mut slab, &mut out);
        assert!(out.is_empty());
        assert_eq!(
            s.demand_millis(),
            0,
            "throttled: its CPU goes to the neighbours"
        );
        assert_eq!(next.unwrap().0, SimTime::from_micros(100_000));
        let done = drain(&mut s, next, &mut slab);
        assert_eq!(done.len(), 4);
        assert!(
            done.iter()
                .all(|(t, _)| *t == SimTime::from_micros(105_000)),
            "{done:?}"
        );
        let stats = s.cfs_stats().unwrap();
        assert_eq!(stats.nr_throttled, 1);
        assert_eq!(stats.throttled_us, 4 * 95_000);
        // Periods 0 and 1 had work; the timer fires once more at the end of period 2.
        assert_eq!(stats.nr_periods, 3);
    }

    #[test]
    fn a_request_longer_than_the_quota_runs_a_quota_a_period() {
        // 200m limit, one 50 ms request at 10 ms: 20 ms of work by 30 ms, throttled to 100 ms,
        // 20 ms more by 120 ms, throttled to 200 ms, the last 10 ms by 210 ms.
        let mut slab = RequestSlab::default();
        let mut s = limited(200, 4);
        let mut out = Vec::new();
        let t10 = SimTime::from_micros(10_000);
        let a = request(&mut slab, t10, 50);
        let next = s.offer(t10, a, &mut slab, &mut out);
        let done = drain(&mut s, next, &mut slab);
        assert_eq!(done[0].0, SimTime::from_micros(210_000));
        assert_eq!(s.cfs_stats().unwrap().nr_throttled, 2);
        assert_eq!(s.cpu_used(SimTime::from_micros(210_000)), 50_000_000);
    }

    #[test]
    fn a_request_waiting_on_calls_keeps_its_slot_but_uses_no_cpu() {
        // Concurrency 1. A request with a call frame finishes its 10 ms of CPU at 10 ms and
        // blocks; a second request arriving at 20 ms must queue. The first resumes for 5 ms at
        // 30 ms (done at 35 ms), blocks again and finishes at 50 ms: the second starts then and
        // is done at 60 ms. CPU used: 10 + 5 + 10 ms at one core.
        let mut slab = RequestSlab::default();
        let mut s = PodServer::new(INSTANCE, 1000, None, &workload(1, 10), SimTime::ZERO);
        let mut out = Vec::new();
        let ms = |m: u64| SimTime::from_micros(m * 1000);
        let mut first = Request::external(ServiceId(0), SimTime::ZERO, 10_000_000);
        first.link.frame = 7;
        let a = slab.insert(first);
        let next = s.offer(SimTime::ZERO, a, &mut slab, &mut out).unwrap();
        assert_eq!(next.0, ms(10));
        assert_eq!(s.complete(ms(10), next.1, &mut slab, &mut out), None);
        assert_eq!(out, [Outcome::CpuDone { slot: a }]);
        assert_eq!(
            (s.demand_millis(), s.load()),
            (0, 1),
            "blocked: no CPU, still in flight"
        );
        out.clear();
        let b = request(&mut slab, ms(20), 10);
        assert_eq!(
            s.offer(ms(20), b, &mut slab, &mut out),
            None,
            "queued behind the slot"
        );
        let next = s.resume(ms(30), a, 5_000_000).unwrap();
        assert_eq!(next.0, ms(35));
        s.complete(ms(35), next.1, &mut slab, &mut out);
        out.clear();
        let next = s.finish(ms(50), a, None, &mut slab, &mut out).unwrap();
        assert!(
            matches!(out[0], Outcome::Served { latency, .. } if latency == SimDuration::from_millis(50))
        );
        assert_eq!(next.0, ms(60));
        assert_eq!(s.cpu_used(ms(60)), 25_000_000);
    }

    #[test]
    fn stale_completions_are_ignored() {
        // 1 core: a 100 ms request, then at 50 ms a 10 ms one. The first completion (at 100 ms) is
        // superseded: from 50 ms both share the core, the short one needs 20 ms → done at 70 ms.
        let mut slab = RequestSlab::default();
        let mut s = PodServer::new(INSTANCE, 1000, None, &workload(4, 10), SimTime::ZERO);
        let mut out = Vec::new();
        let a = request(&mut slab, SimTime::ZERO, 100);
        let first = s.offer(SimTime::ZERO, a, &mut slab, &mut out).unwrap();
        let t50 = SimTime::from_micros(50_000);
        let b = request(&mut slab, t50, 10);
        let second = s.offer(t50, b, &mut slab, &mut out).unwrap();
        assert_eq!(second.0, SimTime::from_micros(70_000));
        assert_eq!(
            s.complete(first.0, first.1, &mut slab, &mut out),
            None,
            "stale event dropped"
        );
        assert!(out.is_empty());
        // Then: the long one had 50 ms left at 50 ms and got 10 ms of work while sharing (50→70 ms),
        // so 40 ms remain; alone at full speed it is done at 70 + 40 = 110 ms.
        let done = drain(&mut s, Some(second), &mut slab);
        let times: Vec<u64> = done.iter().map(|(t, _)| t.as_micros()).collect();
        assert_eq!(times, vec![70_000, 110_000]);
    }

    proptest::proptest! {
        /// Whatever it holds them in, `InService` takes the least (tag, slot) first, and only
        /// once its tag is due, also across the change to a heap at `MANY` and back after it
        /// empties; `drain` returns every slot still in it.
        #[test]
        fn in_service_takes_the_earliest_first_in_either_form(
            ops in proptest::collection::vec((0u64..50, proptest::bool::weighted(0.6)), 1..300)
        ) {
            let mut running = InService::new();
            let mut model = std::collections::BTreeSet::new();
            for (i, (tag, push)) in ops.into_iter().enumerate() {
                if push {
                    running.push(tag, i as u32);
                    model.insert((tag, i as u32));
                } else {
                    // A clock short of the earliest tag takes nothing; at the tag, the earliest.
                    let earliest = model.first().copied();
                    proptest::prop_assert_eq!(running.peek(), earliest);
                    if let Some((tag, _)) = earliest.filter(|&(tag, _)| tag > 0) {
                        proptest::prop_assert_eq!(running.take_due(tag - 1), None);
                    }
                    let clock = earliest.map_or(u64::MAX, |(tag, _)| tag);
                    let expected = model.pop_first().map(|(_, slot)| slot);
                    proptest::prop_assert_eq!(running.take_due(clock), expected);
                }
                proptest::prop_assert_eq!(running.len(), model.len());
                proptest::prop_assert_eq!(running.earliest(), model.first().map(|&(t, _)| t));
            }
            let mut left = Vec::new();
            running.drain_into(&mut left);
            left.sort_unstable();
            let mut expected: Vec<u32> = model.iter().map(|&(_, slot)| slot).collect();
            expected.sort_unstable();
            proptest::prop_assert_eq!(left, expected);
            proptest::prop_assert!(running.is_empty());
        }
    }

    #[test]
    fn in_service_moves_out_of_the_server_past_inline_then_becomes_a_heap_at_many() {
        let mut running = InService::new();
        for slot in 0..InService::MANY as u32 {
            running.push(u64::from(slot % 7), slot);
            let inline = running.spill.is_none();
            assert_eq!(inline, running.len() <= InService::INLINE, "{slot}");
        }
        assert!(matches!(running.spill, Some(Tags::Few(_))));
        running.push(3, 999);
        assert!(matches!(running.spill, Some(Tags::Many(_))));
        // 33 in service: tags 0..=6 repeating, and (3, 999); the least is (0, 0).
        assert_eq!(running.peek(), Some((0, 0)));
        while running.take_due(u64::MAX).is_some() {}
        assert!(running.is_empty());
        assert!(matches!(running.spill, Some(Tags::Few(_))));
    }

    #[test]
    fn draining_a_heap_gives_every_slot_and_leaves_a_sorted_form_that_serves_in_order() {
        let mut running = InService::new();
        for slot in 0..40 {
            running.push(u64::from(slot % 9), slot);
        }
        assert!(matches!(running.spill, Some(Tags::Many(_))));
        let mut slots = vec![1000]; // appended to, not replaced
        running.drain_into(&mut slots);
        assert_eq!(slots[0], 1000);
        slots.sort_unstable();
        assert_eq!(slots, (0..40).chain([1000]).collect::<Vec<u32>>());
        assert!(running.is_empty());
        assert!(matches!(running.spill, Some(Tags::Few(_))));
        // Served afterwards least tag first: (2, 7) before (5, 8) before (9, 6).
        for (tag, slot) in [(9, 6), (2, 7), (5, 8)] {
            running.push(tag, slot);
        }
        let order: Vec<u32> = std::iter::from_fn(|| running.take_due(u64::MAX)).collect();
        assert_eq!(order, [7, 8, 6]);
    }
}
