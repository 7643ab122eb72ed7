//! LimitRanges (`v1`), applied as the LimitRanger admission plugin applies them when a pod is
//! created: a container without a request or limit for a resource gets its namespace's
//! default, and a pod outside a `min`/`max`/`maxLimitRequestRatio` is forbidden.
//!
//! The order is upstream's: the pod's own API defaulting first (a container with a limit and
//! no request requests its limit), then the LimitRange's defaults (`default` limits,
//! `defaultRequest` requests — themselves defaulted from `max` and `min` by the LimitRange's
//! API defaulting), then the checks. kubesim applies them to every pod template in the
//! manifests before reading them; a template whose pods would be forbidden is an error, since
//! its controller could never create a pod (Kubernetes would log `FailedCreate` forever).
//! The templates of scripted `apply` events go through the scenario's LimitRanges too.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, LimitRange, LimitRangeItem, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::diag::Diagnostic;
use super::manifest::{Manifest, ManifestSet, Source, namespace_of, resource_amount};
use crate::spec::resources;
use crate::spec::vpa::{CpuMemory, LimitRangeBounds, NamespaceLimitRange};

type ResourceList = BTreeMap<String, Quantity>;

/// One `type: Container` or `type: Pod` item, with the LimitRange's name.
struct Item {
    range: String,
    kind: ItemKind,
    default_limits: ResourceList,
    default_requests: ResourceList,
    min: ResourceList,
    max: ResourceList,
    max_ratio: ResourceList,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ItemKind {
    Container,
    Pod,
}

/// Applies every namespace's LimitRanges to the pod templates of the set.
pub fn admit(set: &mut ManifestSet, diags: &mut Vec<Diagnostic>) {
    let mut by_namespace: BTreeMap<String, Vec<Item>> = BTreeMap::new();
    for m in &set.limit_ranges {
        if !validate(m, diags) {
            continue; // the API server would not have it: no pod meets it
        }
        let namespace = namespace_of(&m.object.metadata);
        by_namespace.entry(namespace).or_default().extend(items(m));
    }
    if by_namespace.is_empty() {
        return;
    }
    for_each_pod_spec(set, &mut |namespace, spec, src, path, what| {
        if let Some(items) = by_namespace.get(namespace) {
            admit_pod(spec, items, src, path, what, diags);
        }
    });
}

/// `ValidateLimitRange`: each item's type is Container, Pod or PersistentVolumeClaim (or a
/// qualified name with a prefix) and appears once; a Pod item has no defaults; amounts are not
/// negative; and for each resource min ≤ defaultRequest ≤ default ≤ max, min ≤ max, and
/// 1 ≤ maxLimitRequestRatio ≤ max/min — in the API server's words. False when it is refused.
fn validate(m: &Manifest<LimitRange>, diags: &mut Vec<Diagnostic>) -> bool {
    let before = diags.len();
    let limits = m.object.spec.as_ref().map_or(&[][..], |s| &s.limits[..]);
    let mut seen = std::collections::BTreeSet::new();
    for (i, item) in limits.iter().enumerate() {
        let path = format!("spec.limits[{i}]");
        let mut fail = |field: &str, message: String| {
            diags.push(m.source.error(&format!("{path}.{field}"), message));
        };
        let standard = ["Container", "Pod", "PersistentVolumeClaim"];
        if !standard.contains(&item.type_.as_str()) && !item.type_.contains('/') {
            let message = format!(
                "Invalid value: {:?}: must be a standard limit type or fully qualified (Container, Pod or PersistentVolumeClaim)",
                item.type_
            );
            fail("type", message);
        }
        if !seen.insert(item.type_.as_str()) {
            fail("type", format!("Duplicate value: {:?}", item.type_));
        }
        if item.type_ == "Pod" {
            for (field, list) in [
                ("default", &item.default),
                ("defaultRequest", &item.default_request),
            ] {
                if list.as_ref().is_some_and(|l| !l.is_empty()) {
                    fail(
                        field,
                        "Forbidden: may not be specified when `type` is 'Pod'".into(),
                    );
                }
            }
        }
        validate_item_amounts(item, &mut fail);
    }
    diags.len() == before
}

/// The amounts of one item, per resource (`validate`'s second half).
fn validate_item_amounts(item: &LimitRangeItem, fail: &mut impl FnMut(&str, String)) {
    let lists = [
        ("min", &item.min),
        ("max", &item.max),
        ("default", &item.default),
        ("defaultRequest", &item.default_request),
        ("maxLimitRequestRatio", &item.max_limit_request_ratio),
    ];
    let mut amounts: BTreeMap<&str, [Amount; 5]> = BTreeMap::new();
    for (slot, (field, list)) in lists.iter().enumerate() {
        for (k, q) in list.iter().flat_map(|l| l.iter()) {
            match crate::cluster::quantity::Quantity::parse(&q.0) {
                Ok(v) if v.is_negative() => {
                    fail(
                        &format!("{field}.{k}"),
                        format!("{:?} must be greater than or equal to 0", q.0),
                    );
                }
                Ok(v) => {
                    amounts.entry(k.as_str()).or_default()[slot] = Some((q.0.as_str(), v.nanos()))
                }
                Err(_) => {} // reported where the amount is read
            }
        }
    }
    for (k, [min, max, default, request, ratio]) in amounts {
        let mut above = |field: &str, low: Amount, high: Amount, words: (&str, &str)| {
            if let (Some((low, l)), Some((high, h))) = (low, high)
                && l > h
            {
                let (a, b) = words;
                let message = format!("{a} value {low} is greater than {b} value {high}");
                fail(&format!("{field}.{k}"), message);
            }
        };
        above("min", min, max, ("min", "max"));
        above("defaultRequest", min, request, ("min", "default request"));
        above("defaultRequest", request, max, ("default request", "max"));
        above(
            "defaultRequest",
            request,
            default,
            ("default request", "default limit"),
        );
        above("default", min, default, ("min", "default"));
        above("default", default, max, ("default", "max"));
        let Some((text, r)) = ratio else { continue };
        let field = format!("maxLimitRequestRatio.{k}");
        if r < NANOS_PER_UNIT {
            fail(&field, format!("ratio {text} is less than 1"));
        }
        if let (Some((_, lo)), Some((_, hi))) = (min, max) {
            let bound = hi as f64 / lo as f64;
            if lo > 0 && r as f64 / NANOS_PER_UNIT as f64 > bound {
                fail(
                    &field,
                    format!("ratio {text} is greater than max/min = {bound:.6}"),
                );
            }
        }
    }
}

/// An amount as written and in nano-units, when given.
type Amount<'a> = Option<(&'a str, i128)>;

/// 1 in [`crate::cluster::quantity::Quantity::nanos`]' units.
const NANOS_PER_UNIT: i128 = 1_000_000_000;

/// The Container and Pod items of a LimitRange, with `SetDefaults_LimitRangeItem` applied.
fn items(m: &Manifest<LimitRange>) -> Vec<Item> {
    let range = m.object.metadata.name.clone().unwrap_or_default();
    let limits = m.object.spec.as_ref().map_or(&[][..], |s| &s.limits[..]);
    limits
        .iter()
        .filter_map(|l: &LimitRangeItem| {
            let kind = match l.type_.as_str() {
                "Container" => ItemKind::Container,
                "Pod" => ItemKind::Pod,
                _ => return None, // PersistentVolumeClaim: no volumes in the model
            };
            let list = |r: &Option<ResourceList>| r.clone().unwrap_or_default();
            let (min, max) = (list(&l.min), list(&l.max));
            let mut default_limits = list(&l.default);
            let mut default_requests = list(&l.default_request);
            if kind == ItemKind::Container {
                for (k, v) in &max {
                    default_limits.entry(k.clone()).or_insert_with(|| v.clone());
                }
                for (k, v) in &default_limits {
                    default_requests
                        .entry(k.clone())
                        .or_insert_with(|| v.clone());
                }
                for (k, v) in &min {
                    default_requests
                        .entry(k.clone())
                        .or_insert_with(|| v.clone());
                }
            }
            Some(Item {
                range: range.clone(),
                kind,
                default_limits,
                default_requests,
                min,
                max,
                max_ratio: list(&l.max_limit_request_ratio),
            })
        })
        .collect()
}

/// The Container and Pod items of `namespace`'s LimitRanges merged as the VPA merges them
/// (`getLimitRangeItem`): an item counts when it has a `max`, `min` or `default`; the lowest
/// `max` and the highest `min` of cpu and memory win, and the last `default` replaces the
/// earlier ones (LimitRanges in name order, as a lister returns them).
pub fn namespace_bounds(set: &ManifestSet, namespace: &str) -> NamespaceLimitRange {
    let mut ranges: Vec<&Manifest<LimitRange>> = (set.limit_ranges.iter())
        .filter(|m| namespace_of(&m.object.metadata) == namespace)
        .collect();
    ranges.sort_by(|a, b| a.object.metadata.name.cmp(&b.object.metadata.name));
    let items: Vec<Item> = ranges.into_iter().flat_map(items).collect();
    NamespaceLimitRange {
        container: merged(&items, ItemKind::Container),
        pod: merged(&items, ItemKind::Pod),
    }
}

fn merged(items: &[Item], kind: ItemKind) -> Option<LimitRangeBounds> {
    let mut out: Option<LimitRangeBounds> = None;
    let of_kind = items.iter().filter(|i| i.kind == kind);
    for item in
        of_kind.filter(|i| !(i.max.is_empty() && i.min.is_empty() && i.default_limits.is_empty()))
    {
        let bounds = out.get_or_insert_with(Default::default);
        if !item.default_limits.is_empty() {
            bounds.default_limit = cpu_memory(&item.default_limits);
        }
        let (max, min) = (cpu_memory(&item.max), cpu_memory(&item.min));
        bounds.max.cpu_millis = pick(bounds.max.cpu_millis, max.cpu_millis, i64::min);
        bounds.max.memory_bytes = pick(bounds.max.memory_bytes, max.memory_bytes, i64::min);
        bounds.min.cpu_millis = pick(bounds.min.cpu_millis, min.cpu_millis, i64::max);
        bounds.min.memory_bytes = pick(bounds.min.memory_bytes, min.memory_bytes, i64::max);
    }
    out
}

fn pick(have: Option<i64>, new: Option<i64>, better: fn(i64, i64) -> i64) -> Option<i64> {
    match (have, new) {
        (Some(a), Some(b)) => Some(better(a, b)),
        (a, b) => a.or(b),
    }
}

/// The cpu (millicores) and memory (bytes) of a resource list.
fn cpu_memory(list: &ResourceList) -> CpuMemory {
    let amounts = amounts(Some(list));
    CpuMemory {
        cpu_millis: amounts.get(resources::CPU).copied(),
        memory_bytes: amounts.get(resources::MEMORY).copied(),
    }
}

/// Calls `f(namespace, pod spec, source, path of the pod spec, "Kind name")` for every pod
/// template of the set.
pub(super) fn for_each_pod_spec(
    set: &mut ManifestSet,
    f: &mut dyn FnMut(&str, &mut PodSpec, &Source, &str, &str),
) {
    macro_rules! each {
        ($list:expr, $kind:literal, $path:literal, |$o:ident| $spec:expr) => {
            for m in &mut $list {
                let namespace = namespace_of(&m.object.metadata);
                let what = format!(
                    "{} {:?}",
                    $kind,
                    m.object.metadata.name.clone().unwrap_or_default()
                );
                let $o = &mut m.object;
                if let Some(spec) = $spec {
                    f(&namespace, spec, &m.source, $path, &what);
                }
            }
        };
    }
    each!(set.deployments, "Deployment", "spec.template.spec", |o| o
        .spec
        .as_mut()
        .and_then(|s| s.template.spec.as_mut()));
    each!(
        set.stateful_sets,
        "StatefulSet",
        "spec.template.spec",
        |o| o.spec.as_mut().and_then(|s| s.template.spec.as_mut())
    );
    each!(set.daemon_sets, "DaemonSet", "spec.template.spec", |o| o
        .spec
        .as_mut()
        .and_then(|s| s.template.spec.as_mut()));
    each!(set.jobs, "Job", "spec.template.spec", |o| o
        .spec
        .as_mut()
        .and_then(|s| s.template.spec.as_mut()));
    each!(
        set.cron_jobs,
        "CronJob",
        "spec.jobTemplate.spec.template.spec",
        |o| o
            .spec
            .as_mut()
            .and_then(|s| s.job_template.spec.as_mut())
            .and_then(|s| s.template.spec.as_mut())
    );
    each!(
        set.replication_controllers,
        "ReplicationController",
        "spec.template.spec",
        |o| o
            .spec
            .as_mut()
            .and_then(|s| s.template.as_mut())
            .and_then(|t| t.spec.as_mut())
    );
    each!(set.pods, "Pod", "spec", |o| o.spec.as_mut());
}

/// Defaults the pod's containers, then checks the pod against every item.
fn admit_pod(
    spec: &mut PodSpec,
    items: &[Item],
    src: &Source,
    path: &str,
    what: &str,
    diags: &mut Vec<Diagnostic>,
) {
    let containers = spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten());
    for c in containers {
        default_container(c, items);
    }
    let mut problems = Vec::new();
    for item in items {
        match item.kind {
            ItemKind::Container => {
                for c in &spec.containers {
                    check(item, "Container", &requests(c), &limits(c), &mut problems);
                }
            }
            ItemKind::Pod => {
                let (mut req, mut lim) = (BTreeMap::new(), BTreeMap::new());
                for c in &spec.containers {
                    add_into(&mut req, &requests(c));
                    add_into(&mut lim, &limits(c));
                }
                check(item, "Pod", &req, &lim, &mut problems);
            }
        }
    }
    for (range, problem) in problems {
        diags.push(src.error(
            &format!("{path}.containers"),
            format!("{what}'s pods would be forbidden by LimitRange {range:?}: {problem}"),
        ));
    }
}

/// API defaulting (request := limit), then the LimitRange defaults for what is still missing.
fn default_container(c: &mut Container, items: &[Item]) {
    let res = c.resources.get_or_insert_with(Default::default);
    let limits = res.limits.get_or_insert_with(Default::default);
    let requests = res.requests.get_or_insert_with(Default::default);
    for (k, v) in limits.iter() {
        requests.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for item in items.iter().filter(|i| i.kind == ItemKind::Container) {
        for (k, v) in &item.default_limits {
            limits.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, v) in &item.default_requests {
            requests.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

/// A container's requests or limits as amounts (millicores, bytes, counts).
fn amounts(list: Option<&ResourceList>) -> BTreeMap<String, i64> {
    (list.into_iter().flatten())
        .filter_map(|(k, q)| Some((k.clone(), resource_amount(k, &q.0, |_| {})?)))
        .collect()
}

fn requests(c: &Container) -> BTreeMap<String, i64> {
    amounts(c.resources.as_ref().and_then(|r| r.requests.as_ref()))
}

fn limits(c: &Container) -> BTreeMap<String, i64> {
    amounts(c.resources.as_ref().and_then(|r| r.limits.as_ref()))
}

fn add_into(total: &mut BTreeMap<String, i64>, more: &BTreeMap<String, i64>) {
    for (k, v) in more {
        *total.entry(k.clone()).or_insert(0) += v;
    }
}

/// `PodValidateLimitFunc`'s checks of one item, worded as upstream's messages.
fn check(
    item: &Item,
    scope: &str,
    requests: &BTreeMap<String, i64>,
    limits: &BTreeMap<String, i64>,
    problems: &mut Vec<(String, String)>,
) {
    let mut say = |message: String| problems.push((item.range.clone(), message));
    for (k, min_q) in &item.min {
        let Some(min) = resource_amount(k, &min_q.0, |_| {}) else {
            continue;
        };
        match requests.get(k) {
            None => say(format!(
                "minimum {k} usage per {scope} is {}. No request is specified",
                min_q.0
            )),
            Some(&r) if r < min => say(format!(
                "minimum {k} usage per {scope} is {}, but request is {}",
                min_q.0,
                shown(k, r)
            )),
            _ => {}
        }
    }
    for (k, max_q) in &item.max {
        let Some(max) = resource_amount(k, &max_q.0, |_| {}) else {
            continue;
        };
        match limits.get(k) {
            None => say(format!(
                "maximum {k} usage per {scope} is {}. No limit is specified",
                max_q.0
            )),
            Some(&l) if l > max => say(format!(
                "maximum {k} usage per {scope} is {}, but limit is {}",
                max_q.0,
                shown(k, l)
            )),
            _ => {}
        }
    }
    for (k, ratio_q) in &item.max_ratio {
        let (Some(&l), Some(&r)) = (limits.get(k), requests.get(k)) else {
            continue;
        };
        let Ok(ratio) = crate::cluster::quantity::Quantity::parse(&ratio_q.0).map(|q| q.as_f64())
        else {
            continue; // reported by `validate`
        };
        if r > 0 && l as f64 / r as f64 > ratio {
            say(format!(
                "{k} max limit to request ratio per {scope} is {}, but provided ratio is {:.6}",
                ratio_q.0,
                l as f64 / r as f64
            ));
        }
    }
}

/// An amount as a quantity reads (`500m`, `2`, bytes as a number).
fn shown(resource: &str, amount: i64) -> String {
    match resource {
        "cpu" if amount % 1000 == 0 => format!("{}", amount / 1000),
        "cpu" => format!("{amount}m"),
        "memory" | "ephemeral-storage" => crate::cluster::quantity::format_bytes(amount),
        r if r.starts_with("hugepages-") => crate::cluster::quantity::format_bytes(amount),
        _ => amount.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::manifest::{add_text, deployment_spec};

    const RANGE: &str = "apiVersion: v1\nkind: LimitRange\nmetadata: {name: limits, namespace: team}\nspec:\n  limits:\n    - type: Container\n      default: {cpu: 500m}\n      defaultRequest: {cpu: 250m}\n      max: {cpu: '2', memory: 4Gi}\n      min: {memory: 64Mi}\n    - type: Pod\n      max: {cpu: '3'}\n";

    /// The cpu request and limit (millicores) of the one Deployment after admission, and the
    /// diagnostics.
    fn admitted(containers: &str, namespace: &str) -> (i64, Option<i64>, Vec<String>) {
        let deployment = format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: {namespace}}}\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers: {containers}\n"
        );
        let mut set = ManifestSet::default();
        let mut diags = Vec::new();
        add_text(
            &mut set,
            "m.yaml",
            &format!("{RANGE}{deployment}"),
            &mut diags,
        );
        admit(&mut set, &mut diags);
        let spec = deployment_spec(&set.deployments[0], &mut diags).unwrap();
        let shown = diags.iter().map(|d| d.to_string()).collect();
        (
            spec.pod.requests.cpu_millis,
            spec.pod.cpu_limit_millis,
            shown,
        )
    }

    #[test]
    fn defaults_fill_what_containers_leave_out() {
        // No resources: defaultRequest 250m and default limit 500m; memory gets min 64Mi as
        // its request (defaultRequest defaults to min) and max 4Gi as its limit.
        let (req, lim, diags) = admitted("[{name: app, resources: {}}]", "team");
        assert_eq!((req, lim), (250, Some(500)), "{diags:?}");
        assert!(diags.is_empty(), "{diags:?}");
        // A limit without a request: the pod's own defaulting comes first (request = limit
        // 1 cpu), so defaultRequest does not apply.
        let (req, lim, _) = admitted("[{name: app, resources: {limits: {cpu: '1'}}}]", "team");
        assert_eq!((req, lim), (1000, Some(1000)));
        // Another namespace is not touched.
        let (req, lim, _) = admitted("[{name: app, resources: {}}]", "default");
        assert_eq!((req, lim), (0, None));
    }

    #[test]
    fn pods_outside_min_and_max_are_forbidden_with_upstreams_words() {
        let (_, _, diags) = admitted(
            "[{name: app, resources: {limits: {cpu: '4'}, requests: {memory: 32Mi}}}]",
            "team",
        );
        let want = [
            "minimum memory usage per Container is 64Mi, but request is 32Mi",
            "maximum cpu usage per Container is 2, but limit is 4",
            "maximum cpu usage per Pod is 3, but limit is 4",
        ];
        for w in want {
            assert!(
                diags
                    .iter()
                    .any(|d| d.contains(w) && d.contains("LimitRange \"limits\"")),
                "{w:?} not in {diags:#?}"
            );
        }
    }

    #[test]
    fn ranges_the_api_server_refuses_are_errors_in_its_words() {
        // Upstream's TestValidateLimitRange error cases (validation_test.go), plus a type
        // kubesim was given by a user ("Node") and a negative amount.
        let cases = [
            (
                "{type: Node, max: {cpu: '1'}}",
                "limits[0].type",
                "must be a standard limit type",
            ),
            (
                "{type: Container, max: {cpu: '1'}}, {type: Container, min: {cpu: 100m}}",
                "limits[1].type",
                "Duplicate value: \"Container\"",
            ),
            (
                "{type: Pod, default: {cpu: 500m}}",
                "limits[0].default",
                "may not be specified when `type` is 'Pod'",
            ),
            (
                "{type: Container, min: {cpu: '-1'}}",
                "limits[0].min.cpu",
                "must be greater than or equal to 0",
            ),
            (
                "{type: Container, max: {cpu: 100m}, min: {cpu: 200m}}",
                "limits[0].min.cpu",
                "min value 200m is greater than max value 100m",
            ),
            // max 1, min 100m, defaultRequest 2000m: above max.
            (
                "{type: Container, max: {cpu: '1'}, min: {cpu: 100m}, defaultRequest: {cpu: 2000m}}",
                "limits[0].defaultRequest.cpu",
                "default request value 2000m is greater than max value 1",
            ),
            (
                "{type: Container, max: {cpu: '2'}, min: {cpu: 100m}, default: {cpu: 500m}, defaultRequest: {cpu: 800m}}",
                "limits[0].defaultRequest.cpu",
                "default request value 800m is greater than default limit value 500m",
            ),
            (
                "{type: Container, min: {cpu: 300m}, default: {cpu: 200m}}",
                "limits[0].default.cpu",
                "min value 300m is greater than default value 200m",
            ),
            (
                "{type: Pod, maxLimitRequestRatio: {cpu: 800m}}",
                "limits[0].maxLimitRequestRatio.cpu",
                "ratio 800m is less than 1",
            ),
            // max 2Gi / min 512Mi = 4: a ratio of 10 cannot be met.
            (
                "{type: Container, max: {memory: 2Gi}, min: {memory: 512Mi}, maxLimitRequestRatio: {memory: '10'}}",
                "limits[0].maxLimitRequestRatio.memory",
                "ratio 10 is greater than max/min = 4.000000",
            ),
        ];
        for (limits, field, words) in cases {
            let text = format!(
                "apiVersion: v1\nkind: LimitRange\nmetadata: {{name: r}}\nspec:\n  limits: [{limits}]\n"
            );
            let mut set = ManifestSet::default();
            let mut diags = Vec::new();
            add_text(&mut set, "m.yaml", &text, &mut diags);
            admit(&mut set, &mut diags);
            let shown: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
            assert!(
                shown
                    .iter()
                    .any(|d| d.contains(&format!("spec.{field}")) && d.contains(words)),
                "{limits}: want {field}: {words}, got {shown:#?}"
            );
        }
        // A valid range (ratio 1500m within max/min 4) says nothing.
        let ok = "apiVersion: v1\nkind: LimitRange\nmetadata: {name: r}\nspec:\n  limits: [{type: Container, max: {memory: 2Gi}, min: {memory: 512Mi}, maxLimitRequestRatio: {memory: 1500m}}]\n";
        let (mut set, mut diags) = (ManifestSet::default(), Vec::new());
        add_text(&mut set, "m.yaml", ok, &mut diags);
        admit(&mut set, &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
    }

    #[test]
    fn the_vpa_sees_ranges_merged_as_upstream_merges_them() {
        // A second LimitRange "zz" (after "limits" by name): its lower cpu max 1 and higher
        // memory min 128Mi win, and its default replaces the first's.
        let second = "---\napiVersion: v1\nkind: LimitRange\nmetadata: {name: zz, namespace: team}\nspec:\n  limits:\n    - type: Container\n      max: {cpu: '1'}\n      min: {memory: 128Mi}\n";
        let mut set = ManifestSet::default();
        let mut diags = Vec::new();
        add_text(&mut set, "m.yaml", &format!("{RANGE}{second}"), &mut diags);
        let bounds = namespace_bounds(&set, "team");
        let container = bounds.container.unwrap();
        assert_eq!(container.max.cpu_millis, Some(1000));
        assert_eq!(container.max.memory_bytes, Some(4 << 30));
        assert_eq!(container.min.memory_bytes, Some(128 << 20));
        // zz's default is its max (API defaulting): cpu 1, no memory.
        assert_eq!(container.default_limit.cpu_millis, Some(1000));
        assert_eq!(container.default_limit.memory_bytes, None);
        assert_eq!(bounds.pod.unwrap().max.cpu_millis, Some(3000));
        assert_eq!(
            namespace_bounds(&set, "default"),
            NamespaceLimitRange::default()
        );
    }
}
