//! Settings every netplan device shares: addressing, DHCP, routes, DNS, MTU; defined once through the
//! `device_struct!` macro so each device type lists only what is its own.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Defines a netplan device struct: the common fields below plus the device's own.
macro_rules! device_struct {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "kebab-case", deny_unknown_fields)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            /// Run DHCPv4.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub dhcp4: Option<bool>,
            /// Run DHCPv6.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub dhcp6: Option<bool>,
            /// What to take from the DHCPv4 lease.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub dhcp4_overrides: Option<$crate::network::DhcpOverrides>,
            /// What to take from the DHCPv6 lease.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub dhcp6_overrides: Option<$crate::network::DhcpOverrides>,
            /// DHCP client identifier: `duid` or `mac`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub dhcp_identifier: Option<String>,
            /// Static addresses in CIDR form (`10.0.0.5/24`, `2001:db8::5/64`).
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub addresses: Vec<String>,
            /// Deprecated default IPv4 gateway (use a route `to: default`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub gateway4: Option<String>,
            /// Deprecated default IPv6 gateway.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub gateway6: Option<String>,
            /// DNS servers and search domains.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub nameservers: Option<$crate::network::Nameservers>,
            /// Static routes.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub routes: Vec<$crate::network::Route>,
            /// Policy routing rules.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub routing_policy: Vec<$crate::network::RoutingPolicy>,
            /// MTU in bytes.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub mtu: Option<u32>,
            /// Boot does not wait for this link.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub optional: Option<bool>,
            /// Accept IPv6 router advertisements.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub accept_ra: Option<bool>,
            /// Link-local addressing: any of `ipv4`, `ipv6`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub link_local: Option<Vec<String>>,
            /// Keep addresses and routes when the link goes down.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub critical: Option<bool>,
            /// Use IPv6 privacy extensions.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub ipv6_privacy: Option<bool>,
            /// netplan's per-device backend; ignored (`sriov` is refused as unsupported).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub renderer: Option<String>,
            /// Set this MAC address on the device.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub macaddress: Option<String>,
            /// Open vSwitch settings (`plinth.ovs.mode: host` only).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub openvswitch: Option<$crate::network::OvsDevice>,
        }
    };
}
pub(crate) use device_struct;

/// DNS settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Nameservers {
    /// DNS server addresses.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Search domains.
    #[serde(default)]
    pub search: Vec<String>,
}

/// A static route.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Route {
    /// Destination CIDR, or `default`.
    pub to: String,
    /// Gateway address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Preferred source address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Route metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
    /// The gateway is on the link even if no address covers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_link: Option<bool>,
    /// Routing table number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<u32>,
    /// `global`, `link` or `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `unicast`, `blackhole`, `unreachable`, `prohibit`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Route MTU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Advertised TCP MSS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertised_mss: Option<u32>,
    /// Initial congestion window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub congestion_window: Option<u32>,
    /// Advertised receive window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertised_receive_window: Option<u32>,
}

/// A policy routing rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RoutingPolicy {
    /// Source CIDR or address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Destination CIDR or address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Table to look up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<u32>,
    /// Rule priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// Firewall mark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<u32>,
    /// Type of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_of_service: Option<u8>,
}

/// What to accept from a DHCP lease.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DhcpOverrides {
    /// Use the DNS servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_dns: Option<bool>,
    /// Use the NTP servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_ntp: Option<bool>,
    /// Send the hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_hostname: Option<bool>,
    /// Take the hostname from the lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_hostname: Option<bool>,
    /// Use the MTU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_mtu: Option<bool>,
    /// Use the routes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_routes: Option<bool>,
    /// Use the search domains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_domains: Option<String>,
    /// Hostname to send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Metric of routes from the lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_metric: Option<u32>,
}

/// Names written as one string or a list (`driver: ixgbe` or `driver: [ixgbe, i40e]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One name.
    One(String),
    /// Several names.
    Many(Vec<String>),
}

impl OneOrMany {
    /// All the names.
    pub fn all(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// Schema only: a value users write as a string or a number (`100`, `"100ms"`); the Rust field is a
/// string holding the spelling.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum StringOrNumber {
    /// Written as a string.
    Text(String),
    /// Written as a number.
    Number(u64),
}

/// Per-port numbers on bridges (`path-cost`, `port-priority`).
pub type PortMap = BTreeMap<String, u32>;
