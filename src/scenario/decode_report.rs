//! One YAML document decoded into its raw type with every problem reported as a diagnostic:
//! type errors (all of them, each at its line and field path) and fields the schema does not
//! have — errors in kubesim's own kinds (Scenario, Sweep, Calibration), where a misspelt field
//! would silently do nothing, and warnings in Kubernetes objects and configuration files,
//! which the API server and the components accept with a warning.

use serde::de::DeserializeOwned;

use super::de::{UnknownField, decode_all};
use super::diag::{Diagnostic, did_you_mean};
use super::yaml::Node;

/// How a field the schema does not have is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownFields {
    /// An error: the document is not used.
    Error,
    /// A warning: the field is ignored.
    Warning,
}

/// Decodes `node` (its fields' paths under `base_path`) from `file` as a `T`, pushing a
/// diagnostic for each type error and unknown field. The value is returned when it could be
/// typed at all (wrong values replaced by null), so that later checks can run on it too.
pub fn decode_reported<T: DeserializeOwned>(
    node: &Node,
    base_path: &str,
    file: &str,
    unknown: UnknownFields,
    diags: &mut Vec<Diagnostic>,
) -> Option<T> {
    let (value, unknown_fields, errors) = decode_all::<T>(node, base_path);
    diags.extend(unknown_fields.iter().map(|u| match unknown {
        UnknownFields::Error => {
            Diagnostic::error(file, Some(u.position), &u.path, unknown_field_message(u))
        }
        UnknownFields::Warning => unknown_field_warning(file, u),
    }));
    diags.extend(errors.iter().map(|e| e.diagnostic(file)));
    value
}

/// The message for a field the schema does not have, with a "did you mean" when one is close.
pub fn unknown_field_message(u: &UnknownField) -> String {
    match did_you_mean(&u.name, u.expected.iter().copied()) {
        Some(s) => format!("unknown field {:?} (did you mean {s:?}?)", u.name),
        None => format!("unknown field {:?}", u.name),
    }
}

/// The warning for an unknown field: reported, then ignored.
pub fn unknown_field_warning(file: &str, u: &UnknownField) -> Diagnostic {
    Diagnostic::warning(
        file,
        Some(u.position),
        &u.path,
        format!("{}; it is ignored", unknown_field_message(u)),
    )
}
