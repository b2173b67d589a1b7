//! Host-mode Open vSwitch's devices (`plinth.ovs.mode: host`): netplan's OVS bridges, OVS bonds
//! and VLANs on OVS bridges are made by `plinth-agent ovs apply` in OVSDB, never as kernel
//! bridges, bonds or VLANs. What the network agent still does for them is what it does for any
//! link: the internal interfaces OVS creates for a bridge and for each VLAN port get the entry's
//! addresses, routes, MTU, DHCP and nameservers once they appear (the agent's watch runs a pass
//! for each new link, so whichever of the two agents comes first, the addresses land). So the
//! kernel's part of the network is the network with those devices taken out, and each bridge and
//! VLAN put back as an `ethernets` entry of its name with its addressing; the bond has none.
//! Pure.

use plinth_config::network::{Ethernet, Network, OvsTopology};

/// Copies the addressing fields every netplan device shares from `$from` into an [`Ethernet`].
macro_rules! addressing_of {
    ($from:expr) => {{
        let d = $from;
        Ethernet {
            dhcp4: d.dhcp4,
            dhcp6: d.dhcp6,
            dhcp4_overrides: d.dhcp4_overrides.clone(),
            dhcp6_overrides: d.dhcp6_overrides.clone(),
            dhcp_identifier: d.dhcp_identifier.clone(),
            addresses: d.addresses.clone(),
            gateway4: d.gateway4.clone(),
            gateway6: d.gateway6.clone(),
            nameservers: d.nameservers.clone(),
            routes: d.routes.clone(),
            routing_policy: d.routing_policy.clone(),
            mtu: d.mtu,
            optional: d.optional,
            accept_ra: d.accept_ra,
            link_local: d.link_local.clone(),
            critical: d.critical,
            ipv6_privacy: d.ipv6_privacy,
            ..Ethernet::default()
        }
    }};
}

/// The part of `net` the kernel's links carry (see the module doc).
pub fn kernel_part(net: &Network) -> Network {
    let t = OvsTopology::of(net);
    if !t.any(net) {
        return net.clone();
    }
    let mut out = net.clone();
    out.openvswitch = None;
    for e in out.ethernets.values_mut() {
        e.openvswitch = None;
    }
    for name in &t.bonds {
        out.bonds.remove(name);
    }
    for name in &t.bridges {
        if let Some(b) = out.bridges.remove(name) {
            out.ethernets.insert(name.clone(), addressing_of!(&b));
        }
    }
    for name in &t.vlans {
        if let Some(v) = out.vlans.remove(name) {
            out.ethernets.insert(name.clone(), addressing_of!(&v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ovs_devices_leave_only_their_addressing_to_the_kernel() {
        let net = plinth_config::parse(
            "t",
            "#cloud-config\nplinth:\n  ovs:\n    mode: host\nnetwork:\n  version: 2\n  ethernets:\n    eth1: {}\n    eth2: {}\n    eth0: {dhcp4: true}\n  bonds:\n    bond0:\n      interfaces: [eth1, eth2]\n      parameters: {mode: active-backup}\n  bridges:\n    br0:\n      interfaces: [bond0]\n      openvswitch: {}\n  vlans:\n    br0.100:\n      id: 100\n      link: br0\n      addresses: [10.1.0.2/24]\n      mtu: 1400\n",
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .config
        .network
        .unwrap();
        let k = kernel_part(&net);
        assert!(k.bonds.is_empty() && k.bridges.is_empty() && k.vlans.is_empty());
        let names: Vec<&str> = k.ethernets.keys().map(String::as_str).collect();
        assert_eq!(names, ["br0", "br0.100", "eth0", "eth1", "eth2"]);
        assert_eq!(k.ethernets["br0.100"].addresses, ["10.1.0.2/24"]);
        assert_eq!(k.ethernets["br0.100"].mtu, Some(1400));
        assert_eq!(k.ethernets["eth0"].dhcp4, Some(true));
    }

    #[test]
    fn a_network_without_ovs_is_unchanged() {
        let net = Network::default();
        assert_eq!(kernel_part(&net), net);
    }
}
