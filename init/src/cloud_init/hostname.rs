//! The node's name: hostname and FQDN with cloud-init's precedence (`fqdn`, then `hostname` with
//! `prefer_fqdn_over_hostname`, then meta-data `local-hostname`, which the config crate has already
//! merged into `hostname`, then `plinth-<first ethernet MAC>`), and the /etc/hostname and /etc/hosts
//! that follow from it. [`plan`] decides; [`apply`] writes under a root directory and sets the
//! kernel's hostname.

use std::io;
use std::path::Path;

use plinth_config::MachineConfig;
use plinth_config::cloud_init::ManageEtcHosts;

/// What the node calls itself, and the /etc/hosts to write (`None`: leave it alone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The kernel hostname and /etc/hostname.
    pub hostname: String,
    /// The fully qualified name, when one is known.
    pub fqdn: Option<String>,
    /// The text of /etc/hosts.
    pub hosts: Option<String>,
}

/// The name used when the config gives none: `plinth-` and the MAC's hex digits, or `plinth`.
pub fn default_name(mac: Option<&str>) -> String {
    match mac {
        Some(mac) => {
            let hex: String = mac
                .chars()
                .filter(char::is_ascii_hexdigit)
                .map(|c| c.to_ascii_lowercase())
                .collect();
            if hex.is_empty() {
                "plinth".into()
            } else {
                format!("plinth-{hex}")
            }
        }
        None => "plinth".into(),
    }
}

/// Decides hostname, FQDN and /etc/hosts from the config; `mac` is the first ethernet's address,
/// `existing_hosts` the current /etc/hosts (kept apart from its loopback lines in `localhost` mode).
pub fn plan(config: &MachineConfig, mac: Option<&str>, existing_hosts: &str) -> Identity {
    let prefer_fqdn = config.prefer_fqdn_over_hostname.unwrap_or(false);
    // cloud-init: `fqdn` wins; a dotted `hostname` is an FQDN too.
    let fqdn = config.fqdn.clone().or_else(|| {
        config
            .hostname
            .as_ref()
            .filter(|h| h.contains('.'))
            .cloned()
    });
    let short = match (&config.hostname, &fqdn) {
        (Some(h), _) if !h.contains('.') => h.clone(),
        (_, Some(f)) => first_label(f).to_owned(),
        (Some(h), None) => h.clone(),
        (None, None) => default_name(mac),
    };
    let hostname = match &fqdn {
        Some(f) if prefer_fqdn => f.clone(),
        _ => short.clone(),
    };
    let hosts = hosts_text(
        config.manage_etc_hosts,
        fqdn.as_deref(),
        &short,
        &hostname,
        existing_hosts,
    );
    Identity {
        hostname,
        fqdn,
        hosts,
    }
}

fn first_label(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

/// The first line of the /etc/hosts Plinth writes.
const HOSTS_HEADER: &str = "# Written by Plinth from the machine config (manage_etc_hosts).";

/// /etc/hosts, unless `manage_etc_hosts: false`. The name line is `127.0.0.1 <fqdn> <short>` in
/// both other modes, because Genestack requires the FQDN on 127.0.0.1 (cloud-init's `localhost`
/// mode would use 127.0.1.1). `true` (and the default) writes the whole file; `localhost` keeps the
/// existing file's other lines and replaces only its IPv4 loopback lines.
fn hosts_text(
    manage: Option<ManageEtcHosts>,
    fqdn: Option<&str>,
    short: &str,
    hostname: &str,
    existing: &str,
) -> Option<String> {
    let mut names: Vec<&str> = Vec::new();
    for name in [fqdn.unwrap_or(hostname), short, hostname] {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let head = format!(
        "{HOSTS_HEADER}\n127.0.0.1 localhost\n127.0.0.1 {}\n",
        names.join(" ")
    );
    match manage {
        Some(ManageEtcHosts::False) => None,
        Some(ManageEtcHosts::Localhost) => {
            let kept: String = existing
                .lines()
                .filter(|l| {
                    let first = l.split_whitespace().next().unwrap_or("");
                    l.trim() != HOSTS_HEADER && first != "127.0.0.1" && first != "127.0.1.1"
                })
                .map(|l| format!("{l}\n"))
                .collect();
            Some(head + &kept)
        }
        Some(ManageEtcHosts::True) | None => Some(
            head + "::1 localhost ip6-localhost ip6-loopback\nff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n",
        ),
    }
}

/// The MAC of the first ethernet (by interface name) that has a device behind it and a MAC, from
/// `sys_class_net` (normally /sys/class/net), as `services::facts` lists them.
pub fn first_ethernet_mac(sys_class_net: &Path) -> Option<String> {
    crate::services::facts::ethernets(sys_class_net)
        .into_iter()
        .map(|e| e.mac)
        .find(|mac| !mac.is_empty() && mac != "00:00:00:00:00:00")
}

/// Writes `<root>/etc/hostname` and, when planned, `<root>/etc/hosts`; with `kernel` also sets the
/// kernel's hostname (sethostname(2)).
pub fn apply(root: &Path, identity: &Identity, kernel: bool) -> io::Result<()> {
    let etc = root.join("etc");
    std::fs::create_dir_all(&etc)?;
    super::fsutil::replace(
        &etc.join("hostname"),
        format!("{}\n", identity.hostname).as_bytes(),
        0o644,
    )?;
    if let Some(hosts) = &identity.hosts {
        super::fsutil::replace(&etc.join("hosts"), hosts.as_bytes(), 0o644)?;
    }
    if kernel {
        nix::unistd::sethostname(&identity.hostname).map_err(io::Error::from)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_config::config;

    #[test]
    fn fqdn_and_hostname_give_the_genestack_hosts_line() {
        let id = plan(
            &config("hostname: node1\nfqdn: node1.cluster.local\n"),
            None,
            "",
        );
        assert_eq!(id.hostname, "node1");
        assert_eq!(id.fqdn.as_deref(), Some("node1.cluster.local"));
        let hosts = id.hosts.unwrap();
        assert!(hosts.contains("127.0.0.1 localhost\n"), "{hosts}");
        assert!(
            hosts.contains("127.0.0.1 node1.cluster.local node1\n"),
            "{hosts}"
        );
    }

    #[test]
    fn prefer_fqdn_makes_the_fqdn_the_hostname() {
        let id = plan(
            &config("hostname: n1\nfqdn: n1.example.com\nprefer_fqdn_over_hostname: true\n"),
            None,
            "",
        );
        assert_eq!(id.hostname, "n1.example.com");
        assert!(id.hosts.unwrap().contains("127.0.0.1 n1.example.com n1\n"));
    }

    #[test]
    fn fqdn_alone_gives_its_first_label_and_a_dotted_hostname_is_an_fqdn() {
        let id = plan(&config("fqdn: a.b.c\n"), None, "");
        assert_eq!(
            (id.hostname.as_str(), id.fqdn.as_deref()),
            ("a", Some("a.b.c"))
        );
        let id = plan(&config("hostname: x.y.z\n"), None, "");
        assert_eq!(
            (id.hostname.as_str(), id.fqdn.as_deref()),
            ("x", Some("x.y.z"))
        );
    }

    #[test]
    fn without_names_the_first_mac_names_the_node() {
        let id = plan(&MachineConfig::default(), Some("52:54:00:12:34:AB"), "");
        assert_eq!(id.hostname, "plinth-5254001234ab");
        assert!(
            id.hosts
                .unwrap()
                .contains("127.0.0.1 plinth-5254001234ab\n")
        );
        assert_eq!(default_name(None), "plinth");
    }

    #[test]
    fn manage_etc_hosts_false_leaves_hosts_and_localhost_keeps_the_other_lines() {
        let id = plan(&config("hostname: h\nmanage_etc_hosts: false\n"), None, "");
        assert_eq!(id.hosts, None, "");
        let existing = "127.0.0.1 localhost\n127.0.1.1 debian\n10.0.0.5 registry\n";
        let c = config("hostname: h\nfqdn: h.d\nmanage_etc_hosts: localhost\n");
        let hosts = plan(&c, None, existing).hosts.unwrap();
        assert_eq!(
            hosts,
            format!("{HOSTS_HEADER}\n127.0.0.1 localhost\n127.0.0.1 h.d h\n10.0.0.5 registry\n")
        );
        assert_eq!(plan(&c, None, &hosts).hosts.unwrap(), hosts, "stable");
    }

    #[test]
    fn meta_data_hostname_is_used_when_the_config_has_none() {
        let mut c = MachineConfig::default();
        plinth_config::sources::merge::apply_meta_data(
            &mut c,
            &plinth_config::sources::nocloud::MetaData {
                instance_id: None,
                local_hostname: Some("from-meta".into()),
            },
        );
        assert_eq!(
            plan(&c, Some("52:54:00:00:00:01"), "").hostname,
            "from-meta"
        );
    }

    #[test]
    fn first_mac_skips_virtual_links_and_sorts_by_name() {
        let dir = std::env::temp_dir().join(format!("plinth-mac-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let link = |name: &str, ty: &str, mac: &str, device: bool| {
            let d = dir.join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("type"), format!("{ty}\n")).unwrap();
            std::fs::write(d.join("address"), format!("{mac}\n")).unwrap();
            if device {
                std::fs::create_dir_all(d.join("device")).unwrap();
            }
        };
        link("lo", "772", "00:00:00:00:00:00", false);
        link("br0", "1", "aa:aa:aa:aa:aa:aa", false);
        link("eth1", "1", "52:54:00:00:00:02", true);
        link("eth0", "1", "52:54:00:00:00:01", true);
        assert_eq!(
            first_ethernet_mac(&dir).as_deref(),
            Some("52:54:00:00:00:01")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn apply_writes_hostname_and_hosts_under_the_root() {
        let dir = std::env::temp_dir().join(format!("plinth-hn-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let id = plan(&config("hostname: n\nfqdn: n.d\n"), None, "");
        apply(&dir, &id, false).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("etc/hostname")).unwrap(),
            "n\n"
        );
        assert!(
            std::fs::read_to_string(dir.join("etc/hosts"))
                .unwrap()
                .contains("127.0.0.1 n.d n\n")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
