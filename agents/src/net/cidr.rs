//! Addresses in CIDR form (`10.0.0.5/24`, `2001:db8::5/64`) and route destinations as netplan writes
//! them (`default`, `0.0.0.0/0`, a bare host address): parsing, masking and display, nothing else.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address with its prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    /// The address (for a route destination: the network address).
    pub addr: IpAddr,
    /// Prefix length: 0..=32 for IPv4, 0..=128 for IPv6.
    pub prefix: u8,
}

/// Why a string is not an address or a destination.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// The address part does not parse.
    #[error("`{0}` is not an IP address")]
    Address(String),
    /// The prefix is not a number in range for the family.
    #[error("`{0}`: the prefix length must be a number from 0 to {1}")]
    Prefix(String, u8),
    /// An interface address without `/prefix`.
    #[error("`{0}` has no /prefix length (write it as ADDRESS/PREFIX)")]
    MissingPrefix(String),
}

impl Cidr {
    /// Parses an interface address, which must carry its prefix (`10.0.0.5/24`).
    pub fn parse(text: &str) -> Result<Self, CidrError> {
        let (addr, prefix) = text
            .split_once('/')
            .ok_or_else(|| CidrError::MissingPrefix(text.to_owned()))?;
        let addr = parse_ip(addr).ok_or_else(|| CidrError::Address(text.to_owned()))?;
        let max = max_prefix(addr);
        let prefix = prefix
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| CidrError::Prefix(text.to_owned(), max))?;
        Ok(Cidr { addr, prefix })
    }

    /// Parses a route destination: `default` (IPv6 when `v6`), a CIDR, or a bare host address. The
    /// result is masked to its network, as the kernel stores it.
    pub fn parse_destination(text: &str, v6: bool) -> Result<Self, CidrError> {
        if text == "default" {
            return Ok(Cidr::default_route(v6));
        }
        let cidr = if text.contains('/') {
            Cidr::parse(text)?
        } else {
            let addr = parse_ip(text).ok_or_else(|| CidrError::Address(text.to_owned()))?;
            Cidr {
                addr,
                prefix: max_prefix(addr),
            }
        };
        Ok(cidr.network())
    }

    /// `0.0.0.0/0` or `::/0`.
    pub fn default_route(v6: bool) -> Self {
        let addr = if v6 {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        };
        Cidr { addr, prefix: 0 }
    }

    /// Whether this is an IPv6 address.
    pub fn is_v6(&self) -> bool {
        self.addr.is_ipv6()
    }

    /// The network this address belongs to (host bits cleared).
    pub fn network(&self) -> Self {
        let addr = match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
            }
        };
        Cidr {
            addr,
            prefix: self.prefix,
        }
    }

    /// Whether `ip` lies inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv6() == self.is_v6()
            && Cidr {
                addr: ip,
                prefix: self.prefix,
            }
            .network()
                == self.network()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix == 0 && self.addr.is_unspecified() {
            return f.write_str("default");
        }
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Parses an IP address, tolerating netplan's bracket-free IPv6 spellings only.
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    text.trim().parse().ok()
}

fn max_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv6() { 128 } else { 32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_interface_addresses() {
        let c = Cidr::parse("10.0.0.5/24").unwrap();
        assert_eq!(c.addr.to_string(), "10.0.0.5");
        assert_eq!(c.prefix, 24);
        assert!(Cidr::parse("2001:db8::5/64").unwrap().is_v6());
        assert_eq!(
            Cidr::parse("10.0.0.5"),
            Err(CidrError::MissingPrefix("10.0.0.5".into()))
        );
        assert_eq!(
            Cidr::parse("10.0.0.5/33"),
            Err(CidrError::Prefix("10.0.0.5/33".into(), 32))
        );
        assert!(matches!(Cidr::parse("ten/8"), Err(CidrError::Address(_))));
    }

    #[test]
    fn destinations_are_masked_and_default_is_zero() {
        assert_eq!(
            Cidr::parse_destination("10.1.2.3/16", false)
                .unwrap()
                .to_string(),
            "10.1.0.0/16"
        );
        assert_eq!(
            Cidr::parse_destination("default", true).unwrap(),
            Cidr::default_route(true)
        );
        assert_eq!(
            Cidr::parse_destination("0.0.0.0/0", false).unwrap(),
            Cidr::default_route(false)
        );
        assert_eq!(
            Cidr::parse_destination("192.0.2.7", false)
                .unwrap()
                .to_string(),
            "192.0.2.7/32"
        );
        assert_eq!(
            Cidr::parse_destination("2001:db8:1::9/48", true)
                .unwrap()
                .to_string(),
            "2001:db8:1::/48"
        );
    }

    #[test]
    fn contains_checks_family_and_prefix() {
        let net = Cidr::parse("10.0.0.5/24").unwrap();
        assert!(net.contains("10.0.0.1".parse().unwrap()));
        assert!(!net.contains("10.0.1.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
    }
}
