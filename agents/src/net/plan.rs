//! The planner: a netplan config and the observed links in, an ordered list of operations out, plus
//! the DHCP clients to run and the resolv.conf to write. Only what differs from the observed state is
//! planned, so applying a config to the state it produced plans nothing.
//!
//! Order: renames; bonds, then their members; VLANs; bridges, then their ports; MTUs and MACs
//! (parents before children); links up; addresses; routes. Nothing is ever removed: addresses and
//! routes the config does not name (a DHCP lease's, an operator's) are left alone.

use std::collections::{BTreeMap, BTreeSet};

use plinth_config::network::Network;

use super::bond::bond_settings;
use super::cidr::Cidr;
use super::devices::{Device, Devices, Kind, devices};
use super::dhcp::DhcpClient;
use super::ops::Op;
use super::resolv::resolv_conf;
use super::routes::desired_routes;
use super::state::{Link, State};

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
        .map(|d| DhcpClient {
            interface: d.name.clone(),
            v4: d.common.dhcp4,
            v6: d.common.dhcp6,
        })
        .collect();
    Plan {
        ops: p.ops,
        dhcp,
        resolv_conf: resolv_conf(network),
        warnings: p.warnings,
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
            let name = dev.name.clone();
            if self.ensure(dev, "bond", || Op::CreateBond { name, settings }) {
                self.enslave(dev, &bond.interfaces, devs);
            }
        }
        for dev in &devs.list {
            let Kind::Vlan(vlan) = dev.kind else { continue };
            let Some(link) = devs.resolve(&vlan.link).into_iter().next() else {
                continue;
            };
            if !self.exists(&link) {
                self.warnings.push(format!(
                    "{}: its link {} does not exist; not created",
                    dev.path, vlan.link
                ));
                self.skipped.insert(dev.name.clone());
                continue;
            }
            let (name, id) = (dev.name.clone(), vlan.id);
            self.ensure(dev, "vlan", || Op::CreateVlan { name, link, id });
        }
        for dev in &devs.list {
            let Kind::Bridge(bridge) = dev.kind else {
                continue;
            };
            let params = bridge.parameters.clone().unwrap_or_default();
            let stp = params.stp.unwrap_or(true);
            let unapplied = [
                ("forward-delay", params.forward_delay.is_some()),
                ("hello-time", params.hello_time.is_some()),
                ("max-age", params.max_age.is_some()),
                ("ageing-time", params.ageing_time.is_some()),
                ("priority", params.priority.is_some()),
                ("path-cost", !params.path_cost.is_empty()),
                ("port-priority", !params.port_priority.is_empty()),
            ];
            for (key, set) in unapplied {
                if set {
                    self.warnings.push(format!(
                        "{}.parameters.{key}: not applied yet; the kernel default stays",
                        dev.path
                    ));
                }
            }
            let name = dev.name.clone();
            if !self.ensure(dev, "bridge", || Op::CreateBridge { name, stp }) {
                continue;
            }
            if let Some(link) = self.view.get(&dev.name)
                && link.stp.is_some_and(|on| on != stp)
            {
                self.ops.push(Op::SetStp {
                    name: dev.name.clone(),
                    stp,
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
            if let Some(mtu) = dev.common.mtu
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
            if !dev.common.routing_policy.is_empty() {
                self.warnings.push(format!(
                    "{}.routing-policy: not applied yet ({} rule(s))",
                    dev.path,
                    dev.common.routing_policy.len()
                ));
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
    }
}
