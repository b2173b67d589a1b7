//! The Rust binaries of the image: `plinth-init`, `plinthctl`, `plinth-agent` and the sandbox
//! image's `pause` (not installed in the root itself: `oci` packs it), built static
//! for musl — with the `release` profile (fat LTO, smallest), or for `--dev` images with the
//! `image-dev` profile (no LTO, incremental: fast rebuilds). Cargo's own build is the cache.
//!
//! One exception: `plinth-virt-check`, the compute check's libvirt helper, is built for the host's
//! gnu target, because the `virt` crate links the C libvirt dynamically (libvirt.so.0, with glib,
//! gnutls and libxml2 behind it), which has no static musl build. It is linked against the build
//! host's `libvirt-dev` (Debian 12: libvirt 9.0, glibc 2.36) and runs against the image's `libvirt0`
//! (trixie: newer, and both libraries keep their old symbol versions), so only that small helper
//! is dynamic and the agent, which runs it, stays static.

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
    /// Dynamic (glibc, libvirt.so.0): see the module's note.
    pub virt_check: PathBuf,
}

/// The cargo profile for the image's binaries.
pub fn profile(dev: bool) -> &'static str {
    if dev { "image-dev" } else { "release" }
}

/// `cargo build` of `bins` in `packages` with the image's profile, for `target` (the host's when
/// `None`).
fn cargo_build(dev: bool, target: Option<&str>, packages: &[&str], bins: &[&str]) -> Result<()> {
    let mut args = vec!["build", "--profile", profile(dev), "--locked"];
    if let Some(target) = target {
        args.extend(["--target", target]);
    }
    for p in packages {
        args.extend(["-p", p]);
    }
    for b in bins {
        args.extend(["--bin", b]);
    }
    cmd::run(&mut cmd::cmd("cargo", args))
}

/// Builds the binaries and returns their paths.
pub fn build(dev: bool) -> Result<Binaries> {
    cargo_build(
        dev,
        Some(TARGET),
        &["plinth-init", "plinth-agents", "plinth-pause"],
        &["plinth-init", "plinthctl", "plinth-agent", "pause"],
    )?;
    cargo_build(dev, None, &["plinth-virt-check"], &["plinth-virt-check"])?;
    // Where that cargo (run from the workspace root) put them.
    let host_dir = qemu_tests::paths::target_dir().join(profile(dev));
    let dir = qemu_tests::paths::target_dir()
        .join(TARGET)
        .join(profile(dev));
    Ok(Binaries {
        init: dir.join("plinth-init"),
        ctl: dir.join("plinthctl"),
        agent: dir.join("plinth-agent"),
        pause: dir.join("pause"),
        virt_check: host_dir.join("plinth-virt-check"),
    })
}
