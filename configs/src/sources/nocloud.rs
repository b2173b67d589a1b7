//! A NoCloud seed directory, as cloud-init reads it: `user-data` (the config), `meta-data` (instance-id,
//! local-hostname), optional `network-config` (netplan v2) and `vendor-data`.

use std::path::Path;

use crate::diagnostic::Diagnostics;
use crate::parse::{Parsed, parse, parse_network};
use crate::yaml;

use super::read_text;

/// What `meta-data` says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetaData {
    /// `instance-id`: a change means "new instance" to cloud-init.
    pub instance_id: Option<String>,
    /// `local-hostname`.
    pub local_hostname: Option<String>,
}

/// Parses `meta-data` (YAML; cloud-init also accepts JSON, which is YAML).
pub fn parse_meta_data(source: &str, text: &str) -> Result<MetaData, Diagnostics> {
    let root = yaml::parse(text)
        .map_err(|e| Diagnostics(vec![crate::Diagnostic::error(source, e.pos, "", e.message)]))?;
    let field = |key: &str| root.get(key).and_then(yaml::Node::scalar_text);
    Ok(MetaData {
        instance_id: field("instance-id").or_else(|| field("instance_id")),
        local_hostname: field("local-hostname")
            .or_else(|| field("local_hostname"))
            .or_else(|| field("hostname")),
    })
}

/// Whether `dir` looks like a NoCloud seed.
pub fn is_seed(dir: &Path) -> bool {
    ["user-data", "meta-data"]
        .iter()
        .any(|f| dir.join(f).is_file())
}

/// Reads a seed directory: user-data is the config, meta-data fills the hostname, network-config
/// (when present) replaces the config's `network:`.
pub fn load(dir: &Path) -> Result<Parsed, Diagnostics> {
    let name = |file: &str| dir.join(file).display().to_string();
    let user_path = dir.join("user-data");
    let mut parsed = if user_path.exists() {
        parse(
            &name("user-data"),
            &read_text(&user_path, &name("user-data"))?,
        )?
    } else {
        Parsed::default()
    };
    let meta_path = dir.join("meta-data");
    if meta_path.exists() {
        let meta = parse_meta_data(
            &name("meta-data"),
            &read_text(&meta_path, &name("meta-data"))?,
        )?;
        super::merge::apply_meta_data(&mut parsed.config, &meta);
    }
    let net_path = dir.join("network-config");
    if net_path.exists() {
        let net = parse_network(
            &name("network-config"),
            &read_text(&net_path, &name("network-config"))?,
        )?;
        parsed.warnings.extend(net.warnings);
        if net.config.network.is_some() {
            parsed.config.network = net.config.network;
        }
    }
    Ok(parsed)
}
