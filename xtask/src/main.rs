//! `cargo xtask`: Plinth's build and test driver, following the cargo-xtask convention
//! (<https://github.com/matklad/cargo-xtask>): plain Rust instead of shell scripts, one module per command.

mod bench;
mod boot_bench;
mod cache;
mod cmd;
mod config;
mod faults;
mod image;
mod lab;
mod prereqs;
mod qemu;
mod run;
mod schema;
mod test;
mod tidy;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Plinth's build and test driver.
#[derive(Parser)]
#[command(name = "cargo xtask", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the image (when stale) and boot a node in QEMU with the embedded default config.
    Run,
    /// Boot the image in QEMU: UEFI, BIOS or PXE, with a config or seed, console on this terminal.
    Qemu(qemu::Args),
    /// Build the bootable image into target/image/ (disk.raw, pxe/, manifest.json).
    Image(image::Args),
    /// Run every test: formatting, clippy, unit and integration tests, and the qemu-tests.
    Test(test::Args),
    /// The fault suite at full length (crash loop, bad input, hostile servers, load, panics), with its figures.
    Faults(faults::Args),
    /// Measure Plinth's components (`cargo xtask bench supervisor`).
    Bench(bench::Args),
    /// Print the JSON Schema of the machine config.
    Schema(schema::Args),
    /// Work with machine configs.
    #[command(subcommand)]
    Config(config::Command),
    /// The multi-node lab of configs/examples/lab/ in QEMU, in the background: `up`, `status`, `down`.
    #[command(subcommand)]
    Lab(lab::Command),
    /// Check the host prerequisites and install what is missing (as root on Debian/Ubuntu).
    Prereqs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run => run::run(),
        Command::Image(args) => image::run(&args),
        Command::Qemu(args) => qemu::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Faults(args) => faults::run(&args),
        Command::Schema(args) => schema::run(&args),
        Command::Config(command) => config::run(command),
        Command::Lab(command) => lab::run(command),
        Command::Prereqs => prereqs::ensure(&prereqs::ALL),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
