//! `plinth.ovs`: where Open vSwitch runs. `kube-ovn` (default): Kube-OVN's pods run OVS and the host only
//! loads modules and prepares paths; `host`: ovsdb-server and ovs-vswitchd run on the host and Plinth
//! builds the bridges, bonds, patch ports and VLAN internal ports that the netplan `network:`
//! section writes in netplan's own `openvswitch:` syntax (see `crate::network::openvswitch`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Open vSwitch settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ovs {
    /// Where OVS runs.
    #[serde(default)]
    pub mode: OvsMode,
}

/// Where OVS runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OvsMode {
    /// In Kube-OVN's pods; the host prepares modules and paths only.
    #[default]
    KubeOvn,
    /// On the host.
    Host,
}
