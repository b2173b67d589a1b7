//! The address a node advertises to its cluster (its InternalIP, etcd's and the apiserver's
//! advertised address): `plinth.cluster.advertise_address` when it is an address; when it names
//! an interface, that interface's first global address; without it, the address of the interface
//! the default route leaves by (the lowest metric wins) — so a second, NATed management NIC
//! without the default route is never advertised; on a network with no default route at all (an
//! isolated lab), the first global address of any interface, as Kubernetes' own
//! `ChooseHostInterface` falls back to. Only addresses of the service network's family
//! count: the apiserver refuses to advertise an IPv6 address for an IPv4 service CIDR, and an IPv6
//! router advertisement (SLAAC) often comes before the DHCPv4 lease. Pure, over the network
//! agent's observed [`State`].

use std::net::IpAddr;

use crate::net::state::State;

/// Why no address can be chosen (yet: the caller retries while DHCP may still come).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    #[error("plinth.cluster.advertise_address: interface {0} does not exist")]
    NoInterface(String),
    #[error("plinth.cluster.advertise_address: interface {0} has no global {1} address yet")]
    NoAddressOn(String, &'static str),
    #[error(
        "plinth.cluster.advertise_address: {0} is not an {1} address, as the service network (plinth.cluster.kubernetes.service_cidr) is"
    )]
    WrongFamily(IpAddr, &'static str),
    #[error(
        "no global {0} address yet, so none to advertise (set plinth.cluster.advertise_address)"
    )]
    NoAddress(&'static str),
}

/// The advertised address, from the setting (an address or an interface name) and the machine;
/// `ipv6` is the service network's family.
pub fn choose(setting: Option<&str>, ipv6: bool, state: &State) -> Result<IpAddr, AddressError> {
    let family = if ipv6 { "IPv6" } else { "IPv4" };
    if let Some(text) = setting {
        if let Ok(ip) = text.parse::<IpAddr>() {
            return if ip.is_ipv6() == ipv6 {
                Ok(ip)
            } else {
                Err(AddressError::WrongFamily(ip, family))
            };
        }
        let link = state
            .link(text)
            .ok_or_else(|| AddressError::NoInterface(text.to_owned()))?;
        return first_global(link.addresses.iter().map(|c| c.addr), ipv6)
            .ok_or_else(|| AddressError::NoAddressOn(text.to_owned(), family));
    }
    let mut defaults: Vec<_> = state
        .routes
        .iter()
        .filter(|r| r.dst.prefix == 0 && r.table == crate::net::state::MAIN_TABLE)
        .filter(|r| r.dst.addr.is_ipv6() == ipv6)
        .filter_map(|r| r.oif.map(|oif| (r.metric, oif)))
        .collect();
    defaults.sort();
    let on_default = defaults.iter().find_map(|(_, oif)| {
        let link = state.links.iter().find(|l| l.index == *oif)?;
        first_global(link.addresses.iter().map(|c| c.addr), ipv6)
    });
    if !defaults.is_empty() {
        // A default route whose interface has no address yet: its lease is still coming, and
        // another interface's address (a management NIC's) must not win meanwhile.
        return on_default.ok_or(AddressError::NoAddress(family));
    }
    let mut links: Vec<_> = state.links.iter().collect();
    links.sort_by_key(|l| l.index);
    links
        .iter()
        .find_map(|l| first_global(l.addresses.iter().map(|c| c.addr), ipv6))
        .ok_or(AddressError::NoAddress(family))
}

/// The first address of the family that is neither loopback, link-local nor unspecified.
fn first_global(mut addresses: impl Iterator<Item = IpAddr>, ipv6: bool) -> Option<IpAddr> {
    addresses.find(|ip| {
        ip.is_ipv6() == ipv6
            && !ip.is_loopback()
            && !ip.is_unspecified()
            && match ip {
                IpAddr::V4(v4) => !v4.is_link_local(),
                IpAddr::V6(v6) => !v6.is_unicast_link_local(),
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::cidr::Cidr;
    use crate::net::routes::RouteKind;
    use crate::net::state::{Link, MAIN_TABLE, RouteEntry};

    fn link(index: u32, name: &str, addresses: &[&str]) -> Link {
        Link {
            index,
            name: name.into(),
            addresses: addresses.iter().map(|a| Cidr::parse(a).unwrap()).collect(),
            ..Link::default()
        }
    }

    fn default_route(oif: u32, metric: u32) -> RouteEntry {
        RouteEntry {
            oif: Some(oif),
            dst: Cidr {
                addr: "0.0.0.0".parse().unwrap(),
                prefix: 0,
            },
            gateway: Some("10.0.2.2".parse().unwrap()),
            metric,
            table: MAIN_TABLE,
            kind: RouteKind::Unicast,
        }
    }

    /// ens3 is the cluster NIC with the default route; ens4 a NATed management NIC whose address
    /// is the same on every node.
    fn two_nics() -> State {
        State {
            links: vec![
                link(1, "lo", &["127.0.0.1/8"]),
                link(2, "ens3", &["fe80::1/64", "192.0.2.11/24"]),
                link(3, "ens4", &["10.0.2.15/24"]),
            ],
            routes: vec![default_route(2, 100)],
            rules: Vec::new(),
        }
    }

    #[test]
    fn the_default_routes_interface_not_the_management_nic() {
        assert_eq!(
            choose(None, false, &two_nics()),
            Ok("192.0.2.11".parse().unwrap())
        );
    }

    #[test]
    fn the_lowest_metric_default_route_wins() {
        let mut state = two_nics();
        state.routes.push(default_route(3, 50));
        assert_eq!(
            choose(None, false, &state),
            Ok("10.0.2.15".parse().unwrap())
        );
    }

    #[test]
    fn an_address_or_an_interface_from_the_config() {
        let state = two_nics();
        assert_eq!(
            choose(Some("10.9.9.9"), false, &state),
            Ok("10.9.9.9".parse().unwrap())
        );
        assert_eq!(
            choose(Some("ens4"), false, &state),
            Ok("10.0.2.15".parse().unwrap())
        );
        assert_eq!(
            choose(Some("ens9"), false, &state),
            Err(AddressError::NoInterface("ens9".into()))
        );
    }

    #[test]
    fn without_any_default_route_the_first_interfaces_address() {
        let mut state = two_nics();
        state.routes.clear();
        assert_eq!(
            choose(None, false, &state),
            Ok("192.0.2.11".parse().unwrap())
        );
        state.links[1].addresses.clear();
        assert_eq!(
            choose(None, false, &state),
            Ok("10.0.2.15".parse().unwrap())
        );
    }

    #[test]
    fn no_address_yet_is_said() {
        let mut state = two_nics();
        state.links[1].addresses.retain(|c| c.addr.is_ipv6());
        // The default route's interface has no lease yet: wait, rather than take ens4's.
        assert_eq!(
            choose(None, false, &state),
            Err(AddressError::NoAddress("IPv4"))
        );
        state.routes.clear();
        state.links[2].addresses.clear();
        assert_eq!(
            choose(None, false, &state),
            Err(AddressError::NoAddress("IPv4"))
        );
        assert_eq!(
            choose(Some("ens3"), false, &state),
            Err(AddressError::NoAddressOn("ens3".into(), "IPv4"))
        );
    }

    /// QEMU's user network advertises an IPv6 prefix (SLAAC) before DHCPv4 answers: that
    /// default route and address must not be taken for an IPv4 cluster.
    #[test]
    fn only_the_service_networks_family_counts() {
        let mut state = two_nics();
        state.routes.clear();
        state.links[1].addresses = vec![Cidr::parse("fec0::5054:ff:fe12:3456/64").unwrap()];
        state.links[2].addresses.clear();
        state.routes.push(RouteEntry {
            dst: Cidr {
                addr: "::".parse().unwrap(),
                prefix: 0,
            },
            gateway: Some("fe80::2".parse().unwrap()),
            ..default_route(2, 100)
        });
        assert_eq!(
            choose(None, false, &state),
            Err(AddressError::NoAddress("IPv4"))
        );
        assert_eq!(
            choose(None, true, &state),
            Ok("fec0::5054:ff:fe12:3456".parse().unwrap())
        );
        assert_eq!(
            choose(Some("fec0::1"), false, &state),
            Err(AddressError::WrongFamily(
                "fec0::1".parse().unwrap(),
                "IPv4"
            ))
        );
    }
}
