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

/// Puts vendor-data under user-data with cloud-init's default merge: each top-level key the user
/// gives replaces the vendor's whole value; keys the user leaves out come from vendor-data.
pub fn vendor_under_user(user: MachineConfig, vendor: MachineConfig) -> MachineConfig {
    fn opt<T>(user: Option<T>, vendor: Option<T>) -> Option<T> {
        user.or(vendor)
    }
    fn list<T>(user: Vec<T>, vendor: Vec<T>) -> Vec<T> {
        if user.is_empty() { vendor } else { user }
    }
    let plinth = if user.plinth == crate::plinth::Plinth::default() {
        vendor.plinth
    } else {
        user.plinth
    };
    MachineConfig {
        hostname: opt(user.hostname, vendor.hostname),
        fqdn: opt(user.fqdn, vendor.fqdn),
        prefer_fqdn_over_hostname: opt(
            user.prefer_fqdn_over_hostname,
            vendor.prefer_fqdn_over_hostname,
        ),
        manage_etc_hosts: opt(user.manage_etc_hosts, vendor.manage_etc_hosts),
        users: list(user.users, vendor.users),
        ssh_authorized_keys: list(user.ssh_authorized_keys, vendor.ssh_authorized_keys),
        write_files: list(user.write_files, vendor.write_files),
        ntp: opt(user.ntp, vendor.ntp),
        bootcmd: list(user.bootcmd, vendor.bootcmd),
        runcmd: list(user.runcmd, vendor.runcmd),
        ca_certs: opt(user.ca_certs, vendor.ca_certs),
        timezone: opt(user.timezone, vendor.timezone),
        network: opt(user.network, vendor.network),
        plinth,
        user_scripts: vendor.user_scripts.then(user.user_scripts),
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
    // The default network (DHCP on every `e*` ethernet, by a name glob) would claim the NICs the
    // config hands to OVS, which validation refuses; without it the node still gets DHCP on every
    // other interface (the dhcp service's no-network form, which skips the OVS ones).
    let hands_nics_to_ovs = config
        .plinth
        .genestack
        .ovn
        .as_ref()
        .is_some_and(|ovn| !ovn.ovs_interfaces().is_empty());
    if !hands_nics_to_ovs {
        fill(&mut config.network, &defaults.network);
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_default_network_over_nics_handed_to_ovs() {
        let defaults = image_default().unwrap().config;
        let user = parse(
            "u",
            "#cloud-config\nplinth:\n  genestack:\n    ovn:\n      bridges: br-ex\n      ports: br-ex:eno2\n",
        )
        .unwrap()
        .config;
        assert_eq!(with_defaults(user, &defaults).network, None);
        let no_nics = parse(
            "u",
            "#cloud-config\nplinth:\n  genestack:\n    ovn:\n      mappings: physnet1:br-ex\n      bridges: br-ex\n",
        )
        .unwrap()
        .config;
        assert_eq!(with_defaults(no_nics, &defaults).network, defaults.network);
    }

    #[test]
    fn image_default_parses_cleanly() {
        let parsed = image_default().unwrap();
        assert!(parsed.warnings.is_empty());
        assert!(parsed.config.network.is_some());
    }

    #[test]
    fn vendor_data_fills_what_user_data_leaves_out() {
        let vendor = parse("v", "#cloud-config\ntimezone: Etc/UTC\nruncmd: [vendor]\nntp: {servers: [10.0.0.1]}\nplinth:\n  time: {servers: [10.0.0.1]}\n").unwrap().config;
        let user = parse("u", "#cloud-config\nruncmd: [mine]\n")
            .unwrap()
            .config;
        let merged = vendor_under_user(user, vendor.clone());
        assert_eq!(merged.timezone.as_deref(), Some("Etc/UTC"));
        assert_eq!(
            merged.runcmd,
            vec![crate::cloud_init::Command::Shell("mine".into())],
            "user's key replaces vendor's"
        );
        assert_eq!(
            merged.plinth, vendor.plinth,
            "an absent plinth: comes from vendor-data"
        );
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
