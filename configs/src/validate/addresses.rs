//! IP addresses, CIDR prefixes, endpoints and interface names as netplan and the cluster settings
//! write them.

use std::net::IpAddr;

/// Why a text is not the address, CIDR, listen address or endpoint it should be.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// A CIDR without the `/` between address and prefix.
    #[error("`{0}` is not in CIDR form: expected ADDRESS/PREFIX such as 192.0.2.10/24")]
    NotCidr(String),
    /// A CIDR whose address part is not an IP address.
    #[error("`{addr}` in `{text}` is not an IPv4 or IPv6 address")]
    CidrAddress {
        /// The address part.
        addr: String,
        /// The whole CIDR.
        text: String,
    },
    /// A CIDR whose prefix is not a number up to the address family's bits.
    #[error("prefix `/{prefix}` in `{text}` is not a number from 0 to {max}")]
    Prefix {
        /// The prefix as written.
        prefix: String,
        /// The whole CIDR.
        text: String,
        /// The family's longest prefix (32 or 128).
        max: u8,
    },
    /// Not an IP address.
    #[error("`{0}` is not an IPv4 or IPv6 address")]
    NotAddress(String),
    /// A listen address without the `:` before its port.
    #[error("`{0}` is not HOST:PORT (such as :9100 or 0.0.0.0:9100)")]
    NotHostPort(String),
    /// A listen address whose port is not 1 to 65535.
    #[error("port `{port}` in `{text}` is not a number from 1 to 65535")]
    ListenPort {
        /// The port as written.
        port: String,
        /// The whole listen address.
        text: String,
    },
    /// A listen address whose host is neither an address nor a host name.
    #[error("host `{host}` in `{text}` is neither an address nor a host name")]
    ListenHost {
        /// The host, without brackets.
        host: String,
        /// The whole listen address.
        text: String,
    },
    /// An endpoint that is empty after its scheme, or has a path.
    #[error("`{0}` is not an endpoint: expected https://HOST:PORT, HOST:PORT or HOST")]
    NotEndpoint(String),
    /// An endpoint whose port is not 1 to 65535.
    #[error("port `{port}` in endpoint `{text}` is not a number from 1 to 65535")]
    EndpointPort {
        /// The port as written.
        port: String,
        /// The whole endpoint.
        text: String,
    },
    /// An endpoint whose host is neither an address nor a host name.
    #[error("`{text}` is not an endpoint: `{host}` is neither an address nor a host name")]
    EndpointHost {
        /// The host, without brackets.
        host: String,
        /// The whole endpoint.
        text: String,
    },
    /// An empty advertised address.
    #[error("empty: write an IP address or an interface name")]
    EmptyAdvertise,
    /// An advertised address other nodes cannot reach (unspecified, loopback or multicast).
    #[error("`{0}` cannot be advertised: other nodes and pods must reach the node at it")]
    NotAdvertisable(IpAddr),
    /// An advertised address written with a prefix.
    #[error("`{text}` has a prefix: write the address alone (`{addr}`)")]
    Prefixed {
        /// The text as written.
        text: String,
        /// The address without its prefix.
        addr: String,
    },
    /// An advertised address that is neither an address nor an interface name.
    #[error("`{text}` is neither an IP address nor an interface name ({problem})")]
    NeitherAddressNorInterface {
        /// The text as written.
        text: String,
        /// Why it is not an interface name.
        problem: String,
    },
}

/// Parses `ADDR/PREFIX`; returns why it is not one.
pub fn parse_cidr(text: &str) -> Result<(IpAddr, u8), AddressError> {
    let Some((addr, prefix)) = text.split_once('/') else {
        return Err(AddressError::NotCidr(text.to_owned()));
    };
    let addr: IpAddr = addr.parse().map_err(|_| AddressError::CidrAddress {
        addr: addr.to_owned(),
        text: text.to_owned(),
    })?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    match prefix.parse::<u8>() {
        Ok(p) if p <= max => Ok((addr, p)),
        _ => Err(AddressError::Prefix {
            prefix: prefix.to_owned(),
            text: text.to_owned(),
            max,
        }),
    }
}

/// Parses a plain address; returns why it is not one.
pub fn parse_addr(text: &str) -> Result<IpAddr, AddressError> {
    text.parse()
        .map_err(|_| AddressError::NotAddress(text.to_owned()))
}

/// A route destination: `default`, an address, or a CIDR.
pub fn check_destination(text: &str) -> Result<(), AddressError> {
    if text == "default" {
        return Ok(());
    }
    if text.contains('/') {
        parse_cidr(text).map(|_| ())
    } else {
        parse_addr(text).map(|_| ())
    }
}

/// A `[HOST]:PORT` listen address (host may be empty, a name, an IPv4 or a bracketed IPv6).
pub fn check_listen(text: &str) -> Result<(), AddressError> {
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(AddressError::NotHostPort(text.to_owned()));
    };
    if port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(AddressError::ListenPort {
            port: port.to_owned(),
            text: text.to_owned(),
        });
    }
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if !host.is_empty()
        && host.parse::<IpAddr>().is_err()
        && super::hostname::hostname_problem(host).is_some()
    {
        return Err(AddressError::ListenHost {
            host: host.to_owned(),
            text: text.to_owned(),
        });
    }
    Ok(())
}

/// A cluster endpoint: `https://HOST[:PORT]`, `HOST:PORT` or `HOST`.
pub fn check_endpoint(text: &str) -> Result<(), AddressError> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .unwrap_or(text);
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') {
        return Err(AddressError::NotEndpoint(text.to_owned()));
    }
    if rest.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && !h.contains(':') || h.starts_with('[') => (h, Some(p)),
        _ => (rest, None),
    };
    if let Some(port) = port
        && port.parse::<u16>().map_or(true, |p| p == 0)
    {
        return Err(AddressError::EndpointPort {
            port: port.to_owned(),
            text: text.to_owned(),
        });
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.parse::<IpAddr>().is_ok() || super::hostname::hostname_problem(bare).is_none() {
        Ok(())
    } else {
        Err(AddressError::EndpointHost {
            host: bare.to_owned(),
            text: text.to_owned(),
        })
    }
}

/// Why `name` is not a Linux interface name, if it is not: 1 to 15 bytes, not `.` or `..`, without
/// `/`, `:` or white space (the kernel's `dev_valid_name`).
pub fn interface_name_problem(name: &str) -> Option<String> {
    let shape = "an interface name is 1 to 15 characters without `/`, `:` or spaces";
    if name.is_empty() || name.len() > 15 {
        return Some(format!("`{name}` is {} characters: {shape}", name.len()));
    }
    if name == "."
        || name == ".."
        || name.contains(['/', ':'])
        || name.contains(char::is_whitespace)
    {
        return Some(format!("`{name}` is not usable: {shape}"));
    }
    None
}

/// A node's advertised address: an IP address it can be reached at, or the name of the interface
/// whose address it is.
pub fn check_advertise_address(text: &str) -> Result<(), AddressError> {
    if text.is_empty() {
        return Err(AddressError::EmptyAdvertise);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() {
            Err(AddressError::NotAdvertisable(ip))
        } else {
            Ok(())
        };
    }
    if let Some((addr, _)) = text.split_once('/')
        && addr.parse::<IpAddr>().is_ok()
    {
        return Err(AddressError::Prefixed {
            text: text.to_owned(),
            addr: addr.to_owned(),
        });
    }
    // Digits and dots, or a colon (never in an interface name), are an address written wrong.
    if text.contains(':') || text.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(AddressError::NotAddress(text.to_owned()));
    }
    match interface_name_problem(text) {
        Some(problem) => Err(AddressError::NeitherAddressNorInterface {
            text: text.to_owned(),
            problem,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_and_addresses() {
        assert!(parse_cidr("192.0.2.11/24").is_ok());
        assert!(parse_cidr("2001:db8::1/64").is_ok());
        let err = |t: &str| parse_cidr(t).unwrap_err();
        assert_eq!(
            err("192.0.2.11"),
            AddressError::NotCidr("192.0.2.11".into())
        );
        assert!(err("192.0.2.11").to_string().contains("CIDR"));
        assert!(matches!(
            err("192.0.2.300/24"),
            AddressError::CidrAddress { .. }
        ));
        assert!(err("192.0.2.300/24").to_string().contains("not an IPv4"));
        assert!(matches!(
            err("192.0.2.1/33"),
            AddressError::Prefix { max: 32, .. }
        ));
        assert_eq!(
            err("192.0.2.1/33").to_string(),
            "prefix `/33` in `192.0.2.1/33` is not a number from 0 to 32"
        );
        assert!(check_destination("default").is_ok());
        assert!(check_destination("::/0").is_ok());
        assert!(check_destination("10.0.0.0/8").is_ok());
        assert_eq!(
            check_destination("nowhere"),
            Err(AddressError::NotAddress("nowhere".into()))
        );
    }

    #[test]
    fn endpoints_and_listen() {
        for ok in [
            "https://192.0.2.11:6443",
            "192.0.2.11",
            "node1.lab:6443",
            "https://[2001:db8::1]:6443",
            "2001:db8::1",
        ] {
            assert!(check_endpoint(ok).is_ok(), "{ok}");
        }
        for bad in ["https://", "node_1:6443", "10.0.0.1:99999", "http://a/b"] {
            assert!(check_endpoint(bad).is_err(), "{bad}");
        }
        assert!(check_listen(":9100").is_ok());
        assert!(check_listen("0.0.0.0:9100").is_ok());
        assert!(check_listen("[::]:9100").is_ok());
        assert_eq!(
            check_listen("9100"),
            Err(AddressError::NotHostPort("9100".into()))
        );
        assert!(matches!(
            check_listen(":0"),
            Err(AddressError::ListenPort { .. })
        ));
        assert!(matches!(
            check_endpoint("10.0.0.1:99999"),
            Err(AddressError::EndpointPort { .. })
        ));
        assert_eq!(
            check_endpoint("node_1:6443").unwrap_err().to_string(),
            "`node_1:6443` is not an endpoint: `node_1` is neither an address nor a host name"
        );
    }

    #[test]
    fn advertise_addresses_and_interface_names() {
        for ok in [
            "192.0.2.11",
            "2001:db8::11",
            "eno1",
            "bond0.100",
            "br-mgmt",
            "lab0",
        ] {
            assert_eq!(check_advertise_address(ok), Ok(()), "{ok}");
        }
        let err = |t: &str| check_advertise_address(t).unwrap_err().to_string();
        assert_eq!(
            err("192.0.2.11/24"),
            "`192.0.2.11/24` has a prefix: write the address alone (`192.0.2.11`)"
        );
        assert_eq!(
            err("192.0.2.300"),
            "`192.0.2.300` is not an IPv4 or IPv6 address"
        );
        assert_eq!(
            err("2001:db8::zz"),
            "`2001:db8::zz` is not an IPv4 or IPv6 address"
        );
        assert!(err("0.0.0.0").contains("cannot be advertised"));
        assert!(err("127.0.0.1").contains("cannot be advertised"));
        assert!(err("::1").contains("cannot be advertised"));
        assert_eq!(
            err("a-very-long-nic0"),
            "`a-very-long-nic0` is neither an IP address nor an interface name (`a-very-long-nic0` is 16 characters: an interface name is 1 to 15 characters without `/`, `:` or spaces)"
        );
        assert!(err("eth 0").contains("neither an IP address nor an interface name"));
        assert!(err("lab/0").contains("neither"));
        assert!(err("").starts_with("empty"));
        assert_eq!(
            check_advertise_address("127.0.0.1"),
            Err(AddressError::NotAdvertisable([127, 0, 0, 1].into()))
        );
        assert_eq!(interface_name_problem("a".repeat(15).as_str()), None);
        assert!(interface_name_problem("x/y").is_some());
    }
}
