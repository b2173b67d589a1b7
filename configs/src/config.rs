//! [`MachineConfig`]: the whole typed machine config — the cloud-init keys, the netplan network, and
//! Plinth's own `plinth:` section.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cloud_init::{CaCerts, Command, ManageEtcHosts, Ntp, User, UserScripts, WriteFile};
use crate::network::Network;
use crate::plinth::Plinth;

/// A `#cloud-config` machine config. `Default` is the empty config.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(
    title = "Plinth machine config",
    description = "A #cloud-config document for a Plinth node."
)]
pub struct MachineConfig {
    /// Short host name (RFC 1123 label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Fully qualified domain name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    /// Use the FQDN as the host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefer_fqdn_over_hostname: Option<bool>,
    /// Manage /etc/hosts: true, false or `localhost`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manage_etc_hosts: Option<ManageEtcHosts>,
    /// Local accounts. cloud-init's `default` entry is accepted and means nothing on Plinth.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "users_schema")]
    pub users: Vec<User>,
    /// SSH keys for the default user (root on Plinth).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_authorized_keys: Vec<String>,
    /// Files written at boot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write_files: Vec<WriteFile>,
    /// Time servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntp: Option<Ntp>,
    /// Commands run early in every boot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bootcmd: Vec<Command>,
    /// Commands run once, at the end of the first boot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runcmd: Vec<Command>,
    /// Extra trusted certificate authorities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certs: Option<CaCerts>,
    /// Time zone, such as `Etc/UTC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Network config (netplan version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// Plinth's own settings.
    #[serde(default)]
    pub plinth: Plinth,
    /// The user-data's script and boothook parts: not a key, never read from or written to YAML
    /// (`crate::user_data` fills it; [`MachineConfig::to_user_data`] keeps it).
    #[serde(skip)]
    #[schemars(skip)]
    pub user_scripts: UserScripts,
}

/// `users` items: a user mapping, or cloud-init's `default`.
fn users_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let user = generator.subschema_for::<User>();
    schemars::json_schema!({
        "type": "array",
        "items": { "anyOf": [user, { "const": "default" }] }
    })
}

impl MachineConfig {
    /// The config as user-data that reads back equal: its `#cloud-config` YAML, as a MIME
    /// multipart with its scripts when it has any.
    pub fn to_user_data(&self) -> String {
        crate::user_data::render::render(&self.to_yaml(), &self.user_scripts)
    }

    /// The name the node calls itself: the FQDN when preferred (or when there is no hostname), else
    /// the hostname.
    pub fn node_name(&self) -> Option<&str> {
        let prefer_fqdn = self.prefer_fqdn_over_hostname.unwrap_or(false);
        match (&self.hostname, &self.fqdn) {
            (_, Some(fqdn)) if prefer_fqdn => Some(fqdn),
            (Some(host), _) => Some(host),
            (None, Some(fqdn)) => Some(fqdn),
            (None, None) => None,
        }
    }
}
