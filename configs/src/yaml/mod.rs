//! YAML reading: text → [`Node`](crate::yaml::Node) tree through serde-saphyr, under limits that refuse alias bombs,
//! deep nesting and huge documents before they cost memory; and the [`de`](crate::yaml::de) deserializer that reads the
//! typed config from the tree with key paths and positions.

pub mod de;
pub mod lenient;
pub mod node;
pub mod path;

pub use lenient::Leniency;
pub use node::{Key, Kind, Node, Scalar};
pub use path::{KeyPath, Segment};

use crate::diagnostic::Pos;

/// The largest document accepted, in bytes. cloud-init's clouds cap user-data at 16-64 KiB; 1 MiB leaves
/// room for certificates and files in `write_files`. Measured: a 400 KB document built to make error
/// recovery re-read it 128 times takes 1.5 s in release, so this also bounds the worst case.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// The deepest nesting of mappings and sequences accepted.
pub const MAX_DEPTH: usize = 16;

/// Why a text is not a usable YAML document.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    /// Where the problem is.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
}

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_reader_input_bytes: Some(MAX_DOCUMENT_BYTES),
            max_events: 100_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_recorded_anchor_events: 20_000,
            max_recorded_anchor_bytes: MAX_DOCUMENT_BYTES,
            // Real configs nest about 8 deep (network.ethernets.X.routes[0].to). Reading the tree costs
            // about 30 KiB of stack per level in debug builds (measured), so keep it far from 2 MiB.
            max_depth: MAX_DEPTH,
            flow_nesting_limit: MAX_DEPTH,
            max_documents: 1,
            max_nodes: 50_000,
            max_total_scalar_bytes: MAX_DOCUMENT_BYTES,
            max_merge_keys: 100,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 20_000,
            max_replay_stack_depth: 16,
            max_alias_expansions_per_anchor: 1_000,
        },
        // Repeated keys reach the tree, and `!!binary` stays its base64 text: `lenient` resolves
        // both as PyYAML does, and the caller decides whether that is a warning or an error.
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        ignore_binary_tag_for_string: true,
        with_snippet: false,
    }
}

/// A parsed document and what in it relied on PyYAML's leniency (already resolved its way).
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The tree, duplicates resolved (last wins) and `!!binary` decoded.
    pub root: Node,
    /// Each place that relied on leniency.
    pub lenient: Vec<Leniency>,
}

/// Parses one YAML document into a tree, strictly: a duplicate key or `!!binary` text that is
/// not clean base64 is an error. An empty document is an empty mapping.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let doc = parse_document(text)?;
    match doc.lenient.first() {
        None => Ok(doc.root),
        Some(Leniency::DuplicateKey { path, last, .. }) => Err(YamlError {
            pos: *last,
            message: format!(
                "duplicate key `{}`: a key may appear only once in a mapping",
                match path.0.last() {
                    Some(Segment::Key(k)) => k.clone(),
                    _ => path.to_string(),
                }
            ),
        }),
        Some(Leniency::Base64 { pos, .. }) => Err(YamlError {
            pos: *pos,
            message: "`!!binary` text has characters outside the base64 alphabet".to_owned(),
        }),
    }
}

/// Parses one YAML document into a tree the way PyYAML reads it, saying where that took leniency.
/// An empty document is an empty mapping.
pub fn parse_document(text: &str) -> Result<Document, YamlError> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(YamlError {
            pos: Pos::new(1, 1),
            message: format!(
                "document is {} bytes; the limit is {MAX_DOCUMENT_BYTES} bytes",
                text.len()
            ),
        });
    }
    match serde_saphyr::from_str_with_options::<Option<Node>>(text, options()) {
        Ok(Some(mut node)) => {
            node.fill_raw(text);
            let lenient = lenient::resolve(&mut node, text).map_err(|e| YamlError {
                pos: e.pos,
                message: e.message,
            })?;
            Ok(Document {
                root: node,
                lenient,
            })
        }
        Ok(None) => Ok(Document {
            root: Node::empty_map(),
            lenient: Vec::new(),
        }),
        Err(err) => Err(yaml_error(&err)),
    }
}

fn yaml_error(err: &serde_saphyr::Error) -> YamlError {
    let pos = err
        .location()
        .filter(|l| l.line() > 0)
        .map(|l| {
            Pos::new(
                u32::try_from(l.line()).unwrap_or(u32::MAX),
                u32::try_from(l.column()).unwrap_or(u32::MAX),
            )
        })
        .unwrap_or(Pos::new(1, 1));
    let text = err.without_snippet().to_string();
    YamlError {
        pos,
        message: clean_message(&text),
    }
}

/// serde-saphyr's messages end with " at line L, column C"; the position is printed separately.
fn clean_message(text: &str) -> String {
    let first = text.lines().next().unwrap_or(text).trim();
    let trimmed = match first.find(" at line ") {
        Some(i) => &first[..i],
        None => first,
    };
    let msg = trimmed.trim_start_matches("error: ").trim();
    if let Some(rest) = msg.strip_prefix("duplicate mapping key: ") {
        let key = rest
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(rest);
        return format!("duplicate key `{key}`: a key may appear only once in a mapping");
    }
    if msg.contains("budget breached")
        || msg.contains("alias replay")
        || msg.contains("limit exceeded")
    {
        if msg.contains("Documents") {
            return "only one YAML document is allowed here (remove the extra `---`)".to_owned();
        }
        let what = msg.trim_start_matches("budget breached: ");
        return format!(
            "document refused: it exceeds Plinth's YAML limits ({what}); alias bombs, deep nesting and huge documents are not accepted"
        );
    }
    if msg.contains("did not find expected key") || msg.contains("mapping values are not allowed") {
        return format!("{msg}: check the indentation of this line and the one above");
    }
    if msg.is_empty() {
        "invalid YAML".to_owned()
    } else {
        msg.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> YamlError {
        parse(text).expect_err(text)
    }

    #[test]
    fn parses_positions_and_spellings() {
        let node = parse("a: yes\nb: 0644\nc: [1, 'x', on]\n").unwrap();
        let a = node.get("a").unwrap();
        assert_eq!(a.kind, Kind::Scalar(Scalar::Bool(true)));
        assert_eq!(a.pos, Pos::new(1, 4));
        assert_eq!(
            node.get("b").unwrap().scalar_text().as_deref(),
            Some("0644")
        );
        assert_eq!(node.locate(&KeyPath::parse("c[2]")), Pos::new(3, 13));
        assert_eq!(parse("").unwrap(), Node::empty_map());
    }

    #[test]
    fn refuses_bad_documents_with_positions() {
        let e = err("a: 1\na: 2\n");
        assert_eq!(e.pos, Pos::new(2, 1));
        assert!(e.message.contains("duplicate key `a`"), "{e:?}");
        let e = err("a:\n  b: 1\n c: 2\n");
        assert_eq!(e.pos, Pos::new(3, 2));
        assert!(e.message.contains("indentation"), "{e:?}");
        assert!(
            err("a: 1\n---\nb: 2\n")
                .message
                .contains("only one YAML document")
        );
        assert!(
            err(&"x".repeat(MAX_DOCUMENT_BYTES + 1))
                .message
                .contains("limit")
        );
    }

    #[test]
    fn duplicates_and_binary_resolve_as_pyyaml_does() {
        let doc = parse_document("a: 1\nb:\n  c: first\n  c: second\na: 2\n").unwrap();
        assert_eq!(
            doc.root.get("a").unwrap().kind,
            Kind::Scalar(Scalar::Int(2))
        );
        assert_eq!(
            doc.root.get("b").unwrap().get("c").map(|n| n.kind.clone()),
            Some(Kind::Scalar(Scalar::Str("second".into()))),
            "{:?}",
            doc.root
        );
        assert_eq!(doc.root.entries().len(), 2);
        let paths: Vec<String> = doc.lenient.iter().map(|l| l.path().to_string()).collect();
        assert_eq!(paths, ["a", "b.c"]);
        assert_eq!(
            doc.lenient[0],
            Leniency::DuplicateKey {
                path: KeyPath::parse("a"),
                first: Pos::new(1, 1),
                last: Pos::new(5, 1)
            }
        );

        let clean = parse_document("content: !!binary |\n  aGVsbG8K\n").unwrap();
        assert_eq!(clean.root.get("content").unwrap().as_str(), Some("hello\n"));
        assert!(clean.lenient.is_empty());
        let dirty = parse_document("content: !!binary |\n  aGVs*bG8K\n").unwrap();
        assert_eq!(dirty.root.get("content").unwrap().as_str(), Some("hello\n"));
        assert!(
            matches!(dirty.lenient[..], [Leniency::Base64 { dropped: 1, .. }]),
            "{:?}",
            dirty.lenient
        );
        assert!(
            err("content: !!binary |\n  aGVs*bG8K\n")
                .message
                .contains("base64")
        );
        let e = err("content: !!binary /w==\n");
        assert!(e.message.contains("not UTF-8"), "{e:?}");
        assert_eq!(
            parse("quoted: '!!binary aGk='\n")
                .unwrap()
                .get("quoted")
                .unwrap()
                .as_str(),
            Some("!!binary aGk="),
            "only a tag makes binary"
        );
    }

    #[test]
    fn duplicates_in_a_big_mapping() {
        let mut text: String = (0..20_000).map(|i| format!("k{i}: {i}\n")).collect();
        text.push_str("k7: last\n");
        let doc = parse_document(&text).unwrap();
        assert_eq!(doc.root.entries().len(), 20_000);
        assert_eq!(doc.root.get("k7").unwrap().as_str(), Some("last"));
        assert_eq!(doc.lenient.len(), 1);
    }

    fn nested(depth: usize) -> String {
        (0..depth)
            .map(|i| format!("{}a:\n", " ".repeat(i)))
            .collect()
    }

    #[test]
    fn nesting_limit_fits_a_small_stack() {
        // Measured: depth 24 overflowed 1 MiB in a debug build; MAX_DEPTH must fit in 1 MiB.
        let ok = std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(|| parse(&nested(MAX_DEPTH)).is_ok())
            .unwrap()
            .join()
            .unwrap();
        assert!(ok);
        let e = err(&nested(MAX_DEPTH + 1));
        assert!(e.message.contains("Depth"), "{e:?}");
        let e = err(&format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000)));
        assert_eq!(e.pos, Pos::new(1, MAX_DEPTH as u32 + 1));
    }

    #[test]
    fn refuses_alias_bombs() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h", "i", "j"])
        {
            bomb.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        let e = err(&bomb);
        assert!(e.message.contains("limits"), "{e:?}");
    }
}
