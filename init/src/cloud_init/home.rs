//! A writable /home. The image's /home is on the read-only root and stage 1 overlays only /etc,
//! /var, /opt and /root, so when /home is read-only PID 1 bind-mounts `/var/home` (on the state
//! partition, kept across boots and upgrades) over it.

use std::path::Path;

use nix::mount::{MsFlags, mount};

use super::fsutil;

/// Where home directories really live when /home is read-only.
pub const BACKING: &str = "/var/home";

/// Makes `/home` writable when it is not; returns what it did.
pub fn ensure_writable() -> Result<Option<String>, String> {
    let home = Path::new("/home");
    if home.is_dir() && !fsutil::on_read_only_fs(home) {
        return Ok(None);
    }
    std::fs::create_dir_all(BACKING).map_err(|e| format!("{BACKING}: {e}"))?;
    let none: Option<&str> = None;
    mount(Some(BACKING), home, none, MsFlags::MS_BIND, none)
        .map_err(|e| format!("bind-mounting {BACKING} on /home: {e}"))?;
    Ok(Some(format!("/home is {BACKING} (bind mount)")))
}
