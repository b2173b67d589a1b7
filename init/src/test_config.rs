//! For unit tests: a machine config from the YAML after `#cloud-config`, parsed by the config
//! crate exactly as a seed's user-data is; a config that does not parse fails the test with its
//! diagnostics.

use plinth_config::MachineConfig;

/// The config `yaml` (the document without its `#cloud-config` line) describes.
pub fn config(yaml: &str) -> MachineConfig {
    plinth_config::parse("test", &format!("#cloud-config\n{yaml}"))
        .unwrap_or_else(|d| panic!("{d}"))
        .config
}
