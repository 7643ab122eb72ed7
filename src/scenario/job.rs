//! `batch/v1` Jobs and CronJobs from the manifests: validated as the API server validates them
//! (`ValidateJobSpec`, `ValidateCronJobSpec`) and defaulted as it defaults them
//! (`SetDefaults_Job`, `SetDefaults_CronJob`), into workloads whose pods run to completion. A
//! CronJob's schedule is resolved to times by [`cron_times`].

use k8s_openapi::api::batch::v1::{CronJob, Job, JobSpec};

use super::cron::CronSchedule;
use super::diag::Diagnostic;
use super::manifest::{
    Manifest, ManifestSet, Source, named_spec, namespace_of, non_negative, pod_template,
};
use super::model::{
    ConcurrencyPolicy, CronJobSettings, CronTimes, DeploymentSpec, JobSettings, PodSource,
    WorkloadModel,
};
use crate::cluster::selector::{LabelSelector, Labels};
use crate::sim::SimDuration;

/// The label the Job controller puts on its pods and selects them by.
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
/// Most completions or pods per Job one simulation holds.
const MAX_PODS: i32 = super::model::MAX_REPLICAS;

/// A Job as a workload: its pods are labelled with its name and selected by it (the
/// controller's generated selector), and its settings carry the API's defaults.
pub fn job_spec(m: &Manifest<Job>, diags: &mut Vec<Diagnostic>) -> Option<DeploymentSpec> {
    let src = &m.source;
    let name = Manifest::<Job>::meta_name(&m.object.metadata);
    let spec = named_spec("Job", &name, m.object.spec.as_ref(), src, diags)?;
    let namespace = namespace_of(&m.object.metadata);
    let settings = settings(spec, "spec", src, diags);
    Some(workload(
        name,
        namespace,
        spec,
        "spec",
        PodSource::Job(settings),
        src,
        diags,
    ))
}

/// A CronJob as a workload: the pods of all its Jobs (its `jobTemplate`), with the CronJob's
/// own settings; its schedule is read by [`cron_times`].
pub fn cron_job_spec(m: &Manifest<CronJob>, diags: &mut Vec<Diagnostic>) -> Option<DeploymentSpec> {
    let src = &m.source;
    let name = Manifest::<CronJob>::meta_name(&m.object.metadata);
    let spec = named_spec("CronJob", &name, m.object.spec.as_ref(), src, diags)?;
    let namespace = namespace_of(&m.object.metadata);
    let prefix = "spec.jobTemplate.spec";
    let Some(job) = spec.job_template.spec.as_ref() else {
        diags.push(src.error(prefix, "a CronJob needs a jobTemplate with a spec"));
        return None;
    };
    let concurrency = match spec.concurrency_policy.as_deref() {
        None | Some("Allow") => ConcurrencyPolicy::Allow,
        Some("Forbid") => ConcurrencyPolicy::Forbid,
        Some("Replace") => ConcurrencyPolicy::Replace,
        Some(other) => {
            diags.push(src.error(
                "spec.concurrencyPolicy",
                format!("unsupported value {other:?}: must be Allow, Forbid or Replace"),
            ));
            ConcurrencyPolicy::Allow
        }
    };
    let starting_deadline = spec.starting_deadline_seconds.map(|s| {
        let s = i32::try_from(s).unwrap_or(i32::MAX);
        SimDuration::from_secs(non_negative("spec.startingDeadlineSeconds", s, src, diags) as u64)
    });
    let history = |field: &str, value: Option<i32>, default: i32, diags: &mut Vec<Diagnostic>| {
        non_negative(
            &format!("spec.{field}"),
            value.unwrap_or(default),
            src,
            diags,
        )
    };
    let settings = CronJobSettings {
        job: settings(job, prefix, src, diags),
        concurrency,
        starting_deadline,
        successful_history: history(
            "successfulJobsHistoryLimit",
            spec.successful_jobs_history_limit,
            3,
            diags,
        ),
        failed_history: history(
            "failedJobsHistoryLimit",
            spec.failed_jobs_history_limit,
            1,
            diags,
        ),
        suspend: spec.suspend.unwrap_or(false),
    };
    let source = PodSource::CronJob(settings);
    Some(workload(name, namespace, job, prefix, source, src, diags))
}

/// The workload of a Job (or of a CronJob's Jobs) from its spec at `prefix`.
fn workload(
    name: String,
    namespace: String,
    spec: &JobSpec,
    prefix: &str,
    source: PodSource,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> DeploymentSpec {
    check_restart_policy(spec, prefix, src, diags);
    let mut template_labels: Labels = (spec.template.metadata.as_ref())
        .and_then(|md| md.labels.clone())
        .unwrap_or_default();
    template_labels.insert(JOB_NAME_LABEL.into(), name.clone());
    template_labels.insert("job-name".into(), name.clone());
    let selector_labels: Labels = [(JOB_NAME_LABEL.to_string(), name.clone())].into();
    let pod_path = format!("{prefix}.template.spec");
    let mut pod = match &spec.template.spec {
        Some(pod_spec) => {
            let annotations =
                (spec.template.metadata.as_ref()).and_then(|m| m.annotations.as_ref());
            pod_template(pod_spec, annotations, src, &pod_path, diags)
        }
        None => {
            diags.push(src.error(&pod_path, "the pod template needs a spec with containers"));
            Default::default()
        }
    };
    pod.labels = template_labels.clone();
    pod.namespace = namespace.clone();
    DeploymentSpec {
        name,
        namespace,
        replicas: 0,
        selector: LabelSelector::from_match_labels(selector_labels),
        template_labels,
        pod,
        strategy: Default::default(),
        rollout: Default::default(),
        stateful: Default::default(),
        workload: WorkloadModel::default(),
        source,
    }
}

/// Most schedule times one CronJob may have in a run (every minute for almost two years).
const MAX_CRON_TIMES: usize = 1_000_000;

/// Every CronJob's schedule times in `(0, duration]`: `spec.schedule` read in `spec.timeZone`
/// (default UTC, the zone of a kube-controller-manager that sets none), with t = 0 at `start`.
pub fn cron_times(
    set: &ManifestSet,
    deployments: &[DeploymentSpec],
    start: jiff::Timestamp,
    duration: SimDuration,
    diags: &mut Vec<Diagnostic>,
) -> Vec<CronTimes> {
    let mut out = Vec::new();
    for m in &set.cron_jobs {
        let src = &m.source;
        let (Some(spec), name) = (m.object.spec.as_ref(), &m.object.metadata.name) else {
            continue;
        };
        let schedule = CronSchedule::parse(&spec.schedule)
            .map_err(|e| diags.push(src.error("spec.schedule", e)));
        let zone = match spec.time_zone.as_deref() {
            None => Ok(jiff::tz::TimeZone::UTC),
            Some(tz) => jiff::tz::TimeZone::get(tz).map_err(|_| {
                diags.push(src.error(
                    "spec.timeZone",
                    format!("unknown time zone {tz:?}: use an IANA name such as Europe/Berlin or America/New_York"),
                ));
            }),
        };
        let namespace = namespace_of(&m.object.metadata);
        let deployment = deployments.iter().position(|d| {
            Some(&d.name) == name.as_ref()
                && d.namespace == namespace
                && matches!(d.source, PodSource::CronJob(_))
        });
        let (Ok(schedule), Ok(zone), Some(deployment)) = (schedule, zone, deployment) else {
            continue;
        };
        let times = schedule.times(start, &zone, duration);
        if times.len() > MAX_CRON_TIMES {
            diags.push(src.error(
                "spec.schedule",
                format!(
                    "fires {} times in the run: more than {MAX_CRON_TIMES} runs of one CronJob is beyond what one simulation holds",
                    times.len()
                ),
            ));
            continue;
        }
        out.push(CronTimes {
            deployment,
            times: times.into(),
        });
    }
    out
}

/// `completions`, `parallelism`, `backoffLimit`, `activeDeadlineSeconds`,
/// `ttlSecondsAfterFinished` and `completionMode`, with their defaults: without either count
/// both are 1; `parallelism` defaults to 1; `backoffLimit` to 6.
fn settings(
    spec: &JobSpec,
    prefix: &str,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> JobSettings {
    let count = |field: &str, value: i32, diags: &mut Vec<Diagnostic>| {
        let path = format!("{prefix}.{field}");
        if value > MAX_PODS {
            diags.push(src.error(
                &path,
                format!("{value} is beyond what one simulation holds: at most {MAX_PODS}"),
            ));
        }
        non_negative(&path, value, src, diags).min(MAX_PODS)
    };
    let completions = match (spec.completions, spec.parallelism) {
        (None, None) => Some(1),
        (c, _) => c.map(|c| count("completions", c, diags)),
    };
    let parallelism = count("parallelism", spec.parallelism.unwrap_or(1), diags);
    let backoff_limit = non_negative(
        &format!("{prefix}.backoffLimit"),
        spec.backoff_limit.unwrap_or(6),
        src,
        diags,
    );
    let active_deadline = spec.active_deadline_seconds.and_then(|s| {
        if s <= 0 {
            diags.push(src.error(
                &format!("{prefix}.activeDeadlineSeconds"),
                format!("must be greater than 0, got {s}"),
            ));
            return None;
        }
        Some(SimDuration::from_secs(s as u64))
    });
    let ttl_after_finished = spec.ttl_seconds_after_finished.map(|s| {
        let path = format!("{prefix}.ttlSecondsAfterFinished");
        SimDuration::from_secs(non_negative(&path, s, src, diags) as u64)
    });
    let indexed = indexed(spec, completions, prefix, src, diags);
    check_unmodelled(spec, prefix, src, diags);
    JobSettings {
        completions,
        parallelism,
        backoff_limit,
        active_deadline,
        ttl_after_finished,
        indexed,
    }
}

/// `completionMode`: `NonIndexed` (default) or `Indexed`, which needs `completions`.
fn indexed(
    spec: &JobSpec,
    completions: Option<i32>,
    prefix: &str,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    match spec.completion_mode.as_deref() {
        None | Some("NonIndexed") => false,
        Some("Indexed") => {
            if completions.is_none() {
                diags.push(src.error(
                    &format!("{prefix}.completions"),
                    "required when completionMode is Indexed",
                ));
            }
            true
        }
        Some(other) => {
            diags.push(src.error(
                &format!("{prefix}.completionMode"),
                format!("unsupported value {other:?}: must be NonIndexed or Indexed"),
            ));
            false
        }
    }
}

/// A Job's pods must not be restarted by the kubelet forever: `restartPolicy` is required to
/// be `Never` or `OnFailure` (the pod default, `Always`, is refused by the API server).
fn check_restart_policy(spec: &JobSpec, prefix: &str, src: &Source, diags: &mut Vec<Diagnostic>) {
    let policy = (spec.template.spec.as_ref()).and_then(|s| s.restart_policy.as_deref());
    let path = &format!("{prefix}.template.spec.restartPolicy");
    match policy {
        Some("Never") => {}
        Some("OnFailure") => diags.push(src.note(
            path,
            "OnFailure: a failed run is modelled as a new pod after the Job's backoff (as with Never), not as a restart of the container in place",
        )),
        Some(other) => diags.push(src.error(
            path,
            format!("unsupported value {other:?}: a Job's pods need Never or OnFailure"),
        )),
        None => diags.push(src.error(
            path,
            "required for a Job: Never or OnFailure (the pod default, Always, is not allowed)",
        )),
    }
}

/// Job features that change which pods run but are not modelled: warned, then ignored.
fn check_unmodelled(spec: &JobSpec, prefix: &str, src: &Source, diags: &mut Vec<Diagnostic>) {
    let fields = [
        ("podFailurePolicy", spec.pod_failure_policy.is_some()),
        ("successPolicy", spec.success_policy.is_some()),
        (
            "backoffLimitPerIndex",
            spec.backoff_limit_per_index.is_some(),
        ),
        ("maxFailedIndexes", spec.max_failed_indexes.is_some()),
        ("suspend", spec.suspend == Some(true)),
    ];
    for (field, set) in fields {
        if set {
            diags.push(src.warning(
                &format!("{prefix}.{field}"),
                "not modelled: ignored (the Job runs as if it were not set)",
            ));
        }
    }
}
