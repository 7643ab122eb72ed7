//! ConfigMaps and Secrets as the kubelet sees them: which keys each has, a pod template's
//! references to them, and the kubelet's error when a reference does not resolve. Reading them
//! from manifests, and when a pod waits for them, is `scenario::config_refs`' and the engine's.

use std::collections::{BTreeMap, BTreeSet};

/// ConfigMap or Secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConfigKind {
    /// A ConfigMap.
    ConfigMap,
    /// A Secret.
    Secret,
}

impl ConfigKind {
    /// The kind as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigKind::ConfigMap => "ConfigMap",
            ConfigKind::Secret => "Secret",
        }
    }

    /// The resource's name in the kubelet's "not found" errors.
    fn lower(self) -> &'static str {
        match self {
            ConfigKind::ConfigMap => "configmap",
            ConfigKind::Secret => "secret",
        }
    }
}

/// One ConfigMap or Secret: which keys it has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigObject {
    /// ConfigMap or Secret.
    pub kind: ConfigKind,
    /// `metadata.namespace` (`default` when not given).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// Keys a container's environment can read (a ConfigMap's `data`; a Secret's `data` and
    /// `stringData`).
    pub env_keys: BTreeSet<String>,
    /// Keys a volume can project (the above and a ConfigMap's `binaryData`).
    pub volume_keys: BTreeSet<String>,
}

/// The ConfigMaps and Secrets that exist, by (kind, namespace, name).
#[derive(Clone, Debug, Default)]
pub struct ConfigObjects {
    objects: BTreeMap<(ConfigKind, String, String), ConfigObject>,
}

impl ConfigObjects {
    /// Creates `object`, or replaces the one of that kind, namespace and name.
    pub fn put(&mut self, object: ConfigObject) {
        let key = (object.kind, object.namespace.clone(), object.name.clone());
        self.objects.insert(key, object);
    }

    /// The object of that kind, namespace and name, if it exists.
    pub fn get(&self, kind: ConfigKind, namespace: &str, name: &str) -> Option<&ConfigObject> {
        self.objects
            .get(&(kind, namespace.to_string(), name.to_string()))
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// The objects, by kind, namespace and name.
    pub fn into_objects(self) -> Vec<ConfigObject> {
        self.objects.into_values().collect()
    }
}

/// How a pod uses a ConfigMap or Secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigUse {
    /// Mounted as the volume of that name.
    Volume(String),
    /// Read into a container's environment.
    Env,
}

/// One reference of a pod template to a ConfigMap or Secret that is not optional, in the
/// kubelet's order (volumes, then each container's `envFrom` and `env`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigRef {
    /// What it refers to: a ConfigMap or a Secret.
    pub kind: ConfigKind,
    /// The object's name (in the pod's namespace).
    pub name: String,
    /// The keys it needs (a variable's key, or a volume's `items`; none: the object will do).
    pub keys: Vec<String>,
    /// As a volume or in the environment.
    pub usage: ConfigUse,
    /// Where it is written, relative to the pod spec (`containers[0].envFrom[1].configMapRef`).
    pub field: String,
}

/// Why a pod cannot start yet: the kubelet's message, and whether it is a volume that failed
/// to mount (else the container's configuration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unresolved {
    /// A volume failed to mount (`FailedMount`); else the container's configuration did
    /// (`CreateContainerConfigError`).
    pub mount: bool,
    /// The kubelet's event message.
    pub message: String,
}

impl ConfigRef {
    /// The kubelet's error when this reference does not resolve in `namespace`, if it does not.
    pub fn unresolved(&self, namespace: &str, objects: &ConfigObjects) -> Option<Unresolved> {
        let object = objects.get(self.kind, namespace, &self.name);
        let problem = match object {
            None => format!("{} {:?} not found", self.kind.lower(), self.name),
            Some(o) => {
                let have = match self.usage {
                    ConfigUse::Env => &o.env_keys,
                    ConfigUse::Volume(_) => &o.volume_keys,
                };
                let missing = self.keys.iter().find(|k| !have.contains(*k))?;
                self.missing_key(namespace, missing)
            }
        };
        Some(match &self.usage {
            ConfigUse::Env => Unresolved {
                mount: false,
                message: format!("Error: {problem}"),
            },
            ConfigUse::Volume(volume) => Unresolved {
                mount: true,
                message: format!("MountVolume.SetUp failed for volume {volume:?} : {problem}"),
            },
        })
    }

    fn missing_key(&self, namespace: &str, key: &str) -> String {
        match (&self.usage, self.kind) {
            (ConfigUse::Env, kind) => format!(
                "couldn't find key {key} in {} {namespace}/{}",
                kind.as_str(),
                self.name
            ),
            (ConfigUse::Volume(_), ConfigKind::ConfigMap) => {
                format!("configmap references non-existent config key: {key}")
            }
            (ConfigUse::Volume(_), ConfigKind::Secret) => {
                format!("references non-existent secret key: {key}")
            }
        }
    }
}

/// The first of `refs` that does not resolve in `namespace`, as the kubelet meets them.
pub fn first_unresolved(
    refs: &[ConfigRef],
    namespace: &str,
    objects: &ConfigObjects,
) -> Option<Unresolved> {
    refs.iter().find_map(|r| r.unresolved(namespace, objects))
}
