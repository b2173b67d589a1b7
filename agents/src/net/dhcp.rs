//! Which interfaces want a DHCP client, for which families, with which route metric and whether
//! its DNS servers are used: the list the agent writes to its ready file
//! (`plinth_config::net_ready`), from which the `dhcp` service generates dhcpcd's config (one
//! `interface` block each). Pure.

use plinth_config::net_ready::{DhcpClient, Families};

use super::devices::Device;

/// The client of one device.
pub fn client_of(device: &Device<'_>) -> DhcpClient {
    let c = &device.common;
    let overrides = [
        c.dhcp4_overrides.filter(|_| c.dhcp4),
        c.dhcp6_overrides.filter(|_| c.dhcp6),
    ];
    DhcpClient {
        interface: device.name.clone(),
        families: Families::of(c.dhcp4, c.dhcp6),
        route_metric: overrides.iter().flatten().find_map(|o| o.route_metric),
        use_dns: !overrides.iter().flatten().any(|o| o.use_dns == Some(false)),
    }
}

#[cfg(test)]
mod tests {
    use plinth_config::network::{Bridge, Ethernet, Match};

    use plinth_config::network::Network;

    use super::*;
    use crate::net::plan::plan;
    use crate::net::state::{Link, State};

    /// The DHCP clients the planner gives for `network` on `links`.
    fn dhcp_interfaces(network: &Network, links: &[Link]) -> Vec<DhcpClient> {
        let state = State {
            links: links.to_vec(),
            ..State::default()
        };
        plan(network, &state).dhcp
    }

    #[test]
    fn dhcp_follows_renames_and_virtual_devices() {
        let mut net = Network::default();
        net.ethernets.insert(
            "nic".into(),
            Ethernet {
                match_: Some(Match {
                    macaddress: Some("52:54:00:12:34:56".into()),
                    ..Match::default()
                }),
                set_name: Some("lan0".into()),
                dhcp6: Some(true),
                ..Ethernet::default()
            },
        );
        net.ethernets.insert(
            "eth1".into(),
            Ethernet {
                dhcp4: Some(false),
                ..Ethernet::default()
            },
        );
        net.bridges.insert(
            "br0".into(),
            Bridge {
                interfaces: vec!["eth1".into()],
                dhcp4: Some(true),
                ..Bridge::default()
            },
        );
        let links = vec![
            Link {
                index: 2,
                name: "eth0".into(),
                mac: Some("52:54:00:12:34:56".into()),
                ..Link::default()
            },
            Link {
                index: 3,
                name: "eth1".into(),
                ..Link::default()
            },
        ];
        let clients = dhcp_interfaces(&net, &links);
        assert_eq!(
            clients,
            vec![
                DhcpClient {
                    interface: "lan0".into(),
                    families: Families::V6,
                    route_metric: None,
                    use_dns: true,
                },
                DhcpClient {
                    interface: "br0".into(),
                    families: Families::V4,
                    route_metric: None,
                    use_dns: true,
                },
            ]
        );
        assert_eq!(clients[0].families.as_str(), "dhcp6");
        assert_eq!(clients[1].line(), "dhcp4 br0");
    }

    #[test]
    fn lease_overrides_reach_the_line() {
        let mut net = Network::default();
        net.ethernets.insert(
            "enred".into(),
            Ethernet {
                dhcp4: Some(true),
                dhcp4_overrides: Some(plinth_config::network::DhcpOverrides {
                    route_metric: Some(100),
                    use_dns: Some(false),
                    ..Default::default()
                }),
                // Overrides of a family that is not run do not count.
                dhcp6_overrides: Some(plinth_config::network::DhcpOverrides {
                    route_metric: Some(7),
                    ..Default::default()
                }),
                ..Ethernet::default()
            },
        );
        let links = [Link {
            index: 2,
            name: "enred".into(),
            ..Link::default()
        }];
        let clients = dhcp_interfaces(&net, &links);
        assert_eq!(clients[0].line(), "dhcp4 enred metric=100 nodns");
    }
}
