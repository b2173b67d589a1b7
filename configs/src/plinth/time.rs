//! `plinth.time`: time servers and how long boot waits for the clock to sync.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Duration;

/// Time sync.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Time {
    /// NTP servers (added to cloud-init's `ntp` ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<String>,
    /// How long boot waits for a first sync before going on (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_timeout: Option<Duration>,
}
