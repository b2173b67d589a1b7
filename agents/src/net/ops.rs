//! The operations the planner orders and the applier performs, one netlink change each. Links are
//! named, not indexed, because some are created by earlier operations of the same plan. Each
//! operation displays as the one log line the applier prints for it.

use std::fmt;

use super::bond::BondSettings;
use super::bridge::BridgeSettings;
use super::cidr::Cidr;
use super::routes::RouteSpec;
use super::rules::RuleSpec;

/// One change to the machine's network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Rename a link (taken down first if it is up; the kernel refuses to rename an up link).
    Rename {
        /// Current name.
        from: String,
        /// New name.
        to: String,
    },
    /// Create a bond.
    CreateBond {
        /// Its name.
        name: String,
        /// Its parameters.
        settings: BondSettings,
    },
    /// Change an existing bond's parameters (only those given; a mode change takes the bond down
    /// and back up, as the kernel requires).
    SetBond {
        /// The bond.
        name: String,
        /// The parameters to change.
        settings: BondSettings,
    },
    /// Create an 802.1Q VLAN on a link.
    CreateVlan {
        /// Its name.
        name: String,
        /// The underlying link.
        link: String,
        /// VLAN id.
        id: u16,
    },
    /// Create a Linux bridge.
    CreateBridge {
        /// Its name.
        name: String,
        /// STP, timers, priority.
        settings: BridgeSettings,
    },
    /// Change an existing bridge's STP, timers or priority.
    SetBridge {
        /// The bridge.
        name: String,
        /// STP, timers, priority.
        settings: BridgeSettings,
    },
    /// Make `link` a member of `master` (a bond member is taken down first, as the kernel requires).
    Enslave {
        /// The member.
        link: String,
        /// The bond or bridge.
        master: String,
    },
    /// Set the MTU.
    SetMtu {
        /// The link.
        link: String,
        /// Bytes.
        mtu: u32,
    },
    /// Set the MAC address.
    SetMac {
        /// The link.
        link: String,
        /// `aa:bb:cc:dd:ee:ff`.
        mac: String,
    },
    /// Set `net.ipv6.conf.<link>.accept_ra` (2: accept router advertisements even when forwarding,
    /// as a Genestack node does; 0: ignore them).
    SetAcceptRa {
        /// The link.
        link: String,
        /// The sysctl value.
        value: u8,
    },
    /// Bring the link administratively up.
    SetUp {
        /// The link.
        link: String,
    },
    /// Add an address.
    AddAddress {
        /// The link.
        link: String,
        /// Address and prefix.
        address: Cidr,
    },
    /// Add a policy routing rule.
    AddRule {
        /// The rule.
        rule: RuleSpec,
    },
    /// Add a route through a link.
    AddRoute {
        /// The output link.
        link: String,
        /// The route.
        route: RouteSpec,
    },
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Rename { from, to } => write!(f, "rename {from} to {to}"),
            Op::CreateBond { name, settings } => write!(f, "create bond {name}{settings}"),
            Op::SetBond { name, settings } => write!(f, "set bond {name}{settings}"),
            Op::CreateVlan { name, link, id } => write!(f, "create vlan {name} id {id} on {link}"),
            Op::CreateBridge { name, settings } => write!(f, "create bridge {name} {settings}"),
            Op::SetBridge { name, settings } => write!(f, "set bridge {name} {settings}"),
            Op::Enslave { link, master } => write!(f, "enslave {link} to {master}"),
            Op::SetMtu { link, mtu } => write!(f, "set mtu {mtu} on {link}"),
            Op::SetMac { link, mac } => write!(f, "set mac {mac} on {link}"),
            Op::SetAcceptRa { link, value } => write!(f, "set accept_ra {value} on {link}"),
            Op::SetUp { link } => write!(f, "set up {link}"),
            Op::AddAddress { link, address } => write!(f, "add address {address} on {link}"),
            Op::AddRoute { link, route } => write!(f, "add route {route} dev {link}"),
            Op::AddRule { rule } => write!(f, "add rule {rule}"),
        }
    }
}
