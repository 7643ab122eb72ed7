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
