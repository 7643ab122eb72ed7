//! `batch/v1` Jobs from the manifests: validated as the API server validates them
//! (`ValidateJobSpec`) and defaulted as it defaults them (`SetDefaults_Job`), into a workload
//! whose pods run to completion.

use k8s_openapi::api::batch::v1::{Job, JobSpec};

use super::diag::Diagnostic;
use super::manifest::{Manifest, Source, named_spec, namespace_of, non_negative, pod_template};
use super::model::{DeploymentSpec, JobSettings, PodSource, WorkloadModel};
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
    let settings = settings(spec, src, diags);
    check_restart_policy(spec, src, diags);
    let mut template_labels: Labels = (spec.template.metadata.as_ref())
        .and_then(|md| md.labels.clone())
        .unwrap_or_default();
    template_labels.insert(JOB_NAME_LABEL.into(), name.clone());
    template_labels.insert("job-name".into(), name.clone());
    let selector_labels: Labels = [(JOB_NAME_LABEL.to_string(), name.clone())].into();
    let mut pod = match &spec.template.spec {
        Some(pod_spec) => pod_template(pod_spec, src, "spec.template.spec", diags),
        None => {
            diags.push(src.error(
                "spec.template.spec",
                "the pod template needs a spec with containers",
            ));
            Default::default()
        }
    };
    pod.labels = template_labels.clone();
    pod.namespace = namespace.clone();
    Some(DeploymentSpec {
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
        source: PodSource::Job(settings),
    })
}

/// `completions`, `parallelism`, `backoffLimit`, `activeDeadlineSeconds`,
/// `ttlSecondsAfterFinished` and `completionMode`, with their defaults: without either count
/// both are 1; `parallelism` defaults to 1; `backoffLimit` to 6.
fn settings(spec: &JobSpec, src: &Source, diags: &mut Vec<Diagnostic>) -> JobSettings {
    let count = |field: &str, value: i32, diags: &mut Vec<Diagnostic>| {
        let path = format!("spec.{field}");
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
        "spec.backoffLimit",
        spec.backoff_limit.unwrap_or(6),
        src,
        diags,
    );
    let active_deadline = spec.active_deadline_seconds.and_then(|s| {
        if s <= 0 {
            diags.push(src.error(
                "spec.activeDeadlineSeconds",
                format!("must be greater than 0, got {s}"),
            ));
            return None;
        }
        Some(SimDuration::from_secs(s as u64))
    });
    let ttl_after_finished = spec.ttl_seconds_after_finished.map(|s| {
        SimDuration::from_secs(non_negative("spec.ttlSecondsAfterFinished", s, src, diags) as u64)
    });
    let indexed = indexed(spec, completions, src, diags);
    check_unmodelled(spec, src, diags);
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
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    match spec.completion_mode.as_deref() {
        None | Some("NonIndexed") => false,
        Some("Indexed") => {
            if completions.is_none() {
                diags.push(src.error(
                    "spec.completions",
                    "required when completionMode is Indexed",
                ));
            }
            true
        }
        Some(other) => {
            diags.push(src.error(
                "spec.completionMode",
                format!("unsupported value {other:?}: must be NonIndexed or Indexed"),
            ));
            false
        }
    }
}

/// A Job's pods must not be restarted by the kubelet forever: `restartPolicy` is required to
/// be `Never` or `OnFailure` (the pod default, `Always`, is refused by the API server).
fn check_restart_policy(spec: &JobSpec, src: &Source, diags: &mut Vec<Diagnostic>) {
    let policy = (spec.template.spec.as_ref()).and_then(|s| s.restart_policy.as_deref());
    let path = "spec.template.spec.restartPolicy";
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
fn check_unmodelled(spec: &JobSpec, src: &Source, diags: &mut Vec<Diagnostic>) {
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
                &format!("spec.{field}"),
                "not modelled: ignored (the Job runs as if it were not set)",
            ));
        }
    }
}
