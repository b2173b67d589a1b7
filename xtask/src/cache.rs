//! The machine-wide cache the xtask owns, outside any checkout so a fresh clone (CI's) reuses it:
//! the Go module and build caches and the built Kubernetes binaries. `PLINTH_CACHE_DIR` overrides
//! it; otherwise `/var/cache/plinth` for root, `$XDG_CACHE_HOME/plinth` or `~/.cache/plinth` for
//! others. Deleting it costs one cold build, nothing else.

use std::path::PathBuf;

/// The cache directory (not created here).
pub fn dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PLINTH_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if rustix::process::geteuid().is_root() {
        return PathBuf::from("/var/cache/plinth");
    }
    match (std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME")) {
        (Some(xdg), _) => PathBuf::from(xdg).join("plinth"),
        (None, Some(home)) => PathBuf::from(home).join(".cache/plinth"),
        (None, None) => crate::cmd::workspace_root().join("target/cache"),
    }
}
