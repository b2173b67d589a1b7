//! Reads the machine's links, addresses, routes and policy rules over rtnetlink into a [`State`],, each
//! physical link's driver from `/sys/class/net/<if>/device/driver` and each link's `accept_ra`
//! sysctl. The only reads of the network
//! agent; no changes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::link::{
    BondLacpRate, BondMode as NlBondMode, BondXmitHashPolicy, BridgeStpState, InfoBond, InfoBridge,
    InfoData, InfoVlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteType};
use rtnetlink::packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use rtnetlink::{Handle, IpVersion, RouteMessageBuilder};

use super::bond::{BondMode, BondState, HashPolicy, LacpRate};
use super::bridge::BridgeState;
use super::cidr::Cidr;
use super::routes::RouteKind;
use super::rules::RuleEntry;
use super::state::{Link, RouteEntry, State};

/// Why the state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// A netlink dump failed.
    #[error("cannot list {what} over netlink: {source}")]
    Netlink {
        /// `links`, `addresses`, `routes` or `rules`.
        what: &'static str,
        /// The netlink error.
        source: rtnetlink::Error,
    },
}

/// The sysfs directory of network interfaces.
pub const SYS_CLASS_NET: &str = "/sys/class/net";

/// Reads links (with drivers under `sys_class_net`), addresses and routes.
pub async fn observe(handle: &Handle, sys_class_net: &Path) -> Result<State, ObserveError> {
    let err = |what| move |source| ObserveError::Netlink { what, source };
    let mut links: Vec<Link> = handle
        .link()
        .get()
        .execute()
        .map_ok(|m| link_from(&m))
        .try_collect()
        .await
        .map_err(err("links"))?;
    let names: Vec<(u32, String)> = links.iter().map(|l| (l.index, l.name.clone())).collect();
    for link in &mut links {
        if let (Some(bond), Some(index)) = (&mut link.bond, link.bond_primary) {
            bond.primary = names
                .iter()
                .find(|(i, _)| *i == index)
                .map(|(_, n)| n.clone());
        }
        link.driver = driver(sys_class_net, &link.name);
        link.accept_ra = accept_ra(&link.name);
    }
    let addresses: Vec<AddressMessage> = handle
        .address()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(err("addresses"))?;
    for msg in &addresses {
        if let Some(cidr) = address_from(msg)
            && let Some(link) = links.iter_mut().find(|l| l.index == msg.header.index)
        {
            link.addresses.push(cidr);
        }
    }
    let mut routes = Vec::new();
    let v4 = RouteMessageBuilder::<Ipv4Addr>::new().build();
    let v6 = RouteMessageBuilder::<Ipv6Addr>::new().build();
    for request in [v4, v6] {
        let msgs: Vec<RouteMessage> = handle
            .route()
            .get(request)
            .execute()
            .try_collect()
            .await
            .map_err(err("routes"))?;
        routes.extend(msgs.iter().filter_map(route_from));
    }
    let mut rules = Vec::new();
    for version in [IpVersion::V4, IpVersion::V6] {
        let msgs: Vec<RuleMessage> = handle
            .rule()
            .get(version)
            .execute()
            .try_collect()
            .await
            .map_err(err("rules"))?;
        rules.extend(msgs.iter().filter_map(rule_from));
    }
    Ok(State {
        links,
        routes,
        rules,
    })
}

/// The kernel driver bound to a physical interface, if any.
pub fn driver(sys_class_net: &Path, name: &str) -> Option<String> {
    let target = std::fs::read_link(sys_class_net.join(name).join("device/driver")).ok()?;
    Some(target.file_name()?.to_string_lossy().into_owned())
}

/// `/proc/sys/net/ipv6/conf/<if>/accept_ra`, of the caller's network namespace.
pub fn accept_ra(name: &str) -> Option<u8> {
    std::fs::read_to_string(accept_ra_path(name))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Where a link's `accept_ra` sysctl lives.
pub fn accept_ra_path(name: &str) -> std::path::PathBuf {
    Path::new("/proc/sys/net/ipv6/conf")
        .join(name)
        .join("accept_ra")
}

/// A link message as a [`Link`] (without driver and addresses).
pub fn link_from(msg: &LinkMessage) -> Link {
    let mut link = Link {
        index: msg.header.index,
        up: msg.header.flags.contains(LinkFlags::Up),
        ..Link::default()
    };
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(name) => link.name.clone_from(name),
            LinkAttribute::Address(mac) if mac.len() == 6 => link.mac = Some(format_mac(mac)),
            LinkAttribute::PermAddress(mac) if mac.len() == 6 => {
                link.perm_mac = Some(format_mac(mac));
            }
            LinkAttribute::Mtu(mtu) => link.mtu = *mtu,
            LinkAttribute::Controller(master) => link.master = Some(*master),
            LinkAttribute::Link(parent) => link.parent = Some(*parent),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    match info {
                        LinkInfo::Kind(kind) => link.kind = Some(kind.to_string()),
                        LinkInfo::Data(InfoData::Vlan(data)) => {
                            link.vlan_id = data.iter().find_map(|d| match d {
                                InfoVlan::Id(id) => Some(*id),
                                _ => None,
                            });
                        }
                        LinkInfo::Data(InfoData::Bond(data)) => {
                            let (state, primary) = bond_state(data);
                            link.bond = Some(state);
                            link.bond_primary = primary;
                        }
                        LinkInfo::Data(InfoData::Bridge(data)) => {
                            link.bridge = Some(bridge_state(data));
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    link
}

/// A bond's parameters from its link info, and its primary's index (named once all links are
/// known).
fn bond_state(data: &[InfoBond]) -> (BondState, Option<u32>) {
    let mut state = BondState::default();
    let mut primary = None;
    for d in data {
        match d {
            InfoBond::Mode(m) => {
                state.mode = match m {
                    NlBondMode::BalanceRr => Some(BondMode::BalanceRr),
                    NlBondMode::ActiveBackup => Some(BondMode::ActiveBackup),
                    NlBondMode::BalanceXor => Some(BondMode::BalanceXor),
                    NlBondMode::Broadcast => Some(BondMode::Broadcast),
                    NlBondMode::Ieee8023Ad => Some(BondMode::Lacp),
                    NlBondMode::BalanceTlb => Some(BondMode::BalanceTlb),
                    NlBondMode::BalanceAlb => Some(BondMode::BalanceAlb),
                    _ => None,
                }
            }
            InfoBond::MiiMon(v) => state.miimon = *v,
            InfoBond::UpDelay(v) => state.up_delay = *v,
            InfoBond::DownDelay(v) => state.down_delay = *v,
            InfoBond::MinLinks(v) => state.min_links = *v,
            InfoBond::Primary(i) => primary = Some(*i),
            InfoBond::AdLacpRate(r) => {
                state.lacp_rate = match r {
                    BondLacpRate::Slow => Some(LacpRate::Slow),
                    BondLacpRate::Fast => Some(LacpRate::Fast),
                    _ => None,
                }
            }
            InfoBond::XmitHashPolicy(h) => {
                state.hash_policy = match h {
                    BondXmitHashPolicy::Layer2 => Some(HashPolicy::Layer2),
                    BondXmitHashPolicy::Layer34 => Some(HashPolicy::Layer34),
                    BondXmitHashPolicy::Layer23 => Some(HashPolicy::Layer23),
                    BondXmitHashPolicy::Encap23 => Some(HashPolicy::Encap23),
                    BondXmitHashPolicy::Encap34 => Some(HashPolicy::Encap34),
                    _ => None,
                }
            }
            _ => {}
        }
    }
    (state, primary)
}

/// A bridge's STP state, timers and priority from its link info.
fn bridge_state(data: &[InfoBridge]) -> BridgeState {
    let mut state = BridgeState::default();
    for d in data {
        match d {
            InfoBridge::StpState(s) => state.stp = *s != BridgeStpState::Disabled,
            InfoBridge::ForwardDelay(v) => state.forward_delay = *v,
            InfoBridge::HelloTime(v) => state.hello_time = *v,
            InfoBridge::MaxAge(v) => state.max_age = *v,
            InfoBridge::AgeingTime(v) => state.ageing_time = *v,
            InfoBridge::Priority(v) => state.priority = *v,
            _ => {}
        }
    }
    state
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn address_from(msg: &AddressMessage) -> Option<Cidr> {
    let local = msg.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(ip) => Some(*ip),
        _ => None,
    });
    let address = msg.attributes.iter().find_map(|a| match a {
        AddressAttribute::Address(ip) => Some(*ip),
        _ => None,
    });
    Some(Cidr {
        addr: local.or(address)?,
        prefix: msg.header.prefix_len,
    })
}

fn rule_from(msg: &RuleMessage) -> Option<RuleEntry> {
    if msg.header.action != RuleAction::ToTable {
        return None;
    }
    let v6 = msg.header.family == rtnetlink::packet_route::AddressFamily::Inet6;
    let mut entry = RuleEntry {
        v6,
        from: None,
        to: None,
        table: u32::from(msg.header.table),
        priority: 0,
        mark: 0,
        tos: msg.header.tos,
    };
    for attr in &msg.attributes {
        match attr {
            RuleAttribute::Source(ip) => {
                entry.from = Some(Cidr {
                    addr: *ip,
                    prefix: msg.header.src_len,
                });
            }
            RuleAttribute::Destination(ip) => {
                entry.to = Some(Cidr {
                    addr: *ip,
                    prefix: msg.header.dst_len,
                });
            }
            RuleAttribute::Table(t) => entry.table = *t,
            RuleAttribute::Priority(p) => entry.priority = *p,
            RuleAttribute::FwMark(m) => entry.mark = *m,
            _ => {}
        }
    }
    Some(entry)
}

fn route_from(msg: &RouteMessage) -> Option<RouteEntry> {
    let kind = match msg.header.kind {
        RouteType::Unicast => RouteKind::Unicast,
        RouteType::BlackHole => RouteKind::Blackhole,
        RouteType::Unreachable => RouteKind::Unreachable,
        RouteType::Prohibit => RouteKind::Prohibit,
        _ => return None,
    };
    let ip = |a: &RouteAddress| match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    };
    let v6 = msg.header.address_family == rtnetlink::packet_route::AddressFamily::Inet6;
    let mut entry = RouteEntry {
        oif: None,
        dst: Cidr::default_route(v6),
        gateway: None,
        metric: 0,
        table: u32::from(msg.header.table),
        kind,
    };
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Destination(a) => {
                entry.dst = Cidr {
                    addr: ip(a)?,
                    prefix: msg.header.destination_prefix_length,
                };
            }
            RouteAttribute::Gateway(a) => entry.gateway = ip(a),
            RouteAttribute::Oif(i) => entry.oif = Some(*i),
            RouteAttribute::Priority(p) => entry.metric = *p,
            RouteAttribute::Table(t) => entry.table = *t,
            _ => {}
        }
    }
    Some(entry)
}
