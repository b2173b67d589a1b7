//! Which interfaces want a DHCP client, and for which families: the decision PID 1 uses to
//! supervise one `dhcpcd` per interface. Pure.

use plinth_config::network::Network;

use super::devices::devices;
use super::state::Link;

/// One DHCP client to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhcpClient {
    /// The interface (its final name, after `set-name`).
    pub interface: String,
    /// Run DHCPv4.
    pub v4: bool,
    /// Run DHCPv6.
    pub v6: bool,
}

impl DhcpClient {
    /// `dhcp4`, `dhcp6` or `dhcp4+6`, for logs.
    pub fn families(&self) -> &'static str {
        match (self.v4, self.v6) {
            (true, true) => "dhcp4+6",
            (true, false) => "dhcp4",
            _ => "dhcp6",
        }
    }
}

/// The DHCP clients `network` asks for on the observed `links`, in config order.
pub fn dhcp_interfaces(network: &Network, links: &[Link]) -> Vec<DhcpClient> {
    devices(network, links)
        .list
        .iter()
        .filter(|d| d.common.dhcp4 || d.common.dhcp6)
        .map(|d| DhcpClient {
            interface: d.name.clone(),
            v4: d.common.dhcp4,
            v6: d.common.dhcp6,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use plinth_config::network::{Bridge, Ethernet, Match};

    use super::*;

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
                    v4: false,
                    v6: true
                },
                DhcpClient {
                    interface: "br0".into(),
                    v4: true,
                    v6: false
                },
            ]
        );
        assert_eq!(clients[0].families(), "dhcp6");
    }
}
