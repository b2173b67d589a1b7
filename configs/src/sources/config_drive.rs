//! An OpenStack config drive (label `config-2`): `openstack/latest/user_data` is the config,
//! `meta_data.json` gives the hostname and SSH keys, and `network_data.json` is translated to a
//! netplan v2 [`Network`] when the config has no network of its own.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::nocloud::MetaData;
use super::{one_error, read_text};
use crate::diagnostic::{Diagnostic, Diagnostics, Pos};
use crate::network::{Bond, BondParameters, Ethernet, Match, Nameservers, Network, Route, Vlan};
use crate::parse::{Parsed, parse};

/// The directory holding the files, relative to the drive's root.
pub const LATEST: &str = "openstack/latest";

/// What `meta_data.json` holds that Plinth uses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct OpenStackMeta {
    /// Instance UUID.
    #[serde(default)]
    pub uuid: Option<String>,
    /// Host name.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Instance name.
    #[serde(default)]
    pub name: Option<String>,
    /// Key name → public key.
    #[serde(default)]
    pub public_keys: BTreeMap<String, String>,
}

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

fn json<T: serde::de::DeserializeOwned>(source: &str, text: &str) -> Result<T, Diagnostics> {
    serde_json::from_str(text).map_err(|e| {
        let pos = Pos::new(
            u32::try_from(e.line()).unwrap_or(1).max(1),
            u32::try_from(e.column()).unwrap_or(1).max(1),
        );
        Diagnostics(vec![Diagnostic::error(
            source,
            pos,
            "",
            format!("invalid JSON: {e}"),
        )])
    })
}

/// Whether `dir` looks like a config drive.
pub fn is_config_drive(dir: &Path) -> bool {
    let latest = dir.join(LATEST);
    latest.join("user_data").is_file() || latest.join("meta_data.json").is_file()
}

/// The files of a config drive's `openstack/latest/`, as text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DriveFiles {
    /// `user_data`: the config.
    pub user_data: Option<String>,
    /// `meta_data.json`.
    pub meta_data: Option<String>,
    /// `network_data.json`.
    pub network_data: Option<String>,
}

impl DriveFiles {
    /// Reads the files present under `dir/openstack/latest/`.
    pub fn read(dir: &Path) -> Result<Self, Diagnostics> {
        let latest = dir.join(LATEST);
        let file = |name: &str| -> Result<Option<String>, Diagnostics> {
            let path = latest.join(name);
            if path.is_file() {
                read_text(&path, &path.display().to_string()).map(Some)
            } else {
                Ok(None)
            }
        };
        Ok(DriveFiles {
            user_data: file("user_data")?,
            meta_data: file("meta_data.json")?,
            network_data: file("network_data.json")?,
        })
    }
}

/// Reads a config drive mounted (or copied) at `dir`: see [`from_files`].
pub fn load(dir: &Path) -> Result<Parsed, Diagnostics> {
    from_files(
        &dir.join(LATEST).display().to_string(),
        &DriveFiles::read(dir)?,
    )
}

/// Combines a config drive's files (`base` names them in diagnostics as `BASE/user_data`): user_data is
/// the config; meta_data.json fills the hostname and adds its SSH keys; network_data.json becomes the
/// network when user_data has none. Problems in every file are reported together.
pub fn from_files(base: &str, files: &DriveFiles) -> Result<Parsed, Diagnostics> {
    let name = |f: &str| format!("{base}/{f}");
    let mut diags: Vec<Diagnostic> = Vec::new();
    let user = match files
        .user_data
        .as_deref()
        .map(|t| parse(&name("user_data"), t))
    {
        Some(Ok(p)) => {
            diags.extend(p.warnings);
            Some(p.config)
        }
        Some(Err(d)) => {
            diags.extend(d.0);
            None
        }
        None => Some(crate::MachineConfig::default()),
    };
    let meta = files
        .meta_data
        .as_deref()
        .map(|t| json::<OpenStackMeta>(&name("meta_data.json"), t));
    let network = files.network_data.as_deref().map(|t| {
        json::<NetworkData>(&name("network_data.json"), t).and_then(|data| {
            to_netplan(&data).map_err(|m| one_error(&name("network_data.json"), m))
        })
    });
    let meta = match meta {
        Some(Err(d)) => {
            diags.extend(d.0);
            None
        }
        Some(Ok(m)) => Some(m),
        None => None,
    };
    let network = match network {
        Some(Err(d)) => {
            diags.extend(d.0);
            None
        }
        Some(Ok(n)) => Some(n),
        None => None,
    };
    let mut all = Diagnostics(diags);
    all.normalize();
    let Some(mut config) = user.filter(|_| !all.has_errors()) else {
        return Err(all);
    };
    if let Some(meta) = meta {
        let hostname = meta
            .hostname
            .clone()
            .or(meta.name.clone())
            .map(|h| short_name(&h));
        let hostname = match hostname {
            Some(h) if crate::validate::hostname::hostname_problem(&h).is_some() => {
                all.0.push(Diagnostic::warning(
                    &name("meta_data.json"),
                    Pos::new(1, 1),
                    "hostname",
                    format!("host name `{h}` is not RFC 1123 and is not used"),
                ));
                None
            }
            other => other,
        };
        super::merge::apply_meta_data(
            &mut config,
            &MetaData {
                instance_id: meta.uuid.clone(),
                local_hostname: hostname,
            },
        );
        for key in meta.public_keys.values() {
            if !config.ssh_authorized_keys.contains(key) {
                config.ssh_authorized_keys.push(key.clone());
            }
        }
    }
    if config.network.is_none() {
        config.network = network;
    }
    Ok(Parsed {
        config,
        warnings: all.0,
    })
}

/// Nova gives `host.novalocal`-style names; the host name is the first label.
fn short_name(name: &str) -> String {
    name.split('.').next().unwrap_or(name).to_owned()
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

/// Translates OpenStack's network_data.json into netplan v2, as cloud-init does.
pub fn to_netplan(data: &NetworkData) -> Result<Network, String> {
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
                    .ok_or_else(|| format!("vlan link `{}` has no vlan_link", link.id))?;
                if !by_id.contains_key(parent.as_str()) {
                    return Err(format!(
                        "vlan link `{}` names unknown link `{parent}`",
                        link.id
                    ));
                }
                let id = link
                    .vlan_id
                    .ok_or_else(|| format!("vlan link `{}` has no vlan_id", link.id))?;
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
            return Err(format!("network on link `{}`: no such link", l3.link));
        };
        match l3.kind.as_str() {
            "ipv4_dhcp" | "dhcp4" => *slots.dhcp4 = Some(true),
            "ipv6_dhcp" | "ipv6_dhcpv6-stateful" | "ipv6_dhcpv6-stateless" | "ipv6_slaac" => {
                *slots.dhcp6 = Some(true)
            }
            "ipv4" | "ipv6" => {
                let (Some(ip), Some(mask)) = (&l3.ip_address, &l3.netmask) else {
                    return Err(format!(
                        "network on link `{}` has no ip_address/netmask",
                        l3.link
                    ));
                };
                let prefix = prefix_len(mask).ok_or_else(|| {
                    format!("netmask `{mask}` on link `{}` is not a netmask", l3.link)
                })?;
                slots.addresses.push(format!("{ip}/{prefix}"));
                for r in &l3.routes {
                    let to = match prefix_len(&r.netmask) {
                        Some(0) => "default".to_owned(),
                        Some(p) => format!("{}/{p}", r.network),
                        None => {
                            return Err(format!("route netmask `{}` is not a netmask", r.netmask));
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
    fn netmasks() {
        assert_eq!(prefix_len("255.255.255.0"), Some(24));
        assert_eq!(prefix_len("0.0.0.0"), Some(0));
        assert_eq!(prefix_len("ffff:ffff:ffff:ffff::"), Some(64));
        assert_eq!(prefix_len("255.0.255.0"), None);
        assert_eq!(prefix_len("64"), Some(64));
    }
}
