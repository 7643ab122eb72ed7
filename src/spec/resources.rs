//! Resource amounts as the scheduler and kubelet account them: CPU in millicores, memory and
//! ephemeral storage in bytes, extended resources (`nvidia.com/gpu`, …) as whole numbers.

use std::collections::BTreeMap;

/// The `cpu` resource name (kept in millicores).
pub const CPU: &str = "cpu";
/// The `memory` resource name (bytes).
pub const MEMORY: &str = "memory";
/// The `ephemeral-storage` resource name (bytes).
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
/// The `pods` resource name (a node's pod capacity).
pub const PODS: &str = "pods";
/// The GPU extended resource (`nvidia.com/gpu`), kept in its own slot.
pub const GPU: &str = "nvidia.com/gpu";
/// The taint key of a cordoned node (`spec.unschedulable`).
pub const UNSCHEDULABLE_TAINT_KEY: &str = "node.kubernetes.io/unschedulable";
/// The taint of a node whose kubelet stopped posting status (Ready condition `Unknown`).
pub const UNREACHABLE_TAINT_KEY: &str = "node.kubernetes.io/unreachable";

/// The taints every DaemonSet pod tolerates (`AddOrUpdateDaemonPodTolerations`).
pub fn daemon_set_tolerations() -> Vec<Toleration> {
    [
        ("node.kubernetes.io/not-ready", TaintEffect::NoExecute),
        (UNREACHABLE_TAINT_KEY, TaintEffect::NoExecute),
        ("node.kubernetes.io/disk-pressure", TaintEffect::NoSchedule),
        (
            "node.kubernetes.io/memory-pressure",
            TaintEffect::NoSchedule,
        ),
        ("node.kubernetes.io/pid-pressure", TaintEffect::NoSchedule),
        (UNSCHEDULABLE_TAINT_KEY, TaintEffect::NoSchedule),
    ]
    .into_iter()
    .map(|(key, effect)| Toleration {
        key: key.into(),
        exists: true,
        value: String::new(),
        effect: Some(effect),
        seconds: None,
    })
    .collect()
}

/// An amount of each resource. `nvidia.com/gpu` has its own field (the scheduler checks it on
/// every node for GPU pods); other extended resources are kept in a sorted map for
/// deterministic iteration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU in millicores.
    pub cpu_millis: i64,
    /// Memory in bytes.
    pub memory_bytes: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage_bytes: i64,
    /// Whole GPUs (`nvidia.com/gpu`).
    pub gpus: i64,
    /// Other extended resources by name, in their integer units.
    pub extended: BTreeMap<String, i64>,
}

impl Resources {
    /// Adds `other` field by field.
    pub fn add(&mut self, other: &Resources) {
        self.cpu_millis += other.cpu_millis;
        self.memory_bytes += other.memory_bytes;
        self.ephemeral_storage_bytes += other.ephemeral_storage_bytes;
        self.gpus += other.gpus;
        for (name, v) in &other.extended {
            *self.extended.entry(name.clone()).or_insert(0) += v;
        }
    }

    /// Subtracts `other` field by field.
    pub fn subtract(&mut self, other: &Resources) {
        self.cpu_millis -= other.cpu_millis;
        self.memory_bytes -= other.memory_bytes;
        self.ephemeral_storage_bytes -= other.ephemeral_storage_bytes;
        self.gpus -= other.gpus;
        for (name, v) in &other.extended {
            *self.extended.entry(name.clone()).or_insert(0) -= v;
        }
    }

    /// Per-resource maximum (the init-container rule of `PodRequests`).
    pub fn max_each(&mut self, other: &Resources) {
        self.cpu_millis = self.cpu_millis.max(other.cpu_millis);
        self.memory_bytes = self.memory_bytes.max(other.memory_bytes);
        self.ephemeral_storage_bytes = self
            .ephemeral_storage_bytes
            .max(other.ephemeral_storage_bytes);
        self.gpus = self.gpus.max(other.gpus);
        for (name, v) in &other.extended {
            let e = self.extended.entry(name.clone()).or_insert(0);
            *e = (*e).max(*v);
        }
    }

    /// The amount of a named resource (0 when absent).
    #[inline]
    pub fn get(&self, name: &str) -> i64 {
        // Length first: the comparisons against constants then compile to a few loads, which
        // matters on the scheduler's per-node path.
        match name.len() {
            3 if name == CPU => self.cpu_millis,
            6 if name == MEMORY => self.memory_bytes,
            17 if name == EPHEMERAL_STORAGE => self.ephemeral_storage_bytes,
            14 if name == GPU => self.gpus,
            _ if self.extended.is_empty() => 0,
            _ => self.extended.get(name).copied().unwrap_or(0),
        }
    }

    /// The extended resources other than GPUs this request asks more of than `allocatable −
    /// requested` leaves, by name (the cluster's node rows count the fixed-slot ones,
    /// `cluster::node_row::NodeRow::shortfalls`).
    pub fn extended_shortfalls<'p>(
        &'p self,
        allocatable: &Resources,
        requested: &Resources,
    ) -> impl Iterator<Item = &'p str> {
        self.extended.iter().filter_map(move |(name, &want)| {
            let free = allocatable.extended.get(name).copied().unwrap_or(0)
                - requested.extended.get(name).copied().unwrap_or(0);
            (want > 0 && want > free).then_some(name.as_str())
        })
    }

    /// Sets a named resource (`cpu` in millicores, `memory`/`ephemeral-storage` in bytes).
    pub fn set(&mut self, name: &str, value: i64) {
        match name {
            CPU => self.cpu_millis = value,
            MEMORY => self.memory_bytes = value,
            EPHEMERAL_STORAGE => self.ephemeral_storage_bytes = value,
            GPU => self.gpus = value,
            other => {
                self.extended.insert(other.to_string(), value);
            }
        }
    }

    /// The resources with a non-zero amount, as `(name, amount)`, in a fixed order (cpu,
    /// memory, ephemeral-storage, then extended resources by name). No allocation.
    pub fn nonzero(&self) -> impl Iterator<Item = (&str, i64)> {
        use std::ops::Bound::{Excluded, Unbounded};
        let below = self.extended.range::<str, _>((Unbounded, Excluded(GPU)));
        let above = self.extended.range::<str, _>((Excluded(GPU), Unbounded));
        [
            (CPU, self.cpu_millis),
            (MEMORY, self.memory_bytes),
            (EPHEMERAL_STORAGE, self.ephemeral_storage_bytes),
        ]
        .into_iter()
        .chain(below.map(|(k, v)| (k.as_str(), *v)))
        .chain(std::iter::once((GPU, self.gpus)))
        .chain(above.map(|(k, v)| (k.as_str(), *v)))
        .filter(|(_, v)| *v != 0)
    }

    /// Names of the resources with a non-zero amount, in the order of [`Resources::nonzero`].
    pub fn nonzero_names(&self) -> Vec<&str> {
        self.nonzero().map(|(name, _)| name).collect()
    }
}

/// Taint effects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaintEffect {
    /// New pods without a toleration are not scheduled here.
    NoSchedule,
    /// The scheduler avoids the node for such pods when it can.
    PreferNoSchedule,
    /// Pods without a toleration are not scheduled here, and running ones are evicted.
    NoExecute,
}

impl TaintEffect {
    /// The effect as written in a manifest, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "NoSchedule" => Some(Self::NoSchedule),
            "PreferNoSchedule" => Some(Self::PreferNoSchedule),
            "NoExecute" => Some(Self::NoExecute),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
/// A node taint.
pub struct Taint {
    /// `key`.
    pub key: String,
    /// `value` (may be empty).
    pub value: String,
    /// `effect`.
    pub effect: TaintEffect,
}

/// A pod toleration (`operator` Equal or Exists; an empty key with Exists tolerates everything).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toleration {
    /// `key` (empty with `exists`: every key).
    pub key: String,
    /// `operator: Exists` (else Equal).
    pub exists: bool,
    /// `value` (Equal only).
    pub value: String,
    /// `None` tolerates every effect.
    pub effect: Option<TaintEffect>,
    /// `tolerationSeconds`: how long a NoExecute taint is tolerated (`None`: for ever).
    pub seconds: Option<i64>,
}

impl Toleration {
    /// `v1.Toleration.ToleratesTaint`.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.effect.is_some_and(|e| e != taint.effect) {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        if self.exists {
            return true;
        }
        self.value == taint.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_container_rule_takes_the_max_per_resource() {
        // app containers sum to cpu 300m / 1 GiB; an init container needs 500m / 256 MiB
        // → pod request = (max(300, 500), max(1Gi, 256Mi)) = (500m, 1Gi).
        let mut pod = Resources {
            cpu_millis: 300,
            memory_bytes: 1 << 30,
            ..Default::default()
        };
        let init = Resources {
            cpu_millis: 500,
            memory_bytes: 256 << 20,
            ..Default::default()
        };
        pod.max_each(&init);
        assert_eq!((pod.cpu_millis, pod.memory_bytes), (500, 1 << 30));
    }

    #[test]
    fn toleration_table() {
        let taint = Taint {
            key: "gpu".into(),
            value: "true".into(),
            effect: TaintEffect::NoSchedule,
        };
        let tol = |key: &str, exists: bool, value: &str, effect: Option<TaintEffect>| Toleration {
            key: key.into(),
            exists,
            value: value.into(),
            effect,
            seconds: None,
        };
        assert!(tol("gpu", false, "true", Some(TaintEffect::NoSchedule)).tolerates(&taint));
        assert!(tol("gpu", true, "", None).tolerates(&taint));
        assert!(tol("", true, "", None).tolerates(&taint)); // tolerate everything
        assert!(!tol("gpu", false, "false", None).tolerates(&taint));
        assert!(!tol("gpu", true, "", Some(TaintEffect::NoExecute)).tolerates(&taint));
    }
}
