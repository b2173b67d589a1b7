//! The join secrets of `plinth.cluster`: the bootstrap token, the certificate key, the CA pin and an
//! operator-supplied CA — their shapes, which roles take them, and files given instead of values.
//! Messages about a secret never quote it.

use super::{Finding, root};
use crate::config::MachineConfig;
use crate::plinth::{Cluster, Role};
use crate::yaml::KeyPath;

/// What a bootstrap token looks like, for messages.
pub const TOKEN_SHAPE: &str =
    "expected a bootstrap token `abcdef.0123456789abcdef` ([a-z0-9]{6}.[a-z0-9]{16})";

/// Whether `text` is a kubeadm bootstrap token, `[a-z0-9]{6}.[a-z0-9]{16}`.
pub fn is_bootstrap_token(text: &str) -> bool {
    let lower = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    text.split_once('.').is_some_and(|(id, secret)| {
        id.len() == 6 && secret.len() == 16 && lower(id) && lower(secret)
    })
}

/// Whether `text` is a certificate key: 64 hex digits (32 bytes).
pub fn is_certificate_key(text: &str) -> bool {
    is_hex(text, 64)
}

/// Whether `text` is a CA pin: `sha256:` and 64 hex digits.
pub fn is_ca_cert_hash(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|h| is_hex(h, 64))
}

fn is_hex(text: &str, digits: usize) -> bool {
    text.len() == digits && text.chars().all(|c| c.is_ascii_hexdigit())
}

const SECRET: &str = "the value is a secret and not shown";

pub(super) fn check(config: &MachineConfig, out: &mut Vec<Finding>) {
    let cluster = &config.plinth.cluster;
    let at = root("plinth").key("cluster");
    token(cluster, &at, out);
    certificate_key(cluster, &at, out);
    if let Some(hash) = &cluster.ca_cert_hash {
        if !is_ca_cert_hash(hash) {
            out.push(Finding::error(
                at.key("ca_cert_hash"),
                "expected `sha256:` and 64 hex digits (the SHA-256 of the cluster CA's public key, as `kubeadm token create --print-join-command` prints it)",
            ));
        } else if cluster.role == Role::Init {
            out.push(Finding::warning(
                at.key("ca_cert_hash"),
                "`ca_cert_hash` is unused on role `init`: it pins the CA for nodes that join (`server`, `agent`)",
            ));
        }
    }
    ca(cluster, &at, out);
}

fn token(cluster: &Cluster, at: &KeyPath, out: &mut Vec<Finding>) {
    if cluster.is_joiner() && cluster.token.is_none() && cluster.token_file.is_none() {
        out.push(
            Finding::error(
                at.key("role"),
                format!(
                    "role `{}` needs `token` or `token_file` to join",
                    cluster.role.as_str()
                ),
            )
            .related(at.key("token"))
            .related(at.key("token_file")),
        );
    }
    if let Some(token) = &cluster.token
        && !is_bootstrap_token(token)
    {
        out.push(Finding::error(
            at.key("token"),
            format!("{TOKEN_SHAPE}; {SECRET}"),
        ));
    }
    exclusive_file(
        cluster.token.is_some(),
        &cluster.token_file,
        at,
        "token",
        out,
    );
}

fn certificate_key(cluster: &Cluster, at: &KeyPath, out: &mut Vec<Finding>) {
    let given = cluster.certificate_key.is_some() || cluster.certificate_key_file.is_some();
    let etcd_member = cluster.etcd_member();
    match cluster.role {
        // An etcd-member agent decrypts the etcd CA from the shared certificates with it.
        Role::Agent if etcd_member && !given => out.push(
            Finding::error(
                at.key("etcd").key("member"),
                "an agent that runs an etcd member needs `certificate_key` or `certificate_key_file`: its etcd certificates are issued from the cluster's etcd CA, which the control planes' shared certificates hold",
            )
            .related(at.key("certificate_key"))
            .related(at.key("certificate_key_file")),
        ),
        Role::Agent if given && !etcd_member => {
            let key = if cluster.certificate_key.is_some() {
                "certificate_key"
            } else {
                "certificate_key_file"
            };
            out.push(Finding::error(
                at.key(key),
                format!("an agent does not join the control plane and takes no `{key}`: it unlocks the cluster's CA keys, give it to control planes only (or to an agent with `etcd.member: true`)"),
            ));
        }
        Role::Server if !given => out.push(
            Finding::error(
                at.key("role"),
                "role `server` joins the control plane and needs `certificate_key` or `certificate_key_file` (the key of the control planes' shared certificates)",
            )
            .related(at.key("certificate_key"))
            .related(at.key("certificate_key_file")),
        ),
        _ => {}
    }
    if let Some(key) = &cluster.certificate_key
        && !is_certificate_key(key)
    {
        out.push(Finding::error(
            at.key("certificate_key"),
            format!("expected a certificate key of 64 hex digits (as `kubeadm certs certificate-key` prints it); {SECRET}"),
        ));
    }
    exclusive_file(
        cluster.certificate_key.is_some(),
        &cluster.certificate_key_file,
        at,
        "certificate_key",
        out,
    );
}

/// `NAME_file` instead of `NAME`: not both, and an absolute path.
fn exclusive_file(
    value: bool,
    file: &Option<String>,
    at: &KeyPath,
    name: &str,
    out: &mut Vec<Finding>,
) {
    let Some(file) = file else {
        return;
    };
    let key = format!("{name}_file");
    if value {
        out.push(Finding::error(
            at.key(&key),
            format!("give `{name}` or `{key}`, not both"),
        ));
    }
    if !file.starts_with('/') {
        out.push(Finding::error(
            at.key(&key),
            format!("`{file}` must be an absolute path"),
        ));
    }
}

fn ca(cluster: &Cluster, at: &KeyPath, out: &mut Vec<Finding>) {
    let Some(ca) = &cluster.ca else {
        return;
    };
    let at = at.key("ca");
    if cluster.role == Role::Agent {
        out.push(Finding::error(
            at.clone(),
            "an agent takes no cluster CA: it is for control planes (`init`, `server`); a joiner pins the CA with `ca_cert_hash`",
        ));
    }
    match (&ca.cert, &ca.key) {
        (None, None) => out.push(Finding::error(at.clone(), "`ca` needs `cert` and `key`")),
        (None, Some(_)) => out.push(Finding::error(
            at.clone(),
            "`ca` has a `key` but no `cert`: give both",
        )),
        (Some(_), None) => out.push(Finding::error(
            at.clone(),
            "`ca` has a `cert` but no `key`: give both",
        )),
        (Some(_), Some(_)) => {}
    }
    if let Some(cert) = &ca.cert {
        if cert.contains("PRIVATE KEY-----") {
            out.push(Finding::error(
                at.key("cert"),
                "`cert` holds a private key: put it in `key` (the certificate is shown, the key never)",
            ));
        } else if !pem_block(cert, "CERTIFICATE") {
            out.push(Finding::error(
                at.key("cert"),
                "expected a PEM certificate (`-----BEGIN CERTIFICATE-----` … `-----END CERTIFICATE-----`)",
            ));
        }
    }
    if let Some(key) = &ca.key {
        if key.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            out.push(Finding::error(
                at.key("key"),
                "the private key is encrypted: give it unencrypted (it is kept 0600 and never shown)",
            ));
        } else if !["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"]
            .iter()
            .any(|label| pem_block(key, label))
        {
            out.push(Finding::error(
                at.key("key"),
                format!("expected a PEM private key (`-----BEGIN PRIVATE KEY-----`, or an RSA or EC key); {SECRET}"),
            ));
        }
    }
}

/// Whether `text` holds a PEM block with `label`, begin line before end line.
fn pem_block(text: &str, label: &str) -> bool {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    text.find(&begin)
        .is_some_and(|b| text[b + begin.len()..].contains(&end))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "7k3m9q.4f8h2j6l0n1p3r5t";
    const KEY: &str = "3f1c9a7e5b2d8f4a6c0e9b1d7a3f5c8e2b4d6f0a9c1e3b5d7f9a2c4e6b8d0f1a";
    const HASH: &str = "sha256:9e2b7c4a1f6d3e8b5a0c7f2d9e4b1a6c3f8d5e0b7a2c9f4d1e6b3a8c5f0d7e2b";

    /// The rendered diagnostics of `cluster` (the lines under `plinth.cluster:`, indented by 4).
    fn diagnostics(cluster: &str) -> Vec<String> {
        super::super::rendered(&format!("#cloud-config\nplinth:\n  cluster:\n{cluster}"))
    }

    #[test]
    fn shapes() {
        assert!(is_bootstrap_token(TOKEN));
        assert!(is_bootstrap_token("abcdef.0123456789abcdef"));
        for bad in [
            "",
            "abcdef",
            "ABCDEF.0123456789abcdef",
            "abcde.0123456789abcdefg",
            "abcdef.0123456789abcde",
            "abcdef:0123456789abcdef",
            "abcdef.0123456789abcdef.",
            "abcdéf.0123456789abcdef",
        ] {
            assert!(!is_bootstrap_token(bad), "{bad}");
        }
        assert!(is_certificate_key(KEY));
        assert!(is_certificate_key(&KEY.to_uppercase()));
        assert!(!is_certificate_key(&KEY[1..]));
        assert!(!is_certificate_key(&format!("{}g", &KEY[1..])));
        assert!(is_ca_cert_hash(HASH));
        assert!(!is_ca_cert_hash(&HASH[7..]));
        assert!(!is_ca_cert_hash(&format!("sha1:{}", &HASH[7..])));
    }

    #[test]
    fn a_token_of_the_wrong_shape_is_refused_without_showing_it() {
        let secret = "My-Secret-Token";
        let d = diagnostics(&format!("    role: init\n    token: {secret}\n"));
        assert_eq!(
            d,
            [
                "t:5:12: error: expected a bootstrap token `abcdef.0123456789abcdef` ([a-z0-9]{6}.[a-z0-9]{16}); the value is a secret and not shown (at plinth.cluster.token)"
            ]
        );
        assert!(!d[0].contains(secret));
        let d = diagnostics("    role: init\n    token: \"\"\n");
        assert!(
            d[0].starts_with("t:5:12: error: expected a bootstrap token"),
            "{d:?}"
        );
    }

    #[test]
    fn joiners_need_a_token_and_servers_a_certificate_key() {
        assert_eq!(
            diagnostics("    role: server\n    endpoint: 192.0.2.11\n"),
            [
                "t:4:11: error: role `server` joins the control plane and needs `certificate_key` or `certificate_key_file` (the key of the control planes' shared certificates) (at plinth.cluster.role)",
                "t:4:11: error: role `server` needs `token` or `token_file` to join (at plinth.cluster.role)",
            ]
        );
        let ok = format!(
            "    role: server\n    endpoint: 192.0.2.11\n    token: {TOKEN}\n    certificate_key_file: /var/lib/plinth/secrets/certificate-key\n    ca_cert_hash: {HASH}\n"
        );
        assert_eq!(diagnostics(&ok), Vec::<String>::new());
        let both = format!(
            "    role: agent\n    endpoint: 192.0.2.11\n    token: {TOKEN}\n    token_file: secrets/token\n"
        );
        assert_eq!(
            diagnostics(&both),
            [
                "t:7:17: error: `secrets/token` must be an absolute path (at plinth.cluster.token_file)",
                "t:7:17: error: give `token` or `token_file`, not both (at plinth.cluster.token_file)",
            ]
        );
    }

    #[test]
    fn certificate_keys() {
        let bad = "0123abcd";
        let d = diagnostics(&format!("    role: init\n    certificate_key: {bad}\n"));
        assert_eq!(
            d,
            [
                "t:5:22: error: expected a certificate key of 64 hex digits (as `kubeadm certs certificate-key` prints it); the value is a secret and not shown (at plinth.cluster.certificate_key)"
            ]
        );
        assert!(!d[0].contains(bad));
        let agent = format!(
            "    role: agent\n    endpoint: 192.0.2.11\n    token: {TOKEN}\n    certificate_key: {KEY}\n"
        );
        let d = diagnostics(&agent);
        assert_eq!(
            d,
            [
                "t:7:22: error: an agent does not join the control plane and takes no `certificate_key`: it unlocks the cluster's CA keys, give it to control planes only (or to an agent with `etcd.member: true`) (at plinth.cluster.certificate_key)"
            ]
        );
        assert!(!d[0].contains(KEY));
        // An agent running an etcd member needs the key for the etcd CA, and only then takes it.
        let member = format!(
            "    role: agent\n    endpoint: 192.0.2.11\n    token: {TOKEN}\n    etcd:\n      member: true\n"
        );
        assert_eq!(
            diagnostics(&member),
            [
                "t:8:15: error: an agent that runs an etcd member needs `certificate_key` or `certificate_key_file`: its etcd certificates are issued from the cluster's etcd CA, which the control planes' shared certificates hold (at plinth.cluster.etcd.member)"
            ]
        );
        assert_eq!(
            diagnostics(&format!("{member}    certificate_key: {KEY}\n")),
            Vec::<String>::new()
        );
        let both =
            format!("    role: init\n    certificate_key: {KEY}\n    certificate_key_file: /k\n");
        assert_eq!(
            diagnostics(&both),
            [
                "t:6:27: error: give `certificate_key` or `certificate_key_file`, not both (at plinth.cluster.certificate_key_file)"
            ]
        );
    }

    #[test]
    fn ca_cert_hashes() {
        assert_eq!(
            diagnostics(&format!(
                "    role: agent\n    endpoint: 192.0.2.11\n    token: {TOKEN}\n    ca_cert_hash: 9e2b7c4a\n"
            )),
            [
                "t:7:19: error: expected `sha256:` and 64 hex digits (the SHA-256 of the cluster CA's public key, as `kubeadm token create --print-join-command` prints it) (at plinth.cluster.ca_cert_hash)"
            ]
        );
        assert_eq!(
            diagnostics(&format!("    role: init\n    ca_cert_hash: {HASH}\n")),
            [
                "t:5:19: warning: `ca_cert_hash` is unused on role `init`: it pins the CA for nodes that join (`server`, `agent`) (at plinth.cluster.ca_cert_hash)"
            ]
        );
    }

    #[test]
    fn operator_supplied_ca() {
        let cert = "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n";
        let key = "-----BEGIN EC PRIVATE KEY-----\\nMHcC\\n-----END EC PRIVATE KEY-----\\n";
        let ca = |body: &str| diagnostics(&format!("    role: init\n    ca:\n{body}"));
        assert_eq!(
            ca(&format!("      cert: \"{cert}\"\n      key: \"{key}\"\n")),
            Vec::<String>::new()
        );
        assert_eq!(
            ca(&format!("      cert: \"{cert}\"\n")),
            ["t:6:7: error: `ca` has a `cert` but no `key`: give both (at plinth.cluster.ca)"]
        );
        assert_eq!(
            ca(&format!("      key: \"{key}\"\n")),
            ["t:6:7: error: `ca` has a `key` but no `cert`: give both (at plinth.cluster.ca)"]
        );
        assert_eq!(
            ca("      cert: MIIB\n      key: hunter2\n"),
            [
                "t:6:13: error: expected a PEM certificate (`-----BEGIN CERTIFICATE-----` … `-----END CERTIFICATE-----`) (at plinth.cluster.ca.cert)",
                "t:7:12: error: expected a PEM private key (`-----BEGIN PRIVATE KEY-----`, or an RSA or EC key); the value is a secret and not shown (at plinth.cluster.ca.key)",
            ]
        );
        assert_eq!(
            ca(&format!("      cert: \"{key}\"\n      key: \"{key}\"\n")),
            [
                "t:6:13: error: `cert` holds a private key: put it in `key` (the certificate is shown, the key never) (at plinth.cluster.ca.cert)"
            ]
        );
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\\nMIIF\\n-----END ENCRYPTED PRIVATE KEY-----\\n";
        assert!(
            ca(&format!(
                "      cert: \"{cert}\"\n      key: \"{encrypted}\"\n"
            ))[0]
                .starts_with("t:7:12: error: the private key is encrypted")
        );
        let agent = diagnostics(&format!(
            "    role: agent\n    endpoint: 192.0.2.11\n    token: {TOKEN}\n    ca:\n      cert: \"{cert}\"\n      key: \"{key}\"\n"
        ));
        assert_eq!(
            agent,
            [
                "t:8:7: error: an agent takes no cluster CA: it is for control planes (`init`, `server`); a joiner pins the CA with `ca_cert_hash` (at plinth.cluster.ca)"
            ]
        );
    }
}
