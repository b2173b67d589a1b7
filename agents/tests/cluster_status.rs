//! `plinth-agent cluster status` through the real binary:
//!
//! - against the image's REAL etcd and kube-apiserver on loopback (`support::control_plane`):
//!   etcd healthy with this node its one member, the apiserver ready; a Node not registered yet
//!   fails; a Node the kubelet would register without a pod network (`cni: none`) says a CNI must
//!   be installed, and lacks the labels and still has the taint the labeller is started with;
//!   once the real labeller ran and the Node is Ready, every check is ok and the exit status 0;
//!   and `plinthctl kubeconfig --server` (the init crate's function) works through a forwarded
//!   port;
//! - with nothing listening: a whole report, every probe failing with its reason, exit status 1,
//!   in seconds.
//!
//! Neither report holds a secret (no key, no token). The first test is skipped (or failed with
//! `CI=true`) without the image tree or curl, as `cluster_objects`; `PLINTH_AGENT_BIN` runs
//! another build of the agent. Files and logs: `target/cluster-status*/`.

mod support;

use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use plinth_agents::cluster::node;
use qemu_tests::paths::{RunDir, target_dir};
use serde_json::Value;
use support::control_plane::{ControlPlane, NODE_NAME, Pki, first_service_ip, free_ports};

/// A secret token in the config: it must never be printed.
const TOKEN: &str = "plinth.0123456789abcdef";

fn agent() -> PathBuf {
    std::env::var_os("PLINTH_AGENT_BIN")
        .map_or_else(|| env!("CARGO_BIN_EXE_plinth-agent").into(), PathBuf::from)
}

/// A Genestack control plane of role `init` with the plane's etcd ports and no CNI (the
/// Genestack control-plane role keeps workloads on it: the labeller removes the taint).
fn config_yaml(client: u16, peer: u16, metrics: u16) -> String {
    format!(
        "#cloud-config
plinth:
  cluster:
    role: init
    token: {TOKEN}
    etcd:
      client_port: {client}
      peer_port: {peer}
      metrics_port: {metrics}
    kubernetes:
      node_labels:
        plinth.example/rack: r1
  genestack:
    roles: [control-plane, worker]
"
    )
}

/// Writes the config and `node.json` as PID 1 and `prep` would; returns (config, run dir).
fn node_files(dir: &Path, yaml: &str) -> (PathBuf, PathBuf) {
    let config = dir.join("cluster.yaml");
    std::fs::write(&config, yaml).unwrap();
    let run = dir.join("run");
    std::fs::create_dir_all(&run).unwrap();
    let node = serde_json::json!({"node_name": NODE_NAME, "address": "127.0.0.1", "role": "init"});
    std::fs::write(run.join("node.json"), node.to_string() + "\n").unwrap();
    (config, run)
}

/// `cluster status` of this root; its output.
fn status(root: &Path, config: &Path, run: &Path, json: bool) -> Output {
    let mut command = Command::new(agent());
    command
        .args(["cluster", "status", "--root"])
        .arg(root)
        .arg("--config")
        .arg(config)
        .arg("--run-dir")
        .arg(run);
    if json {
        command.args(["-o", "json"]);
    }
    command
        .stdin(Stdio::null())
        .output()
        .expect("running plinth-agent")
}

/// The JSON report, checking the exit status says the same as `healthy` and nothing secret is
/// printed.
fn json_report(root: &Path, config: &Path, run: &Path) -> Value {
    let out = status(root, config, run, true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    no_secrets(root, &stdout);
    no_secrets(root, &stderr);
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}\nstderr:\n{stderr}"));
    let healthy = report["healthy"].as_bool().expect("`healthy`");
    assert_eq!(
        out.status.success(),
        healthy,
        "exit status vs report:\n{stdout}\n{stderr}"
    );
    if !healthy {
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("checks failing"), "{stderr}");
    }
    eprintln!("{stdout}");
    report
}

/// Neither the token nor any key of the PKI (nor admin.conf's embedded one) is printed.
fn no_secrets(root: &Path, text: &str) {
    assert!(
        !text.contains(TOKEN) && !text.contains("0123456789abcdef"),
        "{text}"
    );
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    let admin = std::fs::read_to_string(root.join("kubernetes/admin.conf")).unwrap();
    let key = admin
        .lines()
        .find_map(|l| l.trim().strip_prefix("client-key-data: "))
        .expect("admin.conf embeds its key");
    assert!(!text.contains(&key[..40]), "admin.conf's key is printed");
}

/// The check `name` of a report: (state, detail).
fn check<'a>(report: &'a Value, name: &str) -> (&'a str, &'a str) {
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"));
    (
        check["state"].as_str().unwrap(),
        check["detail"].as_str().unwrap(),
    )
}

fn assert_state(report: &Value, name: &str, state: &str, detail_has: &str) {
    let (got, detail) = check(report, name);
    assert_eq!(got, state, "{name}: {detail}");
    assert!(
        detail.contains(detail_has),
        "{name}: {detail:?} lacks {detail_has:?}"
    );
}

#[test]
fn status_of_a_real_control_plane_from_no_node_to_a_ready_labelled_one() {
    const TEST: &str = "status_of_a_real_control_plane_from_no_node_to_a_ready_labelled_one";
    let Some(plane) = ControlPlane::for_test(TEST, "cluster-status") else {
        return;
    };
    let root = plane.dir.clone();
    let p = plane.ports;
    let yaml = config_yaml(p.etcd_client, p.etcd_peer, p.etcd_metrics);
    let (config, run) = node_files(&root, &yaml);
    // What `cluster-bootstrap` does for admin.conf on a node: its group is cluster-admin.
    plane
        .kubectl(&[
            "create",
            "clusterrolebinding",
            "kubeadm:cluster-admins",
            "--clusterrole=cluster-admin",
            "--group=kubeadm:cluster-admins",
        ])
        .unwrap();

    // No Node yet: the control plane is fine, the node is not registered.
    let report = json_report(&root, &config, &run);
    assert_eq!(report["healthy"], false);
    assert_eq!(report["node"]["node_name"], NODE_NAME);
    // The pin a joiner puts in its config: that of the plane's own CA.
    let ca = std::fs::read(root.join("pki/ca.crt")).unwrap();
    let pin = plinth_agents::join::pin::CaPin::of_certificate(&ca).unwrap();
    assert_eq!(report["ca_pin"], pin.to_string().as_str());
    assert_state(&report, "config", "ok", "role init, cni none");
    assert_state(&report, "node", "ok", NODE_NAME);
    assert_state(&report, "etcd", "ok", "healthy");
    assert_state(
        &report,
        "etcd-members",
        "ok",
        "1 member, this node (plinth-test) among them",
    );
    assert_state(
        &report,
        "apiserver",
        "ok",
        &format!("127.0.0.1:{}", p.apiserver),
    );
    assert_state(&report, "node-ready", "failing", "is not registered");
    assert_state(&report, "labels", "failing", "is not registered");
    let members = report["etcd_members"].as_array().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["name"], NODE_NAME);
    let client_url = format!("https://127.0.0.1:{}", p.etcd_client);
    assert!(
        members[0]["client_urls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u == &client_url),
        "{members:?}"
    );
    let id = members[0]["id"].as_str().unwrap();
    assert!(u64::from_str_radix(id, 16).is_ok(), "a hex member ID: {id}");

    // The Node as a kubelet registers it on a node with `cni: none`: tainted, a label of its own,
    // and NotReady for want of a pod network.
    let taint = plinth_agents::cluster::labels::CONTROL_PLANE_TAINT;
    let node_object = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": NODE_NAME, "labels": {"kubernetes.io/hostname": NODE_NAME}},
        "spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]},
    });
    let file = root.join("node-object.json");
    std::fs::write(&file, node_object.to_string()).unwrap();
    plane
        .kubectl(&["create", "-f", &file.to_string_lossy()])
        .unwrap();
    set_ready(
        &plane,
        "False",
        "KubeletNotReady",
        "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady \
         message:Network plugin returns error: cni plugin not initialized",
    );
    let report = json_report(&root, &config, &run);
    assert_state(&report, "node-ready", "failing", "a CNI must be installed");
    assert_state(
        &report,
        "labels",
        "failing",
        "node-role.kubernetes.io/control-plane",
    );
    assert_state(
        &report,
        "taints",
        "failing",
        &format!("still tainted {taint}"),
    );
    let rack = report["labels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["key"] == "plinth.example/rack")
        .expect("the config's node label is wanted");
    assert_eq!(rack["wanted"], "r1");
    assert_eq!(rack["actual"], Value::Null);
    assert_eq!(report["taints"][0]["taint"], taint);
    assert_eq!(report["taints"][0]["removed_by_plinth"], true);

    // The table says the same, for people.
    let out = status(&root, &config, &run, false);
    let table = String::from_utf8_lossy(&out.stdout);
    eprintln!("{table}");
    no_secrets(&root, &table);
    assert_eq!(out.status.code(), Some(1), "{table}");
    for line in [
        format!("node {NODE_NAME}, role init, address 127.0.0.1"),
        "etcd          ok".to_owned(),
        "node-ready    FAILING  NotReady: no pod network".to_owned(),
        format!("{taint}  no: cluster-labels removes it"),
        "plinth.example/rack".to_owned(),
        "not healthy: 3 of 9 checks failing".to_owned(),
    ] {
        assert!(table.contains(&line), "{line:?} not in:\n{table}");
    }

    // The labeller, started as the node starts it, and a CNI that made the Node Ready.
    label(&root, &plane, &yaml);
    set_ready(
        &plane,
        "True",
        "KubeletReady",
        "kubelet is posting ready status",
    );
    let report = json_report(&root, &config, &run);
    for c in report["checks"].as_array().unwrap() {
        // An init node has no join to report.
        let want = if c["name"] == "join" {
            "not_applicable"
        } else {
            "ok"
        };
        assert_eq!(c["state"], want, "{c}");
    }
    assert_eq!(report["healthy"], true);
    assert_state(&report, "taints", "ok", &format!("none of {taint}"));
    let out = status(&root, &config, &run, false);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}");
    assert!(table.ends_with("\nhealthy\n"), "{table}");

    // `plinthctl kubeconfig --server`, used from a host through a forwarded port: the
    // apiserver's certificate names 127.0.0.1, and the admin's credentials work there.
    let port = forward(p.apiserver);
    let server = format!("https://127.0.0.1:{port}");
    let text = plinth_init::ctl::kubeconfig::kubeconfig(&root, Some(&server)).unwrap();
    assert!(text.contains(&format!("server: {server}\n")));
    let forwarded = root.join("forwarded.conf");
    std::fs::write(&forwarded, text).unwrap();
    let nodes = plane
        .kubectl_as(&forwarded, &["get", "nodes", "-o", "name"])
        .unwrap_or_else(|e| panic!("through the forwarded port: {e}"));
    assert_eq!(nodes.trim(), format!("node/{NODE_NAME}"));
}

/// A TCP port on 127.0.0.1 forwarding every connection to `to` (as QEMU's hostfwd does).
fn forward(to: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", to)) else {
                continue;
            };
            let pipe = |mut from: TcpStream, mut into: TcpStream| {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut into);
                    let _ = into.shutdown(Shutdown::Write);
                });
            };
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
            pipe(server, client);
        }
    });
    port
}

/// Sets the Node's Ready condition, as its kubelet would (the status subresource).
fn set_ready(plane: &ControlPlane, status: &str, reason: &str, message: &str) {
    let now = "2026-01-01T00:00:00Z";
    let patch = serde_json::json!({"status": {"conditions": [{
        "type": "Ready", "status": status, "reason": reason, "message": message,
        "lastHeartbeatTime": now, "lastTransitionTime": now,
    }]}});
    plane
        .kubectl(&[
            "patch",
            "node",
            NODE_NAME,
            "--subresource=status",
            "--type=merge",
            "-p",
            &patch.to_string(),
        ])
        .unwrap();
}

/// `plinth-agent cluster labels` once, with what the node's `cluster-labels` is started with.
fn label(root: &Path, plane: &ControlPlane, yaml: &str) {
    let config = plinth_config::parse("cluster.yaml", yaml).unwrap().config;
    let wanted = node::labeller_wants(&config);
    let mut command = Command::new(agent());
    command
        .args(["cluster", "labels", "--timeout", "60", "--node", NODE_NAME])
        .arg("--kubeconfig")
        .arg(root.join("kubernetes/admin.conf"));
    for (k, v) in &wanted.labels {
        command.arg(format!("--label={k}={v}"));
    }
    for (k, v) in &wanted.annotations {
        command.arg(format!("--annotation={k}={v}"));
    }
    for t in &wanted.remove_taints {
        command.arg(format!("--remove-taint={t}"));
    }
    let out = command.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "labels: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        plane.dir.display()
    );
}

/// Nothing listening, but a node's files all there: every probe fails with its reason, the
/// report is whole, and the exit status is 1, quickly.
#[test]
fn a_down_cluster_gives_a_whole_report_of_failing_checks() {
    let dir = RunDir::fresh_at(target_dir().join("cluster-status-down"))
        .expect("emptying the test's directory");
    let root = dir.path().to_path_buf();
    let [client, peer, metrics, apiserver] = free_ports();
    let server = format!("https://127.0.0.1:{apiserver}");
    Pki::create(&root, first_service_ip("10.96.0.0/12"), &server);
    let (config, run) = node_files(&root, &config_yaml(client, peer, metrics));

    let start = Instant::now();
    let report = json_report(&root, &config, &run);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert_eq!(report["healthy"], false);
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "config",
            "node",
            "join",
            "etcd",
            "etcd-members",
            "apiserver",
            "node-ready",
            "labels",
            "taints"
        ]
    );
    assert_state(&report, "config", "ok", "role init");
    assert_state(&report, "node", "ok", NODE_NAME);
    assert_state(
        &report,
        "etcd",
        "failing",
        &format!("127.0.0.1:{metrics}/health"),
    );
    assert_state(
        &report,
        "etcd-members",
        "failing",
        &format!("127.0.0.1:{client}"),
    );
    assert_state(&report, "apiserver", "failing", &server);
    for name in ["etcd", "etcd-members", "apiserver"] {
        let (_, detail) = check(&report, name);
        assert!(
            detail.to_lowercase().contains("refused"),
            "{name}: {detail}"
        );
    }
    assert_state(&report, "node-ready", "failing", "not checked");
    assert_state(&report, "labels", "failing", "not checked");
    assert_state(&report, "taints", "failing", "not checked");

    // The table too: one row per check, and the count.
    let out = status(&root, &config, &run, false);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(table.contains("apiserver     FAILING"), "{table}");
    assert!(
        table.contains("not healthy: 6 of 9 checks failing"),
        "{table}"
    );

    // Without the node's files at all: still a report, not an error.
    let none = root.join("nothing");
    let out = status(&none, &none.join("cluster.yaml"), &none, true);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(report["checks"].as_array().unwrap().len(), 9);
    assert_state(&report, "node", "failing", "cluster prep");
    assert_state(&report, "apiserver", "failing", "admin.conf");
}
