//! MIME messages as cloud-init's user-data uses them (RFC 2045/2046, through Python's `email`
//! package there): headers (folded lines joined), `Content-Type` with its parameters, and
//! `multipart/*` bodies split at their boundary, nested multiparts walked depth first. Only the
//! leaves (the parts that are not multipart) come out, in order, with their transfer encoding
//! undone.

use super::transfer::{self, TransferError};

/// How deep multiparts may nest.
pub const MAX_NESTING: usize = 8;
/// How many parts a user-data may have.
pub const MAX_PARTS: usize = 256;

/// Why a MIME message cannot be taken apart.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MimeError {
    /// Multiparts nested deeper than [`MAX_NESTING`].
    #[error("multiparts nest more than {MAX_NESTING} deep; refused")]
    TooDeep,
    /// A multipart without its boundary parameter.
    #[error("a {0} without a boundary parameter")]
    NoBoundary(String),
    /// More than [`MAX_PARTS`] leaves.
    #[error("more than {MAX_PARTS} parts; refused")]
    TooManyParts,
    /// A leaf whose body cannot be decoded.
    #[error("part {index}: {source}")]
    Part {
        /// Its position among the leaves, from 1.
        index: usize,
        /// Why.
        source: TransferError,
    },
    /// A multipart whose boundary never appears in its body.
    #[error("a multipart whose boundary `{0}` is never found in its body")]
    BoundaryNotFound(String),
}

/// A header block and the body after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// Headers in order: (name, value) with folded lines joined.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: &'a [u8],
}

/// One leaf part, its body decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leaf {
    /// The headers.
    pub headers: Vec<(String, String)>,
    /// The media type, lowercase (`text/plain` when not given).
    pub content_type: String,
    /// The body, its transfer encoding undone.
    pub body: Vec<u8>,
}

impl Leaf {
    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// `Content-Disposition`'s filename, if given.
    pub fn filename(&self) -> Option<String> {
        self.header("content-disposition")
            .and_then(|v| param(v, "filename"))
            .filter(|f| !f.is_empty())
    }
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Splits a message into its headers and body (the body starts after the first empty line).
pub fn split(bytes: &[u8]) -> Message<'_> {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut body_at = bytes.len();
    for (at, line) in lines(bytes) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            body_at = at + line.len();
            break;
        }
        if text.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(text.trim());
            }
        } else if let Some((name, value)) = text.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        } else {
            // Not a header: the headers ended without an empty line; this is the body.
            body_at = at;
            break;
        }
    }
    Message {
        headers,
        body: bytes.get(body_at..).unwrap_or(&[]),
    }
}

/// The lines of `bytes`, each with its line break and the offset it starts at.
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let rest = bytes.get(at..).filter(|r| !r.is_empty())?;
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let start = at;
        at += end;
        Some((start, rest.get(..end).unwrap_or(rest)))
    })
}

/// The media type of a `Content-Type` value, lowercase.
pub fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A parameter of a header value (`boundary`, `filename`), quotes removed.
pub fn param(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case(name).then(|| {
            let v = v.trim();
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v)
                .to_owned()
        })
    })
}

/// The leaf parts of a MIME message, in order.
pub fn leaves(bytes: &[u8]) -> Result<Vec<Leaf>, MimeError> {
    let mut out = Vec::new();
    walk(split(bytes), 0, &mut out)?;
    Ok(out)
}

fn walk(message: Message<'_>, depth: usize, out: &mut Vec<Leaf>) -> Result<(), MimeError> {
    let content_type = header(&message.headers, "content-type").unwrap_or("text/plain");
    let media = media_type(content_type);
    if media.starts_with("multipart/") {
        if depth >= MAX_NESTING {
            return Err(MimeError::TooDeep);
        }
        let boundary = param(content_type, "boundary")
            .filter(|b| !b.is_empty())
            .ok_or_else(|| MimeError::NoBoundary(media.clone()))?;
        for part in split_multipart(message.body, &boundary)? {
            walk(split(part), depth + 1, out)?;
        }
        return Ok(());
    }
    if out.len() >= MAX_PARTS {
        return Err(MimeError::TooManyParts);
    }
    let encoding = header(&message.headers, "content-transfer-encoding");
    let body = transfer::decode(encoding, message.body).map_err(|source| MimeError::Part {
        index: out.len() + 1,
        source,
    })?;
    out.push(Leaf {
        headers: message.headers,
        content_type: media,
        body,
    });
    Ok(())
}

/// The bodies between `--boundary` lines, up to `--boundary--`; the line break before a
/// delimiter belongs to the delimiter.
fn split_multipart<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<&'a [u8]>, MimeError> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut closed = false;
    for (at, line) in lines(body) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end();
        if let Some(after) = text.strip_prefix(&delimiter)
            && (after.is_empty() || after.starts_with("--"))
        {
            if let Some(s) = start {
                let mut stop = at;
                if body.get(..stop).is_some_and(|b| b.ends_with(b"\n")) {
                    stop -= 1;
                }
                if body.get(..stop).is_some_and(|b| b.ends_with(b"\r")) {
                    stop -= 1;
                }
                parts.push(body.get(s..stop.max(s)).unwrap_or(&[]));
            }
            if after.starts_with("--") {
                closed = true;
                break;
            }
            start = Some(at + line.len());
        }
    }
    if !closed {
        // Python's email package is lenient here too: what follows the last delimiter is a part.
        if let Some(s) = start {
            parts.push(body.get(s..).unwrap_or(&[]));
        }
    }
    if parts.is_empty() {
        return Err(MimeError::BoundaryNotFound(boundary.to_owned()));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_fold_and_parameters_unquote() {
        let m = split(
            b"Content-Type: multipart/mixed;\n boundary=\"==b==\"\nMIME-Version: 1.0\n\nbody\n",
        );
        assert_eq!(m.headers[0].1, "multipart/mixed; boundary=\"==b==\"");
        assert_eq!(param(&m.headers[0].1, "boundary").as_deref(), Some("==b=="));
        assert_eq!(media_type(&m.headers[0].1), "multipart/mixed");
        assert_eq!(m.body, b"body\n");
    }

    #[test]
    fn nested_multiparts_give_their_leaves_in_order() {
        let text = "Content-Type: multipart/mixed; boundary=\"outer\"\r\nMIME-Version: 1.0\r\n\r\npreamble\r\n--outer\r\nContent-Type: text/cloud-config\r\n\r\nhostname: a\r\n--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n--inner\r\nContent-Type: text/x-shellscript\r\nContent-Transfer-Encoding: base64\r\n\r\nIyEvYmluL3NoCmVjaG8gaGkK\r\n--inner--\r\n--outer--\r\nepilogue\r\n";
        let found = leaves(text.as_bytes()).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].content_type, "text/cloud-config");
        assert_eq!(found[0].body, b"hostname: a");
        assert_eq!(found[1].body, b"#!/bin/sh\necho hi\n");
        assert_eq!(
            leaves("Content-Type: multipart/mixed\n\nx\n".as_bytes()),
            Err(MimeError::NoBoundary("multipart/mixed".into()))
        );
        let e = leaves(b"Content-Type: multipart/mixed; boundary=b\n\nx\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "a multipart whose boundary `b` is never found in its body"
        );
        let e = leaves(b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: uu\n\nx\n--b--\n")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "part 1: unknown Content-Transfer-Encoding `uu` (base64, quoted-printable, 7bit, 8bit and binary are read)"
        );
    }
}
