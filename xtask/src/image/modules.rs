//! Kernel modules: which ones the root keeps (the pruning policy) and which ones the stage-1
//! initramfs carries, both decided from `modules.dep` as pure functions; plus the effect of
//! deleting what the policy drops.
//!
//! The root keeps storage, network, virtualization, netfilter and filesystems; it drops sound,
//! wireless, media, GPU and other desktop hardware. Anything a kept module depends on is kept, so
//! pruning can never leave a module that fails to load for want of a dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Directories under `kernel/` whose modules servers never need.
const DROPPED: &[&str] = &[
    "sound/",
    "drivers/gpu/",
    "drivers/media/",
    "drivers/staging/",
    "drivers/net/wireless/",
    "drivers/net/ieee802154/",
    "drivers/net/hamradio/",
    "drivers/net/can/",
    "drivers/bluetooth/",
    "drivers/isdn/",
    "drivers/iio/",
    "drivers/video/fbdev/",
    "drivers/input/joystick/",
    "drivers/input/touchscreen/",
    "drivers/input/tablet/",
    "drivers/usb/gadget/",
    "drivers/mtd/",
    "drivers/pcmcia/",
    "drivers/parport/",
    "drivers/atm/",
    "drivers/nfc/",
    "drivers/w1/",
    "drivers/platform/chrome/",
    "drivers/platform/surface/",
    "net/wireless/",
    "net/mac80211/",
    "net/bluetooth/",
    "net/ieee802154/",
    "net/mac802154/",
    "net/can/",
    "net/nfc/",
    "net/atm/",
    "net/ax25/",
    "net/netrom/",
    "net/rose/",
];

/// What stage 1 may need to reach a root and read config media: disk controllers (virtio, SATA,
/// NVMe, the usual server RAID/SAS HBAs, USB), the root and state filesystems, overlay, loop, and
/// vfat/iso9660 for seeds. Stage 1 loads the controller drivers only for hardware it sees
/// (`modules.alias`), so carrying more of them costs a boot nothing. Named as in `modules.dep`
/// (file stem); listed before anything that wants them (`crc32c` is ext4's softdep).
///
/// Not xfs: nothing in stage 1 mounts it (the root is squashfs, the state ext4), and loading it
/// took 2.0 s of a 4.8 s module step under TCG; the root has it for the storage phase.
pub const INITRAMFS: &[&str] = &[
    "crc32c_generic",
    "virtio_blk",
    "virtio_scsi",
    "ahci",
    "ata_piix",
    "nvme",
    "megaraid_sas",
    "mpt3sas",
    "hpsa",
    "smartpqi",
    "sd_mod",
    "sr_mod",
    "xhci_pci",
    "ehci_pci",
    "usb_storage",
    "uas",
    "squashfs",
    "overlay",
    "loop",
    "ext4",
    "nls_cp437",
    "nls_utf8",
    "vfat",
    "isofs",
];

/// Drivers of `INITRAMFS` that stage 1 loads only when no root appeared without them (marked
/// `?` in its module list): ata_piix matches the IDE controller of every QEMU `pc` machine, where
/// the root is on virtio, and costs 0.6 s there with libata and the SCSI stack; it is needed
/// only for SATA controllers left in legacy IDE mode.
pub const FALLBACK_ONLY: &[&str] = &["ata_piix"];

/// `modules.dep`: module path (relative to the module directory) → its dependencies' paths,
/// in the file's order.
pub type DepMap = BTreeMap<String, Vec<String>>;

/// Parses `modules.dep` text.
pub fn parse_dep(text: &str) -> DepMap {
    text.lines()
        .filter_map(|line| {
            let (module, deps) = line.split_once(':')?;
            Some((
                module.trim().to_string(),
                deps.split_whitespace().map(str::to_string).collect(),
            ))
        })
        .collect()
}

/// The module name of a path: file stem without `.ko*`, hyphens as underscores.
pub fn module_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.split(".ko").next().unwrap_or(file);
    stem.replace('-', "_")
}

/// The modules the root keeps: every module outside `DROPPED`, plus whatever those depend on.
pub fn kept(deps: &DepMap) -> BTreeSet<String> {
    let mut keep: BTreeSet<String> = deps
        .keys()
        .filter(|path| {
            let rel = path.strip_prefix("kernel/").unwrap_or(path);
            !DROPPED.iter().any(|d| rel.starts_with(d))
        })
        .cloned()
        .collect();
    let wanted_deps: Vec<String> = keep.iter().flat_map(|m| deps[m].iter().cloned()).collect();
    keep.extend(wanted_deps);
    keep
}

/// The module files for `names` and all their dependencies, in load order (dependencies first,
/// as modprobe does: the listed dependencies from last to first, then the module). Names found
/// in `builtin` (module names of `modules.builtin`) are skipped; any other unknown name fails.
pub fn closure(deps: &DepMap, builtin: &BTreeSet<String>, names: &[&str]) -> Result<Vec<String>> {
    let by_name: BTreeMap<String, &String> =
        deps.keys().map(|path| (module_name(path), path)).collect();
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    for name in names {
        let name = name.replace('-', "_");
        let Some(path) = by_name.get(&name) else {
            if builtin.contains(&name) {
                continue;
            }
            bail!("module {name} is neither in modules.dep nor built in");
        };
        for dep in deps[*path].iter().rev().chain(std::iter::once(*path)) {
            if seen.insert(dep.clone()) {
                order.push(dep.clone());
            }
        }
    }
    Ok(order)
}

/// Deletes from `moddir` (`…/lib/modules/<kver>`) every module the policy drops; returns how
/// many files were removed and their total size. The caller runs depmod afterwards.
pub fn prune(moddir: &Path) -> Result<(usize, u64)> {
    let dep_path = moddir.join("modules.dep");
    let text = std::fs::read_to_string(&dep_path)
        .with_context(|| format!("reading {}", dep_path.display()))?;
    let deps = parse_dep(&text);
    let keep = kept(&deps);
    let (mut count, mut bytes) = (0, 0);
    for path in deps.keys().filter(|p| !keep.contains(*p)) {
        let file = moddir.join(path);
        bytes += file.metadata().map(|m| m.len()).unwrap_or(0);
        std::fs::remove_file(&file).with_context(|| format!("removing {}", file.display()))?;
        count += 1;
    }
    Ok((count, bytes))
}

/// The lines of `modules.alias` that name one of `modules` (module names).
pub fn alias_subset(alias_text: &str, modules: &BTreeSet<String>) -> String {
    alias_text
        .lines()
        .filter(|l| {
            let mut words = l.split_whitespace();
            words.next() == Some("alias") && words.nth(1).is_some_and(|m| modules.contains(m))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Module names listed in `modules.builtin`.
pub fn parse_builtin(text: &str) -> BTreeSet<String> {
    text.lines().map(module_name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEP: &str = "\
kernel/fs/ext4/ext4.ko.xz: kernel/lib/crc16.ko.xz kernel/fs/mbcache.ko.xz kernel/fs/jbd2/jbd2.ko.xz
kernel/lib/crc16.ko.xz:
kernel/fs/mbcache.ko.xz:
kernel/fs/jbd2/jbd2.ko.xz:
kernel/drivers/scsi/sd_mod.ko.xz: kernel/drivers/scsi/scsi_mod.ko.xz kernel/drivers/scsi/scsi_common.ko.xz
kernel/drivers/scsi/scsi_mod.ko.xz: kernel/drivers/scsi/scsi_common.ko.xz
kernel/drivers/scsi/scsi_common.ko.xz:
kernel/drivers/md/dm-thin-pool.ko.xz: kernel/drivers/md/dm-mod.ko.xz
kernel/drivers/md/dm-mod.ko.xz:
kernel/sound/core/snd.ko.xz: kernel/sound/soundcore.ko.xz
kernel/sound/soundcore.ko.xz:
kernel/drivers/gpu/drm/drm.ko.xz:
kernel/drivers/gpu/drm/drm_panel_orientation_quirks.ko.xz:
kernel/drivers/video/backlight/odd.ko.xz: kernel/drivers/gpu/drm/drm_panel_orientation_quirks.ko.xz
";

    #[test]
    fn names_use_underscores_and_drop_suffixes() {
        assert_eq!(
            module_name("kernel/drivers/md/dm-thin-pool.ko.xz"),
            "dm_thin_pool"
        );
        assert_eq!(module_name("kernel/fs/ext4/ext4.ko"), "ext4");
    }

    #[test]
    fn prune_drops_sound_and_gpu_but_keeps_what_kept_modules_need() {
        let keep = kept(&parse_dep(DEP));
        assert!(keep.contains("kernel/fs/ext4/ext4.ko.xz"));
        assert!(keep.contains("kernel/drivers/md/dm-thin-pool.ko.xz"));
        assert!(!keep.contains("kernel/sound/core/snd.ko.xz"));
        assert!(!keep.contains("kernel/drivers/gpu/drm/drm.ko.xz"));
        // A GPU module that a kept module depends on survives the prune.
        assert!(keep.contains("kernel/drivers/gpu/drm/drm_panel_orientation_quirks.ko.xz"));
    }

    #[test]
    fn closure_loads_dependencies_first_without_repeats() {
        let deps = parse_dep(DEP);
        let order = closure(&deps, &BTreeSet::new(), &["sd_mod", "ext4", "dm-thin-pool"]).unwrap();
        let names: Vec<String> = order.iter().map(|p| module_name(p)).collect();
        assert_eq!(
            names,
            [
                "scsi_common",
                "scsi_mod",
                "sd_mod",
                "jbd2",
                "mbcache",
                "crc16",
                "ext4",
                "dm_mod",
                "dm_thin_pool"
            ]
        );
    }

    #[test]
    fn alias_subset_keeps_only_the_named_modules() {
        let text = "# Aliases extracted from modules themselves.\n\
alias pci:v*d*sv*sd*bc01sc06i01* ahci\n\
alias virtio:d00000002v* virtio_blk\n\
alias pci:v00008086d*sv*sd*bc04sc03i00* snd_hda_intel\n";
        let keep = ["ahci".to_string(), "virtio_blk".to_string()].into();
        assert_eq!(
            alias_subset(text, &keep),
            "alias pci:v*d*sv*sd*bc01sc06i01* ahci\nalias virtio:d00000002v* virtio_blk\n"
        );
    }

    #[test]
    fn closure_skips_builtins_and_rejects_unknown_modules() {
        let deps = parse_dep(DEP);
        let builtin = parse_builtin("kernel/drivers/virtio/virtio_pci.ko\n");
        assert!(
            closure(&deps, &builtin, &["virtio_pci"])
                .unwrap()
                .is_empty()
        );
        let err = closure(&deps, &builtin, &["nosuch"]).unwrap_err();
        assert!(err.to_string().contains("nosuch"), "{err}");
    }
}
