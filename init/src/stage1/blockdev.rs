//! Block devices as sysfs shows them (`/sys/class/block/*`): name, GPT partition name, position
//! on the parent disk, size. Parsing `uevent` is pure; scanning sysfs is the effect.

use std::path::Path;

/// One block device (a whole disk or a partition). Positions and sizes are in 512-byte
/// sectors, as sysfs reports them whatever the logical sector size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlockDev {
    /// Kernel name, e.g. `vda2`; the node is `/dev/<name>`.
    pub name: String,
    /// GPT partition name (`PARTNAME`), if any.
    pub partname: Option<String>,
    /// Partition number, for partitions.
    pub partn: Option<u32>,
    /// The whole disk this partition belongs to (`vda` for `vda2`); `None` for disks.
    pub disk: Option<String>,
    pub start: u64,
    pub size: u64,
}

impl BlockDev {
    pub fn is_partition(&self) -> bool {
        self.disk.is_some()
    }

    pub fn end(&self) -> u64 {
        self.start + self.size
    }

    /// `vda2 "plinth-root-a"` for messages.
    pub fn describe(&self) -> String {
        match &self.partname {
            Some(n) => format!("{} \"{n}\"", self.name),
            None => self.name.clone(),
        }
    }
}

/// The `KEY=value` pairs of a sysfs `uevent` file that stage 1 uses.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Uevent {
    pub devname: Option<String>,
    pub devtype: Option<String>,
    pub partname: Option<String>,
    pub partn: Option<u32>,
}

/// Parses a `uevent` file.
pub fn parse_uevent(text: &str) -> Uevent {
    let mut ev = Uevent::default();
    for line in text.lines() {
        match line.split_once('=') {
            Some(("DEVNAME", v)) => ev.devname = Some(v.to_string()),
            Some(("DEVTYPE", v)) => ev.devtype = Some(v.to_string()),
            Some(("PARTNAME", v)) => ev.partname = Some(v.to_string()),
            Some(("PARTN", v)) => ev.partn = v.parse().ok(),
            _ => {}
        }
    }
    ev
}

fn read_u64(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Every block device under `sys_class_block` (normally `/sys/class/block`), sorted by name.
pub fn scan(sys_class_block: &Path) -> Vec<BlockDev> {
    let Ok(entries) = std::fs::read_dir(sys_class_block) else {
        return Vec::new();
    };
    let mut devs: Vec<BlockDev> = entries
        .flatten()
        .filter_map(|entry| {
            let dir = entry.path();
            let ev = parse_uevent(&std::fs::read_to_string(dir.join("uevent")).ok()?);
            let name = ev
                .devname
                .clone()
                .unwrap_or_else(|| entry.file_name().to_string_lossy().into_owned());
            let is_part = ev.devtype.as_deref() == Some("partition");
            let disk = is_part
                .then(|| {
                    let real = std::fs::canonicalize(&dir).ok()?;
                    Some(real.parent()?.file_name()?.to_string_lossy().into_owned())
                })
                .flatten();
            Some(BlockDev {
                name,
                partname: ev.partname,
                partn: ev.partn,
                disk,
                start: if is_part {
                    read_u64(&dir.join("start"))
                } else {
                    0
                },
                size: read_u64(&dir.join("size")),
            })
        })
        .collect();
    devs.sort_by(|a, b| a.name.cmp(&b.name));
    devs
}

/// The devices as one line for failure messages: `vda, vda1 "ESP", vda2 "plinth-root-a"`.
/// Empty devices (unattached loop devices, drives without media) are left out.
pub fn describe_all(devs: &[BlockDev]) -> String {
    let present: Vec<&BlockDev> = devs.iter().filter(|d| d.size > 0).collect();
    if present.is_empty() {
        return "no block devices with any content".to_string();
    }
    present
        .into_iter()
        .map(BlockDev::describe)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_partition_name_and_number() {
        let ev = parse_uevent(
            "MAJOR=254\nMINOR=2\nDEVNAME=vda2\nDEVTYPE=partition\nDISKSEQ=1\nPARTN=2\nPARTNAME=plinth-root-a\n",
        );
        assert_eq!(ev.devname.as_deref(), Some("vda2"));
        assert_eq!(ev.devtype.as_deref(), Some("partition"));
        assert_eq!(ev.partname.as_deref(), Some("plinth-root-a"));
        assert_eq!(ev.partn, Some(2));
    }

    #[test]
    fn a_disk_has_no_partition_fields() {
        let ev = parse_uevent("MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n");
        assert_eq!(ev.partname, None);
        assert_eq!(ev.partn, None);
    }

    #[test]
    fn scans_a_fake_sysfs() {
        let root = std::env::temp_dir().join(format!("plinth-sysfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let disk = root.join("devices/vda");
        let part = disk.join("vda1");
        std::fs::create_dir_all(&part).unwrap();
        std::fs::write(disk.join("uevent"), "DEVNAME=vda\nDEVTYPE=disk\n").unwrap();
        std::fs::write(disk.join("size"), "4194304\n").unwrap();
        std::fs::write(
            part.join("uevent"),
            "DEVNAME=vda1\nDEVTYPE=partition\nPARTN=1\nPARTNAME=ESP\n",
        )
        .unwrap();
        std::fs::write(part.join("start"), "2048\n").unwrap();
        std::fs::write(part.join("size"), "262144\n").unwrap();
        let class = root.join("class");
        std::fs::create_dir_all(&class).unwrap();
        std::os::unix::fs::symlink(&disk, class.join("vda")).unwrap();
        std::os::unix::fs::symlink(&part, class.join("vda1")).unwrap();
        let devs = scan(&class);
        assert_eq!(devs.len(), 2);
        assert_eq!(devs[0].name, "vda");
        assert_eq!(devs[0].size, 4_194_304);
        assert!(!devs[0].is_partition());
        assert_eq!(devs[1].disk.as_deref(), Some("vda"));
        assert_eq!((devs[1].start, devs[1].end()), (2048, 2048 + 262_144));
        assert_eq!(describe_all(&devs), "vda, vda1 \"ESP\"");
        let empty_loop = BlockDev {
            name: "loop0".into(),
            ..BlockDev::default()
        };
        assert_eq!(
            describe_all(&[empty_loop]),
            "no block devices with any content"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
