//! `cargo xtask faults`: issue 14's fault suite at full length, and its figures. The scenarios are
//! plinth-init's integration tests (`init/tests/fault_suite.rs`: crash loop, bad input, hostile
//! config servers, load; `init/tests/faults.rs`: panics injected into the boot task and the
//! supervisor), so the short form of each runs in every `cargo xtask test`; this command runs
//! them with `PLINTH_FAULT_SCALE=long` (10 minutes of crash loop, 300 mutated configs, 500
//! services) and prints the figures they report.
//!
//! With `--power-cuts N` it also boots the `--dev` image (built when stale) in QEMU and cuts its
//! power N times at random points (`qemu-tests/tests/power_cut.rs`).

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::{cmd, prereqs};

/// Flags of `cargo xtask faults`.
#[derive(clap::Args)]
pub struct Args {
    /// The short form `cargo xtask test` runs (seconds, not minutes).
    #[arg(long)]
    short: bool,
    /// Also cut a QEMU node's power this many times at random points between its start and
    /// ready, booting it again to ready after each (0: none).
    #[arg(long, default_value_t = 0)]
    power_cuts: u32,
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
    let mut ran = cmd::run(&mut nextest);
    if args.power_cuts > 0 && ran.is_ok() {
        prereqs::ensure(&prereqs::QEMU)?;
        let image = crate::image::ensure_built(true)?;
        let mut cuts = cmd::cmd(
            "cargo",
            [
                "nextest",
                "run",
                "-p",
                "qemu-tests",
                "--test",
                "power_cut",
                "--no-capture",
            ],
        );
        cuts.env("PLINTH_IMAGE_DIR", &image.dir)
            .env("PLINTH_POWER_CUTS", args.power_cuts.to_string())
            .env("PLINTH_FAULT_REPORT", &report);
        ran = cmd::run(&mut cuts);
    }
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
