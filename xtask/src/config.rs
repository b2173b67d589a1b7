//! `cargo xtask config …`: validate machine configs.

use std::process::ExitCode;

use anyhow::Result;

#[derive(clap::Subcommand)]
pub enum Command {}

pub fn run(command: Command) -> Result<ExitCode> {
    match command {}
}
