//! The filesystems a booted system needs, as one table, and the pure decision of which of them are
//! missing (from `/proc/self/mountinfo`); [`mount_missing`] performs the mounts.

use nix::mount::{MsFlags, mount};

/// One entry of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mount {
    /// Filesystem type.
    pub fstype: &'static str,
    /// Where it goes.
    pub target: &'static str,
    /// Mount flags.
    pub flags: MsFlags,
    /// Mount data.
    pub data: &'static str,
}

const NOSUID_NODEV_NOEXEC: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

/// Mounted in this order, each only when its target is not a mount point yet.
pub const TABLE: &[Mount] = &[
    Mount {
        fstype: "proc",
        target: "/proc",
        flags: NOSUID_NODEV_NOEXEC,
        data: "",
    },
    Mount {
        fstype: "sysfs",
        target: "/sys",
        flags: NOSUID_NODEV_NOEXEC,
        data: "",
    },
    Mount {
        fstype: "devtmpfs",
        target: "/dev",
        flags: MsFlags::MS_NOSUID,
        data: "mode=0755",
    },
    Mount {
        fstype: "devpts",
        target: "/dev/pts",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NOEXEC),
        data: "gid=5,mode=0620,ptmxmode=0666",
    },
    Mount {
        fstype: "tmpfs",
        target: "/dev/shm",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV),
        data: "mode=1777",
    },
    Mount {
        fstype: "tmpfs",
        target: "/run",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV),
        data: "mode=0755",
    },
    Mount {
        fstype: "cgroup2",
        target: "/sys/fs/cgroup",
        flags: NOSUID_NODEV_NOEXEC,
        data: "nsdelegate",
    },
    Mount {
        fstype: "securityfs",
        target: "/sys/kernel/security",
        flags: NOSUID_NODEV_NOEXEC,
        data: "",
    },
    Mount {
        fstype: "bpf",
        target: "/sys/fs/bpf",
        flags: NOSUID_NODEV_NOEXEC,
        data: "mode=0700",
    },
];

/// The mount points listed in a `mountinfo` text (field 5).
pub fn mount_points(mountinfo: &str) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .map(unescape)
        .collect()
}

/// The entries of `table` whose targets are not mounted according to `mountinfo`.
pub fn missing<'a>(table: &'a [Mount], mountinfo: &str) -> Vec<&'a Mount> {
    let mounted = mount_points(mountinfo);
    table
        .iter()
        .filter(|m| !mounted.iter().any(|p| p == m.target))
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        let octal = |b: u8| (b'0'..=b'7').contains(&b).then(|| u32::from(b - b'0'));
        let code = match (first, tail) {
            (b'\\', [a, b, c, ..]) => octal(*a)
                .zip(octal(*b))
                .zip(octal(*c))
                .and_then(|((a, b), c)| char::from_u32(a * 64 + b * 8 + c)),
            _ => None,
        };
        match code {
            Some(c) => {
                out.push(c);
                rest = tail.get(3..).unwrap_or_default();
            }
            None => {
                out.push(char::from(first));
                rest = tail;
            }
        }
    }
    out
}

/// Mounts every missing entry, one by one; returns a line per mount done or failed. A failure is
/// reported, never fatal.
pub fn mount_missing() -> Vec<String> {
    let mut report = Vec::new();
    for entry in TABLE {
        // Re-read each time: mounting /proc makes mountinfo readable in the first place.
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        if !missing(std::slice::from_ref(entry), &mountinfo).is_empty() {
            let _ = std::fs::create_dir_all(entry.target);
            let data = (!entry.data.is_empty()).then_some(entry.data);
            match mount(
                Some(entry.fstype),
                entry.target,
                Some(entry.fstype),
                entry.flags,
                data,
            ) {
                Ok(()) => report.push(format!("mounted {} on {}", entry.fstype, entry.target)),
                Err(e) => report.push(format!(
                    "cannot mount {} on {}: {e}",
                    entry.fstype, entry.target
                )),
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw
23 1 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:6 - sysfs sysfs rw
24 1 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw,size=10k
30 23 0:26 / /sys/fs/cgroup rw shared:9 - cgroup2 cgroup2 rw
31 1 0:30 / /mnt/with\\040space rw - tmpfs tmpfs rw
";

    #[test]
    fn finds_what_is_missing() {
        let missing: Vec<&str> = missing(TABLE, MOUNTINFO).iter().map(|m| m.target).collect();
        assert_eq!(
            missing,
            [
                "/dev/pts",
                "/dev/shm",
                "/run",
                "/sys/kernel/security",
                "/sys/fs/bpf"
            ]
        );
        assert_eq!(super::missing(TABLE, "").len(), TABLE.len());
    }

    #[test]
    fn unescapes_mount_points() {
        assert!(mount_points(MOUNTINFO).contains(&"/mnt/with space".to_string()));
    }

    #[test]
    fn parents_come_before_children() {
        for (i, m) in TABLE.iter().enumerate() {
            for earlier_child in &TABLE[..i] {
                assert!(
                    !earlier_child.target.starts_with(&format!("{}/", m.target)),
                    "{} before {}",
                    earlier_child.target,
                    m.target
                );
            }
        }
    }
}
