//! DHCP: one `dhcp` service, `dhcpcd` in the foreground (`-B`) in its manager mode, which runs a
//! client on each interface it is allowed: those of the netplan ethernets that ask for DHCP
//! (`--allowinterfaces`), or, with no network config at all, every interface. `-4`/`-6` when every
//! such entry asks for one family only. Interfaces are named after udev has settled, so it comes
//! after `udev-settle` (dropped when udev is not installed), and after the network agent
//! (`network`) when the config has a network (links it creates exist first).
//!
//! An entry selects its interface by its key (or `set-name`), by a `match: name:` glob, or by
//! `match: macaddress:`/`driver:`, resolved against the machine's interfaces at plan time.

use plinth_config::MachineConfig;
use plinth_config::network::Ethernet as EthernetConfig;
use plinth_config::network::ethernet::glob_match;

use super::builtin::daemon;
use super::facts::{Ethernet, Facts};
use super::udevd::SETTLED;
use crate::supervisor::spec::{Probe, ServiceSpec};

/// The DHCP client.
pub const DHCPCD: &str = "/usr/sbin/dhcpcd";
/// The service name (one of the config crate's `BUILTIN_SERVICES`, so users may come `after` it).
pub const NAME: &str = "dhcp";

/// The DHCP service the config asks for, if any.
pub fn plan(config: &MachineConfig, facts: &Facts) -> Vec<ServiceSpec> {
    let Some(network) = &config.network else {
        return vec![daemon(NAME, &[DHCPCD, "-B"], Probe::Running, &[SETTLED])];
    };
    let mut patterns: Vec<String> = Vec::new();
    let (mut any_v4, mut any_v6, mut all_v4, mut all_v6) = (false, false, true, true);
    for (key, eth) in &network.ethernets {
        let (v4, v6) = (eth.dhcp4 == Some(true), eth.dhcp6 == Some(true));
        if !v4 && !v6 {
            continue;
        }
        let selected = match select(key, eth, &facts.ethernets) {
            Selection::Names(names) => names,
            Selection::Glob(glob) => vec![glob],
        };
        if selected.is_empty() {
            continue;
        }
        (any_v4, any_v6, all_v4, all_v6) = (any_v4 || v4, any_v6 || v6, all_v4 && v4, all_v6 && v6);
        for pattern in selected {
            if !patterns.contains(&pattern) {
                patterns.push(pattern);
            }
        }
    }
    if patterns.is_empty() {
        return Vec::new();
    }
    let mut argv = vec![DHCPCD.to_string(), "-B".to_string()];
    match (any_v4 && all_v4 && !any_v6, any_v6 && all_v6 && !any_v4) {
        (true, _) => argv.push("-4".into()),
        (_, true) => argv.push("-6".into()),
        _ => {}
    }
    argv.extend(["--allowinterfaces".to_string(), patterns.join(",")]);
    let exec: Vec<&str> = argv.iter().map(String::as_str).collect();
    // After the network agent, so bonds, VLANs and bridges exist before a client runs on them.
    vec![daemon(
        NAME,
        &exec,
        Probe::Running,
        &[SETTLED, super::net::NAME],
    )]
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
            ..Facts::default()
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
    fn only_the_ethernets_asking_for_dhcp_are_allowed() {
        let specs = plan(
            &config(
                "network:\n  version: 2\n  ethernets:\n    eno1:\n      dhcp4: true\n    eno2:\n      addresses: [10.0.0.2/24]\n    eno3:\n      dhcp4: true\n",
            ),
            &facts(),
        );
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].name, "dhcp");
        assert_eq!(
            specs[0].exec,
            [DHCPCD, "-B", "-4", "--allowinterfaces", "eno1,eno3"]
        );
        let mixed = plan(
            &config(
                "network:\n  version: 2\n  ethernets:\n    eno1:\n      dhcp4: true\n    eno3:\n      dhcp6: true\n",
            ),
            &facts(),
        );
        assert_eq!(
            mixed[0].exec,
            [DHCPCD, "-B", "--allowinterfaces", "eno1,eno3"]
        );
        let static_only = plan(
            &config(
                "network:\n  version: 2\n  ethernets:\n    eno2:\n      addresses: [10.0.0.2/24]\n",
            ),
            &facts(),
        );
        assert!(static_only.is_empty());
    }

    #[test]
    fn match_clauses_select_interfaces() {
        let exec = |yaml: &str| {
            plan(&config(yaml), &facts())
                .first()
                .map(|s| s.exec.clone())
        };
        assert_eq!(
            exec("network:\n  version: 2\n  ethernets:\n    lan:\n      match:\n        name: enp*\n      dhcp4: true\n      dhcp6: true\n").unwrap(),
            [DHCPCD, "-B", "--allowinterfaces", "enp*"]
        );
        assert_eq!(
            exec("network:\n  version: 2\n  ethernets:\n    lan:\n      match:\n        macaddress: 52:54:00:00:00:02\n      dhcp4: true\n").unwrap(),
            [DHCPCD, "-B", "-4", "--allowinterfaces", "enp0s4"]
        );
        assert_eq!(
            exec("network:\n  version: 2\n  ethernets:\n    lan:\n      match:\n        driver: virtio*\n      set-name: lan0\n      dhcp4: true\n").unwrap(),
            [DHCPCD, "-B", "-4", "--allowinterfaces", "lan0"]
        );
        assert_eq!(
            exec(
                "network:\n  version: 2\n  ethernets:\n    lan:\n      match:\n        driver: ixgbe\n      dhcp4: true\n"
            ),
            None
        );
    }
}
