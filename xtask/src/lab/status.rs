//! `cargo xtask lab status`: each VM (running or not, its forwarded ports), the Kubernetes Nodes
//! (Ready, roles, version), etcd's members (voting or learner) and each apiserver's `/readyz`.
//! Gathering is [`gather`]; reading the inputs and rendering the table or JSON are pure.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};

use super::kube::Guest;
use super::plan::{self, Milestone, NodeFiles, NodeRecord};
use super::{Lab, machine};

/// One VM as its pidfile and `node.json` say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmRow {
    pub record: NodeRecord,
    /// The QEMU pid when it runs.
    pub pid: Option<u32>,
}

/// One Kubernetes Node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRow {
    pub name: String,
    /// The Ready condition's status: `True`, `False`, `Unknown`.
    pub ready: String,
    /// From the `node-role.kubernetes.io/<role>` labels.
    pub roles: Vec<String>,
    pub version: String,
    pub internal_ip: String,
}

/// One etcd member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRow {
    pub id: String,
    /// Empty while an added member has not started.
    pub name: String,
    pub learner: bool,
    pub peer_urls: Vec<String>,
}

impl MemberRow {
    /// Started and voting.
    pub fn voting(&self) -> bool {
        !self.learner && !self.name.is_empty()
    }
}

/// Everything `status` shows; a part that could not be asked holds the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub segment: u16,
    pub kubeconfig: String,
    pub vms: Vec<VmRow>,
    pub nodes: Result<Vec<NodeRow>, String>,
    pub etcd: Result<Vec<MemberRow>, String>,
    /// Per VM: its apiserver's `/readyz` answer.
    pub readyz: Vec<(String, Result<String, String>)>,
}

/// The Nodes of `kubectl get nodes -o json`.
pub fn node_rows(list: &Value) -> Vec<NodeRow> {
    let empty = Vec::new();
    list["items"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(|item| {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            let conditions = item["status"]["conditions"].as_array();
            let ready = conditions
                .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
                .map_or_else(|| "Unknown".to_owned(), |c| text(&c["status"]));
            let mut roles: Vec<String> = item["metadata"]["labels"]
                .as_object()
                .map(|labels| {
                    labels
                        .keys()
                        .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            roles.sort();
            let internal_ip = item["status"]["addresses"]
                .as_array()
                .and_then(|a| a.iter().find(|a| a["type"] == "InternalIP"))
                .map(|a| text(&a["address"]))
                .unwrap_or_default();
            NodeRow {
                name: text(&item["metadata"]["name"]),
                ready,
                roles,
                version: text(&item["status"]["nodeInfo"]["kubeletVersion"]),
                internal_ip,
            }
        })
        .collect()
}

/// etcd's members in a `plinthctl cluster -o json` report.
pub fn member_rows(report: &Value) -> Vec<MemberRow> {
    let empty = Vec::new();
    report["etcd_members"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(|m| MemberRow {
            id: m["id"].as_str().unwrap_or_default().to_owned(),
            name: m["name"].as_str().unwrap_or_default().to_owned(),
            learner: m["learner"].as_bool().unwrap_or(false),
            peer_urls: m["peer_urls"]
                .as_array()
                .map(|u| {
                    u.iter()
                        .filter_map(|u| u.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// The table for people.
pub fn render(status: &Status) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "VMs (lab segment mcast 230.0.0.1:{}):", status.segment);
    let _ = writeln!(
        out,
        "  {:<8} {:<16} {:<24} {:<22} readyz",
        "NAME", "QEMU", "APISERVER", "NODE EXPORTER"
    );
    for vm in &status.vms {
        let r = &vm.record;
        let qemu = vm
            .pid
            .map_or_else(|| "stopped".to_owned(), |pid| format!("running {pid}"));
        let readyz = status
            .readyz
            .iter()
            .find(|(name, _)| *name == r.name)
            .map_or_else(
                || if r.apiserver { "-" } else { "- (agent)" }.to_owned(),
                |(_, answer)| match answer {
                    Ok(text) => text.clone(),
                    Err(why) => format!("no: {why}"),
                },
            );
        let _ = writeln!(
            out,
            "  {:<8} {:<16} https://127.0.0.1:{:<6} 127.0.0.1:{:<12} {readyz}",
            r.name, qemu, r.ports.apiserver, r.ports.exporter
        );
    }
    let _ = writeln!(out, "Nodes (kubeconfig {}):", status.kubeconfig);
    match &status.nodes {
        Ok(nodes) if nodes.is_empty() => out.push_str("  none registered yet\n"),
        Ok(nodes) => {
            let _ = writeln!(
                out,
                "  {:<8} {:<8} {:<16} {:<14} ROLES",
                "NAME", "READY", "INTERNAL-IP", "VERSION"
            );
            for n in nodes {
                let roles = if n.roles.is_empty() {
                    "<none>".to_owned()
                } else {
                    n.roles.join(",")
                };
                let _ = writeln!(
                    out,
                    "  {:<8} {:<8} {:<16} {:<14} {roles}",
                    n.name, n.ready, n.internal_ip, n.version
                );
            }
        }
        Err(why) => {
            let _ = writeln!(out, "  unknown: {why}");
        }
    }
    out.push_str("etcd members (from node1's `plinthctl cluster -o json`):\n");
    match &status.etcd {
        Ok(members) => {
            let voting = members.iter().filter(|m| m.voting()).count();
            for m in members {
                let kind = if m.learner {
                    "learner"
                } else if m.name.is_empty() {
                    "added, not started"
                } else {
                    "voting"
                };
                let name = if m.name.is_empty() { "-" } else { &m.name };
                let _ = writeln!(
                    out,
                    "  {:<8} {:<18} {:<18} {}",
                    name,
                    m.id,
                    kind,
                    m.peer_urls.join(",")
                );
            }
            let _ = writeln!(out, "  {voting} voting of {}", members.len());
        }
        Err(why) => {
            let _ = writeln!(out, "  unknown: {why}");
        }
    }
    out
}

/// The same for scripts.
pub fn to_json(status: &Status) -> Value {
    let either = |r: &Result<Value, String>| match r {
        Ok(v) => v.clone(),
        Err(why) => json!({ "error": why }),
    };
    let vms: Vec<Value> = status
        .vms
        .iter()
        .map(|vm| {
            let readyz = status
                .readyz
                .iter()
                .find(|(name, _)| *name == vm.record.name)
                .map_or(Value::Null, |(_, r)| match r {
                    Ok(text) => json!({ "ok": text == "ok", "answer": text }),
                    Err(why) => json!({ "ok": false, "error": why }),
                });
            json!({
                "name": vm.record.name,
                "running": vm.pid.is_some(),
                "pid": vm.pid,
                "apiserver": format!("https://127.0.0.1:{}", vm.record.ports.apiserver),
                "node_exporter": format!("http://127.0.0.1:{}/metrics", vm.record.ports.exporter),
                "started_unix": vm.record.started_unix,
                "readyz": readyz,
            })
        })
        .collect();
    let nodes = status.nodes.as_ref().map_err(Clone::clone).map(|nodes| {
        json!(
            nodes
                .iter()
                .map(|n| json!({
                    "name": n.name,
                    "ready": n.ready == "True",
                    "roles": n.roles,
                    "version": n.version,
                    "internal_ip": n.internal_ip,
                }))
                .collect::<Vec<_>>()
        )
    });
    let etcd = status.etcd.as_ref().map_err(Clone::clone).map(|members| {
        json!(
            members
                .iter()
                .map(|m| json!({
                    "id": m.id,
                    "name": m.name,
                    "learner": m.learner,
                    "voting": m.voting(),
                    "peer_urls": m.peer_urls,
                }))
                .collect::<Vec<_>>()
        )
    });
    json!({
        "segment": format!("230.0.0.1:{}", status.segment),
        "kubeconfig": status.kubeconfig,
        "vms": vms,
        "nodes": either(&nodes),
        "etcd_members": either(&etcd),
    })
}

/// Asks every running VM and the cluster.
pub fn gather(lab: &Lab) -> Result<Status> {
    let mut vms = Vec::new();
    for name in lab.node_names()? {
        let files = NodeFiles::new(&lab.dir, &name);
        let Ok(record) = lab.record(&files) else {
            continue;
        };
        let pid = machine::running(&files, &name);
        vms.push(VmRow { record, pid });
    }
    let kubectl = lab.kubectl();
    let have_kubeconfig = kubectl.kubeconfig.is_file();
    let nodes = if !have_kubeconfig {
        Err(
            "no kubeconfig yet (`cargo xtask lab up` writes it once node1's apiserver is up)"
                .into(),
        )
    } else {
        kubectl
            .nodes()
            .map(|list| node_rows(&list))
            .map_err(|e| format!("{e:#}"))
    };
    let readyz = vms
        .iter()
        .filter(|vm| vm.pid.is_some() && vm.record.apiserver && have_kubeconfig)
        .map(|vm| {
            (
                vm.record.name.clone(),
                kubectl
                    .readyz(vm.record.ports.apiserver)
                    .map_err(|e| format!("{e:#}")),
            )
        })
        .collect();
    let etcd = match vms.iter().find(|vm| vm.pid.is_some()) {
        Some(first) if first.record.name == "node1" && !etcd_started(lab, "node1") => {
            Err("node1's console does not say `service etcd: ready` yet".into())
        }
        Some(first) if first.record.name == "node1" => {
            Guest::connect(&first.record.serial2, Duration::from_secs(15))
                .and_then(|mut g| g.cluster_report())
                .map(|report| member_rows(&report))
                .map_err(|e| format!("{e:#}"))
        }
        _ => Err("node1 is not running".into()),
    };
    Ok(Status {
        segment: lab.segment()?,
        kubeconfig: kubectl.kubeconfig.display().to_string(),
        vms,
        nodes,
        etcd,
        readyz,
    })
}

/// Whether `node`'s console says etcd is ready (its shell is not asked before: cheap, and a node
/// still booting has no shell to answer).
fn etcd_started(lab: &Lab, node: &str) -> bool {
    let console = std::fs::read(NodeFiles::new(&lab.dir, node).console()).unwrap_or_default();
    plan::milestones(&String::from_utf8_lossy(&console))
        .iter()
        .any(|(m, _)| *m == Milestone::EtcdReady)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::plan::Ports;

    fn nodes_json() -> Value {
        json!({"items": [
            {"metadata": {"name": "node1", "labels": {
                "node-role.kubernetes.io/control-plane": "",
                "openstack-control-plane": "enabled",
                "node-role.kubernetes.io/etcd": ""}},
             "status": {"conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True"}],
              "addresses": [{"type": "InternalIP", "address": "192.0.2.11"},
                            {"type": "Hostname", "address": "node1"}],
              "nodeInfo": {"kubeletVersion": "v1.35.4"}}},
            {"metadata": {"name": "node2"}, "status": {}}
        ]})
    }

    fn report_json() -> Value {
        json!({"healthy": true, "etcd_members": [
            {"id": "8e9e05c52164694d", "name": "node1", "peer_urls": ["https://192.0.2.11:2380"],
             "client_urls": ["https://192.0.2.11:2379"], "learner": false},
            {"id": "91bc3c398fb3c146", "name": "node2", "peer_urls": ["https://192.0.2.12:2380"],
             "client_urls": [], "learner": true},
            {"id": "fd422379fda50e48", "name": "", "peer_urls": ["https://192.0.2.13:2380"],
             "client_urls": [], "learner": false}
        ]})
    }

    fn status() -> Status {
        let vm = |name: &str, pid: Option<u32>, base: u16| VmRow {
            record: NodeRecord {
                name: name.into(),
                ports: Ports {
                    apiserver: base,
                    exporter: base + 1,
                },
                qmp: "/q".into(),
                serial2: "/s".into(),
                started_unix: 1_800_000_000,
                apiserver: true,
            },
            pid,
        };
        Status {
            segment: 40000,
            kubeconfig: "/t/lab/kubeconfig".into(),
            vms: vec![vm("node1", Some(4242), 41000), vm("node2", None, 42000)],
            nodes: Ok(node_rows(&nodes_json())),
            etcd: Ok(member_rows(&report_json())),
            readyz: vec![("node1".into(), Ok("ok".into()))],
        }
    }

    #[test]
    fn nodes_are_read_from_kubectl_json() {
        let rows = node_rows(&nodes_json());
        assert_eq!(
            rows[0],
            NodeRow {
                name: "node1".into(),
                ready: "True".into(),
                roles: vec!["control-plane".into(), "etcd".into()],
                version: "v1.35.4".into(),
                internal_ip: "192.0.2.11".into(),
            }
        );
        assert_eq!(rows[1].ready, "Unknown");
        assert!(node_rows(&json!({})).is_empty());
    }

    #[test]
    fn members_vote_once_started_and_promoted() {
        let rows = member_rows(&report_json());
        let voting: Vec<bool> = rows.iter().map(MemberRow::voting).collect();
        assert_eq!(voting, [true, false, false]);
        assert_eq!(rows[0].peer_urls, ["https://192.0.2.11:2380"]);
    }

    #[test]
    fn the_table_shows_vms_nodes_and_members() {
        let table = render(&status());
        for want in [
            "lab segment mcast 230.0.0.1:40000",
            "node1    running 4242     https://127.0.0.1:41000  127.0.0.1:41001        ok",
            "node2    stopped          https://127.0.0.1:42000  127.0.0.1:42001        -",
            "node1    True     192.0.2.11       v1.35.4        control-plane,etcd",
            "node2    Unknown",
            "node2    91bc3c398fb3c146   learner",
            "-        fd422379fda50e48   added, not started",
            "1 voting of 3",
        ] {
            assert!(table.contains(want), "missing {want:?} in:\n{table}");
        }
        let mut down = status();
        down.nodes = Err("connection refused".into());
        down.etcd = Err("node1 is not running".into());
        let table = render(&down);
        assert!(table.contains("  unknown: connection refused"), "{table}");
        assert!(table.contains("  unknown: node1 is not running"), "{table}");
    }

    #[test]
    fn the_json_says_the_same() {
        let value = to_json(&status());
        assert_eq!(value["vms"][0]["running"], true);
        assert_eq!(value["vms"][0]["apiserver"], "https://127.0.0.1:41000");
        assert_eq!(value["vms"][0]["readyz"]["ok"], true);
        assert_eq!(value["vms"][1]["running"], false);
        assert_eq!(value["vms"][1]["readyz"], Value::Null);
        assert_eq!(value["nodes"][0]["ready"], true);
        assert_eq!(value["etcd_members"][1]["voting"], false);
        assert_eq!(value["etcd_members"][1]["learner"], true);
        let mut down = status();
        down.nodes = Err("refused".into());
        assert_eq!(to_json(&down)["nodes"]["error"], "refused");
    }
}
