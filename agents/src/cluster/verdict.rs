//! The decisions of `plinth-agent cluster status`: from what each probe of `checks` saw to a
//! [`Check`] (ok, failing with a one-line reason, not applicable) and the findings of the
//! report. Pure, so every state and every reason is tested without a cluster.
//!
//! A reason says what is wrong and, where Plinth knows, what to do or where to look next (a
//! `plinthctl status SERVICE`), because `plinthctl cluster` is what an operator runs first.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeCondition, Taint};
use plinth_config::MachineConfig;
use plinth_config::plinth::kubernetes::Cni;

use super::checks::ProbeError;
use super::join_state::{JoinState, JoinStateError};
use super::labels::{self, Wanted};
use super::report::{Check, Member, NodeInfo, Owned, OwnedKind, TaintRow};

/// The checks' names, in report order.
pub const CONFIG: &str = "config";
pub const NODE: &str = "node";
pub const JOIN: &str = "join";
pub const ETCD: &str = "etcd";
pub const ETCD_MEMBERS: &str = "etcd-members";
pub const APISERVER: &str = "apiserver";
pub const NODE_READY: &str = "node-ready";
pub const LABELS: &str = "labels";
pub const TAINTS: &str = "taints";

/// An HTTP answer: its status and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// What a probe saw: an answer, or why there was none (already naming what was asked).
pub type Seen = Result<Answer, ProbeError>;

/// What reading the Node gave.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeSeen {
    Found(Box<Node>),
    /// The apiserver answered that there is no such Node.
    Absent(String),
    /// The apiserver refused: its HTTP status and message.
    Refused(u16, String),
    /// No answer (the apiserver unreachable, a TLS error, …).
    Unreachable(String),
    /// Not looked at, and why (no node name, no admin.conf).
    NotChecked(String),
}

/// Which checks apply to this node, from its config (or, without one, what `prep` recorded;
/// without either, an `init` node's: the only role `prep` builds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope {
    /// The config has a `plinth.cluster`: without, nothing else applies.
    pub cluster: bool,
    pub runs_etcd: bool,
    pub control_plane: bool,
    pub cni: Cni,
}

impl Scope {
    pub fn of(config: Option<&MachineConfig>, node: Option<&NodeInfo>) -> Self {
        match config {
            Some(config) => {
                let cluster = &config.plinth.cluster;
                Self {
                    cluster: cluster.is_set(),
                    runs_etcd: cluster.is_set() && cluster.etcd_member(),
                    control_plane: cluster.is_set() && cluster.is_control_plane(),
                    cni: cluster.kubernetes.cni,
                }
            }
            None => {
                let agent = node.is_some_and(|n| n.role == "agent");
                Self {
                    cluster: true,
                    runs_etcd: !agent,
                    control_plane: !agent,
                    cni: Cni::default(),
                }
            }
        }
    }
}

/// The config check: read, with a `plinth.cluster`.
pub fn config(path: &str, read: &Result<MachineConfig, ProbeError>) -> Check {
    match read {
        Ok(config) if config.plinth.cluster.is_set() => {
            let cluster = &config.plinth.cluster;
            let cni = match cluster.kubernetes.cni {
                Cni::None => "none",
                Cni::Bridge => "bridge",
            };
            Check::ok(
                CONFIG,
                format!("{path}: role {}, cni {cni}", cluster.role.as_str()),
            )
        }
        Ok(_) => Check::failing(
            CONFIG,
            format!("{path} has no plinth.cluster: this node runs no cluster"),
        ),
        Err(why) => Check::failing(
            CONFIG,
            format!(
                "{why} (PID 1 writes it on a cluster node; without it the defaults are checked)"
            ),
        ),
    }
}

/// The join check of a `server` or `agent` (`joiner`): joined, or the step it retries and why
/// (from `join.json`).
pub fn join(joiner: bool, read: &Result<Option<JoinState>, JoinStateError>) -> Check {
    if !joiner {
        return Check::not_applicable(JOIN, "an init node starts the cluster");
    }
    match read {
        Ok(Some(state)) if state.joined() => Check::ok(JOIN, format!("joined {}", state.endpoint)),
        Ok(Some(state)) => Check::failing(
            JOIN,
            match &state.reason {
                Some(reason) => format!(
                    "{} of {}: {reason} ({} tries; retrying: `plinthctl status cluster-prep`)",
                    state.step, state.endpoint, state.tries
                ),
                None => format!("{} of {}: in progress", state.step, state.endpoint),
            },
        ),
        Ok(None) => Check::failing(
            JOIN,
            "cluster-prep has not started joining yet (`plinthctl status cluster-prep`)",
        ),
        Err(why) => Check::failing(JOIN, why.to_string()),
    }
}

/// The `node.json` check.
pub fn node_file(scope: Scope, read: &Result<NodeInfo, ProbeError>) -> Check {
    if !scope.cluster {
        return Check::not_applicable(NODE, "not a cluster node");
    }
    match read {
        Ok(n) => Check::ok(
            NODE,
            format!(
                "{} (role {}), advertising {}",
                n.node_name, n.role, n.address
            ),
        ),
        Err(why) => Check::failing(
            NODE,
            format!(
                "{why}: `plinth-agent cluster prep` has not run or failed (plinthctl status cluster-prep)"
            ),
        ),
    }
}

/// etcd's `/health` (`{"health":"true","reason":""}`).
pub fn etcd_health(scope: Scope, seen: &Seen) -> Check {
    if !scope.runs_etcd {
        return Check::not_applicable(ETCD, no_etcd(scope));
    }
    let answer = match seen {
        Ok(answer) => answer,
        Err(why) => return Check::failing(ETCD, format!("{why} (plinthctl status etcd)")),
    };
    let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap_or_default();
    let health = body["health"].as_str();
    let reason = body["reason"].as_str().unwrap_or_default();
    match (answer.status, health) {
        (200, Some("true")) => Check::ok(ETCD, "healthy"),
        (_, Some(_)) if !reason.is_empty() => Check::failing(ETCD, format!("unhealthy: {reason}")),
        (status, _) => Check::failing(
            ETCD,
            format!("unhealthy (HTTP {status}): {}", answer.body.trim()),
        ),
    }
}

fn no_etcd(scope: Scope) -> &'static str {
    if scope.cluster {
        "this node runs no etcd member"
    } else {
        "not a cluster node"
    }
}

/// etcd's member list (the v3 JSON gateway's `POST /v3/cluster/member/list`): the members, and
/// whether this node is one of them, started.
pub fn etcd_members(scope: Scope, seen: &Seen, node_name: Option<&str>) -> (Check, Vec<Member>) {
    if !scope.runs_etcd {
        return (
            Check::not_applicable(ETCD_MEMBERS, no_etcd(scope)),
            Vec::new(),
        );
    }
    let answer = match seen {
        Ok(a) if a.status == 200 => a,
        Ok(a) => {
            let why = format!("HTTP {}: {}", a.status, a.body.trim());
            return (Check::failing(ETCD_MEMBERS, why), Vec::new());
        }
        Err(why) => return (Check::failing(ETCD_MEMBERS, why.to_string()), Vec::new()),
    };
    let Some(members) = members(&answer.body) else {
        let why = format!("not a member list: {}", answer.body.trim());
        return (Check::failing(ETCD_MEMBERS, why), Vec::new());
    };
    let count = match members.len() {
        1 => "1 member".to_owned(),
        n => format!("{n} members"),
    };
    let unstarted: Vec<&str> = members
        .iter()
        .filter(|m| m.name.is_empty())
        .map(|m| m.id.as_str())
        .collect();
    let check = match node_name {
        Some(name) if !members.iter().any(|m| m.name == name) => Check::failing(
            ETCD_MEMBERS,
            format!("{count}, and this node ({name}) is not one of them"),
        ),
        _ if !unstarted.is_empty() => Check::failing(
            ETCD_MEMBERS,
            format!("{count}, not started: {}", unstarted.join(", ")),
        ),
        Some(name) => Check::ok(
            ETCD_MEMBERS,
            format!("{count}, this node ({name}) among them"),
        ),
        None => Check::ok(ETCD_MEMBERS, count),
    };
    (check, members)
}

/// The members of a member-list answer (`None` when it is not one), parsed as `etcd join` does
/// ([`crate::etcd::members::parse_members`]); IDs are shown in hex, as `etcdctl` does.
fn members(body: &str) -> Option<Vec<Member>> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let members = crate::etcd::members::parse_members(&value)?;
    Some(
        members
            .into_iter()
            .map(|m| Member {
                id: crate::etcd::members::hex(m.id),
                name: m.name,
                peer_urls: m.peer_urls,
                client_urls: m.client_urls,
                learner: m.is_learner,
            })
            .collect(),
    )
}

/// The apiserver's `/readyz?verbose` (`server` is what was asked, for the reason).
pub fn apiserver(scope: Scope, server: &str, seen: &Seen) -> Check {
    if !scope.control_plane {
        let why = if scope.cluster {
            "this node runs no apiserver"
        } else {
            "not a cluster node"
        };
        return Check::not_applicable(APISERVER, why);
    }
    match seen {
        Ok(a) if a.status == 200 => Check::ok(APISERVER, format!("ready ({server})")),
        Ok(a) if a.status == 401 => Check::failing(
            APISERVER,
            format!("{server}: admin.conf's certificate is not accepted (HTTP 401)"),
        ),
        Ok(a) => {
            // The verbose answer lists every check: `[+]etcd ok`, `[-]etcd failed: reason withheld`.
            let failed: Vec<&str> = a
                .body
                .lines()
                .filter_map(|l| l.trim().strip_prefix("[-]"))
                .collect();
            let why = if failed.is_empty() {
                a.body.trim().to_owned()
            } else {
                failed.join(", ")
            };
            Check::failing(
                APISERVER,
                format!(
                    "not ready (HTTP {}): {why} (plinthctl status kube-apiserver)",
                    a.status
                ),
            )
        }
        Err(why) => Check::failing(
            APISERVER,
            format!("{why} (plinthctl status kube-apiserver)"),
        ),
    }
}

/// The Node's `Ready` condition: a NotReady node says why in Plinth's words when it knows them
/// (no pod network: `cni: none` waits for the operator's CNI).
pub fn node_ready(scope: Scope, seen: &NodeSeen) -> Check {
    if !scope.cluster {
        return Check::not_applicable(NODE_READY, "not a cluster node");
    }
    let node = match seen {
        NodeSeen::Found(node) => node,
        other => return Check::failing(NODE_READY, not_read(other)),
    };
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
    let Some(ready) = ready else {
        return Check::failing(
            NODE_READY,
            "the kubelet has not reported the Node's status yet (plinthctl status kubelet)",
        );
    };
    let NodeCondition {
        status,
        reason,
        message,
        ..
    } = ready;
    let reason = reason.as_deref().unwrap_or("no reason");
    let message = message.as_deref().unwrap_or_default();
    match status.as_str() {
        "True" => Check::ok(NODE_READY, format!("Ready ({reason})")),
        "False" if no_network(message) => Check::failing(NODE_READY, no_network_reason(scope.cni)),
        "False" => Check::failing(NODE_READY, format!("NotReady ({reason}): {message}")),
        _ => Check::failing(
            NODE_READY,
            format!(
                "Ready is {status} ({reason}): the kubelet stopped posting the Node's status \
                 (plinthctl status kubelet): {message}"
            ),
        ),
    }
}

/// Whether the kubelet's NotReady message is the container runtime's missing pod network
/// (`container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady
/// message:Network plugin returns error: cni plugin not initialized`).
fn no_network(message: &str) -> bool {
    message.contains("NetworkReady=false") || message.contains("cni plugin not initialized")
}

fn no_network_reason(cni: Cni) -> &'static str {
    match cni {
        Cni::None => {
            "NotReady: no pod network (NetworkReady=false, cni plugin not initialized): with \
             `cni: none` a CNI must be installed (Genestack installs Kube-OVN); the Node becomes \
             Ready once it runs"
        }
        Cni::Bridge => {
            "NotReady: no pod network yet (NetworkReady=false): cluster-cni writes the bridge \
             network once the Node has a podCIDR (plinthctl status cluster-cni)"
        }
    }
}

/// Why the Node could not be looked at, for every check that needs it.
fn not_read(seen: &NodeSeen) -> String {
    match seen {
        NodeSeen::Found(_) => String::new(),
        NodeSeen::Absent(name) => format!(
            "node {name} is not registered: the kubelet registers it (plinthctl status kubelet)"
        ),
        NodeSeen::Refused(403, _) => "admin.conf may not read Nodes yet: cluster-bootstrap binds \
             its group kubeadm:cluster-admins (plinthctl status cluster-bootstrap)"
            .to_owned(),
        NodeSeen::Refused(code, message) => format!("reading the Node: HTTP {code}: {message}"),
        NodeSeen::Unreachable(why) => format!("not checked: {why}"),
        NodeSeen::NotChecked(why) => format!("not checked: {why}"),
    }
}

/// The labels and annotations the labeller keeps, against the Node's.
pub fn owned(scope: Scope, wanted: Option<&Wanted>, seen: &NodeSeen) -> (Check, Vec<Owned>) {
    if !scope.cluster {
        return (
            Check::not_applicable(LABELS, "not a cluster node"),
            Vec::new(),
        );
    }
    if wanted.is_some_and(|w| w.labels.is_empty() && w.annotations.is_empty()) {
        let why = "the config asks for no labels nor annotations";
        return (Check::not_applicable(LABELS, why), Vec::new());
    }
    let NodeSeen::Found(node) = seen else {
        return (Check::failing(LABELS, not_read(seen)), Vec::new());
    };
    let Some(wanted) = wanted else {
        let why = "not checked: what the labeller keeps comes from the config";
        return (Check::failing(LABELS, why), Vec::new());
    };
    let meta = &node.metadata;
    let mut rows = rows_of(OwnedKind::Label, &wanted.labels, meta.labels.as_ref());
    rows.extend(rows_of(
        OwnedKind::Annotation,
        &wanted.annotations,
        meta.annotations.as_ref(),
    ));
    let missing = labels::decide(wanted, node).missing;
    let check = if missing.is_empty() {
        Check::ok(
            LABELS,
            format!(
                "{} and {} as wanted",
                count(wanted.labels.len(), "label"),
                count(wanted.annotations.len(), "annotation")
            ),
        )
    } else {
        // The rows below name them all; the line names a few.
        let named = match missing.len() {
            0..=3 => missing.join(", "),
            n => format!("{}, and {} more", missing[..2].join(", "), n - 2),
        };
        Check::failing(
            LABELS,
            format!(
                "not as wanted: {named} (cluster-labels applies them: plinthctl status cluster-labels)"
            ),
        )
    };
    (check, rows)
}

/// One row per wanted key, with the Node's value.
fn rows_of(
    kind: OwnedKind,
    wanted: &BTreeMap<String, String>,
    have: Option<&BTreeMap<String, String>>,
) -> Vec<Owned> {
    wanted
        .iter()
        .map(|(key, value)| Owned {
            kind,
            key: key.clone(),
            wanted: value.clone(),
            actual: have.and_then(|h| h.get(key)).cloned(),
        })
        .collect()
}

/// The Node's taints, and whether one the labeller removes is still there.
pub fn taints(scope: Scope, wanted: Option<&Wanted>, seen: &NodeSeen) -> (Check, Vec<TaintRow>) {
    if !scope.cluster {
        return (
            Check::not_applicable(TAINTS, "not a cluster node"),
            Vec::new(),
        );
    }
    let NodeSeen::Found(node) = seen else {
        return (Check::failing(TAINTS, not_read(seen)), Vec::new());
    };
    let removed = |t: &Taint| wanted.is_some_and(|w| w.remove_taints.iter().any(|m| m.matches(t)));
    let rows: Vec<TaintRow> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .map(|t| TaintRow {
            taint: taint_text(t),
            removed_by_plinth: removed(t),
        })
        .collect();
    let left: Vec<&str> = rows
        .iter()
        .filter(|r| r.removed_by_plinth)
        .map(|r| r.taint.as_str())
        .collect();
    let check = match wanted {
        None => Check::failing(
            TAINTS,
            "not checked: which taints the labeller removes comes from the config",
        ),
        Some(_) if !left.is_empty() => Check::failing(
            TAINTS,
            format!(
                "still tainted {} (cluster-labels removes it: plinthctl status cluster-labels)",
                left.join(", ")
            ),
        ),
        Some(w) if w.remove_taints.is_empty() => Check::ok(
            TAINTS,
            format!("{}; Plinth removes none", count(rows.len(), "taint")),
        ),
        Some(w) => {
            let names: Vec<String> = w.remove_taints.iter().map(ToString::to_string).collect();
            Check::ok(
                TAINTS,
                format!(
                    "{}; none of {}",
                    count(rows.len(), "taint"),
                    names.join(", ")
                ),
            )
        }
    };
    (check, rows)
}

/// `no taints`, `1 taint`, `2 taints`.
fn count(n: usize, what: &str) -> String {
    match n {
        0 => format!("no {what}s"),
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    }
}

/// `KEY[=VALUE]:EFFECT`.
fn taint_text(t: &Taint) -> String {
    match t.value.as_deref() {
        Some(value) if !value.is_empty() => format!("{}={value}:{}", t.key, t.effect),
        _ => format!("{}:{}", t.key, t.effect),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{NodeSpec, NodeStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::super::labels::{CONTROL_PLANE_TAINT, TaintMatch};
    use super::super::report::State;
    use super::*;

    #[test]
    fn a_joiner_says_where_its_join_is() {
        use super::super::join_state::{DISCOVERY, JOINED};
        assert_eq!(join(false, &Ok(None)).state, State::NotApplicable);
        assert_eq!(join(true, &Ok(None)).state, State::Failing);
        let joined = JoinState::at(JOINED, "https://10.0.0.1:6443");
        let check = join(true, &Ok(Some(joined)));
        assert_eq!(check.state, State::Ok);
        assert_eq!(check.detail, "joined https://10.0.0.1:6443");
        let mut trying = JoinState::at(DISCOVERY, "https://10.0.0.1:6443");
        trying.failed("bad-signature", "the token's secret is wrong");
        let check = join(true, &Ok(Some(trying)));
        assert_eq!(check.state, State::Failing);
        assert!(
            check.detail.starts_with(
                "discovery of https://10.0.0.1:6443: the token's secret is wrong (1 tries"
            ),
            "{}",
            check.detail
        );
        let unreadable = JoinStateError::Read {
            path: "/run/plinth/cluster/join.json".into(),
            source: std::io::Error::from_raw_os_error(13),
        };
        assert_eq!(
            join(true, &Err(unreadable)),
            Check::failing(
                JOIN,
                "reading /run/plinth/cluster/join.json: Permission denied (os error 13)"
            )
        );
    }

    const INIT: Scope = Scope {
        cluster: true,
        runs_etcd: true,
        control_plane: true,
        cni: Cni::None,
    };
    const NO_CLUSTER: Scope = Scope {
        cluster: false,
        runs_etcd: false,
        control_plane: false,
        cni: Cni::None,
    };

    fn answer(status: u16, body: &str) -> Seen {
        Ok(Answer {
            status,
            body: body.into(),
        })
    }

    fn config(yaml: &str) -> MachineConfig {
        plinth_config::parse("t.yaml", yaml).unwrap().config
    }

    fn node(
        ready: Option<(&str, &str, &str)>,
        labels: &[(&str, &str)],
        taints: &[&str],
    ) -> NodeSeen {
        let conditions = ready.map(|(status, reason, message)| {
            vec![NodeCondition {
                type_: "Ready".into(),
                status: status.into(),
                reason: Some(reason.into()),
                message: Some(message.into()),
                ..NodeCondition::default()
            }]
        });
        let taints = taints
            .iter()
            .map(|t| {
                let m = TaintMatch::parse(t).unwrap();
                Taint {
                    key: m.key,
                    value: m.value,
                    effect: m.effect.unwrap_or_default(),
                    time_added: None,
                }
            })
            .collect();
        NodeSeen::Found(Box::new(Node {
            metadata: ObjectMeta {
                name: Some("n1".into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            spec: Some(NodeSpec {
                taints: Some(taints),
                ..NodeSpec::default()
            }),
            status: Some(NodeStatus {
                conditions,
                ..NodeStatus::default()
            }),
        }))
    }

    const NO_CNI: &str = "container runtime network not ready: NetworkReady=false \
        reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized";

    #[test]
    fn the_scope_comes_from_the_config_or_else_from_node_json() {
        let init = config("#cloud-config\nplinth:\n  cluster:\n    role: init\n");
        assert_eq!(Scope::of(Some(&init), None), INIT);
        let bridge = config(
            "#cloud-config\nplinth:\n  cluster:\n    role: init\n    kubernetes:\n      cni: bridge\n",
        );
        assert_eq!(Scope::of(Some(&bridge), None).cni, Cni::Bridge);
        let none = config("#cloud-config\nhostname: x\n");
        assert_eq!(Scope::of(Some(&none), None), NO_CLUSTER);
        let agent = NodeInfo {
            node_name: "w".into(),
            address: "10.0.0.9".into(),
            role: "agent".into(),
        };
        let scope = Scope::of(None, Some(&agent));
        assert!(scope.cluster && !scope.runs_etcd && !scope.control_plane);
        assert_eq!(Scope::of(None, None), INIT);
    }

    #[test]
    fn config_states() {
        let init = config("#cloud-config\nplinth:\n  cluster:\n    role: init\n");
        let check = super::config("/run/plinth/cluster.yaml", &Ok(init));
        assert_eq!(check.state, State::Ok);
        assert_eq!(
            check.detail,
            "/run/plinth/cluster.yaml: role init, cni none"
        );
        let none = config("#cloud-config\nhostname: x\n");
        let check = super::config("c.yaml", &Ok(none));
        assert_eq!(check.state, State::Failing);
        assert!(
            check.detail.contains("no plinth.cluster"),
            "{}",
            check.detail
        );
        let check = super::config("c.yaml", &Err(ProbeError::Missing("c.yaml".into())));
        assert_eq!(
            check,
            Check::failing(
                CONFIG,
                "no c.yaml (PID 1 writes it on a cluster node; without it the defaults are checked)"
            )
        );
        let invalid = ProbeError::Config {
            path: "c.yaml".into(),
            diagnostics: plinth_config::parse("c.yaml", "#cloud-config\nplinth: [\n").unwrap_err(),
        };
        let check = super::config("c.yaml", &Err(invalid));
        assert_eq!(check.state, State::Failing);
        assert!(check.detail.starts_with("c.yaml: "), "{}", check.detail);
        assert!(!check.detail.contains('\n'), "{}", check.detail);
    }

    #[test]
    fn node_json_states() {
        let info = NodeInfo {
            node_name: "n1".into(),
            address: "10.0.0.5".into(),
            role: "init".into(),
        };
        let check = node_file(INIT, &Ok(info));
        assert_eq!(
            check,
            Check::ok(NODE, "n1 (role init), advertising 10.0.0.5")
        );
        let missing = || ProbeError::Missing("/run/plinth/cluster/node.json".into());
        let check = node_file(INIT, &Err(missing()));
        assert_eq!(check.state, State::Failing);
        assert!(check.detail.contains("cluster prep"), "{}", check.detail);
        assert!(
            check
                .detail
                .starts_with("no /run/plinth/cluster/node.json: "),
            "{}",
            check.detail
        );
        assert_eq!(
            node_file(NO_CLUSTER, &Err(missing())).state,
            State::NotApplicable
        );
    }

    #[test]
    fn etcd_health_states() {
        let ok = answer(200, r#"{"health":"true","reason":""}"#);
        assert_eq!(etcd_health(INIT, &ok), Check::ok(ETCD, "healthy"));
        let no_leader = answer(503, r#"{"health":"false","reason":"RAFT NO LEADER"}"#);
        assert_eq!(
            etcd_health(INIT, &no_leader),
            Check::failing(ETCD, "unhealthy: RAFT NO LEADER")
        );
        let odd = answer(404, "404 page not found\n");
        assert_eq!(
            etcd_health(INIT, &odd),
            Check::failing(ETCD, "unhealthy (HTTP 404): 404 page not found")
        );
        let down = Err(ProbeError::Unreachable {
            url: "http://127.0.0.1:2381/health".into(),
            cause: "connection refused".into(),
        });
        let check = etcd_health(INIT, &down);
        assert_eq!(check.state, State::Failing);
        assert_eq!(
            check.detail,
            "http://127.0.0.1:2381/health: connection refused (plinthctl status etcd)"
        );
        let agent = Scope {
            runs_etcd: false,
            ..INIT
        };
        assert_eq!(etcd_health(agent, &down).state, State::NotApplicable);
    }

    const MEMBERS: &str = r#"{"header":{"cluster_id":"14841639068965178418","member_id":"10276657743932975437","raft_term":"2"},
        "members":[{"ID":"10276657743932975437","name":"n1","peerURLs":["https://10.0.0.5:2380"],
        "clientURLs":["https://127.0.0.1:2379","https://10.0.0.5:2379"]}]}"#;

    #[test]
    fn etcd_member_states() {
        let (check, members) = etcd_members(INIT, &answer(200, MEMBERS), Some("n1"));
        assert_eq!(
            check,
            Check::ok(ETCD_MEMBERS, "1 member, this node (n1) among them")
        );
        assert_eq!(
            members,
            [Member {
                id: "8e9e05c52164694d".into(),
                name: "n1".into(),
                peer_urls: vec!["https://10.0.0.5:2380".into()],
                client_urls: vec![
                    "https://127.0.0.1:2379".into(),
                    "https://10.0.0.5:2379".into()
                ],
                learner: false,
            }]
        );
        let (check, members) = etcd_members(INIT, &answer(200, MEMBERS), Some("n2"));
        assert_eq!(check.state, State::Failing);
        assert_eq!(
            check.detail,
            "1 member, and this node (n2) is not one of them"
        );
        assert_eq!(members.len(), 1, "the members are shown all the same");
        let (check, _) = etcd_members(INIT, &answer(200, MEMBERS), None);
        assert_eq!(check, Check::ok(ETCD_MEMBERS, "1 member"));

        let unstarted = r#"{"members":[{"ID":"1","name":"n1"},{"ID":"255","peerURLs":["https://10.0.0.6:2380"],"isLearner":true}]}"#;
        let (check, members) = etcd_members(INIT, &answer(200, unstarted), Some("n1"));
        assert_eq!(
            check,
            Check::failing(ETCD_MEMBERS, "2 members, not started: ff")
        );
        assert!(members[1].learner && members[1].name.is_empty());

        let (check, members) = etcd_members(INIT, &answer(200, "{}"), None);
        assert_eq!(check.state, State::Failing);
        assert!(members.is_empty());
        let refused = ProbeError::Unreachable {
            url: "https://127.0.0.1:2379".into(),
            cause: "refused".into(),
        };
        let (check, _) = etcd_members(INIT, &Err(refused), None);
        assert_eq!(
            check,
            Check::failing(ETCD_MEMBERS, "https://127.0.0.1:2379: refused")
        );
    }

    #[test]
    fn apiserver_states() {
        let server = "https://10.0.0.5:6443";
        assert_eq!(
            apiserver(
                INIT,
                server,
                &answer(200, "[+]ping ok\nreadyz check passed\n")
            ),
            Check::ok(APISERVER, "ready (https://10.0.0.5:6443)")
        );
        let starting = "[+]ping ok\n[-]etcd failed: reason withheld\n[+]log ok\n\
            [-]poststarthook/rbac/bootstrap-roles failed: reason withheld\nreadyz check failed\n";
        assert_eq!(
            apiserver(INIT, server, &answer(500, starting)).detail,
            "not ready (HTTP 500): etcd failed: reason withheld, \
             poststarthook/rbac/bootstrap-roles failed: reason withheld \
             (plinthctl status kube-apiserver)"
        );
        assert!(
            apiserver(INIT, server, &answer(401, "Unauthorized"))
                .detail
                .contains("401")
        );
        let timeout = ProbeError::Timeout {
            url: format!("{server}/readyz"),
        };
        let check = apiserver(INIT, server, &Err(timeout));
        assert_eq!(check.state, State::Failing);
        assert_eq!(
            check.detail,
            "https://10.0.0.5:6443/readyz: no answer in 10s (plinthctl status kube-apiserver)"
        );
        let worker = Scope {
            control_plane: false,
            ..INIT
        };
        assert_eq!(
            apiserver(worker, server, &answer(200, "ok")).state,
            State::NotApplicable
        );
    }

    /// A NotReady node without a pod network, with `cni: none`, says a CNI must be installed.
    #[test]
    fn a_node_without_a_cni_says_one_must_be_installed() {
        let seen = node(Some(("False", "KubeletNotReady", NO_CNI)), &[], &[]);
        let check = node_ready(INIT, &seen);
        assert_eq!(check.state, State::Failing);
        assert!(
            check.detail.contains("a CNI must be installed"),
            "{}",
            check.detail
        );
        assert!(check.detail.contains("cni: none"), "{}", check.detail);
        let bridge = Scope {
            cni: Cni::Bridge,
            ..INIT
        };
        let check = node_ready(bridge, &seen);
        assert!(check.detail.contains("cluster-cni"), "{}", check.detail);
    }

    #[test]
    fn node_ready_states() {
        let ready = node(
            Some(("True", "KubeletReady", "kubelet is posting ready status")),
            &[],
            &[],
        );
        assert_eq!(
            node_ready(INIT, &ready),
            Check::ok(NODE_READY, "Ready (KubeletReady)")
        );
        let pressure = node(
            Some(("False", "KubeletNotReady", "PLEG is not healthy")),
            &[],
            &[],
        );
        assert_eq!(
            node_ready(INIT, &pressure).detail,
            "NotReady (KubeletNotReady): PLEG is not healthy"
        );
        let unknown = node(
            Some((
                "Unknown",
                "NodeStatusUnknown",
                "Kubelet stopped posting node status.",
            )),
            &[],
            &[],
        );
        assert!(
            node_ready(INIT, &unknown)
                .detail
                .contains("stopped posting")
        );
        let fresh = node(None, &[], &[]);
        assert!(node_ready(INIT, &fresh).detail.contains("has not reported"));
        let absent = NodeSeen::Absent("n1".into());
        assert!(node_ready(INIT, &absent).detail.contains("not registered"));
        let forbidden = NodeSeen::Refused(403, "nodes \"n1\" is forbidden".into());
        assert!(
            node_ready(INIT, &forbidden)
                .detail
                .contains("cluster-bootstrap")
        );
        let down = NodeSeen::Unreachable("https://10.0.0.5:6443: connection refused".into());
        assert_eq!(
            node_ready(INIT, &down),
            Check::failing(
                NODE_READY,
                "not checked: https://10.0.0.5:6443: connection refused"
            )
        );
        assert_eq!(node_ready(NO_CLUSTER, &down).state, State::NotApplicable);
    }

    fn wanted() -> Wanted {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        Wanted {
            labels: map(&[
                ("node-role.kubernetes.io/control-plane", ""),
                ("openstack-control-plane", "enabled"),
            ]),
            annotations: map(&[("ovn.openstack.org/bridges", "br-ex")]),
            remove_taints: vec![TaintMatch::parse(CONTROL_PLANE_TAINT).unwrap()],
        }
    }

    #[test]
    fn owned_label_states() {
        let seen = node(
            None,
            &[
                ("node-role.kubernetes.io/control-plane", ""),
                ("openstack-control-plane", "disabled"),
            ],
            &[],
        );
        let (check, rows) = owned(INIT, Some(&wanted()), &seen);
        assert_eq!(check.state, State::Failing);
        assert!(
            check.detail.starts_with(
                "not as wanted: openstack-control-plane, annotation ovn.openstack.org/bridges"
            ),
            "{}",
            check.detail
        );
        assert_eq!(rows.len(), 3);
        assert!(rows[0].held());
        assert_eq!(rows[1].actual.as_deref(), Some("disabled"));
        assert_eq!(rows[2].kind, OwnedKind::Annotation);
        assert_eq!(rows[2].actual, None);

        let NodeSeen::Found(mut labelled) = seen else {
            unreachable!()
        };
        labelled
            .metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("openstack-control-plane".into(), "enabled".into());
        labelled.metadata.annotations =
            Some([("ovn.openstack.org/bridges".to_owned(), "br-ex".to_owned())].into());
        let (check, _) = owned(INIT, Some(&wanted()), &NodeSeen::Found(labelled));
        assert_eq!(
            check,
            Check::ok(LABELS, "2 labels and 1 annotation as wanted")
        );

        let (check, rows) = owned(INIT, None, &node(None, &[], &[]));
        assert_eq!(check.state, State::Failing);
        assert!(rows.is_empty());
        let (check, _) = owned(INIT, Some(&Wanted::default()), &node(None, &[], &[]));
        assert_eq!(check.state, State::NotApplicable);
        let (check, _) = owned(
            INIT,
            Some(&wanted()),
            &NodeSeen::NotChecked("no node name".into()),
        );
        assert_eq!(check, Check::failing(LABELS, "not checked: no node name"));
    }

    #[test]
    fn many_missing_labels_are_counted_not_all_named() {
        let mut many = wanted();
        many.labels.insert("a".into(), "1".into());
        many.labels.insert("b".into(), "2".into());
        let (check, rows) = owned(INIT, Some(&many), &node(None, &[], &[]));
        assert_eq!(rows.len(), 5, "the rows name them all");
        assert!(
            check.detail.starts_with("not as wanted: a, b, and 3 more"),
            "{}",
            check.detail
        );
    }

    #[test]
    fn taint_states() {
        let tainted = node(None, &[], &[CONTROL_PLANE_TAINT, "dedicated=db:NoExecute"]);
        let (check, rows) = taints(INIT, Some(&wanted()), &tainted);
        assert_eq!(check.state, State::Failing);
        assert!(
            check
                .detail
                .starts_with(&format!("still tainted {CONTROL_PLANE_TAINT}"))
        );
        assert_eq!(
            rows,
            [
                TaintRow {
                    taint: CONTROL_PLANE_TAINT.into(),
                    removed_by_plinth: true
                },
                TaintRow {
                    taint: "dedicated=db:NoExecute".into(),
                    removed_by_plinth: false
                },
            ]
        );
        let clean = node(None, &[], &["dedicated=db:NoExecute"]);
        assert_eq!(
            taints(INIT, Some(&wanted()), &clean).0,
            Check::ok(TAINTS, format!("1 taint; none of {CONTROL_PLANE_TAINT}"))
        );
        // A control plane that keeps its taint: nothing for Plinth to remove.
        let keeps = Wanted {
            remove_taints: Vec::new(),
            ..wanted()
        };
        let (check, rows) = taints(INIT, Some(&keeps), &tainted);
        assert_eq!(check, Check::ok(TAINTS, "2 taints; Plinth removes none"));
        assert!(rows.iter().all(|r| !r.removed_by_plinth));
        assert_eq!(taints(INIT, None, &clean).0.state, State::Failing);
    }
}
