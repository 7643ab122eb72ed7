//! `--set` overrides, applied to the documents before anything is decoded, so an overridden
//! value is validated exactly as if it had been written in the file.
//!
//! Two forms:
//! - `PATH=VALUE` sets a field of the scenario document (`spec.` may be omitted):
//!   `duration=30m`, `workloads[0].concurrency=8`;
//! - `KIND/NAME:PATH=VALUE` or `KIND/NAMESPACE/NAME:PATH=VALUE` sets a field of a manifest
//!   object, named the way `kubectl` names objects (`Deployment/web`, `deploy/web`,
//!   `hpa/prod/web`; the kind is the manifest's `kind` or a kubectl short name, in any case; no
//!   namespace means `default`):
//!   `Deployment/web:spec.template.spec.containers[0].resources.requests.cpu=500m`,
//!   `HorizontalPodAutoscaler/web:spec.minReplicas=6`.
//!
//! VALUE is read as YAML (`6` is a number, `[a, b]` a list, `500m` a string); a path may create
//! mapping keys but not list items. An object override that names no object is an error naming
//! the objects of that kind that do exist.

use super::diag::{Diagnostic, Severity};
use super::yaml::{Node, Position, Value, parse_documents};

/// One parsed `--set`.
#[derive(Clone, Debug, PartialEq)]
pub enum Override {
    /// A field of the scenario document (full path, `spec.` included).
    Scenario { path: String, value: Value },
    /// A field of a manifest object.
    Object(ObjectOverride),
}

/// `KIND/[NAMESPACE/]NAME:PATH=VALUE`.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectOverride {
    /// The kind as the manifests spell it (`Deployment`), short names resolved.
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub path: String,
    pub value: Value,
    /// The assignment as given, for messages.
    pub text: String,
    /// Its place among the `--set`s ([`position_of`]).
    pub index: usize,
}

/// kubectl's short names for the kinds kubesim reads.
const SHORT_NAMES: &[(&str, &str)] = &[
    ("deploy", "Deployment"),
    ("sts", "StatefulSet"),
    ("ds", "DaemonSet"),
    ("hpa", "HorizontalPodAutoscaler"),
    ("svc", "Service"),
    ("pdb", "PodDisruptionBudget"),
    ("pc", "PriorityClass"),
    ("rs", "ReplicaSet"),
    ("cm", "ConfigMap"),
    ("so", "ScaledObject"),
    ("vpa", "VerticalPodAutoscaler"),
    ("cj", "CronJob"),
    ("po", "Pod"),
    ("limits", "LimitRange"),
    ("quota", "ResourceQuota"),
    ("rc", "ReplicationController"),
    ("ns", "Namespace"),
    ("ing", "Ingress"),
];

/// Kinds kubesim reads, for spelling a kind given in another case.
const KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "HorizontalPodAutoscaler",
    "Service",
    "PodDisruptionBudget",
    "PriorityClass",
    "Ingress",
    "KubeSchedulerConfiguration",
    "ScaledObject",
    "VerticalPodAutoscaler",
    "Job",
    "CronJob",
    "Pod",
    "LimitRange",
    "ResourceQuota",
    "ConfigMap",
    "Secret",
    "ReplicationController",
    "ReplicaSet",
    "Namespace",
    "NodePool",
    "EC2NodeClass",
];

/// Where the value of the `index`-th `--set` is said to be: line 0 (no file has one), column
/// index + 1. Every node of an overridden value carries it, so a diagnostic about the value can
/// be given back to its `--set` ([`attribute`]) instead of pointing into a file.
pub fn position_of(index: usize) -> Position {
    Position {
        line: 0,
        column: u32::try_from(index + 1).unwrap_or(u32::MAX),
    }
}

/// `value` as a node of the `index`-th `--set` (itself and everything in it).
pub fn node_of(value: Value, index: usize) -> Node {
    let position = position_of(index);
    let value = match value {
        Value::Seq(items) => {
            Value::Seq(items.into_iter().map(|n| node_of(n.value, index)).collect())
        }
        Value::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (node_of(k.value, index), node_of(v.value, index)))
                .collect(),
        ),
        scalar => scalar,
    };
    Node { value, position }
}

/// An error about the `index`-th override itself (it cannot be parsed or applied), to be given
/// to it by [`attribute`].
pub fn error(index: usize, message: impl Into<String>) -> Diagnostic {
    Diagnostic::error("--set", Some(position_of(index)), "", message)
}

/// An assignment as shown in a message: whole up to 200 characters, else its start and how long
/// it is.
fn shortened(text: &str) -> String {
    match text.char_indices().nth(200) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}… ({} characters)", &text[..cut], text.chars().count()),
    }
}

/// Gives diagnostics about overridden values to their `--set`: `--set duration=abc:
/// spec.duration: …` instead of a line of the scenario file that does not say `abc`.
pub fn attribute(diags: &mut [Diagnostic], assignments: &[String]) {
    for d in diags.iter_mut() {
        let Some(p) = d.position.filter(|p| p.line == 0) else {
            continue;
        };
        if let Some(text) = assignments.get((p.column as usize).wrapping_sub(1)) {
            d.file = format!("--set {}", shortened(text));
            d.position = None;
            promote_unknown_field(d);
        }
    }
}

/// A field an override creates that the object does not have would change nothing: an error,
/// where the same field written in a manifest is only a warning.
fn promote_unknown_field(d: &mut Diagnostic) {
    if d.severity == Severity::Warning && d.message.starts_with("unknown field") {
        d.severity = Severity::Error;
        d.message = match d.message.strip_suffix("; it is ignored") {
            Some(m) => format!("{m}: this override would change nothing"),
            None => d.message.clone(),
        };
    }
}

/// Parses one `--set` assignment.
pub fn parse(assignment: &str) -> Result<Override, String> {
    let (target, value_text) = assignment.split_once('=').ok_or_else(|| {
        "not PATH=VALUE (e.g. duration=1h, or Deployment/web:spec.replicas=3)".to_string()
    })?;
    let value = parse_value(value_text);
    match target.split_once(':') {
        Some((object, path)) => parse_object(object.trim(), path.trim(), value, assignment),
        None => Ok(Override::Scenario {
            path: scenario_path(target.trim())?,
            value,
        }),
    }
}

fn parse_value(text: &str) -> Value {
    match parse_documents(text) {
        Ok(mut docs) if docs.len() == 1 => docs.remove(0).value,
        Ok(docs) if docs.is_empty() => Value::Null,
        _ => Value::String(text.to_string()),
    }
}

/// The scenario path with `spec.` added when it starts below the spec.
fn scenario_path(path: &str) -> Result<String, String> {
    check_path(path)?;
    let first = path.split(['.', '[']).next().unwrap_or("");
    Ok(match first {
        "apiVersion" | "kind" | "metadata" | "spec" => path.to_string(),
        _ => format!("spec.{path}"),
    })
}

/// The deepest field path a `--set` may name: deeper than any manifest (a path of tens of
/// thousands of segments built as deep a document, and overflowed the stack).
const MAX_PATH_SEGMENTS: usize = 64;

/// A path must name a field: no empty segment (`spec..x`, a leading or trailing dot), and no
/// deeper than [`MAX_PATH_SEGMENTS`].
fn check_path(path: &str) -> Result<(), String> {
    let segments = path.split('.').count() + path.matches('[').count();
    if segments > MAX_PATH_SEGMENTS {
        return Err(format!(
            "a field path of {segments} keys and list items: at most {MAX_PATH_SEGMENTS}"
        ));
    }
    let bad = path.is_empty()
        || path.split('.').any(|segment| {
            let key = segment.split('[').next().unwrap_or("");
            key.is_empty() && !segment.starts_with('[')
        });
    if bad {
        return Err(format!(
            "{path:?} is not a field path (keys joined by '.', list items as [N], e.g. spec.replicas)"
        ));
    }
    Ok(())
}

fn parse_object(
    object: &str,
    path: &str,
    value: Value,
    assignment: &str,
) -> Result<Override, String> {
    let parts: Vec<&str> = object.split('/').collect();
    let (kind, namespace, name) = match parts[..] {
        [kind, name] => (kind, "default", name),
        [kind, namespace, name] => (kind, namespace, name),
        _ => {
            return Err(format!(
                "{object:?} does not name an object: write KIND/NAME or KIND/NAMESPACE/NAME (e.g. Deployment/web)"
            ));
        }
    };
    if kind.is_empty() || namespace.is_empty() || name.is_empty() {
        return Err(format!(
            "{object:?} has an empty part: write KIND/NAME or KIND/NAMESPACE/NAME"
        ));
    }
    check_path(path)?;
    Ok(Override::Object(ObjectOverride {
        kind: canonical_kind(kind),
        namespace: namespace.to_string(),
        name: name.to_string(),
        path: path.to_string(),
        value,
        text: assignment.to_string(),
        index: 0,
    }))
}

/// The kind as manifests spell it: a short name resolved, a known kind in its own case.
fn canonical_kind(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if let Some((_, full)) = SHORT_NAMES.iter().find(|(short, _)| *short == lower) {
        return full.to_string();
    }
    KINDS
        .iter()
        .find(|k| k.to_ascii_lowercase() == lower)
        .map_or_else(|| kind.to_string(), |k| k.to_string())
}

/// The object overrides of a load, with how often each matched, applied to manifest documents
/// as they are read.
#[derive(Debug, Default)]
pub struct ObjectOverrides {
    list: Vec<(ObjectOverride, usize)>,
    /// Every object seen (kind, namespace, name), for hints.
    seen: Vec<(String, String, String)>,
}

impl ObjectOverrides {
    pub fn new(list: Vec<ObjectOverride>) -> Self {
        ObjectOverrides {
            list: list.into_iter().map(|o| (o, 0)).collect(),
            seen: Vec::new(),
        }
    }

    /// Applies the overrides naming each document's object to it; returns the errors (a path
    /// that cannot be set), each with its override's index.
    pub fn apply(&mut self, docs: &mut [Node]) -> Vec<(usize, String)> {
        let mut errors = Vec::new();
        for doc in docs.iter_mut() {
            let (kind, namespace, name) = identity(doc);
            for (o, matched) in &mut self.list {
                if o.kind == kind && o.namespace == namespace && o.name == name {
                    *matched += 1;
                    if let Err(e) = doc.replace(&o.path, node_of(o.value.clone(), o.index)) {
                        errors.push((o.index, e));
                    }
                }
            }
            self.seen.push((kind, namespace, name));
        }
        errors
    }

    /// Errors for the overrides that named no object, each with the objects of its kind and
    /// with its override's index.
    pub fn unmatched(&self) -> Vec<(usize, String)> {
        self.list
            .iter()
            .filter(|(_, matched)| *matched == 0)
            .map(|(o, _)| {
                let same_kind: Vec<String> = self
                    .seen
                    .iter()
                    .filter(|(kind, _, _)| *kind == o.kind)
                    .map(|(_, ns, name)| format!("{}/{ns}/{name}", o.kind))
                    .collect();
                let hint = match same_kind.is_empty() {
                    true => format!("the manifests have no {}", o.kind),
                    false => format!("there are: {}", same_kind.join(", ")),
                };
                let message = format!(
                    "no {} named {:?} in namespace {:?} ({hint})",
                    o.kind, o.name, o.namespace
                );
                (o.index, message)
            })
            .collect()
    }
}

/// A document's kind, namespace (`default` when absent) and name.
fn identity(doc: &Node) -> (String, String, String) {
    let text = |path: &str| {
        let mut node = Some(doc);
        for key in path.split('.') {
            node = node.and_then(|n| n.get(key));
        }
        node.and_then(Node::as_str).map(str::to_string)
    };
    (
        text("kind").unwrap_or_default(),
        text("metadata.namespace").unwrap_or_else(|| "default".into()),
        text("metadata.name").unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(text: &str) -> ObjectOverride {
        match parse(text) {
            Ok(Override::Object(o)) => o,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn object_overrides_name_objects_as_kubectl_does() {
        let o = object("deploy/web:spec.replicas=6");
        assert_eq!(
            (o.kind.as_str(), o.namespace.as_str(), o.name.as_str()),
            ("Deployment", "default", "web")
        );
        assert_eq!(o.path, "spec.replicas");
        assert_eq!(o.value, Value::Int(6));
        let o = object("HPA/prod/web:spec.minReplicas=3");
        assert_eq!(
            (o.kind.as_str(), o.namespace.as_str()),
            ("HorizontalPodAutoscaler", "prod")
        );
        // Every kind kubesim reads is spelt as its manifests spell it (this was "job", unknown,
        // before), and kubectl's short names work for them.
        for (given, kind) in [
            ("job", "Job"),
            ("cj", "CronJob"),
            ("limits", "LimitRange"),
            ("Quota", "ResourceQuota"),
        ] {
            assert_eq!(object(&format!("{given}/x:spec.a=1")).kind, kind, "{given}");
        }
        // A value with ':' and '=' after the first '=' stays whole.
        let o = object("Deployment/web:metadata.annotations.note=a:b=c");
        assert_eq!(o.value, Value::String("a:b=c".into()));
    }

    #[test]
    fn scenario_overrides_keep_todays_paths() {
        let cases = [
            ("duration=30m", "spec.duration"),
            ("spec.duration=30m", "spec.duration"),
            (
                "workloads[0].concurrency=8",
                "spec.workloads[0].concurrency",
            ),
            ("metadata.name=x", "metadata.name"),
        ];
        for (text, path) in cases {
            match parse(text) {
                Ok(Override::Scenario { path: p, .. }) => assert_eq!(p, path, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_overrides_say_what_is_wrong() {
        let cases = [
            ("duration", "not PATH=VALUE"),
            ("=5m", "is not a field path"),
            ("spec..duration=5m", "is not a field path"),
            ("spec.=5m", "is not a field path"),
            ("Deployment:spec.replicas=3", "does not name an object"),
            (
                "Deployment/a/b/c:spec.replicas=3",
                "does not name an object",
            ),
            ("Deployment//web:spec.replicas=3", "has an empty part"),
            ("Deployment/web:=3", "is not a field path"),
        ];
        for (text, needle) in cases {
            let err = parse(text).expect_err(text);
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn unmatched_object_overrides_list_the_objects_of_their_kind() {
        let docs = "kind: Deployment\nmetadata: {name: web}\nspec: {replicas: 1}\n---\nkind: Deployment\nmetadata: {name: db, namespace: data}\n";
        let mut docs = parse_documents(docs).unwrap();
        let mut set = ObjectOverrides::new(
            [
                "Deployment/web:spec.replicas=4",
                "Deployment/webx:spec.replicas=4",
                "hpa/web:spec.minReplicas=2",
            ]
            .iter()
            .enumerate()
            .map(|(index, text)| ObjectOverride {
                index,
                ..object(text)
            })
            .collect(),
        );
        assert!(set.apply(&mut docs).is_empty());
        assert_eq!(
            docs[0]
                .get("spec")
                .and_then(|s| s.get("replicas"))
                .map(|n| &n.value),
            Some(&Value::Int(4))
        );
        let errors = set.unmatched();
        assert_eq!(errors.len(), 2, "{errors:?}");
        let (index, message) = &errors[0];
        assert!(
            *index == 1
                && message.contains("no Deployment named \"webx\"")
                && message.contains("Deployment/default/web, Deployment/data/db"),
            "{errors:?}"
        );
        let (index, message) = &errors[1];
        assert!(
            *index == 2 && message.contains("the manifests have no HorizontalPodAutoscaler"),
            "{errors:?}"
        );
    }
}
