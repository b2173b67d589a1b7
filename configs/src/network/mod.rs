//! Network config: netplan version 2, as cloud-init's `network-config` document or the `network:` key.
//!
//! Server features are typed (ethernets, bonds, VLANs, bridges, routes, routing policy, VRFs, dummy and
//! veth devices, VXLAN/GRE/IPIP tunnels). Features Plinth does not configure (Wi-Fi, modems, WireGuard,
//! SR-IOV, InfiniBand, 802.1x, netplan's Open vSwitch) are refused by [`unsupported`](crate::network::unsupported) with an
//! `unsupported: KEY` message before the typed read.

pub mod bond;
pub mod bridge;
pub mod common;
pub mod ethernet;
pub mod openvswitch;
pub mod tunnel;
pub mod unsupported;
pub mod vlan;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use bond::{Bond, BondParameters};
pub use bridge::{Bridge, BridgeParameters};
pub use common::{DhcpOverrides, Nameservers, Route, RoutingPolicy};
pub use ethernet::{Ethernet, Match};
pub use openvswitch::{Controller, Openvswitch, OvsDevice, OvsTopology};
pub use tunnel::{Dummy, Tunnel, VirtualEthernet, Vrf};
pub use vlan::Vlan;

/// A netplan version 2 network.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Must be 2 when present (version 1 is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u8>,
    /// netplan's backend choice; Plinth configures links itself and ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renderer: Option<String>,
    /// Physical interfaces.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ethernets: BTreeMap<String, Ethernet>,
    /// Bonds (link aggregation).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bonds: BTreeMap<String, Bond>,
    /// 802.1Q VLANs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vlans: BTreeMap<String, Vlan>,
    /// Linux bridges.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bridges: BTreeMap<String, Bridge>,
    /// VXLAN, GRE, IPIP and SIT tunnels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tunnels: BTreeMap<String, Tunnel>,
    /// Virtual routing and forwarding domains.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vrfs: BTreeMap<String, Vrf>,
    /// Dummy interfaces.
    #[serde(
        default,
        rename = "dummy-devices",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub dummy_devices: BTreeMap<String, Dummy>,
    /// veth pairs.
    #[serde(
        default,
        rename = "virtual-ethernets",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub virtual_ethernets: BTreeMap<String, VirtualEthernet>,
    /// Open vSwitch's global settings and patch ports (`plinth.ovs.mode: host` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openvswitch: Option<Openvswitch>,
}

impl Network {
    /// Every interface name the config defines, with its kind (`ethernets`, `bonds`, ...).
    pub fn interfaces(&self) -> Vec<(&'static str, &str)> {
        let mut all: Vec<(&'static str, &str)> = Vec::new();
        all.extend(self.ethernets.keys().map(|k| ("ethernets", k.as_str())));
        all.extend(self.bonds.keys().map(|k| ("bonds", k.as_str())));
        all.extend(self.vlans.keys().map(|k| ("vlans", k.as_str())));
        all.extend(self.bridges.keys().map(|k| ("bridges", k.as_str())));
        all.extend(self.tunnels.keys().map(|k| ("tunnels", k.as_str())));
        all.extend(self.vrfs.keys().map(|k| ("vrfs", k.as_str())));
        all.extend(
            self.dummy_devices
                .keys()
                .map(|k| ("dummy-devices", k.as_str())),
        );
        all.extend(
            self.virtual_ethernets
                .keys()
                .map(|k| ("virtual-ethernets", k.as_str())),
        );
        all
    }

    /// Whether a device of this name is defined (patch ports not counted); an ethernet also
    /// answers to its `set-name`.
    pub fn defines_device(&self, name: &str) -> bool {
        self.interfaces().iter().any(|(_, n)| *n == name)
            || self
                .ethernets
                .values()
                .any(|e| e.set_name.as_deref() == Some(name))
    }

    /// Whether an interface of this name is defined; an ethernet also answers to its `set-name`,
    /// and an OVS patch port of `openvswitch.ports` is defined there.
    pub fn defines(&self, name: &str) -> bool {
        self.interfaces().iter().any(|(_, n)| *n == name)
            || self
                .openvswitch
                .as_ref()
                .is_some_and(|o| o.ports.iter().flatten().any(|p| p == name))
            || self
                .ethernets
                .values()
                .any(|e| e.set_name.as_deref() == Some(name))
    }
}
