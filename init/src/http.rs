//! PID 1's one HTTP client, used by the config fetch (`boot::url::client`, which adds redirects
//! and retries) and by readiness probes (`supervisor::probe`). Here, as pure functions, a minimal
//! HTTP/1.1 GET: parse an `http://` URL, write the request, and parse the response (status line,
//! headers, a body delimited by `Content-Length`, `chunked` transfer coding, or the end of the
//! connection); [`get`] is the one exchange over a socket. PID 1 fetches plain `http://` only:
//! https would need a TLS stack in the static PID 1, so an `https://` URL is refused with an
//! error that says so.
#![deny(clippy::arithmetic_side_effects)]

pub mod get;

/// The largest response body accepted (a machine config is at most 1 MiB of text; gzip is smaller).
pub const MAX_BODY: usize = 4 * 1024 * 1024;
/// The largest header block accepted.
const MAX_HEAD: usize = 64 * 1024;

/// Why a URL is not one PID 1 fetches.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// `https://`: no TLS in PID 1.
    #[error(
        "{0}: https is not supported by PID 1 (no TLS in the boot path); serve the config over plain http:// and pin it with plinth.config.sha256="
    )]
    Https(String),
    /// Another scheme.
    #[error("{0}: not an http:// URL")]
    NotHttp(String),
    /// `user:password@`.
    #[error("{0}: credentials in the URL are not supported")]
    Credentials(String),
    /// `[` without `]`.
    #[error("{0}: unterminated [IPv6] address")]
    UnterminatedIpv6(String),
    /// An empty host.
    #[error("{0}: no host")]
    NoHost(String),
    /// A port that is not 1–65535.
    #[error("{url}: bad port `{port}`")]
    BadPort {
        /// The URL.
        url: String,
        /// Its port text.
        port: String,
    },
}

/// Why a response cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// No end of the headers within [`MAX_HEAD`] bytes.
    #[error("response headers longer than {MAX_HEAD} bytes")]
    HeadTooLong,
    /// The connection closed before the headers ended, after this many bytes.
    #[error("the connection closed after {0} bytes, before the headers ended")]
    ClosedInHead(usize),
    /// The status line is not HTTP/1.x.
    #[error("not an HTTP/1.x response: `{0}`")]
    NotHttp(String),
    /// The status line has no status code.
    #[error("bad status line `{0}`")]
    BadStatus(String),
    /// `Content-Length` is not a number.
    #[error("bad Content-Length `{0}`")]
    BadLength(String),
    /// The connection closed inside a chunked body.
    #[error("the connection closed inside a chunked body")]
    ClosedInChunks,
    /// `Content-Length` over [`MAX_BODY`].
    #[error("body of {0} bytes; the limit is {MAX_BODY}")]
    LengthOverLimit(usize),
    /// The connection closed before `Content-Length` bytes came.
    #[error("the connection closed after {got} of {want} body bytes")]
    ClosedInBody {
        /// Bytes received.
        got: usize,
        /// Bytes announced.
        want: usize,
    },
    /// A body delimited by the connection's end over [`MAX_BODY`].
    #[error("body larger than {MAX_BODY} bytes")]
    BodyOverLimit,
    /// A chunk size that is not hexadecimal.
    #[error("bad chunk size `{0}`")]
    BadChunkSize(String),
    /// Chunks adding up to more than [`MAX_BODY`].
    #[error("chunked body larger than {MAX_BODY} bytes")]
    ChunksOverLimit,
    /// A chunk's data not followed by CRLF.
    #[error("a chunk does not end with CRLF")]
    ChunkWithoutCrlf,
}

/// Where to connect and what to ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Host name or address, as written (IPv6 without brackets).
    pub host: String,
    /// TCP port (80 by default).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Target {
    /// `host:port` for connecting (brackets around an IPv6 address).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Parses an `http://host[:port][/path]` URL.
pub fn parse_url(url: &str) -> Result<Target, UrlError> {
    if url.starts_with("https://") {
        return Err(UrlError::Https(url.into()));
    }
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| UrlError::NotHttp(url.into()))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes().get(i) == Some(&b'/') => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    let path = path.split('#').next().unwrap_or("/").to_string();
    if authority.contains('@') {
        return Err(UrlError::Credentials(url.into()));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| UrlError::UnterminatedIpv6(url.into()))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(UrlError::NoHost(url.into()));
    }
    let port = match port {
        None | Some("") => 80,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| UrlError::BadPort {
                url: url.into(),
                port: p.into(),
            })?,
    };
    Ok(Target {
        host: host.to_string(),
        port,
        path,
    })
}

/// The request bytes for a GET of `target`.
pub fn request(target: &Target) -> Vec<u8> {
    let host = if target.port == 80 {
        target.host.clone()
    } else {
        target.authority()
    };
    format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: plinth-init/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        target.path,
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

/// A complete response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// `Location`, for redirects.
    pub location: Option<String>,
    /// The body, transfer coding removed.
    pub body: Vec<u8>,
}

/// What the bytes received so far amount to.
#[derive(Debug, PartialEq, Eq)]
pub enum Parse {
    /// More bytes are needed.
    Incomplete,
    /// The whole response.
    Done(Response),
}

/// Parses `buf`, the bytes received so far; `eof` when the peer has closed the connection (which
/// ends a body that has neither a length nor chunks, and makes a short one an error).
pub fn parse_response(buf: &[u8], eof: bool) -> Result<Parse, ResponseError> {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Err(ResponseError::HeadTooLong);
        }
        return if eof {
            Err(ResponseError::ClosedInHead(buf.len()))
        } else {
            Ok(Parse::Incomplete)
        };
    };
    let (head, after_head) = buf.split_at_checked(head_end).unwrap_or((buf, &[]));
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(ResponseError::NotHttp(status_line.into()));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| ResponseError::BadStatus(status_line.into()))?;
    let reason = parts.next().unwrap_or_default().to_string();
    let (mut length, mut chunked, mut location) = (None, false, None);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                length = Some(
                    value
                        .parse::<usize>()
                        .map_err(|_| ResponseError::BadLength(value.into()))?,
                );
            }
            "transfer-encoding" => {
                chunked = value
                    .rsplit(',')
                    .next()
                    .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"));
            }
            "location" => location = Some(value.to_string()),
            _ => {}
        }
    }
    let rest = after_head.get(4..).unwrap_or_default();
    let done = |body: Vec<u8>| {
        Ok(Parse::Done(Response {
            status,
            reason: reason.clone(),
            location: location.clone(),
            body,
        }))
    };
    if chunked {
        return match dechunk(rest)? {
            Some(body) => done(body),
            None if eof => Err(ResponseError::ClosedInChunks),
            None => Ok(Parse::Incomplete),
        };
    }
    match length {
        Some(n) if n > MAX_BODY => Err(ResponseError::LengthOverLimit(n)),
        Some(n) if rest.len() >= n => done(rest.get(..n).unwrap_or_default().to_vec()),
        Some(n) if eof => Err(ResponseError::ClosedInBody {
            got: rest.len(),
            want: n,
        }),
        Some(_) => Ok(Parse::Incomplete),
        None if rest.len() > MAX_BODY => Err(ResponseError::BodyOverLimit),
        None if eof || status == 204 || status == 304 => done(rest.to_vec()),
        None => Ok(Parse::Incomplete),
    }
}

/// The body of a complete `chunked` encoding, `None` while incomplete.
fn dechunk(mut rest: &[u8]) -> Result<Option<Vec<u8>>, ResponseError> {
    let mut body = Vec::new();
    loop {
        let Some((line, after)) = split_line(rest) else {
            return Ok(None);
        };
        let line = String::from_utf8_lossy(line);
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| ResponseError::BadChunkSize(size_text.into()))?;
        rest = after;
        if size == 0 {
            // Trailers (ignored) end with an empty line.
            return Ok(find(rest, b"\r\n").map(|_| body));
        }
        // Checked: `size` is the server's word and may be any `usize`.
        if size > MAX_BODY.saturating_sub(body.len()) {
            return Err(ResponseError::ChunksOverLimit);
        }
        let Some((data, after)) = rest.split_at_checked(size) else {
            return Ok(None);
        };
        match after.get(..2) {
            None => return Ok(None),
            Some(b"\r\n") => {}
            Some(_) => return Err(ResponseError::ChunkWithoutCrlf),
        }
        body.extend_from_slice(data);
        rest = after.get(2..).unwrap_or_default();
    }
}

/// The line `bytes` start with (without its CRLF) and what follows it; `None` without a CRLF.
fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = find(bytes, b"\r\n")?;
    let (line, rest) = bytes.split_at_checked(end)?;
    Some((line, rest.get(2..).unwrap_or_default()))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://10.0.2.2:8080/cfg?node=1#x").unwrap(),
            Target {
                host: "10.0.2.2".into(),
                port: 8080,
                path: "/cfg?node=1".into()
            }
        );
        let t = parse_url("http://boot.example").unwrap();
        assert_eq!((t.port, t.path.as_str()), (80, "/"));
        let t = parse_url("http://[fd00::1]:81/a").unwrap();
        assert_eq!(t.host, "fd00::1");
        assert_eq!(t.authority(), "[fd00::1]:81");
        let https = parse_url("https://x/cfg").unwrap_err().to_string();
        assert!(https.contains("https is not supported"), "{https}");
        assert!(parse_url("http://x:0/").is_err());
        assert!(parse_url("http://x:port/").is_err());
        assert!(parse_url("http:///a").is_err());
        assert!(parse_url("ftp://x/").is_err());
        assert!(parse_url("http://:80/").is_err());
        assert_eq!(parse_url("http://[::1]:9100/metrics").unwrap().host, "::1");
        assert_eq!(
            parse_url("http://127.0.0.1:8080/healthz?x=1").unwrap(),
            Target {
                host: "127.0.0.1".into(),
                port: 8080,
                path: "/healthz?x=1".into()
            }
        );
    }

    #[test]
    fn errors_read_as_they_always_did() {
        let url = |u: &str| parse_url(u).unwrap_err().to_string();
        assert_eq!(url("ftp://x/"), "ftp://x/: not an http:// URL");
        assert_eq!(url("http://x:port/"), "http://x:port/: bad port `port`");
        assert_eq!(
            url("http://u:p@x/"),
            "http://u:p@x/: credentials in the URL are not supported"
        );
        assert_eq!(
            url("http://[::1/"),
            "http://[::1/: unterminated [IPv6] address"
        );
        let response = |bytes: &[u8]| parse_response(bytes, true).unwrap_err().to_string();
        assert_eq!(
            response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab"),
            "the connection closed after 2 of 9 body bytes"
        );
        assert_eq!(
            response(b"SSH-2.0\r\n\r\n"),
            "not an HTTP/1.x response: `SSH-2.0`"
        );
        assert_eq!(
            response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            "bad chunk size `zz`"
        );
    }

    #[test]
    fn the_request_closes_the_connection() {
        let text = String::from_utf8(request(&parse_url("http://h:81/a/b").unwrap())).unwrap();
        assert!(
            text.starts_with("GET /a/b HTTP/1.1\r\nHost: h:81\r\n"),
            "{text}"
        );
        assert!(text.ends_with("Connection: close\r\n\r\n"));
    }

    #[test]
    fn content_length_bodies() {
        let full = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(parse_response(&full[..20], false), Ok(Parse::Incomplete));
        assert_eq!(parse_response(&full[..40], false), Ok(Parse::Incomplete));
        let Ok(Parse::Done(r)) = parse_response(full, false) else {
            panic!()
        };
        assert_eq!(
            (r.status, r.reason.as_str(), r.body.as_slice()),
            (200, "OK", &b"hello"[..])
        );
        let short = parse_response(&full[..40], true).unwrap_err().to_string();
        assert!(short.contains("closed after"), "{short}");
    }

    #[test]
    fn chunked_and_close_delimited_bodies() {
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n";
        let Ok(Parse::Done(r)) = parse_response(chunked, false) else {
            panic!()
        };
        assert_eq!(r.body, b"Wikipedia");
        assert_eq!(
            parse_response(&chunked[..chunked.len() - 2], false),
            Ok(Parse::Incomplete)
        );
        assert!(parse_response(&chunked[..60], true).is_err());
        let bad = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert!(parse_response(bad, false).is_err());

        let close = b"HTTP/1.0 404 Not Found\r\nLocation: /x\r\n\r\nnope";
        assert_eq!(parse_response(close, false), Ok(Parse::Incomplete));
        let Ok(Parse::Done(r)) = parse_response(close, true) else {
            panic!()
        };
        assert_eq!((r.status, r.body.as_slice()), (404, &b"nope"[..]));
        assert_eq!(r.location.as_deref(), Some("/x"));
    }

    #[test]
    fn garbage_and_oversize_are_errors() {
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n", false).is_err());
        assert!(parse_response(b"HTTP/1.1 abc\r\n\r\n", false).is_err());
        let huge = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert!(parse_response(huge.as_bytes(), false).is_err());
        assert!(parse_response(b"HTTP/1.1 200", true).is_err());
    }

    /// A hostile server's chunk sizes: the largest `usize` after a first chunk once overflowed
    /// `body.len() + size` (and then sliced out of bounds, panicking PID 1); any size must give
    /// an error or "incomplete", never a panic.
    #[test]
    fn chunk_sizes_that_overflow_are_errors_not_panics() {
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        for size in [
            "ffffffffffffffff",
            "fffffffffffffffe",
            "7fffffffffffffff",
            "10000000000000000",
            &format!("{:x}", MAX_BODY),
        ] {
            for first in ["", "1\r\nA\r\n"] {
                let response = format!("{head}{first}{size}\r\nxy\r\n0\r\n\r\n");
                for eof in [false, true] {
                    let parsed =
                        std::panic::catch_unwind(|| parse_response(response.as_bytes(), eof));
                    let parsed = parsed
                        .unwrap_or_else(|_| panic!("chunk size {size} after `{first}` panicked"));
                    assert!(
                        !matches!(parsed, Ok(Parse::Done(_))),
                        "chunk size {size} after `{first}` was accepted"
                    );
                }
            }
        }
    }

    /// Every byte string after a chunked head is parsed without a panic.
    #[test]
    fn arbitrary_chunked_bodies_never_panic() {
        let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        // A small deterministic generator (xorshift): hex digits, CRLFs and text, mixed.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let alphabet = b"0123456789abcdefABCDEF;\r\n xyz\r\nffffffff";
        for _ in 0..20_000 {
            let mut body = head.to_vec();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 64) as usize;
            for i in 0..len {
                let pick = (state.rotate_left(i as u32 * 5) % alphabet.len() as u64) as usize;
                body.push(alphabet[pick]);
            }
            for eof in [false, true] {
                let _ = parse_response(&body, eof);
            }
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        /// A response head with hostile values: any status, lengths that lie, repeated or huge
        /// headers, chunked or not.
        fn hostile_head() -> impl Strategy<Value = String> {
            (
                "HTTP/1\\.[01x] [0-9]{1,5}( [ -~]{0,20})?",
                prop::collection::vec(
                    prop_oneof![
                        "Content-Length: [0-9]{1,22}",
                        "Content-Length: -?[0-9a-f ]{0,6}",
                        "Transfer-Encoding: (chunked|gzip, chunked|identity|chunked, gzip)",
                        "Location: [ -~]{0,40}",
                        "[A-Za-z-]{1,12}:[ -~]{0,200}",
                        "[ -~]{0,30}",
                    ],
                    0..8,
                ),
            )
                .prop_map(|(status, headers)| {
                    let mut head = status;
                    for h in headers {
                        head.push_str("\r\n");
                        head.push_str(&h);
                    }
                    head.push_str("\r\n\r\n");
                    head
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

            /// Any bytes at all: an answer, never a panic.
            #[test]
            fn any_bytes_parse_without_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), eof in any::<bool>()) {
                let _ = parse_response(&bytes, eof);
            }

            /// A hostile head and any body: a finished response's body is never longer than what
            /// was sent nor than MAX_BODY, and any prefix of the bytes is `Incomplete` or an
            /// error before the connection ends, never a panic.
            #[test]
            fn hostile_responses_parse_without_a_panic(
                head in hostile_head(),
                body in "[0-9a-fA-F;\r\n xyz]{0,200}",
                cut in 0usize..1000,
            ) {
                let bytes = format!("{head}{body}").into_bytes();
                for eof in [false, true] {
                    if let Ok(Parse::Done(response)) = parse_response(&bytes, eof) {
                        prop_assert!(response.body.len() <= bytes.len());
                        prop_assert!(response.body.len() <= MAX_BODY);
                    }
                    let prefix = bytes.get(..cut.min(bytes.len())).unwrap_or_default();
                    let _ = parse_response(prefix, eof);
                }
            }
        }
    }
}
