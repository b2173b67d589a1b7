//! `plinth.kernel`: extra modules and sysctls, on top of the Genestack defaults in [`crate::kernel`].

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Kernel settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Kernel {
    /// Modules to load besides the defaults. A name mapped to `false` (in the mapping form) skips a
    /// default module; the list form only adds.
    #[serde(default, skip_serializing_if = "Modules::is_empty")]
    pub modules: Modules,
    /// Sysctls to set besides the defaults; `null` or `false` switches a default off.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, SysctlValue>,
}

/// Extra modules: a list of names, or a mapping of name to on/off.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Modules {
    /// Names to load.
    List(Vec<String>),
    /// Name → load (`true`) or skip (`false`).
    Map(BTreeMap<String, bool>),
    /// Nothing extra.
    #[default]
    #[serde(skip)]
    None,
}

impl Modules {
    /// Whether nothing is configured.
    pub fn is_empty(&self) -> bool {
        match self {
            Modules::List(l) => l.is_empty(),
            Modules::Map(m) => m.is_empty(),
            Modules::None => true,
        }
    }

    /// `(name, load)` pairs.
    pub fn entries(&self) -> Vec<(String, bool)> {
        match self {
            Modules::List(l) => l.iter().map(|m| (m.clone(), true)).collect(),
            Modules::Map(m) => m.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            Modules::None => Vec::new(),
        }
    }
}

/// A sysctl value, or "off" (`null`/`false`) to drop a default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SysctlValue {
    /// Write this value.
    Set(String),
    /// Do not set this sysctl (switches a default off).
    Off,
}

impl Serialize for SysctlValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SysctlValue::Set(v) => s.serialize_str(v),
            SysctlValue::Off => s.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for SysctlValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SysctlValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a sysctl value (number or string), or null/false to switch a default off",
                )
            }
            fn visit_unit<E: de::Error>(self) -> Result<SysctlValue, E> {
                Ok(SysctlValue::Off)
            }
            fn visit_none<E: de::Error>(self) -> Result<SysctlValue, E> {
                Ok(SysctlValue::Off)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<SysctlValue, E> {
                Ok(if v {
                    SysctlValue::Set("1".to_owned())
                } else {
                    SysctlValue::Off
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SysctlValue, E> {
                Ok(SysctlValue::Set(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SysctlValue, E> {
                Ok(SysctlValue::Set(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<SysctlValue, E> {
                Ok(SysctlValue::Set(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SysctlValue, E> {
                Ok(SysctlValue::Set(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

impl schemars::JsonSchema for SysctlValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SysctlValue".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "The value to write; null or false switches a Genestack default off.",
            "type": ["string", "number", "boolean", "null"]
        })
    }
}
