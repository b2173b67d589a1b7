//! `plinth.cluster`: how the node joins (or starts) the cluster: role, endpoint, token, etcd and k3s.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Cluster membership.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// Cluster name (also the etcd cluster token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `init` bootstraps a new cluster, `server` joins as control plane, `agent` joins as worker.
    #[serde(default)]
    pub role: Role,
    /// Address of an existing server (`https://10.0.0.11:6443` or `10.0.0.11`); not for `init`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Shared join secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// File holding the join secret (instead of `token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
    /// The Plinth-managed etcd.
    #[serde(default)]
    pub etcd: Etcd,
    /// k3s settings.
    #[serde(default)]
    pub k3s: K3s,
}

/// The node's cluster role.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Bootstrap a new cluster (the first server).
    #[default]
    Init,
    /// Join an existing cluster as a control-plane server.
    Server,
    /// Join an existing cluster as a worker.
    Agent,
}

/// The Plinth-managed etcd.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Etcd {
    /// Whether this node runs an etcd member (default: yes on init/server, no on agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<bool>,
    /// Data directory.
    #[serde(default = "default_data_dir")]
    pub data_dir: String,
    /// Client port.
    #[serde(default = "default_client_port")]
    pub client_port: u16,
    /// Peer port.
    #[serde(default = "default_peer_port")]
    pub peer_port: u16,
    /// Metrics port (Genestack scrapes `:2381`).
    #[serde(default = "default_metrics_port")]
    pub metrics_port: u16,
}

fn default_data_dir() -> String {
    "/var/lib/etcd".to_owned()
}
const fn default_client_port() -> u16 {
    2379
}
const fn default_peer_port() -> u16 {
    2380
}
const fn default_metrics_port() -> u16 {
    2381
}

impl Default for Etcd {
    fn default() -> Self {
        Etcd {
            member: None,
            data_dir: default_data_dir(),
            client_port: default_client_port(),
            peer_port: default_peer_port(),
            metrics_port: default_metrics_port(),
        }
    }
}

/// k3s settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct K3s {
    /// Run k3s at all (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Extra command-line arguments for `k3s server`/`k3s agent`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_args: Vec<String>,
    /// Extra node labels set at registration.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_labels: BTreeMap<String, String>,
    /// Node taints (`key=value:Effect`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_taints: Vec<String>,
}

const fn yes() -> bool {
    true
}

impl Default for K3s {
    fn default() -> Self {
        K3s {
            enabled: true,
            extra_args: Vec::new(),
            node_labels: BTreeMap::new(),
            node_taints: Vec::new(),
        }
    }
}

impl Cluster {
    /// Whether the config says anything of the cluster: a node whose `plinth.cluster` is absent
    /// (or all defaults) is no cluster node and runs none of its services.
    pub fn is_set(&self) -> bool {
        self != &Cluster::default()
    }

    /// Whether this node runs an etcd member: explicit `etcd.member`, else init/server yes, agent no.
    pub fn etcd_member(&self) -> bool {
        self.etcd.member.unwrap_or(self.role != Role::Agent)
    }
}
