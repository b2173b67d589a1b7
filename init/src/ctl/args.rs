//! plinthctl's verbs and flags.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Control a Plinth node's PID 1 through its control socket (root only).
#[derive(Debug, Parser)]
#[command(name = "plinthctl", version)]
pub struct Cli {
    /// The control socket of plinth-init.
    #[arg(long, global = true, env = "PLINTH_SOCKET", default_value = crate::api::DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub verb: Verb,
}

/// Output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For humans.
    #[default]
    Table,
    /// JSON.
    Json,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Every service with its state, pid and restarts.
    Services {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// One service in detail.
    Status {
        /// Service name.
        name: String,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// A service's captured output.
    Logs {
        /// Service name.
        name: String,
        /// Only the last N lines (0: all that are kept).
        #[arg(long, default_value_t = 0)]
        tail: u32,
        /// Keep printing new lines.
        #[arg(short, long)]
        follow: bool,
    },
    /// Start a stopped, failed or finished service.
    Start {
        /// Service name.
        name: String,
    },
    /// Stop a service (stop signal, then SIGKILL after its timeout).
    Stop {
        /// Service name.
        name: String,
    },
    /// Stop and start a service.
    Restart {
        /// Service name.
        name: String,
    },
    /// The boot phases with start offset and duration.
    Timeline {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// The effective machine config, secrets redacted; `config apply FILE` to change it.
    Config {
        /// What to do with the config (default: show it).
        #[command(subcommand)]
        action: Option<ConfigAction>,
    },
    /// Print the cluster's admin kubeconfig (a control-plane node's admin.conf).
    ///
    /// To use the cluster from elsewhere, through a forwarded port:
    /// `plinthctl kubeconfig --server https://127.0.0.1:16443 > kc`. It holds the admin's key.
    Kubeconfig {
        /// The apiserver URL to write instead of the node's own (a forwarded port).
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        /// The state root holding `kubernetes/admin.conf`.
        #[arg(long, value_name = "DIR", default_value = crate::ctl::kubeconfig::DEFAULT_ROOT)]
        root: PathBuf,
    },
    /// How this node's part of the cluster is: etcd, the apiserver, the Node, its labels.
    ///
    /// Runs `plinth-agent cluster status`: each check ok, failing (with why) or not applicable;
    /// exit 1 when a check fails.
    Cluster {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// This node's storage disks: each configured disk prepared, refused (and why) or missing,
    /// and each volume group's size and free space.
    ///
    /// Runs `plinth-agent storage status`, which reads the storage service's last report.
    Storage {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// This compute node's readiness: KVM, nested virtualization, hugepages, IOMMU groups, the
    /// configured kernel arguments, and libvirt once Genestack's libvirt pod answers.
    ///
    /// Runs `plinth-agent compute status`, which reads the compute check's last report.
    Compute {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// Stop every service and reboot.
    Reboot,
    /// Stop every service and power off.
    Poweroff,
    /// plinthctl's and plinth-init's versions.
    Version,
}

/// `plinthctl config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Show the effective config, secrets redacted.
    Show,
    /// Validate FILE (a #cloud-config document), keep it on the state partition and re-run the boot
    /// from phase `config` with it; an invalid FILE is refused with every error's line and column.
    Apply {
        /// The config file.
        file: PathBuf,
    },
}
