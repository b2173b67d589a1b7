//! Network: addresses and CIDRs, and references between devices (bond members, VLAN links, bridge
//! ports, VRF members, tunnel links, veth peers) that must name interfaces defined in the config.

use std::collections::BTreeMap;

use super::addresses::{check_destination, parse_addr, parse_cidr};
use super::{Finding, root};
use crate::network::{Nameservers, Network, Route, RoutingPolicy};
use crate::yaml::KeyPath;

pub(super) fn check(net: &Network, out: &mut Vec<Finding>) {
    let base = root("network");
    // Address (without prefix) → where it was first assigned.
    let mut assigned: BTreeMap<std::net::IpAddr, KeyPath> = BTreeMap::new();
    macro_rules! common {
        ($section:literal, $map:expr) => {
            for (name, dev) in $map {
                let at = base.key($section).key(name);
                for (i, addr) in dev.addresses.iter().enumerate() {
                    if let Ok((ip, _)) = parse_cidr(addr) {
                        let here = at.key("addresses").index(i);
                        match assigned.get(&ip) {
                            Some(first) => out.push(Finding::error(
                                here,
                                format!("address {ip} is already assigned at {first}"),
                            )),
                            None => {
                                assigned.insert(ip, here);
                            }
                        }
                    }
                }
                for (key, value) in [("gateway4", &dev.gateway4), ("gateway6", &dev.gateway6)] {
                    if value.is_some() {
                        out.push(Finding::warning(
                            at.key(key),
                            format!("`{key}` is deprecated in netplan: use a route with `to: default` and `via:`"),
                        ).at_key());
                    }
                }
                addressing(
                    &at,
                    &dev.addresses,
                    &dev.gateway4,
                    &dev.gateway6,
                    &dev.nameservers,
                    &dev.routes,
                    &dev.routing_policy,
                    out,
                );
                if let Some(mtu) = dev.mtu
                    && !(68..=65535).contains(&mtu)
                {
                    out.push(Finding::error(
                        at.key("mtu"),
                        format!("MTU {mtu} is outside 68 to 65535"),
                    ));
                }
                if let Some(mac) = &dev.macaddress
                    && !is_mac(mac)
                {
                    out.push(Finding::error(
                        at.key("macaddress"),
                        format!("`{mac}` is not a MAC address (xx:xx:xx:xx:xx:xx)"),
                    ));
                }
            }
        };
    }
    common!("ethernets", &net.ethernets);
    common!("bonds", &net.bonds);
    common!("vlans", &net.vlans);
    common!("bridges", &net.bridges);
    common!("tunnels", &net.tunnels);
    common!("dummy-devices", &net.dummy_devices);
    common!("virtual-ethernets", &net.virtual_ethernets);

    let mut set_names: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, eth) in &net.ethernets {
        if let Some(new_name) = eth.set_name.as_deref()
            && let Some(first) = set_names.insert(new_name, name)
        {
            out.push(Finding::error(
                base.key("ethernets").key(name).key("set-name"),
                format!("`{new_name}` is already the set-name of ethernets.{first}"),
            ));
        }
        if eth.set_name.is_some() && eth.match_.is_none() {
            out.push(Finding::error(
                base.key("ethernets").key(name).key("set-name"),
                "`set-name` needs a `match` that selects the interface to rename",
            ));
        }
        if let Some(mac) = eth.match_.as_ref().and_then(|m| m.macaddress.as_ref())
            && !is_mac(mac)
        {
            out.push(Finding::error(
                base.key("ethernets")
                    .key(name)
                    .key("match")
                    .key("macaddress"),
                format!("`{mac}` is not a MAC address"),
            ));
        }
        if name.contains(['*', '?', '[']) && eth.match_.is_none() {
            out.push(Finding::error(
                base.key("ethernets").key(name),
                format!("`{name}` looks like a glob: to select interfaces by pattern write `match: {{name: \"{name}\"}}`"),
            ).at_key());
        }
    }

    let mut member_of: BTreeMap<&str, String> = BTreeMap::new();
    for (name, bond) in &net.bonds {
        let at = base.key("bonds").key(name);
        if bond.interfaces.is_empty() {
            out.push(Finding::warning(
                at.key("interfaces"),
                "a bond without interfaces carries no traffic",
            ));
        }
        for (i, member) in bond.interfaces.iter().enumerate() {
            reference(net, member, at.key("interfaces").index(i), out);
            if let Some(other) = member_of.insert(member, format!("bond `{name}`")) {
                out.push(Finding::error(
                    at.key("interfaces").index(i),
                    format!("`{member}` is already a member of {other}"),
                ));
            }
        }
        if let Some(params) = &bond.parameters {
            const MODES: &[&str] = &[
                "balance-rr",
                "active-backup",
                "balance-xor",
                "broadcast",
                "802.3ad",
                "balance-tlb",
                "balance-alb",
                "balance-tcp",
                "balance-slb",
            ];
            if let Some(mode) = &params.mode
                && !MODES.contains(&mode.as_str())
            {
                out.push(Finding::error(
                    at.key("parameters").key("mode"),
                    format!(
                        "unknown bond mode `{mode}`: expected one of {}",
                        crate::yaml::de::one_of(MODES)
                    ),
                ));
            }
            if let Some(primary) = &params.primary
                && !bond.interfaces.contains(primary)
            {
                out.push(Finding::error(
                    at.key("parameters").key("primary"),
                    format!("primary `{primary}` is not one of the bond's interfaces"),
                ));
            }
        }
    }
    for (name, vlan) in &net.vlans {
        let at = base.key("vlans").key(name);
        if vlan.id > 4094 {
            out.push(Finding::error(
                at.key("id"),
                format!("VLAN id {} is outside 0 to 4094", vlan.id),
            ));
        }
        reference(net, &vlan.link, at.key("link"), out);
    }
    for (name, bridge) in &net.bridges {
        let at = base.key("bridges").key(name);
        for (i, port) in bridge.interfaces.iter().enumerate() {
            reference(net, port, at.key("interfaces").index(i), out);
            if let Some(other) = member_of.insert(port, format!("bridge `{name}`")) {
                out.push(Finding::error(
                    at.key("interfaces").index(i),
                    format!("`{port}` is already a member of {other}"),
                ));
            }
        }
    }
    for (name, vrf) in &net.vrfs {
        let at = base.key("vrfs").key(name);
        for (i, member) in vrf.interfaces.iter().enumerate() {
            reference(net, member, at.key("interfaces").index(i), out);
        }
        routes(&at, &vrf.routes, &vrf.routing_policy, out);
    }
    for (name, tunnel) in &net.tunnels {
        let at = base.key("tunnels").key(name);
        if let Some(link) = &tunnel.link {
            reference(net, link, at.key("link"), out);
        }
        for (key, value) in [("local", &tunnel.local), ("remote", &tunnel.remote)] {
            if let Some(v) = value
                && let Err(problem) = parse_addr(v)
            {
                out.push(Finding::error(at.key(key), problem.to_string()));
            }
        }
    }
    for (name, veth) in &net.virtual_ethernets {
        let at = base.key("virtual-ethernets").key(name);
        match net.virtual_ethernets.get(&veth.peer) {
            None => out.push(Finding::error(
                at.key("peer"),
                format!(
                    "peer `{}` is not defined under virtual-ethernets",
                    veth.peer
                ),
            )),
            Some(other) if other.peer != *name => {
                out.push(Finding::error(
                    at.key("peer"),
                    format!(
                        "peer `{}` names `{}` as its peer, not `{name}`",
                        veth.peer, other.peer
                    ),
                ));
            }
            Some(_) => {}
        }
    }
}

fn reference(net: &Network, name: &str, at: KeyPath, out: &mut Vec<Finding>) {
    if !net.defines(name) {
        out.push(Finding::error(
            at,
            format!("interface `{name}` is not defined in this network config: define it under ethernets, bonds, vlans or bridges"),
        ));
    }
}

#[allow(clippy::too_many_arguments)]
fn addressing(
    at: &KeyPath,
    addresses: &[String],
    gateway4: &Option<String>,
    gateway6: &Option<String>,
    nameservers: &Option<Nameservers>,
    route_list: &[Route],
    policy: &[RoutingPolicy],
    out: &mut Vec<Finding>,
) {
    for (i, addr) in addresses.iter().enumerate() {
        if let Err(problem) = parse_cidr(addr) {
            out.push(Finding::error(
                at.key("addresses").index(i),
                problem.to_string(),
            ));
        }
    }
    if let Some(gw) = gateway4 {
        match parse_addr(gw) {
            Ok(ip) if ip.is_ipv4() => {}
            Ok(_) => out.push(Finding::error(
                at.key("gateway4"),
                format!("`{gw}` is not an IPv4 address"),
            )),
            Err(problem) => out.push(Finding::error(at.key("gateway4"), problem.to_string())),
        }
    }
    if let Some(gw) = gateway6 {
        match parse_addr(gw) {
            Ok(ip) if ip.is_ipv6() => {}
            Ok(_) => out.push(Finding::error(
                at.key("gateway6"),
                format!("`{gw}` is not an IPv6 address"),
            )),
            Err(problem) => out.push(Finding::error(at.key("gateway6"), problem.to_string())),
        }
    }
    if let Some(ns) = nameservers {
        for (i, addr) in ns.addresses.iter().enumerate() {
            if let Err(problem) = parse_addr(addr) {
                out.push(Finding::error(
                    at.key("nameservers").key("addresses").index(i),
                    problem.to_string(),
                ));
            }
        }
    }
    routes(at, route_list, policy, out);
}

fn routes(at: &KeyPath, route_list: &[Route], policy: &[RoutingPolicy], out: &mut Vec<Finding>) {
    for (i, route) in route_list.iter().enumerate() {
        let rp = at.key("routes").index(i);
        if let Err(problem) = check_destination(&route.to) {
            out.push(Finding::error(rp.key("to"), problem.to_string()));
        }
        for (key, value) in [("via", &route.via), ("from", &route.from)] {
            if let Some(v) = value
                && let Err(problem) = parse_addr(v)
            {
                out.push(Finding::error(rp.key(key), problem.to_string()));
            }
        }
    }
    for (i, rule) in policy.iter().enumerate() {
        let rp = at.key("routing-policy").index(i);
        for (key, value) in [("from", &rule.from), ("to", &rule.to)] {
            if let Some(v) = value
                && let Err(problem) = check_destination(v)
            {
                out.push(Finding::error(rp.key(key), problem.to_string()));
            }
        }
    }
}

fn is_mac(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    // Ethernet MACs have 6 octets; InfiniBand hardware addresses (20) are refused earlier as unsupported.
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}
