//! `manage_etc_hosts`: whether Plinth writes /etc/hosts (`true`), or only a `localhost` entry for the FQDN.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// cloud-init's `manage_etc_hosts`: `true`, `false` or `localhost`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ManageEtcHosts {
    /// Leave /etc/hosts alone.
    #[default]
    False,
    /// Write /etc/hosts with `127.0.0.1 FQDN HOSTNAME`.
    True,
    /// Only add `127.0.1.1 FQDN HOSTNAME`.
    Localhost,
}

impl<'de> Deserialize<'de> for ManageEtcHosts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ManageEtcHosts;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false or `localhost`")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ManageEtcHosts, E> {
                Ok(if v {
                    ManageEtcHosts::True
                } else {
                    ManageEtcHosts::False
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ManageEtcHosts, E> {
                match v {
                    "localhost" => Ok(ManageEtcHosts::Localhost),
                    "template" => Ok(ManageEtcHosts::True),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for ManageEtcHosts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ManageEtcHosts::False => s.serialize_bool(false),
            ManageEtcHosts::True => s.serialize_bool(true),
            ManageEtcHosts::Localhost => s.serialize_str("localhost"),
        }
    }
}

impl schemars::JsonSchema for ManageEtcHosts {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ManageEtcHosts".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "true: write /etc/hosts; false: leave it; localhost: only the 127.0.1.1 entry.",
            "anyOf": [{ "type": "boolean" }, { "enum": ["localhost", "template"] }]
        })
    }
}
