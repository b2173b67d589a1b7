//! The planner against netplan's own examples (`../shared/corpus/netplan`, read in place): each
//! example that Plinth accepts is planned against a fabricated link table made to fit it, applied
//! to a model of the kernel, and planned again, which must give no operations. A few are checked
//! operation by operation.

mod support;

use std::path::PathBuf;

use plinth_agents::net::{Link, Plan, State, plan};
use plinth_config::Network;
use support::kernel_model;

fn corpus_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/netplan");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIP: netplan corpus not found at {}; the corpus tests need it",
            dir.display()
        );
        None
    }
}

fn load(dir: &std::path::Path, file: &str) -> Result<Network, String> {
    let text = std::fs::read_to_string(dir.join(file)).map_err(|e| e.to_string())?;
    plinth_config::parse_network(file, &text)
        .map(|p| p.config.network.unwrap_or_default())
        .map_err(|d| d.to_string())
}

/// Turns a glob into a name it matches: `*` and `?` become `0`, a class its first member.
fn instance_of(glob: &str) -> String {
    let mut out = String::new();
    let mut chars = glob.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' | '?' => out.push('0'),
            '[' => {
                let class: String = chars.by_ref().take_while(|c| *c != ']').collect();
                out.extend(class.trim_start_matches(['!', '^']).chars().next());
            }
            c => out.push(c),
        }
    }
    out
}

/// One physical link per `ethernets` entry, made to satisfy its `match`, plus `lo`.
fn links_for(net: &Network) -> Vec<Link> {
    let mut links = vec![Link {
        index: 1,
        name: "lo".into(),
        mtu: 65536,
        up: true,
        ..Link::default()
    }];
    for (i, (id, eth)) in net.ethernets.iter().enumerate() {
        let index = u32::try_from(i).unwrap() + 2;
        let m = eth.match_.clone().unwrap_or_default();
        let name = match (&eth.match_, &m.name) {
            (None, _) => id.clone(),
            (Some(_), Some(glob)) => instance_of(glob),
            (Some(_), None) => format!("eth{i}"),
        };
        if links.iter().any(|l| l.name == name) {
            continue;
        }
        links.push(Link {
            index,
            name,
            mac: Some(
                m.macaddress
                    .map(|m| m.to_ascii_lowercase())
                    .unwrap_or_else(|| format!("52:54:00:00:00:{index:02x}")),
            ),
            driver: Some(
                m.driver
                    .map(|d| instance_of(d.all()[0]))
                    .unwrap_or_else(|| "virtio_net".into()),
            ),
            mtu: 1500,
            ..Link::default()
        });
    }
    links
}

/// The plan for `net` on a machine that has just its physical links, unconfigured.
fn plan_fresh(net: &Network) -> Plan {
    plan(
        net,
        &State {
            links: links_for(net),
            ..State::default()
        },
    )
}

fn ops_text(plan: &Plan) -> Vec<String> {
    plan.ops.iter().map(ToString::to_string).collect()
}

#[test]
fn every_accepted_example_plans_and_converges() {
    let Some(dir) = corpus_dir() else { return };
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".yaml"))
        .collect();
    files.sort();
    let mut planned = 0;
    for file in &files {
        let net = match load(&dir, file) {
            Ok(net) => net,
            Err(why) => {
                eprintln!("{file}: refused by plinth-config (not planned): {why}");
                continue;
            }
        };
        let mut state = State {
            links: links_for(&net),
            ..State::default()
        };
        let first = plan(&net, &state);
        for w in &first.warnings {
            eprintln!("{file}: warning: {w}");
        }
        kernel_model::apply(&mut state, &first.ops);
        let second = plan(&net, &state);
        assert!(
            second.ops.is_empty(),
            "{file}: a second plan is not empty: {:?}",
            ops_text(&second)
        );
        assert_eq!(first.dhcp, second.dhcp, "{file}: DHCP decision changed");
        planned += 1;
    }
    // The corpus holds ~35 examples; wifi, modems, NetworkManager, SR-IOV, 802.1x, OVS and
    // WireGuard ones are refused on purpose. Most of the rest must plan.
    assert!(planned >= 15, "only {planned} examples planned");
}

#[test]
fn bonding_example_creates_the_bond_then_enslaves() {
    let Some(dir) = corpus_dir() else { return };
    let net = load(&dir, "bonding.yaml").unwrap();
    let p = plan_fresh(&net);
    assert_eq!(
        ops_text(&p),
        [
            "create bond bond0 mode active-backup miimon 100 primary enp3s0",
            "enslave enp3s0 to bond0",
            "enslave enp4s0 to bond0",
            "set up enp3s0",
            "set up enp4s0",
            "set up bond0",
        ]
    );
    assert_eq!(p.dhcp.len(), 1);
    assert_eq!(
        (
            p.dhcp[0].interface.as_str(),
            matches!(
                p.dhcp[0].families,
                plinth_config::net_ready::Families::V4 | plinth_config::net_ready::Families::Both
            )
        ),
        ("bond0", true)
    );
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn vlan_example_renames_by_mac_and_stacks_vlans() {
    let Some(dir) = corpus_dir() else { return };
    let net = load(&dir, "vlan.yaml").unwrap();
    let mut links = links_for(&net);
    // The NIC is found by its MAC whatever the kernel called it.
    links[1].name = "enp7s0".into();
    let p = plan(
        &net,
        &State {
            links,
            ..State::default()
        },
    );
    assert_eq!(
        ops_text(&p),
        [
            "rename enp7s0 to mainif",
            "create vlan vlan10 id 10 on mainif",
            "create vlan vlan15 id 15 on mainif",
            "set up mainif",
            "set up vlan10",
            "set up vlan15",
            "add address 10.3.0.5/23 on mainif",
            "add address 10.3.98.5/24 on vlan10",
            "add address 10.3.99.5/24 on vlan15",
            "add route default via 10.3.0.1 metric 0 dev mainif",
        ]
    );
    assert_eq!(
        p.resolv_conf.as_deref(),
        Some(
            "# Written by plinth-agent net from the machine config.\n\
             nameserver 8.8.8.8\nnameserver 8.8.4.4\nnameserver 127.0.0.1\n\
             search example.com domain1.example.com domain2.example.com\n"
        )
    );
}

#[test]
fn bridge_over_vlan_creates_the_vlan_first() {
    let Some(dir) = corpus_dir() else { return };
    let net = load(&dir, "bridge_vlan.yaml").unwrap();
    let p = plan_fresh(&net);
    assert_eq!(
        ops_text(&p),
        [
            "create vlan vlan15 id 15 on enp0s25",
            "create bridge br0 stp on",
            "enslave vlan15 to br0",
            "set accept_ra 0 on vlan15",
            "set up enp0s25",
            "set up vlan15",
            "set up br0",
            "add address 10.3.99.25/24 on br0",
        ]
    );
    assert_eq!(p.dhcp[0].interface, "enp0s25");
}

#[test]
fn two_default_gateways_keep_their_metrics() {
    let Some(dir) = corpus_dir() else { return };
    let net = load(&dir, "static_singlenic_multiip_multigateway.yaml").unwrap();
    let p = plan_fresh(&net);
    let routes: Vec<String> = ops_text(&p)
        .into_iter()
        .filter(|o| o.starts_with("add route"))
        .collect();
    assert_eq!(
        routes,
        [
            "add route default via 10.0.0.1 metric 100 dev eno1",
            "add route default via 11.0.0.1 metric 200 dev eno1",
        ]
    );
}

#[test]
fn bonding_router_example_builds_three_bonds() {
    let Some(dir) = corpus_dir() else { return };
    let net = load(&dir, "bonding_router.yaml").unwrap();
    let p = plan_fresh(&net);
    let creates: Vec<String> = ops_text(&p)
        .into_iter()
        .filter(|o| o.starts_with("create"))
        .collect();
    assert_eq!(
        creates,
        [
            "create bond bond-conntrack mode balance-rr miimon 1",
            "create bond bond-lan mode 802.3ad miimon 1",
            "create bond bond-wan mode active-backup miimon 1",
        ]
    );
    assert_eq!(
        p.ops
            .iter()
            .filter(|o| o.to_string().starts_with("enslave"))
            .count(),
        6
    );
}
