//! `plinthctl kubeconfig [--server URL]`: prints the node's admin kubeconfig (`admin.conf`, made by
//! `plinth-agent`'s PKI) so an operator can use the cluster from elsewhere, with the cluster's
//! `server:` replaced when the apiserver is reached another way (a forwarded port:
//! `plinthctl kubeconfig --server https://127.0.0.1:16443 > kc`; the apiserver's certificate
//! names 127.0.0.1).
//!
//! The replacement works on the text, not through a YAML library: PID 1's binary stays small,
//! and the file has the one shape the agent's `pki::kubeconfig` renders (one cluster, its
//! `server:` under the top-level `clusters:`). Only that line changes; every other byte,
//! certificates and key included, is printed as read.

use std::path::{Path, PathBuf};

/// The state root of a cluster node (`plinth-agent`'s `pki::DEFAULT_ROOT`).
pub const DEFAULT_ROOT: &str = "/var/lib/plinth";

/// The admin kubeconfig under a state root.
pub fn admin_conf(root: &Path) -> PathBuf {
    root.join("kubernetes").join("admin.conf")
}

/// Why a kubeconfig was not printed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum KubeconfigError {
    #[error(
        "no {0}: not a control-plane node, or the cluster is not prepared yet: see `plinthctl cluster`"
    )]
    Missing(String),
    #[error("cannot read {0}: {1}")]
    Read(String, String),
    #[error(
        "--server {0:?}: expected an https:// URL without spaces, such as https://127.0.0.1:16443"
    )]
    BadServer(String),
    // No detail quoted from the file: it holds the admin's key.
    #[error("{0} has no cluster `server:` line to replace")]
    NoServer(String),
    #[error("{0} has {1} clusters: --server would not know which to replace")]
    Ambiguous(String, usize),
}

/// The text to print: `admin.conf` under `root`, its server replaced by `server` if given.
pub fn kubeconfig(root: &Path, server: Option<&str>) -> Result<String, KubeconfigError> {
    let path = admin_conf(root);
    let name = path.display().to_string();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(KubeconfigError::Missing(name));
        }
        Err(e) => return Err(KubeconfigError::Read(name, e.to_string())),
    };
    match server {
        Some(server) => with_server(&text, server).map_err(|e| match e {
            KubeconfigError::NoServer(_) => KubeconfigError::NoServer(name),
            KubeconfigError::Ambiguous(_, n) => KubeconfigError::Ambiguous(name, n),
            other => other,
        }),
        None => Ok(text),
    }
}

/// `text` with the value of the one `server:` key under the top-level `clusters:` replaced by
/// `server` (indentation, list dash and line ending kept). Errors name no file (`kubeconfig`
/// adds it).
pub fn with_server(text: &str, server: &str) -> Result<String, KubeconfigError> {
    // Whitespace, `#` or a quote could end the scalar or start a comment: a URL needs none.
    let bad = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '#' | '"' | '\'');
    let host = server.strip_prefix("https://").unwrap_or_default();
    if host.is_empty() || host.starts_with('/') || server.contains(bad) {
        return Err(KubeconfigError::BadServer(server.to_owned()));
    }
    let mut out = String::with_capacity(text.len() + server.len());
    let mut in_clusters = false;
    let mut replaced = 0;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        let ending = &line[content.len()..];
        // A top-level key starts a section; list items and deeper lines stay in it.
        let top_level = !content.is_empty()
            && !content.starts_with([' ', '\t', '-', '#'])
            && content.contains(':');
        if top_level {
            in_clusters = content.trim_end() == "clusters:";
        }
        match server_value_at(content) {
            Some(at) if in_clusters && !top_level => {
                out.push_str(&content[..at]);
                out.push_str(server);
                out.push_str(ending);
                replaced += 1;
            }
            _ => out.push_str(line),
        }
    }
    match replaced {
        0 => Err(KubeconfigError::NoServer(String::new())),
        1 => Ok(out),
        n => Err(KubeconfigError::Ambiguous(String::new(), n)),
    }
}

/// Where the value of a `server:` key starts on `line` (`    server: URL`, `- server: URL`).
fn server_value_at(line: &str) -> Option<usize> {
    let rest = line.trim_start_matches([' ', '\t']);
    let rest = rest
        .strip_prefix("- ")
        .map_or(rest, |r| r.trim_start_matches(' '));
    let value = rest.strip_prefix("server:")?;
    if !value.is_empty() && !value.starts_with([' ', '\t']) {
        return None; // `server:x` is not the key `server`
    }
    let value_start = value.len() - value.trim_start_matches([' ', '\t']).len();
    Some(line.len() - value.len() + value_start)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape `plinth-agent`'s `pki::kubeconfig::Kubeconfig::render` writes.
    const ADMIN: &str = "apiVersion: v1
kind: Config
clusters:
- name: kubernetes
  cluster:
    certificate-authority-data: Q0EK
    server: https://10.0.0.5:6443
contexts:
- name: kubernetes-admin@kubernetes
  context:
    cluster: kubernetes
    user: kubernetes-admin
current-context: kubernetes-admin@kubernetes
preferences: {}
users:
- name: kubernetes-admin
  user:
    client-certificate-data: Q0VSVAo=
    client-key-data: S0VZCg==
";

    #[test]
    fn only_the_clusters_server_changes() {
        let got = with_server(ADMIN, "https://127.0.0.1:16443").unwrap();
        assert_eq!(
            got,
            ADMIN.replace(
                "    server: https://10.0.0.5:6443\n",
                "    server: https://127.0.0.1:16443\n"
            )
        );
        assert!(
            got.contains("client-key-data: S0VZCg==\n"),
            "the rest as read"
        );
    }

    #[test]
    fn indentation_list_dashes_and_crlf_are_kept() {
        let text = "clusters:\r\n  - cluster:\r\n      server:   https://a:6443\r\n    name: x\r\nusers: []\r\n";
        assert_eq!(
            with_server(text, "https://[fd00::1]:6443").unwrap(),
            "clusters:\r\n  - cluster:\r\n      server:   https://[fd00::1]:6443\r\n    name: x\r\nusers: []\r\n"
        );
        let dash = "clusters:\n- server: https://a:6443\n  name: x\n";
        assert_eq!(
            with_server(dash, "https://b:1").unwrap(),
            "clusters:\n- server: https://b:1\n  name: x\n"
        );
    }

    /// A `server:` elsewhere (an exec plugin's, an extension's) is not the cluster's.
    #[test]
    fn servers_outside_clusters_are_left_alone() {
        let text =
            format!("{ADMIN}extensions:\n- name: e\n  extension:\n    server: https://other\n");
        let got = with_server(&text, "https://127.0.0.1:16443").unwrap();
        assert!(got.ends_with("    server: https://other\n"), "{got}");
        assert!(
            got.contains("    server: https://127.0.0.1:16443\n"),
            "{got}"
        );
        let key_like = "clusters:\n- cluster:\n    server-name: x\n    server: https://a\n";
        assert_eq!(
            with_server(key_like, "https://b").unwrap(),
            "clusters:\n- cluster:\n    server-name: x\n    server: https://b\n"
        );
    }

    #[test]
    fn bad_servers_and_files_are_refused() {
        for bad in [
            "",
            "http://127.0.0.1:6443",
            "https://",
            "https://a b",
            "https://a\nuser: x",
            "https://a#b",
            "10.0.0.5:6443",
        ] {
            assert_eq!(
                with_server(ADMIN, bad),
                Err(KubeconfigError::BadServer(bad.to_owned())),
                "{bad:?}"
            );
        }
        assert_eq!(
            with_server("kind: Config\nusers: []\n", "https://a"),
            Err(KubeconfigError::NoServer(String::new()))
        );
        let two =
            "clusters:\n- cluster:\n    server: https://a\n- cluster:\n    server: https://b\n";
        assert_eq!(
            with_server(two, "https://c"),
            Err(KubeconfigError::Ambiguous(String::new(), 2))
        );
    }

    #[test]
    fn a_missing_file_says_what_to_do() {
        let root = std::env::temp_dir().join(format!("plinthctl-kc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let err = kubeconfig(&root, None).unwrap_err().to_string();
        assert!(
            err.contains(
                "admin.conf: not a control-plane node, or the cluster is not prepared yet"
            ) && err.contains("plinthctl cluster"),
            "{err}"
        );
        std::fs::create_dir_all(root.join("kubernetes")).unwrap();
        std::fs::write(admin_conf(&root), ADMIN).unwrap();
        assert_eq!(kubeconfig(&root, None).unwrap(), ADMIN);
        let moved = kubeconfig(&root, Some("https://127.0.0.1:16443")).unwrap();
        assert!(moved.contains("server: https://127.0.0.1:16443\n"));
        std::fs::write(admin_conf(&root), "kind: Config\n").unwrap();
        let err = kubeconfig(&root, Some("https://a"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("admin.conf has no cluster `server:`"), "{err}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
