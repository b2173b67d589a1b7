//! The links, addresses and routes as observed on the machine: the planner's input, filled by
//! [`super::observe`] from netlink and by hand in tests. Plain data, no effects.

use std::net::IpAddr;

use super::bond::BondState;
use super::bridge::BridgeState;
use super::cidr::Cidr;
use super::routes::RouteKind;
use super::rules::RuleEntry;

/// One network link as the kernel reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Link {
    /// Interface index.
    pub index: u32,
    /// Current name.
    pub name: String,
    /// MAC address, lowercase `aa:bb:cc:dd:ee:ff`.
    pub mac: Option<String>,
    /// Permanent (burnt-in) MAC address, when the device has one: bond members take the bond's
    /// MAC, so `match: macaddress` looks here first.
    pub perm_mac: Option<String>,
    /// Kernel driver (from `/sys/class/net/<if>/device/driver`), for physical devices.
    pub driver: Option<String>,
    /// `IFLA_INFO_KIND` (`bond`, `bridge`, `vlan`, `veth`, ...); none for plain physical devices.
    pub kind: Option<String>,
    /// MTU in bytes.
    pub mtu: u32,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// Index of the master (bond or bridge) this link is enslaved to.
    pub master: Option<u32>,
    /// `net.ipv6.conf.<if>.accept_ra` (none when IPv6 is off on the link).
    pub accept_ra: Option<u8>,
    /// The underlying link's index (`IFLA_LINK`), for VLANs and other stacked devices.
    pub parent: Option<u32>,
    /// For VLANs: the VLAN id.
    pub vlan_id: Option<u16>,
    /// For bonds: the bonding parameters.
    pub bond: Option<BondState>,
    /// For bonds: the primary member's index as reported (named in `bond.primary`).
    pub bond_primary: Option<u32>,
    /// For bridges: STP and its timers, priority.
    pub bridge: Option<BridgeState>,
    /// Addresses on the link.
    pub addresses: Vec<Cidr>,
}

/// One route in a routing table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteEntry {
    /// Output interface index.
    pub oif: Option<u32>,
    /// Destination (masked).
    pub dst: Cidr,
    /// Gateway.
    pub gateway: Option<IpAddr>,
    /// Metric (`RTA_PRIORITY`; 0 when absent).
    pub metric: u32,
    /// Routing table.
    pub table: u32,
    /// Unicast or a drop route.
    pub kind: RouteKind,
}

/// Everything the planner looks at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// All links.
    pub links: Vec<Link>,
    /// Routes of the unicast tables (not `local`).
    pub routes: Vec<RouteEntry>,
    /// Policy routing rules that look up a table.
    pub rules: Vec<RuleEntry>,
}

impl State {
    /// The link with this name.
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }
}

/// The main routing table.
pub const MAIN_TABLE: u32 = 254;
