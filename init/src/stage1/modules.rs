//! Loading the initramfs's kernel modules: the load order resolved from `modules.dep` (pure),
//! and `finit_module` on each compressed `.ko.xz` file, which the kernel decompresses itself
//! (`MODULE_INIT_COMPRESSED_FILE`).

use std::collections::{BTreeMap, HashSet};
use std::ffi::CString;
use std::fs::File;
use std::path::Path;

use nix::errno::Errno;
use nix::kmod::{ModuleInitFlags, finit_module};

/// `finit_module` flag: the file is compressed and the kernel decompresses it.
const MODULE_INIT_COMPRESSED_FILE: u32 = 4;

/// Why the module list could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("module {0} is not in modules.dep")]
    Unknown(String),
}

/// The module name of a `modules.dep` path: file stem, hyphens as underscores.
pub fn module_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.split(".ko").next().unwrap_or(file).replace('-', "_")
}

/// Module paths in load order for `wanted` names: each module's listed dependencies from last
/// to first (as modprobe does), then the module; nothing twice.
pub fn load_order(modules_dep: &str, wanted: &[String]) -> Result<Vec<String>, ResolveError> {
    let deps: BTreeMap<String, (String, Vec<&str>)> = modules_dep
        .lines()
        .filter_map(|line| {
            let (path, deps) = line.split_once(':')?;
            let path = path.trim();
            Some((
                module_name(path),
                (path.to_string(), deps.split_whitespace().collect()),
            ))
        })
        .collect();
    let mut seen = HashSet::new();
    let mut order = Vec::new();
    for name in wanted {
        let (path, list) = deps
            .get(&name.replace('-', "_"))
            .ok_or_else(|| ResolveError::Unknown(name.clone()))?;
        for dep in list
            .iter()
            .rev()
            .copied()
            .chain(std::iter::once(path.as_str()))
        {
            if seen.insert(dep.to_string()) {
                order.push(dep.to_string());
            }
        }
    }
    Ok(order)
}

/// What happened to one module.
#[derive(Debug, PartialEq, Eq)]
pub enum Loaded {
    Loaded,
    AlreadyThere,
    /// The kernel refused it (for example no such hardware feature); stage 1 goes on.
    Refused(Errno),
}

/// Why a module file could not even be handed to the kernel.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("opening module {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
}

/// Loads one module file.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let file = File::open(path).map_err(|source| LoadError::Open {
        path: path.display().to_string(),
        source,
    })?;
    let compressed = path
        .extension()
        .is_some_and(|e| e == "xz" || e == "zst" || e == "gz");
    let flags = if compressed {
        ModuleInitFlags::from_bits_retain(MODULE_INIT_COMPRESSED_FILE)
    } else {
        ModuleInitFlags::empty()
    };
    let no_params = CString::default();
    Ok(match finit_module(&file, &no_params, flags) {
        Ok(()) => Loaded::Loaded,
        Err(Errno::EEXIST) => Loaded::AlreadyThere,
        Err(errno) => Loaded::Refused(errno),
    })
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
kernel/drivers/scsi/sr_mod.ko.xz: kernel/drivers/scsi/scsi_mod.ko.xz kernel/drivers/scsi/scsi_common.ko.xz kernel/drivers/cdrom/cdrom.ko.xz
kernel/drivers/scsi/scsi_mod.ko.xz: kernel/drivers/scsi/scsi_common.ko.xz
kernel/drivers/scsi/scsi_common.ko.xz:
kernel/drivers/cdrom/cdrom.ko.xz:
kernel/drivers/usb/storage/usb-storage.ko.xz: kernel/drivers/scsi/scsi_mod.ko.xz kernel/drivers/scsi/scsi_common.ko.xz
";

    fn names(order: &[String]) -> Vec<String> {
        order.iter().map(|p| module_name(p)).collect()
    }

    #[test]
    fn dependencies_load_first_in_modprobe_order() {
        let order = load_order(DEP, &["ext4".into()]).unwrap();
        assert_eq!(names(&order), ["jbd2", "mbcache", "crc16", "ext4"]);
    }

    #[test]
    fn shared_dependencies_load_once() {
        let wanted = ["sd_mod".into(), "sr_mod".into(), "usb-storage".into()];
        let order = load_order(DEP, &wanted).unwrap();
        assert_eq!(
            names(&order),
            [
                "scsi_common",
                "scsi_mod",
                "sd_mod",
                "cdrom",
                "sr_mod",
                "usb_storage"
            ]
        );
    }

    #[test]
    fn unknown_module_is_an_error_naming_it() {
        let err = load_order(DEP, &["ext4".into(), "nvme".into()]).unwrap_err();
        assert_eq!(err.to_string(), "module nvme is not in modules.dep");
    }
}
