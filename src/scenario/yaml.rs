//! A YAML document as a tree of values that remember where they came from.
//!
//! Each input document is parsed once (by serde-saphyr, which handles anchors, merge keys and
//! multi-document streams) into [`Node`]s carrying their line and column. Everything downstream
//! — typed deserialization, validation messages, "did you mean" hints — points back into the
//! file through these locations. This module only parses; it does not know any schema.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// A 1-based line and column in a source file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

/// A YAML value with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub position: Position,
}

/// The shape of a YAML value. Mappings keep their source order.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A document that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub position: Option<Position>,
    pub message: String,
}

/// Parses every document of a (possibly multi-document) YAML stream. Empty documents
/// (a lone `---`, comments only) are dropped.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let docs: Vec<Option<Spanned<Value>>> =
        serde_saphyr::from_multiple_with_options(text, parse_options()).map_err(|e| {
            SyntaxError {
                position: e.location().map(position_of),
                message: first_line(&e.without_snippet().to_string()),
            }
        })?;
    Ok(docs
        .into_iter()
        .flatten()
        .map(node_of)
        .filter(|n| n.value != Value::Null)
        .collect())
}

/// The parser's defaults (they stop YAML bombs, deep nesting and huge inputs by events, nodes,
/// aliases and bytes) but for the number of documents: a generated or Helm-rendered manifest
/// file of a large cluster holds thousands of objects (the default cap is 1 024), and the node
/// and byte budgets already bound what many documents can cost.
fn parse_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_documents = MAX_DOCUMENTS;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// Most documents in one YAML stream.
const MAX_DOCUMENTS: usize = 100_000;

fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or("").trim();
    // serde-saphyr appends " at line X column Y"; we print the position ourselves.
    let line = match line.find(" at line ") {
        Some(i) => &line[..i],
        None => line,
    };
    in_users_terms(line)
}

/// The parser's messages that name its own internals (budgets, option names), said as what is
/// wrong with the file and which limit it passed.
fn in_users_terms(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let key = rest
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(rest);
        return format!("duplicate key {key:?}: a key may appear only once in a mapping");
    }
    let Some(breach) = message.strip_prefix("budget breached: ") else {
        return message.to_string();
    };
    let budget = serde_saphyr::Budget::default();
    let kind = breach.split([' ', '{']).next().unwrap_or(breach);
    match kind {
        "Documents" => format!("more than {MAX_DOCUMENTS} YAML documents in one file"),
        "Nodes" => format!(
            "more than {} values (mappings, lists and scalars) in one file: split it",
            budget.max_nodes
        ),
        "Depth" => format!("nested more than {} levels deep", budget.max_depth),
        "Events" => format!(
            "the file is too large for one YAML stream (more than {} parser events)",
            budget.max_events
        ),
        "Aliases" | "Anchors" => format!(
            "more than {} YAML aliases or anchors in one file",
            budget.max_aliases
        ),
        "AliasAnchorRatio" => {
            "far more aliases than anchors (an alias expansion bomb): write the values out".into()
        }
        _ => format!("the file passes a YAML size limit ({kind})"),
    }
}

fn position_of(location: serde_saphyr::Location) -> Position {
    Position {
        line: u32::try_from(location.line()).unwrap_or(u32::MAX),
        column: u32::try_from(location.column()).unwrap_or(u32::MAX),
    }
}

fn node_of(spanned: Spanned<Value>) -> Node {
    Node {
        value: spanned.value,
        position: position_of(spanned.referenced),
    }
}

impl Node {
    /// The value under `key` when this node is a mapping with string keys.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(&k.value, Value::String(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The node at a dotted/indexed path such as `spec.template.spec.containers[0].name`.
    pub fn lookup(&self, path: &str) -> Option<&Node> {
        let mut node = self;
        for segment in split_path(path) {
            node = match segment {
                PathSegment::Key(k) => node.get(k)?,
                PathSegment::Index(i) => match &node.value {
                    Value::Seq(items) => items.get(i)?,
                    _ => return None,
                },
            };
        }
        Some(node)
    }

    /// The position of the node at `path`, or of its nearest ancestor present (this node's own
    /// when none is): where a message about `path` points.
    pub fn nearest_position(&self, path: &str) -> Position {
        let mut p = path;
        loop {
            if let Some(n) = self.lookup(p) {
                return n.position;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return self.position,
            }
        }
    }

    /// Sets the value at `path`, creating mappings for missing keys. The new value takes the
    /// position of the node it replaces (or of its parent), so errors still point into the file.
    pub fn set(&mut self, path: &str, value: Value) -> Result<(), String> {
        self.slot(path, None)?.value = value;
        Ok(())
    }

    /// Puts `node` (with its own position) at `path`, creating mappings for missing keys; the
    /// keys it creates take the node's position too, so that an error about a key that should
    /// not be there points where the node came from.
    pub fn replace(&mut self, path: &str, node: Node) -> Result<(), String> {
        let position = node.position;
        *self.slot(path, Some(position))? = node;
        Ok(())
    }

    /// The node at `path`, created (null, at `created` or else its parent's position) where a
    /// key is missing.
    fn slot(&mut self, path: &str, created: Option<Position>) -> Result<&mut Node, String> {
        let mut node = self;
        for segment in split_path(path) {
            let position = created.unwrap_or(node.position);
            node = match segment {
                PathSegment::Key(k) => {
                    if matches!(node.value, Value::Null) {
                        node.value = Value::Map(Vec::new());
                    }
                    let kind = node.kind_name();
                    let Value::Map(entries) = &mut node.value else {
                        return Err(format!(
                            "cannot set {k:?}: its parent is {kind}, not a mapping"
                        ));
                    };
                    let index = match entries.iter().position(|(key, _)| key.as_str() == Some(k)) {
                        Some(i) => i,
                        None => {
                            let key = Node {
                                value: Value::String(k.to_string()),
                                position,
                            };
                            entries.push((
                                key,
                                Node {
                                    value: Value::Null,
                                    position,
                                },
                            ));
                            entries.len() - 1
                        }
                    };
                    &mut entries[index].1
                }
                PathSegment::Index(i) => {
                    let kind = node.kind_name();
                    match &mut node.value {
                        Value::Seq(items) => {
                            let len = items.len();
                            items.get_mut(i).ok_or_else(|| {
                                format!("index [{i}] is out of range: the list has {len} items")
                            })?
                        }
                        _ => return Err(format!("cannot index [{i}] into {kind}")),
                    }
                }
            };
        }
        Ok(node)
    }

    /// A short description of the kind of value, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::UInt(_) => "an integer",
            Value::Float(_) => "a number",
            Value::String(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Value {
    /// The value as one line of flow-style YAML that reads back as the same value: `6`,
    /// `500m`, `"a: b"`, `[1, 2]`, `{cpu: 1}` — the text an override (`--set PATH=VALUE`) takes.
    pub fn to_flow(&self) -> String {
        match self {
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::UInt(u) => u.to_string(),
            Value::Float(f) => flow_float(*f),
            Value::String(s) => flow_string(s),
            Value::Seq(items) => {
                let items: Vec<String> = items.iter().map(|n| n.value.to_flow()).collect();
                format!("[{}]", items.join(", "))
            }
            Value::Map(entries) => {
                let entries: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{}: {}", k.value.to_flow(), v.value.to_flow()))
                    .collect();
                format!("{{{}}}", entries.join(", "))
            }
        }
    }
}

/// A float that YAML reads back as a float (`2.0`, not `2`; `.inf`, `.nan`).
fn flow_float(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { ".inf" } else { "-.inf" }.into()
    } else if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

/// A string plain when YAML would read it back as the same string, else double-quoted (JSON
/// escapes are valid YAML).
fn flow_string(s: &str) -> String {
    let plain = !s.is_empty()
        && !s.contains([',', '[', ']', '{', '}', '#', '"', '\'', '\n', '\t'])
        && !s.contains(": ")
        && s.trim() == s
        && matches!(parse_documents(s).as_deref(), Ok([n]) if n.value == Value::String(s.to_string()));
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).expect("strings serialize")
    }
}

enum PathSegment<'a> {
    Key(&'a str),
    Index(usize),
}

fn split_path(path: &str) -> impl Iterator<Item = PathSegment<'_>> {
    path.split('.').filter(|s| !s.is_empty()).flat_map(|part| {
        let mut segments = Vec::new();
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            segments.push(PathSegment::Key(key));
        }
        while let Some(end) = rest.find(']') {
            if let Ok(i) = rest[1..end].parse() {
                segments.push(PathSegment::Index(i));
            }
            rest = &rest[end + 1..];
        }
        segments
    })
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::UInt(v), Value::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Value>>()? {
            items.push(node_of(item));
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Value>>()? {
            let value = map.next_value::<Spanned<Value>>()?;
            entries.push((node_of(key), node_of(value)));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strips positions, to compare values only.
    fn bare(v: &Value) -> String {
        format!("{:?}", v.to_flow())
    }

    #[test]
    fn flow_text_reads_back_as_the_same_value() {
        let cases = [
            ("6", "6"),
            ("500m", "500m"),
            ("2.0", "2.0"),
            ("0.25", "0.25"),
            ("\"6\"", "\"6\""),
            ("\"a: b\"", "\"a: b\""),
            ("\"true\"", "\"true\""),
            ("\"\"", "\"\""),
            ("[1, b, {c: 2}]", "[1, b, {c: 2}]"),
            ("{cpu: 1, memory: 2Gi}", "{cpu: 1, memory: 2Gi}"),
            ("null", "null"),
        ];
        for (text, flow) in cases {
            let value = &parse_documents(&format!("v: {text}")).unwrap()[0]
                .get("v")
                .unwrap()
                .value
                .clone();
            assert_eq!(value.to_flow(), flow, "{text}");
            let again = parse_documents(&format!("v: {flow}")).unwrap()[0]
                .get("v")
                .unwrap()
                .value
                .clone();
            assert_eq!(bare(&again), bare(value), "{text} → {flow}");
        }
    }

    #[test]
    fn positions_and_types_survive_parsing() {
        let docs = parse_documents(
            "a: 1\nb:\n  - x\n  - \"2\"\nc: 1.5\n---\n# only a comment\n---\nd: true\n",
        )
        .unwrap();
        assert_eq!(docs.len(), 2, "the comment-only document is dropped");
        let b1 = docs[0].lookup("b[1]").unwrap();
        assert_eq!(
            b1.value,
            Value::String("2".into()),
            "quoted numbers stay strings"
        );
        assert_eq!(b1.position, Position { line: 4, column: 5 });
        assert_eq!(docs[0].lookup("a").unwrap().value, Value::Int(1));
        assert_eq!(docs[0].lookup("c").unwrap().value, Value::Float(1.5));
        assert_eq!(docs[1].lookup("d").unwrap().value, Value::Bool(true));
    }

    #[test]
    fn set_creates_and_replaces() {
        let mut doc = parse_documents("spec:\n  items: [{a: 1}]\n")
            .unwrap()
            .remove(0);
        doc.set("spec.items[0].a", Value::Int(5)).unwrap();
        doc.set("spec.new.deep", Value::Bool(true)).unwrap();
        let at = Position { line: 9, column: 9 };
        let placed = Node {
            value: Value::Int(7),
            position: at,
        };
        doc.replace("spec.items[0].b", placed).unwrap();
        assert_eq!(doc.lookup("spec.items[0].b").unwrap().position, at);
        assert_eq!(doc.lookup("spec.items[0].a").unwrap().value, Value::Int(5));
        assert_eq!(
            doc.lookup("spec.new.deep").unwrap().value,
            Value::Bool(true)
        );
        assert!(
            doc.set("spec.items[3].a", Value::Null)
                .unwrap_err()
                .contains("out of range")
        );
    }

    #[test]
    fn merge_keys_are_resolved() {
        let docs = parse_documents("base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n").unwrap();
        assert_eq!(docs[0].lookup("derived.x").unwrap().value, Value::Int(1));
    }

    #[test]
    fn thousands_of_documents_are_read_but_not_without_end() {
        // A large cluster's generated manifests: 5 000 objects in one stream (the parser's own
        // cap is 1 024) are read. A storm of 100 001 one-key documents is refused — by the
        // 250 000-value budget before the document cap (see the next test for which message).
        let doc = "kind: Service\nmetadata: {name: s}\n---\n";
        assert_eq!(parse_documents(&doc.repeat(5_000)).unwrap().len(), 5_000);
        let storm = "---\na: 1\n".repeat(MAX_DOCUMENTS + 1);
        assert!(parse_documents(&storm).is_err());
    }

    #[test]
    fn parser_limits_and_duplicates_are_said_in_the_users_terms() {
        let message = |text: &str| parse_documents(text).unwrap_err().message;
        assert_eq!(
            message("a: 1\na: 2\n"),
            "duplicate key \"a\": a key may appear only once in a mapping"
        );
        // 100 001 documents of one value each pass the 250 000-value budget first.
        assert_eq!(
            message(&"---\na: 1\n".repeat(MAX_DOCUMENTS + 1)),
            "more than 250000 values (mappings, lists and scalars) in one file: split it"
        );
        assert_eq!(
            message(
                &"---\n"
                    .repeat(MAX_DOCUMENTS + 1)
                    .replace("---\n", "--- 1\n")
            ),
            "more than 100000 YAML documents in one file"
        );
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(message(&deep), "nested more than 64 levels deep");
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse_documents("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.position.is_some(), "{err:?}");
        assert!(!err.message.is_empty());
    }
}
