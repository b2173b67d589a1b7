//! `plinth.supervisor`: what PID 1 does when its own service supervisor fails.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Duration;

/// The supervisor's failure policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Supervisor {
    /// Should PID 1's service supervisor ever fail (a bug), the node reboots cleanly after this
    /// long, time to read the console first (default 60s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reboot_after: Option<Duration>,
}

impl Supervisor {
    /// The default of `failure_reboot_after`.
    pub const DEFAULT_FAILURE_REBOOT_AFTER: std::time::Duration =
        std::time::Duration::from_secs(60);

    /// Whether nothing is set (then it is left out when the config is written).
    pub fn is_unset(&self) -> bool {
        self == &Supervisor::default()
    }

    /// `failure_reboot_after`, or its default.
    pub fn failure_reboot_after(&self) -> std::time::Duration {
        self.failure_reboot_after
            .map_or(Self::DEFAULT_FAILURE_REBOOT_AFTER, Duration::get)
    }
}
