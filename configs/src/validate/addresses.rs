//! IP addresses and CIDR prefixes as netplan and the cluster settings write them.

use std::net::IpAddr;

/// Parses `ADDR/PREFIX`; returns why it is not one.
pub fn parse_cidr(text: &str) -> Result<(IpAddr, u8), String> {
    let Some((addr, prefix)) = text.split_once('/') else {
        return Err(format!(
            "`{text}` is not in CIDR form: expected ADDRESS/PREFIX such as 192.0.2.10/24"
        ));
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("`{addr}` in `{text}` is not an IPv4 or IPv6 address"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    match prefix.parse::<u8>() {
        Ok(p) if p <= max => Ok((addr, p)),
        _ => Err(format!(
            "prefix `/{prefix}` in `{text}` is not a number from 0 to {max}"
        )),
    }
}

/// Parses a plain address; returns why it is not one.
pub fn parse_addr(text: &str) -> Result<IpAddr, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not an IPv4 or IPv6 address"))
}

/// A route destination: `default`, an address, or a CIDR.
pub fn check_destination(text: &str) -> Result<(), String> {
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
pub fn check_listen(text: &str) -> Result<(), String> {
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!(
            "`{text}` is not HOST:PORT (such as :9100 or 0.0.0.0:9100)"
        ));
    };
    if port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(format!(
            "port `{port}` in `{text}` is not a number from 1 to 65535"
        ));
    }
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if !host.is_empty()
        && host.parse::<IpAddr>().is_err()
        && super::hostname::hostname_problem(host).is_some()
    {
        return Err(format!(
            "host `{host}` in `{text}` is neither an address nor a host name"
        ));
    }
    Ok(())
}

/// A cluster endpoint: `https://HOST[:PORT]`, `HOST:PORT` or `HOST`.
pub fn check_endpoint(text: &str) -> Result<(), String> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .unwrap_or(text);
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') {
        return Err(format!(
            "`{text}` is not an endpoint: expected https://HOST:PORT, HOST:PORT or HOST"
        ));
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
        return Err(format!(
            "port `{port}` in endpoint `{text}` is not a number from 1 to 65535"
        ));
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.parse::<IpAddr>().is_ok() || super::hostname::hostname_problem(bare).is_none() {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not an endpoint: `{bare}` is neither an address nor a host name"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_and_addresses() {
        assert!(parse_cidr("192.0.2.11/24").is_ok());
        assert!(parse_cidr("2001:db8::1/64").is_ok());
        assert!(parse_cidr("192.0.2.11").unwrap_err().contains("CIDR"));
        assert!(
            parse_cidr("192.0.2.300/24")
                .unwrap_err()
                .contains("not an IPv4")
        );
        assert!(parse_cidr("192.0.2.1/33").unwrap_err().contains("0 to 32"));
        assert!(check_destination("default").is_ok());
        assert!(check_destination("::/0").is_ok());
        assert!(check_destination("10.0.0.0/8").is_ok());
        assert!(check_destination("nowhere").is_err());
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
        assert!(check_listen("9100").is_err());
        assert!(check_listen(":0").is_err());
    }
}
