//! The operations the planner asks for, in order; [`super::apply`] performs them.

use serde::Serialize;

/// One operation on the machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Action {
    /// Erase every signature of the disk and its partitions, then zero its first and last MiB
    /// (only ever planned for a disk whose entry says `wipe: true`).
    Wipe {
        dev: String,
        partitions: Vec<String>,
    },
    /// `mkfs` with Plinth's label, so the next run knows the filesystem as its own.
    Mkfs {
        dev: String,
        filesystem: String,
        label: String,
    },
    /// Mount the filesystem at `path` and make the mount rshared.
    Mount {
        dev: String,
        path: String,
        filesystem: String,
    },
    /// `pvcreate --metadatasize 2048`.
    PvCreate { dev: String },
    /// `vgcreate` over new physical volumes.
    VgCreate { vg: String, devs: Vec<String> },
    /// `vgextend` an existing group with new physical volumes.
    VgExtend { vg: String, devs: Vec<String> },
    /// `vgchange -ay`: activate the group's logical volumes (no lvmetad, no udev wait).
    VgActivate { vg: String },
}

impl Action {
    /// Whether this writes to a disk (everything but mounting and activating).
    pub fn writes_disk(&self) -> bool {
        !matches!(self, Self::Mount { .. } | Self::VgActivate { .. })
    }

    /// The device this operation writes or mounts, if one.
    pub fn dev(&self) -> Option<&str> {
        match self {
            Self::Wipe { dev, .. }
            | Self::Mkfs { dev, .. }
            | Self::Mount { dev, .. }
            | Self::PvCreate { dev } => Some(dev),
            _ => None,
        }
    }
}
