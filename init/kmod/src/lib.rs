//! `plinth-kmod` reads a kernel's `modules.dep` and `modules.builtin` and decides, purely, which
//! module files to load and in what order. It is the one resolver behind stage 1 (the initramfs
//! modules), stage 2's `kernel` phase (the Genestack set), and the image build (which modules
//! the initramfs carries, which the root keeps, and the boot-bench floor).
//!
//! It performs no effects: loading a file with `finit_module` is `plinth-init`'s job.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The module name of a `modules.dep` path: file stem without `.ko*`, hyphens as underscores
/// (`kernel/drivers/md/dm-thin-pool.ko.xz` → `dm_thin_pool`).
pub fn module_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.split(".ko").next().unwrap_or(file).replace('-', "_")
}

/// Module names listed in `modules.builtin` text.
pub fn parse_builtin(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(module_name)
        .collect()
}

/// A module name that `modules.dep` does not list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownModule(pub String);

impl fmt::Display for UnknownModule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "module {} is not in modules.dep", self.0)
    }
}

impl std::error::Error for UnknownModule {}

/// Wanted modules sorted by what this kernel has.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Module files (relative to the module directory) in load order, dependencies first.
    pub files: Vec<String>,
    /// Wanted modules built into the kernel: nothing to load.
    pub builtin: Vec<String>,
    /// Wanted modules this kernel has neither as a file nor built in.
    pub missing: Vec<String>,
}

/// A parsed `modules.dep`: each module file with the files it needs, in the file's order.
#[derive(Debug, Default, Clone)]
pub struct ModulesDep {
    deps: BTreeMap<String, Vec<String>>,
    by_name: BTreeMap<String, String>,
}

impl ModulesDep {
    /// Parses `modules.dep` text; lines without a `:` are ignored.
    pub fn parse(text: &str) -> Self {
        let deps: BTreeMap<String, Vec<String>> = text
            .lines()
            .filter_map(|line| {
                let (path, needs) = line.split_once(':')?;
                Some((
                    path.trim().to_string(),
                    needs.split_whitespace().map(str::to_string).collect(),
                ))
            })
            .collect();
        let by_name = deps.keys().map(|p| (module_name(p), p.clone())).collect();
        ModulesDep { deps, by_name }
    }

    /// Every module file listed.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.deps.keys().map(String::as_str)
    }

    /// The files `path` needs (empty for an unknown path).
    pub fn needs(&self, path: &str) -> &[String] {
        self.deps.get(path).map(Vec::as_slice).unwrap_or_default()
    }

    /// The file of module `name` (hyphens or underscores), if listed.
    pub fn path_of(&self, name: &str) -> Option<&str> {
        self.by_name
            .get(&name.replace('-', "_"))
            .map(String::as_str)
    }

    /// Module files in load order for `names`: each module's listed dependencies from last to
    /// first (as modprobe does: `modules.dep` lists the whole closure), then the module; nothing
    /// twice. Fails on the first name that is not listed.
    pub fn load_order<S: AsRef<str>>(&self, names: &[S]) -> Result<Vec<String>, UnknownModule> {
        let paths = names
            .iter()
            .map(|n| {
                self.path_of(n.as_ref())
                    .ok_or_else(|| UnknownModule(n.as_ref().to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.order_of(&paths))
    }

    /// Load order of listed module files: dependencies from last to first, then the file.
    fn order_of(&self, paths: &[&str]) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut order = Vec::new();
        for &path in paths {
            for file in self
                .needs(path)
                .iter()
                .map(String::as_str)
                .rev()
                .chain([path])
            {
                if seen.insert(file) {
                    order.push(file.to_string());
                }
            }
        }
        order
    }

    /// Sorts `names` into files to load (in load order), built-in modules and missing ones.
    pub fn resolve<S: AsRef<str>>(&self, builtin: &BTreeSet<String>, names: &[S]) -> Resolved {
        let mut out = Resolved::default();
        let mut loadable = Vec::new();
        for name in names {
            let name = name.as_ref();
            if let Some(path) = self.path_of(name) {
                loadable.push(path);
            } else if builtin.contains(&name.replace('-', "_")) {
                out.builtin.push(name.to_string());
            } else {
                out.missing.push(name.to_string());
            }
        }
        out.files = self.order_of(&loadable);
        out
    }
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
kernel/drivers/md/dm-thin-pool.ko.xz: kernel/drivers/md/dm-mod.ko.xz
kernel/drivers/md/dm-mod.ko.xz:
";

    fn names(files: &[String]) -> Vec<String> {
        files.iter().map(|f| module_name(f)).collect()
    }

    #[test]
    fn names_drop_the_suffix_and_use_underscores() {
        assert_eq!(
            module_name("kernel/drivers/md/dm-thin-pool.ko.xz"),
            "dm_thin_pool"
        );
        assert_eq!(module_name("kernel/fs/ext4/ext4.ko"), "ext4");
    }

    #[test]
    fn dependencies_come_first_last_listed_first() {
        let dep = ModulesDep::parse(DEP);
        let order = dep.load_order(&["ext4"]).unwrap();
        assert_eq!(names(&order), ["jbd2", "mbcache", "crc16", "ext4"]);
    }

    #[test]
    fn shared_dependencies_load_once_and_hyphens_match() {
        let dep = ModulesDep::parse(DEP);
        let order = dep
            .load_order(&["sd_mod", "sr_mod", "dm-thin-pool"])
            .unwrap();
        assert_eq!(
            names(&order),
            [
                "scsi_common",
                "scsi_mod",
                "sd_mod",
                "cdrom",
                "sr_mod",
                "dm_mod",
                "dm_thin_pool"
            ]
        );
    }

    #[test]
    fn an_unknown_name_is_named() {
        let err = ModulesDep::parse(DEP)
            .load_order(&["ext4", "nvme"])
            .unwrap_err();
        assert_eq!(err.to_string(), "module nvme is not in modules.dep");
    }

    #[test]
    fn resolve_sorts_files_builtin_and_missing() {
        let dep = ModulesDep::parse(DEP);
        let builtin = parse_builtin("kernel/drivers/virtio/virtio_pci.ko\n\n");
        let r = dep.resolve(&builtin, &["virtio-pci", "no_such", "ext4"]);
        assert_eq!(r.builtin, ["virtio-pci"]);
        assert_eq!(r.missing, ["no_such"]);
        assert_eq!(names(&r.files), ["jbd2", "mbcache", "crc16", "ext4"]);
    }
}
