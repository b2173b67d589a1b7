//! `plinth.storage`: the Longhorn disk, the LVM volume groups (such as Cinder's `cinder-volumes-1`),
//! the LIO iSCSI target and multipath. Disks are named by selectors ([`super::disk`]); a disk that
//! holds data is changed only when its own entry says `wipe: true`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Storage settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// A dedicated Longhorn disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longhorn: Option<Longhorn>,
    /// LVM volume groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lvm: Vec<VolumeGroup>,
    /// Load the LIO iSCSI target modules and mount configfs, for Cinder LVM with `lioadm`
    /// (default: on when the node has the Genestack role `storage` and volume groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iscsi_target: Option<bool>,
    /// Run multipathd with this `multipath.conf` (written to /etc/multipath.conf).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipath: Option<Multipath>,
}

impl Storage {
    /// Whether the node has any disk to prepare.
    pub fn has_disks(&self) -> bool {
        self.longhorn.is_some() || !self.lvm.is_empty()
    }

    /// Whether the LIO iSCSI target is wanted: `iscsi_target`, or by default a node with the
    /// Genestack role `storage` and volume groups (Cinder LVM exports them with `lioadm`).
    pub fn iscsi_target_wanted(&self, roles: &[super::GenestackRole]) -> bool {
        self.iscsi_target
            .unwrap_or(!self.lvm.is_empty() && roles.contains(&super::GenestackRole::Storage))
    }
}

/// The Longhorn disk, mounted rshared at `path`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Longhorn {
    /// The disk: `/dev/sdb`, `/dev/disk/by-id/...`, `serial:S`, `wwn:W` or `model:M`.
    pub device: String,
    /// Mount point (default `/var/lib/longhorn`).
    #[serde(default = "default_path")]
    pub path: String,
    /// Filesystem to create.
    #[serde(default)]
    pub filesystem: Filesystem,
    /// Format this disk even if it holds data (default false: refuse it).
    #[serde(default)]
    pub wipe: bool,
}

fn default_path() -> String {
    "/var/lib/longhorn".to_owned()
}

/// Filesystems Plinth creates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Filesystem {
    /// ext4.
    #[default]
    Ext4,
    /// XFS.
    Xfs,
}

impl Filesystem {
    /// The name blkid reports and mkfs takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ext4 => "ext4",
            Self::Xfs => "xfs",
        }
    }
}

/// An LVM volume group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeGroup {
    /// Volume group name, such as `cinder-volumes-1` (Cinder) or `vg-general` (TopoLVM).
    pub name: String,
    /// Physical volumes: a disk (`/dev/sdb`, `/dev/disk/by-id/...`, `serial:S`, `wwn:W`,
    /// `model:M`), or `{device: ..., wipe: true}` to wipe that one disk if it holds data.
    pub devices: Vec<PhysicalVolume>,
    /// Wipe every disk of this group that holds data (default false: refuse them).
    #[serde(default)]
    pub wipe: bool,
}

/// One physical volume of a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum PhysicalVolume {
    /// A disk selector.
    Disk(String),
    /// A disk selector with its own `wipe`.
    Entry(PhysicalVolumeEntry),
}

/// A physical volume with its own settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhysicalVolumeEntry {
    /// The disk selector.
    pub device: String,
    /// Wipe this disk if it holds data (default false: refuse it).
    #[serde(default)]
    pub wipe: bool,
}

impl PhysicalVolume {
    /// The disk selector.
    pub fn device(&self) -> &str {
        match self {
            Self::Disk(d) => d,
            Self::Entry(e) => &e.device,
        }
    }

    /// Whether this disk may be wiped (its own `wipe`, or the group's).
    pub fn wipe(&self, group_wipe: bool) -> bool {
        group_wipe || matches!(self, Self::Entry(e) if e.wipe)
    }
}

impl From<&str> for PhysicalVolume {
    fn from(device: &str) -> Self {
        Self::Disk(device.to_owned())
    }
}

/// Multipath: multipathd runs with the operator's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Multipath {
    /// The text of `/etc/multipath.conf`.
    pub config: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plinth::GenestackRole;

    fn storage(yaml: &str) -> Storage {
        crate::parse("t", &format!("#cloud-config\nplinth:\n  storage:\n{yaml}"))
            .unwrap()
            .config
            .plinth
            .storage
    }

    #[test]
    fn wipe_is_per_disk_unless_the_group_says_all() {
        let s = storage(
            "    lvm:\n      - name: vg\n        devices: [serial:A, {device: serial:B, wipe: true}]\n",
        );
        let vg = &s.lvm[0];
        assert_eq!(vg.devices[0].device(), "serial:A");
        assert!(!vg.devices[0].wipe(vg.wipe));
        assert_eq!(vg.devices[1].device(), "serial:B");
        assert!(vg.devices[1].wipe(vg.wipe));
        assert!(vg.devices[0].wipe(true));
    }

    #[test]
    fn the_iscsi_target_follows_the_storage_role_unless_set() {
        let s = storage("    lvm:\n      - name: vg\n        devices: [/dev/sdb]\n");
        assert!(s.iscsi_target_wanted(&[GenestackRole::Storage]));
        assert!(!s.iscsi_target_wanted(&[GenestackRole::Longhorn]));
        let off = Storage {
            iscsi_target: Some(false),
            ..s
        };
        assert!(!off.iscsi_target_wanted(&[GenestackRole::Storage]));
        assert!(!Storage::default().iscsi_target_wanted(&[GenestackRole::Storage]));
    }
}
