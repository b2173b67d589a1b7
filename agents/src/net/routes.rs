//! The routes a device asks for (`routes`, and the deprecated `gateway4`/`gateway6` as default
//! routes), in the form the kernel stores them, and whether a route is already present. Pure.

use std::fmt;
use std::net::IpAddr;

use plinth_config::network::Route;

use super::cidr::{Cidr, CidrError, parse_ip};
use super::devices::Common;
use super::state::{MAIN_TABLE, RouteEntry};

/// The kernel's metric for an IPv6 route added without one (`IP6_RT_PRIO_USER`).
pub const IPV6_DEFAULT_METRIC: u32 = 1024;

/// What a route does with matching packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RouteKind {
    /// Forward them (through a gateway or on the link).
    #[default]
    Unicast,
    /// Drop them silently.
    Blackhole,
    /// Drop them with "network unreachable".
    Unreachable,
    /// Drop them with "prohibited".
    Prohibit,
}

/// One route to install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    /// Destination, masked; `0.0.0.0/0` or `::/0` for a default route.
    pub dst: Cidr,
    /// Next hop; none for a route on the link.
    pub gateway: Option<IpAddr>,
    /// Metric as the kernel will report it.
    pub metric: u32,
    /// Routing table.
    pub table: u32,
    /// Preferred source address.
    pub source: Option<IpAddr>,
    /// The gateway is on the link even without a covering address.
    pub on_link: bool,
    /// Unicast, or a route that drops (which belongs to no device).
    pub kind: RouteKind,
}

impl RouteSpec {
    /// Whether `entry`, on the link with index `oif`, is this route.
    pub fn is(&self, entry: &RouteEntry, oif: u32) -> bool {
        let device_ok = match self.kind {
            RouteKind::Unicast => entry.oif == Some(oif),
            _ => true,
        };
        device_ok
            && entry.kind == self.kind
            && entry.dst == self.dst
            && entry.gateway == self.gateway
            && entry.metric == self.metric
            && entry.table == self.table
    }
}

impl fmt::Display for RouteSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            RouteKind::Unicast => {}
            RouteKind::Blackhole => f.write_str("blackhole ")?,
            RouteKind::Unreachable => f.write_str("unreachable ")?,
            RouteKind::Prohibit => f.write_str("prohibit ")?,
        }
        write!(f, "{}", self.dst)?;
        if let Some(gw) = self.gateway {
            write!(f, " via {gw}")?;
        }
        write!(f, " metric {}", self.metric)?;
        if self.table != MAIN_TABLE {
            write!(f, " table {}", self.table)?;
        }
        if let Some(src) = self.source {
            write!(f, " src {src}")?;
        }
        if self.on_link {
            f.write_str(" onlink")?;
        }
        Ok(())
    }
}

/// The routes of one device; `path` names it in warnings about routes that cannot be installed.
pub fn desired_routes(path: &str, common: &Common<'_>) -> (Vec<RouteSpec>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let gateways = [(common.gateway4, false), (common.gateway6, true)];
    for (gateway, v6) in gateways {
        let Some(text) = gateway else { continue };
        match parse_ip(text) {
            Some(gw) if gw.is_ipv6() == v6 => out.push(RouteSpec {
                dst: Cidr::default_route(v6),
                gateway: Some(gw),
                metric: normal_metric(None, v6),
                table: MAIN_TABLE,
                source: None,
                on_link: false,
                kind: RouteKind::Unicast,
            }),
            _ => warnings.push(format!(
                "{path}.gateway{}: `{text}` is not an IPv{} address; no default route",
                if v6 { 6 } else { 4 },
                if v6 { 6 } else { 4 }
            )),
        }
    }
    for (i, route) in common.routes.iter().enumerate() {
        match route_spec(route) {
            Ok(spec) => out.push(spec),
            Err(why) => warnings.push(format!("{path}.routes[{i}]: {why}; not installed")),
        }
    }
    (out, warnings)
}

/// Why a netplan route cannot be installed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// A `type` Linux does not have.
    #[error("route type `{0}` is not one Linux knows")]
    UnknownType(String),
    /// A blackhole, unreachable or prohibit route with a gateway.
    #[error("a route that drops packets has no `via`")]
    DropWithVia,
    /// `via` is not an address.
    #[error("via `{0}` is not an address")]
    BadVia(String),
    /// `to` is not a destination.
    #[error(transparent)]
    Destination(#[from] CidrError),
    /// `to` and `via` of different families.
    #[error("`{to}` and via `{via}` are not of the same IP family")]
    MixedFamilies {
        /// The destination.
        to: String,
        /// The gateway.
        via: String,
    },
    /// `from` is not an address.
    #[error("from `{0}` is not an address")]
    BadFrom(String),
}

/// One netplan route as the kernel will store it.
pub fn route_spec(route: &Route) -> Result<RouteSpec, RouteError> {
    let kind = match route.kind.as_deref() {
        None | Some("unicast") => RouteKind::Unicast,
        Some("blackhole") => RouteKind::Blackhole,
        Some("unreachable") => RouteKind::Unreachable,
        Some("prohibit") => RouteKind::Prohibit,
        Some(other) => return Err(RouteError::UnknownType(other.into())),
    };
    if kind != RouteKind::Unicast && route.via.is_some() {
        return Err(RouteError::DropWithVia);
    }
    let gateway = match route.via.as_deref() {
        Some(via) => Some(parse_ip(via).ok_or_else(|| RouteError::BadVia(via.into()))?),
        None => None,
    };
    let v6 = gateway.map_or(route.to.contains(':'), |g| g.is_ipv6());
    let dst = Cidr::parse_destination(&route.to, v6)?;
    if dst.is_v6() != v6 {
        return Err(RouteError::MixedFamilies {
            to: route.to.clone(),
            via: route.via.clone().unwrap_or_default(),
        });
    }
    let source = match route.from.as_deref() {
        Some(from) => Some(parse_ip(from).ok_or_else(|| RouteError::BadFrom(from.into()))?),
        None => None,
    };
    Ok(RouteSpec {
        dst,
        gateway,
        metric: normal_metric(route.metric, v6),
        table: route.table.unwrap_or(MAIN_TABLE),
        source,
        on_link: route.on_link == Some(true),
        kind,
    })
}

/// The metric the kernel reports for a route added with `metric`: IPv6 turns "none" and 0 into 1024.
pub fn normal_metric(metric: Option<u32>, v6: bool) -> u32 {
    match metric {
        None | Some(0) if v6 => IPV6_DEFAULT_METRIC,
        m => m.unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(to: &str, via: Option<&str>, metric: Option<u32>) -> Route {
        Route {
            to: to.into(),
            via: via.map(str::to_owned),
            metric,
            ..Route::default()
        }
    }

    #[test]
    fn default_routes_take_the_family_of_the_gateway() {
        let r = route_spec(&route("default", Some("2001:db8::1"), None)).unwrap();
        assert_eq!(r.dst, Cidr::default_route(true));
        assert_eq!(r.metric, IPV6_DEFAULT_METRIC);
        let r = route_spec(&route("0.0.0.0/0", Some("10.0.0.1"), Some(100))).unwrap();
        assert_eq!(r.to_string(), "default via 10.0.0.1 metric 100");
        let r = route_spec(&route("10.9.0.0/16", None, None)).unwrap();
        assert_eq!(r.to_string(), "10.9.0.0/16 metric 0");
    }

    #[test]
    fn bad_routes_are_refused_with_a_reason() {
        assert_eq!(
            route_spec(&route("10.0.0.0/8", Some("fe80::1"), None))
                .unwrap_err()
                .to_string(),
            "`10.0.0.0/8` and via `fe80::1` are not of the same IP family"
        );
        let mut bogus = route("10.0.0.0/8", None, None);
        bogus.kind = Some("nat".into());
        assert_eq!(
            route_spec(&bogus).unwrap_err().to_string(),
            "route type `nat` is not one Linux knows"
        );
        let mut blackhole = route("10.0.0.0/8", Some("10.0.0.1"), None);
        blackhole.kind = Some("blackhole".into());
        assert!(route_spec(&blackhole).is_err());
        blackhole.via = None;
        let spec = route_spec(&blackhole).unwrap();
        assert_eq!(spec.to_string(), "blackhole 10.0.0.0/8 metric 0");
        // A drop route belongs to no device: it is present whatever device listed it.
        let entry = RouteEntry {
            oif: None,
            dst: spec.dst,
            gateway: None,
            metric: 0,
            table: MAIN_TABLE,
            kind: RouteKind::Blackhole,
        };
        assert!(spec.is(&entry, 9));
    }

    #[test]
    fn gateways_become_default_routes() {
        let common = Common {
            addresses: &[],
            gateway4: Some("192.0.2.1"),
            gateway6: Some("192.0.2.9"),
            routes: &[],
            routing_policy: &[],
            mtu: None,
            macaddress: None,
            accept_ra: None,
            dhcp4: false,
            dhcp6: false,
            nameservers: None,
            dhcp4_overrides: None,
            dhcp6_overrides: None,
        };
        let (routes, warnings) = desired_routes("ethernets.e", &common);
        assert_eq!(routes.len(), 1);
        assert_eq!(routes[0].to_string(), "default via 192.0.2.1 metric 0");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("ethernets.e.gateway6"));
    }

    #[test]
    fn presence_compares_what_the_kernel_keeps() {
        let spec = route_spec(&route("default", Some("10.0.0.1"), Some(100))).unwrap();
        let mut entry = RouteEntry {
            oif: Some(4),
            dst: Cidr::default_route(false),
            gateway: Some("10.0.0.1".parse().unwrap()),
            metric: 100,
            table: MAIN_TABLE,
            kind: RouteKind::Unicast,
        };
        assert!(spec.is(&entry, 4));
        assert!(!spec.is(&entry, 5));
        entry.metric = 0;
        assert!(!spec.is(&entry, 4));
    }
}
