//! `/etc/resolv.conf` from the config's static nameservers: every device's servers and search
//! domains, in config order, without duplicates. Pure; the file is written by [`super::run`].

use plinth_config::network::Network;

/// glibc reads at most this many `nameserver` lines (`MAXNS`).
pub const MAX_NAMESERVERS: usize = 3;

/// The resolv.conf text, or none when the config names no static nameserver or search domain
/// (DHCP clients then own the file).
pub fn resolv_conf(network: &Network) -> Option<String> {
    let all = network
        .ethernets
        .values()
        .filter_map(|d| d.nameservers.as_ref())
        .chain(
            network
                .bonds
                .values()
                .filter_map(|d| d.nameservers.as_ref()),
        )
        .chain(
            network
                .vlans
                .values()
                .filter_map(|d| d.nameservers.as_ref()),
        )
        .chain(
            network
                .bridges
                .values()
                .filter_map(|d| d.nameservers.as_ref()),
        );
    let mut servers: Vec<&str> = Vec::new();
    let mut search: Vec<&str> = Vec::new();
    for ns in all {
        for s in &ns.addresses {
            if !servers.contains(&s.as_str()) {
                servers.push(s);
            }
        }
        for d in &ns.search {
            if !search.contains(&d.as_str()) {
                search.push(d);
            }
        }
    }
    if servers.is_empty() && search.is_empty() {
        return None;
    }
    let mut text = String::from("# Written by plinth-agent net from the machine config.\n");
    if servers.len() > MAX_NAMESERVERS {
        text.push_str(&format!(
            "# {} nameservers configured; the resolver uses the first {MAX_NAMESERVERS}.\n",
            servers.len()
        ));
    }
    for s in servers {
        text.push_str(&format!("nameserver {s}\n"));
    }
    if !search.is_empty() {
        text.push_str(&format!("search {}\n", search.join(" ")));
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use plinth_config::network::{Ethernet, Nameservers, Vlan};

    use super::*;

    #[test]
    fn merges_servers_and_domains_in_order() {
        let mut net = Network::default();
        net.ethernets.insert(
            "eth0".into(),
            Ethernet {
                nameservers: Some(Nameservers {
                    addresses: vec!["10.0.0.1".into(), "1.1.1.1".into()],
                    search: vec!["example.com".into()],
                }),
                ..Ethernet::default()
            },
        );
        net.vlans.insert(
            "vlan10".into(),
            Vlan {
                id: 10,
                link: "eth0".into(),
                nameservers: Some(Nameservers {
                    addresses: vec!["1.1.1.1".into(), "2001:db8::53".into()],
                    search: vec!["lab.example.com".into(), "example.com".into()],
                }),
                ..Vlan::default()
            },
        );
        assert_eq!(
            resolv_conf(&net).unwrap(),
            "# Written by plinth-agent net from the machine config.\n\
             nameserver 10.0.0.1\nnameserver 1.1.1.1\nnameserver 2001:db8::53\n\
             search example.com lab.example.com\n"
        );
    }

    #[test]
    fn no_static_servers_no_file() {
        assert_eq!(resolv_conf(&Network::default()), None);
    }
}
