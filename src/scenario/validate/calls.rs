//! Call graphs (`spec.workloads[].calls`): the calls each request makes to other Services,
//! compiled into a [`CallGraph`] per workload, with every mistake located — an unknown Service,
//! a Service that selects no pods, a step that is not exactly one thing, counts, timeouts and
//! retry settings out of range, CPU work inside `parallel`, and call cycles between Services.

use super::{Builder, resolve};
use crate::scenario::model::{
    Call, CallCount, CallGraph, CallStep, CallTokens, Connections, DEFAULT_RETRY_BACKOFF,
    DEFAULT_RETRY_BUDGET, DeploymentSpec, RetryPolicy, ServiceSpec,
};
use crate::scenario::raw::{
    RawCallCount, RawCallCountFamily, RawCallStep, RawCallTokens, RawConnections, RawQuantity,
    RawRetries,
};
use crate::sim::SimDuration;
use crate::spec::network::DEFAULT_MESSAGE_BYTES;

/// Most calls one step may make (a larger count is surely a mistake, and would make one
/// request fan out without bound).
pub const MAX_CALL_COUNT: u32 = 1000;
/// Most retries of one call.
pub const MAX_RETRY_ATTEMPTS: u32 = 100;
/// The largest request or response a call may send (1 GiB).
const MAX_MESSAGE_BYTES: i64 = 1 << 30;

/// A call from a Deployment's workload to a Service, where it is written.
pub(super) struct CallEdge {
    pub path: String,
    pub from_deployment: usize,
    pub to_service: usize,
    /// The call gives its requests' tokens (for an LLM server, or a workload that passes them
    /// on).
    pub tokens: bool,
}

/// What compiling one workload's calls needs and collects.
pub(super) struct CallContext<'a> {
    pub services: &'a [ServiceSpec],
    /// Call sites numbered so far, over the whole scenario.
    pub sites: u32,
    pub edges: Vec<CallEdge>,
    /// How each (workload, Service) pair's calls connect where a call step says, and where.
    pub connections: std::collections::BTreeMap<(usize, usize), (Connections, String)>,
}

impl Builder<'_> {
    /// Compiles `spec.workloads[i].calls` for Deployment `deployment`.
    pub(super) fn call_graph(
        &mut self,
        path: &str,
        raw: &[RawCallStep],
        deployment: usize,
        ctx: &mut CallContext,
    ) -> CallGraph {
        let mut graph = CallGraph::default();
        if !raw.is_empty() {
            let top = Sequence {
                path: format!("{path}.calls"),
                in_parallel: false,
                deployment,
            };
            self.sequence(&top, raw, &mut graph, ctx);
        }
        graph
    }

    /// Adds a sequence of steps to `graph`; returns its index.
    fn sequence(
        &mut self,
        seq: &Sequence,
        raw: &[RawCallStep],
        graph: &mut CallGraph,
        ctx: &mut CallContext,
    ) -> u32 {
        let index = graph.sequences.len();
        graph.sequences.push(Vec::new());
        for (i, step) in raw.iter().enumerate() {
            let here = seq.at(format!("{}[{i}]", seq.path));
            if let Some(step) = self.step(&here, step, graph, ctx) {
                graph.sequences[index].push(step);
            }
        }
        index as u32
    }

    fn step(
        &mut self,
        seq: &Sequence,
        raw: &RawCallStep,
        graph: &mut CallGraph,
        ctx: &mut CallContext,
    ) -> Option<CallStep> {
        let path = seq.path.as_str();
        let kinds = [
            raw.call.is_some(),
            raw.parallel.is_some(),
            raw.one_of.is_some(),
            raw.steps.is_some(),
            raw.cpu.is_some(),
            raw.delay.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            self.error(
                path,
                "a step is exactly one of call, parallel, oneOf, steps, cpu or delay",
            );
            return None;
        }
        let call_fields = [
            raw.count.is_some(),
            raw.timeout.is_some(),
            raw.retries.is_some(),
            raw.optional.is_some(),
            raw.tokens.is_some(),
            raw.connections.is_some(),
            raw.request_bytes.is_some(),
            raw.response_bytes.is_some(),
        ];
        if raw.call.is_none() && call_fields.contains(&true) {
            self.error(
                path,
                "count, timeout, retries, optional, tokens, connections, requestBytes and responseBytes belong to a call step",
            );
        }
        if let Some(delay) = &raw.delay {
            let path = format!("{path}.delay");
            return Some(CallStep::Delay(self.distribution(&path, delay)));
        }
        if let Some(service) = &raw.call {
            return self.call(seq, service, raw, ctx).map(CallStep::Call);
        }
        if let Some(cpu) = &raw.cpu {
            if seq.in_parallel {
                self.error(&format!("{path}.cpu"), "CPU work inside parallel is not modelled: a request does its CPU work in its own pod, one phase at a time; put it before or after the parallel step");
            }
            return Some(CallStep::Cpu(
                self.distribution(&format!("{path}.cpu"), cpu),
            ));
        }
        if let Some(branches) = &raw.parallel {
            return self.parallel(seq, branches, graph, ctx);
        }
        if let Some(steps) = &raw.steps {
            if steps.is_empty() {
                self.error(
                    &format!("{path}.steps"),
                    "an empty sequence does nothing: give it steps or leave the step out",
                );
            }
            let inner = seq.at(format!("{path}.steps"));
            let s = self.sequence(&inner, steps, graph, ctx);
            return Some(CallStep::OneOf {
                weights: vec![1],
                sequences: vec![s],
            });
        }
        let branches = raw.one_of.as_deref().unwrap_or_default();
        self.one_of(seq, branches, graph, ctx)
    }

    fn parallel(
        &mut self,
        seq: &Sequence,
        branches: &[RawCallStep],
        graph: &mut CallGraph,
        ctx: &mut CallContext,
    ) -> Option<CallStep> {
        let path = format!("{}.parallel", seq.path);
        if branches.is_empty() {
            self.error(&path, "needs at least one step");
            return None;
        }
        let mut sequences = Vec::new();
        for (i, b) in branches.iter().enumerate() {
            let branch = Sequence {
                path: format!("{path}[{i}]"),
                in_parallel: true,
                deployment: seq.deployment,
            };
            let index = graph.sequences.len();
            graph.sequences.push(Vec::new());
            if let Some(step) = self.step(&branch, b, graph, ctx) {
                graph.sequences[index].push(step);
            }
            sequences.push(index as u32);
        }
        Some(CallStep::Parallel(sequences))
    }

    fn one_of(
        &mut self,
        seq: &Sequence,
        branches: &[crate::scenario::raw::RawBranch],
        graph: &mut CallGraph,
        ctx: &mut CallContext,
    ) -> Option<CallStep> {
        let path = format!("{}.oneOf", seq.path);
        if branches.is_empty() {
            self.error(&path, "needs at least one branch");
            return None;
        }
        let (mut weights, mut sequences) = (Vec::new(), Vec::new());
        for (i, b) in branches.iter().enumerate() {
            let weight = b.weight.unwrap_or(1);
            if weight == 0 {
                self.error(
                    &format!("{path}[{i}].weight"),
                    "must be at least 1 (leave the branch out instead)",
                );
            }
            weights.push(weight.max(1));
            let inner = seq.at(format!("{path}[{i}].steps"));
            sequences.push(self.sequence(&inner, &b.steps, graph, ctx));
        }
        Some(CallStep::OneOf { weights, sequences })
    }

    fn call(
        &mut self,
        seq: &Sequence,
        reference: &str,
        raw: &RawCallStep,
        ctx: &mut CallContext,
    ) -> Option<Call> {
        let path = &seq.path;
        let services = ctx.services;
        let names = services
            .iter()
            .map(|s| (s.namespace.as_str(), s.name.as_str()));
        let service = match resolve(reference, names, "Service") {
            Ok(i) => i,
            Err(e) => {
                self.reference_error(&format!("{path}.call"), e);
                return None;
            }
        };
        if services[service].backends.is_empty() && !self.incomplete {
            self.error(
                &format!("{path}.call"),
                format!("Service {reference:?} selects no Deployment's pods: nobody deploys it, so every call to it would fail"),
            );
        }
        let count = raw.count.as_ref().map_or(CallCount::Fixed(1), |c| {
            self.call_count(&format!("{path}.count"), c)
        });
        let timeout = raw.timeout.map(|t| {
            self.positive_duration(
                Some(t),
                &format!("{path}.timeout"),
                SimDuration::from_secs(1),
            )
        });
        let retries = raw
            .retries
            .as_ref()
            .map(|r| self.retries(&format!("{path}.retries"), r));
        let tokens = raw.tokens.as_ref().and_then(|t| match t {
            RawCallTokens::Request(_) => Some(CallTokens::Request),
            RawCallTokens::Drawn(t) => Some(CallTokens::Drawn {
                prompt: self.count(&format!("{path}.tokens.prompt"), t.prompt.as_ref())?,
                output: self.count(&format!("{path}.tokens.output"), t.output.as_ref())?,
            }),
        });
        ctx.edges.push(CallEdge {
            path: format!("{path}.call"),
            from_deployment: seq.deployment,
            to_service: service,
            tokens: raw.tokens.is_some(),
        });
        ctx.sites += 1;
        let connections = raw
            .connections
            .as_ref()
            .map(|c| self.call_connections(path, c, seq.deployment, service, ctx));
        let request_bytes = self.message_bytes(&format!("{path}.requestBytes"), &raw.request_bytes);
        let response_bytes =
            self.message_bytes(&format!("{path}.responseBytes"), &raw.response_bytes);
        Some(Call {
            service,
            count,
            timeout,
            retries,
            optional: raw.optional.unwrap_or(false),
            site: ctx.sites - 1,
            tokens,
            connections,
            request_bytes,
            response_bytes,
        })
    }

    /// A call step's own `connections`: the calling workload's clients of the Service connect
    /// so for every call to it, so its call steps to one Service must agree.
    fn call_connections(
        &mut self,
        path: &str,
        raw: &RawConnections,
        deployment: usize,
        service: usize,
        ctx: &mut CallContext,
    ) -> Connections {
        if raw.clients.is_some() {
            self.error(
                &format!("{path}.connections.clients"),
                "belongs to traffic from outside (spec.traffic[].connections): a call's clients are the calling pods",
            );
        }
        let connections = self.connections(path, Some(raw));
        match ctx.connections.get(&(deployment, service)) {
            Some((earlier, at)) if *earlier != connections => self.error(
                &format!("{path}.connections"),
                format!("{at} connects to the same Service another way: one workload's calls to a Service share its clients' connections"),
            ),
            Some(_) => {}
            None => {
                let at = format!("{path}.connections");
                ctx.connections.insert((deployment, service), (connections, at));
            }
        }
        connections
    }

    /// A call's request or response size in bytes (a quantity: `2Ki`, `1M`, `500`).
    fn message_bytes(&mut self, path: &str, raw: &Option<RawQuantity>) -> u64 {
        let Some(q) = raw else {
            return DEFAULT_MESSAGE_BYTES;
        };
        match crate::cluster::quantity::Quantity::parse(&q.as_text()) {
            Ok(size) if (0..=MAX_MESSAGE_BYTES).contains(&size.value()) => size.value() as u64,
            Ok(_) => {
                self.error(path, "must be between 0 and 1Gi bytes");
                DEFAULT_MESSAGE_BYTES
            }
            Err(e) => {
                self.error(path, e.to_string());
                DEFAULT_MESSAGE_BYTES
            }
        }
    }

    fn call_count(&mut self, path: &str, raw: &RawCallCount) -> CallCount {
        let too_many = format!("at most {MAX_CALL_COUNT} calls per step");
        match raw {
            RawCallCount::Fixed(n) if *n > MAX_CALL_COUNT => {
                self.error(path, too_many);
                CallCount::Fixed(MAX_CALL_COUNT)
            }
            RawCallCount::Fixed(n) => CallCount::Fixed(*n),
            RawCallCount::Family(RawCallCountFamily::Poisson(mean)) => {
                if !mean.is_finite() || *mean < 0.0 || *mean > f64::from(MAX_CALL_COUNT) / 10.0 {
                    self.error(
                        &format!("{path}.poisson"),
                        format!("the mean must be between 0 and {}", MAX_CALL_COUNT / 10),
                    );
                    return CallCount::Fixed(1);
                }
                CallCount::Poisson(*mean)
            }
            RawCallCount::Family(RawCallCountFamily::Uniform { min, max }) => {
                if min > max {
                    self.error(
                        &format!("{path}.uniform"),
                        format!("min {min} is above max {max}"),
                    );
                } else if *max > MAX_CALL_COUNT {
                    self.error(&format!("{path}.uniform.max"), too_many);
                }
                CallCount::Uniform {
                    min: *min.min(max),
                    max: (*max).min(MAX_CALL_COUNT),
                }
            }
        }
    }

    fn retries(&mut self, path: &str, raw: &RawRetries) -> RetryPolicy {
        let attempts = raw.attempts.unwrap_or(1);
        if attempts > MAX_RETRY_ATTEMPTS {
            self.error(
                &format!("{path}.attempts"),
                format!("at most {MAX_RETRY_ATTEMPTS} retries"),
            );
        }
        let backoff = self.positive_duration(
            raw.backoff,
            &format!("{path}.backoff"),
            DEFAULT_RETRY_BACKOFF,
        );
        let max_backoff = self.positive_duration(
            raw.max_backoff,
            &format!("{path}.maxBackoff"),
            backoff.saturating_mul(10),
        );
        if max_backoff < backoff {
            self.error(&format!("{path}.maxBackoff"), "must not be below backoff");
        }
        let budget = raw.budget.unwrap_or(DEFAULT_RETRY_BUDGET);
        if !(0.0..=1.0).contains(&budget) {
            self.error(&format!("{path}.budget"), format!("{budget} is not a fraction: retries in flight may be at most this share of the calls in flight, between 0 and 1 (default {DEFAULT_RETRY_BUDGET})"));
        }
        RetryPolicy {
            attempts: attempts.min(MAX_RETRY_ATTEMPTS),
            backoff,
            max_backoff: max_backoff.max(backoff),
            budget: budget.clamp(0.0, 1.0),
        }
    }

    /// A request must not come back to a Service it is being served by: reports each cycle
    /// once, at the call that closes it.
    pub(super) fn check_call_cycles(
        &mut self,
        edges: &[CallEdge],
        deployments: &[DeploymentSpec],
        services: &[ServiceSpec],
    ) {
        // Service → Services its backends call, in the order written.
        let mut calls: Vec<Vec<&CallEdge>> = vec![Vec::new(); services.len()];
        for (s, svc) in services.iter().enumerate() {
            for e in edges
                .iter()
                .filter(|e| svc.backends.contains(&e.from_deployment))
            {
                calls[s].push(e);
            }
        }
        let mut state = vec![Visit::New; services.len()];
        for start in 0..services.len() {
            let mut stack = Vec::new();
            // One cycle is reported (the search's marks are not valid after it).
            if let Some(cycle) = find_cycle(start, &calls, &mut state, &mut stack) {
                let names: Vec<&str> = cycle.iter().map(|&s| services[s].name.as_str()).collect();
                let closing = stack
                    .last()
                    .map_or("", |e: &&CallEdge| e.path.as_str())
                    .to_string();
                let via = deployments[stack.last().map_or(0, |e| e.from_deployment)]
                    .name
                    .clone();
                self.error(&closing, format!("call cycle: {} (through Deployment {via:?}); a request would call itself without end", names.join(" → ")));
                return;
            }
        }
    }
}

/// Where a sequence of steps is, and what it may hold.
struct Sequence {
    path: String,
    in_parallel: bool,
    deployment: usize,
}

impl Sequence {
    fn at(&self, path: String) -> Sequence {
        Sequence {
            path,
            in_parallel: self.in_parallel,
            deployment: self.deployment,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Visit {
    New,
    OnPath,
    Done,
}

/// Depth-first search from `s`; on a cycle returns its Services (first = last) and leaves the
/// edges that led there on `stack`.
fn find_cycle<'e>(
    s: usize,
    calls: &[Vec<&'e CallEdge>],
    state: &mut [Visit],
    stack: &mut Vec<&'e CallEdge>,
) -> Option<Vec<usize>> {
    match state[s] {
        Visit::Done => return None,
        Visit::OnPath => return Some(vec![s]),
        Visit::New => {}
    }
    state[s] = Visit::OnPath;
    for &e in &calls[s] {
        stack.push(e);
        if let Some(mut cycle) = find_cycle(e.to_service, calls, state, stack) {
            if cycle.len() == 1 || cycle[0] != *cycle.last().expect("not empty") {
                cycle.insert(0, s);
            }
            return Some(cycle);
        }
        stack.pop();
    }
    state[s] = Visit::Done;
    None
}
