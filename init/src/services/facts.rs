//! What the built-in planners need to know about the machine: its ethernet interfaces (name, MAC,
//! driver), read from `/sys/class/net`, the kernel command line's arguments (`/proc/cmdline`, split
//! as the kernel does by `plinth_config::sources::cmdline::split`) and whether bash is installed,
//! all read at plan time. Gathering is the only effect here.

use std::path::Path;

/// One physical ethernet interface.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ethernet {
    /// Kernel name.
    pub name: String,
    /// MAC address, lower case.
    pub mac: String,
    /// Kernel driver.
    pub driver: String,
}

/// The machine facts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// Physical ethernet interfaces, by name.
    pub ethernets: Vec<Ethernet>,
    /// The kernel command line, one argument each (quotes removed).
    pub cmdline: Vec<String>,
    /// `/bin/bash` exists.
    pub bash: bool,
}

/// Reads the facts from `/sys`, `/proc/cmdline` and `/bin`.
pub fn gather() -> Facts {
    Facts {
        ethernets: ethernets(Path::new("/sys/class/net")),
        cmdline: cmdline_args(&std::fs::read_to_string("/proc/cmdline").unwrap_or_default()),
        bash: Path::new("/bin/bash").exists(),
    }
}

/// The arguments of a kernel command line; an unterminated quote (which the kernel would not have
/// passed) keeps the arguments before it.
pub fn cmdline_args(text: &str) -> Vec<String> {
    use plinth_config::sources::cmdline::split;
    split(text).unwrap_or_else(|_| {
        let before = text.rfind('"').map_or(text, |at| &text[..at]);
        split(before).unwrap_or_default()
    })
}

/// Physical (backed by a device) ARPHRD_ETHER interfaces under `sys_class_net`.
pub fn ethernets(sys_class_net: &Path) -> Vec<Ethernet> {
    let Ok(entries) = std::fs::read_dir(sys_class_net) else {
        return Vec::new();
    };
    let mut found: Vec<Ethernet> = entries
        .flatten()
        .filter(|e| e.path().join("device").exists())
        .filter(|e| std::fs::read_to_string(e.path().join("type")).is_ok_and(|t| t.trim() == "1"))
        .map(|e| Ethernet {
            name: e.file_name().to_string_lossy().into_owned(),
            mac: std::fs::read_to_string(e.path().join("address"))
                .unwrap_or_default()
                .trim()
                .to_lowercase(),
            driver: std::fs::read_link(e.path().join("device/driver"))
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_default(),
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_kernel_command_line_like_the_kernel() {
        assert_eq!(
            cmdline_args("console=ttyS0 \"a b\" plinth.autologin=ttyS1\n"),
            ["console=ttyS0", "a b", "plinth.autologin=ttyS1"]
        );
        assert_eq!(
            cmdline_args("quiet plinth.autologin=tty1 \"broken"),
            ["quiet", "plinth.autologin=tty1"]
        );
    }

    #[test]
    fn reads_physical_ethernets_from_a_sysfs_tree() {
        let root = std::env::temp_dir().join(format!("plinth-facts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let add = |name: &str, kind: &str, device: bool| {
            let dir = root.join("net").join(name);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("type"), format!("{kind}\n")).unwrap();
            std::fs::write(dir.join("address"), "52:54:00:AB:CD:EF\n").unwrap();
            if device {
                std::fs::create_dir_all(root.join("drivers/virtio_net")).unwrap();
                std::fs::create_dir_all(dir.join("device")).unwrap();
                std::os::unix::fs::symlink(
                    root.join("drivers/virtio_net"),
                    dir.join("device/driver"),
                )
                .unwrap();
            }
        };
        add("enp0s3", "1", true);
        add("lo", "772", false);
        add("veth0", "1", false);
        let found = ethernets(&root.join("net"));
        assert_eq!(
            found,
            [Ethernet {
                name: "enp0s3".into(),
                mac: "52:54:00:ab:cd:ef".into(),
                driver: "virtio_net".into()
            }]
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
