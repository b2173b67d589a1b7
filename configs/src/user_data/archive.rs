//! `#cloud-config-archive`: a YAML list of parts, each a string (its type found from its first line)
//! or a mapping with `content`, `type` (default `text/cloud-config`), `filename`, and other keys
//! taken as the part's MIME headers (`Merge-Type`), as cloud-init's `_explode_archive` reads it.

use super::detect;
use crate::diagnostic::Pos;
use crate::yaml::{self, Kind, Node, Scalar};

/// One part of an archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its MIME type.
    pub content_type: String,
    /// `filename`, if given.
    pub filename: Option<String>,
    /// Other keys, as headers.
    pub headers: Vec<(String, String)>,
    /// `content`.
    pub content: String,
}

/// Why an archive cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveError {
    /// Where in the archive.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
}

/// Reads an archive's text (its `#cloud-config-archive` line included).
pub fn entries(text: &str) -> Result<Vec<Entry>, ArchiveError> {
    let root = yaml::parse(text).map_err(|e| ArchiveError {
        pos: e.pos,
        message: e.message,
    })?;
    let items = match root.kind {
        Kind::Seq(items) => items,
        Kind::Map(ref m) if m.is_empty() => Vec::new(),
        _ => {
            return Err(ArchiveError {
                pos: root.pos,
                message: format!(
                    "a #cloud-config-archive is a list of parts, found {}",
                    root.describe()
                ),
            });
        }
    };
    items.into_iter().map(|(_, item)| entry(item)).collect()
}

fn entry(item: Node) -> Result<Entry, ArchiveError> {
    let err = |pos, message: String| ArchiveError { pos, message };
    match &item.kind {
        Kind::Scalar(Scalar::Str(content)) => Ok(Entry {
            content_type: detect::type_from_start(content.as_bytes())
                .unwrap_or(detect::CLOUD_CONFIG)
                .to_owned(),
            filename: None,
            headers: Vec::new(),
            content: content.clone(),
        }),
        Kind::Map(fields) => {
            let content = match item.get("content") {
                None => String::new(),
                Some(n) => n.scalar_text().ok_or_else(|| {
                    err(
                        n.pos,
                        format!("`content` is {}: write the part as a string", n.describe()),
                    )
                })?,
            };
            let content_type = item
                .get("type")
                .and_then(Node::scalar_text)
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| {
                    detect::type_from_start(content.as_bytes())
                        .unwrap_or(detect::CLOUD_CONFIG)
                        .to_owned()
                });
            let headers = fields
                .iter()
                .filter(|(k, _)| {
                    !["content", "type", "filename", "launch-index"].contains(&k.text.as_str())
                })
                .filter_map(|(k, v)| v.scalar_text().map(|t| (k.text.clone(), t)))
                .collect();
            Ok(Entry {
                content_type,
                filename: item.get("filename").and_then(Node::scalar_text),
                headers,
                content,
            })
        }
        _ => Err(err(
            item.pos,
            format!(
                "an archive part is a string or a mapping with `content`, found {}",
                item.describe()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_mappings() {
        let text = "#cloud-config-archive\n- type: text/cloud-config\n  content: |\n    hostname: a\n  Merge-Type: 'list(append)+dict(recurse_array)+str()'\n- |\n  #!/bin/sh\n  echo hi\n- content: 'runcmd: [x]'\n  filename: extra.yaml\n";
        let parts = entries(text).unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].content, "hostname: a\n");
        assert_eq!(
            parts[0].headers,
            [(
                "Merge-Type".to_owned(),
                "list(append)+dict(recurse_array)+str()".to_owned()
            )]
        );
        assert_eq!(parts[1].content_type, detect::SHELLSCRIPT);
        assert_eq!(parts[2].content_type, detect::CLOUD_CONFIG);
        assert_eq!(parts[2].filename.as_deref(), Some("extra.yaml"));
        let bad = entries("#cloud-config-archive\nhostname: x\n").unwrap_err();
        assert_eq!(bad.pos, Pos::new(2, 1));
        assert!(
            entries("#cloud-config-archive\n- [1]\n")
                .unwrap_err()
                .message
                .contains("found a sequence")
        );
    }
}
