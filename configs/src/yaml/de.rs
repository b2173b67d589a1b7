//! A serde deserializer over the [`Node`] tree that knows where it is: every error carries the key path
//! and the line:column of the node that caused it, and keys a struct does not know are collected
//! (never silently dropped) so the caller can decide whether they are errors or warnings.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Unexpected, Visitor};

use super::node::{Kind, Node, Scalar};
use super::path::KeyPath;
use crate::diagnostic::Pos;

/// A key a struct did not expect.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnknownKey {
    /// Path of the mapping that holds the key.
    pub parent: KeyPath,
    /// The key.
    pub key: String,
    /// Where the key was written.
    pub pos: Pos,
    /// The keys the struct does accept.
    pub expected: Vec<&'static str>,
}

/// What a deserialization run noticed besides its result.
#[derive(Debug, Default)]
pub struct Context {
    unknown: RefCell<Vec<UnknownKey>>,
}

impl Context {
    /// The unknown keys seen so far, sorted and without duplicates.
    pub fn unknown_keys(&self) -> Vec<UnknownKey> {
        let mut keys = self.unknown.borrow().clone();
        keys.sort();
        keys.dedup();
        keys
    }
}

/// Why a node could not be read as the expected type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeError {
    /// The key path of the offending node, once known.
    pub path: Option<KeyPath>,
    /// Its position, once known.
    pub pos: Option<Pos>,
    /// What is wrong, and what was expected.
    pub message: String,
    /// Set when the error is a missing required key (its name).
    pub missing_field: Option<String>,
}

impl DeError {
    fn new(message: String) -> Self {
        DeError {
            path: None,
            pos: None,
            message,
            missing_field: None,
        }
    }

    /// Attaches the innermost location only: the first node that sees an error owns it.
    fn at(mut self, path: &KeyPath, pos: Pos) -> Self {
        if self.path.is_none() {
            self.path = Some(path.clone());
            self.pos = Some(pos);
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(msg.to_string())
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let expected = friendly_expected(&exp.to_string());
        let hint = match (&unexp, expected.as_str()) {
            (Unexpected::Str(s), e) if e.starts_with("a list") => {
                format!(": write a list, such as [{s}]")
            }
            (Unexpected::Str(_), "a boolean") => ": write true or false".to_owned(),
            _ => String::new(),
        };
        DeError::new(format!("expected {expected}, found {unexp}{hint}"))
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::new(format!(
            "invalid value {}: expected {}",
            unexp,
            friendly_expected(&exp.to_string())
        ))
    }

    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        DeError::new(format!(
            "expected {}, found {len} elements",
            friendly_expected(&exp.to_string())
        ))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError::new(format!(
            "unknown value `{variant}`: expected one of {}",
            one_of(expected)
        ))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError::new(format!(
            "unknown key `{field}`: expected one of {}",
            one_of(expected)
        ))
    }

    fn missing_field(field: &'static str) -> Self {
        DeError {
            missing_field: Some(field.to_owned()),
            ..DeError::new(format!("missing required key `{field}`"))
        }
    }

    fn duplicate_field(field: &'static str) -> Self {
        DeError::new(format!("duplicate key `{field}`"))
    }
}

/// `a, b or c` with backquotes.
pub fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        None => "nothing".to_owned(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// serde's "expected" texts are for Rust programmers; say it in YAML terms.
fn friendly_expected(exp: &str) -> String {
    let int = |lo: &str, hi: &str| format!("an integer from {lo} to {hi}");
    match exp {
        "u8" => int("0", "255"),
        "u16" => int("0", "65535"),
        "u32" => int("0", "4294967295"),
        "u64" | "usize" => "a non-negative integer".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a sequence" => "a list".to_owned(),
        "a map" => "a mapping".to_owned(),
        other if other.starts_with("struct ") => "a mapping".to_owned(),
        other if other.starts_with("a sequence") => "a list".to_owned(),
        other => other.to_owned(),
    }
}

/// Reads a `T` from `node`, which lives at `path`.
pub fn from_node<T: DeserializeOwned>(
    node: &Node,
    path: &KeyPath,
    ctx: &Context,
) -> Result<T, DeError> {
    T::deserialize(NodeDeserializer {
        node,
        path: path.clone(),
        ctx,
    })
}

/// The deserializer for one node.
pub struct NodeDeserializer<'a> {
    node: &'a Node,
    path: KeyPath,
    ctx: &'a Context,
}

impl<'a> NodeDeserializer<'a> {
    fn unexpected(&self) -> Unexpected<'a> {
        match &self.node.kind {
            Kind::Scalar(Scalar::Null) => Unexpected::Other("null"),
            Kind::Scalar(Scalar::Bool(b)) => Unexpected::Bool(*b),
            Kind::Scalar(Scalar::Int(i)) => match i64::try_from(*i) {
                Ok(i) => Unexpected::Signed(i),
                Err(_) => Unexpected::Other("a large integer"),
            },
            Kind::Scalar(Scalar::Float(x)) => Unexpected::Float(*x),
            Kind::Scalar(Scalar::Str(s)) => Unexpected::Str(s),
            Kind::Seq(_) => Unexpected::Other("a list"),
            Kind::Map(_) => Unexpected::Other("a mapping"),
        }
    }

    fn wrong<T>(&self, exp: &dyn de::Expected) -> Result<T, DeError> {
        Err(de::Error::invalid_type(self.unexpected(), exp))
    }

    fn child(&self, node: &'a Node, path: KeyPath) -> NodeDeserializer<'a> {
        NodeDeserializer {
            node,
            path,
            ctx: self.ctx,
        }
    }

    fn any<'de, V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Scalar(Scalar::Null) => v.visit_unit(),
            Kind::Scalar(Scalar::Bool(b)) => v.visit_bool(*b),
            Kind::Scalar(Scalar::Int(i)) => visit_int(*i, v),
            Kind::Scalar(Scalar::Float(x)) => v.visit_f64(*x),
            Kind::Scalar(Scalar::Str(s)) => v.visit_str(s),
            Kind::Seq(items) => v.visit_seq(SeqReader {
                items: items.iter(),
                de: &self,
            }),
            Kind::Map(entries) => v.visit_map(MapReader::new(&self, entries, None)),
        }
    }

    fn string<'de, V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match (&self.node.kind, self.node.scalar_text()) {
            (Kind::Scalar(_), Some(text)) => v.visit_string(text),
            _ => self.wrong(&v),
        }
    }

    fn int<'de, V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Scalar(Scalar::Int(i)) => visit_int(*i, v),
            _ => self.wrong(&v),
        }
    }
}

fn visit_int<'de, V: Visitor<'de>>(i: i128, v: V) -> Result<V::Value, DeError> {
    if let Ok(u) = u64::try_from(i) {
        v.visit_u64(u)
    } else if let Ok(s) = i64::try_from(i) {
        v.visit_i64(s)
    } else {
        v.visit_i128(i)
    }
}

macro_rules! positioned {
    ($($method:ident => $inner:ident),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
                let (path, pos) = (self.path.clone(), self.node.pos);
                self.$inner(v).map_err(|e| e.at(&path, pos))
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for NodeDeserializer<'_> {
    type Error = DeError;

    positioned! {
        deserialize_any => any,
        deserialize_i8 => int, deserialize_i16 => int, deserialize_i32 => int, deserialize_i64 => int,
        deserialize_i128 => int, deserialize_u8 => int, deserialize_u16 => int, deserialize_u32 => int,
        deserialize_u64 => int, deserialize_u128 => int,
        deserialize_f32 => float, deserialize_f64 => float,
        deserialize_bool => boolean,
        deserialize_char => string, deserialize_str => string, deserialize_string => string,
        deserialize_bytes => string, deserialize_byte_buf => string, deserialize_identifier => string,
        deserialize_option => option, deserialize_unit => unit,
        deserialize_seq => seq, deserialize_map => map,
        deserialize_ignored_any => ignored,
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        let (path, pos) = (self.path.clone(), self.node.pos);
        v.visit_newtype_struct(self).map_err(|e| e.at(&path, pos))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, v: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let (path, pos) = (self.path.clone(), self.node.pos);
        let result = match &self.node.kind {
            Kind::Map(entries) => v.visit_map(MapReader::new(&self, entries, Some(fields))),
            // An empty value (`key:`) is an empty mapping, as cloud-init and netplan read it.
            Kind::Scalar(Scalar::Null) => v.visit_map(MapReader::new(&self, &[], Some(fields))),
            _ => self.wrong(&v),
        };
        result.map_err(|e| e.at(&path, pos))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let (path, pos) = (self.path.clone(), self.node.pos);
        let result = match &self.node.kind {
            Kind::Map(entries) if entries.len() == 1 => {
                let (key, value) = &entries[0];
                v.visit_enum(EnumReader {
                    variant: key.text.clone(),
                    value: Some(self.child(value, path.key(&key.text))),
                })
            }
            Kind::Map(_) => Err(DeError::new(format!(
                "expected exactly one of {}",
                one_of(variants)
            ))),
            Kind::Scalar(Scalar::Null) | Kind::Seq(_) => self.wrong(&v),
            Kind::Scalar(_) => match self.node.scalar_text() {
                Some(variant) => v.visit_enum(EnumReader {
                    variant,
                    value: None,
                }),
                None => self.wrong(&v),
            },
        };
        result.map_err(|e| e.at(&path, pos))
    }

    fn is_human_readable(&self) -> bool {
        true
    }
}

impl NodeDeserializer<'_> {
    fn float<'de, V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            #[allow(clippy::cast_precision_loss)]
            Kind::Scalar(Scalar::Int(i)) => v.visit_f64(*i as f64),
            Kind::Scalar(Scalar::Float(x)) => v.visit_f64(*x),
            _ => self.wrong(&v),
        }
    }

    fn boolean<'de, V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Scalar(Scalar::Bool(b)) => v.visit_bool(*b),
            _ => self.wrong(&v),
        }
    }

    fn option<'de, V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Scalar(Scalar::Null) => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn unit<'de, V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Scalar(Scalar::Null) => v.visit_unit(),
            _ => self.wrong(&v),
        }
    }

    fn seq<'de, V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Seq(items) => v.visit_seq(SeqReader {
                items: items.iter(),
                de: &self,
            }),
            // `key:` with nothing after it is an empty list.
            Kind::Scalar(Scalar::Null) => v.visit_seq(SeqReader {
                items: [].iter(),
                de: &self,
            }),
            _ => self.wrong(&v),
        }
    }

    fn map<'de, V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Map(entries) => v.visit_map(MapReader::new(&self, entries, None)),
            Kind::Scalar(Scalar::Null) => v.visit_map(MapReader::new(&self, &[], None)),
            _ => self.wrong(&v),
        }
    }

    fn ignored<'de, V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_unit()
    }
}

struct SeqReader<'a, 'b> {
    items: std::slice::Iter<'a, (usize, Node)>,
    de: &'b NodeDeserializer<'a>,
}

impl<'de> de::SeqAccess<'de> for SeqReader<'_, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some((index, node)) => seed
                .deserialize(self.de.child(node, self.de.path.index(*index)))
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapReader<'a, 'b> {
    entries: std::slice::Iter<'a, (super::Key, Node)>,
    fields: Option<&'static [&'static str]>,
    de: &'b NodeDeserializer<'a>,
    value: Option<&'a (super::Key, Node)>,
}

impl<'a, 'b> MapReader<'a, 'b> {
    fn new(
        de: &'b NodeDeserializer<'a>,
        entries: &'a [(super::Key, Node)],
        fields: Option<&'static [&'static str]>,
    ) -> Self {
        MapReader {
            entries: entries.iter(),
            fields,
            de,
            value: None,
        }
    }
}

impl<'de> de::MapAccess<'de> for MapReader<'_, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        for entry in self.entries.by_ref() {
            let (key, _) = entry;
            if let Some(fields) = self.fields
                && !fields.contains(&key.text.as_str())
            {
                self.de.ctx.unknown.borrow_mut().push(UnknownKey {
                    parent: self.de.path.clone(),
                    key: key.text.clone(),
                    pos: key.pos,
                    expected: fields.to_vec(),
                });
                continue;
            }
            self.value = Some(entry);
            let key_de: de::value::StringDeserializer<DeError> =
                key.text.clone().into_deserializer();
            return seed
                .deserialize(key_de)
                .map(Some)
                .map_err(|e| e.at(&self.de.path.key(&key.text), key.pos));
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let (key, node) = self
            .value
            .take()
            .ok_or_else(|| DeError::new("value requested before key".to_owned()))?;
        seed.deserialize(self.de.child(node, self.de.path.key(&key.text)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct EnumReader<'a> {
    variant: String,
    value: Option<NodeDeserializer<'a>>,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumReader<'a> {
    type Error = DeError;
    type Variant = VariantReader<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantReader<'a>), DeError> {
        let name: de::value::StringDeserializer<DeError> = self.variant.clone().into_deserializer();
        let value = seed.deserialize(name)?;
        Ok((
            value,
            VariantReader {
                variant: self.variant,
                value: self.value,
            },
        ))
    }
}

struct VariantReader<'a> {
    variant: String,
    value: Option<NodeDeserializer<'a>>,
}

impl VariantReader<'_> {
    fn needs_value(&self) -> DeError {
        DeError::new(format!(
            "`{}` needs a value: write `{}: VALUE`",
            self.variant, self.variant
        ))
    }
}

impl<'de> de::VariantAccess<'de> for VariantReader<'_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.value {
            None => Ok(()),
            Some(de) if matches!(de.node.kind, Kind::Scalar(Scalar::Null)) => Ok(()),
            Some(de) => Err(DeError::new(format!("`{}` takes no value", self.variant))
                .at(&de.path, de.node.pos)),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        match self.value {
            Some(de) => seed.deserialize(de),
            None => Err(self.needs_value()),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, v: V) -> Result<V::Value, DeError> {
        match self.value {
            Some(de) => de::Deserializer::deserialize_seq(de, v),
            None => Err(self.needs_value()),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        match self.value {
            Some(de) => de::Deserializer::deserialize_struct(de, "", fields, v),
            None => Err(self.needs_value()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;
    use crate::yaml::parse;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        port: u16,
        #[serde(default)]
        on: bool,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "kebab-case")]
    enum Mode {
        Fast,
        Slow,
        Port(u16),
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Outer {
        name: String,
        inner: Vec<Inner>,
        #[serde(default)]
        mode: Option<Mode>,
        #[serde(default)]
        env: BTreeMap<String, String>,
    }

    fn read(text: &str) -> (Result<Outer, DeError>, Vec<UnknownKey>) {
        let node = parse(text).unwrap();
        let ctx = Context::default();
        (from_node(&node, &KeyPath::root(), &ctx), ctx.unknown_keys())
    }

    #[test]
    fn reads_yaml_1_1_and_lenient_strings() {
        let (out, unknown) = read(
            "name: 0644\ninner:\n  - port: 80\n    on: yes\nmode: {port: 9}\nenv: {A: on, B: 1}\n",
        );
        let out = out.unwrap();
        assert_eq!(out.name, "0644");
        assert!(out.inner[0].on);
        assert_eq!(out.mode, Some(Mode::Port(9)));
        assert_eq!(out.env["A"], "on");
        assert!(unknown.is_empty());
        let (out, _) = read("name: x\ninner: []\nmode: slow\n");
        assert_eq!(out.unwrap().mode, Some(Mode::Slow));
    }

    #[test]
    fn errors_carry_path_and_position() {
        let (out, _) = read("name: x\ninner:\n  - port: 80\n  - port: lots\n");
        let err = out.unwrap_err();
        assert_eq!(err.path.unwrap().to_string(), "inner[1].port");
        assert_eq!(err.pos, Some(Pos::new(4, 11)));
        assert_eq!(
            err.message,
            "expected an integer from 0 to 65535, found string \"lots\""
        );

        let (out, _) = read("name: x\ninner:\n  - on: true\n");
        let err = out.unwrap_err();
        assert_eq!(err.path.unwrap().to_string(), "inner[0]");
        assert_eq!(err.missing_field.as_deref(), Some("port"));

        let (out, _) = read("name: x\ninner: []\nmode: medium\n");
        let err = out.unwrap_err();
        assert!(err.message.contains("unknown value `medium`"), "{err:?}");
        assert_eq!(err.pos, Some(Pos::new(3, 7)));

        let (out, _) = read("name: x\ninner: []\nmode: {fast: 1}\n");
        assert!(out.unwrap_err().message.contains("takes no value"));
    }

    #[test]
    fn collects_unknown_keys() {
        let (out, unknown) = read("name: x\nextra: 1\ninner:\n  - port: 1\n    colour: red\n");
        assert!(out.is_ok());
        assert_eq!(unknown.len(), 2);
        assert_eq!(unknown[0].key, "extra");
        assert_eq!(unknown[1].parent.to_string(), "inner[0]");
        assert_eq!(unknown[1].pos, Pos::new(5, 5));
    }
}
