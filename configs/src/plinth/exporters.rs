//! `plinth.exporters`: metrics exporters on the node (Genestack scrapes node exporter on :9100).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Exporters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exporters {
    /// prometheus-node-exporter.
    #[serde(default)]
    pub node_exporter: NodeExporter,
}

/// prometheus-node-exporter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeExporter {
    /// Run it (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Listen address, `[HOST]:PORT` (default `:9100`).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Textfile collector directory.
    #[serde(default = "default_textfile_dir")]
    pub textfile_dir: String,
}

const fn yes() -> bool {
    true
}
fn default_listen() -> String {
    ":9100".to_owned()
}
fn default_textfile_dir() -> String {
    "/opt/node_exporter/textfile_collector".to_owned()
}

impl Default for NodeExporter {
    fn default() -> Self {
        NodeExporter {
            enabled: true,
            listen: default_listen(),
            textfile_dir: default_textfile_dir(),
        }
    }
}
