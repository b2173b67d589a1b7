//! `plinth.cluster`: how the node starts or joins the cluster — its role, the endpoint and address,
//! the join secrets (bootstrap token, certificate key, CA pin, an operator's CA), the Plinth-managed
//! etcd and the Kubernetes settings ([`Kubernetes`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::kubernetes::Kubernetes;

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
    /// The node's own address in the cluster, an IP address or an interface name (whose address is
    /// taken): the node's InternalIP, and what etcd and the kube-apiserver advertise. Without it,
    /// the address of the interface that reaches `endpoint` (a joiner), else that of the default
    /// route's interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertise_address: Option<String>,
    /// The kubeadm bootstrap token `id.secret` (`[a-z0-9]{6}.[a-z0-9]{16}`, such as
    /// `abcdef.0123456789abcdef`): a joiner (`server`, `agent`) joins with it; on `init`, the token
    /// the node creates for the nodes that join it. A secret: never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// File holding the bootstrap token (instead of `token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
    /// The key (64 hex digits, as `kubeadm certs certificate-key` prints) that the control planes'
    /// shared certificates are encrypted with in the cluster: `init` uploads them with it, a
    /// `server` needs it to join. A secret: never shown, and an error on an `agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_key: Option<String>,
    /// File holding the certificate key (instead of `certificate_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_key_file: Option<String>,
    /// A joiner's pin of the cluster CA, `sha256:` and 64 hex digits (the SHA-256 of the CA's
    /// public key, as `kubeadm token create --print-join-command` prints it). Without it, a joiner
    /// trusts the CA that the cluster's discovery document, signed with the token, names (kubeadm's
    /// `--discovery-token-unsafe-skip-ca-verification`). Unused on `init` (a warning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert_hash: Option<String>,
    /// An operator-supplied cluster CA for the control planes; without it `init` makes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<ClusterCa>,
    /// The Plinth-managed etcd.
    #[serde(default)]
    pub etcd: Etcd,
    /// The upstream Kubernetes the node runs: address ranges, DNS domain, CNI, kube-proxy mode,
    /// node labels and taints, extra flags.
    #[serde(default)]
    pub kubernetes: Kubernetes,
    /// Whether the config wrote a `plinth.cluster` section (set by reading one, even of defaults
    /// only): see [`Cluster::is_set`]. Not part of the config's value.
    #[serde(skip, default = "Written::yes")]
    pub written: Written,
}

/// Whether a section was written in the config. Every two compare equal: it says where a value came
/// from, not what it is, so a config read back from its YAML equals the original.
#[derive(Clone, Copy, Debug, Default, Eq)]
pub struct Written(pub bool);

impl Written {
    fn yes() -> Self {
        Written(true)
    }
}

impl PartialEq for Written {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// The cluster CA, as PEM text. Both or neither.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterCa {
    /// The CA certificate (`-----BEGIN CERTIFICATE-----`). Public.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    /// The CA's private key (`-----BEGIN PRIVATE KEY-----`, or an RSA or EC key), unencrypted. A
    /// secret: never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
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

impl Role {
    /// The role as the config writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Init => "init",
            Role::Server => "server",
            Role::Agent => "agent",
        }
    }
}

/// The Plinth-managed etcd.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Etcd {
    /// Whether this node runs an etcd member (default: yes on init/server, no on agent). An agent
    /// with `member: true` runs an etcd member and no apiserver, beside its kubelet (Kubespray's
    /// dedicated etcd hosts): it joins as a learner, is promoted, and needs `certificate_key` for
    /// the cluster's etcd CA. Control planes always run one.
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

impl Cluster {
    /// Whether the node is a cluster node: its config has a `plinth.cluster` section (even
    /// `cluster: {role: init}`, all defaults), or, for a config made in code, a non-default one. A
    /// node without runs none of the cluster's services.
    pub fn is_set(&self) -> bool {
        self.written.0 || self != &Cluster::default()
    }

    /// Whether the node is no cluster node (for serde: an unset section is not written back).
    pub fn is_unset(&self) -> bool {
        !self.is_set()
    }

    /// Whether this node runs an etcd member: explicit `etcd.member`, else init/server yes, agent no.
    pub fn etcd_member(&self) -> bool {
        self.etcd.member.unwrap_or(self.role != Role::Agent)
    }

    /// Whether this node runs a control plane (kube-apiserver, controller-manager, scheduler): the
    /// roles `init` and `server`.
    pub fn is_control_plane(&self) -> bool {
        matches!(self.role, Role::Init | Role::Server)
    }

    /// Whether this node joins an existing cluster (`server`, `agent`) rather than starting one.
    pub fn is_joiner(&self) -> bool {
        !matches!(self.role, Role::Init)
    }

    /// The taints the kubelet registers the node with: `kubernetes.node_taints`, and on a control
    /// plane that does not take ordinary pods, kubeadm's [`CONTROL_PLANE_TAINT`] first.
    pub fn register_with_taints(&self) -> Vec<String> {
        let k = &self.kubernetes;
        let mut taints = Vec::new();
        if self.is_control_plane() && !k.schedule_on_control_plane {
            taints.push(CONTROL_PLANE_TAINT.to_owned());
        }
        taints.extend(k.node_taints.iter().cloned());
        taints
    }
}

/// The taint kubeadm puts on control-plane nodes, so only pods that tolerate it run there.
pub const CONTROL_PLANE_TAINT: &str = "node-role.kubernetes.io/control-plane:NoSchedule";

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(role: Role, schedule_on_control_plane: bool) -> Cluster {
        Cluster {
            role,
            kubernetes: Kubernetes {
                schedule_on_control_plane,
                node_taints: vec!["dedicated=infra:NoExecute".to_owned()],
                ..Kubernetes::default()
            },
            ..Cluster::default()
        }
    }

    #[test]
    fn roles() {
        let [init, server, agent] = [Role::Init, Role::Server, Role::Agent].map(|r| Cluster {
            role: r,
            ..Cluster::default()
        });
        assert!(init.is_control_plane() && server.is_control_plane() && !agent.is_control_plane());
        assert!(!init.is_joiner() && server.is_joiner() && agent.is_joiner());
        assert!(init.etcd_member() && server.etcd_member() && !agent.etcd_member());
        assert_eq!(Role::Server.as_str(), "server");
        assert!(
            !init.is_set(),
            "all defaults, made in code: no cluster node"
        );
        assert!(server.is_set() && agent.is_set());
        let named = Cluster {
            kubernetes: Kubernetes {
                cni: crate::plinth::Cni::Bridge,
                ..Kubernetes::default()
            },
            ..Cluster::default()
        };
        assert!(named.is_set(), "a Kubernetes setting makes a cluster node");
    }

    #[test]
    fn a_written_section_makes_a_cluster_node_and_survives_yaml() {
        let read = |text: &str| crate::parse("t", text).unwrap().config;
        let none = read("#cloud-config\nhostname: n1\n");
        assert!(!none.plinth.cluster.is_set());
        assert!(
            !read(&none.to_yaml()).plinth.cluster.is_set(),
            "not written back"
        );
        for text in [
            "#cloud-config\nplinth:\n  cluster:\n    role: init\n",
            "#cloud-config\nplinth:\n  cluster: {}\n",
        ] {
            let config = read(text);
            assert!(config.plinth.cluster.is_set(), "{text}");
            assert_eq!(config.plinth.cluster, Cluster::default(), "the same value");
            let again = read(&config.to_yaml());
            assert!(again.plinth.cluster.is_set(), "{}", config.to_yaml());
        }
    }

    #[test]
    fn control_planes_are_tainted_unless_they_take_pods() {
        let own = "dedicated=infra:NoExecute";
        assert_eq!(
            cluster(Role::Init, false).register_with_taints(),
            [CONTROL_PLANE_TAINT, own]
        );
        assert_eq!(cluster(Role::Server, true).register_with_taints(), [own]);
        assert_eq!(cluster(Role::Agent, false).register_with_taints(), [own]);
    }
}
