//! `users`: local accounts and their SSH keys. cloud-init's `default` entry (its distro default user)
//! means nothing on Plinth, which has no default user; the parser drops it before reading the list.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// One account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Supplementary groups: a list, or cloud-init's comma-separated string.
    #[serde(default, skip_serializing_if = "Groups::is_empty")]
    pub groups: Groups,
    /// Login shell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// Lock the password (default true, as in cloud-init).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_passwd: Option<bool>,
    /// A crypt(3) password hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashed_passwd: Option<String>,
    /// Also a crypt(3) password hash (cloud-init's older spelling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passwd: Option<String>,
    /// Public keys allowed to log in as this user.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_authorized_keys: Vec<String>,
}

impl User {
    /// The password hash, from either spelling.
    pub fn password_hash(&self) -> Option<&str> {
        self.hashed_passwd.as_deref().or(self.passwd.as_deref())
    }
}

/// Group names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(with = "GroupsSchema")]
pub struct Groups(pub Vec<String>);

#[derive(JsonSchema)]
#[allow(dead_code)]
#[serde(untagged)]
enum GroupsSchema {
    List(Vec<String>),
    Csv(String),
}

impl Groups {
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for Groups {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Groups;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of group names or a comma-separated string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Groups, E> {
                Ok(Groups(
                    v.split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(str::to_owned)
                        .collect(),
                ))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Groups, A::Error> {
                let mut out = Vec::new();
                while let Some(g) = seq.next_element::<String>()? {
                    out.push(g);
                }
                Ok(Groups(out))
            }
        }
        d.deserialize_any(V)
    }
}
