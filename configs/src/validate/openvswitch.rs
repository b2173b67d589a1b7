//! netplan's Open vSwitch keys: only with `plinth.ovs.mode: host` (in `kube-ovn` mode Kube-OVN's
//! pods own OVS, and every `openvswitch` key is refused, by name); and, in host mode, the keys
//! and values `plinth-agent ovs apply` carries out well. What it does not do is refused by name:
//! SSL (`openvswitch.ssl`, `ssl:`/`pssl:` controllers), Linux bridge `parameters` and bond
//! parameters other than `mode` on OVS devices, a MAC address on an OVS bridge or VLAN, an
//! address on an OVS bond (it has no interface of its own).

use crate::config::MachineConfig;
use crate::network::openvswitch::PROTOCOLS;
use crate::network::{Network, OvsDevice, OvsTopology};
use crate::plinth::OvsMode;
use crate::yaml::KeyPath;
use crate::yaml::de::one_of;

use super::{Finding, root};

/// The start of the kube-ovn mode refusal (also said of a network-config file whose user-data is
/// not in host mode, by `sources::nocloud`).
pub const NEEDS_HOST_MODE: &str = "netplan's Open vSwitch needs `plinth.ovs.mode: host`";

/// OVS bond modes.
const BOND_MODES: &[&str] = &["active-backup", "balance-tcp", "balance-slb"];

/// Every finding about the network's Open vSwitch keys.
pub(super) fn check(config: &MachineConfig, out: &mut Vec<Finding>) {
    if config.plinth.ovs.mode == OvsMode::Host && config.plinth.genestack.ovn.is_some() {
        out.push(Finding::error(
            root("plinth").key("ovs").key("mode"),
            "`host` runs the host's own ovsdb-server and ovs-vswitchd (on /run/openvswitch), and plinth.genestack.ovn hands NICs to Kube-OVN's, which runs its own on the same paths and datapath: one OVS per node; drop one of them",
        ).also(root("plinth").key("genestack").key("ovn")));
    }
    let Some(net) = &config.network else { return };
    if config.plinth.ovs.mode != OvsMode::Host {
        for path in ovs_keys(net) {
            out.push(Finding::error(
                path,
                format!("{NEEDS_HOST_MODE}: in `kube-ovn` mode Kube-OVN's pods run OVS and build its bridges"),
            ).at_key());
        }
        return;
    }
    host(net, out);
}

/// The path of every `openvswitch` key of `net`.
pub fn ovs_keys(net: &Network) -> Vec<KeyPath> {
    let at = root("network");
    let global = net.openvswitch.is_some().then(|| at.key("openvswitch"));
    global
        .into_iter()
        .chain(
            ovs_devices(net)
                .into_iter()
                .map(|(section, name)| at.key(section).key(name).key("openvswitch")),
        )
        .collect()
}

/// The section and name of every device of `net` with an `openvswitch` key.
fn ovs_devices(net: &Network) -> Vec<(&'static str, &str)> {
    macro_rules! with_key {
        ($section:literal, $devices:expr) => {
            $devices
                .iter()
                .filter(|(_, d)| d.openvswitch.is_some())
                .map(|(n, _)| ($section, n.as_str()))
        };
    }
    with_key!("ethernets", net.ethernets)
        .chain(with_key!("bonds", net.bonds))
        .chain(with_key!("vlans", net.vlans))
        .chain(with_key!("bridges", net.bridges))
        .chain(with_key!("tunnels", net.tunnels))
        .chain(with_key!("dummy-devices", net.dummy_devices))
        .chain(with_key!("virtual-ethernets", net.virtual_ethernets))
        .collect()
}

fn host(net: &Network, out: &mut Vec<Finding>) {
    let at = root("network");
    let t = OvsTopology::of(net);
    // The ports of the OVS bridges and bonds (patch ports among them).
    let members: Vec<&String> = t
        .bridges
        .iter()
        .flat_map(|b| &net.bridges[b].interfaces)
        .chain(t.bonds.iter().flat_map(|b| &net.bonds[b].interfaces))
        .collect();
    if let Some(global) = &net.openvswitch {
        let g = at.key("openvswitch");
        if global.ssl.is_some() {
            out.push(Finding::error(g.key("ssl"), "unsupported: ssl: Plinth does not configure OVS SSL (no ssl: controllers or managers)").at_key());
        }
        protocols(&global.protocols, &g.key("protocols"), out);
        let mut seen = std::collections::BTreeSet::new();
        for (i, pair) in global.ports.iter().enumerate() {
            let p = g.key("ports").index(i);
            match pair.as_slice() {
                [a, b] if a != b => {
                    for (j, end) in [a, b].into_iter().enumerate() {
                        if !seen.insert(end.clone()) {
                            out.push(Finding::error(
                                p.index(j),
                                format!("patch port `{end}` is in two pairs"),
                            ));
                        } else if net.defines_device(end) {
                            out.push(Finding::error(p.index(j), format!("patch port `{end}` has the name of a device defined in this network config")));
                        } else if !members.contains(&end) {
                            out.push(Finding::error(
                                p.index(j),
                                format!(
                                    "patch port `{end}` is in no OVS bridge or bond's interfaces"
                                ),
                            ));
                        }
                    }
                }
                _ => out.push(Finding::error(
                    p,
                    "a patch port pair is two different names: `[patch0-1, patch1-0]`",
                )),
            }
        }
    }
    for (name, eth) in &net.ethernets {
        let Some(o) = &eth.openvswitch else { continue };
        let p = at.key("ethernets").key(name).key("openvswitch");
        if !members.contains(&name) {
            out.push(Finding::error(p.clone(), format!("`{name}` is not a port of an OVS bridge or bond: its openvswitch settings would apply to nothing")).at_key());
        }
        only_ids(o, &p, "an ethernet", out);
    }
    // OVS opens a port by its interface name: an ethernet selected by `match` needs `set-name`.
    for &member in &members {
        if let Some(e) = net.ethernets.get(member)
            && e.match_.is_some()
            && e.set_name.is_none()
        {
            out.push(Finding::error(
                at.key("ethernets").key(member).key("match"),
                format!("`{member}` is an OVS port, which OVS opens by interface name: give it `set-name`, or key the entry by the interface's name without `match`"),
            ).at_key());
        }
    }
    for name in &t.bonds {
        let bond = &net.bonds[name];
        let p = at.key("bonds").key(name);
        let o = bond.openvswitch.clone().unwrap_or_default();
        let bridges: Vec<&String> = t
            .bridges
            .iter()
            .filter(|b| net.bridges[*b].interfaces.contains(name))
            .collect();
        if bridges.len() != 1 {
            out.push(
                Finding::error(
                    p.clone(),
                    format!(
                        "an OVS bond is a port of exactly one OVS bridge; `{name}` is in {}",
                        bridges.len()
                    ),
                )
                .at_key(),
            );
        }
        if bond.interfaces.len() < 2 {
            out.push(Finding::error(
                p.key("interfaces"),
                "an OVS bond needs at least two interfaces",
            ));
        }
        if let Some(lacp) = &o.lacp
            && !["active", "passive", "off"].contains(&lacp.as_str())
        {
            out.push(Finding::error(
                p.key("openvswitch").key("lacp"),
                format!(
                    "unknown lacp `{lacp}`: expected one of {}",
                    one_of(&["active", "passive", "off"])
                ),
            ));
        }
        for (key, set) in bridge_keys(&o) {
            if set {
                out.push(
                    Finding::error(
                        p.key("openvswitch").key(key),
                        format!("`{key}` is a bridge's setting, not a bond's"),
                    )
                    .at_key(),
                );
            }
        }
        if let Some(params) = &bond.parameters {
            let pp = p.key("parameters");
            if let Some(mode) = &params.mode
                && !BOND_MODES.contains(&mode.as_str())
            {
                out.push(Finding::error(
                    pp.key("mode"),
                    format!(
                        "an OVS bond's mode is one of {}, not `{mode}`",
                        one_of(BOND_MODES)
                    ),
                ));
            }
            let other = crate::network::BondParameters {
                mode: None,
                ..params.clone()
            };
            if other != crate::network::BondParameters::default() {
                out.push(Finding::error(pp.clone(), "unsupported: an OVS bond takes only `parameters.mode` (and `openvswitch.lacp`); the Linux bonding parameters do not apply").at_key());
            }
        }
        let why = "an OVS bond has no interface of its own to address";
        if !bond.addresses.is_empty() || !bond.routes.is_empty() {
            out.push(
                Finding::error(
                    p.clone(),
                    format!("addresses or routes on an OVS bond: {why}"),
                )
                .at_key(),
            );
        }
        if bond.dhcp4 == Some(true) || bond.dhcp6 == Some(true) {
            out.push(Finding::error(p.clone(), format!("DHCP on an OVS bond: {why}")).at_key());
        }
    }
    for name in &t.bridges {
        let bridge = &net.bridges[name];
        let p = at.key("bridges").key(name);
        if bridge.parameters.is_some() {
            out.push(Finding::error(p.key("parameters"), "unsupported: parameters: Linux bridge parameters do not apply to an OVS bridge (use openvswitch.rstp)").at_key());
        }
        if bridge.macaddress.is_some() {
            out.push(
                Finding::error(
                    p.key("macaddress"),
                    "unsupported: macaddress on an OVS bridge",
                )
                .at_key(),
            );
        }
        for (i, port) in bridge.interfaces.iter().enumerate() {
            let kernel_made = net.bridges.contains_key(port)
                || net.vlans.contains_key(port)
                || (net.bonds.contains_key(port) && !t.bonds.contains(port));
            if kernel_made {
                out.push(Finding::error(p.key("interfaces").index(i), format!("`{port}` is a Linux device: an OVS bridge's ports are ethernets, OVS bonds and patch ports")));
            }
        }
        let Some(o) = &bridge.openvswitch else {
            continue;
        };
        let op = p.key("openvswitch");
        if let Some(mode) = &o.fail_mode
            && !["secure", "standalone"].contains(&mode.as_str())
        {
            out.push(Finding::error(
                op.key("fail-mode"),
                format!(
                    "unknown fail-mode `{mode}`: expected one of {}",
                    one_of(&["secure", "standalone"])
                ),
            ));
        }
        if o.lacp.is_some() {
            out.push(
                Finding::error(op.key("lacp"), "`lacp` is a bond's setting, not a bridge's")
                    .at_key(),
            );
        }
        protocols(&o.protocols, &op.key("protocols"), out);
        if let Some(c) = &o.controller {
            let cp = op.key("controller");
            if let Some(mode) = &c.connection_mode
                && !["in-band", "out-of-band"].contains(&mode.as_str())
            {
                out.push(Finding::error(
                    cp.key("connection-mode"),
                    format!(
                        "unknown connection-mode `{mode}`: expected one of {}",
                        one_of(&["in-band", "out-of-band"])
                    ),
                ));
            }
            for (i, target) in c.addresses.iter().enumerate() {
                let kind = target.split(':').next().unwrap_or_default();
                match kind {
                    "tcp" | "ptcp" | "unix" | "punix" => {}
                    "ssl" | "pssl" => out.push(Finding::error(cp.key("addresses").index(i), format!("unsupported: `{target}`: Plinth does not configure OVS SSL"))),
                    _ => out.push(Finding::error(cp.key("addresses").index(i), format!("`{target}` is not a controller target: tcp:IP[:PORT], ptcp:[PORT][:IP], unix:FILE or punix:FILE"))),
                }
            }
        }
    }
    for name in &t.vlans {
        let vlan = &net.vlans[name];
        let p = at.key("vlans").key(name);
        if vlan.macaddress.is_some() {
            out.push(
                Finding::error(
                    p.key("macaddress"),
                    "unsupported: macaddress on a VLAN of an OVS bridge",
                )
                .at_key(),
            );
        }
        if let Some(o) = &vlan.openvswitch {
            only_ids(o, &p.key("openvswitch"), "a VLAN", out);
        }
        if vlan.id == 0 {
            out.push(Finding::error(
                p.key("id"),
                "a VLAN of an OVS bridge has a tag from 1 to 4094",
            ));
        }
    }
    let not_ovs = ["tunnels", "dummy-devices", "virtual-ethernets"];
    for (section, name) in ovs_devices(net) {
        if not_ovs.contains(&section) {
            out.push(Finding::error(at.key(section).key(name).key("openvswitch"), format!("unsupported: openvswitch on {section}: only ethernets, bonds, bridges and VLANs are OVS's")).at_key());
        }
    }
    for (name, vlan) in &net.vlans {
        if vlan.openvswitch.is_some() && !t.vlans.contains(name) {
            out.push(
                Finding::error(
                    at.key("vlans").key(name).key("openvswitch"),
                    format!(
                        "`{name}` is not on an OVS bridge (its link `{}` is not one)",
                        vlan.link
                    ),
                )
                .at_key(),
            );
        }
        if !t.vlans.contains(name) && t.bonds.contains(&vlan.link) {
            out.push(Finding::error(
                at.key("vlans").key(name).key("link"),
                format!(
                    "`{}` is an OVS bond: put the VLAN on its OVS bridge instead",
                    vlan.link
                ),
            ));
        }
    }
}

/// The bridge-only keys of a device's `openvswitch`, each with whether it is set.
fn bridge_keys(o: &OvsDevice) -> [(&'static str, bool); 5] {
    [
        ("fail-mode", o.fail_mode.is_some()),
        ("mcast-snooping", o.mcast_snooping.is_some()),
        ("rstp", o.rstp.is_some()),
        ("protocols", !o.protocols.is_empty()),
        ("controller", o.controller.is_some()),
    ]
}

/// A port's or VLAN's `openvswitch`: external-ids and other-config only.
fn only_ids(o: &OvsDevice, p: &KeyPath, what: &str, out: &mut Vec<Finding>) {
    let bridge_or_bond = std::iter::once(("lacp", o.lacp.is_some())).chain(bridge_keys(o));
    for (key, set) in bridge_or_bond {
        if set {
            out.push(
                Finding::error(
                    p.key(key),
                    format!(
                        "`{key}` does not apply to {what}: only external-ids and other-config do"
                    ),
                )
                .at_key(),
            );
        }
    }
}

fn protocols(list: &[String], p: &KeyPath, out: &mut Vec<Finding>) {
    for (i, proto) in list.iter().enumerate() {
        if !PROTOCOLS.contains(&proto.as_str()) {
            out.push(Finding::error(
                p.index(i),
                format!(
                    "unknown OpenFlow version `{proto}`: expected one of {}",
                    one_of(PROTOCOLS)
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::validate::rendered;

    const HOST: &str = "#cloud-config\nplinth:\n  ovs:\n    mode: host\n";
    const NET: &str = "network:\n  version: 2\n  ethernets:\n    eth1: {}\n    eth2: {}\n  bonds:\n    bond0:\n      interfaces: [eth1, eth2]\n      openvswitch: {lacp: active}\n      parameters: {mode: balance-tcp}\n  bridges:\n    br0:\n      interfaces: [bond0]\n      openvswitch: {fail-mode: standalone}\n  vlans:\n    br0.100:\n      id: 100\n      link: br0\n      addresses: [10.1.0.2/24]\n";

    #[test]
    fn host_mode_takes_a_bridge_a_bond_and_a_vlan() {
        assert!(
            rendered(&format!("{HOST}{NET}")).is_empty(),
            "{:?}",
            rendered(&format!("{HOST}{NET}"))
        );
    }

    #[test]
    fn host_mode_and_kube_ovns_annotations_are_one_ovs_too_many() {
        let text = format!(
            "{HOST}  genestack:\n    ovn:\n      bridges: br-ex\n      ports: br-ex:eth3\n"
        );
        let out = rendered(&text);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(
            out[0].starts_with("t:4:11: error: `host` runs the host's own ovsdb-server"),
            "{}",
            out[0]
        );
        assert!(out[0].contains("plinth.genestack.ovn (6:5)"), "{}", out[0]);
    }

    #[test]
    fn an_ovs_port_selected_by_match_needs_its_set_name() {
        let text = format!(
            "{HOST}{}",
            NET.replace(
                "    eth1: {}\n",
                "    eth1:\n      match: {macaddress: \"52:54:00:00:00:01\"}\n"
            )
        );
        let out = rendered(&text);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(
            out[0].starts_with("t:9:7: error: `eth1` is an OVS port"),
            "{}",
            out[0]
        );
        let named = text.replace(
            "52:54:00:00:00:01\"}\n",
            "52:54:00:00:00:01\"}\n      set-name: eth1\n",
        );
        assert!(rendered(&named).is_empty(), "{:?}", rendered(&named));
    }

    #[test]
    fn kube_ovn_mode_refuses_each_key_by_line_and_path() {
        let text = format!("#cloud-config\n{NET}");
        assert_eq!(
            rendered(&text),
            [
                "t:10:7: error: netplan's Open vSwitch needs `plinth.ovs.mode: host`: in `kube-ovn` mode Kube-OVN's pods run OVS and build its bridges (at network.bonds.bond0.openvswitch)",
                "t:15:7: error: netplan's Open vSwitch needs `plinth.ovs.mode: host`: in `kube-ovn` mode Kube-OVN's pods run OVS and build its bridges (at network.bridges.br0.openvswitch)",
            ]
        );
    }

    #[test]
    fn host_mode_refuses_openvswitch_on_tunnels_dummies_and_veths() {
        let text = format!(
            "{HOST}{NET}  tunnels:\n    vx0:\n      mode: vxlan\n      id: 42\n      local: 10.1.0.2\n      remote: 10.1.0.3\n      openvswitch: {{}}\n  dummy-devices:\n    dm0:\n      openvswitch: {{}}\n  virtual-ethernets:\n    ve0:\n      peer: ve1\n      openvswitch: {{}}\n    ve1:\n      peer: ve0\n"
        );
        assert_eq!(
            rendered(&text),
            [
                "t:30:7: error: unsupported: openvswitch on tunnels: only ethernets, bonds, bridges and VLANs are OVS's (at network.tunnels.vx0.openvswitch)",
                "t:33:7: error: unsupported: openvswitch on dummy-devices: only ethernets, bonds, bridges and VLANs are OVS's (at network.dummy-devices.dm0.openvswitch)",
                "t:37:7: error: unsupported: openvswitch on virtual-ethernets: only ethernets, bonds, bridges and VLANs are OVS's (at network.virtual-ethernets.ve0.openvswitch)",
            ]
        );
        // The same devices without `openvswitch` are a host-mode node's kernel devices.
        let plain = text.replace("      openvswitch: {}\n", "");
        assert!(rendered(&plain).is_empty(), "{:?}", rendered(&plain));
    }

    #[test]
    fn what_the_agent_does_not_do_is_refused_by_name() {
        let text = format!(
            "{HOST}{}",
            NET.replace(
                "mode: balance-tcp}",
                "mode: 802.3ad, mii-monitor-interval: 100}"
            )
            .replace(
                "fail-mode: standalone}",
                "fail-mode: open, controller: {addresses: [\"ssl:10.0.0.1\"]}}"
            )
        );
        assert_eq!(
            rendered(&text),
            [
                "t:14:7: error: unsupported: an OVS bond takes only `parameters.mode` (and `openvswitch.lacp`); the Linux bonding parameters do not apply (at network.bonds.bond0.parameters)",
                "t:14:26: error: an OVS bond's mode is one of `active-backup`, `balance-tcp` or `balance-slb`, not `802.3ad` (at network.bonds.bond0.parameters.mode)",
                "t:18:32: error: unknown fail-mode `open`: expected one of `secure` or `standalone` (at network.bridges.br0.openvswitch.fail-mode)",
                "t:18:63: error: unsupported: `ssl:10.0.0.1`: Plinth does not configure OVS SSL (at network.bridges.br0.openvswitch.controller.addresses[0])",
            ]
        );
    }
}
