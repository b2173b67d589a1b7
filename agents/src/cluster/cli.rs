//! The command line of `plinth-agent cluster …`: `prep` (a node's cluster files, `prep`), `exec`
//! (one prepared service, `exec`), `bootstrap` (the objects of a kubeadm cluster, `bootstrap`),
//! `labels` (the labeller, `labeller`), `cni` (the bridge network, `cni`) and `status` (how the
//! node's part of the cluster is, `status`), turned into their options.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::bootstrap::{self, BootstrapOptions};
use super::cni::{self, CniOptions};
use super::labeller::{self, LabelsOptions};
use super::labels::{self, TaintMatch, Wanted};
use super::node::{CNI_DIR, RUN_DIR};
use super::prep::{self, PrepOptions};
use super::roles_check::{self, RolesCheckOptions};
use super::roles_keeper::{self, RolesOptions};
use super::status::{self, Output, StatusOptions};

/// `plinth-agent cluster`.
#[derive(Args, Debug)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub command: ClusterCommand,
}

#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Prepare an `init` node's cluster services: name and address, join secrets, the PKI, and
    /// each service's argv and config files. Runs once and exits; every boot runs it again.
    Prep(PrepArgs),
    /// Become the cluster service NAME as `prep` prepared it (exec: same pid, same cgroup).
    Exec(ExecArgs),
    /// Make the cluster hold the objects kubeadm's join protocol needs: the bootstrap token
    /// Secret (no expiration), cluster-info readable anonymously, the TLS-bootstrap RBAC and, with
    /// a certificate key, the encrypted control-plane certificates (`kubeadm-certs`); then wait
    /// for the bootstrapsigner's signature of cluster-info. Idempotent; runs once and exits.
    Bootstrap(BootstrapArgs),
    /// Apply the labels and annotations Plinth owns to a Node (Server-Side Apply, field manager
    /// `plinth`) and remove taints; with `--watch`, stay and put them back when removed.
    Labels(LabelsArgs),
    /// On a control plane: grant every Node the node-role labels it declared
    /// (`node-role.plinth.dev/<role>` → `node-role.kubernetes.io/<role>`, never `control-plane`),
    /// and keep them. Runs for ever.
    Roles(RolesArgs),
    /// On an agent: wait for the cluster to grant the node-role labels the node declared, and
    /// say once which an administrator must add when it does not. Exits 0 either way.
    RolesCheck(RolesCheckArgs),
    /// Write the bridge pod network (`cni: bridge`) for the Node's podCIDR once it has one.
    Cni(CniArgs),
    /// Exit 0 once the apiserver's `/readyz` answers `ok` (asking every second for a few
    /// seconds; PID 1's readiness probe of kube-apiserver).
    Healthy(HealthyArgs),
    /// How this node's part of the cluster is: its role and name, etcd's health and members, the
    /// apiserver's readiness, the Node's Ready condition, and the labels, annotations and taints
    /// Plinth keeps. Each check ok, failing (with why) or not applicable; exit 1 if any fails.
    Status(StatusArgs),
}

#[derive(Args, Debug)]
pub struct HealthyArgs {
    /// A kubeconfig of the apiserver to ask.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: PathBuf,
    /// The path asked.
    #[arg(long, default_value = "/readyz")]
    pub path: String,
    /// How long to keep asking.
    #[arg(long = "for", value_name = "SECONDS", default_value_t = super::healthy::DEFAULT_FOR.as_secs())]
    pub for_: u64,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The machine config (PID 1 writes the cluster part there).
    #[arg(long, value_name = "FILE", default_value = prep::DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// The state root: `pki/` and `kubernetes/admin.conf` below it.
    #[arg(long, value_name = "DIR", default_value = crate::pki::DEFAULT_ROOT)]
    pub root: PathBuf,
    /// Where `prep` wrote `node.json`.
    #[arg(long, value_name = "DIR", default_value = RUN_DIR)]
    pub run_dir: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Output,
}

#[derive(Args, Debug)]
pub struct PrepArgs {
    /// The machine config (PID 1 writes the cluster part there).
    #[arg(long, value_name = "FILE", default_value = prep::DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// The state root: `pki/`, `kubernetes/` and `cluster/` below it.
    #[arg(long, value_name = "DIR", default_value = crate::pki::DEFAULT_ROOT)]
    pub root: PathBuf,
    /// Where the argv and config files are written.
    #[arg(long, value_name = "DIR", default_value = RUN_DIR)]
    pub run_dir: PathBuf,
    /// How long to wait for an address to advertise.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub wait: u64,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// The service: etcd, kube-apiserver, kubelet, ….
    pub name: String,
    /// Where `prep` wrote the argv files.
    #[arg(long, value_name = "DIR", default_value = RUN_DIR)]
    pub run_dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct RolesArgs {
    /// An admin kubeconfig.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: PathBuf,
    /// The time between two looks at the Nodes.
    #[arg(long, value_name = "SECONDS", default_value_t = roles_keeper::DEFAULT_INTERVAL.as_secs())]
    pub interval: u64,
}

#[derive(Args, Debug)]
pub struct RolesCheckArgs {
    /// The node's own kubeconfig (the kubelet's).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: PathBuf,
    /// The Node's name.
    #[arg(long, value_name = "NAME")]
    pub node: String,
    /// A node-role label the node declared (repeatable), `node-role.kubernetes.io/ROLE=VALUE`.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = labels::parse_pair)]
    pub labels: Vec<(String, String)>,
    /// How long the cluster has to grant them.
    #[arg(long, value_name = "SECONDS", default_value_t = roles_check::DEFAULT_WAIT.as_secs())]
    pub wait: u64,
}

#[derive(Args, Debug)]
pub struct CniArgs {
    /// A kubeconfig that may read the Node.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: PathBuf,
    /// The Node's name.
    #[arg(long, value_name = "NAME")]
    pub node: String,
    /// containerd's CNI configuration directory.
    #[arg(long, value_name = "DIR", default_value = CNI_DIR)]
    pub dir: PathBuf,
    /// How long to wait for the podCIDR.
    #[arg(long, value_name = "SECONDS", default_value_t = cni::DEFAULT_TIMEOUT.as_secs())]
    pub timeout: u64,
}

#[derive(Args, Debug)]
pub struct BootstrapArgs {
    /// An admin kubeconfig (`super-admin.conf`); its cluster's server and CA go into
    /// cluster-info.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: PathBuf,
    /// The file holding the bootstrap token `id.secret` (the cluster's join token).
    #[arg(long, value_name = "FILE")]
    pub token_file: PathBuf,
    /// The file holding the certificate key (64 hex digits): upload the control-plane
    /// certificates, encrypted with it, as `kube-system/kubeadm-certs`.
    #[arg(long, value_name = "FILE")]
    pub certificate_key_file: Option<PathBuf>,
    /// The PKI directory the certificates are read from (kubeadm's file names).
    #[arg(long, value_name = "DIR", default_value = "/var/lib/plinth/pki")]
    pub pki_dir: PathBuf,
    /// The server URL cluster-info names, instead of the kubeconfig's.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// How long to keep retrying transient errors and waiting for the signature.
    #[arg(long, value_name = "SECONDS", default_value_t = bootstrap::DEFAULT_TIMEOUT.as_secs())]
    pub timeout: u64,
}

#[derive(Args, Debug)]
pub struct LabelsArgs {
    /// An admin kubeconfig (node-role labels need more than a kubelet's rights).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: PathBuf,
    /// The Node's name.
    #[arg(long, value_name = "NAME")]
    pub node: String,
    /// A Genestack role (repeatable): its labels, from Plinth's table of GENESTACK.md.
    #[arg(long = "role", value_name = "ROLE", value_parser = labels::parse_role)]
    pub roles: Vec<plinth_config::genestack::GenestackRole>,
    /// A label to keep (repeatable); wins over a role's.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = labels::parse_pair)]
    pub labels: Vec<(String, String)>,
    /// An annotation to keep (repeatable).
    #[arg(long = "annotation", value_name = "KEY=VALUE", value_parser = labels::parse_pair)]
    pub annotations: Vec<(String, String)>,
    /// A taint to remove (repeatable): `KEY[=VALUE][:EFFECT]`, such as
    /// `node-role.kubernetes.io/control-plane:NoSchedule`.
    #[arg(long = "remove-taint", value_name = "TAINT", value_parser = TaintMatch::parse)]
    pub remove_taints: Vec<TaintMatch>,
    /// Stay: watch the Node and apply again whatever is removed.
    #[arg(long)]
    pub watch: bool,
    /// With `--watch`, the longest time between two reads of the Node.
    #[arg(long, value_name = "SECONDS", default_value_t = labeller::DEFAULT_INTERVAL.as_secs())]
    pub interval: u64,
    /// Without `--watch`, how long to wait for the Node to be registered.
    #[arg(long, value_name = "SECONDS", default_value_t = labeller::DEFAULT_TIMEOUT.as_secs())]
    pub timeout: u64,
}

/// Runs `plinth-agent cluster …`.
pub fn run(args: ClusterArgs) -> anyhow::Result<()> {
    match args.command {
        ClusterCommand::Prep(a) => prep::run(&PrepOptions {
            config: a.config,
            root: a.root,
            run_dir: a.run_dir,
            wait: Duration::from_secs(a.wait),
        })
        .context("prep"),
        ClusterCommand::Exec(a) => super::exec::run(&a.run_dir, &a.name).context("exec"),
        ClusterCommand::Healthy(a) => {
            super::healthy::run(&a.kubeconfig, &a.path, Duration::from_secs(a.for_))
                .context("healthy")
        }
        ClusterCommand::Roles(a) => roles_keeper::run(&RolesOptions {
            kubeconfig: a.kubeconfig,
            interval: Duration::from_secs(a.interval.max(1)),
        })
        .context("roles"),
        ClusterCommand::RolesCheck(a) => roles_check::run(&RolesCheckOptions {
            kubeconfig: a.kubeconfig,
            node: a.node,
            wanted: a.labels.into_iter().collect(),
            wait: Duration::from_secs(a.wait),
        })
        .context("roles-check"),
        ClusterCommand::Cni(a) => cni::run(&CniOptions {
            kubeconfig: a.kubeconfig,
            node: a.node,
            dir: a.dir,
            timeout: Duration::from_secs(a.timeout),
        })
        .context("cni"),
        ClusterCommand::Bootstrap(a) => bootstrap::run(&BootstrapOptions {
            kubeconfig: a.kubeconfig,
            token_file: a.token_file,
            certificate_key_file: a.certificate_key_file,
            pki_dir: a.pki_dir,
            server: a.server,
            timeout: Duration::from_secs(a.timeout),
        })
        .map(drop)
        .context("bootstrap"),
        ClusterCommand::Labels(a) => labeller::run(&LabelsOptions {
            kubeconfig: a.kubeconfig,
            node: a.node,
            wanted: Wanted {
                labels: a.labels.into_iter().collect(),
                annotations: a.annotations.into_iter().collect(),
                remove_taints: a.remove_taints,
            }
            .with_roles(&a.roles),
            watch: a.watch,
            interval: Duration::from_secs(a.interval.max(1)),
            timeout: Duration::from_secs(a.timeout),
        })
        .context("labels"),
        // No context: the report was printed, and the error is only its count of failing checks.
        ClusterCommand::Status(a) => status::run(&StatusOptions {
            config: a.config,
            root: a.root,
            run_dir: a.run_dir,
            output: a.output,
        }),
    }
}
