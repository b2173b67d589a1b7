//! Kernel modules of the host contract: the Genestack set plus the config's extras (the list is
//! `plinth_config::kernel::modules`), loaded with `finit_module` from `/usr/lib/modules/<release>`
//! in `modules.dep` order. The resolver is `plinth_kmod` and the loader stage 1's
//! (`stage1::modules`); here a module built into the kernel counts as present, and a module the
//! kernel does not have is a warning naming it, never a reason to load nothing.

use std::path::Path;

use plinth_kmod::{ModulesDep, module_name, parse_builtin};

use crate::stage1::modules::{self, Loaded};

/// What to do with the wanted modules: files in load order, built-in and missing names.
pub type ModulePlan = plinth_kmod::Resolved;

/// Plans loading `wanted` from the texts of `modules.dep` and `modules.builtin`.
pub fn plan(wanted: &[String], modules_dep: &str, modules_builtin: &str) -> ModulePlan {
    ModulesDep::parse(modules_dep).resolve(&parse_builtin(modules_builtin), wanted)
}

/// What loading did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Module files handed to the kernel, loaded now or already there.
    pub loaded: usize,
    /// Built-in modules among the wanted.
    pub builtin: usize,
    /// One line per module missing or refused, naming it.
    pub warnings: Vec<String>,
}

/// Loads `wanted` from `moddir` (`/usr/lib/modules/<release>`).
pub fn load_all(moddir: &Path, wanted: &[String]) -> LoadReport {
    let read = |name: &str| std::fs::read_to_string(moddir.join(name));
    let dep = match read("modules.dep") {
        Ok(dep) => dep,
        Err(e) => {
            return LoadReport {
                warnings: vec![format!(
                    "no {}/modules.dep ({e}): no module loaded",
                    moddir.display()
                )],
                ..LoadReport::default()
            };
        }
    };
    let planned = plan(wanted, &dep, &read("modules.builtin").unwrap_or_default());
    let mut report = LoadReport {
        builtin: planned.builtin.len(),
        warnings: planned
            .missing
            .iter()
            .map(|m| format!("module {m}: not found for this kernel"))
            .collect(),
        ..LoadReport::default()
    };
    for file in &planned.files {
        match modules::load(&moddir.join(file)) {
            Ok(Loaded::Loaded | Loaded::AlreadyThere) => report.loaded += 1,
            Ok(Loaded::Refused(errno)) => report.warnings.push(format!(
                "module {}: refused by the kernel ({errno})",
                module_name(file)
            )),
            Err(e) => report
                .warnings
                .push(format!("module {}: {e}", module_name(file))),
        }
    }
    report
}

/// The module directory of the running kernel.
pub fn running_kernel_dir() -> std::path::PathBuf {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    Path::new("/usr/lib/modules").join(release)
}

#[cfg(test)]
mod tests {
    use super::*;

    // depmod lists every module's whole dependency closure, as here.
    const DEP: &str = "\
kernel/net/8021q/8021q.ko.xz: kernel/net/802/garp.ko.xz kernel/net/802/mrp.ko.xz kernel/net/802/stp.ko.xz kernel/net/llc/llc.ko.xz
kernel/net/802/garp.ko.xz: kernel/net/802/stp.ko.xz kernel/net/llc/llc.ko.xz
kernel/net/802/mrp.ko.xz:
kernel/net/802/stp.ko.xz: kernel/net/llc/llc.ko.xz
kernel/net/llc/llc.ko.xz:
kernel/net/bridge/br_netfilter.ko.xz: kernel/net/bridge/bridge.ko.xz kernel/net/802/stp.ko.xz kernel/net/llc/llc.ko.xz
kernel/net/bridge/bridge.ko.xz: kernel/net/802/stp.ko.xz kernel/net/llc/llc.ko.xz
kernel/drivers/md/dm-thin-pool.ko.xz: kernel/drivers/md/dm-mod.ko.xz
kernel/drivers/md/dm-mod.ko.xz:
";
    const BUILTIN: &str = "kernel/fs/overlayfs/overlay.ko\n";

    fn names(files: &[String]) -> Vec<String> {
        files.iter().map(|f| module_name(f)).collect()
    }

    #[test]
    fn loads_dependencies_first_and_each_once() {
        let wanted = ["8021q", "br_netfilter", "dm_thin_pool"].map(String::from);
        let planned = plan(&wanted, DEP, BUILTIN);
        assert_eq!(
            names(&planned.files),
            [
                "llc",
                "stp",
                "mrp",
                "garp",
                "8021q",
                "bridge",
                "br_netfilter",
                "dm_mod",
                "dm_thin_pool"
            ]
        );
        assert!(planned.missing.is_empty() && planned.builtin.is_empty());
    }

    #[test]
    fn builtin_modules_are_present_and_unknown_ones_are_named() {
        let wanted = ["overlay", "no_such_module", "8021q"].map(String::from);
        let planned = plan(&wanted, DEP, BUILTIN);
        assert_eq!(planned.builtin, ["overlay"]);
        assert_eq!(planned.missing, ["no_such_module"]);
        assert_eq!(names(&planned.files).last().unwrap(), "8021q");
    }

    #[test]
    fn a_missing_module_directory_is_one_warning() {
        let report = load_all(Path::new("/nonexistent/modules"), &["kvm".into()]);
        assert_eq!(report.loaded, 0);
        assert_eq!(report.warnings.len(), 1);
        assert!(
            report.warnings[0].contains("modules.dep"),
            "{:?}",
            report.warnings
        );
    }
}
