//! An OpenStack config drive (label `config-2`): `openstack/latest/user_data` is the config,
//! `meta_data.json` gives the hostname and SSH keys, and `network_data.json` (see [`super::network_data`])
//! becomes the network when the config has none of its own.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::network_data::{NetworkData, to_netplan};
use super::nocloud::MetaData;
use super::{one_error, read_text};
use crate::diagnostic::{Diagnostic, Diagnostics, Pos};
use crate::parse::{Parsed, parse_with};
use crate::user_data::include::Included;

/// The directory holding the files, relative to the drive's root.
pub const LATEST: &str = "openstack/latest";

/// What `meta_data.json` holds that Plinth uses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct OpenStackMeta {
    /// Instance UUID.
    #[serde(default)]
    pub uuid: Option<String>,
    /// Host name.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Instance name.
    #[serde(default)]
    pub name: Option<String>,
    /// Key name → public key.
    #[serde(default)]
    pub public_keys: BTreeMap<String, String>,
}

fn json<T: serde::de::DeserializeOwned>(source: &str, text: &str) -> Result<T, Diagnostics> {
    serde_json::from_str(text).map_err(|e| {
        let pos = Pos::new(
            u32::try_from(e.line()).unwrap_or(1).max(1),
            u32::try_from(e.column()).unwrap_or(1).max(1),
        );
        Diagnostics(vec![Diagnostic::error(
            source,
            pos,
            "",
            format!("invalid JSON: {e}"),
        )])
    })
}

/// Whether `dir` looks like a config drive.
pub fn is_config_drive(dir: &Path) -> bool {
    let latest = dir.join(LATEST);
    latest.join("user_data").is_file() || latest.join("meta_data.json").is_file()
}

/// The files of a config drive's `openstack/latest/`, as text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DriveFiles {
    /// `user_data`: the config.
    pub user_data: Option<String>,
    /// `meta_data.json`.
    pub meta_data: Option<String>,
    /// `network_data.json`.
    pub network_data: Option<String>,
}

impl DriveFiles {
    /// Reads the files present under `dir/openstack/latest/`.
    pub fn read(dir: &Path) -> Result<Self, Diagnostics> {
        let latest = dir.join(LATEST);
        let file = |name: &str| -> Result<Option<String>, Diagnostics> {
            let path = latest.join(name);
            if path.is_file() {
                read_text(&path, &path.display().to_string()).map(Some)
            } else {
                Ok(None)
            }
        };
        Ok(DriveFiles {
            user_data: file("user_data")?,
            meta_data: file("meta_data.json")?,
            network_data: file("network_data.json")?,
        })
    }
}

/// Reads a config drive mounted (or copied) at `dir`: see [`from_files`].
pub fn load(dir: &Path) -> Result<Parsed, Diagnostics> {
    load_with(dir, &Included::default())
}

/// [`load`], with the documents fetched for `#include` URLs.
pub fn load_with(dir: &Path, included: &Included) -> Result<Parsed, Diagnostics> {
    from_files_with(
        &dir.join(LATEST).display().to_string(),
        &DriveFiles::read(dir)?,
        included,
    )
}

/// Combines a config drive's files (`base` names them in diagnostics as `BASE/user_data`): user_data is
/// the config; meta_data.json fills the hostname and adds its SSH keys; network_data.json becomes the
/// network when user_data has none. Problems in every file are reported together.
pub fn from_files(base: &str, files: &DriveFiles) -> Result<Parsed, Diagnostics> {
    from_files_with(base, files, &Included::default())
}

/// [`from_files`], with the documents fetched for `#include` URLs.
pub fn from_files_with(
    base: &str,
    files: &DriveFiles,
    included: &Included,
) -> Result<Parsed, Diagnostics> {
    let name = |f: &str| format!("{base}/{f}");
    let mut diags: Vec<Diagnostic> = Vec::new();
    let user = match files
        .user_data
        .as_deref()
        .map(|t| parse_with(&name("user_data"), t, included))
    {
        Some(Ok(p)) => {
            diags.extend(p.warnings);
            Some(p.config)
        }
        Some(Err(d)) => {
            diags.extend(d.0);
            None
        }
        None => Some(crate::MachineConfig::default()),
    };
    let meta = files
        .meta_data
        .as_deref()
        .map(|t| json::<OpenStackMeta>(&name("meta_data.json"), t));
    let network = files.network_data.as_deref().map(|t| {
        json::<NetworkData>(&name("network_data.json"), t).and_then(|data| {
            to_netplan(&data).map_err(|e| one_error(&name("network_data.json"), e.to_string()))
        })
    });
    let meta = match meta {
        Some(Err(d)) => {
            diags.extend(d.0);
            None
        }
        Some(Ok(m)) => Some(m),
        None => None,
    };
    let network = match network {
        Some(Err(d)) => {
            diags.extend(d.0);
            None
        }
        Some(Ok(n)) => Some(n),
        None => None,
    };
    let mut all = Diagnostics(diags);
    all.normalize();
    let Some(mut config) = user.filter(|_| !all.has_errors()) else {
        return Err(all);
    };
    if let Some(meta) = meta {
        let hostname = meta
            .hostname
            .clone()
            .or(meta.name.clone())
            .map(|h| short_name(&h));
        let hostname = match hostname {
            Some(h) if crate::validate::hostname::hostname_problem(&h).is_some() => {
                all.0.push(Diagnostic::warning(
                    &name("meta_data.json"),
                    Pos::new(1, 1),
                    "hostname",
                    format!("host name `{h}` is not RFC 1123 and is not used"),
                ));
                None
            }
            other => other,
        };
        super::merge::apply_meta_data(
            &mut config,
            &MetaData {
                instance_id: meta.uuid.clone(),
                local_hostname: hostname,
            },
        );
        for key in meta.public_keys.values() {
            if !config.ssh_authorized_keys.contains(key) {
                config.ssh_authorized_keys.push(key.clone());
            }
        }
    }
    if config.network.is_none() {
        config.network = network;
    }
    Ok(Parsed {
        config,
        warnings: all.0,
    })
}

/// Nova gives `host.novalocal`-style names; the host name is the first label.
fn short_name(name: &str) -> String {
    name.split('.').next().unwrap_or(name).to_owned()
}
