//! The network agent: `plinth-agent net` applies the netplan config the `network` phase wrote
//! (links, bonds, VLANs, bridges, addresses, routes, resolv.conf) and stays up re-applying when
//! links appear. It comes after `udev-settle`, because udev loads the NIC drivers and gives
//! interfaces the names the config uses; it is ready once its first pass has written the ready file
//! (the DHCP clients it wants), and the `dhcp` service comes after it, so DHCP starts only on links
//! that exist. Planned only when the config has a `network` section.

use plinth_config::MachineConfig;

use super::builtin::daemon;
use super::facts::Facts;
use super::udevd::SETTLED;
use crate::supervisor::spec::{Probe, ServiceSpec};

/// The agent binary.
pub const AGENT: &str = "/usr/bin/plinth-agent";
/// The service name (one of the config crate's `BUILTIN_SERVICES`, so users may come `after` it).
pub const NAME: &str = "network";
/// The network-only config the `network` phase writes for the agent.
pub const CONFIG: &str = "/run/plinth/network.yaml";
/// Written by the agent after each successful pass: the DHCP clients it wants.
pub const READY_FILE: &str = "/run/plinth/net.dhcp";

/// The interfaces `plinth.genestack.ovn` hands to OVS: the agent brings them up with no address,
/// and DHCP leaves them alone.
pub fn ovs_nics(config: &MachineConfig) -> Vec<String> {
    config
        .plinth
        .genestack
        .ovn
        .as_ref()
        .map(|ovn| ovn.ovs_interfaces().into_iter().map(|o| o.name).collect())
        .unwrap_or_default()
}

/// The agent, when the config has a network or NICs OVS owns.
pub fn plan(config: &MachineConfig, _: &Facts) -> Vec<ServiceSpec> {
    if config.network.is_none() && ovs_nics(config).is_empty() {
        return Vec::new();
    }
    vec![daemon(
        NAME,
        &[AGENT, "net", "--config", CONFIG, "--ready-file", READY_FILE],
        Probe::File(READY_FILE.into()),
        &[SETTLED],
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_after_udev_with_its_ready_file_only_for_a_network_config() {
        assert!(plan(&MachineConfig::default(), &Facts::default()).is_empty());
        let config = plinth_config::parse(
            "t",
            "#cloud-config\nnetwork:\n  version: 2\n  ethernets:\n    ens3:\n      dhcp4: true\n",
        )
        .unwrap()
        .config;
        let specs = plan(&config, &Facts::default());
        assert_eq!(specs[0].name, NAME);
        assert_eq!(specs[0].after, [SETTLED]);
        assert_eq!(specs[0].probe, Probe::File(READY_FILE.into()));
        assert_eq!(&specs[0].exec[..2], [AGENT, "net"]);
    }

    #[test]
    fn planned_for_nics_ovs_owns_without_a_network() {
        let config = plinth_config::parse(
            "t",
            "#cloud-config\nplinth:\n  genestack:\n    ovn:\n      bridges: br-ex\n      ports: br-ex:ens4\n",
        )
        .unwrap()
        .config;
        assert_eq!(ovs_nics(&config), ["ens4"]);
        assert_eq!(plan(&config, &Facts::default())[0].name, NAME);
    }
}
