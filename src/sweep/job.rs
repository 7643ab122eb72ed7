//! The Kubernetes Indexed Job that runs a sweep's shards on the user's own cluster: one pod per
//! shard, each `kubesim sweep FILE --shards N` (the shard index from `JOB_COMPLETION_INDEX`),
//! writing to a shared volume for `kubesim sweep merge`.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec, ResourceRequirements,
    Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::spec::quantity::Quantity as Amount;

/// Where the shards' volume is mounted in each pod.
pub const RESULTS_MOUNT: &str = "/results";

/// What the Job is made of.
#[derive(Clone, Debug)]
pub struct JobOptions {
    /// The Job's name, also the folder under [`RESULTS_MOUNT`] the shards write in.
    pub name: String,
    /// The sweep or scenario file, as the image's working directory names it.
    pub file: String,
    /// Flags to pass on to each shard (e.g. `--replications 5`).
    pub extra_args: Vec<String>,
    /// Shards: the Job's `completions`, one pod per shard index.
    pub shards: usize,
    /// Pods running at once: the Job's `parallelism`.
    pub parallelism: usize,
    /// The container image: kubesim, with the sweep's files in it.
    pub image: String,
    /// The PersistentVolumeClaim the shards write to.
    pub claim: String,
    /// CPU request of each pod, a Kubernetes quantity (`2`, `500m`).
    pub cpu: String,
    /// Memory request and limit of each pod, a quantity (`1Gi`).
    pub memory: String,
}

impl JobOptions {
    /// What the API server (or the pod's kubelet) would refuse in the Job, each as a message
    /// naming its flag; empty when it is a Job the cluster takes.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !is_dns_label(&self.name) {
            out.push(format!(
                "--name {:?}: a Job's name must be a lowercase RFC 1123 label (a-z, 0-9 and '-', starting and ending with a letter or digit, at most 63 characters), as its pods' job-name label requires",
                self.name
            ));
        }
        if !is_dns_subdomain(&self.claim) {
            out.push(format!(
                "--claim {:?}: a PersistentVolumeClaim's name must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-' and '.', at most 253 characters)",
                self.claim
            ));
        }
        if self.image.trim().is_empty() || self.image.chars().any(char::is_whitespace) {
            out.push(format!(
                "--image {:?}: name the image, with no spaces (e.g. kubesim:latest)",
                self.image
            ));
        }
        for (flag, value) in [("--cpu", &self.cpu), ("--memory", &self.memory)] {
            match Amount::parse(value) {
                Ok(q) if !q.is_negative() && q.nanos() > 0 => {}
                Ok(_) => out.push(format!("{flag} {value:?}: must be more than 0")),
                Err(e) => out.push(format!("{flag} {value:?}: {e}")),
            }
        }
        if self.parallelism == 0 {
            out.push("--parallelism 0: must be at least 1 (0 would start no shard)".into());
        }
        out
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
fn is_dns_label(name: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| alnum(c) || c == '-')
        && name.starts_with(alnum)
        && name.ends_with(alnum)
}

/// Labels joined by dots, at most 253 characters.
fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns_label)
}

/// The Indexed Job: `completions` = shards, each pod writing `/results/NAME/shard-I`.
pub fn indexed_job(o: &JobOptions) -> Job {
    let mut args = vec![
        "sweep".to_string(),
        o.file.clone(),
        "--shards".into(),
        o.shards.to_string(),
        "--out".into(),
        format!("{RESULTS_MOUNT}/{}/shard-$(JOB_COMPLETION_INDEX)", o.name),
    ];
    args.extend(o.extra_args.iter().cloned());
    let resources = |pairs: &[(&str, &str)]| {
        let map: BTreeMap<String, Quantity> = (pairs.iter())
            .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
            .collect();
        Some(map)
    };
    let container = Container {
        name: "kubesim".into(),
        image: Some(o.image.clone()),
        args: Some(args),
        resources: Some(ResourceRequirements {
            requests: resources(&[("cpu", &o.cpu), ("memory", &o.memory)]),
            limits: resources(&[("memory", &o.memory)]),
            ..Default::default()
        }),
        volume_mounts: Some(vec![VolumeMount {
            name: "results".into(),
            mount_path: RESULTS_MOUNT.into(),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let pod = PodSpec {
        restart_policy: Some("Never".into()),
        containers: vec![container],
        volumes: Some(vec![Volume {
            name: "results".into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: o.claim.clone(),
                read_only: None,
            }),
            ..Default::default()
        }]),
        ..Default::default()
    };
    Job {
        metadata: ObjectMeta {
            name: Some(o.name.clone()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/name".into(),
                "kubesim-sweep".into(),
            )])),
            ..Default::default()
        },
        spec: Some(JobSpec {
            completion_mode: Some("Indexed".into()),
            completions: Some(i32::try_from(o.shards).unwrap_or(i32::MAX)),
            parallelism: Some(i32::try_from(o.parallelism).unwrap_or(i32::MAX)),
            backoff_limit_per_index: Some(2),
            max_failed_indexes: Some(0),
            template: PodTemplateSpec {
                metadata: None,
                spec: Some(pod),
            },
            ..Default::default()
        }),
        status: None,
    }
}
