//! Where the state partition may go on the boot disk: a pure decision over the disk's size and
//! partitions. It goes only in unpartitioned space after the root slots, aligned to 1 MiB, and
//! never when any partition already lies there (someone's data) or the space is too small.

use super::blockdev::BlockDev;

/// 1 MiB in 512-byte sectors.
const ALIGN: u64 = 2048;
/// Sectors the backup GPT (header + 128 entries) needs at the end of the disk.
const BACKUP_GPT: u64 = 33;
/// The smallest state partition worth creating: 256 MiB.
pub const MIN_SECTORS: u64 = 256 * ALIGN;

/// The partition to create, in 512-byte sectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatePlan {
    pub start: u64,
    pub size: u64,
}

/// Why no state partition is created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoStatePlan {
    #[error("the boot disk {disk} has no plinth-root-a/plinth-root-b partitions")]
    NoRootSlots { disk: String },
    #[error("partition {partition} already lies after the root slots; leaving the disk untouched")]
    Occupied { partition: String },
    #[error("only {free_mib} MiB free after the root slots (need {} MiB)", MIN_SECTORS / ALIGN)]
    TooSmall { free_mib: u64 },
}

/// Plans the state partition on `disk` (the whole-disk device) given every block device.
pub fn plan(disk: &BlockDev, devs: &[BlockDev]) -> Result<StatePlan, NoStatePlan> {
    let parts: Vec<&BlockDev> = devs
        .iter()
        .filter(|d| d.disk.as_deref() == Some(disk.name.as_str()))
        .collect();
    let slots_end = parts
        .iter()
        .filter(|p| {
            matches!(
                p.partname.as_deref(),
                Some("plinth-root-a" | "plinth-root-b")
            )
        })
        .map(|p| p.end())
        .max()
        .ok_or_else(|| NoStatePlan::NoRootSlots {
            disk: disk.name.clone(),
        })?;
    if let Some(p) = parts.iter().find(|p| p.end() > slots_end) {
        return Err(NoStatePlan::Occupied {
            partition: p.describe(),
        });
    }
    let start = slots_end.div_ceil(ALIGN) * ALIGN;
    let end = (disk.size.saturating_sub(BACKUP_GPT) / ALIGN) * ALIGN;
    let size = end.saturating_sub(start);
    if size < MIN_SECTORS {
        return Err(NoStatePlan::TooSmall {
            free_mib: size / ALIGN,
        });
    }
    Ok(StatePlan { start, size })
}

/// Where to look for leftover data in the planned region, as (sector, bytes): its whole first
/// MiB, then 64 KiB every 64 MiB (a filesystem without a partition entry has metadata there).
pub fn probes(plan: StatePlan) -> Vec<(u64, usize)> {
    const STRIDE: u64 = 64 * ALIGN;
    let mut out = vec![(plan.start, 1024 * 1024)];
    let mut at = plan.start + STRIDE;
    while at + 128 <= plan.start + plan.size {
        out.push((at, 64 * 1024));
        at += STRIDE;
    }
    out
}

/// True when `bytes` (read from one of the region's [`probes`]) hold nothing: all zeros.
/// Anything else may be a filesystem someone left without a partition entry.
pub fn region_is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| *b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = ALIGN;

    fn dev(name: &str, partname: Option<&str>, start: u64, size: u64) -> BlockDev {
        BlockDev {
            name: name.into(),
            partname: partname.map(str::to_string),
            partn: Some(1),
            disk: Some("vda".into()),
            start,
            size,
        }
    }

    fn disk(size_mib: u64) -> BlockDev {
        BlockDev {
            name: "vda".into(),
            size: size_mib * MIB,
            ..BlockDev::default()
        }
    }

    fn standard(extra: Option<BlockDev>) -> Vec<BlockDev> {
        let mut devs = vec![
            disk(2048),
            dev("vda1", Some("ESP"), MIB, 128 * MIB),
            dev("vda2", Some("plinth-root-a"), 129 * MIB, 512 * MIB),
            dev("vda3", Some("plinth-root-b"), 641 * MIB, 512 * MIB),
        ];
        devs.extend(extra);
        devs
    }

    #[test]
    fn free_space_after_the_slots_becomes_state() {
        let devs = standard(None);
        let plan = plan(&devs[0], &devs).unwrap();
        assert_eq!(plan.start, 1153 * MIB);
        // Up to the last whole MiB before the backup GPT.
        assert_eq!(plan.start + plan.size, 2047 * MIB);
    }

    #[test]
    fn free_space_already_holding_a_partition_is_left_alone() {
        let devs = standard(Some(dev("vda4", Some("data"), 1200 * MIB, 100 * MIB)));
        assert_eq!(
            plan(&devs[0], &devs),
            Err(NoStatePlan::Occupied {
                partition: "vda4 \"data\"".into()
            })
        );
    }

    #[test]
    fn an_unnamed_partition_after_the_slots_also_blocks() {
        let devs = standard(Some(dev("vda5", None, 1153 * MIB, MIB)));
        assert!(matches!(
            plan(&devs[0], &devs),
            Err(NoStatePlan::Occupied { .. })
        ));
    }

    #[test]
    fn a_partition_on_another_disk_does_not_matter() {
        let mut other = dev("vdb1", Some("data"), 1200 * MIB, 100 * MIB);
        other.disk = Some("vdb".into());
        let devs = standard(Some(other));
        assert!(plan(&devs[0], &devs).is_ok());
    }

    #[test]
    fn too_little_room_is_refused() {
        let mut devs = standard(None);
        devs[0] = disk(1153 + 100);
        assert_eq!(
            plan(&devs[0], &devs),
            Err(NoStatePlan::TooSmall { free_mib: 99 })
        );
    }

    #[test]
    fn a_disk_without_slots_is_refused() {
        let devs = vec![disk(2048), dev("vda1", Some("ESP"), MIB, 128 * MIB)];
        assert!(matches!(
            plan(&devs[0], &devs),
            Err(NoStatePlan::NoRootSlots { .. })
        ));
    }

    #[test]
    fn probes_cover_the_start_and_every_64_mib_inside_the_region() {
        let plan = StatePlan {
            start: 1000 * MIB,
            size: 200 * MIB,
        };
        assert_eq!(
            probes(plan),
            [
                (1000 * MIB, 1024 * 1024),
                (1064 * MIB, 64 * 1024),
                (1128 * MIB, 64 * 1024),
                (1192 * MIB, 64 * 1024)
            ]
        );
    }

    #[test]
    fn any_byte_set_means_data() {
        assert!(region_is_blank(&[0; 4096]));
        let mut bytes = [0u8; 4096];
        bytes[1080] = 0x53;
        assert!(!region_is_blank(&bytes));
    }
}
