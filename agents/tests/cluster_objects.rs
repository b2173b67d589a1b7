//! The objects of a kubeadm cluster and the Genestack labeller, against the image's REAL etcd,
//! kube-apiserver and kube-controller-manager (with its bootstrapsigner) on loopback
//! (`support::control_plane`), driven through the real `plinth-agent cluster …` binary:
//!
//! - `bootstrap` makes the bootstrap token Secret, cluster-info (readable without credentials),
//!   the TLS-bootstrap RBAC and `kubeadm-certs`; the signature the real bootstrapsigner writes
//!   verifies with Plinth's own JWS code, byte for byte; the token authenticates and may read what
//!   a joiner reads; `kubeadm-certs` decrypts back to the PKI files; a second run writes nothing.
//! - `labels --watch` waits for a Node not yet created, applies Genestack labels and
//!   `ovn.openstack.org/*` annotations, removes the control-plane taint and keeps the others; a
//!   label or annotation deleted with kubectl comes back; a run wanting less removes what Plinth no
//!   longer owns and nothing else.
//!
//! Skipped (or failed with `CI=true`) without the image tree or curl, as `kubernetes_binaries`.
//! `PLINTH_AGENT_BIN` runs another build of the agent (the image's static one) instead of this one.
//! Everything is kept in `target/cluster-objects/`: the control plane's PKI, logs, and the
//! agents' logs (`bootstrap-*.log`, `labeller.log`).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use plinth_agents::cluster::token::CertificateKey;
use plinth_agents::cluster::{certs, jws, objects};
use qemu_tests::paths::{RunDir, target_dir};
use serde_json::Value;
use support::control_plane::{ControlPlane, Process, curl};

const TOKEN_ID: &str = "plinth";
const TOKEN_SECRET: &str = "0123456789abcdef";
const CERTIFICATE_KEY: &str = "8f2c6e9a1b3d5f7081a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8";
const NODE: &str = "genestack-1";
const BOOTSTRAP_GROUP: &str = "system:bootstrappers:kubeadm:default-node-token";
/// The labeller's `--interval`: a removed label must be back well within it.
const INTERVAL: Duration = Duration::from_secs(10);

/// The agent under test: this build's, or another one (the image's static musl build) named by
/// `PLINTH_AGENT_BIN`.
fn agent() -> PathBuf {
    std::env::var_os("PLINTH_AGENT_BIN")
        .map_or_else(|| env!("CARGO_BIN_EXE_plinth-agent").into(), PathBuf::from)
}

#[test]
fn kubeadm_objects_and_genestack_labels_on_a_real_control_plane() {
    const TEST: &str = "kubeadm_objects_and_genestack_labels_on_a_real_control_plane";
    let start = Instant::now();
    let Some(mut plane) = ControlPlane::for_test(TEST, "cluster-objects") else {
        return;
    };
    plane.start_controller_manager();
    let took = plane.wait_healthz("kube-controller-manager", plane.ports.controller_manager);
    eprintln!(
        "control plane up after {:.1} s (kube-controller-manager /healthz after {:.1} s)",
        start.elapsed().as_secs_f64(),
        took.as_secs_f64()
    );

    let dir = plane.dir.clone();
    bootstrap(&plane, &dir);
    labels(&plane, &dir);
    eprintln!("the whole test took {:.1} s", start.elapsed().as_secs_f64());
}

/// With no apiserver answering, `bootstrap` retries (saying so) and gives up at its timeout.
#[test]
fn bootstrap_retries_until_its_timeout_when_no_apiserver_answers() {
    let dir = RunDir::fresh_at(target_dir().join("cluster-objects-unreachable"))
        .expect("emptying the test's directory");
    let [port] = support::control_plane::free_ports();
    let server = format!("https://127.0.0.1:{port}");
    let service_ip = support::control_plane::first_service_ip("10.96.0.0/12");
    let pki = support::control_plane::Pki::create(dir.path(), service_ip, &server);
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{TOKEN_ID}.{TOKEN_SECRET}")).unwrap();
    let start = Instant::now();
    let out = Command::new(agent())
        .args(["cluster", "bootstrap", "--timeout", "3", "--kubeconfig"])
        .arg(pki.kubeconfig("super-admin.conf"))
        .arg("--token-file")
        .arg(&token_file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("retrying"), "{stderr}");
    assert!(stderr.contains("bootstrap-token-plinth"), "{stderr}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(15),
        "gave up after {took:?}:\n{stderr}"
    );
    assert!(!stderr.contains(TOKEN_SECRET), "{stderr}");
}

fn bootstrap(plane: &ControlPlane, dir: &Path) {
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{TOKEN_ID}.{TOKEN_SECRET}\n")).unwrap();
    let key_file = dir.join("certificate-key");
    std::fs::write(&key_file, format!("{CERTIFICATE_KEY}\n")).unwrap();
    let pki_dir = dir.join("pki");
    let args = [
        "cluster",
        "bootstrap",
        "--kubeconfig",
        &plane.admin_conf.to_string_lossy(),
        "--token-file",
        &token_file.to_string_lossy(),
        "--certificate-key-file",
        &key_file.to_string_lossy(),
        "--pki-dir",
        &pki_dir.to_string_lossy(),
        "--timeout",
        "120",
    ]
    .map(str::to_owned);

    let took = run_agent(dir, "bootstrap-1", &args);
    eprintln!("bootstrap (first run) took {:.1} s", took.as_secs_f64());

    // The token Secret, as kubeadm writes it, without expiration.
    let secret = get(
        plane,
        &["secret", "-n", "kube-system", "bootstrap-token-plinth"],
    );
    assert_eq!(secret["type"], "bootstrap.kubernetes.io/token");
    let data = decoded(&secret);
    for (key, value) in [
        ("token-id", TOKEN_ID),
        ("token-secret", TOKEN_SECRET),
        ("usage-bootstrap-authentication", "true"),
        ("usage-bootstrap-signing", "true"),
        ("auth-extra-groups", BOOTSTRAP_GROUP),
    ] {
        assert_eq!(
            String::from_utf8_lossy(&data[key]),
            value,
            "the token Secret's {key}"
        );
    }
    assert!(!data.contains_key("expiration"), "the token has no expiry");

    // kubeadm's TLS-bootstrap RBAC.
    for (name, role, kind, subject) in [
        (
            "kubeadm:kubelet-bootstrap",
            "system:node-bootstrapper",
            "Group",
            BOOTSTRAP_GROUP,
        ),
        (
            "kubeadm:node-autoapprove-bootstrap",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            "Group",
            BOOTSTRAP_GROUP,
        ),
        (
            "kubeadm:node-autoapprove-certificate-rotation",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            "Group",
            "system:nodes",
        ),
        (
            "kubeadm:get-nodes",
            "kubeadm:get-nodes",
            "Group",
            BOOTSTRAP_GROUP,
        ),
        (
            "kubeadm:cluster-admins",
            "cluster-admin",
            "Group",
            "kubeadm:cluster-admins",
        ),
        (
            "kube-apiserver-kubelet-client",
            "system:kubelet-api-admin",
            "User",
            "kube-apiserver-kubelet-client",
        ),
    ] {
        let binding = get(plane, &["clusterrolebinding", name]);
        assert_eq!(binding["roleRef"]["name"], role, "{name}'s role");
        assert_eq!(binding["subjects"][0]["kind"], kind, "{name}'s subject");
        assert_eq!(binding["subjects"][0]["name"], subject, "{name}'s subject");
    }
    // `admin.conf` (group kubeadm:cluster-admins) is an admin now.
    let admin = plane.pki.kubeconfig("admin.conf");
    let can = plane
        .kubectl_as(&admin, &["auth", "can-i", "*", "*"])
        .unwrap_or_else(|e| panic!("admin.conf: {e}"));
    assert_eq!(can.trim(), "yes", "admin.conf is cluster-admin");

    // cluster-info, read as a joiner does: no credentials, no TLS verification.
    let base = format!("https://127.0.0.1:{}", plane.ports.apiserver);
    let url = format!("{base}/api/v1/namespaces/kube-public/configmaps/cluster-info");
    let body = curl(&["--insecure", &url]).unwrap_or_else(|e| panic!("anonymous GET: {e}"));
    let info: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let kubeconfig = info["data"]["kubeconfig"].as_str().unwrap_or_else(|| {
        panic!("cluster-info has no kubeconfig, or anonymous was refused: {body}")
    });
    let ca = std::fs::read(&plane.pki.ca.cert).unwrap();
    assert_eq!(
        kubeconfig,
        objects::cluster_info_kubeconfig(&base, &ca),
        "cluster-info holds the server and the CA, nothing else"
    );
    // The real bootstrapsigner's signature, verified by Plinth's verifier (string compare).
    let signature = info["data"]["jws-kubeconfig-plinth"]
        .as_str()
        .unwrap_or_else(|| panic!("no jws-kubeconfig-plinth: {body}"));
    assert!(
        jws::verify(signature, kubeconfig, TOKEN_ID, TOKEN_SECRET),
        "the bootstrapsigner's {signature} does not verify"
    );
    assert_eq!(
        jws::compute_detached(kubeconfig, TOKEN_ID, TOKEN_SECRET),
        signature,
        "Plinth's JWS is byte for byte the controller's"
    );
    assert!(!jws::verify(
        signature,
        kubeconfig,
        TOKEN_ID,
        "0123456789abcdee"
    ));
    // Anonymous gets nothing else.
    let secrets = curl(&[
        "--insecure",
        "--write-out",
        "\n%{http_code}",
        &format!("{base}/api/v1/namespaces/kube-system/secrets"),
    ])
    .unwrap();
    assert!(
        secrets.ends_with("\n403"),
        "anonymous listing secrets: {secrets}"
    );

    // The token authenticates (system:bootstrap:plinth) and may read what a joiner reads.
    let bearer = format!("Authorization: Bearer {TOKEN_ID}.{TOKEN_SECRET}");
    let status = |path: &str| {
        curl(&[
            "--insecure",
            "--header",
            &bearer,
            "--output",
            "/dev/null",
            "--write-out",
            "%{http_code}",
            &format!("{base}{path}"),
        ])
        .unwrap()
    };
    assert_eq!(
        status("/api/v1/namespaces/kube-system/secrets/kubeadm-certs"),
        "200"
    );
    assert_eq!(
        status("/api/v1/nodes/no-such-node"),
        "404",
        "kubeadm:get-nodes"
    );
    assert_eq!(status("/api/v1/namespaces/kube-system/secrets"), "403");

    // kubeadm-certs decrypts back to the PKI files.
    let key = CertificateKey::parse(CERTIFICATE_KEY).unwrap();
    let secret = get(plane, &["secret", "-n", "kube-system", "kubeadm-certs"]);
    let decrypted = certs::decrypt_all(&decoded(&secret), &key).expect("decrypting kubeadm-certs");
    let files = [
        ("ca.crt", "ca.crt"),
        ("ca.key", "ca.key"),
        ("front-proxy-ca.crt", "front-proxy-ca.crt"),
        ("front-proxy-ca.key", "front-proxy-ca.key"),
        ("etcd-ca.crt", "etcd/ca.crt"),
        ("etcd-ca.key", "etcd/ca.key"),
        ("sa.key", "sa.key"),
        ("sa.pub", "sa.pub"),
    ];
    assert_eq!(decrypted.len(), files.len(), "{:?}", decrypted.keys());
    for (name, file) in files {
        let want = std::fs::read(pki_dir.join(file)).unwrap();
        assert!(!want.is_empty());
        assert_eq!(decrypted[name], want, "kubeadm-certs' {name} is {file}");
    }
    let role = get(
        plane,
        &["role", "-n", "kube-system", "kubeadm:kubeadm-certs"],
    );
    assert_eq!(role["rules"][0]["resourceNames"][0], "kubeadm-certs");

    // A second run writes nothing.
    let before = versions(plane);
    let took = run_agent(dir, "bootstrap-2", &args);
    eprintln!("bootstrap (second run) took {:.1} s", took.as_secs_f64());
    assert_eq!(versions(plane), before, "the second run changed objects");
    let log = std::fs::read_to_string(dir.join("bootstrap-2.log")).unwrap();
    assert!(
        !log.contains(": created") && !log.contains(": updated") && !log.contains(": recreated"),
        "{log}"
    );
    assert!(
        !log.contains(TOKEN_SECRET) && !log.contains(CERTIFICATE_KEY),
        "secrets in the log"
    );
}

fn labels(plane: &ControlPlane, dir: &Path) {
    let admin = plane.pki.kubeconfig("admin.conf");
    let mut args: Vec<String> = [
        "cluster",
        "labels",
        "--kubeconfig",
        &admin.to_string_lossy(),
        "--node",
        NODE,
        "--role",
        "compute",
        "--role",
        "worker",
        "--label",
        "openstack-control-plane=enabled",
        "--annotation",
        "ovn.openstack.org/bridges=br-ex",
        "--annotation",
        "ovn.openstack.org/mappings=physnet1:br-ex",
        "--remove-taint",
        "node-role.kubernetes.io/control-plane:NoSchedule",
    ]
    .map(str::to_owned)
    .to_vec();
    let mut watch_args = args.clone();
    watch_args
        .extend(["--watch", "--interval", &INTERVAL.as_secs().to_string()].map(str::to_owned));
    // Started before the Node exists: it waits for it.
    let watcher = Process::spawn("labeller", dir, &agent(), &watch_args);
    std::thread::sleep(Duration::from_secs(2));

    let manifest = dir.join("node.yaml");
    std::fs::write(
        &manifest,
        format!(
            "apiVersion: v1
kind: Node
metadata:
  name: {NODE}
  labels:
    kubernetes.io/hostname: {NODE}
    kubernetes.io/os: linux
spec:
  taints:
  - key: node-role.kubernetes.io/control-plane
    effect: NoSchedule
  - key: example.com/dedicated
    value: storage
    effect: NoExecute
"
        ),
    )
    .unwrap();
    let created = Instant::now();
    plane
        .kubectl(&["create", "-f", &manifest.to_string_lossy()])
        .unwrap_or_else(|e| panic!("creating the Node: {e}"));

    let wanted_labels = [
        ("openstack-compute-node", "enabled"),
        ("openstack-network-node", "enabled"),
        ("node-role.kubernetes.io/worker", "worker"),
        ("openstack-control-plane", "enabled"),
    ];
    let wanted_annotations = [
        ("ovn.openstack.org/bridges", "br-ex"),
        ("ovn.openstack.org/mappings", "physnet1:br-ex"),
    ];
    let labelled = |node: &Value| {
        wanted_labels
            .iter()
            .all(|(k, v)| node["metadata"]["labels"][k] == *v)
            && wanted_annotations
                .iter()
                .all(|(k, v)| node["metadata"]["annotations"][k] == *v)
            && !taint_keys(node).contains(&"node-role.kubernetes.io/control-plane".to_owned())
    };
    let node = wait_for(
        plane,
        &watcher,
        "the Node labelled",
        Duration::from_secs(30),
        labelled,
    );
    eprintln!(
        "node labelled and untainted {:.1} s after it was created",
        created.elapsed().as_secs_f64()
    );
    assert_eq!(
        node["metadata"]["labels"]["kubernetes.io/os"], "linux",
        "others' labels kept"
    );
    assert!(
        taint_keys(&node).contains(&"example.com/dedicated".to_owned()),
        "other taints kept: {:?}",
        taint_keys(&node)
    );
    let managers: Vec<(String, String)> = node["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["manager"].as_str().unwrap_or_default().to_owned(),
                m["operation"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        managers.contains(&("plinth".to_owned(), "Apply".to_owned())),
        "{managers:?}"
    );

    // Deleted by hand, put back by the watcher.
    for change in [
        vec!["label", "node", NODE, "node-role.kubernetes.io/worker-"],
        vec!["annotate", "node", NODE, "ovn.openstack.org/bridges-"],
        vec![
            "label",
            "node",
            NODE,
            "--overwrite",
            "openstack-compute-node=disabled",
        ],
    ] {
        plane
            .kubectl(&change)
            .unwrap_or_else(|e| panic!("kubectl {}: {e}", change.join(" ")));
        let removed = Instant::now();
        wait_for(
            plane,
            &watcher,
            &format!("{} undone", change.join(" ")),
            INTERVAL,
            labelled,
        );
        eprintln!(
            "kubectl {}: undone after {:.1} s",
            change.join(" "),
            removed.elapsed().as_secs_f64()
        );
    }
    drop(watcher);

    // Wanting less: what Plinth no longer wants goes, what others set stays.
    plane
        .kubectl(&["label", "node", NODE, "example.com/rack=r1"])
        .unwrap();
    args.retain(|a| a != "compute");
    let pos = args.iter().position(|a| a == "--role").unwrap();
    args.remove(pos);
    run_agent(dir, "labels-once", &args);
    let node = get(plane, &["node", NODE]);
    let labels = &node["metadata"]["labels"];
    assert!(labels.get("openstack-compute-node").is_none(), "{labels}");
    assert!(labels.get("openstack-network-node").is_none(), "{labels}");
    assert_eq!(labels["node-role.kubernetes.io/worker"], "worker");
    assert_eq!(labels["example.com/rack"], "r1");
    assert_eq!(labels["kubernetes.io/hostname"], NODE);
}

/// Runs `plinth-agent ARGS…` to success, logging to `<dir>/<name>.log`; how long it took.
fn run_agent(dir: &Path, name: &str, args: &[String]) -> Duration {
    let log = dir.join(format!("{name}.log"));
    let start = Instant::now();
    let out = Command::new(agent())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", agent().display()));
    let took = start.elapsed();
    let text = format!(
        "$ plinth-agent {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&log, &text).unwrap();
    assert!(out.status.success(), "{name}: {}\n{text}", out.status);
    took
}

/// `kubectl get KIND NAME -o json`.
fn get(plane: &ControlPlane, what: &[&str]) -> Value {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    args.push("--output=json");
    let out = plane
        .kubectl(&args)
        .unwrap_or_else(|e| panic!("kubectl get {}: {e}", what.join(" ")));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// A Secret's data, decoded.
fn decoded(secret: &Value) -> BTreeMap<String, Vec<u8>> {
    secret["data"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), STANDARD.decode(v.as_str().unwrap()).unwrap()))
        .collect()
}

fn taint_keys(node: &Value) -> Vec<String> {
    node["spec"]["taints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["key"].as_str().map(str::to_owned))
        .collect()
}

/// The resourceVersions of everything `bootstrap` makes.
fn versions(plane: &ControlPlane) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (kind, namespace) in [
        ("secrets", "kube-system"),
        ("roles", "kube-system"),
        ("rolebindings", "kube-system"),
        ("configmaps", "kube-public"),
        ("roles", "kube-public"),
        ("rolebindings", "kube-public"),
    ] {
        let list = get(plane, &[kind, "-n", namespace]);
        for item in list["items"].as_array().unwrap() {
            out.push((
                format!("{kind} {namespace}/{}", item["metadata"]["name"]),
                item["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ));
        }
    }
    for kind in ["clusterroles", "clusterrolebindings"] {
        let list = get(plane, &[kind]);
        for item in list["items"].as_array().unwrap() {
            let name = item["metadata"]["name"].as_str().unwrap();
            if name.starts_with("kubeadm:") || name == "kube-apiserver-kubelet-client" {
                out.push((
                    format!("{kind} {name}"),
                    item["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// Polls the Node every 250 ms until `done`, failing after `timeout` (or when the watcher died).
fn wait_for(
    plane: &ControlPlane,
    watcher: &Process,
    what: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let node = plane
            .kubectl(&[
                "get",
                "node",
                NODE,
                "--output=json",
                "--show-managed-fields",
            ])
            .ok()
            .and_then(|out| serde_json::from_str::<Value>(&out).ok());
        if let Some(node) = node.filter(|n| done(n)) {
            return node;
        }
        if start.elapsed() > timeout {
            panic!(
                "{what}: not after {} s; the labeller's log:\n{}",
                timeout.as_secs(),
                support::control_plane::tail(&watcher.log, 40)
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
