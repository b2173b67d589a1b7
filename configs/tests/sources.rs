//! The data-source readers on real directories: a NoCloud seed with a separate network-config, and an
//! OpenStack config drive with meta_data.json and network_data.json.

use std::path::PathBuf;

fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sources")
        .join(name)
}

#[test]
fn nocloud_seed_with_network_config() {
    let parsed = plinth_config::load_path(&dir("nocloud-network")).unwrap();
    let config = parsed.config;
    assert_eq!(
        config.hostname.as_deref(),
        Some("from-user-data"),
        "user-data beats meta-data"
    );
    let net = config.network.unwrap();
    assert_eq!(net.ethernets["eth0"].dhcp4, Some(true));
    assert_eq!(net.ethernets["eth1"].addresses, vec!["192.0.2.50/24"]);
}

#[test]
fn config_drive() {
    let parsed = plinth_config::load_path(&dir("config-drive")).unwrap();
    let config = parsed.config;
    assert_eq!(config.hostname.as_deref(), Some("compute7"));
    assert_eq!(config.ssh_authorized_keys.len(), 1);
    assert_eq!(
        config.plinth.cluster.token.as_deref(),
        Some("cfgdrv.0123456789abcdef")
    );
    let net = config.network.unwrap();
    let eth = &net.ethernets["tapa1"];
    assert_eq!(eth.addresses, vec!["10.0.100.27/24"]);
    assert_eq!(eth.mtu, Some(1450));
    assert_eq!(eth.routes[0].via.as_deref(), Some("10.0.100.1"));
}

#[test]
fn a_plain_directory_is_refused() {
    let err = plinth_config::load_path(&dir("")).unwrap_err();
    assert!(err.to_string().contains("neither a NoCloud seed"), "{err}");
}

#[test]
fn a_missing_file_is_an_error_not_a_panic() {
    let err = plinth_config::load_path(&dir("no-such-file.yaml")).unwrap_err();
    assert!(err.to_string().contains("cannot read"), "{err}");
}
