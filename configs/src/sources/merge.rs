//! Merging sources: one source's user-data is the config, its meta-data fills the hostname, and the
//! image's defaults (the embedded single-node config) fill what the config leaves out.
//!
//! "What the config leaves out" is deliberately narrow: the top-level settings that are absent
//! (`hostname`, `fqdn`, `timezone`, `ntp`, `manage_etc_hosts`, `ca_certs`, and above all `network`, so a
//! node without a network config still gets DHCP on every ethernet). Lists (users, keys, files,
//! commands) and the `plinth:` section are never mixed: the user's config says what the node is.

use super::nocloud::MetaData;
use crate::config::MachineConfig;
use crate::diagnostic::Diagnostics;
use crate::parse::{Parsed, parse};

/// The config the image embeds, used when no source gives one (a single-node lab).
pub const IMAGE_DEFAULT: &str = include_str!("../../examples/single-node.yaml");

/// The image default, parsed.
pub fn image_default() -> Result<Parsed, Diagnostics> {
    parse("<image default>", IMAGE_DEFAULT)
}

/// Fills the hostname from meta-data when the config has none (cloud-init's precedence).
pub fn apply_meta_data(config: &mut MachineConfig, meta: &MetaData) {
    if config.hostname.is_none() {
        config.hostname.clone_from(&meta.local_hostname);
    }
}

/// Fills the settings `config` leaves out from `defaults`.
pub fn with_defaults(mut config: MachineConfig, defaults: &MachineConfig) -> MachineConfig {
    fn fill<T: Clone>(slot: &mut Option<T>, default: &Option<T>) {
        if slot.is_none() {
            slot.clone_from(default);
        }
    }
    fill(&mut config.hostname, &defaults.hostname);
    fill(&mut config.fqdn, &defaults.fqdn);
    fill(&mut config.timezone, &defaults.timezone);
    fill(&mut config.ntp, &defaults.ntp);
    fill(&mut config.manage_etc_hosts, &defaults.manage_etc_hosts);
    fill(&mut config.ca_certs, &defaults.ca_certs);
    fill(&mut config.network, &defaults.network);
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_default_parses_cleanly() {
        let parsed = image_default().unwrap();
        assert!(parsed.warnings.is_empty());
        assert!(parsed.config.network.is_some());
    }

    #[test]
    fn precedence_user_data_then_meta_data_then_defaults() {
        let defaults = image_default().unwrap().config;
        let user = parse("u", "#cloud-config\nplinth:\n  cluster:\n    role: init\n")
            .unwrap()
            .config;
        let mut merged = user.clone();
        apply_meta_data(
            &mut merged,
            &MetaData {
                instance_id: None,
                local_hostname: Some("node7".into()),
            },
        );
        let merged = with_defaults(merged, &defaults);
        assert_eq!(
            merged.hostname.as_deref(),
            Some("node7"),
            "meta-data beats the image default"
        );
        assert_eq!(
            merged.network, defaults.network,
            "no network given: DHCP everywhere from the default"
        );
        assert_eq!(
            merged.plinth, user.plinth,
            "the plinth section is the user's, never mixed"
        );

        let named = parse("u", "#cloud-config\nhostname: mine\n")
            .unwrap()
            .config;
        let mut merged = named;
        apply_meta_data(
            &mut merged,
            &MetaData {
                instance_id: None,
                local_hostname: Some("node7".into()),
            },
        );
        assert_eq!(
            with_defaults(merged, &defaults).hostname.as_deref(),
            Some("mine")
        );
    }
}
