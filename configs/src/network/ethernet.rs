//! `ethernets`: physical interfaces, selected by name or by `match`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{OneOrMany, device_struct};

device_struct! {
    /// A physical interface. Without `match`, the key is the interface name.
    pub struct Ethernet {
        /// Select the interface by properties instead of by the key.
        #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
        pub match_: Option<Match>,
        /// Rename the matched interface.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub set_name: Option<String>,
        /// Enable wake-on-LAN.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub wakeonlan: Option<bool>,
        /// Receive checksum offload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub receive_checksum_offload: Option<bool>,
        /// Transmit checksum offload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub transmit_checksum_offload: Option<bool>,
        /// TCP segmentation offload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tcp_segmentation_offload: Option<bool>,
        /// TCP6 segmentation offload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tcp6_segmentation_offload: Option<bool>,
        /// Generic segmentation offload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub generic_segmentation_offload: Option<bool>,
        /// Generic receive offload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub generic_receive_offload: Option<bool>,
        /// Large receive offload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub large_receive_offload: Option<bool>,
    }
}

/// Interface selection. Every given property must match; `name` and `driver` take shell globs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// Interface name glob, such as `en*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// MAC address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macaddress: Option<String>,
    /// Kernel driver name glob(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<OneOrMany>,
}

/// The matcher of `match` names and drivers (the same one reads kernel module aliases).
pub use crate::glob::glob_match;
