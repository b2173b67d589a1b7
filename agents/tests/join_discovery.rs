//! The joiner's side of kubeadm's discovery and of the control planes' shared certificates
//! (`plinth_agents::join`), against the image's REAL etcd, kube-apiserver and
//! kube-controller-manager on loopback (`support::control_plane`), after the real
//! `plinth-agent cluster bootstrap` made cluster-info and `kubeadm-certs`: cluster-info is signed
//! by the real bootstrapsigner, the answers and refusals are the real apiserver's.
//!
//! - discovery with the token and the right pin, or no pin, trusts the fixture's CA; a wrong
//!   secret, a wrong pin, an unknown token, a token not meant for signing, an expired token,
//!   a port with nothing listening and a server relaying cluster-info with a certificate the
//!   cluster CA did not sign (openssl s_server) each fail with their own kind;
//! - `kubeadm-certs` read with the token decrypts to the PKI's files byte for byte; a wrong
//!   certificate key, an unknown token and a token without kubeadm's group are refused;
//! - the files are written, kept when written again, and never over another cluster's file;
//! - the kubelet's bootstrap kubeconfig authenticates as `system:bootstrap:<id>`.
//!
//! Skipped (or failed with `CI=true`) without the image tree or curl, as `kubernetes_binaries`.
//! Everything is kept in `target/join-discovery/`.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant as StdInstant};

use plinth_agents::cluster::client::runtime;
use plinth_agents::cluster::token::{BootstrapToken, CertificateKey};
use plinth_agents::join::certs::{
    CertsFetchError, WriteError, fetch_control_plane_certs, write_shared_pki,
};
use plinth_agents::join::discovery::{
    CLUSTER_INFO_PATH, CaVerification, DiscoveryError, Trusted, discover,
};
use plinth_agents::join::kubeconfig::write_bootstrap_kubeconfig;
use plinth_agents::join::pin::CaPin;
use serde_json::Value;
use support::control_plane::{ControlPlane, Process, curl, free_ports};
use tokio::time::Instant;

const TOKEN: &str = "plinth.0123456789abcdef";
const CERTIFICATE_KEY: &str = "8f2c6e9a1b3d5f7081a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8";
/// A token made with kubectl for authentication only (no `usage-bootstrap-signing`).
const UNSIGNED: &str = "nosign.0123456789abcdef";
/// A token made with kubectl at the same time, for signing: once it is signed, the signer has
/// seen the unsigned one too.
const SIGNED: &str = "signed.0123456789abcdef";
/// A token made with kubectl, signing and authentication, expired.
const EXPIRED: &str = "expird.0123456789abcdef";
/// How long the bootstrapsigner may take to sign cluster-info.
const SIGNER: Duration = Duration::from_secs(90);
/// The deadline of discoveries that must fail after waiting.
const SHORT: Duration = Duration::from_secs(3);

fn token(text: &str) -> BootstrapToken {
    BootstrapToken::parse(text).unwrap()
}

fn agent() -> PathBuf {
    std::env::var_os("PLINTH_AGENT_BIN")
        .map_or_else(|| env!("CARGO_BIN_EXE_plinth-agent").into(), PathBuf::from)
}

#[test]
fn discovery_and_shared_certificates_against_a_real_control_plane() {
    const TEST: &str = "discovery_and_shared_certificates_against_a_real_control_plane";
    let start = StdInstant::now();
    let Some(mut plane) = ControlPlane::for_test(TEST, "join-discovery") else {
        return;
    };
    plane.start_controller_manager();
    plane.wait_healthz("kube-controller-manager", plane.ports.controller_manager);
    bootstrap(&plane);
    kubectl_tokens(&plane);
    eprintln!(
        "control plane up and bootstrapped after {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let endpoint = format!("127.0.0.1:{}", plane.ports.apiserver);
    let rt = runtime().unwrap();
    let trusted = rt.block_on(discovery(&plane, &endpoint));
    rt.block_on(shared_certificates(&plane, &endpoint, &trusted));
    bootstrap_kubeconfig(&plane, &trusted);
    eprintln!("the whole test took {:.1} s", start.elapsed().as_secs_f64());
}

/// `plinth-agent cluster bootstrap` with the token and the certificate key: cluster-info and
/// `kubeadm-certs`, as an init node makes them.
fn bootstrap(plane: &ControlPlane) {
    let dir = &plane.dir;
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let key_file = dir.join("certificate-key");
    std::fs::write(&key_file, format!("{CERTIFICATE_KEY}\n")).unwrap();
    let out = Command::new(agent())
        .args(["cluster", "bootstrap", "--timeout", "120", "--kubeconfig"])
        .arg(&plane.admin_conf)
        .arg("--token-file")
        .arg(&token_file)
        .arg("--certificate-key-file")
        .arg(&key_file)
        .arg("--pki-dir")
        .arg(dir.join("pki"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.join("bootstrap.log"), &text).unwrap();
    assert!(
        out.status.success(),
        "cluster bootstrap: {}\n{text}",
        out.status
    );
}

/// Token Secrets made as an operator would with kubectl: one for authentication only, one for
/// signing too, one expired.
fn kubectl_tokens(plane: &ControlPlane) {
    let expired = "2020-01-01T00:00:00Z";
    for (text, signing, expiration) in [
        (UNSIGNED, false, None),
        (SIGNED, true, None),
        (EXPIRED, true, Some(expired)),
    ] {
        let (id, secret) = text.split_once('.').unwrap();
        let mut args = vec![
            "create".to_owned(),
            "secret".into(),
            "generic".into(),
            format!("bootstrap-token-{id}"),
            "--namespace=kube-system".into(),
            "--type=bootstrap.kubernetes.io/token".into(),
            format!("--from-literal=token-id={id}"),
            format!("--from-literal=token-secret={secret}"),
            "--from-literal=usage-bootstrap-authentication=true".into(),
        ];
        if signing {
            args.push("--from-literal=usage-bootstrap-signing=true".into());
        }
        if let Some(expiration) = expiration {
            args.push(format!("--from-literal=expiration={expiration}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        plane
            .kubectl(&args)
            .unwrap_or_else(|e| panic!("creating the token {id}: {e}"));
    }
}

/// Runs discovery, saying how long it took.
async fn timed(
    what: &str,
    endpoint: &str,
    token: &BootstrapToken,
    pin: Option<&CaPin>,
    within: Duration,
) -> (Result<Trusted, DiscoveryError>, Duration) {
    let start = StdInstant::now();
    let got = discover(endpoint, token, pin, Instant::now() + within).await;
    let took = start.elapsed();
    match &got {
        Ok(_) => eprintln!("{what}: trusted after {:.2} s", took.as_secs_f64()),
        Err(e) => eprintln!(
            "{what}: {} after {:.2} s: {e}",
            e.kind(),
            took.as_secs_f64()
        ),
    }
    (got, took)
}

async fn discovery(plane: &ControlPlane, endpoint: &str) -> Trusted {
    let ca_pem = std::fs::read(&plane.pki.ca.cert).unwrap();
    let pin = CaPin::of_certificate(&ca_pem).unwrap();
    let good = token(TOKEN);

    // The token and the CA's pin: the fixture's CA, as the file holds it.
    let (got, _) = timed("right pin", endpoint, &good, Some(&pin), SIGNER).await;
    let trusted = got.unwrap_or_else(|e| panic!("discovery with the right pin: {e}"));
    assert_eq!(trusted.ca_pem, ca_pem);
    assert_eq!(trusted.server, format!("https://{endpoint}"));
    assert_eq!(trusted.ca_pin, pin);
    assert_eq!(trusted.verification, CaVerification::Pinned);

    // No pin: trusted on the signature alone, with kubeadm's warning to print.
    let (got, _) = timed("no pin", endpoint, &good, None, SIGNER).await;
    let unpinned = got.unwrap_or_else(|e| panic!("discovery without a pin: {e}"));
    assert_eq!(unpinned.ca_pem, ca_pem);
    assert_eq!(unpinned.verification, CaVerification::Unpinned);
    assert!(unpinned.unpinned_warning().is_some());

    // The same id, another secret: refused at once.
    let wrong_secret = token("plinth.0123456789abcdee");
    let (got, took) = timed("wrong secret", endpoint, &wrong_secret, None, SIGNER).await;
    let e = got.unwrap_err();
    assert_eq!(e.kind(), "bad-signature", "{e}");
    assert!(took < Duration::from_secs(10), "not waited for: {took:?}");
    assert!(!e.to_string().contains("0123456789abcde"), "{e}");

    // Another CA's pin: refused at once, both pins said.
    let other = CaPin::parse(&format!("sha256:{}", "ab".repeat(32))).unwrap();
    let (got, took) = timed("wrong pin", endpoint, &good, Some(&other), SIGNER).await;
    let e = got.unwrap_err();
    assert_eq!(
        e,
        DiscoveryError::PinMismatch {
            expected: other,
            found: pin
        }
    );
    assert!(took < Duration::from_secs(10), "not waited for: {took:?}");

    // A token id the cluster does not know: waited for until the deadline.
    let (got, took) = timed(
        "unknown id",
        endpoint,
        &token("nobody.0123456789abcdef"),
        None,
        SHORT,
    )
    .await;
    let e = got.unwrap_err();
    assert_eq!(e.kind(), "no-signature", "{e}");
    assert!(took >= SHORT && took < SHORT * 4, "{took:?}");

    // kubectl-made tokens: once the signing one is signed, the signer has seen the one without
    // `usage-bootstrap-signing` and the expired one, and signed neither.
    let (got, _) = timed("signing token", endpoint, &token(SIGNED), None, SIGNER).await;
    got.unwrap_or_else(|e| panic!("the kubectl-made signing token: {e}"));
    for (what, text) in [("unsigned token", UNSIGNED), ("expired token", EXPIRED)] {
        let (got, _) = timed(what, endpoint, &token(text), None, SHORT).await;
        let e = got.unwrap_err();
        assert_eq!(e.kind(), "no-signature", "{what}: {e}");
    }

    // Nothing listening.
    let [port] = free_ports();
    let (got, took) = timed(
        "nothing listening",
        &format!("127.0.0.1:{port}"),
        &good,
        None,
        SHORT,
    )
    .await;
    let e = got.unwrap_err();
    assert_eq!(e.kind(), "unreachable", "{e}");
    assert!(e.to_string().contains(&port.to_string()), "{e}");
    assert!(took >= SHORT && took < SHORT * 4, "{took:?}");

    impostor(plane, &good, &pin).await;
    trusted
}

/// A server that relays the real, signed cluster-info but is not the apiserver (openssl
/// s_server with a certificate of its own): the first, unverified read passes, the second,
/// trusting only the cluster CA, refuses it.
async fn impostor(plane: &ControlPlane, good: &BootstrapToken, pin: &CaPin) {
    let dir = plane.dir.join("impostor");
    let www = dir.join("www");
    let served = www.join(CLUSTER_INFO_PATH.trim_start_matches('/'));
    std::fs::create_dir_all(served.parent().unwrap()).unwrap();
    let url = format!(
        "https://127.0.0.1:{}{CLUSTER_INFO_PATH}",
        plane.ports.apiserver
    );
    let body = curl(&["--insecure", &url]).unwrap();
    std::fs::write(&served, body).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=impostor"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("running openssl");
    assert!(out.status.success(), "openssl req: {out:?}");
    let [port] = free_ports();
    let args = [
        "s_server".to_owned(),
        "-quiet".into(),
        "-WWW".into(),
        "-accept".into(),
        format!("127.0.0.1:{port}"),
        "-cert".into(),
        cert.display().to_string(),
        "-key".into(),
        key.display().to_string(),
    ];
    let _server = Process::spawn("openssl-s_server", &www, Path::new("openssl"), &args);
    let relayed = format!("https://127.0.0.1:{port}{CLUSTER_INFO_PATH}");
    let start = StdInstant::now();
    while curl(&["--insecure", &relayed]).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "openssl s_server does not answer"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let endpoint = format!("127.0.0.1:{port}");
    let (got, took) = timed("impostor", &endpoint, good, Some(pin), SIGNER).await;
    let e = got.unwrap_err();
    assert_eq!(e.kind(), "untrusted", "{e}");
    assert!(took < Duration::from_secs(10), "not waited for: {took:?}");
}

async fn shared_certificates(plane: &ControlPlane, endpoint: &str, trusted: &Trusted) {
    let key = CertificateKey::parse(CERTIFICATE_KEY).unwrap();
    let good = token(TOKEN);
    let pki = plane.dir.join("pki");
    let start = StdInstant::now();
    let files = fetch_control_plane_certs(trusted, endpoint, &good, &key)
        .await
        .unwrap_or_else(|e| panic!("fetching kubeadm-certs: {e}"));
    eprintln!(
        "kubeadm-certs fetched in {:.2} s",
        start.elapsed().as_secs_f64()
    );
    let want: BTreeMap<String, Vec<u8>> = [
        "ca.crt",
        "ca.key",
        "front-proxy-ca.crt",
        "front-proxy-ca.key",
        "etcd/ca.crt",
        "etcd/ca.key",
        "sa.key",
        "sa.pub",
    ]
    .into_iter()
    .map(|file| (file.to_owned(), std::fs::read(pki.join(file)).unwrap()))
    .collect();
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (file, bytes) in &want {
        assert!(files[file] == *bytes, "{file} differs from the PKI's");
    }

    let mut messages = Vec::new();
    let wrong_key = CertificateKey::parse(&"00".repeat(32)).unwrap();
    let e = fetch_control_plane_certs(trusted, endpoint, &good, &wrong_key)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "wrong-certificate-key", "{e}");
    eprintln!("a wrong certificate key: {e}");
    messages.push(e.to_string());

    let unknown = token("nobody.0123456789abcdef");
    let e = fetch_control_plane_certs(trusted, endpoint, &unknown, &key)
        .await
        .unwrap_err();
    assert!(matches!(e, CertsFetchError::Unauthorized { .. }), "{e}");
    eprintln!("an unknown token: {e}");
    messages.push(e.to_string());
    let e = fetch_control_plane_certs(trusted, endpoint, &token(EXPIRED), &key)
        .await
        .unwrap_err();
    assert!(matches!(e, CertsFetchError::Unauthorized { .. }), "{e}");
    eprintln!("an expired token: {e}");
    messages.push(e.to_string());
    // Authenticated, but without kubeadm's group that the kubeadm:kubeadm-certs Role is for.
    let e = fetch_control_plane_certs(trusted, endpoint, &token(UNSIGNED), &key)
        .await
        .unwrap_err();
    assert!(matches!(e, CertsFetchError::Forbidden { .. }), "{e}");
    eprintln!("a token without kubeadm's group: {e}");
    messages.push(e.to_string());
    for message in &messages {
        assert!(
            !message.contains("0123456789abcdef") && !message.contains(CERTIFICATE_KEY),
            "a secret in {message}"
        );
    }

    // Written into a fresh directory, again (kept), then refused over another cluster's file.
    let written = plane.dir.join("joiner/var/lib/plinth/pki");
    let report = write_shared_pki(&written, &files).unwrap();
    assert_eq!(report.written.len(), files.len());
    for (file, bytes) in &want {
        assert!(
            std::fs::read(written.join(file)).unwrap() == *bytes,
            "{file}"
        );
    }
    let report = write_shared_pki(&written, &files).unwrap();
    assert!(report.written.is_empty());
    assert_eq!(report.kept.len(), files.len());
    std::fs::remove_file(written.join("front-proxy-ca.key")).unwrap();
    std::fs::write(written.join("etcd/ca.crt"), b"another cluster's CA").unwrap();
    let e = write_shared_pki(&written, &files).unwrap_err();
    assert!(
        matches!(e, WriteError::Differs(ref p) if p.ends_with("etcd/ca.crt")),
        "{e}"
    );
    assert!(
        !written.join("front-proxy-ca.key").exists(),
        "nothing was written"
    );
}

/// The kubelet's bootstrap kubeconfig authenticates as the token.
fn bootstrap_kubeconfig(plane: &ControlPlane, trusted: &Trusted) {
    let path = plane
        .dir
        .join("joiner/etc/kubernetes/bootstrap-kubelet.conf");
    write_bootstrap_kubeconfig(&path, &trusted.server, &trusted.ca_pem, &token(TOKEN)).unwrap();
    let out = plane
        .kubectl_as(&path, &["auth", "whoami", "--output=json"])
        .unwrap_or_else(|e| panic!("kubectl auth whoami with the bootstrap kubeconfig: {e}"));
    let review: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let user = &review["status"]["userInfo"];
    assert_eq!(user["username"], "system:bootstrap:plinth", "{out}");
    let groups: Vec<&str> = user["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        groups.contains(&"system:bootstrappers:kubeadm:default-node-token"),
        "{groups:?}"
    );
}
