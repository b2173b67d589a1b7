//! A NoCloud seed directory, as cloud-init reads it: `user-data` (the config), `meta-data` (instance-id,
//! local-hostname), optional `network-config` (netplan v2) and `vendor-data` (a `#cloud-config` whose
//! top-level keys apply where user-data has none).

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
    let field = |key: &'static str| {
        root.get(key)
            .and_then(yaml::Node::scalar_text)
            .map(|v| (key, v))
    };
    let hostname = field("local-hostname")
        .or_else(|| field("local_hostname"))
        .or_else(|| field("hostname"));
    if let Some((key, name)) = &hostname
        && let Some(problem) = crate::validate::hostname::hostname_problem(name)
    {
        let pos = root.get(key).map_or(root.pos, |n| n.pos);
        return Err(Diagnostics(vec![crate::Diagnostic::error(
            source, pos, *key, problem,
        )]));
    }
    Ok(MetaData {
        instance_id: field("instance-id")
            .or_else(|| field("instance_id"))
            .map(|(_, v)| v),
        local_hostname: hostname.map(|(_, v)| v),
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
    let vendor_path = dir.join("vendor-data");
    if vendor_path.exists() {
        let text = read_text(&vendor_path, &name("vendor-data"))?;
        if text
            .trim_start_matches('\u{feff}')
            .starts_with("#cloud-config")
        {
            let vendor = parse(&name("vendor-data"), &text)?;
            parsed.warnings.extend(vendor.warnings);
            parsed.config = super::merge::vendor_under_user(parsed.config, vendor.config);
        } else if !text.trim().is_empty() {
            parsed.warnings.push(crate::Diagnostic::warning(
                &name("vendor-data"),
                crate::Pos::new(1, 1),
                "",
                "vendor-data is not a #cloud-config document and is ignored",
            ));
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_data_fields_and_bad_hostnames() {
        let m =
            parse_meta_data("meta-data", "instance-id: iid-1\nlocal-hostname: node1\n").unwrap();
        assert_eq!(m.instance_id.as_deref(), Some("iid-1"));
        assert_eq!(m.local_hostname.as_deref(), Some("node1"));
        let json = parse_meta_data(
            "meta-data",
            r#"{"instance-id": "i-2", "local-hostname": "n2"}"#,
        )
        .unwrap();
        assert_eq!(json.local_hostname.as_deref(), Some("n2"));
        let err =
            parse_meta_data("meta-data", "instance-id: x\nlocal-hostname: bad_name\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "meta-data:2:17: error: `bad_name` contains `_`: host names use letters, digits, `-` and dots (RFC 1123) (at local-hostname)"
        );
    }
}
