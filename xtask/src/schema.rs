//! `cargo xtask schema`: print (or write) the JSON Schema of the machine config.

use std::process::ExitCode;

use anyhow::Result;

/// Flags of `cargo xtask schema`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: &Args) -> Result<ExitCode> {
    todo!("filled in by the config work")
}
