//! The command line of `plinth-agent storage …`: `apply` (prepare the disks, [`super::run`]) and
//! `status` (the last run's report, for `plinthctl storage`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::report::{self, Report, STATE_FILE};
use super::run::{ApplyOptions, run as apply};
use crate::status_report::{Kind, Output, render};

/// `plinth-agent storage`.
#[derive(Args, Debug)]
pub struct StorageArgs {
    #[command(subcommand)]
    pub command: StorageCommand,
}

#[derive(Subcommand, Debug)]
pub enum StorageCommand {
    /// Prepare the disks of plinth.storage (LVM volume groups, the Longhorn disk) and the host
    /// around them, refusing any disk that holds data unless its entry says `wipe: true`; report
    /// each disk's state. Runs once and exits 0 even when disks are refused or missing.
    Apply(ApplyArgs),
    /// The last run's report: each configured disk's state and why, each volume group's size.
    Status(StatusArgs),
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// The machine config.
    #[arg(long)]
    pub config: PathBuf,
    /// Where the JSON report goes.
    #[arg(long, default_value = STATE_FILE)]
    pub state: PathBuf,
    /// The textfile collector file for the metrics.
    #[arg(long)]
    pub textfile: Option<PathBuf>,
    /// Seconds to wait for configured disks that have not appeared.
    #[arg(long, default_value_t = 30)]
    pub wait: u64,
    /// Print the plan as JSON and change nothing.
    #[arg(long)]
    pub dry_run: bool,
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

/// Runs a `storage` subcommand.
pub fn run(args: StorageArgs) -> anyhow::Result<()> {
    match args.command {
        StorageCommand::Apply(a) => apply(&ApplyOptions {
            config: a.config,
            state: a.state,
            textfile: a.textfile,
            wait: Duration::from_secs(a.wait),
            dry_run: a.dry_run,
        })
        .map(|_| ())
        .context("apply"),
        StorageCommand::Status(a) => {
            let kind = Kind {
                name: "storage",
                absent: "this node has no plinth.storage, or the storage service has not run yet",
                table: report::table,
            };
            print!("{}", render::<Report>(&a.state, a.output, &kind)?);
            Ok(())
        }
    }
}
