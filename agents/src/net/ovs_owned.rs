//! NICs owned by OVS: the interfaces the node's `plinth.genestack.ovn` hands to OVS (ports, bond
//! members; see `plinth_config::plinth::Ovn::ovs_interfaces`). Genestack's ovn-setup adds them to
//! its bridges and bonds with `ovs-vsctl` and expects them up and unconfigured, so the agent brings
//! each one up with router advertisements ignored (no SLAAC address) and does nothing else to it:
//! no address, no DHCP client, no route, and — as for every link — nothing it finds there (OVS's
//! master, addresses) is ever removed. Validation keeps these names out of the netplan, so the
//! netplan plan never touches them either. Pure.

use super::ops::Op;
use super::plan::Plan;
use super::state::State;

/// The operations that bring the OVS-owned interfaces of `names` to "up, ignoring router
/// advertisements", for those that exist and are not so already; interfaces not present yet (a
/// driver not loaded) are planned again when they appear.
pub fn plan_owned(names: &[String], state: &State) -> Vec<Op> {
    let mut ops = Vec::new();
    for name in names {
        let Some(link) = state.link(name) else {
            continue;
        };
        // `None`: IPv6 is off on the link, so there is nothing to accept.
        if link.accept_ra.is_some_and(|v| v != 0) {
            ops.push(Op::SetAcceptRa {
                link: name.clone(),
                value: 0,
            });
        }
        if !link.up {
            ops.push(Op::SetUp { link: name.clone() });
        }
    }
    ops
}

/// Whether the netplan's plan touches an OVS-owned interface: it must not (validation refuses such
/// a config; this holds the agent to it even for a config that skipped validation).
pub fn touches(op: &Op, names: &[String]) -> bool {
    let named = |n: &str| names.iter().any(|o| o == n);
    match op {
        Op::Rename { from, to } => named(from) || named(to),
        Op::CreateBond { name, .. }
        | Op::SetBond { name, .. }
        | Op::CreateBridge { name, .. }
        | Op::SetBridge { name, .. } => named(name),
        Op::CreateVlan { name, link, .. } => named(name) || named(link),
        Op::Enslave { link, .. }
        | Op::SetMtu { link, .. }
        | Op::SetMac { link, .. }
        | Op::SetAcceptRa { link, .. }
        | Op::SetUp { link }
        | Op::AddAddress { link, .. }
        | Op::AddRoute { link, .. } => named(link),
        Op::AddRule { .. } => false,
    }
}

/// `plan` with the OVS-owned interfaces of `names` handed over: the netplan's operations and DHCP
/// clients on them dropped (each said as a warning), and [`plan_owned`]'s operations added.
pub fn hand_over(mut plan: Plan, names: &[String], state: &State) -> Plan {
    if names.is_empty() {
        return plan;
    }
    let (dropped, kept): (Vec<Op>, Vec<Op>) =
        plan.ops.into_iter().partition(|op| touches(op, names));
    for op in dropped {
        plan.warnings
            .push(format!("not planned, OVS owns the interface: {op}"));
    }
    plan.ops = kept;
    plan.dhcp.retain(|c| {
        let owned = names.contains(&c.interface);
        if owned {
            plan.warnings.push(format!(
                "no DHCP on {}: OVS owns the interface",
                c.interface
            ));
        }
        !owned
    });
    plan.ops.extend(plan_owned(names, state));
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::cidr::Cidr;
    use crate::net::state::Link;

    fn link(index: u32, name: &str, up: bool, accept_ra: Option<u8>) -> Link {
        Link {
            index,
            name: name.into(),
            up,
            accept_ra,
            mtu: 1500,
            ..Link::default()
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn down_nics_come_up_ignoring_router_advertisements() {
        let state = State {
            links: vec![
                link(2, "eno1", false, Some(1)),
                link(3, "eno3", false, None),
            ],
            ..State::default()
        };
        let ops: Vec<String> = plan_owned(&names(&["eno1", "eno3", "eno9"]), &state)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            ops,
            ["set accept_ra 0 on eno1", "set up eno1", "set up eno3"]
        );
    }

    /// Once OVS has them (up, in `ovs-system`, with whatever OVS put there), nothing is planned:
    /// the agent leaves them alone, pass after pass.
    #[test]
    fn nics_ovs_holds_are_left_alone() {
        let mut eno1 = link(2, "eno1", true, Some(0));
        eno1.master = Some(7);
        eno1.addresses = vec![Cidr::parse("192.0.2.10/24").unwrap()];
        let state = State {
            links: vec![eno1, link(7, "ovs-system", false, None)],
            ..State::default()
        };
        assert!(plan_owned(&names(&["eno1"]), &state).is_empty());
    }

    #[test]
    fn netplan_operations_on_an_owned_nic_are_recognised() {
        let owned = names(&["eno1"]);
        assert!(touches(
            &Op::AddAddress {
                link: "eno1".into(),
                address: Cidr::parse("10.0.0.1/24").unwrap()
            },
            &owned
        ));
        assert!(touches(
            &Op::Enslave {
                link: "eno1".into(),
                master: "bond0".into()
            },
            &owned
        ));
        assert!(!touches(
            &Op::SetUp {
                link: "eno2".into()
            },
            &owned
        ));
    }

    /// A netplan that would touch an OVS-owned NIC (a config that skipped validation) loses those
    /// operations and its DHCP client there, each said; the rest of the plan stands.
    #[test]
    fn hand_over_drops_the_netplans_claims() {
        let state = State {
            links: vec![
                link(2, "eno1", false, Some(1)),
                link(3, "eno2", false, Some(1)),
            ],
            ..State::default()
        };
        let net = plinth_config::parse(
            "t",
            "#cloud-config\nnetwork:\n  version: 2\n  ethernets:\n    eno1: {dhcp4: true}\n    eno2: {addresses: [10.0.0.2/24]}\n",
        )
        .unwrap()
        .config
        .network
        .unwrap();
        let plan = hand_over(crate::net::plan(&net, &state), &names(&["eno1"]), &state);
        let ops: Vec<String> = plan.ops.iter().map(ToString::to_string).collect();
        assert!(
            ops.contains(&"add address 10.0.0.2/24 on eno2".to_owned()),
            "{ops:?}"
        );
        assert_eq!(
            ops.iter()
                .filter(|o| o.ends_with(" eno1"))
                .collect::<Vec<_>>(),
            ["set accept_ra 0 on eno1", "set up eno1"]
        );
        assert!(plan.dhcp.is_empty());
        assert!(
            plan.warnings
                .iter()
                .any(|w| w == "no DHCP on eno1: OVS owns the interface"),
            "{:?}",
            plan.warnings
        );
    }
}
