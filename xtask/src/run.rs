//! `cargo xtask run`: build the image when stale and boot one node in QEMU with the config
//! embedded in the image (`configs/examples/single-node.yaml`): UEFI, a fresh disk, no seed, the
//! node exporter forwarded to a free port on 127.0.0.1. Everything else is `cargo xtask qemu`.

use std::process::ExitCode;

use anyhow::Result;

use crate::qemu;

pub fn run() -> Result<ExitCode> {
    eprintln!(
        "run: booting the dev image with its embedded default config (configs/examples/single-node.yaml); \
         `cargo xtask qemu --help` shows the other ways to boot it"
    );
    qemu::run(&qemu::Args::default())
}
