//! `write_files`: files written at boot, with cloud-init's encodings, permissions, owner, append, defer.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// One file to write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WriteFile {
    /// Absolute path of the file.
    pub path: String,
    /// The content, encoded as `encoding` says.
    #[serde(default)]
    pub content: String,
    /// How `content` is encoded.
    #[serde(default)]
    pub encoding: Encoding,
    /// Octal mode such as `'0644'` (default 0644).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Permissions>,
    /// `user:group` (default root:root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Append instead of replacing.
    #[serde(default)]
    pub append: bool,
    /// Write after users and packages, at the end of boot.
    #[serde(default)]
    pub defer: bool,
}

impl WriteFile {
    /// The bytes to write: `content` decoded as `encoding` says.
    pub fn decoded(&self) -> Result<Vec<u8>, crate::decode::DecodeError> {
        use crate::decode;
        match self.encoding {
            Encoding::Text => Ok(self.content.clone().into_bytes()),
            Encoding::Base64 => decode::base64(&self.content),
            Encoding::Gzip => decode::gunzip(self.content.as_bytes()),
            Encoding::GzipBase64 => decode::gunzip(&decode::base64(&self.content)?),
        }
    }

    /// The file mode (default 0644).
    pub fn mode(&self) -> u32 {
        self.permissions.map_or(0o644, |p| p.0)
    }
}

/// cloud-init's content encodings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Encoding {
    /// Plain text.
    #[default]
    #[serde(rename = "text/plain", alias = "text")]
    Text,
    /// Base64.
    #[serde(rename = "b64", alias = "base64")]
    Base64,
    /// Gzip (the content is binary; rarely usable in YAML).
    #[serde(rename = "gzip", alias = "gz")]
    Gzip,
    /// Gzip, then base64.
    #[serde(
        rename = "gz+b64",
        alias = "gzip+base64",
        alias = "gz+base64",
        alias = "gzip+b64"
    )]
    GzipBase64,
}

/// A file mode, written as an octal string (`'0644'`) or, as YAML 1.1 readers do, an unquoted `0644`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(with = "crate::network::common::StringOrNumber")]
pub struct Permissions(pub u32);

impl Serialize for Permissions {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:04o}", self.0))
    }
}

impl<'de> Deserialize<'de> for Permissions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Permissions;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an octal file mode such as '0644'")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Permissions, E> {
                let digits = v.trim().trim_start_matches("0o");
                match u32::from_str_radix(digits, 8) {
                    Ok(mode) if mode <= 0o7777 && !digits.is_empty() => Ok(Permissions(mode)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        // Always read the spelling: `0644` unquoted must mean octal, as in cloud-init.
        d.deserialize_str(V)
    }
}
