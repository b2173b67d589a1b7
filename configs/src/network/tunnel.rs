//! Virtual devices: tunnels (VXLAN, GRE, IPIP, SIT), VRFs, dummy devices and veth pairs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::device_struct;
use super::{Route, RoutingPolicy};

device_struct! {
    /// A tunnel. WireGuard tunnels are refused as unsupported before this is read.
    pub struct Tunnel {
        /// `vxlan`, `gre`, `gretap`, `ipip`, `sit`, `ip6gre`, `ip6ip6`, `ipip6`, `vti`, `vti6`.
        pub mode: String,
        /// VXLAN network identifier / tunnel key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub id: Option<u32>,
        /// Underlying link.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub link: Option<String>,
        /// Local endpoint address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub local: Option<String>,
        /// Remote endpoint address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub remote: Option<String>,
        /// UDP port (VXLAN).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub port: Option<u16>,
        /// Time to live.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ttl: Option<u8>,
        /// Suppress ARP/ND on the VXLAN device.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub neigh_suppress: Option<bool>,
        /// Learn MAC addresses on the VXLAN device.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mac_learning: Option<bool>,
    }
}

device_struct! {
    /// A dummy interface.
    pub struct Dummy {}
}

device_struct! {
    /// One end of a veth pair.
    pub struct VirtualEthernet {
        /// The other end (also defined under `virtual-ethernets`).
        pub peer: String,
    }
}

/// A VRF.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Vrf {
    /// Routing table of the VRF.
    pub table: u32,
    /// Member interfaces.
    #[serde(default)]
    pub interfaces: Vec<String>,
    /// Routes in the VRF's table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// Policy rules for the VRF.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routing_policy: Vec<RoutingPolicy>,
}
