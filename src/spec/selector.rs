//! Label selectors: `matchLabels` plus `matchExpressions`, as `metav1.LabelSelectorAsSelector`
//! evaluates them. An empty selector matches everything; a Service's plain map selector is a
//! `matchLabels`-only selector.

use std::collections::BTreeMap;

/// Labels of an object, ordered so that iteration is deterministic.
pub type Labels = BTreeMap<String, String>;

/// A `matchExpressions` operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SelectorOperator {
    /// The label's value is one of `values`.
    In,
    /// The label is missing or its value is none of `values`.
    NotIn,
    /// The label is there.
    Exists,
    /// The label is not there.
    DoesNotExist,
}

/// One `matchExpressions` entry.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// How it is tested.
    pub operator: SelectorOperator,
    /// The values (`In`, `NotIn`), empty for the others.
    pub values: Vec<String>,
}

/// A resolved label selector.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct LabelSelector {
    /// `matchLabels`: each must be there with that value.
    pub match_labels: Labels,
    /// `matchExpressions`: each must hold.
    pub match_expressions: Vec<Requirement>,
}

impl SelectorOperator {
    /// Parses the API spelling; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "In" => Some(Self::In),
            "NotIn" => Some(Self::NotIn),
            "Exists" => Some(Self::Exists),
            "DoesNotExist" => Some(Self::DoesNotExist),
            _ => None,
        }
    }
}

impl LabelSelector {
    /// A selector of `matchLabels` only.
    pub fn from_match_labels(match_labels: Labels) -> Self {
        LabelSelector {
            match_labels,
            match_expressions: Vec::new(),
        }
    }

    /// True when the selector has no terms (and so selects every object).
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Whether `labels` satisfy every term.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }
}

/// The selector as `kubectl` prints it (`app=web,tier in (a,b),!legacy`).
impl std::fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let labels = self.match_labels.iter().map(|(k, v)| format!("{k}={v}"));
        let expressions = self.match_expressions.iter().map(|r| match r.operator {
            SelectorOperator::In => format!("{} in ({})", r.key, r.values.join(",")),
            SelectorOperator::NotIn => format!("{} notin ({})", r.key, r.values.join(",")),
            SelectorOperator::Exists => r.key.clone(),
            SelectorOperator::DoesNotExist => format!("!{}", r.key),
        });
        let terms: Vec<String> = labels.chain(expressions).collect();
        f.write_str(&terms.join(","))
    }
}

impl LabelSelector {
    /// Parses `kubectl -l` syntax: comma-separated `key=value`, `key==value`, `key!=value`,
    /// `key in (a,b)`, `key notin (a,b)`, `key` and `!key`. `key!=value` matches objects
    /// without the key too (as `notin`).
    pub fn parse_kubectl(text: &str) -> Result<Self, String> {
        let mut selector = LabelSelector::default();
        if let Some(e) = parentheses_error(text) {
            return Err(format!("{:?}: {e}", shortened(text)));
        }
        for term in split_terms(text) {
            let term = term.trim();
            if term.is_empty() {
                return Err(format!("{text:?}: empty term"));
            }
            selector.add_kubectl_term(term)?;
        }
        Ok(selector)
    }

    fn add_kubectl_term(&mut self, term: &str) -> Result<(), String> {
        let requirement = |key: &str, operator, values: Vec<String>| {
            let key = key.trim();
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err(format!(
                    "{:?}: {:?} is not a label key",
                    shortened(term),
                    shortened(key)
                ));
            }
            let shown = shortened(term);
            if let Some(e) = qualified_name_error(key) {
                return Err(format!("{shown:?}: {}", e.replace(key, &shortened(key))));
            }
            for v in &values {
                if let Some(e) = label_value_error(v) {
                    return Err(format!(
                        "{shown:?}: {}",
                        e.replace(v.as_str(), &shortened(v))
                    ));
                }
            }
            Ok(Requirement {
                key: key.to_string(),
                operator,
                values,
            })
        };
        let r = if let Some(key) = term.strip_prefix('!') {
            requirement(key, SelectorOperator::DoesNotExist, Vec::new())?
        } else if let Some((key, value)) = term.split_once("!=") {
            requirement(key, SelectorOperator::NotIn, vec![value.trim().to_string()])?
        } else if let Some((key, value)) = term.split_once('=') {
            let value = value.strip_prefix('=').unwrap_or(value).trim();
            let key = requirement(key, SelectorOperator::In, vec![value.to_string()])?.key;
            self.match_labels.insert(key, value.to_string());
            return Ok(());
        } else if let Some((key, set)) = split_set(term, " notin ") {
            requirement(key, SelectorOperator::NotIn, set?)?
        } else if let Some((key, set)) = split_set(term, " in ") {
            requirement(key, SelectorOperator::In, set?)?
        } else {
            requirement(term, SelectorOperator::Exists, Vec::new())?
        };
        self.match_expressions.push(r);
        Ok(())
    }
}

/// Parentheses that open a set must close before the next one opens, as kubectl's lexer
/// requires: no nesting, none left open, none closed that was not opened.
fn parentheses_error(text: &str) -> Option<&'static str> {
    let mut open = false;
    for c in text.chars() {
        match (c, open) {
            ('(', true) => return Some("parentheses cannot nest"),
            (')', false) => return Some("a ')' closes nothing"),
            ('(', false) | (')', true) => open = c == '(',
            _ => {}
        }
    }
    open.then_some("a '(' is never closed")
}

/// At most 200 characters of `text` (a 120 000-character key in a message is no help).
fn shortened(text: &str) -> String {
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}… ({} characters)", &text[..i], text.chars().count()),
        None => text.to_string(),
    }
}

/// Splits a selector at the commas outside parentheses.
fn split_terms(text: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&text[start..]);
    terms
}

/// `key in (a,b)` split at `op` into the key and its values.
fn split_set<'t>(term: &'t str, op: &str) -> Option<(&'t str, Result<Vec<String>, String>)> {
    let (key, set) = term.split_once(op)?;
    let values = set
        .trim()
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .map(|s| s.split(',').map(|v| v.trim().to_string()).collect())
        .ok_or_else(|| format!("{term:?}: the values must be in parentheses: (a,b)"));
    Some((key, values))
}

impl Requirement {
    /// Whether `labels` satisfy this requirement.
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            SelectorOperator::In => value.is_some_and(|v| self.values.contains(v)),
            // NotIn matches objects without the key, as Kubernetes does.
            SelectorOperator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            SelectorOperator::Exists => value.is_some(),
            SelectorOperator::DoesNotExist => value.is_none(),
        }
    }

    /// The API's validation: In/NotIn need values, Exists/DoesNotExist must have none.
    pub fn validate(&self) -> Result<(), String> {
        match (self.operator, self.values.is_empty()) {
            (SelectorOperator::In | SelectorOperator::NotIn, true) => {
                Err("values must be non-empty for operator In and NotIn".into())
            }
            (SelectorOperator::Exists | SelectorOperator::DoesNotExist, false) => {
                Err("values must be empty for operator Exists and DoesNotExist".into())
            }
            _ => Ok(()),
        }
    }
}

/// A node selector operator (`nodeSelectorTerms[].matchExpressions[].operator`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeOperator {
    /// The label's value is one of `values`.
    In,
    /// The label is missing or its value is none of `values`.
    NotIn,
    /// The label is there.
    Exists,
    /// The label is not there.
    DoesNotExist,
    /// The label, read as an integer, is greater than the single value.
    Gt,
    /// The label, read as an integer, is less than the single value.
    Lt,
}

impl NodeOperator {
    /// The operator as written in a manifest, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "In" => Self::In,
            "NotIn" => Self::NotIn,
            "Exists" => Self::Exists,
            "DoesNotExist" => Self::DoesNotExist,
            "Gt" => Self::Gt,
            "Lt" => Self::Lt,
            _ => return None,
        })
    }
}

/// One node selector requirement: on a label (`matchExpressions`) or on the node's name
/// (`matchFields` with key `metadata.name`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRequirement {
    /// The label key (a field name in `matchFields`: only `metadata.name`).
    pub key: String,
    /// How it is tested.
    pub operator: NodeOperator,
    /// The values.
    pub values: Vec<String>,
}

impl NodeRequirement {
    /// Evaluates against a value (`None`: the node has no such label).
    fn matches_value(&self, value: Option<&String>) -> bool {
        let number = |v: &str| v.parse::<i64>().ok();
        match self.operator {
            NodeOperator::In => value.is_some_and(|v| self.values.contains(v)),
            NodeOperator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            NodeOperator::Exists => value.is_some(),
            NodeOperator::DoesNotExist => value.is_none(),
            NodeOperator::Gt | NodeOperator::Lt => {
                let (Some(have), Some(bound)) = (
                    value.and_then(|v| number(v)),
                    self.values.first().and_then(|v| number(v)),
                ) else {
                    return false;
                };
                if self.operator == NodeOperator::Gt {
                    have > bound
                } else {
                    have < bound
                }
            }
        }
    }

    /// The API's validation of one requirement.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.values.len();
        match self.operator {
            NodeOperator::In | NodeOperator::NotIn if n == 0 => {
                Err("values must be non-empty for operator In and NotIn".into())
            }
            NodeOperator::Exists | NodeOperator::DoesNotExist if n > 0 => {
                Err("values must be empty for operator Exists and DoesNotExist".into())
            }
            NodeOperator::Gt | NodeOperator::Lt
                if n != 1 || self.values[0].parse::<i64>().is_err() =>
            {
                Err("operator Gt and Lt need exactly one integer value".into())
            }
            _ => Ok(()),
        }
    }
}

/// Why `key` is not a qualified name (an optional DNS-subdomain prefix and `/`, then a name of
/// at most 63 characters, alphanumeric at both ends with `-`, `_` or `.` between), as the API
/// server says it of label and taint keys; `None` when it is one.
pub fn qualified_name_error(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| {
                !part.is_empty()
                    && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
    });
    (!(name_ok && prefix_ok)).then(|| {
        format!("Invalid value: {key:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")
    })
}

/// Why `value` is not a valid label value (at most 63 characters, empty or alphanumeric at
/// both ends with `-`, `_` or `.` between), in the API server's words; `None` when it is.
pub fn label_value_error(value: &str) -> Option<String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let ends_ok = value.is_empty()
        || (value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric()));
    if value.len() > 63 {
        return Some(format!(
            "Invalid value: {value:?}: must be no more than 63 characters"
        ));
    }
    (!ends_ok || !value.chars().all(allowed)).then(|| {
        format!(
            "Invalid value: {value:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        )
    })
}

/// A node selector term: every expression and field requirement must hold. A term with
/// neither matches no node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSelectorTerm {
    /// `matchExpressions` over the node's labels.
    pub match_expressions: Vec<NodeRequirement>,
    /// `matchFields` over the node's fields (`metadata.name`).
    pub match_fields: Vec<NodeRequirement>,
}

impl NodeSelectorTerm {
    /// Whether a node with `labels` and `node_name` satisfies the term.
    pub fn matches(&self, labels: &Labels, node_name: &str) -> bool {
        if self.match_expressions.is_empty() && self.match_fields.is_empty() {
            return false;
        }
        let name = node_name.to_string();
        self.match_expressions
            .iter()
            .all(|r| r.matches_value(labels.get(&r.key)))
            && self
                .match_fields
                .iter()
                .all(|r| r.matches_value(Some(&name)))
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn kubectl_selectors_parse_match_and_print_back() {
        let labels = |pairs: &[(&str, &str)]| -> Labels {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let web = labels(&[("app", "web"), ("tier", "front")]);
        let db = labels(&[("app", "db")]);
        // (selector, matches web, matches db)
        let cases = [
            ("app=web", true, false),
            ("app==web", true, false),
            ("app!=web", false, true),
            ("tier", true, false),
            ("!tier", false, true),
            ("app in (web,db)", true, true),
            ("app notin (web)", false, true),
            ("tier!=back", true, true), // no key matches != too
            ("app=web,tier in (front, back)", true, false),
        ];
        for (text, on_web, on_db) in cases {
            let s = LabelSelector::parse_kubectl(text).unwrap();
            assert_eq!((s.matches(&web), s.matches(&db)), (on_web, on_db), "{text}");
            let again = LabelSelector::parse_kubectl(&s.to_string()).unwrap();
            assert_eq!(again, s, "{text} printed as {s}");
        }
        for bad in ["", "app=web,", "app in web", "a b"] {
            assert!(LabelSelector::parse_kubectl(bad).is_err(), "{bad:?}");
        }
    }

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn req(key: &str, operator: SelectorOperator, values: &[&str]) -> Requirement {
        Requirement {
            key: key.into(),
            operator,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn selector_table() {
        use SelectorOperator::*;
        let pod = labels(&[("app", "web"), ("tier", "front")]);
        let cases = [
            (LabelSelector::default(), true), // empty selects everything
            (
                LabelSelector::from_match_labels(labels(&[("app", "web")])),
                true,
            ),
            (
                LabelSelector::from_match_labels(labels(&[("app", "api")])),
                false,
            ),
            (
                LabelSelector {
                    match_labels: labels(&[("app", "web")]),
                    match_expressions: vec![req("tier", In, &["front", "back"])],
                },
                true,
            ),
            (
                LabelSelector {
                    match_labels: Labels::new(),
                    match_expressions: vec![req("tier", NotIn, &["front"])],
                },
                false,
            ),
            (
                LabelSelector {
                    match_labels: Labels::new(),
                    match_expressions: vec![req("zone", NotIn, &["a"])],
                },
                true,
            ), // absent key passes NotIn
            (
                LabelSelector {
                    match_labels: Labels::new(),
                    match_expressions: vec![req("app", Exists, &[])],
                },
                true,
            ),
            (
                LabelSelector {
                    match_labels: Labels::new(),
                    match_expressions: vec![req("app", DoesNotExist, &[])],
                },
                false,
            ),
        ];
        for (i, (selector, want)) in cases.iter().enumerate() {
            assert_eq!(selector.matches(&pod), *want, "case {i}");
        }
    }

    fn node_req(key: &str, operator: NodeOperator, values: &[&str]) -> NodeRequirement {
        NodeRequirement {
            key: key.into(),
            operator,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn node_selector_terms() {
        use NodeOperator::*;
        let node = labels(&[("gpu", "A100"), ("cores", "96")]);
        let term = |exprs: Vec<NodeRequirement>| NodeSelectorTerm {
            match_expressions: exprs,
            match_fields: Vec::new(),
        };
        let cases = [
            (term(vec![node_req("gpu", In, &["A100", "H100"])]), true),
            (term(vec![node_req("gpu", NotIn, &["A100"])]), false),
            (term(vec![node_req("cores", Gt, &["64"])]), true),
            (term(vec![node_req("cores", Lt, &["64"])]), false),
            (term(vec![node_req("gpu", Gt, &["1"])]), false), // not a number
            (term(vec![node_req("zone", DoesNotExist, &[])]), true),
            (
                term(vec![
                    node_req("gpu", Exists, &[]),
                    node_req("cores", In, &["8"]),
                ]),
                false,
            ), // expressions are ANDed
            (term(vec![]), false), // an empty term matches nothing
        ];
        for (i, (t, want)) in cases.iter().enumerate() {
            assert_eq!(t.matches(&node, "n1"), *want, "case {i}");
        }
        let by_name = NodeSelectorTerm {
            match_expressions: Vec::new(),
            match_fields: vec![node_req("metadata.name", In, &["n1"])],
        };
        assert!(by_name.matches(&node, "n1") && !by_name.matches(&node, "n2"));
        assert!(node_req("a", Gt, &["x"]).validate().is_err());
        assert!(node_req("a", Lt, &["3"]).validate().is_ok());
    }

    #[test]
    fn requirement_validation() {
        use SelectorOperator::*;
        assert!(req("a", In, &[]).validate().is_err());
        assert!(req("a", Exists, &["x"]).validate().is_err());
        assert!(req("a", NotIn, &["x"]).validate().is_ok());
        assert_eq!(SelectorOperator::parse("Exists"), Some(Exists));
        assert_eq!(SelectorOperator::parse("exists"), None);
    }
}

#[cfg(test)]
mod label_value_tests {
    use super::{LabelSelector, label_value_error};

    #[test]
    fn label_values_as_the_api_server_checks_them() {
        for ok in ["", "a", "my_value", "12345", "a.b-c_d", &"x".repeat(63)] {
            assert_eq!(label_value_error(ok), None, "{ok:?}");
        }
        // A NotIn [bad/value] term matched no node before Kubernetes 1.33; it is refused since.
        for bad in ["bad/value", "-a", "a-", ".", &"x".repeat(64)] {
            assert!(label_value_error(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn kubectl_selectors_kubectl_refuses_are_errors() {
        let long_key = "k".repeat(120_000);
        let long_value = format!("a={}", "v".repeat(64));
        let cases: [(&str, &str); 7] = [
            ("é=1", "name part must consist of alphanumeric characters"),
            ("app in ((web))", "parentheses cannot nest"),
            ("app in (web", "a '(' is never closed"),
            ("app)", "a ')' closes nothing"),
            ("a/b/c", "name part must consist"),
            ("app=-bad", "a valid label must be an empty string"),
            (&long_value, "must be no more than 63 characters"),
        ];
        for (text, want) in cases {
            let e = LabelSelector::parse_kubectl(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        let e = LabelSelector::parse_kubectl(&format!("{long_key}=v")).unwrap_err();
        assert!(
            e.len() < 1000 && e.contains("(120000 characters)"),
            "{}",
            &e[..200]
        );
        for ok in [
            "app=web",
            "app==web",
            "x=",
            "app in (web, api)",
            "!app",
            "example.com/tier notin (a,b)",
        ] {
            assert!(LabelSelector::parse_kubectl(ok).is_ok(), "{ok}");
        }
    }
}
