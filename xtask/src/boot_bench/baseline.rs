//! What the bench's two baselines (the shell-script floor and systemd) share, so that they differ
//! from each other only in what runs as PID 1:
//!
//! - one initramfs `/init` (static busybox) that loads the modules it needs for the root, mounts a
//!   root squashfs from the initrd with tmpfs overlays on `/etc`, `/var`, `/opt` and `/root`,
//!   copies the variant's own files into them, and switches root to the variant's PID 1;
//! - one definition of ready, [`ready_check`]: udev has settled, a NIC holds a DHCP IPv4 address
//!   and the node exporter answers on :9100 — what Plinth's `plinth: ready` line also waits for
//!   (its `udev-settle` oneshot, the first lease in phase `time-sync`, the node exporter's probe).
//!
//! The modules come out of Plinth's own root (same kernel) and go in decompressed, since busybox
//! `insmod` does not read `.ko.xz`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use plinth_kmod::{ModulesDep, module_name};

use crate::cmd;
use crate::image::cpio::CpioWriter;

/// The modules `/init` loads to mount the root.
const MODULES: [&str; 3] = ["loop", "squashfs", "overlay"];

/// The static busybox (Debian's `busybox-static`) that runs `/init` before the root is mounted.
pub const BUSYBOX_STATIC: &str = "/bin/busybox";

/// What `/init` says first (with the kernel's uptime), the baselines' "PID 1 starts" marker.
pub const INIT_MARKER: &str = r"\[(\d+\.\d+)\] bench-init: starting";

/// The kernel command line of a baseline boot.
pub const CMDLINE: &str = "console=ttyS0,115200 rdinit=/init";

/// The root's kernel modules the initramfs needs: `(file name in the cpio, contents)`, in load order.
pub struct InitModules(Vec<(String, Vec<u8>)>);

/// `name`'s module file and those it needs, dependencies first, from `modules.dep`.
pub fn module_closure(modules_dep: &str, names: &[&str]) -> Result<Vec<String>> {
    Ok(ModulesDep::parse(modules_dep).load_order(names)?)
}

impl InitModules {
    /// Takes the modules for `kver` out of `squashfs` (a root image), unpacking into `scratch`.
    pub fn from_root(squashfs: &Path, kver: &str, scratch: &Path) -> Result<InitModules> {
        let moddir = format!("usr/lib/modules/{kver}");
        let tree = scratch.join("modules");
        let _ = std::fs::remove_dir_all(&tree);
        let unsquash = |paths: &[String]| {
            cmd::output(
                Command::new("unsquashfs")
                    .args(["-q", "-n", "-f", "-d"])
                    .arg(&tree)
                    .arg(squashfs)
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
        let mut out = Vec::new();
        for (i, f) in files.iter().enumerate() {
            let src = tree.join(&moddir).join(f);
            let name = format!("{i:02}-{}.ko", module_name(f));
            let module = if f.ends_with(".xz") {
                let done = Command::new("xz")
                    .args(["-dc"])
                    .arg(&src)
                    .output()
                    .with_context(|| format!("decompressing {f}: is xz-utils installed?"))?;
                if !done.status.success() {
                    bail!("decompressing {f} failed");
                }
                done.stdout
            } else {
                std::fs::read(&src).with_context(|| format!("reading {}", src.display()))?
            };
            out.push((name, module));
        }
        let _ = std::fs::remove_dir_all(&tree);
        Ok(InitModules(out))
    }

    fn names(&self) -> Vec<String> {
        self.0.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// `/init`: mount the root from `/rootfs.squashfs` with tmpfs overlays, copy [`ROOT_EXTRA`] into
/// it (new files, dated now), and switch root to `pid1` (a command line, run by busybox `switch_root`).
pub fn init_script(module_files: &[String], pid1: &str) -> String {
    let insmods: String = module_files
        .iter()
        .map(|m| format!("$b insmod /lib/bench/{m}\n"))
        .collect();
    format!(
        r#"#!/bin/busybox sh
b=/bin/busybox
$b mount -t proc proc /proc
$b mount -t sysfs sysfs /sys
$b mount -t devtmpfs devtmpfs /dev
read up _ < /proc/uptime
echo "[$up] bench-init: starting"
{insmods}$b mount -t squashfs -o loop,ro /rootfs.squashfs /newroot
$b mount -t tmpfs -o mode=0755 tmpfs /newroot/run
$b mount -t tmpfs tmpfs /newroot/tmp
for d in etc var opt root; do
  $b mkdir -p /newroot/run/bench/$d/upper /newroot/run/bench/$d/work
  $b mount -t overlay overlay -o lowerdir=/newroot/$d,upperdir=/newroot/run/bench/$d/upper,workdir=/newroot/run/bench/$d/work /newroot/$d
done
[ -d /{ROOT_EXTRA} ] && $b cp -R /{ROOT_EXTRA}/. /newroot/
$b mount --move /proc /newroot/proc
$b mount --move /sys /newroot/sys
$b mount --move /dev /newroot/dev
exec $b switch_root /newroot {pid1}
"#
    )
}

/// The shell lines (busybox as `$b`) that wait until the node is ready by the bench's one
/// definition, then print `[UPTIME] LABEL: ready` and PID 1's resident memory.
pub fn ready_check(label: &str) -> String {
    format!(
        r#"until $b ip -4 addr show | $b grep 'inet ' | $b grep -qv ' 127\.'; do $b usleep 50000; done
until $b wget -q -O /dev/null http://127.0.0.1:9100/metrics 2>/dev/null; do $b usleep 50000; done
read up _ < /proc/uptime
echo "[$up] {label}: ready"
echo "{label}: pid1-rss-kib=$($b awk '/^VmRSS:/ {{ print $2 }}' /proc/1/status)"
"#
    )
}

/// A file the variant adds to the initramfs; those under [`ROOT_EXTRA`] land in the root (only
/// its writable `/etc`, `/var`, `/opt` and `/root`).
pub struct InitFile {
    /// Its path in the initramfs.
    pub path: String,
    pub mode: u32,
    pub contents: String,
}

/// The initramfs directory `/init` copies into the root.
pub const ROOT_EXTRA: &str = "root-extra";

/// Writes a baseline initrd to `out`: an optional root squashfs (else the caller concatenates one
/// in front), busybox, the modules, `/init` switching to `pid1`, and the variant's `files`.
pub fn write_initrd(
    out: &Path,
    root: Option<&Path>,
    modules: &InitModules,
    pid1: &str,
    files: &[InitFile],
) -> Result<PathBuf> {
    if !Path::new(BUSYBOX_STATIC).is_file() {
        bail!("{BUSYBOX_STATIC} is missing: install busybox-static (`cargo xtask prereqs`)");
    }
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut w = CpioWriter::new(std::io::BufWriter::new(file));
    for d in ["bin", "proc", "sys", "dev", "newroot", "lib", "lib/bench"] {
        w.dir(d, 0o755)?;
    }
    if let Some(root) = root {
        w.file_from("rootfs.squashfs", 0o644, root)?;
    }
    w.file_from("bin/busybox", 0o755, Path::new(BUSYBOX_STATIC))?;
    for (name, bytes) in &modules.0 {
        w.file_bytes(&format!("lib/bench/{name}"), 0o644, bytes)?;
    }
    w.file_bytes(
        "init",
        0o755,
        init_script(&modules.names(), pid1).as_bytes(),
    )?;
    let mut dirs = std::collections::BTreeSet::new();
    for f in files {
        let mut parent = Path::new(&f.path).parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            dirs.insert(p.to_string_lossy().into_owned());
            parent = p.parent();
        }
    }
    for d in &dirs {
        w.dir(d, 0o755)?;
    }
    for f in files {
        w.file_bytes(&f.path, f.mode, f.contents.as_bytes())?;
    }
    w.finish()?.flush()?;
    Ok(out.to_path_buf())
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
    fn init_loads_the_modules_in_order_then_copies_etc_and_switches_root() {
        let s = init_script(
            &["00-loop.ko".into(), "01-squashfs.ko".into()],
            "/lib/systemd/systemd",
        );
        let loop_at = s.find("insmod /lib/bench/00-loop.ko").unwrap();
        let sq_at = s.find("insmod /lib/bench/01-squashfs.ko").unwrap();
        let mount_at = s.find("mount -t squashfs").unwrap();
        let etc_at = s.find("cp -R /root-extra/. /newroot/").unwrap();
        let overlay_at = s.find("mount -t overlay").unwrap();
        assert!(loop_at < sq_at && sq_at < mount_at);
        assert!(overlay_at < etc_at, "the copy lands in the writable /etc");
        assert!(
            s.trim_end()
                .ends_with("switch_root /newroot /lib/systemd/systemd")
        );
        assert!(s.contains(r#"echo "[$up] bench-init: starting""#));
        let marker = qemu_tests::Regex::new(INIT_MARKER).unwrap();
        assert!(marker.is_match("[1.25] bench-init: starting"));
    }

    #[test]
    fn ready_waits_for_an_address_then_the_exporter_then_says_so() {
        let r = ready_check("floor");
        let address = r.find("ip -4 addr show").unwrap();
        let exporter = r.find("127.0.0.1:9100/metrics").unwrap();
        let said = r.find("floor: ready").unwrap();
        assert!(address < exporter && exporter < said);
        assert!(r.contains("floor: pid1-rss-kib="));
    }
}
