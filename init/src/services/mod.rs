//! Plinth's built-in services, one file each, planned from the machine config through the same
//! planner as the user's services. Each file says what the service needs, how it starts, how its
//! readiness is checked and what it comes after; this module lists them and applies the rules
//! every built-in shares: skipped in `--container` mode unless asked for, skipped when a binary is
//! missing (a file's services stand or fall together, and a skipped one is dropped from the `after`
//! lists of the others).

pub mod autologin;
pub mod builtin;
pub mod chronyd;
pub mod cluster;
pub mod compute;
pub mod containerd;
pub mod dhcp;
pub mod facts;
pub mod net;
pub mod node_exporter;
pub mod ovs;
pub mod sshd;
pub mod storage;
pub mod udevd;

use std::collections::BTreeSet;
use std::path::Path;

use plinth_config::MachineConfig;

use self::facts::Facts;
use crate::console;
use crate::supervisor::spec::ServiceSpec;

/// Which built-ins may run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BuiltinOptions {
    /// `--container`: built-ins are skipped unless `enable_in_container`.
    pub container: bool,
    /// `--builtins`: plan them even in a container.
    pub enable_in_container: bool,
}

/// A built-in: from the config and the machine, the specs it wants (none when turned off).
pub type Builtin = fn(&MachineConfig, &Facts) -> Vec<ServiceSpec>;

/// Every built-in, in start-order preference.
pub const BUILTINS: &[Builtin] = &[
    autologin::plan,
    udevd::plan,
    net::plan,
    dhcp::plan,
    chronyd::plan,
    node_exporter::plan,
    sshd::plan,
    storage::plan,
    storage::plan_iscsid,
    storage::plan_multipathd,
    compute::plan,
    ovs::plan,
    containerd::plan,
    cluster::plan,
];

/// The specs of every built-in the config asks for, minus those whose program is missing.
pub fn plan_builtins(config: &MachineConfig, options: &BuiltinOptions) -> Vec<ServiceSpec> {
    if options.container && !options.enable_in_container {
        return Vec::new();
    }
    let facts = facts::gather();
    autologin::announce(&facts);
    let (specs, skipped) = plan_from(BUILTINS, config, &facts, |p| Path::new(p).exists());
    for (name, program) in skipped {
        console::say(&format!(
            "built-in {name}: skipped, {program} is not installed"
        ));
    }
    specs
}

/// Plans `builtins` with the existence check as a parameter; returns the specs and the
/// `(name, missing program)` of those skipped. The services of one built-in are skipped together
/// when any of their programs is missing; `after` entries naming a skipped service are dropped.
pub fn plan_from(
    builtins: &[Builtin],
    config: &MachineConfig,
    facts: &Facts,
    exists: impl Fn(&str) -> bool,
) -> (Vec<ServiceSpec>, Vec<(String, String)>) {
    let mut specs = Vec::new();
    let mut skipped = Vec::new();
    for builtin in builtins {
        let group = builtin(config, facts);
        let missing = group.iter().find_map(|spec| {
            let program = spec.exec.first().cloned().unwrap_or_default();
            (program.starts_with('/') && !exists(&program)).then_some(program)
        });
        match missing {
            Some(program) => skipped.extend(group.into_iter().map(|s| (s.name, program.clone()))),
            None => specs.extend(group),
        }
    }
    let gone: BTreeSet<&str> = skipped.iter().map(|(n, _)| n.as_str()).collect();
    let unplanned = |dep: &String| gone.contains(dep.as_str());
    for spec in &mut specs {
        spec.after.retain(|d| !unplanned(d));
    }
    (specs, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_programs_skip_their_service_and_free_its_dependents() {
        let config = MachineConfig::default();
        let only_dhcpcd = |p: &str| p == dhcp::DHCPCD;
        let (specs, skipped) = plan_from(BUILTINS, &config, &Facts::default(), only_dhcpcd);
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["dhcp"]);
        assert!(
            specs[0].after.is_empty(),
            "dhcp must not wait for a udev that is not there"
        );
        let skipped: Vec<&str> = skipped.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            skipped,
            [
                "udevd",
                "udev-trigger",
                "udev-settle",
                "chronyd",
                "node-exporter"
            ]
        );
    }

    #[test]
    fn a_full_machine_plans_a_valid_graph() {
        let (specs, skipped) = plan_from(
            BUILTINS,
            &MachineConfig::default(),
            &Facts::default(),
            |_| true,
        );
        assert!(skipped.is_empty());
        let plan = crate::supervisor::planner::plan(specs, &[], Default::default()).unwrap();
        let order = plan.graph.start_order();
        let pos = |n: &str| order.iter().position(|o| o == n).unwrap();
        assert!(pos("udev-settle") < pos("dhcp"));
        assert!(order.iter().any(|n| n == "node-exporter"));
    }

    #[test]
    fn container_mode_plans_no_builtins_unless_asked() {
        let options = BuiltinOptions {
            container: true,
            enable_in_container: false,
        };
        assert!(plan_builtins(&MachineConfig::default(), &options).is_empty());
    }
}
