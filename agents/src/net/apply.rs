//! Performs planned [`Op`]s over rtnetlink (and `accept_ra` through its sysctl file). Links are looked up by name at the moment each
//! operation runs, since earlier operations create and rename them. Stops at the first failure.

use std::net::IpAddr;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::link::{
    BondLacpRate, BondMode as NlBondMode, BondXmitHashPolicy, BridgeStpState, LinkMessage,
};
use rtnetlink::packet_route::route::{RouteScope, RouteType};
use rtnetlink::packet_route::rule::RuleAction;
use rtnetlink::{Handle, LinkBond, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVlan};
use rtnetlink::{RouteMessageBuilder, packet_route::link::InfoBond};

use super::bond::{BondMode, BondSettings, HashPolicy, LacpRate};
use super::bridge::BridgeSettings;
use super::observe::{accept_ra_path, link_from};
use super::ops::Op;
use super::routes::{RouteKind, RouteSpec};
use super::rules::RuleSpec;
use super::state::Link;

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The kernel refused it.
    #[error("{op}: {source}")]
    Netlink {
        /// The operation, as logged.
        op: String,
        /// The netlink error.
        source: rtnetlink::Error,
    },
    /// A link it names does not exist.
    #[error("{op}: no link named {name}")]
    NoSuchLink {
        /// The operation, as logged.
        op: String,
        /// The missing link.
        name: String,
    },
    /// A sysctl could not be written.
    #[error("{op}: cannot write {path}: {source}")]
    Sysctl {
        /// The operation, as logged.
        op: String,
        /// The sysctl file.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// It cannot be expressed as a netlink message.
    #[error("{op}: {reason}")]
    Invalid {
        /// The operation, as logged.
        op: String,
        /// Why.
        reason: String,
    },
}

/// Runs `ops` in order; `before` sees each operation just before it runs (to log it).
pub async fn apply(
    handle: &Handle,
    ops: &[Op],
    mut before: impl FnMut(&Op),
) -> Result<(), ApplyError> {
    for op in ops {
        before(op);
        Applier {
            handle,
            op: op.to_string(),
        }
        .run(op)
        .await?;
    }
    Ok(())
}

struct Applier<'h> {
    handle: &'h Handle,
    op: String,
}

impl Applier<'_> {
    async fn run(&self, op: &Op) -> Result<(), ApplyError> {
        match op {
            Op::Rename { from, to } => {
                let link = self.link(from).await?;
                if link.up {
                    self.set(LinkUnspec::new_with_index(link.index).down().build())
                        .await?;
                }
                self.set(LinkUnspec::new_with_index(link.index).name(to).build())
                    .await
            }
            Op::CreateBond { name, settings } => {
                let msg = self.bond(name, settings, None).await?;
                let Err(refused) = self.add(msg).await else {
                    return Ok(());
                };
                // Creating the first bond loads `bonding`, which makes its own empty bond0
                // (max_bonds=1) while the request waits for the module; the request then finds
                // the name taken. That bond is the one the plan would have set up had it been
                // there: give it the settings.
                let existing = self.link(name).await.ok();
                if !taken_by_a_bond(&refused, existing.as_ref()) {
                    return Err(refused);
                }
                self.set_bond(name, settings).await
            }
            Op::SetBond { name, settings } => self.set_bond(name, settings).await,
            Op::CreateVlan { name, link, id } => {
                let parent = self.link(link).await?;
                self.add(LinkVlan::new(name, parent.index, *id).build())
                    .await
            }
            Op::CreateBridge { name, settings } => {
                self.add(bridge(
                    LinkMessageBuilder::<LinkBridge>::new(name),
                    settings,
                ))
                .await
            }
            Op::SetBridge { name, settings } => {
                let link = self.link(name).await?;
                let msg = bridge(
                    LinkMessageBuilder::<LinkBridge>::new(name).index(link.index),
                    settings,
                );
                self.handle
                    .link()
                    .change(msg)
                    .execute()
                    .await
                    .map_err(|e| self.netlink(e))
            }
            Op::Enslave { link, master } => {
                let member = self.link(link).await?;
                let master = self.link(master).await?;
                // The bonding driver refuses members that are up.
                if master.kind.as_deref() == Some("bond") && member.up {
                    self.set(LinkUnspec::new_with_index(member.index).down().build())
                        .await?;
                }
                self.set(
                    LinkUnspec::new_with_index(member.index)
                        .controller(master.index)
                        .build(),
                )
                .await
            }
            Op::SetMtu { link, mtu } => {
                let l = self.link(link).await?;
                self.set(LinkUnspec::new_with_index(l.index).mtu(*mtu).build())
                    .await
            }
            Op::SetMac { link, mac } => {
                let l = self.link(link).await?;
                let bytes = parse_mac(mac).ok_or_else(|| self.invalid("not a MAC address"))?;
                self.set(LinkUnspec::new_with_index(l.index).address(bytes).build())
                    .await
            }
            Op::SetAcceptRa { link, value } => {
                let path = accept_ra_path(link);
                std::fs::write(&path, format!("{value}\n")).map_err(|e| ApplyError::Sysctl {
                    op: self.op.clone(),
                    path,
                    source: e,
                })
            }
            Op::SetUp { link } => {
                let l = self.link(link).await?;
                self.set(LinkUnspec::new_with_index(l.index).up().build())
                    .await
            }
            Op::AddAddress { link, address } => {
                let l = self.link(link).await?;
                self.handle
                    .address()
                    .add(l.index, address.addr, address.prefix)
                    .execute()
                    .await
                    .map_err(|e| self.netlink(e))
            }
            Op::AddRule { rule } => self.rule(rule).await,
            Op::AddRoute { link, route } => {
                let l = self.link(link).await?;
                self.route(l.index, route).await
            }
        }
    }

    /// Gives the existing bond `name` these settings.
    async fn set_bond(&self, name: &str, settings: &BondSettings) -> Result<(), ApplyError> {
        let link = self.link(name).await?;
        // The kernel changes a bond's mode only while it is down.
        let bounce = settings.mode.is_some() && link.up;
        if bounce {
            self.set(LinkUnspec::new_with_index(link.index).down().build())
                .await?;
        }
        let msg = self.bond(name, settings, Some(link.index)).await?;
        self.handle
            .link()
            .change(msg)
            .execute()
            .await
            .map_err(|e| self.netlink(e))?;
        if bounce {
            self.set(LinkUnspec::new_with_index(link.index).up().build())
                .await?;
        }
        Ok(())
    }

    async fn link(&self, name: &str) -> Result<Link, ApplyError> {
        let found: Option<LinkMessage> = self
            .handle
            .link()
            .get()
            .match_name(name.to_owned())
            .execute()
            .try_next()
            .await
            .or_else(|e| match e {
                // ENODEV: the kernel answers a lookup by a missing name with an error.
                rtnetlink::Error::NetlinkError(ref m)
                    if m.code.is_some_and(|c| c.get() == -ENODEV) =>
                {
                    Ok(None)
                }
                e => Err(self.netlink(e)),
            })?;
        found
            .map(|m| link_from(&m))
            .ok_or_else(|| ApplyError::NoSuchLink {
                op: self.op.clone(),
                name: name.to_owned(),
            })
    }

    async fn set(&self, msg: LinkMessage) -> Result<(), ApplyError> {
        self.handle
            .link()
            .set(msg)
            .execute()
            .await
            .map_err(|e| self.netlink(e))
    }

    async fn add(&self, msg: LinkMessage) -> Result<(), ApplyError> {
        self.handle
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(|e| self.netlink(e))
    }

    async fn bond(
        &self,
        name: &str,
        s: &BondSettings,
        index: Option<u32>,
    ) -> Result<LinkMessage, ApplyError> {
        let mut b = LinkBond::new(name);
        if let Some(i) = index {
            b = b.index(i);
        }
        if let Some(mode) = s.mode {
            b = b.mode(match mode {
                BondMode::BalanceRr => NlBondMode::BalanceRr,
                BondMode::ActiveBackup => NlBondMode::ActiveBackup,
                BondMode::BalanceXor => NlBondMode::BalanceXor,
                BondMode::Broadcast => NlBondMode::Broadcast,
                BondMode::Lacp => NlBondMode::Ieee8023Ad,
                BondMode::BalanceTlb => NlBondMode::BalanceTlb,
                BondMode::BalanceAlb => NlBondMode::BalanceAlb,
            });
        }
        if let Some(ms) = s.miimon {
            b = b.miimon(ms);
        }
        if let Some(rate) = s.lacp_rate {
            b = b.append_info_data(InfoBond::AdLacpRate(match rate {
                LacpRate::Slow => BondLacpRate::Slow,
                LacpRate::Fast => BondLacpRate::Fast,
            }));
        }
        if let Some(policy) = s.hash_policy {
            b = b.xmit_hash_policy(match policy {
                HashPolicy::Layer2 => BondXmitHashPolicy::Layer2,
                HashPolicy::Layer34 => BondXmitHashPolicy::Layer34,
                HashPolicy::Layer23 => BondXmitHashPolicy::Layer23,
                HashPolicy::Encap23 => BondXmitHashPolicy::Encap23,
                HashPolicy::Encap34 => BondXmitHashPolicy::Encap34,
            });
        }
        if let Some(primary) = &s.primary {
            b = b.primary(self.link(primary).await?.index);
        }
        if let Some(ms) = s.up_delay {
            b = b.updelay(ms);
        }
        if let Some(ms) = s.down_delay {
            b = b.downdelay(ms);
        }
        if let Some(n) = s.min_links {
            b = b.min_links(n);
        }
        Ok(b.build())
    }

    async fn route(&self, oif: u32, r: &RouteSpec) -> Result<(), ApplyError> {
        let mut b = RouteMessageBuilder::<IpAddr>::new()
            .destination_prefix(r.dst.addr, r.dst.prefix)
            .map_err(|e| self.invalid(&e.to_string()))?
            .priority(r.metric)
            .table_id(r.table);
        let drop = match r.kind {
            RouteKind::Unicast => None,
            RouteKind::Blackhole => Some(RouteType::BlackHole),
            RouteKind::Unreachable => Some(RouteType::Unreachable),
            RouteKind::Prohibit => Some(RouteType::Prohibit),
        };
        match (drop, r.gateway) {
            // A drop route has no device and no gateway.
            (Some(kind), _) => b = b.kind(kind),
            (None, Some(gw)) => {
                b = b
                    .output_interface(oif)
                    .gateway(gw)
                    .map_err(|e| self.invalid(&e.to_string()))?;
            }
            (None, None) => b = b.output_interface(oif).scope(RouteScope::Link),
        }
        if let Some(src) = r.source {
            b = b
                .pref_source(src)
                .map_err(|e| self.invalid(&e.to_string()))?;
        }
        if r.on_link {
            b = b.onlink();
        }
        self.handle
            .route()
            .add(b.build())
            .execute()
            .await
            .map_err(|e| self.netlink(e))
    }

    async fn rule(&self, r: &RuleSpec) -> Result<(), ApplyError> {
        let mut req = self
            .handle
            .rule()
            .add()
            .action(RuleAction::ToTable)
            .table_id(r.table);
        if let Some(p) = r.priority {
            req = req.priority(p);
        }
        if let Some(m) = r.mark {
            req = req.fw_mark(m);
        }
        if let Some(t) = r.tos {
            req = req.tos(t);
        }
        let result = match (
            r.from.map(|c| (c.addr, c.prefix)),
            r.to.map(|c| (c.addr, c.prefix)),
        ) {
            (from, to) if r.v6 => {
                let mut req = req.v6();
                if let Some((IpAddr::V6(a), p)) = from {
                    req = req.source_prefix(a, p);
                }
                if let Some((IpAddr::V6(a), p)) = to {
                    req = req.destination_prefix(a, p);
                }
                req.execute().await
            }
            (from, to) => {
                let mut req = req.v4();
                if let Some((IpAddr::V4(a), p)) = from {
                    req = req.source_prefix(a, p);
                }
                if let Some((IpAddr::V4(a), p)) = to {
                    req = req.destination_prefix(a, p);
                }
                req.execute().await
            }
        };
        result.map_err(|e| self.netlink(e))
    }

    fn netlink(&self, source: rtnetlink::Error) -> ApplyError {
        ApplyError::Netlink {
            op: self.op.clone(),
            source,
        }
    }

    fn invalid(&self, reason: &str) -> ApplyError {
        ApplyError::Invalid {
            op: self.op.clone(),
            reason: reason.to_owned(),
        }
    }
}

/// Adds the settings to a bridge message: timers first, since the kernel checks their range
/// against the STP state it has when it reaches them.
fn bridge(b: LinkMessageBuilder<LinkBridge>, s: &BridgeSettings) -> LinkMessage {
    let mut b = b;
    if let Some(v) = s.forward_delay {
        b = b.forward_delay(v);
    }
    if let Some(v) = s.hello_time {
        b = b.hello_time(v);
    }
    if let Some(v) = s.max_age {
        b = b.max_age(v);
    }
    if let Some(v) = s.ageing_time {
        b = b.ageing_time(v);
    }
    if let Some(v) = s.priority {
        b = b.priority(v);
    }
    let stp = if s.stp {
        BridgeStpState::KernelStp
    } else {
        BridgeStpState::Disabled
    };
    b.stp_state(stp).build()
}

/// `aa:bb:cc:dd:ee:ff` as six bytes.
pub fn parse_mac(text: &str) -> Option<Vec<u8>> {
    let bytes: Vec<u8> = text
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).ok().filter(|_| b.len() == 2))
        .collect::<Option<_>>()?;
    (bytes.len() == 6).then_some(bytes)
}

/// Whether creating a bond failed only because a bond of that name appeared meanwhile (the one
/// the bonding module makes on load): the kernel said `EEXIST` and the link now there is a bond.
fn taken_by_a_bond(refused: &ApplyError, existing: Option<&Link>) -> bool {
    let exists = matches!(
        refused,
        ApplyError::Netlink {
            source: rtnetlink::Error::NetlinkError(m),
            ..
        } if m.code.is_some_and(|c| c.get() == -EEXIST)
    );
    exists && existing.is_some_and(|l| l.kind.as_deref() == Some("bond"))
}

/// `ENODEV`, which the kernel returns for a lookup by an unknown name.
const ENODEV: i32 = 19;

/// `EEXIST`, which the kernel returns for a new link whose name is taken.
const EEXIST: i32 = 17;

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(errno: i32) -> ApplyError {
        let mut message = rtnetlink::packet_core::ErrorMessage::default();
        message.code = std::num::NonZeroI32::new(-errno);
        ApplyError::Netlink {
            op: "create bond bond0".into(),
            source: rtnetlink::Error::NetlinkError(message),
        }
    }

    fn link(kind: &str) -> Link {
        Link {
            name: "bond0".into(),
            kind: Some(kind.into()),
            ..Link::default()
        }
    }

    #[test]
    fn a_bond_that_took_the_name_is_set_up_instead() {
        assert!(taken_by_a_bond(&refused(EEXIST), Some(&link("bond"))));
    }

    #[test]
    fn other_refusals_and_other_links_stay_errors() {
        assert!(!taken_by_a_bond(&refused(EEXIST), Some(&link("dummy"))));
        assert!(!taken_by_a_bond(&refused(EEXIST), None));
        assert!(!taken_by_a_bond(&refused(1), Some(&link("bond"))));
        let invalid = ApplyError::Invalid {
            op: "create bond bond0".into(),
            reason: "x".into(),
        };
        assert!(!taken_by_a_bond(&invalid, Some(&link("bond"))));
    }

    #[test]
    fn macs_are_six_two_digit_hex_bytes() {
        assert_eq!(
            parse_mac("52:54:00:0c:00:31"),
            Some(vec![0x52, 0x54, 0, 0x0c, 0, 0x31])
        );
        assert_eq!(parse_mac("52:54:00:0c:00"), None);
        assert_eq!(parse_mac("52:54:00:0c:00:3"), None);
        assert_eq!(parse_mac("52:54:00:0c:00:zz"), None);
    }
}
