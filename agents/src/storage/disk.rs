//! What the agent observed of the machine's disks and volume groups: plain data, gathered by
//! [`super::observe`] and judged by [`super::plan`]. Also the one rule of what "holds data" means.

use serde::{Deserialize, Serialize};

/// One whole disk, as sysfs, udev and blkid describe it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disk {
    /// The kernel name (`vdb`, `sdc`, `nvme0n1`).
    pub name: String,
    /// udev's symlinks to it (`/dev/disk/by-id/...`, `/dev/disk/by-path/...`).
    pub links: Vec<String>,
    /// The serial number (udev `ID_SERIAL_SHORT`, or sysfs `serial`).
    pub serial: Option<String>,
    /// The World Wide Name (udev `ID_WWN`, or sysfs `wwid`).
    pub wwn: Option<String>,
    /// The model (udev `ID_MODEL`, or sysfs `model`).
    pub model: Option<String>,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Plinth booted from it, or keeps its state on it.
    pub system: bool,
    /// A partition table's type (`gpt`, `dos`), if any.
    pub partition_table: Option<String>,
    /// Its partitions' kernel names.
    pub partitions: Vec<String>,
    /// A signature on the whole disk (filesystem, LVM, RAID, LUKS), if any.
    pub signature: Option<Signature>,
    /// Devices built on it (`/sys/block/<name>/holders`: device-mapper, md).
    pub holders: Vec<String>,
    /// Where it (or one of its partitions) is mounted.
    pub mounts: Vec<String>,
    /// Its first MiB is all zeros.
    pub head_zero: bool,
    /// Its last MiB is all zeros.
    pub tail_zero: bool,
}

/// A signature blkid found on a whole disk.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// blkid's `TYPE`: `ext4`, `xfs`, `LVM2_member`, `linux_raid_member`, `crypto_LUKS`, …
    pub kind: String,
    /// blkid's `UUID`.
    pub uuid: Option<String>,
    /// blkid's `LABEL`.
    pub label: Option<String>,
    /// For an LVM physical volume, the volume group it belongs to (from `pvs`).
    pub vg: Option<String>,
}

/// A volume group LVM reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeGroup {
    pub name: String,
    pub size_bytes: u64,
    pub free_bytes: u64,
}

/// Everything observed in one pass.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    pub disks: Vec<Disk>,
    pub vgs: Vec<VolumeGroup>,
    /// Path selectors of the config resolved to a kernel name (`/dev/disk/by-id/x` → `vdb`).
    pub resolved: std::collections::BTreeMap<String, String>,
}

impl Disk {
    /// `/dev/<name>`.
    pub fn dev(&self) -> String {
        format!("/dev/{}", self.name)
    }

    /// Why this disk must not be changed even with `wipe: true`, if so: the system disk, or a
    /// disk in use (mounted, or held by device-mapper or md).
    pub fn untouchable(&self) -> Option<String> {
        if self.system {
            return Some("it is the system disk (Plinth booted from it or keeps its state there): never a storage target".into());
        }
        if !self.mounts.is_empty() {
            return Some(format!(
                "it is in use: mounted at {}",
                self.mounts.join(", ")
            ));
        }
        if !self.holders.is_empty() {
            return Some(format!("it is in use: held by {}", self.holders.join(", ")));
        }
        None
    }

    /// What data this disk holds, one phrase per sign; empty when it holds none. "Holds data"
    /// means a partition table, any signature (filesystem, RAID, LVM, LUKS), or anything but
    /// zeros in its first or last MiB.
    pub fn data(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(table) = &self.partition_table {
            let parts = if self.partitions.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.partitions.join(", "))
            };
            out.push(format!("a {table} partition table{parts}"));
        } else if !self.partitions.is_empty() {
            out.push(format!("partitions ({})", self.partitions.join(", ")));
        }
        if let Some(sig) = &self.signature {
            out.push(sig.describe());
        }
        if !self.head_zero {
            out.push("data in its first MiB".into());
        }
        if !self.tail_zero {
            out.push("data in its last MiB".into());
        }
        out
    }
}

impl Signature {
    /// A phrase for a refusal: "an ext4 filesystem (UUID …)".
    pub fn describe(&self) -> String {
        let id = self
            .uuid
            .as_deref()
            .map(|u| format!(" (UUID {u})"))
            .unwrap_or_default();
        match self.kind.as_str() {
            "LVM2_member" => match &self.vg {
                Some(vg) => format!("an LVM physical volume of volume group `{vg}`{id}"),
                None => format!("an LVM physical volume in no volume group{id}"),
            },
            "linux_raid_member" | "isw_raid_member" | "ddf_raid_member" => {
                format!("a RAID member ({}){id}", self.kind)
            }
            "crypto_LUKS" => format!("a LUKS-encrypted volume{id}"),
            kind => format!("a filesystem, {kind}{id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_all_zero_disk_holds_nothing_and_any_sign_is_data() {
        let empty = Disk {
            name: "vdb".into(),
            head_zero: true,
            tail_zero: true,
            ..Disk::default()
        };
        assert!(empty.data().is_empty());
        assert!(empty.untouchable().is_none());
        let tail = Disk {
            tail_zero: false,
            ..empty.clone()
        };
        assert_eq!(tail.data(), ["data in its last MiB"]);
        let gpt = Disk {
            partition_table: Some("gpt".into()),
            partitions: vec!["vdb1".into()],
            ..empty.clone()
        };
        assert_eq!(gpt.data(), ["a gpt partition table (vdb1)"]);
        let system = Disk {
            system: true,
            ..empty
        };
        assert!(system.untouchable().unwrap().contains("system disk"));
    }
}
