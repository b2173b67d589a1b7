//! Readiness probes: TCP port, HTTP URL (2xx), unix socket, file, command. A probe is tried every
//! 50 ms at first, then less often, until it passes or its timeout runs out.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::time::{Instant, sleep, timeout};

use super::spawn::{Io, Launch, launch};
use super::spec::Probe;
use crate::pid1::reaper::Reaper;

/// Why a service did not become ready.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProbeError {
    /// The probe kept failing until the timeout; the last failure is given.
    #[error("not ready after {waited:?}: {last}")]
    Timeout {
        /// How long it tried.
        waited: Duration,
        /// The last failure.
        last: String,
    },
    /// The probe itself is malformed (e.g. not an `http://` URL).
    #[error("bad probe: {0}")]
    Invalid(String),
}

/// Tries `probe` until it passes or `limit` runs out.
pub async fn wait_ready(
    probe: &Probe,
    limit: Duration,
    reaper: &Arc<Reaper>,
    base_env: &[(String, String)],
) -> Result<(), ProbeError> {
    if let Probe::Http(url) = probe {
        parse_http_url(url).map_err(ProbeError::Invalid)?;
    }
    let started = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        let left = limit.saturating_sub(started.elapsed());
        let attempt = timeout(
            left.min(Duration::from_secs(5)),
            check(probe, reaper, base_env),
        )
        .await;
        let last = match attempt {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => e,
            Err(_) => "the check itself timed out".to_string(),
        };
        if started.elapsed() + pause >= limit {
            return Err(ProbeError::Timeout {
                waited: started.elapsed(),
                last,
            });
        }
        sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// One attempt.
async fn check(
    probe: &Probe,
    reaper: &Arc<Reaper>,
    base_env: &[(String, String)],
) -> Result<(), String> {
    match probe {
        Probe::Running | Probe::ExitZero => Ok(()),
        Probe::Tcp(port) => TcpStream::connect(("127.0.0.1", *port))
            .await
            .map(drop)
            .map_err(|e| e.to_string()),
        Probe::Unix(path) => connect_unix(path).await.map_err(|e| format!("{path}: {e}")),
        Probe::File(path) => {
            if std::path::Path::new(path).exists() {
                Ok(())
            } else {
                Err(format!("{path} does not exist"))
            }
        }
        Probe::Http(url) => http_get(url).await,
        Probe::Exec(argv) => {
            let env = BTreeMap::new();
            let started = launch(
                reaper,
                &Launch {
                    argv,
                    base_env,
                    env: &env,
                    io: Io::Discard,
                    cgroup_procs: None,
                },
            )
            .map_err(|e| e.to_string())?;
            match started.exit.await {
                Ok(outcome) if outcome.success() => Ok(()),
                Ok(outcome) => Err(format!("`{}` ended with {outcome}", argv.join(" "))),
                Err(_) => Err("the probe command vanished".into()),
            }
        }
    }
}

/// Connects to a unix socket of any type: stream first, then seqpacket (udev's control socket) and
/// datagram when the socket says the type is wrong.
async fn connect_unix(path: &str) -> std::io::Result<()> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, connect, socket};
    match UnixStream::connect(path).await {
        Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => {}
        other => return other.map(drop),
    }
    let addr = UnixAddr::new(path).map_err(std::io::Error::from)?;
    let mut last = std::io::Error::from_raw_os_error(libc::EPROTOTYPE);
    for kind in [SockType::SeqPacket, SockType::Datagram] {
        let fd = socket(AddressFamily::Unix, kind, SockFlag::SOCK_CLOEXEC, None)
            .map_err(std::io::Error::from)?;
        match connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr) {
            Ok(()) => return Ok(()),
            Err(e) => last = e.into(),
        }
    }
    Err(last)
}

/// An `http://host[:port][/path]` URL split into its parts.
#[derive(Debug, PartialEq, Eq)]
pub struct HttpTarget {
    /// Host name or address.
    pub host: String,
    /// Port (80 by default).
    pub port: u16,
    /// Path with query (`/` by default).
    pub path: String,
}

/// Parses a plain-HTTP URL (HTTPS is not a readiness probe PID 1 speaks).
pub fn parse_http_url(url: &str) -> Result<HttpTarget, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{url}` is not an http:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            (h, p.parse().map_err(|_| format!("bad port in `{url}`"))?)
        }
        _ => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("no host in `{url}`"));
    }
    Ok(HttpTarget {
        host: host.to_string(),
        port,
        path: path.to_string(),
    })
}

/// Whether an HTTP status line says 2xx.
pub fn status_is_success(status_line: &str) -> bool {
    let mut parts = status_line.split_whitespace();
    parts.next().is_some_and(|v| v.starts_with("HTTP/"))
        && parts
            .next()
            .is_some_and(|code| code.len() == 3 && code.starts_with('2'))
}

async fn http_get(url: &str) -> Result<(), String> {
    let target = parse_http_url(url)?;
    let mut stream = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| e.to_string())?;
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nConnection: close\r\n\r\n",
        target.path, target.host
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut head = vec![0u8; 256];
    let mut len = 0;
    while let Some(unread) = head.get_mut(len..).filter(|u| !u.is_empty()) {
        let n = stream.read(unread).await.map_err(|e| e.to_string())?;
        len += n;
        if n == 0 || head.get(..len).unwrap_or_default().contains(&b'\n') {
            break;
        }
    }
    let text = String::from_utf8_lossy(head.get(..len).unwrap_or_default());
    let status = text.lines().next().unwrap_or_default();
    if status_is_success(status) {
        Ok(())
    } else {
        Err(format!("{url} answered `{status}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_http_urls() {
        assert_eq!(
            parse_http_url("http://127.0.0.1:8080/healthz?x=1").unwrap(),
            HttpTarget {
                host: "127.0.0.1".into(),
                port: 8080,
                path: "/healthz?x=1".into()
            }
        );
        assert_eq!(
            parse_http_url("http://localhost").unwrap(),
            HttpTarget {
                host: "localhost".into(),
                port: 80,
                path: "/".into()
            }
        );
        assert_eq!(
            parse_http_url("http://[::1]:9100/metrics").unwrap().host,
            "::1"
        );
        assert!(parse_http_url("https://x").is_err());
        assert!(parse_http_url("http://:80/").is_err());
        assert!(parse_http_url("http://h:notaport/").is_err());
    }

    #[test]
    fn only_2xx_is_success() {
        assert!(status_is_success("HTTP/1.1 200 OK"));
        assert!(status_is_success("HTTP/1.0 204 No Content"));
        assert!(!status_is_success("HTTP/1.1 503 Service Unavailable"));
        assert!(!status_is_success("HTTP/1.1 301 Moved"));
        assert!(!status_is_success("garbage 200"));
        assert!(!status_is_success(""));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn probes_real_sockets_and_files() {
        let reaper = Reaper::start().unwrap();
        let env = vec![("PATH".to_string(), "/usr/bin:/bin".to_string())];
        // Probes that must fail get a short timeout; probes that must succeed get a long one, so a
        // loaded machine (a fork of `true` can take a second there) cannot fail them.
        let short = Duration::from_millis(300);
        let long = Duration::from_secs(20);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(
            wait_ready(&Probe::Tcp(port), long, &reaper, &env).await,
            Ok(())
        );
        drop(listener);
        assert!(
            wait_ready(&Probe::Tcp(port), short, &reaper, &env)
                .await
                .is_err()
        );
        let dir = std::env::temp_dir().join(format!("plinth-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let seqpacket = dir.join("seq.sock");
        let _ = std::fs::remove_file(&seqpacket);
        let listener = nix::sys::socket::socket(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::SeqPacket,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            None,
        )
        .unwrap();
        let addr = nix::sys::socket::UnixAddr::new(&seqpacket).unwrap();
        nix::sys::socket::bind(std::os::fd::AsRawFd::as_raw_fd(&listener), &addr).unwrap();
        nix::sys::socket::listen(&listener, nix::sys::socket::Backlog::new(4).unwrap()).unwrap();
        let unix = Probe::Unix(seqpacket.to_str().unwrap().into());
        assert_eq!(wait_ready(&unix, long, &reaper, &env).await, Ok(()));
        drop(listener);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            wait_ready(&Probe::File("/".into()), long, &reaper, &env).await,
            Ok(())
        );
        assert!(
            wait_ready(&Probe::File("/nonexistent/x".into()), short, &reaper, &env)
                .await
                .is_err()
        );
        assert_eq!(
            wait_ready(&Probe::Exec(vec!["true".into()]), long, &reaper, &env).await,
            Ok(())
        );
        assert!(
            wait_ready(&Probe::Exec(vec!["false".into()]), short, &reaper, &env)
                .await
                .is_err()
        );
        assert!(matches!(
            wait_ready(&Probe::Http("ftp://x".into()), short, &reaper, &env).await,
            Err(ProbeError::Invalid(_))
        ));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn http_probe_reads_the_status() {
        let reaper = Reaper::start().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for answer in ["HTTP/1.1 503 Busy\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n"] {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 512];
                let _ = conn.read(&mut buf).await;
                conn.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        let url = format!("http://127.0.0.1:{port}/health");
        assert_eq!(
            wait_ready(&Probe::Http(url), Duration::from_secs(5), &reaper, &[]).await,
            Ok(())
        );
    }
}
