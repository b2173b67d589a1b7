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
    ("openvswitch", "unsupported: openvswitch"),
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
