//! `plinth-agent`: the node's single-purpose helpers, one subcommand each, every one run as a
//! service supervised by PID 1. A thin command line over the `plinth_agents` library.
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use plinth_agents::{net, pki};

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
    /// The `dhcp` service's program: write dhcpcd's config from the network agent's ready file
    /// (an `interface` block per DHCP client it wants), then exec `dhcpcd -B -f CONF`.
    Dhcpcd(DhcpcdArgs),
    /// Make the control-plane node's cluster PKI (kubeadm's certificates, keys and kubeconfigs)
    /// once, and keep it: a later run reuses it, issuing again only what is missing or lacks a
    /// name now wanted. Runs once and exits.
    Pki(PkiArgs),
    /// The cluster's objects: `bootstrap` makes those of a kubeadm cluster (bootstrap token,
    /// cluster-info, TLS-bootstrap RBAC, kubeadm-certs); `labels` keeps a Node's labels,
    /// annotations and taints as Plinth wants them.
    Cluster(plinth_agents::cluster::cli::ClusterArgs),
    /// A stacked etcd's membership: `join` adds this node as a learner before its etcd starts
    /// (or removes its stale member first), `promote` makes it a voting member once caught up.
    Etcd(plinth_agents::etcd::cli::EtcdArgs),
    /// The node's disks: `apply` prepares plinth.storage (LVM volume groups, the Longhorn disk,
    /// the iSCSI target's modules, multipath.conf), refusing disks that hold data unless wiped by
    /// config; `status` is the last run's report (`plinthctl storage`).
    Storage(plinth_agents::storage::cli::StorageArgs),
    /// A compute node's readiness: `watch` checks KVM, nested virtualization, hugepages, IOMMU
    /// groups, the configured kernel arguments and libvirt (once its pod answers) every few
    /// minutes, for the textfile collector; `status` is the last report (`plinthctl compute`).
    Compute(plinth_agents::compute::cli::ComputeArgs),
    /// Host-mode Open vSwitch (`plinth.ovs.mode: host`): `init-db` makes or converts the
    /// database file before ovsdb-server starts; `apply` brings the running database to the
    /// config's OVS bridges, bonds, patch ports and VLAN ports (netplan's `openvswitch` syntax)
    /// over the OVSDB protocol, in one transaction, and changes nothing when it holds them.
    Ovs(plinth_agents::ovs::cli::OvsArgs),
}

#[derive(Args)]
struct DhcpcdArgs {
    /// The network agent's ready file (`net --ready-file`).
    ready: PathBuf,
    /// Where to write dhcpcd's config.
    conf: PathBuf,
    /// The dhcpcd binary.
    dhcpcd: PathBuf,
}

#[derive(Args)]
struct PkiArgs {
    /// The root: `pki/` and `kubernetes/` are made below it.
    #[arg(long, default_value = pki::DEFAULT_ROOT)]
    dir: PathBuf,
    /// This node's name (`system:node:<name>`, a SAN of the apiserver and etcd).
    #[arg(long)]
    node_name: String,
    /// An address of this node (repeatable): SANs of the apiserver and etcd certificates.
    #[arg(long = "address", value_name = "IP")]
    addresses: Vec<IpAddr>,
    /// The service range (`--service-cluster-ip-range`); its first address is the `kubernetes`
    /// service's, a SAN of the apiserver.
    #[arg(long, value_name = "CIDR", default_value = "10.96.0.0/12")]
    service_cidr: String,
    /// The cluster's DNS domain.
    #[arg(long, value_name = "DOMAIN", default_value = "cluster.local")]
    cluster_domain: String,
    /// One more name of the apiserver (repeatable): a DNS name or an IP address.
    #[arg(long = "san", value_name = "X")]
    sans: Vec<String>,
    /// The apiserver URL every kubeconfig points at (`https://10.0.0.10:6443`).
    #[arg(long, value_name = "URL")]
    apiserver_url: String,
    /// The operator's cluster CA certificate (PEM), used instead of a new CA.
    #[arg(long, value_name = "FILE", requires = "ca_key_file")]
    ca_cert_file: Option<PathBuf>,
    /// The operator's cluster CA key (PEM: PKCS#8, PKCS#1 or SEC1, unencrypted).
    #[arg(long, value_name = "FILE", requires = "ca_cert_file")]
    ca_key_file: Option<PathBuf>,
    /// No stacked etcd on this node: no etcd CA, etcd certificates or apiserver-etcd-client.
    #[arg(long)]
    no_etcd: bool,
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
    /// Write this file after each successful pass (in a dry run, once): the ready document, JSON
    /// version 1, with the DHCP clients wanted and the warnings (PID 1's readiness probe, what its
    /// `dhcp` service configures dhcpcd from, and the `network` phase's check).
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
        // Returns only when dhcpcd could not be run.
        Command::Dhcpcd(a) => {
            Err(plinth_agents::dhcpcd::run(&a.ready, &a.conf, &a.dhcpcd)).context("dhcpcd")
        }
        Command::Pki(a) => {
            let service_ip = pki::first_service_ip(&a.service_cidr).context("pki")?;
            let operator_ca = match (a.ca_cert_file, a.ca_key_file) {
                (Some(cert), Some(key)) => Some(pki::OperatorCa { cert, key }),
                _ => None,
            };
            pki::run(&pki::PkiOptions {
                root: a.dir,
                request: pki::PkiRequest {
                    node_name: a.node_name,
                    node_addresses: a.addresses,
                    cluster_domain: a.cluster_domain,
                    service_ip,
                    cert_sans: a.sans,
                    apiserver_url: a.apiserver_url,
                    etcd: !a.no_etcd,
                    control_plane: true,
                },
                operator_ca,
            })
            .map(drop)
            .context("pki")
        }
        Command::Cluster(a) => plinth_agents::cluster::cli::run(a).context("cluster"),
        Command::Etcd(a) => plinth_agents::etcd::cli::run(a).context("etcd"),
        Command::Storage(a) => plinth_agents::storage::cli::run(a).context("storage"),
        Command::Compute(a) => plinth_agents::compute::cli::run(a).context("compute"),
        Command::Ovs(a) => plinth_agents::ovs::cli::run(a).context("ovs"),
    }
}
