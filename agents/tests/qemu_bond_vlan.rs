//! Bonds, VLANs and a bridge for real, where this host's kernel cannot make them: the image's own
//! kernel boots in QEMU with four virtio NICs and a throwaway initramfs (busybox, the few modules,
//! the freshly built `plinth-agent`), the agent applies a config twice, and the guest prints what
//! the kernel then holds (sysfs, `/proc/net/bonding`, `/proc/net/vlan/config`, addresses, routes).
//!
//! Needs the image built by `cargo xtask image` (`target/image/` or `PLINTH_IMAGE_DIR`) and
//! `qemu-system-x86_64`, `unsquashfs`, `xz`, `cpio`, `gzip`; skipped with a message otherwise.
//! The console log stays in `target/qemu-tests/agent-bond-vlan/console.log`.

use qemu_tests::image::ImageLock;
use qemu_tests::paths::{image_dir, target_dir};
use std::path::{Path, PathBuf};
use std::process::Command;

const AGENT: &str = env!("CARGO_BIN_EXE_plinth-agent");

const CONFIG: &str = r#"#cloud-config
network:
  version: 2
  ethernets:
    nic1:
      match: {macaddress: "52:54:00:12:00:01"}
      set-name: lan1
    nic2:
      match: {driver: virtio_net, name: "eth1"}
      set-name: lan2
    nic3:
      match: {macaddress: "52:54:00:12:00:03"}
    nic4:
      match: {macaddress: "52:54:00:12:00:04"}
  bonds:
    bond0:
      interfaces: [nic1, nic2]
      addresses: [10.99.0.2/24]
      parameters:
        mode: active-backup
        primary: nic1
        mii-monitor-interval: 100
        up-delay: 200
        down-delay: 200
    bond1:
      interfaces: [nic3, nic4]
      mtu: 9000
      parameters:
        mode: 802.3ad
        lacp-rate: fast
        transmit-hash-policy: layer3+4
        mii-monitor-interval: 100
        min-links: 1
  vlans:
    bond0.42:
      id: 42
      link: bond0
      addresses: [10.42.0.2/24]
      routes:
        - to: 10.142.0.0/16
          via: 10.42.0.1
          metric: 10
    vlan7:
      id: 7
      link: bond1
  bridges:
    br-ex:
      interfaces: [vlan7]
      addresses: [192.168.7.1/24]
      parameters:
        stp: false
"#;

const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in failover net_failover virtio_net tls bonding llc stp garp mrp 8021q bridge; do
  [ -f /modules/$m.ko ] && insmod /modules/$m.ko
done
echo "=== first run"
/plinth-agent net --config /cfg.yaml --once --resolv-conf /etc/resolv.conf
echo "first rc=$?"
echo "=== second run"
/plinth-agent net --config /cfg.yaml --once --resolv-conf /etc/resolv.conf
echo "second rc=$?"
echo "=== state"
for b in bond0 bond1; do
  for f in mode miimon primary updelay downdelay lacp_rate xmit_hash_policy min_links slaves; do
    echo "$b $f: $(cat /sys/class/net/$b/bonding/$f)"
  done
done
echo "mtu bond1 $(cat /sys/class/net/bond1/mtu) eth2 $(cat /sys/class/net/eth2/mtu)"
grep "|" /proc/net/vlan/config
echo "vlan7 master: $(basename $(readlink /sys/class/net/vlan7/master))"
echo "br-ex stp: $(cat /sys/class/net/br-ex/bridge/stp_state)"
ip -o -4 addr
ip route
echo "=== done"
poweroff -f
"#;

/// Module files the guest loads, relative to `usr/lib/modules/<kver>/kernel/`.
const MODULES: &[&str] = &[
    "net/core/failover.ko.xz",
    "drivers/net/net_failover.ko.xz",
    "drivers/net/virtio_net.ko.xz",
    "net/tls/tls.ko.xz",
    "drivers/net/bonding/bonding.ko.xz",
    "net/llc/llc.ko.xz",
    "net/802/stp.ko.xz",
    "net/802/garp.ko.xz",
    "net/802/mrp.ko.xz",
    "net/8021q/8021q.ko.xz",
    "net/bridge/bridge.ko.xz",
];

/// Shared libraries busybox and the agent need, from the image's root.
const LIBS: &[&str] = &[
    "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
    "usr/lib/x86_64-linux-gnu/libc.so.6",
    "usr/lib/x86_64-linux-gnu/libresolv.so.2",
    "usr/lib/x86_64-linux-gnu/libgcc_s.so.1",
    "usr/lib/x86_64-linux-gnu/libm.so.6",
];

fn missing_prerequisite(kernel: &Path, squashfs: &Path) -> Option<String> {
    for f in [kernel, squashfs] {
        if !f.is_file() {
            return Some(format!(
                "{} is missing: run `cargo xtask image`",
                f.display()
            ));
        }
    }
    for tool in ["qemu-system-x86_64", "unsquashfs", "xz", "cpio", "gzip"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!("`{tool}` is not installed"));
        }
    }
    None
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds the initramfs under `dir` and returns its path.
fn initramfs(dir: &Path, squashfs: &Path) -> PathBuf {
    let listing = run(Command::new("unsquashfs")
        .args(["-l", "-d", ""])
        .arg(squashfs)
        .arg("usr/lib/modules"));
    let kver = listing
        .lines()
        .find_map(|l| l.strip_prefix("/usr/lib/modules/"))
        .and_then(|rest| rest.split('/').next())
        .filter(|k| !k.is_empty())
        .expect("a kernel module directory in the image")
        .to_owned();
    let tree = dir.join("tree");
    let mut extract = Command::new("unsquashfs");
    extract
        .args(["-q", "-n", "-d"])
        .arg(&tree)
        .arg(squashfs)
        .arg("usr/bin/busybox");
    extract.args(LIBS);
    for m in MODULES {
        extract.arg(format!("usr/lib/modules/{kver}/kernel/{m}"));
    }
    run(&mut extract);

    let root = dir.join("root");
    for sub in [
        "bin",
        "lib64",
        "lib/x86_64-linux-gnu",
        "modules",
        "proc",
        "sys",
        "dev",
        "etc",
    ] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::copy(tree.join("usr/bin/busybox"), root.join("bin/busybox")).unwrap();
    for lib in LIBS {
        let from = tree.join(lib);
        let name = from.file_name().unwrap().to_owned();
        if from.exists() {
            std::fs::copy(&from, root.join("lib/x86_64-linux-gnu").join(name)).unwrap();
        }
    }
    std::os::unix::fs::symlink(
        "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        root.join("lib64/ld-linux-x86-64.so.2"),
    )
    .unwrap();
    for m in MODULES {
        let from = tree.join(format!("usr/lib/modules/{kver}/kernel/{m}"));
        if !from.exists() {
            continue; // built into this kernel
        }
        let name = Path::new(m)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".ko.xz", ".ko");
        let ko = run_bytes(Command::new("xz").arg("-dc").arg(&from));
        std::fs::write(root.join("modules").join(name), ko).unwrap();
    }
    // A stripped copy keeps the initramfs small; the unstripped binary works too.
    let agent = root.join("plinth-agent");
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(&agent)
        .arg(AGENT)
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        std::fs::copy(AGENT, &agent).unwrap();
    }
    std::fs::write(root.join("cfg.yaml"), CONFIG).unwrap();
    let init = root.join("init");
    std::fs::write(&init, INIT).unwrap();
    std::fs::set_permissions(&init, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let image = dir.join("initramfs.cpio.gz");
    run(Command::new("sh").arg("-c").arg(format!(
        "cd '{}' && find . | cpio -o -H newc --quiet | gzip -1 > '{}'",
        root.display(),
        image.display()
    )));
    image
}

fn run_bytes(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed");
    out.stdout
}

#[test]
fn bonds_vlans_and_a_bridge_on_the_image_kernel() {
    let image = image_dir();
    // Shared, as the qemu-tests take it: no image build rewrites the squashfs while it is read.
    let _lock = ImageLock::shared(&image).expect("locking the image directory");
    let (kernel, squashfs) = (image.join("pxe/vmlinuz"), image.join("work/root.squashfs"));
    if let Some(why) = missing_prerequisite(&kernel, &squashfs) {
        eprintln!("SKIP: bonds and VLANs in QEMU: {why}");
        return;
    }
    let dir = target_dir().join("qemu-tests/agent-bond-vlan");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let initramfs = initramfs(&dir, &squashfs);

    let mut qemu = Command::new("timeout");
    // TCG: /dev/kvm may exist where KVM does not work (nested), and a hung guest costs the timeout.
    qemu.args(["120", "qemu-system-x86_64", "-accel", "tcg", "-m", "768"]);
    qemu.args(["-nographic", "-no-reboot", "-kernel"])
        .arg(&kernel);
    qemu.arg("-initrd").arg(&initramfs);
    qemu.args(["-append", "console=ttyS0 rdinit=/init panic=-1 quiet"]);
    for n in 1..=4 {
        qemu.args(["-netdev", &format!("user,id=n{n}")]);
        qemu.args([
            "-device",
            &format!("virtio-net-pci,netdev=n{n},mac=52:54:00:12:00:0{n}"),
        ]);
    }
    let start = std::time::Instant::now();
    let out = qemu.output().expect("qemu-system-x86_64 runs");
    let console = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    std::fs::write(dir.join("console.log"), &console).unwrap();
    eprintln!(
        "MEASURED: QEMU boot, two agent runs and checks in {:?}",
        start.elapsed()
    );
    let section = |from: &str, to: &str| -> String {
        let a = console
            .find(from)
            .unwrap_or_else(|| panic!("no `{from}` in:\n{console}"));
        let b = console[a..].find(to).map_or(console.len(), |b| a + b);
        console[a..b].to_owned()
    };
    let first = section("=== first run", "=== second run");
    let second = section("=== second run", "=== state");
    let state = section("=== state", "=== done");
    eprintln!("{first}{second}{state}");

    assert!(first.contains("first rc=0"), "{first}");
    assert!(first.contains("net: enslave lan1 to bond0\n"), "{first}");
    assert!(
        first.contains("net: create vlan bond0.42 id 42 on bond0\n"),
        "{first}"
    );
    assert!(second.contains("net: 0 operations applied in "), "{second}");
    assert!(second.contains("; 0 warnings"), "{second}");
    assert!(second.contains("second rc=0"), "{second}");
    for want in [
        "bond0 mode: active-backup 1",
        "bond0 miimon: 100",
        "bond0 primary: lan1",
        "bond0 updelay: 200",
        "bond0 downdelay: 200",
        "bond0 slaves: lan1 lan2",
        "bond1 mode: 802.3ad 4",
        "bond1 lacp_rate: fast 1",
        "bond1 xmit_hash_policy: layer3+4 1",
        "bond1 min_links: 1",
        "bond1 slaves: eth2 eth3",
        "mtu bond1 9000 eth2 9000",
        "vlan7 master: br-ex",
        "br-ex stp: 0",
        "inet 10.42.0.2/24",
        "inet 10.99.0.2/24",
        "inet 192.168.7.1/24",
        "10.142.0.0/16 via 10.42.0.1 dev bond0.42  metric 10",
    ] {
        assert!(state.contains(want), "`{want}` not in:\n{state}");
    }
    let vlans: Vec<Vec<&str>> = state
        .lines()
        .filter(|l| l.contains('|') && !l.starts_with("VLAN"))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    assert!(
        vlans.contains(&vec!["bond0.42", "42", "bond0"]),
        "{vlans:?}"
    );
    assert!(vlans.contains(&vec!["vlan7", "7", "bond1"]), "{vlans:?}");
}
