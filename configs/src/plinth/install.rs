//! `plinth.install`: the disk to install the image to, chosen by serial, WWN or path.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The install target. Exactly one of `serial`, `wwn`, `path` selects the disk.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Install {
    /// Disk serial number (as in `/dev/disk/by-id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Disk WWN (`0x5000c500a1b2c3d4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wwn: Option<String>,
    /// Device path (`/dev/sda`, `/dev/disk/by-path/...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Overwrite a disk that already holds partitions (default false: refuse).
    #[serde(default)]
    pub wipe: bool,
}
