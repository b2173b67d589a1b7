//! Kernel modules of the host contract: the Genestack set plus the config's extras (the list is
//! `plinth_config::kernel::modules`), loaded with `finit_module` from `/usr/lib/modules/<release>`
//! in `modules.dep` order. The resolver is `plinth_kmod` and the loader stage 1's
//! (`stage1::modules`); here a module built into the kernel counts as present, and a module the
//! kernel does not have is a warning naming it, never a reason to load nothing.
//!
//! Some modules take parameters from the config (`plinth_config::kernel::module_parameters`: KVM's
//! `nested`), which the kernel reads only at load. A module already loaded with other values (a
//! config applied again from maintenance mode) is unloaded and loaded again when nothing uses it,
//! else a warning says a reboot applies them.

use std::collections::BTreeMap;
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

/// Loads `wanted` from `moddir` (`/usr/lib/modules/<release>`), without parameters.
pub fn load_all(moddir: &Path, wanted: &[String]) -> LoadReport {
    load_all_with(moddir, wanted, &BTreeMap::new())
}

/// Loads `wanted` from `moddir`, each module named in `params` with its parameter string.
pub fn load_all_with(
    moddir: &Path,
    wanted: &[String],
    params: &BTreeMap<String, String>,
) -> LoadReport {
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
        let name = module_name(file);
        let wanted_params = params.get(&name).map(String::as_str).unwrap_or("");
        match modules::load_with(&moddir.join(file), wanted_params) {
            Ok(Loaded::Loaded) => report.loaded += 1,
            Ok(Loaded::AlreadyThere) => {
                report.loaded += 1;
                if let Some(warning) = reload_if_needed(moddir, file, &name, wanted_params) {
                    report.warnings.push(warning);
                }
            }
            Ok(Loaded::Refused(errno)) => report
                .warnings
                .push(format!("module {name}: refused by the kernel ({errno})")),
            Err(e) => report.warnings.push(format!("module {name}: {e}")),
        }
    }
    report
}

/// The `key=value` words of `params` whose value the loaded module `name` does not have (from
/// `/sys/module/NAME/parameters/KEY`, where booleans read `Y`/`N`). Pure.
pub fn differing(params: &str, current: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let same = |want: &str, have: &str| {
        let canon = |v: &str| match v.trim() {
            "Y" | "y" | "1" => "1".to_owned(),
            "N" | "n" | "0" => "0".to_owned(),
            other => other.to_owned(),
        };
        canon(want) == canon(have)
    };
    params
        .split_whitespace()
        .filter_map(|word| word.split_once('='))
        .filter(|(key, want)| !current(key).is_some_and(|have| same(want, &have)))
        .map(|(key, want)| format!("{key}={want}"))
        .collect()
}

/// A module loaded before with other parameters: unloaded and loaded with `params` when nothing
/// holds it; otherwise the warning to print.
fn reload_if_needed(moddir: &Path, file: &str, name: &str, params: &str) -> Option<String> {
    let sys = Path::new("/sys/module").join(name).join("parameters");
    let wrong = differing(params, |key| std::fs::read_to_string(sys.join(key)).ok());
    if wrong.is_empty() {
        return None;
    }
    let unloaded = std::ffi::CString::new(name)
        .ok()
        .map(|c| nix::kmod::delete_module(&c, nix::kmod::DeleteModuleFlags::O_NONBLOCK));
    match unloaded {
        Some(Ok(())) => match modules::load_with(&moddir.join(file), params) {
            Ok(Loaded::Loaded) => {
                crate::console::say(&format!("kernel: module {name} loaded again with {params}"));
                None
            }
            other => Some(format!(
                "module {name}: unloaded to apply {}, but loading it again failed ({other:?})",
                wrong.join(" ")
            )),
        },
        _ => Some(format!(
            "module {name}: in use with other parameters; {} applies at the next boot",
            wrong.join(" ")
        )),
    }
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
    fn parameters_differ_by_value_with_booleans_read_as_the_kernel_prints_them() {
        let sys = |key: &str| match key {
            "nested" => Some("Y\n".to_owned()),
            "ept" => Some("N\n".to_owned()),
            _ => None,
        };
        assert!(differing("nested=1", sys).is_empty());
        assert_eq!(differing("nested=0", sys), ["nested=0"]);
        assert_eq!(differing("nested=1 ept=1", sys), ["ept=1"]);
        assert_eq!(differing("unknown=3", sys), ["unknown=3"]);
        assert!(differing("", sys).is_empty());
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
