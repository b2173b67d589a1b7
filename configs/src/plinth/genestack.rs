//! `plinth.genestack`: the node's Genestack roles, extra labels and annotations, and the OVN settings that
//! become `ovn.openstack.org/*` annotations. The pure mapping to labels lives in [`crate::genestack`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Genestack settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Genestack {
    /// Roles this node plays.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<GenestackRole>,
    /// All roles at once.
    #[serde(default)]
    pub hyperconverged: bool,
    /// Extra node labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Extra node annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// OVN settings read by Genestack's ovn-setup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ovn: Option<Ovn>,
}

/// A Genestack role.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum GenestackRole {
    /// OpenStack API and control services.
    ControlPlane,
    /// nova-compute and libvirt.
    Compute,
    /// OVN/neutron networking.
    Network,
    /// Cinder volumes.
    Storage,
    /// etcd member (metrics scraped on :2381).
    Etcd,
    /// OVN central (Kube-OVN master).
    OvnCentral,
    /// Longhorn storage node.
    Longhorn,
    /// General worker.
    Worker,
}

impl GenestackRole {
    /// Every role, in declaration order.
    pub const ALL: [GenestackRole; 8] = [
        GenestackRole::ControlPlane,
        GenestackRole::Compute,
        GenestackRole::Network,
        GenestackRole::Storage,
        GenestackRole::Etcd,
        GenestackRole::OvnCentral,
        GenestackRole::Longhorn,
        GenestackRole::Worker,
    ];
}

impl Genestack {
    /// The effective roles: all of them when hyperconverged, else the listed ones, sorted and unique.
    pub fn effective_roles(&self) -> Vec<GenestackRole> {
        let mut roles = if self.hyperconverged {
            GenestackRole::ALL.to_vec()
        } else {
            self.roles.clone()
        };
        roles.sort();
        roles.dedup();
        roles
    }
}

/// OVN settings (annotations `ovn.openstack.org/*`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ovn {
    /// Integration bridge (default `br-int`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub int_bridge: Option<String>,
    /// Provider bridges, such as `br-ex`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bridges: Vec<String>,
    /// Host ports attached to bridges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<OvnPort>,
    /// OVS bonds attached to bridges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bonds: Vec<OvnBond>,
    /// VLAN interfaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vlans: Vec<OvnVlan>,
    /// Physical network name → bridge (`physnet1: br-ex`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mappings: BTreeMap<String, String>,
    /// Availability zones of this chassis.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub availability_zones: Vec<String>,
    /// This node is an OVN gateway chassis.
    #[serde(default)]
    pub gateway: bool,
}

/// A port on a bridge (`br-ex:bond1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OvnPort {
    /// Bridge name.
    pub bridge: String,
    /// Host interface.
    pub port: String,
}

/// An OVS bond on a bridge (`br-ex:bond0:eno1+eno3:balance-tcp:active`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OvnBond {
    /// Bridge name.
    pub bridge: String,
    /// Bond name.
    pub name: String,
    /// Member interfaces.
    pub interfaces: Vec<String>,
    /// OVS bond mode (`balance-tcp`, `balance-slb`, `active-backup`).
    #[serde(default = "default_bond_mode")]
    pub mode: String,
    /// LACP: `active`, `passive` or `off`.
    #[serde(default = "default_lacp")]
    pub lacp: String,
}

fn default_bond_mode() -> String {
    "balance-tcp".to_owned()
}
fn default_lacp() -> String {
    "active".to_owned()
}

/// A VLAN interface (`bond0.126:bond0:126:1500`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OvnVlan {
    /// Interface name, such as `bond0.126`.
    pub name: String,
    /// Parent interface.
    pub link: String,
    /// VLAN id.
    pub id: u16,
    /// MTU (default 1500).
    #[serde(default = "default_mtu")]
    pub mtu: u32,
}

const fn default_mtu() -> u32 {
    1500
}
