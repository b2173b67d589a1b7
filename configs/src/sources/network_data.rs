//! OpenStack's `network_data.json` (config drive and metadata service) and its translation to a
//! netplan v2 [`Network`], as cloud-init does: links become ethernets (matched by MAC), bonds and VLANs;
//! networks become addresses, DHCP and routes; DNS services become nameservers.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::network::{Bond, BondParameters, Ethernet, Match, Nameservers, Network, Route, Vlan};

/// `network_data.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct NetworkData {
    /// Layer-2 links.
    #[serde(default)]
    pub links: Vec<Link>,
    /// Layer-3 networks on the links.
    #[serde(default)]
    pub networks: Vec<L3>,
    /// DNS and other services.
    #[serde(default)]
    pub services: Vec<ServiceEntry>,
}

/// A link of `network_data.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Link {
    /// Link id, referenced by networks.
    pub id: String,
    /// `phy`, `ethernet`, `vif`, `bond`, `vlan`, ...
    #[serde(rename = "type", default)]
    pub kind: String,
    /// MAC address.
    #[serde(default)]
    pub ethernet_mac_address: Option<String>,
    /// MTU.
    #[serde(default)]
    pub mtu: Option<u32>,
    /// Bond members (link ids).
    #[serde(default)]
    pub bond_links: Vec<String>,
    /// Bond mode.
    #[serde(default)]
    pub bond_mode: Option<String>,
    /// VLAN parent (link id).
    #[serde(default)]
    pub vlan_link: Option<String>,
    /// VLAN id.
    #[serde(default)]
    pub vlan_id: Option<u16>,
}

/// A network of `network_data.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct L3 {
    /// Link id.
    pub link: String,
    /// `ipv4`, `ipv6`, `ipv4_dhcp`, `ipv6_dhcp`, `ipv6_slaac`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Address (static types).
    #[serde(default)]
    pub ip_address: Option<String>,
    /// Netmask (dotted IPv4, or a prefix length).
    #[serde(default)]
    pub netmask: Option<String>,
    /// Routes.
    #[serde(default)]
    pub routes: Vec<L3Route>,
}

/// A route of `network_data.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct L3Route {
    /// Destination network.
    pub network: String,
    /// Destination netmask.
    pub netmask: String,
    /// Gateway.
    pub gateway: String,
}

/// A service of `network_data.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ServiceEntry {
    /// `dns`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Address.
    #[serde(default)]
    pub address: Option<String>,
}

/// A netmask (`255.255.255.0`, `ffff:ffff::`, or `24`) as a prefix length.
pub fn prefix_len(netmask: &str) -> Option<u8> {
    if let Ok(n) = netmask.parse::<u8>() {
        return Some(n);
    }
    let bits: u128 = match netmask.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => u128::from(u32::from(v4)) << 96,
        std::net::IpAddr::V6(v6) => u128::from(v6),
    };
    let ones = bits.leading_ones();
    (bits.count_ones() == ones)
        .then(|| u8::try_from(ones).ok())
        .flatten()
}

/// The layer-3 fields of whichever device a network_data.json network sits on.
struct Slots<'a> {
    addresses: &'a mut Vec<String>,
    dhcp4: &'a mut Option<bool>,
    dhcp6: &'a mut Option<bool>,
    routes: &'a mut Vec<Route>,
    nameservers: &'a mut Option<Nameservers>,
}

impl<'a> Slots<'a> {
    fn of(net: &'a mut Network, link: &str) -> Option<Self> {
        macro_rules! slots {
            ($d:expr) => {
                Slots {
                    addresses: &mut $d.addresses,
                    dhcp4: &mut $d.dhcp4,
                    dhcp6: &mut $d.dhcp6,
                    routes: &mut $d.routes,
                    nameservers: &mut $d.nameservers,
                }
            };
        }
        if let Some(d) = net.ethernets.get_mut(link) {
            Some(slots!(d))
        } else if let Some(d) = net.bonds.get_mut(link) {
            Some(slots!(d))
        } else {
            net.vlans.get_mut(link).map(|d| slots!(d))
        }
    }
}

/// Why a `network_data.json` cannot be translated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetworkDataError {
    /// A VLAN link without its parent.
    #[error("vlan link `{0}` has no vlan_link")]
    NoVlanLink(String),
    /// A VLAN link whose parent is not a link.
    #[error("vlan link `{link}` names unknown link `{parent}`")]
    UnknownParent {
        /// The VLAN link's id.
        link: String,
        /// The parent it names.
        parent: String,
    },
    /// A VLAN link without its VLAN id.
    #[error("vlan link `{0}` has no vlan_id")]
    NoVlanId(String),
    /// A network on a link that does not exist.
    #[error("network on link `{0}`: no such link")]
    NoSuchLink(String),
    /// A static network without its address or netmask.
    #[error("network on link `{0}` has no ip_address/netmask")]
    NoAddress(String),
    /// A static network whose netmask is not one.
    #[error("netmask `{netmask}` on link `{link}` is not a netmask")]
    Netmask {
        /// The netmask as written.
        netmask: String,
        /// The network's link.
        link: String,
    },
    /// A route whose netmask is not one.
    #[error("route netmask `{0}` is not a netmask")]
    RouteNetmask(String),
}

/// Translates OpenStack's network_data.json into netplan v2, as cloud-init does.
pub fn to_netplan(data: &NetworkData) -> Result<Network, NetworkDataError> {
    let mut net = Network {
        version: Some(2),
        ..Network::default()
    };
    let by_id: BTreeMap<&str, &Link> = data.links.iter().map(|l| (l.id.as_str(), l)).collect();
    for link in &data.links {
        match link.kind.as_str() {
            "bond" => {
                let parameters = link.bond_mode.clone().map(|mode| BondParameters {
                    mode: Some(mode),
                    ..BondParameters::default()
                });
                net.bonds.insert(
                    link.id.clone(),
                    Bond {
                        interfaces: link.bond_links.clone(),
                        parameters,
                        mtu: link.mtu,
                        ..Bond::default()
                    },
                );
            }
            "vlan" => {
                let parent = link
                    .vlan_link
                    .clone()
                    .ok_or_else(|| NetworkDataError::NoVlanLink(link.id.clone()))?;
                if !by_id.contains_key(parent.as_str()) {
                    return Err(NetworkDataError::UnknownParent {
                        link: link.id.clone(),
                        parent,
                    });
                }
                let id = link
                    .vlan_id
                    .ok_or_else(|| NetworkDataError::NoVlanId(link.id.clone()))?;
                net.vlans.insert(
                    link.id.clone(),
                    Vlan {
                        id,
                        link: parent,
                        mtu: link.mtu,
                        ..Vlan::default()
                    },
                );
            }
            _ => {
                let mac = link
                    .ethernet_mac_address
                    .clone()
                    .map(|m| m.to_ascii_lowercase());
                let match_ = mac.map(|m| Match {
                    macaddress: Some(m),
                    ..Match::default()
                });
                let set_name = match_.as_ref().map(|_| link.id.clone());
                net.ethernets.insert(
                    link.id.clone(),
                    Ethernet {
                        match_,
                        set_name,
                        mtu: link.mtu,
                        ..Ethernet::default()
                    },
                );
            }
        }
    }
    let dns: Vec<String> = data
        .services
        .iter()
        .filter(|s| s.kind == "dns")
        .filter_map(|s| s.address.clone())
        .collect();
    for l3 in &data.networks {
        let Some(slots) = Slots::of(&mut net, &l3.link) else {
            return Err(NetworkDataError::NoSuchLink(l3.link.clone()));
        };
        match l3.kind.as_str() {
            "ipv4_dhcp" | "dhcp4" => *slots.dhcp4 = Some(true),
            "ipv6_dhcp" | "ipv6_dhcpv6-stateful" | "ipv6_dhcpv6-stateless" | "ipv6_slaac" => {
                *slots.dhcp6 = Some(true)
            }
            "ipv4" | "ipv6" => {
                let (Some(ip), Some(mask)) = (&l3.ip_address, &l3.netmask) else {
                    return Err(NetworkDataError::NoAddress(l3.link.clone()));
                };
                let prefix = prefix_len(mask).ok_or_else(|| NetworkDataError::Netmask {
                    netmask: mask.clone(),
                    link: l3.link.clone(),
                })?;
                slots.addresses.push(format!("{ip}/{prefix}"));
                for r in &l3.routes {
                    let to = match prefix_len(&r.netmask) {
                        Some(0) => "default".to_owned(),
                        Some(p) => format!("{}/{p}", r.network),
                        None => {
                            return Err(NetworkDataError::RouteNetmask(r.netmask.clone()));
                        }
                    };
                    slots.routes.push(Route {
                        to,
                        via: Some(r.gateway.clone()),
                        ..Route::default()
                    });
                }
                if !dns.is_empty() && slots.nameservers.is_none() {
                    *slots.nameservers = Some(Nameservers {
                        addresses: dns.clone(),
                        search: Vec::new(),
                    });
                }
            }
            _ => {}
        }
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
      "links": [
        {"id": "tap1", "type": "phy", "ethernet_mac_address": "FA:16:3E:00:00:01", "mtu": 1500},
        {"id": "tap2", "type": "phy", "ethernet_mac_address": "fa:16:3e:00:00:02"},
        {"id": "bond0", "type": "bond", "bond_links": ["tap1", "tap2"], "bond_mode": "802.3ad"},
        {"id": "vlan100", "type": "vlan", "vlan_link": "bond0", "vlan_id": 100}
      ],
      "networks": [
        {"id": "n1", "link": "vlan100", "type": "ipv4", "ip_address": "10.0.100.5", "netmask": "255.255.255.0",
         "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.100.1"},
                    {"network": "10.9.0.0", "netmask": "255.255.0.0", "gateway": "10.0.100.254"}]},
        {"id": "n2", "link": "bond0", "type": "ipv6_dhcp"}
      ],
      "services": [{"type": "dns", "address": "10.0.100.2"}]
    }"#;

    #[test]
    fn translates_network_data() {
        let data: NetworkData = serde_json::from_str(SAMPLE).unwrap();
        let net = to_netplan(&data).unwrap();
        assert_eq!(
            net.ethernets["tap1"]
                .match_
                .as_ref()
                .unwrap()
                .macaddress
                .as_deref(),
            Some("fa:16:3e:00:00:01")
        );
        assert_eq!(net.bonds["bond0"].interfaces, vec!["tap1", "tap2"]);
        assert_eq!(net.bonds["bond0"].dhcp6, Some(true));
        let vlan = &net.vlans["vlan100"];
        assert_eq!((vlan.id, vlan.link.as_str()), (100, "bond0"));
        assert_eq!(vlan.addresses, vec!["10.0.100.5/24"]);
        assert_eq!(vlan.routes[0].to, "default");
        assert_eq!(vlan.routes[1].to, "10.9.0.0/16");
        assert_eq!(
            vlan.nameservers.as_ref().unwrap().addresses,
            vec!["10.0.100.2"]
        );
        assert!(
            crate::validate::validate(&crate::MachineConfig {
                network: Some(net),
                ..Default::default()
            })
            .is_empty()
        );
    }

    #[test]
    fn what_cannot_be_translated_is_named() {
        let data = |json: &str| serde_json::from_str::<NetworkData>(json).unwrap();
        let vlan =
            data(r#"{"links": [{"id": "v1", "type": "vlan", "vlan_link": "x", "vlan_id": 5}]}"#);
        assert_eq!(
            to_netplan(&vlan).unwrap_err().to_string(),
            "vlan link `v1` names unknown link `x`"
        );
        let orphan = data(r#"{"networks": [{"link": "eth9", "type": "ipv4"}]}"#);
        assert_eq!(
            to_netplan(&orphan),
            Err(NetworkDataError::NoSuchLink("eth9".into()))
        );
        let mask = data(
            r#"{"links": [{"id": "e0"}], "networks": [{"link": "e0", "type": "ipv4",
                "ip_address": "10.0.0.5", "netmask": "255.0.255.0"}]}"#,
        );
        assert_eq!(
            to_netplan(&mask).unwrap_err().to_string(),
            "netmask `255.0.255.0` on link `e0` is not a netmask"
        );
    }

    #[test]
    fn netmasks() {
        assert_eq!(prefix_len("255.255.255.0"), Some(24));
        assert_eq!(prefix_len("0.0.0.0"), Some(0));
        assert_eq!(prefix_len("ffff:ffff:ffff:ffff::"), Some(64));
        assert_eq!(prefix_len("255.0.255.0"), None);
        assert_eq!(prefix_len("64"), Some(64));
    }
}
