//! `plinth-agent pki` for real: the built binary makes a control-plane node's PKI in a directory
//! under `target/pki/`, and openssl (never this crate's own reader) checks it — file modes, every
//! leaf and kubeconfig client certificate verifying against its CA, subjects, SANs and usages.
//! Then the promises of a set made once and kept: a second run changes no byte; an extra `--san`
//! re-issues `apiserver.crt` alone; a staging directory left by a power cut is removed and never
//! used; an operator's CA (RSA PKCS#1 and EC SEC1, as openssl writes them) becomes `pki/ca.crt`;
//! a damaged CA stops the run; etcd's files appear when etcd is enabled later.
//!
//! Needs `openssl` on the host.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use qemu_tests::paths::{RunDir, target_dir};

const LEAVES: [(&str, &str); 7] = [
    ("apiserver", "ca"),
    ("apiserver-kubelet-client", "ca"),
    ("front-proxy-client", "front-proxy-ca"),
    ("etcd/server", "etcd/ca"),
    ("etcd/peer", "etcd/ca"),
    ("etcd/healthcheck-client", "etcd/ca"),
    ("apiserver-etcd-client", "etcd/ca"),
];

const KUBECONFIGS: [(&str, &str); 6] = [
    (
        "admin.conf",
        "O=kubeadm:cluster-admins, CN=kubernetes-admin",
    ),
    (
        "super-admin.conf",
        "O=system:masters, CN=kubernetes-super-admin",
    ),
    (
        "controller-manager.conf",
        "CN=system:kube-controller-manager",
    ),
    ("scheduler.conf", "CN=system:kube-scheduler"),
    ("kubelet.conf", "O=system:nodes, CN=system:node:cp-1"),
    ("kube-proxy.conf", "CN=system:kube-proxy"),
];

/// A fresh directory for one test.
fn dir(test: &str) -> RunDir {
    RunDir::fresh_at(target_dir().join("pki").join(test)).expect("making the test directory")
}

/// The standard arguments, plus `extra`.
fn args<'a>(root: &'a Path, extra: &[&'a str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "pki",
        "--dir",
        &root.to_string_lossy(),
        "--node-name",
        "cp-1",
        "--address",
        "10.0.0.10",
        "--address",
        "fd00::10",
        "--service-cidr",
        "10.96.0.0/12",
        "--cluster-domain",
        "cluster.local",
        "--san",
        "api.example.com",
        "--apiserver-url",
        "https://10.0.0.10:6443",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn agent(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plinth-agent"))
        .args(args)
        .output()
        .expect("running plinth-agent")
}

/// Runs `plinth-agent pki` to success; its stdout.
fn pki(root: &Path, extra: &[&str]) -> String {
    let out = agent(&args(root, extra));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "plinth-agent pki: {}\n{stderr}{stdout}",
        out.status
    );
    assert!(
        !stdout.contains("BEGIN") && !stderr.contains("BEGIN"),
        "no PEM is ever printed:\n{stdout}"
    );
    stdout
}

/// Runs `openssl args…` to success; its stdout.
fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("running openssl (is it installed?)");
    assert!(
        out.status.success(),
        "openssl {}: {}\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `openssl verify -CAfile ca cert`.
fn verify(ca: &Path, cert: &Path) {
    let out = openssl(&["verify", "-CAfile", &path(ca), &path(cert)]);
    assert!(out.trim().ends_with(": OK"), "{out}");
}

/// The subject as openssl prints it (`CN=x` or `O=y, CN=x`).
fn subject(cert: &Path) -> String {
    openssl(&[
        "x509",
        "-noout",
        "-subject",
        "-nameopt",
        "sep_comma_plus_space,sname",
        "-in",
        &path(cert),
    ])
    .trim()
    .trim_start_matches("subject=")
    .to_owned()
}

/// The SAN line, as openssl prints it.
fn sans(cert: &Path) -> String {
    let out = openssl(&[
        "x509",
        "-noout",
        "-ext",
        "subjectAltName",
        "-in",
        &path(cert),
    ]);
    out.lines().nth(1).unwrap_or_default().trim().to_owned()
}

/// The extended key usage line.
fn usages(cert: &Path) -> String {
    let out = openssl(&[
        "x509",
        "-noout",
        "-ext",
        "extendedKeyUsage",
        "-in",
        &path(cert),
    ]);
    out.lines().nth(1).unwrap_or_default().trim().to_owned()
}

/// Every file under `root`, relative, with its bytes.
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn changed(before: &BTreeMap<String, Vec<u8>>, after: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let names: std::collections::BTreeSet<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    names.into_iter().cloned().collect()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Writes the client certificate embedded in a kubeconfig to `<file>.crt` beside it (in `out`),
/// and checks the CA embedded is `ca`.
fn kubeconfig_cert(conf: &Path, ca: &Path, out: &Path) -> PathBuf {
    let text = std::fs::read_to_string(conf).unwrap();
    let field = |name: &str| {
        let b64 = text
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("{}: no {name}", conf.display()));
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_else(|e| panic!("{}: {name}: {e}", conf.display()))
    };
    assert_eq!(
        field("certificate-authority-data"),
        std::fs::read(ca).unwrap(),
        "{}: the cluster CA",
        conf.display()
    );
    assert!(
        text.contains("    server: https://10.0.0.10:6443\n"),
        "{text}"
    );
    let cert = out.join(format!(
        "{}.crt",
        conf.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&cert, field("client-certificate-data")).unwrap();
    // The embedded key is the certificate's.
    let key = out.join("key.pem");
    std::fs::write(&key, field("client-key-data")).unwrap();
    let from_key = openssl(&["pkey", "-in", &path(&key), "-pubout"]);
    let from_cert = openssl(&["x509", "-in", &path(&cert), "-noout", "-pubkey"]);
    std::fs::remove_file(&key).unwrap();
    assert_eq!(
        from_key,
        from_cert,
        "{}: key and certificate",
        conf.display()
    );
    cert
}

/// Checks the whole set under `root`, whose cluster CA (`root/pki/ca.crt`) has the subject
/// `cluster_ca` (as openssl prints it).
fn check_set(root: &Path, scratch: &Path, cluster_ca: &str) {
    let pki = root.join("pki");
    for d in ["pki", "pki/etcd", "kubernetes"] {
        assert_eq!(mode(&root.join(d)), 0o700, "{d}");
    }
    for (name, want) in snapshot(root).keys().map(|k| {
        let secret = k.ends_with(".key") || k.ends_with(".conf");
        (k.clone(), if secret { 0o600 } else { 0o644 })
    }) {
        assert_eq!(mode(&root.join(&name)), want, "mode of {name}");
    }
    for (stem, ca) in LEAVES {
        verify(
            &pki.join(format!("{ca}.crt")),
            &pki.join(format!("{stem}.crt")),
        );
    }
    for ca in ["ca", "front-proxy-ca", "etcd/ca"] {
        let text = openssl(&[
            "x509",
            "-noout",
            "-text",
            "-in",
            &path(&pki.join(format!("{ca}.crt"))),
        ]);
        assert!(text.contains("CA:TRUE"), "{ca}:\n{text}");
        assert!(
            text.contains("Digital Signature, Key Encipherment, Certificate Sign"),
            "{ca}:\n{text}"
        );
    }
    assert_eq!(subject(&pki.join("ca.crt")), cluster_ca);
    assert_eq!(
        subject(&pki.join("front-proxy-ca.crt")),
        "CN=front-proxy-ca"
    );
    assert_eq!(subject(&pki.join("etcd/ca.crt")), "CN=etcd-ca");
    assert_eq!(subject(&pki.join("apiserver.crt")), "CN=kube-apiserver");
    assert_eq!(
        subject(&pki.join("apiserver-kubelet-client.crt")),
        "O=kubeadm:cluster-admins, CN=kube-apiserver-kubelet-client"
    );
    assert_eq!(
        subject(&pki.join("front-proxy-client.crt")),
        "CN=front-proxy-client"
    );
    assert_eq!(subject(&pki.join("etcd/server.crt")), "CN=cp-1");
    assert_eq!(
        subject(&pki.join("etcd/healthcheck-client.crt")),
        "CN=kube-etcd-healthcheck-client"
    );
    assert_eq!(
        subject(&pki.join("apiserver-etcd-client.crt")),
        "CN=kube-apiserver-etcd-client"
    );
    assert_eq!(
        sans(&pki.join("apiserver.crt")),
        "DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, \
         DNS:kubernetes.default.svc.cluster.local, DNS:cp-1, DNS:localhost, \
         IP Address:127.0.0.1, IP Address:10.96.0.1, IP Address:10.0.0.10, \
         IP Address:FD00:0:0:0:0:0:0:10, DNS:api.example.com"
    );
    for stem in ["etcd/server", "etcd/peer"] {
        assert_eq!(
            sans(&pki.join(format!("{stem}.crt"))),
            "DNS:cp-1, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, \
             IP Address:10.0.0.10, IP Address:FD00:0:0:0:0:0:0:10",
            "{stem}"
        );
        assert_eq!(
            usages(&pki.join(format!("{stem}.crt"))),
            "TLS Web Server Authentication, TLS Web Client Authentication",
            "{stem}"
        );
    }
    assert_eq!(
        usages(&pki.join("apiserver.crt")),
        "TLS Web Server Authentication"
    );
    for stem in [
        "apiserver-kubelet-client",
        "front-proxy-client",
        "apiserver-etcd-client",
    ] {
        assert_eq!(
            usages(&pki.join(format!("{stem}.crt"))),
            "TLS Web Client Authentication",
            "{stem}"
        );
    }
    // The service-account pair: sa.pub is sa.key's public key.
    assert_eq!(
        openssl(&["pkey", "-in", &path(&pki.join("sa.key")), "-pubout"]),
        std::fs::read_to_string(pki.join("sa.pub")).unwrap()
    );
    for (file, want) in KUBECONFIGS {
        let conf = root.join("kubernetes").join(file);
        let cert = kubeconfig_cert(&conf, &pki.join("ca.crt"), scratch);
        verify(&pki.join("ca.crt"), &cert);
        assert_eq!(subject(&cert), want, "{file}");
        assert_eq!(usages(&cert), "TLS Web Client Authentication", "{file}");
    }
}

#[test]
fn a_new_set_is_complete_and_checks_out_with_openssl() {
    let dir = dir("new-set");
    let root = dir.join("root");
    let out = pki(&root, &[]);
    assert!(
        out.contains("pki: 28 files in ") && out.contains(": 28 created, 0 reused, 0 reissued"),
        "{out}"
    );
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("pki: created "))
            .count(),
        28,
        "{out}"
    );
    assert!(!root.join(".pki-staging").exists());
    check_set(&root, dir.path(), "CN=kubernetes");
}

#[test]
fn a_second_run_reuses_every_byte_and_an_extra_san_reissues_only_the_apiserver_certificate() {
    let dir = dir("kept");
    let root = dir.join("root");
    pki(&root, &[]);
    let first = snapshot(&root);

    let out = pki(&root, &[]);
    assert_eq!(changed(&first, &snapshot(&root)), Vec::<String>::new());
    assert!(out.contains(": 0 created, 28 reused, 0 reissued"), "{out}");
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("pki: reused "))
            .count(),
        28,
        "{out}"
    );

    let out = pki(&root, &["--san", "192.0.2.7", "--san", "lb.example.com"]);
    let after = snapshot(&root);
    assert_eq!(changed(&first, &after), ["pki/apiserver.crt"]);
    assert!(
        out.contains(
            "pki: reissued pki/apiserver.crt: missing SANs IP:192.0.2.7, DNS:lb.example.com\n"
        ),
        "{out}"
    );
    assert!(out.contains(": 0 created, 27 reused, 1 reissued"), "{out}");
    let apiserver = root.join("pki/apiserver.crt");
    assert!(
        sans(&apiserver).ends_with("DNS:api.example.com, IP Address:192.0.2.7, DNS:lb.example.com"),
        "{}",
        sans(&apiserver)
    );
    verify(&root.join("pki/ca.crt"), &apiserver);
    // Its key is the one it had.
    assert_eq!(
        openssl(&[
            "pkey",
            "-in",
            &path(&root.join("pki/apiserver.key")),
            "-pubout"
        ]),
        openssl(&["x509", "-in", &path(&apiserver), "-noout", "-pubkey"])
    );

    // Nothing more to do after that, and a file mode put wrong is put right.
    std::fs::set_permissions(
        root.join("pki/sa.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = pki(&root, &["--san", "192.0.2.7", "--san", "lb.example.com"]);
    assert_eq!(changed(&after, &snapshot(&root)), Vec::<String>::new());
    assert!(
        out.contains("pki: reused pki/sa.key (its mode was 0644, corrected)\n"),
        "{out}"
    );
    assert_eq!(mode(&root.join("pki/sa.key")), 0o600);
}

#[test]
fn a_staging_directory_left_by_a_power_cut_is_removed_and_never_used() {
    let dir = dir("power-cut");
    // A complete set, as a first run had staged it when the power went: never committed.
    let other = dir.join("other");
    pki(&other, &[]);
    let root = dir.join("root");
    let staging = root.join(".pki-staging");
    std::fs::create_dir_all(&staging).unwrap();
    assert!(
        Command::new("cp")
            .arg("-a")
            .arg(other.join("pki"))
            .arg(other.join("kubernetes"))
            .arg(&staging)
            .status()
            .unwrap()
            .success()
    );
    // A half-written file, too.
    std::fs::write(staging.join("pki/apiserver.crt"), "-----BEGIN CERT").unwrap();

    let out = pki(&root, &[]);
    assert!(
        out.starts_with("pki: removed .pki-staging: an unfinished first run, never used"),
        "{out}"
    );
    assert!(out.contains(": 28 created, 0 reused, 0 reissued"), "{out}");
    assert!(!staging.exists());
    assert_ne!(
        std::fs::read(root.join("pki/ca.crt")).unwrap(),
        std::fs::read(other.join("pki/ca.crt")).unwrap(),
        "the staged CA is not the set's"
    );
    check_set(&root, dir.path(), "CN=kubernetes");
}

#[test]
fn a_committed_first_run_cut_before_its_kubeconfigs_moved_is_finished() {
    let dir = dir("cut-after-commit");
    let other = dir.join("other");
    pki(&other, &[]);
    let root = dir.join("root");
    // pki/ committed; the kubeconfigs still in the staging directory.
    std::fs::create_dir_all(root.join(".pki-staging")).unwrap();
    assert!(
        Command::new("cp")
            .arg("-a")
            .arg(other.join("pki"))
            .arg(&root)
            .status()
            .unwrap()
            .success()
    );
    assert!(
        Command::new("cp")
            .arg("-a")
            .arg(other.join("kubernetes"))
            .arg(root.join(".pki-staging"))
            .status()
            .unwrap()
            .success()
    );
    let out = pki(&root, &[]);
    assert!(
        out.contains("pki: moved kubernetes/admin.conf into place"),
        "{out}"
    );
    assert!(out.contains(": 0 created, 28 reused, 0 reissued"), "{out}");
    assert_eq!(
        changed(&snapshot(&other), &snapshot(&root)),
        Vec::<String>::new()
    );
}

/// An operator CA made by openssl: `rsa` (PKCS#1 `RSA PRIVATE KEY`) or `ec` (SEC1 `EC PRIVATE KEY`).
fn operator_ca(dir: &Path, kind: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("operator-{kind}.key"));
    let cert = dir.join(format!("operator-{kind}.crt"));
    match kind {
        "rsa" => openssl(&["genrsa", "-traditional", "-out", &path(&key), "2048"]),
        _ => openssl(&[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            &path(&key),
        ]),
    };
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        &path(&key),
        "-subj",
        &format!("/O=Example Ops/CN=operator-{kind}-ca"),
        "-days",
        "3650",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
        "-out",
        &path(&cert),
    ]);
    (cert, key)
}

#[test]
fn an_operators_ca_becomes_the_cluster_ca_and_signs_every_cluster_leaf() {
    let dir = dir("operator-ca");
    for kind in ["rsa", "ec"] {
        let (cert, key) = operator_ca(dir.path(), kind);
        let head = std::fs::read_to_string(&key).unwrap();
        let label = if kind == "rsa" {
            "RSA PRIVATE KEY"
        } else {
            "EC PRIVATE KEY"
        };
        assert!(
            head.starts_with(&format!("-----BEGIN {label}-----")),
            "{kind}: {head:.40}"
        );
        let root = dir.join(&format!("root-{kind}"));
        let ca_args = ["--ca-cert-file", &path(&cert), "--ca-key-file", &path(&key)];
        let out = pki(&root, &ca_args);
        assert!(
            out.contains("pki: copied pki/ca.crt from the operator's CA\n")
                && out.contains("pki: copied pki/ca.key from the operator's CA\n"),
            "{out}"
        );
        assert_eq!(
            std::fs::read(root.join("pki/ca.crt")).unwrap(),
            std::fs::read(&cert).unwrap(),
            "{kind}: pki/ca.crt is the operator's"
        );
        assert_eq!(mode(&root.join("pki/ca.key")), 0o600);
        check_set(
            &root,
            dir.path(),
            &format!("O=Example Ops, CN=operator-{kind}-ca"),
        );
        // The other CAs are still this agent's.
        assert_eq!(
            subject(&root.join("pki/front-proxy-ca.crt")),
            "CN=front-proxy-ca"
        );

        // Kept on the next run; another CA is refused rather than swapped in.
        let before = snapshot(&root);
        let out = pki(&root, &ca_args);
        assert!(out.contains(": 0 created, 28 reused, 0 reissued"), "{out}");
        assert_eq!(changed(&before, &snapshot(&root)), Vec::<String>::new());
        let (other_cert, other_key) = operator_ca(dir.path(), "other");
        let res = agent(&args(
            &root,
            &[
                "--ca-cert-file",
                &path(&other_cert),
                "--ca-key-file",
                &path(&other_key),
            ],
        ));
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert!(!res.status.success());
        assert!(
            stderr.contains("the set's cluster CA is not the operator's CA"),
            "{stderr}"
        );
        assert_eq!(changed(&before, &snapshot(&root)), Vec::<String>::new());
    }
}

#[test]
fn an_operator_key_that_is_not_the_certificates_is_refused_and_nothing_is_made() {
    let dir = dir("operator-mismatch");
    let (cert, _) = operator_ca(dir.path(), "rsa");
    let (_, key) = operator_ca(dir.path(), "ec");
    let root = dir.join("root");
    let res = agent(&args(
        &root,
        &["--ca-cert-file", &path(&cert), "--ca-key-file", &path(&key)],
    ));
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(!res.status.success());
    assert!(stderr.contains("not the CA certificate's key"), "{stderr}");
    assert!(!root.join("pki").exists());
}

#[test]
fn a_damaged_ca_stops_the_run_and_a_lost_leaf_is_made_again() {
    let dir = dir("damaged");
    let root = dir.join("root");
    pki(&root, &[]);

    // A lost leaf key: a new key and certificate, nothing else touched.
    let before = snapshot(&root);
    std::fs::remove_file(root.join("pki/front-proxy-client.key")).unwrap();
    let out = pki(&root, &[]);
    assert!(
        out.contains("pki: created pki/front-proxy-client.key\n"),
        "{out}"
    );
    assert!(
        out.contains("pki: reissued pki/front-proxy-client.crt: its key is missing\n"),
        "{out}"
    );
    assert_eq!(
        changed(&before, &snapshot(&root)),
        ["pki/front-proxy-client.crt", "pki/front-proxy-client.key"]
    );
    verify(
        &root.join("pki/front-proxy-ca.crt"),
        &root.join("pki/front-proxy-client.crt"),
    );

    // A lost cluster CA key: refused, nothing changed.
    let before = snapshot(&root);
    std::fs::remove_file(root.join("pki/ca.key")).unwrap();
    let res = agent(&args(&root, &[]));
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(!res.status.success());
    assert!(
        stderr.contains("pki/ca.{crt,key}: the certificate is there but its key is missing"),
        "{stderr}"
    );
    let mut after = snapshot(&root);
    after.insert("pki/ca.key".into(), before["pki/ca.key"].clone());
    assert_eq!(changed(&before, &after), Vec::<String>::new());
}

#[test]
fn etcd_files_appear_when_etcd_is_enabled_later() {
    let dir = dir("etcd-later");
    let root = dir.join("root");
    let out = pki(&root, &["--no-etcd"]);
    assert!(out.contains(": 18 created, 0 reused, 0 reissued"), "{out}");
    assert!(!root.join("pki/etcd").exists());
    assert!(!root.join("pki/apiserver-etcd-client.crt").exists());
    let before = snapshot(&root);
    let out = pki(&root, &[]);
    assert!(out.contains(": 10 created, 18 reused, 0 reissued"), "{out}");
    let mut made = changed(&before, &snapshot(&root));
    made.sort();
    assert_eq!(
        made,
        [
            "pki/apiserver-etcd-client.crt",
            "pki/apiserver-etcd-client.key",
            "pki/etcd/ca.crt",
            "pki/etcd/ca.key",
            "pki/etcd/healthcheck-client.crt",
            "pki/etcd/healthcheck-client.key",
            "pki/etcd/peer.crt",
            "pki/etcd/peer.key",
            "pki/etcd/server.crt",
            "pki/etcd/server.key",
        ]
    );
    check_set(&root, dir.path(), "CN=kubernetes");
}
