//! `plinth-agent cluster status` (what `plinthctl cluster` runs): how this node's part of the
//! cluster is, as one [`Report`]: the config and `node.json`, etcd's health and members, the
//! apiserver's readiness, the Node's Ready condition, and the labels, annotations and taints
//! `cluster-labels` keeps, compared with what it is started with ([`node::labeller_wants`]).
//!
//! The probes ([`checks`]) run together, each bounded, so a down cluster is reported in seconds;
//! their outcomes become states in [`verdict`]. The report goes to stdout whatever it says; the
//! command then fails (exit 1, one line on stderr) when any check fails, so scripts and PID 1's
//! probes can use the exit status alone.

use std::path::PathBuf;

use clap::ValueEnum;

use super::checks::{self, EtcdClient};
use super::node;
use super::report::Report;
use super::verdict::{self, NodeSeen, Scope};

/// How the report is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Tables, for people.
    #[default]
    Table,
    /// One JSON object, for scripts.
    Json,
}

/// What `status` is asked.
#[derive(Clone, Debug)]
pub struct StatusOptions {
    /// The machine config (its cluster part: roles, ports, labels).
    pub config: PathBuf,
    /// The state root: `pki/` and `kubernetes/admin.conf` below it.
    pub root: PathBuf,
    /// Where `prep` wrote `node.json`.
    pub run_dir: PathBuf,
    pub output: Output,
}

/// The report said the node is not healthy (it was printed already).
#[derive(Debug, thiserror::Error)]
#[error("{failing} of {total} checks failing")]
pub struct Unhealthy {
    pub failing: usize,
    pub total: usize,
}

/// Runs `status`: prints the report; an [`Unhealthy`] error when a check fails.
pub fn run(options: &StatusOptions) -> anyhow::Result<()> {
    let report = super::client::runtime()?.block_on(report(options));
    match options.output {
        Output::Table => print!("{}", report.table()),
        Output::Json => print!("{}", report.json()),
    }
    if report.healthy {
        Ok(())
    } else {
        Err(Unhealthy {
            failing: report.failing(),
            total: report.checks.len(),
        }
        .into())
    }
}

/// Probes everything and decides each check.
pub async fn report(options: &StatusOptions) -> Report {
    let config_path = options.config.display().to_string();
    let config = checks::read_config(&options.config);
    let node_file = checks::read_node_file(&options.run_dir.join(super::prep::NODE_FILE));
    let scope = Scope::of(config.as_ref().ok(), node_file.as_ref().ok());
    let defaults = plinth_config::plinth::cluster::Etcd::default();
    let etcd_ports = config
        .as_ref()
        .map_or(&defaults, |c| &c.plinth.cluster.etcd);
    let etcd = EtcdClient::under(&options.root.join(crate::pki::plan::PKI_DIR));
    let node_name = node_file.as_ref().ok().map(|n| n.node_name.clone());
    let wanted = config.as_ref().ok().map(node::labeller_wants);

    let kubeconfigs = options.root.join(crate::pki::plan::KUBECONFIG_DIR);
    // An agent has no admin identity: it reads its Node as itself, with its kubelet's.
    let admin_conf = match kubeconfigs.join("admin.conf") {
        admin if !admin.exists() && kubeconfigs.join("kubelet.conf").exists() => {
            kubeconfigs.join("kubelet.conf")
        }
        admin => admin,
    };
    let joiner = config
        .as_ref()
        .is_ok_and(|c| c.plinth.cluster.is_set() && c.plinth.cluster.is_joiner());
    let join_state = super::join_state::JoinState::read(&options.run_dir);
    let kubernetes = async {
        let (client, server) = match checks::admin(&admin_conf).await {
            Ok(admin) => admin,
            Err(why) => {
                let seen = NodeSeen::NotChecked(why.to_string());
                return ("the apiserver".to_owned(), Err(why), seen);
            }
        };
        let node = async {
            match &node_name {
                Some(name) => checks::node(&client, &server, name).await,
                None => NodeSeen::NotChecked("the node's name is unknown (no node.json)".into()),
            }
        };
        let (readyz, node) = tokio::join!(checks::readyz(&client, &server), node);
        (server, readyz, node)
    };
    let ((server, readyz, node), health, members) = tokio::join!(
        kubernetes,
        checks::etcd_health(&etcd, etcd_ports.metrics_port),
        checks::etcd_members(&etcd, etcd_ports.client_port),
    );

    let (members_check, members) = verdict::etcd_members(scope, &members, node_name.as_deref());
    let (labels_check, labels) = verdict::owned(scope, wanted.as_ref(), &node);
    let (taints_check, taints) = verdict::taints(scope, wanted.as_ref(), &node);
    let checks = vec![
        verdict::config(&config_path, &config),
        verdict::node_file(scope, &node_file),
        verdict::join(joiner, &join_state),
        verdict::etcd_health(scope, &health),
        members_check,
        verdict::apiserver(scope, &server, &readyz),
        verdict::node_ready(scope, &node),
        labels_check,
        taints_check,
    ];
    let ca = options.root.join(crate::pki::plan::PKI_DIR).join("ca.crt");
    Report::new(node_file.ok(), checks, members, labels, taints).with_ca_pin(ca_pin(&ca))
}

/// The pin of the CA certificate at `path`, when there is one that parses.
fn ca_pin(path: &std::path::Path) -> Option<String> {
    let pem = std::fs::read(path).ok()?;
    crate::join::pin::CaPin::of_certificate(&pem)
        .ok()
        .map(|pin| pin.to_string())
}
