//! The command line of `plinth-agent compute …`: `watch` (the supervised check, [`super::run`])
//! and `status` (the last report, for `plinthctl compute`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::check::{Expect, parse_hugepages};
use super::report::{self, Report, STATE_FILE};
use super::run::{WatchOptions, watch};
use crate::status_report::{Kind, Output, render};

/// `plinth-agent compute`.
#[derive(Args, Debug)]
pub struct ComputeArgs {
    #[command(subcommand)]
    pub command: ComputeCommand,
}

#[derive(Subcommand, Debug)]
pub enum ComputeCommand {
    /// Check KVM, nested virtualization, hugepages, IOMMU groups, the kernel arguments and libvirt
    /// now and every --interval seconds, writing the report and the metrics each time.
    Watch(WatchArgs),
    /// The last report: each check ok, failing, waiting or not applicable, and why.
    Status(StatusArgs),
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// The nested virtualization the config wants (`plinth.kernel.nested_virtualization`).
    #[arg(long)]
    pub nested: Option<bool>,
    /// Hugepages the config reserves, as SIZE=COUNT (`1G=4`; repeatable).
    #[arg(long = "hugepages", value_name = "SIZE=COUNT", value_parser = parse_hugepages)]
    pub hugepages: Vec<(u64, u64)>,
    /// A kernel argument the config adds (repeatable).
    #[arg(long = "kernel-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub kernel_args: Vec<String>,
    /// Where the JSON report goes.
    #[arg(long, default_value = STATE_FILE)]
    pub state: PathBuf,
    /// The textfile collector file for the metrics.
    #[arg(long)]
    pub textfile: Option<PathBuf>,
    /// Seconds between checks.
    #[arg(long, default_value_t = 300)]
    pub interval: u64,
    /// Check once and exit (0 even when a check fails).
    #[arg(long)]
    pub once: bool,
    /// Read sysfs and /proc below this root.
    #[arg(long, default_value = "/")]
    pub root: PathBuf,
    /// The KVM device.
    #[arg(long, default_value = super::kvm::DEVICE)]
    pub kvm_device: PathBuf,
    /// libvirt's socket (Genestack's libvirt pod shares the host's /run).
    #[arg(long, default_value = plinth_virt_check::DEFAULT_SOCKET)]
    pub libvirt_socket: PathBuf,
    /// The libvirt helper.
    #[arg(long, default_value = super::libvirt::HELPER)]
    pub helper: PathBuf,
    /// Seconds the helper may take (its first question makes libvirt probe QEMU).
    #[arg(long, default_value_t = 60)]
    pub helper_timeout: u64,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Output,
    /// The report to read.
    #[arg(long, default_value = STATE_FILE)]
    pub state: PathBuf,
}

/// Runs a `compute` subcommand.
pub fn run(args: ComputeArgs) -> anyhow::Result<()> {
    match args.command {
        ComputeCommand::Watch(a) => watch(&WatchOptions {
            expect: Expect {
                nested: a.nested,
                hugepages: a.hugepages,
                kernel_args: a.kernel_args,
            },
            root: a.root,
            kvm_device: a.kvm_device,
            libvirt_socket: a.libvirt_socket,
            helper: a.helper,
            helper_timeout: Duration::from_secs(a.helper_timeout),
            state: a.state,
            textfile: a.textfile,
            once: a.once,
            interval: Duration::from_secs(a.interval.max(1)),
        })
        .map(drop)
        .context("watch"),
        ComputeCommand::Status(a) => {
            let kind = Kind {
                name: "compute",
                absent: "this node has no Genestack compute role, or the compute check has not run yet",
                table: report::table,
            };
            print!("{}", render::<Report>(&a.state, a.output, &kind)?);
            Ok(())
        }
    }
}
