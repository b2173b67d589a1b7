//! A model of what the kernel does with each planned operation, on a fabricated [`State`]: enough
//! to check the planner's idempotency for devices this host's kernel cannot create (bonds, VLANs).
//! The real kernel is exercised by the namespace test and in QEMU.

use plinth_agents::net::bond::{BondMode, BondSettings, BondState};
use plinth_agents::net::bridge::{BridgeSettings, BridgeState};
use plinth_agents::net::rules::RuleEntry;
use plinth_agents::net::{Link, Op, RouteEntry, State};

/// Applies `ops` to `state` as the kernel would.
pub fn apply(state: &mut State, ops: &[Op]) {
    for op in ops {
        let next = state.links.iter().map(|l| l.index).max().unwrap_or(0) + 1;
        let index = |state: &State, name: &str| {
            state
                .links
                .iter()
                .find(|l| l.name == name)
                .unwrap_or_else(|| panic!("{op}: no link {name}"))
                .index
        };
        match op {
            Op::Rename { from, to } => {
                assert!(state.link(to).is_none(), "{op}: {to} exists");
                link(state, from).name.clone_from(to);
            }
            Op::CreateBond { name, settings } => {
                let mut bond = virtual_link(next, name, "bond");
                let mut state_of = BondState::default();
                set_bond(&mut state_of, settings);
                bond.bond = Some(state_of);
                state.links.push(bond);
            }
            Op::SetBond { name, settings } => {
                let bond = link(state, name).bond.as_mut().expect("a bond");
                set_bond(bond, settings);
            }
            Op::CreateVlan {
                name,
                link: parent,
                id,
            } => {
                let (mtu, index) = {
                    let p = link(state, parent);
                    (p.mtu, p.index)
                };
                let mut vlan = virtual_link(next, name, "vlan");
                vlan.mtu = mtu;
                vlan.parent = Some(index);
                vlan.vlan_id = Some(*id);
                state.links.push(vlan);
            }
            Op::CreateBridge { name, settings } => {
                let mut bridge = virtual_link(next, name, "bridge");
                bridge.bridge = Some(bridge_state(settings));
                state.links.push(bridge);
            }
            Op::SetBridge { name, settings } => {
                link(state, name).bridge = Some(bridge_state(settings));
            }
            Op::Enslave {
                link: member,
                master,
            } => {
                let m = index(state, master);
                link(state, member).master = Some(m);
            }
            Op::SetMtu { link: l, mtu } => link(state, l).mtu = *mtu,
            Op::SetMac { link: l, mac } => link(state, l).mac = Some(mac.clone()),
            Op::SetAcceptRa { link: l, value } => link(state, l).accept_ra = Some(*value),
            Op::SetUp { link: l } => link(state, l).up = true,
            Op::AddAddress { link: l, address } => {
                let l = link(state, l);
                assert!(!l.addresses.contains(address), "{op}: exists");
                l.addresses.push(*address);
            }
            Op::AddRule { rule } => state.rules.push(RuleEntry {
                v6: rule.v6,
                from: rule.from,
                to: rule.to,
                table: rule.table,
                priority: rule.priority.unwrap_or(32765),
                mark: rule.mark.unwrap_or(0),
                tos: rule.tos.unwrap_or(0),
            }),
            Op::AddRoute { link: l, route } => {
                let oif = index(state, l);
                state.routes.push(RouteEntry {
                    oif: Some(oif),
                    dst: route.dst,
                    gateway: route.gateway,
                    metric: route.metric,
                    table: route.table,
                    kind: route.kind,
                });
            }
        }
    }
}

fn link<'s>(state: &'s mut State, name: &str) -> &'s mut Link {
    state
        .links
        .iter_mut()
        .find(|l| l.name == name)
        .unwrap_or_else(|| panic!("no link {name}"))
}

fn virtual_link(index: u32, name: &str, kind: &str) -> Link {
    Link {
        index,
        name: name.to_owned(),
        kind: Some(kind.to_owned()),
        mtu: 1500,
        ..Link::default()
    }
}

/// The kernel's defaults (15 s, 2 s, 20 s, 300 s, 32768) overridden by the settings.
fn bridge_state(s: &BridgeSettings) -> BridgeState {
    BridgeState {
        stp: s.stp,
        forward_delay: s.forward_delay.unwrap_or(1500),
        hello_time: s.hello_time.unwrap_or(200),
        max_age: s.max_age.unwrap_or(2000),
        ageing_time: s.ageing_time.unwrap_or(30000),
        priority: s.priority.unwrap_or(32768),
    }
}

/// A bond's state after the kernel took `s` (a new bond starts as balance-rr, all zero).
fn set_bond(b: &mut BondState, s: &BondSettings) {
    b.mode = s.mode.or(b.mode).or(Some(BondMode::BalanceRr));
    b.miimon = s.miimon.unwrap_or(b.miimon);
    b.lacp_rate = s.lacp_rate.or(b.lacp_rate);
    b.hash_policy = s.hash_policy.or(b.hash_policy);
    b.primary = s.primary.clone().or(b.primary.take());
    b.up_delay = s.up_delay.unwrap_or(b.up_delay);
    b.down_delay = s.down_delay.unwrap_or(b.down_delay);
    b.min_links = s.min_links.unwrap_or(b.min_links);
}
