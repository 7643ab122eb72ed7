//! Typed deserialization from a [`Node`] tree, with exact locations.
//!
//! [`decode`] drives any `serde::Deserialize` type (our scenario structs, k8s-openapi's manifest
//! types) over a parsed YAML node. Because the deserializer walks the node tree itself, every
//! error knows the node it happened at: its line, column and field path. Fields a struct does not
//! know (serde hands them to `deserialize_ignored_any`) are collected with the struct's field list,
//! so the caller can report them with a "did you mean" hint.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

use super::yaml::{Node, Position, Value};

/// A field present in the input that the target type does not have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownField {
    pub path: String,
    pub position: Position,
    pub name: String,
    pub expected: &'static [&'static str],
}

/// A deserialization failure, located at the innermost node it happened at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub path: String,
    pub position: Option<Position>,
    pub message: String,
    missing_field: Option<&'static str>,
    located: bool,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for DecodeError {}

impl de::Error for DecodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DecodeError {
            path: String::new(),
            position: None,
            message: msg.to_string(),
            missing_field: None,
            located: false,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        DecodeError {
            missing_field: Some(field),
            ..Self::custom("required field is missing")
        }
    }
}

impl DecodeError {
    /// The error as a diagnostic about `file`.
    pub fn diagnostic(&self, file: &str) -> super::diag::Diagnostic {
        super::diag::Diagnostic::error(file, self.position, &self.path, self.message.clone())
    }

    /// Attaches the innermost location; outer frames leave a located error alone.
    fn locate(mut self, path: &str, position: Position) -> Self {
        if self.located {
            return self;
        }
        self.located = true;
        self.position = Some(position);
        self.path = match self.missing_field {
            Some(field) => join_key(path, field),
            None => path.to_string(),
        };
        self
    }
}

/// Deserializes `T` from `node`; `base_path` prefixes every reported path.
/// Unknown fields are returned beside the value, not treated as errors.
pub fn decode<T: DeserializeOwned>(
    node: &Node,
    base_path: &str,
) -> Result<(T, Vec<UnknownField>), DecodeError> {
    let unknown = RefCell::new(Vec::new());
    let de = NodeDeserializer {
        node,
        path: base_path.to_string(),
        parent_fields: &[],
        unknown: &unknown,
    };
    let value = T::deserialize(de)?;
    Ok((value, unknown.into_inner()))
}

/// Like [`decode`], but keeps going after errors: each offending value is replaced by null and
/// decoding is retried, so every independent problem in a document is reported at once. Returns
/// the value (if decoding eventually succeeded), its unknown fields and every error found.
pub fn decode_all<T: DeserializeOwned>(
    node: &Node,
    base_path: &str,
) -> (Option<T>, Vec<UnknownField>, Vec<DecodeError>) {
    const MAX_ATTEMPTS: usize = 64;
    let mut node = node.clone();
    let mut errors: Vec<DecodeError> = Vec::new();
    for _ in 0..MAX_ATTEMPTS {
        match decode::<T>(&node, base_path) {
            Ok((value, unknown)) => return (Some(value), unknown, errors),
            Err(e) => {
                let repeated = errors.iter().any(|x| x.path == e.path);
                let relative = e
                    .path
                    .strip_prefix(base_path)
                    .unwrap_or(&e.path)
                    .trim_start_matches('.')
                    .to_string();
                if !repeated {
                    errors.push(e);
                }
                if repeated || relative.is_empty() || node.set(&relative, Value::Null).is_err() {
                    break;
                }
            }
        }
    }
    (None, Vec::new(), errors)
}

fn join_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

struct NodeDeserializer<'a> {
    node: &'a Node,
    path: String,
    /// Fields of the struct this node is a value of (for unknown-field hints).
    parent_fields: &'static [&'static str],
    unknown: &'a RefCell<Vec<UnknownField>>,
}

impl<'a> NodeDeserializer<'a> {
    fn child(&self, node: &'a Node, path: String, parent_fields: &'static [&'static str]) -> Self {
        NodeDeserializer {
            node,
            path,
            parent_fields,
            unknown: self.unknown,
        }
    }

    fn located<T>(&self, result: Result<T, DecodeError>) -> Result<T, DecodeError> {
        result.map_err(|e| e.locate(&self.path, self.node.position))
    }

    fn visit_node<V: Visitor<'a>>(
        &self,
        visitor: V,
        fields: &'static [&'static str],
    ) -> Result<V::Value, DecodeError> {
        match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::UInt(u) => visitor.visit_u64(*u),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::String(s) => visitor.visit_str(s),
            Value::Seq(items) => visitor.visit_seq(SeqAccess {
                parent: self,
                items: items.iter(),
                index: 0,
            }),
            Value::Map(entries) => visitor.visit_map(MapAccess {
                parent: self,
                entries: entries.iter(),
                value: None,
                fields,
            }),
        }
    }
}

macro_rules! forward_to_any {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
            let r = self.visit_node(visitor, &[]);
            self.located(r)
        })*
    };
}

impl<'de> de::Deserializer<'de> for NodeDeserializer<'de> {
    type Error = DecodeError;

    forward_to_any! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_unit deserialize_seq deserialize_map deserialize_identifier
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        let r = match self.node.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self.child(self.node, self.path.clone(), self.parent_fields)),
        };
        self.located(r)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let path = self.path.clone();
        let position = self.node.position;
        visitor
            .visit_newtype_struct(self)
            .map_err(|e| e.locate(&path, position))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let r = match &self.node.value {
            Value::Map(_) => self.visit_node(visitor, fields),
            // An empty value where a struct is expected (`resources:`) is an empty struct.
            Value::Null => self
                .child(&EMPTY_MAP, self.path.clone(), &[])
                .visit_node(visitor, fields),
            _ => Err(de::Error::custom(format!(
                "expected a mapping, found {}",
                self.node.kind_name()
            ))),
        };
        self.located(r)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let r = match &self.node.value {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Value::Map(entries) if entries.len() == 1 => {
                let (key, value) = &entries[0];
                visitor.visit_enum(EnumAccess {
                    parent: &self,
                    key,
                    value,
                })
            }
            _ => Err(de::Error::custom(format!(
                "expected one of {} (as a string, or a mapping with exactly one of them as its key)",
                variants.join(", ")
            ))),
        };
        self.located(r)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        if !self.parent_fields.is_empty() {
            let name = self.path.rsplit('.').next().unwrap_or("").to_string();
            self.unknown.borrow_mut().push(UnknownField {
                path: self.path.clone(),
                position: self.node.position,
                name,
                expected: self.parent_fields,
            });
        }
        visitor.visit_unit()
    }
}

static EMPTY_MAP: Node = Node {
    value: Value::Map(Vec::new()),
    position: Position { line: 0, column: 0 },
};

struct SeqAccess<'p, 'a> {
    parent: &'p NodeDeserializer<'a>,
    items: std::slice::Iter<'a, Node>,
    index: usize,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'_, 'de> {
    type Error = DecodeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DecodeError> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let path = format!("{}[{}]", self.parent.path, self.index);
        self.index += 1;
        seed.deserialize(self.parent.child(item, path, &[]))
            .map(Some)
    }
}

struct MapAccess<'p, 'a> {
    parent: &'p NodeDeserializer<'a>,
    entries: std::slice::Iter<'a, (Node, Node)>,
    value: Option<(&'a Node, String)>,
    fields: &'static [&'static str],
}

impl<'de> de::MapAccess<'de> for MapAccess<'_, 'de> {
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let key_text = match &key.value {
            Value::String(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => String::from("?"),
        };
        let path = join_key(&self.parent.path, &key_text);
        self.value = Some((value, path.clone()));
        seed.deserialize(self.parent.child(key, path, &[]))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DecodeError> {
        let (node, path) = self
            .value
            .take()
            .expect("serde asked for a value before its key");
        seed.deserialize(self.parent.child(node, path, self.fields))
    }
}

struct EnumAccess<'p, 'a> {
    parent: &'p NodeDeserializer<'a>,
    key: &'a Node,
    value: &'a Node,
}

impl<'de, 'p> de::EnumAccess<'de> for EnumAccess<'p, 'de> {
    type Error = DecodeError;
    type Variant = VariantAccess<'p, 'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), DecodeError> {
        let name = self.key.as_str().unwrap_or("?").to_string();
        let path = join_key(&self.parent.path, &name);
        let variant = seed.deserialize(self.parent.child(self.key, path.clone(), &[]))?;
        Ok((
            variant,
            VariantAccess {
                parent: self.parent,
                value: self.value,
                path,
            },
        ))
    }
}

struct VariantAccess<'p, 'a> {
    parent: &'p NodeDeserializer<'a>,
    value: &'a Node,
    path: String,
}

impl<'de> de::VariantAccess<'de> for VariantAccess<'_, 'de> {
    type Error = DecodeError;

    fn unit_variant(self) -> Result<(), DecodeError> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, DecodeError> {
        seed.deserialize(self.parent.child(self.value, self.path, &[]))
    }
    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        de::Deserializer::deserialize_seq(self.parent.child(self.value, self.path, &[]), visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        de::Deserializer::deserialize_struct(
            self.parent.child(self.value, self.path, &[]),
            "",
            fields,
            visitor,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::yaml::parse_documents;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Inner {
        max_replicas: u32,
        #[serde(default)]
        labels: std::collections::BTreeMap<String, String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Outer {
        name: String,
        items: Vec<Inner>,
    }

    fn node(text: &str) -> Node {
        parse_documents(text).unwrap().remove(0)
    }

    #[test]
    fn decodes_and_collects_unknown_fields_with_their_struct_fields() {
        let n = node("name: a\nitems:\n  - maxReplicas: 3\n    maxReplcas: 4\n");
        let (v, unknown): (Outer, _) = decode(&n, "spec").unwrap();
        assert_eq!(v.items[0].max_replicas, 3);
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].path, "spec.items[0].maxReplcas");
        assert_eq!(
            unknown[0].position,
            Position {
                line: 4,
                column: 17
            }
        );
        assert!(unknown[0].expected.contains(&"maxReplicas"));
    }

    #[test]
    fn type_errors_point_at_the_innermost_node() {
        let n = node("name: a\nitems:\n  - maxReplicas: lots\n");
        let err = decode::<Outer>(&n, "").unwrap_err();
        assert_eq!(err.path, "items[0].maxReplicas");
        assert_eq!(
            err.position,
            Some(Position {
                line: 3,
                column: 18
            })
        );
        assert!(err.message.contains("invalid type"), "{}", err.message);
    }

    #[test]
    fn missing_fields_name_the_field() {
        let n = node("name: a\nitems:\n  - labels: {}\n");
        let err = decode::<Outer>(&n, "").unwrap_err();
        assert_eq!(err.path, "items[0].maxReplicas");
        assert_eq!(err.position, Some(Position { line: 3, column: 5 }));
    }

    #[test]
    fn decode_all_reports_every_independent_error() {
        let n = node("name: 5\nitems:\n  - maxReplicas: lots\n  - maxReplicas: 2\n");
        let (value, _, errors) = decode_all::<Outer>(&n, "");
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        // `name` nulled → then "expected a string" for null at the same path ends the attempts.
        assert_eq!(paths, vec!["name"]);
        assert!(value.is_none());
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Optional {
            a: Option<u32>,
            b: Option<u32>,
            c: Option<String>,
        }
        let n = node("a: x\nb: y\nc: z\n");
        let (value, _, errors) = decode_all::<Optional>(&n, "spec");
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, vec!["spec.a", "spec.b"]);
        assert!(value.is_some(), "optional fields recover as None");
    }

    #[test]
    fn numbers_are_not_silently_turned_into_strings() {
        let n = node("name: 5\nitems: []\n");
        let err = decode::<Outer>(&n, "").unwrap_err();
        assert_eq!(err.path, "name");
    }
}
