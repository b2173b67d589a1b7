//! `plinth-agent net`: load the machine config, observe, plan, apply, write resolv.conf, report the
//! DHCP clients wanted; then, unless `--once`, stay up and apply again whenever a link appears.
//!
//! Output, one line each on stdout: `net: <operation>` for every operation as it runs,
//! `net: dhcp <dhcp4|dhcp6|dhcp4+6> <interface>[ metric=<N>][ nodns]` for every DHCP client wanted, then the summary
//! `net: <N> operations applied in <MS> ms; ...`. Warnings go to stderr as `net: warning: ...`,
//! for people; programs read the ready file.
//!
//! With `--ready-file PATH`, the file is written after every successful pass (atomically), and in
//! a dry run once with what a pass would want: the document of `plinth_config::net_ready` (the DHCP
//! clients wanted, the warnings, and apart from them the entries whose `match` found no link). It
//! is PID 1's readiness probe for the service, what its `dhcp` service turns into dhcpcd's config
//! (an `interface` block per client) each time it starts dhcpcd, and the `network` phase's
//! answer from its dry run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use plinth_config::Network;
use plinth_config::net_ready::NetReady;
use rtnetlink::Handle;

use super::apply::{ApplyError, apply};
use super::observe::{ObserveError, observe};
use super::ovs_owned::hand_over;
use super::plan::{Plan, plan};
use super::watch::watch;

/// What `plinth-agent net` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetOptions {
    /// The machine config (a file, a NoCloud seed or a config drive directory).
    pub config: PathBuf,
    /// Apply once and exit instead of watching for new links.
    pub once: bool,
    /// Print the plan and change nothing.
    pub dry_run: bool,
    /// Where resolv.conf is written (only when the config has static nameservers).
    pub resolv_conf: PathBuf,
    /// sysfs network class directory, for drivers.
    pub sys_class_net: PathBuf,
    /// Written after each successful pass with the DHCP clients wanted (see the module doc).
    pub ready_file: Option<PathBuf>,
}

/// Why `plinth-agent net` failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The config could not be loaded or is invalid.
    #[error("the machine config cannot be used:\n{0}")]
    Config(String),
    /// No tokio runtime or netlink socket.
    #[error("cannot open a netlink connection: {0}")]
    Connection(#[source] std::io::Error),
    /// The current state could not be read.
    #[error(transparent)]
    Observe(#[from] ObserveError),
    /// An operation failed.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// resolv.conf or the ready file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// What a pass applies: the netplan, the interfaces OVS owns ([`hand_over`]), and what loading the
/// config warned about (for the ready file).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Wanted {
    /// The netplan.
    pub network: Network,
    /// The interfaces OVS owns.
    pub owned: Vec<String>,
    /// The config's warnings.
    pub config_warnings: Vec<String>,
}

/// The outcome of one pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pass {
    /// The plan that was applied (or printed, in a dry run).
    pub plan: Plan,
    /// Whether resolv.conf was (re)written.
    pub resolv_written: bool,
    /// Time from observing to done.
    pub elapsed: std::time::Duration,
}

/// Runs `plinth-agent net` to completion (`--once`, `--dry-run`) or forever.
pub fn run(opts: &NetOptions) -> Result<(), NetError> {
    let parsed =
        plinth_config::load_path(&opts.config).map_err(|d| NetError::Config(d.to_string()))?;
    let config_warnings: Vec<String> = parsed.warnings.iter().map(ToString::to_string).collect();
    for w in &config_warnings {
        eprintln!("net: config warning: {w}");
    }
    let owned: Vec<String> = parsed
        .config
        .plinth
        .genestack
        .ovn
        .as_ref()
        .map(|ovn| ovn.ovs_interfaces().into_iter().map(|o| o.name).collect())
        .unwrap_or_default();
    if !owned.is_empty() {
        println!(
            "net: {} owned by OVS: brought up with no address, then left alone",
            owned.join(", ")
        );
    }
    let network = parsed.config.network.unwrap_or_else(|| {
        println!(
            "net: the config has no network section; nothing to configure (PID 1 runs DHCP on every interface)"
        );
        Network::default()
    });
    let network = super::ovs_host::kernel_part(&network);
    let wanted = Wanted {
        network,
        owned,
        config_warnings,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(NetError::Connection)?;
    runtime.block_on(async {
        let (connection, handle, _) = rtnetlink::new_connection().map_err(NetError::Connection)?;
        tokio::spawn(connection);
        let first = pass(&wanted, &handle, opts).await?;
        report(&first, opts.dry_run);
        if opts.once || opts.dry_run {
            return Ok(());
        }
        watch(&wanted, &handle, opts).await
    })
}

/// One observe → plan → apply pass.
pub async fn pass(wanted: &Wanted, handle: &Handle, opts: &NetOptions) -> Result<Pass, NetError> {
    let start = Instant::now();
    let state = observe(handle, &opts.sys_class_net).await?;
    let plan = hand_over(plan(&wanted.network, &state), &wanted.owned, &state);
    for w in &plan.warnings {
        eprintln!("net: warning: {w}");
    }
    let mut resolv_written = false;
    if opts.dry_run {
        for op in &plan.ops {
            println!("net: would {op}");
        }
        if let Some(text) = &plan.resolv_conf
            && !holds(&opts.resolv_conf, text)
        {
            println!("net: would write {}:", opts.resolv_conf.display());
            print!("{text}");
        }
    } else {
        apply(handle, &plan.ops, |op| println!("net: {op}")).await?;
        if let Some(text) = &plan.resolv_conf {
            resolv_written = write_if_changed(&opts.resolv_conf, text)?;
        }
    }
    // A dry run's answer too: what a pass would want (the `network` phase's check reads it).
    if let Some(path) = &opts.ready_file {
        write_if_changed(path, &ready(&plan, wanted).to_text())?;
    }
    Ok(Pass {
        plan,
        resolv_written,
        elapsed: start.elapsed(),
    })
}

/// Prints the DHCP clients wanted and the summary line.
pub fn report(pass: &Pass, dry_run: bool) {
    for client in &pass.plan.dhcp {
        println!("net: dhcp {}", client.line());
    }
    println!("net: {}", summary(pass, dry_run));
}

/// The one summary line of a pass.
pub fn summary(pass: &Pass, dry_run: bool) -> String {
    let verb = if dry_run { "planned" } else { "applied" };
    let dhcp = if pass.plan.dhcp.is_empty() {
        "no DHCP".to_owned()
    } else {
        let names: Vec<&str> = pass
            .plan
            .dhcp
            .iter()
            .map(|c| c.interface.as_str())
            .collect();
        format!("DHCP wanted on {}", names.join(", "))
    };
    let resolv = match (&pass.plan.resolv_conf, pass.resolv_written) {
        (None, _) => "resolv.conf left to DHCP",
        (Some(_), true) => "resolv.conf written",
        (Some(_), false) if dry_run => "resolv.conf not written (dry run)",
        (Some(_), false) => "resolv.conf unchanged",
    };
    format!(
        "{} operations {verb} in {:.1} ms; {dhcp}; {resolv}; {} warnings",
        pass.plan.ops.len(),
        pass.elapsed.as_secs_f64() * 1000.0,
        pass.plan.warnings.len()
    )
}

/// The ready file's document for `plan`: its DHCP clients, and its warnings with those of
/// unmatched entries apart.
pub fn ready(plan: &Plan, wanted: &Wanted) -> NetReady {
    NetReady {
        config_warnings: wanted.config_warnings.clone(),
        warnings: plan
            .warnings
            .iter()
            .filter(|w| !plan.unmatched.contains(w))
            .cloned()
            .collect(),
        unmatched: plan.unmatched.clone(),
        ..NetReady::new(plan.dhcp.clone())
    }
}

/// Whether the file at `path` already holds exactly `text`.
fn holds(path: &Path, text: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|old| old == text)
}

/// Writes `text` to `path` through a temporary file and a rename, unless it already holds it.
fn write_if_changed(path: &Path, text: &str) -> Result<bool, NetError> {
    if holds(path, text) {
        return Ok(false);
    }
    let err = |source| NetError::Write {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("plinth-tmp");
    std::fs::write(&tmp, text).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    Ok(true)
}
