//! Fitting the roofline's coefficients to a user's own benchmark runs (`llm.benchmark`): each
//! run (a `vllm bench serve` result: its load, its requests' token counts, the mean time to first
//! token and per output token it measured) is replayed through one server as kubesim models it,
//! and Nelder–Mead moves `computeEfficiency`, `memoryEfficiency` and `stepOverheadUs` until the
//! simulated means match the measured ones (the squared relative errors of TTFT and TPOT,
//! summed over the runs). `allReduceUs` stays as shipped. Everything is deterministic: arrivals
//! are drawn from a fixed seed, and the search starts from the shipped coefficients.

use std::sync::Arc;

use rand::SeedableRng;
use rand_distr::{Distribution, Exp1};

use super::batching::{BatchingConfig, LlmOutcome, LlmRequest, LlmServer};
use crate::sim::{SimRng, SimTime};
use crate::spec::llm::LlmProfile;
pub use crate::spec::llm::bench::{BenchLoad, BenchRun, BenchmarkFit};
use crate::spec::llm::profile::StepCost;
use crate::spec::llm::roofline::{Coefficients, Roofline};
use crate::traffic::calls::CallRef;

/// A run's simulated means, ms: (TTFT, TPOT).
pub fn simulate(profile: &Arc<LlmProfile>, batching: BatchingConfig, run: &BenchRun) -> (f64, f64) {
    let mut server = LlmServer::new(Arc::clone(profile), batching);
    let mut rng = SimRng::seed_from_u64(0x006b_7562_6573_696d);
    let mut out = Vec::new();
    let mut step: Option<(SimTime, u32)> = None;
    let mut next_id = 0usize;
    let (mut ttft, mut tpot, mut finished, mut with_tpot) = (0.0, 0.0, 0u32, 0u32);
    let request = |i: usize, at: SimTime| LlmRequest {
        id: i as u32,
        arrival: at,
        prompt_tokens: run.requests[i].0,
        output_tokens: run.requests[i].1,
        prefix: None,
        caller: CallRef::NONE,
    };
    // Open loop: every arrival time up front; closed loop: the clients' first requests at 0.
    let mut arrivals: std::collections::VecDeque<SimTime> = match run.load {
        BenchLoad::Rate(rate) => {
            let mut t = 0.0;
            (0..run.requests.len())
                .map(|_| {
                    let gap: f64 = Exp1.sample(&mut rng);
                    t += gap * 1e6 / rate;
                    SimTime::from_micros(t as u64)
                })
                .collect()
        }
        BenchLoad::Concurrency(c) => (0..c.min(run.requests.len() as u32))
            .map(|_| SimTime::ZERO)
            .collect(),
    };
    loop {
        let arrival = arrivals
            .front()
            .copied()
            .filter(|_| next_id < run.requests.len());
        let now = match (arrival, step) {
            (Some(a), s) if s.is_none_or(|(t, _)| a <= t) => {
                arrivals.pop_front();
                if let Some(s) = server.arrive(a, request(next_id, a), &mut out) {
                    step = Some(s);
                }
                next_id += 1;
                a
            }
            (_, Some((t, generation))) => {
                step = server.step_done(t, generation, &mut out);
                t
            }
            _ => break,
        };
        for o in out.drain(..) {
            if let LlmOutcome::Finished {
                time_to_first_token,
                ..
            } = o
            {
                finished += 1;
                ttft += time_to_first_token.as_secs_f64() * 1e3;
                if let Some(t) = o.time_per_output_token() {
                    with_tpot += 1;
                    tpot += t.as_secs_f64() * 1e3;
                }
                if matches!(run.load, BenchLoad::Concurrency(_)) {
                    arrivals.push_back(now);
                }
            }
        }
    }
    (
        ttft / f64::from(finished.max(1)),
        tpot / f64::from(with_tpot.max(1)),
    )
}

/// The fitted coefficients and, per run, the simulated (TTFT, TPOT) means with them.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    pub coefficients: Coefficients,
    pub simulated: Vec<(f64, f64)>,
}

/// Fits the start coefficients' efficiencies and step overhead so that the runs replayed on
/// the model come closest to their measured means.
pub fn fit(bench: &BenchmarkFit, batching: BatchingConfig, base: &LlmProfile) -> Fit {
    let (inputs, start, runs) = (&bench.inputs, bench.start, &bench.runs[..]);
    let profile_with = |k: &Coefficients| {
        Arc::new(LlmProfile {
            cost: StepCost::Roofline(Roofline::from_inputs(inputs, k)),
            ..base.clone()
        })
    };
    let loss = |x: &[f64; 3]| {
        let profile = profile_with(&coefficients_at(start, x));
        runs.iter()
            .map(|run| {
                let (ttft, tpot) = simulate(&profile, batching, run);
                let rel = |sim: f64, real: f64| (sim - real) / real.max(1e-9);
                rel(ttft, run.ttft_ms).powi(2) + rel(tpot, run.tpot_ms).powi(2)
            })
            .sum::<f64>()
    };
    let x = nelder_mead(
        loss,
        [
            start.compute_efficiency,
            start.memory_efficiency,
            start.step_overhead_us,
        ],
        [0.1, 0.1, 500.0],
        120,
    );
    let coefficients = coefficients_at(start, &x);
    let profile = profile_with(&coefficients);
    Fit {
        coefficients,
        simulated: runs
            .iter()
            .map(|r| simulate(&profile, batching, r))
            .collect(),
    }
}

/// `start` with the search's point, kept in range (efficiencies in 0.01–1, overhead 0–100 ms).
fn coefficients_at(start: Coefficients, x: &[f64; 3]) -> Coefficients {
    Coefficients {
        compute_efficiency: x[0].clamp(0.01, 1.0),
        memory_efficiency: x[1].clamp(0.01, 1.0),
        step_overhead_us: x[2].clamp(0.0, 100_000.0),
        ..start
    }
}

/// Minimises `f` from `start` with initial steps `steps`, for `iterations` iterations.
fn nelder_mead(
    f: impl Fn(&[f64; 3]) -> f64,
    start: [f64; 3],
    steps: [f64; 3],
    iterations: u32,
) -> [f64; 3] {
    let mut simplex: Vec<([f64; 3], f64)> = (0..4)
        .map(|i| {
            let mut p = start;
            if i > 0 {
                p[i - 1] += steps[i - 1];
            }
            (p, f(&p))
        })
        .collect();
    let along = |from: &[f64; 3], to: &[f64; 3], t: f64| -> [f64; 3] {
        std::array::from_fn(|k| from[k] + t * (to[k] - from[k]))
    };
    for _ in 0..iterations {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let centre: [f64; 3] =
            std::array::from_fn(|k| simplex[..3].iter().map(|p| p.0[k]).sum::<f64>() / 3.0);
        let worst = simplex[3];
        let reflected = along(&centre, &worst.0, -1.0);
        let fr = f(&reflected);
        if fr < simplex[0].1 {
            let expanded = along(&centre, &worst.0, -2.0);
            let fe = f(&expanded);
            simplex[3] = if fe < fr {
                (expanded, fe)
            } else {
                (reflected, fr)
            };
        } else if fr < simplex[2].1 {
            simplex[3] = (reflected, fr);
        } else {
            let contracted = along(&centre, &worst.0, 0.5);
            let fc = f(&contracted);
            if fc < worst.1 {
                simplex[3] = (contracted, fc);
            } else {
                let best = simplex[0].0;
                for p in simplex.iter_mut().skip(1) {
                    p.0 = along(&best, &p.0, 0.5);
                    p.1 = f(&p.0);
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    simplex[0].0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::llm::catalog;
    use crate::spec::llm::roofline::{Precision, RooflineInputs};

    fn batching() -> BatchingConfig {
        BatchingConfig {
            max_sequences: 256,
            max_model_len: 8192,
            max_batched_tokens: 8192,
            block_tokens: 16,
            kv_blocks: 20_000,
            prefix_caching: false,
            async_scheduling: true,
            client_timeout: None,
        }
    }

    #[test]
    fn coefficients_behind_simulated_runs_are_recovered() {
        // Known truth: Llama-3.1-8B on an L40S with coefficients unlike the shipped ones;
        // "measured" runs are kubesim's own at them, at two rates and one concurrency.
        let arch = catalog::model("llama-3.1-8b").unwrap();
        let gpu = &catalog::gpus()["l40s"];
        let inputs = RooflineInputs::new(&arch, Precision::BF16, gpu, 1);
        let truth = Coefficients {
            compute_efficiency: 0.45,
            memory_efficiency: 0.7,
            step_overhead_us: 2500.0,
            all_reduce_us: 26.2,
        };
        let (shipped, _) = catalog::coefficients("l40s");
        let base = catalog::roofline_profile("t".into(), &arch, Precision::BF16, gpu, 1, &shipped);
        let requests: Vec<(u32, u32)> = (0..300)
            .map(|i| (500 + (i * 37) % 1500, 100 + (i * 13) % 200))
            .collect();
        let true_profile = Arc::new(LlmProfile {
            cost: StepCost::Roofline(Roofline::from_inputs(&inputs, &truth)),
            ..base.clone()
        });
        let runs: Vec<BenchRun> = [
            BenchLoad::Rate(1.0),
            BenchLoad::Rate(6.0),
            BenchLoad::Concurrency(32),
        ]
        .into_iter()
        .map(|load| {
            let mut run = BenchRun {
                name: format!("{load:?}"),
                load,
                requests: requests.clone(),
                ttft_ms: 0.0,
                tpot_ms: 0.0,
            };
            (run.ttft_ms, run.tpot_ms) = simulate(&true_profile, batching(), &run);
            run
        })
        .collect();
        let bench = BenchmarkFit {
            inputs,
            start: shipped,
            runs,
        };
        let fit = fit(&bench, batching(), &base);
        let runs = &bench.runs;
        for (run, (ttft, tpot)) in runs.iter().zip(&fit.simulated) {
            assert!(
                (ttft / run.ttft_ms - 1.0).abs() < 0.05,
                "{}: TTFT {ttft} vs {}",
                run.name,
                run.ttft_ms
            );
            assert!(
                (tpot / run.tpot_ms - 1.0).abs() < 0.05,
                "{}: TPOT {tpot} vs {}",
                run.name,
                run.tpot_ms
            );
        }
        let k = fit.coefficients;
        assert!((k.memory_efficiency / 0.7 - 1.0).abs() < 0.1, "{k:?}");
        assert!((k.step_overhead_us / 2500.0 - 1.0).abs() < 0.2, "{k:?}");
    }
}
