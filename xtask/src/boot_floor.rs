//! The floor that `cargo xtask bench boot` compares Plinth with: the same kernel and the same
//! root squashfs, booted PXE-style, but with a minimal shell script as init instead of
//! plinth-init. Its `/init` (static busybox) mounts the squashfs with writable tmpfs overlays and
//! switches root; PID 1 is then a busybox shell that starts the daemons Plinth's default config
//! starts — udevd (then trigger and settle), dhcpcd, the node exporter — in parallel, and says
//! `floor: ready` once settle is done and the node exporter answers.
//!
//! The initrd is the image's `pxe/rootfs.img` (it holds `/rootfs.squashfs`) followed by a small
//! cpio (written by [`CpioWriter`], as the image's own initramfs is) with the script, busybox and
//! the modules the script loads (decompressed, since busybox `insmod` does not read `.ko.xz`).

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use plinth_kmod::{ModulesDep, module_name};
use qemu_tests::image::ImageSet;
use qemu_tests::timeline::Markers;

use crate::cmd;
use crate::image::cpio::CpioWriter;

/// The modules `/init` loads to mount the root.
const MODULES: [&str; 3] = ["loop", "squashfs", "overlay"];

/// The static busybox (Debian's `busybox-static`) that runs `/init` before the root is mounted.
pub const BUSYBOX_STATIC: &str = "/bin/busybox";

/// The floor's console markers.
pub const MARKERS: Markers = Markers {
    pid1_start: r"\[(\d+\.\d+)\] floor: init starting",
    ready: r"floor: ready",
};

/// The kernel command line of a floor boot.
pub const CMDLINE: &str = "console=ttyS0,115200 rdinit=/init";

/// `name`'s module file and those it needs, dependencies first, from `modules.dep`.
pub fn module_closure(modules_dep: &str, names: &[&str]) -> Result<Vec<String>> {
    Ok(ModulesDep::parse(modules_dep).load_order(names)?)
}

/// `/init`: mount the root from `/rootfs.squashfs` with tmpfs overlays and switch to PID 1's script.
pub fn init_script(module_files: &[String]) -> String {
    let insmods: String = module_files
        .iter()
        .map(|m| format!("$b insmod /lib/floor/{m}\n"))
        .collect();
    format!(
        r#"#!/bin/busybox sh
b=/bin/busybox
$b mount -t proc proc /proc
$b mount -t sysfs sysfs /sys
$b mount -t devtmpfs devtmpfs /dev
read up _ < /proc/uptime
echo "[$up] floor: init starting"
{insmods}$b mount -t squashfs -o loop,ro /rootfs.squashfs /newroot
$b mount -t tmpfs -o mode=0755 tmpfs /newroot/run
$b mount -t tmpfs tmpfs /newroot/tmp
for d in etc var opt root; do
  $b mkdir -p /newroot/run/floor/$d/upper /newroot/run/floor/$d/work
  $b mount -t overlay overlay -o lowerdir=/newroot/$d,upperdir=/newroot/run/floor/$d/upper,workdir=/newroot/run/floor/$d/work /newroot/$d
done
$b mount --move /proc /newroot/proc
$b mount --move /sys /newroot/sys
$b mount --move /dev /newroot/dev
exec $b switch_root /newroot /usr/bin/busybox sh -c "$($b cat /pid1.sh)"
"#
    )
}

/// PID 1 after switch_root: the daemons in parallel, then `floor: ready`, then reap forever.
pub const PID1_SCRIPT: &str = r#"export PATH=/usr/sbin:/usr/bin:/sbin:/bin
b=/usr/bin/busybox
$b ip link set lo up
/usr/lib/systemd/systemd-udevd &
( /usr/bin/udevadm trigger --action=add; /usr/bin/udevadm settle --timeout=120 ) &
settle=$!
/usr/sbin/dhcpcd -B &
$b mkdir -p /opt/node_exporter/textfile_collector
/usr/bin/prometheus-node-exporter --web.listen-address=:9100 --collector.textfile.directory=/opt/node_exporter/textfile_collector >/dev/null 2>&1 &
wait $settle
until $b wget -q -O /dev/null http://127.0.0.1:9100/metrics 2>/dev/null; do $b usleep 50000; done
read up _ < /proc/uptime
echo "[$up] floor: ready"
echo "floor: pid1-rss-kib=$($b awk '/^VmRSS:/ { print $2 }' /proc/1/status)"
while :; do wait; $b sleep 1; done
"#;

/// Builds the floor initrd in `scratch` for `image` (kernel `kver`) and returns its path.
pub fn build(image: &ImageSet, kver: &str, scratch: &Path) -> Result<PathBuf> {
    if !Path::new(BUSYBOX_STATIC).is_file() {
        bail!("{BUSYBOX_STATIC} is missing: install busybox-static");
    }
    let _ = std::fs::remove_dir_all(scratch);
    let unpacked = scratch.join("rootfs");
    std::fs::create_dir_all(&unpacked)?;
    // The squashfs out of the PXE root initrd, then modules.dep and the modules out of it.
    let rootfs = std::fs::File::open(&image.rootfs)
        .with_context(|| format!("opening {}", image.rootfs.display()))?;
    cmd::run(
        Command::new("cpio")
            .args(["-idm", "--quiet", "rootfs.squashfs"])
            .current_dir(&unpacked)
            .stdin(rootfs),
    )?;
    let squashfs = unpacked.join("rootfs.squashfs");
    let moddir = format!("usr/lib/modules/{kver}");
    let tree = scratch.join("tree");
    let unsquash = |paths: &[String]| {
        cmd::output(
            Command::new("unsquashfs")
                .args(["-q", "-n", "-f", "-d"])
                .arg(&tree)
                .arg(&squashfs)
                .args(paths),
        )
    };
    unsquash(&[format!("{moddir}/modules.dep")])?;
    let dep = std::fs::read_to_string(tree.join(&moddir).join("modules.dep"))?;
    let files = module_closure(&dep, &MODULES)?;
    unsquash(
        &files
            .iter()
            .map(|f| format!("{moddir}/{f}"))
            .collect::<Vec<_>>(),
    )?;

    let floor_cpio = scratch.join("floor.cpio");
    let mut w = CpioWriter::new(BufWriter::new(
        std::fs::File::create(&floor_cpio)
            .with_context(|| format!("creating {}", floor_cpio.display()))?,
    ));
    for d in ["bin", "proc", "sys", "dev", "newroot", "lib", "lib/floor"] {
        w.dir(d, 0o755)?;
    }
    w.file_from("bin/busybox", 0o755, Path::new(BUSYBOX_STATIC))?;
    let mut loaded = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let src = tree.join(&moddir).join(f);
        let name = format!("{i:02}-{}.ko", module_name(f));
        let module = if f.ends_with(".xz") {
            let out = Command::new("xz")
                .args(["-dc"])
                .arg(&src)
                .output()
                .with_context(|| format!("decompressing {f}"))?;
            if !out.status.success() {
                bail!("decompressing {f} failed");
            }
            out.stdout
        } else {
            std::fs::read(&src).with_context(|| format!("reading {}", src.display()))?
        };
        w.file_bytes(&format!("lib/floor/{name}"), 0o644, &module)?;
        loaded.push(name);
    }
    w.file_bytes("init", 0o755, init_script(&loaded).as_bytes())?;
    w.file_bytes("pid1.sh", 0o644, PID1_SCRIPT.as_bytes())?;
    w.finish()?;
    let initrd = scratch.join("floor-initrd.img");
    qemu_tests::node::concat_initrds(&[&image.rootfs, &floor_cpio], &initrd)?;
    let _ = std::fs::remove_dir_all(&unpacked);
    Ok(initrd)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEP: &str = "kernel/fs/squashfs/squashfs.ko.xz:\n\
        kernel/fs/overlayfs/overlay.ko.xz:\n\
        kernel/drivers/block/loop.ko.xz:\n\
        kernel/fs/ext4/ext4.ko.xz: kernel/lib/crc16.ko.xz kernel/fs/mbcache.ko.xz kernel/fs/jbd2/jbd2.ko.xz\n\
        kernel/lib/crc16.ko.xz:\n\
        kernel/fs/mbcache.ko.xz:\n\
        kernel/fs/jbd2/jbd2.ko.xz:\n\
        kernel/drivers/md/dm-mod.ko.xz:\n";

    #[test]
    fn modules_come_after_what_they_need_and_once() {
        // The same order as the image's own boot (modprobe's: listed dependencies last to first).
        let order = module_closure(DEP, &["ext4", "loop", "jbd2"]).unwrap();
        assert_eq!(
            order,
            [
                "kernel/fs/jbd2/jbd2.ko.xz",
                "kernel/fs/mbcache.ko.xz",
                "kernel/lib/crc16.ko.xz",
                "kernel/fs/ext4/ext4.ko.xz",
                "kernel/drivers/block/loop.ko.xz",
            ]
        );
        assert_eq!(
            module_closure(DEP, &["dm_mod"]).unwrap(),
            ["kernel/drivers/md/dm-mod.ko.xz"]
        );
        assert!(module_closure(DEP, &["zfs"]).is_err());
    }

    #[test]
    fn init_loads_the_modules_in_order_and_switches_root() {
        let s = init_script(&["00-loop.ko".into(), "01-squashfs.ko".into()]);
        let loop_at = s.find("insmod /lib/floor/00-loop.ko").unwrap();
        let sq_at = s.find("insmod /lib/floor/01-squashfs.ko").unwrap();
        let mount_at = s.find("mount -t squashfs").unwrap();
        assert!(loop_at < sq_at && sq_at < mount_at);
        assert!(
            s.trim_end()
                .ends_with(r#"switch_root /newroot /usr/bin/busybox sh -c "$($b cat /pid1.sh)""#)
        );
        assert!(s.contains(r#"echo "[$up] floor: init starting""#));
    }

    #[test]
    fn pid1_starts_the_daemons_before_waiting() {
        let ready = PID1_SCRIPT.find("floor: ready").unwrap();
        for daemon in ["systemd-udevd &", "dhcpcd -B &", "prometheus-node-exporter"] {
            assert!(PID1_SCRIPT.find(daemon).unwrap() < ready, "{daemon}");
        }
    }
}
