//! `bonds`: link aggregation over interfaces defined elsewhere in the config.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{StringOrNumber, device_struct};

device_struct! {
    /// A bond device.
    pub struct Bond {
        /// Member interfaces (names defined in the config).
        #[serde(default)]
        pub interfaces: Vec<String>,
        /// Bonding parameters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub parameters: Option<BondParameters>,
    }
}

/// Bonding driver parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BondParameters {
    /// `balance-rr`, `active-backup`, `balance-xor`, `broadcast`, `802.3ad`, `balance-tlb`, `balance-alb`
    /// (and `balance-tcp`/`balance-slb` for OVS bonds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Link check interval (milliseconds, or a value with a unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<StringOrNumber>")]
    pub mii_monitor_interval: Option<String>,
    /// LACP rate: `slow` or `fast`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lacp_rate: Option<String>,
    /// `layer2`, `layer3+4`, `layer2+3`, `encap2+3`, `encap3+4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transmit_hash_policy: Option<String>,
    /// Preferred member in active-backup mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    /// Delay before enabling a member that came up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<StringOrNumber>")]
    pub up_delay: Option<String>,
    /// Delay before disabling a member that went down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<StringOrNumber>")]
    pub down_delay: Option<String>,
    /// Minimum number of links up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_links: Option<u32>,
    /// 802.3ad aggregator selection: `stable`, `bandwidth`, `count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_select: Option<String>,
    /// Gratuitous ARPs after failover (netplan spells it `gratuitious-arp`).
    #[serde(
        default,
        rename = "gratuitious-arp",
        alias = "gratuitous-arp",
        skip_serializing_if = "Option::is_none"
    )]
    pub gratuitous_arp: Option<u32>,
    /// ARP monitoring interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<StringOrNumber>")]
    pub arp_interval: Option<String>,
    /// ARP monitoring targets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arp_ip_targets: Vec<String>,
    /// When to switch back to the primary: `always`, `better`, `failure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_reselect_policy: Option<String>,
    /// MAC address policy on failover: `none`, `active`, `follow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_over_mac_policy: Option<String>,
}
