//! The Rust binaries of the image: `plinth-init`, `plinthctl`, `plinth-agent` and the sandbox
//! image's `pause` (not installed in the root itself: `oci` packs it), built static
//! for musl — with the `release` profile (fat LTO, smallest), or for `--dev` images with the
//! `image-dev` profile (no LTO, incremental: fast rebuilds). Cargo's own build is the cache.

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
    pub pause: PathBuf,
}

/// The cargo profile for the image's binaries.
pub fn profile(dev: bool) -> &'static str {
    if dev { "image-dev" } else { "release" }
}

/// Builds the binaries and returns their paths.
pub fn build(dev: bool) -> Result<Binaries> {
    cmd::run(&mut cmd::cmd(
        "cargo",
        [
            "build",
            "--profile",
            profile(dev),
            "--locked",
            "--target",
            TARGET,
            "-p",
            "plinth-init",
            "-p",
            "plinth-agents",
            "-p",
            "plinth-pause",
            "--bin",
            "plinth-init",
            "--bin",
            "plinthctl",
            "--bin",
            "plinth-agent",
            "--bin",
            "pause",
        ],
    ))?;
    // Where that cargo (run from the workspace root) put them.
    let dir = qemu_tests::paths::target_dir()
        .join(TARGET)
        .join(profile(dev));
    Ok(Binaries {
        init: dir.join("plinth-init"),
        ctl: dir.join("plinthctl"),
        agent: dir.join("plinth-agent"),
        pause: dir.join("pause"),
    })
}
