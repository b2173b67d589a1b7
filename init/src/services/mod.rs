//! Plinth's built-in services, one file each, planned from the machine config through the same
//! planner as the user's services. Each file says what the service needs, how it starts, how its
//! readiness is checked and what it comes after; this module lists them and applies the rules
//! every built-in shares (skipped in `--container` mode unless asked for, skipped when the binary
//! is missing).

use std::path::Path;

use plinth_config::MachineConfig;

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

/// A built-in: from the config, the specs it wants (none when the config turns it off).
pub type Builtin = fn(&MachineConfig) -> Vec<ServiceSpec>;

/// Every built-in, in the order they are listed.
pub const BUILTINS: &[Builtin] = &[];

/// The specs of every built-in the config asks for, minus those whose program is missing.
pub fn plan_builtins(config: &MachineConfig, options: &BuiltinOptions) -> Vec<ServiceSpec> {
    plan_from(BUILTINS, config, options, |p| Path::new(p).exists())
}

/// [`plan_builtins`] over any list, with the existence check as a parameter (for tests).
pub fn plan_from(
    builtins: &[Builtin],
    config: &MachineConfig,
    options: &BuiltinOptions,
    exists: impl Fn(&str) -> bool,
) -> Vec<ServiceSpec> {
    if options.container && !options.enable_in_container {
        return Vec::new();
    }
    let mut specs = Vec::new();
    for builtin in builtins {
        for spec in builtin(config) {
            let program = spec.exec.first().map(String::as_str).unwrap_or_default();
            if program.starts_with('/') && !exists(program) {
                console::say(&format!(
                    "built-in {}: skipped, {program} is not installed",
                    spec.name
                ));
                continue;
            }
            specs.push(spec);
        }
    }
    specs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::spec::{Origin, Probe, RestartPolicy};

    fn fake(_: &MachineConfig) -> Vec<ServiceSpec> {
        ["/usr/bin/present", "/usr/bin/missing"]
            .iter()
            .map(|p| ServiceSpec {
                name: p.rsplit('/').next().unwrap_or_default().to_string(),
                exec: vec![p.to_string()],
                env: Default::default(),
                after: vec![],
                probe: Probe::Running,
                ready_timeout: std::time::Duration::from_secs(1),
                restart: RestartPolicy::Always,
                oneshot: false,
                stop_signal: libc::SIGTERM,
                stop_timeout: std::time::Duration::from_secs(1),
                origin: Origin::Builtin,
            })
            .collect()
    }

    #[test]
    fn missing_programs_and_container_mode_skip_builtins() {
        let config = MachineConfig::default();
        let exists = |p: &str| p == "/usr/bin/present";
        let machine = BuiltinOptions::default();
        let names: Vec<String> = plan_from(&[fake], &config, &machine, exists)
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["present"]);
        let container = BuiltinOptions {
            container: true,
            enable_in_container: false,
        };
        assert!(plan_from(&[fake], &config, &container, exists).is_empty());
        let asked = BuiltinOptions {
            container: true,
            enable_in_container: true,
        };
        assert_eq!(plan_from(&[fake], &config, &asked, exists).len(), 1);
    }
}
