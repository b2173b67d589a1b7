//! The storage services: `storage`, a oneshot `plinth-agent storage apply` that prepares the disks
//! of `plinth.storage` (after udev has named them, before the kubelet) and reports each disk's
//! state; `iscsid`, the iSCSI initiator Longhorn needs, on a Longhorn node; `multipathd`, with the
//! operator's multipath.conf the agent writes, when `plinth.storage.multipath` is set (skipped when
//! the image has no multipathd). A refused disk does not fail the oneshot: the node stays up and
//! says why (`plinthctl storage`).
//!
//! The boot's `ready` waits for them only when the node has disks to prepare: a node whose one
//! storage duty is the Longhorn role without a disk of its own (the default hyperconverged config)
//! only loads modules and starts iscsid for pods that come later, so that work runs in the
//! background and does not hold `ready` (under emulation it took over a minute on a loaded host).

use plinth_config::MachineConfig;
use plinth_config::plinth::GenestackRole;

use super::builtin::{daemon, oneshot};
use super::facts::Facts;
use super::net::AGENT;
use super::udevd::SETTLED;
use crate::supervisor::spec::{Probe, ServiceSpec};

/// The service name.
pub const NAME: &str = "storage";
/// The config part the `storage` phase writes for the agent.
pub const CONFIG: &str = "/run/plinth/storage.yaml";
/// The metrics file the agent writes in the node exporter's textfile directory.
pub const METRICS_FILE: &str = "plinth_storage.prom";
/// open-iscsi's daemon.
pub const ISCSID: &str = "/usr/sbin/iscsid";
/// multipath-tools' daemon.
pub const MULTIPATHD: &str = "/usr/sbin/multipathd";

/// Whether the agent runs: the config has disks, an iSCSI target or multipath.
pub fn planned(config: &MachineConfig) -> bool {
    let s = &config.plinth.storage;
    let roles = config.plinth.genestack.effective_roles();
    s.has_disks() || s.multipath.is_some() || s.iscsi_target_wanted(&roles) || longhorn(config)
}

/// A Longhorn node: a Longhorn disk or the Genestack role.
fn longhorn(config: &MachineConfig) -> bool {
    config.plinth.storage.longhorn.is_some()
        || config
            .plinth
            .genestack
            .effective_roles()
            .contains(&GenestackRole::Longhorn)
}

/// Whether `ready` waits for the storage services: only when there are disks to prepare.
fn holds_ready(config: &MachineConfig) -> bool {
    config.plinth.storage.has_disks()
}

/// `spec`, in the background when the node has no disks to prepare.
fn placed(config: &MachineConfig, spec: ServiceSpec) -> ServiceSpec {
    ServiceSpec {
        background: !holds_ready(config),
        ..spec
    }
}

/// The agent's oneshot.
pub fn plan(config: &MachineConfig, _: &Facts) -> Vec<ServiceSpec> {
    if !planned(config) {
        return Vec::new();
    }
    let textfile = format!(
        "{}/{METRICS_FILE}",
        config.plinth.exporters.node_exporter.textfile_dir
    );
    vec![placed(
        config,
        oneshot(
            NAME,
            &[
                AGENT,
                "storage",
                "apply",
                "--config",
                CONFIG,
                "--textfile",
                &textfile,
            ],
            &[SETTLED],
        ),
    )]
}

/// iscsid on a Longhorn node, after the agent loaded iscsi_tcp.
pub fn plan_iscsid(config: &MachineConfig, _: &Facts) -> Vec<ServiceSpec> {
    if !longhorn(config) {
        return Vec::new();
    }
    vec![placed(
        config,
        daemon("iscsid", &[ISCSID, "-f"], Probe::Running, &[NAME]),
    )]
}

/// multipathd, after the agent wrote multipath.conf.
pub fn plan_multipathd(config: &MachineConfig, _: &Facts) -> Vec<ServiceSpec> {
    if config.plinth.storage.multipath.is_none() {
        return Vec::new();
    }
    vec![placed(
        config,
        daemon(
            "multipathd",
            &[MULTIPATHD, "-d", "-s"],
            Probe::Running,
            &[NAME],
        ),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_config::config;

    #[test]
    fn nothing_without_storage() {
        let c = MachineConfig::default();
        assert!(plan(&c, &Facts::default()).is_empty());
        assert!(plan_iscsid(&c, &Facts::default()).is_empty());
        assert!(plan_multipathd(&c, &Facts::default()).is_empty());
    }

    #[test]
    fn a_longhorn_node_prepares_its_disk_then_runs_iscsid() {
        let c = config("plinth:\n  storage:\n    longhorn:\n      device: serial:lh0\n");
        let specs = plan(&c, &Facts::default());
        assert_eq!(specs[0].name, NAME);
        assert!(specs[0].oneshot);
        assert_eq!(specs[0].after, [SETTLED]);
        assert_eq!(
            specs[0].exec,
            [
                AGENT,
                "storage",
                "apply",
                "--config",
                CONFIG,
                "--textfile",
                "/opt/node_exporter/textfile_collector/plinth_storage.prom"
            ]
        );
        let iscsid = plan_iscsid(&c, &Facts::default());
        assert_eq!(iscsid[0].exec, [ISCSID, "-f"]);
        assert_eq!(iscsid[0].after, [NAME]);
        assert!(plan_multipathd(&c, &Facts::default()).is_empty());
        assert!(
            !specs[0].background && !iscsid[0].background,
            "ready waits for a disk"
        );
    }

    #[test]
    fn the_longhorn_role_without_a_disk_does_not_hold_ready() {
        let c = config("plinth:\n  genestack:\n    roles: [longhorn]\n");
        let specs = plan(&c, &Facts::default());
        let iscsid = plan_iscsid(&c, &Facts::default());
        assert_eq!(specs[0].exec[1..3], ["storage", "apply"]);
        assert!(specs[0].background, "{:?}", specs[0]);
        assert!(iscsid[0].background, "{:?}", iscsid[0]);
    }

    #[test]
    fn a_cinder_node_runs_the_agent_and_multipathd_when_asked() {
        let c = config(
            "plinth:\n  genestack:\n    roles: [storage]\n  storage:\n    lvm:\n      - name: cinder-volumes-1\n        devices: [serial:a]\n    multipath:\n      config: \"defaults {}\"\n",
        );
        assert_eq!(plan(&c, &Facts::default()).len(), 1);
        assert!(plan_iscsid(&c, &Facts::default()).is_empty());
        assert_eq!(plan_multipathd(&c, &Facts::default())[0].after, [NAME]);
    }
}
