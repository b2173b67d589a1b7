//! netplan's Open vSwitch keys: the global `network.openvswitch` (patch ports, the switch's
//! external-ids and other-config, OpenFlow protocols) and a device's `openvswitch` (a bridge's
//! fail-mode, controller, protocols, mcast-snooping, RSTP; a bond's LACP; any port's external-ids
//! and other-config). Applied only with `plinth.ovs.mode: host` (by `plinth-agent ovs apply`,
//! through OVSDB); in `kube-ovn` mode Kube-OVN's pods own OVS and validation refuses them.
//!
//! [`OvsTopology`] says which devices are OVS's, by netplan's rules: a bridge or bond with an
//! `openvswitch` key, a bridge with an OVS bond or a patch port among its interfaces, a bond in an
//! OVS bridge, and a VLAN whose link is an OVS bridge (an OVS fake bridge: an internal port with
//! the VLAN's tag).

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Network;

/// The global `network.openvswitch` settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Openvswitch {
    /// Patch port pairs, `[a, b]`: each end is a port to name in a bridge's or bond's interfaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Vec<String>>,
    /// OpenFlow versions of every bridge that does not set its own (`OpenFlow10` .. `OpenFlow15`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protocols: Vec<String>,
    /// The switch's `external_ids` (the `Open_vSwitch` row).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub external_ids: BTreeMap<String, String>,
    /// The switch's `other_config`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other_config: BTreeMap<String, String>,
    /// SSL keys for controllers; Plinth refuses it (no `ssl:` controllers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl: Option<Ssl>,
}

/// netplan's `openvswitch.ssl` (refused by validation, typed so the refusal names the key).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Ssl {
    /// CA certificate file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
    /// Certificate file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// Private key file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
}

/// A device's `openvswitch` settings (which keys fit which device is checked by validation).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct OvsDevice {
    /// `external_ids` of the device's row (a bridge's Bridge, a bond's Port, a port's Interface).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub external_ids: BTreeMap<String, String>,
    /// `other_config` of the device's row.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other_config: BTreeMap<String, String>,
    /// Bonds: `active`, `passive` or `off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lacp: Option<String>,
    /// Bridges: `secure` or `standalone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_mode: Option<String>,
    /// Bridges: multicast snooping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcast_snooping: Option<bool>,
    /// Bridges: Rapid Spanning Tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rstp: Option<bool>,
    /// Bridges: OpenFlow versions (`OpenFlow10` .. `OpenFlow15`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protocols: Vec<String>,
    /// Bridges: OpenFlow controllers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<Controller>,
}

/// A bridge's controllers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Controller {
    /// Targets: `tcp:IP[:PORT]`, `ptcp:[PORT][:IP]`, `unix:FILE`, `punix:FILE`.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// `in-band` or `out-of-band`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_mode: Option<String>,
}

/// The OpenFlow versions OVS knows.
pub const PROTOCOLS: &[&str] = &[
    "OpenFlow10",
    "OpenFlow11",
    "OpenFlow12",
    "OpenFlow13",
    "OpenFlow14",
    "OpenFlow15",
];

/// Which devices of a network are Open vSwitch's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OvsTopology {
    /// OVS bridges.
    pub bridges: BTreeSet<String>,
    /// OVS bonds.
    pub bonds: BTreeSet<String>,
    /// VLANs on an OVS bridge (fake bridges).
    pub vlans: BTreeSet<String>,
    /// Patch port ends, each with its peer.
    pub patches: BTreeMap<String, String>,
}

impl OvsTopology {
    /// Reads `net` by netplan's rules (see the module doc).
    pub fn of(net: &Network) -> Self {
        let mut t = OvsTopology::default();
        if let Some(global) = &net.openvswitch {
            for pair in &global.ports {
                if let [a, b] = pair.as_slice() {
                    t.patches.insert(a.clone(), b.clone());
                    t.patches.insert(b.clone(), a.clone());
                }
            }
        }
        t.bonds.extend(
            net.bonds
                .iter()
                .filter(|(_, b)| b.openvswitch.is_some())
                .map(|(n, _)| n.clone()),
        );
        for (name, bridge) in &net.bridges {
            let ovs_port = bridge
                .interfaces
                .iter()
                .any(|i| t.bonds.contains(i) || t.patches.contains_key(i));
            if bridge.openvswitch.is_some() || ovs_port {
                t.bridges.insert(name.clone());
            }
        }
        for name in &t.bridges {
            for i in &net.bridges[name].interfaces {
                if net.bonds.contains_key(i) {
                    t.bonds.insert(i.clone());
                }
            }
        }
        t.vlans.extend(
            net.vlans
                .iter()
                .filter(|(_, v)| t.bridges.contains(&v.link))
                .map(|(n, _)| n.clone()),
        );
        t
    }

    /// Whether the network uses Open vSwitch at all (a global section counts).
    pub fn any(&self, net: &Network) -> bool {
        net.openvswitch.is_some()
            || !self.bridges.is_empty()
            || !self.bonds.is_empty()
            || net.ethernets.values().any(|e| e.openvswitch.is_some())
            || net.vlans.values().any(|v| v.openvswitch.is_some())
    }
}
