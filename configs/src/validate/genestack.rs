//! Genestack and Kubernetes metadata: label and annotation keys and values as Kubernetes accepts
//! them (also for `plinth.cluster.kubernetes.node_labels`), and OVN settings that refer to each other.

use std::collections::BTreeMap;

use super::{Finding, root};
use crate::config::MachineConfig;
use crate::yaml::KeyPath;

/// Why `key` is not a Kubernetes label/annotation key (`[prefix/]name`), if it is not.
pub fn key_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let ok = !prefix.is_empty()
            && prefix.len() <= 253
            && prefix.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
        if !ok {
            return Some(format!(
                "prefix `{prefix}` of `{key}` is not a DNS subdomain (lowercase, digits, `-`, dots)"
            ));
        }
    }
    if name.is_empty() || name.len() > 63 || !name_chars(name) {
        return Some(format!(
            "`{name}` in `{key}` is not a valid name: 1 to 63 of letters, digits, `-`, `_`, `.`, starting and ending alphanumeric"
        ));
    }
    None
}

/// Why `value` is not a Kubernetes label value, if it is not.
pub fn label_value_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    if value.len() > 63 || !name_chars(value) {
        return Some(format!(
            "label value `{value}` is not valid: at most 63 of letters, digits, `-`, `_`, `.`, starting and ending alphanumeric"
        ));
    }
    None
}

fn name_chars(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Findings for label keys and values that Kubernetes would refuse.
pub(super) fn labels(map: &BTreeMap<String, String>, at: &KeyPath, out: &mut Vec<Finding>) {
    for (k, v) in map {
        if let Some(p) = key_problem(k) {
            out.push(Finding::error(at.key(k), p).at_key());
        } else if let Some(p) = label_value_problem(v) {
            out.push(Finding::error(at.key(k), p));
        }
    }
}

pub(super) fn check(config: &MachineConfig, out: &mut Vec<Finding>) {
    let g = &config.plinth.genestack;
    let at = root("plinth").key("genestack");
    labels(&g.labels, &at.key("labels"), out);
    for k in g.annotations.keys() {
        if let Some(p) = key_problem(k) {
            out.push(Finding::error(at.key("annotations").key(k), p).at_key());
        }
    }
    let roles = g.effective_roles();
    if roles.contains(&crate::plinth::GenestackRole::Longhorn)
        && config.plinth.storage.longhorn.is_none()
        && !g.hyperconverged
    {
        out.push(Finding::warning(
            at.key("roles"),
            "role `longhorn` without plinth.storage.longhorn: Longhorn will store volumes on the state partition",
        ));
    }
    if g.hyperconverged && !g.roles.is_empty() {
        out.push(Finding::warning(
            at.key("roles"),
            "`hyperconverged: true` already means every role; the list adds nothing",
        ));
    }
    if let Some(ovn) = &g.ovn {
        let ovn_at = at.key("ovn");
        let known = |bridge: &str| ovn.bridges.iter().any(|b| b == bridge);
        for (net, bridge) in &ovn.mappings {
            if !known(bridge) {
                out.push(Finding::error(
                    ovn_at.key("mappings").key(net),
                    format!("bridge `{bridge}` is not listed in plinth.genestack.ovn.bridges"),
                ));
            }
        }
        for (i, p) in ovn.ports.iter().enumerate() {
            if !known(&p.bridge) {
                out.push(Finding::error(
                    ovn_at.key("ports").index(i).key("bridge"),
                    format!(
                        "bridge `{}` is not listed in plinth.genestack.ovn.bridges",
                        p.bridge
                    ),
                ));
            }
        }
        for (i, b) in ovn.bonds.iter().enumerate() {
            if !known(&b.bridge) {
                out.push(Finding::error(
                    ovn_at.key("bonds").index(i).key("bridge"),
                    format!(
                        "bridge `{}` is not listed in plinth.genestack.ovn.bridges",
                        b.bridge
                    ),
                ));
            }
            if b.interfaces.len() < 2 {
                out.push(Finding::error(
                    ovn_at.key("bonds").index(i).key("interfaces"),
                    "an OVS bond needs at least two interfaces",
                ));
            }
            if !["balance-tcp", "balance-slb", "active-backup"].contains(&b.mode.as_str()) {
                out.push(Finding::error(
                    ovn_at.key("bonds").index(i),
                    format!(
                        "bond mode `{}`: expected `balance-tcp`, `balance-slb` or `active-backup`",
                        b.mode
                    ),
                ));
            } else if b.mode == "balance-tcp" && b.lacp == "off" {
                out.push(Finding::warning(
                    ovn_at.key("bonds").index(i),
                    "`balance-tcp` needs LACP (`active` or `passive`); with `off` OVS will not balance",
                ));
            }
            if !["active", "passive", "off"].contains(&b.lacp.as_str()) {
                out.push(Finding::error(
                    ovn_at.key("bonds").index(i).key("lacp"),
                    format!("lacp `{}`: expected `active`, `passive` or `off`", b.lacp),
                ));
            }
        }
        for bond in ovn.bond_options.keys() {
            if !ovn.bonds.iter().any(|b| &b.name == bond) {
                out.push(
                    Finding::error(
                        ovn_at.key("bond_options").key(bond),
                        format!("`{bond}` is not a bond of plinth.genestack.ovn.bonds"),
                    )
                    .at_key(),
                );
            }
        }
        for (i, v) in ovn.vlans.iter().enumerate() {
            if v.id == 0 || v.id > 4094 {
                out.push(Finding::error(
                    ovn_at.key("vlans").index(i).key("id"),
                    format!("VLAN id {} is outside 1 to 4094", v.id),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_keys_and_values() {
        assert_eq!(key_problem("openstack-control-plane"), None);
        assert_eq!(key_problem("node-role.kubernetes.io/worker"), None);
        assert_eq!(key_problem("ovn.openstack.org/int_bridge"), None);
        assert!(key_problem("Bad.Prefix/x").is_some());
        assert!(key_problem("a/-x").is_some());
        assert!(key_problem(&"x".repeat(64)).is_some());
        assert_eq!(label_value_problem("enabled"), None);
        assert_eq!(label_value_problem(""), None);
        assert!(label_value_problem("has space").is_some());
    }

    #[test]
    fn bond_modes_and_options_name_what_exists() {
        let text = "#cloud-config\nplinth:\n  genestack:\n    ovn:\n      bridges: br-ex\n      bonds: br-ex:bond0:eno1+eno3:balance-xor:active,br-ex:bond1:eno5+eno7:balance-tcp:off\n      bond_options: bond9:lacp-time=fast\n";
        assert_eq!(
            crate::validate::rendered(text),
            [
                "t:6:14: error: bond mode `balance-xor`: expected `balance-tcp`, `balance-slb` or `active-backup` (at plinth.genestack.ovn.bonds[0])",
                "t:6:14: warning: `balance-tcp` needs LACP (`active` or `passive`); with `off` OVS will not balance (at plinth.genestack.ovn.bonds[1])",
                "t:7:21: error: `bond9` is not a bond of plinth.genestack.ovn.bonds (at plinth.genestack.ovn.bond_options.bond9)",
            ]
        );
    }
}
