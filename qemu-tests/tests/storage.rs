//! Storage roles on a real boot: extra virtio disks carrying serials, named in `plinth.storage` by
//! `serial:` and by `/dev/disk/by-id/...` exactly as `configs/examples/storage-lvm.yaml` and
//! `storage-longhorn.yaml` name theirs (checked first, so the examples cannot drift from what is
//! proven here). One node holds both a Cinder volume group and a Longhorn
//! disk (validation warns of that, as Genestack does; the boot goes on):
//!
//! - `cinder-volumes-1` is made over the two empty disks and a fourth whose GPT is wiped because
//!   its own entry says `wipe: true`, and the third disk named in the group, which holds an ext4
//!   filesystem with a file in it, is refused — on the console, in `plinthctl storage -o json` and
//!   in the node exporter's metrics — and the whole disk is still byte for byte what it was, after
//!   each boot;
//! - the Longhorn disk is formatted and mounted at /var/lib/longhorn as a shared mount
//!   (`findmnt -o PROPAGATION`), with iscsid running and dm_crypt, the LIO target's modules and
//!   configfs loaded;
//! - multipathd (Debian's, installed without systemd) runs with the operator's `multipath.conf`
//!   from `plinth.storage.multipath`, and claims none of the single-path disks;
//! - a second boot of the same disks changes nothing: every disk is found as Plinth left it (same
//!   VG UUID, same filesystem UUID), no mkfs/pvcreate/vgcreate is run.
//!
//! PXE boot with a state disk (`/dev/vda`, the system disk, which the agent never scans), a root
//! shell on ttyS1.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use qemu_tests::cmdline::{DiskFormat, Drive};
use qemu_tests::disk::hash_range;
use qemu_tests::node::{BootOptions, Fixture, Node, READY_TIMEOUT, Variant};
use qemu_tests::seed::{Seed, SeedFormat};
use qemu_tests::session::Session;
use regex::Regex;

const CONFIG: &str = "#cloud-config
hostname: store1
plinth:
  genestack:
    roles: [storage, longhorn]
  storage:
    longhorn:
      device: /dev/disk/by-id/virtio-longhorn0
    lvm:
      - name: cinder-volumes-1
        devices:
          - serial:cinder-1
          - serial:cinder-2
          - serial:old-data
          - {device: serial:wipe-me, wipe: true}
    multipath:
      config: |
        defaults {
            find_multipaths strict
            polling_interval 7
        }
        blacklist {
            devnode \"^vda$\"
        }
";

/// Each PV disk: `pvcreate --metadatasize 2048` (MiB) as Genestack documents needs more than 2 GiB.
const PV_BYTES: u64 = 3 << 30;
const LONGHORN_BYTES: u64 = 256 << 20;
const OLD_BYTES: u64 = 64 << 20;

/// The file on the disk that must be refused.
const KEEP: &str = "Cinder backup of 2026-12-01: do not lose me\n";

/// How long the storage oneshot may take under TCG (mkfs, pvcreate, vgcreate, modules).
const STORAGE_DONE: Duration = Duration::from_secs(240);

fn sparse(path: &Path, bytes: u64, serial: &str) -> Result<Drive> {
    std::fs::File::create(path)?.set_len(bytes)?;
    Ok(drive(path, serial))
}

fn drive(path: &Path, serial: &str) -> Drive {
    Drive {
        path: path.into(),
        format: DiskFormat::Raw,
        read_only: false,
        serial: Some(serial.into()),
    }
}

/// A raw disk holding an ext4 filesystem with [`KEEP`] in `keep.txt`, made on the host
/// (`mkfs.ext4 -d`, no mount).
fn disk_with_a_file(dir: &Path) -> Result<Drive> {
    let content = dir.join("old-content");
    std::fs::create_dir_all(&content)?;
    std::fs::write(content.join("keep.txt"), KEEP)?;
    let path = dir.join("old-data.raw");
    std::fs::File::create(&path)?.set_len(OLD_BYTES)?;
    let status = std::process::Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", "backup", "-d"])
        .arg(&content)
        .arg(&path)
        .status()
        .context("mkfs.ext4 (e2fsprogs) on the host")?;
    ensure!(status.success(), "mkfs.ext4 -d failed: {status}");
    Ok(drive(&path, "old-data"))
}

/// A sparse raw disk with a GPT holding one partition (made with sfdisk on the host).
fn disk_with_a_table(path: &Path, serial: &str) -> Result<Drive> {
    let drive = sparse(path, PV_BYTES, serial)?;
    let mut sfdisk = std::process::Command::new("sfdisk")
        .args(["--quiet", "--label", "gpt"])
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .context("sfdisk (fdisk) on the host")?;
    use std::io::Write as _;
    sfdisk
        .stdin
        .take()
        .context("sfdisk stdin")?
        .write_all(b"size=64MiB, type=linux\n")?;
    ensure!(sfdisk.wait()?.success(), "sfdisk failed");
    Ok(drive)
}

fn whole(path: &Path) -> Result<String> {
    let len = std::fs::metadata(path)?.len();
    Ok(hash_range(path, 0, len)?)
}

/// Waits until the storage oneshot exited (0) in this boot's console.
fn storage_done(node: &Node, name: &str) -> Result<()> {
    node.console()
        .wait_for(
            &Regex::new(r"service storage: (exited|ready)")?,
            STORAGE_DONE,
        )
        .with_context(|| {
            format!(
                "{name}: the storage service never finished; console:\n{}",
                node.console().tail(60)
            )
        })?;
    Ok(())
}

fn console_has(node: &Node, pattern: &str) -> Result<bool> {
    let re = Regex::new(pattern)?;
    Ok(node.console().lines().iter().any(|l| re.is_match(&l.text)))
}

/// Each selector's state in `plinthctl storage -o json`.
fn states(sh: &mut Session) -> Result<Vec<(String, String, String)>> {
    let out = sh.run("plinthctl storage -o json")?;
    ensure!(out.status == 0, "plinthctl storage -o json: {out:?}");
    let start = out.text.find('{').context("no JSON")?;
    let v: serde_json::Value = serde_json::from_str(&out.text[start..])
        .with_context(|| format!("plinthctl storage -o json: {}", out.text))?;
    Ok(v["disks"]
        .as_array()
        .context("no disks")?
        .iter()
        .map(|d| {
            let s = |k: &str| d[k].as_str().unwrap_or_default().to_owned();
            (s("selector"), s("state"), s("detail"))
        })
        .collect())
}

fn state_of<'a>(
    states: &'a [(String, String, String)],
    selector: &str,
) -> Result<&'a (String, String, String)> {
    states
        .iter()
        .find(|(s, _, _)| s == selector)
        .with_context(|| format!("{selector} not in the report: {states:?}"))
}

/// The VG's UUID and PV count, and the Longhorn filesystem's UUID and mount propagation.
fn what_was_made(sh: &mut Session) -> Result<(String, String, String)> {
    let vg = sh.run("lvm vgs --noheadings -o vg_uuid,pv_count cinder-volumes-1")?;
    ensure!(vg.status == 0, "vgs: {vg:?}");
    let mut f = vg.text.split_whitespace();
    let (uuid, pvs) = (
        f.next().unwrap_or_default().to_owned(),
        f.next().unwrap_or_default(),
    );
    ensure!(pvs == "3", "cinder-volumes-1 should have 3 PVs: {vg:?}");
    let fs = sh.run("blkid -s UUID -o value /dev/disk/by-id/virtio-longhorn0")?;
    let mnt = sh.run("findmnt -n -o FSTYPE,PROPAGATION,LABEL /var/lib/longhorn")?;
    // Stage 1 binds /var/lib/longhorn from the state partition; the disk is mounted over it, so
    // the last mount listed is the one paths resolve to.
    let top = mnt.text.lines().last().unwrap_or_default();
    ensure!(
        top.split_whitespace().collect::<Vec<_>>() == ["ext4", "shared", "plinth-lh"],
        "/var/lib/longhorn is not the Longhorn disk mounted shared: {mnt:?}"
    );
    Ok((uuid, fs.text.trim().to_owned(), top.trim().to_owned()))
}

/// multipathd answers on its socket with the configuration from the seed, and made no map of the
/// single-path disks (the VG's PVs stay on the plain virtio disks).
fn multipath_runs_with_the_operators_config(sh: &mut Session) -> Result<()> {
    // `pid N idle` (or `running`, mid-check): the daemon answers on its socket.
    sh.run_until("multipathd show daemon", "pid ", Duration::from_secs(60))?;
    let config = sh.run("multipathd show config")?;
    ensure!(
        config.status == 0
            && config.text.contains("polling_interval 7")
            && config.text.contains("find_multipaths \"strict\""),
        "multipathd does not run with the seed's multipath.conf: {config:?}"
    );
    let maps = sh.run("dmsetup ls --target multipath")?;
    ensure!(
        maps.text.contains("No devices found"),
        "multipathd claimed a single-path disk: {maps:?}"
    );
    let on = sh.run("cat /proc/modules")?;
    ensure!(
        on.text.lines().any(|l| l.starts_with("dm_multipath ")),
        "dm_multipath is not loaded"
    );
    Ok(())
}

/// The examples' disks are among this node's, named the same way.
fn examples_name_disks_as_this_node_does() -> Result<()> {
    let ours = plinth_config::parse("storage.rs", CONFIG)
        .map_err(|d| anyhow::anyhow!("{d}"))?
        .config
        .plinth
        .storage;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/examples");
    let load = |name: &str| {
        plinth_config::load_path(&dir.join(name))
            .map(|p| p.config.plinth.storage)
            .map_err(|d| anyhow::anyhow!("{d}"))
    };
    let lvm = load("storage-lvm.yaml")?;
    let ours_vg = &ours.lvm[0];
    for vg in &lvm.lvm {
        ensure!(
            vg.name == ours_vg.name,
            "storage-lvm.yaml's group {} is not tested",
            vg.name
        );
        for pv in &vg.devices {
            ensure!(
                ours_vg.devices.iter().any(|o| o.device() == pv.device()),
                "storage-lvm.yaml's disk {} is not named so here",
                pv.device()
            );
        }
    }
    let longhorn = load("storage-longhorn.yaml")?
        .longhorn
        .context("no longhorn")?;
    let ours_lh = ours.longhorn.as_ref().context("no longhorn here")?;
    ensure!(
        longhorn.device == ours_lh.device && longhorn.path == ours_lh.path,
        "storage-longhorn.yaml's disk {} is not named so here",
        longhorn.device
    );
    Ok(())
}

#[test]
fn storage_node_prepares_empty_disks_refuses_data_and_changes_nothing_on_reboot() -> Result<()> {
    let started = Instant::now();
    examples_name_disks_as_this_node_does()?;
    let Some(mut fx) = Fixture::for_test("storage") else {
        return Ok(());
    };
    let seed = fx.seed(
        "seed",
        &Seed::new(CONFIG, "iid-storage", "store1"),
        SeedFormat::Vfat,
    )?;
    let dir = fx.dir.path().to_path_buf();
    let old = disk_with_a_file(&dir)?;
    let old_hash = whole(&old.path)?;
    let mut opts = BootOptions::new(Variant::Pxe);
    opts.seed = Some(seed);
    opts.disk = Some(fx.state_disk("state", 1024)?);
    opts.extra_disks = vec![
        sparse(&dir.join("cinder-1.raw"), PV_BYTES, "cinder-1")?,
        sparse(&dir.join("cinder-2.raw"), PV_BYTES, "cinder-2")?,
        old.clone(),
        sparse(&dir.join("longhorn0.raw"), LONGHORN_BYTES, "longhorn0")?,
        disk_with_a_table(&dir.join("wipe-me.raw"), "wipe-me")?,
    ];
    opts.serial2 = true;
    opts.no_reboot = true;
    opts.extra_cmdline = Some("plinth.autologin=ttyS1".into());

    // First boot: prepared and refused.
    let mut node = fx.boot(&opts)?;
    node.wait_ready(READY_TIMEOUT)?;
    storage_done(&node, "boot 1")?;
    let first_storage = started.elapsed();
    ensure!(
        console_has(
            &node,
            r"storage: serial:old-data \(vd.\) for lvm:cinder-volumes-1: refused: vd. holds data \(a filesystem, ext4"
        )?,
        "the refusal is not on the console:\n{}",
        node.console().tail(60)
    );
    let (vg_uuid, fs_uuid) = {
        let mut sh = Session::open(&node, Duration::from_secs(120))?;
        let st = states(&mut sh)?;
        for sel in [
            "serial:cinder-1",
            "serial:cinder-2",
            "/dev/disk/by-id/virtio-longhorn0",
        ] {
            let (_, state, detail) = state_of(&st, sel)?;
            ensure!(
                state == "prepared" && detail.contains("prepared now"),
                "{sel}: {state} {detail}"
            );
        }
        let (_, state, detail) = state_of(&st, "serial:wipe-me")?;
        ensure!(
            state == "prepared" && detail.contains("wiped (wipe: true)"),
            "wipe-me: {state} {detail}"
        );
        ensure!(
            console_has(
                &node,
                r"storage: wiping /dev/vd. \(its entry says wipe: true\)"
            )?,
            "the wipe is not on the console"
        );
        let (_, state, detail) = state_of(&st, "serial:old-data")?;
        ensure!(
            state == "refused" && detail.contains("wipe: true"),
            "old-data: {state} {detail}"
        );
        let table = sh.run("plinthctl storage")?;
        ensure!(
            table.text.contains("refused"),
            "plinthctl storage: {table:?}"
        );
        let (vg_uuid, fs_uuid, _) = what_was_made(&mut sh)?;
        sh.run_until("pidof iscsid", "", Duration::from_secs(60))?;
        let mods = sh.run("cat /proc/modules")?;
        for m in [
            "dm_crypt",
            "iscsi_tcp",
            "iscsi_target_mod",
            "target_core_iblock",
            "nfsv4",
        ] {
            ensure!(
                mods.text.lines().any(|l| l.starts_with(&format!("{m} "))),
                "{m} is not loaded"
            );
        }
        multipath_runs_with_the_operators_config(&mut sh)?;
        let cfs = sh.run("findmnt -n -o FSTYPE /sys/kernel/config")?;
        ensure!(cfs.text.trim() == "configfs", "configfs: {cfs:?}");
        let lvmconf = sh.run("grep global_filter /etc/lvm/lvm.conf")?;
        ensure!(
            !lvmconf.text.contains("/dev/vda") && lvmconf.text.contains("r|.*|"),
            "lvm.conf must scan only the storage disks: {lvmconf:?}"
        );
        let metrics = sh
            .run("busybox wget -q -O - http://127.0.0.1:9100/metrics | grep '^plinth_storage_' ")?;
        // The exporter sorts labels by name and prints values as floats.
        let has = |re: &str| Regex::new(re).map(|r| r.is_match(&metrics.text));
        ensure!(
            has(
                r#"disk="vd.",purpose="lvm:cinder-volumes-1",selector="serial:old-data",state="refused"\} 1\n"#
            )? && has(
                r#"purpose="longhorn",selector="/dev/disk/by-id/virtio-longhorn0",state="prepared"\} 1\n"#
            )? && has(r#"plinth_storage_vg_size_bytes\{vg="cinder-volumes-1"\} [1-9]"#)?
                && has(r#"plinth_storage_vg_free_bytes\{vg="cinder-volumes-1"\} [0-9]"#)?,
            "node exporter metrics: {metrics:?}"
        );
        (vg_uuid, fs_uuid)
    };
    node.reboot_to_exit()?;
    drop(node);
    ensure!(
        whole(&old.path)? == old_hash,
        "the refused disk was changed by the first boot"
    );

    // Second boot: nothing changes.
    let second = Instant::now();
    let node = fx.boot(&opts)?;
    node.wait_ready(READY_TIMEOUT)?;
    storage_done(&node, "boot 2")?;
    for sel in [
        "serial:cinder-1",
        "serial:cinder-2",
        "/dev/disk/by-id/virtio-longhorn0",
        "serial:wipe-me",
    ] {
        ensure!(
            console_has(
                &node,
                &format!(
                    r"storage: {} \(vd.\) for .*: prepared: already prepared by Plinth, left unchanged",
                    regex::escape(sel)
                )
            )?,
            "boot 2: {sel} not found as Plinth left it:\n{}",
            node.console().tail(60)
        );
    }
    ensure!(
        !console_has(&node, r"storage: (mkfs|pvcreate|vgcreate|vgextend|wiping)")?,
        "boot 2 wrote to a disk:\n{}",
        node.console().tail(60)
    );
    let mut sh = Session::open(&node, Duration::from_secs(120))?;
    let (vg2, fs2, _) = what_was_made(&mut sh)?;
    ensure!(
        vg2 == vg_uuid,
        "the volume group changed: {vg_uuid} → {vg2}"
    );
    ensure!(
        fs2 == fs_uuid,
        "the Longhorn filesystem changed: {fs_uuid} → {fs2}"
    );
    let st = states(&mut sh)?;
    ensure!(state_of(&st, "serial:old-data")?.1 == "refused");
    drop(sh);
    drop(node);
    ensure!(
        whole(&old.path)? == old_hash,
        "the refused disk was changed by the second boot"
    );
    eprintln!(
        "storage: first boot's storage done at {:.0}s, second boot checked in {:.0}s, total {:.0}s",
        first_storage.as_secs_f64(),
        second.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
