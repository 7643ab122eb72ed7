//! `kubesim calibrate`: a workload model fitted to a service's Prometheus metrics, and the
//! replay of the fitted scenario measured against what was observed.
//!
//! `scenario::calibration` reads the calibration file and its exports; [`observe`] puts each
//! Service's series on one grid of intervals; [`fit`] holds the arithmetic, each part saying
//! what the data can identify; [`scenario_out`] writes the fitted scenario; [`compare`]
//! measures the replay against the observations. The command line runs the replay.

pub mod compare;
pub mod fit;
pub mod observe;
pub mod scenario_out;

use serde::Serialize;

use crate::scenario::calibration::{Role, ServiceData};
use fit::{CpuFit, CpuPoint, Identified, MemoryFit};
use observe::Observations;

/// The cv of the work per request assumed when the data cannot tell it.
pub const ASSUMED_WORK_CV: f64 = 1.0;

/// What was fitted for one Service.
#[derive(Clone, Debug)]
pub struct ServiceFit {
    /// The Service.
    pub service: String,
    /// Its Deployment.
    pub deployment: String,
    /// What was observed, interval by interval.
    pub observed: Observations,
    /// CPU per request, or why it could not be fitted.
    pub cpu: Result<CpuFit, String>,
    /// The working set, when memory was given.
    pub memory: Option<MemoryFit>,
    /// Start-up time (mean seconds, cv), from pods created inside the data.
    pub startup: Option<(f64, f64)>,
    /// Each parameter the data could not identify, and what was done instead.
    pub notes: Vec<String>,
    /// Whether the replay's arrivals are the observed rate (else the base scenario's calls).
    pub replay_arrivals: bool,
}

impl ServiceFit {
    /// The work per request the scenario gets: (mean seconds, cv), when CPU was fitted.
    pub fn work(&self) -> Option<(f64, f64)> {
        let cpu = self.cpu.as_ref().ok()?;
        Some((
            cpu.per_request_seconds,
            cpu.work_cv.unwrap_or(ASSUMED_WORK_CV),
        ))
    }
}

/// The parameters as they go into report files.
#[derive(Clone, Debug, Serialize)]
pub struct FittedParameters {
    /// CPU-seconds per request (an upper bound when `identified` says so).
    pub cpu_per_request_seconds: Option<f64>,
    /// The work's coefficient of variation (`None`: assumed).
    pub cpu_per_request_cv: Option<f64>,
    /// Its standard error from the number of intervals.
    pub cpu_per_request_cv_standard_error: Option<f64>,
    /// Idle cores per pod.
    pub idle_cores: Option<f64>,
    /// `both`, `ratio_only`, or `none`.
    pub identified: &'static str,
    /// Working set with nothing in flight, bytes.
    pub memory_base_bytes: Option<f64>,
    /// Working set per request in flight, bytes.
    pub memory_per_in_flight_bytes: Option<f64>,
    /// Start-up time's mean, seconds.
    pub startup_mean_seconds: Option<f64>,
    /// Start-up time's cv.
    pub startup_cv: Option<f64>,
    /// CPU intervals fitted.
    pub cpu_intervals: usize,
    /// The least-squares line's R².
    pub r_squared: Option<f64>,
}

impl ServiceFit {
    /// The parameters for reports.
    pub fn parameters(&self) -> FittedParameters {
        let cpu = self.cpu.as_ref().ok();
        FittedParameters {
            cpu_per_request_seconds: cpu.map(|c| c.per_request_seconds),
            cpu_per_request_cv: cpu.and_then(|c| c.work_cv),
            cpu_per_request_cv_standard_error: cpu.and_then(|c| c.work_cv_standard_error),
            idle_cores: cpu.and_then(|c| c.idle_cores),
            identified: match cpu.map(|c| &c.identified) {
                Some(Identified::Both) => "both",
                Some(Identified::RatioOnly(_)) => "ratio_only",
                None => "none",
            },
            memory_base_bytes: self.memory.map(|m| m.base_bytes),
            memory_per_in_flight_bytes: self.memory.and_then(|m| m.per_in_flight_bytes),
            startup_mean_seconds: self.startup.map(|s| s.0),
            startup_cv: self.startup.map(|s| s.1),
            cpu_intervals: cpu.and_then(|c| c.line).map_or(0, |l| l.n),
            r_squared: cpu.and_then(|c| c.line).map(|l| l.r_squared),
        }
    }
}

/// Observes and fits one Service.
pub fn fit_service(data: &ServiceData) -> Result<ServiceFit, String> {
    let observed = observe::observe(data)?;
    let mut notes = Vec::new();
    let cpu = match data.roles.contains_key(&Role::Cpu) {
        true => fit::fit_cpu(&cpu_points(&observed), observed.step_ms as f64 / 1000.0),
        false => Err("no cpu series given".to_string()),
    };
    match &cpu {
        Ok(c) => {
            if let Identified::RatioOnly(why) = &c.identified {
                notes.push(format!("CPU per request: {why}"));
                notes.push(format!(
                    "the work's variability needs the line: a cv of {ASSUMED_WORK_CV} is assumed"
                ));
            }
            if let Some(idle) = c.idle_cores.filter(|&i| i >= 0.0005) {
                notes.push(format!(
                    "idle CPU of {:.0} millicores per pod is not modelled: kubesim's pods use no CPU between requests, so the replayed CPU is lower by that",
                    idle * 1000.0
                ));
            }
        }
        Err(e) => notes.push(format!(
            "CPU per request not fitted ({e}): the base scenario's value is kept"
        )),
    }
    let memory = fit_memory(data, &observed, &mut notes);
    let startup = fit::startup_time(&observed.startups, observed.step_ms as f64 / 1000.0);
    if let Some((mean, _)) = startup {
        let half_step = observed.step_ms as f64 / 2000.0;
        notes.push(format!(
            "start-up time from {} pod(s), each known to ±{half_step} s (the middle of the step in which the pod became Ready): when start-up times spread less than a step, the mean {mean:.1} s can be off by as much",
            observed.startups.len(),
        ));
    } else {
        notes.push(format!(
            "start-up time not fitted: {} pod(s) were created inside the data with podCreated and podReady given (3 are needed); the base scenario's value is kept",
            observed.startups.len()
        ));
    }
    notes.push("concurrency and queueLimit cannot be told from unsaturated metrics: the base scenario's values are kept".into());
    Ok(ServiceFit {
        service: data.service.clone(),
        deployment: data.deployment.clone(),
        observed,
        cpu,
        memory,
        startup,
        notes,
        replay_arrivals: data.replay_arrivals,
    })
}

/// The CPU intervals: the Service's rate and the CPU of the pods that ran throughout, per pod.
fn cpu_points(o: &Observations) -> Vec<CpuPoint> {
    (o.rate.iter().zip(&o.cpu))
        .filter_map(|(rate, cpu)| {
            let (rate, cpu) = ((*rate)?, (*cpu)?);
            let n = cpu.pods as f64;
            Some(CpuPoint {
                rate: rate / n,
                cores: cpu.cores / n,
                pods: cpu.pods,
            })
        })
        .collect()
}

/// Memory per pod against requests in flight per pod (the rate per pod times the mean latency,
/// Little's law), when memory was given.
fn fit_memory(data: &ServiceData, o: &Observations, notes: &mut Vec<String>) -> Option<MemoryFit> {
    data.roles.get(&Role::Memory)?;
    let points: Vec<(f64, f64)> = (0..o.ends.len())
        .filter_map(|k| {
            let (bytes, pods) = o.memory.get(k).copied().flatten()?;
            let in_flight = match (o.rate[k], o.mean_latency.get(k).copied().flatten()) {
                (Some(rate), Some(latency)) => rate / pods as f64 * latency,
                _ => 0.0,
            };
            Some((in_flight, bytes))
        })
        .collect();
    let fit = fit::fit_memory(&points);
    match fit {
        None => notes.push("memory not fitted: no interval has a working set".into()),
        Some(m) if m.per_in_flight_bytes.is_none() => notes.push(
            "memory per request in flight not identified (the load hardly moves, or no latency histogram gives the time in flight): the base is the mean working set".into(),
        ),
        Some(_) => {}
    }
    fit
}
