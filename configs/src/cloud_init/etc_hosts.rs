//! `manage_etc_hosts`: whether Plinth writes /etc/hosts (`true`), or only a `localhost` entry for the FQDN.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// cloud-init's `manage_etc_hosts`: `true`, `false` or `localhost`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
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
