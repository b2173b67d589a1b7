//! `cargo xtask faults`: issue 14's fault suite at full length, and its figures. The scenarios are
//! plinth-init's integration tests (`init/tests/fault_suite.rs`: crash loop, bad input, hostile
//! config servers, load; `init/tests/faults.rs`: panics injected into the boot task and the
//! supervisor), so the short form of each runs in every `cargo xtask test`; this command runs
//! them with `PLINTH_FAULT_SCALE=long` (10 minutes of crash loop, 300 mutated configs, 500
//! services) and prints the figures they report.
//!
//! Power cuts in QEMU are not part of it yet.

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::{cmd, prereqs};

/// Flags of `cargo xtask faults`.
#[derive(clap::Args)]
pub struct Args {
    /// The short form `cargo xtask test` runs (seconds, not minutes).
    #[arg(long)]
    short: bool,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    if !rustix::process::geteuid().is_root() {
        bail!("the fault suite runs plinth-init as PID 1 in new namespaces: run it as root");
    }
    prereqs::ensure(&prereqs::TEST)?;
    let report = cmd::workspace_root().join("target/faults-report.txt");
    let _ = std::fs::remove_file(&report);
    let mut nextest = cmd::cmd(
        "cargo",
        [
            "nextest",
            "run",
            "-p",
            "plinth-init",
            "--test",
            "fault_suite",
            "--test",
            "faults",
            "--no-fail-fast",
            "--no-capture",
        ],
    );
    nextest.env("PLINTH_FAULT_REPORT", &report).env(
        "PLINTH_FAULT_SCALE",
        if args.short { "short" } else { "long" },
    );
    let ran = cmd::run(&mut nextest);
    let figures = std::fs::read_to_string(&report).unwrap_or_default();
    println!(
        "\nfault suite figures ({}):",
        if args.short { "short" } else { "long" }
    );
    for line in figures.lines() {
        println!("  {line}");
    }
    ran?;
    Ok(ExitCode::SUCCESS)
}
