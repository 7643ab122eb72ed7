//! Port numbers as the API server checks them (`validation.IsValidPortNum`, "must be between 1
//! and 65535, inclusive"): a Service's `port`, numeric `targetPort` and `nodePort`, and a
//! container's `containerPort`.

use k8s_openapi::api::core::v1::{Container, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::diag::Diagnostic;
use super::manifest::{Manifest, ManifestSet, Source, decode_typed};

/// Reads a Service into the set, refusing port numbers out of range.
pub fn add_service(set: &mut ManifestSet, source: Source, diags: &mut Vec<Diagnostic>) {
    let Some(object) = decode_typed::<Service>(&source, &mut set.incomplete, diags) else {
        return;
    };
    let ports = object.spec.iter().flat_map(|s| s.ports.iter().flatten());
    for (i, p) in ports.enumerate() {
        let at = format!("spec.ports[{i}]");
        let target = match p.target_port {
            Some(IntOrString::Int(n)) => Some(n),
            _ => None,
        };
        let numbers = [
            ("port", Some(p.port)),
            ("targetPort", target),
            ("nodePort", p.node_port),
        ];
        for (field, number) in numbers {
            if let Some(message) = number.and_then(out_of_range) {
                diags.push(source.error(&format!("{at}.{field}"), message));
            }
        }
    }
    set.services.push(Manifest { object, source });
}

/// A container's `containerPort`s out of range, as errors at `path` (the container's).
pub fn check_container_ports(c: &Container, path: &str, src: &Source, diags: &mut Vec<Diagnostic>) {
    for (j, p) in c.ports.iter().flatten().enumerate() {
        if let Some(message) = out_of_range(p.container_port) {
            diags.push(src.error(&format!("{path}.ports[{j}].containerPort"), message));
        }
    }
}

/// The API server's message for a port number outside 1–65535.
fn out_of_range(port: i32) -> Option<String> {
    (!(1..=65535).contains(&port))
        .then(|| format!("Invalid value: {port}: must be between 1 and 65535, inclusive"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_outside_one_to_65535_are_refused() {
        assert_eq!(out_of_range(80), None);
        assert_eq!(out_of_range(65535), None);
        for bad in [0, -1, 65536, 99_999] {
            let message = out_of_range(bad).unwrap();
            assert!(
                message.contains(&format!("Invalid value: {bad}:")),
                "{message}"
            );
        }
    }
}
