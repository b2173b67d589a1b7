//! `plinth.ovs`: where Open vSwitch runs. `kube-ovn` (default): Kube-OVN's pods run OVS and the host only
//! loads modules and prepares paths; `host`: ovsdb-server and ovs-vswitchd run on the host and Plinth
//! creates the bridges listed here.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Open vSwitch settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ovs {
    /// Where OVS runs.
    #[serde(default)]
    pub mode: OvsMode,
    /// Bridges to create (host mode only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bridges: Vec<OvsBridge>,
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

/// An OVS bridge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OvsBridge {
    /// Bridge name, such as `br-ex`.
    pub name: String,
    /// Ports (host interfaces) to add.
    #[serde(default)]
    pub ports: Vec<String>,
}
