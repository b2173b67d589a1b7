//! `bridges`: Linux bridges over interfaces defined in the config.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{PortMap, StringOrNumber, device_struct};

device_struct! {
    /// A bridge device.
    pub struct Bridge {
        /// Ports (interfaces defined in the config).
        #[serde(default)]
        pub interfaces: Vec<String>,
        /// Bridge parameters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub parameters: Option<BridgeParameters>,
    }
}

/// Bridge parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BridgeParameters {
    /// Spanning tree protocol (netplan's default is on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stp: Option<bool>,
    /// STP forward delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<StringOrNumber>")]
    pub forward_delay: Option<String>,
    /// STP hello time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<StringOrNumber>")]
    pub hello_time: Option<String>,
    /// STP max age.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<StringOrNumber>")]
    pub max_age: Option<String>,
    /// MAC ageing time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<StringOrNumber>")]
    pub ageing_time: Option<String>,
    /// Bridge priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// Per-port path cost.
    #[serde(default, skip_serializing_if = "PortMap::is_empty")]
    pub path_cost: PortMap,
    /// Per-port priority.
    #[serde(default, skip_serializing_if = "PortMap::is_empty")]
    pub port_priority: PortMap,
}
