//! The floor that `cargo xtask bench boot` compares Plinth with: the same kernel and the same root
//! squashfs, booted PXE-style by the bench's shared initramfs ([`super::baseline`]), with a
//! minimal shell script as PID 1. It starts the daemons Plinth's bench config starts — udevd
//! (then trigger and settle), dhcpcd, chronyd, the node exporter — all at once, and says
//! `floor: ready` by the bench's one definition of ready once settle is done. dhcpcd gets the
//! options Plinth gives it (no ARP probe, no random wait before the first DISCOVER), so that
//! the floor measures the init, not a slower DHCP client setup.
//!
//! The initrd is the image's `pxe/rootfs.img` (it holds `/rootfs.squashfs`) followed by the
//! shared initramfs.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use qemu_tests::image::ImageSet;
use qemu_tests::timeline::Markers;

use super::baseline::{self, InitFile, InitModules};
use crate::cmd;

/// The label of the floor's ready line and its console markers.
pub const SAYS: (&str, Markers) = (
    LABEL,
    Markers {
        pid1_start: baseline::INIT_MARKER,
        ready: r"floor: ready",
    },
);
const LABEL: &str = "floor";

/// What PID 1 is after switch_root: the shell running `/pid1.sh` (read before the initramfs goes).
const PID1: &str = r#"/usr/bin/busybox sh -c "$($b cat /pid1.sh)""#;

/// PID 1's script: the daemons in parallel, then the ready check, then reap forever.
pub fn pid1_script() -> String {
    format!(
        r#"export PATH=/usr/sbin:/usr/bin:/sbin:/bin
b=/usr/bin/busybox
$b ip link set lo up
/usr/lib/systemd/systemd-udevd &
( /usr/bin/udevadm trigger --action=add; /usr/bin/udevadm settle --timeout=120 ) &
settle=$!
/usr/sbin/dhcpcd -B --noarp --nodelay &
/usr/sbin/chronyd
$b mkdir -p /opt/node_exporter/textfile_collector
/usr/bin/prometheus-node-exporter --web.listen-address=:9100 --collector.textfile.directory=/opt/node_exporter/textfile_collector >/dev/null 2>&1 &
wait $settle
{}while :; do wait; $b sleep 1; done
"#,
        baseline::ready_check(LABEL)
    )
}

/// The root squashfs of `image` (out of its PXE root initrd), unpacked into `scratch`.
pub fn plinth_root(image: &ImageSet, scratch: &Path) -> Result<PathBuf> {
    let unpacked = scratch.join("rootfs");
    let _ = std::fs::remove_dir_all(&unpacked);
    std::fs::create_dir_all(&unpacked)?;
    let rootfs = std::fs::File::open(&image.rootfs)
        .with_context(|| format!("opening {}", image.rootfs.display()))?;
    cmd::run(
        Command::new("cpio")
            .args(["-idm", "--quiet", "rootfs.squashfs"])
            .current_dir(&unpacked)
            .stdin(rootfs),
    )?;
    Ok(unpacked.join("rootfs.squashfs"))
}

/// Builds the floor initrd in `scratch` for `image` and returns its path.
pub fn initrd(image: &ImageSet, modules: &InitModules, scratch: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(scratch)?;
    let tail = scratch.join("floor.cpio");
    let script = InitFile {
        path: "pid1.sh".into(),
        mode: 0o644,
        contents: pid1_script(),
    };
    baseline::write_initrd(&tail, None, modules, PID1, &[script])?;
    let initrd = scratch.join("floor-initrd.img");
    qemu_tests::node::concat_initrds(&[&image.rootfs, &tail], &initrd)?;
    Ok(initrd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid1_starts_the_daemons_before_waiting_and_checks_ready_after_settle() {
        let s = pid1_script();
        let settle = s.find("wait $settle").unwrap();
        for daemon in [
            "systemd-udevd &",
            "dhcpcd -B --noarp --nodelay &",
            "/usr/sbin/chronyd",
            "prometheus-node-exporter",
        ] {
            assert!(s.find(daemon).unwrap() < settle, "{daemon}");
        }
        assert!(settle < s.find("floor: ready").unwrap());
    }
}
