//! Which of the initramfs's modules this machine needs: controller drivers only when a device
//! on the PCI or virtio bus matches one of their `modules.alias` patterns, the SCSI disk and
//! CD-ROM drivers only when a SCSI host driver is loaded, USB storage only with a USB host
//! driver, and everything else (filesystems, loop, overlay) always. A pure decision over the
//! alias file, `modules.dep` and the devices' modaliases; reading sysfs is [`modaliases`].

use std::collections::BTreeSet;
use std::path::Path;

use plinth_kmod::{ModulesDep, module_name};

/// The match of a `modules.alias` pattern against a modalias: fnmatch(3), as kmod does.
pub use plinth_config::glob::glob_match;

/// `(pattern, module)` pairs of a `modules.alias` file.
pub fn parse_aliases(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next()? == "alias").then_some(())?;
            Some((w.next()?.to_string(), w.next()?.replace('-', "_")))
        })
        .collect()
}

/// What kind of module `name` is, from the buses its aliases name.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    /// A PCI or virtio driver: needed when a device matches.
    Controller,
    /// A SCSI upper driver (disks, CD-ROMs): needed with any SCSI host.
    ScsiUpper,
    /// A USB device driver: needed with any USB host controller.
    UsbDevice,
    /// Filesystems and the like: always.
    Always,
}

fn kind(name: &str, aliases: &[(String, String)]) -> Kind {
    let buses: BTreeSet<&str> = aliases
        .iter()
        .filter(|(_, m)| m == name)
        .filter_map(|(p, _)| p.split(':').next())
        .collect();
    if buses.contains("pci") || buses.contains("virtio") {
        Kind::Controller
    } else if buses.contains("scsi") {
        Kind::ScsiUpper
    } else if buses.contains("usb") {
        Kind::UsbDevice
    } else {
        Kind::Always
    }
}

/// Dependencies (module names) of `name` in `modules.dep` text.
fn deps_of(modules_dep: &str, name: &str) -> Vec<String> {
    let dep = ModulesDep::parse(modules_dep);
    dep.path_of(name)
        .map(|path| dep.needs(path).iter().map(|p| module_name(p)).collect())
        .unwrap_or_default()
}

/// The subset of `wanted` this machine needs, in `wanted`'s order, given the devices'
/// `modaliases`.
pub fn select(
    wanted: &[String],
    alias_text: &str,
    modules_dep: &str,
    modaliases: &[String],
) -> Vec<String> {
    let aliases = parse_aliases(alias_text);
    let matched: BTreeSet<&str> = aliases
        .iter()
        .filter(|(pattern, _)| modaliases.iter().any(|m| glob_match(pattern, m)))
        .map(|(_, module)| module.as_str())
        .collect();
    let controllers: Vec<&String> = wanted
        .iter()
        .filter(|w| kind(&w.replace('-', "_"), &aliases) == Kind::Controller)
        .filter(|w| matched.contains(w.replace('-', "_").as_str()))
        .collect();
    let uses = |drivers: &[&String], base: &str| {
        drivers.iter().any(|c| {
            deps_of(modules_dep, &c.replace('-', "_"))
                .iter()
                .any(|d| d == base)
        })
    };
    let usb = uses(&controllers, "usbcore");
    // USB storage is a SCSI host too: with a USB host, the disk driver is needed.
    let mut hosts = controllers.clone();
    if usb {
        hosts.extend(
            wanted
                .iter()
                .filter(|w| kind(&w.replace('-', "_"), &aliases) == Kind::UsbDevice),
        );
    }
    let scsi = uses(&hosts, "scsi_mod");
    wanted
        .iter()
        .filter(|w| match kind(&w.replace('-', "_"), &aliases) {
            Kind::Controller => controllers.contains(w),
            Kind::ScsiUpper => scsi,
            Kind::UsbDevice => usb,
            Kind::Always => true,
        })
        .cloned()
        .collect()
}

/// The modaliases of the devices on the PCI and virtio buses under `sys_bus` (`/sys/bus`).
pub fn modaliases(sys_bus: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for bus in ["pci", "virtio"] {
        let Ok(entries) = std::fs::read_dir(sys_bus.join(bus).join("devices")) else {
            continue;
        };
        for entry in entries.flatten() {
            if let Ok(alias) = std::fs::read_to_string(entry.path().join("modalias")) {
                out.push(alias.trim().to_string());
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALIAS: &str = "\
alias virtio:d00000002v* virtio_blk
alias virtio:d00000008v* virtio_scsi
alias pci:v*d*sv*sd*bc01sc06i01* ahci
alias pci:v*d*sv*sd*bc01sc08i02* nvme
alias pci:v*d*sv*sd*bc0Csc03i30* xhci_pci
alias scsi:t-0x00* sd_mod
alias scsi:t-0x05* sr_mod
alias usb:v*p*d*dc*dsc*dp*ic08isc06ip50in* usb_storage
alias fs-squashfs squashfs
alias crypto-crc32c crc32c_generic
";
    const DEP: &str = "\
kernel/drivers/block/virtio_blk.ko.xz:
kernel/drivers/scsi/virtio_scsi.ko.xz: kernel/drivers/scsi/scsi_mod.ko.xz kernel/drivers/scsi/scsi_common.ko.xz
kernel/drivers/ata/ahci.ko.xz: kernel/drivers/ata/libahci.ko.xz kernel/drivers/ata/libata.ko.xz kernel/drivers/scsi/scsi_mod.ko.xz
kernel/drivers/nvme/host/nvme.ko.xz: kernel/drivers/nvme/host/nvme-core.ko.xz
kernel/drivers/usb/host/xhci-pci.ko.xz: kernel/drivers/usb/host/xhci-hcd.ko.xz kernel/drivers/usb/core/usbcore.ko.xz
kernel/drivers/usb/storage/usb-storage.ko.xz: kernel/drivers/scsi/scsi_mod.ko.xz kernel/drivers/usb/core/usbcore.ko.xz
";

    fn wanted() -> Vec<String> {
        [
            "crc32c_generic",
            "virtio_blk",
            "virtio_scsi",
            "ahci",
            "nvme",
            "xhci_pci",
            "sd_mod",
            "sr_mod",
            "usb_storage",
            "squashfs",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn globs_match_like_fnmatch() {
        assert!(glob_match(
            "virtio:d00000002v*",
            "virtio:d00000002v00001AF4"
        ));
        assert!(!glob_match(
            "virtio:d00000002v*",
            "virtio:d00000001v00001AF4"
        ));
        assert!(glob_match(
            "pci:v*d*sv*sd*bc01sc06i01*",
            "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01"
        ));
        assert!(glob_match("a?c*", "abcdef"));
        assert!(!glob_match("a?c", "abcd"));
        assert!(glob_match("*", ""));
        // kmod matches with fnmatch(3): a class is a class, not two literal brackets.
        assert!(glob_match(
            "of:N*T*Cfsl,imx[0-9]*",
            "of:NuartT(null)Cfsl,imx6"
        ));
        assert!(!glob_match(
            "of:N*T*Cfsl,imx[0-9]*",
            "of:NuartT(null)Cfsl,imxq"
        ));
    }

    #[test]
    fn a_virtio_blk_vm_loads_no_other_controller() {
        let devices = [
            "virtio:d00000002v00001AF4".to_string(),
            "pci:v00008086d00001237sv00001AF4sd00001100bc06sc00i00".to_string(),
        ];
        assert_eq!(
            select(&wanted(), ALIAS, DEP, &devices),
            ["crc32c_generic", "virtio_blk", "squashfs"]
        );
    }

    #[test]
    fn a_sata_controller_brings_the_scsi_disk_and_cdrom_drivers() {
        let devices = ["pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01".to_string()];
        assert_eq!(
            select(&wanted(), ALIAS, DEP, &devices),
            ["crc32c_generic", "ahci", "sd_mod", "sr_mod", "squashfs"]
        );
    }

    #[test]
    fn a_usb_host_brings_usb_storage_and_the_scsi_disk_driver() {
        let devices = ["pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30".to_string()];
        assert_eq!(
            select(&wanted(), ALIAS, DEP, &devices),
            [
                "crc32c_generic",
                "xhci_pci",
                "sd_mod",
                "sr_mod",
                "usb_storage",
                "squashfs"
            ]
        );
    }
}
