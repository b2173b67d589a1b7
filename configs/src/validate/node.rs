//! Node-level Plinth settings: the exporter's listen address, the install disk, kernel module and
//! sysctl names, and OVS bridges that only host mode creates.

use super::addresses::check_listen;
use super::{Finding, root};
use crate::config::MachineConfig;

pub(super) fn check(config: &MachineConfig, out: &mut Vec<Finding>) {
    let exporter = &config.plinth.exporters.node_exporter;
    if let Err(problem) = check_listen(&exporter.listen) {
        out.push(Finding::error(
            root("plinth")
                .key("exporters")
                .key("node_exporter")
                .key("listen"),
            problem.to_string(),
        ));
    }

    if let Some(install) = &config.plinth.install {
        let given = [&install.serial, &install.wwn, &install.path]
            .iter()
            .filter(|v| v.is_some())
            .count();
        if given != 1 {
            out.push(Finding::error(
                root("plinth").key("install"),
                format!("choose the install disk with exactly one of `serial`, `wwn` or `path` ({given} given)"),
            ));
        }
        if let Some(p) = &install.path
            && !p.starts_with("/dev/")
        {
            out.push(Finding::error(
                root("plinth").key("install").key("path"),
                format!("`{p}` is not a device path under /dev/"),
            ));
        }
    }

    let kernel = root("plinth").key("kernel");
    for (name, _) in config.plinth.kernel.modules.entries() {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            out.push(Finding::error(
                kernel.key("modules"),
                format!("`{name}` is not a kernel module name"),
            ));
        }
    }
    for key in config.plinth.kernel.sysctls.keys() {
        let ok = !key.is_empty()
            && !key.starts_with(['.', '/'])
            && !key.contains("..")
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | '*'));
        if !ok {
            out.push(
                Finding::error(
                    kernel.key("sysctls").key(key),
                    format!("`{key}` is not a sysctl name"),
                )
                .at_key(),
            );
        }
    }
    // Kube-OVN's Geneve tunnels do not come up with IPv6 off (GENESTACK.md; kube-ovn's docs).
    for (key, value) in &config.plinth.kernel.sysctls {
        let name = key.replace('/', ".");
        let off = matches!(value, crate::plinth::SysctlValue::Set(v) if v.trim() == "1");
        if off && name.starts_with("net.ipv6.conf.") && name.ends_with(".disable_ipv6") {
            out.push(Finding::warning(
                kernel.key("sysctls").key(key),
                "IPv6 switched off: Kube-OVN's Geneve tunnels need it left enabled in the kernel",
            ));
        }
    }
}
