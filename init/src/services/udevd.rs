//! udev: `systemd-udevd` in the foreground (ready once its control socket accepts connections),
//! then `udevadm trigger --action=add` to replay the coldplug events, then `udevadm settle`. Services
//! that need device names, links or firmware come after `udev-settle`.

use plinth_config::MachineConfig;

use super::builtin::{daemon, oneshot};
use super::facts::Facts;
use crate::supervisor::spec::{Probe, ServiceSpec};

/// The udev daemon.
pub const UDEVD: &str = "/usr/lib/systemd/systemd-udevd";
/// udev's control tool.
pub const UDEVADM: &str = "/usr/bin/udevadm";
/// The service that dependents of a settled udev come after.
pub const SETTLED: &str = "udev-settle";

/// udevd, trigger and settle; always wanted on a machine.
pub fn plan(_: &MachineConfig, _: &Facts) -> Vec<ServiceSpec> {
    vec![
        daemon(
            "udevd",
            &[UDEVD],
            Probe::Unix("/run/udev/control".into()),
            &[],
        ),
        oneshot(
            "udev-trigger",
            &[UDEVADM, "trigger", "--action=add"],
            &["udevd"],
        ),
        oneshot(
            SETTLED,
            &[UDEVADM, "settle", "--timeout=120"],
            &["udev-trigger"],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_and_settle_follow_the_daemon() {
        let specs = plan(&MachineConfig::default(), &Facts::default());
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["udevd", "udev-trigger", "udev-settle"]);
        assert_eq!(specs[0].probe, Probe::Unix("/run/udev/control".into()));
        assert_eq!(specs[1].exec, [UDEVADM, "trigger", "--action=add"]);
        assert_eq!(specs[2].after, ["udev-trigger"]);
        assert!(specs[2].oneshot);
    }
}
