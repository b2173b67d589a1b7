//! `cargo xtask test`: every check CI runs, in the order that fails fastest.
//!
//! Formatting, clippy with warnings denied, then the `--dev` image (built only when stale), then
//! all tests of the workspace with nextest, the qemu-tests included: they boot that image, at most
//! two machines at once (`.config/nextest.toml`). The fault suite's short form
//! (`init/tests/fault_suite.rs`, `faults.rs`) is among them; `cargo xtask faults` runs it long.

use std::process::ExitCode;

use anyhow::Result;

use crate::{cmd, image, prereqs};

/// Flags of `cargo xtask test`.
#[derive(clap::Args)]
pub struct Args {
    /// Only run tests whose name contains this filter (skips fmt and clippy).
    filter: Option<String>,
    /// Do not build the image: the qemu-tests then run against an existing target/image/, or
    /// are skipped (each says so) when there is none.
    #[arg(long)]
    no_image: bool,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    prereqs::ensure(&prereqs::TEST)?;
    if args.filter.is_none() {
        cmd::run(&mut cmd::cmd("cargo", ["fmt", "--all", "--check"]))?;
        cmd::run(&mut cmd::cmd(
            "cargo",
            [
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        ))?;
    }
    let mut nextest = cmd::cmd("cargo", ["nextest", "run", "--workspace", "--no-fail-fast"]);
    prereqs::ensure(&prereqs::QEMU)?;
    if args.no_image {
        eprintln!(
            "test: --no-image: the qemu-tests use target/image/ if it holds an image, else they are skipped"
        );
    } else {
        let image = image::ensure_built(true)?;
        nextest.env("PLINTH_IMAGE_DIR", &image.dir);
    }
    if let Some(filter) = &args.filter {
        nextest.arg(filter);
    }
    cmd::run(&mut nextest)?;
    Ok(ExitCode::SUCCESS)
}
