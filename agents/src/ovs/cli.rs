//! The command line of `plinth-agent ovs …`: `init-db` (the database file, before ovsdb-server
//! starts) and `apply` (the config's bridges, bonds, patch ports and VLAN ports into the running
//! database). Output, one line each on stdout: `ovs: <change>` for each change, then a summary.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use plinth_config::plinth::OvsMode;

use super::apply::{DbAction, apply, ensure_db};
use super::client::{Client, ClientError};
use super::desired::desired;

/// The database socket ovsdb-server listens on.
pub const SOCKET: &str = "/run/openvswitch/db.sock";
/// The database file, on the state partition (`/var` is a persistent overlay).
pub const DB_FILE: &str = "/var/lib/openvswitch/conf.db";
/// Debian's vswitch schema.
pub const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";
/// Debian's ovsdb-tool.
pub const OVSDB_TOOL: &str = "/usr/bin/ovsdb-tool";

/// `plinth-agent ovs`.
#[derive(Args, Debug)]
pub struct OvsArgs {
    #[command(subcommand)]
    pub command: OvsCommand,
}

#[derive(Subcommand, Debug)]
pub enum OvsCommand {
    /// Make the Open_vSwitch database file when it is missing (`ovsdb-tool create`), convert it
    /// when the image's schema is newer; make the run directory. Runs once and exits.
    InitDb(InitDbArgs),
    /// Bring the running database to the config's OVS bridges, bonds, patch ports and VLAN ports
    /// (netplan's `openvswitch` syntax, `plinth.ovs.mode: host`) in one transaction; nothing when
    /// it already holds them. Runs once and exits.
    Apply(ApplyArgs),
}

#[derive(Args, Debug)]
pub struct InitDbArgs {
    /// The database file.
    #[arg(long, default_value = DB_FILE)]
    pub db: PathBuf,
    /// The schema.
    #[arg(long, default_value = SCHEMA)]
    pub schema: PathBuf,
    /// ovsdb-tool.
    #[arg(long, default_value = OVSDB_TOOL)]
    pub tool: PathBuf,
    /// The run directory (sockets and pid files) to make.
    #[arg(long, default_value = "/run/openvswitch")]
    pub run_dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// The machine config.
    #[arg(long)]
    pub config: PathBuf,
    /// ovsdb-server's unix socket.
    #[arg(long, default_value = SOCKET)]
    pub socket: PathBuf,
    /// Print the changes; commit nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How long to wait for the socket to accept connections, in seconds.
    #[arg(long, default_value_t = 30)]
    pub wait: u64,
}

/// Runs a subcommand.
pub fn run(args: OvsArgs) -> anyhow::Result<()> {
    match args.command {
        OvsCommand::InitDb(a) => {
            std::fs::create_dir_all(&a.run_dir)
                .with_context(|| format!("cannot make {}", a.run_dir.display()))?;
            let done = ensure_db(&a.tool, &a.db, &a.schema)?;
            let what = match done {
                DbAction::Created => "created",
                DbAction::Converted => "converted to the image's schema",
                DbAction::Kept => "kept",
            };
            println!("ovs: {} {what}", a.db.display());
            Ok(())
        }
        OvsCommand::Apply(a) => apply_config(&a),
    }
}

fn apply_config(a: &ApplyArgs) -> anyhow::Result<()> {
    let parsed = plinth_config::load_path(&a.config)
        .map_err(|d| anyhow::anyhow!("the machine config cannot be used:\n{d}"))?;
    if parsed.config.plinth.ovs.mode != OvsMode::Host {
        println!("ovs: plinth.ovs.mode is not host: Kube-OVN's pods own OVS; nothing to do");
        return Ok(());
    }
    let want = desired(&parsed.config.network.unwrap_or_default());
    let start = Instant::now();
    let mut client = connect(a)?;
    let plan = apply(&mut client, &want, a.dry_run)?;
    for w in &plan.warnings {
        eprintln!("ovs: warning: {w}");
    }
    let verb = if a.dry_run { "would " } else { "" };
    for change in &plan.changes {
        println!("ovs: {verb}{change}");
    }
    if plan.ops.is_empty() {
        println!(
            "ovs: the database holds the config's {} bridges; nothing to change ({:.1} ms)",
            want.bridges.len(),
            start.elapsed().as_secs_f64() * 1000.0
        );
    } else {
        println!(
            "ovs: {} operations {} in one transaction ({:.1} ms)",
            plan.ops.len(),
            if a.dry_run { "planned" } else { "committed" },
            start.elapsed().as_secs_f64() * 1000.0
        );
    }
    Ok(())
}

/// Connects, retrying while the socket is not there yet.
fn connect(a: &ApplyArgs) -> Result<Client, ClientError> {
    let deadline = Instant::now() + Duration::from_secs(a.wait);
    loop {
        match Client::connect(&a.socket) {
            Err(ClientError::Connect { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200));
            }
            other => return other,
        }
    }
}
