//! The dhcpcd.conf the `dhcp` service runs dhcpcd with when the machine config has a network:
//! from the text of the network agent's ready file (one `<dhcp4|dhcp6|dhcp4+6> <interface>[
//! metric=<N>][ nodns]` line per DHCP client), the image's defaults, an `allowinterfaces` line and
//! one `interface` block per client. Pure; the agents' real-dhcpcd test
//! (`agents/tests/dhcp_ntp_hook.rs`) runs dhcpcd with what it generates.
//!
//! Per client: `dhcp4` → `ipv4only`, `dhcp6` → `ipv6only`, `dhcp4+6` → both families;
//! `metric=N` → `metric N` (the metric of every route of its leases and router advertisements,
//! netplan's `route-metric`); `nodns` → `nohook resolv.conf` (netplan's `use-dns: false`: the
//! lease's name servers and search domains stay out of resolv.conf; dhcpcd-run-hooks skips
//! `20-resolv.conf` for that interface's events only). No client at all → `denyinterfaces *`,
//! so dhcpcd runs on no interface.

use std::fmt::Write as _;

/// The settings every interface shares: those of Debian's sample `/etc/dhcpcd.conf`, which the
/// image ships and dhcpcd reads when there is no network config, so a netplan config changes only
/// what it says. `option ntp_servers` feeds the `60-plinth-chrony` hook; `persistent` keeps the
/// addresses while the supervisor restarts dhcpcd; `duid` keeps the client identity (and so the
/// leases) that plain dhcpcd had. One difference: `noarp`, as the service's plain `dhcpcd -B -A`
/// without a network config and the URL source's DHCP have it. The ARP probe of an offered address
/// (RFC 5227) costs about 5 s per lease, every boot, on a network whose DHCP server owns its
/// addresses; it also turns off IPv4 link-local addresses, which a node has no use for. And
/// `nodelay`, as the plain service's `--nodelay`: no random wait (up to about 2 s measured under
/// TCG) before the first DISCOVER, which RFC 2131 asks of clients so that a building's worth of
/// them coming back from a power cut do not all ask at once — a concern for a DHCP server of
/// desktops, not for the rack of nodes a Plinth boot waits on.
pub const DEFAULTS: &str = "\
hostname
duid
noarp
nodelay
persistent
vendorclassid
option domain_name_servers, domain_name, domain_search
option classless_static_routes
option interface_mtu
option host_name
option ntp_servers
require dhcp_server_identifier
slaac private
";

/// Which address families a client configures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Families {
    /// DHCPv4 only (`dhcp4`).
    V4,
    /// IPv6 only: router advertisements and DHCPv6 (`dhcp6`).
    V6,
    /// Both (`dhcp4+6`).
    Both,
}

/// One line of the ready file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    /// The interface's final name.
    pub interface: String,
    /// Its families.
    pub families: Families,
    /// The metric of its routes, when the config sets one.
    pub metric: Option<u32>,
    /// Whether the lease's DNS settings may go to resolv.conf.
    pub dns: bool,
}

impl Client {
    /// `eno1 (dhcp4, metric 100, no DNS)`, for the service's log.
    pub fn summary(&self) -> String {
        let mut text = format!("{} ({}", self.interface, self.families.as_str());
        if let Some(metric) = self.metric {
            let _ = write!(text, ", metric {metric}");
        }
        if !self.dns {
            text.push_str(", no DNS");
        }
        text.push(')');
        text
    }
}

impl Families {
    /// The ready file's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Families::V4 => "dhcp4",
            Families::V6 => "dhcp6",
            Families::Both => "dhcp4+6",
        }
    }
}

/// Characters an interface name may not have here: dhcpcd.conf would read them as a list
/// separator, a pattern, a comment or a quote.
const NOT_IN_NAMES: &[char] = &[',', '*', '?', '[', ']', '#', '"', '\'', '\\'];

/// The clients of a ready file's text, in order; an error names the first line that is not one
/// the network agent writes.
pub fn parse(ready: &str) -> Result<Vec<Client>, String> {
    let mut clients: Vec<Client> = Vec::new();
    for (n, line) in ready.lines().enumerate() {
        let mut words = line.split_whitespace();
        let Some(families) = words.next() else {
            continue;
        };
        let bad = |why: String| format!("line {}, `{line}`: {why}", n + 1);
        let families = match families {
            "dhcp4" => Families::V4,
            "dhcp6" => Families::V6,
            "dhcp4+6" => Families::Both,
            other => return Err(bad(format!("unknown families `{other}`"))),
        };
        let interface = words.next().unwrap_or_default();
        if interface.is_empty() || interface.len() > 15 || interface.contains(NOT_IN_NAMES) {
            return Err(bad(format!("`{interface}` is not an interface name")));
        }
        if clients.iter().any(|c| c.interface == interface) {
            return Err(bad(format!("{interface} is listed twice")));
        }
        let mut client = Client {
            interface: interface.to_string(),
            families,
            metric: None,
            dns: true,
        };
        for word in words {
            match word.split_once('=') {
                Some(("metric", value)) => {
                    let metric = value
                        .parse()
                        .map_err(|_| bad(format!("`{value}` is not a route metric")))?;
                    client.metric = Some(metric);
                }
                None if word == "nodns" => client.dns = false,
                _ => return Err(bad(format!("unknown option `{word}`"))),
            }
        }
        clients.push(client);
    }
    Ok(clients)
}

/// The dhcpcd.conf for `clients`; `source` names the ready file in its header.
pub fn render(clients: &[Client], source: &str) -> String {
    let mut text = format!(
        "# Written by plinth-init from {source} (the network agent's DHCP clients) each time \
         the dhcp service starts.\n{DEFAULTS}\n"
    );
    if clients.is_empty() {
        text.push_str("denyinterfaces *\n");
        return text;
    }
    let names: Vec<&str> = clients.iter().map(|c| c.interface.as_str()).collect();
    let _ = writeln!(text, "allowinterfaces {}", names.join(","));
    for client in clients {
        let _ = writeln!(text, "\ninterface {}", client.interface);
        match client.families {
            Families::V4 => text.push_str("ipv4only\n"),
            Families::V6 => text.push_str("ipv6only\n"),
            Families::Both => {}
        }
        if let Some(metric) = client.metric {
            let _ = writeln!(text, "metric {metric}");
        }
        if !client.dns {
            text.push_str("nohook resolv.conf\n");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(ready: &str) -> String {
        let clients = parse(ready).unwrap_or_else(|e| panic!("{e}"));
        render(&clients, "/run/plinth/net.dhcp")
    }

    /// The part after the shared defaults.
    fn own(ready: &str) -> String {
        let text = conf(ready);
        let (head, tail) = text
            .split_once(&format!("{DEFAULTS}\n"))
            .unwrap_or_else(|| panic!("no defaults in\n{text}"));
        assert_eq!(
            head,
            "# Written by plinth-init from /run/plinth/net.dhcp (the network agent's DHCP \
             clients) each time the dhcp service starts.\n"
        );
        tail.to_string()
    }

    #[test]
    fn each_family_maps_to_its_dhcpcd_option() {
        assert_eq!(
            own("dhcp4 eno1\ndhcp6 br0\ndhcp4+6 bond0.42\n"),
            "allowinterfaces eno1,br0,bond0.42\n\
             \ninterface eno1\nipv4only\n\
             \ninterface br0\nipv6only\n\
             \ninterface bond0.42\n"
        );
    }

    #[test]
    fn metric_and_nodns_stay_with_their_interface() {
        assert_eq!(
            own("dhcp4 eno1 metric=100\ndhcp4+6 lan0 nodns\ndhcp6 eno2 metric=0 nodns\n"),
            "allowinterfaces eno1,lan0,eno2\n\
             \ninterface eno1\nipv4only\nmetric 100\n\
             \ninterface lan0\nnohook resolv.conf\n\
             \ninterface eno2\nipv6only\nmetric 0\nnohook resolv.conf\n"
        );
    }

    #[test]
    fn no_client_means_no_interface() {
        assert_eq!(own(""), "denyinterfaces *\n");
        assert_eq!(own("\n  \n"), "denyinterfaces *\n");
    }

    #[test]
    fn the_defaults_ask_for_what_the_hooks_use() {
        let text = conf("dhcp4 eno1\n");
        for line in [
            "option ntp_servers",
            "option domain_name_servers, domain_name, domain_search",
            "persistent",
            "duid",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        assert!(
            text.find("allowinterfaces") > text.find("slaac private"),
            "global settings must come before the first interface block:\n{text}"
        );
    }

    #[test]
    fn clients_parse_with_their_options_and_summaries() {
        let clients = parse("dhcp4 eno1 metric=100 nodns\ndhcp4+6 br0\n").unwrap();
        assert_eq!(
            clients[0],
            Client {
                interface: "eno1".into(),
                families: Families::V4,
                metric: Some(100),
                dns: false,
            }
        );
        assert_eq!(clients[0].summary(), "eno1 (dhcp4, metric 100, no DNS)");
        assert_eq!(clients[1].summary(), "br0 (dhcp4+6)");
    }

    #[test]
    fn lines_the_agent_does_not_write_are_refused_by_line() {
        let err = |ready: &str| parse(ready).unwrap_err();
        assert_eq!(
            err("dhcp4 eno1\ndhcp5 eno2\n"),
            "line 2, `dhcp5 eno2`: unknown families `dhcp5`"
        );
        assert!(err("dhcp4\n").contains("`` is not an interface name"));
        assert!(err("dhcp4 eno*\n").contains("`eno*` is not an interface name"));
        assert!(err("dhcp4 averyveryverylongname\n").contains("not an interface name"));
        assert!(err("dhcp4 eno1\ndhcp6 eno1\n").contains("eno1 is listed twice"));
        assert!(err("dhcp4 eno1 metric=-1\n").contains("`-1` is not a route metric"));
        assert!(err("dhcp4 eno1 metric=\n").contains("`` is not a route metric"));
        assert!(err("dhcp4 eno1 fast\n").contains("unknown option `fast`"));
    }
}
