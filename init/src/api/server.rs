//! The control socket: a unix listener (mode 0600) whose every connection from root (by its uid,
//! `super::peer`) becomes a peer-to-peer D-Bus connection serving
//! [`ControlApi`](super::interface::ControlApi).

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tokio::net::UnixListener;
use zbus::Guid;
use zbus::connection::Builder;

use super::OBJECT_PATH;
use super::controller::Controller;
use super::interface::ControlApi;
use super::peer::{self, PeerSocket};
use crate::console;

/// Binds `path` (replacing a stale socket) and serves connections in a task of its own.
pub fn spawn(path: &Path, controller: Controller) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let uid = match peer::uid_of(&stream) {
                        Ok(uid) if peer::allowed(uid) => uid,
                        Ok(uid) => {
                            console::say(&format!(
                                "control API: refused a caller with uid {uid} (root only)"
                            ));
                            continue;
                        }
                        Err(e) => {
                            console::say(&format!(
                                "control API: refused a caller whose uid is unknown: {e}"
                            ));
                            continue;
                        }
                    };
                    let controller = controller.clone();
                    tokio::spawn(async move {
                        if let Err(e) = serve(PeerSocket::new(stream, uid), controller).await {
                            console::say(&format!("control API: connection failed: {e}"));
                        }
                    });
                }
                Err(e) => {
                    console::say(&format!("control API: accept failed: {e}"));
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(())
}

async fn serve(socket: PeerSocket, controller: Controller) -> zbus::Result<()> {
    let connection = Builder::socket(socket)
        .server(Guid::generate())
        .p2p()
        .serve_at(OBJECT_PATH, ControlApi::new(controller))
        .build()
        .await?;
    connection.closed().await;
    Ok(())
}
