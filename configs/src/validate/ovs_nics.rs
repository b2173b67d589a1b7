//! NICs handed to OVS: an interface that `plinth.genestack.ovn` gives to ovn-setup (a port, a bond
//! member) or that ovn-setup creates (an OVS bond, a VLAN) must not also be configured by the
//! netplan `network:` section, or Plinth's network agent and OVS would fight over it. The error sits
//! on the OVN entry and names the netplan entry's line too ([`Finding::also`]).

use crate::config::MachineConfig;
use crate::glob::glob_match;
use crate::network::Network;
use crate::plinth::{Ovn, OvsClaim};
use crate::yaml::KeyPath;

use super::{Finding, root};

/// Where an OVN entry is.
fn claim_path(claim: OvsClaim) -> KeyPath {
    let ovn = root("plinth").key("genestack").key("ovn");
    match claim {
        OvsClaim::Port(i) => ovn.key("ports").index(i),
        OvsClaim::BondMember(i) | OvsClaim::Bond(i) => ovn.key("bonds").index(i),
        OvsClaim::Vlan(i) => ovn.key("vlans").index(i),
    }
}

/// The first netplan entry that configures interface `name`, if any: an ethernet of that name (by
/// key, `set-name` or `match: name`), a bond, bridge or VLAN of that name, or one that lists it
/// as a member or runs on it.
pub fn netplan_claim(net: &Network, name: &str) -> Option<KeyPath> {
    let at = root("network");
    for (id, e) in &net.ethernets {
        let entry = at.key("ethernets").key(id);
        if e.set_name.as_deref() == Some(name) {
            return Some(entry.key("set-name"));
        }
        match e.match_.as_ref().and_then(|m| m.name.as_deref()) {
            Some(pattern) if e.set_name.is_none() && glob_match(pattern, name) => {
                return Some(entry.key("match").key("name"));
            }
            None if e.match_.is_none() && id == name => return Some(entry),
            _ => {}
        }
    }
    let groups = [
        (
            "bonds",
            net.bonds
                .iter()
                .map(|(id, b)| (id, &b.interfaces))
                .collect::<Vec<_>>(),
        ),
        (
            "bridges",
            net.bridges
                .iter()
                .map(|(id, b)| (id, &b.interfaces))
                .collect(),
        ),
    ];
    for (section, entries) in groups {
        for (id, members) in entries {
            let entry = at.key(section).key(id);
            if id == name {
                return Some(entry);
            }
            if let Some(i) = members.iter().position(|m| m == name) {
                return Some(entry.key("interfaces").index(i));
            }
        }
    }
    for (id, v) in &net.vlans {
        let entry = at.key("vlans").key(id);
        if id == name {
            return Some(entry);
        }
        if v.link == name {
            return Some(entry.key("link"));
        }
    }
    None
}

/// An error for every interface both OVS and the netplan claim.
pub(super) fn check(config: &MachineConfig, out: &mut Vec<Finding>) {
    let (Some(ovn), Some(net)) = (&config.plinth.genestack.ovn, &config.network) else {
        return;
    };
    for (name, claim, how) in claims(ovn) {
        if let Some(netplan) = netplan_claim(net, &name) {
            out.push(
                Finding::error(
                    claim_path(claim),
                    format!(
                        "interface `{name}` is {how} here and also configured by the netplan `network:` section at {netplan}; give it to one of them"
                    ),
                )
                .also(netplan),
            );
        }
    }
}

/// Every name OVS takes, with the entry and how.
fn claims(ovn: &Ovn) -> Vec<(String, OvsClaim, &'static str)> {
    let mut out: Vec<(String, OvsClaim, &'static str)> = ovn
        .ovs_interfaces()
        .into_iter()
        .map(|o| {
            let how = match o.at {
                OvsClaim::BondMember(_) => "an OVS bond member",
                _ => "handed to OVS",
            };
            (o.name, o.at, how)
        })
        .collect();
    for (name, claim) in ovn.created_names() {
        let how = match claim {
            OvsClaim::Bond(_) => "an OVS bond ovn-setup creates",
            _ => "a VLAN interface ovn-setup creates",
        };
        out.push((name.to_owned(), claim, how));
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::validate::rendered;

    const OVN: &str = "#cloud-config\nplinth:\n  genestack:\n    ovn:\n      bridges: br-ex\n      ports: br-ex:bond0\n      bonds:\n        - br-ex:bond0:eno1+eno3:balance-tcp:active\n";

    #[test]
    fn a_nic_in_both_is_refused_naming_both_lines() {
        let text =
            format!("{OVN}network:\n  version: 2\n  ethernets:\n    eno1:\n      dhcp4: true\n");
        assert_eq!(
            rendered(&text),
            [
                "t:8:11: error: interface `eno1` is an OVS bond member here and also configured by the netplan `network:` section at network.ethernets.eno1 (12:5); give it to one of them (at plinth.genestack.ovn.bonds[0])"
            ]
        );
        let by_match = format!(
            "{OVN}network:\n  version: 2\n  ethernets:\n    uplinks:\n      match: {{name: \"eno*\"}}\n      dhcp4: true\n"
        );
        assert_eq!(
            rendered(&by_match),
            [
                "t:8:11: error: interface `eno1` is an OVS bond member here and also configured by the netplan `network:` section at network.ethernets.uplinks.match.name (13:15); give it to one of them (at plinth.genestack.ovn.bonds[0])",
                "t:8:11: error: interface `eno3` is an OVS bond member here and also configured by the netplan `network:` section at network.ethernets.uplinks.match.name (13:15); give it to one of them (at plinth.genestack.ovn.bonds[0])",
            ]
        );
        let bond = format!(
            "{OVN}network:\n  version: 2\n  ethernets:\n    eno2: {{}}\n  bonds:\n    bond0:\n      interfaces: [eno2]\n"
        );
        assert_eq!(
            rendered(&bond),
            [
                "t:8:11: error: interface `bond0` is an OVS bond ovn-setup creates here and also configured by the netplan `network:` section at network.bonds.bond0 (14:5); give it to one of them (at plinth.genestack.ovn.bonds[0])"
            ]
        );
    }

    #[test]
    fn a_vlan_parent_and_other_nics_stay_the_hosts() {
        let text = "#cloud-config\nplinth:\n  genestack:\n    ovn:\n      bridges: br-ex\n      ports: br-ex:bond0.126\n      vlans: bond0.126:bond0:126:1500\nnetwork:\n  version: 2\n  ethernets:\n    eno1: {}\n    eno2: {}\n  bonds:\n    bond0:\n      interfaces: [eno1, eno2]\n      addresses: [10.0.0.5/24]\n";
        assert!(rendered(text).is_empty(), "{:?}", rendered(text));
    }
}
