//! Which observed link each `ethernets` entry means: by key name, or by `match` (name glob, MAC,
//! driver glob), and what it is called afterwards (`set-name`). Pure: links in, claims out.
//!
//! A link is claimed by at most one entry: entries named by key are resolved first, then `match`
//! entries in key order. A link already renamed to an entry's `set-name` still answers to that entry,
//! whose `name` glob no longer fits it, so a second run finds the same links.

use std::collections::BTreeSet;

use plinth_config::network::ethernet::glob_match;
use plinth_config::network::{Ethernet, Match, Network};

use super::state::Link;

/// One link claimed by one `ethernets` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The entry's key in `ethernets`.
    pub id: String,
    /// The link's current name.
    pub current: String,
    /// Its name once configured: `set-name`, or the current name.
    pub target: String,
}

/// The claims, and the entries that found nothing (or too much).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resolution {
    /// Claims in config order.
    pub claims: Vec<Claim>,
    /// Human-readable notes about entries that matched no link or several with one `set-name`.
    pub warnings: Vec<String>,
    /// Those of `warnings` about an entry whose `match` found no link (expected before udev has
    /// loaded the NIC drivers).
    pub unmatched: Vec<String>,
}

/// Whether `link` is a physical interface that `match` may select: not loopback, and no virtual
/// kind except `veth` (the stand-in for a NIC in containers and namespaces).
pub fn is_physical(link: &Link) -> bool {
    link.name != "lo" && matches!(link.kind.as_deref(), None | Some("veth"))
}

/// Whether a `match` may select `link` at all: physical links, and any link the match names
/// literally (no glob), so `match: {name: lo}` reaches the loopback as netplan allows.
fn selectable(m: &Match, link: &Link) -> bool {
    let literal = m
        .name
        .as_deref()
        .is_some_and(|n| !n.contains(['*', '?', '[']) && n == link.name);
    is_physical(link) || literal
}

/// Whether `link` satisfies every property `m` gives. The name glob is also satisfied by a link
/// that already carries the entry's `set-name`.
pub fn link_matches(m: &Match, link: &Link, set_name: Option<&str>) -> bool {
    let name_ok = m.name.as_deref().is_none_or(|pattern| {
        glob_match(pattern, &link.name) || set_name == Some(link.name.as_str())
    });
    // The permanent address, since a bond member carries the bond's MAC once enslaved.
    let mac_ok = m.macaddress.as_deref().is_none_or(|want| {
        link.perm_mac
            .as_deref()
            .or(link.mac.as_deref())
            .is_some_and(|have| have.eq_ignore_ascii_case(want.trim()))
    });
    let driver_ok = m.driver.as_ref().is_none_or(|drivers| {
        link.driver
            .as_deref()
            .is_some_and(|have| drivers.all().iter().any(|p| glob_match(p, have)))
    });
    name_ok && mac_ok && driver_ok
}

/// Resolves every `ethernets` entry against the observed links.
pub fn resolve_ethernets(network: &Network, links: &[Link]) -> Resolution {
    let mut out = Resolution::default();
    let mut claimed: BTreeSet<u32> = BTreeSet::new();
    let by_key = network.ethernets.iter().filter(|(_, e)| e.match_.is_none());
    for (id, eth) in by_key {
        let target = eth.set_name.clone().unwrap_or_else(|| id.clone());
        let found = links
            .iter()
            .find(|l| l.name == *id)
            .or_else(|| links.iter().find(|l| l.name == target));
        match found {
            Some(link) if claimed.insert(link.index) => out.claims.push(Claim {
                id: id.clone(),
                current: link.name.clone(),
                target,
            }),
            Some(link) => out.warnings.push(format!(
                "ethernets.{id}: link {} is already configured by another entry",
                link.name
            )),
            None => out.warnings.push(not_found(id, eth, "no link is named so")),
        }
    }
    let by_match = network
        .ethernets
        .iter()
        .filter_map(|(id, e)| e.match_.as_ref().map(|m| (id, e, m)));
    for (id, eth, m) in by_match {
        let set_name = eth.set_name.as_deref();
        let mut candidates: Vec<&Link> = links
            .iter()
            .filter(|l| selectable(m, l) && !claimed.contains(&l.index))
            .filter(|l| link_matches(m, l, set_name))
            .collect();
        // A link already carrying the set-name comes first, then by index (discovery order).
        candidates.sort_by_key(|l| (Some(l.name.as_str()) != set_name, l.index));
        if candidates.is_empty() {
            let warning = not_found(id, eth, &format!("no link matches {}", describe(m)));
            out.unmatched.push(warning.clone());
            out.warnings.push(warning);
            continue;
        }
        if let Some(name) = set_name {
            if candidates.len() > 1 {
                out.warnings.push(format!(
                    "ethernets.{id}: {} links match {} but set-name `{name}` can name only one; using {}",
                    candidates.len(),
                    describe(m),
                    candidates[0].name
                ));
            }
            candidates.truncate(1);
        }
        for link in candidates {
            claimed.insert(link.index);
            out.claims.push(Claim {
                id: id.clone(),
                current: link.name.clone(),
                target: set_name.unwrap_or(&link.name).to_owned(),
            });
        }
    }
    out
}

fn not_found(id: &str, eth: &Ethernet, why: &str) -> String {
    let optional = if eth.optional == Some(true) {
        " (optional)"
    } else {
        ""
    };
    format!("ethernets.{id}{optional}: {why}; it is not configured")
}

/// `name=en*, macaddress=..., driver=...` for messages.
fn describe(m: &Match) -> String {
    let mut parts = Vec::new();
    if let Some(n) = &m.name {
        parts.push(format!("name={n}"));
    }
    if let Some(mac) = &m.macaddress {
        parts.push(format!("macaddress={mac}"));
    }
    if let Some(d) = &m.driver {
        parts.push(format!("driver={}", d.all().join("|")));
    }
    if parts.is_empty() {
        "an empty match".to_owned()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use plinth_config::network::common::OneOrMany;

    use super::*;

    fn nic(index: u32, name: &str, mac: &str, driver: &str) -> Link {
        Link {
            index,
            name: name.into(),
            mac: Some(mac.into()),
            driver: Some(driver.into()),
            mtu: 1500,
            ..Link::default()
        }
    }

    fn eth_match(m: Match, set_name: Option<&str>) -> Ethernet {
        Ethernet {
            match_: Some(m),
            set_name: set_name.map(str::to_owned),
            ..Ethernet::default()
        }
    }

    #[test]
    fn matches_by_name_glob_mac_and_driver() {
        let link = nic(2, "enp3s0", "52:54:00:aa:bb:01", "virtio_net");
        let by_name = Match {
            name: Some("en*".into()),
            ..Match::default()
        };
        assert!(link_matches(&by_name, &link, None));
        let by_mac = Match {
            macaddress: Some("52:54:00:AA:BB:01".into()),
            ..Match::default()
        };
        assert!(link_matches(&by_mac, &link, None));
        let by_driver = Match {
            driver: Some(OneOrMany::Many(vec!["ixgbe".into(), "virtio*".into()])),
            ..Match::default()
        };
        assert!(link_matches(&by_driver, &link, None));
        let all_must_hold = Match {
            name: Some("en*".into()),
            driver: Some(OneOrMany::One("ixgbe".into())),
            ..Match::default()
        };
        assert!(!link_matches(&all_must_hold, &link, None));
    }

    #[test]
    fn mac_matching_prefers_the_permanent_address() {
        // Two bond members: the second took the first one's MAC when enslaved.
        let mut first = nic(2, "lan1", "52:54:00:12:00:01", "virtio_net");
        first.perm_mac = Some("52:54:00:12:00:01".into());
        let mut second = nic(3, "lan2", "52:54:00:12:00:01", "virtio_net");
        second.perm_mac = Some("52:54:00:12:00:02".into());
        let by_mac = |mac: &str| Match {
            macaddress: Some(mac.into()),
            ..Match::default()
        };
        assert!(link_matches(&by_mac("52:54:00:12:00:01"), &first, None));
        assert!(!link_matches(&by_mac("52:54:00:12:00:01"), &second, None));
        assert!(link_matches(&by_mac("52:54:00:12:00:02"), &second, None));
    }

    #[test]
    fn set_name_claims_one_link_and_survives_the_rename() {
        let mut net = Network::default();
        net.ethernets.insert(
            "uplink".into(),
            eth_match(
                Match {
                    name: Some("en*".into()),
                    ..Match::default()
                },
                Some("lan0"),
            ),
        );
        let before = vec![
            nic(3, "enp4s0", "52:54:00:00:00:02", "e1000"),
            nic(2, "enp3s0", "52:54:00:00:00:01", "e1000"),
        ];
        let r = resolve_ethernets(&net, &before);
        assert_eq!(
            r.claims,
            vec![Claim {
                id: "uplink".into(),
                current: "enp3s0".into(),
                target: "lan0".into()
            }]
        );
        assert_eq!(r.warnings.len(), 1, "two links match one set-name");
        let after = vec![
            nic(3, "enp4s0", "52:54:00:00:00:02", "e1000"),
            nic(2, "lan0", "52:54:00:00:00:01", "e1000"),
        ];
        let r = resolve_ethernets(&net, &after);
        assert_eq!(r.claims[0].current, "lan0");
        assert_eq!(r.claims[0].target, "lan0");
    }

    #[test]
    fn a_glob_without_set_name_claims_every_physical_link_once() {
        let mut net = Network::default();
        net.ethernets.insert("enp3s0".into(), Ethernet::default());
        net.ethernets.insert(
            "all-en".into(),
            eth_match(
                Match {
                    name: Some("en*".into()),
                    ..Match::default()
                },
                None,
            ),
        );
        let mut bridge = nic(9, "enbr", "52:54:00:00:00:09", "");
        bridge.kind = Some("bridge".into());
        let links = vec![
            nic(1, "lo", "00:00:00:00:00:00", ""),
            nic(2, "enp3s0", "52:54:00:00:00:01", "e1000"),
            nic(3, "enp4s0", "52:54:00:00:00:02", "e1000"),
            bridge,
        ];
        let r = resolve_ethernets(&net, &links);
        let names: Vec<(&str, &str)> = r
            .claims
            .iter()
            .map(|c| (c.id.as_str(), c.current.as_str()))
            .collect();
        assert_eq!(names, vec![("enp3s0", "enp3s0"), ("all-en", "enp4s0")]);
        assert!(r.warnings.is_empty());
    }

    #[test]
    fn missing_links_are_reported_not_invented() {
        let mut net = Network::default();
        net.ethernets.insert("eth7".into(), Ethernet::default());
        let r = resolve_ethernets(&net, &[nic(2, "eth0", "52:54:00:00:00:01", "e1000")]);
        assert!(r.claims.is_empty());
        assert_eq!(
            r.warnings,
            vec!["ethernets.eth7: no link is named so; it is not configured".to_owned()]
        );
    }
}
