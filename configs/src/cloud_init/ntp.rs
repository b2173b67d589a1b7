//! `ntp`: time servers, as cloud-init's ntp module takes them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// cloud-init's `ntp` key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Ntp {
    /// Whether to run time sync at all (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Individual servers.
    #[serde(default)]
    pub servers: Vec<String>,
    /// Server pools.
    #[serde(default)]
    pub pools: Vec<String>,
    /// The client cloud-init would pick; Plinth always uses its own (chrony).
    #[serde(default)]
    pub ntp_client: Option<String>,
}
