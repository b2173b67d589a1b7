//! `plinth-agent`: the node's single-purpose helpers, one subcommand each (`net`, `storage`, `ovs`,
//! `virt`, `cluster`), every one run as a service supervised by PID 1. Heavy dependencies (kube, virt)
//! live here, never in the static PID 1.
//!
//! The subcommands arrive with the issues that need them; today the binary only answers `--version`
//! and `--help`, so the image can already carry and check it.

use clap::Parser;

/// The node's helpers, run as supervised services by plinth-init.
#[derive(Parser)]
#[command(name = "plinth-agent", version, about)]
struct Cli {}

fn main() {
    Cli::parse();
    println!(
        "plinth-agent {}: no agent subcommands yet; see `plinth-agent --help`",
        env!("CARGO_PKG_VERSION")
    );
}
