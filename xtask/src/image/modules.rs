//! Kernel modules: which ones the root keeps (the pruning policy) and which ones the stage-1
//! initramfs carries, both decided from `modules.dep` as pure functions; plus the effect of
//! deleting what the policy drops.
//!
//! The root keeps storage, network, virtualization, netfilter and filesystems; it drops sound,
//! wireless, media, GPU and other desktop hardware. Anything a kept module depends on is kept, so
//! pruning can never leave a module that fails to load for want of a dependency.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};
use plinth_kmod::ModulesDep;

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
    // Mesh networking; it was all that kept cfg80211, which the kernel then loaded on dhcpcd's
    // nl80211 probe of each interface: 1.3 s of certificate loading in the middle of a first
    // lease under TCG.
    "net/batman-adv/",
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

/// The modules the root keeps: every module outside `DROPPED`, plus whatever those depend on.
pub fn kept(deps: &ModulesDep) -> BTreeSet<String> {
    let mut keep: BTreeSet<String> = deps
        .paths()
        .filter(|path| {
            let rel = path.strip_prefix("kernel/").unwrap_or(path);
            !DROPPED.iter().any(|d| rel.starts_with(d))
        })
        .map(str::to_string)
        .collect();
    let wanted_deps: Vec<String> = keep.iter().flat_map(|m| deps.needs(m).to_vec()).collect();
    keep.extend(wanted_deps);
    keep
}

/// The module files for `names` and all their dependencies, in load order (dependencies first).
/// Names built into the kernel are skipped; any other name the kernel lacks fails the build.
pub fn closure(
    deps: &ModulesDep,
    builtin: &BTreeSet<String>,
    names: &[&str],
) -> Result<Vec<String>> {
    let resolved = deps.resolve(builtin, names);
    if !resolved.missing.is_empty() {
        bail!(
            "modules neither in modules.dep nor built in: {}",
            resolved.missing.join(", ")
        );
    }
    Ok(resolved.files)
}

/// Deletes from `moddir` (`…/lib/modules/<kver>`) every module the policy drops; returns how
/// many files were removed and their total size. The caller runs depmod afterwards.
pub fn prune(moddir: &Path) -> Result<(usize, u64)> {
    let dep_path = moddir.join("modules.dep");
    let text = std::fs::read_to_string(&dep_path)
        .with_context(|| format!("reading {}", dep_path.display()))?;
    let deps = ModulesDep::parse(&text);
    let keep = kept(&deps);
    let (mut count, mut bytes) = (0, 0);
    for path in deps.paths().filter(|p| !keep.contains(*p)) {
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

#[cfg(test)]
mod tests {
    use plinth_kmod::parse_builtin;

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
kernel/net/wireless/cfg80211.ko.xz: kernel/net/rfkill/rfkill.ko.xz
kernel/net/rfkill/rfkill.ko.xz:
kernel/net/batman-adv/batman-adv.ko.xz: kernel/net/wireless/cfg80211.ko.xz kernel/lib/crc16.ko.xz
";

    #[test]
    fn prune_drops_sound_and_gpu_but_keeps_what_kept_modules_need() {
        let keep = kept(&ModulesDep::parse(DEP));
        assert!(keep.contains("kernel/fs/ext4/ext4.ko.xz"));
        assert!(keep.contains("kernel/drivers/md/dm-thin-pool.ko.xz"));
        assert!(!keep.contains("kernel/sound/core/snd.ko.xz"));
        assert!(!keep.contains("kernel/drivers/gpu/drm/drm.ko.xz"));
        // A GPU module that a kept module depends on survives the prune.
        assert!(keep.contains("kernel/drivers/gpu/drm/drm_panel_orientation_quirks.ko.xz"));
        // Nothing kept wants cfg80211 any more, so dhcpcd's probe no longer loads it.
        assert!(!keep.contains("kernel/net/wireless/cfg80211.ko.xz"));
        assert!(!keep.contains("kernel/net/batman-adv/batman-adv.ko.xz"));
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
        let deps = ModulesDep::parse(DEP);
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
