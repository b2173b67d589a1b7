//! Host-mode Open vSwitch (`plinth.ovs.mode: host`), four services from Debian's
//! `openvswitch-switch` and the agent: `ovsdb-init`, a oneshot `plinth-agent ovs init-db` that
//! makes the database on the state partition (`/var/lib/openvswitch/conf.db`; `ovsdb-tool create`
//! when missing, `convert` when the image's schema is newer) and the run directory;
//! `ovsdb-server` on it, ready once its unix socket accepts connections; `ovs-vswitchd`, ready
//! once it answers `ovs-appctl version` on its control socket; and `ovs-apply`, a oneshot
//! `plinth-agent ovs apply` that brings the database to the netplan's OVS bridges, bonds, patch
//! ports and VLAN ports through the OVSDB protocol. ovs-vswitchd comes after the `network` agent,
//! when there is one, so the NICs have their final names. A oneshot, not a re-applier: the database
//! keeps what it was given across restarts and reboots, and ovs-vswitchd rebuilds the datapath
//! from it by itself; the config changes only through a boot or `plinthctl config apply`, which
//! both run it again. It comes after `ovs-vswitchd`; the network agent gives the internal ports
//! their addresses when they appear. The `openvswitch` kernel module is loaded by the kernel contract. In `kube-ovn` mode
//! (the default) none of this runs: Kube-OVN's pods run OVS.

use plinth_config::MachineConfig;
use plinth_config::plinth::OvsMode;

use super::builtin::{daemon, oneshot};
use super::facts::Facts;
use super::net::{AGENT, CONFIG};
use crate::supervisor::spec::{Probe, ServiceSpec};

/// Debian's database server.
pub const OVSDB_SERVER: &str = "/usr/sbin/ovsdb-server";
/// Debian's switch daemon.
pub const OVS_VSWITCHD: &str = "/usr/sbin/ovs-vswitchd";
/// Debian's control client (readiness of ovs-vswitchd).
pub const OVS_APPCTL: &str = "/usr/bin/ovs-appctl";
/// The database, on the state partition.
pub const DB: &str = "/var/lib/openvswitch/conf.db";
/// The run directory.
pub const RUN_DIR: &str = "/run/openvswitch";
/// ovsdb-server's socket.
pub const DB_SOCKET: &str = "/run/openvswitch/db.sock";
/// ovs-vswitchd's control socket.
pub const VSWITCHD_CTL: &str = "/run/openvswitch/ovs-vswitchd.ctl";
/// The database oneshot's name.
pub const INIT: &str = "ovsdb-init";
/// The database server's name.
pub const SERVER: &str = "ovsdb-server";
/// The switch daemon's name.
pub const VSWITCHD: &str = "ovs-vswitchd";
/// The apply oneshot's name.
pub const APPLY: &str = "ovs-apply";

/// The four services, in host mode.
pub fn plan(config: &MachineConfig, facts: &Facts) -> Vec<ServiceSpec> {
    if config.plinth.ovs.mode != OvsMode::Host {
        return Vec::new();
    }
    // After the network agent's first pass, when there is one: the NICs have their final names
    // (`set-name`) before ovs-vswitchd opens them as ports.
    let network = !super::net::plan(config, facts).is_empty();
    let mut vswitchd_after = vec![SERVER];
    if network {
        vswitchd_after.push(super::net::NAME);
    }
    vec![
        oneshot(
            INIT,
            &[AGENT, "ovs", "init-db", "--db", DB, "--run-dir", RUN_DIR],
            &[],
        ),
        daemon(
            SERVER,
            &[
                OVSDB_SERVER,
                DB,
                &format!("--remote=punix:{DB_SOCKET}"),
                "--remote=db:Open_vSwitch,Open_vSwitch,manager_options",
                "--pidfile=/run/openvswitch/ovsdb-server.pid",
                "--unixctl=/run/openvswitch/ovsdb-server.ctl",
                "-vconsole:info",
                "-vsyslog:off",
                "-vfile:off",
            ],
            Probe::Unix(DB_SOCKET.into()),
            &[INIT],
        ),
        daemon(
            VSWITCHD,
            &[
                OVS_VSWITCHD,
                &format!("unix:{DB_SOCKET}"),
                "--pidfile=/run/openvswitch/ovs-vswitchd.pid",
                &format!("--unixctl={VSWITCHD_CTL}"),
                "-vconsole:info",
                "-vsyslog:off",
                "-vfile:off",
            ],
            Probe::Exec(
                [OVS_APPCTL, "-t", VSWITCHD_CTL, "version"]
                    .map(String::from)
                    .to_vec(),
            ),
            &vswitchd_after,
        ),
        oneshot(
            APPLY,
            &[
                AGENT, "ovs", "apply", "--config", CONFIG, "--socket", DB_SOCKET,
            ],
            &[VSWITCHD],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_config::config;

    #[test]
    fn kube_ovn_mode_runs_no_ovs_on_the_host() {
        assert!(plan(&MachineConfig::default(), &Facts::default()).is_empty());
    }

    #[test]
    fn host_mode_makes_the_db_then_runs_the_server_the_switch_and_the_apply() {
        let c = config(
            "plinth:\n  ovs:\n    mode: host\nnetwork:\n  version: 2\n  ethernets:\n    eth1: {}\n  bridges:\n    br0:\n      interfaces: [eth1]\n      openvswitch: {}\n",
        );
        let specs = plan(&c, &Facts::default());
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, [INIT, SERVER, VSWITCHD, APPLY]);
        assert!(specs[0].oneshot && specs[3].oneshot);
        assert_eq!(specs[1].probe, Probe::Unix(DB_SOCKET.into()));
        assert_eq!(specs[1].exec[..2], [OVSDB_SERVER, DB]);
        assert_eq!(specs[1].after, [INIT]);
        assert_eq!(specs[2].after, [SERVER, super::super::net::NAME]);
        assert!(matches!(&specs[2].probe, Probe::Exec(argv) if argv[0] == OVS_APPCTL));
        assert_eq!(specs[3].after, [VSWITCHD]);
        assert_eq!(&specs[3].exec[..3], [AGENT, "ovs", "apply"]);
        let (all, _) =
            super::super::plan_from(super::super::BUILTINS, &c, &Facts::default(), |_| true);
        let plan = crate::supervisor::planner::plan(all, &[], Default::default());
        assert!(plan.is_ok(), "{:?}", plan.err());
    }
}
