//! Phase `kernel`: the kernel and host contract of a Genestack node (see `crate::host_contract`): modules,
//! then sysctls (several keys, such as `net.bridge.*`, exist only once their module is loaded),
//! group `kvm` and the `/dev/kvm` rule, and the writable host paths.
//!
//! It runs right after `config` rather than inside `early` because the config decides part of it
//! (extra modules, sysctls switched off or added, the Longhorn path), and before `network` because
//! bonds, VLANs and bridges need their modules. Missing modules, unknown sysctls and paths that
//! cannot be made are warnings naming them: the phase fails only when /etc cannot take the kvm
//! group.

use std::path::Path;

use crate::boot::BootContext;
use crate::boot::sequence::{PhaseError, PhaseResult};
use crate::console;
use crate::host_contract::{kvm, modules, paths, sysctl};

/// Loads the modules, applies the sysctls, the kvm group and the host paths.
pub async fn run(ctx: &mut BootContext) -> PhaseResult {
    if !ctx.mode.owns_machine() {
        return Ok("container mode: no host-wide setup".into());
    }
    let loaded = ctx.loaded()?;
    let kernel = &loaded.config.plinth.kernel;
    let vendor = cpu_vendor();
    let wanted = plinth_config::kernel::modules(kernel, vendor.as_deref());
    let params = plinth_config::kernel::module_parameters(kernel, vendor.as_deref());
    let loaded_modules = modules::load_all_with(&modules::running_kernel_dir(), &wanted, &params);
    let sysctls = plinth_config::kernel::sysctls(kernel);
    let applied = sysctl::apply(Path::new("/proc/sys"), &sysctls);
    let kvm = kvm::apply(Path::new("/")).map_err(|e| PhaseError::setup("kvm group", e))?;
    let host_paths = paths::wanted(&loaded.config);
    let path_warnings = paths::create(Path::new("/"), &host_paths);
    let warnings: Vec<&String> = loaded_modules
        .warnings
        .iter()
        .chain(&applied.warnings)
        .chain(&path_warnings)
        .collect();
    for warning in &warnings {
        console::say(&format!("kernel warning: {warning}"));
    }
    Ok(format!(
        "{} modules wanted ({} files loaded with their dependencies, {} built in), {} of {} sysctls set, {kvm}, {} host paths; {} warnings",
        wanted.len(),
        loaded_modules.loaded,
        loaded_modules.builtin,
        applied.written,
        sysctls.len(),
        host_paths.len() - path_warnings.len(),
        warnings.len()
    ))
}

/// The CPU vendor from /proc/cpuinfo (`GenuineIntel`, `AuthenticAMD`), for the KVM module.
fn cpu_vendor() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("vendor_id"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}
