//! The devices a netplan config asks for, under the names they will carry: every claimed ethernet
//! (after `set-name`), then bonds, VLANs and bridges, with the settings all of them share. Also maps
//! config ids to final names so bond members, VLAN links and bridge ports can be resolved. Pure.

use std::collections::BTreeMap;

use plinth_config::network::{
    Bond, Bridge, DhcpOverrides, Nameservers, Network, Route, RoutingPolicy, Vlan,
};

use super::matching::{Claim, resolve_ethernets};
use super::state::Link;

/// What kind of device, with its own settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind<'a> {
    /// A physical interface (or a veth standing in for one).
    Ethernet,
    /// A bond.
    Bond(&'a Bond),
    /// An 802.1Q VLAN.
    Vlan(&'a Vlan),
    /// A Linux bridge.
    Bridge(&'a Bridge),
}

/// The settings every netplan device has, borrowed from the config.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Common<'a> {
    /// Static addresses (CIDR strings).
    pub addresses: &'a [String],
    /// Deprecated default IPv4 gateway.
    pub gateway4: Option<&'a str>,
    /// Deprecated default IPv6 gateway.
    pub gateway6: Option<&'a str>,
    /// Static routes.
    pub routes: &'a [Route],
    /// Policy routing rules (not applied yet; the planner warns).
    pub routing_policy: &'a [RoutingPolicy],
    /// MTU.
    pub mtu: Option<u32>,
    /// MAC address to set.
    pub macaddress: Option<&'a str>,
    /// Accept IPv6 router advertisements (none: the kernel's setting stays).
    pub accept_ra: Option<bool>,
    /// Run DHCPv4.
    pub dhcp4: bool,
    /// Run DHCPv6.
    pub dhcp6: bool,
    /// Static DNS settings.
    pub nameservers: Option<&'a Nameservers>,
    /// What to take from the DHCPv4 lease.
    pub dhcp4_overrides: Option<&'a DhcpOverrides>,
    /// What to take from the DHCPv6 lease.
    pub dhcp6_overrides: Option<&'a DhcpOverrides>,
}

macro_rules! common_of {
    ($dev:expr) => {
        Common {
            addresses: &$dev.addresses,
            gateway4: $dev.gateway4.as_deref(),
            gateway6: $dev.gateway6.as_deref(),
            routes: &$dev.routes,
            routing_policy: &$dev.routing_policy,
            mtu: $dev.mtu,
            macaddress: $dev.macaddress.as_deref(),
            accept_ra: $dev.accept_ra,
            dhcp4: $dev.dhcp4 == Some(true),
            dhcp6: $dev.dhcp6 == Some(true),
            nameservers: $dev.nameservers.as_ref(),
            dhcp4_overrides: $dev.dhcp4_overrides.as_ref(),
            dhcp6_overrides: $dev.dhcp6_overrides.as_ref(),
        }
    };
}

/// One device to configure.
#[derive(Clone, Debug, PartialEq)]
pub struct Device<'a> {
    /// Where it comes from, such as `ethernets.uplink`.
    pub path: String,
    /// Its name once configured.
    pub name: String,
    /// Its kind and own settings.
    pub kind: Kind<'a>,
    /// The shared settings.
    pub common: Common<'a>,
}

/// All devices of a config, in the order they must exist: ethernets, bonds, VLANs, bridges.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Devices<'a> {
    /// The devices.
    pub list: Vec<Device<'a>>,
    /// The ethernets' claims on observed links (renames among them).
    pub claims: Vec<Claim>,
    /// Config id to final names (an ethernet `match` may select several links).
    pub names: BTreeMap<String, Vec<String>>,
    /// Entries that could not be resolved, and sections this agent does not apply.
    pub warnings: Vec<String>,
    /// Those of `warnings` about an ethernet whose `match` found no link.
    pub unmatched: Vec<String>,
}

impl Devices<'_> {
    /// The final names a member reference (a config id) stands for; a name the config does not
    /// define stands for itself.
    pub fn resolve(&self, id: &str) -> Vec<String> {
        self.names
            .get(id)
            .cloned()
            .unwrap_or_else(|| vec![id.to_owned()])
    }
}

/// Lists the devices `network` defines, resolving ethernets against `links`.
pub fn devices<'a>(network: &'a Network, links: &[Link]) -> Devices<'a> {
    let resolution = resolve_ethernets(network, links);
    let mut out = Devices {
        warnings: resolution.warnings,
        unmatched: resolution.unmatched,
        ..Devices::default()
    };
    for claim in &resolution.claims {
        let Some(eth) = network.ethernets.get(&claim.id) else {
            continue;
        };
        out.names
            .entry(claim.id.clone())
            .or_default()
            .push(claim.target.clone());
        out.list.push(Device {
            path: format!("ethernets.{}", claim.id),
            name: claim.target.clone(),
            kind: Kind::Ethernet,
            common: common_of!(eth),
        });
    }
    out.claims = resolution.claims;
    for id in network.ethernets.keys() {
        out.names.entry(id.clone()).or_default();
    }
    for (id, bond) in &network.bonds {
        out.push_virtual("bonds", id, Kind::Bond(bond), common_of!(bond));
    }
    for (id, vlan) in &network.vlans {
        out.push_virtual("vlans", id, Kind::Vlan(vlan), common_of!(vlan));
    }
    for (id, bridge) in &network.bridges {
        out.push_virtual("bridges", id, Kind::Bridge(bridge), common_of!(bridge));
    }
    let unapplied = [
        ("tunnels", network.tunnels.len()),
        ("vrfs", network.vrfs.len()),
        ("dummy-devices", network.dummy_devices.len()),
        ("virtual-ethernets", network.virtual_ethernets.len()),
    ];
    for (section, count) in unapplied {
        if count > 0 {
            out.warnings.push(format!(
                "{section}: {count} device(s) defined; plinth-agent net does not apply {section} yet"
            ));
        }
    }
    out
}

impl<'a> Devices<'a> {
    fn push_virtual(&mut self, section: &str, id: &str, kind: Kind<'a>, common: Common<'a>) {
        self.names.insert(id.to_owned(), vec![id.to_owned()]);
        self.list.push(Device {
            path: format!("{section}.{id}"),
            name: id.to_owned(),
            kind,
            common,
        });
    }
}
