//! Readiness probes: TCP port, HTTP URL (2xx), unix socket, file, command. A probe is tried every
//! 50 ms at first, then less often, until it passes or its timeout runs out.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpStream, UnixStream};
use tokio::time::{Instant, sleep, timeout};

use super::spawn::{Io, Launch, launch};
use super::spec::Probe;
use crate::pid1::reaper::Reaper;

/// Why a service did not become ready.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The probe kept failing until the timeout; the last failure is given.
    #[error("not ready after {waited:?}: {last}")]
    Timeout {
        /// How long it tried.
        waited: Duration,
        /// The last failure.
        last: Attempt,
    },
    /// The probe itself is malformed (e.g. not an `http://` URL).
    #[error("bad probe: {0}")]
    Invalid(crate::http::UrlError),
}

/// Why one try of a probe failed.
#[derive(Debug, thiserror::Error)]
pub enum Attempt {
    /// Nothing accepts on the TCP port.
    #[error("{0}")]
    Tcp(std::io::Error),
    /// Nothing accepts on the unix socket.
    #[error("{path}: {source}")]
    Unix {
        /// The socket's path.
        path: String,
        /// The OS's error.
        source: std::io::Error,
    },
    /// The file is not there.
    #[error("{0} does not exist")]
    NoFile(String),
    /// No HTTP answer.
    #[error(transparent)]
    Http(#[from] crate::http::get::GetError),
    /// An HTTP answer other than 2xx.
    #[error("{url} answered `{status} {reason}`")]
    HttpStatus {
        /// The URL asked.
        url: String,
        /// The status code.
        status: u16,
        /// The reason phrase.
        reason: String,
    },
    /// The probe command could not be started.
    #[error(transparent)]
    Spawn(#[from] super::spawn::SpawnError),
    /// The probe command failed.
    #[error("`{command}` ended with {outcome}")]
    Exited {
        /// The command line, joined by spaces.
        command: String,
        /// How it ended.
        outcome: super::state::ExitOutcome,
    },
    /// The reaper lost the probe command's exit.
    #[error("the probe command vanished")]
    Vanished,
    /// One try took longer than its share of the time.
    #[error("the check itself timed out")]
    TimedOut,
}

/// Tries `probe` until it passes or `limit` runs out.
pub async fn wait_ready(
    probe: &Probe,
    limit: Duration,
    reaper: &Arc<Reaper>,
    base_env: &[(String, String)],
) -> Result<(), ProbeError> {
    if let Probe::Http(url) = probe {
        crate::http::parse_url(url).map_err(ProbeError::Invalid)?;
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
            Err(_) => Attempt::TimedOut,
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
) -> Result<(), Attempt> {
    match probe {
        Probe::Running | Probe::ExitZero => Ok(()),
        Probe::Tcp(port) => TcpStream::connect(("127.0.0.1", *port))
            .await
            .map(drop)
            .map_err(Attempt::Tcp),
        Probe::Unix(path) => connect_unix(path).await.map_err(|source| Attempt::Unix {
            path: path.clone(),
            source,
        }),
        Probe::File(path) => {
            if std::path::Path::new(path).exists() {
                Ok(())
            } else {
                Err(Attempt::NoFile(path.clone()))
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
            )?;
            match started.exit.await {
                Ok(outcome) if outcome.success() => Ok(()),
                Ok(outcome) => Err(Attempt::Exited {
                    command: argv.join(" "),
                    outcome,
                }),
                Err(_) => Err(Attempt::Vanished),
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

/// One GET of `url` through PID 1's HTTP client; any 2xx passes (no redirect is followed).
async fn http_get(url: &str) -> Result<(), Attempt> {
    let response = crate::http::get::get(url).await?;
    if (200..300).contains(&response.status) {
        Ok(())
    } else {
        Err(Attempt::HttpStatus {
            url: url.to_string(),
            status: response.status,
            reason: response.reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

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
        wait_ready(&Probe::Tcp(port), long, &reaper, &env)
            .await
            .unwrap();
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
        wait_ready(&unix, long, &reaper, &env).await.unwrap();
        drop(listener);
        std::fs::remove_dir_all(&dir).unwrap();
        wait_ready(&Probe::File("/".into()), long, &reaper, &env)
            .await
            .unwrap();
        let missing = wait_ready(&Probe::File("/nonexistent/x".into()), short, &reaper, &env).await;
        assert!(
            matches!(&missing, Err(ProbeError::Timeout { last: Attempt::NoFile(p), .. }) if p == "/nonexistent/x"),
            "{missing:?}"
        );
        wait_ready(&Probe::Exec(vec!["true".into()]), long, &reaper, &env)
            .await
            .unwrap();
        let failing = wait_ready(&Probe::Exec(vec!["false".into()]), short, &reaper, &env).await;
        assert!(
            matches!(&failing, Err(ProbeError::Timeout { last: Attempt::Exited { command, .. }, .. }) if command == "false"),
            "{failing:?}"
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
            for answer in [
                "HTTP/1.1 503 Busy\r\n\r\n",
                "HTTP/1.1 301 Moved\r\nLocation: /elsewhere\r\n\r\n",
                "HTTP/1.1 200 OK\r\n\r\n",
            ] {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 512];
                let _ = conn.read(&mut buf).await;
                conn.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        let url = format!("http://127.0.0.1:{port}/health");
        wait_ready(&Probe::Http(url), Duration::from_secs(5), &reaper, &[])
            .await
            .unwrap();
    }
}
