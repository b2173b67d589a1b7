//! The netplan examples from canonical/netplan (kept outside the repository in ../shared/corpus): the
//! server-relevant ones must parse; the unsupported features must be refused as `unsupported: KEY`.

use std::path::PathBuf;

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/netplan");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: netplan corpus not found at {} (it lives outside the repository)",
            dir.display()
        );
        None
    }
}

const SERVER: &[&str] = &[
    "dhcp",
    "windows_dhcp_server",
    "loopback_interface",
    "bridge",
    "bonding",
    "bonding_router",
    "bridge_vlan",
    "bridge_port_vlans",
    "vlan",
    "static",
    "static-routes",
    "static_multiaddress",
    "static_singlenic_multiip_multigateway",
    "route_metric",
    "source_routing",
    "direct_connect_gateway",
    "direct_connect_gateway_ipv6",
    "dummy-devices",
    "vxlan",
    "vrf",
    "virtual-ethernet",
    "offload",
];

const UNSUPPORTED: &[(&str, &str)] = &[
    ("wireless", "unsupported: wifis"),
    ("wireless_adhoc", "unsupported: wifis"),
    ("wireless_wpa3", "unsupported: wifis"),
    ("wpa_enterprise", "unsupported: wifis"),
    ("wpa3_enterprise", "unsupported: wifis"),
    ("modem", "unsupported: modems"),
    ("wireguard", "unsupported: wireguard"),
    ("sriov", "unsupported: embedded-switch-mode"),
    ("sriov_vlan", "unsupported: renderer: sriov"),
    ("infiniband", "unsupported: infiniband-mode"),
    ("dhcp_wired8021x", "unsupported: auth"),
];

#[test]
fn server_examples_parse() {
    let Some(dir) = corpus() else { return };
    let mut checked = 0;
    for name in SERVER {
        let path = dir.join(format!("{name}.yaml"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("note: {name}.yaml is not in this corpus");
            continue;
        };
        let source = path.display().to_string();
        let parsed =
            plinth_config::parse_network(&source, &text).unwrap_or_else(|e| panic!("{name}:\n{e}"));
        let network = parsed.config.network.expect("a network");
        assert!(
            !network.interfaces().is_empty(),
            "{name}: no interfaces read"
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} server examples found");
}

#[test]
fn unsupported_features_are_named() {
    let Some(dir) = corpus() else { return };
    for (name, expected) in UNSUPPORTED {
        let path = dir.join(format!("{name}.yaml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let err = plinth_config::parse_network(&path.display().to_string(), &text).expect_err(name);
        let text = err.to_string();
        assert!(
            text.contains(expected),
            "{name}: expected `{expected}` in:\n{text}"
        );
        assert!(
            text.contains(&format!("{}:", path.display())),
            "{name}: no source position in:\n{text}"
        );
    }
}

#[test]
fn yaml_1_1_booleans_are_booleans() {
    let Some(dir) = corpus() else { return };
    let text = std::fs::read_to_string(dir.join("bridge_vlan.yaml")).unwrap();
    let net = plinth_config::parse_network("bridge_vlan.yaml", &text)
        .unwrap()
        .config
        .network
        .unwrap();
    assert_eq!(net.vlans["vlan15"].accept_ra, Some(false));
    let text = std::fs::read_to_string(dir.join("bonding.yaml")).unwrap();
    let net = plinth_config::parse_network("bonding.yaml", &text)
        .unwrap()
        .config
        .network
        .unwrap();
    assert_eq!(net.bonds["bond0"].dhcp4, Some(true));
}

/// netplan's Open vSwitch example, under `plinth.ovs.mode: host`: everything is read but its
/// `ssl` (refused by name); without it the example is a valid host-mode config. In `kube-ovn`
/// mode every `openvswitch` key is refused with its line.
#[test]
fn openvswitch_example_in_host_mode() {
    let Some(dir) = corpus() else { return };
    let netplan = std::fs::read_to_string(dir.join("openvswitch.yaml")).unwrap();
    let host = format!("#cloud-config\nplinth:\n  ovs:\n    mode: host\n{netplan}");
    let err = plinth_config::parse("ovs", &host).expect_err("ssl is refused");
    let lines: Vec<String> = err.0.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "ovs:11:5: error: unsupported: ssl: Plinth does not configure OVS SSL (no ssl: controllers or managers) (at network.openvswitch.ssl)"
        ]
    );
    let start = host.find("    ssl:\n").unwrap();
    let end = host.find("    external-ids:\n      somekey").unwrap();
    let without_ssl = format!("{}{}", &host[..start], &host[end..]);
    let net = plinth_config::parse("ovs", &without_ssl)
        .unwrap_or_else(|e| panic!("{e}"))
        .config
        .network
        .unwrap();
    let t = plinth_config::network::OvsTopology::of(&net);
    assert_eq!(t.bridges.iter().collect::<Vec<_>>(), ["ovs0"]);
    assert_eq!(t.bonds.iter().collect::<Vec<_>>(), ["bond0"]);
    assert_eq!(t.patches["patch0-1"], "patch1-0");
    let ovs0 = net.bridges["ovs0"].openvswitch.as_ref().unwrap();
    assert_eq!(ovs0.fail_mode.as_deref(), Some("secure"));
    assert_eq!(ovs0.mcast_snooping, Some(true));
    assert_eq!(
        net.ethernets["eth0"]
            .openvswitch
            .as_ref()
            .unwrap()
            .other_config["disable-in-band"],
        "false"
    );

    let kube_ovn = format!("#cloud-config\n{netplan}");
    let err = plinth_config::parse("ovs", &kube_ovn).expect_err("kube-ovn mode refuses");
    let text = err.to_string();
    for path in [
        "network.openvswitch",
        "network.ethernets.eth0.openvswitch",
        "network.bonds.bond0.openvswitch",
        "network.bridges.ovs0.openvswitch",
    ] {
        assert!(
            text.contains(&format!("(at {path})"))
                && text.contains("needs `plinth.ovs.mode: host`"),
            "{path} not refused in:\n{text}"
        );
    }
}
