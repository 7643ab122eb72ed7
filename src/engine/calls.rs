//! The data plane's request path: sending a request to a Service (from outside or as a call),
//! what happens to its outcome, and the call graphs of requests that call other Services
//! (the state and arithmetic are in [`crate::traffic::calls`]).

use super::{Engine, Event};
use crate::cluster::{PodId, ServiceId};
use crate::metrics::Observation;
use crate::scenario::{Call, CallGraph, CallStep};
use crate::traffic::calls::{self, CallRef, Parent};
use crate::traffic::llm::tokens::TokenCounts;
use crate::traffic::serving::{NO_FRAME, Request};
use crate::traffic::{FailureReason, Instance, Outcome};

impl<'s> Engine<'s, '_> {
    /// Routes a request to one of the Service's ready endpoints and offers it to that pod.
    /// `caller` is the call it answers ([`CallRef::NONE`] for traffic from outside).
    #[inline(always)]
    pub(super) fn send_request(&mut self, service: ServiceId, caller: CallRef) {
        self.send_request_carrying(service, caller, None);
    }

    /// [`Self::send_request`] for a request that carries token counts, which its call graph
    /// may pass on (`tokens: request`).
    #[inline(always)]
    pub(super) fn send_request_carrying(
        &mut self,
        service: ServiceId,
        caller: CallRef,
        tokens: Option<TokenCounts>,
    ) {
        let Some((pod, instance)) = self.route(service, caller) else {
            return;
        };
        if self.plane.is_node_major() {
            // Nothing on a node-major plane calls, carries tokens or models memory.
            return self.route_to_lane(service, pod, instance.deployment);
        }
        if self.zones.is_some() {
            self.note_hop(service, pod, caller);
        }
        let dep = instance.deployment;
        let workload = &self.scenario.deployments[dep.index()].workload;
        let models_memory = workload.memory.is_some();
        let work = self.draws.work(dep.index(), &workload.cpu_per_request);
        let sidecar_work = workload.proxy_cpu_per_request.as_micros() * 1000;
        let mut request = Request::external(service, self.now, work);
        request.link.caller = caller;
        let slab = &mut self.plane.exact_core().slab;
        let slot = slab.insert(request);
        if self.has_calls[dep.index()] {
            let root = self
                .frames
                .start(dep, 0, Parent::Request { slot, pod }, None);
            slab.get_mut(slot).link.frame = root.frame;
            if let Some(tokens) = tokens {
                self.frames.carry(root, tokens);
            }
        }
        let queue = &mut self.queue;
        let warm = queue.timers_pending() >= super::WARM_FROM_BUSY_PODS;
        let now = self.now;
        self.plane.exact_core().offer(
            pod,
            slot,
            sidecar_work,
            now,
            &mut self.outcomes,
            warm,
            &mut |pod, at, generation| {
                queue.schedule_timer(pod.0, at, Event::Completion { pod, generation })
            },
        );
        self.flush_outcomes();
        if models_memory {
            self.check_memory_limit(pod);
        }
    }

    /// Picks one of the Service's ready endpoints whose app answers; fails the request (and
    /// returns `None`) when there is none or the one picked cannot take it.
    #[inline(always)]
    pub(super) fn route(
        &mut self,
        service: ServiceId,
        caller: CallRef,
    ) -> Option<(PodId, Instance)> {
        if self.has_mesh && self.mesh_balances(service, caller) {
            let picked = self.mesh_endpoint(service);
            return self.reach(service, picked, caller);
        }
        if self.has_connections
            && let Some(table) = self.connection_table(service, caller)
        {
            let picked = self.connected_endpoint(table, caller);
            return self.reach(service, picked, caller);
        }
        let picked = self.pick_endpoint(service, caller);
        self.reach(service, picked, caller)
    }

    /// The picked endpoint, if it can take a request now; otherwise the request fails (for
    /// want of an endpoint, or of an answer) and `None`.
    #[inline(always)]
    pub(super) fn reach(
        &mut self,
        service: ServiceId,
        picked: Option<PodId>,
        caller: CallRef,
    ) -> Option<(PodId, Instance)> {
        let Some(pod) = picked else {
            self.request_failed(service, FailureReason::NoEndpoint, caller);
            return None;
        };
        // An endpoint's server is missing only while its machine is down (it is taken when the
        // machine fails and none starts there until it is back).
        debug_assert_eq!(self.plane.get(pod).is_none(), self.on_failed_node(pod));
        let Some(instance) = self.plane.instance(pod) else {
            // Sent to an endpoint whose machine is gone: nothing answers.
            self.request_failed(service, FailureReason::NodeFailure, caller);
            return None;
        };
        if self.now < instance.listening_from {
            // Ready without a readiness probe, but the app is not listening yet.
            self.request_failed(service, FailureReason::ConnectionRefused, caller);
            return None;
        }
        Some((pod, instance))
    }

    /// A request that never reached a pod.
    fn request_failed(&mut self, service: ServiceId, reason: FailureReason, caller: CallRef) {
        self.recorder
            .observe(self.now, Observation::RequestFailed { service, reason });
        if caller.is_none() {
            self.answered(service, true);
        } else {
            if self.has_connections {
                self.release_connection(caller, Some(reason));
            }
            self.call_failed(caller, reason);
        }
    }

    /// Records the servers' outcomes and acts on them. Handling one may produce more (a call's
    /// answer lets its caller go on): they are appended and handled in turn, in the order they
    /// came, by the outermost call.
    #[inline]
    pub(super) fn flush_outcomes(&mut self) {
        if self.outcomes.is_empty() || self.flushing {
            return;
        }
        self.flushing = true;
        let mut i = 0;
        while let Some(outcome) = self.outcomes.get(i) {
            i += 1;
            // The common case, kept inline: a request from outside, without calls, served.
            // Its fields are read one by one: the server has just written them so, and
            // reading the whole outcome at once would wait for those writes to reach the cache.
            if let Outcome::Served {
                service,
                latency,
                link,
            } = *outcome
                && link.is_none()
            {
                self.recorder
                    .observe(self.now, Observation::RequestServed { service, latency });
                self.answered(service, false);
                continue;
            }
            let outcome = *outcome;
            self.handle_outcome(outcome);
        }
        self.outcomes.clear();
        self.flushing = false;
    }

    #[inline(never)]
    fn handle_outcome(&mut self, outcome: Outcome) {
        let (service, link, result) = match outcome {
            Outcome::CpuDone { slot } => return self.cpu_done(slot),
            Outcome::Served {
                service,
                latency,
                link,
            } => {
                self.recorder
                    .observe(self.now, Observation::RequestServed { service, latency });
                (service, link, None)
            }
            Outcome::Failed {
                service,
                reason,
                link,
            } => {
                self.recorder
                    .observe(self.now, Observation::RequestFailed { service, reason });
                (service, link, Some(reason))
            }
        };
        if link.caller.is_none() {
            self.answered(service, result.is_some());
        }
        if link.frame != NO_FRAME {
            // Failed before its calls were done (killed, queue full, timed out in the queue).
            let root = self.frames.owned(link.frame);
            self.frames.finish(root);
        }
        if !link.caller.is_none() && !self.delay_answer(link.caller, result) {
            self.answer_caller(link.caller, result);
        }
    }

    /// The callee's answer to try `caller` reaches the caller (`result`: why it failed).
    pub(super) fn answer_caller(&mut self, caller: CallRef, result: Option<FailureReason>) {
        if self.has_connections {
            self.release_connection(caller, result);
        }
        match result {
            None => self.call_answered(caller),
            Some(reason) => self.call_failed(caller, reason),
        }
    }

    /// A request's CPU work is done: its frame (or the branch that asked for the CPU) goes on.
    /// Dropped when the request has meanwhile been failed (its pod killed while this outcome
    /// waited in the same flush).
    fn cpu_done(&mut self, slot: u32) {
        let Some(root) = self.blocked_root(slot) else {
            return;
        };
        let waiter = self.frames.take_cpu_waiter(root);
        self.run_frame(waiter.unwrap_or(root));
    }

    /// The root frame of the request in `slot`, if that request is blocked in its pod.
    fn blocked_root(&mut self, slot: u32) -> Option<CallRef> {
        let frame = self.plane.exact_core().slab.get(slot).link.frame;
        if frame == NO_FRAME || !self.frames.is_live(frame) {
            return None;
        }
        let root = self.frames.owned(frame);
        match self.frames.get(root)?.parent {
            Parent::Request { slot: s, pod } if s == slot && self.is_blocked_in(pod, slot) => {
                Some(root)
            }
            _ => None,
        }
    }

    fn is_blocked_in(&self, pod: PodId, slot: u32) -> bool {
        self.plane
            .get(pod)
            .is_some_and(|server| server.is_blocked(slot))
    }

    fn graph(&self, r: CallRef) -> &'s CallGraph {
        let f = self.frames.get(r).expect("a current frame");
        &self.scenario.deployments[f.deployment.index()]
            .workload
            .calls
    }

    /// Runs frame `r` from its current step until it must wait (a call, branches, CPU) or its
    /// sequence ends.
    fn run_frame(&mut self, r: CallRef) {
        let Some(f) = self.frames.get(r).copied() else {
            return;
        };
        let graph = self.graph(r);
        let Some(step) = graph.sequences[f.sequence as usize].get(f.step as usize) else {
            return self.frame_done(r, None);
        };
        let rng = &mut self.call_rngs[f.deployment.index()];
        match step {
            CallStep::Call(call) => {
                let count = calls::sample_count(call.count, rng);
                if count == 0 {
                    self.frames.advance(r);
                    return self.run_frame(r);
                }
                self.frames.set_calls(r, count);
                self.start_call(r, call);
            }
            CallStep::Cpu(dist) => {
                let work = dist.sample(rng).as_micros() * 1000;
                self.frames.advance(r);
                self.resume_cpu(r, work);
            }
            CallStep::Delay(dist) => {
                let wait = dist.sample(rng);
                self.frames.advance(r);
                let (frame, token) = (r.frame, r.token);
                self.queue
                    .schedule(self.now + wait, Event::FrameResume { frame, token });
            }
            CallStep::Parallel(sequences) => self.start_branches(r, sequences),
            CallStep::OneOf { weights, sequences } => {
                let i = calls::pick_branch(weights, rng);
                self.start_branches(r, &sequences[i..=i]);
            }
        }
    }

    /// Frame `r` waits for one child frame per sequence, then goes on with its next step.
    fn start_branches(&mut self, r: CallRef, sequences: &[u32]) {
        let f = *self.frames.get(r).expect("a current frame");
        self.frames.await_branches(r, sequences.len() as u32);
        let root = self.frames.root_of(r);
        for &s in sequences {
            let child = self
                .frames
                .start(f.deployment, s, Parent::Frame(r), Some(root));
            self.run_frame(child);
        }
    }

    /// The request does `work` more CPU in its pod; frame `r` goes on when it is done.
    fn resume_cpu(&mut self, r: CallRef, work: u64) {
        let root = self.frames.root_of(r);
        let Some(Parent::Request { slot, pod }) = self.frames.get(root).map(|f| f.parent) else {
            return;
        };
        let Some(server) = self
            .plane
            .get_mut(pod)
            .filter(|server| server.is_blocked(slot))
        else {
            return; // failed meanwhile: its outcome, still to be handled, frees the frames
        };
        self.frames.set_cpu_waiter(root, r);
        let next = server.resume(self.now, slot, work);
        let demand = server.tracked_demand();
        self.schedule_completion(pod, next);
        self.update_cpu_demand(demand);
    }

    /// The Service try `a` calls, if `a` is still waiting for its answer.
    pub(super) fn call_in_flight(&self, a: CallRef) -> Option<ServiceId> {
        self.frames.get(a)?.in_flight_site?;
        Some(ServiceId(self.current_call(a).service as u32))
    }

    /// The current call step of frame `r`.
    pub(super) fn current_call(&self, r: CallRef) -> &'s Call {
        let f = self.frames.get(r).expect("a current frame");
        match &self.graph(r).sequences[f.sequence as usize][f.step as usize] {
            CallStep::Call(call) => call,
            other => unreachable!("frame waits on a call, not {other:?}"),
        }
    }

    /// Starts a try of `call` for frame `r`.
    fn start_call(&mut self, r: CallRef, call: &Call) {
        let attempt = self.frames.begin_attempt(r, call.site);
        if let Some(timeout) = call.timeout {
            let (frame, token) = (attempt.frame, attempt.token);
            self.queue
                .schedule(self.now + timeout, Event::CallTimeout { frame, token });
        }
        let service = ServiceId(call.service as u32);
        match &call.tokens {
            Some(tokens) => self.send_call_with_tokens(service, tokens, attempt),
            None if self.has_mesh => self.send_through_sidecars(service, attempt),
            None => self.send_request(service, attempt),
        }
    }

    /// The callee answered try `a`.
    pub(super) fn call_answered(&mut self, a: CallRef) {
        if self.attempt_ended(a) {
            self.next_call_or_step(a);
        }
    }

    /// A call of frame `a` is over: the step's next call, or the next step.
    fn next_call_or_step(&mut self, a: CallRef) {
        if self.frames.one_call_done(a) {
            let call = self.current_call(a);
            self.start_call(a, call);
        } else {
            self.frames.advance(a);
            self.run_frame(a);
        }
    }

    /// Try `a` failed: retry it, or fail the frame.
    pub(super) fn call_failed(&mut self, a: CallRef, reason: FailureReason) {
        if self.attempt_ended(a) {
            self.retry_or_fail(a, reason);
        }
    }

    fn retry_or_fail(&mut self, r: CallRef, reason: FailureReason) {
        let call = self.current_call(r);
        let f = *self.frames.get(r).expect("a current frame");
        match &call.retries {
            Some(policy) if self.frames.may_retry(r, call.site, policy) => {
                let rng = &mut self.retry_rngs[f.deployment.index()];
                let delay = calls::backoff(policy, f.tries, rng);
                let (frame, token) = (r.frame, r.token);
                self.queue
                    .schedule(self.now + delay, Event::CallRetry { frame, token });
            }
            _ if call.optional => self.next_call_or_step(r),
            _ => self.frame_done(r, Some(reason.downstream())),
        }
    }

    /// A `delay` step is over.
    pub(super) fn on_frame_resume(&mut self, frame: u32, token: u32) {
        let r = CallRef { frame, token };
        if self.frames.get(r).is_none() {
            return;
        }
        if !self.frames.request_alive(r) {
            return self.frames.finish(r);
        }
        self.run_frame(r);
    }

    /// Ends try `a` at its site; false when it is stale or its request is gone (then the
    /// frame is freed).
    fn attempt_ended(&mut self, a: CallRef) -> bool {
        if self
            .frames
            .get(a)
            .is_none_or(|f| f.in_flight_site.is_none())
        {
            return false; // an abandoned try, or a frame that moved on
        }
        self.frames.end_attempt(a);
        if !self.frames.request_alive(a) {
            self.frames.finish(a);
            return false;
        }
        true
    }

    /// The caller's per-try timeout: it stops waiting for try `a`.
    pub(super) fn on_call_timeout(&mut self, frame: u32, token: u32) {
        let a = CallRef { frame, token };
        if self
            .frames
            .get(a)
            .is_none_or(|f| f.in_flight_site.is_none())
        {
            return; // answered in time
        }
        if self.has_connections {
            self.release_connection(a, Some(FailureReason::Timeout));
        }
        let r = self.frames.abandon(a);
        if !self.frames.request_alive(r) {
            return self.frames.finish(r);
        }
        self.retry_or_fail(r, FailureReason::Timeout);
    }

    /// A retry's backoff is over.
    pub(super) fn on_call_retry(&mut self, frame: u32, token: u32) {
        let r = CallRef { frame, token };
        if self.frames.get(r).is_none() {
            return;
        }
        if !self.frames.request_alive(r) {
            return self.frames.finish(r);
        }
        let call = self.current_call(r);
        self.start_call(r, call);
    }

    /// Frame `r` has run its sequence (`failure`: a call failed for good).
    fn frame_done(&mut self, r: CallRef, failure: Option<FailureReason>) {
        let Some(f) = self.frames.get(r).copied() else {
            return;
        };
        match f.parent {
            Parent::Request { slot, pod } => self.finish_request(r, slot, pod, failure),
            Parent::Frame(p) => {
                self.frames.finish(r);
                if let Some(done) = self.frames.branch_done(p, failure) {
                    match done {
                        Some(failure) => self.frame_done(p, Some(failure)),
                        None => self.run_frame(p),
                    }
                }
            }
        }
    }

    /// The request's calls are over (`root` has run its steps): it answers its own caller.
    fn finish_request(
        &mut self,
        root: CallRef,
        slot: u32,
        pod: PodId,
        failure: Option<FailureReason>,
    ) {
        let core = self.plane.exact_core();
        let Some(server) = core.servers.get_mut(pod).filter(|s| s.is_blocked(slot)) else {
            return; // failed meanwhile: its outcome, still to be handled, frees the root
        };
        self.frames.finish(root);
        core.slab.get_mut(slot).link.frame = NO_FRAME;
        let next = server.finish(self.now, slot, failure, &mut core.slab, &mut self.outcomes);
        let demand = server.tracked_demand();
        self.schedule_completion(pod, next);
        self.update_cpu_demand(demand);
        self.flush_outcomes();
    }
}
