//! `ethernets`: physical interfaces, selected by name or by `match`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{OneOrMany, device_struct};

device_struct! {
    /// A physical interface. Without `match`, the key is the interface name.
    pub struct Ethernet {
        /// Select the interface by properties instead of by the key.
        #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
        pub match_: Option<Match>,
        /// Rename the matched interface.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub set_name: Option<String>,
        /// Enable wake-on-LAN.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub wakeonlan: Option<bool>,
        /// Receive checksum offload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub receive_checksum_offload: Option<bool>,
        /// Transmit checksum offload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub transmit_checksum_offload: Option<bool>,
        /// TCP segmentation offload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tcp_segmentation_offload: Option<bool>,
        /// TCP6 segmentation offload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tcp6_segmentation_offload: Option<bool>,
        /// Generic segmentation offload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub generic_segmentation_offload: Option<bool>,
        /// Generic receive offload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub generic_receive_offload: Option<bool>,
        /// Large receive offload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub large_receive_offload: Option<bool>,
    }
}

/// Interface selection. Every given property must match; `name` and `driver` take shell globs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// Interface name glob, such as `en*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// MAC address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macaddress: Option<String>,
    /// Kernel driver name glob(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<OneOrMany>,
}

/// Whether `name` matches the shell glob `pattern` (`*`, `?` and `[...]` classes), as netplan's `match`.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some(('?', rest)) => !n.is_empty() && go(rest, &n[1..]),
            Some(('[', rest)) => {
                let Some(close) = rest.iter().position(|&c| c == ']') else {
                    return n.first() == Some(&'[') && go(rest, &n[1..]);
                };
                let (class, after) = (&rest[..close], &rest[close + 1..]);
                let Some(&c) = n.first() else { return false };
                let (negate, class) = match class.split_first() {
                    Some(('!' | '^', tail)) => (true, tail),
                    _ => (false, class),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= c && c <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == c;
                        i += 1;
                    }
                }
                hit != negate && go(after, &n[1..])
            }
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Bounded: configs are small and patterns short; refuse absurd inputs rather than backtrack forever.
    p.len() <= 64 && n.len() <= 64 && go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_like_netplan() {
        assert!(glob_match("en*", "enp3s0"));
        assert!(glob_match("e*", "eth0"));
        assert!(!glob_match("en*", "eth0"));
        assert!(glob_match("enp1s16f[2-3]", "enp1s16f3"));
        assert!(!glob_match("enp1s16f[2-3]", "enp1s16f4"));
        assert!(glob_match("eth?", "eth1"));
        assert!(glob_match("*", "lo"));
    }
}
