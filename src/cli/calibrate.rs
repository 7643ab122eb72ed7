//! `kubesim calibrate CAL.yaml`: fit each Service's workload to its Prometheus exports, write the
//! fitted scenario, replay it, and report the replay against the observations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{ScenarioOptions, Status, load_and_report, print_diagnostics, run_timed};
use kubesim::calibrate::compare::{self, Compared};
use kubesim::calibrate::observe::{self, Observations};
use kubesim::calibrate::scenario_out::{self, MAX_SERVICES};
use kubesim::calibrate::{self as fitting, ServiceFit};
use kubesim::engine::{RecordSink, Records};
use kubesim::metrics::export::ExportSample;
use kubesim::output::calibrate::{self as files, CalibrationFiles, FitReport, ServiceReport};
use kubesim::output::openmetrics::{OpenMetricsWriter, store::DEFAULT_MEMORY_VALUES};
use kubesim::output::run_dir;
use kubesim::scenario::calibration::{
    Calibration, Role, RoleData, ServiceData, Unit, load_calibration,
};
use kubesim::scenario::prom_export::{Export, Selector, parse_text};
use kubesim::scenario::{LoadOptions, Scenario, load_scenario};
use kubesim::sim::SimDuration;

const NOT_WRITTEN: &str = "--out: the calibration was not written";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The calibration file (kind: Calibration): the base scenario (cluster and manifests), and
    /// for each Service which series of which Prometheus export (the HTTP API's JSON,
    /// `promtool query range -o json`, a wide CSV, or OpenMetrics/Prometheus text with
    /// timestamps) give its request rate, its pods' CPU and memory, its latency, its replicas
    /// and its pods' creation and readiness. docs/calibrate.md describes it.
    pub calibration: PathBuf,
    /// Where to write the fitted scenario.yaml, its traffic-N.csv, fit.json, fit.html and
    /// replay.om [default: output/<name>-calibrated/]. kubesim replaces only a directory it
    /// wrote itself.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed of the replay (overrides the base scenario's spec.seed).
    #[arg(long)]
    pub seed: Option<u64>,
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    let calibration = match load_calibration(&args.calibration) {
        Ok(c) => c,
        Err(diags) => {
            print_diagnostics(&diags);
            let errors = diags.iter().filter(|d| d.is_error()).count();
            eprintln!(
                "{}: {errors} error(s); nothing was fitted",
                args.calibration.display()
            );
            return Ok(Status::BadInput);
        }
    };
    let options = ScenarioOptions {
        seed: args.seed,
        set: Vec::new(),
    };
    let Some(base) = load_and_report(&calibration.scenario, &options) else {
        return Ok(Status::BadInput);
    };
    let mut fits = match fit_all(&args.calibration, &calibration, &base) {
        Ok(fits) => fits,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Status::BadInput);
        }
    };
    let name = format!("{}-calibrated", calibration.name);
    let requested = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("output").join(&name));
    let inputs = [args.calibration.as_path(), calibration.scenario.as_path()];
    let Some(out_dir) = super::checked_out_dir(&requested, &inputs, &[]) else {
        return Ok(Status::BadInput);
    };
    let base_dir = calibration.scenario.parent().unwrap_or(Path::new(""));
    let written = scenario_out::write(
        &scenario_out::Base {
            resolved_yaml: &base.resolved_yaml,
            dir: base_dir,
            sample_interval_ms: (base.sample_interval.as_micros() / 1000) as i64,
        },
        out_dir.path(),
        &name,
        &fits,
    )
    .map_err(anyhow::Error::msg)?;
    for (i, note) in &written.notes {
        fits[*i].notes.push(note.clone());
    }
    let staging = run_dir::Staging::create(&out_dir).context(NOT_WRITTEN)?;
    let write_inputs = || -> std::io::Result<()> {
        std::fs::write(staging.path().join("scenario.yaml"), &written.scenario)?;
        for (file, csv) in &written.traffic {
            std::fs::write(staging.path().join(file), csv)?;
        }
        Ok(())
    };
    write_inputs()
        .map_err(|e| staging.io_error(e))
        .context(NOT_WRITTEN)?;
    let replay = load_scenario(
        &staging.path().join("scenario.yaml"),
        &LoadOptions { seed: args.seed, overrides: Vec::new() },
    )
    .map_err(|diags| {
        print_diagnostics(&diags);
        anyhow::anyhow!("the fitted scenario does not load (a kubesim bug: please report it with the calibration)")
    })?;
    let step = SimDuration::from_micros(fits[0].observed.step_ms as u64 * 1000);
    let mut sink = ReplaySink {
        interval: step,
        writer: OpenMetricsWriter::new(
            &replay.name,
            replay.seed,
            replay.start_time,
            DEFAULT_MEMORY_VALUES,
        ),
        failed: None,
    };
    let timed = run_timed(&replay, Records::Give(&mut sink))?;
    if let Some(e) = sink.failed {
        anyhow::bail!("the replay's export failed: {e}");
    }
    let mut om = Vec::new();
    sink.writer.write(&mut om).context("the replay's export")?;
    let text = String::from_utf8(om).context("the replay's export")?;
    let replayed = parse_text("replay.om", &text).map_err(anyhow::Error::msg)?;
    let comparisons: Vec<Vec<Compared>> = (fits.iter())
        .map(|fit| {
            let replay_obs = replayed_observations(&replayed, fit);
            compare::compare(&fit.observed, &replay_obs)
        })
        .collect();
    let report = FitReport {
        schema: "kubesim.calibration/v1",
        calibration: &calibration.name,
        interval_seconds: fits[0].observed.step_ms as f64 / 1000.0,
        services: (fits.iter().zip(&comparisons))
            .map(|(f, c)| ServiceReport {
                service: &f.service,
                deployment: &f.deployment,
                parameters: f.parameters(),
                notes: &f.notes,
                comparison: c,
            })
            .collect(),
        export_notes: &calibration.notes,
    };
    let all = CalibrationFiles {
        scenario: &written.scenario,
        traffic: &written.traffic,
        report: &report,
        replay: text.as_bytes(),
        info: &timed.info,
    };
    files::write_files(staging.path(), &all)
        .map_err(|e| staging.io_error(e))
        .context(NOT_WRITTEN)?;
    staging.commit().context(NOT_WRITTEN)?;
    tell_summary(&fits, &comparisons, &calibration);
    super::status_line(format!(
        "fitted {} Service(s), replayed them; wrote {}/",
        fits.len(),
        requested.display()
    ));
    Ok(Status::Success)
}

/// Fits every Service, after checking it against the base scenario.
fn fit_all(
    file: &Path,
    calibration: &Calibration,
    base: &Scenario,
) -> Result<Vec<ServiceFit>, String> {
    if calibration.services.len() > MAX_SERVICES {
        return Err(format!(
            "{}: spec.services: {} Services; one calibration fits at most {MAX_SERVICES}",
            file.display(),
            calibration.services.len()
        ));
    }
    let mut fits = Vec::new();
    for (i, data) in calibration.services.iter().enumerate() {
        let at = format!("{}: spec.services[{i}]", file.display());
        let service_names: Vec<&str> = base.services.iter().map(|s| s.name.as_str()).collect();
        if !service_names.contains(&data.service.as_str()) {
            return Err(format!(
                "{at}.service: no Service {:?} in {} (its Services: {})",
                data.service,
                base.file.display(),
                service_names.join(", ")
            ));
        }
        let deployment = short_name(&data.deployment);
        if !base.deployments.iter().any(|d| d.name == deployment) {
            let names: Vec<&str> = base.deployments.iter().map(|d| d.name.as_str()).collect();
            return Err(format!(
                "{at}.deployment: no Deployment {deployment:?} in {} (its Deployments: {})",
                base.file.display(),
                names.join(", ")
            ));
        }
        let fit = fitting::fit_service(data).map_err(|e| format!("{at}: {e}"))?;
        if let Some(first) = fits.first().map(|f: &ServiceFit| f.observed.step_ms)
            && first != fit.observed.step_ms
        {
            return Err(format!(
                "{at}: its series have a step of {} s, the first Service's {} s: export every series with the same step",
                fit.observed.step_ms as f64 / 1000.0,
                first as f64 / 1000.0
            ));
        }
        fits.push(fit);
    }
    Ok(fits)
}

fn short_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// The replay's series in the roles of `fit`'s Service, selected by the names and labels the
/// export writes.
fn replayed_observations(export: &Export, fit: &ServiceFit) -> Observations {
    let deployment = short_name(&fit.deployment);
    let pods = format!("{}-[a-z0-9]+-[a-z0-9]+", regex_escape(deployment));
    let service = &fit.service;
    let roles = [
        (
            Role::Requests,
            format!(
                "istio_requests_total{{reporter=\"destination\",destination_service_name=\"{service}\"}}"
            ),
            Unit::Counter,
        ),
        (
            Role::Cpu,
            format!("container_cpu_usage_seconds_total{{pod=~\"{pods}\"}}"),
            Unit::CpuSeconds,
        ),
        (
            Role::Memory,
            format!("container_memory_working_set_bytes{{pod=~\"{pods}\"}}"),
            Unit::Bytes,
        ),
        (
            Role::Latency,
            format!(
                "istio_request_duration_milliseconds_bucket{{reporter=\"destination\",destination_service_name=\"{service}\"}}"
            ),
            Unit::Milliseconds,
        ),
        (
            Role::Replicas,
            format!("kube_deployment_status_replicas{{deployment=\"{deployment}\"}}"),
            Unit::Number,
        ),
    ];
    let mut map = BTreeMap::new();
    for (role, selector, unit) in roles {
        let selector = Selector::parse(&selector).expect("the replay's selectors parse");
        let series: Vec<_> = export
            .series
            .iter()
            .filter(|s| selector.matches(s))
            .cloned()
            .collect();
        if !series.is_empty() {
            map.insert(
                role,
                RoleData {
                    series,
                    unit,
                    source: format!("replay.om {}", selector.text()),
                    scale: 1.0,
                },
            );
        }
    }
    let data = ServiceData {
        service: fit.service.clone(),
        deployment: fit.deployment.clone(),
        roles: map,
        quantiles: Vec::new(),
        replay_arrivals: true,
    };
    match data.roles.contains_key(&Role::Requests) {
        true => observe::observe(&data).unwrap_or_default(),
        false => Observations::default(),
    }
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c.is_ascii_alphanumeric() || c == '-' {
            true => vec![c],
            false => vec!['\\', c],
        })
        .collect()
}

fn tell_summary(fits: &[ServiceFit], comparisons: &[Vec<Compared>], calibration: &Calibration) {
    for (fit, compared) in fits.iter().zip(comparisons) {
        super::tell(format!(
            "Service {} (Deployment {}):",
            fit.service, fit.deployment
        ));
        for line in files::parameter_lines(fit) {
            super::tell(format!("  {line}"));
        }
        for c in compared {
            super::tell(format!("  {}", files::comparison_line(c)));
        }
        for note in &fit.notes {
            super::tell(format!("  note: {note}"));
        }
    }
    for note in &calibration.notes {
        super::tell(format!("note: {note}"));
    }
}

/// The replay's records: only the export, at the data's step.
struct ReplaySink {
    interval: SimDuration,
    writer: OpenMetricsWriter,
    failed: Option<std::io::Error>,
}

impl RecordSink for ReplaySink {
    fn timeseries_columns(&mut self, columns: &[String]) {
        self.writer.set_columns(columns);
    }
    fn timeseries_row(&mut self, _: &[f64]) {}
    fn hpa_decision(&mut self, _: kubesim::controllers::hpa::HpaDecision) {}
    fn export_interval(&self) -> Option<SimDuration> {
        Some(self.interval)
    }
    fn export(&mut self, sample: &ExportSample) {
        if self.failed.is_none()
            && let Err(e) = self.writer.add(sample)
        {
            self.failed = Some(e);
        }
    }
}
