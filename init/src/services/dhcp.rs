//! DHCP: one `dhcp` service, `dhcpcd` in the foreground (`-B`) in its manager mode, which runs a
//! client on each interface it is allowed.
//!
//! - No network config: every interface, after `udev-settle` (dropped when udev is not installed).
//! - A network config with any device (ethernet, bond, VLAN, bridge) asking for `dhcp4`/`dhcp6`:
//!   the interfaces the network agent lists in its ready file (`/run/plinth/net.dhcp`, one
//!   `<dhcp4|dhcp6|dhcp4+6> <interface> [...]` line per DHCP client, by the interfaces' final names:
//!   after udev's renames, `set-name`, and with bonds, VLANs and bridges created). The service comes
//!   after the agent (`network`), which is ready once it has written that file, so the list is read
//!   when dhcpcd starts, by a small `sh -c` wrapper ([`ALLOW_FROM_READY_FILE`]) that turns it into
//!   `--allowinterfaces a,b` (`-4`/`-6` when every line asks for one family only) and execs
//!   dhcpcd. Reading the agent's answer, rather than resolving `match:` clauses against the
//!   interfaces seen at plan time, matters because plan time can come before udev has renamed
//!   them (eth0 then, eno1 later). An interface that appears later (hot-plug) is not added until
//!   the service restarts. When the file lists nothing (say a `match` found no NIC), dhcpcd runs
//!   on no interface, saying so.
//! - A network config asking for no DHCP: no service.
//!
//! The wrapper is the service's program (`/bin/sh`), so the built-ins' missing-program rule does
//! not see a missing dhcpcd there; the wrapper then fails saying to install dhcpcd-base.

use plinth_config::MachineConfig;
use plinth_config::network::Network;

use super::builtin::daemon;
use super::facts::Facts;
use super::net::READY_FILE;
use super::udevd::SETTLED;
use crate::supervisor::spec::{Probe, ServiceSpec};

/// The DHCP client.
pub const DHCPCD: &str = "/usr/sbin/dhcpcd";
/// The service name (one of the config crate's `BUILTIN_SERVICES`, so users may come `after` it).
pub const NAME: &str = "dhcp";
/// The shell that runs [`ALLOW_FROM_READY_FILE`].
pub const SH: &str = "/bin/sh";

/// `sh -c` script: `$1` is the agent's ready file, `$2` dhcpcd. Execs dhcpcd allowed on the
/// interfaces the file lists.
pub const ALLOW_FROM_READY_FILE: &str = r#"ready=$1 dhcpcd=$2
if [ ! -x "$dhcpcd" ]; then
    echo "$dhcpcd is not installed: no DHCP client for the network config's dhcp4/dhcp6; install dhcpcd-base" >&2
    exit 1
fi
if [ ! -r "$ready" ]; then
    echo "cannot read $ready, the network agent's list of DHCP interfaces: check the network service (plinthctl status network)" >&2
    exit 1
fi
names= v4=true v6=true
while read -r families name rest; do
    [ -n "$name" ] || continue
    case $families in
    dhcp4) v6=false ;;
    dhcp6) v4=false ;;
    *) v4=false v6=false ;;
    esac
    names=${names:+$names,}$name
done < "$ready"
if [ -z "$names" ]; then
    echo "the network agent wants no DHCP client ($ready is empty): dhcpcd runs on no interface"
    exec "$dhcpcd" -B --denyinterfaces '*'
fi
family=
if $v4; then family=-4; elif $v6; then family=-6; fi
echo "dhcpcd on $names (from $ready)"
exec "$dhcpcd" -B $family --allowinterfaces "$names"
"#;

/// The DHCP service the config asks for, if any.
pub fn plan(config: &MachineConfig, _: &Facts) -> Vec<ServiceSpec> {
    let Some(network) = &config.network else {
        return vec![daemon(NAME, &[DHCPCD, "-B"], Probe::Running, &[SETTLED])];
    };
    if !wants_dhcp(network) {
        return Vec::new();
    }
    // After the network agent: its ready file lists the interfaces, and bonds, VLANs and bridges
    // exist before a client runs on them.
    vec![daemon(
        NAME,
        &[SH, "-c", ALLOW_FROM_READY_FILE, NAME, READY_FILE, DHCPCD],
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

    fn config(yaml_network: &str) -> MachineConfig {
        let text = format!("#cloud-config\n{yaml_network}");
        plinth_config::parse("test", &text)
            .unwrap_or_else(|d| panic!("{d}"))
            .config
    }

    #[test]
    fn no_network_config_means_dhcp_everywhere() {
        let specs = plan(&MachineConfig::default(), &Facts::default());
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].name, "dhcp");
        assert_eq!(specs[0].exec, [DHCPCD, "-B"]);
        assert_eq!(specs[0].after, [SETTLED]);
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
        assert_eq!(
            specs[0].exec,
            [SH, "-c", ALLOW_FROM_READY_FILE, NAME, READY_FILE, DHCPCD]
        );
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

    /// Runs the wrapper with `ready` as the ready file's content (`None`: no file) and a fake
    /// dhcpcd that prints its arguments; returns stdout, stderr and whether it succeeded.
    fn wrapper(ready: Option<&str>, dhcpcd_installed: bool) -> (String, String, bool) {
        use std::os::unix::fs::PermissionsExt;
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "plinth-dhcp-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("net.dhcp");
        if let Some(text) = ready {
            std::fs::write(&file, text).unwrap();
        }
        let fake = dir.join("dhcpcd");
        if dhcpcd_installed {
            std::fs::write(&fake, "#!/bin/sh\necho \"ran: $*\"\n").unwrap();
            std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let out = std::process::Command::new(SH)
            .args(["-c", ALLOW_FROM_READY_FILE, NAME])
            .arg(&file)
            .arg(&fake)
            .output()
            .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.success(),
        )
    }

    fn dhcpcd_line(ready: &str) -> String {
        let (stdout, stderr, ok) = wrapper(Some(ready), true);
        assert!(ok, "{stdout}{stderr}");
        stdout
            .lines()
            .find_map(|l| l.strip_prefix("ran: "))
            .unwrap_or_else(|| panic!("dhcpcd did not run: {stdout}{stderr}"))
            .to_string()
    }

    #[test]
    fn the_wrapper_allows_the_listed_interfaces_with_their_families() {
        assert_eq!(
            dhcpcd_line("dhcp4 eno1 metric=100\ndhcp4 lan0 nodns\n"),
            "-B -4 --allowinterfaces eno1,lan0"
        );
        assert_eq!(dhcpcd_line("dhcp6 br0\n"), "-B -6 --allowinterfaces br0");
        assert_eq!(
            dhcpcd_line("dhcp4 eno1\ndhcp6 bond0.42\n"),
            "-B --allowinterfaces eno1,bond0.42"
        );
        assert_eq!(dhcpcd_line("dhcp4+6 eno1\n"), "-B --allowinterfaces eno1");
    }

    #[test]
    fn the_wrapper_says_when_there_is_nothing_to_run() {
        assert_eq!(dhcpcd_line(""), "-B --denyinterfaces *");
        let (_, stderr, ok) = wrapper(None, true);
        assert!(!ok);
        assert!(stderr.contains("cannot read"), "{stderr}");
        let (_, stderr, ok) = wrapper(Some("dhcp4 eno1\n"), false);
        assert!(!ok);
        assert!(stderr.contains("install dhcpcd-base"), "{stderr}");
    }
}
