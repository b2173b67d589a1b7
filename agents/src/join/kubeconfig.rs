//! The kubelet's `--bootstrap-kubeconfig` on a joining node, as kubeadm's
//! `bootstrap-kubelet.conf`: one cluster `kubernetes` (the server and the cluster CA, embedded),
//! one user `tls-bootstrap-token-user` holding the bootstrap token, one context, current. The
//! kubelet uses it once, to ask for its client certificate. The layout is `pki::kubeconfig`'s, with
//! a token for the user's credentials instead of a client certificate.
//!
//! The text holds the token secret: it is written 0600 and never printed.

use std::path::Path;

use crate::cluster::token::BootstrapToken;
use crate::pki::kubeconfig;
use crate::pki::store::{self, StoreError};

/// The user name kubeadm gives the token.
pub const BOOTSTRAP_USER: &str = "tls-bootstrap-token-user";

/// The kubeconfig's YAML (it holds the token secret).
pub fn render_bootstrap_kubeconfig(server: &str, ca_pem: &[u8], token: &BootstrapToken) -> String {
    let token = format!("{}.{}", token.id(), token.secret());
    kubeconfig::render(server, ca_pem, BOOTSTRAP_USER, &[("token", &token)])
}

/// Writes the kubeconfig to `path` (0600, replaced atomically; its directory made when missing).
pub fn write_bootstrap_kubeconfig(
    path: &Path,
    server: &str,
    ca_pem: &[u8],
    token: &BootstrapToken,
) -> Result<(), StoreError> {
    if let Some(dir) = path.parent() {
        store::make_root(dir)?;
    }
    store::replace(
        path,
        render_bootstrap_kubeconfig(server, ca_pem, token).as_bytes(),
        0o600,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use kube::config::{KubeConfigOptions, Kubeconfig};
    use std::os::unix::fs::PermissionsExt;

    const CA: &[u8] = b"-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";

    #[test]
    fn reads_back_through_kube_rs() {
        let token = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
        let text = render_bootstrap_kubeconfig("https://[fd00::10]:6443", CA, &token);
        let file = Kubeconfig::from_yaml(&text).unwrap();
        assert_eq!(
            file.current_context.as_deref(),
            Some("tls-bootstrap-token-user@kubernetes")
        );
        let [cluster] = file.clusters.as_slice() else {
            panic!("{text}")
        };
        let cluster = cluster.cluster.as_ref().unwrap();
        assert_eq!(cluster.server.as_deref(), Some("https://[fd00::10]:6443"));
        assert_eq!(
            STANDARD
                .decode(cluster.certificate_authority_data.as_deref().unwrap())
                .unwrap(),
            CA
        );
        let [user] = file.auth_infos.as_slice() else {
            panic!("{text}")
        };
        assert_eq!(user.name, BOOTSTRAP_USER);
        // Serialised back, as kube-rs writes a kubeconfig: its token is the token.
        let user = serde_json::to_value(user.auth_info.as_ref().unwrap()).unwrap();
        assert_eq!(user["token"], "abcdef.0123456789abcdef");
    }

    #[test]
    fn written_private() {
        let dir =
            std::env::temp_dir().join(format!("plinth-join-kubeconfig-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("etc/kubernetes/bootstrap-kubelet.conf");
        let token = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
        // A real CA: kube-rs reads it when making a client configuration.
        let ca = crate::pki::issue::Authority::create(
            "kubernetes",
            crate::pki::keys::generate().unwrap(),
            1_750_000_000,
        )
        .unwrap();
        let ca = ca.cert_pem.as_bytes();
        write_bootstrap_kubeconfig(&path, "https://10.0.0.10:6443", ca, &token).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600);
        let rt = crate::cluster::client::runtime().unwrap();
        let config = rt
            .block_on(kube::Config::from_custom_kubeconfig(
                Kubeconfig::read_from(&path).unwrap(),
                &KubeConfigOptions::default(),
            ))
            .unwrap();
        assert_eq!(config.cluster_url.to_string(), "https://10.0.0.10:6443/");
        // Written again (a new token): replaced, still private.
        let other = BootstrapToken::parse("zyxwvu.0123456789abcdef").unwrap();
        write_bootstrap_kubeconfig(&path, "https://10.0.0.10:6443", ca, &other).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().contains("zyxwvu."));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
