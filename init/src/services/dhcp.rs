//! DHCP: `dhcpcd` in the foreground (`-B`), one service per ethernet entry of the netplan config
//! that asks for DHCP (`dhcp-<key>`), or, with no network config at all, one `dhcp` service for
//! every interface (dhcpcd's manager mode). Interfaces are named after udev has settled, so these
//! come after `udev-settle` (dropped when udev is not installed).
//!
//! An entry selects its interface by its key, by a `match: name:` glob (dhcpcd's
//! `--allowinterfaces`), or by `match: macaddress:`/`driver:`, resolved against the machine's
//! interfaces when the services are planned.

use plinth_config::MachineConfig;
use plinth_config::network::Ethernet as EthernetConfig;
use plinth_config::network::ethernet::glob_match;

use super::builtin::daemon;
use super::facts::{Ethernet, Facts};
use super::udevd::SETTLED;
use crate::supervisor::spec::{Probe, ServiceSpec};

/// The DHCP client.
pub const DHCPCD: &str = "/usr/sbin/dhcpcd";

/// The DHCP services the config asks for.
pub fn plan(config: &MachineConfig, facts: &Facts) -> Vec<ServiceSpec> {
    let Some(network) = &config.network else {
        return vec![daemon("dhcp", &[DHCPCD, "-B"], Probe::Running, &[SETTLED])];
    };
    let mut specs = Vec::new();
    for (key, eth) in &network.ethernets {
        let (v4, v6) = (eth.dhcp4 == Some(true), eth.dhcp6 == Some(true));
        if !v4 && !v6 {
            continue;
        }
        let mut argv = vec![DHCPCD.to_string(), "-B".to_string()];
        match (v4, v6) {
            (true, false) => argv.push("-4".into()),
            (false, true) => argv.push("-6".into()),
            _ => {}
        }
        match select(key, eth, &facts.ethernets) {
            Selection::Names(names) if names.is_empty() => continue,
            Selection::Names(names) => argv.extend(names),
            Selection::Glob(glob) => argv.extend(["--allowinterfaces".to_string(), glob]),
        }
        let exec: Vec<&str> = argv.iter().map(String::as_str).collect();
        specs.push(daemon(
            &format!("dhcp-{}", safe(key)),
            &exec,
            Probe::Running,
            &[SETTLED],
        ));
    }
    specs
}

/// How an ethernet entry names its interface(s) for dhcpcd.
#[derive(Debug, PartialEq, Eq)]
enum Selection {
    /// These interfaces.
    Names(Vec<String>),
    /// Whatever matches this glob.
    Glob(String),
}

fn select(key: &str, eth: &EthernetConfig, machine: &[Ethernet]) -> Selection {
    let Some(m) = &eth.match_ else {
        return Selection::Names(vec![
            eth.set_name.clone().unwrap_or_else(|| key.to_string()),
        ]);
    };
    if m.macaddress.is_none()
        && m.driver.is_none()
        && let Some(glob) = &m.name
    {
        return Selection::Glob(glob.clone());
    }
    let names = machine
        .iter()
        .filter(|e| m.name.as_ref().is_none_or(|g| glob_match(g, &e.name)))
        .filter(|e| {
            m.macaddress
                .as_ref()
                .is_none_or(|mac| mac.eq_ignore_ascii_case(&e.mac))
        })
        .filter(|e| {
            m.driver
                .as_ref()
                .is_none_or(|d| d.all().iter().any(|g| glob_match(g, &e.driver)))
        })
        .map(|e| eth.set_name.clone().unwrap_or_else(|| e.name.clone()))
        .collect();
    Selection::Names(names)
}

/// A netplan key as a service-name suffix.
fn safe(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml_network: &str) -> MachineConfig {
        let text = format!("#cloud-config\n{yaml_network}");
        plinth_config::parse("test", &text)
            .unwrap_or_else(|d| panic!("{d}"))
            .config
    }

    fn facts() -> Facts {
        Facts {
            ethernets: vec![
                Ethernet {
                    name: "enp0s3".into(),
                    mac: "52:54:00:00:00:01".into(),
                    driver: "virtio_net".into(),
                },
                Ethernet {
                    name: "enp0s4".into(),
                    mac: "52:54:00:00:00:02".into(),
                    driver: "e1000".into(),
                },
            ],
        }
    }

    #[test]
    fn no_network_config_means_dhcp_everywhere() {
        let specs = plan(&MachineConfig::default(), &facts());
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].name, "dhcp");
        assert_eq!(specs[0].exec, [DHCPCD, "-B"]);
        assert_eq!(specs[0].after, [SETTLED]);
    }

    #[test]
    fn one_client_per_ethernet_asking_for_dhcp() {
        let specs = plan(
            &config(
                "network:\n  version: 2\n  ethernets:\n    eno1:\n      dhcp4: true\n    eno2:\n      addresses: [10.0.0.2/24]\n    eno3:\n      dhcp6: true\n",
            ),
            &facts(),
        );
        let argv: Vec<(String, Vec<String>)> =
            specs.into_iter().map(|s| (s.name, s.exec)).collect();
        assert_eq!(
            argv,
            [
                (
                    "dhcp-eno1".to_string(),
                    vec![DHCPCD.to_string(), "-B".into(), "-4".into(), "eno1".into()]
                ),
                (
                    "dhcp-eno3".to_string(),
                    vec![DHCPCD.to_string(), "-B".into(), "-6".into(), "eno3".into()]
                ),
            ]
        );
    }

    #[test]
    fn match_clauses_select_interfaces() {
        let by_glob = plan(
            &config(
                "network:\n  version: 2\n  ethernets:\n    lan:\n      match:\n        name: enp*\n      dhcp4: true\n      dhcp6: true\n",
            ),
            &facts(),
        );
        assert_eq!(by_glob[0].exec, [DHCPCD, "-B", "--allowinterfaces", "enp*"]);
        let by_mac = plan(
            &config(
                "network:\n  version: 2\n  ethernets:\n    lan:\n      match:\n        macaddress: 52:54:00:00:00:02\n      dhcp4: true\n",
            ),
            &facts(),
        );
        assert_eq!(by_mac[0].exec, [DHCPCD, "-B", "-4", "enp0s4"]);
        let by_driver = plan(
            &config(
                "network:\n  version: 2\n  ethernets:\n    lan:\n      match:\n        driver: virtio*\n      dhcp4: true\n",
            ),
            &facts(),
        );
        assert_eq!(by_driver[0].exec, [DHCPCD, "-B", "-4", "enp0s3"]);
        let nothing = plan(
            &config(
                "network:\n  version: 2\n  ethernets:\n    lan:\n      match:\n        driver: ixgbe\n      dhcp4: true\n",
            ),
            &facts(),
        );
        assert!(nothing.is_empty());
    }
}
