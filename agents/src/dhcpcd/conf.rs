//! The dhcpcd.conf the `dhcp` service runs dhcpcd with when the machine config has a network:
//! from the DHCP clients of the network agent's ready file (`plinth_config::net_ready`), the
//! image's defaults, an `allowinterfaces` line and one `interface` block per client. Pure; the
//! agents' real-dhcpcd test (`agents/tests/dhcp_ntp_hook.rs`) runs dhcpcd with what it generates.
//!
//! Per client: `dhcp4` → `ipv4only`, `dhcp6` → `ipv6only`, `dhcp4+6` → both families;
//! a route metric → `metric N` (the metric of every route of its leases and router advertisements,
//! netplan's `route-metric`); no DNS → `nohook resolv.conf` (netplan's `use-dns: false`: the
//! lease's name servers and search domains stay out of resolv.conf; dhcpcd-run-hooks skips
//! `20-resolv.conf` for that interface's events only). No client at all → `denyinterfaces *`,
//! so dhcpcd runs on no interface.

use std::fmt::Write as _;

use plinth_config::net_ready::{DhcpClient, Families};

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

/// The dhcpcd.conf for `clients`; `source` names the ready file in its header.
pub fn render(clients: &[DhcpClient], source: &str) -> String {
    let mut text = format!(
        "# Written by plinth-agent dhcpcd from {source} (the network agent's DHCP clients) each time \
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
        if let Some(metric) = client.route_metric {
            let _ = writeln!(text, "metric {metric}");
        }
        if !client.use_dns {
            text.push_str("nohook resolv.conf\n");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The clients of `lines`, each as the agent's `net: dhcp` line spells one
    /// (`dhcp4 eno1 metric=100 nodns`).
    fn clients(lines: &str) -> Vec<DhcpClient> {
        let client = |line: &str| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let families = match words[0] {
                "dhcp4" => Families::V4,
                "dhcp6" => Families::V6,
                _ => Families::Both,
            };
            let metric = words.iter().find_map(|w| w.strip_prefix("metric="));
            let client = DhcpClient {
                interface: words[1].into(),
                families,
                route_metric: metric.map(|m| m.parse().unwrap()),
                use_dns: !words.contains(&"nodns"),
            };
            assert_eq!(client.line(), line);
            client
        };
        lines
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(client)
            .collect()
    }

    fn conf(ready: &str) -> String {
        render(&clients(ready), "/run/plinth/net.dhcp")
    }

    /// The part after the shared defaults.
    fn own(ready: &str) -> String {
        let text = conf(ready);
        let (head, tail) = text
            .split_once(&format!("{DEFAULTS}\n"))
            .unwrap_or_else(|| panic!("no defaults in\n{text}"));
        assert_eq!(
            head,
            "# Written by plinth-agent dhcpcd from /run/plinth/net.dhcp (the network agent's DHCP \
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
}
