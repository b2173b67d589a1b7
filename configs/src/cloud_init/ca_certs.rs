//! `ca_certs`: extra certificate authorities added to the node's trust store.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Extra trusted CAs (cloud-init's `ca_certs`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CaCerts {
    /// PEM certificates to trust.
    #[serde(default)]
    pub trusted: Vec<String>,
    /// Drop the image's default CAs first.
    #[serde(default)]
    pub remove_defaults: bool,
}
