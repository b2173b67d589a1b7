//! From the netplan network (`plinth.ovs.mode: host`) to the [`Switch`] it wants: an OVS bridge
//! per netplan OVS bridge, with its own internal port; a port per interface it lists (an
//! ethernet: a system interface; an OVS bond: a bonded port of its members; a patch port: a
//! `patch` interface with its peer); a fake bridge's port per VLAN on it (an internal interface
//! tagged with the VLAN id). Which devices are OVS's is `OvsTopology`'s rule; every bridge, port
//! and interface made carries [`MANAGED_KEY`]. Pure.

use std::collections::BTreeMap;

use plinth_config::network::{Network, OvsDevice, OvsTopology};

use super::model::{Bridge, Controller, Interface, MANAGED_KEY, Port, Switch};

/// The switch `net` wants.
pub fn desired(net: &Network) -> Switch {
    let t = OvsTopology::of(net);
    let global = net.openvswitch.clone().unwrap_or_default();
    let mut bridges = Vec::new();
    for name in &t.bridges {
        let b = &net.bridges[name];
        let o = b.openvswitch.clone().unwrap_or_default();
        let mut ports = vec![Port {
            name: name.clone(),
            interfaces: vec![Interface {
                name: name.clone(),
                kind: "internal".into(),
                mtu_request: b.mtu.map(i64::from),
                external_ids: marked(&BTreeMap::new()),
                ..Interface::default()
            }],
            external_ids: marked(&BTreeMap::new()),
            ..Port::default()
        }];
        for member in &b.interfaces {
            ports.push(
                match net.bonds.get(member).filter(|_| t.bonds.contains(member)) {
                    Some(bond) => {
                        let bo = bond.openvswitch.clone().unwrap_or_default();
                        Port {
                            name: member.clone(),
                            interfaces: bond
                                .interfaces
                                .iter()
                                .map(|m| interface(net, &t, m))
                                .collect(),
                            bond_mode: bond.parameters.as_ref().and_then(|p| p.mode.clone()),
                            lacp: bo.lacp.clone(),
                            external_ids: marked(&bo.external_ids),
                            other_config: bo.other_config.clone(),
                            ..Port::default()
                        }
                    }
                    None => Port {
                        name: port_name(net, member),
                        interfaces: vec![interface(net, &t, member)],
                        external_ids: marked(&BTreeMap::new()),
                        ..Port::default()
                    },
                },
            );
        }
        for (vname, vlan) in net.vlans.iter().filter(|(_, v)| v.link == *name) {
            let vo = vlan.openvswitch.clone().unwrap_or_default();
            ports.push(Port {
                name: vname.clone(),
                interfaces: vec![Interface {
                    name: vname.clone(),
                    kind: "internal".into(),
                    mtu_request: vlan.mtu.map(i64::from),
                    external_ids: marked(&vo.external_ids),
                    other_config: vo.other_config.clone(),
                    ..Interface::default()
                }],
                tag: Some(i64::from(vlan.id)),
                fake_bridge: true,
                external_ids: marked(&BTreeMap::new()),
                ..Port::default()
            });
        }
        let protocols = if o.protocols.is_empty() {
            global.protocols.clone()
        } else {
            o.protocols.clone()
        };
        let controllers = o
            .controller
            .iter()
            .flat_map(|c| {
                c.addresses.iter().map(|target| Controller {
                    target: target.clone(),
                    connection_mode: c.connection_mode.clone(),
                })
            })
            .collect();
        bridges.push(Bridge {
            uuid: None,
            name: name.clone(),
            ports,
            fail_mode: o.fail_mode.clone(),
            mcast_snooping: o.mcast_snooping.unwrap_or(false),
            rstp: o.rstp.unwrap_or(false),
            protocols,
            controllers,
            external_ids: marked(&o.external_ids),
            other_config: o.other_config.clone(),
        });
    }
    Switch {
        uuid: None,
        external_ids: global.external_ids.clone(),
        other_config: global.other_config.clone(),
        bridges,
    }
}

/// The interface for a member name: a patch port, or a system interface (an ethernet, with its
/// `openvswitch` ids and config).
fn interface(net: &Network, t: &OvsTopology, member: &str) -> Interface {
    if let Some(peer) = t.patches.get(member) {
        return Interface {
            name: member.to_owned(),
            kind: "patch".into(),
            options: BTreeMap::from([("peer".to_owned(), peer.clone())]),
            external_ids: marked(&BTreeMap::new()),
            ..Interface::default()
        };
    }
    let o: OvsDevice = net
        .ethernets
        .get(member)
        .and_then(|e| e.openvswitch.clone())
        .unwrap_or_default();
    Interface {
        name: port_name(net, member),
        kind: String::new(),
        external_ids: marked(&o.external_ids),
        other_config: o.other_config,
        ..Interface::default()
    }
}

/// The kernel name of an ethernet entry: its `set-name`, else its key.
fn port_name(net: &Network, member: &str) -> String {
    net.ethernets
        .get(member)
        .and_then(|e| e.set_name.clone())
        .unwrap_or_else(|| member.to_owned())
}

fn marked(ids: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut ids = ids.clone();
    ids.insert(MANAGED_KEY.into(), "true".into());
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(text: &str) -> Network {
        plinth_config::parse(
            "t",
            &format!("#cloud-config\nplinth:\n  ovs:\n    mode: host\n{text}"),
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .config
        .network
        .unwrap()
    }

    #[test]
    fn a_bridge_with_a_bond_and_a_vlan_is_three_ports_and_its_own() {
        let net = network(
            "network:\n  version: 2\n  ethernets:\n    eth1: {}\n    eth2: {}\n  bonds:\n    bond0:\n      interfaces: [eth1, eth2]\n      openvswitch: {lacp: active}\n      parameters: {mode: balance-tcp}\n  bridges:\n    br0:\n      interfaces: [bond0]\n      mtu: 1500\n      openvswitch: {fail-mode: standalone, rstp: true}\n  vlans:\n    br0.100:\n      id: 100\n      link: br0\n      addresses: [10.1.0.2/24]\n",
        );
        let s = desired(&net);
        assert_eq!(s.bridges.len(), 1);
        let br = &s.bridges[0];
        assert_eq!(br.fail_mode.as_deref(), Some("standalone"));
        assert!(br.rstp && !br.mcast_snooping);
        let names: Vec<&str> = br.ports.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["br0", "bond0", "br0.100"]);
        assert_eq!(br.ports[0].interfaces[0].kind, "internal");
        assert_eq!(br.ports[0].interfaces[0].mtu_request, Some(1500));
        let bond = &br.ports[1];
        assert_eq!(bond.bond_mode.as_deref(), Some("balance-tcp"));
        assert_eq!(bond.lacp.as_deref(), Some("active"));
        let members: Vec<&str> = bond.interfaces.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(members, ["eth1", "eth2"]);
        let vlan = &br.ports[2];
        assert_eq!((vlan.tag, vlan.fake_bridge), (Some(100), true));
        assert_eq!(vlan.interfaces[0].kind, "internal");
        assert!(
            br.ports
                .iter()
                .all(|p| p.external_ids[MANAGED_KEY] == "true")
        );
    }
}
