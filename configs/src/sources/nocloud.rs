//! A NoCloud seed directory, as cloud-init reads it: `user-data` (the config), `meta-data` (instance-id,
//! local-hostname), optional `network-config` (netplan v2) and `vendor-data` (user-data in any format,
//! whose top-level keys apply where user-data has none, and whose scripts run first).

use std::path::Path;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::parse::{Parsed, parse_network, parse_with};
use crate::user_data::include::Included;
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

/// The files of a seed, as text; `None` for a file the seed does not have.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeedFiles {
    /// `user-data`: the config.
    pub user_data: Option<String>,
    /// `meta-data`: instance-id and local-hostname.
    pub meta_data: Option<String>,
    /// `network-config`: netplan v2, replacing the config's `network:`.
    pub network_config: Option<String>,
    /// `vendor-data`: top-level keys user-data leaves out.
    pub vendor_data: Option<String>,
}

impl SeedFiles {
    /// Reads the files present in a seed directory.
    pub fn read(dir: &Path) -> Result<Self, Diagnostics> {
        let file = |name: &str| -> Result<Option<String>, Diagnostics> {
            let path = dir.join(name);
            if path.exists() {
                read_text(&path, &path.display().to_string()).map(Some)
            } else {
                Ok(None)
            }
        };
        Ok(SeedFiles {
            user_data: file("user-data")?,
            meta_data: file("meta-data")?,
            network_config: file("network-config")?,
            vendor_data: file("vendor-data")?,
        })
    }
}

/// Reads a seed directory: see [`from_files`].
pub fn load(dir: &Path) -> Result<Parsed, Diagnostics> {
    load_with(dir, &Included::default())
}

/// [`load`], with the documents fetched for `#include` URLs.
pub fn load_with(dir: &Path, included: &Included) -> Result<Parsed, Diagnostics> {
    from_files_with(&dir.display().to_string(), &SeedFiles::read(dir)?, included)
}

/// Keeps the config of a parse, collecting its diagnostics either way.
fn keep(
    diags: &mut Vec<Diagnostic>,
    result: Result<Parsed, Diagnostics>,
) -> Option<crate::MachineConfig> {
    match result {
        Ok(p) => {
            diags.extend(p.warnings);
            Some(p.config)
        }
        Err(d) => {
            diags.extend(d.0);
            None
        }
    }
}

/// Combines a seed's files (fetched from anywhere; `base` names them in diagnostics as `BASE/user-data`):
/// user-data is the config, vendor-data fills top-level keys it leaves out, meta-data fills the
/// hostname, and network-config replaces `network:`. Problems in every file are reported together.
pub fn from_files(base: &str, files: &SeedFiles) -> Result<Parsed, Diagnostics> {
    from_files_with(base, files, &Included::default())
}

/// [`from_files`], with the documents fetched for `#include` URLs in user-data and vendor-data.
pub fn from_files_with(
    base: &str,
    files: &SeedFiles,
    included: &Included,
) -> Result<Parsed, Diagnostics> {
    let name = |file: &str| format!("{base}/{file}");
    let mut diags: Vec<Diagnostic> = Vec::new();
    let user = files
        .user_data
        .as_deref()
        .map(|t| keep(&mut diags, parse_with(&name("user-data"), t, included)));
    // vendor-data is user-data in any format (cloud-config, MIME, scripts); its scripts run before
    // user-data's, as cloud-init's scripts-vendor runs before scripts-user.
    let vendor = files
        .vendor_data
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .and_then(|t| keep(&mut diags, parse_with(&name("vendor-data"), t, included)));
    let network = files
        .network_config
        .as_deref()
        .map(|t| keep(&mut diags, parse_network(&name("network-config"), t)));
    let meta = match files
        .meta_data
        .as_deref()
        .map(|t| parse_meta_data(&name("meta-data"), t))
    {
        Some(Ok(meta)) => Some(meta),
        Some(Err(d)) => {
            diags.extend(d.0);
            None
        }
        None => None,
    };
    let mut all = Diagnostics(diags);
    all.normalize();
    if all.has_errors() {
        return Err(all);
    }
    let mut config = user.flatten().unwrap_or_default();
    if let Some(vendor) = vendor {
        config = super::merge::vendor_under_user(config, vendor);
    }
    if let Some(meta) = &meta {
        super::merge::apply_meta_data(&mut config, meta);
    }
    if let Some(network) = network.flatten().and_then(|c| c.network) {
        let ovs = crate::network::OvsTopology::of(&network).any(&network);
        if ovs && config.plinth.ovs.mode != crate::plinth::OvsMode::Host {
            return Err(Diagnostics(vec![Diagnostic::error(
                &name("network-config"),
                crate::diagnostic::Pos::new(1, 1),
                "network.openvswitch",
                format!(
                    "{}: network-config uses Open vSwitch keys, and user-data does not set it (Kube-OVN's pods run OVS in `kube-ovn` mode)",
                    crate::validate::openvswitch::NEEDS_HOST_MODE
                ),
            )]));
        }
        config.network = Some(network);
    }
    Ok(Parsed {
        config,
        warnings: all.0,
    })
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

#[cfg(test)]
mod seed_tests {
    use super::*;

    #[test]
    fn network_configs_openvswitch_keys_need_user_datas_host_mode() {
        let net = "version: 2\nethernets:\n  eth1: {}\nbridges:\n  br0:\n    interfaces: [eth1]\n    openvswitch:\n      fail-mode: open\n";
        let files = |user: &str, net: &str| SeedFiles {
            user_data: Some(user.into()),
            network_config: Some(net.into()),
            ..SeedFiles::default()
        };
        let host = "#cloud-config\nplinth:\n  ovs:\n    mode: host\n";
        let err = from_files("s", &files(host, net)).unwrap_err().to_string();
        assert!(
            err.contains("s/network-config:8:18: error: unknown fail-mode `open`"),
            "{err}"
        );
        let fixed = net.replace("fail-mode: open", "fail-mode: secure");
        let parsed = from_files("s", &files(host, &fixed)).unwrap();
        assert!(
            parsed.config.network.unwrap().bridges["br0"]
                .openvswitch
                .is_some()
        );
        let err = from_files("s", &files("#cloud-config\n", &fixed))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "s/network-config:1:1: error: netplan's Open vSwitch needs `plinth.ovs.mode: host`"
            ),
            "{err}"
        );
    }

    #[test]
    fn problems_in_every_file_are_reported_together() {
        let files = SeedFiles {
            user_data: Some("#cloud-config\nplinth:\n  cluster:\n    rol: x\n".into()),
            meta_data: Some("local-hostname: bad_host\n".into()),
            network_config: Some(
                "version: 2\nethernets:\n  eth0:\n    addresses: [10.0.0.1]\n".into(),
            ),
            vendor_data: Some("#cloud-config\nhostname: a\nhostname: b\n".into()),
        };
        let err = from_files("http://seed", &files).unwrap_err().to_string();
        assert!(
            err.contains("http://seed/user-data:4:5: error: unknown key `rol`"),
            "{err}"
        );
        assert!(
            err.contains("http://seed/meta-data:1:17: error: `bad_host`"),
            "{err}"
        );
        assert!(
            err.contains("http://seed/network-config:4:17: error: `10.0.0.1` is not in CIDR form"),
            "{err}"
        );
        assert!(
            err.contains(
                "http://seed/vendor-data:3:1: warning: duplicate key `hostname` (first at 2:1)"
            ),
            "{err}"
        );
    }

    #[test]
    fn an_empty_seed_is_the_empty_config() {
        assert_eq!(
            from_files("s", &SeedFiles::default()).unwrap(),
            Parsed::default()
        );
    }
}
