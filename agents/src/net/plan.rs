//! The planner: a netplan config and the observed links in, an ordered list of operations out, plus
//! the DHCP clients to run and the resolv.conf to write. Only what differs from the observed state is
//! planned, so applying a config to the state it produced plans nothing.
//!
//! Order: renames; bonds, then their members; VLANs; bridges, then their ports; MTUs and MACs
//! (parents before children); `accept_ra`; links up; addresses; routes; policy rules. Nothing is ever removed: addresses and
//! routes the config does not name (a DHCP lease's, an operator's) are left alone.

use std::collections::{BTreeMap, BTreeSet};

use plinth_config::net_ready::DhcpClient;
use plinth_config::network::Network;

use super::bond::bond_settings;
use super::bridge::bridge_settings;
use super::cidr::Cidr;
use super::devices::{Device, Devices, Kind, devices};
use super::dhcp::client_of;
use super::ops::Op;
use super::resolv::resolv_conf;
use super::routes::desired_routes;
use super::rules::{RuleSpec, rule_spec};
use super::state::{Link, State};

/// `accept_ra` for `accept-ra: true`: 2 accepts router advertisements even with forwarding on,
/// which Genestack nodes have (`net.ipv4.ip_forward=1` and IPv6 alike); 1 would silently ignore them.
pub const ACCEPT_RA_ON: u8 = 2;

/// What to do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Netlink operations, in order.
    pub ops: Vec<Op>,
    /// DHCP clients to run (PID 1 supervises them).
    pub dhcp: Vec<DhcpClient>,
    /// resolv.conf content, when the config has static nameservers.
    pub resolv_conf: Option<String>,
    /// What could not be planned, and why.
    pub warnings: Vec<String>,
    /// Those of `warnings` about an ethernet whose `match` found no link.
    pub unmatched: Vec<String>,
}

/// Plans `network` against the observed `state`.
pub fn plan(network: &Network, state: &State) -> Plan {
    let mut devs = devices(network, &state.links);
    let mut p = Planner {
        state,
        view: BTreeMap::new(),
        created: BTreeSet::new(),
        skipped: BTreeSet::new(),
        ops: Vec::new(),
        warnings: std::mem::take(&mut devs.warnings),
    };
    p.renames(&mut devs);
    p.virtual_links(&devs);
    p.link_settings(&devs);
    p.addressing(&devs);
    let dhcp = devs
        .list
        .iter()
        .filter(|d| (d.common.dhcp4 || d.common.dhcp6) && !p.skipped.contains(&d.name))
        .map(client_of)
        .collect();
    Plan {
        ops: p.ops,
        dhcp,
        resolv_conf: resolv_conf(network),
        warnings: p.warnings,
        unmatched: std::mem::take(&mut devs.unmatched),
    }
}

struct Planner<'s> {
    state: &'s State,
    /// Observed links under the names they carry once renames are done.
    view: BTreeMap<String, &'s Link>,
    /// Links this plan creates.
    created: BTreeSet<String>,
    /// Devices left out because of a conflict (already warned).
    skipped: BTreeSet<String>,
    ops: Vec<Op>,
    warnings: Vec<String>,
}

impl<'s> Planner<'s> {
    /// Renames claimed ethernets; a rename onto a name another link holds is refused and the
    /// device keeps its current name.
    fn renames(&mut self, devs: &mut Devices<'_>) {
        let mut renamed: BTreeMap<&str, &str> = BTreeMap::new();
        for claim in &devs.claims {
            if claim.current == claim.target {
                continue;
            }
            if self.state.link(&claim.target).is_some() {
                self.warnings.push(format!(
                    "ethernets.{}: cannot rename {} to {}: a link of that name exists",
                    claim.id, claim.current, claim.target
                ));
                let path = format!("ethernets.{}", claim.id);
                for d in devs.list.iter_mut().filter(|d| d.path == path) {
                    d.name.clone_from(&claim.current);
                }
                if let Some(names) = devs.names.get_mut(&claim.id) {
                    for n in names.iter_mut().filter(|n| **n == claim.target) {
                        n.clone_from(&claim.current);
                    }
                }
                continue;
            }
            renamed.insert(&claim.current, &claim.target);
            self.ops.push(Op::Rename {
                from: claim.current.clone(),
                to: claim.target.clone(),
            });
        }
        for link in &self.state.links {
            let name = renamed
                .get(link.name.as_str())
                .copied()
                .unwrap_or(&link.name);
            self.view.insert(name.to_owned(), link);
        }
    }

    /// Whether a link of this name will exist when the operations so far have run.
    fn exists(&self, name: &str) -> bool {
        self.view.contains_key(name) || self.created.contains(name)
    }

    /// Checks an existing link of a virtual device's name has the right kind; plans its creation
    /// when there is none. Returns whether the device goes on being planned.
    fn ensure(&mut self, dev: &Device<'_>, kind: &str, create: impl FnOnce() -> Op) -> bool {
        match self.view.get(&dev.name) {
            Some(link) if link.kind.as_deref() == Some(kind) => true,
            Some(link) => {
                self.warnings.push(format!(
                    "{}: a link named {} exists but is a {}, not a {kind}; left alone",
                    dev.path,
                    dev.name,
                    link.kind.as_deref().unwrap_or("physical device")
                ));
                self.skipped.insert(dev.name.clone());
                false
            }
            None => {
                self.ops.push(create());
                self.created.insert(dev.name.clone());
                true
            }
        }
    }

    /// Bonds and their members, VLANs, bridges and their ports.
    fn virtual_links(&mut self, devs: &Devices<'_>) {
        for dev in &devs.list {
            let Kind::Bond(bond) = dev.kind else { continue };
            let (settings, warnings) = bond_settings(&dev.path, bond.parameters.as_ref(), |id| {
                devs.resolve(id).into_iter().next().unwrap_or_default()
            });
            self.warnings.extend(warnings);
            if !self.ensure(dev, "bond", || Op::CreateBond {
                name: dev.name.clone(),
                settings: settings.clone(),
            }) {
                continue;
            }
            if let Some(link) = self.observed(&dev.name)
                && let Some(state) = &link.bond
            {
                let mut change = settings.diff(state);
                let has_members = self
                    .state
                    .links
                    .iter()
                    .any(|l| l.master == Some(link.index));
                if change.mode.is_some() && has_members {
                    self.warnings.push(format!(
                        "{}: the bond has members, so the kernel cannot change its mode; delete it to recreate it",
                        dev.path
                    ));
                    change.mode = None;
                }
                if !change.is_empty() {
                    self.ops.push(Op::SetBond {
                        name: dev.name.clone(),
                        settings: change,
                    });
                }
            }
            self.enslave(dev, &bond.interfaces, devs);
        }
        for dev in &devs.list {
            let Kind::Vlan(vlan) = dev.kind else { continue };
            let Some(link) = devs.resolve(&vlan.link).into_iter().next() else {
                continue;
            };
            if self.skipped.contains(&link) || !self.exists(&link) {
                self.warnings.push(format!(
                    "{}: its link {} is missing or left alone; not created",
                    dev.path, vlan.link
                ));
                self.skipped.insert(dev.name.clone());
                continue;
            }
            let id = vlan.id;
            if !self.ensure(dev, "vlan", || Op::CreateVlan {
                name: dev.name.clone(),
                link: link.clone(),
                id,
            }) {
                continue;
            }
            // The kernel cannot change a VLAN's id or link in place; deleting a live link is
            // left to the operator.
            if let Some(have) = self.observed(&dev.name) {
                let parent_index = self.view.get(&link).map(|l| l.index);
                if have.vlan_id != Some(id) || have.parent != parent_index {
                    self.warnings.push(format!(
                        "{}: {} exists as VLAN {} on another link or with another id than {id} on {link}; delete it to have it recreated",
                        dev.path,
                        dev.name,
                        have.vlan_id.map_or("?".to_owned(), |v| v.to_string()),
                    ));
                }
            }
        }
        for dev in &devs.list {
            let Kind::Bridge(bridge) = dev.kind else {
                continue;
            };
            let (settings, warnings) = bridge_settings(&dev.path, bridge.parameters.as_ref());
            self.warnings.extend(warnings);
            if !self.ensure(dev, "bridge", || Op::CreateBridge {
                name: dev.name.clone(),
                settings: settings.clone(),
            }) {
                continue;
            }
            if let Some(link) = self.observed(&dev.name)
                && link.bridge.is_some_and(|state| !settings.holds(&state))
            {
                self.ops.push(Op::SetBridge {
                    name: dev.name.clone(),
                    settings,
                });
            }
            self.enslave(dev, &bridge.interfaces, devs);
        }
    }

    /// Plans `members` into the master `dev` unless they already are.
    fn enslave(&mut self, dev: &Device<'_>, members: &[String], devs: &Devices<'_>) {
        let master_index = self.view.get(&dev.name).map(|l| l.index);
        for member in members.iter().flat_map(|id| devs.resolve(id)) {
            if self.skipped.contains(&member) {
                continue;
            }
            if !self.exists(&member) {
                self.warnings.push(format!(
                    "{}: member {member} does not exist; not added",
                    dev.path
                ));
                continue;
            }
            let already = master_index.is_some()
                && self.view.get(&member).and_then(|l| l.master) == master_index;
            if !already {
                self.ops.push(Op::Enslave {
                    link: member,
                    master: dev.name.clone(),
                });
            }
        }
    }

    /// The observed link a device name stands for, or none when this plan creates it.
    fn observed(&self, name: &str) -> Option<&'s Link> {
        if self.created.contains(name) {
            None
        } else {
            self.view.get(name).copied()
        }
    }

    /// The devices to configure: not skipped, and existing once the links are created.
    fn present<'d, 'a>(&self, devs: &'d Devices<'a>) -> Vec<&'d Device<'a>> {
        devs.list
            .iter()
            .filter(|d| !self.skipped.contains(&d.name) && self.exists(&d.name))
            .collect()
    }

    /// MTU, MAC and up, in device order (ethernets, bonds, VLANs, bridges).
    fn link_settings(&mut self, devs: &Devices<'_>) {
        for dev in self.present(devs) {
            let observed = self.observed(&dev.name);
            if let Some(mtu) = wanted_mtu(dev, devs)
                && observed.is_none_or(|l| l.mtu != mtu)
            {
                self.ops.push(Op::SetMtu {
                    link: dev.name.clone(),
                    mtu,
                });
            }
            if let Some(mac) = dev.common.macaddress {
                let mac = mac.trim().to_ascii_lowercase();
                if observed.is_none_or(|l| l.mac.as_deref() != Some(mac.as_str())) {
                    self.ops.push(Op::SetMac {
                        link: dev.name.clone(),
                        mac,
                    });
                }
            }
        }
        for dev in self.present(devs) {
            let Some(accept) = dev.common.accept_ra else {
                continue;
            };
            let value = if accept { ACCEPT_RA_ON } else { 0 };
            if self
                .observed(&dev.name)
                .is_none_or(|l| l.accept_ra != Some(value))
            {
                self.ops.push(Op::SetAcceptRa {
                    link: dev.name.clone(),
                    value,
                });
            }
        }
        for dev in self.present(devs) {
            if self.observed(&dev.name).is_none_or(|l| !l.up) {
                self.ops.push(Op::SetUp {
                    link: dev.name.clone(),
                });
            }
        }
    }

    /// Static addresses, then routes (a gateway needs its subnet's address first).
    fn addressing(&mut self, devs: &Devices<'_>) {
        for dev in self.present(devs) {
            let observed = self.observed(&dev.name);
            for (i, text) in dev.common.addresses.iter().enumerate() {
                match Cidr::parse(text) {
                    Ok(address) => {
                        if observed.is_none_or(|l| !l.addresses.contains(&address)) {
                            self.ops.push(Op::AddAddress {
                                link: dev.name.clone(),
                                address,
                            });
                        }
                    }
                    Err(e) => self
                        .warnings
                        .push(format!("{}.addresses[{i}]: {e}; not added", dev.path)),
                }
            }
        }
        for dev in self.present(devs) {
            let observed = self.observed(&dev.name);
            let (routes, warnings) = desired_routes(&dev.path, &dev.common);
            self.warnings.extend(warnings);
            for route in routes {
                let present = observed
                    .is_some_and(|l| self.state.routes.iter().any(|r| route.is(r, l.index)));
                if !present {
                    self.ops.push(Op::AddRoute {
                        link: dev.name.clone(),
                        route,
                    });
                }
            }
        }
        let mut planned: Vec<RuleSpec> = Vec::new();
        for dev in self.present(devs) {
            for (i, policy) in dev.common.routing_policy.iter().enumerate() {
                match rule_spec(policy) {
                    Ok(rule) => {
                        let present = self.state.rules.iter().any(|r| rule.is(r));
                        if !present && !planned.contains(&rule) {
                            planned.push(rule.clone());
                            self.ops.push(Op::AddRule { rule });
                        }
                    }
                    Err(why) => self.warnings.push(format!(
                        "{}.routing-policy[{i}]: {why}; not added",
                        dev.path
                    )),
                }
            }
        }
    }
}

/// The MTU `dev` should have: its own, or for a VLAN without one its link's configured MTU. The
/// kernel gives a new VLAN its link's MTU of the moment, but links get their MTU after the VLANs
/// on them are created, and raising a link's MTU never raises its VLANs'; so a VLAN on a 9000-byte
/// bond would stay at 1500 unless it is set.
fn wanted_mtu(dev: &Device<'_>, devs: &Devices<'_>) -> Option<u32> {
    if dev.common.mtu.is_some() {
        return dev.common.mtu;
    }
    let Kind::Vlan(vlan) = dev.kind else {
        return None;
    };
    let link = devs.resolve(&vlan.link).into_iter().next()?;
    devs.list
        .iter()
        .find(|d| d.name == link)
        .and_then(|d| d.common.mtu)
}

#[cfg(test)]
mod tests {
    use plinth_config::network::{
        Bond, Bridge, BridgeParameters, Ethernet, Match, Nameservers, Route, Vlan,
    };

    use super::*;
    use crate::net::state::{MAIN_TABLE, RouteEntry};

    fn nic(index: u32, name: &str) -> Link {
        Link {
            index,
            name: name.into(),
            mac: Some(format!("52:54:00:00:00:{index:02x}")),
            mtu: 1500,
            ..Link::default()
        }
    }

    fn ops(p: &Plan) -> Vec<String> {
        p.ops.iter().map(ToString::to_string).collect()
    }

    fn static_eth() -> Ethernet {
        Ethernet {
            addresses: vec!["10.0.0.5/24".into()],
            mtu: Some(9000),
            routes: vec![Route {
                to: "default".into(),
                via: Some("10.0.0.1".into()),
                metric: Some(100),
                ..Route::default()
            }],
            nameservers: Some(Nameservers {
                addresses: vec!["10.0.0.53".into()],
                search: vec![],
            }),
            ..Ethernet::default()
        }
    }

    #[test]
    fn only_what_differs_is_planned() {
        let mut net = Network::default();
        net.ethernets.insert("eth0".into(), static_eth());
        let fresh = State {
            links: vec![nic(2, "eth0")],
            ..State::default()
        };
        assert_eq!(
            ops(&plan(&net, &fresh)),
            [
                "set mtu 9000 on eth0",
                "set up eth0",
                "add address 10.0.0.5/24 on eth0",
                "add route default via 10.0.0.1 metric 100 dev eth0",
            ]
        );
        let mut done = fresh.clone();
        done.links[0].mtu = 9000;
        done.links[0].up = true;
        done.links[0].addresses = vec![Cidr::parse("10.0.0.5/24").unwrap()];
        done.routes.push(RouteEntry {
            oif: Some(2),
            dst: Cidr::default_route(false),
            gateway: Some("10.0.0.1".parse().unwrap()),
            metric: 100,
            table: MAIN_TABLE,
            kind: crate::net::routes::RouteKind::Unicast,
        });
        let again = plan(&net, &done);
        assert!(again.ops.is_empty(), "{:?}", ops(&again));
        assert_eq!(
            again.resolv_conf.as_deref(),
            Some("# Written by plinth-agent net from the machine config.\nnameserver 10.0.0.53\n")
        );
        // The same default route with another metric is another route.
        done.routes[0].metric = 0;
        assert_eq!(
            ops(&plan(&net, &done)),
            ["add route default via 10.0.0.1 metric 100 dev eth0"]
        );
    }

    #[test]
    fn an_existing_bridge_gets_stp_fixed_and_keeps_its_ports() {
        let mut net = Network::default();
        net.ethernets.insert("eth1".into(), Ethernet::default());
        net.bridges.insert(
            "br0".into(),
            Bridge {
                interfaces: vec!["eth1".into()],
                parameters: Some(BridgeParameters {
                    stp: Some(false),
                    ..BridgeParameters::default()
                }),
                ..Bridge::default()
            },
        );
        let mut port = nic(3, "eth1");
        port.up = true;
        port.master = Some(7);
        let bridge = Link {
            index: 7,
            name: "br0".into(),
            kind: Some("bridge".into()),
            up: true,
            bridge: Some(crate::net::bridge::BridgeState {
                stp: true,
                ..Default::default()
            }),
            mtu: 1500,
            ..Link::default()
        };
        let p = plan(
            &net,
            &State {
                links: vec![port, bridge],
                ..State::default()
            },
        );
        assert_eq!(ops(&p), ["set bridge br0 stp off"]);
    }

    #[test]
    fn a_name_taken_by_another_kind_is_left_alone() {
        let mut net = Network::default();
        net.ethernets.insert("eth0".into(), Ethernet::default());
        net.bonds.insert(
            "bond0".into(),
            Bond {
                interfaces: vec!["eth0".into()],
                dhcp4: Some(true),
                ..Bond::default()
            },
        );
        net.vlans.insert(
            "bond0.10".into(),
            Vlan {
                id: 10,
                link: "bond0".into(),
                ..Vlan::default()
            },
        );
        let mut squatter = nic(9, "bond0");
        squatter.kind = Some("dummy".into());
        let mut eth0 = nic(2, "eth0");
        eth0.up = true;
        let p = plan(
            &net,
            &State {
                links: vec![eth0, squatter],
                ..State::default()
            },
        );
        assert!(p.ops.is_empty(), "{:?}", ops(&p));
        assert!(p.dhcp.is_empty());
        assert_eq!(
            p.warnings,
            [
                "bonds.bond0: a link named bond0 exists but is a dummy, not a bond; left alone",
                "vlans.bond0.10: its link bond0 is missing or left alone; not created",
            ]
        );
    }

    #[test]
    fn a_rename_onto_a_taken_name_is_refused() {
        let mut net = Network::default();
        net.ethernets.insert(
            "wan".into(),
            Ethernet {
                match_: Some(Match {
                    macaddress: Some("52:54:00:00:00:02".into()),
                    ..Match::default()
                }),
                set_name: Some("eth1".into()),
                addresses: vec!["192.0.2.2/24".into()],
                ..Ethernet::default()
            },
        );
        let mut eth1 = nic(3, "eth1");
        eth1.kind = Some("dummy".into());
        let p = plan(
            &net,
            &State {
                links: vec![nic(2, "eth0"), eth1],
                ..State::default()
            },
        );
        assert_eq!(ops(&p), ["set up eth0", "add address 192.0.2.2/24 on eth0"]);
        assert_eq!(
            p.warnings,
            ["ethernets.wan: cannot rename eth0 to eth1: a link of that name exists"]
        );
    }

    #[test]
    fn bonds_enslave_renamed_members_by_their_new_names() {
        let mut net = Network::default();
        for (id, mac) in [("a", "52:54:00:00:00:02"), ("b", "52:54:00:00:00:03")] {
            net.ethernets.insert(
                id.into(),
                Ethernet {
                    match_: Some(Match {
                        macaddress: Some(mac.into()),
                        ..Match::default()
                    }),
                    set_name: Some(format!("nic-{id}")),
                    ..Ethernet::default()
                },
            );
        }
        net.bonds.insert(
            "bond0".into(),
            Bond {
                interfaces: vec!["a".into(), "b".into()],
                mtu: Some(9000),
                parameters: Some(plinth_config::network::BondParameters {
                    mode: Some("802.3ad".into()),
                    lacp_rate: Some("fast".into()),
                    transmit_hash_policy: Some("layer3+4".into()),
                    ..Default::default()
                }),
                ..Bond::default()
            },
        );
        let p = plan(
            &net,
            &State {
                links: vec![nic(2, "eth0"), nic(3, "eth1")],
                ..State::default()
            },
        );
        assert_eq!(
            ops(&p),
            [
                "rename eth0 to nic-a",
                "rename eth1 to nic-b",
                "create bond bond0 mode 802.3ad lacp_rate fast xmit_hash_policy layer3+4",
                "enslave nic-a to bond0",
                "enslave nic-b to bond0",
                "set mtu 9000 on bond0",
                "set up nic-a",
                "set up nic-b",
                "set up bond0",
            ]
        );
    }

    fn bond_net(mode: &str) -> Network {
        let mut net = Network::default();
        net.ethernets.insert("eth0".into(), Ethernet::default());
        net.bonds.insert(
            "bond0".into(),
            Bond {
                interfaces: vec!["eth0".into()],
                parameters: Some(plinth_config::network::BondParameters {
                    mode: Some(mode.into()),
                    mii_monitor_interval: Some("100".into()),
                    ..Default::default()
                }),
                ..Bond::default()
            },
        );
        net
    }

    fn module_made_bond0(index: u32) -> Link {
        Link {
            index,
            name: "bond0".into(),
            kind: Some("bond".into()),
            mtu: 1500,
            bond: Some(crate::net::bond::BondState {
                mode: Some(crate::net::bond::BondMode::BalanceRr),
                ..Default::default()
            }),
            ..Link::default()
        }
    }

    #[test]
    fn a_bond_the_module_made_on_load_is_given_its_parameters() {
        // Loading `bonding` creates an empty balance-rr bond0 (max_bonds=1).
        let net = bond_net("active-backup");
        let p = plan(
            &net,
            &State {
                links: vec![nic(2, "eth0"), module_made_bond0(6)],
                ..State::default()
            },
        );
        assert_eq!(
            ops(&p)[..2],
            [
                "set bond bond0 mode active-backup miimon 100",
                "enslave eth0 to bond0"
            ]
        );
    }

    #[test]
    fn a_populated_bond_keeps_its_mode_with_a_warning() {
        let net = bond_net("802.3ad");
        let mut eth0 = nic(2, "eth0");
        eth0.master = Some(6);
        eth0.up = true;
        let mut bond0 = module_made_bond0(6);
        bond0.up = true;
        let p = plan(
            &net,
            &State {
                links: vec![eth0, bond0],
                ..State::default()
            },
        );
        assert_eq!(ops(&p), ["set bond bond0 miimon 100"]);
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].contains("cannot change its mode"));
    }

    #[test]
    fn a_vlan_without_an_mtu_gets_its_links_mtu() {
        let mut net = bond_net("802.3ad");
        if let Some(bond) = net.bonds.get_mut("bond0") {
            bond.mtu = Some(9000);
        }
        net.vlans.insert(
            "bond0.100".into(),
            Vlan {
                id: 100,
                link: "bond0".into(),
                ..Vlan::default()
            },
        );
        let p = plan(
            &net,
            &State {
                links: vec![nic(2, "eth0")],
                ..State::default()
            },
        );
        let planned = ops(&p);
        let bond = planned.iter().position(|o| o == "set mtu 9000 on bond0");
        let vlan = planned
            .iter()
            .position(|o| o == "set mtu 9000 on bond0.100");
        assert!(
            bond.is_some() && vlan.is_some() && bond < vlan,
            "{planned:?}"
        );
        // A VLAN's own MTU wins; a link without one leaves the VLAN's alone.
        if let Some(vlan) = net.vlans.get_mut("bond0.100") {
            vlan.mtu = Some(1500);
        }
        let own = ops(&plan(
            &net,
            &State {
                links: vec![nic(2, "eth0")],
                ..State::default()
            },
        ));
        assert!(
            own.iter().any(|o| o == "set mtu 1500 on bond0.100"),
            "{own:?}"
        );
        if let Some(bond) = net.bonds.get_mut("bond0") {
            bond.mtu = None;
        }
        if let Some(vlan) = net.vlans.get_mut("bond0.100") {
            vlan.mtu = None;
        }
        let none = ops(&plan(
            &net,
            &State {
                links: vec![nic(2, "eth0")],
                ..State::default()
            },
        ));
        assert!(!none.iter().any(|o| o.starts_with("set mtu")), "{none:?}");
    }

    #[test]
    fn a_vlan_with_another_id_is_reported() {
        let mut net = Network::default();
        net.ethernets.insert("eth0".into(), Ethernet::default());
        net.vlans.insert(
            "vlan15".into(),
            Vlan {
                id: 15,
                link: "eth0".into(),
                ..Vlan::default()
            },
        );
        let mut eth0 = nic(2, "eth0");
        eth0.up = true;
        let vlan = |id| Link {
            index: 5,
            name: "vlan15".into(),
            kind: Some("vlan".into()),
            up: true,
            parent: Some(2),
            vlan_id: Some(id),
            mtu: 1500,
            ..Link::default()
        };
        let right = plan(
            &net,
            &State {
                links: vec![eth0.clone(), vlan(15)],
                ..State::default()
            },
        );
        assert!(
            right.ops.is_empty() && right.warnings.is_empty(),
            "{right:?}"
        );
        let wrong = plan(
            &net,
            &State {
                links: vec![eth0, vlan(16)],
                ..State::default()
            },
        );
        assert!(wrong.ops.is_empty());
        assert_eq!(wrong.warnings.len(), 1);
        assert!(
            wrong.warnings[0].contains("VLAN 16"),
            "{:?}",
            wrong.warnings
        );
    }

    #[test]
    fn a_configured_mac_is_compared_case_blind() {
        let mut net = Network::default();
        net.ethernets.insert(
            "eth0".into(),
            Ethernet {
                macaddress: Some("02:AA:BB:CC:DD:EE".into()),
                ..Ethernet::default()
            },
        );
        let mut eth0 = nic(2, "eth0");
        eth0.up = true;
        let mut state = State {
            links: vec![eth0],
            ..State::default()
        };
        assert_eq!(
            ops(&plan(&net, &state)),
            ["set mac 02:aa:bb:cc:dd:ee on eth0"]
        );
        state.links[0].mac = Some("02:aa:bb:cc:dd:ee".into());
        assert!(plan(&net, &state).ops.is_empty());
    }
}
