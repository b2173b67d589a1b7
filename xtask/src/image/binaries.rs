//! The Rust binaries of the image: `plinth-init`, `plinthctl` and `plinth-agent`, built static
//! for musl in release mode. Cargo's own incremental build is the cache.

use std::path::PathBuf;

use anyhow::Result;

use crate::cmd;

pub const TARGET: &str = "x86_64-unknown-linux-musl";

/// The built binaries.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub init: PathBuf,
    pub ctl: PathBuf,
    pub agent: PathBuf,
}

/// Builds the binaries and returns their paths.
pub fn build() -> Result<Binaries> {
    cmd::run(&mut cmd::cmd(
        "cargo",
        [
            "build",
            "--release",
            "--locked",
            "--target",
            TARGET,
            "-p",
            "plinth-init",
            "-p",
            "plinth-agents",
            "--bin",
            "plinth-init",
            "--bin",
            "plinthctl",
            "--bin",
            "plinth-agent",
        ],
    ))?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cmd::workspace_root().join("target"));
    let dir = target_dir.join(TARGET).join("release");
    Ok(Binaries {
        init: dir.join("plinth-init"),
        ctl: dir.join("plinthctl"),
        agent: dir.join("plinth-agent"),
    })
}
