//! Choosing the root: the squashfs the PXE initrd unpacked (`/rootfs.squashfs`) when present,
//! else the partition named for the active slot. A pure decision over what was found; the
//! caller polls until it is made or the wait runs out.

use super::blockdev::BlockDev;
use super::cmdline::Slot;

/// Where the PXE set's second initrd puts the root image.
pub const PXE_IMAGE: &str = "/rootfs.squashfs";

/// The root stage 1 will mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootChoice {
    /// The squashfs file inside the initramfs (PXE): no boot disk.
    Image(String),
    /// The slot's partition on a disk.
    Partition(BlockDev),
}

/// Why no root was chosen (yet).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RootError {
    #[error("no partition named \"{wanted}\" and no {PXE_IMAGE}")]
    NotFound { wanted: &'static str },
    #[error("{count} partitions are named \"{wanted}\" ({names}); refusing to guess")]
    Ambiguous {
        wanted: &'static str,
        count: usize,
        names: String,
    },
}

/// Picks the root from what exists now.
pub fn choose(
    slot: Slot,
    pxe_image_present: bool,
    devs: &[BlockDev],
) -> Result<RootChoice, RootError> {
    if pxe_image_present {
        return Ok(RootChoice::Image(PXE_IMAGE.to_string()));
    }
    let wanted = slot.partition_name();
    let matches: Vec<&BlockDev> = devs
        .iter()
        .filter(|d| d.is_partition() && d.partname.as_deref() == Some(wanted))
        .collect();
    match matches.as_slice() {
        [] => Err(RootError::NotFound { wanted }),
        [one] => Ok(RootChoice::Partition((*one).clone())),
        many => Err(RootError::Ambiguous {
            wanted,
            count: many.len(),
            names: many
                .iter()
                .map(|d| d.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(name: &str, disk: &str, partname: &str) -> BlockDev {
        BlockDev {
            name: name.into(),
            partname: Some(partname.into()),
            partn: Some(1),
            disk: Some(disk.into()),
            start: 2048,
            size: 2048,
        }
    }

    fn disk_layout() -> Vec<BlockDev> {
        vec![
            part("vda1", "vda", "ESP"),
            part("vda2", "vda", "plinth-root-a"),
            part("vda3", "vda", "plinth-root-b"),
        ]
    }

    #[test]
    fn picks_the_partition_of_the_slot() {
        let devs = disk_layout();
        assert_eq!(
            choose(Slot::A, false, &devs),
            Ok(RootChoice::Partition(devs[1].clone()))
        );
        assert_eq!(
            choose(Slot::B, false, &devs),
            Ok(RootChoice::Partition(devs[2].clone()))
        );
    }

    #[test]
    fn the_pxe_image_wins_over_disks() {
        assert_eq!(
            choose(Slot::A, true, &disk_layout()),
            Ok(RootChoice::Image(PXE_IMAGE.into()))
        );
    }

    #[test]
    fn missing_or_duplicate_slots_are_errors() {
        assert_eq!(
            choose(Slot::A, false, &[part("vda1", "vda", "ESP")]),
            Err(RootError::NotFound {
                wanted: "plinth-root-a"
            })
        );
        let mut devs = disk_layout();
        devs.push(part("vdb2", "vdb", "plinth-root-a"));
        let err = choose(Slot::A, false, &devs).unwrap_err();
        assert!(err.to_string().contains("vda2, vdb2"), "{err}");
    }
}
