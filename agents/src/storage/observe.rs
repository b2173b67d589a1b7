//! Reading the machine's disks: sysfs (`/sys/block`: size, partitions, holders, serial, WWN,
//! model), udev's links (`/dev/disk/by-id`, `by-path`), `blkid -p` (signatures and partition
//! tables, probed from the disk itself, not a cache), the first and last MiB, the mounts of
//! `/proc/self/mountinfo`, and LVM's `pvs`/`vgs`. The parsers of those texts are pure and tested
//! here; the rest is tested in QEMU (`qemu-tests/tests/storage.rs`).

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Command, Stdio};

use super::disk::{Disk, Observed, Signature, VolumeGroup};

const MIB: u64 = 1 << 20;

/// Mount points whose disk is the system disk: the root and the state partition.
pub const SYSTEM_MOUNTS: &[&str] = &["/", "/state"];

/// blkid's `-o export` lines: the whole-disk signature, and the partition table type.
pub fn parse_blkid(text: &str) -> (Option<Signature>, Option<String>) {
    let mut kv: BTreeMap<&str, &str> = BTreeMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            kv.insert(k.trim(), v.trim());
        }
    }
    let sig = kv.get("TYPE").map(|kind| Signature {
        kind: (*kind).to_owned(),
        uuid: kv.get("UUID").map(|s| (*s).to_owned()),
        label: kv.get("LABEL").map(|s| (*s).to_owned()),
        vg: None,
    });
    (sig, kv.get("PTTYPE").map(|s| (*s).to_owned()))
}

/// udev's database entry of a device (`/run/udev/data/b<major>:<minor>`): its `E:KEY=VALUE`
/// properties.
pub fn parse_udev_db(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("E:")?.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// `/proc/self/mountinfo`: each mount's `major:minor` and mount point.
pub fn parse_mountinfo(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split(' ');
            let devno = f.nth(2)?;
            let _root = f.next()?;
            let point = f.next()?;
            Some((devno.to_owned(), unescape(point)))
        })
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// `pvs --noheadings --separator '|' -o pv_name,vg_name`: each PV's group (`None` when orphan).
pub fn parse_pvs(text: &str) -> BTreeMap<String, Option<String>> {
    text.lines()
        .filter_map(|l| {
            let (pv, vg) = l.trim().split_once('|')?;
            let vg = vg.trim();
            Some((
                pv.trim().to_owned(),
                (!vg.is_empty()).then(|| vg.to_owned()),
            ))
        })
        .collect()
}

/// `vgs --noheadings --separator '|' --units b --nosuffix -o vg_name,vg_size,vg_free`.
pub fn parse_vgs(text: &str) -> Vec<VolumeGroup> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().split('|');
            let name = f.next()?.trim();
            let size = f.next()?.trim().parse().ok()?;
            let free = f.next()?.trim().parse().ok()?;
            (!name.is_empty()).then(|| VolumeGroup {
                name: name.to_owned(),
                size_bytes: size,
                free_bytes: free,
            })
        })
        .collect()
}

fn read_trim(path: &Path) -> Option<String> {
    let s = fs::read_to_string(path).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The symlinks under `/dev/disk/by-id` and `by-path`, by the kernel name they point at.
fn udev_links() -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for dir in ["/dev/disk/by-id", "/dev/disk/by-path"] {
        for name in names_in(Path::new(dir)) {
            let link = format!("{dir}/{name}");
            if let Ok(target) = fs::canonicalize(&link)
                && let Some(kname) = target.file_name()
            {
                out.entry(kname.to_string_lossy().into_owned())
                    .or_default()
                    .push(link);
            }
        }
    }
    out
}

/// Whether `len` bytes at `offset` of `dev` are all zeros (unreadable counts as not zero).
fn zeros(dev: &str, offset: u64, len: u64) -> bool {
    let read = || -> std::io::Result<bool> {
        let mut f = fs::File::open(dev)?;
        f.seek(SeekFrom::Start(offset))?;
        let mut buf = vec![0u8; len as usize];
        f.read_exact(&mut buf)?;
        Ok(buf.iter().all(|b| *b == 0))
    };
    read().unwrap_or(false)
}

/// Runs a probe; its stdout, or empty when it failed (blkid exits 2 when it finds nothing).
fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// A whole disk worth considering: has a device (not loop, ram, zram, dm, md) and a size.
fn is_candidate(sys: &Path) -> bool {
    sys.join("device").exists()
        && read_trim(&sys.join("size"))
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
            > 0
        && read_trim(&sys.join("removable")).as_deref() != Some("1")
}

/// LVM's `--config` for probing: scan only `disks`.
pub fn lvm_probe_config(disks: &[String]) -> String {
    format!(
        "devices {{ global_filter = {} use_devicesfile = 0 }}",
        super::host::filter(disks)
    )
}

/// Observes every whole disk and LVM's view of them; `paths` are the config's path selectors,
/// resolved through their symlinks.
pub fn observe(paths: &[String]) -> Observed {
    let mounts = parse_mountinfo(&fs::read_to_string("/proc/self/mountinfo").unwrap_or_default());
    let mounted = |devno: &str| -> Vec<String> {
        mounts
            .iter()
            .filter(|(d, _)| d == devno)
            .map(|(_, p)| p.clone())
            .collect()
    };
    let links = udev_links();
    let mut disks = Vec::new();
    for name in names_in(Path::new("/sys/block")) {
        let sys = Path::new("/sys/block").join(&name);
        if !is_candidate(&sys) {
            continue;
        }
        let size_bytes = read_trim(&sys.join("size"))
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
            * 512;
        let partitions: Vec<String> = names_in(&sys)
            .into_iter()
            .filter(|p| p.starts_with(&name) && sys.join(p).join("partition").exists())
            .collect();
        let mut holders = names_in(&sys.join("holders"));
        let mut mount_points = Vec::new();
        for node in std::iter::once(&name).chain(partitions.iter()) {
            let dir = if *node == name {
                sys.clone()
            } else {
                sys.join(node)
            };
            if *node != name {
                holders.extend(names_in(&dir.join("holders")));
            }
            if let Some(devno) = read_trim(&dir.join("dev")) {
                mount_points.extend(mounted(&devno));
            }
        }
        let system = mount_points
            .iter()
            .any(|m| SYSTEM_MOUNTS.contains(&m.as_str()));
        let udev = read_trim(&sys.join("dev"))
            .and_then(|devno| fs::read_to_string(format!("/run/udev/data/b{devno}")).ok())
            .map(|t| parse_udev_db(&t))
            .unwrap_or_default();
        let prop = |k: &str| udev.get(k).filter(|v| !v.is_empty()).cloned();
        let dev = format!("/dev/{name}");
        let (signature, partition_table) =
            parse_blkid(&output("blkid", &["-p", "-o", "export", &dev]));
        let tail = size_bytes.saturating_sub(MIB);
        disks.push(Disk {
            links: links.get(&name).cloned().unwrap_or_default(),
            serial: prop("ID_SERIAL_SHORT")
                .or_else(|| read_trim(&sys.join("serial")))
                .or_else(|| read_trim(&sys.join("device/serial"))),
            wwn: prop("ID_WWN")
                .or_else(|| read_trim(&sys.join("wwid")))
                .or_else(|| read_trim(&sys.join("device/wwid"))),
            model: prop("ID_MODEL")
                .map(|m| m.replace('_', " "))
                .or_else(|| read_trim(&sys.join("device/model"))),
            size_bytes,
            system,
            partition_table,
            partitions,
            signature,
            holders,
            mounts: mount_points,
            head_zero: zeros(&dev, 0, MIB.min(size_bytes)),
            tail_zero: zeros(&dev, tail, MIB.min(size_bytes)),
            name,
        });
    }
    // LVM's view of the disks that are not the system's.
    let scan: Vec<String> = disks
        .iter()
        .filter(|d| !d.system)
        .map(|d| d.name.clone())
        .collect();
    let conf = lvm_probe_config(&scan);
    let pvs = parse_pvs(&output(
        "lvm",
        &[
            "pvs",
            "--config",
            &conf,
            "--noheadings",
            "--separator",
            "|",
            "-o",
            "pv_name,vg_name",
        ],
    ));
    for disk in &mut disks {
        let dev = disk.dev();
        if let Some(sig) = &mut disk.signature
            && sig.kind == "LVM2_member"
        {
            sig.vg = pvs.get(&dev).cloned().flatten();
        }
    }
    let vgs = parse_vgs(&output(
        "lvm",
        &[
            "vgs",
            "--config",
            &conf,
            "--noheadings",
            "--separator",
            "|",
            "--units",
            "b",
            "--nosuffix",
            "-o",
            "vg_name,vg_size,vg_free",
        ],
    ));
    let resolved = paths
        .iter()
        .filter_map(|p| {
            let target = fs::canonicalize(p).ok()?;
            Some((
                p.clone(),
                target.file_name()?.to_string_lossy().into_owned(),
            ))
        })
        .collect();
    Observed {
        disks,
        vgs,
        resolved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blkid_export_gives_the_signature_and_the_table() {
        let (sig, pt) = parse_blkid(
            "DEVNAME=/dev/vdd\nUUID=1234-ab\nBLOCK_SIZE=4096\nTYPE=ext4\nLABEL=backup\n",
        );
        let sig = sig.unwrap();
        assert_eq!(
            (sig.kind.as_str(), sig.uuid.as_deref(), sig.label.as_deref()),
            ("ext4", Some("1234-ab"), Some("backup"))
        );
        assert_eq!(pt, None);
        let (sig, pt) = parse_blkid("DEVNAME=/dev/vdb\nPTUUID=9a1c\nPTTYPE=gpt\n");
        assert_eq!((sig, pt.as_deref()), (None, Some("gpt")));
        assert_eq!(parse_blkid(""), (None, None));
    }

    #[test]
    fn udev_properties_are_read_from_its_database() {
        let db = "S:disk/by-id/wwn-0x5000c500a1b2c3d4\nE:ID_SERIAL_SHORT=ZA1B2C3D\nE:ID_WWN=0x5000c500a1b2c3d4\nE:ID_MODEL=ST4000NM0035\nG:systemd\n";
        let p = parse_udev_db(db);
        assert_eq!(p["ID_SERIAL_SHORT"], "ZA1B2C3D");
        assert_eq!(p["ID_WWN"], "0x5000c500a1b2c3d4");
        assert_eq!(p["ID_MODEL"], "ST4000NM0035");
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn mountinfo_gives_device_numbers_and_points() {
        let text = "22 1 254:3 / / ro,relatime shared:1 - squashfs /dev/vda3 ro\n\
                    30 22 254:4 / /state rw shared:9 - ext4 /dev/vda4 rw\n\
                    41 22 254:16 / /var/lib/long\\040horn rw shared:20 - ext4 /dev/vdb rw\n";
        assert_eq!(
            parse_mountinfo(text),
            [
                ("254:3".to_owned(), "/".to_owned()),
                ("254:4".to_owned(), "/state".to_owned()),
                ("254:16".to_owned(), "/var/lib/long horn".to_owned())
            ]
        );
    }

    #[test]
    fn pvs_and_vgs_reports_are_read() {
        let pvs = parse_pvs("  /dev/vdb|cinder-volumes-1\n  /dev/vdc|\n");
        assert_eq!(pvs["/dev/vdb"].as_deref(), Some("cinder-volumes-1"));
        assert_eq!(pvs["/dev/vdc"], None);
        let vgs = parse_vgs("  cinder-volumes-1|8581545984|8581545984\n  junk\n");
        assert_eq!(
            vgs,
            [VolumeGroup {
                name: "cinder-volumes-1".into(),
                size_bytes: 8581545984,
                free_bytes: 8581545984
            }]
        );
    }
}
