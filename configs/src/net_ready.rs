//! The network agent's ready file: what `plinth-agent net` tells PID 1 after a pass, in one typed,
//! versioned JSON document that both sides read and write through this module only.
//!
//! ```json
//! {"version":1,
//!  "dhcp":[{"interface":"eno1","families":"dhcp4","route_metric":100,"use_dns":false}],
//!  "config_warnings":[],"warnings":["bonds.b: ..."],"unmatched":["ethernets.lan: no link matches ..."]}
//! ```
//!
//! - `dhcp`: the DHCP clients wanted, in config order, by the interfaces' final names; the `dhcp`
//!   service's dhcpcd.conf is made from them (an `interface` block each).
//! - `config_warnings`: what loading the config warned about; `warnings`: what the pass could not
//!   plan; `unmatched`: the warnings of `ethernets` entries whose `match` found no link — apart,
//!   because before udev has named the NICs the `network` phase's dry run expects them.
//!
//! The agent writes it atomically after every successful pass (`--ready-file`; in a dry run once,
//! with what a pass would want). A document of another [`VERSION`], or one the agent would never
//! write, is refused with the reason. Types and checks only: no file is read or written here.

use serde::{Deserialize, Serialize};

/// The version this build writes and reads.
pub const VERSION: u32 = 1;

/// The whole document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetReady {
    /// [`VERSION`].
    pub version: u32,
    /// The DHCP clients wanted.
    pub dhcp: Vec<DhcpClient>,
    /// Warnings about the config itself.
    #[serde(default)]
    pub config_warnings: Vec<String>,
    /// What the pass could not plan, and why (not those in `unmatched`).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The warnings of `ethernets` entries whose `match` found no link.
    #[serde(default)]
    pub unmatched: Vec<String>,
}

/// Which address families a client configures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Families {
    /// DHCPv4 only (`dhcp4`).
    #[serde(rename = "dhcp4")]
    V4,
    /// IPv6 only: router advertisements and DHCPv6 (`dhcp6`).
    #[serde(rename = "dhcp6")]
    V6,
    /// Both (`dhcp4+6`).
    #[serde(rename = "dhcp4+6")]
    Both,
}

impl Families {
    /// The families of a device asking for `v4` and `v6` (DHCPv6 when it asks for neither).
    pub fn of(v4: bool, v6: bool) -> Families {
        match (v4, v6) {
            (true, true) => Families::Both,
            (true, false) => Families::V4,
            _ => Families::V6,
        }
    }

    /// `dhcp4`, `dhcp6` or `dhcp4+6`: the document's and the logs' spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Families::V4 => "dhcp4",
            Families::V6 => "dhcp6",
            Families::Both => "dhcp4+6",
        }
    }
}

/// One DHCP client to run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DhcpClient {
    /// The interface (its final name, after `set-name`).
    pub interface: String,
    /// Its families.
    pub families: Families,
    /// Metric of the routes from the lease (`dhcp4-overrides`, else `dhcp6-overrides`,
    /// `route-metric`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_metric: Option<u32>,
    /// Take DNS servers from the lease (false when an override says `use-dns: false`).
    pub use_dns: bool,
}

impl DhcpClient {
    /// `<dhcp4|dhcp6|dhcp4+6> <interface>`, then ` metric=<N>` and ` nodns` when the config asks
    /// for them: the agent's `net: dhcp ...` line.
    pub fn line(&self) -> String {
        let mut line = format!("{} {}", self.families.as_str(), self.interface);
        if let Some(m) = self.route_metric {
            line.push_str(&format!(" metric={m}"));
        }
        if !self.use_dns {
            line.push_str(" nodns");
        }
        line
    }

    /// `eno1 (dhcp4, metric 100, no DNS)`, for the `dhcp` service's log.
    pub fn summary(&self) -> String {
        let mut text = format!("{} ({}", self.interface, self.families.as_str());
        if let Some(metric) = self.route_metric {
            text.push_str(&format!(", metric {metric}"));
        }
        if !self.use_dns {
            text.push_str(", no DNS");
        }
        text.push(')');
        text
    }
}

/// Why a ready file cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadyError {
    /// Not JSON, or not this document.
    #[error("not the network agent's ready document: {0}")]
    Syntax(String),
    /// Written by another version of the agent.
    #[error("version {found}, this build reads version {VERSION}")]
    Version {
        /// The document's version.
        found: u32,
    },
    /// A client the agent would never list.
    #[error("DHCP client {index}: {why}")]
    Client {
        /// Its position, from 1.
        index: usize,
        /// What is wrong with it.
        why: String,
    },
}

/// Characters an interface name may not have here: dhcpcd.conf would read them as a list
/// separator, a pattern, a comment or a quote.
const NOT_IN_NAMES: &[char] = &[
    ',', '*', '?', '[', ']', '#', '"', '\'', '\\', ' ', '\t', '\n',
];

impl NetReady {
    /// A document of this version.
    pub fn new(dhcp: Vec<DhcpClient>) -> NetReady {
        NetReady {
            version: VERSION,
            dhcp,
            ..NetReady::default()
        }
    }

    /// The document's text: one JSON line.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The document in `text`, checked: this version, and every client one the agent writes (an
    /// interface name dhcpcd.conf can hold, listed once).
    pub fn parse(text: &str) -> Result<NetReady, ReadyError> {
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let Version { version } =
            serde_json::from_str(text).map_err(|e| ReadyError::Syntax(e.to_string()))?;
        if version != VERSION {
            return Err(ReadyError::Version { found: version });
        }
        let ready: NetReady =
            serde_json::from_str(text).map_err(|e| ReadyError::Syntax(e.to_string()))?;
        for (n, client) in ready.dhcp.iter().enumerate() {
            let bad = |why: String| ReadyError::Client { index: n + 1, why };
            let name = client.interface.as_str();
            if name.is_empty() || name.len() > 15 || name.contains(NOT_IN_NAMES) {
                return Err(bad(format!("`{name}` is not an interface name")));
            }
            if ready.dhcp[..n].iter().any(|c| c.interface == name) {
                return Err(bad(format!("{name} is listed twice")));
            }
        }
        Ok(ready)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(interface: &str, families: Families) -> DhcpClient {
        DhcpClient {
            interface: interface.into(),
            families,
            route_metric: None,
            use_dns: true,
        }
    }

    #[test]
    fn a_document_reads_back_as_written() {
        let mut ready = NetReady::new(vec![
            DhcpClient {
                route_metric: Some(100),
                use_dns: false,
                ..client("eno1", Families::V4)
            },
            client("br0", Families::Both),
        ]);
        ready
            .unmatched
            .push("ethernets.lan: no link matches x".into());
        let text = ready.to_text();
        assert_eq!(
            text,
            "{\"version\":1,\"dhcp\":[{\"interface\":\"eno1\",\"families\":\"dhcp4\",\
             \"route_metric\":100,\"use_dns\":false},{\"interface\":\"br0\",\"families\":\
             \"dhcp4+6\",\"use_dns\":true}],\"config_warnings\":[],\"warnings\":[],\
             \"unmatched\":[\"ethernets.lan: no link matches x\"]}\n"
        );
        assert_eq!(NetReady::parse(&text), Ok(ready));
    }

    #[test]
    fn lines_and_summaries_say_the_options() {
        let c = DhcpClient {
            route_metric: Some(100),
            use_dns: false,
            ..client("eno1", Families::V4)
        };
        assert_eq!(c.line(), "dhcp4 eno1 metric=100 nodns");
        assert_eq!(c.summary(), "eno1 (dhcp4, metric 100, no DNS)");
        assert_eq!(client("br0", Families::Both).summary(), "br0 (dhcp4+6)");
        assert_eq!(Families::of(false, true), Families::V6);
    }

    #[test]
    fn documents_the_agent_does_not_write_are_refused_with_the_reason() {
        let err = |text: &str| NetReady::parse(text).unwrap_err().to_string();
        let one = |c: &str| format!("{{\"version\":1,\"dhcp\":[{c}]}}");
        assert_eq!(
            err("{\"version\":2,\"dhcp\":[]}"),
            "version 2, this build reads version 1"
        );
        assert!(err("dhcp4 eno1\n").starts_with("not the network agent's ready document"));
        assert!(
            err(&one(
                "{\"interface\":\"eno1\",\"families\":\"dhcp5\",\"use_dns\":true}"
            ))
            .contains("unknown variant `dhcp5`")
        );
        assert!(
            err(&one(
                "{\"interface\":\"eno1\",\"families\":\"dhcp4\",\"use_dns\":true,\"fast\":1}"
            ))
            .contains("unknown field `fast`")
        );
        assert!(
            err(&one(
                "{\"interface\":\"eno1\",\"families\":\"dhcp4\",\"route_metric\":-1,\"use_dns\":true}"
            ))
            .contains("invalid value")
        );
        for name in ["", "eno*", "averyveryverylongname", "a b"] {
            let c = format!("{{\"interface\":\"{name}\",\"families\":\"dhcp4\",\"use_dns\":true}}");
            assert_eq!(
                err(&one(&c)),
                format!("DHCP client 1: `{name}` is not an interface name")
            );
        }
        let c = "{\"interface\":\"eno1\",\"families\":\"dhcp4\",\"use_dns\":true}";
        assert_eq!(
            err(&one(&format!("{c},{c}"))),
            "DHCP client 2: eno1 is listed twice"
        );
    }
}
