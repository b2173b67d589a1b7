//! `cargo xtask test`: every check CI runs, in the order that fails fastest.
//!
//! Formatting, clippy with warnings denied, then all tests of the workspace with nextest.

use std::process::ExitCode;

use anyhow::Result;

use crate::{cmd, prereqs};

/// Flags of `cargo xtask test`.
#[derive(clap::Args)]
pub struct Args {
    /// Only run tests whose name contains this filter (skips fmt and clippy).
    filter: Option<String>,
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
    if let Some(filter) = &args.filter {
        nextest.arg(filter);
    }
    cmd::run(&mut nextest)?;
    Ok(ExitCode::SUCCESS)
}
