//! A minimal HTTP/1.0 GET over std's `TcpStream`, polling until the guest answers, and a tiny
//! server of one document for a guest to fetch (through a QEMU `guestfwd`).
//!
//! Through QEMU user networking a request sent before the guest has an address is accepted by QEMU
//! and then hangs, so every connect and read has a short timeout and polling simply tries again.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Serves `body` at `path` (404 elsewhere) on a free loopback port, from a thread; returns the
/// port and how many times `path` was fetched.
pub fn serve(path: &'static str, body: &'static str) -> std::io::Result<(u16, Arc<AtomicU32>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let hits = Arc::new(AtomicU32::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let text = String::from_utf8_lossy(&head);
            let answer = if text.starts_with(&format!("GET {path} ")) {
                counter.fetch_add(1, Ordering::SeqCst);
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into()
            };
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    Ok((port, hits))
}

/// A response: status code and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// Why a GET failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("GET http://{addr}{path}: {source}")]
    Io {
        addr: SocketAddr,
        path: String,
        source: std::io::Error,
    },
    #[error("GET http://{addr}{path}: not an HTTP response: {start:?}")]
    Malformed {
        addr: SocketAddr,
        path: String,
        start: String,
    },
    #[error("GET http://{addr}{path} gave no acceptable answer within {timeout:?}; last: {last}")]
    Timeout {
        addr: SocketAddr,
        path: String,
        timeout: Duration,
        last: String,
    },
}

/// One GET with `timeout` for the connect and for each read.
pub fn get(addr: SocketAddr, path: &str, timeout: Duration) -> Result<Response, HttpError> {
    let io = |source| HttpError::Io {
        addr,
        path: path.to_string(),
        source,
    };
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(io)?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(io)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(io)?;
    parse_response(&raw).ok_or_else(|| HttpError::Malformed {
        addr,
        path: path.to_string(),
        start: String::from_utf8_lossy(&raw[..raw.len().min(80)]).into_owned(),
    })
}

/// Status and body of a raw HTTP/1.x response.
pub fn parse_response(raw: &[u8]) -> Option<Response> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))?;
    let status_line = head.lines().next()?;
    let mut parts = status_line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    Some(Response {
        status,
        body: body.to_string(),
    })
}

/// GETs `path` every second until `accept` likes the response, up to `timeout`.
pub fn poll(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
    accept: impl Fn(&Response) -> bool,
) -> Result<Response, HttpError> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match get(addr, path, Duration::from_secs(3)) {
            Ok(resp) if accept(&resp) => return Ok(resp),
            Ok(resp) => {
                format!("status {}, {} bytes of body", resp.status, resp.body.len())
            }
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(HttpError::Timeout {
                addr,
                path: path.to_string(),
                timeout,
                last,
            });
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn responses_are_parsed() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\na 1\nb 2\n")
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "a 1\nb 2\n");
        assert_eq!(
            parse_response(b"HTTP/1.0 404 Not Found\r\n\r\n")
                .unwrap()
                .status,
            404
        );
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n").is_none());
        assert!(parse_response(b"").is_none());
    }

    /// A server that accepts and never answers (what user networking does before the guest is up)
    /// makes `get` fail within its timeout instead of hanging; `poll` then gets the real answer.
    #[test]
    fn a_silent_server_times_out_and_polling_retries() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // The server answers every request after the silent one, for as long as the test runs.
        std::thread::spawn(move || {
            let (silent, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_millis(3500));
            drop(silent);
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let mut buf = [0u8; 512];
                // Connections the client gave up on read as empty or reset: skip them.
                let n = s.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).into_owned();
                if req.starts_with("GET /metrics HTTP/1.0\r\n") {
                    let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\nup 1\n");
                }
            }
        });
        let started = Instant::now();
        assert!(get(addr, "/metrics", Duration::from_millis(300)).is_err());
        assert!(started.elapsed() < Duration::from_secs(2));
        let r = poll(addr, "/metrics", Duration::from_secs(20), |r| {
            r.status == 200
        })
        .unwrap();
        assert_eq!(r.body, "up 1\n");
    }
}
