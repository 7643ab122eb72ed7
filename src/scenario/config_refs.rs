//! ConfigMaps and Secrets, and the pods that need them.
//!
//! A pod template refers to ConfigMaps and Secrets in three ways: as a volume (`configMap`,
//! `secret`, or a source of a `projected` volume), as all of an object's keys in a container's
//! environment (`envFrom`), and as one key in one variable (`env[].valueFrom.configMapKeyRef`,
//! `secretKeyRef`). A reference not marked `optional: true` must resolve when the kubelet starts
//! the pod, or the pod does not start:
//!
//! - a **volume** whose object is missing (or lacks a key its `items` name) fails to mount: the
//!   pod stays `ContainerCreating`, with `FailedMount` events
//!   (`MountVolume.SetUp failed for volume "config" : configmap "app" not found`), and the
//!   kubelet's volume manager retries with its exponential backoff (500 ms, doubling, at most
//!   2 m 2 s);
//! - an **environment** reference fails the container's creation: the container waits in
//!   `CreateContainerConfigError`, with `Failed` events (`Error: configmap "app" not found`,
//!   `Error: couldn't find key LEVEL in ConfigMap default/app`), and the pod worker retries
//!   after its 10 s backoff (the kubelet's `backOffPeriod`; its 0–50 % jitter is left out).
//!
//! The kubelet mounts every volume before it creates a container, and creates the init
//! containers first, then the app containers in order, each resolving `envFrom` and then `env`
//! in order: the first reference that fails is the one reported, in the kubelet's own words.
//! Once the object exists (it is in the manifests, or a scripted `apply` creates it), the next
//! retry starts the pod. A running pod is not affected by later changes (the model never deletes
//! an object). Keys: a ConfigMap's environment keys are its `data`, its volume keys `data` and
//! `binaryData`; a Secret's are `data` and `stringData` (which the API server merges).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{ConfigMap, Container, KeyToPath, PodSpec, Secret};

use super::diag::Diagnostic;
use super::manifest::{ManifestSet, namespace_of};

pub use crate::spec::config::{
    ConfigKind, ConfigObject, ConfigObjects, ConfigRef, ConfigUse, first_unresolved,
};

/// Reading the objects from manifests.
impl ConfigObject {
    pub(crate) fn from_config_map(m: &ConfigMap) -> ConfigObject {
        let data: BTreeSet<String> = m.data.iter().flatten().map(|(k, _)| k.clone()).collect();
        let binary = m.binary_data.iter().flatten().map(|(k, _)| k.clone());
        ConfigObject {
            kind: ConfigKind::ConfigMap,
            namespace: namespace_of(&m.metadata),
            name: m.metadata.name.clone().unwrap_or_default(),
            volume_keys: data.iter().cloned().chain(binary).collect(),
            env_keys: data,
        }
    }

    pub(crate) fn from_secret(s: &Secret) -> ConfigObject {
        let data = s.data.iter().flatten().map(|(k, _)| k.clone());
        let strings = s.string_data.iter().flatten().map(|(k, _)| k.clone());
        let keys: BTreeSet<String> = data.chain(strings).collect();
        ConfigObject {
            kind: ConfigKind::Secret,
            namespace: namespace_of(&s.metadata),
            name: s.metadata.name.clone().unwrap_or_default(),
            volume_keys: keys.clone(),
            env_keys: keys,
        }
    }
}

impl ConfigObjects {
    /// The ConfigMaps and Secrets of a manifest set.
    pub fn of_manifests(set: &ManifestSet) -> ConfigObjects {
        let mut out = ConfigObjects::default();
        for m in &set.config_maps {
            out.put(ConfigObject::from_config_map(&m.object));
        }
        for m in &set.secrets {
            out.put(ConfigObject::from_secret(&m.object));
        }
        out
    }
}

/// The references of a pod spec that are not optional, in the kubelet's order.
pub fn config_refs(spec: &PodSpec) -> Vec<ConfigRef> {
    let mut out = volume_refs(spec);
    let inits = spec.init_containers.iter().flatten();
    let containers = (inits.enumerate())
        .map(|(i, c)| (format!("initContainers[{i}]"), c))
        .chain((spec.containers.iter().enumerate()).map(|(i, c)| (format!("containers[{i}]"), c)));
    for (path, c) in containers {
        env_refs(c, &path, &mut out);
    }
    out
}

fn required(optional: Option<bool>) -> bool {
    optional != Some(true)
}

fn item_keys(items: &Option<Vec<KeyToPath>>) -> Vec<String> {
    items.iter().flatten().map(|i| i.key.clone()).collect()
}

fn volume_refs(spec: &PodSpec) -> Vec<ConfigRef> {
    let mut out = Vec::new();
    for (i, v) in spec.volumes.iter().flatten().enumerate() {
        let mut add = |kind, name: &str, items: &Option<Vec<KeyToPath>>, field: String| {
            out.push(ConfigRef {
                kind,
                name: name.to_string(),
                keys: item_keys(items),
                usage: ConfigUse::Volume(v.name.clone()),
                field,
            })
        };
        if let Some(c) = v.config_map.as_ref().filter(|c| required(c.optional)) {
            let field = format!("volumes[{i}].configMap");
            add(ConfigKind::ConfigMap, &c.name, &c.items, field);
        }
        if let Some(s) = v.secret.as_ref().filter(|s| required(s.optional)) {
            let name = s.secret_name.as_deref().unwrap_or_default();
            add(
                ConfigKind::Secret,
                name,
                &s.items,
                format!("volumes[{i}].secret"),
            );
        }
        let sources = v.projected.iter().flat_map(|p| p.sources.iter().flatten());
        for (j, source) in sources.enumerate() {
            let field = |what| format!("volumes[{i}].projected.sources[{j}].{what}");
            if let Some(c) = source.config_map.as_ref().filter(|c| required(c.optional)) {
                add(ConfigKind::ConfigMap, &c.name, &c.items, field("configMap"));
            }
            if let Some(s) = source.secret.as_ref().filter(|s| required(s.optional)) {
                add(ConfigKind::Secret, &s.name, &s.items, field("secret"));
            }
        }
    }
    out
}

fn env_refs(c: &Container, path: &str, out: &mut Vec<ConfigRef>) {
    let mut add = |kind, name: &str, key: Option<&str>, field: String| {
        out.push(ConfigRef {
            kind,
            name: name.to_string(),
            keys: key.map(str::to_string).into_iter().collect(),
            usage: ConfigUse::Env,
            field,
        })
    };
    for (i, from) in c.env_from.iter().flatten().enumerate() {
        if let Some(r) = from
            .config_map_ref
            .as_ref()
            .filter(|r| required(r.optional))
        {
            let field = format!("{path}.envFrom[{i}].configMapRef");
            add(ConfigKind::ConfigMap, &r.name, None, field);
        }
        if let Some(r) = from.secret_ref.as_ref().filter(|r| required(r.optional)) {
            add(
                ConfigKind::Secret,
                &r.name,
                None,
                format!("{path}.envFrom[{i}].secretRef"),
            );
        }
    }
    for (i, var) in c.env.iter().flatten().enumerate() {
        let Some(from) = var.value_from.as_ref() else {
            continue;
        };
        if let Some(r) = (from.config_map_key_ref.as_ref()).filter(|r| required(r.optional)) {
            let field = format!("{path}.env[{i}].valueFrom.configMapKeyRef");
            add(ConfigKind::ConfigMap, &r.name, Some(&r.key), field);
        }
        if let Some(r) = (from.secret_key_ref.as_ref()).filter(|r| required(r.optional)) {
            let field = format!("{path}.env[{i}].valueFrom.secretKeyRef");
            add(ConfigKind::Secret, &r.name, Some(&r.key), field);
        }
    }
}

/// A warning at each reference of the set's pod templates that no ConfigMap or Secret of the
/// manifests (or of `created_later`, what scripted `apply` events create) resolves: its pods
/// would never start. Keys are checked against the manifests' objects only when nothing later
/// replaces them.
pub fn check(set: &mut ManifestSet, created_later: &ConfigObjects, diags: &mut Vec<Diagnostic>) {
    let present = ConfigObjects::of_manifests(set);
    super::limit_range::for_each_pod_spec(set, &mut |namespace, spec, src, path, what| {
        for r in config_refs(spec) {
            if r.unresolved(namespace, created_later).is_none() {
                continue;
            }
            let Some(problem) = r.unresolved(namespace, &present) else {
                continue;
            };
            let (status, retry) = match r.usage {
                ConfigUse::Volume(_) => ("ContainerCreating", "FailedMount"),
                ConfigUse::Env => ("CreateContainerConfigError", "Failed"),
            };
            diags.push(src.warning(
                &format!("{path}.{}", r.field),
                format!(
                    "the pods of {what} will not start: the kubelet would say {:?}; they wait in {status} ({retry} events) until the manifests or an `apply` event provide it",
                    problem.message
                ),
            ));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::config::Unresolved;

    fn spec(yaml: &str) -> PodSpec {
        let docs = crate::scenario::yaml::parse_documents(yaml).expect("valid YAML");
        crate::scenario::de::decode(&docs[0], "")
            .expect("a pod spec")
            .0
    }

    fn config_map(name: &str, data: &[&str], binary: &[&str]) -> ConfigObject {
        ConfigObject {
            kind: ConfigKind::ConfigMap,
            namespace: "default".into(),
            name: name.into(),
            env_keys: data.iter().map(|k| k.to_string()).collect(),
            volume_keys: data.iter().chain(binary).map(|k| k.to_string()).collect(),
        }
    }

    const POD: &str = "
volumes:
  - name: config
    configMap: {name: app, items: [{key: app.conf, path: app.conf}]}
  - name: maybe
    secret: {secretName: tls, optional: true}
initContainers:
  - name: migrate
    image: m
    env: [{name: DB, valueFrom: {secretKeyRef: {name: db, key: password}}}]
containers:
  - name: web
    image: w
    envFrom: [{configMapRef: {name: app}}, {secretRef: {name: extra, optional: true}}]
    env:
      - {name: LEVEL, valueFrom: {configMapKeyRef: {name: app, key: level}}}
      - {name: OPT, valueFrom: {configMapKeyRef: {name: app, key: opt, optional: true}}}
";

    #[test]
    fn references_come_in_the_kubelets_order_without_optional_ones() {
        let refs = config_refs(&spec(POD));
        let fields: Vec<&str> = refs.iter().map(|r| r.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "volumes[0].configMap",
                "initContainers[0].env[0].valueFrom.secretKeyRef",
                "containers[0].envFrom[0].configMapRef",
                "containers[0].env[0].valueFrom.configMapKeyRef",
            ]
        );
        assert_eq!(refs[0].keys, ["app.conf"]);
        assert_eq!(refs[0].usage, ConfigUse::Volume("config".into()));
    }

    #[test]
    fn the_first_failing_reference_is_reported_in_the_kubelets_words() {
        let refs = config_refs(&spec(POD));
        let mut objects = ConfigObjects::default();
        let first = |o: &ConfigObjects| first_unresolved(&refs, "default", o);
        // Nothing exists: the volume fails to mount first.
        assert_eq!(
            first(&objects),
            Some(Unresolved {
                mount: true,
                message:
                    "MountVolume.SetUp failed for volume \"config\" : configmap \"app\" not found"
                        .into()
            })
        );
        // The ConfigMap has the key only as binaryData: a volume may project it, the
        // environment may not read `level` from there.
        objects.put(config_map("app", &[], &["app.conf", "level"]));
        assert_eq!(
            first(&objects).map(|u| u.message),
            Some("Error: secret \"db\" not found".into())
        );
        let mut secret = config_map("db", &["password"], &[]);
        secret.kind = ConfigKind::Secret;
        objects.put(secret);
        assert_eq!(
            first(&objects),
            Some(Unresolved {
                mount: false,
                message: "Error: couldn't find key level in ConfigMap default/app".into()
            })
        );
        objects.put(config_map("app", &["level", "app.conf"], &[]));
        assert_eq!(first(&objects), None);
        // In another namespace none of them exists.
        assert!(first_unresolved(&refs, "batch", &objects).is_some());
    }

    #[test]
    fn a_volume_item_naming_a_missing_key_fails_the_mount() {
        let refs = config_refs(&spec(
            "containers: [{name: a}]\nvolumes: [{name: v, secret: {secretName: s, items: [{key: k, path: p}]}}]",
        ));
        let mut objects = ConfigObjects::default();
        let mut s = config_map("s", &["other"], &[]);
        s.kind = ConfigKind::Secret;
        objects.put(s);
        assert_eq!(
            first_unresolved(&refs, "default", &objects).map(|u| u.message),
            Some(
                "MountVolume.SetUp failed for volume \"v\" : references non-existent secret key: k"
                    .into()
            )
        );
    }
}
