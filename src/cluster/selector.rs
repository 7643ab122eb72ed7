//! Label selectors: `matchLabels` plus `matchExpressions`, as `metav1.LabelSelectorAsSelector`
//! evaluates them. An empty selector matches everything; a Service's plain map selector is a
//! `matchLabels`-only selector.

use std::collections::BTreeMap;

/// Labels of an object, ordered so that iteration is deterministic.
pub type Labels = BTreeMap<String, String>;

/// A `matchExpressions` operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectorOperator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// One `matchExpressions` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: SelectorOperator,
    pub values: Vec<String>,
}

/// A resolved label selector.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pub match_labels: Labels,
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

impl Requirement {
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
    In,
    NotIn,
    Exists,
    DoesNotExist,
    /// The label, read as an integer, is greater than the single value.
    Gt,
    /// The label, read as an integer, is less than the single value.
    Lt,
}

impl NodeOperator {
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
    pub key: String,
    pub operator: NodeOperator,
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

/// A node selector term: every expression and field requirement must hold. A term with
/// neither matches no node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSelectorTerm {
    pub match_expressions: Vec<NodeRequirement>,
    pub match_fields: Vec<NodeRequirement>,
}

impl NodeSelectorTerm {
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
