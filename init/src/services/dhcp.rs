//! DHCP: one `dhcp` service, `dhcpcd` in the foreground (`-B`) in its manager mode, which runs a
//! client on each interface it is allowed.
//!
//! - No network config: `dhcpcd -B -A --nodelay` (no ARP probe and no random wait before the
//!   first DISCOVER, see `DEFAULTS` in `agents/src/dhcpcd/conf.rs`) on every interface
//!   with the image's `/etc/dhcpcd.conf`, after `udev-settle` (dropped when udev is not installed).
//! - A network config with any device (ethernet, bond, VLAN, bridge) asking for `dhcp4`/`dhcp6`:
//!   the interfaces the network agent lists in its ready file (`/run/plinth/net.dhcp`, the
//!   versioned document of `plinth_config::net_ready`: its DHCP clients, by the interfaces' final
//!   names: after udev's renames, `set-name`, and with bonds, VLANs and bridges created), each
//!   with its own options. The service comes after the agent (`network`), which is
//!   ready once it has written that file. Its program is `plinth-agent dhcpcd READY CONF DHCPCD`
//!   ([`SUBCOMMAND`], `agents/src/dhcpcd/`): each time the service starts it reads the ready
//!   file, writes `/run/plinth/dhcpcd.conf` (the image's defaults, `allowinterfaces`, and per
//!   interface `ipv4only`/`ipv6only`, `metric N`, `nohook resolv.conf`) and execs
//!   `dhcpcd -B -f /run/plinth/dhcpcd.conf`, so the supervisor watches dhcpcd itself. Reading the
//!   agent's answer, rather than resolving `match:` clauses against the interfaces seen at plan
//!   time, matters because plan time can come before udev has renamed them (eth0 then, eno1
//!   later). An interface that appears later (hot-plug) is not added until the service restarts.
//!   When the file lists nothing (say a `match` found no NIC), dhcpcd runs on no interface,
//!   saying so.
//! - A network config asking for no DHCP: no service.
//!
//! The service's program is plinth-agent, so the built-ins' missing-program rule (which looks at a
//! spec's first argument) does not see a missing dhcpcd: the service fails saying to install
//! dhcpcd-base instead of being skipped. Skipping would need a spec to list every program it
//! needs (a field of `ServiceSpec` and the rule in `services/mod.rs`); when the config asks for
//! DHCP, a loud failure is the better answer anyway. Without plinth-agent the service is skipped,
//! as the `network` service that writes its ready file is.

use plinth_config::MachineConfig;
use plinth_config::network::Network;

use super::builtin::daemon;
use super::facts::Facts;
use super::net::{AGENT, READY_FILE};
use super::udevd::SETTLED;
use crate::supervisor::spec::{Probe, ServiceSpec};

/// The DHCP client.
pub const DHCPCD: &str = "/usr/sbin/dhcpcd";
/// The service name (one of the config crate's `BUILTIN_SERVICES`, so users may come `after` it).
pub const NAME: &str = "dhcp";
/// `plinth-agent dhcpcd READY CONF DHCPCD`: the service's program with a network config (the
/// agent writes the config and execs dhcpcd).
pub const SUBCOMMAND: &str = "dhcpcd";
/// The dhcpcd config written from the ready file.
pub const CONF: &str = "/run/plinth/dhcpcd.conf";

/// The DHCP service the config asks for, if any.
pub fn plan(config: &MachineConfig, _: &Facts) -> Vec<ServiceSpec> {
    let Some(network) = &config.network else {
        // Every interface but those OVS owns (`-Z`, dhcpcd's denyinterfaces); the agent brings
        // those up with no address, so dhcpcd comes after it then.
        let owned = super::net::ovs_nics(config).join(",");
        let mut exec = vec![DHCPCD, "-B", "-A", "--nodelay"];
        let mut after = vec![SETTLED];
        if !owned.is_empty() {
            exec.extend(["-Z", owned.as_str()]);
            after.push(super::net::NAME);
        }
        return vec![daemon(NAME, &exec, Probe::Running, &after)];
    };
    if !wants_dhcp(network) {
        return Vec::new();
    }
    // After the network agent: its ready file lists the interfaces, and bonds, VLANs and bridges
    // exist before a client runs on them.
    vec![daemon(
        NAME,
        &[AGENT, SUBCOMMAND, READY_FILE, CONF, DHCPCD],
        Probe::Running,
        &[SETTLED, super::net::NAME],
    )]
}

/// Whether any device of `network` asks for DHCPv4 or DHCPv6.
fn wants_dhcp(network: &Network) -> bool {
    let asks = |v4: Option<bool>, v6: Option<bool>| v4 == Some(true) || v6 == Some(true);
    network.ethernets.values().any(|d| asks(d.dhcp4, d.dhcp6))
        || network.bonds.values().any(|d| asks(d.dhcp4, d.dhcp6))
        || network.vlans.values().any(|d| asks(d.dhcp4, d.dhcp6))
        || network.bridges.values().any(|d| asks(d.dhcp4, d.dhcp6))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_config::config;

    #[test]
    fn no_network_config_means_dhcp_everywhere() {
        let specs = plan(&MachineConfig::default(), &Facts::default());
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].name, "dhcp");
        assert_eq!(specs[0].exec, [DHCPCD, "-B", "-A", "--nodelay"]);
        assert_eq!(specs[0].after, [SETTLED]);
    }

    /// Without a network config, DHCP runs everywhere except on the NICs OVS owns, after the agent
    /// has brought those up.
    #[test]
    fn no_dhcp_on_nics_ovs_owns() {
        let specs = plan(
            &config(
                "plinth:\n  genestack:\n    ovn:\n      bridges: br-ex\n      bonds: br-ex:bond0:eno1+eno3\n",
            ),
            &Facts::default(),
        );
        assert_eq!(
            specs[0].exec,
            [DHCPCD, "-B", "-A", "--nodelay", "-Z", "eno1,eno3"]
        );
        assert_eq!(specs[0].after, [SETTLED, crate::services::net::NAME]);
    }

    #[test]
    fn a_network_config_takes_the_interfaces_from_the_agents_ready_file() {
        let specs = plan(
            &config(
                "network:\n  version: 2\n  ethernets:\n    lan:\n      match:\n        macaddress: 52:54:00:00:00:02\n      dhcp4: true\n",
            ),
            &Facts::default(),
        );
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].name, "dhcp");
        assert_eq!(specs[0].exec, [AGENT, SUBCOMMAND, READY_FILE, CONF, DHCPCD]);
        assert_eq!(specs[0].after, [SETTLED, super::super::net::NAME]);
    }

    #[test]
    fn dhcp_on_a_bridge_or_bond_counts_and_static_only_plans_nothing() {
        let bridge = plan(
            &config(
                "network:\n  version: 2\n  ethernets:\n    eno1: {}\n  bridges:\n    br0:\n      interfaces: [eno1]\n      dhcp6: true\n",
            ),
            &Facts::default(),
        );
        assert_eq!(bridge.len(), 1);
        let static_only = plan(
            &config(
                "network:\n  version: 2\n  ethernets:\n    eno2:\n      addresses: [10.0.0.2/24]\n      dhcp4: false\n",
            ),
            &Facts::default(),
        );
        assert!(static_only.is_empty());
    }
}
