//! The report of `plinth-agent cluster status`: one state per check (ok, failing with a one-line
//! reason, or not applicable to this node), what was seen (the node's name and role, etcd's
//! members, the labels, annotations and taints Plinth owns), and its two renderings, a table for
//! people and JSON for scripts. Pure: the probes are in `checks`, the decisions in `verdict`.
//!
//! A report is always whole: a check that could not run says why in its own line instead of
//! ending the command, so a down cluster prints as much as an up one. Nothing in it is secret
//! (no token, no key, no certificate): it is what an operator pastes into a ticket.

use std::fmt::Write as _;

use serde::Serialize;

/// A check's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Ok,
    Failing,
    /// The check does not apply to this node (an agent runs no etcd, …).
    NotApplicable,
}

impl State {
    /// The table's word.
    pub fn word(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Failing => "FAILING",
            State::NotApplicable => "n/a",
        }
    }
}

/// One check: its name, state and the one line saying why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub state: State,
    pub detail: String,
}

impl Check {
    pub fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Self::new(name, State::Ok, detail)
    }

    pub fn failing(name: &'static str, detail: impl Into<String>) -> Self {
        Self::new(name, State::Failing, detail)
    }

    pub fn not_applicable(name: &'static str, detail: impl Into<String>) -> Self {
        Self::new(name, State::NotApplicable, detail)
    }

    fn new(name: &'static str, state: State, detail: impl Into<String>) -> Self {
        // One line whatever a server answered: the table keeps one row per check.
        let detail: String = detail.into();
        let detail = detail.split_whitespace().collect::<Vec<_>>().join(" ");
        Self {
            name,
            state,
            detail,
        }
    }
}

/// The node as `prep` recorded it (`node.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct NodeInfo {
    pub node_name: String,
    pub address: String,
    pub role: String,
}

/// One etcd member as the member list gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Member {
    /// The member ID in hex, as `etcdctl member list` prints it.
    pub id: String,
    /// Empty while a member added to the cluster has not started.
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub learner: bool,
}

/// Whether a label is a label or an annotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnedKind {
    Label,
    Annotation,
}

/// A label or annotation the labeller keeps, with what the Node has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Owned {
    pub kind: OwnedKind,
    pub key: String,
    pub wanted: String,
    /// `None`: the Node lacks it.
    pub actual: Option<String>,
}

impl Owned {
    pub fn held(&self) -> bool {
        self.actual.as_ref() == Some(&self.wanted)
    }
}

/// A taint of the Node, and whether the labeller removes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TaintRow {
    /// `KEY[=VALUE]:EFFECT`, as `kubectl taint` names it.
    pub taint: String,
    pub removed_by_plinth: bool,
}

/// Everything `cluster status` says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// `None` when `node.json` cannot be read (its check says why).
    pub node: Option<NodeInfo>,
    pub checks: Vec<Check>,
    pub etcd_members: Vec<Member>,
    pub labels: Vec<Owned>,
    pub taints: Vec<TaintRow>,
    /// The cluster CA's pin (`sha256:…`), what a joiner's `ca_cert_hash` says; `None` before
    /// the node has the CA. Public: it names a public key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_pin: Option<String>,
    /// No check failing.
    pub healthy: bool,
}

impl Report {
    /// The report of these checks and findings, `healthy` computed.
    pub fn new(
        node: Option<NodeInfo>,
        checks: Vec<Check>,
        etcd_members: Vec<Member>,
        labels: Vec<Owned>,
        taints: Vec<TaintRow>,
    ) -> Self {
        let healthy = checks.iter().all(|c| c.state != State::Failing);
        Self {
            node,
            checks,
            etcd_members,
            labels,
            taints,
            ca_pin: None,
            healthy,
        }
    }

    /// The report, saying the cluster CA's pin.
    pub fn with_ca_pin(self, pin: Option<String>) -> Self {
        Self {
            ca_pin: pin,
            ..self
        }
    }

    /// How many checks fail.
    pub fn failing(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.state == State::Failing)
            .count()
    }

    /// The report as one JSON object (pretty: people read it too).
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report is plain data") + "\n"
    }

    /// The report as tables: the node, the checks, then etcd's members, the owned labels and
    /// the taints when there are any, and a last line saying whether all is well.
    pub fn table(&self) -> String {
        let mut out = String::new();
        match &self.node {
            Some(n) => {
                let _ = writeln!(
                    out,
                    "node {}, role {}, address {}\n",
                    n.node_name, n.role, n.address
                );
            }
            None => out.push_str("node: unknown (see the `node` check)\n\n"),
        }
        if let Some(pin) = &self.ca_pin {
            let _ = writeln!(out, "cluster CA pin {pin} (a joiner's ca_cert_hash)\n");
        }
        let checks: Vec<[String; 3]> = self
            .checks
            .iter()
            .map(|c| {
                [
                    c.name.to_owned(),
                    c.state.word().to_owned(),
                    c.detail.clone(),
                ]
            })
            .collect();
        columns(&mut out, ["CHECK", "STATE", "DETAIL"], &checks);
        if !self.etcd_members.is_empty() {
            out.push('\n');
            let rows: Vec<[String; 4]> = self
                .etcd_members
                .iter()
                .map(|m| {
                    let name = match (m.name.is_empty(), m.learner) {
                        (true, _) => "(not started)".to_owned(),
                        (false, true) => format!("{} (learner)", m.name),
                        (false, false) => m.name.clone(),
                    };
                    [name, m.id.clone(), list(&m.peer_urls), list(&m.client_urls)]
                })
                .collect();
            columns(
                &mut out,
                ["ETCD MEMBER", "ID", "PEER URLS", "CLIENT URLS"],
                &rows,
            );
        }
        if !self.labels.is_empty() {
            out.push('\n');
            let rows: Vec<[String; 3]> = self
                .labels
                .iter()
                .map(|o| {
                    let kind = match o.kind {
                        OwnedKind::Label => "",
                        OwnedKind::Annotation => "annotation ",
                    };
                    let actual = match &o.actual {
                        _ if o.held() => "yes".to_owned(),
                        Some(other) => format!("no: {}", quoted(other)),
                        None => "no: missing".to_owned(),
                    };
                    [format!("{kind}{}", o.key), quoted(&o.wanted), actual]
                })
                .collect();
            columns(
                &mut out,
                ["OWNED BY PLINTH", "WANTED", "ON THE NODE"],
                &rows,
            );
        }
        if !self.taints.is_empty() {
            out.push('\n');
            let rows: Vec<[String; 2]> = self
                .taints
                .iter()
                .map(|t| {
                    let verdict = if t.removed_by_plinth {
                        "no: cluster-labels removes it"
                    } else {
                        "yes"
                    };
                    [t.taint.clone(), verdict.to_owned()]
                })
                .collect();
            columns(&mut out, ["TAINT", "KEPT"], &rows);
        }
        out.push('\n');
        let failing = self.failing();
        if failing == 0 {
            out.push_str("healthy\n");
        } else {
            let _ = writeln!(
                out,
                "not healthy: {failing} of {} checks failing",
                self.checks.len()
            );
        }
        out
    }
}

/// A label value as the table shows it: an empty value is `""`, not nothing.
fn quoted(value: &str) -> String {
    if value.is_empty() {
        "\"\"".to_owned()
    } else {
        value.to_owned()
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(",")
    }
}

/// Rows under a header, each column as wide as its widest cell (the last one unpadded).
fn columns<const N: usize>(out: &mut String, header: [&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut line = |cells: [&str; N]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == N {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<width$}  ", width = widths[i]);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header);
    for row in rows {
        line(std::array::from_fn(|i| row[i].as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report::new(
            Some(NodeInfo {
                node_name: "n1".into(),
                address: "10.0.0.5".into(),
                role: "init".into(),
            }),
            vec![
                Check::ok("etcd", "healthy"),
                Check::failing(
                    "node-ready",
                    "NotReady: no pod network\n  (cni: none): install a CNI",
                ),
                Check::not_applicable("taints", "nothing to remove"),
            ],
            vec![Member {
                id: "8e9e05c52164694d".into(),
                name: "n1".into(),
                peer_urls: vec!["https://10.0.0.5:2380".into()],
                client_urls: vec![
                    "https://127.0.0.1:2379".into(),
                    "https://10.0.0.5:2379".into(),
                ],
                learner: false,
            }],
            vec![
                Owned {
                    kind: OwnedKind::Label,
                    key: "node-role.kubernetes.io/control-plane".into(),
                    wanted: String::new(),
                    actual: Some(String::new()),
                },
                Owned {
                    kind: OwnedKind::Annotation,
                    key: "ovn.openstack.org/bridges".into(),
                    wanted: "br-ex".into(),
                    actual: None,
                },
            ],
            vec![TaintRow {
                taint: "node-role.kubernetes.io/control-plane:NoSchedule".into(),
                removed_by_plinth: true,
            }],
        )
    }

    #[test]
    fn the_table_has_one_row_per_check_and_every_section() {
        assert_eq!(
            report().table(),
            "\
node n1, role init, address 10.0.0.5

CHECK       STATE    DETAIL
etcd        ok       healthy
node-ready  FAILING  NotReady: no pod network (cni: none): install a CNI
taints      n/a      nothing to remove

ETCD MEMBER  ID                PEER URLS              CLIENT URLS
n1           8e9e05c52164694d  https://10.0.0.5:2380  https://127.0.0.1:2379,https://10.0.0.5:2379

OWNED BY PLINTH                        WANTED  ON THE NODE
node-role.kubernetes.io/control-plane  \"\"      yes
annotation ovn.openstack.org/bridges   br-ex   no: missing

TAINT                                             KEPT
node-role.kubernetes.io/control-plane:NoSchedule  no: cluster-labels removes it

not healthy: 1 of 3 checks failing
"
        );
    }

    #[test]
    fn a_report_without_findings_has_only_its_checks() {
        let report = Report::new(
            None,
            vec![
                Check::ok("etcd", "healthy"),
                Check::not_applicable("x", "y"),
            ],
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        assert!(report.healthy);
        assert_eq!(
            report.table(),
            "\
node: unknown (see the `node` check)

CHECK  STATE  DETAIL
etcd   ok     healthy
x      n/a    y

healthy
"
        );
    }

    #[test]
    fn the_ca_pin_is_said_under_the_node_and_in_json_only_when_known() {
        let pin = format!("sha256:{}", "ab".repeat(32));
        let report = Report::new(None, Vec::new(), Vec::new(), Vec::new(), Vec::new())
            .with_ca_pin(Some(pin.clone()));
        assert!(
            report.table().starts_with(&format!(
                "node: unknown (see the `node` check)\n\ncluster CA pin {pin} (a joiner's ca_cert_hash)\n\n"
            )),
            "{}",
            report.table()
        );
        let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
        assert_eq!(json["ca_pin"], pin.as_str());
        let without = Report::new(None, Vec::new(), Vec::new(), Vec::new(), Vec::new());
        assert!(!without.table().contains("pin"));
        assert!(!without.json().contains("ca_pin"));
    }

    #[test]
    fn not_applicable_is_not_failing() {
        let report = Report::new(
            None,
            vec![Check::not_applicable("etcd", "an agent runs no etcd")],
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        assert!(report.healthy);
        assert_eq!(report.failing(), 0);
        assert!(!self::report().healthy);
        assert_eq!(self::report().failing(), 1);
    }

    #[test]
    fn the_json_names_states_and_findings() {
        let value: serde_json::Value = serde_json::from_str(&report().json()).unwrap();
        assert_eq!(value["healthy"], false);
        assert_eq!(value["node"]["node_name"], "n1");
        assert_eq!(value["checks"][0]["state"], "ok");
        assert_eq!(value["checks"][1]["state"], "failing");
        assert_eq!(value["checks"][2]["state"], "not_applicable");
        assert_eq!(
            value["checks"][1]["detail"],
            "NotReady: no pod network (cni: none): install a CNI"
        );
        assert_eq!(value["etcd_members"][0]["id"], "8e9e05c52164694d");
        assert_eq!(value["labels"][1]["kind"], "annotation");
        assert_eq!(value["labels"][1]["actual"], serde_json::Value::Null);
        assert_eq!(value["taints"][0]["removed_by_plinth"], true);
    }
}
