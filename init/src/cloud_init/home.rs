//! A writable /home. The image's /home is on the read-only root and stage 1 overlays only /etc,
//! /var, /opt and /root, so when /home is read-only PID 1 bind-mounts `/var/home` (on the state
//! partition, kept across boots and upgrades) over it.

use std::path::Path;

use nix::mount::{MsFlags, mount};

use super::fsutil;

/// Where home directories really live when /home is read-only.
pub const BACKING: &str = "/var/home";

/// Why /home could not be made writable.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    /// The backing directory cannot be made.
    #[error("{BACKING}: {0}")]
    Backing(std::io::Error),
    /// The bind mount failed.
    #[error("bind-mounting {BACKING} on /home: {0}")]
    Bind(nix::errno::Errno),
}

/// Makes `/home` writable when it is not; returns what it did.
pub fn ensure_writable() -> Result<Option<String>, HomeError> {
    let home = Path::new("/home");
    if home.is_dir() && !fsutil::on_read_only_fs(home) {
        return Ok(None);
    }
    std::fs::create_dir_all(BACKING).map_err(HomeError::Backing)?;
    let none: Option<&str> = None;
    mount(Some(BACKING), home, none, MsFlags::MS_BIND, none).map_err(HomeError::Bind)?;
    Ok(Some(format!("/home is {BACKING} (bind mount)")))
}
