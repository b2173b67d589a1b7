//! `plinth-agent`: the node's single-purpose helpers, one subcommand each, every one run as a
//! service supervised by PID 1. A thin command line over the `plinth_agents` library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use plinth_agents::net;

/// The node's helpers, run as supervised services by plinth-init.
#[derive(Parser)]
#[command(name = "plinth-agent", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply the machine config's network (netplan v2): links, bonds, VLANs, bridges, addresses,
    /// routes, resolv.conf; print the DHCP clients wanted. Stays up and re-applies when links appear.
    Net(NetArgs),
}

#[derive(Args)]
struct NetArgs {
    /// The machine config: a `#cloud-config` file, a NoCloud seed or a config-drive directory.
    #[arg(long)]
    config: PathBuf,
    /// Apply once and exit.
    #[arg(long)]
    once: bool,
    /// Print the plan; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Where to write resolv.conf (only when the config has static nameservers).
    #[arg(long, default_value = "/etc/resolv.conf")]
    resolv_conf: PathBuf,
    /// The sysfs directory of network interfaces, read for drivers.
    #[arg(long, default_value = net::observe::SYS_CLASS_NET)]
    sys_class_net: PathBuf,
    /// Write this file after each successful pass: one `<dhcp4|dhcp6|dhcp4+6> <interface>[
    /// metric=<N>][ nodns]` line per DHCP client wanted (PID 1's readiness probe, and what its
    /// `dhcp` service configures dhcpcd from).
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plinth-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Net(a) => net::run(&net::NetOptions {
            config: a.config,
            once: a.once,
            dry_run: a.dry_run,
            resolv_conf: a.resolv_conf,
            sys_class_net: a.sys_class_net,
            ready_file: a.ready_file,
        })
        .context("net"),
    }
}
