//! The address a node advertises to its cluster (its InternalIP, etcd's and the apiserver's
//! advertised address): `plinth.cluster.advertise_address` when it is an address; when it names
//! an interface, that interface's first global address; without it, the address of the interface
//! the default route leaves by (the lowest metric wins) — so a second, NATed management NIC
//! without the default route is never advertised. Pure, over the network agent's observed
//! [`State`].

use std::net::IpAddr;

use crate::net::state::State;

/// Why no address can be chosen (yet: the caller retries while DHCP may still come).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    #[error("plinth.cluster.advertise_address: interface {0} does not exist")]
    NoInterface(String),
    #[error("plinth.cluster.advertise_address: interface {0} has no global address yet")]
    NoAddressOn(String),
    #[error(
        "no default route yet, so no address to advertise (set plinth.cluster.advertise_address)"
    )]
    NoDefaultRoute,
}

/// The advertised address, from the setting (an address or an interface name) and the machine.
pub fn choose(setting: Option<&str>, state: &State) -> Result<IpAddr, AddressError> {
    if let Some(text) = setting {
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(ip);
        }
        let link = state
            .link(text)
            .ok_or_else(|| AddressError::NoInterface(text.to_owned()))?;
        return first_global(link.addresses.iter().map(|c| c.addr))
            .ok_or_else(|| AddressError::NoAddressOn(text.to_owned()));
    }
    let mut defaults: Vec<_> = state
        .routes
        .iter()
        .filter(|r| r.dst.prefix == 0 && r.table == crate::net::state::MAIN_TABLE)
        .filter_map(|r| r.oif.map(|oif| (r.dst.addr.is_ipv6(), r.metric, oif)))
        .collect();
    // IPv4 first (Genestack's clusters are IPv4), then the lowest metric.
    defaults.sort();
    defaults
        .iter()
        .find_map(|(_, _, oif)| {
            let link = state.links.iter().find(|l| l.index == *oif)?;
            first_global(link.addresses.iter().map(|c| c.addr))
        })
        .ok_or(AddressError::NoDefaultRoute)
}

/// The first address that is neither loopback, link-local nor unspecified; IPv4 before IPv6.
fn first_global(addresses: impl Iterator<Item = IpAddr>) -> Option<IpAddr> {
    let mut usable: Vec<IpAddr> = addresses
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
        .filter(|ip| match ip {
            IpAddr::V4(v4) => !v4.is_link_local(),
            IpAddr::V6(v6) => !v6.is_unicast_link_local(),
        })
        .collect();
    usable.sort_by_key(|ip| ip.is_ipv6());
    usable.first().copied()
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
        assert_eq!(choose(None, &two_nics()), Ok("192.0.2.11".parse().unwrap()));
    }

    #[test]
    fn the_lowest_metric_default_route_wins() {
        let mut state = two_nics();
        state.routes.push(default_route(3, 50));
        assert_eq!(choose(None, &state), Ok("10.0.2.15".parse().unwrap()));
    }

    #[test]
    fn an_address_or_an_interface_from_the_config() {
        let state = two_nics();
        assert_eq!(
            choose(Some("10.9.9.9"), &state),
            Ok("10.9.9.9".parse().unwrap())
        );
        assert_eq!(
            choose(Some("ens4"), &state),
            Ok("10.0.2.15".parse().unwrap())
        );
        assert_eq!(
            choose(Some("ens9"), &state),
            Err(AddressError::NoInterface("ens9".into()))
        );
    }

    #[test]
    fn no_route_or_no_address_yet_is_said() {
        let mut state = two_nics();
        state.routes.clear();
        assert_eq!(choose(None, &state), Err(AddressError::NoDefaultRoute));
        state.links[1].addresses.retain(|c| c.addr.is_ipv6());
        assert_eq!(
            choose(Some("ens3"), &state),
            Err(AddressError::NoAddressOn("ens3".into()))
        );
    }
}
