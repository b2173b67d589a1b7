//! Merging sources: one source's user-data is the config, its meta-data fills the hostname, and the
//! image's defaults fill whatever the config leaves out.

use super::nocloud::MetaData;
use crate::config::MachineConfig;

/// Fills the hostname from meta-data when the config has none (cloud-init's precedence).
pub fn apply_meta_data(config: &mut MachineConfig, meta: &MetaData) {
    if config.hostname.is_none() {
        config.hostname.clone_from(&meta.local_hostname);
    }
}
