//! Ingress routing (networking.k8s.io/v1): which backend Service a request for a host and path
//! reaches, as the Ingress API defines it.
//!
//! - A rule without `host` applies to every host; `host: foo.example.com` matches exactly, and a
//!   wildcard `*.example.com` matches exactly one more DNS label (`a.example.com`, not
//!   `example.com` nor `a.b.example.com`).
//! - `pathType: Exact` matches the path exactly (case-sensitive). `Prefix` matches element by
//!   element of the `/`-separated path, ignoring a trailing slash (`/foo` matches `/foo` and
//!   `/foo/bar`, not `/foobar`). `ImplementationSpecific` is treated as `Prefix`.
//! - Among matching paths the longest wins, and `Exact` wins a tie with `Prefix`. With no match,
//!   the Ingress's `defaultBackend` takes the request.
//!
//! Routing is pure: it reads the object and returns the backend's Service name, or why there
//! is none. Reading an Ingress applies the API server's validation of its paths first.

use k8s_openapi::api::networking::v1::{Ingress, IngressBackend};

use super::diag::Diagnostic;
use super::manifest::{Manifest, ManifestSet, Source, decode_typed};

/// Reads an Ingress into the set, refusing paths the API server refuses
/// (`validateHTTPIngressRuleValue`): a `pathType` other than Exact, Prefix and
/// ImplementationSpecific, and an Exact or Prefix path that is not absolute or holds `//`,
/// `/./`, `/../`, `%2f`, `%2F` or ends in `/..` or `/.`.
pub fn add_ingress(set: &mut ManifestSet, source: Source, diags: &mut Vec<Diagnostic>) {
    let Some(object) = decode_typed::<Ingress>(&source, &mut set.incomplete, diags) else {
        return;
    };
    let rules = object.spec.iter().flat_map(|s| s.rules.iter().flatten());
    for (i, rule) in rules.enumerate() {
        for (j, p) in rule.http.iter().flat_map(|h| &h.paths).enumerate() {
            let at = format!("spec.rules[{i}].http.paths[{j}]");
            if let Err((field, message)) = check_path(p.path.as_deref().unwrap_or(""), &p.path_type)
            {
                diags.push(source.error(&format!("{at}.{field}"), message));
            }
        }
    }
    set.ingresses.push(Manifest { object, source });
}

/// One HTTP path against the API server's rules: `Err((field, message))`.
fn check_path(path: &str, path_type: &str) -> Result<(), (&'static str, String)> {
    const SUPPORTED: [&str; 3] = ["Exact", "ImplementationSpecific", "Prefix"];
    if path_type.is_empty() {
        return Err((
            "pathType",
            "Required value: pathType must be specified".into(),
        ));
    }
    if !SUPPORTED.contains(&path_type) {
        let message = format!(
            "Unsupported value: {path_type:?}: supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\""
        );
        return Err(("pathType", message));
    }
    if path_type == "ImplementationSpecific" && path.is_empty() {
        return Ok(());
    }
    if !path.starts_with('/') {
        return Err((
            "path",
            format!("Invalid value: {path:?}: must be an absolute path"),
        ));
    }
    if path_type == "ImplementationSpecific" {
        return Ok(());
    }
    for sequence in ["//", "/./", "/../", "%2f", "%2F"] {
        if path.contains(sequence) {
            return Err((
                "path",
                format!("Invalid value: {path:?}: must not contain '{sequence}'"),
            ));
        }
    }
    for suffix in ["/..", "/."] {
        if path.ends_with(suffix) {
            return Err((
                "path",
                format!("Invalid value: {path:?}: cannot end with '{suffix}'"),
            ));
        }
    }
    Ok(())
}

/// The backend Service name for `host` and `path`, or a sentence saying why none.
pub fn backend_service(
    ingress: &Ingress,
    host: Option<&str>,
    path: &str,
) -> Result<String, String> {
    let spec = ingress.spec.as_ref().ok_or("the Ingress has no spec")?;
    let mut best: Option<(usize, bool, &IngressBackend)> = None;
    for rule in spec.rules.iter().flatten() {
        if !host_matches(rule.host.as_deref(), host) {
            continue;
        }
        for p in rule.http.iter().flat_map(|h| &h.paths) {
            let rule_path = p.path.as_deref().unwrap_or("/");
            let exact = p.path_type == "Exact";
            let matched = if exact {
                rule_path == path
            } else {
                prefix_matches(rule_path, path)
            };
            let better = best.is_none_or(|(len, was_exact, _)| {
                rule_path.len() > len || (rule_path.len() == len && exact && !was_exact)
            });
            if matched && better {
                best = Some((rule_path.len(), exact, &p.backend));
            }
        }
    }
    let backend = match best {
        Some((_, _, b)) => b,
        None => spec.default_backend.as_ref().ok_or_else(|| {
            format!(
                "no rule of the Ingress matches host {:?} and path {path:?}, and it has no defaultBackend",
                host.unwrap_or("")
            )
        })?,
    };
    backend
        .service
        .as_ref()
        .map(|s| s.name.clone())
        .ok_or_else(|| {
            "the matching backend is a resource, not a Service: only Service backends are simulated"
                .into()
        })
}

fn host_matches(rule: Option<&str>, host: Option<&str>) -> bool {
    let Some(rule) = rule.filter(|r| !r.is_empty()) else {
        return true;
    };
    let Some(host) = host else {
        return false;
    };
    match rule.strip_prefix("*.") {
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => rule == host,
    }
}

/// `Prefix` matching: `rule`'s path elements are a leading run of `path`'s.
fn prefix_matches(rule: &str, path: &str) -> bool {
    let elements = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|e| !e.is_empty())
            .map(str::to_string)
            .collect()
    };
    let (r, p) = (elements(rule), elements(path));
    r.len() <= p.len() && r.iter().zip(&p).all(|(a, b)| a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_the_api_server_refuses_are_refused() {
        let refused = [
            ("/api", "Regex", "pathType", "Unsupported value: \"Regex\""),
            ("/api", "", "pathType", "Required value"),
            ("", "Prefix", "path", "must be an absolute path"),
            ("api", "Exact", "path", "must be an absolute path"),
            ("/a//b", "Prefix", "path", "must not contain '//'"),
            ("/a/..", "Exact", "path", "cannot end with '/..'"),
            ("/a%2Fb", "Prefix", "path", "must not contain '%2F'"),
        ];
        for (path, kind, field, words) in refused {
            let (f, message) = check_path(path, kind).unwrap_err();
            assert!(
                f == field && message.contains(words),
                "{path} {kind}: {f} {message}"
            );
        }
        for (path, kind) in [
            ("", "ImplementationSpecific"),
            ("/a//b", "ImplementationSpecific"),
            ("/", "Prefix"),
            ("/v1/x", "Exact"),
        ] {
            assert_eq!(check_path(path, kind), Ok(()), "{path} {kind}");
        }
    }

    fn ingress(yaml: &str) -> Ingress {
        serde_saphyr::from_str(yaml).expect("valid Ingress")
    }

    const SHOP: &str = r#"
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop}
spec:
  defaultBackend: {service: {name: frontend, port: {number: 80}}}
  rules:
    - host: shop.example.com
      http:
        paths:
          - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}
          - {path: /api/v2, pathType: Prefix, backend: {service: {name: api-v2, port: {number: 80}}}}
          - {path: /api/v2, pathType: Exact, backend: {service: {name: api-v2-root, port: {number: 80}}}}
    - host: "*.cdn.example.com"
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: cdn, port: {number: 80}}}}
"#;

    #[test]
    fn routes_as_the_ingress_api_defines() {
        // (host, path, backend): the examples of the Ingress documentation's matching table.
        let shop = ingress(SHOP);
        let cases = [
            (Some("shop.example.com"), "/api", "api"),
            (Some("shop.example.com"), "/api/", "api"), // trailing slash ignored
            (Some("shop.example.com"), "/api/cart", "api"),
            (Some("shop.example.com"), "/apis", "frontend"), // not an element match
            (Some("shop.example.com"), "/api/v2/x", "api-v2"), // longest prefix
            (Some("shop.example.com"), "/api/v2", "api-v2-root"), // Exact wins the tie
            (Some("a.cdn.example.com"), "/img.png", "cdn"),
            (Some("a.b.cdn.example.com"), "/img.png", "frontend"), // one label only
            (Some("cdn.example.com"), "/", "frontend"),
            (None, "/api", "frontend"), // rules with a host need one
        ];
        for (host, path, want) in cases {
            assert_eq!(
                backend_service(&shop, host, path).unwrap(),
                want,
                "{host:?} {path}"
            );
        }
    }

    #[test]
    fn without_a_match_or_default_there_is_no_backend() {
        let text = SHOP.replace(
            "  defaultBackend: {service: {name: frontend, port: {number: 80}}}\n",
            "",
        );
        let err = backend_service(&ingress(&text), Some("other.example.com"), "/").unwrap_err();
        assert!(err.contains("no rule of the Ingress matches"), "{err}");
    }
}
