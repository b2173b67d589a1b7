//! The document tree: every mapping, sequence and scalar with the line and column it came from.
//!
//! serde-saphyr parses the text into this tree (with its limits and duplicate-key checks); the typed
//! config is then read from the tree by [`super::de`], which knows every node's position and key path.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::path::{KeyPath, Segment};
use crate::diagnostic::Pos;

/// A YAML scalar after YAML 1.1/1.2 resolution (`yes` is a boolean, `0x10` an integer).
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// `null`, `~` or an empty value.
    Null,
    /// A boolean, including YAML 1.1's `yes`/`no`/`on`/`off`.
    Bool(bool),
    /// An integer.
    Int(i128),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
}

/// What a node holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// A scalar.
    Scalar(Scalar),
    /// A sequence; each element keeps the index it had in the source, so paths stay right after pruning.
    Seq(Vec<(usize, Node)>),
    /// A mapping in source order; keys are scalars rendered as text.
    Map(Vec<(Key, Node)>),
}

/// A mapping key and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    /// The key as text (`1` for the integer key 1).
    pub text: String,
    /// Where the key was written.
    pub pos: Pos,
    /// Byte range of a non-string key (`on:`, `1:`), so its spelling can be recovered: keys are
    /// names, and `on` must stay `on`, not become `true`.
    pub span: Option<(usize, usize)>,
}

/// One node of the document.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The content.
    pub kind: Kind,
    /// Where the node was used (for an alias, the alias itself).
    pub pos: Pos,
    /// Byte range of the node's definition in the source, when known; used to recover how a
    /// non-string scalar was spelled (`0644`, `yes`).
    pub span: Option<(usize, usize)>,
    /// The spelling of a non-string scalar, filled in from `span` after parsing.
    pub raw: Option<String>,
}

impl Node {
    /// An empty mapping at an unknown position.
    pub fn empty_map() -> Self {
        Node {
            kind: Kind::Map(Vec::new()),
            pos: Pos::default(),
            span: None,
            raw: None,
        }
    }

    /// The value of `key`, if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key and value of `key`, if this is a mapping that has it.
    pub fn entry(&self, key: &str) -> Option<(&Key, &Node)> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.text == key)
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// The mapping entries, or nothing.
    pub fn entries(&self) -> &[(Key, Node)] {
        match &self.kind {
            Kind::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The string value of a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(Scalar::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// The scalar's text as a user wrote it (strings as is, other scalars by their spelling).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            Kind::Scalar(Scalar::Str(s)) => Some(s.clone()),
            Kind::Scalar(Scalar::Null) => None,
            Kind::Scalar(s) => Some(self.raw.clone().unwrap_or_else(|| s.to_string())),
            _ => None,
        }
    }

    /// A short description of the node for messages: "a string", "a mapping", ...
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar(Scalar::Null) => "null",
            Kind::Scalar(Scalar::Bool(_)) => "a boolean",
            Kind::Scalar(Scalar::Int(_)) => "an integer",
            Kind::Scalar(Scalar::Float(_)) => "a number",
            Kind::Scalar(Scalar::Str(_)) => "a string",
            Kind::Seq(_) => "a sequence",
            Kind::Map(_) => "a mapping",
        }
    }

    /// The node at `path`, if it exists.
    pub fn find(&self, path: &KeyPath) -> Option<&Node> {
        let mut node = self;
        for seg in &path.0 {
            node = node.child(seg)?;
        }
        Some(node)
    }

    /// The best position for `path`: the node itself, else the deepest existing ancestor.
    pub fn locate(&self, path: &KeyPath) -> Pos {
        let mut node = self;
        let mut pos = self.pos;
        for seg in &path.0 {
            match node.child(seg) {
                Some(child) => {
                    node = child;
                    pos = child.pos;
                }
                None => break,
            }
        }
        pos
    }

    /// The position of the key that ends `path` (for "unknown key"-style messages), else [`Node::locate`].
    pub fn locate_key(&self, path: &KeyPath) -> Pos {
        if let Some((Segment::Key(last), parent)) = path.0.split_last() {
            let parent = KeyPath(parent.to_vec());
            if let Some((key, _)) = self.find(&parent).and_then(|p| p.entry(last)) {
                return key.pos;
            }
        }
        self.locate(path)
    }

    fn child(&self, seg: &Segment) -> Option<&Node> {
        match (&self.kind, seg) {
            (Kind::Map(entries), Segment::Key(k)) => entries
                .iter()
                .find(|(key, _)| &key.text == k)
                .map(|(_, v)| v),
            (Kind::Seq(items), Segment::Index(i)) => {
                items.iter().find(|(n, _)| n == i).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    /// Removes the node at `path` from its parent; returns whether something was removed.
    pub fn prune(&mut self, path: &KeyPath) -> bool {
        let Some((last, parent)) = path.0.split_last() else {
            return false;
        };
        let mut node = self;
        for seg in parent {
            let next = match (&mut node.kind, seg) {
                (Kind::Map(entries), Segment::Key(k)) => entries
                    .iter_mut()
                    .find(|(key, _)| &key.text == k)
                    .map(|(_, v)| v),
                (Kind::Seq(items), Segment::Index(i)) => {
                    items.iter_mut().find(|(n, _)| n == i).map(|(_, v)| v)
                }
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => return false,
            }
        }
        match (&mut node.kind, last) {
            (Kind::Map(entries), Segment::Key(k)) => {
                let before = entries.len();
                entries.retain(|(key, _)| &key.text != k);
                before != entries.len()
            }
            (Kind::Seq(items), Segment::Index(i)) => {
                let before = items.len();
                items.retain(|(n, _)| n != i);
                before != items.len()
            }
            _ => false,
        }
    }

    /// Marks every position in this tree as being in part `part` of a user-data of several parts.
    pub fn stamp_part(&mut self, part: u32) {
        self.pos = self.pos.in_part(part);
        match &mut self.kind {
            Kind::Scalar(_) => {}
            Kind::Seq(items) => items.iter_mut().for_each(|(_, n)| n.stamp_part(part)),
            Kind::Map(entries) => {
                for (key, node) in entries.iter_mut() {
                    key.pos = key.pos.in_part(part);
                    node.stamp_part(part);
                }
            }
        }
    }

    /// Fills `raw` of every non-string scalar from the source text.
    pub(crate) fn fill_raw(&mut self, source: &str) {
        match &mut self.kind {
            Kind::Scalar(Scalar::Str(_) | Scalar::Null) => {}
            Kind::Scalar(_) => {
                self.raw = self
                    .span
                    .and_then(|(start, len)| source.get(start..start.checked_add(len)?))
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty() && !s.starts_with(['*', '&', '!']));
            }
            Kind::Seq(items) => items.iter_mut().for_each(|(_, n)| n.fill_raw(source)),
            Kind::Map(entries) => {
                for (key, node) in entries.iter_mut() {
                    if let Some(text) = key
                        .span
                        .and_then(|(start, len)| source.get(start..start.checked_add(len)?))
                    {
                        let text = text.trim();
                        if !text.is_empty() && !text.starts_with(['*', '&', '!']) {
                            key.text = text.to_owned();
                        }
                    }
                    node.fill_raw(source);
                }
            }
        }
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Null => f.write_str("null"),
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Str(s) => f.write_str(s),
        }
    }
}

fn pos_of(loc: &serde_saphyr::Location) -> Pos {
    Pos::new(
        u32::try_from(loc.line()).unwrap_or(u32::MAX),
        u32::try_from(loc.column()).unwrap_or(u32::MAX),
    )
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Kind>::deserialize(d)?;
        let span = spanned.defined.span();
        let span = match (span.byte_offset(), span.byte_len()) {
            (Some(o), Some(l)) => usize::try_from(o).ok().zip(usize::try_from(l).ok()),
            _ => None,
        };
        Ok(Node {
            kind: spanned.value,
            pos: pos_of(&spanned.referenced),
            span,
            raw: None,
        })
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Scalar(Scalar::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Scalar(Scalar::Int(v.into())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind::Scalar(Scalar::Int(v.into())))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Kind, E> {
        Ok(Kind::Scalar(Scalar::Int(v)))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Kind, E> {
        i128::try_from(v)
            .map(|v| Kind::Scalar(Scalar::Int(v)))
            .map_err(|_| E::custom("integer too large"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Scalar(Scalar::Float(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Scalar(Scalar::Str(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Scalar(Scalar::Str(v)))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Kind, E> {
        Ok(Kind::Scalar(Scalar::Str(
            String::from_utf8_lossy(v).into_owned(),
        )))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Scalar(Scalar::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Scalar(Scalar::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        Kind::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        Kind::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(node) = seq.next_element::<Node>()? {
            items.push((items.len(), node));
        }
        Ok(Kind::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries: Vec<(Key, Node)> = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let span = if matches!(key.kind, Kind::Scalar(Scalar::Str(_))) {
                None
            } else {
                key.span
            };
            let text = match &key.kind {
                Kind::Scalar(Scalar::Str(s)) => s.clone(),
                Kind::Scalar(Scalar::Null) => {
                    return Err(de::Error::custom("a mapping key cannot be empty"));
                }
                Kind::Scalar(s) => s.to_string(),
                _ => {
                    return Err(de::Error::custom(
                        "a mapping key must be a plain value, not a mapping or sequence",
                    ));
                }
            };
            let value = map.next_value::<Node>()?;
            entries.push((
                Key {
                    text,
                    pos: key.pos,
                    span,
                },
                value,
            ));
        }
        Ok(Kind::Map(entries))
    }
}
