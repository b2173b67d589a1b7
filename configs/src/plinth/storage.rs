//! `plinth.storage`: the Longhorn disk and the LVM volume groups (such as Cinder's `cinder-volumes-1`).

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
}

/// The Longhorn disk, mounted rshared at `path`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Longhorn {
    /// Block device (`/dev/sdb`, `/dev/disk/by-id/...`).
    pub device: String,
    /// Mount point (default `/var/lib/longhorn`).
    #[serde(default = "default_path")]
    pub path: String,
    /// Filesystem to create.
    #[serde(default)]
    pub filesystem: Filesystem,
    /// Format the device even if it holds data (default false: refuse).
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

/// An LVM volume group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeGroup {
    /// Volume group name, such as `cinder-volumes-1`.
    pub name: String,
    /// Physical volumes (block devices).
    pub devices: Vec<String>,
    /// Create PVs even over existing data (default false: refuse).
    #[serde(default)]
    pub wipe: bool,
}
