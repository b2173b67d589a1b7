//! `plinth.genestack`: the node's Genestack roles, extra labels and annotations, and the OVN settings that
//! become `ovn.openstack.org/*` annotations. The pure mapping to labels lives in [`crate::genestack`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::ovn::Ovn;

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
