//! OpenSSH's server (`sshd`), only when some user has an SSH key (see `crate::cloud_init::users`): the
//! host keys are generated once with `ssh-keygen -A` into /etc/ssh (the /etc overlay lives on the
//! state partition, so they survive reboots and upgrades), then `/usr/sbin/sshd -D -e` runs with its
//! log on stderr; ready when port 22 accepts connections.

use plinth_config::MachineConfig;

use super::builtin::{daemon, oneshot};
use super::facts::Facts;
use crate::supervisor::spec::{Probe, ServiceSpec};

/// The server.
pub const SSHD: &str = "/usr/sbin/sshd";
/// Makes the missing host keys.
pub const SSH_KEYGEN: &str = "/usr/bin/ssh-keygen";

/// `sshd-keys` and `sshd`, when a key is configured.
pub fn plan(config: &MachineConfig, _: &Facts) -> Vec<ServiceSpec> {
    if !crate::cloud_init::users::any_keys(config) {
        return Vec::new();
    }
    // sshd refuses to start without its privilege-separation directory; /run is a fresh tmpfs.
    let script = format!("mkdir -p /run/sshd && chmod 0755 /run/sshd && {SSH_KEYGEN} -A");
    let keys = oneshot("sshd-keys", &["/bin/sh", "-c", &script], &[]);
    vec![
        keys,
        daemon("sshd", &[SSHD, "-D", "-e"], Probe::Tcp(22), &["sshd-keys"]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_with_a_key() {
        assert!(plan(&MachineConfig::default(), &Facts::default()).is_empty());
        let config = plinth_config::parse(
            "t",
            "#cloud-config\nusers:\n  - name: ops\n    ssh_authorized_keys: [ssh-ed25519 AAAA ops]\n",
        )
        .unwrap()
        .config;
        let specs = plan(&config, &Facts::default());
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["sshd-keys", "sshd"]);
        assert_eq!(specs[1].exec, [SSHD, "-D", "-e"]);
        assert_eq!(specs[1].probe, Probe::Tcp(22));
        assert_eq!(specs[1].after, ["sshd-keys"]);
        assert!(specs[0].exec[2].contains("ssh-keygen -A"));
    }
}
