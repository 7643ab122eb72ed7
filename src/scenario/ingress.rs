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
//! Pure: it reads the object and returns the backend's Service name, or why there is none.

use k8s_openapi::api::networking::v1::{Ingress, IngressBackend};

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
