//! What PyYAML (and so cloud-init) accepts that strict YAML does not, found in a parsed tree:
//! a key repeated in a mapping (PyYAML keeps the last) and `!!binary` text with characters outside
//! the base64 alphabet (PyYAML's `base64.decodebytes` drops them). This module only finds and
//! resolves them the way PyYAML does; whether each is a warning or an error is the caller's
//! decision (`crate::parse`), by where in the document it is.

use base64::Engine;

use super::{KeyPath, Kind, Node, Scalar};
use crate::diagnostic::Pos;

/// One place where the document relies on PyYAML's leniency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leniency {
    /// A key written twice in one mapping; the last was kept.
    DuplicateKey {
        /// The key's path.
        path: KeyPath,
        /// Where the dropped, earlier key was.
        first: Pos,
        /// Where the kept, last key is.
        last: Pos,
    },
    /// `!!binary` text with characters outside the base64 alphabet, decoded without them.
    Base64 {
        /// The value's path.
        path: KeyPath,
        /// Where the value is.
        pos: Pos,
        /// How many characters were dropped.
        dropped: usize,
    },
}

impl Leniency {
    /// The path it concerns.
    pub fn path(&self) -> &KeyPath {
        match self {
            Leniency::DuplicateKey { path, .. } | Leniency::Base64 { path, .. } => path,
        }
    }

    /// The same, found in a document that sits under `prefix`.
    pub fn under(mut self, prefix: &KeyPath) -> Leniency {
        let path = match &mut self {
            Leniency::DuplicateKey { path, .. } | Leniency::Base64 { path, .. } => path,
        };
        let mut full = prefix.clone();
        full.0.append(&mut path.0);
        *path = full;
        self
    }

    /// Where to report it.
    pub fn pos(&self) -> Pos {
        match self {
            Leniency::DuplicateKey { last, .. } => *last,
            Leniency::Base64 { pos, .. } => *pos,
        }
    }

    /// What it is and what cloud-init does with it.
    pub fn describe(&self) -> String {
        match self {
            Leniency::DuplicateKey { path, first, .. } => format!(
                "duplicate key `{}` (first at {}:{}): cloud-init (PyYAML) keeps the last one",
                last_key(path),
                first.line,
                first.col
            ),
            Leniency::Base64 { dropped, .. } => format!(
                "`!!binary` text has {dropped} character(s) outside the base64 alphabet: cloud-init (PyYAML) drops them and decodes the rest"
            ),
        }
    }
}

fn last_key(path: &KeyPath) -> String {
    match path.0.last() {
        Some(super::Segment::Key(k)) => k.clone(),
        _ => path.to_string(),
    }
}

/// Why a `!!binary` value cannot be used at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BinaryError {
    /// Where the value is.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
}

/// Resolves duplicates (last wins) and decodes `!!binary` strings (leniently) in `node`, whose text
/// is `source`; returns what relied on leniency.
pub fn resolve(node: &mut Node, source: &str) -> Result<Vec<Leniency>, BinaryError> {
    let mut found = Vec::new();
    walk(node, source, &KeyPath::root(), &mut found)?;
    Ok(found)
}

fn walk(
    node: &mut Node,
    source: &str,
    path: &KeyPath,
    found: &mut Vec<Leniency>,
) -> Result<(), BinaryError> {
    let pos = node.pos;
    let span = node.span;
    match &mut node.kind {
        Kind::Scalar(Scalar::Str(text)) => {
            // serde-saphyr leaves a tagged block scalar's text as written (`ignore_binary_tag_for_string`)
            // but decodes a tagged plain one itself; decode only what is still base64 text.
            let tagged = span.is_some_and(|(start, len)| {
                let before = source.get(..start).unwrap_or("");
                let written = source.get(start..start.saturating_add(len)).unwrap_or("");
                let block = before.trim_end().trim_end_matches([
                    '|', '>', '+', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9',
                ]);
                let still_text = written.trim().trim_matches(['"', '\'']) == text.as_str();
                (block.len() < before.trim_end().len() && ends_with_binary_tag(block))
                    || (still_text && (is_binary_tag(written) || ends_with_binary_tag(before)))
            });
            if tagged {
                let (bytes, dropped) = decode_lenient(text).map_err(|message| BinaryError {
                    pos,
                    message: format!("`!!binary` value: {message}"),
                })?;
                *text = String::from_utf8(bytes).map_err(|_| BinaryError {
                    pos,
                    message: "`!!binary` value is not UTF-8 text once decoded: write it with `encoding: b64` in write_files instead".to_owned(),
                })?;
                if dropped > 0 {
                    found.push(Leniency::Base64 {
                        path: path.clone(),
                        pos,
                        dropped,
                    });
                }
            }
        }
        Kind::Scalar(_) => {}
        Kind::Seq(items) => {
            for (i, item) in items.iter_mut() {
                walk(item, source, &path.index(*i), found)?;
            }
        }
        Kind::Map(entries) => {
            // The last index of each key, so a big mapping costs n log n, not n².
            let mut last: std::collections::BTreeMap<&str, usize> =
                std::collections::BTreeMap::new();
            for (i, (key, _)) in entries.iter().enumerate() {
                last.insert(key.text.as_str(), i);
            }
            let mut keep = vec![true; entries.len()];
            for (i, (key, _)) in entries.iter().enumerate() {
                let Some(&kept) = last.get(key.text.as_str()) else {
                    continue;
                };
                if kept != i {
                    if let Some(slot) = keep.get_mut(i) {
                        *slot = false;
                    }
                    // Report each dropped key against the one that is kept.
                    found.push(Leniency::DuplicateKey {
                        path: path.key(&key.text),
                        first: key.pos,
                        last: entries.get(kept).map_or(key.pos, |(k, _)| k.pos),
                    });
                }
            }
            let mut flags = keep.into_iter();
            entries.retain(|_| flags.next().unwrap_or(true));
            for (key, value) in entries.iter_mut() {
                walk(value, source, &path.key(&key.text), found)?;
            }
        }
    }
    Ok(())
}

/// Whether a scalar as written carries YAML's binary tag.
fn is_binary_tag(written: &str) -> bool {
    let w = written.trim_start();
    w.starts_with("!!binary") || w.starts_with("!<tag:yaml.org,2002:binary>")
}

/// Whether the text before a scalar ends with YAML's binary tag (the scalar's span may start after
/// its tag, as it does for block scalars).
fn ends_with_binary_tag(before: &str) -> bool {
    let b = before.trim_end();
    b.ends_with("!!binary") || b.ends_with("!<tag:yaml.org,2002:binary>")
}

/// Why base64 text cannot be decoded, even leniently.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Base64Error {
    /// One character too many or too few for whole bytes.
    #[error("not valid base64: its length does not fit whole bytes")]
    Length,
    /// What the base64 decoder refused.
    #[error("not valid base64: {0}")]
    Invalid(base64::DecodeError),
}

/// Decodes base64 as Python's `base64.decodebytes` does: characters outside the alphabet (and
/// whitespace) are dropped, padding ends the data. Returns the bytes and how many non-whitespace
/// characters were dropped.
pub fn decode_lenient(text: &str) -> Result<(Vec<u8>, usize), Base64Error> {
    let mut kept = String::with_capacity(text.len());
    let mut dropped = 0;
    let mut padded = false;
    for c in text.chars() {
        match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '+' | '/' if !padded => kept.push(c),
            '=' => padded = true,
            c if c.is_whitespace() => {}
            _ if padded => {}
            _ => dropped += 1,
        }
    }
    if kept.len() % 4 == 1 {
        return Err(Base64Error::Length);
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
    );
    engine
        .decode(kept)
        .map(|bytes| (bytes, dropped))
        .map_err(Base64Error::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_base64_drops_what_python_drops() {
        assert_eq!(
            decode_lenient("aGVs\nbG8=").unwrap(),
            (b"hello".to_vec(), 0)
        );
        assert_eq!(decode_lenient("aG*Vs bG8").unwrap(), (b"hello".to_vec(), 1));
        assert_eq!(
            decode_lenient("aGVsbG8=\n!!").unwrap(),
            (b"hello".to_vec(), 0)
        );
        assert_eq!(decode_lenient("aGVsb"), Err(Base64Error::Length));
        assert_eq!(
            decode_lenient("aGVsb").unwrap_err().to_string(),
            "not valid base64: its length does not fit whole bytes"
        );
    }
}
