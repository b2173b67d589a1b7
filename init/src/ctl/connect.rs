//! Opening the control socket, with an error that says what to do when it is missing or the caller
//! may not use it.

use std::io;
use std::path::Path;

use zbus::Connection;
use zbus::connection::Builder;

/// Why plinthctl could not reach PID 1.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Nothing at the socket path.
    #[error("no control socket at {0}: is plinth-init running? (set --socket or PLINTH_SOCKET)")]
    Missing(String),
    /// The caller may not connect.
    #[error("permission denied on {0}: the control API is for root only")]
    Permission(String),
    /// Anything else.
    #[error("cannot connect to {path}: {source}")]
    Io {
        /// The socket.
        path: String,
        /// The OS error.
        source: io::Error,
    },
    /// The D-Bus handshake failed.
    #[error("the control API at {path} did not answer: {source}")]
    Handshake {
        /// The socket.
        path: String,
        /// The zbus error.
        source: zbus::Error,
    },
}

/// Connects to the control API at `path`.
pub async fn open(path: &Path) -> Result<Connection, ConnectError> {
    let shown = path.display().to_string();
    let stream = match tokio::net::UnixStream::connect(path).await {
        Ok(stream) => stream,
        Err(e) => {
            return Err(match e.kind() {
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                    ConnectError::Missing(shown)
                }
                io::ErrorKind::PermissionDenied => ConnectError::Permission(shown),
                _ => ConnectError::Io {
                    path: shown,
                    source: e,
                },
            });
        }
    };
    let stream = stream.into_std().map_err(|e| ConnectError::Io {
        path: shown.clone(),
        source: e,
    })?;
    Builder::unix_stream(stream)
        .p2p()
        .build()
        .await
        .map_err(|e| ConnectError::Handshake {
            path: shown,
            source: e,
        })
}
