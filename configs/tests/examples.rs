//! Every file under `configs/examples/` is a real config: each must parse and validate without errors.

use std::path::{Path, PathBuf};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn load(path: &Path) -> plinth_config::Parsed {
    plinth_config::load_path(path)
        .unwrap_or_else(|e| panic!("{} does not validate:\n{e}", path.display()))
}

#[test]
fn every_example_validates() {
    let mut count = 0;
    for entry in std::fs::read_dir(examples()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let parsed = load(&path);
            assert!(
                parsed.warnings.is_empty(),
                "{}: unexpected warnings: {:?}",
                path.display(),
                parsed.warnings
            );
            count += 1;
        }
    }
    assert!(count >= 6, "only {count} examples");
}

#[test]
fn single_node_is_the_lab_default() {
    let config = load(&examples().join("single-node.yaml")).config;
    let net = config.network.as_ref().unwrap();
    let eth = net.ethernets.values().next().unwrap();
    assert_eq!(eth.dhcp4, Some(true));
    let pattern = eth.match_.as_ref().and_then(|m| m.name.as_deref()).unwrap();
    for name in ["eth0", "ens3", "enp0s3", "eno1"] {
        assert!(
            plinth_config::network::ethernet::glob_match(pattern, name),
            "{pattern} vs {name}"
        );
    }
    assert!(config.plinth.exporters.node_exporter.enabled);
    assert_eq!(config.plinth.exporters.node_exporter.listen, ":9100");
    assert_eq!(
        config.plinth.cluster.role,
        plinth_config::plinth::Role::Init
    );
    assert!(config.plinth.cluster.etcd_member());
    let k = &config.plinth.cluster.kubernetes;
    assert_eq!(k.cni, plinth_config::plinth::Cni::Bridge);
    assert!(
        config.plinth.cluster.register_with_taints().is_empty(),
        "the single node takes pods"
    );
}

#[test]
fn lab_seeds_form_a_three_member_cluster() {
    use plinth_config::plinth::Role;
    let mut roles = Vec::new();
    for (n, node) in ["node1", "node2", "node3"].iter().enumerate() {
        let parsed = load(&examples().join("lab").join(node));
        let config = parsed.config;
        assert_eq!(
            config.hostname.as_deref(),
            Some(*node),
            "hostname comes from meta-data"
        );
        let net = config.network.unwrap();
        let lab = &net.ethernets["lab0"];
        assert_eq!(lab.addresses[0], format!("192.0.2.{}/24", 11 + n));
        let mac = lab.match_.as_ref().and_then(|m| m.macaddress.as_deref());
        assert_eq!(
            mac,
            Some(format!("52:54:00:0c:00:{}", 11 + n).as_str()),
            "MAC in lab/README.md"
        );
        assert_eq!(
            config.plinth.cluster.advertise_address.as_deref(),
            Some("lab0"),
            "never mgmt0, the same user-mode address on every VM"
        );
        let cluster = &config.plinth.cluster;
        roles.push((cluster.role, cluster.etcd_member()));
        if cluster.role != Role::Init {
            assert_eq!(cluster.endpoint.as_deref(), Some("https://192.0.2.11:6443"));
        }
    }
    // Three etcd members, two apiservers: node3 is an agent running an etcd member.
    assert_eq!(
        roles,
        vec![
            (Role::Init, true),
            (Role::Server, true),
            (Role::Agent, true)
        ]
    );
}

#[test]
fn readme_config_example_validates() {
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let after = readme
        .split("## A machine config")
        .nth(1)
        .expect("README has a config example");
    let block = after
        .split("```yaml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap();
    if let Err(e) = plinth_config::parse("README.md", block) {
        panic!("the README's config example does not validate:\n{e}");
    }
}
