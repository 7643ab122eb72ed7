//! LLM requests on the engine's side: their arrivals (a trace's rows, or a rate with drawn
//! token counts), routing them to an inference pod, stepping each pod's batching server as
//! events, and turning what the servers report into observations. The batching itself is in
//! [`crate::traffic::llm::batching`].

use super::{Engine, Event};
use crate::cluster::{PodId, ServiceId};
use crate::metrics::Observation;
use crate::scenario::{CallTokens, LoadBalancing};
use crate::sim::SimTime;
use crate::traffic::FailureReason;
use crate::traffic::PodServer;
use crate::traffic::calls::CallRef;
use crate::traffic::llm::batching::{LlmOutcome, LlmRequest};
use crate::traffic::llm::prefix::Prefix;
use crate::traffic::llm::tokens::{TokenArrivals, TokenCounts};

impl Engine<'_, '_> {
    /// Schedules the next arrival of a Service whose requests come from a token trace.
    /// Returns false when the Service's arrivals are not a trace's.
    #[inline(never)]
    pub(super) fn schedule_next_trace_arrival(&mut self, service: ServiceId) -> bool {
        let Some(tokens) = self.llm_arrivals[service.index()].as_ref() else {
            return false;
        };
        if !tokens.is_trace() {
            return false;
        }
        if let Some(at) = tokens.next_trace_arrival().filter(|t| *t <= self.end) {
            self.queue.schedule(at, Event::Arrival { service });
        }
        true
    }

    /// A request with token counts arrives at `service` (kept out of line: the plain request
    /// path stays small). Its tokens are taken first: a trace's next arrival is the row after.
    #[inline(never)]
    pub(super) fn on_llm_arrival(&mut self, service: ServiceId) {
        let tokens = self.llm_arrivals[service.index()]
            .as_mut()
            .map(TokenArrivals::take)
            .expect("an LLM Service's arrivals");
        self.schedule_next_arrival(service);
        self.send_with_tokens(service, tokens, CallRef::NONE);
    }

    /// An LLM request with these tokens arrives at `service`; `caller` is the call it answers
    /// ([`CallRef::NONE`] for traffic from outside).
    pub(super) fn send_llm_request(
        &mut self,
        service: ServiceId,
        tokens: TokenCounts,
        caller: CallRef,
    ) {
        let routed = match &tokens.prefix {
            Some(prefix)
                if self.routers[service.index()].policy() == LoadBalancing::PrefixAware =>
            {
                let picked = self.pick_by_prefix(service, prefix);
                self.reach(service, picked, caller)
            }
            _ => self.route(service, caller),
        };
        let Some((pod, _)) = routed else {
            return;
        };
        let server = self.plane.get_mut(pod).expect("routed to a started pod");
        let Some(llm) = server.llm_mut() else {
            // Validation sends token traffic only to LLM Deployments.
            debug_assert!(false, "token traffic routed to a pod without an LLM server");
            return;
        };
        let request = LlmRequest {
            id: service.0,
            arrival: self.now,
            prompt_tokens: tokens.prompt,
            output_tokens: tokens.output,
            prefix: tokens.prefix,
            caller,
        };
        let mut out = std::mem::take(&mut self.llm_outcomes);
        let step = llm.arrive(self.now, request, &mut out);
        self.schedule_llm_step(pod, step);
        self.observe_llm_outcomes(&mut out);
        self.llm_outcomes = out;
    }

    /// The endpoint a prefix-aware router picks for a prompt with these block hashes.
    fn pick_by_prefix(&mut self, service: ServiceId, prefix: &Prefix) -> Option<PodId> {
        let endpoints = &self.cluster.services[service.index()].endpoints;
        let plane = &self.plane;
        let server = |p: PodId| plane.get(p);
        let outstanding = |p: PodId| server(p).map_or(usize::MAX, PodServer::load);
        let matched = |p: PodId| {
            let llm = server(p).and_then(PodServer::llm);
            llm.map_or(0, |l| l.prefix_matched(prefix))
        };
        let blocks = prefix.blocks().len();
        self.routers[service.index()].pick_by_prefix(endpoints, outstanding, matched, blocks)
    }

    fn schedule_llm_step(&mut self, pod: PodId, step: Option<(SimTime, u32)>) {
        if let Some((at, generation)) = step {
            let container = self.container_generation(pod);
            let event = Event::LlmStep {
                pod,
                container,
                generation,
            };
            self.queue.schedule(at, event);
        }
    }

    /// A pod's batching step is over: its results are observed and the next step begins.
    pub(super) fn on_llm_step(&mut self, pod: PodId, container: u32, generation: u32) {
        if container != self.container_generation(pod) {
            return; // a step of a server that a restart replaced
        }
        let Some(server) = self.plane.get_mut(pod) else {
            return;
        };
        let Some(llm) = server.llm_mut() else {
            return;
        };
        let mut out = std::mem::take(&mut self.llm_outcomes);
        let step = llm.step_done(self.now, generation, &mut out);
        let gone = server.is_idle() && server.is_deleting();
        self.schedule_llm_step(pod, step);
        self.observe_llm_outcomes(&mut out);
        self.llm_outcomes = out;
        if gone {
            self.finish_termination(pod);
        }
    }

    /// Records what the servers report; a request that answers a call lets its caller go on
    /// (or fail).
    fn observe_llm_outcomes(&mut self, out: &mut Vec<LlmOutcome>) {
        for outcome in out.drain(..) {
            self.observe_llm_outcome(outcome);
            let caller = outcome.caller();
            if caller.is_none() {
                match outcome {
                    LlmOutcome::Finished { .. } => self.answered(ServiceId(outcome.id()), false),
                    LlmOutcome::TooLong { .. }
                    | LlmOutcome::Dropped { .. }
                    | LlmOutcome::TimedOut { .. } => self.answered(ServiceId(outcome.id()), true),
                    LlmOutcome::Preempted { .. } => {}
                }
                continue;
            }
            match outcome {
                LlmOutcome::Finished { .. } => self.call_answered(caller),
                LlmOutcome::TooLong { .. } => {
                    self.call_failed(caller, FailureReason::PromptTooLong)
                }
                LlmOutcome::Dropped { .. } => {
                    self.call_failed(caller, FailureReason::PodTerminated)
                }
                LlmOutcome::TimedOut { .. } => self.call_failed(caller, FailureReason::Timeout),
                LlmOutcome::Preempted { .. } => {}
            }
        }
    }

    fn observe_llm_outcome(&mut self, outcome: LlmOutcome) {
        {
            let service = ServiceId(outcome.id());
            let observation = match outcome {
                LlmOutcome::Finished {
                    time_to_first_token,
                    latency,
                    prompt_tokens,
                    output_tokens,
                    cached_tokens,
                    ..
                } => {
                    self.recorder
                        .observe(self.now, Observation::RequestServed { service, latency });
                    Observation::LlmServed {
                        service,
                        time_to_first_token,
                        time_per_output_token: outcome.time_per_output_token(),
                        prompt_tokens,
                        output_tokens,
                        cached_tokens,
                    }
                }
                LlmOutcome::TooLong { .. } => Observation::RequestFailed {
                    service,
                    reason: FailureReason::PromptTooLong,
                },
                LlmOutcome::Dropped { .. } => Observation::RequestFailed {
                    service,
                    reason: FailureReason::PodTerminated,
                },
                LlmOutcome::TimedOut { .. } => Observation::RequestFailed {
                    service,
                    reason: FailureReason::Timeout,
                },
                LlmOutcome::Preempted { .. } => Observation::LlmPreempted { service },
            };
            self.recorder.observe(self.now, observation);
        }
    }

    /// Sends try `attempt` of a call that gives its requests' tokens: drawn from the calling
    /// Deployment's call-graph stream, or the calling request's own.
    pub(super) fn send_call_with_tokens(
        &mut self,
        service: ServiceId,
        tokens: &CallTokens,
        attempt: CallRef,
    ) {
        let counts = match tokens {
            CallTokens::Drawn { prompt, output } => {
                let caller = self.frames.get(attempt).expect("a live frame").deployment;
                let rng = &mut self.call_rngs[caller.index()];
                TokenCounts {
                    prompt: prompt.sample(rng),
                    output: output.sample(rng),
                    prefix: None,
                }
            }
            CallTokens::Request => match self.frames.carried(attempt) {
                Some(carried) => carried.clone(),
                None => {
                    // Validation gives tokens to every request of a workload that passes them on.
                    debug_assert!(false, "tokens: request in a request that carries none");
                    return self.call_failed(attempt, FailureReason::ConnectionRefused);
                }
            },
        };
        self.send_with_tokens(service, counts, attempt);
    }

    /// A request with token counts goes to an LLM server's Service, or to a workload that
    /// passes them on.
    fn send_with_tokens(&mut self, service: ServiceId, tokens: TokenCounts, caller: CallRef) {
        if self.serves_llm[service.index()] {
            self.send_llm_request(service, tokens, caller);
        } else {
            self.send_request_carrying(service, caller, Some(tokens));
        }
    }
}

/// A Deployment's step-time model fitted to its `llm.benchmark` runs.
#[derive(Clone, Debug)]
pub struct BenchmarkFitted {
    /// The Deployment.
    pub deployment: String,
    /// The runs, each with its simulated (TTFT, TPOT) means at the fitted coefficients.
    pub runs: Vec<(crate::traffic::llm::calibrate::BenchRun, (f64, f64))>,
    /// The coefficients found.
    pub coefficients: crate::spec::llm::roofline::Coefficients,
}

/// Fits every LLM Deployment's step-time model that has `llm.benchmark` runs.
pub fn fit_benchmarks(s: &crate::scenario::Scenario) -> Vec<BenchmarkFitted> {
    use crate::traffic::llm::calibrate;
    s.deployments
        .iter()
        .filter_map(|d| {
            let llm = d.workload.llm.as_ref()?;
            let bench = llm.benchmark.as_ref()?;
            let fit = calibrate::fit(bench, llm.batching, &llm.profile);
            Some(BenchmarkFitted {
                deployment: d.name.clone(),
                runs: bench.runs.iter().cloned().zip(fit.simulated).collect(),
                coefficients: fit.coefficients,
            })
        })
        .collect()
}

/// `s` with each fitted Deployment's profile costed at its fitted coefficients (`None`: no
/// Deployment has benchmark runs).
pub(super) fn with_fitted_profiles(
    s: &crate::scenario::Scenario,
) -> Option<crate::scenario::Scenario> {
    use crate::spec::llm::profile::StepCost;
    use crate::spec::llm::roofline::Roofline;
    let fits = fit_benchmarks(s);
    if fits.is_empty() {
        return None;
    }
    let mut fitted = s.clone();
    for (d, fit) in fitted
        .deployments
        .iter_mut()
        .filter(|d| {
            d.workload
                .llm
                .as_ref()
                .is_some_and(|l| l.benchmark.is_some())
        })
        .zip(&fits)
    {
        let llm = d.workload.llm.as_mut().expect("filtered on llm");
        let bench = llm.benchmark.as_ref().expect("filtered on benchmark");
        llm.profile = std::sync::Arc::new(crate::spec::llm::LlmProfile {
            cost: StepCost::Roofline(Roofline::from_inputs(&bench.inputs, &fit.coefficients)),
            ..(*llm.profile).clone()
        });
    }
    Some(fitted)
}
