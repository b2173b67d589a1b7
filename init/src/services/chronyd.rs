//! Time sync: `chronyd` in the foreground (`-d`) with the config the `time` phase writes from the
//! machine config (`host_contract::chrony`), restarted always; ready once running. Not planned when
//! `ntp.enabled` is false. With no NTP server in the config it reads the DHCP leases' servers from
//! the files the image's dhcpcd hook keeps in `/run/chrony-dhcp` (`sourcedir`); the hook tells it
//! of changes with `chronyc reload sources` over chronyd's command socket (`/run/chrony/`, made by
//! chronyd itself; the UDP command port is off). Started without waiting for anything: a lease
//! that comes before it is read when it starts.

use plinth_config::MachineConfig;

use super::builtin::daemon;
use super::facts::Facts;
use crate::host_contract::chrony::{self, CHRONYD, CONF};
use crate::supervisor::spec::{Probe, ServiceSpec};

/// The service name.
pub const NAME: &str = "chronyd";

/// chronyd, unless time sync is turned off.
pub fn plan(config: &MachineConfig, _: &Facts) -> Vec<ServiceSpec> {
    if chrony::plan(config).is_none() {
        return Vec::new();
    }
    vec![daemon(
        NAME,
        &[CHRONYD, "-d", "-f", CONF],
        Probe::Running,
        &[],
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_in_the_foreground_with_the_generated_config_unless_off() {
        let specs = plan(&MachineConfig::default(), &Facts::default());
        assert_eq!(specs[0].name, "chronyd");
        assert_eq!(specs[0].exec, [CHRONYD, "-d", "-f", CONF]);
        let off = crate::test_config::config("ntp:\n  enabled: false\n");
        assert!(plan(&off, &Facts::default()).is_empty());
    }
}
