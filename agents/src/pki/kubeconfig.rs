//! Kubeconfigs as kubeadm writes them: one cluster `kubernetes` (server URL and the cluster CA,
//! embedded), one user named after the client certificate's CN with the certificate and key
//! embedded, one context `<user>@kubernetes`, current. Rendering, and reading back the fields the
//! checks need. Nothing read from a kubeconfig is ever put in an error message: it holds a key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

/// The cluster name in every kubeconfig (kubeadm's).
pub const CLUSTER: &str = "kubernetes";

/// kubeadm's kubeconfig layout for `user` on the cluster at `server` with the CA `ca_pem`
/// (embedded): `credentials` are the user's fields (`client-certificate-data`, `token`, …) as
/// they are written.
pub fn render(server: &str, ca_pem: &[u8], user: &str, credentials: &[(&str, &str)]) -> String {
    let credentials: String = credentials
        .iter()
        .map(|(key, value)| format!("    {key}: {value}\n"))
        .collect();
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {CLUSTER}
  cluster:
    certificate-authority-data: {ca}
    server: {server}
contexts:
- name: {user}@{CLUSTER}
  context:
    cluster: {CLUSTER}
    user: {user}
current-context: {user}@{CLUSTER}
preferences: {{}}
users:
- name: {user}
  user:
{credentials}",
        ca = STANDARD.encode(ca_pem),
    )
}

/// A kubeconfig's content.
#[derive(Clone, PartialEq, Eq)]
pub struct Kubeconfig {
    /// The apiserver URL.
    pub server: String,
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// The user name (the client certificate's CN).
    pub user: String,
    /// The client certificate, PEM.
    pub cert_pem: String,
    /// The client key, PEM.
    pub key_pem: String,
}

impl std::fmt::Debug for Kubeconfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Kubeconfig")
            .field("server", &self.server)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Why a file is not a kubeconfig this agent can read (no detail: the text holds a key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KubeconfigError {
    /// Not YAML of a kubeconfig's shape.
    #[error("not a kubeconfig")]
    Shape,
    /// Not exactly one cluster and one user.
    #[error("not one cluster and one user")]
    Count,
    /// An embedded field that is not base64 of UTF-8 text.
    #[error("`{0}` is not base64 PEM")]
    Data(&'static str),
    /// A field this agent writes is missing (a file path instead of embedded data, say).
    #[error("no `{0}`")]
    Missing(&'static str),
}

impl Kubeconfig {
    /// The kubeconfig's YAML.
    pub fn render(&self) -> String {
        let b64 = |text: &str| STANDARD.encode(text.as_bytes());
        render(
            &self.server,
            self.ca_pem.as_bytes(),
            &self.user,
            &[
                ("client-certificate-data", &b64(&self.cert_pem)),
                ("client-key-data", &b64(&self.key_pem)),
            ],
        )
    }

    /// Reads a kubeconfig with one cluster and one user, its CA and credentials embedded.
    pub fn parse(text: &str) -> Result<Self, KubeconfigError> {
        let file: File = serde_saphyr::from_str(text).map_err(|_| KubeconfigError::Shape)?;
        let ([cluster], [user]) = (file.clusters.as_slice(), file.users.as_slice()) else {
            return Err(KubeconfigError::Count);
        };
        let data = |field: &Option<String>, name: &'static str| {
            let b64 = field.as_deref().ok_or(KubeconfigError::Missing(name))?;
            STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or(KubeconfigError::Data(name))
        };
        Ok(Self {
            server: cluster
                .cluster
                .server
                .clone()
                .ok_or(KubeconfigError::Missing("server"))?,
            ca_pem: data(
                &cluster.cluster.certificate_authority_data,
                "certificate-authority-data",
            )?,
            user: user.name.clone(),
            cert_pem: data(
                &user.user.client_certificate_data,
                "client-certificate-data",
            )?,
            key_pem: data(&user.user.client_key_data, "client-key-data")?,
        })
    }
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    clusters: Vec<NamedCluster>,
    #[serde(default)]
    users: Vec<NamedUser>,
}

#[derive(Deserialize)]
struct NamedCluster {
    cluster: Cluster,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Cluster {
    server: Option<String>,
    certificate_authority_data: Option<String>,
}

#[derive(Deserialize)]
struct NamedUser {
    name: String,
    user: User,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct User {
    client_certificate_data: Option<String>,
    client_key_data: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Kubeconfig {
        Kubeconfig {
            server: "https://[fd00::10]:6443".into(),
            ca_pem: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n".into(),
            user: "system:node:cp-1".into(),
            cert_pem: "-----BEGIN CERTIFICATE-----\nC\n-----END CERTIFICATE-----\n".into(),
            key_pem: "-----BEGIN PRIVATE KEY-----\nK\n-----END PRIVATE KEY-----\n".into(),
        }
    }

    #[test]
    fn renders_kubeadms_shape_and_reads_back() {
        let k = sample();
        let text = k.render();
        assert!(text.contains("- name: kubernetes\n"), "{text}");
        assert!(
            text.contains("current-context: system:node:cp-1@kubernetes\n"),
            "{text}"
        );
        assert!(
            text.contains("    server: https://[fd00::10]:6443\n"),
            "{text}"
        );
        assert!(!text.contains("PRIVATE KEY"), "embedded as base64");
        assert_eq!(Kubeconfig::parse(&text).unwrap(), k);
    }

    #[test]
    fn other_shapes_are_refused_without_quoting_them() {
        assert_eq!(
            Kubeconfig::parse("{ not: [yaml").unwrap_err(),
            KubeconfigError::Shape
        );
        assert_eq!(
            Kubeconfig::parse("clusters: []\nusers: []\n").unwrap_err(),
            KubeconfigError::Count
        );
        let paths = sample().render().replace("client-key-data:", "client-key:");
        assert_eq!(
            Kubeconfig::parse(&paths).unwrap_err(),
            KubeconfigError::Missing("client-key-data")
        );
        let debug = format!("{:?}", sample());
        assert!(!debug.contains("PRIVATE"), "{debug}");
    }
}
